"""The compressed-format float kernels (HMD, CSR, low-rank, Kronecker) against the IR's
NumPy matvec, called the way the generated code calls them."""

from __future__ import annotations

import numpy as np
import pytest

from rnngen import formats
from rnngen.formats import csr
from rnngen.formats.dense import pack_dense
from tests.kernels.harness import arrays, run_c
from tests.unit.test_formats import MATS

F32 = np.float32


def _call(m, k: int):
    """(declarations, statement, kernel) computing y{k} = b{k} + M x{k}."""
    rows, cols = m.shape
    if isinstance(m, formats.Dense):
        return (arrays(**{f"w{k}": pack_dense(m.w)}),
                f"rnn_mat_vec_f32({rows}, {cols}, w{k}, bs{k}, x{k}, y{k});", "rnn_mat_vec_f32")
    if isinstance(m, formats.Hmd):
        d = arrays(**{f"a{k}": pack_dense(m.a) if m.r else np.zeros(1, F32),
                      f"hb{k}": m.b if m.b.size else np.zeros(1, F32), f"hc{k}": m.c,
                      f"hd{k}": m.d if m.d.size else np.zeros(1, F32),
                      f"he{k}": m.e if m.e.size else np.zeros(1, F32)})
        return (d, f"rnn_mat_vec_hmd_f32({rows}, {cols}, {m.r}, a{k}, hb{k}, hc{k}, hd{k}, he{k}, "
                   f"bs{k}, x{k}, y{k});", "rnn_mat_vec_hmd_f32")
    if isinstance(m, formats.Csr):
        vals, idx, ptr = csr.pad_rows(m.values, m.col_idx, m.row_ptr)  # the kernel's layout
        vals = vals if vals.size else np.zeros(1, F32)
        idx = idx if idx.size else np.zeros(1, np.int32)
        d = arrays(**{f"v{k}": vals, f"p{k}": ptr}) + "\n" + \
            "uint16_t c%d[%d] = {%s};" % (k, idx.size, ", ".join(map(str, idx)))
        return (d, f"rnn_mat_vec_csr_f32({rows}, v{k}, c{k}, p{k}, bs{k}, x{k}, y{k});",
                "rnn_mat_vec_csr_f32")
    if isinstance(m, formats.LowRank):
        d = arrays(**{f"u{k}": pack_dense(m.u), f"v{k}": pack_dense(m.v)})
        return (d, f"rnn_mat_vec_lowrank_f32(scratch, {rows}, {cols}, {m.rank}, u{k}, v{k}, "
                   f"bs{k}, x{k}, y{k});", "rnn_mat_vec_lowrank_f32")
    if isinstance(m, formats.Kron):
        (m1, n1), (m2, n2) = m.a.shape, m.b.shape
        d = arrays(**{f"ka{k}": m.a, f"kb{k}": pack_dense(m.b)})
        return (d, f"rnn_mat_vec_kron_f32(scratch, {rows}, {cols}, {m1}, {n1}, {m2}, {n2}, "
                   f"{int(m.order == 'AX')}, ka{k}, kb{k}, bs{k}, x{k}, y{k});",
                "rnn_mat_vec_kron_f32")
    raise TypeError(m)


def _madd(acc: np.ndarray, w, x, fused: bool) -> np.ndarray:
    """acc + w x in float32 as the kernels round it: once (fused multiply-add, modelled in
    float64: exact products, and sums that round to the same float32 except in double-rounding
    ties, which these data do not hit) or twice (a rounded product, then a rounded sum)."""
    if fused:
        return (np.asarray(acc, np.float64) + np.float64(1) * np.asarray(w, np.float64)
                * np.asarray(x, np.float64)).astype(F32)
    return (np.asarray(acc, F32) + (np.asarray(w, F32) * np.asarray(x, F32)).astype(F32)
            ).astype(F32)


def kron_f32_model(a: np.ndarray, b: np.ndarray, rows: int, cols: int, ax_first: bool,
                   x: np.ndarray, bias: np.ndarray | None, fused: bool) -> np.ndarray:
    """rnn_mat_vec_kron_f32 in NumPy, operation for operation (its header: "Rounding"):
    every sum starts at the bias or 0 and adds its terms in order, one multiply-add each."""
    m1, (m2, n2) = a.shape[0], b.shape
    a, b, x = np.asarray(a, F32), np.asarray(b, F32), np.asarray(x, F32)
    nj = -(-cols // n2)  # rows of X inside cols (the last one zero-padded)
    X = np.zeros(nj * n2, F32)
    X[:cols] = x
    X = X.reshape(nj, n2)
    out = []
    if not ax_first:
        T = np.zeros((nj, m2), F32)
        for j in range(nj):  # T[j] = B X[j] (rnn_mat_vec_f32: column by column)
            acc = np.zeros(m2, F32)
            for k in range(n2):
                acc = _madd(acc, b[:, k], X[j, k], fused)
            T[j] = acc
    for i in range(m1):
        if i * m2 >= rows:
            break
        n = min(m2, rows - i * m2)
        acc = (np.zeros(n, F32) if bias is None else np.asarray(bias[i * m2:i * m2 + n], F32))
        if ax_first:
            t = np.zeros(n2, F32)  # T[i] = sum_j A[i][j] X[j]
            for j in range(nj):
                t = _madd(t, a[i, j], X[j], fused)
            for k in range(n2):  # Y[i] = bias + B T[i]
                acc = _madd(acc, b[:n, k], t[k], fused)
        else:
            for j in range(nj):  # Y[i] = bias + sum_j A[i][j] T[j]
                acc = _madd(acc, a[i, j], T[j, :n], fused)
        out.append(acc)
    return np.concatenate(out)


# (m1, n1, m2, n2, rows, cols): every branch of the kernel: n2 below / at / above the
# vector widths (4, 8), m2 and the last output block cutting tiles of 16 (a whole tile or the
# remainder rows), x's last row partial, whole, or the only one, rows of X wholly past cols,
# blocks of A past rows, and HAR1's 16x shapes (179 x 77 and 179 x 179).
KRON_SHAPES = [
    (5, 3, 4, 6, 19, 17),
    (4, 3, 5, 2, 20, 6),
    (3, 4, 37, 5, 100, 18),  # last block 26 of 37 rows: one whole tile, then 10 of a tile
    (3, 4, 37, 5, 111, 20),
    (2, 5, 40, 13, 75, 61),  # last block 35 of 40: two tiles, 3 of the 8 remainder rows
    (3, 2, 21, 11, 45, 12),  # last block 3 rows (< 4), cols: one whole row + 1
    (2, 3, 19, 7, 30, 5),  # cols < n2: only a partial row
    (2, 6, 9, 4, 18, 9),  # rows 3..5 of X wholly past cols
    (4, 2, 6, 1, 13, 2),  # n2 = 1
    (6, 1, 3, 9, 7, 9),  # blocks of A past rows
    (2, 9, 90, 9, 179, 77),  # HAR1 W at 16x
    (1, 17, 179, 11, 179, 179),  # HAR1 R at 16x
    (9, 1, 20, 77, 179, 77),
    (12, 7, 15, 11, 179, 77),
]


def kron_case(shape: tuple[int, ...], seed: int) -> tuple[np.ndarray, ...]:
    m1, n1, m2, n2, rows, cols = shape
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((m1, n1)).astype(F32), rng.standard_normal((m2, n2)).astype(F32),
            rng.standard_normal(cols).astype(F32), rng.standard_normal(rows).astype(F32))


def kron_scratch(shape: tuple[int, ...], ax_first: bool) -> int:
    m1, n1, m2, n2, _, _ = shape
    return (m1 * n2 if ax_first else n1 * m2) + n2 + 16


@pytest.mark.parametrize("order", ["AX", "XB"])
def test_kron_both_orders_exact_order_of_operations(tmp_path, order):
    """Both associations on every shape, with a bias, accumulating into y (bias = y) and
    without a bias: equal bit for bit to the operation-order model (host gcc -O2: no fused
    multiply-add, SSE2), and to the product within float rounding."""
    ax = order == "AX"
    decls, body, wants = [], [], []
    for k, shape in enumerate(KRON_SHAPES):
        m1, n1, m2, n2, rows, cols = shape
        a, b, x, bias = kron_case(shape, 10 + k)
        decls.append(arrays(**{f"ka{k}": a, f"kb{k}": pack_dense(b), f"x{k}": x, f"b{k}": bias,
                               f"y{k}": np.zeros(rows, F32),
                               f"s{k}": np.full(kron_scratch(shape, ax), 3e38, F32)}))
        call = (f"rnn_mat_vec_kron_f32(s{k}, {rows}, {cols}, {m1}, {n1}, {m2}, {n2}, {int(ax)}, "
                f"ka{k}, kb{k}, BIAS, x{k}, y{k}); P(y{k}, {rows});")
        body += [call.replace("BIAS", f"b{k}"), call.replace("BIAS", f"y{k}"),
                 call.replace("BIAS", "NULL")]
        y1 = kron_f32_model(a, b, rows, cols, ax, x, bias, False)
        wants += [y1, kron_f32_model(a, b, rows, cols, ax, x, y1, False),
                  kron_f32_model(a, b, rows, cols, ax, x, None, False)]
        dense = np.kron(a, b)[:rows, :cols].astype(np.float64) @ x
        np.testing.assert_allclose(wants[-1], dense, rtol=1e-4, atol=1e-4)  # the model itself
    got = run_c(tmp_path, {"rnn_mat_vec_kron_f32"}, "\n".join(body), "\n".join(decls))
    assert len(got) == len(wants)
    for k, (g, w) in enumerate(zip(got, wants)):
        assert np.array_equal(g, w), (KRON_SHAPES[k // 3], k % 3, np.max(np.abs(g - w)))


@pytest.mark.parametrize("name", [n for n, m in MATS.items()
                                  if not isinstance(m, formats.RowStack)])
def test_format_kernel_against_numpy(tmp_path, name):
    m = MATS[name]
    rng = np.random.default_rng(2)
    rows, cols = m.shape
    x = rng.standard_normal(cols).astype(F32)
    b = rng.standard_normal(rows).astype(F32)
    decl, call, kernel = _call(m, 0)
    decls = decl + "\n" + arrays(x0=x, bs0=b, y0=np.zeros(rows, F32),
                                 scratch=np.zeros(max(1, formats.scratch(m)), F32))
    body = "\n".join([call, f"P(y0, {rows});",
                      # bias aliasing y: y += M x
                      call.replace("bs0,", "y0,"), f"P(y0, {rows});",
                      call.replace("bs0,", "NULL,"), f"P(y0, {rows});"])
    got = run_c(tmp_path, {kernel}, body, decls)
    want = m.to_dense().astype(np.float64) @ x
    np.testing.assert_allclose(got[0], want + b, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got[1], want + want + b, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got[2], want, rtol=1e-5, atol=1e-5)


# --------------------------------------------------------------------------- CSR kernels

def csr_rows_matrix(cols: int = 23, seed: int = 5) -> formats.Csr:
    """Rows of 0, 1, 2, ..., 9 nonzeros (every remainder mod 4, padded or not, one and two
    groups per loop step, an odd group after them), a full row, and empty rows between."""
    rng = np.random.default_rng(seed)
    counts = [0, 1, 2, 3, 4, 0, 5, 6, 7, 8, 9, cols, 0, 12, 3]
    w = np.zeros((len(counts), cols), F32)
    for i, k in enumerate(counts):
        c = rng.choice(cols, k, replace=False)
        w[i, c] = rng.standard_normal(k).astype(F32)
        w[i, c[rng.random(k) < 0.3]] *= 1e-3  # a spread of magnitudes: rounding matters
    return csr.from_dense(w)


def csr_f32_oracle(m: formats.Csr, x: np.ndarray, bias: np.ndarray | None,
                   fused: bool) -> np.ndarray:
    """rnn_mat_vec_csr_f32's stated order, in float32: the padded row's entry k goes to
    partial sum k mod 4 (a fused multiply-add, one rounding, or a multiply then an add), then
    bias + ((a0 + a1) + (a2 + a3)). A float64 product of two float32 is exact, so float32 of
    (product + sum) in float64 is the fused step (double rounding aside: not in these data)."""
    v, c, p = csr.pad_rows(m.values, m.col_idx, m.row_ptr)
    rows = m.shape[0]
    a = np.zeros((rows, 4), F32)
    for i in range(rows):
        for k in range(int(p[i]), int(p[i + 1])):
            j = (k - int(p[i])) % 4
            if fused:
                a[i, j] = F32(np.float64(v[k]) * np.float64(x[c[k]]) + np.float64(a[i, j]))
            else:
                a[i, j] = F32(a[i, j] + F32(v[k] * x[c[k]]))
    s = (a[:, 0] + a[:, 1]) + (a[:, 2] + a[:, 3])
    return (s if bias is None else bias.astype(F32) + s).astype(F32)


def assert_csr_f32(got: np.ndarray, m: formats.Csr, x: np.ndarray, bias: np.ndarray | None,
                   fused: bool | None, what: str) -> None:
    """got equals the stated order's result bit for bit, fused (True), not (False) or either
    (None: the host's gcc fuses only where fmaf is one instruction)."""
    got = np.asarray(got, F32)
    options = [True, False] if fused is None else [fused]
    wants = [csr_f32_oracle(m, x, bias, f) for f in options]
    if not any(np.array_equal(got.view(np.uint32), w.view(np.uint32)) for w in wants):
        raise AssertionError(f"{what}: not the stated order's float32 sums "
                             f"({'fused' if fused else 'unfused' if fused is False else 'either'})"
                             f"\ngot  {got}\nwant {wants[0]}")


def test_csr_oracle_can_tell_the_order_apart():
    """The order oracle is strict: the plain column-order sum (the old kernel) differs."""
    m = csr_rows_matrix()
    rng = np.random.default_rng(11)
    x = rng.standard_normal(m.shape[1]).astype(F32)
    old = m.matvec(x)  # float32, one sum in column order
    with pytest.raises(AssertionError):
        assert_csr_f32(old, m, x, None, None, "column order")


@pytest.mark.parametrize("cols", [23, 300])
def test_csr_f32_rows_of_every_length(tmp_path, cols):
    m = csr_rows_matrix(cols)
    rows = m.shape[0]
    rng = np.random.default_rng(cols)
    x = rng.standard_normal(cols).astype(F32)
    b = rng.standard_normal(rows).astype(F32)
    decl, call, kernel = _call(m, 0)
    decls = decl + "\n" + arrays(x0=x, bs0=b, y0=np.zeros(rows, F32))
    got = run_c(tmp_path, {kernel}, "\n".join([call, f"P(y0, {rows});",
                                               call.replace("bs0,", "NULL,"),
                                               f"P(y0, {rows});"]), decls)
    assert_csr_f32(got[0], m, x, b, None, "bias")
    assert_csr_f32(got[1], m, x, None, None, "no bias")
