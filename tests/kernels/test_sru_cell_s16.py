"""rnn_sru_cell_s16's fast paths (NEON on cortex-a73, Helium on cortex-m55, DSP on cortex-m4
and cortex-m7; plain C on the host) bit for bit against rnngen's NumPy reference
(cells/sru.py step_s8), through tests/kernels/test_cell_kernels.py's machinery: both forms
(the projection W_p x, I != H, and the highway x itself, I == H), hidden sizes that leave a
tail after the four-unit passes (13, 9) and none (4, 8), weight and calibration scales that
give different cell_exp, v, x15 and output requantizations and input zero points, each from
a real calibrated model. Every model meets the fast paths' condition (sru_fast in the
kernel, computed here from the quantization parameters), so the boards run the vector / DSP
loops and not only the plain C."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rnngen import npz
from rnngen.cells import sru
from tests.kernels.test_cell_kernels import (
    _cell_s16,
    check_on_board,
    check_on_host,
    compile_int8,
    with_first_inputs,
)

# key: (input size, hidden size, weight scale, calibration input range)
MODELS = {
    "sru13_proj": (5, 13, 0.4, (-1.0, 1.0)),
    "sru4_highway": (4, 4, 0.4, (-1.0, 1.0)),
    "sru13_highway_wide": (13, 13, 1.5, (-3.0, 1.0)),
    "sru8_proj_small": (3, 8, 0.05, (-0.5, 2.0)),
    "sru9_highway_small": (9, 9, 0.1, (0.0, 0.3)),
    "sru4_proj_big": (7, 4, 2.5, (-6.0, 6.0)),
}
TRIALS = 5


def _rq_fast(shift: int, b: int) -> bool:
    """rnn_cell_support.h RNN_RQ_FAST."""
    return -31 <= shift <= 28 - b


def _fast(q, proj: bool) -> bool:
    """The kernel's sru_fast: cell_exp in 0..15, int8 zero points and each requantization's
    RNN_RQ_FAST with its bound (v c: 2^30; x - x_zp: 2^8; the output sum:
    2^(max(30 - k, e) + 1))."""
    k, qd = q.cell_exp, q.directions[0]
    if not (0 <= k <= 15 and _rq_fast(qd.ps, 30) and -128 <= q.h.zero_point <= 127):
        return False
    e = 19
    if not proj:
        _, xs = sru.x15(q)
        if not (_rq_fast(xs, 8) and -128 <= q.x.zero_point <= 127):
            return False
        e = 9 + max(xs, 0)
    return _rq_fast(q.out_shift, max(30 - k, e) + 1)


@pytest.fixture(scope="module")
def checks(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sru_cells")
    out = {}
    seen = set()
    for n, (key, (I, H, scale, (lo, hi))) in enumerate(MODELS.items()):
        rng = np.random.default_rng(100 + n)

        def r(*s: int) -> np.ndarray:
            return (rng.standard_normal(s) * scale).astype(np.float32)

        proj = I != H
        layer = npz.sru(r((4 if proj else 3) * H, I), r(H), r(H), r(H), r(H))
        p = tmp / f"{key}.npz"
        npz.save(p, [layer], input_size=I, seq_len=4)
        calib = tmp / f"{key}_calib.npy"
        np.save(calib, rng.uniform(lo, hi, (8, 4, 1, I)).astype(np.float32))
        g = compile_int8(p, calibrate=str(calib))
        q = next(iter(g.quant.nodes.values()))
        # every model here takes the fast paths (so the boards do not only run the plain C)
        assert _fast(q, proj), (key, q.cell_exp, q.directions[0].ps, q.out_shift)
        seen.add((proj, q.cell_exp, q.out_shift))
        chk = _cell_s16(key, g)
        out[chk.case.name] = chk
    # both forms, and more than one cell_exp and output shift among them
    assert {s[0] for s in seen} == {False, True}
    assert len({s[1] for s in seen}) >= 3 and len({s[2] for s in seen}) >= 3, seen
    return with_first_inputs(out)


def test_sru_cell_s16_on_the_host(checks, tmp_path):
    check_on_host(checks, tmp_path, 4 * TRIALS)


@pytest.mark.qemu
@pytest.mark.parametrize("board", ["cortex-a73", "cortex-m4", "cortex-m7", "cortex-m55"])
def test_sru_cell_s16_on_the_board(checks, board, tmp_path: Path):
    check_on_board(checks, board, tmp_path, TRIALS)
