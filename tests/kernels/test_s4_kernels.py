"""The int4-weight kernels (rnn_mat_vec_s4_s16, rnn_mat_vec_s4): every path (plain C on the
host, NEON on cortex-a73, the DSP assembly on cortex-m4, Helium on cortex-m55) bit for bit
against the integer reference (QDense.forward with int4 weights), called as the dense
format's emitters write them. Shapes: odd columns, columns around the 4-column words, the
8- and 16-column passes, rows not a multiple of the row pairs and the four-row passes, rows
across the 64-row blocks (odd ones included); extreme values
(weights +-7, x -128 and 127, saturating outputs) and the general requantization
(shift > -2)."""

from __future__ import annotations

import numpy as np
import pytest

from rnngen import formats, quant
from rnngen.emit.c import _Ctx
from tests.kernels.harness import Case, run_cases

# narrow inputs (cols < 16: NEON's one load per pair into the next pairs, bounded by the
# matrix's end) at strides 4, 8, 12, 16 and rows around the 4-row passes
SHAPES = [(1, 1), (2, 3), (3, 7), (5, 8), (4, 9), (7, 16), (9, 31), (6, 32), (5, 33),
          (8, 64), (11, 100), (3, 129), (16, 256), (67, 20), (130, 17), (12, 4), (13, 6),
          (16, 8), (9, 11), (20, 13), (17, 15), (8, 2)]
_dense = formats.dense


def _qdense(rng: np.random.Generator, rows: int, cols: int, mode: str):
    if mode == "general_small":  # shifts -1 .. 3 with small sums: the fast form throughout
        q = _qdense(rng, rows, cols, "random")
        return _dense.QDense(q.w, q.offset, q.mult, rng.integers(-1, 4, rows).astype(np.int64),
                             bits=4)
    if mode == "extreme":
        w = np.where(rng.random((rows, cols)) < 0.5, -7, 7)
    else:
        w = rng.integers(-7, 8, (rows, cols))
    # general: the shifts above -2 (int4 rows' usual ones: the fast form with acc 2^(s + 2)
    # where that fits, the general requantization above 13 or when it does not fit)
    off = rng.integers(-5000, 5000, rows) if mode not in ("general", "wide") else \
        rng.integers(-2**20, 2**20, rows) if mode == "general" else \
        rng.integers(-2**29, 2**29, rows)
    mult = rng.integers(2**30, 2**31, rows)
    # wide: shifts -1 .. 2 with sums beyond 2^27 (16 acc does not fit: the other forms)
    shift = rng.integers(-12, -1, rows) if mode not in ("general", "wide") else \
        rng.integers(-1, 16, rows) if mode == "general" else rng.integers(-1, 3, rows)
    return _dense.QDense(w.astype(np.int8), off.astype(np.int64), mult.astype(np.int64),
                         shift.astype(np.int64), bits=4)


def _x(rng: np.random.Generator, cols: int, mode: str) -> np.ndarray:
    if mode == "extreme":
        return np.where(rng.random(cols) < 0.5, -128, 127).astype(np.int8)
    return rng.integers(-128, 128, cols).astype(np.int8)


def _cases(seed: int) -> list[tuple[Case, object, str]]:
    rng = np.random.default_rng(seed)
    out = []
    for k, (rows, cols) in enumerate(SHAPES):
        for mode in ("random", "extreme", "general", "general_small", "wide"):
            qm = _qdense(rng, rows, cols, mode)
            x = _x(rng, cols, mode)
            name = f"s4_{k}_{mode}"
            ctx = _Ctx()
            line = _dense._emit_s8(qm, type("P", (), {"ctx": ctx})(), f"{name}_M",
                                   f"{name}_x", f"{name}_y", "")
            out.append((Case(name, set(ctx.kernels), {"x": x, "y": np.zeros(rows, np.int16)},
                             line, ["y"], decls=ctx.decls), qm, "s16"))
            name = f"s4o_{k}_{mode}"
            ctx = _Ctx()
            zp = int(rng.integers(-128, 128))
            line = _dense._emit_s8_out(qm, ctx, f"{name}_M", zp, f"{name}_x", f"{name}_y")
            out.append((Case(name, set(ctx.kernels), {"x": x, "y": np.zeros(rows, np.int8)},
                             [line], ["y"], decls=ctx.decls), (qm, zp), "s8"))
    return out


def _want(m: object, kind: str, x: np.ndarray) -> np.ndarray:
    if kind == "s16":
        return quant.sat16(m.forward(x.astype(np.int64)))  # type: ignore[attr-defined]
    qm, zp = m  # type: ignore[misc]
    return quant.sat8(zp + qm.forward(x.astype(np.int64)))


def test_pack_s4_layout():
    """The stored bytes: rows in pairs, column j of row 2p in the low nibble as w + 8 and of
    row 2p + 1 in the high nibble; pairs padded to whole words with zero weights (0x08), an
    odd last row paired with zeros; unpack_s4 inverts it."""
    w = np.array([[-7, 7, 0, -1, 3], [1, 2, 3, 4, 5], [6, -6, 0, 0, -7]], np.int8)
    p = _dense.pack_s4(w).view(np.uint8).reshape(2, 8)
    assert p[0].tolist() == [(-7 + 8) | (1 << 4), (7 + 8) | (2 << 4), 8 | (3 << 4),
                             (-1 + 8) | (4 << 4), (3 + 8) | (5 << 4), 8, 8, 8]
    assert p[1].tolist() == [6 + 8, -6 + 8, 8, 8, -7 + 8, 8, 8, 8]
    assert np.array_equal(p.view(np.int8)[0, :5].astype(int),
                          16 * w[1].astype(int) + w[0] + 8)
    rng = np.random.default_rng(0)
    for rows, cols in SHAPES:
        w = rng.integers(-7, 8, (rows, cols)).astype(np.int8)
        p = _dense.pack_s4(w)
        assert p.size == -(-rows // 2) * 4 * -(-cols // 4)
        assert np.array_equal(_dense.unpack_s4(p, rows, cols), w)


@pytest.mark.parametrize("board", ["host", pytest.param("cortex-a73", marks=pytest.mark.qemu),
                                   pytest.param("cortex-m4", marks=pytest.mark.qemu),
                                   pytest.param("cortex-m55", marks=pytest.mark.qemu)])
def test_s4_kernels_exact_on_the_board(board, tmp_path):
    cases = _cases(11)
    got = run_cases(board, [c for c, _, _ in cases], tmp_path)
    for case, m, kind in cases:
        want = _want(m, kind, case.arrays["x"])
        y = got[case.name]["y"].astype(np.int64)
        assert np.array_equal(y, want), (board, case.name, y, want)
