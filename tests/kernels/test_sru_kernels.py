"""The SRU cell kernels on their own: rnn_sru_cell_s16 against cells/sru.step_s8 bit for bit
over extreme integer inputs (saturating gates, the whole int16 cell state, every cell_exp
regime, both highway paths), and rnn_sru_cell_f32 against the float step."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from rnngen import cgen, ir, quant
from rnngen.cells import sru

from tests.kernels.harness import run_c as run_c_f32
from tests.kernels.test_int8_kernels import run_c

H = 16


def _decl(ctype: str, name: str, v: np.ndarray) -> str:
    return cgen.array_declare(ctype, name, np.asarray(v).reshape(-1), static=True, const=False)


def _q(rng: np.random.Generator, k: int, zx: int, zh: int) -> tuple:
    x_scale = float(rng.uniform(0.002, 0.05))
    h_scale = float(rng.uniform(0.004, 0.03))
    om, os_ = quant.multiplier(2.0 ** -15 / h_scale, "out")
    pm, ps = quant.multiplier(float(rng.uniform(1e-5, 1e-3)) * 2.0 ** (12 - k), "peep")
    q = SimpleNamespace(cell="SRU", hidden=H, cell_exp=k, x=quant.QParams(x_scale, zx),
                        h=quant.QParams(h_scale, zh), out_mult=om, out_shift=os_)
    sig = quant.lut_table(quant.act_fn("Sigmoid", 0.0, 0.0))
    qd = SimpleNamespace(
        bias=rng.integers(-20000, 20000, 4 * H).astype(np.int16),
        peephole=rng.integers(-32767, 32768, 2 * H).astype(np.int16), pm=pm, ps=ps,
        luts=(sig,))
    return q, qd


@pytest.mark.parametrize("k", [0, 5, 12, 15])
@pytest.mark.parametrize("proj", [False, True])
def test_sru_s16_kernel_equals_step_s8(tmp_path, k, proj):
    rng = np.random.default_rng(k * 2 + proj)
    zx, zh = -17, 9
    q, qd = _q(rng, k, zx, zh)
    rows = (4 if proj else 3) * H
    # extremes included: saturated gate sums, the int16 and int8 limits
    gx = rng.integers(-32768, 32768, rows)
    gx[:4] = [32767, -32768, 32767, -32768]
    c = rng.integers(-32768, 32768, H)
    c[:2] = [32767, -32768]
    x = rng.integers(-128, 128, H)
    x[:2] = [127, -128]
    h = rng.integers(-128, 128, H)
    want_h, want_c = sru.step_s8(q, qd, x, gx, h, c)
    xm, xs = sru.x15(q)
    decls = "\n".join([
        _decl("int16_t", "gx", gx), _decl("int16_t", "c", c), _decl("int8_t", "x", x),
        _decl("int8_t", "h", h), _decl("int16_t", "bias", qd.bias),
        _decl("int16_t", "vv", qd.peephole), _decl("int16_t", "lut", qd.luts[0]),
        "static const rnn_sru_params_s16 p = " + cgen.c_struct([
            ("hidden", H), ("cell_exp", k), ("bias", "bias"), ("v", "vv"),
            ("v_mult", cgen.c_int(qd.pm)), ("v_shift", cgen.c_int(qd.ps)),
            ("lut0", "lut"), ("h_zero_point", zh), ("out_mult", cgen.c_int(q.out_mult)),
            ("out_shift", cgen.c_int(q.out_shift)), ("projection", int(proj)),
            ("x_zero_point", zx), ("x15_mult", cgen.c_int(xm)),
            ("x15_shift", cgen.c_int(xs))]) + ";"])
    body = ("int i;\nrnn_sru_cell_s16(&p, gx, x, c, h);\n"
            f"for (i = 0; i < {H}; ++i) {{ printf(\"%d \", h[i]); }}\nprintf(\"\\n\");\n"
            f"for (i = 0; i < {H}; ++i) {{ printf(\"%d \", c[i]); }}\nprintf(\"\\n\");")
    got_h, got_c = run_c(tmp_path, {"rnn_sru_cell_s16"}, body, decls)
    np.testing.assert_array_equal(got_c, want_c)
    np.testing.assert_array_equal(got_h, want_h)


@pytest.mark.parametrize("proj", [False, True])
def test_sru_f32_kernel_matches_float_step(tmp_path, proj):
    rng = np.random.default_rng(3)
    rows = (4 if proj else 3) * H
    g = (rng.standard_normal(rows) * 2).astype(np.float32)
    c = rng.standard_normal(H).astype(np.float32)
    x = rng.standard_normal(H).astype(np.float32)
    v = rng.standard_normal(2 * H).astype(np.float32)
    n = SimpleNamespace(hidden=H)
    cd = SimpleNamespace(p=v, activations=(ir.SIGMOID,))
    want_h, want_c = sru.step_f32(n, cd, x, g, np.zeros(H, np.float32), c)
    act = "{.kind = RNN_ACT_SIGMOID, .alpha = 0.0f, .beta = 0.0f}"
    decls = "\n".join([
        _decl("float", "g", g), _decl("float", "c", c), _decl("float", "x", x),
        _decl("float", "v", v), f"static float h[{H}];",
        "static const rnn_sru_params_f32 p = " + cgen.c_struct([
            ("hidden", H), ("projection", int(proj)), ("v", "v"), ("gate", act)]) + ";"])
    body = f"rnn_sru_cell_f32(&p, g, x, c, h);\nP(h, {H});\nP(c, {H});"
    got_h, got_c = run_c_f32(tmp_path, {"rnn_sru_cell_f32"}, body, decls)
    np.testing.assert_allclose(got_c, want_c, atol=1e-6, rtol=0)
    np.testing.assert_allclose(got_h, want_h, atol=1e-6, rtol=0)
