"""int16 activations (w8a16, w4a16) in the HMD format against w8a8 and w4a8: a whole
inference's instructions, flash, weight bytes and RAM, per board.

    python benchmarks/a16_hmd.py   # writes benchmarks/results/a16_hmd.md

Model: benchmarks/precision_formats.py's (one LSTM layer, input 32, hidden 64, T = 8, seeded
uniform(-1/8, 1/8) weights) compressed 2x by rnngen's own compressor with hmd (what `rnngen
compress -m hmd -f 2 --nearest` runs), built by `rnngen build --target BOARD --precision P`
(random calibration) with the run harness of benchmarks/icount_harness.py: one `<name>_run`
over the T steps between rnngen's counting markers, exact QEMU instruction counts
(codegen/icount.py; instructions, not cycles), each counted twice and required equal. Flash
(code + constants, by the board's size tool), weights' bytes and RAM are the build's
manifest figures. No target was set.

Accuracy: a two-layer LSTM 16 -> 32 -> 32, T = 12 (tests/models.py's seeded weights), dense
and compressed 2x with hmd, calibrated on 32 seeded uniform(-1, 1) sequences; on 16 others,
the integer reference's outputs (which the C equals bit for bit) against onnxruntime's float
outputs of the same (dense or compressed) model: mean and max |error| of Y, w8a8 and w8a16.
"""

from __future__ import annotations

import sys
from pathlib import Path

from a16_bench import Errors, accuracy_model, main

def accuracy(work: Path) -> Errors:
    err, (dense, hmd) = accuracy_model("hmd", work)
    return {(m, p): err(path, p) for m, path in (("dense", dense), ("hmd", hmd))
            for p in ("w8a8", "w8a16")}


if __name__ == "__main__":
    sys.exit(main("hmd", "a16_hmd", "the HMD format", __doc__, accuracy))
