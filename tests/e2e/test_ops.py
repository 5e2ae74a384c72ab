"""Each supported operator around a recurrent layer, through the reference and the C,
against onnxruntime."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from rnngen import driver, reference
from rnngen.frontends import load
from tests import models

F32 = np.float32
T, I, H = 6, 4, 5


def _const(name, arr):
    return numpy_helper.from_array(np.asarray(arr), name)


def _graph(tail_nodes, tail_inits, opset=17, out="out"):
    """x [T,1,I] -> LSTM -> Y [T,1,1,H] -> tail -> out"""
    rng = np.random.default_rng(0)
    inits = [_const("W", (rng.standard_normal((1, 4 * H, I)) * 0.5).astype(F32)),
             _const("R", (rng.standard_normal((1, 4 * H, H)) * 0.5).astype(F32))] + tail_inits
    nodes = [helper.make_node("LSTM", ["x", "W", "R"], ["Y", "Yh"], hidden_size=H,
                              name="lstm")] + tail_nodes
    g = helper.make_graph(nodes, "ops", [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                                       [T, 1, I])],
                          [helper.make_tensor_value_info(out, TensorProto.FLOAT, None)], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])


def N(op, ins, outs, **kw):
    return helper.make_node(op, ins, outs, **kw)


rng = np.random.default_rng(5)
CASES = {
    "gemm_last_step": ([N("Gather", ["Y", "i"], ["g"], axis=0), N("Reshape", ["g", "s"], ["f"]),
                        N("Gemm", ["f", "B", "C"], ["out"], transB=1, alpha=0.5, beta=2.0)],
                       [_const("i", np.array(-1)), _const("s", np.array([1, H])),
                        _const("B", rng.standard_normal((3, H)).astype(F32)),
                        _const("C", rng.standard_normal(3).astype(F32))], 17),
    "matmul_add_softmax": ([N("Squeeze", ["Y", "ax"], ["q"]), N("MatMul", ["q", "B"], ["m"]),
                            N("Add", ["m", "b"], ["a"]), N("Softmax", ["a"], ["out"], axis=-1)],
                           [_const("ax", np.array([1, 2])),
                            _const("B", rng.standard_normal((H, 3)).astype(F32)),
                            _const("b", rng.standard_normal(3).astype(F32))], 17),
    "legacy_softmax_opset11": ([N("Softmax", ["Y"], ["out"], axis=1)], [], 11),
    "logsoftmax": ([N("LogSoftmax", ["Y"], ["out"], axis=3)], [], 17),
    "transpose_relu": ([N("Transpose", ["Y"], ["t"], perm=[3, 0, 2, 1]),
                        N("Relu", ["t"], ["out"])], [], 17),
    "slice_neg_step": ([N("Slice", ["Y", "st", "en", "ax", "sp"], ["out"])],
                       [_const("st", np.array([-1, 4])), _const("en", np.array([-100, 0])),
                        _const("ax", np.array([0, 3])), _const("sp", np.array([-2, -3]))], 17),
    "gather_list": ([N("Gather", ["Y", "idx"], ["out"], axis=3)],
                    [_const("idx", np.array([[4, 0], [2, 2]]))], 17),
    "concat_with_const": ([N("Concat", ["Y", "c", "Y"], ["out"], axis=3)],
                          [_const("c", rng.standard_normal((T, 1, 1, 2)).astype(F32))], 17),
    "binary_broadcast": ([N("Mul", ["Y", "m"], ["a"]), N("Sub", ["k", "a"], ["d"]),
                          N("Div", ["d", "v"], ["out"])],
                         [_const("m", rng.standard_normal((H,)).astype(F32)),
                          _const("k", np.array(0.5, F32)),
                          _const("v", (rng.uniform(1, 2, (T, 1, 1, 1))).astype(F32))], 17),
    "activations": ([N("LeakyRelu", ["Y"], ["a"], alpha=0.2), N("Elu", ["a"], ["b"]),
                     N("HardSigmoid", ["b"], ["c"]), N("Softplus", ["c"], ["d"]),
                     N("Softsign", ["d"], ["e"]), N("Sigmoid", ["e"], ["f"]),
                     N("Tanh", ["f"], ["out"])], [], 17),
    "flatten_unsqueeze_identity": ([N("Flatten", ["Y"], ["f"], axis=2),
                                    N("Unsqueeze", ["f", "ax"], ["u"]),
                                    N("Identity", ["u"], ["out"])],
                                   [_const("ax", np.array([0, -1]))], 17),
    "shape_arithmetic": ([N("Shape", ["Y"], ["sh"]), N("Gather", ["sh", "z"], ["t0"]),
                          N("Unsqueeze", ["t0", "z1"], ["t1"]),
                          N("Concat", ["t1", "m1"], ["ns"], axis=0),
                          N("Reshape", ["Y", "ns"], ["out"])],
                         [_const("z", np.array(0)), _const("z1", np.array([0])),
                          _const("m1", np.array([-1]))], 17),
    "two_outputs_from_dynamic_add": ([N("Add", ["Y", "Y"], ["out"])], [], 17),
}


def _check(name, tmp_path, through_c):
    nodes, inits, opset = CASES[name]
    m = _graph(nodes, inits, opset)
    p = tmp_path / f"{name}.onnx"
    onnx.save(m, p)
    x = np.random.default_rng(1).uniform(-1, 1, (T, 1, I)).astype(F32)
    want, _ = models.oracle(m, x)
    g = load(p)
    got = reference.run(g, x)
    np.testing.assert_allclose(got["out"], want["out"], rtol=1e-5, atol=1e-6)
    if through_c:
        np.save(tmp_path / "x.npy", x)
        np.save(tmp_path / "want.npy", want["out"])
        res = driver.verify(p, driver.BuildOptions(input=str(tmp_path / "x.npy"),
                                                   expect=str(tmp_path / "want.npy")))
        assert res.passed, res.output


@pytest.mark.parametrize("name", list(CASES))
def test_op_reference_and_c(name, tmp_path):
    _check(name, tmp_path, through_c=True)
