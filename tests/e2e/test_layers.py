"""The layers around recurrent ones (issue 11): each operator through rnngen's reference and
the generated C (host), against onnxruntime; the BatchNormalization fold; the refusals."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from rnngen import driver, ir, pipeline, reference
from rnngen.frontends import load
from tests import models

F32 = np.float32
rng = np.random.default_rng(11)


def _c(name, arr):
    return numpy_helper.from_array(np.asarray(arr), name)


def _w(*shape, scale=0.5):
    return (rng.standard_normal(shape) * scale).astype(F32)


def N(op, ins, outs, **kw):
    return helper.make_node(op, ins, outs, name=f"{op.lower()}_{outs[0]}", **kw)


def _model(nodes, inits, in_shape, opset=17):
    g = helper.make_graph(nodes, "layers",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, in_shape)],
                          [helper.make_tensor_value_info("out", TensorProto.FLOAT, None)], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])


# name -> (nodes, initializers, input shape, opset)
CASES = {
    "conv1d_stride_pad_dilation": (
        [N("Conv", ["x", "W", "B"], ["out"], strides=[2], pads=[2, 1], dilations=[2])],
        [_c("W", _w(6, 5, 3)), _c("B", _w(6))], [1, 5, 17], 17),
    "conv1d_groups_no_bias": (
        [N("Conv", ["x", "W"], ["out"], group=3, kernel_shape=[4])],
        [_c("W", _w(6, 2, 4))], [1, 6, 12], 17),
    "conv2d_depthwise_same_upper": (
        [N("Conv", ["x", "W", "B"], ["out"], group=4, auto_pad="SAME_UPPER", strides=[2, 1])],
        [_c("W", _w(4, 1, 3, 2)), _c("B", _w(4))], [1, 4, 9, 8], 17),
    "conv2d_same_lower_strided": (
        [N("Conv", ["x", "W"], ["out"], auto_pad="SAME_LOWER", strides=[2, 3])],
        [_c("W", _w(3, 2, 2, 3))], [1, 2, 7, 10], 17),
    "conv2d_valid_relu_maxpool": (
        [N("Conv", ["x", "W", "B"], ["c"], auto_pad="VALID"), N("Relu", ["c"], ["r"]),
         N("MaxPool", ["r"], ["out"], kernel_shape=[2, 2], strides=[2, 2], pads=[1, 0, 0, 1])],
        [_c("W", _w(5, 3, 3, 3)), _c("B", _w(5))], [1, 3, 11, 9], 17),
    "maxpool1d_dilated_ceil_exact": (
        [N("MaxPool", ["x"], ["out"], kernel_shape=[3], strides=[2], dilations=[2],
           ceil_mode=1)], [], [1, 4, 15], 17),
    "avgpool_exclude_pad": (
        [N("AveragePool", ["x"], ["out"], kernel_shape=[3, 2], strides=[1, 2], pads=[1, 1, 1, 0])],
        [], [1, 3, 6, 7], 17),
    "avgpool_include_pad_1d": (
        [N("AveragePool", ["x"], ["out"], kernel_shape=[4], strides=[3], pads=[2, 2],
           count_include_pad=1)], [], [1, 3, 14], 17),
    "global_pools": (
        [N("GlobalAveragePool", ["x"], ["a"]), N("GlobalMaxPool", ["x"], ["b"]),
         N("Add", ["a", "b"], ["out"])], [], [1, 4, 5, 6], 17),
    "reducemean_opset13_attr": (
        [N("ReduceMean", ["x"], ["out"], axes=[1], keepdims=0)], [], [1, 7, 5], 13),
    "reducemean_opset18_input": (
        [N("ReduceMean", ["x", "ax"], ["out"], keepdims=1)], [_c("ax", np.array([-1]))],
        [1, 7, 5], 18),
    "reducemax_middle_axis_keepdims": (
        [N("ReduceMax", ["x"], ["out"], axes=[1], keepdims=1)], [], [1, 6, 4], 13),
    "reducesum_opset13_input_two_axes": (
        [N("ReduceSum", ["x", "ax"], ["out"], keepdims=0)], [_c("ax", np.array([1, 2]))],
        [1, 4, 3, 5], 13),
    "reducemax_split_axes_all_default": (
        [N("ReduceMax", ["x"], ["m"], axes=[1, 3], keepdims=0),
         N("ReduceSum", ["m"], ["out"])], [], [1, 4, 3, 5], 13),
    "layernorm_last_axis": (
        [N("LayerNormalization", ["x", "S", "B"], ["out"], epsilon=1e-3)],
        [_c("S", _w(6) + 1), _c("B", _w(6))], [1, 9, 6], 17),
    "layernorm_two_axes_no_bias": (
        [N("LayerNormalization", ["x", "S"], ["out"], axis=1)],
        [_c("S", _w(4, 5) + 1)], [1, 4, 5], 17),
    "instancenorm_2d": (
        [N("InstanceNormalization", ["x", "g", "b"], ["out"], epsilon=1e-4)],
        [_c("g", _w(3) + 1), _c("b", _w(3))], [1, 3, 4, 5], 17),
    "batchnorm_standalone": (
        [N("BatchNormalization", ["x", "g", "b", "m", "v"], ["out"], epsilon=1e-3)],
        [_c("g", _w(5) + 1), _c("b", _w(5)), _c("m", _w(5)),
         _c("v", rng.uniform(0.5, 2, 5).astype(F32))], [1, 5, 8], 17),
    "conv_batchnorm_folded": (
        [N("Conv", ["x", "W"], ["c"], pads=[1, 1]),
         N("BatchNormalization", ["c", "g", "b", "m", "v"], ["out"])],
        [_c("W", _w(4, 3, 3)), _c("g", _w(4) + 1), _c("b", _w(4)), _c("m", _w(4)),
         _c("v", rng.uniform(0.5, 2, 4).astype(F32))], [1, 3, 10], 17),
    "gemm_batchnorm_folded": (
        [N("Flatten", ["x"], ["f"]), N("Gemm", ["f", "W", "B"], ["y"], transB=1),
         N("BatchNormalization", ["y", "g", "b", "m", "v"], ["out"])],
        [_c("W", _w(6, 12)), _c("B", _w(6)), _c("g", _w(6) + 1), _c("b", _w(6)),
         _c("m", _w(6)), _c("v", rng.uniform(0.5, 2, 6).astype(F32))], [1, 3, 4], 17),
    "pad_constant_value": (
        [N("Pad", ["x", "p", "v"], ["out"], mode="constant")],
        [_c("p", np.array([0, 1, 2, 0, 0, 3])), _c("v", np.array(0.25, F32))], [1, 3, 4], 17),
    "pad_opset18_axes_then_conv": (
        [N("Pad", ["x", "p", "", "ax"], ["q"]), N("Conv", ["q", "W"], ["out"])],
        [_c("p", np.array([4, 0])), _c("ax", np.array([2])), _c("W", _w(3, 2, 5))],
        [1, 2, 9], 18),
    "clip_relu6_hardswish": (
        [N("Clip", ["x", "lo", "hi"], ["c"]), N("HardSwish", ["c"], ["h"]),
         N("Clip", ["h", "", "hi2"], ["out"])],
        [_c("lo", np.array(-2.5, F32)), _c("hi", np.array(6.0, F32)),
         _c("hi2", np.array(1.5, F32))], [1, 4, 9], 17),
    "expand_runtime_tensor": (
        [N("ReduceMean", ["x"], ["m"], axes=[2]), N("Expand", ["m", "s"], ["e"]),
         N("Sub", ["x", "e"], ["out"])], [_c("s", np.array([2, 1, 1, 6]))], [1, 4, 6], 17),
    "clip_opset7_attributes": (
        [N("Clip", ["x"], ["out"], min=-0.5, max=0.25)], [], [1, 4, 9], 7),
}


def _input(shape):
    return np.random.default_rng(1).uniform(-3, 3, shape).astype(F32)


# The cases whose C is compiled and run here too (one or two per kernel and option; every
# layer's C also runs in tests/e2e/test_c_safety.py's layers model, against the reference
# checked here): the others are checked through the reference only, to keep the tier fast.
C_CASES = {"conv1d_stride_pad_dilation", "conv2d_depthwise_same_upper", "conv1d_groups_no_bias",
           "conv2d_valid_relu_maxpool", "maxpool1d_dilated_ceil_exact", "avgpool_exclude_pad",
           "avgpool_include_pad_1d", "reducesum_opset13_input_two_axes",
           "reducemax_split_axes_all_default", "layernorm_two_axes_no_bias", "instancenorm_2d",
           "batchnorm_standalone", "gemm_batchnorm_folded", "pad_constant_value",
           "clip_relu6_hardswish", "expand_runtime_tensor"}


@pytest.mark.parametrize("name", list(CASES))
def test_layer_reference_and_c_match_onnxruntime(name, tmp_path):
    nodes, inits, shape, opset = CASES[name]
    m = _model(nodes, inits, shape, opset)
    p = tmp_path / f"{name}.onnx"
    onnx.save(m, p)
    x = _input(shape)
    want, who = models.oracle(m, x)
    assert who == "onnxruntime"
    got = reference.run(load(p), x)
    np.testing.assert_allclose(got["out"], want["out"], rtol=1e-5, atol=1e-5)
    if name not in C_CASES:
        return
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "want.npy", want["out"])
    res = driver.verify(p, driver.BuildOptions(input=str(tmp_path / "x.npy"),
                                               expect=str(tmp_path / "want.npy")))
    assert res.passed, res.output


def _compiled(name, tmp_path):
    nodes, inits, shape, opset = CASES[name]
    p = tmp_path / f"{name}.onnx"
    onnx.save(_model(nodes, inits, shape, opset), p)
    return pipeline.compile_model(p, pipeline.Options())


@pytest.mark.parametrize("name,kind", [("conv_batchnorm_folded", ir.Conv),
                                       ("gemm_batchnorm_folded", ir.Linear)])
def test_batchnorm_is_folded_into_the_layer_before(name, kind, tmp_path):
    g = _compiled(name, tmp_path)
    ops = [type(n) for n in g.nodes]
    assert ir.ChannelAffine not in ops and kind in ops, ops


def test_batchnorm_alone_stays_a_node(tmp_path):
    g = _compiled("batchnorm_standalone", tmp_path)
    assert [type(n) for n in g.nodes] == [ir.ChannelAffine]


# ------------------------------------------------------------------------- bad input

def _cli(*args):
    return subprocess.run([sys.executable, "-m", "rnngen.cli", *args], capture_output=True,
                          text=True)


BAD = {
    # a Conv whose kernel is a second run-time input: W computed from x
    "dynamic_kernel": ([N("Slice", ["x", "s0", "s1", "ax"], ["k"]),
                        N("Conv", ["x", "k"], ["out"])],
                       [_c("s0", np.array([0])), _c("s1", np.array([3])),
                        _c("ax", np.array([2]))], [1, 1, 8], 17,
                       ("Conv node 'conv_out'", "input W", "run time")),
    "groups_do_not_divide": ([N("Conv", ["x", "W"], ["out"], group=4)],
                             [_c("W", _w(4, 1, 3))], [1, 6, 8], 17,
                             ("Conv node 'conv_out'", "attribute group=4", "6 input channels")),
    "maxpool_ceil_mode": ([N("MaxPool", ["x"], ["out"], kernel_shape=[2], strides=[2],
                             ceil_mode=1)], [], [1, 3, 9], 17,
                          ("MaxPool node 'maxpool_out'", "attribute ceil_mode=1")),
    "lppool": ([N("LpPool", ["x"], ["out"], kernel_shape=[2])], [], [1, 3, 9], 17,
               ("unsupported: LpPool", "'lppool_out'")),
    "pad_reflect": ([N("Pad", ["x", "p"], ["out"], mode="reflect")],
                    [_c("p", np.array([0, 0, 1, 0, 0, 1]))], [1, 3, 9], 17,
                    ("Pad node 'pad_out'", "attribute mode='reflect'")),
    "batchnorm_training_mode": ([N("BatchNormalization", ["x", "g", "b", "m", "v"],
                                   ["out", "rm", "rv"], training_mode=1)],
                                [_c("g", _w(3)), _c("b", _w(3)), _c("m", _w(3)),
                                 _c("v", np.ones(3, F32))], [1, 3, 9], 15,
                                ("BatchNormalization node 'batchnormalization_out'",
                                 "attribute training_mode=1")),
}


@pytest.mark.parametrize("name", list(BAD))
def test_bad_layer_is_one_line_exit_2(name, tmp_path):
    nodes, inits, shape, opset, words = BAD[name]
    p = tmp_path / f"{name}.onnx"
    onnx.save(_model(nodes, inits, shape, opset), p)
    out = tmp_path / "out"
    r = _cli("build", str(p), "-o", str(out))
    assert r.returncode == 2, r.stdout + r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    for w in words:
        assert w in lines[0], lines[0]
    assert str(p) in lines[0]
    assert not out.exists()


_TABLE = _c("table", _w(10, 4))
_IDS64 = helper.make_tensor_value_info("ids", TensorProto.INT64, [1, 5])
# Gather on run-time indices is an embedding lookup (tests/e2e/test_embedding.py): the forms
# rnngen does not compile are refused naming the node and the input or attribute at fault
BAD_GATHER = {
    "runtime_table": ([N("Gather", ["x", "ids"], ["out"])], [],
                      [helper.make_tensor_value_info("x", TensorProto.FLOAT, [10, 4]), _IDS64],
                      ("Gather node 'gather_out'", "input data ('x')",
                       "must be an initializer")),
    "float_indices": ([N("Gather", ["table", "ids"], ["out"])], [_TABLE],
                      [helper.make_tensor_value_info("ids", TensorProto.FLOAT, [1, 5])],
                      ("Gather node 'gather_out'", "indices", "tensor(float)")),
    "computed_float_indices": ([N("Relu", ["x"], ["r"]), N("Gather", ["table", "r"], ["out"])],
                               [_TABLE],
                               [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 5])],
                               ("Gather node 'gather_out'", "indices", "tensor(float)")),
    "ids_read_as_values": ([N("Gather", ["table", "ids"], ["e"]),
                            N("Cast", ["ids"], ["f"], to=TensorProto.FLOAT),
                            N("Unsqueeze", ["f", "ax"], ["fu"]), N("Add", ["e", "fu"], ["out"])],
                           [_TABLE, _c("ax", np.array([2]))], [_IDS64],
                           ("Cast node 'cast_f'", "reads the token ids input 'ids'",
                            "only as the indices of an embedding Gather")),
    "rows_on_axis_1": ([N("Gather", ["table", "ids"], ["out"], axis=1)], [_c("table", _w(4, 10))],
                       [_IDS64], ("Gather node 'gather_out'", "attribute axis=1",
                                  "reads rows (axis 0) of a 2-D table")),
    "table_3d": ([N("Gather", ["table", "ids"], ["out"])], [_c("table", _w(10, 4, 2))],
                 [_IDS64], ("Gather node 'gather_out'", "table of shape [10, 4, 2]")),
}


def _assert_bad_build(p, tmp_path, words):
    out = tmp_path / "out"
    r = _cli("build", str(p), "-o", str(out))
    assert r.returncode == 2, r.stdout + r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    assert lines[0].startswith(f"rnngen: error: {p}: "), lines[0]
    for w in words:
        assert w in lines[0], lines[0]
    assert not out.exists()


@pytest.mark.parametrize("name", list(BAD_GATHER))
def test_bad_gather_is_one_line_exit_2(name, tmp_path):
    nodes, inits, inputs, words = BAD_GATHER[name]
    g = helper.make_graph(nodes, "gather", inputs,
                          [helper.make_tensor_value_info("out", TensorProto.FLOAT, None)], inits)
    p = tmp_path / f"{name}.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), p)
    _assert_bad_build(p, tmp_path, words)


# int8 normalizations rnn_layer_norm_s8 cannot hold: each refused with the node named
INT8_BAD_NORM = {
    # blocks of more than 32768 values (the int32 sum of squares)
    "InstanceNormalization": (
        [N("InstanceNormalization", ["x", "g", "b"], ["out"])],
        [_c("g", np.ones(2, F32)), _c("b", np.zeros(2, F32))], [1, 2, 40000],
        "blocks of 40000 values"),
    # an epsilon that drowns every variance the input's scale can express
    "LayerNormalization": (
        [N("LayerNormalization", ["x", "S"], ["out"], epsilon=1e12)],
        [_c("S", np.ones(6, F32))], [1, 3, 6], "epsilon"),
}


@pytest.mark.parametrize("op", list(INT8_BAD_NORM))
def test_int8_refusals_name_the_node(tmp_path, op):
    nodes, inits, shape, words = INT8_BAD_NORM[op]
    p = tmp_path / "c.onnx"
    onnx.save(_model(nodes, inits, shape), p)
    r = _cli("build", str(p), "-o", str(tmp_path / "out"), "--dtype", "int8")
    assert r.returncode == 2, r.stdout + r.stderr
    assert r.stderr.count("\n") == 1 and f"{op} node '{op.lower()}_out'" in r.stderr and \
        words in r.stderr, r.stderr
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------------- int8 Conv

INT8_CONV = ["conv1d_stride_pad_dilation", "conv1d_groups_no_bias",
             "conv2d_depthwise_same_upper", "conv2d_same_lower_strided", "conv_batchnorm_folded",
             # int8 MaxPool (the output keeps the input's quantization: exact)
             "conv2d_valid_relu_maxpool", "maxpool1d_dilated_ceil_exact",
             # int8 AveragePool (the input's quantization, CMSIS-NN rounding)
             "avgpool_exclude_pad", "avgpool_include_pad_1d",
             # int8 ReduceMean / ReduceMax (GlobalAveragePool / GlobalMaxPool)
             "reducemean_opset13_attr", "reducemean_opset18_input",
             "reducemax_middle_axis_keepdims",
             # Clip / Relu6 / HardSwish: int8 tables of the activation (QLut8)
             "clip_relu6_hardswish", "clip_opset7_attributes",
             # a standalone BatchNormalization (a depthwise 1x1 convolution) and Pad (the
             # input's quantization, the pad value's integer)
             "batchnorm_standalone", "pad_constant_value", "pad_opset18_axes_then_conv",
             # int8 ReduceSum: the sum requantized to the output's own scale
             "reducesum_opset13_input_two_axes",
             # int8 LayerNormalization / InstanceNormalization (rnn_layer_norm_s8; the
             # instance norm's per-channel scale and shift is rnn_scale_shift_s8)
             "layernorm_last_axis", "layernorm_two_axes_no_bias", "instancenorm_2d"]


@pytest.mark.parametrize("name", INT8_CONV)
def test_int8_conv_c_equals_the_integer_reference(name, tmp_path):
    """The int8 Conv (per-output-channel weights, the zero point subtracted tap by tap):
    the C equals the integer reference bit for bit (atol 0), and the integer reference
    stays within a few output steps of onnxruntime's float result."""
    nodes, inits, shape, opset = CASES[name]
    m = _model(nodes, inits, shape, opset)
    p = tmp_path / f"{name}.onnx"
    onnx.save(m, p)
    cal = np.random.default_rng(3).uniform(-3, 3, (8, *shape)).astype(F32)
    np.save(tmp_path / "cal.npy", cal)
    o = driver.BuildOptions(dtype="int8", calibrate=str(tmp_path / "cal.npy"))
    res = driver.verify(p, o)
    assert res.passed and res.report["atol"] == 0.0 and res.report["dtype"] == "int8", \
        res.output
    g = pipeline.compile_model(p, pipeline.Options(dtype="int8",
                                                   calibrate=str(tmp_path / "cal.npy")))
    x = cal[5]  # inside the calibrated ranges: no saturation
    want, _ = models.oracle(m, x)
    got = reference.Executor(g, dtype="int8").run(x)["out"]
    step = g.quant.tensors["out"].scale
    assert np.max(np.abs(got - want["out"])) <= 4 * step + 0.02 * np.max(np.abs(want["out"]))


# ------------------------------------------------------------------------- random sweep

def _random_window_case(r: np.random.Generator):
    """A random Conv or pool (1-D or 2-D; strides, pads or auto_pad, dilations, groups)."""
    k = int(r.integers(1, 3))
    C = int(r.choice([1, 2, 3, 4, 6]))
    sp = [int(r.integers(3, 12)) for _ in range(k)]
    kern = [int(r.integers(1, 4)) for _ in range(k)]
    attrs = {"strides": [int(r.integers(1, 4)) for _ in range(k)]}
    op = str(r.choice(["Conv", "Conv", "MaxPool", "AveragePool"]))
    if r.random() < 0.3 and op != "AveragePool":
        attrs["dilations"] = [int(r.integers(1, 3)) for _ in range(k)]
    if r.random() < 0.3:
        attrs["auto_pad"] = str(r.choice(["VALID", "SAME_UPPER", "SAME_LOWER"]))
        attrs.pop("dilations", None)  # onnxruntime: no dilation with SAME
    else:
        attrs["pads"] = [int(r.integers(0, kern[i % k])) for i in range(2 * k)]
    inits = []
    ins = ["x"]
    if op == "Conv":
        G = int(r.choice([g for g in (1, 2, 3, C) if C % g == 0]))
        M = G * int(r.integers(1, 3))
        attrs["group"] = G
        inits = [_c("W", _w(M, C // G, *kern))]
        ins.append("W")
        if r.random() < 0.5:
            inits.append(_c("B", _w(M)))
            ins.append("B")
    else:
        attrs["kernel_shape"] = kern
        if op == "AveragePool":
            attrs["count_include_pad"] = int(r.integers(0, 2))
    return [N(op, ins, ["out"], **attrs)], inits, [1, C, *sp], 17


def test_random_windows_match_onnxruntime_or_are_refused(tmp_path):
    """60 random convolutions and pools through the reference: equal to onnxruntime, or
    (where the window does not fit the input) refused with rnngen's one error class."""
    from rnngen.errors import RnngenError

    r = np.random.default_rng(2024)
    compared = 0
    for i in range(60):
        nodes, inits, shape, opset = _random_window_case(r)
        m = _model(nodes, inits, shape, opset)
        p = tmp_path / f"w{i}.onnx"
        onnx.save(m, p)
        x = _input(shape)
        try:
            want, _ = models.oracle(m, x)
        except Exception:  # noqa: BLE001 - onnxruntime refuses it (a window past the input)
            with pytest.raises(RnngenError):
                reference.run(load(p), x)
            continue
        got = reference.run(load(p), x)["out"]
        np.testing.assert_allclose(got, want["out"], rtol=1e-5, atol=1e-5, err_msg=str(nodes))
        compared += 1
    assert compared >= 40
