"""--precision w4a8 on the cells only `.npz` models carry (SRU, FastRNN, FastGRNN): the C
equals the integer reference exactly (atol 0), whole model and mixed per layer, on the host
and on cortex-m4 and cortex-m55; their matrices really are int4 (values and kernels)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import rnngen.npz as nz
from rnngen import driver, precision

I, H, C, T = 7, 12, 5, 6


def _model(tmp_path: Path, cell: str) -> Path:
    rng = np.random.default_rng({"SRU": 1, "FastRNN": 2, "FastGRNN": 3}[cell])

    def u(*shape: int) -> np.ndarray:
        return rng.uniform(-0.6, 0.6, shape).astype(np.float32)

    rec = {"SRU": lambda: nz.sru(u(4 * H, I), u(H), u(H), u(H), u(H), name="rec"),
           "FastRNN": lambda: nz.fastrnn(u(H, I), u(H, H), u(H), alpha=-2.0, beta=2.0,
                                         name="rec"),
           "FastGRNN": lambda: nz.fastgrnn(u(H, I), u(H, H), u(H), u(H), zeta=1.0, nu=-3.0,
                                           name="rec")}[cell]()
    p = tmp_path / f"{cell}.npz"
    nz.save(p, [rec, nz.dense(u(C, H), u(C), name="fc"), nz.softmax()], seq_len=T,
            output="sequence")
    return p


CASES = [(cell, spec, target) for cell in ("SRU", "FastRNN", "FastGRNN")
         for spec, target in (("w4a8", "host"), ("rec=w4a8", "host"),
                              ("w4a8", "cortex-m4"), ("w4a8", "cortex-m55"))]


@pytest.mark.parametrize("cell,spec,target", [
    pytest.param(*c, marks=[pytest.mark.qemu] if c[2] != "host" else [], id="-".join(c))
    for c in CASES])
def test_w4a8_npz_cells_exact(tmp_path: Path, cell: str, spec: str, target: str) -> None:
    model = _model(tmp_path, cell)
    res = driver.verify(model, driver.BuildOptions(dtype="int8", target=target,
                                                   precision=precision.parse(spec)))
    r = res.report
    assert res.passed and r["mismatches"] == 0 and r["max_abs_err"] == 0.0, res.output
    q = driver.compile_graph(model, driver.BuildOptions(
        dtype="int8", target=target, precision=precision.parse(spec))).quant
    rec = next(v for k, v in q.nodes.items() if k == "rec")
    mats = [m for d in rec.directions for m in (d.W, d.R, getattr(d, "Rh", None))
            if m is not None]
    blocks = [b for m in mats for b in getattr(m, "blocks", (m,))
              if hasattr(b, "bits") and b.w.size]  # (an SRU has no recurrent matrix)
    assert blocks and all(b.bits == 4 and np.abs(b.w).max() <= 7 for b in blocks)
    fc = q.nodes["fc"].w
    assert getattr(fc, "bits", 8) == (4 if spec == "w4a8" else 8)
