"""`rnngen compress` on .onnx models: read the dense W and R of every LSTM/GRU/RNN node
(through frontends/onnx_proto, the frontend's reader), write their factor subgraphs
(docs/compression.md, "In ONNX"; each format's writer in formats/) and check them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from . import cells, formats, ir
from .compress_fit import MatrixResult, _compress_direction_mats, _select
from .errors import RnngenError
from .frontends import onnx_proto

F32 = np.float32
CELLS = ("LSTM", "GRU", "RNN")  # the ONNX operators with W and R inputs



_short = onnx_proto.short


# --------------------------------------------------------------------------- ONNX

class _ConstEval:
    """Values of compile-time tensors of an ONNX graph (initializers, sparse initializers,
    and nodes computing from them, evaluated with onnx's reference operators)."""

    def __init__(self, model: Any, src: Path):
        g = model.graph
        self.model = model
        self.src = src
        self.init = {t.name: t for t in g.initializer}
        self.sparse = {t.values.name: t for t in g.sparse_initializer}
        self.producer = {o: n for n in g.node for o in n.output if o}
        self.cache: dict[str, np.ndarray] = {}

    def value(self, name: str, where: str) -> np.ndarray:
        if name in self.cache:
            return self.cache[name]
        from onnx import numpy_helper

        if name in self.init:
            try:
                arr = numpy_helper.to_array(self.init[name])
            except Exception as e:
                raise RnngenError(f"{self.src}: initializer '{name}' cannot be read "
                                  f"({_short(e)})") from None
        elif name in self.sparse:
            arr = _sparse_to_dense(self.sparse[name], self.src)
        elif name in self.producer:
            arr = self._eval(self.producer[name], name, where)
        else:
            raise RnngenError(f"{where}: '{name}' is computed at run time (from the model "
                              "input); rnngen compresses constant weights")
        self.cache[name] = np.asarray(arr)
        return self.cache[name]

    def _eval(self, node: Any, name: str, where: str) -> np.ndarray:
        vals = {i: self.value(i, where) for i in node.input if i}
        try:
            res = onnx_proto.eval_node(node, vals, self.model.opset_import)
        except Exception as e:
            raise RnngenError(f"{where}: {node.op_type} node '{node.name}' cannot be evaluated "
                              f"at compile time ({_short(e)})") from None
        for o, v in zip([o for o in node.output if o], res):
            self.cache[o] = np.asarray(v)
        return self.cache[name]


def _sparse_to_dense(sp: Any, src: Path) -> np.ndarray:
    return onnx_proto.sparse_to_dense(sp, src)


def _load_onnx(src: Path) -> Any:
    """The model and its external data, read as the frontend reads it (one ONNX reader)."""
    model = onnx_proto.read_model(src)
    if not model.graph.node:
        raise RnngenError(f"{src}: not a readable ONNX model (no nodes)")
    return model


def _opset(model: Any) -> int:
    v = 1
    for o in model.opset_import:
        if o.domain in ("", "ai.onnx"):
            v = int(o.version)
    return v


class _OnnxWriter:
    """Builds the factor subgraphs of docs/compression.md ("In ONNX")."""

    def __init__(self, model: Any, opset: int):
        g = model.graph
        self.opset = opset
        self.taken = {t.name for t in g.initializer} | {t.values.name for t in
                                                         g.sparse_initializer}
        self.taken |= {i.name for i in g.input} | {o.name for o in g.output}
        self.taken |= {o for n in g.node for o in n.output} | {n.name for n in g.node}
        self.nodes: list[Any] = []
        self.inits: list[Any] = []
        self.sparse: list[Any] = []
        self.ints: dict[tuple[int, ...], str] = {}

    def name(self, base: str) -> str:
        name, k = base, 1
        while name in self.taken:
            name, k = f"{base}_{k}", k + 1
        self.taken.add(name)
        return name

    def init(self, base: str, arr: np.ndarray) -> str:
        from onnx import numpy_helper

        name = self.name(base)
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(arr), name))
        return name

    def int64s(self, values: tuple[int, ...]) -> str:
        if values not in self.ints:
            tag = "_".join(str(v) for v in values)
            self.ints[values] = self.init(f"rnngen_compress_i64_{tag}",
                                          np.array(values, np.int64))
        return self.ints[values]

    def node(self, op: str, inputs: list[str], base: str, **attrs: Any) -> str:
        from onnx import helper

        out = self.name(base)
        self.nodes.append(helper.make_node(op, inputs, [out], name=self.name(base + "/" + op),
                                           **attrs))
        return out

    def unsqueeze(self, x: str, axes: tuple[int, ...], base: str) -> str:
        if self.opset >= 13:
            return self.node("Unsqueeze", [x, self.int64s(axes)], base)
        return self.node("Unsqueeze", [x], base, axes=list(axes))

    def concat(self, parts: list[str], axis: int, base: str) -> str:
        return parts[0] if len(parts) == 1 else self.node("Concat", parts, base, axis=axis)

    def block(self, m: ir.Matrix, base: str) -> str:
        """A tensor [rows, cols] equal to m.to_dense() (the format's factor subgraph)."""
        return formats.onnx_block(m, self, base)

    def matrix(self, mats: list[ir.Matrix], base: str) -> str:
        """The tensor [D, rows, cols] for a recurrent node's W or R input."""
        whole = formats.onnx_whole(mats, self, base)  # one sparse initializer
        if whole is not None:
            return whole
        dirs = [self.unsqueeze(self.block(m, f"{base}.d{d}"), (0,), f"{base}.d{d}.3d")
                for d, m in enumerate(mats)]
        return self.concat(dirs, 0, base)


def _subgraph_inputs(g: Any) -> set[str]:
    """Names read by nodes of subgraphs (If/Loop/Scan bodies), which may be outer names."""
    from onnx import AttributeProto

    used: set[str] = set()
    for n in g.node:
        for a in n.attribute:
            graphs = [a.g] if a.type == AttributeProto.GRAPH else (
                list(a.graphs) if a.type == AttributeProto.GRAPHS else [])
            for sg in graphs:
                used |= {i for sn in sg.node for i in sn.input if i}
                used |= _subgraph_inputs(sg)
    return used


def recurrent_inputs(ev: _ConstEval, node: Any, where: str
                     ) -> tuple[np.ndarray, np.ndarray, int]:
    """The constant W [D, G H, I] and R [D, G H, H] of a recurrent ONNX node, checked, and
    its number of directions D."""
    cell = node.op_type
    if len(node.input) < 3 or not node.input[1] or not node.input[2]:
        raise RnngenError(f"{where}: inputs W and R are required")
    W = ev.value(node.input[1], f"{where} input W")
    R = ev.value(node.input[2], f"{where} input R")
    attrs = {a.name: a for a in node.attribute}
    direction = attrs["direction"].s.decode() if "direction" in attrs else "forward"
    D = 2 if direction == "bidirectional" else 1
    G = cells.of(cell).gates
    if R.ndim != 3 or R.shape[0] != D or R.shape[1] % G or R.shape[1] != G * R.shape[2]:
        raise RnngenError(f"{where}: input R has shape {R.shape}, expected [{D}, {G}*H, H]")
    H = R.shape[2]
    if W.ndim != 3 or W.shape[:2] != (D, G * H):
        raise RnngenError(f"{where}: input W has shape {W.shape}, expected "
                          f"[{D}, {G * H}, input_size]")
    if W.dtype.kind != "f" or R.dtype.kind != "f":
        raise RnngenError(f"{where}: W and R must be floating point, got {W.dtype}, "
                          f"{R.dtype}")
    return W, R, D


def write_factor_subgraphs(model: Any, src: Path,
                           edits: list[tuple[int, str, dict[str, list[ir.Matrix]]]]) -> None:
    """Replace the W and R inputs of recurrent nodes (graph node index, name, per role the
    matrices of each direction) by the factor subgraphs of docs/compression.md, built right
    before each node; drop what computed the old inputs when nothing else reads it; check
    that the new subgraphs evaluate to the matrices."""
    g = model.graph
    w = _OnnxWriter(model, _opset(model))
    inserted: dict[int, list[Any]] = {}  # node position -> factor nodes to put before it
    old_inputs: list[str] = []
    new_tensors: dict[str, list[ir.Matrix]] = {}
    for idx, name, mats in edits:
        node = g.node[idx]
        start = len(w.nodes)
        base = "".join(c if c.isalnum() or c in "._-" else "_" for c in name).strip("_") or \
            node.op_type
        for pos, role in ((1, "W"), (2, "R")):
            t = w.matrix(mats[role], f"{base}.{role}")
            old_inputs.append(node.input[pos])
            node.input[pos] = t
            new_tensors[t] = mats[role]
        inserted[idx] = w.nodes[start:]
    # the new node order: each layer's factor subgraph right before it
    nodes = []
    for idx, n in enumerate(g.node):
        nodes.extend(inserted.get(idx, []))
        nodes.append(n)
    del g.node[:]
    g.node.extend(nodes)
    g.initializer.extend(w.inits)
    if w.sparse:
        g.sparse_initializer.extend(w.sparse)
        model.ir_version = max(model.ir_version, 6)  # sparse initializers: IR version 6
    _drop_dead(g, old_inputs)
    _self_check(model, src, new_tensors)


def _compress_onnx(src: Path, method: str, factor: float, tokens: list[str],
                   tune: Callable[[list[MatrixResult]], None] | None = None,
                   nearest: bool = False
                   ) -> tuple[Callable[[Any], None], list[MatrixResult], list[str]]:
    model = _load_onnx(src)
    g = model.graph
    opset = _opset(model)
    recs = [(idx, n) for idx, n in enumerate(g.node)
            if n.op_type in CELLS and n.domain in ("", "ai.onnx")]
    if not recs:
        raise RnngenError(f"{src}: no LSTM, GRU or RNN node to compress")
    if opset < 7:
        raise RnngenError(f"{src}: opset {opset}; rnngen compress writes opset >= 7 graphs "
                          "(broadcasting Mul): re-export with a newer opset")
    names = [n.name or f"{n.op_type}_{idx}" for idx, n in recs]
    chosen = _select(names, tokens, src)
    ev = _ConstEval(model, src)
    results: list[MatrixResult] = []
    edits: list[tuple[int, str, list[MatrixResult]]] = []
    for k in chosen:
        idx, node = recs[k]
        cell, name = node.op_type, names[k]
        where = f"{src}: {cell} node '{name}'"
        W, R, D = recurrent_inputs(ev, node, where)
        per_dir = [(W[d], R[d]) for d in range(D)]
        res = _compress_direction_mats(src, cell, name, k, "node", per_dir, method, factor,
                                       nearest)
        results += res
        edits.append((idx, name, res))
    if tune is not None:
        tune(results)  # fine-tuning replaces the matrices of `results`
    write_factor_subgraphs(model, src, [
        (idx, name, {role: [r.matrix for r in res if r.role == role] for role in ("W", "R")})
        for idx, name, res in edits])
    data = model.SerializeToString()
    skipped = [names[k] for k in range(len(names)) if k not in chosen]
    return (lambda f: f.write(data)), results, skipped


def _drop_dead(g: Any, roots: list[str]) -> None:
    """Remove what computed the replaced W and R (nodes, initializers, graph inputs listing
    them) when nothing else reads it. Only that cone is touched."""
    producer = {o: n for n in g.node for o in n.output if o}
    cone_nodes: list[Any] = []
    cone_names: set[str] = set()
    stack = list(roots)
    while stack:
        t = stack.pop()
        if not t or t in cone_names:
            continue
        cone_names.add(t)
        n = producer.get(t)
        if n is not None and all(n is not c for c in cone_nodes):
            cone_nodes.append(n)
            stack.extend(n.input)
    keep_outputs = {o.name for o in g.output} | _subgraph_inputs(g)
    while True:
        used = {i for n in g.node for i in n.input if i} | keep_outputs
        dead = [n for n in cone_nodes if all(o not in used for o in n.output if o)
                and any(n is m for m in g.node)]
        if not dead:
            break
        keep = [n for n in g.node if all(n is not d for d in dead)]
        del g.node[:]
        g.node.extend(keep)
    used = {i for n in g.node for i in n.input if i} | keep_outputs
    gone = {t for t in cone_names if t not in used}
    for coll in (g.initializer,):
        keep = [t for t in coll if t.name not in gone]
        del coll[:]
        coll.extend(keep)
    keep_sp = [t for t in g.sparse_initializer if t.values.name not in gone]
    del g.sparse_initializer[:]
    g.sparse_initializer.extend(keep_sp)
    keep_in = [i for i in g.input if i.name not in gone]
    del g.input[:]
    g.input.extend(keep_in)
    keep_vi = [v for v in g.value_info if v.name not in gone]
    del g.value_info[:]
    g.value_info.extend(keep_vi)


def _self_check(model: Any, src: Path, tensors: dict[str, list[ir.Matrix]]) -> None:
    """The written subgraphs evaluate (onnx reference operators) to the compressed
    matrices: the file means what the report says."""
    ev = _ConstEval(model, src)
    for name, mats in tensors.items():
        got = ev.value(name, f"internal check of '{name}'")
        want = np.stack([m.to_dense() for m in mats])
        scale = max(1.0, float(np.max(np.abs(want))) if want.size else 1.0)
        if got.shape != want.shape or not np.allclose(got, want, rtol=1e-5, atol=1e-6 * scale):
            raise RnngenError(f"internal error: the ONNX subgraph '{name}' does not evaluate to "
                              "the compressed matrix (please report it)")


# --------------------------------------------------------------------------- npz
