"""The HMD lower-rows kernel for an int16 x (rnn_mat_vec_hmd_a16_s16, w8a16 / w4a16), every
path bit for bit against the integer reference (QHmd.forward), called as hmd's emitter
writes it: plain C on the host, cortex-a73 and cortex-m4 (the rows in word arithmetic
when b_shift and d_shift are below -1, else by rnn_requantize); on cortex-m55 Helium's
VMLADAVA.S16 / VMLALDAVA.S16 sums and the rows four at a time (both shifts below -1), or
its plain C rows (a shift of -1 or more). Shapes: 1 to 37 lower rows (around the
four-row vectors), 1 to 1,031 columns (odd, around the 8-column passes, C of 516 values at
the int32 bound, past it the int64 sums), with an int8 or int4 A' on top (the dense
int16-input kernels, writing y[0:r]) or none; extreme values (C, E at +-127 with x at
-32768 and 32767, saturating s1, s2 and outputs), random ones, and small x with s1 about
C . x itself (an error of one unit in a sum changes the outputs)."""

from __future__ import annotations

import numpy as np
import pytest

from rnngen import quant
from rnngen.emit.c import _Ctx
from rnngen.formats import dense, hmd
from tests.kernels.harness import Case, run_cases

# (A' rows, lower rows, cols)
SHAPES = [(0, 1, 1), (0, 1, 2), (2, 3, 7), (0, 4, 8), (3, 5, 9), (0, 7, 16), (1, 8, 17),
          (4, 9, 31), (0, 12, 32), (5, 33, 64), (0, 37, 100), (2, 13, 1032), (0, 6, 1033),
          (1, 5, 2062)]


def _mults(rng: np.random.Generator, lo: int, hi: int) -> tuple[int, int]:
    return int(rng.integers(2**30, 2**31)), int(rng.integers(lo, hi))


def _qhmd(rng: np.random.Generator, r: int, low: int, cols: int, mode: str, bits: int):
    h = cols - cols // 2

    def vec(n: int) -> np.ndarray:
        if mode == "extreme":
            return np.where(rng.random(n) < 0.5, -127, 127).astype(np.int8)
        return rng.integers(-127, 128, n).astype(np.int8)

    c, e, b, d = vec(h), vec(cols - h), vec(low), vec(low)
    a = None
    if r:
        top = 7 if bits == 4 else 127
        w = rng.integers(-top, top + 1, (r, cols))
        qa = dense.QDense(w.astype(np.int8), np.zeros(r, np.int64),
                          rng.integers(2**30, 2**31, r).astype(np.int64),
                          rng.integers(-25, -15, r).astype(np.int64), bits, 16)
        a = dense.QDense(qa.w, qa.offset, qa.mult, qa.shift, bits, 16,
                         not quant.a16_fits_int32(qa.w, qa.offset))
    # C . x to int16: about 2^-(log2 of the sum's range - 15); "general": larger shifts
    bound = max(1, 127 * 32768 * h)
    sc0 = 31 - int(np.ceil(np.log2(bound))) + 15 - 31 + (2 if mode == "extreme" else 4)
    if mode == "fine":  # x in [-2, 2], s1 = C . x times [1/2, 1): every unit of the sum counts
        sc0 = 0
    mc, sc = _mults(rng, sc0 - 2, sc0 + 1)
    me, se = _mults(rng, sc0 - 2, sc0 + 1)
    # B s1 to the output: shift < -1 (Helium's vector rows) except in "general"
    bs = (-9, 2) if mode == "general" else (-4, -1) if mode == "fine" else (-12, -1)
    mb, sb = _mults(rng, *bs)
    md, sd = _mults(rng, *bs)
    wide_c = not quant.a16_fits_int32(c.reshape(1, -1), np.zeros(1, np.int64))
    wide_e = not quant.a16_fits_int32(e.reshape(1, -1), np.zeros(1, np.int64))
    return hmd.QHmd(a, c, e, 0, 0, mc, sc, me, se, b, d, mb, sb, md, sd, 16, wide_c, wide_e)


def _x(rng: np.random.Generator, cols: int, mode: str) -> np.ndarray:
    if mode == "extreme":
        return np.where(rng.random(cols) < 0.5, -32768, 32767).astype(np.int16)
    if mode == "fine":
        return rng.integers(-2, 3, cols).astype(np.int16)
    return rng.integers(-32768, 32768, cols).astype(np.int16)


def _cases(seed: int) -> list[tuple[Case, object]]:
    rng = np.random.default_rng(seed)
    out = []
    for k, (r, low, cols) in enumerate(SHAPES):
        for mode in ("random", "extreme", "general", "fine"):
            bits = 4 if k % 3 == 1 else 8
            qm = _qhmd(rng, r, low, cols, mode, bits)
            name = f"hmda16_{k}_{mode}"
            ctx = _Ctx()
            lines = hmd._emit_a16(qm, type("P", (), {"ctx": ctx})(), f"{name}_M",
                                  f"{name}_x", f"{name}_y", "")
            assert lines[-1].startswith("rnn_mat_vec_hmd_a16_s16(")
            rows = r + low
            out.append((Case(name, set(ctx.kernels),
                             {"x": _x(rng, cols, mode), "y": np.zeros(rows, np.int16)},
                             lines, ["y"], decls=ctx.decls), qm))
    return out


def test_the_cases_cover_both_sums_and_both_row_paths():
    """int32 and int64 sums, vector (shift < -1) and scalar rows, int8 and int4 A', and
    saturating values, among the cases."""
    qs = [q for _, q in _cases(16)]
    assert any(q.wide_c for q in qs) and any(not q.wide_c for q in qs)
    assert any(q.wide_e for q in qs)
    assert any(q.sb < -1 and q.sd < -1 for q in qs)
    assert any(q.sb >= -1 or q.sd >= -1 for q in qs)
    assert {q.a.bits for q in qs if q.a is not None} == {4, 8}
    assert any(q.a is not None and q.a.acc64 for q in qs)


@pytest.mark.parametrize("board", ["host", pytest.param("cortex-a73", marks=pytest.mark.qemu),
                                   pytest.param("cortex-m4", marks=pytest.mark.qemu),
                                   pytest.param("cortex-m55", marks=pytest.mark.qemu)])
def test_hmd_a16_kernel_exact_on_the_board(board, tmp_path):
    cases = _cases(16)
    got = run_cases(board, [c for c, _ in cases], tmp_path)
    sat = 0
    for case, qm in cases:
        want = quant.sat16(qm.forward(case.arrays["x"].astype(np.int64)))
        y = got[case.name]["y"].astype(np.int64)
        assert np.array_equal(y, want), (board, case.name, y, want)
        sat += int(np.sum(np.abs(want) == 32767) + np.sum(want == -32768))
    assert sat > 0  # some outputs saturate
