"""Models exported by torch.onnx.export (both exporters) match PyTorch's own outputs,
checked the way a user does it: `rnngen verify model.onnx --input x.npy --expect y.npy`."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings

import numpy as np
import pytest

import torch

CASES = [
    # cell, bidirectional, layers, batch_first
    ("lstm", True, 2, True),
    ("gru", False, 1, False),
    ("rnn", False, 1, False),
]


class Net(torch.nn.Module):
    def __init__(self, cell: str, bidir: bool, layers: int, batch_first: bool):
        super().__init__()
        cls = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}[cell]
        self.rnn = cls(12, 20, num_layers=layers, bidirectional=bidir, batch_first=batch_first)
        self.fc = torch.nn.Linear(20 * (2 if bidir else 1), 6)

    def forward(self, x):
        y, _ = self.rnn(x)
        return torch.softmax(self.fc(y), dim=-1)


def _export(tmp_path, cell, bidir, layers, bf, dynamo, dynamic_seq=False):
    torch.manual_seed(7)
    net = Net(cell, bidir, layers, bf).eval()
    T = 9
    x = torch.randn(1, T, 12) if bf else torch.randn(T, 1, 12)
    path = tmp_path / f"{cell}.onnx"
    kw = {}
    if dynamic_seq:
        kw["dynamic_axes"] = {"x": {1 if bf else 0: "seq"}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net, (x,), str(path), dynamo=dynamo, input_names=["x"],
                          output_names=["y"], **kw)
    with torch.no_grad():
        y = net(x).numpy()
    np.save(tmp_path / "x.npy", x.numpy())
    np.save(tmp_path / "y.npy", y)
    return path


def _verify(*args):
    return subprocess.run([sys.executable, "-m", "rnngen.cli", "verify", *args, "--json"],
                          capture_output=True, text=True)


BOARDS = ["host", "cortex-a73", "cortex-a53", "cortex-m4", "cortex-m7", "cortex-m55"]
EXPORTS = [(c, d) for c in CASES for d in (False, True)]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """Each model exported once per exporter (the dynamo exporter takes seconds)."""
    cache = {}

    def get(case, dynamo):
        key = (case, dynamo)
        if key not in cache:
            folder = tmp_path_factory.mktemp(f"{case[0]}_{'dynamo' if dynamo else 'ts'}")
            cache[key] = (_export(folder, *case, dynamo), folder)
        return cache[key]
    return get


@pytest.mark.parametrize("board", [pytest.param(b, marks=[] if b == "host" else
                                                [pytest.mark.qemu]) for b in BOARDS])
@pytest.mark.parametrize("case,dynamo", EXPORTS,
                         ids=[f"{c[0]}-{'dynamo' if d else 'torchscript'}" for c, d in EXPORTS])
def test_export_matches_pytorch(exported, case, dynamo, board):
    path, folder = exported(case, dynamo)
    r = _verify(str(path), "--target", board, "--input", str(folder / "x.npy"), "--expect",
                str(folder / "y.npy"), "--atol", "1e-5", "--rtol", "1e-4")
    assert r.returncode == 0, r.stdout + r.stderr
    rep = json.loads(r.stdout)
    assert rep["passed"] and rep["mismatches"] == 0 and rep["values"] == 9 * 6
    assert rep["reference"] == "expected" and rep["target"] == board


def test_wrong_expectation_fails_with_exit_1(tmp_path):
    path = _export(tmp_path, "gru", False, 1, False, False)
    y = np.load(tmp_path / "y.npy")
    y[3, 0, 2] += 1e-3
    np.save(tmp_path / "bad.npy", y)
    r = _verify(str(path), "--input", str(tmp_path / "x.npy"), "--expect",
                str(tmp_path / "bad.npy"))
    assert r.returncode == 1, r.stdout + r.stderr
    assert json.loads(r.stdout)["mismatches"] == 1


def test_dynamic_sequence_needs_seq_len(tmp_path):
    path = _export(tmp_path, "lstm", False, 1, True, False, dynamic_seq=True)
    r = _verify(str(path))
    assert r.returncode == 2
    assert "--seq-len" in r.stderr and "Traceback" not in r.stderr
    r = _verify(str(path), "--seq-len", "9", "--input", str(tmp_path / "x.npy"), "--expect",
                str(tmp_path / "y.npy"))
    assert r.returncode == 0, r.stdout + r.stderr


class LinearReluLstm(torch.nn.Module):
    """A per-step Linear + ReLU in front of the LSTM (issue 12: such models stream)."""

    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(10, 16)
        self.lstm = torch.nn.LSTM(16, 24, batch_first=True)
        self.out = torch.nn.Linear(24, 4)

    def forward(self, x):
        y, _ = self.lstm(torch.relu(self.fc(x)))
        return self.out(y)


class ResidualLstms(torch.nn.Module):
    """Two LSTMs with a residual add between them."""

    def __init__(self):
        super().__init__()
        self.l1 = torch.nn.LSTM(10, 16, batch_first=True)
        self.l2 = torch.nn.LSTM(16, 16, batch_first=True)

    def forward(self, x):
        y, _ = self.l1(x)
        z, _ = self.l2(y)
        return z + y


@pytest.mark.parametrize("board", ["host", pytest.param("cortex-a73", marks=pytest.mark.qemu),
                                   pytest.param("cortex-m4", marks=pytest.mark.qemu)])
@pytest.mark.parametrize("dynamo", [False, True], ids=["torchscript", "dynamo"])
@pytest.mark.parametrize("net", [LinearReluLstm, ResidualLstms], ids=["linear_relu", "residual"])
def test_layers_around_the_lstm_stream(tmp_path, net, dynamo, board):
    """Per-step layers before the LSTM or a residual add between LSTMs keep the model
    streaming (`_step` exists and passes the streaming checks), and it matches PyTorch."""
    torch.manual_seed(3)
    m = net().eval()
    x = torch.randn(1, 11, 10)
    path = tmp_path / "m.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(m, (x,), str(path), dynamo=dynamo, input_names=["x"],
                          output_names=["y"])
    with torch.no_grad():
        np.save(tmp_path / "y.npy", m(x).numpy())
    np.save(tmp_path / "x.npy", x.numpy())
    r = _verify(str(path), "--target", board, "--input", str(tmp_path / "x.npy"), "--expect",
                str(tmp_path / "y.npy"))
    assert r.returncode == 0, r.stdout + r.stderr
    rep = json.loads(r.stdout)
    assert rep["passed"] and rep["streaming"], rep


def test_dynamic_batch_axis_is_the_batch(tmp_path):
    """A dynamic axis the exporter names 'batch' is taken as the batch (1), not as time:
    the model builds without --seq-len, streams, and matches PyTorch."""
    torch.manual_seed(7)
    net = Net("lstm", False, 1, True).eval()
    x = torch.randn(1, 9, 12)
    path = tmp_path / "m.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net, (x,), str(path), dynamo=False, input_names=["x"],
                          output_names=["y"], dynamic_axes={"x": {0: "batch"}})
    with torch.no_grad():
        np.save(tmp_path / "y.npy", net(x).numpy())
    np.save(tmp_path / "x.npy", x.numpy())
    r = _verify(str(path), "--input", str(tmp_path / "x.npy"), "--expect",
                str(tmp_path / "y.npy"))
    assert r.returncode == 0, r.stdout + r.stderr
    assert json.loads(r.stdout)["streaming"]
