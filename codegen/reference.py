"""NumPy executor of the IR: the golden model the generated C is compared with.

float32 throughout, so results match the C closely (summation order differs, so the C is
compared within a tolerance). Tests check this executor against onnxruntime and PyTorch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from . import cells, ir, quant
from .errors import RnngenError

F32 = np.float32


def activation(act: ir.Activation, x: np.ndarray) -> np.ndarray:
    a, b = F32(act.alpha), F32(act.beta)
    x = x.astype(F32, copy=False)
    with np.errstate(over="ignore", under="ignore"):
        if act.name == "Sigmoid":
            return (F32(1) / (F32(1) + np.exp(-x))).astype(F32)
        if act.name == "Tanh":
            return np.tanh(x)
        if act.name == "Relu":
            return np.maximum(x, F32(0))
        if act.name == "Affine":
            return a * x + b
        if act.name == "LeakyRelu":
            return np.where(x >= 0, x, a * x).astype(F32)
        if act.name == "ThresholdedRelu":
            return np.where(x > a, x, F32(0)).astype(F32)
        if act.name == "ScaledTanh":
            return a * np.tanh(b * x)
        if act.name == "HardSigmoid":
            return np.clip(a * x + b, F32(0), F32(1)).astype(F32)
        if act.name == "Elu":
            return np.where(x >= 0, x, a * (np.exp(x) - F32(1))).astype(F32)
        if act.name == "Softsign":
            return x / (F32(1) + np.abs(x))
        if act.name == "Softplus":
            return np.logaddexp(F32(0), x).astype(F32)
        if act.name == "Clip":
            return np.minimum(np.maximum(x, a), b).astype(F32)
        if act.name == "HardSwish":
            return (x * np.clip(x * F32(1.0 / 6.0) + F32(0.5), F32(0), F32(1))).astype(F32)
    raise RnngenError(f"activation {act.name} is not implemented")


@dataclass(frozen=True)
class Dtype:
    """A number type's policy for the one executor: how node kinds compute, what the
    recurrent state starts from, and how values enter and leave. FLOAT32 here; INT8 in
    reference_int.py (the integer ops, bit for bit the int8 C)."""

    name: str
    ops: dict[type, Callable]  # node type -> fn(executor, node, inputs) -> outputs
    element: type  # NumPy type tensors are held in
    state0: Callable  # (executor, node, direction) -> (h, c | None)
    constants: bool  # graph constants enter the environment (float32; int8 graphs have none)
    encode: Callable  # (executor, float input) -> what run_all takes
    decode: Callable  # (executor, output name, value) -> float


class Executor:
    """Runs a graph in one number type (`dtype`: "float32", or "int8" for a quantized graph:
    the integer reference). Recurrent state lives in the executor: `run` on the one-step graph
    of a streaming model continues from the previous call until `reset`."""

    def __init__(self, graph: ir.Graph, observer: Callable | None = None,
                 dtype: str = "float32"):
        self.graph = graph
        self.dtype = dtypes(dtype)
        if self.dtype.name != "float32" and graph.quant is None:
            raise RnngenError("the graph is not quantized (--dtype int8)")
        self.plan = graph.quant
        self.state: dict[tuple[str, int], tuple[np.ndarray, np.ndarray | None]] = {}
        # observer(node, direction, x_t, h_before, h_after, c_after) after every step:
        # calibration for int8 records ranges through it (float32 only)
        self.observer = observer
        # int8: the float32 layers' outputs before their quantization (last run_all)
        self.floats: dict[str, np.ndarray] = {}
        # ... how many of them lie near a rounding boundary (reference_int.NEAR), and
        # whether to round those the other way (the other result the C may give)
        self.near: dict[str, int] = {}
        self.nudge = False
        self.reset()

    def reset(self) -> None:
        self.state = {}
        # pooling over time in a step / block graph: node -> (running values, count)
        self.running: dict[str, tuple[np.ndarray, int]] = {}
        # step graphs with windows along time (ir.FrameWindow): which fired on this call, and
        # the held outputs' values as of the last call that produced them
        self.fired: dict[str, bool] = {}
        self.held: dict[str, np.ndarray] = {}
        for n in self.graph.nodes:
            if isinstance(n, ir.Recurrent):
                for d in range(n.num_directions):
                    self.state[(n.name, d)] = self.dtype.state0(self, n, d)

    def set_state(self, values: dict[str, np.ndarray]) -> None:
        """Stateful models: the recurrent state from the state inputs' float values (by input
        name, in each input's layout), as `<name>_set_state` sets it (int8: quantized with the
        hidden state's scale and the cell state's power of two)."""
        for si in self.graph.state_inputs:
            if si.name not in values:
                raise RnngenError(f"no values for state input '{si.name}'")
            v = np.asarray(values[si.name], F32).reshape(-1)
            if v.size != si.size:
                raise RnngenError(f"state input '{si.name}' has {v.size} values, the model "
                                  f"takes {list(si.shape)}")
            for k, (node, d, kind, j) in enumerate(si.slots):
                h, c = self.state[(node, d)]
                h, c = h.copy(), None if c is None else c.copy()
                q = self.dtype.name != "float32" and not self._float_layer(node)
                if kind == "h":
                    h[j] = quant.quantize_input(v[k:k + 1], self.plan.nodes[node].h)[0] \
                        if q else v[k]
                else:
                    assert c is not None
                    c[j] = quant.quantize_state16(
                        v[k:k + 1], quant.QState16(self.plan.nodes[node].cell_exp))[0] \
                        if q else v[k]
                self.state[(node, d)] = (h, c)

    def _float_layer(self, node: str) -> bool:
        """A float32 layer inside an integer model: its state is float (not quantized)."""
        return self.plan is not None and isinstance(self.plan.nodes.get(node),
                                                    quant.QFloatLayer)

    def get_state(self) -> dict[str, np.ndarray]:
        """Stateful models: the recurrent state as float values in each state input's layout,
        as `<name>_get_state` reads it (int8: dequantized)."""
        out = {}
        for si in self.graph.state_inputs:
            v = np.zeros(si.size, F32)
            for k, (node, d, kind, j) in enumerate(si.slots):
                h, c = self.state[(node, d)]
                val = h[j] if kind == "h" else c[j]  # type: ignore[index]
                if self.dtype.name != "float32" and not self._float_layer(node):
                    qn = self.plan.nodes[node]
                    p = qn.h if kind == "h" else quant.QState16(qn.cell_exp)
                    val = quant.dequantize(np.asarray([val]), p)[0]
                v[k] = val
            out[si.name] = v.reshape(si.shape)
        return out

    def run(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """float input -> float outputs (int8: the input quantized and the outputs dequantized
        as the C does with float I/O)."""
        env = self.run_all(self.dtype.encode(self, x))
        return {o: self.dtype.decode(self, o, env[o]) for o in self.graph.outputs}

    def run_int(self, x_q: np.ndarray) -> dict[str, np.ndarray]:
        """The outputs in the executor's own number type (int8: integers, int16 for a
        cell-state output) for an input already in it."""
        env = self.run_all(x_q)
        return {o: env[o] for o in self.graph.outputs}

    def run_all(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """Every tensor's values for input x (in the executor's number type)."""
        g, dt = self.graph, self.dtype
        want = tuple(g.shapes[g.input])
        x = np.asarray(x, dt.element)
        if x.size != int(np.prod(want)):
            raise RnngenError(f"input has {x.size} values, the model takes {want}")
        env: dict[str, np.ndarray] = dict(g.constants) if dt.constants else {}
        env[g.input] = x.reshape(want)
        for n in g.nodes:
            gate = g.gates.get(n.name)
            if gate and not all(self.fired[w] for w in gate):
                continue  # a window before it did not fire on this call
            outs = dt.ops[type(n)](self, n, [env[i] for i in n.inputs])
            for o, v in zip(n.outputs, outs):
                if o:
                    env[o] = np.ascontiguousarray(v, dtype=dt.element).reshape(g.shapes[o])
        for o in g.held:
            if o in env:
                self.held[o] = env[o]
            else:  # zero (the int8 zero point) until first produced
                env[o] = self.held.get(o, np.full(g.shapes[o], self._fill(o), dt.element))
        return env

    def _fill(self, t: str) -> int:
        """The value of float zero in tensor t (0; int8: its zero point)."""
        return 0 if self.dtype.name == "float32" else int(self.plan.tensors[t].zero_point)


def dtypes(name: str) -> Dtype:
    if name == "float32":
        return FLOAT32
    if name == "int8":
        from . import reference_int
        return reference_int.INT8
    raise RnngenError(f"internal: no reference for number type '{name}'")


def run(graph: ir.Graph, x: np.ndarray) -> dict[str, np.ndarray]:
    """Outputs of the whole graph for input x (from the initial state)."""
    return Executor(graph).run(x)


def _linear(ex: Executor, n: ir.Linear, ins: list[np.ndarray]) -> list[np.ndarray]:
    x = ins[0]
    k = x.shape[-1]
    rows = x.reshape(-1, k)
    y = np.stack([n.W.matvec(r) for r in rows]) if rows.shape[0] else rows
    if n.b is not None:
        y = y + n.b
    return [y.reshape(tuple(x.shape[:-1]) + (n.W.shape[0],))]


def _binary(ex: Executor, n: ir.Binary, ins: list[np.ndarray]) -> list[np.ndarray]:
    a, b = ins
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return [{"Add": np.add, "Sub": np.subtract, "Mul": np.multiply,
                 "Div": np.divide}[n.fn](a, b)]


def _unary(ex: Executor, n: ir.Unary, ins: list[np.ndarray]) -> list[np.ndarray]:
    return [activation(n.act, ins[0])]


def _softmax(ex: Executor, n: ir.Softmax, ins: list[np.ndarray]) -> list[np.ndarray]:
    x = ins[0]
    m = np.max(x, axis=n.axis, keepdims=True)
    e = np.exp(x - m)
    s = np.sum(e, axis=n.axis, keepdims=True)
    if n.log:
        return [x - m - np.log(s)]
    return [e / s]


def _transpose(ex: Executor, n: ir.Transpose, ins: list[np.ndarray]) -> list[np.ndarray]:
    return [np.transpose(ins[0], n.perm)]


def _slice(ex: Executor, n: ir.Slice, ins: list[np.ndarray]) -> list[np.ndarray]:
    x = ins[0]
    for ax, (s, st, c) in enumerate(zip(n.starts, n.steps, n.counts)):
        x = np.take(x, s + st * np.arange(c), axis=ax)
    return [x]


def _concat(ex: Executor, n: ir.Concat, ins: list[np.ndarray]) -> list[np.ndarray]:
    return [np.concatenate(ins, axis=n.axis)]


def _view(ex: Executor, n: ir.View, ins: list[np.ndarray]) -> list[np.ndarray]:
    return [ins[0].reshape(n.shape)]


def _recurrent(ex: Executor, n: ir.Recurrent, ins: list[np.ndarray]) -> list[np.ndarray]:
    T, H, D = n.seq_len, n.hidden, n.num_directions
    xs = ins[0].reshape(T, n.input_size)
    Y = np.zeros((T, D, H), F32)
    Yh = np.zeros((D, H), F32)
    Yc = np.zeros((D, H), F32)
    step = cells.of(n.cell).step_f32  # the cell's float step (codegen/cells/)
    for d, cd in enumerate(n.directions):
        h, c = ex.state[(n.name, d)]
        h = h.copy()
        c = None if c is None else c.copy()
        order = range(n.valid_len - 1, -1, -1) if cd.reverse else range(n.valid_len)
        for t in order:
            h_before = h
            gx = cd.W.matvec(xs[t]) + cd.wb
            h, c = step(n, cd, xs[t], gx, h, c)
            Y[t, d] = h
            if ex.observer is not None:
                ex.observer(n, d, xs[t], h_before, h, c)
        ex.state[(n.name, d)] = (h, c)
        Yh[d] = h
        if c is not None:
            Yc[d] = c
    return [Y, Yh, Yc]


def _windows(x: np.ndarray, kernel: tuple[int, ...], strides: tuple[int, ...],
             pads: tuple[int, ...], dilations: tuple[int, ...], fill: float) -> np.ndarray:
    """x [C, *spatial] -> [C, *kernel, *out]: every window's values (`fill` in the padding)."""
    k = len(kernel)
    pad = [(0, 0)] + [(pads[i], pads[k + i]) for i in range(k)]
    xp = np.pad(x, pad, constant_values=fill)
    out = [(xp.shape[1 + i] - ((kernel[i] - 1) * dilations[i] + 1)) // strides[i] + 1
           for i in range(k)]
    idx = []
    for i in range(k):  # [kernel_i, out_i] indices along spatial axis i
        idx.append(np.arange(kernel[i])[:, None] * dilations[i] +
                   np.arange(out[i])[None, :] * strides[i])
    if k == 1:
        return xp[:, idx[0]]  # [C, k0, o0]
    a = xp[:, idx[0][:, None, :, None], idx[1][None, :, None, :]]  # [C, k0, k1, o0, o1]
    return a


def _conv(ex: Executor, n: ir.Conv, ins: list[np.ndarray]) -> list[np.ndarray]:
    x = ins[0][0]  # [C, *spatial]
    kern = n.kernel
    k = len(kern)
    win = _windows(x, kern, n.strides, n.pads, n.dilations, 0.0)  # [C, *kern, *out]
    M, cg = n.W.shape[0], n.W.shape[1]
    G = n.group
    mg = M // G
    out_sp = win.shape[1 + k:]
    y = np.empty((M,) + tuple(out_sp), F32)
    for g in range(G):
        wg = n.W[g * mg:(g + 1) * mg].reshape(mg, -1).astype(F32)  # [mg, cg*prod(kern)]
        xg = win[g * cg:(g + 1) * cg].reshape(cg * int(np.prod(kern)), -1)
        y[g * mg:(g + 1) * mg] = (wg @ xg).reshape((mg,) + tuple(out_sp))
    if n.b is not None:
        y += n.b.reshape((M,) + (1,) * k)
    return [y[None]]


def _pool(ex: Executor, n: ir.Pool, ins: list[np.ndarray]) -> list[np.ndarray]:
    x = ins[0][0]
    k = len(n.kernel)
    axes = tuple(range(1, 1 + k))
    if n.kind == "max":
        win = _windows(x, n.kernel, n.strides, n.pads, n.dilations, -np.inf)
        return [np.max(win, axis=axes)[None]]
    win = _windows(x, n.kernel, n.strides, n.pads, n.dilations, 0.0)
    s = np.sum(win, axis=axes, dtype=F32)
    if n.count_include_pad:
        cnt = np.full(s.shape[1:], float(np.prod(n.kernel)), F32)
    else:
        ones = np.ones((1,) + x.shape[1:], F32)
        cnt = np.sum(_windows(ones, n.kernel, n.strides, n.pads, n.dilations, 0.0),
                     axis=axes)[0]
    return [(s / cnt)[None]]


def _reduce(ex: Executor, n: ir.Reduce, ins: list[np.ndarray]) -> list[np.ndarray]:
    axes = tuple(range(n.first, n.last + 1))
    fn = {"sum": np.sum, "mean": np.mean, "max": np.max}[n.fn]
    return [fn(ins[0], axis=axes, keepdims=True).astype(F32)]


def _layernorm(ex: Executor, n: ir.LayerNorm, ins: list[np.ndarray]) -> list[np.ndarray]:
    x = ins[0]
    rows = x.reshape(-1, n.scale.size)
    mean = rows.mean(axis=1, keepdims=True, dtype=F32)
    d = rows - mean
    var = (d * d).mean(axis=1, keepdims=True, dtype=F32)
    y = d / np.sqrt(var + F32(n.epsilon)) * n.scale + n.bias
    return [y.reshape(x.shape)]


def _channel_affine(ex: Executor, n: ir.ChannelAffine, ins: list[np.ndarray]
                    ) -> list[np.ndarray]:
    x = ins[0]
    shp = [1] * x.ndim
    shp[n.axis] = n.scale.size
    return [x * n.scale.reshape(shp) + n.shift.reshape(shp)]


def _pad(ex: Executor, n: ir.Pad, ins: list[np.ndarray]) -> list[np.ndarray]:
    x = ins[0]
    r = x.ndim
    return [np.pad(x, [(n.pads[i], n.pads[r + i]) for i in range(r)],
                   constant_values=F32(n.value))]


def _embedding(ex: Executor, n: ir.Embedding, ins: list[np.ndarray]) -> list[np.ndarray]:
    return [n.table[n.rows(ins[0])]]


def running_reduce(ex: Executor, n: ir.RunningReduce, x: np.ndarray, finish: Callable
                   ) -> np.ndarray:
    """C: rnn_running_reduce_*(): this call's values folded in order into the running sum or
    maximum (the first after reset starts it); `finish(acc, count)` gives the output."""
    s = x.shape
    outer, mid = int(np.prod(s[:n.first])), int(np.prod(s[n.first:n.last + 1]))
    x3 = x.reshape(outer, mid, -1)
    acc, cnt = ex.running.get(n.name, (None, 0))
    for k in range(mid):
        v = x3[:, k, :]
        if acc is None:
            acc = v.copy()
        elif n.fn == "max":
            acc = np.maximum(acc, v)
        else:
            acc = acc + v
    cnt += mid
    ex.running[n.name] = (acc, cnt)
    out = tuple(1 if n.first <= i <= n.last else d for i, d in enumerate(s))
    return finish(acc, cnt).reshape(out)


def _running_reduce(ex: Executor, n: ir.RunningReduce, ins: list[np.ndarray]
                    ) -> list[np.ndarray]:
    return [running_reduce(ex, n, ins[0].astype(F32),
                           lambda a, c: (a / F32(c)).astype(F32) if n.fn == "mean" else a)]


def _attention_pool(ex: Executor, n: ir.AttentionPool, ins: list[np.ndarray]
                    ) -> list[np.ndarray]:
    """softmax(scores) over the axis (as _softmax), times the values, summed (as _reduce)."""
    s, v = ins
    e = np.exp(s - np.max(s, axis=n.axis, keepdims=True))
    w = e / np.sum(e, axis=n.axis, keepdims=True)
    return [np.sum(w * v, axis=n.axis, keepdims=True).astype(F32)]


def _running_attention_pool(ex: Executor, n: ir.RunningAttentionPool, ins: list[np.ndarray]
                            ) -> list[np.ndarray]:
    """C: rnn_running_attention_pool_f32(): the online softmax, step by step, in float32."""
    s, v = (np.moveaxis(t.astype(F32), n.axis, 0) for t in ins)
    m, l, a = ex.running.get(n.name, (None, None, None))
    with np.errstate(over="ignore", under="ignore"):
        for k in range(v.shape[0]):
            if m is None:
                m, l, a = s[k].copy(), np.ones_like(s[k]), v[k].copy()
                continue
            mn = np.maximum(m, s[k])
            c1, c2 = np.exp(m - mn), np.exp(s[k] - mn)
            m, l, a = mn, l * c1 + c2, a * c1 + c2 * v[k]
    ex.running[n.name] = (m, l, a)
    return [np.expand_dims((a / l).astype(F32), n.axis)]


def _frame_window(ex: Executor, n: ir.FrameWindow, ins: list[np.ndarray]
                  ) -> list[np.ndarray]:
    """C: rnn_frame_push(): this call's frame shifted into the window of the last frames
    (the padding before the first frame: zero, the int8 zero point), and whether it fires."""
    x = ins[0]
    shape = tuple(x.shape[:n.axis]) + (n.frames,) + tuple(x.shape[n.axis + 1:])
    buf, count = ex.running.get(n.name, (None, 0))
    if buf is None:
        buf = np.full(shape, ex._fill(n.inputs[0]), x.dtype)
    buf = np.concatenate([np.take(buf, range(1, n.frames), axis=n.axis), x], axis=n.axis)
    count += 1
    if count >= n.start + n.stride:
        count -= n.stride
    ex.running[n.name] = (buf, count)
    ex.fired[n.name] = count >= n.start and (count - n.start) % n.stride == 0
    return [buf]


def _state0(ex: Executor, n: ir.Recurrent, d: int) -> tuple[np.ndarray, np.ndarray | None]:
    cd = n.directions[d]
    return cd.h0.copy(), None if cd.c0 is None else cd.c0.copy()


FLOAT32 = Dtype(
    name="float32",
    ops={ir.Recurrent: _recurrent, ir.Linear: _linear, ir.Binary: _binary, ir.Unary: _unary,
         ir.Softmax: _softmax, ir.Transpose: _transpose, ir.Slice: _slice, ir.Concat: _concat,
         ir.View: _view, ir.Conv: _conv, ir.Pool: _pool, ir.Reduce: _reduce,
         ir.LayerNorm: _layernorm, ir.ChannelAffine: _channel_affine, ir.Pad: _pad,
         ir.Embedding: _embedding, ir.RunningReduce: _running_reduce,
         ir.AttentionPool: _attention_pool, ir.RunningAttentionPool: _running_attention_pool,
         ir.FrameWindow: _frame_window},
    element=F32, state0=_state0, constants=True,
    encode=lambda ex, x: np.asarray(x, F32), decode=lambda ex, o, v: v)


def golden_input(graph: ir.Graph, seed: int = 0) -> np.ndarray:
    """The seeded random input used when the user gives none: uniform in [-1, 1); token
    ids (graph.input_ids): uniform integers over every embedding table's rows."""
    rng = np.random.default_rng(seed)
    shape = graph.shapes[graph.input]
    if graph.input_ids:
        return rng.integers(0, id_range(graph), size=shape).astype(F32)
    return rng.uniform(-1.0, 1.0, size=shape).astype(F32)


def id_range(graph: ir.Graph) -> int:
    """Token ids valid for every embedding lookup of the graph: [0, this)."""
    return min(int(n.table.shape[0]) for n in graph.nodes if isinstance(n, ir.Embedding))
