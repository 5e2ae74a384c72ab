"""The architectures of issue 11 — convolution front ends, normalization and pooling over
time around real RNNs — exported from PyTorch with both exporters and checked against
PyTorch's own outputs the way a user does it: `rnngen verify model.onnx --input x.npy
--expect y.npy` (atol 1e-4, rtol 1e-3), on the host for every model and exporter and on
cortex-a73 and cortex-m4 for a sample."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch

from rnngen import driver, ir, pipeline, reference


class DeepConvLSTM(torch.nn.Module):
    """HAR2's shape (the HMD paper's DeepConvLSTM): 113 sensor channels, 24 steps, 4 Conv1d
    of 64 filters of kernel 5, 2 LSTM layers of 128, Linear + Softmax on the last step."""

    def __init__(self):
        super().__init__()
        self.convs = torch.nn.ModuleList(
            [torch.nn.Conv1d(113 if i == 0 else 64, 64, 5) for i in range(4)])
        self.lstm = torch.nn.LSTM(64, 128, num_layers=2, batch_first=True)
        self.fc = torch.nn.Linear(128, 18)

    def forward(self, x):  # [1, 24, 113]
        h = x.transpose(1, 2)
        for c in self.convs:
            h = torch.relu(c(h))
        y, _ = self.lstm(h.transpose(1, 2))
        return torch.softmax(self.fc(y[:, -1]), dim=-1)


class CRNN(torch.nn.Module):
    """A CRNN keyword spotter: 49 MFCC frames x 40, Conv2d + BatchNorm + ReLU, GRU 64,
    Linear on the last step."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 8, (3, 3), stride=(1, 2), padding=1)
        self.bn = torch.nn.BatchNorm2d(8)
        self.gru = torch.nn.GRU(8 * 20, 64, batch_first=True)
        self.fc = torch.nn.Linear(64, 12)

    def forward(self, x):  # [1, 49, 40]
        h = torch.relu(self.bn(self.conv(x.unsqueeze(1))))  # [1, 8, 49, 20]
        y, _ = self.gru(h.permute(0, 2, 1, 3).reshape(1, 49, 8 * 20))
        return self.fc(y[:, -1])


class LayerNormLSTM(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.ln = torch.nn.LayerNorm(12)
        self.lstm = torch.nn.LSTM(12, 20, batch_first=True)
        self.fc = torch.nn.Linear(20, 5)

    def forward(self, x):
        y, _ = self.lstm(self.ln(x))
        return self.fc(y)


class InstanceNormConvLSTM(torch.nn.Module):
    """nn.InstanceNorm1d (affine) over each sensor channel's sequence in front of a Conv1d
    and an LSTM (the exporters write InstanceNormalization; not causal: no streaming)."""

    def __init__(self):
        super().__init__()
        self.norm = torch.nn.InstanceNorm1d(12, affine=True)
        self.conv = torch.nn.Conv1d(12, 16, 3, padding=1)
        self.lstm = torch.nn.LSTM(16, 20, batch_first=True)
        self.fc = torch.nn.Linear(20, 5)

    def forward(self, x):  # [1, 10, 12]
        h = torch.relu(self.conv(self.norm(x.transpose(1, 2))))
        y, _ = self.lstm(h.transpose(1, 2))
        return self.fc(y)


class BatchNormLSTM(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.bn = torch.nn.BatchNorm1d(12)
        self.lstm = torch.nn.LSTM(12, 20, batch_first=True)
        self.fc = torch.nn.Linear(20, 5)

    def forward(self, x):
        y, _ = self.lstm(self.bn(x.transpose(1, 2)).transpose(1, 2))
        return self.fc(y)


class MeanPoolLSTM(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = torch.nn.LSTM(12, 20, batch_first=True)
        self.fc = torch.nn.Linear(20, 5)

    def forward(self, x):
        y, _ = self.lstm(x)
        return self.fc(y.mean(dim=1))


class AttentionPoolLSTM(torch.nn.Module):
    """Attention pooling: a score per step, softmax over time, the weighted sum of the
    LSTM's outputs."""

    def __init__(self):
        super().__init__()
        self.lstm = torch.nn.LSTM(12, 20, batch_first=True)
        self.att = torch.nn.Linear(20, 1)
        self.fc = torch.nn.Linear(20, 5)

    def forward(self, x):
        y, _ = self.lstm(x)
        w = torch.softmax(self.att(y), dim=1)
        return self.fc((w * y).sum(dim=1))


# name -> (module, input shape, streams)
NETS = {
    # 'valid' convs stream (each keeps its last 4 frames; outputs 16 frames behind)
    "deepconvlstm": (DeepConvLSTM, (1, 24, 113), True),
    "crnn": (CRNN, (1, 49, 40), False),  # padding 1 along time: reads the next frame
    "layernorm_lstm": (LayerNormLSTM, (1, 10, 12), True),
    "batchnorm_lstm": (BatchNormLSTM, (1, 10, 12), True),
    "instancenorm_conv_lstm": (InstanceNormConvLSTM, (1, 10, 12), False),
    "lstm_mean": (MeanPoolLSTM, (1, 10, 12), True),  # a running mean (streams)
    "lstm_attention": (AttentionPoolLSTM, (1, 10, 12), True),  # an online softmax
}


def _make(name):
    cls, shape, _ = NETS[name]
    torch.manual_seed(11)
    net = cls().eval()
    with torch.no_grad():  # normalization statistics that are not the identity
        for m in net.modules():
            if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d, torch.nn.LayerNorm,
                              torch.nn.InstanceNorm1d)):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.3, 0.3)
                if getattr(m, "running_mean", None) is not None:
                    m.running_mean.uniform_(-0.5, 0.5)
                    m.running_var.uniform_(0.5, 2.0)
    return net, torch.randn(*shape)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """Each model exported once per exporter (the dynamo exporter takes seconds)."""
    cache = {}

    def get(name, dynamo):
        key = (name, dynamo)
        if key not in cache:
            folder = tmp_path_factory.mktemp(f"{name}_{'dynamo' if dynamo else 'ts'}")
            net, x = _make(name)
            path = folder / f"{name}.onnx"
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                torch.onnx.export(net, (x,), str(path), dynamo=dynamo, input_names=["x"],
                                  output_names=["y"])
            with torch.no_grad():
                np.save(folder / "y.npy", net(x).numpy())
            np.save(folder / "x.npy", x.numpy())
            cache[key] = (path, folder)
        return cache[key]
    return get


def _verify(path, folder, board):
    """`rnngen verify --json` (board runs), or the same check in process (the host)."""
    if board == "host":
        res = driver.verify(path, driver.BuildOptions(
            input=str(folder / "x.npy"), expect=str(folder / "y.npy"), atol=1e-4, rtol=1e-3))
        assert res.passed, res.output
        rep = res.report
    else:
        r = subprocess.run([sys.executable, "-m", "rnngen.cli", "verify", str(path), "--target",
                            board, "--input", str(folder / "x.npy"), "--expect",
                            str(folder / "y.npy"), "--atol", "1e-4", "--rtol", "1e-3",
                            "--json"], capture_output=True, text=True)
        assert r.returncode == 0, r.stdout + r.stderr
        rep = json.loads(r.stdout)
    assert rep["passed"] and rep["mismatches"] == 0 and rep["reference"] == "expected", rep
    assert rep["target"] == board and rep["stream_errors"] == 0
    return rep


@pytest.mark.parametrize("dynamo", [False, True], ids=["torchscript", "dynamo"])
@pytest.mark.parametrize("name", list(NETS))
def test_layers_match_pytorch_on_host(exported, name, dynamo):
    path, folder = exported(name, dynamo)
    rep = _verify(path, folder, "host")
    assert rep["streaming"] == NETS[name][2], rep


# A sample on the boards (each run compiles the model for the board and runs it under QEMU).
# The float32 DeepConvLSTM (1.3 MB of weights) is over the cortex-m4 board's flash budget
# (the STM32F407's 1 MB): `rnngen build` refuses it there (docs/limits.md).
BOARD_SAMPLE = [
    ("deepconvlstm", True, "cortex-a73"),
    ("crnn", False, "cortex-a73"),  # rnn_conv_f32's NEON path: stride 2, padding
    ("lstm_attention", False, "cortex-a73"),
    ("crnn", True, "cortex-m4"),
    ("batchnorm_lstm", False, "cortex-m4"),
    ("layernorm_lstm", True, "cortex-m4"),
]


@pytest.mark.qemu
@pytest.mark.parametrize("name,dynamo,board", BOARD_SAMPLE,
                         ids=[f"{n}-{'dynamo' if d else 'torchscript'}-{b}"
                              for n, d, b in BOARD_SAMPLE])
def test_layers_match_pytorch_on_boards(exported, name, dynamo, board):
    path, folder = exported(name, dynamo)
    rep = _verify(path, folder, board)
    assert rep["streaming"] == NETS[name][2], rep


INT8_SAMPLE = [
    pytest.param("deepconvlstm", False, "cortex-m4", marks=pytest.mark.qemu,
                 id="deepconvlstm-torchscript-cortex-m4"),
    pytest.param("crnn", True, "host", id="crnn-dynamo-host"),
    # rnn_conv_s8's NEON paths: eight positions in the lanes (the CRNN's window of 9) and
    # int8 columns (DeepConvLSTM's windows of 565 and 320)
    pytest.param("crnn", False, "cortex-a73", marks=pytest.mark.qemu,
                 id="crnn-torchscript-cortex-a73"),
    pytest.param("deepconvlstm", False, "cortex-a73", marks=pytest.mark.qemu,
                 id="deepconvlstm-torchscript-cortex-a73"),
    # rnn_conv_s8's Helium pairs of windows (the CRNN's 3x3 at stride 2, its assembly loop)
    pytest.param("crnn", False, "cortex-m55", marks=pytest.mark.qemu,
                 id="crnn-torchscript-cortex-m55"),
    # int8 ReduceMean over time (the input's quantization kept)
    pytest.param("lstm_mean", False, "cortex-m4", marks=pytest.mark.qemu,
                 id="lstm_mean-torchscript-cortex-m4"),
    # int8 standalone BatchNorm1d in front of the LSTM (rnn_scale_shift_s8)
    pytest.param("batchnorm_lstm", True, "cortex-a73", marks=pytest.mark.qemu,
                 id="batchnorm_lstm-dynamo-cortex-a73"),
    pytest.param("batchnorm_lstm", False, "cortex-m4", marks=pytest.mark.qemu,
                 id="batchnorm_lstm-torchscript-cortex-m4"),
    # int8 LayerNorm in front of the LSTM and InstanceNorm1d in front of a Conv1d + LSTM
    # (rnn_layer_norm_s8; the instance norm's affine part is rnn_scale_shift_s8)
    pytest.param("layernorm_lstm", True, "host", id="layernorm_lstm-dynamo-host"),
    pytest.param("layernorm_lstm", False, "cortex-a73", marks=pytest.mark.qemu,
                 id="layernorm_lstm-torchscript-cortex-a73"),
    pytest.param("layernorm_lstm", True, "cortex-m4", marks=pytest.mark.qemu,
                 id="layernorm_lstm-dynamo-cortex-m4"),
    pytest.param("instancenorm_conv_lstm", False, "host",
                 id="instancenorm_conv_lstm-torchscript-host"),
    pytest.param("instancenorm_conv_lstm", True, "cortex-a73", marks=pytest.mark.qemu,
                 id="instancenorm_conv_lstm-dynamo-cortex-a73"),
    pytest.param("instancenorm_conv_lstm", False, "cortex-m4", marks=pytest.mark.qemu,
                 id="instancenorm_conv_lstm-torchscript-cortex-m4"),
    # int8 attention pooling over time: the integer online softmax (streams; T steps = _run)
    pytest.param("lstm_attention", False, "host", id="lstm_attention-torchscript-host"),
    pytest.param("lstm_attention", True, "cortex-a73", marks=pytest.mark.qemu,
                 id="lstm_attention-dynamo-cortex-a73"),
    pytest.param("lstm_attention", False, "cortex-m4", marks=pytest.mark.qemu,
                 id="lstm_attention-torchscript-cortex-m4"),
]


@pytest.mark.parametrize("name,dynamo,board", INT8_SAMPLE)
def test_int8_layers_equal_the_integer_reference(exported, name, dynamo, board):
    """The int8 DeepConvLSTM (whose float32 weights are over the cortex-m4's flash), CRNN,
    LSTM -> mean over time, BatchNorm1d -> LSTM, LayerNorm -> LSTM, InstanceNorm1d ->
    Conv1d -> LSTM and LSTM -> attention pooling: the C equals rnngen's integer reference bit
    for bit on the board (a streaming model: `_step` T times too)."""
    path, folder = exported(name, dynamo)
    res = driver.verify(path, driver.BuildOptions(target=board, dtype="int8",
                                                  input=str(folder / "x.npy")))
    rep = res.report
    assert res.passed and rep["atol"] == 0.0 and rep["rtol"] == 0.0, res.output
    assert rep["dtype"] == "int8" and rep["target"] == board and rep["mismatches"] == 0
    assert rep["max_abs_err"] == 0.0 and rep["stream_errors"] == 0, rep
    assert rep["streaming"] == NETS[name][2], rep
    if name == "lstm_attention":  # docs/int8.md states this figure (16 random sequences)
        assert rep["int8_vs_float_max_abs_err"] < 0.05, rep
    if board == "cortex-m4":
        assert rep["flash_bytes"] < 1024 * 1024, rep  # fits the STM32F407's 1 MB


@pytest.mark.parametrize("name", ["layernorm_lstm", "instancenorm_conv_lstm"])
def test_int8_normalization_is_close_to_pytorch(exported, name, tmp_path):
    """int8 LayerNorm -> LSTM and InstanceNorm1d -> Conv1d -> LSTM, calibrated on 64
    sequences like the inputs, against PyTorch's float outputs on 8 others: within 3 steps
    of the output's scale (measured: 1.8 and 1.4 steps, 0.0036 and 0.0026 on ranges of
    about 0.5). The C equals this integer reference bit for bit (the test above)."""
    path, _ = exported(name, False)
    net, x = _make(name)
    torch.manual_seed(5)
    np.save(tmp_path / "cal.npy", torch.randn(64, *x.shape[1:]).numpy())
    g = pipeline.compile_model(path, pipeline.Options(dtype="int8",
                                                      calibrate=str(tmp_path / "cal.npy")))
    assert any(isinstance(n, ir.LayerNorm) for n in g.nodes)
    step = g.quant.tensors[g.outputs[0]].scale
    worst = 0.0
    for _ in range(8):
        xx = torch.randn(*x.shape)
        with torch.no_grad():
            want = net(xx).numpy()
        got = reference.Executor(g, dtype="int8").run(xx.numpy())[g.outputs[0]]
        worst = max(worst, float(np.max(np.abs(got.reshape(want.shape) - want))))
    assert 0 < worst <= 3 * step, (worst, step)
