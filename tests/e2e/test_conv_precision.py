"""Precisions for Conv layers (issue 14, "What it must do" 1): a Conv front end inside an
integer model in float32 (`--precision CONV=float32`: rnn_conv_f32, or for a streaming
conv's one window the float mat-vec, between rnn_dequantize_s8 and rnn_quantize_s8, as
recurrent and Linear float32 layers) or with int4 weights (w4a8: per output channel in
[-7, 7], packed two per byte, rnn_conv_s4; a streaming conv's one window rnn_mat_vec_s4),
whole model and mixed with the recurrent and Linear layers' precisions; or with int16
activations (w8a16 / w4a16: int16 input, int64 sums and CMSIS-NN's s64 requantization,
rnn_conv_a16; an int16 or int8 output by its readers), whole sequences.

Oracles: the integer reference (quant.conv_s8 with the int4 weights; the float NumPy conv
between the same dequantization and quantization for a float32 Conv), which the C equals
exactly (float32 layers by test_float_layers' rounding rule: exact unless a float value lies
within reference_int.NEAR of a rounding boundary) on the host and, a seeded sample, on
cortex-a73, cortex-m4 and cortex-m55 under QEMU; the packed bytes decoded independently;
the kernels under ASan + UBSan, valgrind and cppcheck. A Conv reading int16 that would
stream along time is refused in one line naming it (exit 2, nothing written)."""

from __future__ import annotations

import json
import re

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper

from rnngen import cost, driver, precision, quant
from tests.e2e.test_bad_input import build_writes_nothing, rnngen
from tests.e2e.test_float_layers import _c, _verify
from tests.e2e.test_streaming_conv import CausalConv, StreamingCRNN, ValidConvPool
from tests.torch_export import export_case

T = 12


class SameConvLSTM(torch.nn.Module):
    """A 'same' Conv1d straight into an LSTM (no activation between: an int16 output can
    flow into the LSTM); whole sequences (the padding after the last frame)."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv1d(6, 8, 3, padding=1)
        self.lstm = torch.nn.LSTM(8, 10, batch_first=True)
        self.fc = torch.nn.Linear(10, 4)

    def forward(self, x):
        y, _ = self.lstm(self.conv(x.transpose(1, 2)).transpose(1, 2))
        return self.fc(y[:, -1])


NETS = {"causal": (CausalConv, 6), "valid": (ValidConvPool, 6), "crnn": (StreamingCRNN, 10),
        "same": (SameConvLSTM, 6)}


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    cache = {}

    def get(name):
        if name not in cache:
            folder = tmp_path_factory.mktemp(name)
            torch.manual_seed(5)
            make, feat = NETS[name]
            cache[name] = export_case(make().eval(), torch.randn(1, T, feat), folder, name)
        return cache[name]
    return get


def _unpack(data: list[int], m: int, n: int) -> np.ndarray:
    """rnn_conv_s4's bytes -> [m, n] values (an independent decoding)."""
    b = np.array(data, np.int64).reshape(m, -1) & 0xFF
    nib = np.stack([b & 15, b >> 4], axis=2).reshape(m, -1)[:, :n]
    return np.where(nib >= 8, nib - 16, nib)


def _array(c: str, sym: str) -> list[int]:
    body = re.search(rf"\b{sym}\[\d*\][^=]*=\s*\{{([^}}]*)\}}", c)
    assert body is not None, sym
    return [int(v) for v in body.group(1).replace("\n", " ").split(",") if v.strip()]


def test_float32_conv(model, tmp_path):
    """A float32 Conv reading the int8 input, feeding the int8 LSTM: streaming (its window
    of frames through rnn_conv_f32; 'valid' convs: one window, the float mat-vec) and whole
    sequences; the C equals the reference by the rounding rule."""
    causal, valid = model("causal"), model("valid")
    for whole in (False, True):
        _verify(causal, "/conv/Conv=float32", whole_sequence=whole)
        _verify(valid, "/conv1/Conv=float32,/conv2/Conv=float32", whole_sequence=whole)
    c, res = _c(tmp_path, causal, "/conv/Conv=float32", whole_sequence=True)
    q = res.graph.quant
    assert isinstance(q.nodes["/conv/Conv"], quant.QFloatLayer)
    assert isinstance(q.nodes["/fc/Gemm"], quant.QLinear)
    assert q.tensors["/conv/Conv_output_0"].dtype == "int8"  # quantized for its readers
    for k in ("rnn_dequantize_s8(", "rnn_conv_f32(", "rnn_quantize_s8(", "rnn_lstm_cell_s16("):
        assert k in c, k
    assert "rnn_conv_s8(" not in c
    assert res.manifest["precision"] == "/conv/Conv=float32, others w8a8"
    c, res = _c(tmp_path, valid, "/conv1/Conv=float32")  # streaming: one window each
    assert res.graph.streaming
    assert "rnn_mat_vec_f32(8, 18, " in c  # conv1's 8 filters of 6 x 3 on its window
    assert "rnn_mat_vec_s8(8, 16, " in c  # conv2 (int8) on its window of 8 x 2


def test_w4a8_conv(model, tmp_path):
    """int4 Conv weights: the whole model w4a8 and the Conv alone; rnn_conv_s4 (whole
    sequences, a padded streaming window) and rnn_mat_vec_s4 (a streaming conv's one
    window); the weights in [-7, 7] per output channel, their packed bytes decode to them."""
    causal, valid = model("causal"), model("valid")
    for whole in (False, True):
        for spec in ("w4a8", "/conv/Conv=w4a8"):
            _verify(causal, spec, whole_sequence=whole)
        _verify(valid, "/conv1/Conv=w4a8,/conv2/Conv=w4a8", whole_sequence=whole)
    c, res = _c(tmp_path, causal, "/conv/Conv=w4a8", whole_sequence=True)
    q = res.graph.quant.nodes["/conv/Conv"]
    assert q.bits == 4 and int(np.max(np.abs(q.w))) == 7
    assert "rnn_conv_s4(" in c and "rnn_conv_s8(" not in c
    M, n = q.w.shape[0], int(q.w[0].size)  # 8 filters of 6 x 3: 9 bytes each
    sym = re.search(r"rnn_conv_s4\(&\w+, [^,]+, -?\d+, (\w+),", c).group(1)
    data = _array(c, sym)
    assert len(data) == M * -(-n // 2)
    assert np.array_equal(_unpack(data, M, n), q.w.reshape(M, n))
    # against w8a8, the int4 Conv's weights take about half the bytes
    c8, _ = _c(tmp_path, causal, "w8a8", whole_sequence=True)
    sym8 = re.search(r"rnn_conv_s8\(&\w+, [^,]+, -?\d+, (\w+),", c8).group(1)
    assert len(_array(c8, sym8)) == M * n
    c, res = _c(tmp_path, valid, "/conv1/Conv=w4a8")  # streaming: one window, int4 mat-vec
    assert res.graph.streaming and "rnn_mat_vec_s4(8, 18, " in c


def test_mixed_precisions(model):
    """Conv layers in float32 and w4a8 beside recurrent and Linear layers in other
    precisions, and a 2-D Conv (the CRNN's, its BatchNorm folded in) in w4a8."""
    valid = model("valid")
    _verify(valid, "/conv1/Conv=float32,/conv2/Conv=w4a8,/gru/GRU=w4a8,/fc/Gemm=float32")
    _verify(valid, "/conv1/Conv=w4a8,/conv2/Conv=float32,/gru/GRU=float32",
            whole_sequence=True)
    _verify(model("causal"), "/conv/Conv=w4a8,/lstm/LSTM=w8a16", whole_sequence=True)
    for whole in (False, True):
        _verify(model("crnn"), "/conv/Conv=w4a8", whole_sequence=whole)
    _verify(model("crnn"), "/conv/Conv=float32,/gru/GRU=w4a8", whole_sequence=True)


@pytest.mark.qemu
@pytest.mark.parametrize("board", ["cortex-a73", "cortex-m4", "cortex-m55"])
def test_on_boards(model, board):
    """A seeded sample per board: each new Conv precision, streaming or whole."""
    rng = np.random.default_rng({"cortex-a73": 1, "cortex-m4": 2, "cortex-m55": 3}[board])
    cases = [("causal", "/conv/Conv=float32"), ("causal", "w4a8"),
             ("valid", "/conv1/Conv=float32,/conv2/Conv=w4a8"),
             ("valid", "/conv1/Conv=w4a8,/gru/GRU=float32"),
             ("crnn", "/conv/Conv=w4a8"), ("crnn", "/conv/Conv=float32")]
    for k in rng.choice(len(cases), 3, replace=False):
        name, spec = cases[int(k)]
        _verify(model(name), spec, board, whole_sequence=bool(rng.integers(2)))
    a16 = [("same", "w8a16"), ("same", "/conv/Conv=w4a16,/lstm/LSTM=w8a16"),
           ("causal", "w4a16"), ("crnn", "/conv/Conv=w8a16,/gru/GRU=w8a16")]
    name, spec = a16[int(rng.integers(len(a16)))]  # int16 activations: whole sequences
    _verify(model(name), spec, board, whole_sequence=True)


def test_checked_c_int16(model, tmp_path):
    """test_c_safety's three checks on the w8a16 / w4a16 Conv (rnn_conv_a16, int8 and int4
    weights, an int16 output into the LSTM; the CRNN's 2-D conv with an int8 output)."""
    from tests.e2e.test_c_safety import check_project

    for k, (name, spec) in enumerate((("same", "/conv/Conv=w4a16,/lstm/LSTM=w8a16"),
                                      ("crnn", "w8a16"))):
        proj = tmp_path / f"proj{k}"
        res = driver.build(model(name), proj, driver.BuildOptions(
            name="m", dtype="int8", measure=False, whole_sequence=True,
            precision=precision.parse(spec)))
        assert "rnn_conv_a16" in res.manifest["kernels"]
        check_project(proj)


@pytest.mark.parametrize("spec", ["w4a8", "float32"])
def test_checked_c(tmp_path, spec):
    """test_c_safety's three checks on test_c_safety's layers model (1-D and 2-D convs with
    strides, padding, dilation, groups, depthwise, a BatchNorm folded in) with every Conv in
    int4 (rnn_conv_s4) or in float32 inside the int8 model."""
    from tests.e2e.test_c_safety import check_project, layers_model

    proj = tmp_path / "proj"
    res = driver.build(layers_model(tmp_path), proj, driver.BuildOptions(
        name="m", dtype="int8", measure=False, precision=precision.parse(spec)))
    kernels = set(res.manifest["kernels"])
    assert "rnn_conv_s8" not in kernels
    assert ("rnn_conv_s4" if spec == "w4a8" else "rnn_conv_f32") in kernels, kernels
    check_project(proj)


def lstm_conv(path, T: int = 5, n_in: int = 3, H: int = 4):
    """LSTM 'lstm' -> Reshape -> Transpose -> a 1x3 'same' Conv 'conv' over its outputs (the
    Conv reads a recurrent layer's Y)."""
    rng = np.random.default_rng(0)

    def f(*s):
        return numpy_helper.from_array((rng.standard_normal(s) * .5).astype(np.float32))

    inits = [f(1, 4 * H, n_in), f(1, 4 * H, H), f(3, H, 3), f(3)]
    for t, n in zip(inits, ("W", "R", "K", "KB")):
        t.name = n
    inits.append(numpy_helper.from_array(np.array([1, T, H], np.int64), "shp"))
    nodes = [helper.make_node("LSTM", ["x", "W", "R"], ["Y"], hidden_size=H, name="lstm"),
             helper.make_node("Reshape", ["Y", "shp"], ["y3"]),
             helper.make_node("Transpose", ["y3"], ["yt"], perm=[0, 2, 1]),
             helper.make_node("Conv", ["yt", "K", "KB"], ["out"], name="conv", pads=[1, 1])]
    g = helper.make_graph(nodes, "c", [helper.make_tensor_value_info(
        "x", TensorProto.FLOAT, [T, 1, n_in])], [helper.make_tensor_value_info(
            "out", TensorProto.FLOAT, None)], inits)
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 22)]), path)
    return path


def test_int16_conv(model, tmp_path):
    """w8a16 / w4a16 Conv layers: reading the int16 model input and writing int16 into a
    w8a16 LSTM, or int8 into the ReLU table; reading a w8a16 LSTM's int16 Y; reading int8
    (--io int8: the input stays int8) it is the int8 Conv."""
    same, causal = model("same"), model("causal")
    for spec in ("w8a16", "/conv/Conv=w4a16"):
        _verify(same, spec)
    c, res = _c(tmp_path, same, "w8a16")
    q = res.graph.quant
    assert q.tensors["x"].dtype == "int16" and q.nodes["/conv/Conv"].x.dtype == "int16"
    assert q.tensors["/conv/Conv_output_0"].dtype == "int16"  # into the w8a16 LSTM
    assert "rnn_conv_a16(" in c and "rnn_conv_s8(" not in c and "rnn_quantize_s16(" in c
    c, res = _c(tmp_path, same, "/conv/Conv=w4a16")
    q = res.graph.quant  # the w8a8 LSTM reads int16 (its int16-input kernel)
    assert q.tensors["x"].dtype == "int16" and q.tensors["/conv/Conv_output_0"].dtype == "int16"
    assert re.search(r"rnn_conv_a16\(&\w+, [^,]+, \w+, 4, ", c), c
    _verify(same, "/conv/Conv=w8a16", io="int8")
    c, res = _c(tmp_path, same, "/conv/Conv=w8a16", io="int8")
    assert res.graph.quant.tensors["x"].dtype == "int8" and "rnn_conv_s8(" in c
    _verify(causal, "/conv/Conv=w4a16,/fc/Gemm=float32", whole_sequence=True)  # int8 out
    c, res = _c(tmp_path, causal, "w8a16", whole_sequence=True)
    assert res.graph.quant.tensors["/conv/Conv_output_0"].dtype == "int8"
    assert re.search(r"rnn_conv_a16\(&\w+, [^,]+, \w+, 8, .*, s->arena[^,]*, NULL, ", c), c
    p = lstm_conv(tmp_path / "lc.onnx")  # the Conv reads the w8a16 LSTM's int16 Y
    _verify(p, "lstm=w8a16,conv=w4a16")
    c, res = _c(tmp_path, p, "w8a16")
    assert res.graph.quant.tensors["yt"].dtype == "int16" and "rnn_conv_a16(" in c
    assert "rnn_dequantize_s16(" in c  # the Conv's int16 output, a model output
    _verify(p, "lstm=w8a16,conv=float32")  # a float32 Conv dequantizes the int16 Y
    c, _ = _c(tmp_path, p, "lstm=w8a16,conv=float32")
    assert re.search(r"rnn_dequantize_s16\([^;]*s->workf\);", c), c


def test_int16_conv_does_not_stream(model, tmp_path):
    """A Conv reading int16 along time would keep int16 frames: refused in one line naming
    it (exit 2, nothing written); --whole-sequence builds it (test_int16_conv)."""
    build_writes_nothing(tmp_path, model("causal"), "--dtype", "int8", "--precision",
                         "/conv/Conv=w8a16",
                         needles=["Conv node '/conv/Conv'", "int16", "--whole-sequence",
                                  "/conv/Conv=w8a8"])


def test_inspect_shows_conv_precision(model):
    p = model("causal")
    for spec, want in (("/conv/Conv=w4a8", "precision w4a8 (weights 72 B as int4)"),
                       ("/conv/Conv=float32", "precision float32 (weights 576 B as float32)")):
        r = rnngen("inspect", str(p), "--precision", spec)
        assert r.returncode == 0, r.stderr
        line = next(ln for ln in r.stdout.splitlines() if ln.strip().startswith("Conv"))
        assert want in line, line
    j = json.loads(rnngen("inspect", str(p), "--precision", "/conv/Conv=w4a8", "--json").stdout)
    conv = next(lay for lay in j["layers"] if lay["node"] == "/conv/Conv")
    assert conv["precision"] == "w4a8" and conv["weight_bytes"] == 8 * 9


def test_cost_model(model):
    """The cost model takes a plan with a float32, w4a8 or w8a16 Conv: the float32 Conv's
    features under FLOAT_PREFIX (at the board's float32 coefficients), the prediction
    positive."""
    for name, spec in (("valid", "/conv1/Conv=float32,/conv2/Conv=w4a8"), ("valid", "w4a8"),
                       ("same", "w8a16")):
        g = driver.compile_graph(model(name), driver.BuildOptions(
            dtype="int8", target="cortex-m4", precision=precision.parse(spec)))
        f = cost.features(g, "cortex-m4")
        assert any(k.startswith(cost.FLOAT_PREFIX) for k in f) is ("float32" in spec)
        assert cost.load("cortex-m4").instructions(g, "int8") > 0
