"""index_wrap: an exporter's own negative-index wrap in front of an embedding Gather is removed.

Keras 3's `Embedding` computes `ids < 0 ? ids + rows : ids` before its gather (TensorFlow's
gather does not count negative indices from the end; Keras makes it do so), and tf2onnx
writes that select as `Where`, or as arithmetic: `Cast(Less(ids, 0)) * (ids + rows) +
ids * Cast(Not(Less(ids, 0)))`. ONNX's Gather already counts negative indices from the end,
and so does rnngen's (docs/limits.md, "Embeddings"): for every id in [-rows, rows) the wrap
changes nothing. Before the frontend reads token ids, each Gather of a constant 2-D table
whose indices are such a wrap (with `rows` equal to the table's rows) reads the ids
directly, and the wrap's nodes that nothing else reads are removed. Ids below -rows (which
no exporter accepts either) are clamped like any out-of-range id.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from onnx import numpy_helper

# ops of the wrap, removed when nothing but the wrap reads them
_WRAP_OPS = {"Where", "Less", "Greater", "Not", "Cast", "Mul", "Add"}


class _Graph:
    def __init__(self, graph: Any) -> None:
        self.producer = {o: n for n in graph.node for o in n.output if o}
        self.consts: dict[str, np.ndarray] = {i.name: numpy_helper.to_array(i)
                                              for i in graph.initializer}
        for n in graph.node:
            if n.op_type == "Constant" and n.output:
                for a in n.attribute:
                    if a.name == "value":
                        self.consts[n.output[0]] = numpy_helper.to_array(a.t)

    def op(self, name: str, *ops: str) -> Any | None:
        n = self.producer.get(name)
        return n if n is not None and n.op_type in ops and n.domain in ("", "ai.onnx") else None

    def scalar(self, name: str) -> float | None:
        v = self.consts.get(name)
        if v is None or v.size != 1:
            return None
        return float(v.reshape(-1)[0])

    def uncast(self, name: str) -> str:
        """Through Casts (ids compared as floats: exact below 2^24)."""
        while (n := self.op(name, "Cast")) is not None:
            name = n.input[0]
        return name

    def is_negative(self, cond: str, ids: str) -> bool:
        """cond = ids < 0 (or 0 > ids), ids through Casts."""
        n = self.op(cond, "Less", "Greater")
        if n is None or len(n.input) != 2:
            return False
        a, b = n.input if n.op_type == "Less" else n.input[::-1]
        return self.uncast(a) == self.uncast(ids) and self.scalar(b) == 0.0

    def plus_rows(self, name: str, rows: int) -> str | None:
        """name = ids + rows: the ids."""
        n = self.op(name, "Add")
        if n is None or len(n.input) != 2:
            return None
        for a, b in (n.input, n.input[::-1]):
            if self.scalar(b) == rows and a not in self.consts:
                return a
        return None

    def wrapped(self, name: str, rows: int) -> str | None:
        """The ids whose wrap `name` is, or None."""
        n = self.op(name, "Where")
        if n is not None and len(n.input) == 3:
            cond, a, b = n.input
            ids = self.plus_rows(a, rows)
            if ids is not None and ids == b and self.is_negative(cond, ids):
                return ids
            return None
        n = self.op(name, "Add")
        if n is None or len(n.input) != 2:
            return None
        terms = [self._term(t) for t in n.input]
        if any(t is None for t in terms):
            return None
        (c0, v0), (c1, v1) = terms  # type: ignore[misc]
        for (neg, added), (pos, kept) in (((c0, v0), (c1, v1)), ((c1, v1), (c0, v0))):
            notn = self.op(pos, "Not")
            ids = self.plus_rows(added, rows)
            if ids is not None and kept == ids and notn is not None and \
                    notn.input[0] == neg and self.is_negative(neg, ids):
                return ids
        return None

    def _term(self, name: str) -> tuple[str, str] | None:
        """name = Cast(boolean) * value: (the boolean, the value)."""
        n = self.op(name, "Mul")
        if n is None or len(n.input) != 2:
            return None
        for a, b in (n.input, n.input[::-1]):
            c = self.op(a, "Cast")
            if c is not None and self.op(c.input[0], "Less", "Greater", "Not") is not None:
                return c.input[0], b
        return None


def rewrite(model: Any) -> tuple[Any, list[str]]:
    """The model with every embedding Gather reading its ids past an index wrap (in place),
    and a note per Gather."""
    graph = model.graph
    g = _Graph(graph)
    notes = []
    for node in graph.node:
        if node.op_type != "Gather" or len(node.input) < 2:
            continue
        table = g.consts.get(node.input[0])
        if table is None or table.ndim != 2:
            continue
        ids = g.wrapped(node.input[1], int(table.shape[0]))
        if ids is None:
            continue
        node.input[1] = ids
        notes.append(f"Gather '{node.name or node.output[0]}': the exporter's negative-index "
                     "wrap (ids < 0 ? ids + rows : ids) in front of it is ONNX Gather's own; "
                     "read as a plain Gather of the ids")
    if notes:
        _prune(graph)
    return model, notes


def _prune(graph: Any) -> None:
    """Remove nodes of the wrap's ops that nothing reads any more (repeatedly); subgraphs'
    reads count."""
    outputs = {o.name for o in graph.output}
    while True:
        read = {i for n in graph.node for i in n.input} | outputs
        for a in (a for n in graph.node for a in n.attribute):
            read |= {i for sub in (a.g, *a.graphs) for n in sub.node for i in n.input}
        dead = [n for n in graph.node if n.op_type in _WRAP_OPS
                and not any(o in read for o in n.output if o)]
        if not dead:
            return
        for n in dead:
            graph.node.remove(n)
