"""The integer arithmetic of the int8 path (codegen/quant.py) against exact rational math,
and the integer reference against the float model."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import onnx
import pytest

from rnngen import pipeline, quant, reference
from rnngen.errors import RnngenError
from tests import models


def exact_rq(acc: int, mult: int, shift: int) -> int:
    v = Fraction(acc * mult, 2 ** (31 - shift))
    return int((v + Fraction(1, 2)).__floor__())  # half up


def test_requantize_is_exact_rounding_half_up():
    rng = np.random.default_rng(0)
    for _ in range(3000):
        acc = int(rng.integers(-2**31, 2**31))
        mult = int(rng.integers(2**30, 2**31))
        shift = int(rng.integers(-31, 31))
        want = max(-2**31, min(2**31 - 1, exact_rq(acc, mult, shift)))
        assert int(quant.rq(acc, mult, shift)) == want
    # ties round up, also for negative values
    assert int(quant.rq(-3, 2**30, 0)) == -1  # -1.5 -> -1
    assert int(quant.rq(3, 2**30, 0)) == 2  # 1.5 -> 2


@pytest.mark.parametrize("real", [1e-9, 3.7e-5, 0.25, 0.5, 0.9999999, 1.0, 3.14159, 1234.5])
def test_multiplier_represents_the_real_value(real):
    m, s = quant.multiplier(real, "x")
    assert 2**30 <= m < 2**31 and -31 <= s <= 30
    assert abs(m * 2.0 ** (s - 31) - real) <= real * 2**-30


def test_multiplier_underflow_is_a_named_error():
    with pytest.raises(RnngenError, match="LSTM 'x' W.*underflows"):
        quant.multiplier(1e-12, "LSTM 'x' W")


def test_rshift_round_and_saturation():
    assert list(quant.rshift_round(np.array([5, -5, 6, -6, 7]), 1)) == [3, -2, 3, -3, 4]
    assert list(quant.sat16(np.array([40000, -40000, 5]))) == [32767, -32768, 5]
    assert list(quant.sat8(np.array([200, -200, 5]))) == [127, -128, 5]


@pytest.mark.parametrize("name", ["Sigmoid", "Tanh", "Softsign", "HardSigmoid"])
def test_lut_accuracy(name):
    fn = quant.act_fn(name, 0.2, 0.5)
    table = quant.lut_table(fn)
    x = np.arange(-32768, 32768, 7)
    got = quant.lut(table, x) / 32768.0
    want = fn(x / 4096.0)
    err = np.max(np.abs(got - want))
    # interpolation between table points 2^-5 apart: f''/8 * 2^-10, plus rounding to Q0.15;
    # a kink (Softsign, HardSigmoid) costs more near it
    bound = {"Sigmoid": 5e-5, "Tanh": 1.5e-4, "Softsign": 3e-4, "HardSigmoid": 3e-4}[name]
    assert err < bound, err


def test_unbounded_cell_activation_is_refused():
    with pytest.raises(RnngenError, match="Relu.*outside \\[-1, 1\\]"):
        quant.act_fn("Relu", 0, 0)


def test_qparams_cover_the_range_and_zero():
    p = quant.choose_qparams(-0.3, 2.0, "t")
    lo, hi = (-128 - p.zero_point) * p.scale, (127 - p.zero_point) * p.scale
    # the zero point is an integer, so an end of the range may move by up to half a step
    assert lo <= -0.3 + p.scale / 2 and hi >= 2.0 - p.scale / 2
    assert quant.dequantize(np.array([p.zero_point]), p)[0] == 0
    with pytest.raises(RnngenError, match="constant zero"):
        quant.choose_qparams(0.0, 0.0, "t")


SPECS = [models.Spec("LSTM", "forward", 8, 16, 12, 2, initial_state=True),
         models.Spec("LSTM", "bidirectional", 5, 9, 7, 1, peepholes=True, clip=2.0),
         models.Spec("GRU", "forward", 6, 12, 10, 1, lbr=0),
         models.Spec("GRU", "reverse", 6, 12, 10, 1, lbr=1),
         models.Spec("RNN", "forward", 5, 10, 9, 2)]


@pytest.mark.parametrize("spec", SPECS, ids=[s.label() for s in SPECS])
def test_int8_reference_is_close_to_float(spec, tmp_path):
    p = tmp_path / "m.onnx"
    onnx.save(models.make_model(spec, 3), p)
    g = pipeline.compile_model(p, pipeline.Options(dtype="int8"))
    for seed in (1, 2):
        x = np.random.default_rng(seed).uniform(-1, 1, g.shapes[g.input]).astype(np.float32)
        want = reference.run(g, x)
        got = reference.Executor(g, dtype="int8").run(x)
        for o in g.outputs:
            scale = max(1.0, float(np.max(np.abs(want[o]))))
            assert np.max(np.abs(got[o] - want[o])) < 0.05 * scale, o


@pytest.mark.parametrize("n", [1, 2, 12, 100, 4096])
def test_layer_norm_s8_is_within_half_a_step_of_float(n):
    """quant.layer_norm_s8 against float64 layer normalization of the same (dequantized)
    int8 input: within half an output step plus 0.01 step (the Q16 normalized value, the
    Newton reciprocal square root within 3e-9, the folded scale within 2^-30), wherever the
    float value is inside the output's range; epsilon honoured (a constant block gives the
    bias; a variance far below epsilon is scaled by 1/sqrt(eps))."""
    rng = np.random.default_rng(n)
    x = quant.QParams(0.05, -7)
    gamma = rng.uniform(-1.5, 1.5, n)
    beta = rng.uniform(-0.5, 0.5, n)
    out = quant.choose_qparams(-4.0, 4.0, "y")
    for eps in (1e-5, 1e-2, 3.0):
        q = quant.quantize_layer_norm(gamma, beta, eps, x, out, "ln")
        xs = rng.integers(-128, 128, (40, n))
        xs[0] = 17  # constant: the bias
        xs[1] = -7 + rng.integers(0, 2, n)  # values one step apart: a tiny variance
        got = quant.layer_norm_s8(q, xs)
        d = (xs - x.zero_point) * x.scale
        z = (d - d.mean(1, keepdims=True)) / np.sqrt(d.var(1, keepdims=True) + eps)
        want = z * gamma + beta
        err = np.abs((got - out.zero_point) * out.scale - want)
        inside = np.abs(want / out.scale + out.zero_point) < 127
        assert np.all(err[inside] <= 0.51 * out.scale), (eps, float(err[inside].max()))
        assert np.array_equal(got[0], np.clip(np.round(beta / out.scale) + out.zero_point,
                                              -128, 127))


def test_layer_norm_s8_refuses_what_it_cannot_hold():
    x, out = quant.QParams(0.05, 0), quant.QParams(0.03, 0)
    with pytest.raises(RnngenError, match="blocks of 40000 values"):
        quant.quantize_layer_norm(np.ones(40000), np.zeros(40000), 1e-5, x, out, "ln")
    with pytest.raises(RnngenError, match="epsilon"):
        quant.quantize_layer_norm(np.ones(8), np.zeros(8), 1e15, x, out, "ln")
    with pytest.raises(RnngenError, match="overflows"):
        quant.quantize_layer_norm(np.full(8, 1e8), np.zeros(8), 1e-5, x, out, "ln")
def test_attention_pool_is_within_half_a_step_of_the_float_softmax():
    """quant.QAttentionPool (the integer online softmax) against the float64 two-pass
    softmax pooling of the same int8 scores and values: within 0.5 of the output's last bit
    plus the Q16 table's rounding (0.51), on sequences of 1 to 60 steps whose maximum grows,
    falls or jumps (docs/int8.md states the figure)."""
    rng = np.random.default_rng(0)
    worst = 0.0
    for _ in range(300):
        n, inner = int(rng.integers(1, 60)), 8
        ss, sv = float(rng.uniform(0.002, 0.2)), float(rng.uniform(0.002, 0.05))
        s = rng.integers(-128, 128, (n, 1, 1))
        v = rng.integers(-128, 128, (n, 1, inner))
        zs, zv = int(rng.integers(-20, 20)), int(rng.integers(-20, 20))
        out = quant.choose_qparams((-128 - zv) * sv, (127 - zv) * sv, "out")
        m, sh = quant.multiplier(sv / out.scale / 65536, "att")
        q = quant.QAttentionPool(quant.exp_table(ss), quant.QParams(ss, zs),
                                 quant.QParams(sv, zv), out, m, sh)
        _, l, _, a = q.steps(None, np.broadcast_to(s, v.shape), v)
        y = q.finish(l, a)
        sf, vf = (s - zs) * ss, (v - zv) * sv
        w = np.exp(sf - sf.max(0))
        want = (w / w.sum(0) * vf).sum(0)
        worst = max(worst, float(np.abs((y - out.zero_point) * out.scale - want).max()
                                 / out.scale))
    assert 0.4 < worst < 0.51, worst
