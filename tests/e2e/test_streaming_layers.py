"""Streaming and the layers around recurrent ones (issue 11, item 2): a model whose layers
mix time steps (a convolution or a pool along time, a reduction over time, a softmax over
time) is compiled for whole sequences, and the node that prevents streaming is named where a
user reads it: the build summary (`rnngen build`), the generated header (include/<name>.h) and
`rnngen inspect`, for the float and the int8 build alike. The exact reason strings are the
oracle; each is the one analyze_time states for that node."""

from __future__ import annotations

import re
import subprocess
import sys
import warnings

import numpy as np
import onnx
import pytest
import torch


class ConvOverTime(torch.nn.Module):
    """Conv1d along time (the DeepConvLSTM front end, small), then an LSTM."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv1d(6, 8, 3, padding=1)
        self.lstm = torch.nn.LSTM(8, 10, batch_first=True)

    def forward(self, x):  # [1, T, 6]
        y, _ = self.lstm(torch.relu(self.conv(x.transpose(1, 2))).transpose(1, 2))
        return y[:, -1]


class MeanOverTime(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = torch.nn.LSTM(6, 10, batch_first=True)

    def forward(self, x):
        y, _ = self.lstm(x)
        return y.mean(dim=1)


class AttentionOverTime(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = torch.nn.LSTM(6, 10, batch_first=True)
        self.att = torch.nn.Linear(10, 1)

    def forward(self, x):
        y, _ = self.lstm(x)
        return (torch.softmax(self.att(y), dim=1) * y).sum(dim=1)


# name -> (module, (op type of the node named, what the reason says it does))
NETS = {
    "conv_time": (ConvOverTime, ("Conv", "convolves along the time axis")),
    "mean_time": (MeanOverTime, ("ReduceMean", "reduces over time")),
    "attention_time": (AttentionOverTime, ("Softmax", "normalizes over time")),
}


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    cache = {}

    def get(name):
        if name not in cache:
            folder = tmp_path_factory.mktemp(name)
            torch.manual_seed(5)
            net = NETS[name][0]().eval()
            x = torch.randn(1, 7, 6)
            path = folder / f"{name}.onnx"
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                torch.onnx.export(net, (x,), str(path), dynamo=False, input_names=["x"],
                                  output_names=["y"])
            np.save(folder / "x.npy", x.numpy())
            cache[name] = (path, folder)
        return cache[name]
    return get


def _node_named(path, op):
    """The ONNX name of the single node of type `op` (the one the reason must name)."""
    names = [n.name for n in onnx.load(str(path)).graph.node if n.op_type == op]
    assert len(names) == 1, names
    return names[0]


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "rnngen.cli", *map(str, args)],
                          capture_output=True, text=True)


# int8: only the conv model; int8 ReduceMean and int8 attention pooling (the elementwise
# Mul of two tensors) are refused before this point with a one-line error, exit code 2
@pytest.mark.parametrize("name,dtype", [(n, "float32") for n in sorted(NETS)]
                         + [("conv_time", "int8")])
def test_the_node_preventing_streaming_is_named(exported, name, dtype, tmp_path):
    path, folder = exported(name)
    op, what = NETS[name][1]
    node = _node_named(path, op)
    extra = ["--dtype", "int8", "--calibrate", folder / "x.npy"] if dtype == "int8" else []
    out = tmp_path / "proj"
    r = _cli("build", path, "--target", "host", "--output", out, "--seq-len", 7, *extra)
    assert r.returncode == 0, r.stdout + r.stderr
    summary = r.stdout.splitlines()[0]
    m = re.search(r"whole sequences: (.*?), \d+ MACs/step", summary)
    assert m, summary
    why = m.group(1)
    assert f"'{node}'" in why and what in why, why
    text = (out / "include" / f"{name}.h").read_text()
    assert re.search(r"#define \w+_STREAMING 0\b", text), text[:2000]
    flat = " ".join(line.strip(" */") for line in text.splitlines())
    assert f"not causal ({why})" in flat, flat[:2000]
    r = _cli("inspect", path, "--seq-len", 7, *extra)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"whole sequences ({why})" in r.stdout.splitlines()[0], r.stdout
