"""The integer reference: the int8 number type of reference.Executor (`dtype="int8"`). Its
ops run a quantized graph (graph.quant) with quant.py's arithmetic, bit for bit what the
generated int8 C computes. Tensors are int64 NumPy arrays holding int8 (or int16) values."""

from __future__ import annotations

from typing import Any

import numpy as np

from . import cells, ir, quant, reference
from .errors import RnngenError
from .quant import I64, sat8, sat16


def dequantize_output(plan: quant.QuantPlan, name: str, v: np.ndarray) -> np.ndarray:
    return quant.dequantize(v, plan.tensors[name])


def _state0(ex: Any, n: ir.Recurrent, d: int) -> tuple[np.ndarray, np.ndarray | None]:
    if isinstance(ex.plan.nodes[n.name], quant.QFloatLayer):  # float32 layer: float state
        return reference._state0(ex, n, d)
    qd = ex.plan.nodes[n.name].directions[d]
    return qd.h0.astype(I64).copy(), None if qd.c0 is None else qd.c0.astype(I64)


def _float_layer(ex: Any, n: ir.Node, ins: list[np.ndarray], op: Any) -> list[np.ndarray]:
    """A float32 layer inside the integer model (quant.QFloatLayer): its input dequantized
    (rnn_dequantize_s8 / _s16), the float reference's op (float32 NumPy; a recurrent
    layer's float state in ex.state), each output quantized with its tensor's parameters
    (rnn_quantize_s8 / _s16). Its outputs before quantization are kept in ex.floats (the
    tests measure their distance to a rounding boundary)."""
    q: quant.QFloatLayer = ex.plan.nodes[n.name]
    x = quant.dequantize(ins[0], q.x)
    outs = op(ex, n, [x])
    res = []
    for k, (v, p) in enumerate(zip(outs, q.outs)):
        if p is None:
            res.append(np.zeros(np.shape(v), I64))
            continue
        v = np.asarray(v, np.float32)
        ex.floats[n.outputs[k]] = v
        res.append(_quantize_float(ex, n.outputs[k], v, p))
    return res


# A float32 layer's output lies "near a rounding boundary" when, in quantization steps, it is
# closer than this to a half-way point: the C float and the NumPy float differ by rounding
# (summation order, libm), so there the C may round the other way (docs/int8.md, "float32
# layers": measured differences are below 1e-4 steps).
NEAR = 2.0 ** -10


def _quantize_float(ex: Any, t: str, v: np.ndarray, p: Any) -> np.ndarray:
    """rnn_quantize_s8 / _s16 of a float32 layer's output v (quant.quantize_input and
    quantize_state16's arithmetic); counts the values near a rounding boundary in
    ex.near[t] (since the executor was made) and, with ex.nudge, rounds those the other way
    (the other result the C may give)."""
    if isinstance(p, quant.QState16):
        inv, zp, lim = np.float32(2.0 ** p.exp), 0, np.float32(65536)
    else:
        inv, zp = np.float32(1.0 / p.scale), p.zero_point
        lim = np.float32(65536 if p.dtype == "int16" else 1e6)
    u = np.clip(v * inv, -lim, lim).astype(np.float64)
    r = np.rint(u)
    near = np.abs(np.abs(u - np.floor(u)) - 0.5) < NEAR
    ex.near[t] = ex.near.get(t, 0) + int(np.count_nonzero(near))  # since reset
    if ex.nudge:
        r = np.where(near, np.where(r > u, r - 1, r + 1), r)
    return quant.sat_act(r.astype(I64) + zp, p) if not isinstance(p, quant.QState16) \
        else sat16(r.astype(I64))


def _recurrent(ex: Any, n: ir.Recurrent, ins: list[np.ndarray]) -> list[np.ndarray]:
    if isinstance(ex.plan.nodes[n.name], quant.QFloatLayer):
        return _float_layer(ex, n, ins, reference._recurrent)
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


def _linear(ex: Any, n: ir.Linear, ins: list[np.ndarray]) -> list[np.ndarray]:
    if isinstance(ex.plan.nodes[n.name], quant.QFloatLayer):
        return _float_layer(ex, n, ins, reference._linear)
    q: quant.QLinear = ex.plan.nodes[n.name]
    x = ins[0]
    rows = x.reshape(-1, x.shape[-1])
    y = np.stack([quant.sat_act(q.out.zero_point + q.w.forward(r), q.out) for r in rows])
    return [y.reshape(tuple(x.shape[:-1]) + (n.W.shape[0],))]


def _softmax(ex: Any, n: ir.Softmax, ins: list[np.ndarray]) -> list[np.ndarray]:
    """C: rnn_softmax_s8(): exact integer softmax with a table of e^(-k * input scale)."""
    q: quant.QSoftmax = ex.plan.nodes[n.name]
    x = ins[0]
    m = np.max(x, axis=n.axis, keepdims=True)
    e = q.exp_table[(m - x)]
    s = np.sum(e, axis=n.axis, keepdims=True)
    return [sat8((e * 512 + s) // (2 * s) - 128)]


def _unary(ex: Any, n: ir.Unary, ins: list[np.ndarray]) -> list[np.ndarray]:
    q: quant.QLut8 = ex.plan.nodes[n.name]
    return [q.table.astype(I64)[ins[0] + 128]]


def _conv(ex: Any, n: ir.Conv, ins: list[np.ndarray]) -> list[np.ndarray]:
    if isinstance(ex.plan.nodes[n.name], quant.QFloatLayer):
        return _float_layer(ex, n, ins, reference._conv)
    q: quant.QConv = ex.plan.nodes[n.name]
    win = reference._windows(ins[0][0], n.kernel, n.strides, n.pads, n.dilations,
                             q.x.zero_point)
    if q.x.dtype == "int16":  # w8a16 / w4a16 reading int16: rnn_conv_a16
        return [quant.conv_a16(q, win, n.group)[None]]
    return [quant.conv_s8(q, win, n.group)[None]]


def _pool(ex: Any, n: ir.Pool, ins: list[np.ndarray]) -> list[np.ndarray]:
    """The output keeps the input's quantization. C: rnn_max_pool_s8(): the window's largest
    value inside the input; rnn_avg_pool_s8(): its sum over its count rounded half away from
    zero (CMSIS-NN), count_include_pad adding the zero point per padded position; the zero
    point for a window with no position inside."""
    x = ins[0][0]
    axes = tuple(range(1, 1 + len(n.kernel)))
    zp = ex.plan.tensors[n.inputs[0]].zero_point
    if n.kind == "max":
        none = -(1 << 40)
        y = np.max(reference._windows(x, n.kernel, n.strides, n.pads, n.dilations, none),
                   axis=axes)
        return [np.where(y == none, zp, y)[None]]
    s = np.sum(reference._windows(x, n.kernel, n.strides, n.pads, n.dilations, 0), axis=axes)
    cnt = np.sum(reference._windows(np.ones_like(x), n.kernel, n.strides, n.pads, n.dilations,
                                    0), axis=axes)
    if n.count_include_pad:
        whole = int(np.prod(n.kernel))
        s, cnt = s + (whole - cnt) * zp, np.full_like(cnt, whole)
    safe = np.maximum(cnt, 1)
    q = np.where(s > 0, (s + safe // 2) // safe, -((-s + safe // 2) // safe))
    return [np.where(cnt == 0, zp, q)[None]]


def _reduce(ex: Any, n: ir.Reduce, ins: list[np.ndarray]) -> list[np.ndarray]:
    """C: rnn_reduce_s8(): the input's quantization kept; the maximum, or the mean rounded
    half away from zero (as _pool)."""
    axes = tuple(range(n.first, n.last + 1))
    if n.fn == "max":
        return [np.max(ins[0], axis=axes, keepdims=True)]
    s = np.sum(ins[0], axis=axes, keepdims=True)
    cnt = int(np.prod([ins[0].shape[a] for a in axes]))
    if n.fn == "sum":  # C: rnn_reduce_sum_s8()
        return [ex.plan.nodes[n.name].finish(s, cnt)]
    return [np.where(s > 0, (s + cnt // 2) // cnt, -((-s + cnt // 2) // cnt))]


def _running_reduce(ex: Any, n: ir.RunningReduce, ins: list[np.ndarray]) -> list[np.ndarray]:
    """C: rnn_running_reduce_s8(): the maximum so far, or the raw sum so far over the count
    rounded half away from zero (after T steps: _reduce over the sequence, bit for bit)."""
    def finish(a: np.ndarray, c: int) -> np.ndarray:
        if n.fn == "sum":
            return ex.plan.nodes[n.name].finish(a, c)
        if n.fn == "max":
            return a
        return np.where(a > 0, (a + c // 2) // c, -((-a + c // 2) // c))
    return [reference.running_reduce(ex, n, ins[0].astype(I64), finish)]


def _attention_steps(ex: Any, n: ir.AttentionPool, ins: list[np.ndarray],
                     state: Any) -> tuple[Any, np.ndarray]:
    """The scores broadcast to the values (each output's own m and l: the same numbers as
    one per score), the pooled axis first; quant.QAttentionPool.steps, then finish."""
    q: quant.QAttentionPool = ex.plan.nodes[n.name]
    s, v = ins
    s = np.moveaxis(np.broadcast_to(s, v.shape), n.axis, 0)
    v = np.moveaxis(v, n.axis, 0)
    state = q.steps(state, s, v)
    return state, np.expand_dims(q.finish(state[1], state[3]), n.axis)


def _attention_pool(ex: Any, n: ir.AttentionPool, ins: list[np.ndarray]) -> list[np.ndarray]:
    """C: rnn_attention_pool_s8(): the integer online softmax over the whole axis."""
    return [_attention_steps(ex, n, ins, None)[1]]


def _running_attention_pool(ex: Any, n: ir.RunningAttentionPool, ins: list[np.ndarray]
                            ) -> list[np.ndarray]:
    """C: rnn_running_attention_pool_s8(): the same online softmax continued from the state
    (after T steps: _attention_pool over the sequence, bit for bit)."""
    state, y = _attention_steps(ex, n, ins, ex.running.get(n.name))
    ex.running[n.name] = state
    return [y]


def _channel_affine(ex: Any, n: ir.ChannelAffine, ins: list[np.ndarray]) -> list[np.ndarray]:
    """C: rnn_scale_shift_s8(): a depthwise 1x1 convolution (quant.conv_s8's arithmetic)."""
    q: quant.QConv = ex.plan.nodes[n.name]
    x = ins[0]
    shp = [1] * x.ndim
    shp[n.axis] = -1
    acc = (x.astype(I64) - q.x.zero_point) * q.w.reshape(shp).astype(I64) + q.bias.reshape(shp)
    return [sat8(quant.rq(acc, q.mult.reshape(shp), q.shift.reshape(shp)) + q.out.zero_point)]


def _layernorm(ex: Any, n: ir.LayerNorm, ins: list[np.ndarray]) -> list[np.ndarray]:
    """C: rnn_layer_norm_s8(): quant.layer_norm_s8 on each block of the axes axis.."""
    x = ins[0]
    return [quant.layer_norm_s8(ex.plan.nodes[n.name], x).reshape(x.shape)]


def _pad(ex: Any, n: ir.Pad, ins: list[np.ndarray]) -> list[np.ndarray]:
    """The input's quantization kept; the padding is the pad value's integer."""
    x = ins[0]
    r = x.ndim
    return [np.pad(x, [(n.pads[i], n.pads[r + i]) for i in range(r)],
                   constant_values=ex.plan.nodes[n.name])]


def _binary(ex: Any, n: ir.Node, ins: list[np.ndarray]) -> list[np.ndarray]:
    raise RnngenError(f"node '{n.name}': not supported with --dtype int8")


def _embedding(ex: Any, n: ir.Embedding, ins: list[np.ndarray]) -> list[np.ndarray]:
    """C: rnn_gather_rows(): rows of the int8 table, ids wrapped and clamped as the float
    lookup does."""
    return [ex.plan.nodes[n.name].table.astype(I64)[n.rows(ins[0])]]


INT8 = reference.Dtype(
    name="int8",
    ops={ir.Recurrent: _recurrent, ir.Linear: _linear, ir.Softmax: _softmax, ir.Unary: _unary,
         ir.Binary: _binary, ir.Conv: _conv, ir.Pool: _pool, ir.Reduce: _reduce,
         # data movement does not depend on the element type
         ir.Transpose: reference._transpose, ir.Slice: reference._slice,
         ir.Concat: reference._concat, ir.View: reference._view, ir.Embedding: _embedding,
         ir.RunningReduce: _running_reduce, ir.ChannelAffine: _channel_affine, ir.Pad: _pad,
         ir.FrameWindow: reference._frame_window, ir.LayerNorm: _layernorm,
         ir.AttentionPool: _attention_pool, ir.RunningAttentionPool: _running_attention_pool},
    element=I64, state0=_state0, constants=False,
    encode=lambda ex, x: quant.quantize_input(np.asarray(x, np.float32), ex.plan.input),
    decode=lambda ex, o, v: dequantize_output(ex.plan, o, v))
