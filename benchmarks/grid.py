"""The benchmark grid of issue 9: the papers' networks, dense and compressed, float32 and int8,
on every board: exact instructions per inference, flash and RAM, speed-up against dense.

    python benchmarks/grid.py              # writes benchmarks/results/grid.{md,json,csv,png...}
    python benchmarks/grid.py --quick      # HAR1 only, dense + each format at 5x (development)
    python benchmarks/grid.py --networks har1,kws_gru --boards cortex-m4 --dtypes int8

Networks (PAPERS.md section 4; seeded uniform(-1/sqrt(H), 1/sqrt(H)) weights, written as ONNX
as benchmarks/int8.py does; every network runs a fixed T = 8 time steps per inference, far
fewer than the papers' windows (HAR1: 81), so that the grid runs in minutes under QEMU: the
cost of a step does not depend on T, so per-step and per-MAC figures carry over):
- har1: HAR1 BiLSTM 77 -> 179 (both directions), then Linear 358 -> 18 (no bias) and
  Softmax per step (374,468 parameters, PAPERS.md);
- har2: DeepConvLSTM's two LSTM layers of 128 (input 64 x 113 = 7,232 conv features -> 128,
  then 128 -> 128), then Linear 128 -> 18 and Softmax; the four conv layers are not part of
  the benchmark (a conv front end is not what rnngen compiles);
- ptb: the PTB small LM's 2 x 200 LSTM (200 -> 200 -> 200) with its input a 200-float
  vector; the embedding lookup and the 10,000-word softmax are left out;
- kws_lstm: Hello Edge's basic LSTM for keyword spotting, 10 MFCC -> 118, Linear 118 -> 12;
- kws_gru: Hello Edge's GRU, 10 MFCC -> 154 (linear_before_reset = 1, as PyTorch exports),
  Linear 154 -> 12.

Formats: dense, and each of rnngen's compressor methods (`rnngen compress`, the same call:
rnngen.compress_model.compress_file; per gate block, every LSTM/GRU layer's W and R) at 2x,
3.33x and 5x: hmd, lmf (low rank), csr (pruning), kron, hkp; kron and hkp also at the
Kronecker papers' 16x and 38x. A factor the compressor cannot reach within its 10% tolerance
on some matrix of the network is recorded as unreachable with the compressor's message (the
closest reachable factor); nothing is rounded to a reachable factor (no --nearest).
Compression is a post-training projection of the random weights: accuracy is not measured
here (docs/compression.md); instruction counts do not depend on the values.

dtypes: float32, and int8 (`--dtype int8`, float I/O at the C API, calibrated on 8 seeded
uniform(-1, 1) sequences).

Boards: host, cortex-a73, cortex-m4, cortex-m7, cortex-m55. Each cell is `rnngen build`
(driver.build with the board's own flash and RAM budgets: a cell over budget is recorded
with rnngen's message, not counted), the project's test program replaced by a harness that
calls `<name>_run` once over the 8 golden steps between rnngen's counting markers
(benchmarks/icount_harness.py), and counted:
- cortex-a73 / cortex-m4 / cortex-m7 / cortex-m55: instructions executed, exact, under QEMU
  with rnngen's own counter (codegen/icount.py; A73 code runs on QEMU's cortex-a72, the
  same ARMv8.0 instruction set), the whole `_run` call, callees included; board flags as
  rnngen's board files give them. On the M55 the read-only data is linked at 0x60000000
  (DDR) since QEMU's ITCM holds 512 KiB; placement does not change counts.
- host: x86-64 instructions executed inside `<name>_run`, exact, by valgrind's callgrind
  (as benchmarks/host_lstm.py counts), on an -O3 -march=x86-64-v3 build (valgrind cannot
  run AVX-512 code, which the host board's -march=native would use on this machine).
  Instructions, not time: time on a shared 2-core machine running the grid on both cores
  says little (benchmarks/host_floor.py times HAR1 alone).
Flash and RAM: what rnngen's build measures and reports (manifest flash_bytes / ram_bytes:
the model's code + constants, and its buffers + state; the kernels it links included).
Speed-up: dense instructions / format instructions, same network, board and dtype.
Instructions are not cycles.

CMSIS-NN: no figure. CMSIS-NN is not installable here (neither Debian nor PyPI carries it)
and no published CMSIS-NN instruction or cycle count for these LSTM/GRU shapes was found; the
column is kept, empty, so that a measured figure can be added.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import multiprocessing as mp
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path

import click
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import icount_harness as icount  # noqa: E402

F32 = np.float32
T = 8  # time steps per inference, every network
CALIB_N = 8
BOARDS = ["host", "cortex-a73", "cortex-m4", "cortex-m7", "cortex-m55"]
DTYPES = ["float32", "int8"]
NETWORKS = ["har1", "har2", "ptb", "kws_lstm", "kws_gru"]
NET_LABEL = {"har1": "HAR1 BiLSTM 77->179 + FC 358->18",
             "har2": "HAR2 (DeepConvLSTM) LSTM 7232->128->128 + FC 128->18",
             "ptb": "PTB small LM 2x200 LSTM (no embedding / softmax)",
             "kws_lstm": "KWS basic LSTM 10->118 + FC 118->12",
             "kws_gru": "KWS GRU 10->154 + FC 154->12"}
METHODS = ["hmd", "lmf", "csr", "kron", "hkp"]
LABEL = {"dense": "dense", "hmd": "HMD", "lmf": "LMF (low rank)", "csr": "CSR (pruning)",
         "kron": "Kronecker", "hkp": "HKP"}
FACTORS = [2.0, 10 / 3, 5.0]
KRON_FACTORS = [16.0, 38.0]
# M55: weights linked in DDR (QEMU's ITCM is 512 KiB), as benchmarks/int8.py does
RODATA = {"cortex-m55": (0x60000000, 0x01000000)}
FUNCS = (r"m_run",)


def fmt_factor(f: float) -> str:
    return "1" if f == 1 else ("3.33" if abs(f - 10 / 3) < 1e-9 else f"{f:g}")


# ---------------------------------------------------------------- networks (ONNX)

def _lstm(rng: np.random.Generator, x: str, y: str, i: int, h: int, d: int = 1,
          tag: str = "") -> tuple[list, list]:
    s = 1 / math.sqrt(h)
    inits = [numpy_helper.from_array(rng.uniform(-s, s, (d, 4 * h, i)).astype(F32), f"W{tag}"),
             numpy_helper.from_array(rng.uniform(-s, s, (d, 4 * h, h)).astype(F32), f"R{tag}"),
             numpy_helper.from_array(rng.uniform(-s, s, (d, 8 * h)).astype(F32), f"B{tag}")]
    node = helper.make_node("LSTM", [x, f"W{tag}", f"R{tag}", f"B{tag}"], [y], hidden_size=h,
                            name=f"lstm{tag}",
                            **({"direction": "bidirectional"} if d == 2 else {}))
    return [node], inits


def _gru(rng: np.random.Generator, x: str, y: str, i: int, h: int) -> tuple[list, list]:
    s = 1 / math.sqrt(h)
    inits = [numpy_helper.from_array(rng.uniform(-s, s, (1, 3 * h, i)).astype(F32), "W"),
             numpy_helper.from_array(rng.uniform(-s, s, (1, 3 * h, h)).astype(F32), "R"),
             numpy_helper.from_array(rng.uniform(-s, s, (1, 6 * h)).astype(F32), "B")]
    node = helper.make_node("GRU", [x, "W", "R", "B"], [y], hidden_size=h, name="gru",
                            linear_before_reset=1)
    return [node], inits


def _squeeze(y: str, out: str, tag: str) -> tuple[list, list]:
    ax = numpy_helper.from_array(np.array([1], np.int64), f"sq_axes{tag}")
    return [helper.make_node("Squeeze", [y, f"sq_axes{tag}"], [out])], [ax]


def _head(rng: np.random.Generator, x: str, feat: int, classes: int,
          bias: bool) -> tuple[list, list]:
    s = 1 / math.sqrt(feat)
    inits = [numpy_helper.from_array(rng.uniform(-s, s, (feat, classes)).astype(F32), "Wo")]
    nodes = [helper.make_node("MatMul", [x, "Wo"], ["logits0" if bias else "logits"])]
    if bias:
        inits.append(numpy_helper.from_array(rng.uniform(-s, s, (classes,)).astype(F32), "bo"))
        nodes.append(helper.make_node("Add", ["logits0", "bo"], ["logits"]))
    nodes.append(helper.make_node("Softmax", ["logits"], ["probs"], axis=-1))
    return nodes, inits


def network(name: str) -> onnx.ModelProto:
    rng = np.random.default_rng(9)
    nodes: list = []
    inits: list = []

    def add(part: tuple[list, list]) -> None:
        nodes.extend(part[0])
        inits.extend(part[1])

    if name == "har1":
        i, h = 77, 179
        add(_lstm(rng, "x", "Y", i, h, d=2))
        nodes.append(helper.make_node("Transpose", ["Y"], ["Yt"], perm=[0, 2, 1, 3]))
        inits.append(numpy_helper.from_array(np.array([T, 1, 2 * h], np.int64), "shape"))
        nodes.append(helper.make_node("Reshape", ["Yt", "shape"], ["feat"]))
        add(_head(rng, "feat", 2 * h, 18, bias=False))
    elif name == "har2":
        i, h = 64 * 113, 128
        add(_lstm(rng, "x", "Y1", i, h, tag="1"))
        add(_squeeze("Y1", "h1", "1"))
        add(_lstm(rng, "h1", "Y2", h, h, tag="2"))
        add(_squeeze("Y2", "h2", "2"))
        add(_head(rng, "h2", h, 18, bias=True))
    elif name == "ptb":
        i, h = 200, 200
        add(_lstm(rng, "x", "Y1", i, h, tag="1"))
        add(_squeeze("Y1", "h1", "1"))
        add(_lstm(rng, "h1", "Y2", h, h, tag="2"))
        add(_squeeze("Y2", "probs", "2"))
    elif name == "kws_lstm":
        i, h = 10, 118
        add(_lstm(rng, "x", "Y", i, h))
        add(_squeeze("Y", "h", ""))
        add(_head(rng, "h", h, 12, bias=True))
    elif name == "kws_gru":
        i, h = 10, 154
        add(_gru(rng, "x", "Y", i, h))
        add(_squeeze("Y", "h", ""))
        add(_head(rng, "h", h, 12, bias=True))
    else:
        raise ValueError(name)
    g = helper.make_graph(nodes, name, [helper.make_tensor_value_info(
        "x", TensorProto.FLOAT, [T, 1, i])], [helper.make_tensor_value_info(
            "probs", TensorProto.FLOAT, None)], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def input_size(name: str) -> int:
    return {"har1": 77, "har2": 64 * 113, "ptb": 200, "kws_lstm": 10, "kws_gru": 10}[name]


# ---------------------------------------------------------------- variants (compression)

@dataclass
class Variant:
    network: str
    fmt: str
    factor: float  # nominal; 1 for dense
    model: str = ""  # path of the ONNX file ("" when unreachable)
    storage_factor: float = 1.0  # achieved, recurrent layers' W and R together
    mac_factor: float = 1.0
    params: int = 0  # stored recurrent parameters
    plan: str = ""
    unreachable: str = ""

    @property
    def key(self) -> str:
        return f"{self.network}-{self.fmt}-{fmt_factor(self.factor)}"


def variants_for(network: str, methods: list[str], factors: list[float],
                 kron_factors: list[float]) -> list[tuple[str, float]]:
    out = [("dense", 1.0)]
    for m in methods:
        for f in factors + (kron_factors if m in ("kron", "hkp") else []):
            out.append((m, f))
    return out


def make_variant(network: str, fmt: str, factor: float, dense: Path, work: Path) -> Variant:
    from rnngen.compress_model import compress_file
    from rnngen.errors import RnngenError

    v = Variant(network, fmt, factor)
    if fmt == "dense":
        v.model = str(dense)
        return v
    out = work / f"{v.key}.onnx"
    try:
        res = compress_file(dense, out, fmt, factor, force=True).as_dict()
    except RnngenError as e:
        msg = str(e)
        m = re.search(r"closest reachable factor is ([\d.]+)x", msg)
        v.unreachable = (f"unreachable (closest {float(m.group(1)):.2f}x)" if m else
                         "unreachable") + ": " + msg.split("error: ")[-1].splitlines()[0]
        return v
    tot = res["totals"]
    v.model = str(out)
    v.storage_factor = tot.get("storage_factor", 0.0)
    v.mac_factor = tot.get("mac_factor", 0.0)
    v.params = tot.get("stored_params", 0)
    seen: dict[str, None] = {}
    for mx in res["matrices"]:
        seen[f"{mx['layer']} {mx['role']} {mx['format']}"] = None
    v.plan = "; ".join(seen)
    return v


# ---------------------------------------------------------------- cells (build + count)

@dataclass
class Cell:
    network: str
    fmt: str
    factor: float
    dtype: str
    board: str
    model: str
    status: str = "ok"  # ok | unreachable | over budget | failed
    reason: str = ""
    instructions: int = 0
    flash_bytes: int = 0
    ram_bytes: int = 0
    macs_dense: int = 0  # MACs of the dense network per inference (T steps)
    macs: int = 0  # MACs of this variant per inference
    storage_factor: float = 1.0
    mac_factor: float = 1.0
    counter: str = ""
    seconds: float = 0.0
    speedup: float | None = None
    instr_per_mac: float | None = None

    @property
    def key(self) -> str:
        return f"{self.network}-{self.fmt}-{fmt_factor(self.factor)}-{self.dtype}-{self.board}"


def weight_bytes(model: str, dtype: str) -> int:
    """A lower bound of the model's constant bytes: its float initializers (factors
    included) at 4 bytes (int8: 1), sparse ones with 2-byte column indices."""
    m = onnx.load(model, load_external_data=False)
    per = 1 if dtype == "int8" else 4
    n = sum(per * math.prod(t.dims) for t in m.graph.initializer
            if t.data_type == TensorProto.FLOAT)
    for sp in m.graph.sparse_initializer:
        n += (per + 2) * math.prod(sp.values.dims)
    return n


def _harness_project(out: Path, board: str) -> Path:
    """Replace the project's test program by the run harness and build it (host: with
    -march=x86-64-v3 for valgrind); return the program."""
    golden = (out / "test" / "golden.h").read_text()
    total = int(re.search(r"#define GOLDEN_STEPS (\d+)", golden).group(1))
    src = (icount.RUN_HARNESS.replace("MARKERS", icount.MARKERS_C)
           .replace("SEMIHOSTING", icount.SEMIHOSTING_C).replace("NAME", "m")
           .replace("UPPER", "M").replace("STEPS", str(total)))
    (out / "test" / "main.c").write_text(src)
    if board == "host":
        icount._make(out, "CFLAGS=-std=c99 -O3 -march=x86-64-v3 -Iinclude")
    else:
        if board in RODATA:
            icount.rodata_elsewhere(out, *RODATA[board])
        icount._make(out)
    return icount._elf(out)


def callgrind(exe: Path) -> int:
    with tempfile.TemporaryDirectory() as d:
        outf = Path(d) / "cg.out"
        r = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={outf}",
                            "--toggle-collect=m_run", str(exe)], capture_output=True,
                           text=True, cwd=exe.parent)
        if r.returncode != 0:
            raise RuntimeError(f"callgrind: exit {r.returncode}\n{r.stderr[-2000:]}")
        text = outf.read_text()
    m = re.search(r"^summary:\s+(\d+)", text, re.M) or re.search(r"^totals:\s+(\d+)", text,
                                                                   re.M)
    if not m:
        raise RuntimeError("no callgrind total")
    return int(m.group(1))


# the mps2 boards' code memory (M55: RODATA): a dense baseline over the budget is counted
# only when its weights take at most 3/4 of it
QEMU_IMAGE = 4 * 1024 * 1024


def run_cell(args: tuple[Cell, str, str, bool]) -> Cell:
    """Build one cell as `rnngen build` does (its flash / RAM measurement and budget check on
    the harness's objects: one compile instead of two), then count one `_run`. A dense cell
    over the budget is still counted when it fits QEMU's memory (the speed-up baseline);
    a compressed one over the budget is not. repeat: run twice, the counts must agree."""
    cell, calib, workroot, repeat = args
    from rnngen import boards, driver, ir, toolchain
    from rnngen.errors import RnngenError

    t0 = time.monotonic()
    out = Path(workroot) / cell.key
    b = boards.get(cell.board)
    try:
        est = weight_bytes(cell.model, cell.dtype)
        over_est = bool(b.flash_budget) and est > b.flash_budget
        room = RODATA[cell.board][1] * 3 // 4 if cell.board in RODATA else QEMU_IMAGE * 3 // 4
        if over_est and (cell.fmt != "dense" or b.kind == "baremetal" and est > room):
            cell.status = "over budget"
            cell.reason = (f"weights alone {est:,} bytes > flash budget {b.flash_budget:,} of "
                           f"{cell.board} ({b.part}); not built")
            cell.flash_bytes = est
            return cell
        opts = {"dtype": "int8", "calibrate": calib} if cell.dtype == "int8" else {}
        bo = driver.BuildOptions(target=cell.board, name="m", force=True, measure=False,
                                 **opts)
        res = driver.build(cell.model, out, bo)
        cell.macs = ir.macs(res.graph)
        exe = _harness_project(out, cell.board)
        man = res.manifest
        flash, ram, _ = toolchain.measure(out, b, driver.model_objects(man), man["state_bytes"])
        man["flash_bytes"], man["ram_bytes"] = flash, ram
        cell.flash_bytes, cell.ram_bytes = flash, ram
        try:
            driver.check_budget(b, man, driver.BuildOptions(target=cell.board))
        except RnngenError as e:
            cell.status = "over budget"
            cell.reason = str(e).splitlines()[0]
            if cell.fmt != "dense":
                return cell
            cell.reason += "; counted with the budget lifted (dense baseline)"
        if cell.board == "host":
            cell.instructions = callgrind(exe)
            again = callgrind(exe) if repeat else cell.instructions
            cell.counter = "callgrind, x86-64-v3"
        else:
            c = icount.run(exe, cell.board, FUNCS)
            if len(c.windows) != 1:
                raise RuntimeError(f"{len(c.windows)} counted windows, expected 1")
            cell.instructions = c.windows[0]
            again = (icount.run(exe, cell.board, FUNCS).windows[0] if repeat
                     else cell.instructions)
            cell.counter = "QEMU, rnngen icount plugin"
        if again != cell.instructions:
            raise RuntimeError(f"counts differ between two runs: {cell.instructions} {again}")
    except Exception as e:  # noqa: BLE001 - a cell's failure is recorded, not raised
        cell.status = "failed"
        lines = [ln for ln in str(e).strip().splitlines() if ln.strip()]
        cell.reason = " | ".join(lines[:1] + lines[-2:])[:400] or type(e).__name__
        if os.environ.get("GRID_DEBUG"):
            traceback.print_exc()
    finally:
        cell.seconds = round(time.monotonic() - t0, 2)
        shutil.rmtree(out, ignore_errors=True)
    return cell


# ---------------------------------------------------------------- the grid

def _variant_job(args: tuple[str, str, float, str, str]) -> Variant:
    network_, fmt, factor, dense, work = args
    return make_variant(network_, fmt, factor, Path(dense), Path(work))


def _cost(c: Cell) -> float:
    """Rough build + run cost, to start the big cells first."""
    size = {"har2": 40, "ptb": 6, "har1": 5, "kws_gru": 1.5, "kws_lstm": 1}[c.network]
    return size / (1 if c.fmt == "dense" else min(c.factor, 5.0)) + (2 if c.board == "host"
                                                                     else 0)


def run_grid(networks: list[str], methods: list[str], factors: list[float],
             kron_factors: list[float], boards_: list[str], dtypes: list[str], jobs: int,
             work: Path) -> tuple[list[Variant], list[Cell]]:
    ctx = mp.get_context("fork")
    calib: dict[str, str] = {}
    jobs_v = []
    for n in networks:
        dense = work / f"{n}.onnx"
        onnx.save(network(n), dense)
        calib[n] = str(work / f"{n}_calib.npy")
        np.save(calib[n], np.random.default_rng(2).uniform(
            -1, 1, (CALIB_N, T, 1, input_size(n))).astype(F32))
        for fmt, f in variants_for(n, methods, factors, kron_factors):
            jobs_v.append((n, fmt, f, str(dense), str(work)))
    jobs_v.sort(key=lambda j: -({"har2": 10, "har1": 3}.get(j[0], 1)
                                * (2 if j[2] in ("kron", "hkp") else 1)))
    variants: list[Variant] = []
    with ctx.Pool(jobs) as pool, click.progressbar(
            pool.imap_unordered(_variant_job, jobs_v), length=len(jobs_v),
            label=f"compressing ({len(jobs_v)} variants)", file=sys.stderr,
            item_show_func=lambda v: v.key if v else "") as bar:
        for v in bar:
            variants.append(v)
    cells: list[Cell] = []
    todo: list[tuple[Cell, str, str, bool]] = []
    for v in variants:
        for dt in dtypes:
            for b in boards_:
                c = Cell(v.network, v.fmt, v.factor, dt, b, v.model,
                         storage_factor=v.storage_factor, mac_factor=v.mac_factor)
                if v.unreachable:
                    c.status, c.reason = "unreachable", v.unreachable
                    cells.append(c)
                else:
                    todo.append((c, calib[v.network], str(work / "cells"), v.fmt == "dense"))
    todo.sort(key=lambda a: -_cost(a[0]))
    with ctx.Pool(jobs) as pool, click.progressbar(
            pool.imap_unordered(run_cell, todo), length=len(todo),
            label=f"building and counting ({len(todo)} cells)", file=sys.stderr,
            item_show_func=lambda c: f"{c.key} {c.status}" if c else "") as bar:
        log = not sys.stderr.isatty()  # no bar drawn: a line per cell instead
        for k, c in enumerate(bar, 1):
            cells.append(c)
            if log:
                print(f"[{k}/{len(todo)}] {c.key}: {c.status} {c.instructions or ''} "
                      f"({c.seconds:.0f} s)", file=sys.stderr, flush=True)
    finish(cells, networks)
    return variants, cells


def finish(cells: list[Cell], networks: list[str]) -> None:
    """Dense MACs of each network, speed-up against dense and instructions per MAC."""
    dense_macs = {c.network: c.macs for c in cells if c.fmt == "dense" and c.macs}
    base = {(c.network, c.dtype, c.board): c.instructions for c in cells
            if c.fmt == "dense" and c.instructions}
    for c in cells:
        c.macs_dense = dense_macs.get(c.network, 0)
        if c.instructions and c.macs_dense:
            c.instr_per_mac = c.instructions / c.macs_dense
        d = base.get((c.network, c.dtype, c.board))
        if c.instructions and d:
            c.speedup = d / c.instructions


# ---------------------------------------------------------------- reports

def commit() -> str:
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, cwd=ROOT, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "codegen", "runtime_c",
                                "templates", "boards", "benchmarks", ":!benchmarks/results"],
                               capture_output=True, text=True, cwd=ROOT,
                               check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "?"
    return rev + (" (with uncommitted changes)" if dirty else "")


def versions() -> list[str]:
    def first(cmd: list[str]) -> str:
        try:
            return subprocess.run(cmd, capture_output=True, text=True).stdout.splitlines()[0]
        except (OSError, IndexError):
            return "?"
    cpu = platform.machine()
    try:
        cpu = next(ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo")
                   if ln.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return [f"Machine: {cpu}, {os.cpu_count()} CPUs.",
            f"Compilers: {first(['gcc', '--version'])}; "
            f"{first(['aarch64-linux-gnu-gcc', '--version'])}; "
            f"{first(['arm-none-eabi-gcc', '--version'])}.",
            f"Counters: {first(['qemu-system-arm', '--version'])} with rnngen's icount plugin; "
            f"{first(['valgrind', '--version'])} (callgrind)."]


def _variant_rows(cells: list[Cell], network_: str) -> list[tuple[str, float]]:
    seen: dict[tuple[str, float], None] = {}
    order = {m: k for k, m in enumerate(["dense"] + METHODS)}
    for c in sorted((c for c in cells if c.network == network_),
                    key=lambda c: (c.factor, order[c.fmt])):
        seen[(c.fmt, c.factor)] = None
    return list(seen)


def _find(cells: list[Cell], *key: object) -> Cell | None:
    for c in cells:
        if (c.network, c.fmt, c.factor, c.dtype, c.board) == key:
            return c
    return None


def _short(reason: str) -> str:
    if reason.startswith("unreachable"):
        return reason.split(":")[0]
    if "does not fit" in reason or "weights alone" in reason:
        m = re.search(r"(flash|RAM) ([\d,]+) bytes > budget ([\d,]+)", reason) or re.search(
            r"weights alone ([\d,]+) bytes > flash budget ([\d,]+)", reason)
        if m and m.lastindex == 3:
            return f"over {m.group(1)} budget ({_kib(int(m.group(2).replace(',', '')))} > " \
                   f"{_kib(int(m.group(3).replace(',', '')))})"
        if m:
            return f"over flash budget (weights ≥ {_kib(int(m.group(1).replace(',', '')))} > " \
                   f"{_kib(int(m.group(2).replace(',', '')))})"
        return "over budget"
    return "failed: " + reason[:80]


def _kib(n: int) -> str:
    return f"{n / 1024:,.0f} KiB" if n < 10 * 1024 * 1024 else f"{n / 1048576:.1f} MiB"


def _cell_text(c: Cell | None) -> str:
    if c is None:
        return ""
    if c.instructions:
        sp = f" ({c.speedup:.2f}x)" if c.speedup and c.fmt != "dense" else ""
        mark = " †" if c.status == "over budget" else ""
        return f"{c.instructions:,}{sp}{mark}"
    return _short(c.reason)


def _best(cells: list[Cell], b: str, dt: str, f: float, fmt: str | None = None
          ) -> Cell | None:
    return max((c for c in cells if c.board == b and c.dtype == dt and c.factor == f
                and (fmt is None or c.fmt == fmt) and c.speedup and c.status == "ok"),
               key=lambda c: c.speedup, default=None)


def headline(cells: list[Cell], boards_: list[str], dtypes: list[str]) -> list[str]:
    lines = ["## Headline: per board and dtype", "",
             "HAR1 dense: instructions of one inference (8 steps), per MAC, flash / RAM. "
             "Best speed-up over dense at 5x and at 16x over every network and format of "
             "that nominal factor (which format and network). Slower than dense: compressed "
             "cells (all networks, factors, formats) whose instruction count exceeds the "
             "dense one of the same network, board and dtype, of those counted.", "",
             "| board | dtype | HAR1 dense instr. | HAR1 instr./MAC | HAR1 flash / RAM | "
             "best speed-up at 5x | best at 16x | slower than dense |",
             "|---|---|---|---|---|---|---|---|"]
    for b in boards_:
        for dt in dtypes:
            d = _find(cells, "har1", "dense", 1.0, dt, b)
            if d and d.instructions:
                mark = " †" if d.status == "over budget" else ""
                parts = [f"{d.instructions:,}{mark}", f"{d.instr_per_mac:.3f}",
                         f"{_kib(d.flash_bytes)} / {_kib(d.ram_bytes)}"]
            else:
                parts = [_short(d.reason) if d else "", "", ""]
            for f in (5.0, 16.0):
                best = _best(cells, b, dt, f)
                parts.append(f"{best.speedup:.2f}x ({LABEL[best.fmt]}, {best.network})"
                             if best else "—")
            comp = [c for c in cells if c.board == b and c.dtype == dt and c.speedup
                    and c.fmt != "dense"]
            parts.append(f"{sum(c.speedup < 1 for c in comp)} of {len(comp)}")
            lines.append(f"| {b} | {dt} | " + " | ".join(parts) + " |")
    cols = [(m, f) for f in (5.0,) for m in METHODS] + [(m, 16.0) for m in ("kron", "hkp")]
    lines += ["", "Best speed-up over dense per format, at 5x and at 16x (the best network in "
              "brackets; all networks in the sections below):", "",
              "| board | dtype | " + " | ".join(f"{LABEL[m]} {fmt_factor(f)}x" for m, f in cols)
              + " |", "|---|---" + "|---" * len(cols) + "|"]
    for b in boards_:
        for dt in dtypes:
            vals = []
            for m, f in cols:
                c = _best(cells, b, dt, f, m)
                vals.append(f"{c.speedup:.2f}x ({c.network})" if c else "—")
            lines.append(f"| {b} | {dt} | " + " | ".join(vals) + " |")
    fmts = [m for m in METHODS]
    lines += ["", "Compressed cells slower than dense, per format (slower / counted, every "
              "network and factor):", "",
              "| board | dtype | " + " | ".join(LABEL[m] for m in fmts) + " |",
              "|---|---" + "|---" * len(fmts) + "|"]
    for b in boards_:
        for dt in dtypes:
            vals = []
            for m in fmts:
                comp = [c for c in cells if c.board == b and c.dtype == dt and c.fmt == m
                        and c.speedup]
                vals.append(f"{sum(c.speedup < 1 for c in comp)} / {len(comp)}")
            lines.append(f"| {b} | {dt} | " + " | ".join(vals) + " |")
    lines += ["", "HMD against CSR at equal compression, whole model (issue 9: HMD at least 2x "
              "faster): CSR instructions / HMD instructions over every network and factor where "
              "both were counted.", "",
              "| board | dtype | HMD >= 2x CSR | smallest CSR / HMD | largest |",
              "|---|---|---|---|---|"]
    for b in boards_:
        for dt in dtypes:
            pairs = []
            for h in cells:
                if h.board == b and h.dtype == dt and h.fmt == "hmd" and h.status == "ok":
                    c = _find(cells, h.network, "csr", h.factor, dt, b)
                    if c and c.status == "ok" and h.instructions and c.instructions:
                        pairs.append((c.instructions / h.instructions, h))
            if not pairs:
                continue
            lo, hi = min(pairs, key=lambda p: p[0]), max(pairs, key=lambda p: p[0])
            lines.append(f"| {b} | {dt} | {sum(r >= 2 for r, _ in pairs)} of {len(pairs)} | "
                         f"{lo[0]:.2f} ({lo[1].network}, {fmt_factor(lo[1].factor)}x) | "
                         f"{hi[0]:.2f} ({hi[1].network}, {fmt_factor(hi[1].factor)}x) |")
    return lines


def write_reports(variants: list[Variant], cells: list[Cell], boards_: list[str],
                  dtypes: list[str], networks: list[str], out: Path, command: str,
                  seconds: float, jobs: int, measured_at: str) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {"command": command, "commit": measured_at, "steps": T, "seconds": round(seconds),
            "jobs": jobs, "boards": boards_, "dtypes": dtypes, "networks": networks,
            "versions": versions()}
    # model files by name only (they lived in a temporary folder)
    rows = [{**asdict(c), "model": Path(c.model).name if c.model else ""} for c in cells]
    vrows = [{**asdict(v), "model": Path(v.model).name if v.model else ""} for v in variants]
    (out.with_suffix(".json")).write_text(json.dumps(
        {"meta": meta, "variants": vrows, "cells": rows}, indent=1) + "\n")
    fields = list(rows[0]) if rows else []
    with open(out.with_suffix(".csv"), "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=fields, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    n_ok = sum(c.status == "ok" for c in cells)
    counts = {s: sum(c.status == s for c in cells) for s in
              ("ok", "over budget", "unreachable", "failed")}
    lines = ["# Benchmark grid: the papers' networks, dense and compressed, on every board", "",
             f"Made by `{command}` at commit {measured_at} in {seconds / 60:.1f} minutes "
             f"({jobs} processes, on a machine shared with other jobs); the method is in the "
             "script's docstring." + ("" if commit() == measured_at else
                                      f" Report layout from commit {commit()}."),
             *versions(), "",
             f"Every network runs **{T} time steps per inference** (the papers' windows are "
             "longer: HAR1 81; a step's cost does not depend on T). Instructions are exact "
             "counts of one `<name>_run` call: under QEMU on the Arm boards (cortex-a73 on "
             "QEMU's cortex-a72), by callgrind on the host (x86-64-v3 build). Not cycles. "
             "Flash / RAM: rnngen's own measurement (model code + constants + kernels; "
             "buffers + state), checked against the board's budget as `rnngen build` does. "
             "Speed-up = dense instructions / format instructions (same network, board, "
             "dtype); factors are nominal, the achieved storage factors are in the variant "
             "table. Weights are seeded random; compression is a post-training projection, so "
             "accuracy is not measured here.", "",
             f"Cells: {len(cells)} ({counts['ok']} counted within budget, "
             f"{counts['over budget']} over a budget, {counts['unreachable']} at a factor "
             f"the compressor cannot reach, {counts['failed']} failed). † = over the board's "
             "budget, counted with the budget lifted (dense only: the speed-up baseline).",
             "", "CMSIS-NN: no figure in this grid (not installable here; no published "
             "CMSIS-NN count for these shapes was found), so no speed-up against it.", ""]
    lines += headline(cells, boards_, dtypes)
    png_ipm = out.parent / (out.name + "_instr_per_mac.png")
    lines += ["", f"![dense instructions per MAC]({png_ipm.name})", ""]
    for n in networks:
        nc = [c for c in cells if c.network == n]
        if not nc:
            continue
        macs = next((c.macs_dense for c in nc if c.macs_dense), 0)
        lines += [f"## {n}: {NET_LABEL[n]}", "",
                  f"{macs:,} MACs per inference ({T} steps, dense, recurrent + Linear).", ""]
        vrows = _variant_rows(cells, n)
        vs = {(v.fmt, v.factor): v for v in variants if v.network == n}
        lines += ["| format | factor | achieved storage / MAC factor | plan |",
                  "|---|---|---|---|"]
        for fmt, f in vrows:
            v = vs.get((fmt, f))
            if v is None:
                continue
            ach = (_short(v.unreachable) if v.unreachable else
                   f"{v.storage_factor:.2f} / {v.mac_factor:.2f}")
            lines.append(f"| {LABEL[fmt]} | {fmt_factor(f)} | {ach} | {v.plan} |")
        for dt in dtypes:
            lines += ["", f"Instructions per inference, {dt} (speed-up over dense):", "",
                      "| format | factor | " + " | ".join(boards_) + " |",
                      "|---|---" + "|---" * len(boards_) + "|"]
            for fmt, f in vrows:
                if (fmt, f) in vs and vs[(fmt, f)].unreachable:
                    continue
                lines.append(f"| {LABEL[fmt]} | {fmt_factor(f)} | " + " | ".join(
                    _cell_text(_find(cells, n, fmt, f, dt, b)) for b in boards_) + " |")
        lines += ["", "Flash / RAM (KiB), " + ", ".join(dtypes) + ":", "",
                  "| format | factor | " + " | ".join(f"{b} {dt}" for dt in dtypes
                                                      for b in boards_) + " |",
                  "|---|---" + "|---" * (len(boards_) * len(dtypes)) + "|"]
        for fmt, f in vrows:
            if (fmt, f) in vs and vs[(fmt, f)].unreachable:
                continue
            vals = []
            for dt in dtypes:
                for b in boards_:
                    c = _find(cells, n, fmt, f, dt, b)
                    if c is None:
                        vals.append("")
                    elif c.ram_bytes:
                        mark = " †" if c.status == "over budget" else ""
                        vals.append(f"{c.flash_bytes / 1024:,.0f} / {c.ram_bytes / 1024:,.1f}"
                                    f"{mark}")
                    elif c.status == "over budget":
                        vals.append(f"≥ {c.flash_bytes / 1024:,.0f} (over)")
                    else:
                        vals.append(_short(c.reason))
            lines.append(f"| {LABEL[fmt]} | {fmt_factor(f)} | " + " | ".join(vals) + " |")
        png = out.parent / f"{out.name}_speedup_{n}.png"
        lines += ["", f"![speed-up against compression, {n}]({png.name})", ""]
    failed = [c for c in cells if c.status == "failed"]
    if failed:
        lines += ["## Failed cells", ""] + [f"- {c.key}: {c.reason}" for c in failed] + [""]
    lines += ["## Unreachable factors", "",
              "The compressor's message for each (network, format, factor) it refuses (no "
              "`--nearest`):", ""]
    for v in variants:
        if v.unreachable:
            lines.append(f"- {v.key}: {v.unreachable}")
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    plots(cells, boards_, dtypes, networks, out)
    print(f"wrote {out.with_suffix('.md')} (+ .json, .csv, PNGs): {n_ok} cells counted",
          file=sys.stderr)


def plots(cells: list[Cell], boards_: list[str], dtypes: list[str], networks: list[str],
          out: Path) -> None:
    try:
        import matplotlib
    except ImportError:
        print("matplotlib missing (pip install -e '.[bench]'): no plots", file=sys.stderr)
        return
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker  # noqa: F401 - matplotlib.ticker below
    for n in networks:
        fig, axes = plt.subplots(len(dtypes), len(boards_), figsize=(3.6 * len(boards_),
                                                                      3.2 * len(dtypes)),
                                 squeeze=False, sharex=True)
        for i, dt in enumerate(dtypes):
            for j, b in enumerate(boards_):
                ax = axes[i][j]
                for fmt in METHODS:
                    pts = sorted((c.factor, c.speedup) for c in cells if c.network == n
                                 and c.board == b and c.dtype == dt and c.fmt == fmt
                                 and c.speedup and c.status == "ok")
                    if pts:
                        ax.plot(*zip(*pts), marker="o", ms=3, label=LABEL[fmt])
                ax.plot([2, 38], [2, 38], "k:", lw=0.8)
                ax.axhline(1, color="grey", lw=0.8)
                ax.set_xscale("log")
                ax.set_yscale("log")
                ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
                ax.set_xticks([2, 3.33, 5, 16, 38], ["2", "3.33", "5", "16", "38"])
                ax.set_xlim(1.7, 45)
                ax.set_ylim(0.1, 40)
                ax.set_title(f"{b} {dt}", fontsize=9)
                ax.grid(alpha=0.3)
                if j == 0:
                    ax.set_ylabel("speed-up over dense (instr.)")
                if i == len(dtypes) - 1:
                    ax.set_xlabel("nominal compression factor")
        axes[0][0].legend(fontsize=7)
        fig.suptitle(f"{NET_LABEL[n]}: speed-up (instructions) against compression, "
                     f"{T} steps", fontsize=10)
        fig.tight_layout()
        fig.savefig(out.parent / f"{out.name}_speedup_{n}.png", dpi=90)
        plt.close(fig)
    fig, axes = plt.subplots(1, len(dtypes), figsize=(6 * len(dtypes), 3.8), squeeze=False)
    width = 0.8 / max(1, len(networks))
    for i, dt in enumerate(dtypes):
        ax = axes[0][i]
        for k, n in enumerate(networks):
            ys = []
            for b in boards_:
                c = _find(cells, n, "dense", 1.0, dt, b)
                ys.append(c.instr_per_mac if c and c.instr_per_mac else 0.0)
            ax.bar(np.arange(len(boards_)) + k * width, ys, width, label=n)
        ax.set_xticks(np.arange(len(boards_)) + width * (len(networks) - 1) / 2, boards_,
                      fontsize=8)
        ax.set_ylabel("instructions per MAC (dense)")
        ax.set_title(f"dense {dt}, whole inference / MACs")
        ax.grid(axis="y", alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out.parent / f"{out.name}_instr_per_mac.png", dpi=90)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="HAR1 only, dense and each format at 5x (and kron/hkp at 16x)")
    ap.add_argument("--networks", default=",".join(NETWORKS))
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--boards", default=",".join(BOARDS))
    ap.add_argument("--dtypes", default=",".join(DTYPES))
    ap.add_argument("--jobs", type=int, default=2, help="processes (at most 2)")
    ap.add_argument("--out", default=None, help="writes OUT.md, .json, .csv and OUT_*.png "
                    "(default benchmarks/results/grid, with --quick grid_quick)")
    ap.add_argument("--keep", default=None, help="work folder to keep (default: temporary)")
    ap.add_argument("--report-only", metavar="JSON", default=None,
                    help="rewrite the reports from this grid JSON (no measuring)")
    a = ap.parse_args(argv)
    command = "python benchmarks/grid.py" + (
        " " + " ".join(shlex.quote(v) for v in sys.argv[1:]) if argv is None and sys.argv[1:]
        else "")
    jobs = max(1, min(2, a.jobs))
    networks = [n for n in a.networks.split(",") if n]
    factors, kron_factors = FACTORS, KRON_FACTORS
    if a.quick:
        networks = ["har1"] if a.networks == ",".join(NETWORKS) else networks
        factors, kron_factors = [5.0], [16.0]
    for n in networks:
        if n not in NETWORKS:
            ap.error(f"unknown network {n}; expected some of {', '.join(NETWORKS)}")
    out = Path(a.out) if a.out else HERE / "results" / ("grid_quick" if a.quick else "grid")
    if a.report_only:  # rewrite the reports from a grid's JSON, without measuring
        d = json.loads(Path(a.report_only).read_text())
        m = d["meta"]
        cells = [Cell(**c) for c in d["cells"]]
        variants = [Variant(**v) for v in d["variants"]]
        write_reports(variants, cells, m["boards"], m["dtypes"], m["networks"], out,
                      m["command"], m["seconds"], m["jobs"], m["commit"])
        return 0
    t0 = time.monotonic()
    measured_at = commit()
    with tempfile.TemporaryDirectory(prefix="rnngen-grid-") as d:
        work = Path(a.keep) if a.keep else Path(d)
        work.mkdir(parents=True, exist_ok=True)
        variants, cells = run_grid(networks, [m for m in a.methods.split(",") if m], factors,
                                   kron_factors, [b for b in a.boards.split(",") if b],
                                   [d_ for d_ in a.dtypes.split(",") if d_], jobs, work)
    write_reports(variants, cells, [b for b in a.boards.split(",") if b],
                  [d_ for d_ in a.dtypes.split(",") if d_], networks, out, command,
                  time.monotonic() - t0, jobs, measured_at)
    return 1 if any(c.status == "failed" for c in cells) else 0


if __name__ == "__main__":
    sys.exit(main())
