"""The compressed formats' int4-weight kernels (rnn_mat_vec_lowrank_s4_s16, HMD with an int4
A' (rnn_mat_vec_s4_s16 + rnn_mat_vec_hmd_s8_s16), rnn_mat_vec_csr_s4_s16,
rnn_mat_vec_kron_s4_s16) bit for bit against the integer reference (each format's forward
with int4 weights), called as the formats' emitters write them, on the host, cortex-a73,
cortex-m4 and cortex-m55. Shapes: odd sizes, CSR rows of every length up to 12 (empty ones
included) and longer ones, Kronecker factors with an odd value count, n2 up to 16 and past
it, both orders, a nonzero input zero point; values: random and extreme (weights +-7,
x -128 / 127, saturating outputs), shifts of the usual (<= -2) and the general (> -2)
requantization."""

from __future__ import annotations

import numpy as np
import pytest

from rnngen import formats, quant
from rnngen.emit.c import _Ctx
from tests.kernels.harness import Case, run_cases

I8 = np.int8


def _w(rng: np.random.Generator, shape: tuple[int, ...], mode: str) -> np.ndarray:
    if mode == "extreme":
        return np.where(rng.random(shape) < 0.5, -7, 7).astype(I8)
    return rng.integers(-7, 8, shape).astype(I8)


def _x(rng: np.random.Generator, n: int, mode: str) -> np.ndarray:
    if mode == "extreme":
        return np.where(rng.random(n) < 0.5, -128, 127).astype(I8)
    return rng.integers(-128, 128, n).astype(I8)


def _rq(rng: np.random.Generator, n: int, mode: str, lo: int = -12, hi: int = -1
        ) -> tuple[np.ndarray, np.ndarray]:
    mult = rng.integers(2**30, 2**31, n).astype(np.int64)
    shift = rng.integers(-1, 6, n) if mode == "general" else rng.integers(lo, hi, n)
    return mult, shift.astype(np.int64)


def _qdense(rng: np.random.Generator, rows: int, cols: int, mode: str, zx: int = 0):
    w = _w(rng, (rows, cols), mode)
    mult, shift = _rq(rng, rows, mode)
    off = -zx * w.astype(np.int64).sum(axis=1) + rng.integers(-3000, 3000, rows)
    return formats.dense.QDense(w, off.astype(np.int64), mult, shift, bits=4)


def _lowrank(rng, mode, rows=13, cols=19, rank=5):
    return formats.lowrank.QLowRank(_qdense(rng, rank, cols, mode, 11),
                                    _qdense(rng, rows, rank, mode))


def _hmd(rng, mode, rows=11, cols=9, r=4):
    h = cols - cols // 2
    (mc, me, mb, md), (sc, se, sb, sd) = _rq(rng, 4, mode)
    return formats.hmd.QHmd(_qdense(rng, r, cols, mode, 11), _w(rng, (h,), "random"),
                            _w(rng, (cols - h,), "random"), -11 * 3, 5, int(mc), int(sc),
                            int(me), int(se), rng.integers(-127, 128, rows - r).astype(I8),
                            rng.integers(-127, 128, rows - r).astype(I8), int(mb), int(sb),
                            int(md), int(sd))


def _csr(rng, mode, rows=24, cols=37):
    # 0..10 entries a row, then rows past the 16-entry steps of the Helium path (16 + 0, 4,
    # 8, 12 and longer), all padded to 4k
    counts = np.array([k % 11 for k in range(17)] + [13, 16, 20, 24, 27, 29, 37])[:rows]
    idx = np.concatenate([np.sort(rng.choice(cols, c, replace=False)) for c in counts])
    ptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    vals = _w(rng, (int(ptr[-1]),), mode)
    mult, shift = _rq(rng, rows, mode)
    off = rng.integers(-3000, 3000, rows).astype(np.int64)
    if mode == "general":  # some sums too large for the shifted fast form (acc 2^k)
        off = np.where(rng.random(rows) < 0.5, off, rng.integers(-2**28, 2**28, rows))
    return formats.csr.QCsr(vals, idx.astype(np.int64), ptr, cols, off, mult, shift, bits=4)


def _kron(rng, mode, shape, rows, cols, ax_first, zx):
    m1, n1, m2, n2 = shape
    (mt, my), (st, sy) = _rq(rng, 2, mode, -9, -4)
    return formats.kron.QKron(_w(rng, (m1, n1), mode), _w(rng, (m2, n2), mode), rows, cols,
                              ax_first, zx, int(mt), int(st), int(my), int(sy), bits=4)


def _cases(seed: int) -> list[tuple[Case, object]]:
    rng = np.random.default_rng(seed)
    mats = []
    for mode in ("random", "extreme", "general"):
        mats += [(f"lr_{mode}", _lowrank(rng, mode)), (f"hmd_{mode}", _hmd(rng, mode)),
                 (f"csr_{mode}", _csr(rng, mode))]
        for k, (shape, rows, cols) in enumerate([((3, 5, 4, 3), 12, 15), ((3, 3, 5, 7), 14, 20),
                                                 ((2, 3, 6, 16), 12, 45),
                                                 ((3, 2, 5, 21), 15, 40)]):
            for ax in (True, False):
                zx = 0 if k % 2 else int(rng.integers(-128, 128))
                mats.append((f"kr{k}{int(ax)}_{mode}",
                             _kron(rng, mode, shape, rows, cols, ax, zx)))
    out = []
    for name, qm in mats:
        rows, cols = qm.shape
        ctx = _Ctx()
        prog = type("P", (), {"ctx": ctx})()
        lines = formats.of(qm).emit_s8(qm, prog, f"{name}_M", f"{name}_x", f"{name}_y",
                                       f"{name}_s")
        arrays = {"x": _x(rng, cols, "extreme" if "extreme" in name else "random"),
                  "y": np.zeros(rows, np.int16),
                  "s": np.zeros(max(1, formats.scratch_s8(qm)), I8)}
        out.append((Case(name, set(ctx.kernels), arrays, lines, ["y"], decls=ctx.decls), qm))
    return out


def test_cases_use_the_int4_kernels():
    ks = set().union(*(c.kernels for c, _ in _cases(3)))
    assert {"rnn_mat_vec_lowrank_s4_s16", "rnn_mat_vec_s4_s16", "rnn_mat_vec_hmd_s8_s16",
            "rnn_mat_vec_csr_s4_s16", "rnn_mat_vec_kron_s4_s16"} == ks


def test_pack_nibbles_layout():
    """Value 2j in the low nibble of byte j, 2j + 1 in the high one, two's complement; an odd
    count ends with a zero nibble; unpack_nibbles inverts it."""
    p = formats.base.pack_nibbles(np.array([-7, 7, 0, -1, 3]))
    assert p.view(np.uint8).tolist() == [0x9 | (0x7 << 4), 0x0 | (0xF << 4), 0x3]
    rng = np.random.default_rng(0)
    for n in (0, 1, 2, 7, 64):
        v = rng.integers(-8, 8, n)
        assert formats.base.pack_nibbles(v).size == -(-n // 2)
        assert np.array_equal(formats.base.unpack_nibbles(formats.base.pack_nibbles(v), n), v)


def test_pack_s4_groups_layout():
    """Groups of 8 values in 4 bytes: byte k holds value k low and value k + 4 high."""
    p = formats.kron.pack_s4_groups(np.array([-7, 7, 0, -1, 3, 1, -8, 2, 5]))
    assert p.view(np.uint8).tolist() == [0x9 | (0x3 << 4), 0x7 | (0x1 << 4), 0x0 | (0x8 << 4),
                                         0xF | (0x2 << 4), 0x5, 0, 0, 0]
    rng = np.random.default_rng(1)
    for n in (0, 1, 8, 9, 63):
        v = rng.integers(-8, 8, n)
        assert formats.kron.pack_s4_groups(v).size == 4 * -(-n // 8)
        assert np.array_equal(
            formats.kron.unpack_s4_groups(formats.kron.pack_s4_groups(v), n), v)


@pytest.mark.parametrize("board", ["host", pytest.param("cortex-a73", marks=pytest.mark.qemu),
                                   pytest.param("cortex-m4", marks=pytest.mark.qemu),
                                   pytest.param("cortex-m55", marks=pytest.mark.qemu)])
def test_s4_format_kernels_exact_on_the_board(board, tmp_path):
    cases = _cases(17)
    got = run_cases(board, [c for c, _ in cases], tmp_path)
    for case, qm in cases:
        want = quant.sat16(qm.forward(case.arrays["x"].astype(np.int64)))
        y = got[case.name]["y"].astype(np.int64)
        assert np.array_equal(y, want), (board, case.name, y, want)
