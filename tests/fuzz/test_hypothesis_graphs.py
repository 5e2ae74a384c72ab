"""hypothesis-generated malformed graphs: random wiring of the ops rnngen lowers or folds,
constants of random shapes and types, attributes in and out of range, opsets 1..99. Each
graph goes through rnngen front to back (tests/fuzz/worker.py); it must end in a named
error or a build whose reference equals onnxruntime (when onnxruntime accepts it).
derandomize=True: the same graphs on every run."""

from __future__ import annotations

import json

import numpy as np
import onnx
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

from tests.fuzz.pool import Pool, failures, tally

EXAMPLES = 400
F32 = np.float32
ELEM = {np.dtype(F32): TensorProto.FLOAT, np.dtype(np.int64): TensorProto.INT64,
        np.dtype(np.float64): TensorProto.DOUBLE, np.dtype(np.int32): TensorProto.INT32}


class _G:
    """A graph under construction; shapes are what the generator believes (often wrong on
    purpose when it draws an odd value)."""

    def __init__(self, draw, opset: int):
        self.draw = draw
        self.opset = opset
        self.nodes: list = []
        self.inits: list = []
        self.shapes: dict[str, tuple[int, ...]] = {}
        self.k = 0

    def name(self, base: str) -> str:
        self.k += 1
        return f"{base}{self.k}"

    def const(self, arr: np.ndarray, base: str = "c") -> str:
        n = self.name(base)
        self.inits.append(numpy_helper.from_array(arr, n))
        return n

    def ints(self, vals) -> str:
        return self.const(np.asarray(vals, np.int64), "i")

    def floats(self, shape) -> str:
        seed = self.draw(st.integers(0, 2**16))
        dtype = self.draw(st.sampled_from([F32] * 8 + [np.float64, np.int64]))
        shape = tuple(max(0, int(d)) for d in shape)
        arr = np.random.default_rng(seed).uniform(-1, 1, shape).astype(dtype)
        return self.const(arr, "w")

    def tensor(self) -> str:
        if self.draw(st.integers(0, 30)) == 0:
            return self.draw(st.sampled_from(["nowhere", ""]))
        return self.draw(st.sampled_from(sorted(self.shapes)))

    def dim(self, good: int) -> int:
        return self.draw(st.sampled_from([good] * 6 + [1, 2, 0, -1]))

    def add(self, op: str, ins: list[str], shape: tuple[int, ...], n_out: int = 1,
            **attrs) -> None:
        outs = [self.name(op.lower()) for _ in range(n_out)]
        self.nodes.append(helper.make_node(op, ins, outs, name=outs[0], **attrs))
        self.shapes[outs[0]] = shape


def _recurrent(g: _G, x: str) -> None:
    s = g.shapes.get(x, (1,))
    cell = g.draw(st.sampled_from(["LSTM", "GRU", "RNN"]))
    G = {"LSTM": 4, "GRU": 3, "RNN": 1}[cell]
    direction = g.draw(st.sampled_from(["forward", "reverse", "bidirectional"]))
    D = 2 if direction == "bidirectional" else 1
    H = g.draw(st.integers(1, 4))
    I = g.dim(s[-1] if s else 1)
    ins = [x, g.floats((D, G * g.dim(H), I)), g.floats((D, G * H, g.dim(H)))]
    if g.draw(st.booleans()):
        ins.append(g.floats((D, 2 * G * g.dim(H))))
    attrs = {"hidden_size": g.dim(H), "direction": direction}
    if g.draw(st.integers(0, 5)) == 0:
        attrs["layout"] = g.draw(st.sampled_from([0, 1, 2]))
    if g.draw(st.integers(0, 5)) == 0:
        attrs["clip"] = g.draw(st.sampled_from([0.5, 3.0, -1.0, 0.0]))
    T = s[0] if len(s) == 3 else 1
    g.add(cell, ins, (T, D, 1, H), n_out=g.draw(st.integers(1, 2)), **attrs)


def _node(g: _G) -> None:
    op = g.draw(st.sampled_from(["rec", "rec", "Gemm", "MatMul", "Add", "Mul", "Relu", "Tanh",
                                 "Softmax", "Transpose", "Reshape", "Squeeze", "Unsqueeze",
                                 "Flatten", "Gather", "Slice", "Concat", "Cast", "Identity",
                                 "ConstantOfShape", "Expand", "Foo"]))
    x = g.tensor()
    s = g.shapes.get(x, (1,))
    r = len(s)
    if op == "rec":
        _recurrent(g, x)
    elif op in ("Gemm", "MatMul"):
        K, N = g.dim(s[-1] if s else 1), g.draw(st.integers(1, 5))
        g.add(op, [x, g.floats((K, N))], tuple(s[:-1]) + (N,))
    elif op in ("Add", "Mul"):
        other = g.floats(tuple(s[-g.draw(st.integers(0, r)):]) if r else ())
        ins = [x, other] if g.draw(st.booleans()) else [other, x]
        g.add(op, ins, s)
    elif op in ("Relu", "Tanh", "Identity"):
        g.add(op, [x], s)
    elif op == "Softmax":
        g.add(op, [x], s, axis=g.draw(st.integers(-r - 1, r)))
    elif op == "Transpose":
        perm = g.draw(st.permutations(list(range(r)))) if g.draw(st.integers(0, 4)) else \
            [0] * r
        g.add(op, [x], tuple(s[p] for p in perm if 0 <= p < r), perm=list(perm))
    elif op == "Reshape":
        n = int(np.prod(s))
        shape = g.draw(st.sampled_from([[n], [-1], [1, -1], [0, -1], [n, 2], [-1, -1], [1, n]]))
        g.add(op, [x, g.ints(shape)], (n,))
    elif op in ("Squeeze", "Unsqueeze"):
        axes = [g.draw(st.integers(-r - 1, r))]
        if g.opset >= 13:
            g.add(op, [x, g.ints(axes)], s)
        else:
            g.add(op, [x], s, axes=axes)
    elif op == "Flatten":
        g.add(op, [x], (int(np.prod(s)),), axis=g.draw(st.integers(-r - 1, r + 1)))
    elif op == "Gather":
        idx = g.draw(st.lists(st.integers(-3, 3), min_size=1, max_size=3))
        g.add(op, [x, g.ints(idx)], s, axis=g.draw(st.integers(-r, r)))
    elif op == "Slice":
        st_, en = g.draw(st.integers(-3, 3)), g.draw(st.integers(-3, 4))
        if g.opset >= 10:
            g.add(op, [x, g.ints([st_]), g.ints([en]), g.ints([g.draw(st.integers(-r, r))])], s)
        else:
            g.add(op, [x], s, starts=[st_], ends=[en])
    elif op == "Concat":
        g.add(op, [x, g.tensor()], s, axis=g.draw(st.integers(-r, r)))
    elif op == "Cast":
        g.add(op, [x], s, to=g.draw(st.sampled_from([1, 1, 7, 11])))
    elif op == "ConstantOfShape":
        dims = g.draw(st.lists(st.sampled_from([1, 2, 3, 10**5, 10**9]), min_size=1,
                               max_size=3))
        g.add(op, [g.ints(dims)], tuple(dims))
    elif op == "Expand":
        g.add(op, [x, g.ints(g.draw(st.lists(st.sampled_from([1, 2, 10**6]), min_size=1,
                                                 max_size=3)))], s)
    else:
        g.add(op, [x], s)


@st.composite
def models(draw) -> bytes:
    opset = draw(st.sampled_from([7, 11, 13, 17, 17, 22, 22, 1, 99]))
    g = _G(draw, opset)
    T, I = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    shape = draw(st.sampled_from([(T, 1, I), (T, 1, I), (1, T, I), (T, I), (T, 2, I)]))
    g.shapes["x"] = shape
    for _ in range(draw(st.integers(1, 5))):
        _node(g)
    produced = [n.output[0] for n in g.nodes]
    outs = draw(st.lists(st.sampled_from(produced + ["x"]), min_size=1, max_size=3,
                         unique=True))
    graph = helper.make_graph(
        g.nodes, "h", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(shape))],
        [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outs], g.inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    return m.SerializeToString()


def test_hypothesis_graphs(tmp_path_factory, record_property):
    work = tmp_path_factory.mktemp("hyp")
    pool = Pool(work / "work")
    results: list[tuple[str, dict]] = []

    @settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck), phases=[Phase.generate, Phase.shrink])
    @given(models())
    def one(data: bytes) -> None:
        p = work / "m.onnx"
        p.write_bytes(data)
        r = pool.run(dict(model=str(p), oracle=True))
        results.append((f"graph {len(results)}", r))
        assert r["status"] in ("named", "built"), (r, onnx.load_from_string(data).graph)

    try:
        one()
    finally:
        left = pool.close()
        counts = tally(results)
        counts["leftover"] += len(left)
        record_property("fuzz", json.dumps(counts))
    assert not left and not failures(results)
