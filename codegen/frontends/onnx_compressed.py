"""Compressed W / R inputs of ONNX LSTM/GRU/RNN nodes (docs/compression.md, "In ONNX").

A compressed model stays a valid ONNX file: the recurrent node's W or R input is computed by
a small subgraph of initializers. Before the converter folds constant subgraphs,
`recognize` walks back from every recurrent node's W and R through these patterns

    W        = Concat(axis=0)(W_0, W_1) | W_0            (one part per direction)
    W_k      = Unsqueeze(M_k, axes=[0]) | an initializer [1, rows, cols]
    M_k      = Concat(axis=0)(block, ...) | block        (nested Concats flatten)
    block    = initializer                                                  dense
             | MatMul(U, V)                                                 lowrank
             | Concat(axis=0)(A', Concat(axis=1)(MatMul(B, C), MatMul(D, E)))   hmd
             | Reshape(Mul(Unsqueeze(A, [1, 3]), Unsqueeze(B, [0, 2])), [m1 m2, n1 n2])
             |   [-> Slice(starts [0, 0], ends [m, n])]                          kron
             | sparse_initializer [m, n]                                     csr

(Identity anywhere; Concat(axis=0)(A', kron) is HKP, a row stack; a sparse_initializer may
also be the whole W [D, rows, cols]) and builds one ir matrix per direction without
multiplying the factors out. A block that matches no pattern is dense: its value comes from
the ordinary fold. An input with no compressed block is left to the fold entirely.

The nodes of a recognized subgraph that nothing else reads are not folded (`skip`); a
tensor that something else also reads is still folded for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import formats, ir, limits
from ..errors import RnngenError
from . import onnx_proto

F32 = np.float32
RECURRENT = ("LSTM", "GRU", "RNN")
_GATE_NAMES = {4: "4*hidden_size", 3: "3*hidden_size", 1: "hidden_size"}


@dataclass
class Block:
    """One row block of a direction: a recognized matrix, or (matrix None) the dense value
    of `tensor` as the converter folds it."""

    matrix: ir.Matrix | None
    where: str
    desc: str  # names the factors: "lowrank MatMul('u' (8, 2), 'v' (2, 5))"
    tensor: str = ""
    squeeze: bool = False  # a whole direction [1, rows, cols]: take [0]


@dataclass
class CompressedInput:
    """A recognized W or R [D, rows, cols]: per direction, row blocks. Indexing gives one
    direction's ir matrix, as `W[d]` gives a dense direction."""

    prefix: str  # "model.onnx: LSTM node 'lstm' W"
    role: str
    dirs: list[list[Block]]
    consts: dict[str, np.ndarray]  # the converter's folded constants (fallback blocks)
    ndim: int = 3

    def _value(self, b: Block) -> ir.Matrix:
        if b.matrix is not None:
            return b.matrix
        if b.tensor not in self.consts:  # pragma: no cover - the fold defines it first
            raise RnngenError(f"{b.where}: '{b.tensor}' is not a constant")
        v = np.asarray(self.consts[b.tensor])
        if b.squeeze:
            if v.ndim != 3 or v.shape[0] != 1:
                raise RnngenError(f"{b.where}: '{b.tensor}' has shape {tuple(v.shape)}, "
                                  "expected [1, rows, columns] (one direction)")
            v = v[0]
        if v.ndim != 2:
            raise RnngenError(f"{b.where}: '{b.tensor}' has shape {tuple(v.shape)}, expected a "
                              "matrix [rows, columns]")
        if v.dtype.kind != "f":
            raise RnngenError(f"{b.where}: '{b.tensor}' has type {v.dtype}, expected float")
        m = formats.as_matrix(v)
        _check(m, b.where, {"w": b.tensor})
        b.matrix = m
        return m

    def blocks(self, d: int) -> list[ir.Matrix]:
        return [self._value(b) for b in self.dirs[d]]

    @property
    def shape(self) -> tuple[int, int, int]:
        ms = self.blocks(0)
        return (len(self.dirs), sum(m.shape[0] for m in ms), ms[0].shape[1])

    def __getitem__(self, d: int) -> ir.Matrix:
        return formats.stack_rows(self.blocks(d))

    def check(self, D: int, G: int, H: int, cols: int) -> None:
        """The layer's shapes [D, G*H, cols]; an error names the direction, block and
        factors, the expected and the actual shape."""
        col_name = "hidden_size" if self.role == "R" else "input_size"
        if len(self.dirs) != D:
            raise RnngenError(f"{self.prefix}: {len(self.dirs)} direction(s), expected {D}")
        for d, blocks in enumerate(self.dirs):
            ms = [self._value(b) for b in blocks]
            per_gate = len(blocks) == G
            for b, m in zip(blocks, ms):
                if m.shape[1] != cols:
                    want = (H if per_gate else m.shape[0], cols)
                    raise RnngenError(f"{b.where}: {b.desc} has shape {m.shape}, expected "
                                      f"{want} = [{'hidden_size' if per_gate else 'rows'}, "
                                      f"{col_name}]")
            rows = sum(m.shape[0] for m in ms)
            if rows == G * H:
                continue
            if per_gate:  # one block per gate: name the odd one
                for b, m in zip(blocks, ms):
                    if m.shape[0] != H:
                        raise RnngenError(f"{b.where}: {b.desc} has shape {m.shape}, expected "
                                          f"{(H, cols)} = [hidden_size, {col_name}]")
            sizes = ", ".join(str(m.shape[0]) for m in ms)
            raise RnngenError(f"{self.prefix} direction {d}: the row blocks have {rows} rows "
                              f"({sizes}), expected {G * H} = {_GATE_NAMES[G]}")


@dataclass
class Recognized:
    inputs: dict[tuple[int, int], CompressedInput] = field(default_factory=dict)
    skip: set[int] = field(default_factory=set)  # node indices not to fold
    deferred: set[str] = field(default_factory=set)  # tensors those nodes would define
    node_names: set[str] = field(default_factory=set)  # the recurrent nodes and their blocks


sparse_to_dense = onnx_proto.sparse_to_dense


def _csr(values: np.ndarray, lin: np.ndarray, m: int, n: int) -> ir.Matrix:
    """The matrix of an ONNX sparse tensor [m, n] (row-major linear indices)."""
    return formats.onnx_sparse_reader()(values, lin, m, n)


# ---------------------------------------------------------------------- the matcher

def _check(m: ir.Matrix, where: str, names: dict[str, str]) -> None:
    """NaN/Inf naming the initializer, then formats.check's structural checks."""
    for k, arr in m.arrays().items():
        if arr.size and not np.all(np.isfinite(arr)):
            name = names.get(k)
            what = f"factor '{k}'" + (f" (initializer '{name}')" if name else "")
            raise RnngenError(f"{where}: {m.fmt} {what} contains NaN or Inf")
    formats.check(m, where)


def _int_list(v: np.ndarray) -> list[int]:
    return [int(x) for x in np.asarray(v).reshape(-1)]


class _Matcher:
    def __init__(self, graph: Any, inits: dict[str, np.ndarray], path: Path):
        from onnx import numpy_helper

        self.path = path
        self.inits = inits
        self.sparse = {t.values.name: t for t in graph.sparse_initializer}
        self.prod: dict[str, tuple[int, Any]] = {}
        for idx, n in enumerate(graph.node):
            for o in n.output:
                if o:
                    self.prod[o] = (idx, n)
        self.numpy_helper = numpy_helper
        self.used: list[int] = []  # nodes of the current match

    # -- graph helpers ------------------------------------------------------------------
    def node(self, t: str, *ops: str) -> Any | None:
        """The producer of t when it is one of `ops` (standard domain); records it."""
        p = self.prod.get(t)
        if p is None or p[1].op_type not in ops or p[1].domain not in ("", "ai.onnx"):
            return None
        self.used.append(p[0])
        return p[1]

    def peel(self, t: str) -> str:
        for _ in range(len(self.prod) + 1):  # bounded: the checker has ruled out cycles
            n = self.node(t, "Identity")
            if n is None or not n.input:
                return t
            t = n.input[0]
        return t

    def attrs(self, n: Any) -> dict[str, Any]:
        return onnx_proto.attrs(n)

    def constant(self, t: str) -> np.ndarray | None:
        """A dense constant: an initializer or a Constant node's tensor value."""
        t = self.peel(t)
        if t in self.inits:
            return np.asarray(self.inits[t])
        mark = len(self.used)
        n = self.node(t, "Constant")
        if n is not None:
            for a in n.attribute:
                if a.name == "value":
                    return np.asarray(self.numpy_helper.to_array(a.t))
                if a.name in ("value_ints", "value_int", "value_floats", "value_float"):
                    return np.asarray(self.attrs(n)[a.name])
        del self.used[mark:]
        return None

    def ints(self, t: str) -> list[int] | None:
        v = self.constant(t)
        return None if v is None or v.dtype.kind not in "iu" else _int_list(v)

    def matrix_leaf(self, t: str) -> tuple[np.ndarray, str] | None:
        """A float 2-D constant (a factor): (value, its name)."""
        t = self.peel(t)
        mark = len(self.used)
        v = self.constant(t)
        if v is None or v.ndim != 2 or v.dtype.kind != "f":
            del self.used[mark:]
            return None
        return np.ascontiguousarray(v, dtype=F32), t

    def sparse_leaf(self, t: str) -> Any | None:
        t = self.peel(t)
        if t in self.sparse:
            return self.sparse[t]
        mark = len(self.used)
        n = self.node(t, "Constant")
        if n is not None:
            for a in n.attribute:
                if a.name == "sparse_value":
                    return a.sparse_tensor
        del self.used[mark:]
        return None

    def sparse_coords(self, sp: Any, where: str) -> tuple[np.ndarray, np.ndarray,
                                                             tuple[int, ...]]:
        return onnx_proto.sparse_coords(sp, where)

    def found(self, m: ir.Matrix, where: str, desc: str, names: dict[str, str]) -> Block:
        """A recognized matrix: checked (NaN/Inf naming its initializers, then structure)."""
        _check(m, where, names)
        return Block(m, where, desc)

    def axes(self, n: Any) -> list[int] | None:
        a = self.attrs(n)
        if "axes" in a:
            return [int(x) for x in a["axes"]]
        if len(n.input) > 1 and n.input[1]:
            return self.ints(n.input[1])
        return None

    def concat_axis(self, n: Any, rank: int) -> int | None:
        """The axis in 0..rank-1; None when it is out of range (not a pattern)."""
        axis = int(self.attrs(n).get("axis", 0))
        return axis % rank if -rank <= axis < rank else None

    # -- W / R ----------------------------------------------------------------------------
    def recurrent_input(self, t: str, prefix: str) -> list[list[Block]] | None:
        """Per direction, the row blocks of a W or R input; None: not compressed."""
        t = self.peel(t)
        sp = self.sparse_leaf(t)
        if sp is not None:
            if len(sp.dims) != 3:
                return None
            values, lin, dims = onnx_proto.sparse_coords(sp, prefix)
            D, m, n = dims
            out = []
            for d in range(D):
                sel = (lin >= d * m * n) & (lin < (d + 1) * m * n)
                where = f"{prefix} direction {d} block 0"
                mat = _csr(values[sel], lin[sel] - d * m * n, m, n)
                _check(mat, where, {"values": sp.values.name})
                out.append([Block(mat, where, f"csr sparse initializer '{sp.values.name}'")])
            return out
        cat = self.node(t, "Concat")
        parts = [t]
        if cat is not None:
            if self.concat_axis(cat, 3) != 0:
                return None
            parts = [self.peel(i) for i in cat.input if i]
        dirs = []
        for d, part in enumerate(parts):
            blocks = self.direction(part, f"{prefix} direction {d}")
            if blocks is None:
                return None
            dirs.append(blocks)
        if all(b.matrix is None or formats.is_plain(b.matrix) for bl in dirs for b in bl):
            return None  # nothing compressed: the ordinary fold does the same
        return dirs

    def direction(self, t: str, where: str) -> list[Block] | None:
        t = self.peel(t)
        mark = len(self.used)
        v = self.constant(t)
        if v is not None:
            if v.ndim != 3 or v.shape[0] != 1 or v.dtype.kind != "f":
                return None
            m = formats.as_matrix(v[0])
            _check(m, f"{where} block 0", {"w": t})
            return [Block(m, f"{where} block 0", f"dense initializer '{t}'")]
        sp = self.sparse_leaf(t)
        if sp is not None:
            if len(sp.dims) != 3 or sp.dims[0] != 1:
                return None
            values, lin, dims = onnx_proto.sparse_coords(sp, f"{where} block 0")
            mat = _csr(values, lin, dims[1], dims[2])
            _check(mat, f"{where} block 0", {"values": sp.values.name})
            return [Block(mat, f"{where} block 0", f"csr sparse initializer '{sp.values.name}'")]
        un = self.node(t, "Unsqueeze")
        if un is None or self.axes(un) not in ([0], [-3]):
            del self.used[mark:]
            return None
        out: list[Block] = []
        self.rows(self.peel(un.input[0]), where, out)
        return out

    def rows(self, t: str, where: str, out: list[Block], depth: int = 0) -> None:
        """Row blocks of a matrix M [rows, cols], appended to out (nested Concats deeper
        than limits.MAX_NESTING are one block: its dense value, from the fold)."""
        t = self.peel(t)
        if depth > limits.MAX_NESTING:
            out.append(Block(None, f"{where} block {len(out)}", f"'{t}'", tensor=t))
            return
        mark = len(self.used)
        cat = self.node(t, "Concat")
        if cat is not None and self.concat_axis(cat, 2) == 0:
            ins = [i for i in cat.input if i]
            for read in formats.onnx_concat_readers():  # a format written as a Concat (HMD)
                fmt_mark = len(self.used)
                b = read(self, ins, f"{where} block {len(out)}")
                if b is not None:
                    out.append(b)
                    return
                del self.used[fmt_mark:]
            for i in ins:
                self.rows(i, where, out, depth + 1)
            return
        del self.used[mark:]
        out.append(self.block(t, f"{where} block {len(out)}"))

    def block(self, t: str, where: str) -> Block:
        """One row block: the first format whose pattern matches, else the folded value."""
        t = self.peel(t)
        mark = len(self.used)
        for read in formats.onnx_readers():
            b = read(self, t, where)
            if b is not None:
                return b
            del self.used[mark:]
        return Block(None, where, f"'{t}'", tensor=t)


def recognize(graph: Any, inits: dict[str, np.ndarray], path: Path) -> Recognized:
    """Find the compressed W/R inputs of the graph's LSTM/GRU/RNN nodes (before folding)."""
    mt = _Matcher(graph, inits, path)
    rec = Recognized()
    used: set[int] = set()
    for idx, node in enumerate(graph.node):
        if node.op_type not in RECURRENT or node.domain not in ("", "ai.onnx"):
            continue
        name = node.name or f"{node.op_type}_{idx}"
        for pos, role in ((1, "W"), (2, "R")):
            if len(node.input) <= pos or not node.input[pos]:
                continue
            prefix = f"{path}: {node.op_type} node '{name}' {role}"
            mt.used = []
            dirs = mt.recurrent_input(node.input[pos], prefix)
            if dirs is None:
                continue
            rec.inputs[(idx, pos)] = CompressedInput(prefix, role, dirs, inits)
            used.update(mt.used)
    if rec.inputs:
        rec.node_names = {graph.node[k].name for k in used} | {
            graph.node[k].name for k, _ in rec.inputs}
        rec.skip = _skippable(graph, used, set(rec.inputs))
        rec.deferred = {o for k in rec.skip for o in graph.node[k].output if o}
    return rec


def _skippable(graph: Any, cands: set[int], slots: set[tuple[int, int]]) -> set[int]:
    """The recognized nodes whose outputs only recognized nodes and inputs read."""
    from onnx import AttributeProto

    for n in graph.node:  # subgraphs may read any outer tensor: fold everything
        if any(a.type in (AttributeProto.GRAPH, AttributeProto.GRAPHS) for a in n.attribute):
            return set()
    readers: dict[str, list[tuple[int, int]]] = {}
    for j, n in enumerate(graph.node):
        for pos, i in enumerate(n.input):
            if i:
                readers.setdefault(i, []).append((j, pos))
    outputs = {o.name for o in graph.output}
    skip = set(cands)
    changed = True
    while changed:
        changed = False
        for k in sorted(skip):
            for o in graph.node[k].output:
                if o and (o in outputs or any(j not in skip and (j, pos) not in slots
                                              for j, pos in readers.get(o, []))):
                    skip.discard(k)
                    changed = True
                    break
    return skip
