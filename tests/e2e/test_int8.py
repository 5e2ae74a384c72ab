"""--dtype int8 end to end: the C equals the integer reference exactly on every board, for
every cell kind and the PyTorch-exported models; int8 I/O; the bundled classifier keeps its
accuracy; the HAR1-sized BiLSTM fits the Cortex-M4 only in int8; calibration errors."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import onnx
import pytest

from rnngen import driver, pipeline, reference
from tests import models

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "lstm_classifier"
BOARDS = ["host", "cortex-a73", "cortex-a53", "cortex-m4", "cortex-m7", "cortex-m55"]

SPECS = {
    "lstm_2layer_stream_h0": models.Spec("LSTM", "forward", 6, 12, 9, 2, initial_state=True),
    "lstm_bi_peep_clip": models.Spec("LSTM", "bidirectional", 5, 9, 7, 1, peepholes=True,
                                     clip=1.5, input_forget=False),
    "lstm_ifg_len": models.Spec("LSTM", "reverse", 4, 7, 8, 1, input_forget=True, seq_lens=5),
    "gru_lbr0": models.Spec("GRU", "forward", 6, 10, 8, 1, lbr=0),
    "gru_bi_lbr1": models.Spec("GRU", "bidirectional", 6, 10, 8, 2, lbr=1),
    "rnn_2layer": models.Spec("RNN", "forward", 5, 8, 9, 2, activations=["Tanh"],
                              alphas=[0.0], betas=[0.0]),
}


def _model(tmp_path, key):
    p = tmp_path / f"{key}.onnx"
    onnx.save(models.make_model(SPECS[key], 5), p)
    return p


@pytest.mark.parametrize("key", list(SPECS))
def test_every_cell_exact_on_host(tmp_path, key):
    res = driver.verify(_model(tmp_path, key), driver.BuildOptions(dtype="int8"))
    r = res.report
    assert res.passed and r["mismatches"] == 0 and r["max_abs_err"] == 0.0, res.output
    assert r["atol"] == 0.0 and r["rtol"] == 0.0 and r["dtype"] == "int8"
    assert 0 < r["int8_vs_float_max_abs_err"] < 0.1


@pytest.mark.qemu
@pytest.mark.parametrize("board", BOARDS[1:])
@pytest.mark.parametrize("key", ["lstm_2layer_stream_h0", "gru_bi_lbr1", "lstm_bi_peep_clip"])
def test_exact_on_boards(tmp_path, key, board):
    res = driver.verify(_model(tmp_path, key), driver.BuildOptions(dtype="int8", target=board))
    assert res.passed and res.report["mismatches"] == 0, res.output


def test_int8_io(tmp_path):
    p = _model(tmp_path, "gru_lbr0")
    out = tmp_path / "proj"
    driver.build(p, out, driver.BuildOptions(dtype="int8", io="int8", name="m"))
    h = (out / "include" / "m.h").read_text()
    assert "const int8_t *x" in h and "int8_t *y" in h
    res = driver.verify(p, driver.BuildOptions(dtype="int8", io="int8"))
    assert res.passed and res.report["mismatches"] == 0


def _torch_model(tmp_path, cell):
    import torch
    torch.manual_seed(3)
    cls = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell]

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = cls(10, 16, batch_first=True)
            self.fc = torch.nn.Linear(16, 5)

        def forward(self, x):
            y, _ = self.rnn(x)
            return torch.softmax(self.fc(y), dim=-1)

    net = Net().eval()
    x = torch.randn(1, 12, 10)
    p = tmp_path / f"{cell}.onnx"
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net, (x,), str(p), dynamo=False, input_names=["x"],
                          output_names=["y"])
    with torch.no_grad():
        np.save(tmp_path / "x.npy", x.numpy())
        np.save(tmp_path / "y.npy", net(x).numpy())
    return p


@pytest.fixture(scope="module")
def torch_models(tmp_path_factory):
    """Each PyTorch model exported once for all boards."""
    cache = {}

    def get(cell):
        if cell not in cache:
            folder = tmp_path_factory.mktemp(f"torch_{cell}")
            cache[cell] = (_torch_model(folder, cell), folder)
        return cache[cell]
    return get


@pytest.mark.parametrize("board", [pytest.param(b, marks=[] if b == "host" else
                                                [pytest.mark.qemu]) for b in BOARDS])
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_pytorch_export_int8(torch_models, cell, board):
    p, tmp_path = torch_models(cell)
    res = driver.verify(p, driver.BuildOptions(dtype="int8", target=board,
                                               input=str(tmp_path / "x.npy")))
    assert res.passed and res.report["mismatches"] == 0, res.output
    # and against PyTorch itself, within int8 accuracy (softmax outputs are in [0, 1])
    r = subprocess.run([sys.executable, "-m", "rnngen.cli", "verify", str(p), "--dtype", "int8",
                        "--target", board, "--input", str(tmp_path / "x.npy"), "--expect",
                        str(tmp_path / "y.npy"), "--atol", "0.03", "--rtol", "0", "--json"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert json.loads(r.stdout)["max_abs_err"] < 0.03


def test_digit_classifier_accuracy_within_one_point(tmp_path):
    sys.path.insert(0, str(EXAMPLE))
    try:
        from make_model import data
    finally:
        sys.path.pop(0)
    xtr, _, xte, yte = data()
    np.save(tmp_path / "calib.npy", xtr[:64].reshape(64, 8, 1, 8))
    g = pipeline.compile_model(EXAMPLE / "model.onnx", pipeline.Options(
        dtype="int8", calibrate=str(tmp_path / "calib.npy")))
    o = g.outputs[0]
    acc_f = np.mean([np.argmax(reference.run(g, x.reshape(8, 1, 8))[o]) == y
                     for x, y in zip(xte, yte)])
    acc_q = np.mean([np.argmax(reference.Executor(g, dtype="int8").run(
                        x.reshape(8, 1, 8))[o]) == y
                     for x, y in zip(xte, yte)])
    assert acc_f > 0.95
    assert abs(acc_f - acc_q) <= 0.01, (acc_f, acc_q)
    # the C computes exactly the integer reference (one digit, on the M4)
    np.save(tmp_path / "x.npy", xte[5].reshape(8, 1, 8))
    res = driver.verify(EXAMPLE / "model.onnx", driver.BuildOptions(
        dtype="int8", calibrate=str(tmp_path / "calib.npy"), input=str(tmp_path / "x.npy"),
        target="cortex-m4"))
    assert res.passed and res.report["mismatches"] == 0


@pytest.mark.qemu
def test_har1_fits_cortex_m4_only_in_int8(tmp_path):
    spec = models.Spec("LSTM", "bidirectional", 77, 179, 81, 1)
    p = tmp_path / "har1.onnx"
    onnx.save(models.make_model(spec, 1), p)
    r = subprocess.run([sys.executable, "-m", "rnngen.cli", "build", str(p), "--target",
                        "cortex-m4", "-o", str(tmp_path / "f")], capture_output=True, text=True)
    assert r.returncode == 2 and "does not fit cortex-m4" in r.stderr and "flash" in r.stderr
    res = driver.verify(p, driver.BuildOptions(dtype="int8", target="cortex-m4"))
    assert res.passed and res.report["mismatches"] == 0
    assert res.report["flash_bytes"] < 1024 * 1024 and res.report["ram_bytes"] < 192 * 1024


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "rnngen.cli", *args], capture_output=True,
                          text=True)


def test_calibration_errors_and_warning(tmp_path):
    p = _model(tmp_path, "gru_lbr0")
    out = str(tmp_path / "o")
    cases = {
        "shape.npy": (np.zeros((4, 3), np.float32) + np.arange(3), "shape"),
        "ints.npy": (np.ones((8, 1, 6), np.int32), "type int32"),
        "empty.npy": (np.zeros((0, 8, 1, 6), np.float32), "empty"),
        "const.npy": (np.full((2, 8, 1, 6), 0.5, np.float32), "constant"),
    }
    for fname, (arr, needle) in cases.items():
        np.save(tmp_path / fname, arr)
        r = _cli("build", str(p), "-o", out, "--dtype", "int8", "--calibrate",
                 str(tmp_path / fname))
        assert r.returncode == 2 and needle in r.stderr and fname in r.stderr, r.stderr
        assert len(r.stderr.strip().splitlines()) == 1 and not Path(out).exists()
    r = _cli("build", str(p), "-o", out, "--dtype", "int8")
    assert r.returncode == 0 and "warning: no --calibrate data" in r.stderr
    np.save(tmp_path / "good.npy", np.random.default_rng(0).uniform(-1, 1, (5, 8, 1, 6))
            .astype(np.float32))
    r = _cli("build", str(p), "-o", out, "--force", "--dtype", "int8", "--calibrate",
             str(tmp_path / "good.npy"))
    assert r.returncode == 0 and "warning" not in r.stderr


def test_unsupported_in_int8_is_named(tmp_path):
    spec = models.Spec("RNN", "forward", 4, 6, 5, 1, activations=["LeakyRelu"], alphas=[0.1],
                       betas=[0.0])
    p = tmp_path / "lrelu.onnx"
    onnx.save(models.make_model(spec, 1), p)
    r = _cli("build", str(p), "-o", str(tmp_path / "o"), "--dtype", "int8")
    assert r.returncode == 2 and "LeakyRelu" in r.stderr and "[-1, 1]" in r.stderr


@pytest.fixture(scope="module")
def relu_rnn(tmp_path_factory):
    """PyTorch nn.RNN(nonlinearity="relu") + Linear, exported once: model, x, PyTorch's y,
    calibration sequences."""
    import torch

    folder = tmp_path_factory.mktemp("relu_rnn")
    torch.manual_seed(1)

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = torch.nn.RNN(6, 24, nonlinearity="relu", batch_first=True)
            self.fc = torch.nn.Linear(24, 3)

        def forward(self, x):
            y, _ = self.rnn(x)
            return self.fc(y)

    net = Net().eval()
    x = torch.randn(1, 20, 6)
    p = folder / "relu_rnn.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net, (x,), str(p), dynamo=False, input_names=["x"],
                          output_names=["y"])
    np.save(folder / "x.npy", x.numpy())
    with torch.no_grad():
        np.save(folder / "y.npy", net(x).numpy())
    np.save(folder / "cal.npy", torch.randn(16, 1, 20, 6).numpy())
    return p, folder


@pytest.mark.parametrize("board", [pytest.param(b, marks=[] if b == "host" else
                                                [pytest.mark.qemu])
                                   for b in ("host", "cortex-a73", "cortex-m4")])
def test_relu_rnn_int8(relu_rnn, board):
    """A ReLU RNN (unbounded activation) builds in int8 with a calibrated pre-activation
    scale: the C equals the integer reference exactly, and PyTorch's float outputs within
    2% of their range."""
    p, folder = relu_rnn
    common = ["--dtype", "int8", "--calibrate", str(folder / "cal.npy"), "--target", board,
              "--input", str(folder / "x.npy"), "--json"]
    r = _cli("verify", str(p), *common)
    assert r.returncode == 0, r.stdout + r.stderr
    assert json.loads(r.stdout)["mismatches"] == 0
    y = np.load(folder / "y.npy")
    tol = 0.02 * float(y.max() - y.min())
    r = _cli("verify", str(p), *common, "--expect", str(folder / "y.npy"), "--atol", str(tol),
             "--rtol", "0")
    assert r.returncode == 0, r.stdout + r.stderr
    assert json.loads(r.stdout)["max_abs_err"] < tol


def test_inspect_int8_shows_scales_and_errors(tmp_path):
    p = _model(tmp_path, "lstm_2layer_stream_h0")
    r = _cli("inspect", str(p), "--dtype", "int8", "--json")
    assert r.returncode == 0, r.stderr
    q = json.loads(r.stdout)["int8"]
    by_name = {t["tensor"]: t for t in q["tensors"]}
    assert by_name["x"]["dtype"] == "int8" and by_name["x"]["scale"] > 0
    assert by_name["l1_Yc"]["dtype"] == "int16"
    errs = [lay["max_abs_err"] for lay in q["layers"]]
    assert len(errs) == 2 and all(0 < e < 0.1 for e in errs)
    m = json.loads((driver.build(p, tmp_path / "o", driver.BuildOptions(dtype="int8"))
                    .out / "manifest.json").read_text())
    assert m["dtype"] == "int8" and m["quantization"]["input"]["scale"] == by_name["x"]["scale"]


# ---- every cell x every compressed format, in int8 ------------------------------------

from tests.e2e import test_compressed_models as tcm  # noqa: E402

FORMAT_CASES = [(c, f) for c in tcm.CELLS for f in tcm.FORMATS]


@pytest.mark.parametrize("cell,fmt", FORMAT_CASES, ids=[f"{c}-{f}" for c, f in FORMAT_CASES])
def test_every_cell_and_format_exact_on_host(tmp_path, cell, fmt):
    m = tcm.make_model(cell, fmt, tcm._kind(cell), tmp_path)
    g = pipeline.compile_model(m.path, pipeline.Options(dtype="int8"))
    q = g.quant.nodes[next(n.name for n in g.nodes if n.op == "Recurrent")]
    assert type(q.directions[0].W).__name__ != "QDense" or fmt == "stack"
    res = driver.verify(m.path, driver.BuildOptions(dtype="int8"))
    assert res.passed and res.report["mismatches"] == 0, res.output
    assert res.report["int8_vs_float_max_abs_err"] < 0.1


@pytest.mark.qemu
@pytest.mark.parametrize("board", ["cortex-m4", "cortex-m55", "cortex-a73"])
@pytest.mark.parametrize("cell,fmt", [("LSTM", "hmd"), ("GRU", "kron"), ("RNN", "csr"),
                                      ("FastRNN", "lowrank"), ("FastGRNN", "hkp")])
def test_formats_exact_on_boards(tmp_path, board, cell, fmt):
    m = tcm.make_model(cell, fmt, tcm._kind(cell), tmp_path)
    res = driver.verify(m.path, driver.BuildOptions(dtype="int8", target=board))
    assert res.passed and res.report["mismatches"] == 0, res.output
