"""`rnngen compress` on model files: read a dense .onnx or .npz model, compress the W and R
matrices of its recurrent layers (rnngen.compress), write the compressed model in the
conventions of docs/compression.md, report factors and errors, and optionally evaluate the
accuracy before and after with rnngen's NumPy reference.

    from rnngen.compress_model import compress_file
    res = compress_file("har.onnx", "har_hmd.onnx", "hmd", 2.0, eval_data="test.npz")
    print(res.text())

Files are written atomically (a temporary file in the output's folder, then a rename);
nothing is written when anything fails.
"""

from __future__ import annotations

import copy
import json
import math
import os
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from . import cells, formats, ir
from . import compress as algo
from .errors import RnngenError
from .frontends import onnx_proto

F32 = np.float32
CELLS = ("LSTM", "GRU", "RNN")


# --------------------------------------------------------------------------- results

@dataclass
class MatrixResult:
    """One compressed matrix: a direction's W or R of a recurrent layer."""

    layer: str  # node name (ONNX) or layer name (npz)
    index: int  # position among the model's recurrent layers
    cell: str
    direction: str  # "fwd", "bwd" (bidirectional) or "" (one direction)
    role: str  # "W" or "R"
    dense: np.ndarray  # the original [G H, cols], ONNX gate order
    matrix: ir.Matrix
    plan: algo.Plan
    gates: int

    @property
    def shape(self) -> tuple[int, int]:
        return (int(self.dense.shape[0]), int(self.dense.shape[1]))

    @property
    def dense_params(self) -> int:
        return int(self.dense.size)

    @property
    def rel_error(self) -> float:
        return algo.rel_error(self.dense, self.matrix)

    def format(self) -> str:
        p = self.plan
        kind = {"hkp": "hkp", "lmf": "lowrank"}.get(p.method, p.method)
        blocks = f"{self.gates} x " if self.gates > 1 else ""
        if p.method == "csr":
            return f"csr nnz={self.matrix.params} ({blocks}{p.nnz} per gate)" if \
                self.gates > 1 else f"csr nnz={self.matrix.params}"
        return f"{blocks}{kind} {p.describe()}"

    def as_dict(self) -> dict[str, Any]:
        m = self.matrix
        return dict(layer=self.layer, index=self.index, cell=self.cell,
                    direction=self.direction or "fwd", role=self.role, format=self.format(),
                    method=self.plan.method, shape=list(self.shape), gates=self.gates,
                    plan=self.plan.as_dict(), dense_params=self.dense_params, params=m.params,
                    bytes=m.nbytes, storage_factor=self.dense_params / m.params,
                    dense_macs=self.dense_params, macs=m.macs,
                    mac_factor=self.dense_params / m.macs, rel_error=self.rel_error)


@dataclass
class Result:
    model: str
    out: str
    method: str
    factor: float
    matrices: list[MatrixResult]
    skipped: list[str] = field(default_factory=list)  # recurrent layers left dense
    eval: dict[str, Any] | None = None
    finetune: dict[str, Any] | None = None

    def totals(self) -> dict[str, Any]:
        dp = sum(r.dense_params for r in self.matrices)
        p = sum(r.matrix.params for r in self.matrices)
        macs = sum(r.matrix.macs for r in self.matrices)
        num = sum(float(np.sum((r.dense.astype(np.float64) -
                                r.matrix.to_dense().astype(np.float64)) ** 2))
                  for r in self.matrices)
        den = sum(float(np.sum(r.dense.astype(np.float64) ** 2)) for r in self.matrices)
        return dict(matrices=len(self.matrices), dense_params=dp, params=p,
                    bytes=sum(r.matrix.nbytes for r in self.matrices), dense_bytes=4 * dp,
                    storage_factor=dp / p, dense_macs=dp, macs=macs, mac_factor=dp / macs,
                    rel_error=math.sqrt(num / den) if den > 0 else math.sqrt(num))

    def as_dict(self) -> dict[str, Any]:
        return dict(model=self.model, output=self.out, method=self.method, factor=self.factor,
                    tolerance=algo.TOLERANCE, matrices=[r.as_dict() for r in self.matrices],
                    totals=self.totals(), skipped=self.skipped, eval=self.eval,
                    finetune=self.finetune)

    def text(self) -> str:
        rows = [("layer", "matrix", "shape", "format", "params", "storage", "MACs",
                 "rel.error")]
        for r in self.matrices:
            d = r.as_dict()
            role = f"{r.direction} {r.role}" if r.direction else r.role
            rows.append((f"{r.index} {r.layer}", role, f"{r.shape[0]}x{r.shape[1]}", d["format"],
                         f"{d['dense_params']}->{d['params']}", f"{d['storage_factor']:.3f}x",
                         f"{d['mac_factor']:.3f}x", f"{d['rel_error']:.4f}"))
        widths = [max(len(row[k]) for row in rows) for k in range(len(rows[0]))]
        lines = [(f"{self.model} -> {self.out}: {self.method} at {self.factor:g}x "
                  "(gate blocks compressed separately)")]
        for row in rows:
            lines.append("  " + "  ".join(c.ljust(w) if k < 4 else c.rjust(w)
                                          for k, (c, w) in enumerate(zip(row, widths))).rstrip())
        t = self.totals()
        lines.append(f"total: {t['dense_params']} -> {t['params']} params "
                     f"({t['dense_bytes']} -> {t['bytes']} B), storage {t['storage_factor']:.3f}x,"
                     f" MACs {t['dense_macs']} -> {t['macs']} ({t['mac_factor']:.3f}x), "
                     f"rel.error {t['rel_error']:.4f}")
        for s in self.skipped:
            lines.append(f"left dense: {s}")
        if self.finetune is not None:
            f = self.finetune
            lines.append(
                f"fine-tuned on {f['train']} ({f['train_examples']} sequences"
                f"{', distilled' if f['distill'] else ''}): {f['epochs_run']} of {f['epochs']} "
                f"epochs{' (int8-aware)' if f.get('qat') else ''}, kept epoch "
                f"{f['best_epoch']}; {f['split']} accuracy dense "
                f"{100 * f['accuracy_dense']:.2f}%, projection "
                f"{100 * f['accuracy_projection']:.2f}%, fine-tuned "
                f"{100 * f['accuracy_finetuned']:.2f}%")
        if self.eval is not None:
            e = self.eval
            lines.append(f"eval {e['data']}: {e['examples']} sequences of {e['seq_len']} steps, "
                         f"accuracy {100 * e['accuracy_before']:.2f}% -> "
                         f"{100 * e['accuracy_after']:.2f}% (argmax of output '{e['output']}'"
                         f"{', last step' if e['last_step'] else ''})")
        return "\n".join(lines)


# --------------------------------------------------------------------------- entry point

@dataclass
class Finetune:
    """`rnngen compress --finetune`: labelled training sequences (the --eval format), an
    optional validation split, and the training settings (docs/training.md)."""

    train: str
    val: str | None = None
    epochs: int = 30
    lr: float = 2e-3
    batch: int = 32
    distill: bool = False
    seed: int = 0
    patience: int = 5
    progress: bool = True
    qat: bool = False


def compress_file(model: str | os.PathLike[str], out: str | os.PathLike[str], method: str,
                  factor: float, layers: Iterable[str] = (), force: bool = False,
                  eval_data: str | os.PathLike[str] | None = None,
                  finetune: Finetune | None = None) -> Result:
    """Compress `model` (.onnx or .npz) into `out` (same kind). `layers`: recurrent layers by
    node/layer name or by index among the recurrent layers (default: all). `finetune`:
    train the projected factors in PyTorch before writing them (needs rnngen[torch])."""
    if finetune is not None:
        from .torch import require_torch  # RnngenError without PyTorch

        require_torch()
    src, dst = Path(model), Path(out)
    if method not in algo.METHODS:
        raise RnngenError(f"--method '{method}': expected one of {', '.join(algo.METHODS)}")
    if not (isinstance(factor, (int, float)) and math.isfinite(factor) and factor > 1):
        raise RnngenError(f"--factor {factor}: expected a finite number greater than 1")
    if not src.exists():
        raise RnngenError(f"{src}: no such file")
    if src.is_dir():
        raise RnngenError(f"{src}: is a folder, not a model file")
    is_npz = src.suffix.lower() == ".npz"
    if (dst.suffix.lower() == ".npz") != is_npz:
        want = ".npz" if is_npz else ".onnx (not .npz)"
        raise RnngenError(f"{dst}: the output of a {'.npz' if is_npz else 'ONNX'} model must "
                          f"be {want}, like its input")
    if dst.is_dir():
        raise RnngenError(f"{dst}: is a folder; give the output file name")
    if dst.exists() and not force:
        raise RnngenError(f"{dst}: already exists (use --force to replace it)")
    tokens = [t.strip() for item in layers for t in str(item).split(",") if t.strip()]
    if eval_data is not None:
        x, y = _load_eval_data(Path(eval_data))  # bad data fails before any work
    tune = None
    report: dict[str, Any] = {}
    if finetune is not None:
        tune = _finetuner(src, finetune, report)
    if is_npz:
        payload, results, skipped = _compress_npz(src, method, factor, tokens, tune)
    else:
        payload, results, skipped = _compress_onnx(src, method, factor, tokens, tune)
    res = Result(str(src), str(dst), method, float(factor), results, skipped)
    if finetune is not None:
        res.finetune = report
    if eval_data is not None:
        res.eval = evaluate(src, Path(eval_data), x, y, _replacements(results))
    _write_atomic(dst, payload)
    return res


def _finetuner(src: Path, opts: Finetune, report: dict[str, Any]
               ) -> Callable[[list[MatrixResult]], None]:
    """The fine-tuning step run between projection and writing; the data is read and
    checked here, before any work."""
    x, y = _load_eval_data(Path(opts.train), "--finetune")
    xv, yv = (None, None) if opts.val is None else _load_eval_data(Path(opts.val), "--val")
    if xv is not None and xv.shape[1:] != x.shape[1:]:
        raise RnngenError(f"{opts.val}: x has sequences of shape {tuple(xv.shape[1:])}, the "
                          f"training data {opts.train} {tuple(x.shape[1:])}")

    def tune(results: list[MatrixResult]) -> None:
        from . import pipeline
        from .torch import finetune as ft

        g = pipeline.compile_model(src, pipeline.Options(seq_len=int(x.shape[1])))
        ft.check_data(g, opts.train, x, y)
        if xv is not None and yv is not None:
            ft.check_data(g, str(opts.val), xv, yv)
        report.update(ft.finetune(g, results, x, y, xv, yv, ft.Options(
            train=opts.train, val=opts.val, epochs=opts.epochs, lr=opts.lr, batch=opts.batch,
            distill=opts.distill, seed=opts.seed, patience=opts.patience,
            progress=opts.progress, qat=opts.qat)))

    return tune


def _select(names: list[str], tokens: list[str], src: Path) -> list[int]:
    """Indices of the recurrent layers that `--layers` names (all when empty)."""
    if not tokens:
        return list(range(len(names)))
    chosen: list[int] = []
    for t in tokens:
        if t in names:
            k = names.index(t)
        elif t.lstrip("-").isdigit() and -len(names) <= int(t) < len(names):
            k = int(t) % len(names)
        else:
            listing = ", ".join(f"{i} '{n}'" for i, n in enumerate(names))
            raise RnngenError(f"{src}: --layers '{t}' is not a recurrent layer (name or index; "
                              f"the model has {listing})")
        if k not in chosen:
            chosen.append(k)
    return sorted(chosen)


def _where(src: Path, cell: str, name: str, direction: str, role: str, kind: str) -> str:
    d = f" {direction}" if direction else ""
    return f"{src}: {cell} {kind} '{name}'{d} {role}"


def _rkey(cell: str) -> str:
    """The name of the recurrent matrix: U for FastRNN/FastGRNN (EdgeML), else R."""
    return "U" if cell in ("FastRNN", "FastGRNN") else "R"


def _compress_direction_mats(src: Path, cell: str, name: str, index: int, kind: str,
                             per_dir: list[tuple[np.ndarray, np.ndarray]], method: str,
                             factor: float) -> list[MatrixResult]:
    """per_dir: (W, R) dense per direction, ONNX gate order."""
    G = cells.of(cell).gates
    out = []
    D = len(per_dir)
    for role in ("W", _rkey(cell)):
        for d, (W, R) in enumerate(per_dir):
            dense = np.ascontiguousarray(W if role == "W" else R, dtype=F32)
            tag = ("fwd", "bwd")[d] if D == 2 else ""
            where = _where(src, cell, name, tag, role, kind)
            if not np.all(np.isfinite(dense)):
                raise RnngenError(f"{where}: contains NaN or Inf")
            m, p = algo.compress_gates(dense, G, method, factor, where)
            out.append(MatrixResult(name, index, cell, tag, role, dense, m, p, G))
    return out


def _replacements(results: list[MatrixResult]) -> dict[str, dict[tuple[int, str], ir.Matrix]]:
    rep: dict[str, dict[tuple[int, str], ir.Matrix]] = {}
    for r in results:
        d = 1 if r.direction == "bwd" else 0
        rep.setdefault(r.layer, {})[(d, "W" if r.role == "W" else "R")] = r.matrix
    return rep


def _write_atomic(dst: Path, payload: Callable[[Any], None]) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dst.name}.", suffix=".tmp", dir=dst.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            payload(f)
        os.replace(tmp, dst)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


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
                   tune: Callable[[list[MatrixResult]], None] | None = None
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
        res = _compress_direction_mats(src, cell, name, k, "node", per_dir, method, factor)
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

_NOT_ARRAY_KEYS = {"type", "name", "format", "direction", "gate_order", "nonlinearity",
                   "activation", "output", "shape"}


def _refs(obj: Any, arrays: set[str], out: Counter | None = None) -> Counter:
    """How often each array name is referenced inside a manifest subtree."""
    out = Counter() if out is None else out
    if isinstance(obj, dict):
        for k, v in obj.items():
            if isinstance(v, str):
                if k not in _NOT_ARRAY_KEYS and v in arrays:
                    out[v] += 1
            else:
                _refs(v, arrays, out)
    elif isinstance(obj, list):
        for v in obj:
            _refs(v, arrays, out)
    return out


def npz_entry(m: ir.Matrix, path: str, put: Callable[[str, np.ndarray], str]) -> dict[str, Any]:
    """The manifest matrix entry of docs/compression.md ("In .npz") for m; put(name, array)
    stores an array and returns the name it is stored under."""
    return formats.npz_entry(m, path, put)


def npz_dense(entry: dict[str, Any], arrays: Any) -> np.ndarray:
    """The dense matrix a manifest matrix entry stands for, read by the conventions of
    docs/compression.md (a decoder independent of the frontend, for checks)."""
    return formats.npz_decode(entry, arrays, _NOT_ARRAY_KEYS)


def _compress_npz(src: Path, method: str, factor: float, tokens: list[str],
                  tune: Callable[[list[MatrixResult]], None] | None = None
                  ) -> tuple[Callable[[Any], None], list[MatrixResult], list[str]]:
    from .frontends import numpy as npzf
    from .npyio import NpzReader

    with NpzReader(src) as archive:  # every header checked before its data is read
        manifest = npzf.read_manifest(archive, src)
        arrays: dict[str, np.ndarray] = {k: archive.read(k) for k in archive.names
                                         if k != npzf.MANIFEST}
    # the frontend's checks, and the IR (gates in ONNX order); the sequence length does
    # not matter here
    g = npzf.parse(manifest, arrays, src, None if manifest.get("seq_len") else 1)
    layers = manifest["layers"]
    recs = [(i, lay) for i, lay in enumerate(layers) if lay.get("type") in npzf.CELLS]
    if not recs:
        raise RnngenError(f"{src}: no lstm, gru or rnn layer to compress")
    names = [lay.get("name") if lay.get("name") is not None else f"{lay['type']}{i}"
             for i, lay in recs]
    chosen = _select(names, tokens, src)
    irnodes = {n.name: n for n in g.nodes if isinstance(n, ir.Recurrent)}
    new = copy.deepcopy(manifest)
    names_before = set(arrays)
    total_refs = _refs(manifest, names_before)
    freed_refs: Counter = Counter()
    plans: list[tuple[int, dict[str, Any], ir.Recurrent, list[MatrixResult], bool]] = []
    results: list[MatrixResult] = []
    for k in chosen:
        i, lay = recs[k]
        node = irnodes[names[k]]
        per_dir = [(cd.W.to_dense(), cd.R.to_dense()) for cd in node.directions]
        res = _compress_direction_mats(src, node.cell, names[k], k, "layer", per_dir, method,
                                       factor)
        results += res
        reorder = cells.of(node.cell).gates > 1 and lay.get("gate_order", "onnx") != "onnx"
        for ent in lay["directions"]:
            _refs({key: ent[key] for key in ("W", _rkey(node.cell))}, names_before, freed_refs)
            if reorder:
                _refs({key: ent.get(key) for key in ("b_ih", "b_hh")}, names_before, freed_refs)
        plans.append((i, lay, node, res, reorder))
    if tune is not None:
        tune(results)  # fine-tuning replaces the matrices of `results`
    freed = {n for n, c in freed_refs.items() if c == total_refs[n]}
    kept = {k: v for k, v in arrays.items() if k not in freed}
    added: dict[str, np.ndarray] = {}

    def put(name: str, arr: np.ndarray) -> str:
        base, j = name, 1
        while name in kept or name in added or name == npzf.MANIFEST:
            name, j = f"{base}_{j}", j + 1
        added[name] = np.ascontiguousarray(arr)
        return name

    for i, lay, node, res, reorder in plans:
        ent = new["layers"][i]
        D = node.num_directions
        for d, cd in enumerate(node.directions):
            prefix = f"layer{i}" + (f".{('fwd', 'bwd')[d]}" if D == 2 else "")
            dent = ent["directions"][d]
            for r in res:
                if r.direction == (("fwd", "bwd")[d] if D == 2 else ""):
                    dent[r.role] = npz_entry(r.matrix, f"{prefix}.{r.role}", put)
            if reorder:  # compressed matrices are stored in ONNX gate order, so the biases too
                for key, vec in (("b_ih", cd.wb), ("b_hh", cd.rb)):
                    if dent.get(key) is not None:
                        dent[key] = put(f"{prefix}.{key}", vec)
        if reorder:
            ent["gate_order"] = "onnx"
    out_arrays = {**kept, **added}
    # self-check: the entries decode to the compressed matrices
    for i, lay, node, res, reorder in plans:
        for r in res:
            d = 1 if r.direction == "bwd" else 0
            got = npz_dense(new["layers"][i]["directions"][d][r.role], out_arrays)
            if not np.allclose(got, r.matrix.to_dense(), rtol=1e-6, atol=1e-7):
                raise RnngenError(f"internal error: the .npz entry of {r.layer} {r.role} does "
                                  "not decode to the compressed matrix (please report it)")
    text = json.dumps(new)
    from .frontends.numpy import MANIFEST

    def payload(f: Any) -> None:
        np.savez(f, **{MANIFEST: np.array(text)}, **out_arrays)

    skipped = [names[k] for k in range(len(names)) if k not in chosen]
    return payload, results, skipped


# --------------------------------------------------------------------------- evaluation

def _load_eval_data(path: Path, option: str = "--eval") -> tuple[np.ndarray, np.ndarray]:
    """--eval (and --finetune, --val) data: an .npz with x [N, T, I] (or [N, T, 1, I]) float
    and y [N] integer labels."""
    from . import npyio

    data = npyio.load(path, f"{option} data")
    if not isinstance(data, dict):
        raise RnngenError(f"{path}: {option} needs an .npz archive with arrays 'x' and 'y'")
    missing = [k for k in ("x", "y") if k not in data]
    if missing:
        raise RnngenError(f"{path}: no array '{missing[0]}' ({option} needs x [N, T, I] "
                          f"inputs and y [N] integer labels; has {', '.join(data)})")
    x, y = data["x"], data["y"]
    if x.dtype.kind not in "fiu" or x.ndim not in (3, 4) or (x.ndim == 4 and x.shape[2] != 1):
        raise RnngenError(f"{path}: x has shape {x.shape} and dtype {x.dtype}; expected numbers "
                          "of shape [N, T, I] or [N, T, 1, I]")
    if y.dtype.kind not in "iu" or y.shape != (x.shape[0],):
        raise RnngenError(f"{path}: y has shape {y.shape} and dtype {y.dtype}; expected "
                          f"{x.shape[0]} integer labels, shape [{x.shape[0]}]")
    if x.shape[0] < 1 or x.shape[1] < 1:
        raise RnngenError(f"{path}: x holds no sequences (shape {x.shape})")
    if np.any(y < 0):
        raise RnngenError(f"{path}: y has negative labels")
    x = x.astype(F32)
    if not np.all(np.isfinite(x)):
        raise RnngenError(f"{path}: x contains NaN or Inf")
    return x.reshape(x.shape[0], x.shape[1], x.shape[-1]), y.astype(np.int64)


def _substitute(g: ir.Graph, rep: dict[str, dict[tuple[int, str], ir.Matrix]]) -> ir.Graph:
    nodes = []
    found = set()
    for n in g.nodes:
        if isinstance(n, ir.Recurrent) and n.name in rep:
            r = rep[n.name]
            found.add(n.name)
            dirs = tuple(replace(cd, W=r.get((d, "W"), cd.W), R=r.get((d, "R"), cd.R))
                         for d, cd in enumerate(n.directions))
            n = replace(n, directions=dirs)
        nodes.append(n)
    if found != set(rep):
        raise RnngenError(f"internal error: recurrent layers {sorted(set(rep) - found)} not "
                          "found in the compiled graph")
    return g.replace(nodes=tuple(nodes), step=None)


def accuracy(g: ir.Graph, x: np.ndarray, y: np.ndarray, where: str) -> float:
    """Share of sequences whose argmax of the last score vector of the first output (the
    output read as [-1, C]: the last time step, or the only row) equals the label."""
    from . import reference

    shape = g.shapes[g.input]
    out = g.outputs[0]
    C = int(g.shapes[out][-1]) if g.shapes[out] else 1
    if int(y.max()) >= C:
        raise RnngenError(f"{where}: label {int(y.max())} but output '{out}' has {C} scores")
    hits = 0
    for xk, yk in zip(x, y):
        res = reference.run(g, xk.reshape(shape))[out]
        hits += int(np.argmax(res.reshape(-1, C)[-1]) == yk)
    return hits / len(y)


def evaluate(model: Path, data: Path, x: np.ndarray, y: np.ndarray,
             rep: dict[str, dict[tuple[int, str], ir.Matrix]]) -> dict[str, Any]:
    """Accuracy of rnngen's reference on the model before and after compression (the
    compressed matrices replace the dense ones in the compiled graph)."""
    from . import pipeline

    T = int(x.shape[1])
    g = pipeline.compile_model(model, pipeline.Options(seq_len=T))
    shape = tuple(g.shapes[g.input])
    if tuple(d for d in shape if d != 1) != tuple(d for d in x.shape[1:] if d != 1):
        raise RnngenError(f"{data}: x has sequences of shape {tuple(x.shape[1:])} (T, I); the "
                          f"model's input '{g.input}' is {shape}")
    out = g.outputs[0]
    before = accuracy(g, x, y, str(data))
    after = accuracy(_substitute(g, rep), x, y, str(data))
    return dict(data=str(data), examples=len(y), seq_len=T, output=out,
                last_step=bool(math.prod(g.shapes[out][:-1]) > 1),
                accuracy_before=before, accuracy_after=after)
