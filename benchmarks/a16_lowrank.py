"""int16 activations (w8a16, w4a16) in the low-rank format against w8a8 and w4a8: a whole
inference's instructions, flash, weight bytes and RAM, per board.

    python benchmarks/a16_lowrank.py   # writes benchmarks/results/a16_lowrank.md

Model: benchmarks/precision_formats.py's (one LSTM layer, input 32, hidden 64, T = 8, seeded
uniform(-1/8, 1/8) weights) compressed 2x by rnngen's own compressor with lmf (what `rnngen
compress -m lmf -f 2 --nearest` runs), built by `rnngen build --target BOARD --precision P`
(random calibration) with the run harness of benchmarks/icount_harness.py: one `<name>_run`
over the T steps between rnngen's counting markers, exact QEMU instruction counts
(codegen/icount.py; instructions, not cycles), each counted twice and required equal. Flash
(code + constants, by the board's size tool), weights' bytes and RAM are the build's
manifest figures. No target was set.

Accuracy (why the intermediate t = V x stays int8): a two-layer LSTM 16 -> 32 -> 32, T = 12
(tests/models.py's seeded weights), dense and compressed 2x with lmf, calibrated on 32 seeded
uniform(-1, 1) sequences; on 16 others, the integer reference's outputs (which the C equals
bit for bit) against onnxruntime's float outputs of the same (dense or compressed) model:
mean and max |error| of Y, w8a8 and w8a16; and, for lmf, the alternative of an int16 t
(symmetric, max |V x| / 32767, U then reading int16 through the dense int16-input
arithmetic), evaluated in the integer reference only (no C: it is the design not taken).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from a16_bench import Errors, accuracy_model, main

def accuracy(work: Path) -> Errors:
    import dataclasses

    from rnngen import formats, quant
    from rnngen.formats import lowrank
    from rnngen.formats.dense import quantize_dense

    err, (dense, lmf) = accuracy_model("lmf", work)
    out = {(m, p): err(path, p) for m, path in (("dense", dense), ("lmf", lmf))
           for p in ("w8a8", "w8a16")}

    # the alternative: t int16 where x is int16 (reference only)
    def quantize16(m, q, x, out_scale, inputs, what, bits=8):  # type: ignore[no-untyped-def]
        if x.dtype != "int16":
            return lowrank._quantize(m, q, x, out_scale, inputs, what, bits)
        t = inputs @ m.v.T.astype(np.float64)
        s_t = float(np.max(np.abs(t))) / 32767
        return lowrank.QLowRank(quantize_dense(m.v, x, s_t, f"{what} V", bits=bits),
                                quantize_dense(m.u, quant.QParams16(s_t), out_scale,
                                               f"{what} U", bits=bits))

    def forward16(self, x):  # type: ignore[no-untyped-def]
        if self.u.xbits == 16:
            return self.u.forward(np.clip(self.v.forward(x), -32768, 32767))
        return forward8(self, x)

    forward8, saved = lowrank.QLowRank.forward, formats.FORMATS["lowrank"]
    try:
        lowrank.QLowRank.forward = forward16  # type: ignore[method-assign]
        formats.FORMATS["lowrank"] = dataclasses.replace(saved, quantize=quantize16)
        out[("lmf, int16 t", "w8a16")] = err(lmf, "w8a16")
    finally:
        lowrank.QLowRank.forward = forward8  # type: ignore[method-assign]
        formats.FORMATS["lowrank"] = saved
    return out


if __name__ == "__main__":
    sys.exit(main("lmf", "a16_lowrank", "the low-rank format (lmf)", __doc__, accuracy))
