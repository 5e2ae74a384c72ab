"""The compressed-format float kernels (HMD, CSR, low-rank, Kronecker) against the IR's
NumPy matvec, called the way the generated code calls them."""

from __future__ import annotations

import numpy as np
import pytest

from rnngen import formats
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
        vals = m.values if m.nnz else np.zeros(1, F32)
        idx = m.col_idx if m.nnz else np.zeros(1, np.int32)
        d = arrays(**{f"v{k}": vals, f"p{k}": m.row_ptr}) + "\n" + \
            "uint16_t c%d[%d] = {%s};" % (k, idx.size, ", ".join(map(str, idx)))
        return (d, f"rnn_mat_vec_csr_f32({rows}, v{k}, c{k}, p{k}, bs{k}, x{k}, y{k});",
                "rnn_mat_vec_csr_f32")
    if isinstance(m, formats.LowRank):
        d = arrays(**{f"u{k}": pack_dense(m.u), f"v{k}": pack_dense(m.v)})
        return (d, f"rnn_mat_vec_lowrank_f32(scratch, {rows}, {cols}, {m.rank}, u{k}, v{k}, "
                   f"bs{k}, x{k}, y{k});", "rnn_mat_vec_lowrank_f32")
    if isinstance(m, formats.Kron):
        (m1, n1), (m2, n2) = m.a.shape, m.b.shape
        d = arrays(**{f"ka{k}": m.a, f"kb{k}": m.b})
        return (d, f"rnn_mat_vec_kron_f32(scratch, {rows}, {cols}, {m1}, {n1}, {m2}, {n2}, "
                   f"{int(m.order == 'AX')}, ka{k}, kb{k}, bs{k}, x{k}, y{k});",
                "rnn_mat_vec_kron_f32")
    raise TypeError(m)


@pytest.mark.parametrize("order", ["AX", "XB"])
def test_kron_both_orders(tmp_path, order):
    rng = np.random.default_rng(1)
    a = rng.standard_normal((5, 3)).astype(F32)
    b = rng.standard_normal((4, 6)).astype(F32)
    m = formats.Kron(a, b, 19, 17)  # padded: 20 x 18
    x = rng.standard_normal(17).astype(F32)
    bias = rng.standard_normal(19).astype(F32)
    d = arrays(ka=a, kb=b, x=x, b=bias, y=np.zeros(19, F32), scratch=np.zeros(64, F32))
    body = (f"rnn_mat_vec_kron_f32(scratch, 19, 17, 5, 3, 4, 6, {int(order == 'AX')}, ka, kb, "
            "b, x, y); P(y, 19);")
    got = run_c(tmp_path, {"rnn_mat_vec_kron_f32"}, body, d)[0]
    np.testing.assert_allclose(got, m.to_dense() @ x + bias, rtol=1e-5, atol=1e-5)


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
