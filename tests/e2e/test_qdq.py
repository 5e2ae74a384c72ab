"""QDQ models (issue 12, item 4): an LSTM + Linear quantized by onnxruntime's quantize_static
(QuantFormat.QDQ). The float build computes the float model; the int8 build uses the model's
own activation scales and zero points and its own int8 Linear weights, and its C output is
within one quantization step of onnxruntime's output on the same QDQ model."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings

import numpy as np
import onnx
import onnx.helper as oh
import pytest

import torch
from onnxruntime.quantization import (CalibrationDataReader, QuantFormat, QuantType,
                                      quantize_static)

import onnxruntime as ort
from rnngen import pipeline, quant
from rnngen.errors import RnngenError


class LstmLinear(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = torch.nn.LSTM(6, 16, batch_first=True)
        self.fc = torch.nn.Linear(16, 4)

    def forward(self, x):
        y, _ = self.lstm(x)
        return self.fc(y)


SHAPE = (1, 9, 6)


class _Reader(CalibrationDataReader):
    def __init__(self, xs):
        self.it = iter([{"x": x} for x in xs])

    def get_next(self):
        return next(self.it, None)


def _models(tmp_path, fmt=QuantFormat.QDQ, act=QuantType.QInt8, per_channel=False):
    torch.manual_seed(0)
    m = LstmLinear().eval()
    f = tmp_path / "f.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(m, (torch.randn(*SHAPE),), str(f), dynamo=False, input_names=["x"],
                          output_names=["y"])
    rng = np.random.default_rng(0)
    cal = rng.standard_normal((16, *SHAPE)).astype(np.float32)
    np.save(tmp_path / "cal.npy", cal)  # the same data for onnxruntime's and rnngen's ranges
    q = tmp_path / "q.onnx"
    quantize_static(str(f), str(q), _Reader(list(cal)), quant_format=fmt, activation_type=act,
                    weight_type=QuantType.QInt8, per_channel=per_channel)
    return f, q


def _init(model, name):
    return next(onnx.numpy_helper.to_array(t) for t in model.graph.initializer
                if t.name == name)


def _verify(*args):
    return subprocess.run([sys.executable, "-m", "rnngen.cli", "verify", *args, "--json"],
                          capture_output=True, text=True)


SETTINGS = [pytest.param(QuantType.QInt8, False, id="qint8-per-tensor"),
            pytest.param(QuantType.QUInt8, True, id="quint8-per-channel")]


@pytest.mark.parametrize("board", ["host", pytest.param("cortex-m4", marks=pytest.mark.qemu)])
@pytest.mark.parametrize("act,per_channel", SETTINGS)
def test_qdq_int8_within_one_step_of_onnxruntime(tmp_path, act, per_channel, board):
    f, q = _models(tmp_path, act=act, per_channel=per_channel)
    x = np.random.default_rng(7).standard_normal(SHAPE).astype(np.float32)
    y_ort = ort.InferenceSession(str(q)).run(None, {"x": x})[0]
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y_ort)
    qm = onnx.load(str(q))
    scale = float(_init(qm, "y_scale"))
    zp = int(_init(qm, "y_zero_point"))
    # the model's own parameters are used: the output's, and the Linear's int8 weights
    g = pipeline.compile_model(q, pipeline.Options(dtype="int8",
                                                   calibrate=str(tmp_path / "cal.npy")))
    assert g.quant.tensors["y"] == quant.QParams(scale, zp if act == QuantType.QInt8
                                                 else zp - 128)
    wq = next(_init(qm, t.name) for t in qm.graph.initializer
              if t.name.endswith("_quantized") and "MatMul" in t.name)
    lin = next(v for k, v in g.quant.nodes.items() if isinstance(v, quant.QLinear))
    np.testing.assert_array_equal(lin.w.w, wq.T)
    cal = ["--dtype", "int8", "--calibrate", str(tmp_path / "cal.npy"), "--target", board,
           "--input", str(tmp_path / "x.npy")]
    # the C equals rnngen's integer reference bit for bit
    r = _verify(str(q), *cal)
    assert r.returncode == 0, r.stdout + r.stderr
    assert json.loads(r.stdout)["atol"] == 0.0
    # and is within one step of the output's scale of onnxruntime on the QDQ model
    r = _verify(str(q), *cal, "--expect", str(tmp_path / "y.npy"), "--atol",
                repr(scale * 1.0001), "--rtol", "0")
    assert r.returncode == 0, r.stdout + r.stderr
    rep = json.loads(r.stdout)
    assert rep["passed"] and rep["max_abs_err"] <= scale * 1.0001, rep


def test_qdq_float_build_is_the_float_model(tmp_path):
    """Weight DequantizeLinear folds, activation pairs are read as parameters: the float
    build computes the float model whose weights are the dequantized int8 ones."""
    f, q = _models(tmp_path)
    x = np.random.default_rng(3).standard_normal(SHAPE).astype(np.float32)
    # the float model with the QDQ model's (dequantized) weights: the QDQ model, pairs removed
    qm = onnx.load(str(q))
    keep = [n for n in qm.graph.node if not (n.op_type in ("QuantizeLinear", "DequantizeLinear")
                                             and n.input[0] not in
                                             {t.name for t in qm.graph.initializer})]
    rename = {}
    for n in qm.graph.node:
        if n.op_type == "DequantizeLinear" and n not in keep:
            rename[n.output[0]] = None
    for n in qm.graph.node:
        if n.op_type == "QuantizeLinear" and n not in keep:
            for d in qm.graph.node:
                if d.op_type == "DequantizeLinear" and d.input[0] == n.output[0]:
                    rename[d.output[0]] = n.input[0]
    for n in keep:
        for i, name in enumerate(n.input):
            n.input[i] = rename.get(name) or name
    out_src = rename["y"]
    keep.append(oh.make_node("Identity", [out_src], ["y"]))
    del qm.graph.node[:]
    qm.graph.node.extend(keep)
    so = ort.SessionOptions()  # as written: no fusion of the weights' DequantizeLinear
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    ref = ort.InferenceSession(qm.SerializeToString(), so).run(None, {"x": x})[0]
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", ref)
    r = _verify(str(q), "--input", str(tmp_path / "x.npy"), "--expect", str(tmp_path / "y.npy"),
                "--target", "host")
    assert r.returncode == 0, r.stdout + r.stderr


def test_qoperator_model_is_refused(tmp_path):
    f, q = _models(tmp_path, fmt=QuantFormat.QOperator)
    r = subprocess.run([sys.executable, "-m", "rnngen.cli", "inspect", str(q)],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert "a QOperator-format quantized operator" in r.stderr
    assert "quant_format=QuantFormat.QDQ" in r.stderr


def test_quantized_tensor_read_by_another_op_is_refused(tmp_path):
    f, q = _models(tmp_path)
    m = onnx.load(str(q))
    qn = next(n for n in m.graph.node if n.op_type == "QuantizeLinear")
    m.graph.node.append(oh.make_node("Cast", [qn.output[0]], ["as_float"], to=1, name="c"))
    m.graph.output.append(oh.make_tensor_value_info("as_float", onnx.TensorProto.FLOAT, None))
    onnx.save(m, str(tmp_path / "bad.onnx"))
    with pytest.raises(RnngenError, match=r"is read by Cast node 'c', not by a "
                                          r"DequantizeLinear; rnngen reads QDQ models"):
        pipeline.compile_model(tmp_path / "bad.onnx", pipeline.Options())
