"""int16 activations (w8a16, w4a16) in the csr format against w8a8 and w4a8: a whole
inference's instructions, flash, weight bytes and RAM, per board.

    python benchmarks/a16_csr.py   # writes benchmarks/results/a16_csr.md

Model: benchmarks/precision_formats.py's (one LSTM layer, input 32, hidden 64, T = 8, seeded
uniform(-1/8, 1/8) weights) compressed 2x by rnngen's own compressor with csr (what `rnngen
compress -m csr -f 2 --nearest` runs: each gate block keeps its half largest weights),
built by `rnngen build --target BOARD --precision P` (random calibration) with the run
harness of benchmarks/icount_harness.py: one `<name>_run` over the T steps between rnngen's
counting markers, exact QEMU instruction counts (codegen/icount.py; instructions, not
cycles), each counted twice and required equal. Flash (code + constants, by the board's size
tool), weights' bytes and RAM are the build's manifest figures. No target was set.

Accuracy: a two-layer LSTM 16 -> 32 -> 32, T = 12 (tests/models.py's seeded weights), dense
and compressed 2x with csr, calibrated on 32 seeded uniform(-1, 1) sequences; on 16 others,
the integer reference's outputs (which the C equals bit for bit) against onnxruntime's float
outputs of the same (dense or compressed) model: mean and max |error| of Y per precision;
and, for csr with int16 x, the alternative of requantizing with rq's Q31 multiplier (int32
sums, as dense w8a16 where its bound fits) instead of rq64's Q15 one, evaluated in the
integer reference only (no C: it is the design not taken).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from a16_bench import Errors, accuracy_model, main

def accuracy(work: Path) -> Errors:
    err, (dense, csr) = accuracy_model("csr", work)
    out = {(m, p): err(path, p) for m, path in (("dense", dense), ("csr", csr))
           for p in ("w8a8", "w8a16", "w4a8", "w4a16")}

    # the design not taken: int32 sums and rq's Q31 multiplier (as dense w8a16 where its bound
    # fits) instead of rq64's Q15 one; in the integer reference only (these rows' sums fit)
    from rnngen import quant
    from rnngen.formats import csr as csr_fmt

    def forward_rq(self, x):  # type: ignore[no-untyped-def]
        if self.xbits != 16:
            return forward64(self, x)
        x = np.asarray(x, np.int64)
        prod = self.values.astype(np.int64) * x[self.col_idx]
        acc = np.array([prod[self.row_ptr[i]:self.row_ptr[i + 1]].sum()
                        for i in range(self.shape[0])], np.int64)
        if acc.size and np.abs(acc).max() >= 2**31:
            raise RuntimeError("a row's sum leaves int32: the rq comparison does not apply")
        return quant.rq(acc + self.offset.astype(np.int64), self.mult, self.shift)

    forward64 = csr_fmt.QCsr.forward
    try:
        csr_fmt.QCsr.forward = forward_rq  # type: ignore[method-assign]
        for p in ("w8a16", "w4a16"):
            out[("csr, rq (Q31) not rq64", p)] = err(csr, p)
    finally:
        csr_fmt.QCsr.forward = forward64  # type: ignore[method-assign]
    return out


if __name__ == "__main__":
    sys.exit(main("csr", "a16_csr", "the csr format", __doc__, accuracy))
