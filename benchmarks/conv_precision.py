"""Instructions per MAC of a Conv layer in each precision (issue 14: w8a8, w4a8, w8a16,
float32 inside the int8 model), on the convolutions of benchmarks/conv.py's models.

    python benchmarks/conv_precision.py     # writes benchmarks/results/conv_precision.md

Models (benchmarks/conv.py's, seeded PyTorch weights): the CRNN keyword spotter's Conv2d
(1 -> 8, 3x3, stride (1, 2), padding 1, BatchNorm folded in: 70,560 MACs) and DeepConvLSTM of
HAR2's shape built with --whole-sequence (4 Conv1d of 64 filters, kernel 5: 1,460,480 MACs;
its float weights are over the Cortex-M boards' flash, so no float32 row there), --dtype
int8 with every layer in the precision named (a bare --precision; the LSTM / GRU and the
Linear layers take it too, but only the convolution kernels are counted here), calibrated
on 16 seeded random sequences. Counted: the conv kernel's own instructions (and the static
helpers of its file the compiler kept apart) under QEMU with rnngen's exact counter over one
`<name>_run`, over the convs' MACs; for float32 also the dequantization of the conv's input
and the quantization of its output (rnn_dequantize_s8 / rnn_quantize_s8, shared with the
other float layers: the whole model is float32 there, so those counts include the
recurrent layers' too and are given apart). Instructions are not cycles.

    python benchmarks/conv_precision.py --boards cortex-m4   # only these, printed
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import icount_harness as icount
from conv import CONV_MACS, DCL_MACS, model

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BOARDS = ["cortex-m4", "cortex-m55", "cortex-a73"]
KERNEL = {"w8a8": "rnn_conv_s8", "w4a8": "rnn_conv_s4", "w8a16": "rnn_conv_a16",
          "float32": "rnn_conv_f32"}
MODELS = [("crnn", CONV_MACS), ("deepconvlstm", DCL_MACS)]


def precisions(name: str, target: str) -> tuple[str, ...]:
    if name == "deepconvlstm" and target != "cortex-a73":
        return ("w8a8", "w4a8", "w8a16")
    return tuple(KERNEL)


def main(argv: list[str] | None = None) -> int:
    import argparse

    from rnngen import precision

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    ap.add_argument("--boards", nargs="*", default=BOARDS)
    args = ap.parse_args(argv)
    only = set(args.boards) != set(BOARDS)
    rows = []
    with tempfile.TemporaryDirectory() as d:
        folder = Path(d)
        for name, macs in MODELS:
            path = model(folder / name, name)
            for target in [t for t in BOARDS if t in args.boards]:
                for prec in precisions(name, target):
                    out = folder / name / f"{target}-{prec}"
                    kw = {"rodata": (0x60000000, 0x1000000)} if target == "cortex-m55" else {}
                    elf = icount.build_project(path, target, out, whole_run=True, dtype="int8",
                                               whole_sequence=True,
                                               precision=precision.parse(prec), **kw)
                    c = icount.run(elf, target, (r"rnn_.*", r"m_run"))
                    again = icount.run(elf, target, (r"rnn_.*", r"m_run"))
                    assert c.windows == again.windows and c.functions == again.functions
                    kern = KERNEL[prec]
                    parts = {f: v for f, v in c.functions.items()
                             if f == kern or f.startswith(kern + "_")}
                    insns = sum(v[0] for v in parts.values())
                    assert insns > 0, (name, target, prec, sorted(c.functions))
                    conv = sum(v[0] for f, v in c.functions.items()
                               if f in ("rnn_dequantize_s8", "rnn_quantize_s8")) \
                        if prec == "float32" else 0
                    rows.append((name, target, prec, kern, insns, insns / macs, conv,
                                 c.windows[0]))
    lines = ["# Conv precisions: instructions per MAC of the conv kernels", "",
             "    python benchmarks/conv_precision.py", "",
             __doc__.split("\n\n", 2)[2].split("\n\n    python")[0].strip(), "",
             "| model | board | precision | kernel | kernel instructions | instr/MAC | "
             "vs w8a8 | float32: (de)quantize (all float layers) | whole `_run` |",
             "| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: |"]
    base = {(r[0], r[1]): r[5] for r in rows if r[2] == "w8a8"}
    for name, target, prec, kern, insns, per, conv, whole in rows:
        rel = f"{per / base[(name, target)]:.2f}x" if (name, target) in base else ""
        lines.append(f"| {name} | {target} | {prec} | {kern} | {insns:,} | {per:.2f} | "
                     f"{rel} | {f'{conv:,}' if conv else ''} | {whole:,} |")
    lines += ["", "rnn_conv_s4 and rnn_conv_a16 are plain C on every board (no DSP, Helium or "
              "NEON path yet; docs/limits.md); rnn_conv_s8 has a path per instruction set and "
              "rnn_conv_f32 a NEON one (benchmarks/results/conv.md)."]
    text = "\n".join(lines) + "\n"
    if only:
        print(text)
        return 0
    (ROOT / "benchmarks" / "results" / "conv_precision.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
