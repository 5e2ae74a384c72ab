"""Each C kernel against NumPy (host gcc build)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from rnngen import ir, reference
from rnngen.formats.dense import pack_dense
from tests.kernels.harness import arrays, run_c

F32 = np.float32
SHAPES = [(1, 1), (16, 1), (1, 16), (17, 3), (32, 5), (45, 31), (7, 64), (64, 7), (70, 49),
          (130, 9), (256, 3)]


def _round32(q: Fraction) -> F32:
    """q rounded to the nearest float32, ties to even (exactly)."""
    f = F32(float(q))
    cands = [np.nextafter(f, F32(-np.inf)), f, np.nextafter(f, F32(np.inf))]
    return min(cands, key=lambda c: (abs(Fraction(float(c)) - q),
                                     int(np.asarray(c).view(np.int32)) & 1))


def sequential_matvec(w: np.ndarray, x: np.ndarray, b: np.ndarray | None,
                      fused: bool = False) -> np.ndarray:
    """y = b + W x summed column by column in float32: the exact operation order of
    rnn_mat_vec_f32, with one rounding per step when the target fuses multiply-add
    (RNN_MAT_VEC_FUSED) and two otherwise."""
    m, n = w.shape
    acc = np.zeros(m, F32) if b is None else b.astype(F32).copy()
    for j in range(n):
        if fused:
            xj = Fraction(float(x[j]))
            acc = np.array([_round32(Fraction(float(a)) + Fraction(float(wi)) * xj)
                            for a, wi in zip(acc, w[:, j])], F32)
        else:
            acc = (acc + (w[:, j] * x[j]).astype(F32)).astype(F32)
    return acc


def _has_avx512() -> bool:
    try:
        return " avx512f " in open("/proc/cpuinfo").read().replace("\n", " ")
    except OSError:
        return False


# The AVX-512 paths (RNN_X86_512) run where this machine has AVX-512F; without it their code
# cannot execute here, so the case is not generated (-march=native still tests what it has).
AVX512 = [("-O3", "-march=x86-64-v4")] if _has_avx512() else []


@pytest.mark.parametrize("flags", [("-O2",), ("-O3", "-march=native"), ("-O3", "-march=x86-64-v3"),
                                   ("-O0",), *AVX512],
                         ids=["O2", "O3-native", "O3-x86-64-v3", "O0", *["avx512"] * len(AVX512)])
def test_mat_vec_bit_exact(tmp_path, flags):
    rng = np.random.default_rng(0)
    decls, body, cases = [], ["printf(\"%d\\n\", RNN_MAT_VEC_FUSED);"], []
    for k, (m, n) in enumerate(SHAPES):
        w = rng.standard_normal((m, n)).astype(F32)
        x = rng.standard_normal(n).astype(F32)
        b = rng.standard_normal(m).astype(F32)
        decls.append(arrays(**{f"w{k}": pack_dense(w), f"x{k}": x, f"b{k}": b,
                               f"y{k}": np.zeros(m, F32)}))
        body.append(f"rnn_mat_vec_f32({m}, {n}, w{k}, b{k}, x{k}, y{k}); P(y{k}, {m});")
        body.append(f"rnn_mat_vec_f32({m}, {n}, w{k}, NULL, x{k}, y{k}); P(y{k}, {m});")
        # bias aliasing y: y += W x
        body.append(f"rnn_mat_vec_f32({m}, {n}, w{k}, y{k}, x{k}, y{k}); P(y{k}, {m});")
        cases.append((w, x, b))
    got = run_c(tmp_path, {"rnn_mat_vec_f32"}, "\n".join(body), "\n".join(decls), flags)
    fused = bool(got[0][0])
    want = []
    for w, x, b in cases:
        y1 = sequential_matvec(w, x, b, fused)
        y2 = sequential_matvec(w, x, None, fused)
        want += [y1, y2, sequential_matvec(w, x, y2, fused)]
        np.testing.assert_allclose(y1, w @ x + b, rtol=1e-4, atol=1e-4)
    assert len(got) == len(want) + 1
    for g, w in zip(got[1:], want):
        assert np.array_equal(g, w), (fused, g, w)


@pytest.mark.parametrize("flags", [("-O2",), ("-O3", "-march=x86-64-v3"), *AVX512],
                         ids=["O2", "avx2", *["avx512"] * len(AVX512)])
def test_mat_mul_equals_mat_vec_per_vector(tmp_path, flags):
    """rnn_mat_mul_f32 on `count` vectors gives, bit for bit, the sequential sums."""
    rng = np.random.default_rng(4)
    decls, body, cases = [], ["printf(\"%d\\n\", RNN_MAT_VEC_FUSED);"], []
    for k, (m, n, count) in enumerate([(70, 13, 9), (16, 5, 4), (131, 7, 3), (5, 3, 6),
                                       (64, 11, 17)]):
        w = rng.standard_normal((m, n)).astype(F32)
        x = rng.standard_normal((count, n)).astype(F32)
        b = rng.standard_normal(m).astype(F32)
        decls.append(arrays(**{f"w{k}": pack_dense(w), f"x{k}": x, f"b{k}": b,
                               f"y{k}": np.zeros(m * count, F32)}))
        body.append(f"rnn_mat_mul_f32({m}, {n}, w{k}, b{k}, {count}, x{k}, y{k}); "
                    f"P(y{k}, {m * count});")
        cases.append((w, x, b))
    got = run_c(tmp_path, {"rnn_mat_mul_f32"}, "\n".join(body), "\n".join(decls), flags)
    fused = bool(got[0][0])
    for g, (w, x, b) in zip(got[1:], cases):
        want = np.concatenate([sequential_matvec(w, xv, b, fused) for xv in x])
        assert np.array_equal(g, want)


@pytest.mark.parametrize("name", list(ir.ACTIVATION_DEFAULTS))
def test_activation(tmp_path, name):
    x = np.concatenate([np.linspace(-6, 6, 41), [-30.0, 30.0, 0.0, 1.0, 0.2]]).astype(F32)
    act = ir.Activation(name, 0.7, 0.3)
    enum = {"Sigmoid": 0, "Tanh": 1, "Relu": 2, "Affine": 3, "LeakyRelu": 4,
            "ThresholdedRelu": 5, "ScaledTanh": 6, "HardSigmoid": 7, "Elu": 8, "Softsign": 9,
            "Softplus": 10}[name]
    body = (f"rnn_activation act = {{(rnn_activation_kind){enum}, 0.7f, 0.3f}};\n"
            f"rnn_activation_f32(&act, x, {x.size}); P(x, {x.size});")
    got = run_c(tmp_path, {"rnn_activation_f32"}, body, arrays(x=x))[0]
    np.testing.assert_allclose(got, reference.activation(act, x), rtol=2e-6, atol=1e-7)


def test_sigmoid_tanh_accuracy_dense(tmp_path):
    """The libm-free sigmoid and tanh against float64 over a dense range."""
    x = np.concatenate([np.linspace(-12, 12, 4801), np.geomspace(1e-8, 1, 400),
                        -np.geomspace(1e-8, 1, 400), [-200.0, 200.0, -88.5, 88.5]]).astype(F32)
    body = (f"rnn_activation sg = {{RNN_ACT_SIGMOID, 0.0f, 0.0f}};\n"
            f"rnn_activation th = {{RNN_ACT_TANH, 0.0f, 0.0f}};\n"
            f"rnn_activation_f32(&sg, a, {x.size}); P(a, {x.size});\n"
            f"rnn_activation_f32(&th, b, {x.size}); P(b, {x.size});")
    sg, th = run_c(tmp_path, {"rnn_activation_f32"}, body, arrays(a=x, b=x),
                   flags=("-O3", "-march=native"))
    x64 = x.astype(np.float64)
    want_sg = 1 / (1 + np.exp(-x64))
    assert np.max(np.abs(sg - want_sg)) < 1.2e-7
    inside = np.abs(x64) <= 80  # beyond, the true value underflows float32
    assert np.max((np.abs(sg - want_sg) / want_sg)[inside]) < 5e-7
    assert np.max(np.abs(th - np.tanh(x64))) < 2e-7
    assert np.all(np.abs(th) <= 1) and np.all(sg >= 0) and np.all(sg <= 1)


@pytest.mark.parametrize("log", [0, 1])
def test_softmax(tmp_path, log):
    x = np.random.default_rng(1).standard_normal((3, 5, 4)).astype(F32) * 4
    body = f"rnn_softmax_f32(3, 5, 4, {log}, x, y); P(y, 60);"
    got = run_c(tmp_path, {"rnn_softmax_f32"}, body, arrays(x=x, y=np.zeros(60, F32)))[0]
    e = np.exp(x - x.max(axis=1, keepdims=True))
    want = e / e.sum(axis=1, keepdims=True)
    want = np.log(want) if log else want
    np.testing.assert_allclose(got.reshape(3, 5, 4), want, rtol=1e-5, atol=1e-6)


def test_copy_strided_transpose_and_slice(tmp_path):
    x = np.arange(2 * 3 * 4, dtype=F32).reshape(2, 3, 4)
    t = np.transpose(x, (2, 0, 1))  # shape (4, 2, 3); source strides (1, 12, 4)
    s = x[:, ::-2, 1:3]  # (2, 2, 2) starting at [0, 2, 1]; strides (12, -8, 1)
    body = ("int32_t sh[3] = {4, 2, 3}, ss[3] = {1, 12, 4}, ds[3] = {6, 3, 1};\n"
            "rnn_copy_strided_f32(3, sh, x, ss, y, ds); P(y, 24);\n"
            "int32_t sh2[3] = {2, 2, 2}, ss2[3] = {12, -8, 1}, ds2[3] = {4, 2, 1};\n"
            "rnn_copy_strided_f32(3, sh2, x + 9, ss2, y, ds2); P(y, 8);")
    got = run_c(tmp_path, {"rnn_copy_strided_f32"}, body, arrays(x=x, y=np.zeros(24, F32)))
    assert np.array_equal(got[0], t.reshape(-1))
    assert np.array_equal(got[1], s.reshape(-1))


@pytest.mark.parametrize("op,fn", [(0, np.add), (1, np.subtract), (2, np.multiply),
                                   (3, np.divide)])
def test_elementwise_broadcast(tmp_path, op, fn):
    rng = np.random.default_rng(2)
    a = rng.standard_normal((3, 4)).astype(F32)
    b = (rng.standard_normal(4).astype(F32) + 3)  # broadcast along rows
    body = ("int32_t sh[2] = {3, 4}, sa[2] = {4, 1}, sb[2] = {0, 1};\n"
            f"rnn_elementwise_f32((rnn_binary_op){op}, 2, sh, a, sa, b, sb, y); P(y, 12);")
    got = run_c(tmp_path, {"rnn_elementwise_f32"}, body, arrays(a=a, b=b, y=np.zeros(12, F32)))
    assert np.array_equal(got[0], fn(a, b).astype(F32).reshape(-1))
