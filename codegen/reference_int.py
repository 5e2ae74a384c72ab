"""The integer reference: runs a quantized graph (graph.quant) with quant.py's arithmetic,
bit for bit what the generated int8 C computes. Tensors are int64 NumPy arrays holding int8
(or int16) values."""

from __future__ import annotations

import numpy as np

from . import cells, ir, quant, reference
from .errors import RnngenError
from .quant import I64, sat8, sat16


class Executor:
    """Like reference.Executor: recurrent state persists across `run` calls until `reset`."""

    def __init__(self, graph: ir.Graph):
        if graph.quant is None:
            raise RnngenError("the graph is not quantized (--dtype int8)")
        self.graph = graph
        self.plan: quant.QuantPlan = graph.quant
        self.state: dict[tuple[str, int], tuple[np.ndarray, np.ndarray | None]] = {}
        self.reset()

    def reset(self) -> None:
        self.state = {}
        for n in self.graph.nodes:
            if isinstance(n, ir.Recurrent):
                q = self.plan.nodes[n.name]
                for d, qd in enumerate(q.directions):
                    self.state[(n.name, d)] = (qd.h0.astype(I64).copy(),
                                               None if qd.c0 is None else qd.c0.astype(I64))

    def run_int(self, x_q: np.ndarray) -> dict[str, np.ndarray]:
        """int8 input -> integer outputs (int8, or int16 for a cell-state output)."""
        env = self.run_all(x_q)
        return {o: env[o] for o in self.graph.outputs}

    def run_all(self, x_q: np.ndarray) -> dict[str, np.ndarray]:
        """Every tensor's integer values for int8 input x_q."""
        g = self.graph
        env: dict[str, np.ndarray] = {g.input: np.asarray(x_q, I64).reshape(g.shapes[g.input])}
        for n in g.nodes:
            outs = _EXEC[type(n)](self, n, [env[i] for i in n.inputs])
            for o, v in zip(n.outputs, outs):
                if o:
                    env[o] = np.asarray(v, I64).reshape(g.shapes[o])
        return env

    def run(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """float input -> the outputs as the C returns them with float I/O (dequantized)."""
        x_q = quant.quantize_input(np.asarray(x, np.float32), self.plan.input)
        return {o: dequantize_output(self.plan, o, v) for o, v in self.run_int(x_q).items()}


def dequantize_output(plan: quant.QuantPlan, name: str, v: np.ndarray) -> np.ndarray:
    p = plan.tensors[name]
    if isinstance(p, quant.QParams):
        return quant.dequantize(v, p)
    return np.asarray(v, np.int64).astype(np.float32) * np.float32(2.0 ** -p[1])


def _recurrent(ex: Executor, n: ir.Recurrent, ins: list[np.ndarray]) -> list[np.ndarray]:
    q: quant.QRecurrent = ex.plan.nodes[n.name]
    T, H, D = n.seq_len, n.hidden, n.num_directions
    xs = ins[0].reshape(T, n.input_size)
    Y = np.full((T, D, H), q.h.zero_point, I64)  # steps past sequence_lens: real zero
    Yh = np.zeros((D, H), I64)
    Yc = np.zeros((D, H), I64)
    step = cells.of(n.cell).step_s8  # the cell's integer step (codegen/cells/)
    for d, qd in enumerate(q.directions):
        h, c = ex.state[(n.name, d)]
        cd = n.directions[d]
        order = range(n.valid_len - 1, -1, -1) if cd.reverse else range(n.valid_len)
        for t in order:
            gx = sat16(qd.W.forward(xs[t]))
            h, c = step(q, qd, xs[t], gx, h, c)
            Y[t, d] = h
        ex.state[(n.name, d)] = (h, c)
        Yh[d] = h
        if c is not None:
            Yc[d] = c
    return [Y, Yh, Yc]


def _linear(ex: Executor, n: ir.Linear, ins: list[np.ndarray]) -> list[np.ndarray]:
    q: quant.QLinear = ex.plan.nodes[n.name]
    x = ins[0]
    rows = x.reshape(-1, x.shape[-1])
    y = np.stack([sat8(q.out.zero_point + q.w.forward(r)) for r in rows])
    return [y.reshape(tuple(x.shape[:-1]) + (n.W.shape[0],))]


def _softmax(ex: Executor, n: ir.Softmax, ins: list[np.ndarray]) -> list[np.ndarray]:
    """C: rnn_softmax_s8(): exact integer softmax with a table of e^(-k * input scale)."""
    q: quant.QSoftmax = ex.plan.nodes[n.name]
    x = ins[0]
    m = np.max(x, axis=n.axis, keepdims=True)
    e = q.exp_table[(m - x)]
    s = np.sum(e, axis=n.axis, keepdims=True)
    return [sat8((e * 512 + s) // (2 * s) - 128)]


def _unary(ex: Executor, n: ir.Unary, ins: list[np.ndarray]) -> list[np.ndarray]:
    q: quant.QLut8 = ex.plan.nodes[n.name]
    return [q.table.astype(I64)[ins[0] + 128]]


def _binary(ex: Executor, n: ir.Node, ins: list[np.ndarray]) -> list[np.ndarray]:
    raise RnngenError(f"node '{n.name}': not supported with --dtype int8")


_EXEC = {
    ir.Recurrent: _recurrent, ir.Linear: _linear, ir.Softmax: _softmax, ir.Unary: _unary,
    # data movement does not depend on the element type
    ir.Transpose: reference._transpose, ir.Slice: reference._slice,
    ir.Concat: reference._concat, ir.View: reference._view, ir.Binary: _binary,
}

