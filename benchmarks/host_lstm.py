"""Host benchmark: generated C against onnxruntime (1 thread), and callgrind instructions
per MAC.

    python benchmarks/host_lstm.py            # writes benchmarks/host_lstm.md

Models: a 1-layer LSTM 32->64 over 20 steps, and the HAR1-sized network of PAPERS.md
(BiLSTM 77->179 over 81 steps, then Linear 358->18 without bias and Softmax per step:
374,468 parameters). Weights are seeded random values; the input is rnngen's seeded
golden input.

Time per inference: the generated C (-O3 -march=native, the host board's flags) called in a
loop from C, against onnxruntime's InferenceSession.run with intra_op_num_threads=1 timed in
Python (the median of repeats; the Python call overhead, a few microseconds, is included in
onnxruntime's figure). Instructions: callgrind on an -O3 -march=x86-64-v3 build (valgrind
cannot run AVX-512 code), counting only inside <name>_run, divided by the MACs of the weight
matrices per inference.
"""

from __future__ import annotations

import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from rnngen import driver, ir, reference

HERE = Path(__file__).resolve().parent
F32 = np.float32

HARNESS = r"""
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "m.h"
#include "golden.h"
static m_state_t s;
static float y[GOLDEN_Y_SIZE];
static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}
int main(int argc, char **argv)
{
    int iters = argc > 1 ? atoi(argv[1]) : 1, rep, i;
    double best = 1e30;
    for (rep = 0; rep < (iters > 1 ? 7 : 1); ++rep)
    {
        double t0 = now();
        for (i = 0; i < iters; ++i)
        {
            m_reset(&s);
            m_run(&s, golden_x, GOLDEN_STEPS, y);
        }
        t0 = (now() - t0) / iters;
        best = t0 < best ? t0 : best;
    }
    printf("%.9g %.6g\n", best, (double)y[0]);
    return 0;
}
"""


def lstm_32_64() -> onnx.ModelProto:
    rng = np.random.default_rng(0)
    T, I, H = 20, 32, 64
    inits = [numpy_helper.from_array((rng.standard_normal((1, 4 * H, I)) * 0.2).astype(F32), "W"),
             numpy_helper.from_array((rng.standard_normal((1, 4 * H, H)) * 0.2).astype(F32), "R"),
             numpy_helper.from_array((rng.standard_normal((1, 8 * H)) * 0.1).astype(F32), "B")]
    node = helper.make_node("LSTM", ["x", "W", "R", "B"], ["Y"], hidden_size=H)
    g = helper.make_graph([node], "lstm_32_64", [helper.make_tensor_value_info(
        "x", TensorProto.FLOAT, [T, 1, I])], [helper.make_tensor_value_info(
            "Y", TensorProto.FLOAT, None)], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def har1() -> onnx.ModelProto:
    rng = np.random.default_rng(1)
    T, I, H, C = 81, 77, 179, 18
    s = 1 / np.sqrt(H)
    inits = [
        numpy_helper.from_array((rng.uniform(-s, s, (2, 4 * H, I))).astype(F32), "W"),
        numpy_helper.from_array((rng.uniform(-s, s, (2, 4 * H, H))).astype(F32), "R"),
        numpy_helper.from_array((rng.uniform(-s, s, (2, 8 * H))).astype(F32), "B"),
        numpy_helper.from_array((rng.uniform(-s, s, (2 * H, C))).astype(F32), "Wo"),
        numpy_helper.from_array(np.array([T, 1, 2 * H], np.int64), "shape"),
    ]
    nodes = [
        helper.make_node("LSTM", ["x", "W", "R", "B"], ["Y"], hidden_size=H,
                         direction="bidirectional"),
        helper.make_node("Transpose", ["Y"], ["Yt"], perm=[0, 2, 1, 3]),
        helper.make_node("Reshape", ["Yt", "shape"], ["Yr"]),
        helper.make_node("MatMul", ["Yr", "Wo"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["probs"], axis=-1),
    ]
    g = helper.make_graph(nodes, "har1", [helper.make_tensor_value_info(
        "x", TensorProto.FLOAT, [T, 1, I])], [helper.make_tensor_value_info(
            "probs", TensorProto.FLOAT, None)], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def params(m: onnx.ModelProto) -> int:
    return sum(int(np.prod(i.dims)) for i in m.graph.initializer if i.data_type == 1)


def build(model: onnx.ModelProto, work: Path) -> tuple[Path, ir.Graph]:
    p = work / f"{model.graph.name}.onnx"
    onnx.save(model, p)
    out = work / model.graph.name
    res = driver.build(p, out, driver.BuildOptions(name="m", force=True))
    (out / "bench.c").write_text(HARNESS)
    return out, res.graph


def compile_harness(out: Path, flags: list[str], exe: str) -> Path:
    srcs = [str(q) for q in sorted((out / "src").glob("*.c"))]
    subprocess.run(["gcc", "-std=c99", *flags, "-Iinclude", "-Itest", "-o", exe, "bench.c",
                    *srcs, "-lm"], cwd=out, check=True)
    return out / exe


def time_c(exe: Path, per_run_guess: float) -> float:
    iters = max(3, int(0.3 / max(per_run_guess, 1e-7)))
    res = subprocess.run([str(exe), str(iters)], capture_output=True, text=True, check=True)
    return float(res.stdout.split()[0])


def time_ort(model: onnx.ModelProto, x: np.ndarray) -> float:
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    sess = ort.InferenceSession(model.SerializeToString(), so,
                                providers=["CPUExecutionProvider"])
    feed = {"x": x}
    for _ in range(20):
        sess.run(None, feed)
    t0 = time.perf_counter()
    sess.run(None, feed)
    one = time.perf_counter() - t0
    iters = max(3, int(0.2 / max(one, 1e-7)))
    reps = []
    for _ in range(7):
        t0 = time.perf_counter()
        for _ in range(iters):
            sess.run(None, feed)
        reps.append((time.perf_counter() - t0) / iters)
    return statistics.median(reps)


def callgrind(exe: Path) -> int:
    with tempfile.TemporaryDirectory() as d:
        outf = Path(d) / "cg.out"
        subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={outf}",
                        "--toggle-collect=m_run", str(exe), "1"], capture_output=True,
                       check=True)
        text = subprocess.run(["callgrind_annotate", str(outf)], capture_output=True,
                              text=True, check=True).stdout
    m = re.search(r"([\d,]+)\s+\(100\.0%\)\s+PROGRAM TOTALS", text) or re.search(
        r"([\d,]+)\s+PROGRAM TOTALS", text)
    if not m:
        raise RuntimeError("no callgrind total")
    return int(m.group(1).replace(",", ""))


def main() -> int:
    rows = []
    with tempfile.TemporaryDirectory() as d:
        work = Path(d)
        for model in (lstm_32_64(), har1()):
            out, g = build(model, work)
            x = reference.golden_input(g)
            macs = ir.macs(g)
            native = compile_harness(out, ["-O3", "-march=native"], "bench_native")
            t_ort = time_ort(model, x)
            t_c = time_c(native, t_ort)
            v3 = compile_harness(out, ["-O3", "-march=x86-64-v3"], "bench_v3")
            instr = callgrind(v3) if shutil.which("valgrind") else -1
            rows.append(dict(name=model.graph.name, params=params(model), T=g.seq_len,
                             macs=macs, c_us=t_c * 1e6, ort_us=t_ort * 1e6,
                             speedup=t_ort / t_c, instr=instr, ipm=instr / macs))
    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo")
                   if ln.startswith("model name"))
    except (OSError, StopIteration):
        pass
    gcc_version = subprocess.run(["gcc", "-dumpfullversion"], capture_output=True,
                                 text=True).stdout.strip()
    lines = [
        "# Host benchmark: generated C vs onnxruntime",
        "",
        "Made by `python benchmarks/host_lstm.py` (see its docstring for the method).",
        f"Machine: {cpu}; onnxruntime {ort.__version__} (1 thread); gcc "
        f"{gcc_version}.",
        "",
        "| model | params | steps | MACs / inference | rnngen C (µs) | onnxruntime (µs) | "
        "C speed-up | callgrind instr. in `_run` | instr. / MAC |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r['name']} | {r['params']:,} | {r['T']} | {r['macs']:,} | "
                     f"{r['c_us']:.1f} | {r['ort_us']:.1f} | {r['speedup']:.2f}x | "
                     f"{r['instr']:,} | {r['ipm']:.3f} |")
    lines += ["", "Targets (foundation issue): faster than onnxruntime on both; at most 1.0 "
              "instruction per MAC on the x86-64-v3 build."]
    report = "\n".join(lines) + "\n"
    (HERE / "host_lstm.md").write_text(report)
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
