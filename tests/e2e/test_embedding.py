"""Language models with an embedding (issue 11): integer token ids in, `nn.Embedding` ->
LSTM -> Linear, exported by both PyTorch exporters (a Gather of the table by the run-time ids)
and checked the way a user does it: `rnngen verify model.onnx --input ids.npy --expect
y.npy` against PyTorch's own outputs (atol 1e-4, rtol 1e-3), on the host, cortex-a73 and
cortex-m4; int8 bit-exact against the integer reference; ids out of range wrapped/clamped as
docs/limits.md states (the reference checked against onnxruntime on the ids it reads); the
PTB network's size (vocabulary 10,000, 2 LSTM layers of 200)."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings

import numpy as np
import onnxruntime as ort
import pytest
import torch

from rnngen import driver, ir, pipeline, reference

V = 50


class LM(torch.nn.Module):
    def __init__(self, vocab=V, dim=16, hidden=32, layers=2):
        super().__init__()
        self.emb = torch.nn.Embedding(vocab, dim)
        self.lstm = torch.nn.LSTM(dim, hidden, num_layers=layers, batch_first=True)
        self.fc = torch.nn.Linear(hidden, vocab)

    def forward(self, ids):
        y, _ = self.lstm(self.emb(ids))
        return self.fc(y)


def _export(folder, dynamo, vocab=V, dim=16, hidden=32, steps=10):
    torch.manual_seed(3)
    net = LM(vocab, dim, hidden).eval()
    ids = torch.randint(0, vocab, (1, steps))
    path = folder / "lm.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net, (ids,), str(path), dynamo=dynamo, input_names=["ids"],
                          output_names=["y"])
    with torch.no_grad():
        np.save(folder / "y.npy", net(ids).numpy())
    np.save(folder / "ids.npy", ids.numpy())
    return path


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    cache = {}

    def get(dynamo):
        if dynamo not in cache:
            folder = tmp_path_factory.mktemp("lm_dynamo" if dynamo else "lm_ts")
            cache[dynamo] = (_export(folder, dynamo), folder)
        return cache[dynamo]
    return get


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "rnngen.cli", *map(str, args)],
                          capture_output=True, text=True)


def _verify_cli(path, *args):
    r = _cli("verify", path, "--json", *args)
    assert r.returncode == 0, r.stdout + r.stderr
    rep = json.loads(r.stdout)
    assert rep["passed"] and rep["mismatches"] == 0 and rep["stream_errors"] == 0, rep
    return rep


@pytest.mark.parametrize("dynamo", [False, True], ids=["torchscript", "dynamo"])
def test_embedding_lm_matches_pytorch_on_host(exported, dynamo):
    path, folder = exported(dynamo)
    res = driver.verify(path, driver.BuildOptions(
        input=str(folder / "ids.npy"), expect=str(folder / "y.npy"), atol=1e-4, rtol=1e-3))
    assert res.passed, res.output
    assert res.report["reference"] == "expected" and res.report["streaming"], res.report
    info = driver.inspect(path)
    assert info["input"] == {"name": "ids", "shape": [1, 10], "type": "int32 token ids"}
    emb = [lay for lay in info["layers"] if lay["op"] == "Embedding"]
    assert len(emb) == 1 and emb[0]["vocabulary"] == V and emb[0]["dim"] == 16
    assert emb[0]["params"] == V * 16


def test_embedding_c_api_takes_int32_ids(exported, tmp_path):
    path, folder = exported(False)
    out = tmp_path / "lm"
    r = _cli("build", path, "-o", out, "--dtype", "int8")
    assert r.returncode == 0, r.stderr
    h = (out / "include" / "lm.h").read_text()
    assert "typedef int32_t lm_in_t;" in h
    assert "void lm_step(lm_state_t *s, const int32_t *x, float *y);" in h
    man = json.loads((out / "manifest.json").read_text())
    assert man["quantization"]["input"] == {"dtype": "int32"}


@pytest.mark.qemu
@pytest.mark.parametrize("dynamo,board", [(True, "cortex-a73"), (False, "cortex-m4")],
                         ids=["dynamo-cortex-a73", "torchscript-cortex-m4"])
def test_embedding_lm_matches_pytorch_on_boards(exported, dynamo, board):
    path, folder = exported(dynamo)
    rep = _verify_cli(path, "--target", board, "--input", folder / "ids.npy", "--expect",
                      folder / "y.npy", "--atol", "1e-4", "--rtol", "1e-3")
    assert rep["reference"] == "expected" and rep["streaming"], rep


@pytest.mark.qemu
@pytest.mark.parametrize("board,io", [("cortex-a73", "float"), ("cortex-m4", "int8")])
def test_int8_embedding_lm_is_bit_exact_on_boards(exported, board, io):
    """The int8 table is the embedding output's own scale and zero point (rows copied as
    they are): the C equals the integer reference exactly, float and int8 I/O."""
    path, folder = exported(False)
    rep = _verify_cli(path, "--target", board, "--dtype", "int8", "--io", io, "--input",
                      folder / "ids.npy")
    assert rep["atol"] == 0 and rep["max_abs_err"] == 0, rep
    assert rep["int8_vs_float_max_abs_err"] < 0.05, rep


def _ids_read(ids, rows):
    """The rows docs/limits.md says are read: [-rows, -1] counts from the end (ONNX), the
    rest is clamped to [0, rows - 1]."""
    v = np.where(ids < 0, ids + rows, ids)
    return np.clip(v, 0, rows - 1)


@pytest.mark.qemu
def test_out_of_range_ids_are_wrapped_then_clamped(exported, tmp_path):
    path, folder = exported(False)
    ids = np.load(folder / "ids.npy")
    ids[0, :5] = [-1, -V, V + 20, -(V + 7), 10 ** 6]
    np.save(tmp_path / "oob.npy", ids)
    # the reference on those ids equals onnxruntime on the ids it reads (the oracle)
    g = pipeline.compile_model(path, pipeline.Options())
    assert g.input_ids and any(isinstance(n, ir.Embedding) for n in g.nodes)
    ours = reference.Executor(g).run(ids.astype(np.float32))["y"]
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    fixed = _ids_read(ids, V).astype(np.int64)
    assert fixed[0, :5].tolist() == [V - 1, 0, V - 1, 0, V - 1]
    theirs = sess.run(None, {"ids": fixed})[0]
    np.testing.assert_allclose(ours, theirs, atol=1e-5, rtol=1e-4)
    # and the C reads the same rows: float on the host, int8 on cortex-m4 under QEMU
    res = driver.verify(path, driver.BuildOptions(input=str(tmp_path / "oob.npy")))
    assert res.passed, res.output
    _verify_cli(path, "--target", "cortex-m4", "--dtype", "int8", "--input",
                tmp_path / "oob.npy")


def test_bad_token_ids_are_one_line_exit_2(exported, tmp_path):
    path, _ = exported(False)
    np.save(tmp_path / "frac.npy", np.full((1, 10), 2.5, np.float32))
    np.save(tmp_path / "calib.npy", np.random.default_rng(0).uniform(0, 1, (4, 1, 10)))
    for args, words in (
            (("--input", tmp_path / "frac.npy"), ("frac.npy", "token ids", "not integers")),
            (("--dtype", "int8", "--calibrate", tmp_path / "calib.npy"),
             ("calib.npy", "token ids: expected integers"))):
        out = tmp_path / "out"
        r = _cli("build", path, "-o", out, *args)
        assert r.returncode == 2, r.stdout + r.stderr
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
        for w in words:
            assert w in lines[0], lines[0]
        assert not out.exists()


@pytest.mark.qemu
def test_ptb_size_language_model(tmp_path):
    """The PTB network of the HMD paper: Embedding(10000, 200) -> 2 x LSTM 200 -> Linear
    10000, against PyTorch on cortex-a73 (the host runs the same C: the small models above);
    int8 for cortex-m4 is refused with its flash named (a 2 MB int8 table and a 2 MB output
    layer: 4.8 MB > the board's 1 MB)."""
    path = _export(tmp_path, False, vocab=10000, dim=200, hidden=200, steps=8)
    rep = _verify_cli(path, "--target", "cortex-a73", "--input", tmp_path / "ids.npy",
                      "--expect", tmp_path / "y.npy", "--atol", "1e-4", "--rtol", "1e-3")
    assert rep["reference"] == "expected" and rep["streaming"], rep
    assert rep["flash_bytes"] > 4 * (10000 * 200 * 2), rep  # both tables in flash
    r = _cli("build", path, "--target", "cortex-m4", "--dtype", "int8", "-o", tmp_path / "m4")
    assert r.returncode == 2, r.stderr
    line = r.stderr.strip().splitlines()[-1]
    assert "does not fit cortex-m4" in line and "flash" in line and "> budget 1048576" in line
    flash = int(line.split("flash ")[1].split(" bytes")[0])
    # int8: the two 2,000,000-byte tables plus the LSTMs' int8 weights and the rest
    assert 4_000_000 + 2 * 4 * 200 * 400 < flash < 5_000_000, line
