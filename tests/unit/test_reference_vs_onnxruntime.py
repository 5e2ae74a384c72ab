"""rnngen's NumPy reference (the golden model) against onnxruntime on seeded random models:
every cell, direction and ONNX attribute (clip, peepholes, input_forget, initial states,
linear_before_reset, activations with alpha/beta, sequence_lens, layout)."""

from __future__ import annotations

import numpy as np
import onnx
import pytest

from rnngen import reference
from rnngen.frontends import load
from tests import models

SEEDS = list(range(120))


def _check(spec: models.Spec, tmp_path, seed: int, atol: float = 2e-5, rtol: float = 1e-4):
    m = models.make_model(spec, seed)
    p = tmp_path / "m.onnx"
    onnx.save(m, p)
    g = load(p)
    x = np.random.default_rng(seed + 1).uniform(-1, 1, g.shapes[g.input]).astype(np.float32)
    want, who = models.oracle(m, x)
    got = reference.run(g, x)
    for name, w in want.items():
        np.testing.assert_allclose(got[name], w, atol=atol, rtol=rtol,
                                   err_msg=f"{spec.label()} output {name} vs {who}")


@pytest.mark.parametrize("seed", SEEDS)
def test_random_model(seed, tmp_path):
    rng = np.random.default_rng(seed)
    spec = models.random_spec(rng, max_params=150_000, big=seed % 4 == 0)
    _check(spec, tmp_path, seed)


@pytest.mark.parametrize("cell", ["LSTM", "GRU", "RNN"])
def test_layout_1_against_onnx_reference(cell, tmp_path):
    spec = models.Spec(cell, "forward", 5, 7, 4, 1, layout=1)
    _check(spec, tmp_path, 3)


@pytest.mark.parametrize("act", models.ACTS)
def test_each_activation_with_alpha_beta(act, tmp_path):
    spec = models.Spec("RNN", "bidirectional", 4, 6, 5, 1, activations=[act, "Tanh"],
                       alphas=[0.7, 0.4], betas=[0.3, 0.2])
    _check(spec, tmp_path, 11)
