"""The int16-activation kernels (w8a16: rnn_mat_vec_a16_s16, rnn_mat_vec_a16_s8): every path
(plain C on the host, NEON on cortex-a73, the int8 kernel's DSP assembly on x split into
int16 pairs on cortex-m4, Helium VMLADAVA.S8 on x split into bytes on cortex-m55) bit for
bit against the integer reference (QDense.forward of an int16-input matrix), called as the
dense format's emitters write them. Shapes: odd columns, columns around the 4-column words
and the 8- and 16-column passes, rows not a multiple of the two-, three- and four-row
passes, rows across the 64- and 96-row blocks, inputs wider than the split buffers (512
columns); extreme values (weights +-127 with x at -32768 and 32767 near the int32 bound,
rows exactly at it, saturating outputs) and the general requantization (shift > -2); past
the int32 bound the int64 kernels (rnn_mat_vec_a16_wide, its _s8 variant, rq64) with
full-scale rows of 517 to 1031 columns and every shift."""

from __future__ import annotations

import numpy as np
import pytest

from rnngen import formats, quant
from rnngen.emit.c import _Ctx
from tests.kernels.harness import Case, run_cases

SHAPES = [(1, 1), (2, 3), (3, 7), (5, 8), (4, 9), (7, 16), (9, 31), (6, 32), (5, 33),
          (8, 64), (11, 100), (3, 129), (16, 256), (67, 20), (130, 17), (5, 515), (3, 600),
          (97, 48), (100, 47), (193, 5)]
_dense = formats.dense


def _qdense(rng: np.random.Generator, rows: int, cols: int, mode: str):
    top = min(127, (2**31 - 2**21) // (32768 * cols))  # the int32 bound the build proves
    if mode == "extreme":
        w = np.where(rng.random((rows, cols)) < 0.5, -top, top)
    else:
        w = rng.integers(-top, top + 1, (rows, cols))
    off = rng.integers(-2**20, 2**20, rows)
    mult = rng.integers(2**30, 2**31, rows)
    shift = rng.integers(-20, -1, rows) if mode != "general" else rng.integers(-1, 12, rows)
    qm = _dense.QDense(w.astype(np.int8), off.astype(np.int64), mult.astype(np.int64),
                       shift.astype(np.int64), xbits=16)
    quant.check_accumulator_a16(qm.w, qm.offset, "test")  # within the kernels' contract
    return qm


WIDE = [(3, 517), (5, 600), (2, 1000), (9, 1031)]  # int32 could overflow: the int64 kernels


def _wide(rng: np.random.Generator, rows: int, cols: int, mode: str):
    w = np.where(rng.random((rows, cols)) < 0.5, -127, 127) if mode == "extreme" else \
        rng.integers(-127, 128, (rows, cols))
    w[0] = 127  # row 0 at the bound's worst
    off = rng.integers(-2**30, 2**30, rows)
    mult = rng.integers(2**30, 2**31, rows)
    # the usual shifts, and the rest of the range (rq64's left shifts from 15 on)
    shift = rng.integers(-31, -2, rows) if mode != "general" else rng.integers(-31, 31, rows)
    qm = _dense.QDense(w.astype(np.int8), off.astype(np.int64), mult.astype(np.int64),
                       shift.astype(np.int64), xbits=16, acc64=True)
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
            name = f"a16_{k}_{mode}"
            ctx = _Ctx()
            line = _dense._emit_s8(qm, type("P", (), {"ctx": ctx})(), f"{name}_M",
                                   f"{name}_x", f"{name}_y", "")
            assert line[0].startswith("rnn_mat_vec_a16_wide(" if wide else
                                      "rnn_mat_vec_a16_s16(")
            out.append((Case(name, set(ctx.kernels), {"x": x, "y": np.zeros(rows, np.int16)},
                             line, ["y"], decls=ctx.decls), qm, "s16"))
            name = f"a16o_{k}_{mode}"
            ctx = _Ctx()
            zp = int(rng.integers(-128, 128))
            line = _dense._emit_s8_out(qm, ctx, f"{name}_M", zp, f"{name}_x", f"{name}_y")
            assert line.startswith("rnn_mat_vec_a16_wide_s8(" if wide else
                                   "rnn_mat_vec_a16_s8(")
            out.append((Case(name, set(ctx.kernels), {"x": x, "y": np.zeros(rows, np.int8)},
                             [line], ["y"], decls=ctx.decls), (qm, zp), "s8"))
    return out


def _at_bound(rng: np.random.Generator, sign: int) -> tuple:
    """Rows exactly at the int32 bound: sum |W[r]| * 32768 + |offset[r]| = 2^31 - 1 (517
    columns: 516 weights of 127 and one of 3, offset 32767), with x all -32768 or all 32767
    (sign): W . x + offset reaches +-(2^31 - 1) (x = -32768) and +-(2^31 - 2^16) (x = 32767),
    the Helium path's partial sums and their combination at their widest; the other rows
    random."""
    rows, cols = 6, 517
    w = rng.integers(-20, 21, (rows, cols))
    w[:4] = 127
    w[:4, -1] = 3
    w[1] *= -1
    w[3] *= -1
    off = rng.integers(-2**20, 2**20, rows)
    off[:4] = [-32767, 32767, 32767, -32767]
    mult = rng.integers(2**30, 2**31, rows)
    shift = rng.integers(-18, -16, rows)
    qm = _dense.QDense(w.astype(np.int8), off.astype(np.int64), mult.astype(np.int64),
                       shift.astype(np.int64), xbits=16)
    assert (np.abs(w).sum(axis=1)[:4] * 32768 + 32767 == 2**31 - 1).all()
    assert quant.a16_fits_int32(qm.w, qm.offset)
    return qm, np.full(cols, -32768 if sign < 0 else 32767, np.int16)


def _bound_cases(seed: int) -> list[tuple[Case, object, str]]:
    rng = np.random.default_rng(seed)
    out = []
    for sign in (-1, 1):
        qm, x = _at_bound(rng, sign)
        name = f"a16b_{'neg' if sign < 0 else 'pos'}"
        ctx = _Ctx()
        line = _dense._emit_s8(qm, type("P", (), {"ctx": ctx})(), f"{name}_M", f"{name}_x",
                               f"{name}_y", "")
        assert line[0].startswith("rnn_mat_vec_a16_s16(")
        out.append((Case(name, set(ctx.kernels), {"x": x, "y": np.zeros(6, np.int16)}, line,
                         ["y"], decls=ctx.decls), qm, "s16"))
    return out


def test_the_bound_cases_reach_int32s_ends():
    """The boundary rows' true sums reach int32's ends (so the kernels' int32 arithmetic is
    exercised at its widest, not near it)."""
    for sign, top in ((-1, 2**31 - 1), (1, 2**31 - 2**16)):
        qm, x = _at_bound(np.random.default_rng(0), sign)
        acc = qm.w.astype(np.int64) @ x.astype(np.int64) + qm.offset
        assert sorted(np.abs(acc[:4]).tolist())[-1] == top
        assert acc[:4].min() < 0 < acc[:4].max()


def test_the_offsets_carry_the_split_paths_row_sums():
    """The int32 int16-input kernels' offsets on Helium: offset + 128 row sum (the byte
    split's), against Python integers; declared under `#if RNN_A16_SPLIT` and passed as
    RNN_A16_OFFSETS(plain, split), the plain ones shared as before (the int64 kernels take
    the plain ones only)."""
    qm = _qdense(np.random.default_rng(3), 5, 33, "random")
    got = np.asarray(_dense.offset_split_a16(qm.w, qm.offset))
    want = [int(o) + 128 * int(r.astype(np.int64).sum()) for o, r in zip(qm.offset, qm.w)]
    assert got.tolist() == want
    ctx = _Ctx()
    _w, off, _mu, _sh = _dense.declare_s8(ctx, "m", qm)
    assert off == "RNN_A16_OFFSETS(m_off, m_off_split)"
    split = next(d for d in ctx.decls if "m_off_split" in d)
    assert split.startswith("#if RNN_A16_SPLIT\n") and split.endswith("\n#endif")
    assert [int(v) for v in split.split("{")[1].split("}")[0].replace(",", " ").split()] == want
    wide = _wide(np.random.default_rng(4), 3, 517, "random")
    ctx = _Ctx()
    assert _dense.declare_s8(ctx, "m", wide)[1] == "m_off"
    assert not any("RNN_A16_SPLIT" in d for d in ctx.decls)


def _want(m: object, kind: str, x: np.ndarray) -> np.ndarray:
    if kind == "s16":
        return quant.sat16(m.forward(x.astype(np.int64)))  # type: ignore[attr-defined]
    qm, zp = m  # type: ignore[misc]
    return quant.sat8(zp + qm.forward(x.astype(np.int64)))


def test_the_int32_bound_chooses_the_kernel():
    """A matrix whose int32 sum could overflow with int16 inputs takes the int64 kernels;
    one that fits, the int32 ones (quantize_dense decides from the bound)."""
    w = np.full((2, 520), 0.5)
    x16 = quant.QParams16(0.01)
    wide = _dense.quantize_dense(w, x16, 2.0 ** -12, "lstm W")
    assert wide.acc64 and not quant.a16_fits_int32(wide.w, wide.offset)
    narrow = _dense.quantize_dense(w[:, :500], x16, 2.0 ** -12, "lstm W")
    assert not narrow.acc64 and quant.a16_fits_int32(narrow.w, narrow.offset)
    with pytest.raises(Exception, match="lstm W.*int32 accumulator.*int64 kernels"):
        quant.check_accumulator_a16(wide.w, wide.offset, "lstm W")


def test_rq64_is_the_exact_rounding_of_its_definition():
    """quant.rq64 against Python integers: round(acc * m15 * 2^(shift - 15)) half up,
    saturated, m15 = (mult + 2^15) >> 16; every shift, extremes of acc, ties."""
    rng = np.random.default_rng(2)
    acc = np.concatenate([rng.integers(-2**46, 2**46, 400), [0, 1, -1, 2**46, -2**46],
                          rng.integers(-2**20, 2**20, 200)])
    for shift in range(-31, 31):
        mult = rng.integers(2**30, 2**31, acc.size)
        got = quant.rq64(acc, mult, shift)
        for a, m, g in zip(acc.tolist(), mult.tolist(), got.tolist()):
            m15 = (m + 2**15) >> 16
            p = a * m15
            r = (p + (1 << (14 - shift))) >> (15 - shift) if shift < 15 else p << (shift - 15)
            assert g == max(-2**31, min(2**31 - 1, r)), (a, m, shift)


@pytest.mark.parametrize("board", ["host", pytest.param("cortex-a73", marks=pytest.mark.qemu),
                                   pytest.param("cortex-m4", marks=pytest.mark.qemu),
                                   pytest.param("cortex-m55", marks=pytest.mark.qemu)])
def test_a16_kernels_exact_on_the_board(board, tmp_path):
    cases = _cases(16) + _bound_cases(17)
    got = run_cases(board, [c for c, _, _ in cases], tmp_path)
    for case, m, kind in cases:
        want = _want(m, kind, case.arrays["x"])
        y = got[case.name]["y"].astype(np.int64)
        assert np.array_equal(y, want), (board, case.name, y, want)
