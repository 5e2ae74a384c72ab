"""int16 activations (w8a16, w4a16) in the Kronecker format against w8a8 and w4a8: a whole
inference's instructions, flash, weight bytes and RAM, per board.

    python benchmarks/a16_kron.py   # writes benchmarks/results/a16_kron.md

Model: benchmarks/precision_formats.py's (one LSTM layer, input 32, hidden 64, T = 8, seeded
uniform(-1/8, 1/8) weights) compressed 2x by rnngen's own compressor with kron (what `rnngen
compress -m kron -f 2 --nearest` runs), built by `rnngen build --target BOARD --precision P`
(random calibration) with the run harness of benchmarks/icount_harness.py: one `<name>_run`
over the T steps between rnngen's counting markers, exact QEMU instruction counts
(codegen/icount.py; instructions, not cycles), each counted twice and required equal. Flash
(code + constants, by the board's size tool), weights' bytes and RAM are the build's
manifest figures. No target was set.

Accuracy: a two-layer LSTM 16 -> 32 -> 32, T = 12 (tests/models.py's seeded weights), dense
and compressed 2x with kron, calibrated on 32 seeded uniform(-1, 1) sequences; on 16 others,
the integer reference's outputs (which the C equals bit for bit) against onnxruntime's float
outputs of the same (dense or compressed) model: mean and max |error| of Y, w8a8 and w8a16;
and, for kron w8a16, the int64 first stage (rq64: its multiplier rounded to Q15) in every
matrix instead of only past the int32 bound (the int32 sums' rq, the full 31-bit
multiplier), evaluated in the integer reference.
"""

from __future__ import annotations

import sys
from pathlib import Path

from a16_bench import Errors, accuracy_model, main

def accuracy(work: Path) -> Errors:
    import dataclasses

    from rnngen import formats
    from rnngen.formats import kron

    err, (dense, kr) = accuracy_model("kron", work)
    out = {(m, p): err(path, p) for m, path in (("dense", dense), ("kron", kr))
           for p in ("w8a8", "w8a16")}

    # the alternative: int64 first-stage sums and rq64 wherever x is int16 (reference only)
    saved = formats.FORMATS["kron"]

    def quantize64(*args, **kw):  # type: ignore[no-untyped-def]
        q = kron._quantize(*args, **kw)
        return dataclasses.replace(q, acc64=True) if q.xbits == 16 else q

    try:
        formats.FORMATS["kron"] = dataclasses.replace(saved, quantize=quantize64)
        out[("kron, int64 first stage (rq64)", "w8a16")] = err(kr, "w8a16")
    finally:
        formats.FORMATS["kron"] = saved
    return out


if __name__ == "__main__":
    sys.exit(main("kron", "a16_kron", "the Kronecker format (kron)", __doc__, accuracy))
