"""The SRU without a compiler: the .npz reader's checks, the PyTorch mirror (compress
--finetune's engine) against the reference, the integer step against the float step, and
`rnngen compress` of an SRU layer."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest
import rnngen.npz as rn
import torch
from rnngen import frontends, pipeline, reference
from rnngen.errors import RnngenError
from rnngen.torch.graph import TorchGraph

F32 = np.float32
T = 6


def _r(rng: np.random.Generator, *s: int) -> np.ndarray:
    return (rng.standard_normal(s) * 0.4).astype(F32)


def _save(path, I, H, direction="forward", seed=0, W=None):
    rng = np.random.default_rng(seed)
    D = 2 if direction == "bidirectional" else 1
    rows = 3 * H if I == H else 4 * H
    per = [W if W is not None else _r(rng, rows, I) for _ in range(D)]
    vec = [[_r(rng, H) for _ in range(D)] for _ in range(5)]
    pick = (lambda v: v) if D == 2 else (lambda v: v[0])
    layer = rn.sru(pick(per), pick(vec[0]), pick(vec[1]), pick(vec[2]), pick(vec[3]),
                   c0=pick(vec[4]), direction=direction, input_size=I, hidden_size=H)
    return rn.save(path, [layer, rn.dense(_r(rng, 3, D * H))], input_size=I, seq_len=T)


@pytest.mark.parametrize("I,H,direction", [(6, 6, "bidirectional"), (4, 7, "forward"),
                                           (4, 7, "reverse")])
def test_torch_mirror_equals_reference(tmp_path, I, H, direction):
    g = pipeline.compile_model(_save(tmp_path / "m.npz", I, H, direction), pipeline.Options())
    xs = np.random.default_rng(1).uniform(-1, 1, (3, T, 1, I)).astype(F32)
    out = TorchGraph(g)(torch.from_numpy(xs))["output"].detach().numpy()
    for j, x in enumerate(xs):
        np.testing.assert_allclose(out[j], reference.run(g, x)["output"], atol=2e-5)


def test_integer_model_is_close_to_the_float_model(tmp_path):
    p = _save(tmp_path / "m.npz", 5, 8)
    x = np.random.default_rng(2).uniform(-1, 1, (T, 1, 5)).astype(F32)
    np.save(tmp_path / "x.npy", x)
    g = pipeline.compile_model(p, pipeline.Options(dtype="int8",
                                                   calibrate=str(tmp_path / "x.npy")))
    yf = reference.run(g, x)["output"]
    yq = reference.Executor(g, dtype="int8").run(x)["output"]
    span = float(yf.max() - yf.min())
    assert np.max(np.abs(yf - yq)) < 0.03 * span, (np.max(np.abs(yf - yq)), span)


def _layer_json(p):
    with np.load(p) as z:
        return json.loads(str(z["__rnngen__"]))["layers"][0], {k: z[k] for k in z.files}


def _rewrite(p, out, edit):
    with np.load(p) as z:
        arrays = {k: z[k] for k in z.files}
    m = json.loads(str(arrays.pop("__rnngen__")))
    edit(m["layers"][0], arrays)
    np.savez(out, __rnngen__=np.array(json.dumps(m)), **arrays)
    return out


@pytest.mark.parametrize("edit,message", [
    (lambda lay, a: a.update({"layer0.W": a["layer0.W"][:21]}),
     ("directions[0].W.w: array 'layer0.W' has shape (21, 4), expected (28, 4) = "
      "[4*hidden_size, input_size] (W; W_f; W_r; W_p: input_size != hidden_size)")),
    (lambda lay, a: lay["directions"][0].pop("v_f"), "directions[0]: missing field 'v_f'"),
    (lambda lay, a: lay["directions"][0].update(R=lay["directions"][0]["W"]),
     "directions[0]: unknown field 'R'"),
    (lambda lay, a: lay["directions"][0].update(h0="layer0.v_r"),
     "directions[0]: unknown field 'h0'"),
    (lambda lay, a: a.update({"layer0.v_r": a["layer0.v_r"][:3]}),
     "directions[0].v_r: array 'layer0.v_r' has shape (3,), expected (7,) = [hidden_size]"),
])
def test_bad_sru_layers_are_one_line_errors(tmp_path, edit, message):
    p = _rewrite(_save(tmp_path / "m.npz", 4, 7), tmp_path / "bad.npz", edit)
    with pytest.raises(RnngenError) as e:
        frontends.load(p, None)
    assert f"layer 0 (sru) {message}" in str(e.value)
    r = subprocess.run([sys.executable, "-m", "rnngen.cli", "inspect", str(p)],
                       capture_output=True, text=True, timeout=60, check=False)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and message in r.stderr


@pytest.mark.parametrize("method", ["hmd", "lmf"])
def test_compress_fits_the_stacked_input_matrix(tmp_path, method):
    """Each H-row block of W (the projection W_p included) is fitted; there is no R."""
    p = _save(tmp_path / "m.npz", 8, 12)
    out = tmp_path / "c.npz"
    r = subprocess.run([sys.executable, "-m", "rnngen.cli", "compress", str(p), "-m", method,
                        "-f", "2", "--nearest", "-o", str(out), "--json"], capture_output=True,
                       text=True, timeout=120, check=False)
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    assert [(m["role"], m["gates"], m["shape"]) for m in rep["matrices"]] == [("W", 4, [48, 8])]
    lay, _ = _layer_json(out)
    ent = lay["directions"][0]
    assert set(ent) == {"W", "v_f", "v_r", "b_f", "b_r", "c0"}
    assert ent["W"]["format"] == "stack" and len(ent["W"]["blocks"]) == 4
    g = frontends.load(out, None)
    cd = g.nodes[0].directions[0]
    fmt = {"hmd": "hmd", "lmf": "lowrank"}[method]
    assert [b.fmt for b in cd.W.blocks] == [fmt] * 4 and cd.R.shape == (0, 12)
    # the compressed file reads back as the original model with W replaced by the fit
    x = np.random.default_rng(3).uniform(-1, 1, (T, 1, 8)).astype(F32)
    src = frontends.load(p, None)
    n0 = src.nodes[0]
    swapped = replace(n0, directions=(replace(n0.directions[0], W=cd.W),))
    want = reference.run(src.replace(nodes=(swapped,) + src.nodes[1:]), x)["output"]
    np.testing.assert_allclose(reference.run(g, x)["output"], want, atol=1e-6, rtol=0)
