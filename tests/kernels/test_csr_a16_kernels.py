"""The CSR int16-activation kernels (rnn_mat_vec_csr_a16_s16: int8 values, w8a16;
rnn_mat_vec_csr_a16_s4_s16: int4 values, w4a16) bit for bit against the integer reference
(QCsr.forward with xbits 16: int64 sums, quant.rq64), called as csr.py's emitter writes them,
on the host, cortex-a73, cortex-m4 (DSP path) and cortex-m55 (Helium path). Shapes: rows of
every length 0..12 and longer ones past the Helium 8- and 16-entry steps (all padded to 4k),
and rows of 600 full-scale entries whose sums with x = -32768 pass 2^31 (the int64 sums are
needed there); values: random and extreme (values +-127 / +-7, x -32768 / 32767, saturating
outputs); offsets of any int32; shifts of the usual (<= -2), the general (-1 .. 20: rq64's
right shift from 16 down to 1, and its left shift with saturation past 15) requantization."""

from __future__ import annotations

import numpy as np
import pytest

from rnngen import formats, quant
from rnngen.emit.c import _Ctx
from tests.kernels.harness import Case, run_cases

I8, I16 = np.int8, np.int16


def _counts(kind: str) -> np.ndarray:
    if kind == "wide":  # full-scale rows: 600 * 127 * 32768 > 2^31
        return np.array([600, 0, 601, 4, 603])
    return np.array([k % 13 for k in range(17)] + [16, 17, 20, 24, 27, 29, 33, 37])


def _csr(rng: np.random.Generator, bits: int, mode: str, kind: str) -> formats.csr.QCsr:
    counts = _counts(kind)
    rows = counts.size
    cols = 700 if kind == "wide" else 41
    idx = np.concatenate([np.sort(rng.choice(cols, c, replace=False)) for c in counts])
    ptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    lv = 127 if bits == 8 else 7
    n = int(ptr[-1])
    if kind == "wide":  # one sign a row: the sums reach rows * lv * 32768
        vals = np.repeat(rng.choice([-lv, lv], rows), counts)
    elif mode == "extreme":
        vals = np.where(rng.random(n) < 0.5, -lv, lv)
    else:
        vals = rng.integers(-lv, lv + 1, n)
    mult = rng.integers(2**30, 2**31, rows).astype(np.int64)
    if mode == "general":
        shift = rng.integers(-1, 21, rows)
        off = rng.integers(-2**31, 2**31, rows)
    else:
        shift = rng.integers(-31, -1, rows) if kind != "wide" else rng.integers(-28, -14, rows)
        off = rng.integers(-3000, 3000, rows)
    return formats.csr.QCsr(vals.astype(I8), idx.astype(np.int64), ptr, cols,
                            off.astype(np.int64), mult, shift.astype(np.int64), bits=bits,
                            xbits=16)


def _x(rng: np.random.Generator, n: int, mode: str, kind: str) -> np.ndarray:
    if kind == "wide":  # every product at its largest magnitude, one sign
        return np.full(n, -32768, I16)
    if mode == "extreme":
        return np.where(rng.random(n) < 0.5, -32768, 32767).astype(I16)
    return rng.integers(-32768, 32768, n).astype(I16)


def _cases(seed: int) -> list[tuple[Case, formats.csr.QCsr]]:
    rng = np.random.default_rng(seed)
    out = []
    for bits in (8, 4):
        for mode in ("random", "extreme", "general"):
            for kind in ("short", "wide"):
                if kind == "wide" and mode == "general":
                    continue
                name = f"a16_{bits}_{mode}_{kind}"
                qm = _csr(rng, bits, mode, kind)
                ctx = _Ctx()
                prog = type("P", (), {"ctx": ctx})()
                lines = formats.of(qm).emit_s8(qm, prog, f"{name}_M", f"{name}_x",
                                               f"{name}_y", f"{name}_s")
                rows, cols = qm.shape
                arrays = {"x": _x(rng, cols, mode, kind), "y": np.zeros(rows, I16)}
                out.append((Case(name, set(ctx.kernels), arrays, lines, ["y"],
                                 decls=ctx.decls), qm))
    return out


def test_cases_use_the_a16_kernels_and_pass_int32():
    """The emitter picks the int16-input kernels; the wide rows' sums really leave int32."""
    cases = _cases(3)
    assert set().union(*(c.kernels for c, _ in cases)) == {"rnn_mat_vec_csr_a16_s16",
                                                           "rnn_mat_vec_csr_a16_s4_s16"}
    for c, qm in cases:
        if c.name.endswith("wide") and qm.bits == 8:
            x = c.arrays["x"].astype(np.int64)
            sums = np.array([(qm.values[a:b].astype(np.int64) * x[qm.col_idx[a:b]]).sum()
                             for a, b in zip(qm.row_ptr[:-1], qm.row_ptr[1:])])
            assert np.abs(sums).max() >= 2**31


@pytest.mark.parametrize("board", ["host", pytest.param("cortex-a73", marks=pytest.mark.qemu),
                                   pytest.param("cortex-m4", marks=pytest.mark.qemu),
                                   pytest.param("cortex-m55", marks=pytest.mark.qemu)])
def test_csr_a16_kernels_exact_on_the_board(board, tmp_path):
    cases = _cases(17)
    got = run_cases(board, [c for c, _ in cases], tmp_path)
    for case, qm in cases:
        want = quant.sat16(qm.forward(case.arrays["x"].astype(np.int64)))
        y = got[case.name]["y"].astype(np.int64)
        assert np.array_equal(y, want), (board, case.name, y, want)


def test_more_than_65536_columns_is_refused():
    """The int8-value kernels index columns with uint16: a wider csr matrix is refused in one
    line naming it (int8 x and int16 x alike), as the float kernel's is."""
    from rnngen.errors import RnngenError

    for xbits in (8, 16):
        qm = formats.csr.QCsr(np.array([1, 2], I8), np.array([0, 70_000]),
                              np.array([0, 2]), 70_001, np.zeros(1, np.int64),
                              np.full(1, 2**30), np.full(1, -8), xbits=xbits)
        prog = type("P", (), {"ctx": _Ctx()})()
        with pytest.raises(RnngenError, match=r"^CSR matrix Wbig: 70001 columns; the kernel "
                                              r"indexes columns with 16 bits$"):
            formats.of(qm).emit_s8(qm, prog, "Wbig", "x", "y", "s")
