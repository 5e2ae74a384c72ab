"""Checks of an ONNX model before the converter reads any value (docs/limits.md).

In order: the ai.onnx opset is in rnngen's range; every initializer, sparse initializer and
Constant tensor is consistent (known element type, dims >= 0, data length equal to what
dims and type declare, size under the limits); onnx's checker (node specs: attribute types,
input counts, topological order, which also rules out cycles and dangling inputs); onnx's
strict type and shape inference (element types per operator schema). onnx's messages are
mapped to one line naming the file and the node.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from .. import limits
from ..errors import RnngenError, UnsupportedModel

# element types rnngen reads in initializers (numbers; onnx's data_type codes)
_ITEMSIZE = {1: 4, 2: 1, 3: 1, 4: 2, 5: 2, 6: 4, 7: 8, 9: 1, 10: 2, 11: 8, 12: 4, 13: 8,
             16: 2}
_TYPE_NAMES = {1: "float", 2: "uint8", 3: "int8", 4: "uint16", 5: "int16", 6: "int32",
               7: "int64", 8: "string", 9: "bool", 10: "float16", 11: "double", 12: "uint32",
               13: "uint64", 14: "complex64", 15: "complex128", 16: "bfloat16"}
# the typed field of TensorProto each element type is stored in (without raw_data)
_FIELD = {1: "float_data", 2: "int32_data", 3: "int32_data", 4: "int32_data",
          5: "int32_data", 6: "int32_data", 7: "int64_data", 9: "int32_data",
          10: "int32_data", 11: "double_data", 12: "uint64_data", 13: "uint64_data",
          16: "int32_data"}


def item_size(code: int) -> int:
    return _ITEMSIZE.get(int(code), 0)


def type_name(code: int) -> str:
    return _TYPE_NAMES.get(code, f"unknown type {code}")


def check_tensors(model: Any, path: Path) -> None:
    """The opset and every stored tensor (external data is checked when it is read)."""
    _check_opsets(model, path)
    total = 0
    for t in model.graph.initializer:
        total += check_tensor(t, f"{path}: initializer '{t.name}'", path)
    for sp in model.graph.sparse_initializer:
        where = f"{path}: sparse initializer '{sp.values.name}'"
        limits.check_elements(where, sp.dims, "the sparse tensor")
        total += check_tensor(sp.values, where + " values", path)
        check_tensor(sp.indices, where + " indices", path)
    for idx, node in enumerate(model.graph.node):
        for a in node.attribute:
            if a.type == 4:  # TENSOR: Constant's value, ConstantOfShape's value
                total += check_tensor(a.t, f"{path}: {_node(node, idx)} attribute "
                                           f"'{a.name}'", path)
    if total > limits.MAX_MODEL_ELEMENTS:
        raise RnngenError(f"{path}: the constants hold {total} elements, over rnngen's limit "
                          f"of {limits.MAX_MODEL_ELEMENTS} (docs/limits.md)")


def _node(node: Any, idx: int) -> str:
    return f"{node.op_type} node '{node.name or f'{node.op_type}_{idx}'}'"


def _check_opsets(model: Any, path: Path) -> None:
    versions = [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")]
    hi = limits.max_opset()
    if not versions:
        raise RnngenError(f"{path}: the model imports no ai.onnx opset (opset_import)")
    if len(versions) > 1:
        raise RnngenError(f"{path}: the ai.onnx opset is imported {len(versions)} times")
    v = versions[0]
    if not limits.MIN_OPSET <= v <= hi:
        raise UnsupportedModel(f"{path}: opset {v} is outside the ai.onnx opsets rnngen reads "
                               f"({limits.MIN_OPSET} to {hi})")


def check_tensor(t: Any, where: str, path: Path) -> int:
    """A TensorProto's declared type, dims and data agree; returns its element count."""
    dt = int(t.data_type)
    if dt not in _ITEMSIZE:
        raise UnsupportedModel(f"{where}: element type {type_name(dt)} is not a number type "
                               "rnngen reads")
    n = limits.check_elements(where, t.dims)
    if t.data_location == 1:  # EXTERNAL: checked when the data is read (onnx.py)
        return n
    size = _ITEMSIZE[dt]
    if t.HasField("raw_data"):
        if len(t.raw_data) != n * size:
            raise RnngenError(f"{where}: raw_data has {len(t.raw_data)} bytes, but dims "
                              f"{list(t.dims)} of {type_name(dt)} need {n * size}")
        return n
    fields = [f.name for f, v in t.ListFields() if f.name.endswith("_data") and v]
    if fields and fields != [_FIELD[dt]]:
        raise RnngenError(f"{where}: {type_name(dt)} data is stored in {', '.join(fields)}, "
                          f"expected {_FIELD[dt]}")
    have = len(getattr(t, _FIELD[dt]))
    if have != n:
        raise RnngenError(f"{where}: {have} values stored, but dims {list(t.dims)} declare {n}")
    return n


_CONTEXT = re.compile(r"Bad node spec for node\. Name: (.*?) OpType: (\S+)")
_INFER = re.compile(r"\(op_type:(\w+)(?:, node name: ([^)]*))?\): (.*)")
_TOPO = re.compile(r"input '(.*?)' of node:\s*name: (.*?) OpType: (\S+)", re.S)


def _one_line(text: str) -> str:
    return " ".join(text.split())[:300]


class InferenceFailure(RnngenError):
    """onnx's inference refused the model; `nodes`: the names of the nodes it names."""

    def __init__(self, msg: str, nodes: set[str]):
        super().__init__(msg)
        self.nodes = nodes


class _Dense:
    """Sparse initializers declared as dense graph inputs while onnx looks at the graph:
    onnxruntime and rnngen read them as dense tensors (rnngen checks their indices itself,
    naming the recurrent node's block); onnx's inference types them sparse_tensor, which no
    operator takes. Inputs and outputs without a shape get an empty one for the checker."""

    def __init__(self, model: Any, shapes: bool):
        self.g = model.graph
        self.shapes = shapes

    def __enter__(self) -> None:
        import onnx

        g = self.g
        self.sparse = list(g.sparse_initializer)
        self.n_in = len(g.input)
        for sp in self.sparse:
            g.input.append(onnx.helper.make_tensor_value_info(
                sp.values.name, sp.values.data_type, list(sp.dims)))
        g.ClearField("sparse_initializer")
        self.unshaped = []
        if self.shapes:
            self.unshaped = [vi.type.tensor_type for vi in list(g.input) + list(g.output) +
                             list(g.value_info) if vi.type.HasField("tensor_type") and
                             not vi.type.tensor_type.HasField("shape")]
        for tt in self.unshaped:
            tt.shape.CopyFrom(onnx.TensorShapeProto())

    def __exit__(self, *exc: object) -> None:
        for tt in self.unshaped:
            tt.ClearField("shape")
        del self.g.input[self.n_in:]
        self.g.sparse_initializer.extend(self.sparse)


def check_graph(model: Any, path: Path) -> None:
    """onnx's checker: node specs (attribute types, input and output counts), names,
    topological order (no cycles, no dangling inputs)."""
    import onnx

    with _Dense(model, shapes=True):
        try:
            onnx.checker.check_model(model)
        except (onnx.checker.ValidationError, ValueError, TypeError) as e:
            raise RnngenError(f"{path}: {_describe(str(e))}") from None


def infer_shapes(model: Any, path: Path) -> dict[str, tuple[int, ...]]:
    """onnx's strict type and shape inference (element types per operator schema, shapes
    against attributes); returns the static shapes it found, by tensor name."""
    import onnx

    with _Dense(model, shapes=False):
        try:
            inferred = onnx.shape_inference.infer_shapes(model, check_type=True,
                                                         strict_mode=True, data_prop=True)
        except (onnx.shape_inference.InferenceError, ValueError, TypeError) as e:
            nodes = set()
            for line in str(e).splitlines():
                m = _INFER.search(line)
                if m:
                    nodes.add(m.group(2) or "")
            raise InferenceFailure(f"{path}: {_describe(str(e))}", nodes) from None
    shapes = {}
    for vi in list(inferred.graph.value_info) + list(inferred.graph.output):
        tt = vi.type.tensor_type
        if tt.HasField("shape") and all(d.HasField("dim_value") for d in tt.shape.dim):
            shapes[vi.name] = tuple(int(d.dim_value) for d in tt.shape.dim)
    return shapes


def _describe(msg: str) -> str:
    """onnx's checker and inference messages as one line naming the node."""
    m = _TOPO.search(msg)
    if m:
        return (f"{m.group(3)} node '{m.group(2).strip()}' reads '{m.group(1)}', which no "
                "earlier node computes (a cycle, a dangling input or nodes out of order)")
    first = msg.strip().split("\n\n==>")[0]
    m = _CONTEXT.search(msg)
    if m:
        return f"{m.group(2)} node '{m.group(1)}': {_one_line(first)}"
    for line in msg.splitlines():
        m = _INFER.search(line)
        if m:
            rest = re.sub(r"^\[\w+\]\s*", "", m.group(3))
            node = f"node '{m.group(2)}'" if m.group(2) else "node (unnamed)"
            return f"{m.group(1)} {node}: {_one_line(rest)}"
    first = re.sub(r"^\[\w+\]\s*(Inference error\(s\):\s*)?", "", first)
    return f"invalid ONNX model: {_one_line(first)}"
