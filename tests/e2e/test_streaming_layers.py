"""Streaming and the layers around recurrent ones (issue 11, item 2). Pooling over time
(ReduceMean / ReduceMax / ReduceSum over the time axis, GlobalAveragePool) streams: the state
struct keeps the running value and every `_step` gives the pooling of the steps so far, so T
steps equal one `_run` (checked by the golden test's streaming checks, float and int8 on the
host and cortex-m4, against PyTorch's outputs). A model whose layers mix time steps otherwise
(a 'same' convolution along time, which reads later steps; a softmax over time) is compiled
for whole sequences (convolutions that stream: tests/e2e/test_streaming_conv.py),
and the node that prevents streaming is named where a user reads it: the build summary
(`rnngen build`), the generated header (include/<name>.h) and `rnngen inspect`, for the
float and the int8 build alike. The exact reason strings are the oracle; each is the one
analyze_time states for that node."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import onnx
import pytest
import torch

from tests.torch_export import export_case


class ConvOverTime(torch.nn.Module):
    """A centered ('same') Conv1d along time, then an LSTM: whole sequences."""

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


class MaxOverTime(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = torch.nn.LSTM(6, 10, batch_first=True)
        self.fc = torch.nn.Linear(10, 4)

    def forward(self, x):
        y, _ = self.lstm(x)
        return self.fc(y.amax(dim=1))


class SumOverTime(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = torch.nn.LSTM(6, 10, batch_first=True)

    def forward(self, x):
        y, _ = self.lstm(x)
        return y.sum(dim=1)


class GlobalAveragePool(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = torch.nn.GRU(6, 10, batch_first=True)

    def forward(self, x):
        y, _ = self.gru(x)
        return torch.nn.functional.adaptive_avg_pool1d(y.transpose(1, 2), 1)[..., 0]


class AttentionOverTime(torch.nn.Module):
    """Attention pooling: a score per step (or per unit), softmax over time, weighted sum;
    bidirectional: a whole-sequence model (the one-pass kernel)."""

    def __init__(self, per_unit=False, bidirectional=False):
        super().__init__()
        self.lstm = torch.nn.LSTM(6, 5 if bidirectional else 10, batch_first=True,
                                  bidirectional=bidirectional)
        self.att = torch.nn.Linear(10, 10 if per_unit else 1)

    def forward(self, x):
        y, _ = self.lstm(x)
        return (torch.softmax(self.att(y), dim=1) * y).sum(dim=1)


class ConvThenAttention(torch.nn.Module):
    """A centered conv over time (whole sequences, named), then attention pooling."""

    def __init__(self):
        super().__init__()
        self.conv = ConvOverTime()
        self.att = torch.nn.Linear(10, 1)

    def forward(self, x):
        h = torch.relu(self.conv.conv(x.transpose(1, 2))).transpose(1, 2)
        y, _ = self.conv.lstm(h)
        return (torch.softmax(self.att(y), dim=1) * y).sum(dim=1)


# name -> (module, (op type of the node named, what the reason says it does))
NETS = {
    "conv_time": (ConvOverTime, ("Conv", "pads the end of the time axis")),
    "conv_attention": (ConvThenAttention, ("Conv", "pads the end of the time axis")),
}
# pooling over time: streams (name -> module); int8 too
POOLING = {"mean_time": MeanOverTime, "max_time": MaxOverTime, "sum_time": SumOverTime,
           "gap_time": GlobalAveragePool}
# attention pooling (float32): the online softmax streams; bidirectional: whole sequences
ATTENTION = {"attention_time": (AttentionOverTime, True),
             "attention_unit": (lambda: AttentionOverTime(per_unit=True), True),
             "attention_bidir": (lambda: AttentionOverTime(bidirectional=True), False)}


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    cache = {}

    def get(name):
        if name not in cache:
            folder = tmp_path_factory.mktemp(name)
            torch.manual_seed(5)
            make = NETS[name][0] if name in NETS else POOLING.get(name) or ATTENTION[name][0]
            net = make().eval()
            cache[name] = (export_case(net, torch.randn(1, 7, 6), folder, name), folder)
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


# int8: the conv model (the attention models in int8: test_attention_pooling_streams)
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


# every pooling model on the host; the cortex-m4 under QEMU for a sample
POOLING_CASES = [(n, "host") for n in sorted(POOLING)] + [("mean_time", "cortex-m4"),
                                                           ("sum_time", "cortex-m4")]


@pytest.mark.qemu
@pytest.mark.parametrize("name,board", POOLING_CASES)
def test_pooling_over_time_streams(exported, name, board):
    """float: against PyTorch (atol 1e-4, rtol 1e-3); int8: the integer reference exactly;
    both: `_step` T times equals `_run`, split runs and `_reset` (the golden test's streaming
    checks), and the header says the model streams."""
    path, folder = exported(name)
    for extra in ([], ["--dtype", "int8", "--calibrate", folder / "x.npy"]):
        expect = ["--expect", folder / "y.npy", "--atol", "1e-4", "--rtol", "1e-3"] \
            if not extra else []
        r = _cli("verify", path, "--target", board, "--input", folder / "x.npy", "--json",
                 *expect, *extra)
        assert r.returncode == 0, r.stdout + r.stderr
        rep = json.loads(r.stdout)
        assert rep["passed"] and rep["streaming"] and rep["stream_errors"] == 0, rep
        assert rep["reference"] == ("rnngen reference" if extra else "expected"), rep
        if extra:
            assert rep["atol"] == 0 and rep["max_abs_err"] == 0, rep


ATTENTION_CASES = [(n, "host") for n in sorted(ATTENTION)] + [("attention_time", "cortex-m4"),
                                                               ("attention_bidir", "cortex-m4")]


@pytest.mark.qemu
@pytest.mark.parametrize("name,board", ATTENTION_CASES)
def test_attention_pooling_streams(exported, name, board):
    """Softmax over time -> Mul -> ReduceSum is one attention-pooling node: an online
    softmax in `_step` (the pooling of the steps so far; T steps equal `_run`), the one-pass
    kernel for a whole-sequence model; float against PyTorch (atol 1e-4, rtol 1e-3); int8
    (an integer online softmax, rnn_running_attention_pool_s8 / rnn_attention_pool_s8) the
    integer reference exactly, with the same streaming checks."""
    path, folder = exported(name)
    for extra in ([], ["--dtype", "int8", "--calibrate", folder / "x.npy"]):
        expect = ["--expect", folder / "y.npy", "--atol", "1e-4", "--rtol", "1e-3"] \
            if not extra else []
        r = _cli("verify", path, "--target", board, "--input", folder / "x.npy", "--json",
                 *expect, *extra)
        assert r.returncode == 0, r.stdout + r.stderr
        rep = json.loads(r.stdout)
        assert rep["passed"] and rep["stream_errors"] == 0, rep
        assert rep["streaming"] is ATTENTION[name][1], rep
        assert rep["reference"] == ("rnngen reference" if extra else "expected"), rep
        if extra:
            assert rep["atol"] == 0 and rep["max_abs_err"] == 0, rep
