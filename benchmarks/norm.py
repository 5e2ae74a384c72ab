"""Instructions per normalized value of the layer normalization kernels (issue 11's
LayerNorm and InstanceNorm in front of an LSTM).

    python benchmarks/norm.py          # writes benchmarks/results/norm.md

Models: `layernorm_lstm` (nn.LayerNorm(12) -> LSTM(20) -> Linear, 10 steps: 10 blocks of 12
values) and `instancenorm_conv_lstm` (nn.InstanceNorm1d(12, affine) -> Conv1d -> LSTM ->
Linear over 10 steps: 12 blocks of 10 values) of tests/e2e/test_pytorch_layers.py (seeded
PyTorch weights, TorchScript exporter), built float32 and --dtype int8 (calibrated on 16
seeded random sequences) for each board with the run harness of icount_harness.py: one
`<name>_run` between rnngen's counting markers. Measured: the normalization kernel's own
instructions (rnn_layer_norm_f32 / rnn_layer_norm_s8, with any static helper of its file
the compiler kept as a function) under QEMU, exact and checked to repeat, over the values
it normalizes, and the whole run's. Instructions are not cycles.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import icount_harness as icount

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# name -> values normalized per run
MODELS = {"layernorm_lstm": 10 * 12, "instancenorm_conv_lstm": 12 * 10}
TARGETS = ("cortex-m4", "cortex-m55", "cortex-a73")


def main() -> int:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from conv import model

    rows = []
    with tempfile.TemporaryDirectory() as d:
        folder = Path(d)
        for name, values in MODELS.items():
            path = model(folder / name, name)
            for target in TARGETS:
                for dtype in ("float32", "int8"):
                    out = folder / name / f"{target}-{dtype}"
                    elf = icount.build_project(path, target, out, whole_run=True, dtype=dtype)
                    c = icount.run(elf, target, (r"rnn_.*", r"m_run"))
                    again = icount.run(elf, target, (r"rnn_.*", r"m_run"))
                    assert c.windows == again.windows and c.functions == again.functions
                    kern = "rnn_layer_norm_s8" if dtype == "int8" else "rnn_layer_norm_f32"
                    # the kernel and the static helpers of its file the compiler kept apart
                    parts = {f: v for f, v in c.functions.items()
                             if f == kern or f.startswith(kern + "_")}
                    insns = sum(v[0] for v in parts.values())
                    rows.append((name, target, dtype, kern, insns, c.functions[kern][1],
                                 insns / values, c.windows[0]))
    lines = ["# Layer normalization kernels: instructions per normalized value", "",
             "    python benchmarks/norm.py", "", __doc__.split("\n\n", 2)[2].strip(), "",
             "| model | board | dtype | kernel | kernel instructions | calls | "
             "instr/value | whole `_run` |",
             "| --- | --- | --- | --- | ---: | ---: | ---: | ---: |"]
    for name, target, dtype, kern, insns, calls, per, whole in rows:
        lines.append(f"| {name} | {target} | {dtype} | {kern} | {insns:,} | {calls} | "
                     f"{per:.1f} | {whole:,} |")
    lines += ["", "The int8 kernel (docs/int8.md): per block the int32 sum and sum of squares "
              "(four values a word by SXTB16, SSUB16 and SMLAD on the cores with the DSP "
              "extension: cortex-m4, cortex-m55), n^2 times the variance plus epsilon in "
              "int64, its reciprocal square root (W normalized by CLZ to [2^28, 2^30), a "
              "12-entry seed, three Newton steps of unsigned 32 x 32 -> 64-bit products); "
              "per value the normalized value in Q16 as the high word of one product "
              "(SMMULR) and the output as the high word of one multiply-add with the folded "
              "scale and bias (SMLAL), saturated (SSAT). With blocks of 10 and 12 values "
              "about half of the instructions are the per-block part. The float kernel "
              "takes three passes, a division and a square root per block. The first int8 "
              "version (64-bit products and shifts everywhere) measured 100 instr/value on "
              "cortex-m4."]
    out = ROOT / "benchmarks" / "results" / "norm.md"
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
