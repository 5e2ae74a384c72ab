"""The w4a16 kernels (int4 weights read by int16 activations: rnn_mat_vec_a16_s4_s16,
rnn_mat_vec_a16_s4_s8, and past the int32 bound rnn_mat_vec_a16_s4_wide and its _s8
variant): every path (plain C on the host, NEON on cortex-a73, the w4a8 pair loop in
assembly on x split into int16 pairs on cortex-m4 and cortex-m7, Helium VMLADAVA.S16 on
cortex-m55) bit for bit against the integer reference (QDense.forward of an int4 matrix with
an int16 input), called as the dense format's emitters write them. Shapes: odd columns,
columns around the 4-column words and the 8-column passes, rows not a multiple of the row
pairs and the four-row passes, rows across the 64-row blocks (odd ones included), inputs at
and past the Cortex-M4 path's 584 columns (16 H exact in int32 up to there; plain C beyond);
weights -7 and 7 with x at -32768 and 32767 at the int32 bound (the pair sum S = sum B x
then wraps modulo 2^32: the row is still exact), saturating outputs, the general
requantization (shift > -2); the int64 kernels with rows just past the bound (a large
offset, or 9,400 full-scale columns) and every shift."""

from __future__ import annotations

import numpy as np
import pytest

from rnngen import formats, quant
from rnngen.emit.c import _Ctx
from tests.kernels.harness import Case, run_cases

SHAPES = [(1, 1), (2, 3), (3, 7), (5, 8), (4, 9), (7, 16), (9, 31), (6, 32), (5, 33),
          (8, 64), (11, 100), (3, 129), (16, 256), (67, 20), (130, 17), (5, 515), (3, 584),
          (4, 585), (2, 1500)]
WIDE = [(3, 40), (5, 33), (4, 600), (3, 9400)]  # int32 could overflow: the int64 kernels
_dense = formats.dense
LIM = 2**31 - 1


def _qm(w: np.ndarray, off: np.ndarray, rng: np.random.Generator, shift: np.ndarray,
        acc64: bool):
    mult = rng.integers(2**30, 2**31, w.shape[0])
    return _dense.QDense(w.astype(np.int8), off.astype(np.int64), mult.astype(np.int64),
                         shift.astype(np.int64), bits=4, xbits=16, acc64=acc64)


def _qdense(rng: np.random.Generator, rows: int, cols: int, mode: str):
    w = np.where(rng.random((rows, cols)) < 0.5, -7, 7) if mode == "extreme" else \
        rng.integers(-7, 8, (rows, cols))
    room = LIM - np.abs(w).sum(axis=1) * 32768  # what the offset may take (the bound)
    assert np.all(room > 0)
    off = rng.integers(-np.minimum(room, 2**24), np.minimum(room, 2**24) + 1)
    if mode == "extreme":  # at the bound: sum |w| 32768 + |offset| = 2^31 - 1
        off = np.where(rng.random(rows) < 0.5, -room, room)
    shift = rng.integers(-1, 14, rows) if mode == "general" else rng.integers(-20, -1, rows)
    qm = _qm(w, off, rng, shift, False)
    assert quant.a16_fits_int32(qm.w, qm.offset)  # within the kernels' contract
    return qm


def _wide(rng: np.random.Generator, rows: int, cols: int, mode: str):
    w = np.where(rng.random((rows, cols)) < 0.5, -7, 7) if mode == "extreme" else \
        rng.integers(-7, 8, (rows, cols))
    w[0] = 7  # row 0 at the bound's worst
    room = LIM - np.abs(w).sum(axis=1) * 32768
    # just past the bound: |offset| = room + 1 .. 2^31 - 1 (or any, when the width alone is)
    off = np.array([rng.integers(max(rm, 0) + 1, 2**31) * rng.choice([-1, 1])
                    for rm in room.tolist()])
    shift = rng.integers(-31, 31, rows) if mode == "general" else rng.integers(-31, -2, rows)
    qm = _qm(w, off, rng, shift, True)
    assert not quant.a16_fits_int32(qm.w, qm.offset)
    return qm


def _x(rng: np.random.Generator, cols: int, mode: str) -> np.ndarray:
    if mode == "extreme":
        return np.where(rng.random(cols) < 0.5, -32768, 32767).astype(np.int16)
    return rng.integers(-32768, 32768, cols).astype(np.int16)


def _cases(seed: int) -> list[tuple[Case, object, str]]:
    rng = np.random.default_rng(seed)
    out = []
    for k, (rows, cols) in enumerate(SHAPES + WIDE):
        for mode in ("random", "extreme", "general"):
            wide = k >= len(SHAPES)
            qm = (_wide if wide else _qdense)(rng, rows, cols, mode)
            x = _x(rng, cols, mode)
            name = f"a16s4_{k}_{mode}"
            ctx = _Ctx()
            line = _dense._emit_s8(qm, type("P", (), {"ctx": ctx})(), f"{name}_M",
                                   f"{name}_x", f"{name}_y", "")
            assert line[0].startswith("rnn_mat_vec_a16_s4_wide(" if wide else
                                      "rnn_mat_vec_a16_s4_s16(")
            out.append((Case(name, set(ctx.kernels), {"x": x, "y": np.zeros(rows, np.int16)},
                             line, ["y"], decls=ctx.decls), qm, "s16"))
            name = f"a16s4o_{k}_{mode}"
            ctx = _Ctx()
            zp = int(rng.integers(-128, 128))
            line = _dense._emit_s8_out(qm, ctx, f"{name}_M", zp, f"{name}_x", f"{name}_y")
            assert line.startswith("rnn_mat_vec_a16_s4_wide_s8(" if wide else
                                   "rnn_mat_vec_a16_s4_s8(")
            out.append((Case(name, set(ctx.kernels), {"x": x, "y": np.zeros(rows, np.int8)},
                             [line], ["y"], decls=ctx.decls), (qm, zp), "s8"))
    return out


def _want(m: object, kind: str, x: np.ndarray) -> np.ndarray:
    if kind == "s16":
        return quant.sat16(m.forward(x.astype(np.int64)))  # type: ignore[attr-defined]
    qm, zp = m  # type: ignore[misc]
    return quant.sat8(zp + qm.forward(x.astype(np.int64)))


def test_the_int32_bound_chooses_the_w4a16_kernel():
    """quantize_dense with int4 weights and an int16 input: the int32 kernels while
    sum |w| 32768 + |offset| < 2^31 for every row, the int64 ones from there (a wide row of
    full-scale int4 weights, or a Linear bias)."""
    x16 = quant.QParams16(0.01)
    narrow = _dense.quantize_dense(np.full((2, 9300), 0.5), x16, 2.0 ** -12, "lstm W", bits=4)
    assert narrow.bits == 4 and narrow.xbits == 16 and not narrow.acc64
    assert int(np.abs(narrow.w).sum(axis=1).max()) * 32768 < 2**31
    wide = _dense.quantize_dense(np.full((2, 9400), 0.5), x16, 2.0 ** -12, "lstm W", bits=4)
    assert wide.acc64 and not quant.a16_fits_int32(wide.w, wide.offset)
    # a Linear bias alone past the bound
    w = np.array([[0.5, -0.25, 0.1]])
    s = 0.5 / 7 * 0.01  # the row's scale times the input's: bias units
    fits = _dense.quantize_dense(w, x16, 0.01, "fc", bias=np.array([(2**31 - 1 - 7 * 32768 -
                                                                     4 * 32768 - 32768) * s]),
                                 bits=4)
    assert not fits.acc64
    past = _dense.quantize_dense(w, x16, 0.01, "fc", bias=np.array([(2**31 - 1) * s]), bits=4)
    assert past.acc64
    ctx = _Ctx()
    assert _dense._emit_s8_out(past, ctx, "fc", 3, "x", "y").startswith(
        "rnn_mat_vec_a16_s4_wide_s8(")
    assert _dense._emit_s8_out(fits, ctx, "fc", 3, "x", "y").startswith(
        "rnn_mat_vec_a16_s4_s8(")


@pytest.mark.parametrize("board", ["host", pytest.param("cortex-a73", marks=pytest.mark.qemu),
                                   pytest.param("cortex-m4", marks=pytest.mark.qemu),
                                   pytest.param("cortex-m7", marks=pytest.mark.qemu),
                                   pytest.param("cortex-m55", marks=pytest.mark.qemu)])
def test_a16_s4_kernels_exact_on_the_board(board, tmp_path):
    cases = _cases(17)
    got = run_cases(board, [c for c, _, _ in cases], tmp_path)
    for case, m, kind in cases:
        want = _want(m, kind, case.arrays["x"])
        y = got[case.name]["y"].astype(np.int64)
        assert np.array_equal(y, want), (board, case.name, y, want)
