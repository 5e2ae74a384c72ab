"""Helpers of the integer-precision tests (tests/e2e/test_a16_*.py, test_precision_matrix.py):
a compressed model, the exact verification against the integer reference, a kept build, and
the int8 blocks of one format in a build's quantization plan."""

from __future__ import annotations

from pathlib import Path

import onnx

from rnngen import driver, formats, precision
from tests import models


def compressed(tmp_path: Path, spec: models.Spec, method: str, name: str) -> Path:
    """models.make_model(spec, seed 5) as name.onnx, compressed 2x by `rnngen compress -m
    method --nearest` into name_method.onnx."""
    from tests.e2e.test_bad_input import rnngen

    src, out = tmp_path / f"{name}.onnx", tmp_path / f"{name}_{method}.onnx"
    onnx.save(models.make_model(spec, 5), src)
    r = rnngen("compress", str(src), "-m", method, "-f", "2", "--nearest", "-o", str(out))
    assert r.returncode == 0, r.stderr
    return out


def exact(model: Path, spec: str, target: str = "host", keep: Path | None = None) -> None:
    """The model built with --precision spec for target equals the integer reference exactly
    (atol 0; `rnngen verify`), the project kept in `keep` if given."""
    res = driver.verify(model, driver.BuildOptions(dtype="int8", target=target, name="m",
                                                   precision=precision.parse(spec)), keep=keep)
    r = res.report
    assert res.passed and r["mismatches"] == 0 and r["max_abs_err"] == 0.0, (spec, res.output)
    assert r["atol"] == 0.0 and r["rtol"] == 0.0


def build(tmp_path: Path, model: Path, spec: str) -> tuple[str, driver.BuildResult]:
    """(the model's C, the build) of `rnngen build --precision spec` (host)."""
    out = tmp_path / f"proj_{abs(hash(spec))}"
    res = driver.build(model, out, driver.BuildOptions(
        dtype="int8", name="m", force=True, precision=precision.parse(spec)))
    return (out / "src" / "m.c").read_text(), res


def blocks(res: driver.BuildResult, fmt: str) -> list[tuple[str, str, object]]:
    """(layer, "W" or "R", block) for every int8 block of format fmt in the recurrent
    layers of the build's quantization plan."""
    out = []
    for name, q in res.graph.quant.nodes.items():
        for d in getattr(q, "directions", ()):
            for role, m in (("W", d.W), ("R", d.R)):
                out += [(name, role, b) for b in formats.blocks(m) if b.fmt == fmt]
    return out
