"""rnngen.compress: the sizes each method picks (PAPERS.md tables for HAR1's 179x77 and
179x179 gate blocks), the reachable-factor rule and its errors, and the fits themselves
(exact on matrices that have the structure, error falling as the factor falls, deterministic).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from rnngen import compress as c
from rnngen import formats
from rnngen.compress_npz import npz_dense, npz_entry
from rnngen.errors import RnngenError

F32 = np.float32
FACTORS = (2, 2.5, 3.33, 5)
TOL = c.TOLERANCE  # achieved storage factor within 10% of the target


def rnd(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(F32)


# --------------------------------------------------------------------------- PAPERS.md tables

# PAPERS.md section 1: r for 2 / 2.5 / 3.33 / 5x
HMD_R = {(179, 77): (86, 67, 49, 30), (179, 179): (87, 69, 51, 33),
         (128, 7232): (62, 50, 37, 24), (200, 200): (97, 77, 57, 37)}
# PAPERS.md section 2: d for 2 / 2.5 / 3.33 / 5x. 200x200 at 3.33x: PAPERS.md says 29, a
# rounding artefact of F = 10/3 (400 * 10/3 * 30 = 40000 up to 1 ulp); d = 30 gives exactly
# 3.333x >= 3.33x, so rnngen takes 30.
LMF_D = {(179, 77): (26, 21, 16, 10), (179, 179): (44, 35, 26, 17),
         (128, 128): (32, 25, 19, 12), (200, 200): (50, 40, 30, 20)}


@pytest.mark.parametrize("shape", list(HMD_R))
def test_hmd_r_matches_papers_table(shape):
    m, n = shape
    for F, r in zip(FACTORS, HMD_R[shape]):
        assert c.hmd_rank(m, n, F) == r, (shape, F)
        p = c.plan("hmd", m, n, F, "W")
        assert p.r == r
        assert p.params == r * n + 2 * (m - r) + n  # Eq. 1
        assert p.macs == r * n + n + 3 * (m - r)  # Eq. 2
        assert F <= p.factor <= F * (1 + TOL)


def test_hmd_achieved_factors_of_papers_table():
    # "86 (2.00)" and "30 (5.13)" for HAR1 W 179x77
    assert round(c.plan("hmd", 179, 77, 2, "W").factor, 2) == 2.00
    assert round(c.plan("hmd", 179, 77, 5, "W").factor, 2) == 5.13


def test_hmd_128x128_table_uses_10_over_3():
    # PAPERS.md's 128x128 row (61/48/35/22) was computed with F = 10/3 for "3.33x"
    assert [c.hmd_rank(128, 128, F) for F in (2, 2.5, 10 / 3, 5)] == [61, 48, 35, 22]
    assert c.hmd_rank(128, 128, 3.33) == 36  # 3.33 exactly: one more dense row still fits


@pytest.mark.parametrize("shape", list(LMF_D))
def test_lmf_d_matches_papers_table(shape):
    m, n = shape
    for F, d in zip(FACTORS, LMF_D[shape]):
        assert c.lmf_rank(m, n, F) == d, (shape, F)
        p = c.plan("lmf", m, n, F, "W")
        assert p.d == d and p.params == d * (m + n) == p.macs
        assert F <= p.factor <= F * (1 + TOL)
    assert c.lmf_rank(200, 200, 10 / 3) == 30


@pytest.mark.parametrize("shape", [(179, 77), (179, 179)])
@pytest.mark.parametrize("method", ["csr", "hkp"])
def test_fine_grained_methods_reach_every_har1_factor(shape, method):
    m, n = shape
    for F in FACTORS:
        p = c.plan(method, m, n, F, "W")
        assert abs(math.log(p.factor / F)) <= math.log1p(TOL), (method, F, p.factor)
        if method == "csr":
            assert p.nnz == math.floor(m * n / F + 0.5)  # round half up
        else:
            assert p.factor >= F  # hkp: the largest r whose factor is >= F
            m1, n1, m2, n2 = p.kron
            assert m1 * m2 == m - p.r and n1 * n2 >= n and 1 < m1 < m - p.r


@pytest.mark.parametrize("shape", [(179, 77), (179, 179)])
def test_kron_har1_shapes_padding_and_refusals(shape):
    m, n = shape
    for F in (2, 5):
        p = c.plan("kron", m, n, F, "W")
        m1, n1, m2, n2 = p.kron
        assert m1 * m2 >= m and n1 * n2 >= n
        assert any(p.padding)  # 179 is prime: the product is padded
        assert p.params == m1 * n1 + m2 * n2
        assert p.macs == min(m1 * n2 * (n1 + m2), n1 * m2 * (n2 + m1))
        assert abs(math.log(p.factor / F)) <= math.log1p(TOL)
    for F in (2.5, 3.33):  # a plain Kronecker product has no shapes within 10%
        with pytest.raises(RnngenError, match=r"closest reachable factor is 2\.9\d\dx"):
            c.plan("kron", m, n, F, "W")


def test_covers_are_minimal_and_include_divisors():
    for k in (1, 7, 12, 77, 179):
        pairs = c.covers(k)
        for a, b in pairs:
            assert a * b >= k and (a - 1) * b < k and a * (b - 1) < k
        divisors = {(a, k // a) for a in range(1, k + 1) if k % a == 0}
        assert divisors <= set(pairs)
    assert (2, 90) in c.covers(179) and (12, 15) in c.covers(179)


# --------------------------------------------------------------------------- errors

@pytest.mark.parametrize("method,shape,F,closest", [
    ("hmd", (179, 77), 100, "31.685x (r=0)"),  # HMD's maximum m n / (2 m + n)
    ("lmf", (179, 77), 100, "53.840x (d=1)"),  # the rank would be < 1
    ("csr", (3, 3), 20, "9.000x (nnz=1)"),  # fewer than 1 weight
    ("kron", (179, 77), 2.5, "2.960x (A 1x3 B 179x26 (padded 179x78))"),
    ("lmf", (16, 12), 2, "2.286x (d=3)"),  # granularity of a small block
])
def test_unreachable_factor_names_matrix_and_closest(method, shape, F, closest):
    where = "m.onnx: LSTM node 'lstm' fwd W"
    with pytest.raises(RnngenError) as e:
        c.plan(method, *shape, F, where)
    msg = str(e.value)
    assert msg.startswith(where + ": " + method)
    assert f"closest reachable factor is {closest}" in msg
    assert "\n" not in msg


def test_within_tolerance_below_target_is_accepted():
    # 16x32 hkp at 2x: no r gives 2..2.2x, r=7 gives 1.969x (within 10%)
    p = c.plan("hkp", 16, 32, 2, "W")
    assert p.r == 7 and 2 / (1 + TOL) <= p.factor < 2
    # slightly beyond HMD's maximum 31.685x: r = 0 is within 10%
    assert c.plan("hmd", 179, 77, 33, "W").r == 0


def test_bad_method_and_factor():
    with pytest.raises(RnngenError, match="--method 'svd'"):
        c.plan("svd", 8, 8, 2, "W")
    for F in (1.0, 0.5, float("nan"), float("inf")):
        with pytest.raises(RnngenError, match="--factor"):
            c.plan("hmd", 8, 8, F, "W")
    with pytest.raises(RnngenError, match="at least 3 columns"):
        c.plan("hmd", 8, 2, 1.5, "W")


# --------------------------------------------------------------------------- fits

def test_hmd_recovers_an_hmd_matrix_odd_n():
    m, n, r = 13, 9, 4
    h = n - n // 2
    w = formats.Hmd(rnd(r, n), rnd(m - r), rnd(h, seed=1), rnd(m - r, seed=2),
               rnd(n // 2, seed=3)).to_dense()
    got = c.fit_hmd(w, r)
    assert got.c.size == 5 and got.e.size == 4  # C covers ceil(n/2)
    np.testing.assert_allclose(got.to_dense(), w, atol=1e-5)
    assert np.array_equal(got.a, w[:r])  # A' = the top r rows, untouched


def test_hmd_lower_halves_are_the_best_rank1_fits():
    w = rnd(10, 7)
    got = c.fit_hmd(w, 3)
    for cols, (b, cc) in ((slice(0, 4), (got.b, got.c)), (slice(4, 7), (got.d, got.e))):
        s = np.linalg.svd(w[3:, cols].astype(np.float64), compute_uv=False)
        err = np.linalg.norm(w[3:, cols] - np.outer(b, cc))
        assert err == pytest.approx(math.sqrt(np.sum(s[1:] ** 2)), rel=1e-5)


def test_lmf_is_the_truncated_svd():
    w = rnd(20, 8) @ rnd(8, 15, seed=1)  # rank 8
    lr = c.fit_lmf(w, 8)
    np.testing.assert_allclose(lr.to_dense(), w, atol=1e-4)
    w = rnd(20, 15)
    lr = c.fit_lmf(w, 4)
    s = np.linalg.svd(w.astype(np.float64), compute_uv=False)
    assert np.linalg.norm(w - lr.to_dense()) == pytest.approx(math.sqrt(np.sum(s[4:] ** 2)),
                                                              rel=1e-5)


@pytest.mark.parametrize("m,n,shape", [(12, 10, (3, 2, 4, 5)), (179, 77, (12, 7, 15, 11)),
                                       (13, 7, (2, 4, 7, 2))])
def test_kron_recovers_a_kronecker_product(m, n, shape):
    m1, n1, m2, n2 = shape
    w = np.kron(rnd(m1, n1), rnd(m2, n2, seed=1))[:m, :n]  # padded when m1 m2 > m
    k = c.fit_kron(w, shape)
    assert k.shape == (m, n) and k.a.shape == (m1, n1) and k.b.shape == (m2, n2)
    assert c.rel_error(w, k) < 1e-4


def test_kron_padding_is_fitted_by_masked_als():
    # the padded product is never used: masked ALS must not be worse than the zero-padded SVD
    w = rnd(13, 7)
    shape = (2, 4, 7, 2)
    k = c.fit_kron(w, shape)
    pad = np.zeros((14, 8), F32)
    pad[:13, :7] = w
    svd_only = c.rank1(c._rearrange(pad, *shape))
    zero_fit = np.kron(svd_only[0].reshape(2, 4), svd_only[1].reshape(7, 2))[:13, :7]
    assert np.linalg.norm(w - k.to_dense()) < np.linalg.norm(w - zero_fit)


def test_csr_keeps_the_largest_per_gate_sorted():
    w = rnd(4 * 6, 9)
    w[6:12] *= 10  # a loud gate must not take the other gates' share
    m, p = c.compress_gates(w, 4, "csr", 3, "W")
    assert isinstance(m, formats.Csr) and p.nnz == 18 and m.nnz == 72
    d = m.to_dense()
    for g in range(4):
        blk, kept = w[g * 6:(g + 1) * 6], d[g * 6:(g + 1) * 6]
        assert np.count_nonzero(kept) == 18
        assert np.abs(blk[kept == 0]).max() <= np.abs(blk[kept != 0]).min()
        np.testing.assert_array_equal(kept[kept != 0], blk[kept != 0])
    for i in range(m.shape[0]):
        seg = m.col_idx[m.row_ptr[i]:m.row_ptr[i + 1]]
        assert np.all(np.diff(seg) > 0)
    formats.check(m, "W")


def test_hkp_is_dense_rows_over_a_kronecker_product():
    w = rnd(48, 40)
    m, p = c.compress_gates(np.tile(w, (3, 1)), 3, "hkp", 2, "W")
    assert isinstance(m, formats.RowStack) and len(m.blocks) == 3
    g0 = m.blocks[0]
    top, low = g0.blocks
    assert isinstance(top, formats.Dense) and isinstance(low, formats.Kron)
    assert np.array_equal(top.w, w[:p.r]) and low.shape == (48 - p.r, 40)
    assert m.params == 3 * p.params and m.macs == 3 * p.macs


@pytest.mark.parametrize("method,factors", [
    ("hmd", (5, 3.33, 2.5, 2)), ("lmf", (5, 3.33, 2.5, 2)), ("csr", (5, 3.33, 2.5, 2)),
    ("kron", (8, 4, 2)), ("hkp", (5, 3.33, 2.5, 2))])
def test_error_falls_as_factor_falls(method, factors):
    # a matrix with structure to find: a decaying spectrum, like trained weights
    rng = np.random.default_rng(3)
    u, _ = np.linalg.qr(rng.standard_normal((4 * 48, 40)))
    v, _ = np.linalg.qr(rng.standard_normal((40, 40)))
    w = ((u * np.exp(-np.arange(40) / 8.0)) @ v.T).astype(F32)
    errs, achieved = [], []
    for F in factors:
        m, _ = c.compress_gates(w, 4, method, F, "W")
        errs.append(c.rel_error(w, m))
        achieved.append(w.size / m.params)
        formats.check(m, "W")
        np.testing.assert_allclose(m.matvec(np.ones(40, F32)), m.to_dense() @ np.ones(40, F32),
                                   rtol=1e-4, atol=1e-4)
    assert all(a > b for a, b in itertools.pairwise(achieved)), achieved
    assert all(a > b for a, b in itertools.pairwise(errs)), (method, errs)


@pytest.mark.parametrize("method", c.METHODS)
def test_deterministic(method):
    w = rnd(3 * 24, 20)
    m1, _ = c.compress_gates(w, 3, method, 2, "W")
    m2, _ = c.compress_gates(w.copy(), 3, method, 2, "W")
    a1, a2 = m1.arrays(), m2.arrays()
    assert a1.keys() == a2.keys()
    for k in a1:
        assert np.array_equal(a1[k], a2[k]), k
    assert np.array_equal(m1.to_dense(), m2.to_dense())


@pytest.mark.parametrize("method", c.METHODS)
def test_npz_entries_decode_to_the_matrix(method):
    arrays = {}

    def put(name, arr):
        arrays[name] = arr
        return name

    m, _ = c.compress_gates(rnd(4 * 24, 20), 4, method, 2, "W")
    entry = npz_entry(m, "layer0.W", put)
    assert entry["format"] == ("csr" if method == "csr" else "stack")
    np.testing.assert_allclose(npz_dense(entry, arrays), m.to_dense(), rtol=1e-6, atol=1e-7)
    if method == "csr":
        assert arrays["layer0.W.col_idx"].dtype == np.int32


def test_npz_hmd_r0_has_no_a():
    arrays = {}
    m = c.fit_hmd(rnd(6, 9), 0)
    entry = npz_entry(m, "w", lambda k, v: arrays.setdefault(k, v) is not None and k)
    assert "a" not in entry and set(entry) == {"format", "b", "c", "d", "e"}
    np.testing.assert_allclose(npz_dense(entry, arrays), m.to_dense(), atol=1e-7)
