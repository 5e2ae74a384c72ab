"""Convolution and pooling along time stream (issue 11, item 2): a Conv / MaxPool /
AveragePool whose window slides along the time axis keeps its last frames in the state struct
(ir.FrameWindow, rnn_frame_push) and `_step` takes one frame. A window that is not full yet
(a 'valid' conv's first k - 1 frames) or a stride along time means some steps produce no
new frame: the layers after it do not run on those steps, the outputs keep their value as
of the last step that produced one (zero before the first), and the header states
`<NAME>_DELAY_FRAMES`. Padding after the last frame cannot stream (the model stays whole-
sequence, naming the node and its pads); a zero F.pad before a Conv becomes its padding.

Oracles: PyTorch on every prefix of the sequence (the step program's outputs after t frames
equal the network run on the first t frames, for every t past the delay; zero before), the
golden test's streaming checks in C (T `_step` calls equal one `_run`, split runs, `_reset`)
on the host, cortex-a73 and cortex-m4 under QEMU, float against PyTorch's outputs and int8
bit for bit against the integer reference."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import onnx
import pytest
import torch

from rnngen import driver, ir, reference
from tests.torch_export import export_case

T = 12


class CausalConv(torch.nn.Module):
    """A causal dilated conv (F.pad on the left, as WaveNet / TCN front ends write it), then
    an LSTM: every step produces a frame (delay 0)."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv1d(6, 8, 3, dilation=2)
        self.lstm = torch.nn.LSTM(8, 10, batch_first=True)
        self.fc = torch.nn.Linear(10, 4)

    def forward(self, x):  # [1, T, 6]
        h = torch.nn.functional.pad(x.transpose(1, 2), (4, 0))
        y, _ = self.lstm(torch.relu(self.conv(h)).transpose(1, 2))
        return self.fc(y[:, -1])


class ValidConvPool(torch.nn.Module):
    """The DeepConvLSTM / Keras Conv1D + MaxPooling1D pattern: 'valid' convs (a delay of
    k - 1 frames each), a max pool of stride 2 and a strided average pool (every other
    frame), then a GRU."""

    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv1d(6, 8, 3)
        self.pool = torch.nn.MaxPool1d(2)
        self.conv2 = torch.nn.Conv1d(8, 8, 2)
        self.avg = torch.nn.AvgPool1d(1, stride=1)
        self.gru = torch.nn.GRU(8, 10, batch_first=True)
        self.fc = torch.nn.Linear(10, 4)

    def forward(self, x):
        h = self.pool(torch.relu(self.conv1(x.transpose(1, 2))))
        h = self.avg(torch.relu(self.conv2(h)))
        y, _ = self.gru(h.transpose(1, 2))
        return self.fc(y[:, -1])


class StreamingCRNN(torch.nn.Module):
    """A keyword-spotting CRNN written to stream: Conv2d over (time, frequency) with no
    padding in time and 'same' padding in frequency, BatchNorm, ReLU, then a GRU."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 4, 3, stride=(1, 2), padding=(0, 1))
        self.bn = torch.nn.BatchNorm2d(4)
        self.gru = torch.nn.GRU(4 * 5, 12, batch_first=True)
        self.fc = torch.nn.Linear(12, 3)
        with torch.no_grad():
            self.bn.running_mean.uniform_(-0.2, 0.2)
            self.bn.running_var.uniform_(0.5, 1.5)

    def forward(self, x):  # [1, T, 10] MFCC frames
        h = torch.relu(self.bn(self.conv(x.unsqueeze(1))))  # [1, 4, T - 2, 5]
        h = h.permute(0, 2, 1, 3).reshape(1, h.shape[2], 20)
        y, _ = self.gru(h)
        return self.fc(y[:, -1])


class MeanOfConv(torch.nn.Module):
    """A strided conv (every other frame), an LSTM, then mean pooling over time: the running
    mean counts the frames the conv produced."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv1d(6, 8, 2, stride=2)
        self.lstm = torch.nn.LSTM(8, 10, batch_first=True)

    def forward(self, x):
        y, _ = self.lstm(self.conv(x.transpose(1, 2)).transpose(1, 2))
        return y.mean(dim=1)


class PerStepOfValidConv(torch.nn.Module):
    """A 'valid' conv, then an output per step: not streamable (the conv's frames are not
    the input's), named."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv1d(6, 8, 3)
        self.lstm = torch.nn.LSTM(8, 10, batch_first=True)

    def forward(self, x):
        y, _ = self.lstm(self.conv(x.transpose(1, 2)).transpose(1, 2))
        return y


class PointwiseConv(torch.nn.Module):
    """A 1x1 Conv1d along time (one frame in, one out: no window), then an LSTM, an output
    per step: streams, delay 0."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv1d(6, 8, 1)
        self.lstm = torch.nn.LSTM(8, 10, batch_first=True)

    def forward(self, x):
        y, _ = self.lstm(torch.relu(self.conv(x.transpose(1, 2))).transpose(1, 2))
        return y


# name -> (module, input features, the delay in frames: the steps after reset before the
# outputs are first produced, less one)
NETS = {"causal_conv": (CausalConv, 6, 0), "valid_conv_pool": (ValidConvPool, 6, 5),
        "crnn_stream": (StreamingCRNN, 10, 2), "mean_of_conv": (MeanOfConv, 6, 1)}


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    cache = {}

    def get(name):
        if name not in cache:
            folder = tmp_path_factory.mktemp(name)
            torch.manual_seed(11)
            make, feat, _ = NETS[name] if name in NETS else (
                {"per_step": PerStepOfValidConv, "pointwise": PointwiseConv}[name], 6, 0)
            net = make().eval()
            x = torch.randn(1, T, feat)
            cache[name] = (export_case(net, x, folder, name), folder, net, x)
        return cache[name]
    return get


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "rnngen.cli", *map(str, args)],
                          capture_output=True, text=True)


@pytest.mark.parametrize("name", sorted(NETS))
def test_every_step_equals_pytorch_on_the_prefix(exported, name):
    """The one-step program, call by call from reset (rnngen's reference, which the C equals
    in the board tests below): after t frames the output is PyTorch's on x[:, :t] for every
    t past the delay, and zero before it."""
    path, _, net, x = exported(name)
    g = driver.compile_graph(path, driver.BuildOptions())
    assert g.streaming, g.not_streaming_why
    assert g.step is not None and g.block is None, g.block_why
    delay = NETS[name][2]
    assert g.step.delay == delay
    assert any(isinstance(n, ir.FrameWindow) for n in g.step.nodes)
    ex = reference.Executor(g.step)
    xs = x.numpy()
    for t in range(1, T + 1):
        got = ex.run(xs[:, t - 1:t])[g.outputs[0]]
        if t <= delay:
            assert not np.any(got), (t, got)
            continue
        with torch.no_grad():
            want = net(x[:, :t]).numpy()
        np.testing.assert_allclose(got.reshape(want.shape), want, atol=1e-5, rtol=1e-4,
                                   err_msg=f"after {t} frames")


BOARD_CASES = [(n, "host") for n in sorted(NETS)] + [
    ("valid_conv_pool", "cortex-m4"), ("crnn_stream", "cortex-m4"),
    ("causal_conv", "cortex-a73"), ("mean_of_conv", "cortex-a73")]


@pytest.mark.qemu
@pytest.mark.parametrize("name,board", BOARD_CASES)
def test_streaming_conv_on_boards(exported, name, board, tmp_path):
    """float32 against PyTorch (atol 1e-4, rtol 1e-3) and int8 bit for bit against the
    integer reference, with the streaming checks; the header and the build summary state the
    delay."""
    path, folder, _, _ = exported(name)
    for extra in ([], ["--dtype", "int8", "--calibrate", folder / "x.npy"]):
        expect = ["--expect", folder / "y.npy", "--atol", "1e-4", "--rtol", "1e-3"] \
            if not extra else []
        r = _cli("verify", path, "--target", board, "--input", folder / "x.npy", "--json",
                 *expect, *extra)
        assert r.returncode == 0, r.stdout + r.stderr
        rep = json.loads(r.stdout)
        assert rep["passed"] and rep["streaming"] and rep["stream_errors"] == 0, rep
        if extra:
            assert rep["atol"] == 0 and rep["max_abs_err"] == 0, rep
    if board == "host":
        out = tmp_path / "proj"
        r = _cli("build", path, "--target", board, "--output", out)
        assert r.returncode == 0, r.stderr
        delay = NETS[name][2]
        summary = r.stdout.splitlines()[0]
        assert ("streaming, _run step by step" in summary) if not delay else (
            f"streaming, outputs {delay} frames behind the input, _run step by step"
            in summary), summary
        header = (out / "include" / f"{name}.h").read_text()
        assert f"#define {name.upper()}_DELAY_FRAMES {delay}\n" in header


def test_per_step_outputs_after_a_delayed_conv_are_named(exported, tmp_path):
    path, _, _, _ = exported("per_step")
    conv = next(n.name for n in onnx.load(str(path)).graph.node if n.op_type == "Conv")
    r = _cli("inspect", path)
    assert r.returncode == 0, r.stderr
    assert (f"whole sequences (output 'y' has one value per output frame of '{conv}', which "
            "some calls do not produce") in r.stdout.splitlines()[0], r.stdout


def test_whole_sequence_option(exported, tmp_path):
    """`--whole-sequence` compiles a streamable model for whole sequences (the conv kernel
    over the sequence), says so where streaming reasons are given, and still matches
    PyTorch."""
    path, folder, _, _ = exported("valid_conv_pool")
    out = tmp_path / "proj"
    r = _cli("build", path, "--output", out, "--whole-sequence")
    assert r.returncode == 0, r.stderr
    assert "whole sequences: built with --whole-sequence" in r.stdout.splitlines()[0], r.stdout
    header = (out / "include" / "valid_conv_pool.h").read_text()
    assert "#define VALID_CONV_POOL_STREAMING 0" in header
    assert "rnn_conv_f32" in json.loads((out / "manifest.json").read_text())["kernels"]
    r = _cli("verify", path, "--whole-sequence", "--input", folder / "x.npy", "--expect",
             folder / "y.npy", "--atol", "1e-4", "--rtol", "1e-3", "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    rep = json.loads(r.stdout)
    assert rep["passed"] and not rep["streaming"], rep


@pytest.mark.qemu
@pytest.mark.parametrize("board", ["host", "cortex-a73"])
def test_pointwise_conv_needs_no_window(exported, board):
    """A conv of one frame along time keeps no frames: no FrameWindow, an output per step,
    against PyTorch with the streaming checks."""
    path, folder, _, _ = exported("pointwise")
    g = driver.compile_graph(path, driver.BuildOptions(target=board))
    assert g.streaming and g.step.delay == 0, g.not_streaming_why
    assert not any(isinstance(n, ir.FrameWindow) for n in g.step.nodes)
    r = _cli("verify", path, "--target", board, "--input", folder / "x.npy", "--expect",
             folder / "y.npy", "--atol", "1e-4", "--rtol", "1e-3", "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    rep = json.loads(r.stdout)
    assert rep["passed"] and rep["streaming"] and rep["stream_errors"] == 0, rep
