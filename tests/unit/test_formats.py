"""The compressed matrix formats of the IR: storage and MAC formulas (PAPERS.md), to_dense,
matvec and row slices, on odd and prime sizes."""

from __future__ import annotations

import numpy as np
import pytest

from rnngen import formats

F32 = np.float32
rng = np.random.default_rng(0)


def f(*shape):
    return rng.standard_normal(shape).astype(F32)


def csr_of(w: np.ndarray) -> formats.Csr:
    rows, cols = np.nonzero(w)
    ptr = np.zeros(w.shape[0] + 1, np.int32)
    np.add.at(ptr, rows + 1, 1)
    return formats.Csr(w[rows, cols].astype(F32), cols.astype(np.int32), np.cumsum(ptr).astype(
        np.int32), w.shape[1])


def hmd(m, n, r):
    h = n - n // 2
    return formats.Hmd(f(r, n), f(m - r), f(h), f(m - r), f(n // 2))


def sparse(m, n, keep):
    w = f(m, n)
    w[rng.random((m, n)) > keep] = 0
    w[min(1, m - 1)] = 0  # an empty row
    return w


MATS = {
    "dense": formats.as_matrix(f(7, 5)),
    "hmd 179x77 r86": hmd(179, 77, 86),
    "hmd odd n 7x5 r2": hmd(7, 5, 2),
    "hmd r0": hmd(6, 9, 0),
    "hmd r=m": hmd(4, 3, 4),
    "csr": csr_of(sparse(13, 11, 0.3)),
    "csr empty": csr_of(np.zeros((3, 4), F32)),
    "lowrank rank1": formats.LowRank(f(9, 1), f(1, 6)),
    "lowrank": formats.LowRank(f(20, 4), f(4, 15)),
    "kron exact": formats.Kron(f(4, 3), f(5, 2), 20, 6),
    "kron padded prime 179x77": formats.Kron(f(12, 7), f(15, 11), 179, 77),
    "hkp": formats.RowStack((formats.as_matrix(f(3, 8)), formats.Kron(f(2, 4), f(3, 2), 6, 8))),
    "stack of formats": formats.RowStack((hmd(5, 6, 2), formats.LowRank(f(5, 2), f(2, 6)),
                                     csr_of(sparse(5, 6, 0.5)))),
}


@pytest.mark.parametrize("name", list(MATS))
def test_matvec_equals_dense_product(name):
    m = MATS[name]
    d = m.to_dense()
    assert d.shape == m.shape and d.dtype == F32
    for _ in range(3):
        x = f(m.shape[1])
        np.testing.assert_allclose(m.matvec(x), d.astype(np.float64) @ x, rtol=2e-5, atol=2e-5)


@pytest.mark.parametrize("name", list(MATS))
def test_row_slices(name):
    m = MATS[name]
    d = m.to_dense()
    rows = m.shape[0]
    for lo, hi in [(0, rows), (0, 1), (rows - 1, rows), (rows // 3, 2 * rows // 3 + 1)]:
        if hi > lo:
            s = m.row_slice(lo, hi)
            assert s.shape == (hi - lo, m.shape[1])
            np.testing.assert_allclose(s.to_dense(), d[lo:hi], atol=1e-6)


def test_hmd_formulas_eq1_eq2():
    for m, n, r in [(179, 77, 86), (179, 179, 87), (128, 128, 61), (7, 5, 2)]:
        h = hmd(m, n, r)
        assert h.params == r * n + 2 * (m - r + n / 2) == r * n + 2 * (m - r) + n
        assert h.macs == r * n + 2 * (n / 2 + m - r) + (m - r) == r * n + n + 3 * (m - r)
        assert h.nbytes == 4 * h.params
    # PAPERS.md table: r = 86 gives 2.00x on HAR1's W 179x77
    assert round(179 * 77 / hmd(179, 77, 86).params, 2) == 2.00
    assert round(179 * 77 / hmd(179, 77, 30).params, 2) == 5.13


def test_lowrank_csr_kron_formulas():
    lr = formats.LowRank(f(179, 26), f(26, 77))
    assert lr.params == lr.macs == 26 * (179 + 77)
    assert round(179 * 77 / lr.params, 2) == 2.07  # PAPERS.md: d = 26 for 2x
    c = csr_of(sparse(40, 30, 0.25))
    assert c.params == c.macs == c.nnz
    # as compiled: rows padded to multiples of 4 entries (csr.pad_rows)
    padded = int(sum(-(-int(k) // 4) * 4 for k in np.diff(c.row_ptr)))
    assert c.nnz_padded == padded > c.nnz
    assert c.nbytes == 4 * padded + 2 * padded + 4 * 41
    k = formats.Kron(f(12, 7), f(15, 11), 179, 77)
    assert k.params == 12 * 7 + 15 * 11
    assert k.macs == min(12 * 11 * (7 + 15), 7 * 15 * (11 + 12))
    assert k.padded == (180, 77)


def test_stack_sums_and_merges_dense():
    s = formats.stack_rows([formats.as_matrix(f(2, 3)), formats.as_matrix(f(4, 3)), hmd(3, 3, 1)])
    assert isinstance(s, formats.RowStack) and len(s.blocks) == 2 and s.shape == (9, 3)
    assert s.params == 18 + s.blocks[1].params and s.macs == 18 + s.blocks[1].macs
    assert isinstance(formats.stack_rows([formats.as_matrix(f(2, 3))]), formats.Dense)


def test_csr_pad_rows_layout():
    """The C kernels' layout: every non-empty row padded with zero values to a multiple of 4
    entries at its last column, empty rows empty, the matrix unchanged."""
    from rnngen.formats import csr

    rng = np.random.default_rng(3)
    counts = [0, 1, 2, 3, 4, 5, 0, 8, 9, 30]
    w = np.zeros((len(counts), 30), F32)
    for i, k in enumerate(counts):
        w[i, rng.choice(30, k, replace=False)] = rng.standard_normal(k).astype(F32) + 3
    m = csr_of(w)
    v, c, p = csr.pad_rows(m.values, m.col_idx, m.row_ptr)
    assert list(np.diff(p)) == [0, 4, 4, 4, 4, 8, 0, 8, 12, 32]
    assert v.dtype == F32 and c.dtype == m.col_idx.dtype and p[-1] == m.nnz_padded == v.size
    for i, k in enumerate(counts):
        lo, hi = int(p[i]), int(p[i + 1])
        r0, r1 = int(m.row_ptr[i]), int(m.row_ptr[i + 1])
        assert np.array_equal(v[lo:lo + k], m.values[r0:r1])
        assert np.array_equal(c[lo:lo + k], m.col_idx[r0:r1])
        assert np.all(v[lo + k:hi] == 0)
        if k:
            assert np.all(c[lo + k:hi] == m.col_idx[r1 - 1])
    dense = np.zeros_like(w)
    rows = np.repeat(np.arange(len(counts)), np.diff(p))
    np.add.at(dense, (rows, c), v)
    assert np.array_equal(dense, w)
    # a row slice (row_ptr not starting at 0 in the parent arrays) and an empty matrix
    sl = m.row_slice(3, 6)
    assert list(np.diff(csr.pad_rows(sl.values, sl.col_idx, sl.row_ptr)[2])) == [4, 4, 8]
    e = csr_of(np.zeros((3, 4), F32))
    assert [a.size for a in csr.pad_rows(e.values, e.col_idx, e.row_ptr)] == [0, 0, 4]
