"""Instructions per MAC of the convolution kernels in the CRNN keyword spotter of issue 11.

    python benchmarks/conv.py          # writes benchmarks/results/conv.md

Model: the CRNN of tests/e2e/test_pytorch_layers.py (49 MFCC frames x 40, Conv2d 1 -> 8 of
3x3, stride (1, 2), padding 1, BatchNorm folded into it, ReLU, GRU 64, Linear 12; seeded
PyTorch weights, TorchScript exporter). rnngen builds it for cortex-m4 and cortex-m55,
float32 and --dtype int8 (calibrated on 16 seeded random sequences), with the run harness of
icount_harness.py: one `<name>_run` over the 49 frames between rnngen's counting markers.
Measured: each function's own instructions under QEMU (rnngen's counter, exact; checked to
repeat), the conv kernel's (rnn_conv_f32 / rnn_conv_s8) over the Conv's MACs (8 x 49 x 20
outputs x 9 taps = 70,560), and the whole run's. Instructions are not cycles. Issue 11's
target for a CMSIS-NN-class int8 convolution: at most 2.0 instructions per MAC on
cortex-m4 and 0.5 on cortex-m55.
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
TARGETS = {"cortex-m4": 2.0, "cortex-m55": 0.5}


def model(folder: Path) -> Path:
    import numpy as np
    import torch

    from tests.e2e.test_pytorch_layers import _make

    net, x = _make("crnn")
    path = folder / "crnn.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net, (x,), str(path), dynamo=False, input_names=["x"],
                          output_names=["y"])
    np.save(folder / "x.npy", x.numpy())
    return path


def main() -> int:
    rows = []
    with tempfile.TemporaryDirectory() as d:
        folder = Path(d)
        path = model(folder)
        for target in TARGETS:
            for dtype in ("float32", "int8"):
                out = folder / f"{target}-{dtype}"
                kw = {"rodata": (0x60000000, 0x1000000)} if target == "cortex-m55" else {}
                elf = icount.build_project(path, target, out, whole_run=True, dtype=dtype,
                                           **kw)
                c = icount.run(elf, target, (r"rnn_.*", r"m_run"))
                again = icount.run(elf, target, (r"rnn_.*", r"m_run"))
                assert c.windows == again.windows and c.functions == again.functions
                kern = "rnn_conv_s8" if dtype == "int8" else "rnn_conv_f32"
                insns, calls = c.functions[kern]
                rows.append((target, dtype, kern, insns, calls, insns / CONV_MACS,
                             c.windows[0]))
    lines = ["# Convolution kernels: instructions per MAC (CRNN keyword spotter)", "",
             "    python benchmarks/conv.py", "", __doc__.split("\n\n", 2)[2].strip(), "",
             "| board | dtype | kernel | kernel instructions | calls | instr/MAC | issue 11 "
             "target (int8) | whole `_run` |", "| --- | --- | --- | ---: | ---: | ---: | ---: "
             "| ---: |"]
    for target, dtype, kern, insns, calls, per, whole in rows:
        tgt = f"{TARGETS[target]:.1f}" if dtype == "int8" else ""
        lines.append(f"| {target} | {dtype} | {kern} | {insns:,} | {calls} | {per:.2f} | "
                     f"{tgt} | {whole:,} |")
    lines += ["", "The kernels are direct loops in plain C (no DSP or Helium path yet): the "
              "int8 figures are above issue 11's CMSIS-NN-class targets; fast paths per core "
              "are open work."]
    out = ROOT / "benchmarks" / "results" / "conv.md"
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
