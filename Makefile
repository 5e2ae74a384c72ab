# rnngen: the two commands of the README, and what they need.
#
#   make demo   install everything, build the bundled example for cortex-a73 and cortex-m4,
#               run both under QEMU and compare with the Python reference
#   make test   install everything and run the whole test suite (all tiers, QEMU included)
#   make bench  install everything (and the bench extra: matplotlib), then run the benchmarks:
#               host_lstm.py, host_floor.py, kernels.py, conv.py, norm.py, csr_density.py,
#               kron_model.py, overhead.py, precision.py, precision_formats.py, float_layers.py,
#               a16_{lowrank,hmd,csr,kron}.py, conv_precision.py, the grid (grid.py, about
#               30 min) and the cost models' refit (cost_fit.py: boards/*.cost.json, about 25 min)
#
# Both are idempotent: installation steps leave stamps in .stamps/ and rerun only when
# pyproject.toml changes or a tool is missing.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
RNNGEN := $(VENV)/bin/rnngen
STAMPS := .stamps
JOBS ?= 2

# Debian packages: host compiler, Arm cross compilers with their C libraries, QEMU, valgrind,
# cppcheck (the checked-C tier, tests/e2e/test_c_safety.py)
APT_PACKAGES := make gcc libc6-dev binutils gcc-aarch64-linux-gnu libc6-dev-arm64-cross \
	qemu-user gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm valgrind cmake cppcheck ccache
APT_TOOLS := gcc size aarch64-linux-gnu-gcc qemu-aarch64 arm-none-eabi-gcc qemu-system-arm \
	valgrind cmake cppcheck ccache

.PHONY: install demo test lint bench clean

install: $(STAMPS)/apt $(STAMPS)/python

$(STAMPS):
	mkdir -p $(STAMPS)

$(STAMPS)/apt: Makefile | $(STAMPS)
	@missing=""; for t in $(APT_TOOLS); do command -v $$t >/dev/null 2>&1 || missing="$$missing $$t"; done; \
	if [ -n "$$missing" ] || [ ! -d /usr/lib/arm-none-eabi/newlib ]; then \
	  echo "installing Debian packages (missing:$$missing)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(APT_PACKAGES); \
	fi
	touch $@

$(STAMPS)/python: pyproject.toml | $(STAMPS)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,dask]'
	touch $@

demo: install
	$(RNNGEN) verify examples/lstm_classifier/model.onnx --target cortex-a73
	$(RNNGEN) verify examples/lstm_classifier/model.onnx --target cortex-m4
	$(RNNGEN) validate examples/lstm_classifier/model.onnx --target cortex-m4 \
		--data examples/lstm_classifier/test.npz --on c
	$(RNNGEN) build examples/lstm_classifier/model.onnx --target cortex-a73 -o build/demo-cortex-a73 --force
	$(MAKE) -C build/demo-cortex-a73 run

test: install
	$(PY) -m pytest -n $(JOBS) -q tests

lint: install $(STAMPS)/lint
	$(PY) -m ruff check codegen tests benchmarks examples

$(STAMPS)/lint: pyproject.toml $(STAMPS)/python | $(STAMPS)
	$(PY) -m pip install -q -e '.[lint]'
	touch $@

$(STAMPS)/bench: pyproject.toml $(STAMPS)/python | $(STAMPS)
	$(PY) -m pip install -q -e '.[test,dask,bench]'
	touch $@

# host timings first (the grid keeps both cores busy), then the exact counts
bench: install $(STAMPS)/bench
	$(PY) benchmarks/host_lstm.py
	$(PY) benchmarks/host_floor.py
	$(PY) benchmarks/kernels.py
	$(PY) benchmarks/conv.py
	$(PY) benchmarks/norm.py
	$(PY) benchmarks/csr_density.py --before e376b86
	$(PY) benchmarks/kron_model.py
	$(PY) benchmarks/overhead.py
	$(PY) benchmarks/cells.py --before c409251
	$(PY) benchmarks/precision.py
	$(PY) benchmarks/precision_formats.py
	$(PY) benchmarks/float_layers.py
	$(PY) benchmarks/a16_lowrank.py
	$(PY) benchmarks/a16_hmd.py
	$(PY) benchmarks/a16_csr.py
	$(PY) benchmarks/a16_kron.py
	$(PY) benchmarks/conv_precision.py
	$(PY) benchmarks/grid.py --jobs $(JOBS)
	$(PY) benchmarks/cost_fit.py --jobs $(JOBS)
	$(PY) benchmarks/mohaq.py --jobs $(JOBS)
	$(PY) benchmarks/beacons.py

clean:
	rm -rf build $(STAMPS) .pytest_cache
