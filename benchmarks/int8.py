"""int8 against float: executed instructions per time step of the HAR1 LSTM on Cortex-M.

    python benchmarks/int8.py              # writes benchmarks/int8.md

Model: one direction of HAR1's LSTM layer (PAPERS.md section 4: input 77, hidden 179; the
BiLSTM's two directions are two such layers, each costing the same per step, so a single
forward direction gives the per-step figures; a forward layer is streaming, so rnngen
emits <name>_step). Weights are seeded uniform(-1/sqrt(179), 1/sqrt(179)), biases too;
the output is the layer's Y (h per step). The same ONNX file is built by rnngen twice for
each board: float32, and --dtype int8 (calibrated on 16 seeded random sequences; float I/O,
so the int8 step includes quantizing x and dequantizing h).

Measured: the instructions executed by each <name>_step call (callees included), exact,
under QEMU with rnngen's counter (codegen/icount.py), on cortex-m4 (mps2-an386) and cortex-m55
(mps3-an547, Helium), with rnngen's board flags (-O2). Every step of the golden sequence
is counted; the table gives the mean and the range over steps. Per-kernel figures are the
instructions inside each kernel function (callees excluded) per step.
On the M55 the read-only data (weights) is linked at 0x60000000 (DDR) for both builds, since
QEMU's ITCM (512 KiB) cannot hold the float weights; placement does not change counts.
Instructions are not cycles: an MVE instruction on the M55 does 4 to 16 lanes of work,
and memory wait states are not modelled.
"""

from __future__ import annotations

import argparse
import platform
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = Path(__file__).resolve().parent

import icount_harness as icount  # noqa: E402

F32 = np.float32
T, I, H = 8, 77, 179
BOARDS = ["cortex-m4", "cortex-m55"]
# QEMU's mps3-an547 has 512 KiB of ITCM for code and constants, less than the float model's
# 733 KB of weights: there read-only data goes to the board's DDR (icount.rodata_elsewhere).
RODATA = {"cortex-m55": (0x60000000, 0x01000000)}


def har1_forward() -> onnx.ModelProto:
    rng = np.random.default_rng(1)
    s = 1 / np.sqrt(H)
    inits = [numpy_helper.from_array(rng.uniform(-s, s, (1, 4 * H, I)).astype(F32), "W"),
             numpy_helper.from_array(rng.uniform(-s, s, (1, 4 * H, H)).astype(F32), "R"),
             numpy_helper.from_array(rng.uniform(-s, s, (1, 8 * H)).astype(F32), "B")]
    node = helper.make_node("LSTM", ["x", "W", "R", "B"], ["Y"], hidden_size=H)
    g = helper.make_graph([node], "har1_fwd", [helper.make_tensor_value_info(
        "x", TensorProto.FLOAT, [T, 1, I])], [helper.make_tensor_value_info(
            "Y", TensorProto.FLOAT, None)], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def versions() -> list[str]:
    def first(cmd: list[str]) -> str:
        try:
            return subprocess.run(cmd, capture_output=True, text=True).stdout.splitlines()[0]
        except (OSError, IndexError):
            return "?"
    return [f"Host: {platform.machine()} {platform.system()} {platform.release()}.",
            f"Compiler: {first(['arm-none-eabi-gcc', '--version'])}.",
            f"Emulator: {first(['qemu-system-arm', '--version'])}; rnngen's icount plugin."]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--boards", default=",".join(BOARDS))
    ap.add_argument("--out", default=str(HERE / "int8.md"))
    a = ap.parse_args(argv)
    command = "python benchmarks/int8.py" + (" " + " ".join(shlex.quote(v) for v in sys.argv[1:])
                                             if argv is None and sys.argv[1:] else "")
    boards = [b for b in a.boards.split(",") if b]
    res: dict[tuple[str, str], tuple[list[int], icount.Counts]] = {}
    with tempfile.TemporaryDirectory() as d:
        work = Path(d)
        model = work / "har1_fwd.onnx"
        onnx.save(har1_forward(), model)
        calib = work / "calib.npy"
        np.save(calib, np.random.default_rng(2).uniform(-1, 1, (16, T, 1, I)).astype(F32))
        variants = {"float32": {}, "int8": {"dtype": "int8", "calibrate": str(calib)},
                    "int8-io": {"dtype": "int8", "calibrate": str(calib), "io": "int8"}}
        for b in boards:
            for dt, opts in variants.items():
                w, c = icount.count_steps(model, b, work=work / f"{b}-{dt}",
                                          rodata=RODATA.get(b), **opts)
                # repeatability: the same program run again gives the same counts
                elf = next(e for e in (work / f"{b}-{dt}" / "build").glob("m_test*")
                           if e.suffix in ("", ".elf"))
                again = icount.run(elf, b, (r"rnn_.*", r"m_step"))
                if again.windows != w or again.functions != c.functions:
                    raise RuntimeError(f"{b} {dt}: counts differ between two runs")
                res[(b, dt)] = (w, c)
                print(f"{b} {dt}: {w}", file=sys.stderr)
    lines = ["# int8 against float: instructions per LSTM time step (HAR1, Cortex-M)", "",
             f"Made by `{command}` (the script's docstring has the method).", *versions(), "",
             f"HAR1 LSTM, one direction (input {I}, hidden {H}; the BiLSTM runs two of these "
             "per step), `<name>_step` per time step, instructions executed (exact), mean "
             f"over the {T} steps of the golden input (min..max); every count was checked to be "
             "the same on a second run.", "",
             "int8 runs twice: with float input and outputs at the C API (the float model's "
             "interface: the step quantizes 77 inputs and dequantizes 179 outputs), and with "
             "`--io int8` (int8 features in, int8 hidden state out, as an int8 pipeline feeds it).",
             "",
             "| board | float32 | int8, float I/O | ratio | int8, int8 I/O | ratio | "
             "target (<= 0.5) |",
             "|---|---|---|---|---|---|---|"]
    for b in boards:
        wf, wi, wj = (res[(b, v)][0] for v in ("float32", "int8", "int8-io"))
        mf, mi, mj = (float(np.mean(w)) for w in (wf, wi, wj))
        verdict = {(True, True): "met", (False, True): "met with int8 I/O only",
                   (False, False): "MISSED"}[(mi / mf <= 0.5, mj / mf <= 0.5)]
        lines.append(f"| {b} | {mf:,.0f} | {mi:,.0f} | {mi / mf:.3f} | {mj:,.0f} | "
                     f"{mj / mf:.3f} | {verdict} |")
    lines += ["", "Per kernel (instructions inside the function per step, callees excluded):",
              ""]
    for b in boards:
        for dt in ("float32", "int8", "int8-io"):
            w, c = res[(b, dt)]
            steps = len(w)
            lines.append(f"- {b} {dt}: " + ", ".join(
                f"`{n}` {insns / steps:,.0f}" for n, (insns, _) in
                sorted(c.functions.items(), key=lambda kv: -kv[1][0]) if insns))
    lines += ["", "Before the int8 fast paths (the kernels of commit 6664c99: one row at a time, a "
              "plain C dot product on the M4 and a VMLADAVA loop with a scalar tail on the M55, "
              "64-bit requantization, the general LSTM cell), the same script measured int8 / "
              "float = 1.573 on cortex-m4 (1,033,930 against 657,301) and 0.848 on cortex-m55 "
              "(215,122 against 253,656)."]
    text = "\n".join(lines) + "\n"
    Path(a.out).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
