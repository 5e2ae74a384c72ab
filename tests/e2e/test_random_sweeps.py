"""Seeded sweeps of random models through the generated C, against onnxruntime (or onnx's
ReferenceEvaluator where onnxruntime refuses): cell, direction, input 1..300, hidden 1..300,
seq 1..100, layers 1..3, with ONNX attributes drawn at random."""

from __future__ import annotations

import numpy as np
import onnx
import pytest

from rnngen import driver
from tests import models

SEEDS = list(range(100, 116))


def _specs():
    out = []
    for seed in SEEDS:
        rng = np.random.default_rng(seed)
        out.append((seed, models.random_spec(rng, max_params=300_000)))
    return out


SPECS = _specs() + [
    # the corners of the space, seeded like the others
    (200, models.Spec("LSTM", "bidirectional", 77, 179, 81, 1)),  # HAR1-sized BiLSTM
    (201, models.Spec("GRU", "forward", 300, 300, 100, 1, lbr=1)),
    (202, models.Spec("RNN", "reverse", 300, 300, 100, 3, clip=2.0)),
    (203, models.Spec("LSTM", "forward", 1, 1, 1, 1)),
]


def test_sweep_covers_the_space():
    specs = [s for _, s in SPECS]
    assert {s.cell for s in specs} == {"LSTM", "GRU", "RNN"}
    assert {s.direction for s in specs} == {"forward", "reverse", "bidirectional"}
    assert {s.layers for s in specs} == {1, 2, 3}
    assert max(s.hidden for s in specs) > 100 and max(s.input_size for s in specs) > 100
    assert max(s.seq for s in specs) > 40


@pytest.mark.parametrize("seed,spec", SPECS, ids=[s.label() for _, s in SPECS])
def test_random_model_c_matches_oracle(seed, spec, tmp_path):
    m = models.make_model(spec, seed)
    p = tmp_path / "m.onnx"
    onnx.save(m, p)
    shape = [spec.seq, 1, spec.input_size]
    x = np.random.default_rng(seed + 1).uniform(-1, 1, shape).astype(np.float32)
    want, who = models.oracle(m, x)
    np.save(tmp_path / "x.npy", x)
    np.savez(tmp_path / "want.npz", **want)
    res = driver.verify(p, driver.BuildOptions(input=str(tmp_path / "x.npy"),
                                               expect=str(tmp_path / "want.npz"),
                                               atol=1e-5, rtol=1e-4))
    assert res.passed, f"{spec.label()} vs {who}: {res.report}"
