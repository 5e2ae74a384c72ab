"""frontends/onnx_index_wrap.py: an exporter's negative-index wrap in front of an embedding
Gather (Keras 3: `ids < 0 ? ids + rows : ids`, as Where or as tf2onnx's Cast/Mul/Add
select) is ONNX Gather's own rule and is dropped; checked against onnxruntime running the
graph as written, on negative and positive ids. A select that is not that wrap stays (and
is refused, naming its integer Cast: rnngen computes run-time tensors in float32)."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from rnngen import ir, pipeline, reference
from rnngen.errors import RnngenError

V, D, T, H = 7, 3, 5, 4


def _model(form: str, rows_const: int = V) -> onnx.ModelProto:
    rng = np.random.default_rng(3)
    init = [numpy_helper.from_array(rng.uniform(-1, 1, (V, D)).astype(np.float32), "table"),
            numpy_helper.from_array(np.array(rows_const, np.int64), "rows"),
            numpy_helper.from_array(np.array(0.0, np.float32), "zero"),
            numpy_helper.from_array(np.array([1], np.int64), "one"),
            numpy_helper.from_array(rng.uniform(-.5, .5, (1, 4 * H, D)).astype(np.float32), "W"),
            numpy_helper.from_array(rng.uniform(-.5, .5, (1, 4 * H, H)).astype(np.float32), "R")]
    nodes = [helper.make_node("Cast", ["x"], ["ids"], to=TensorProto.INT64),
             helper.make_node("Add", ["ids", "rows"], ["plus"]),
             helper.make_node("Cast", ["ids"], ["idsf"], to=TensorProto.FLOAT),
             helper.make_node("Less", ["idsf", "zero"], ["neg"])]
    if form == "where":
        nodes.append(helper.make_node("Where", ["neg", "plus", "ids"], ["sel"]))
    else:  # tf2onnx's SelectV2 on integers: Cast(cond) * a + b * Cast(Not(cond))
        nodes += [helper.make_node("Not", ["neg"], ["pos"]),
                  helper.make_node("Cast", ["pos"], ["posi"], to=TensorProto.INT64),
                  helper.make_node("Mul", ["ids", "posi"], ["kept"]),
                  helper.make_node("Cast", ["neg"], ["negi"], to=TensorProto.INT64),
                  helper.make_node("Mul", ["negi", "plus"], ["added"]),
                  helper.make_node("Add", ["added", "kept"], ["sel"])]
    nodes += [helper.make_node("Gather", ["table", "sel"], ["emb"], name="lookup"),
              helper.make_node("Transpose", ["emb"], ["xt"], perm=[1, 0, 2]),
              helper.make_node("LSTM", ["xt", "W", "R"], ["Y"], hidden_size=H),
              helper.make_node("Squeeze", ["Y", "one"], ["y"])]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                                     [1, T])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [T, 1, H])], init)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    return m


@pytest.mark.parametrize("form", ["where", "arith"])
def test_wrap_is_dropped_and_matches_onnxruntime(tmp_path, form):
    path = tmp_path / f"{form}.onnx"
    onnx.save(_model(form), path)
    g = pipeline.compile_model(path, pipeline.Options())
    assert g.input_ids and any(isinstance(n, ir.Embedding) for n in g.nodes)
    assert any("negative-index wrap" in n and "'lookup'" in n for n in g.notes), g.notes
    sess = ort.InferenceSession(path.read_bytes(), providers=["CPUExecutionProvider"])
    for ids in ([[0, 1, 2, 3, 6]], [[-1, -7, 4, -3, 0]]):  # negative ids: counted from the end
        x = np.array(ids, np.float32)
        want = sess.run(None, {"x": x})[0]
        got = reference.Executor(g).run(x)["y"].reshape(want.shape)
        np.testing.assert_allclose(got, want, atol=1e-6)


def test_a_select_that_is_not_the_wrap_stays(tmp_path):
    path = tmp_path / "other.onnx"
    onnx.save(_model("where", rows_const=V + 1), path)  # ids + 8 on a table of 7 rows
    with pytest.raises(RnngenError, match="Cast node 'Cast_0'"):
        pipeline.compile_model(path, pipeline.Options())
