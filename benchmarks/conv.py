"""Instructions per MAC of the convolution kernels in issue 11's CRNN keyword spotter and
DeepConvLSTM.

    python benchmarks/conv.py          # writes benchmarks/results/conv.md

Model: the CRNN of tests/e2e/test_pytorch_layers.py (49 MFCC frames x 40, Conv2d 1 -> 8 of
3x3, stride (1, 2), padding 1, BatchNorm folded into it, ReLU, GRU 64, Linear 12; seeded
PyTorch weights, TorchScript exporter). rnngen builds it for cortex-m4, cortex-m55 and
cortex-a73, float32 and --dtype int8 (calibrated on 16 seeded random sequences), with the
run harness of
icount_harness.py: one `<name>_run` over the 49 frames between rnngen's counting markers.
Measured: each function's own instructions under QEMU (rnngen's counter, exact; checked to
repeat), the conv kernel's (rnn_conv_f32 / rnn_conv_s8) over the Conv's MACs (8 x 49 x 20
outputs x 9 taps = 70,560), and the whole run's. Also the DeepConvLSTM of HAR2's shape
(tests/e2e/test_pytorch_layers.py: 113 channels, 24 steps, 4 Conv1d of 64 filters, kernel 5,
then 2 LSTM of 128; its 4 convs are 1,460,480 MACs), int8 on the Cortex-M boards (its float
weights are over the cortex-m4's flash), both dtypes on cortex-a73. Its 'valid' convs stream
(docs/limits.md): `_run` goes step by step, each conv keeps its last 5 frames and, once they
are there, computes its one new output frame as a matrix-vector product over them
(rnn_mat_vec_s8 / rnn_mat_vec_f32, the same sums as the conv kernel). Row `deepconvlstm`:
built with --whole-sequence, the conv kernel over the sequence; row `deepconvlstm-stream`:
its four convs and a GRU of one unit (ConvsOnly below) streaming, the whole `_run` over the
convs' MACs (the window pushes included). Instructions are not
cycles. Issue 11's target for a CMSIS-NN-class int8 convolution: at most 2.0 instructions
per MAC on cortex-m4 and 0.5 on cortex-m55 (none for cortex-a73).

    python benchmarks/conv.py --boards cortex-a73   # only these boards' rows, printed
"""

from __future__ import annotations

import sys
import tempfile
import warnings
from pathlib import Path

import icount_harness as icount

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CONV_MACS = 8 * 49 * 20 * 9
# DeepConvLSTM of HAR2's shape (test_pytorch_layers.py): 4 Conv1d of 64 filters, kernel 5,
# no padding, over 24 steps: outputs 20, 16, 12, 8
DCL_MACS = 64 * 5 * (113 * 20 + 64 * (16 + 12 + 8))
MODELS = [("crnn", CONV_MACS), ("deepconvlstm", DCL_MACS), ("deepconvlstm-stream", DCL_MACS)]
# issue 11's int8 targets (cortex-a73 has none: None)
TARGETS = {"cortex-m4": 2.0, "cortex-m55": 0.5, "cortex-a73": None}


def dtypes(name: str, target: str) -> tuple[str, ...]:
    """DeepConvLSTM's float weights (about 560 KB) are over the Cortex-M boards' flash: int8
    only there."""
    if name.startswith("deepconvlstm") and target != "cortex-a73":
        return ("int8",)
    return ("float32", "int8")


def ConvsOnly(net):  # noqa: N802 - a class built on demand (torch is imported lazily)
    """DeepConvLSTM's four convolutions and ReLUs, then a GRU of one unit (which gives the
    model its time axis), its last step out: a streaming model (each conv's window of 5
    frames in the state) whose step runs each conv as one matrix-vector product over its
    window; the row counts its whole `_run` (the frame pushes and the GRU's 195 MACs a step
    included) over the convs' MACs."""
    import torch

    class _Convs(torch.nn.Module):
        def __init__(self, convs):
            super().__init__()
            self.convs = convs
            self.gru = torch.nn.GRU(64, 1, batch_first=True)

        def forward(self, x):
            h = x.transpose(1, 2)
            for c in self.convs:
                h = torch.relu(c(h))
            y, _ = self.gru(h.transpose(1, 2))
            return y[:, -1]

    return _Convs(net.convs)


def model(folder: Path, name: str = "crnn") -> Path:
    import numpy as np
    import torch

    from tests.e2e.test_pytorch_layers import _make

    folder.mkdir(parents=True, exist_ok=True)
    stream = name.endswith("-stream")
    name = name.removesuffix("-stream")
    net, x = _make(name)
    if stream:  # its 4 convs alone (the layers after them would share the kernels)
        net = ConvsOnly(net).eval()
    path = folder / f"{name}.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net, (x,), str(path), dynamo=False, input_names=["x"],
                          output_names=["y"])
    np.save(folder / "x.npy", x.numpy())
    return path


def main(argv: list[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    ap.add_argument("--boards", nargs="*", default=list(TARGETS),
                    help="measure only these boards and print the rows (no results file)")
    args = ap.parse_args(argv)
    only = set(args.boards) != set(TARGETS)
    rows = []
    m55 = {}  # the int8 CRNN's conv on cortex-m55: its functions' own instructions
    with tempfile.TemporaryDirectory() as d:
        folder = Path(d)
        for name, macs in MODELS:
            path = model(folder / name, name)
            for target in [t for t in TARGETS if t in args.boards]:
                for dtype in dtypes(name, target):
                    out = folder / name / f"{target}-{dtype}"
                    kw = {"rodata": (0x60000000, 0x1000000)} if target == "cortex-m55" else {}
                    stream = name.endswith("-stream")
                    # DeepConvLSTM streams by default ('valid' convs): its whole-sequence
                    # build runs the conv kernel over the sequence
                    ws = {"whole_sequence": True} if name == "deepconvlstm" else {}
                    elf = icount.build_project(path, target, out, whole_run=True, dtype=dtype,
                                               **ws, **kw)
                    c = icount.run(elf, target, (r"rnn_.*", r"m_run"))
                    again = icount.run(elf, target, (r"rnn_.*", r"m_run"))
                    assert c.windows == again.windows and c.functions == again.functions
                    if stream:  # each conv's step is a mat-vec: the whole run counted
                        rows.append((name, target, dtype, "whole `_run`", c.windows[0],
                                     c.functions["m_run"][1], c.windows[0] / macs,
                                     c.windows[0]))
                        continue
                    kern = "rnn_conv_s8" if dtype == "int8" else "rnn_conv_f32"
                    # the kernel and the static helpers of its file the compiler kept apart
                    # (rnn_conv_s8_column, ...): the whole convolution's instructions
                    parts = {f: v for f, v in c.functions.items()
                             if f == kern or f.startswith(kern + "_")}
                    insns = sum(v[0] for v in parts.values())
                    calls = c.functions[kern][1]
                    if (name, target, dtype) == ("crnn", "cortex-m55", "int8"):
                        m55 = {f: v for f, v in parts.items() if v[1]}
                    rows.append((name, target, dtype, kern, insns, calls, insns / macs,
                                 c.windows[0]))
    lines = ["# Convolution kernels: instructions per MAC (CRNN, DeepConvLSTM)", "",
             "    python benchmarks/conv.py", "", __doc__.split("\n\n", 2)[2].strip(), "",
             "| model | board | dtype | kernel | kernel instructions | calls | instr/MAC | "
             "issue 11 target (int8) | whole `_run` |",
             "| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: |"]
    for name, target, dtype, kern, insns, calls, per, whole in rows:
        tgt = f"{TARGETS[target]:.1f}" if dtype == "int8" and TARGETS[target] and \
            kern.startswith("rnn_conv") else ""
        lines.append(f"| {name} | {target} | {dtype} | {kern} | {insns:,} | {calls} | "
                     f"{per:.2f} | {tgt} | {whole:,} |")
    verdict = "; ".join(
        f"{name} on {target}: {per:.2f}, {'met' if per <= TARGETS[target] else 'not met'}"
        for name, target, dtype, kern, _, _, per, _ in rows
        if dtype == "int8" and TARGETS[target] and kern.startswith("rnn_conv"))
    lines += ["", "Issue 11's targets (int8): " + verdict + ".", "",
              "Kernel instructions include the static helpers of the kernel's file that the "
              "compiler kept as functions (the window copies, the channel loops). The float "
              "kernel is a direct loop in plain C on the Cortex-M boards. The int8 kernel "
              "(docs/int8.md) has a path "
              "for windows of at most 16 values (the CRNN's 9) on each instruction set. On "
              "cortex-m4 (DSP): the windows of 32 output positions copied once as int16 "
              "pairs of the input values (the padding as the input zero point, whose term, "
              "-zp x sum(w), joins the bias; a kernel row of three as SXTB16 of one word), "
              "then channel after channel with the weights as int16 pairs in registers: 5 "
              "SMLAD-class instructions per 9-value output and the requantization as SMMLA "
              "(the high word plus the rounding and zero-point constant), ASR, SSAT, STRB: 13 "
              "instructions per output in an assembly loop, the window copy about 20 per "
              "position (shared by the 8 channels). On cortex-m55 (Helium): pairs of windows, "
              "two neighbouring positions in one VLDRB gather (the CRNN's 3 rows of 5 input "
              "columns, 15 lanes) with two weight vectors per channel; the pairs' windows "
              "gathered first into a ring in the scratch an output row at a time (in assembly: "
              "4 instructions a pair inside the input, 8 at the edges, predicated with the zero "
              "point elsewhere), then four pairs (8 positions, across output rows) "
              "per pass in one assembly call: per channel two weight loads, one LDM of its "
              "record (mult, shift and four times the offset, where the sums start), four "
              "VMLADAVA, an LDMDB of the offsets again, four more, the sums into two vectors by "
              "two STMs and two VLDRWs, VQDMULH, VRSHL, narrowings into even / odd int16 "
              "lanes, the zero point, a narrowing to int8 and one 8-byte store: 27 "
              "instructions per 8 outputs, 10 per pass. Longer windows (DeepConvLSTM's 565 and "
              "320): four int8 columns and VMLADAVA.S8 in tail-predicated loops on cortex-m55, "
              "two int16 columns and SMLAD over pairs of channels on cortex-m4. Scratch (the "
              "int16 work area): a window of at most 16 values 28 x out_c + 32 x ceil2(window) "
              "+ 2 int16 values (1,092 B for the CRNN's conv), else 2 x ceil16(window) + 2 x "
              "out_c (2,560 B for DeepConvLSTM's first).",
              "",
              "Earlier figures (same command): cortex-m55's pairs of windows with a channel "
              "loop of 28 and the windows gathered in C 0.55 on the CRNN, its single gathered "
              "windows (four positions a pass, 20 instructions per 4 outputs with four VMOVs) "
              "0.93; the direct loop 26.5 (cortex-m4) and 25.8 "
              "(cortex-m55) instr/MAC on the CRNN; the first im2col kernel (two positions "
              "into int16 columns, VMLADAVA.S16 on cortex-m55) 10.6 and 9.8 on the CRNN, "
              "1.87 and 1.15 on DeepConvLSTM; the im2col kernel with gathered windows 7.05 and "
              "2.42 on the CRNN, 1.71 and 0.31 on DeepConvLSTM.",
              "",
              "cortex-a73 (NEON: docs/int8.md, rnn_conv_f32.c), before -> after the NEON "
              "paths (same command): float32 CRNN 14.63 -> 1.07, float32 DeepConvLSTM "
              "11.29 -> 0.49, int8 CRNN 6.73 -> 1.73, int8 DeepConvLSTM 0.70 -> 0.34 "
              "instr/MAC (before: the plain C loops as GCC 12 compiles them at -O3; it "
              "vectorized the int8 column sums). The float kernel: four output positions in "
              "the lanes of a vector times 8 (4, 1) filters, FMLA by lane from four weights, "
              "the window's taps four at a time from a table of input offsets; the plain "
              "loop's order of summation, each multiply-add fused. int8: windows of at most "
              "16 values (the CRNN's 9) with eight positions in the lanes (x - zp widened "
              "by SSUBL, SMLAL/SMLAL2 by lane of the int16 weights), positions that reach "
              "into the padding from a copy with the padding; larger windows (DeepConvLSTM's "
              "565 and 320) as int8 columns, four filters x four columns, "
              "SMULL/SMLAL2/SADALP over 16 values; vector requantization, bit-exact.",
              "",
              "Streaming (`deepconvlstm-stream`) against the whole sequence: a step computes "
              "each conv's one new frame as a matrix-vector product over its window of 5 "
              "frames (rnn_mat_vec_s8 / _f32) and shifts each window (rnn_frame_push), so a "
              "whole `_run` costs more than the conv kernel over the sequence, which blocks "
              "positions and channels (cortex-m4 int8: the mat-vec's rows of 565 and 320 "
              "values take its slower one-row tail path). A model that classifies whole "
              "windows (HAR) is faster built with --whole-sequence; streaming buys a result "
              "per frame at the cost of one frame's work.",
              "",
              "Where the CRNN's instructions go on cortex-m55 (each function's own, this run: "
              + ", ".join(f"{f} {v[0]:,} ({v[1]} call{'s' if v[1] > 1 else ''})"
                          for f, v in sorted(m55.items(), key=lambda kv: -kv[1][0]))
              + "): rnn_conv_s8_pairs_run is the assembly pass loop, 27 instructions per channel "
              "and pass of 8 outputs (8 channels x 122 full passes: 26,352, 0.37 per MAC), 10 "
              "per pass and about 18 per call (the ring's contents each time); "
              "rnn_conv_s8_pairs_mve gathers the pairs of windows into the ring (by address, "
              "this kernel version: the 423 pairs inside the input 4 instructions each, the 47 "
              "rows inside the input's rows about 29 each besides (their left edge pair and "
              "the loops), the 2 edge rows about 450, the 15 times the ring is full about 780, "
              "the setup of lanes, records and edge predicates about 1,400) and calls the "
              "passes; rnn_conv_s8_pairs_ch the partial last pass (2 pairs). Before (0.55): "
              "the channel loop at 28 (the offset added as a vector), 15 "
              "per pass, and the windows gathered pair by pair in C (about 18 instructions a "
              "pair: GCC 12 kept the cursor on the stack): 39,125."]
    if only:
        print("\n".join(lines[6:6 + 2 + len(rows)]))
        return 0
    out = ROOT / "benchmarks" / "results" / "conv.md"
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
