"""IR -> plain dicts for the C templates (model.c, model.h, main.c).

Python decides everything here: symbol names, packed weight layouts, buffer addresses,
kernel calls, sizes. The templates only lay the prepared strings out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import numpy as np

from .. import cells, cgen, formats, ir

# kernel -> (source under runtime_c/Source, kernels it calls): the matrix formats' kernels
# (formats/), the cells' (cells/) and the float32 kernels of other nodes
KERNELS: dict[str, tuple[str, tuple[str, ...]]] = {
    **formats.kernels_f32(),
    **cells.kernels_f32(),
    "rnn_activation_f32": ("ActivationFunctions/rnn_activation_f32.c", ()),
    "rnn_elementwise_f32": ("BasicMathFunctions/rnn_elementwise_f32.c", ()),
    "rnn_softmax_f32": ("SoftmaxFunctions/rnn_softmax_f32.c", ()),
    "rnn_copy_strided_f32": ("ViewFunctions/rnn_copy_strided_f32.c", ()),
    "rnn_conv_f32": ("ConvolutionFunctions/rnn_conv_f32.c", ()),
    "rnn_pool_f32": ("PoolingFunctions/rnn_pool_f32.c", ()),
    "rnn_reduce_f32": ("BasicMathFunctions/rnn_reduce_f32.c", ()),
    "rnn_layer_norm_f32": ("NormalizationFunctions/rnn_layer_norm_f32.c", ()),
    "rnn_scale_shift_f32": ("NormalizationFunctions/rnn_scale_shift_f32.c", ()),
    "rnn_gather_rows": ("ViewFunctions/rnn_gather_rows.c", ()),
    "rnn_frame_push": ("ViewFunctions/rnn_frame_push.c", ()),
    "rnn_running_reduce_f32": ("BasicMathFunctions/rnn_running_reduce_f32.c", ()),
    "rnn_attention_pool_f32": ("SoftmaxFunctions/rnn_attention_pool_f32.c", ()),
    "rnn_running_attention_pool_f32": ("SoftmaxFunctions/rnn_running_attention_pool_f32.c",
                                       ()),
}

_ACT_ENUM = {
    "Sigmoid": "RNN_ACT_SIGMOID", "Tanh": "RNN_ACT_TANH", "Relu": "RNN_ACT_RELU",
    "Affine": "RNN_ACT_AFFINE", "LeakyRelu": "RNN_ACT_LEAKY_RELU",
    "ThresholdedRelu": "RNN_ACT_THRESHOLDED_RELU", "ScaledTanh": "RNN_ACT_SCALED_TANH",
    "HardSigmoid": "RNN_ACT_HARD_SIGMOID", "Elu": "RNN_ACT_ELU", "Softsign": "RNN_ACT_SOFTSIGN",
    "Softplus": "RNN_ACT_SOFTPLUS", "Clip": "RNN_ACT_CLIP", "HardSwish": "RNN_ACT_HARD_SWISH",
}
_BIN_ENUM = {"Add": "RNN_OP_ADD", "Sub": "RNN_OP_SUB", "Mul": "RNN_OP_MUL", "Div": "RNN_OP_DIV"}

_CTYPE_BYTES = {"float": 4, "int64_t": 8, "int32_t": 4, "uint16_t": 2, "int16_t": 2, "int8_t": 1}


def kernel_closure(names: set[str], table: dict[str, tuple[str, tuple[str, ...]]] | None = None
                   ) -> list[str]:
    """The kernels `names` use, with the kernels they call (from `table`, KERNELS by default)."""
    table = KERNELS if table is None else table
    out: set[str] = set()
    todo = list(names)
    while todo:
        k = todo.pop()
        if k in out:
            continue
        out.add(k)
        todo.extend(table[k][1])
    return sorted(out)


@dataclass
class _Ctx:
    decls: list[str] = field(default_factory=list)
    kernels: set[str] = field(default_factory=set)
    used: set[str] = field(default_factory=set)
    weight_bytes: int = 0
    arrays: dict[tuple[Any, ...], str] = field(default_factory=dict)  # declared constants

    def sym(self, base: str) -> str:
        base = cgen.c_ident(base)
        name, k = base, 1
        while name in self.used:
            name, k = f"{base}_{k}", k + 1
        self.used.add(name)
        return name

    def array(self, base: str, values: np.ndarray, ctype: str = "float",
              weight: bool = True, attr: str = "") -> str:
        """Declare a constant array; one with the same type, attribute and values as an
        earlier one is that one (the block program of <name>_run shares the step program's
        weights)."""
        v = np.asarray(values)
        key = (ctype, attr, v.dtype.str, v.shape, v.tobytes())
        if key in self.arrays:
            return self.arrays[key]
        s = self.sym(base)
        self.decls.append(cgen.array_declare(ctype, s, values, attr=attr))
        if weight:
            self.weight_bytes += _CTYPE_BYTES[ctype] * int(np.size(values))
        self.arrays[key] = s
        return s

    def const(self, base: str, ctype: str, initializer: str) -> str:
        """Declare a constant `ctype` (a params struct) = initializer; one with the same type
        and initializer as an earlier one is that one."""
        key = (ctype, initializer)
        if key in self.arrays:
            return self.arrays[key]
        s = self.sym(base)
        self.decls.append(f"static const {ctype} {s} = {initializer};")
        self.arrays[key] = s
        return s

    def ints(self, base: str, values: tuple[int, ...]) -> str:
        return self.array(base, np.asarray(values, np.int64), ctype="int32_t", weight=False)



class _Program:
    """C for one graph (the step graph of a streaming model, or the whole-sequence graph)."""

    COPY_KERNEL = "rnn_copy_strided_f32"  # the layout operators' kernel and element size
    ELEM = " * sizeof(float)"
    ELEM_BYTES = 4
    # where the float state and the float work area are (a float32 layer inside an int8
    # program: s->statef and its place in s->workf, emit/c_float_layer.py)
    STATE = "s->state"
    WORK = "s->work"

    def __init__(self, g: ir.Graph, ctx: _Ctx):
        assert g.memory is not None
        self.g = g
        self.mem = g.memory
        self.ctx = ctx
        self.consts: dict[str, str] = {}

    def buf(self, t: str) -> str:
        region, off = self.mem.place[t]
        if region == "x":
            base = "x"
        elif region in ("arena", "state"):
            base = "s->" + region
        else:
            cname = region.split(":", 1)[1]
            if cname not in self.consts:
                self.consts[cname] = self.ctx.array(f"c_{cname}", self.g.constants[cname])
            base = self.consts[cname]
        return base if off == 0 else f"{base} + {off}"

    # -- matrices ---------------------------------------------------------------------
    @property
    def scratch(self) -> str:
        """Where the matrix kernels' scratch is (inside the work area)."""
        return _at(self.WORK, self.mem.scratch_off)

    def matvec(self, base: str, m: ir.Matrix, bias: str, x: str, y: str) -> list[str]:
        """C statements computing y = bias + M x (bias may be "NULL" or alias y)."""
        return formats.of(m).emit_f32(m, self, base, bias, x, y)

    def matmul(self, base: str, m: ir.Matrix, bias: str, count: str, x: str, y: str
               ) -> list[str]:
        """C statements computing y[k] = bias + M x[k] for `count` consecutive vectors."""
        rows, cols = m.shape
        batch = formats.of(m).emit_f32_batch
        if batch is not None:
            return batch(m, self, base, bias, count, x, y)
        body = self.matvec(base, m, bias, f"{x} + v * {cols}", f"{y} + v * {rows}")
        return ["{", "    int32_t v;", f"    for (v = 0; v < {count}; ++v)", "    {"] + \
            [f"        {line}" for line in body] + ["    }", "}"]

    def act(self, a: ir.Activation) -> str:
        return cgen.c_struct([("kind", _ACT_ENUM[a.name]), ("alpha", cgen.c_float(a.alpha)),
                              ("beta", cgen.c_float(a.beta))])

    # -- nodes --------------------------------------------------------------------------
    def prologue(self) -> list[dict[str, Any]]:
        """Ops before the nodes' (int8 with float I/O: the input's quantization)."""
        return []

    def ops(self) -> list[dict[str, Any]]:
        out = self.prologue()
        for k, n in enumerate(self.g.nodes):
            fn = getattr(self, "op_" + type(n).__name__.lower())
            made = fn(n, f"n{k}")  # one op, or a list of them (a float32 layer in int8)
            for op in made if isinstance(made, list) else [made] if made is not None else []:
                # after windows that do not fire on every call: only when they do
                op["gate"] = " && ".join(self.fired(w) for w in self.g.gates.get(n.name, ()))
                out.append(op)
        return out

    def fired(self, window: str) -> str:
        """The C expression: the FrameWindow fired on this call (its flag in state32)."""
        return f"s->state32[{self.mem.running[window][1] + 1}]"

    def op_framewindow(self, n: ir.FrameWindow, p: str) -> dict[str, Any]:
        s = self.g.shapes[n.inputs[0]]
        cnt = self.mem.running[n.name][1]
        self.ctx.kernels.add("rnn_frame_push")
        return self._lines(n, [
            f"rnn_frame_push({math.prod(s[:n.axis])}, {n.frames}, "
            f"{math.prod(s[n.axis + 1:]) * self.ELEM_BYTES}, {self.src(n.inputs[0])}, "
            f"{self.buf(n.outputs[0])}, {n.start}, {n.stride}, {_at('s->state32', cnt)});"])

    def comment(self, n: ir.Node) -> str:
        return cgen.c_comment(f"{n.op} '{n.name}'")

    def op_view(self, n: ir.View, p: str) -> None:
        return None  # same memory as its input (plan_memory)

    def op_recurrent(self, n: ir.Recurrent, p: str) -> dict[str, Any]:
        """A recurrent layer. Gate pre-activations live at `g`: per step (one-step graph) in
        the work area, or, for whole sequences, in a block of input projections W x computed
        for up to HOIST_BLOCK steps at once by rnn_mat_mul_f32."""
        ctx = self.ctx
        H, I, D, T = n.hidden, n.input_size, n.num_directions, n.seq_len
        cell = cells.of(n.cell)
        GH = n.directions[0].W.shape[0]  # the rows of W x per step
        places = self.mem.cells[n.name]
        block = places.hoist
        x = self.buf(n.inputs[0])
        Y, Yh, Yc = self.recurrent_outputs(n)
        work = self.WORK
        dirs = []
        for d, cd in enumerate(n.directions):
            q = f"{p}d{d}"
            clip = cgen.c_float(n.clip or 0.0)
            acts = [self.act(a) for a in cd.activations]
            slots = SimpleNamespace(slot=lambda k: _at(work, places.work[k]), prefix=q,
                                    clip=clip, acts=acts,
                                    xt=f"{x} + tt * {I}" if block > 1 else "xt")
            bias, steps = cell.emit_f32(self, n, cd, slots)
            b = ctx.array(f"{q}_b", bias) if bias is not None else "NULL"
            if block > 1:
                w_calls = self.matmul(f"{q}_W", cd.W, b, "n", f"{x} + b0 * {I}", "p")
            else:
                w_calls = self.matvec(f"{q}_W", cd.W, b, "xt", "g")
            dirs.append(self.direction(
                n, d, Y, Yh, Yc, b0=f"{n.valid_len} - t0 - n" if cd.reverse else "t0",
                k="n - 1 - k" if cd.reverse else "k", w_calls=w_calls, steps=steps))
        y_zero = None
        if Y and n.valid_len < T:
            y_zero = (f"memset({_at(Y, n.valid_len * D * H)}, 0, "
                      f"{(T - n.valid_len) * D * H} * sizeof(float));")
        return dict(kind="recurrent", comment=cgen.c_comment(f"{n.cell} '{n.name}'"),
                    x=x, I=I, GH=GH, valid=n.valid_len, block=block, g=work,
                    p=_at(work, places.proj), dirs=dirs, y_zero=y_zero)

    C_STATE = "s->state"  # where the cell state lives, and its element size
    C_ELEM = " * sizeof(float)"

    def recurrent_outputs(self, n: ir.Recurrent) -> tuple[str | None, str | None, str | None]:
        """Where a recurrent node's Y, Y_h and Y_c go (None: not used)."""
        o = n.outputs
        Yc = o[2] and cells.of(n.cell).has_cell_state
        return (self.buf(o[0]) if o[0] else None, self.buf(o[1]) if o[1] else None,
                self.buf(o[2]) if Yc else None)

    def direction(self, n: ir.Recurrent, d: int, Y: str | None, Yh: str | None,
                  Yc: str | None, **parts: Any) -> dict[str, Any]:
        """The template's dict of one direction: its state, time order and output copies,
        with the number type's `parts` (the steps' C)."""
        H, D = n.hidden, n.num_directions
        h_off, c_off = self.mem.state_slots[(n.name, d)]
        reverse = n.directions[d].reverse
        after = []
        if Yh:
            after.append(f"memcpy({_at(Yh, d * H)}, h, {H}{self.ELEM});")
        if Yc:
            after.append(f"memcpy({_at(Yc, d * H)}, c, {H}{self.C_ELEM});")
        return dict(h=_at(self.STATE, h_off),
                    c=_at(self.C_STATE, c_off) if c_off >= 0 else None,
                    tt=f"{n.valid_len - 1} - t" if reverse else "t",
                    label="backward" if reverse else "forward", after=after,
                    y_store=(f"memcpy({Y} + (tt * {D} + {d}) * {H}, h, {H}{self.ELEM});"
                             if Y else None), **parts)

    def op_linear(self, n: ir.Linear, p: str) -> dict[str, Any]:
        N, K = n.W.shape
        rows = math.prod(self.g.shapes[n.inputs[0]][:-1])
        b = self.ctx.array(f"{p}_b", n.b) if n.b is not None else "NULL"
        x, y = self.buf(n.inputs[0]), self.buf(n.outputs[0])
        if rows == 1:
            return self._lines(n, self.matvec(f"{p}_W", n.W, b, x, y))
        return self._lines(n, self.matmul(f"{p}_W", n.W, b, str(rows), x, y))

    def _lines(self, n: ir.Node, lines: list[str]) -> dict[str, Any]:
        return dict(kind="lines", comment=self.comment(n), lines=lines)

    def op_binary(self, n: ir.Binary, p: str) -> dict[str, Any]:
        out = self.g.shapes[n.outputs[0]]
        r = len(out)
        st = []
        for t in n.inputs:
            s = self.g.shapes[t]
            s_full = (1,) * (r - len(s)) + tuple(s)
            base = cgen.strides(s_full)
            st.append(tuple(0 if s_full[i] == 1 and out[i] != 1 else base[i] for i in range(r)))
        shape, (sa, sb) = cgen.collapse(out, st)
        nd = len(shape)
        self.ctx.kernels.add("rnn_elementwise_f32")
        sh = self.ctx.ints(f"{p}_shape", shape)
        a_s = self.ctx.ints(f"{p}_astr", sa)
        b_s = self.ctx.ints(f"{p}_bstr", sb)
        a, b, y = (self.buf(t) for t in (*n.inputs, n.outputs[0]))
        return self._lines(n, [f"rnn_elementwise_f32({_BIN_ENUM[n.fn]}, {nd}, {sh}, {a}, {a_s}, "
                               f"{b}, {b_s}, {y});"])

    def op_unary(self, n: ir.Unary, p: str) -> dict[str, Any]:
        size = math.prod(self.g.shapes[n.outputs[0]])
        x, y = self.buf(n.inputs[0]), self.buf(n.outputs[0])
        act = self.ctx.const(f"{p}_act", "rnn_activation", self.act(n.act))
        self.ctx.kernels.add("rnn_activation_f32")
        return self._lines(n, [memcpy(y, x, size, " * sizeof(float)", 4),
                               f"rnn_activation_f32(&{act}, {y}, {size});"])

    def op_softmax(self, n: ir.Softmax, p: str) -> dict[str, Any]:
        s = self.g.shapes[n.inputs[0]]
        outer, inner = math.prod(s[:n.axis]), math.prod(s[n.axis + 1:])
        self.ctx.kernels.add("rnn_softmax_f32")
        x, y = self.buf(n.inputs[0]), self.buf(n.outputs[0])
        return self._lines(n, [f"rnn_softmax_f32({outer}, {s[n.axis]}, {inner}, {int(n.log)}, "
                               f"{x}, {y});"])

    def _copy(self, p: str, shape: tuple[int, ...], src: str, sst: tuple[int, ...], dst: str,
              dstr: tuple[int, ...]) -> str:
        shp, (a, b) = cgen.collapse(shape, [sst, dstr])
        if len(shp) == 1 and a[0] == 1 and b[0] == 1:
            return memcpy(dst, src, shp[0], self.ELEM, self.ELEM_BYTES)
        self.ctx.kernels.add(self.COPY_KERNEL)
        sh = self.ctx.ints(f"{p}_shape", shp)
        s1 = self.ctx.ints(f"{p}_src", a)
        s2 = self.ctx.ints(f"{p}_dst", b)
        return f"{self.COPY_KERNEL}({len(shp)}, {sh}, {src}, {s1}, {dst}, {s2});"

    def src(self, t: str) -> str:
        """Where a node reads tensor t (int8 programs read a float input's quantized copy)."""
        return self.buf(t)

    def op_transpose(self, n: ir.Transpose, p: str) -> dict[str, Any]:
        ins = self.g.shapes[n.inputs[0]]
        out = self.g.shapes[n.outputs[0]]
        ist = cgen.strides(ins)
        src_st = tuple(ist[q] for q in n.perm)
        return self._lines(n, [self._copy(p, out, self.src(n.inputs[0]), src_st,
                                          self.buf(n.outputs[0]), cgen.strides(out))])

    def op_slice(self, n: ir.Slice, p: str) -> dict[str, Any]:
        ins = self.g.shapes[n.inputs[0]]
        ist = cgen.strides(ins)
        off = sum(s * st for s, st in zip(n.starts, ist))
        src_st = tuple(st * step for st, step in zip(ist, n.steps))
        out = tuple(n.counts)
        return self._lines(n, [self._copy(p, out, _at(self.src(n.inputs[0]), off), src_st,
                                          self.buf(n.outputs[0]), cgen.strides(out))])

    # -- the layers around recurrent ones (issue 11) ------------------------------------
    def window(self, p: str, x: ir.Shape, y: ir.Shape, kernel: tuple[int, ...],
               strides: tuple[int, ...], pads: tuple[int, ...], dilations: tuple[int, ...],
               groups: int) -> str:
        """The rnn_window_params constant of a 1-D or 2-D window (1-D: height 1)."""
        k = len(kernel)

        def two(v: tuple[int, ...], one: int) -> tuple[int, int]:
            return (one, v[0]) if k == 1 else (v[0], v[1])

        ih, iw = two(tuple(x[2:]), 1)
        oh, ow = two(tuple(y[2:]), 1)
        kh, kw = two(kernel, 1)
        sh, sw = two(strides, 1)
        ph, pw = two(pads[:k], 0)
        dh, dw = two(dilations, 1)
        init = cgen.c_struct([("in_c", x[1]), ("in_h", ih), ("in_w", iw), ("out_c", y[1]),
                              ("out_h", oh), ("out_w", ow), ("k_h", kh), ("k_w", kw),
                              ("stride_h", sh), ("stride_w", sw), ("pad_h", ph), ("pad_w", pw),
                              ("dil_h", dh), ("dil_w", dw), ("groups", groups)])
        return self.ctx.const(f"{p}_win", "rnn_window_params", init)

    def op_conv(self, n: ir.Conv, p: str) -> dict[str, Any]:
        x, y = self.g.shapes[n.inputs[0]], self.g.shapes[n.outputs[0]]
        if one_window(n, x):  # one output per filter (a streaming conv's step): W . x
            b = self.ctx.array(f"{p}_b", n.b) if n.b is not None else "NULL"
            W = formats.dense_matrix(np.asarray(n.W, np.float32).reshape(n.W.shape[0], -1))
            return self._lines(n, self.matvec(f"{p}_W", W, b, self.buf(n.inputs[0]),
                                              self.buf(n.outputs[0])))
        prm = self.window(p, x, y, n.kernel, n.strides, n.pads, n.dilations, n.group)
        w = self.ctx.array(f"{p}_W", np.ascontiguousarray(n.W, np.float32).reshape(-1))
        b = self.ctx.array(f"{p}_b", n.b) if n.b is not None else "NULL"
        self.ctx.kernels.add("rnn_conv_f32")
        return self._lines(n, [f"rnn_conv_f32(&{prm}, {self.buf(n.inputs[0])}, {w}, {b}, "
                               f"{self.buf(n.outputs[0])});"])

    def op_pool(self, n: ir.Pool, p: str) -> dict[str, Any]:
        x, y = self.g.shapes[n.inputs[0]], self.g.shapes[n.outputs[0]]
        prm = self.window(p, x, y, n.kernel, n.strides, n.pads, n.dilations, 1)
        kind = "RNN_POOL_MAX" if n.kind == "max" else (
            "RNN_POOL_AVG_WITH_PAD" if n.count_include_pad else "RNN_POOL_AVG")
        self.ctx.kernels.add("rnn_pool_f32")
        return self._lines(n, [f"rnn_pool_f32(&{prm}, {kind}, {self.buf(n.inputs[0])}, "
                               f"{self.buf(n.outputs[0])});"])

    def op_reduce(self, n: ir.Reduce, p: str) -> dict[str, Any]:
        outer, mid, inner = self.reduce_dims(n)
        kind = {"sum": "RNN_REDUCE_SUM", "mean": "RNN_REDUCE_MEAN", "max": "RNN_REDUCE_MAX"}
        self.ctx.kernels.add("rnn_reduce_f32")
        return self._lines(n, [f"rnn_reduce_f32({kind[n.fn]}, {outer}, {mid}, {inner}, "
                               f"{self.buf(n.inputs[0])}, {self.buf(n.outputs[0])});"])

    def reduce_dims(self, n: ir.Reduce) -> tuple[int, int, int]:
        """The reduction's input viewed as [outer, n, inner] (the reduced axes in the middle)."""
        s = self.g.shapes[n.inputs[0]]
        return (math.prod(s[:n.first]), math.prod(s[n.first:n.last + 1]),
                math.prod(s[n.last + 1:]))

    def op_runningreduce(self, n: ir.RunningReduce, p: str) -> dict[str, Any]:
        outer, mid, inner = self.reduce_dims(n)
        acc, cnt = self.mem.running[n.name]
        kern = self.RUNNING_KERNEL
        self.ctx.kernels.add(kern)
        kind = {"sum": "RNN_REDUCE_SUM", "mean": "RNN_REDUCE_MEAN", "max": "RNN_REDUCE_MAX"}
        return self._lines(n, [f"{kern}({kind[n.fn]}, {outer}, {mid}, {inner}, "
                               f"{self.running_args(n, p)}"
                               f"{self.src(n.inputs[0])}, {_at(self.RUNNING_ACC, acc)}, "
                               f"{_at('s->state32', cnt)}, {self.buf(n.outputs[0])});"])

    def op_attentionpool(self, n: ir.AttentionPool, p: str) -> dict[str, Any]:
        outer, k, inner, inner_s = n.layout(self.g.shapes[n.inputs[0]],
                                            self.g.shapes[n.inputs[1]])
        args = f"{outer}, {k}, {inner}, {inner_s}, {self.buf(n.inputs[0])}, " \
               f"{self.buf(n.inputs[1])}"
        if isinstance(n, ir.RunningAttentionPool):
            acc, cnt = self.mem.running[n.name]
            self.ctx.kernels.add("rnn_running_attention_pool_f32")
            ms, ls, As = acc, acc + outer * inner_s, acc + 2 * outer * inner_s
            return self._lines(n, [f"rnn_running_attention_pool_f32({args}, "
                                   f"{_at('s->state', ms)}, {_at('s->state', ls)}, "
                                   f"{_at('s->state', As)}, {_at('s->state32', cnt)}, "
                                   f"{self.buf(n.outputs[0])});"])
        self.ctx.kernels.add("rnn_attention_pool_f32")
        return self._lines(n, [f"rnn_attention_pool_f32({args}, {self.buf(n.outputs[0])});"])

    def op_runningattentionpool(self, n: ir.RunningAttentionPool, p: str) -> dict[str, Any]:
        return self.op_attentionpool(n, p)

    RUNNING_KERNEL = "rnn_running_reduce_f32"
    RUNNING_ACC = "s->state"  # where the running values are (int8: s->state32)

    def running_args(self, n: ir.RunningReduce, p: str) -> str:
        return ""  # int8: the sum's requantization

    def op_layernorm(self, n: ir.LayerNorm, p: str) -> dict[str, Any]:
        s = self.g.shapes[n.inputs[0]]
        size = n.scale.size
        sc = self.ctx.array(f"{p}_scale", n.scale)
        bi = self.ctx.array(f"{p}_bias", n.bias)
        self.ctx.kernels.add("rnn_layer_norm_f32")
        return self._lines(n, [f"rnn_layer_norm_f32({math.prod(s) // size}, {size}, "
                               f"{cgen.c_float(n.epsilon)}, {sc}, {bi}, "
                               f"{self.buf(n.inputs[0])}, {self.buf(n.outputs[0])});"])

    def op_channelaffine(self, n: ir.ChannelAffine, p: str) -> dict[str, Any]:
        s = self.g.shapes[n.inputs[0]]
        sc = self.ctx.array(f"{p}_scale", n.scale)
        sh = self.ctx.array(f"{p}_shift", n.shift)
        self.ctx.kernels.add("rnn_scale_shift_f32")
        return self._lines(n, [f"rnn_scale_shift_f32({math.prod(s[:n.axis])}, {s[n.axis]}, "
                               f"{math.prod(s[n.axis + 1:])}, {sc}, {sh}, "
                               f"{self.buf(n.inputs[0])}, {self.buf(n.outputs[0])});"])

    def op_pad(self, n: ir.Pad, p: str) -> dict[str, Any]:
        x, y = self.g.shapes[n.inputs[0]], self.g.shapes[n.outputs[0]]
        dst = self.buf(n.outputs[0])
        total = math.prod(y)
        if n.value == 0.0 and not math.copysign(1.0, n.value) < 0:
            lines = [f"memset({dst}, 0, {total} * sizeof(float));"]
        else:
            lines = ["{", "    int32_t i;", f"    for (i = 0; i < {total}; ++i)", "    {",
                     f"        ({dst})[i] = {cgen.c_float(n.value)};", "    }", "}"]
        yst = cgen.strides(y)
        off = sum(n.pads[i] * yst[i] for i in range(len(x)))
        lines.append(self._copy(p, x, self.src(n.inputs[0]), cgen.strides(x), _at(dst, off),
                                yst))
        return self._lines(n, lines)

    def op_embedding(self, n: ir.Embedding, p: str) -> dict[str, Any]:
        rows, dim = n.table.shape
        tab = self.table(p, n)
        self.ctx.kernels.add("rnn_gather_rows")
        return self._lines(n, [f"rnn_gather_rows({math.prod(self.g.shapes[n.inputs[0]])}, "
                               f"{self.buf(n.inputs[0])}, {rows}, {dim * self.ELEM_BYTES}, {tab}, "
                               f"{self.buf(n.outputs[0])});"])

    def table(self, p: str, n: ir.Embedding) -> str:
        """The symbol of an embedding's table in flash."""
        return self.ctx.array(f"{p}_table", n.table)

    # -- the number type's part of the model state and API ---------------------------
    io_type = "float"  # the C type of the API's input and outputs

    def state_fields(self) -> list[tuple[str, str, int]]:
        """(C type, name, count) of the model state's arrays."""
        mem = self.mem
        return [("float", "arena", max(1, mem.arena)), ("float", "work", mem.work),
                ("float", "state", mem.state), ("int32_t", "state32", mem.state32)]

    def init_state(self) -> list[str]:
        """C statements that put the recurrent state at its initial values."""
        mem, init = self.mem, []
        if mem.state:
            init.append("memset(s->state, 0, sizeof(s->state));")
        if mem.state32:
            init.append("memset(s->state32, 0, sizeof(s->state32));")
        for n in self.g.nodes:
            if isinstance(n, ir.Recurrent):
                for d, cd in enumerate(n.directions):
                    h_off, c_off = mem.state_slots[(n.name, d)]
                    for off, arr, what in ((h_off, cd.h0, "h0"), (c_off, cd.c0, "c0")):
                        if off >= 0 and arr is not None and np.any(arr != 0):
                            sym = self.ctx.array(f"{n.name}_d{d}_{what}", arr)
                            init.append(f"memcpy({_at('s->state', off)}, {sym}, "
                                        f"{arr.size} * sizeof(float));")
        return init

    def store_output(self, name: str, dst: str, src: str, size: int) -> str:
        """C statement copying output `name` (at src, `size` values) to the API's dst."""
        return f"memcpy({dst}, {src}, {size} * sizeof(float));"

    def kernel_closure(self, names: set[str]) -> list[str]:
        return kernel_closure(names)

    # -- <name>_get_state / <name>_set_state (stateful models) ------------------------
    def state_slot(self, node: str, d: int, kind: str) -> str:
        """The C address of unit 0 of a recurrent layer's h or c."""
        h_off, c_off = self.mem.state_slots[(node, d)]
        return _at(self.STATE, h_off) if kind == "h" else _at(self.C_STATE, c_off)

    def state_copy(self, run: "StateRun", k: str, setting: bool) -> list[str]:
        """C statements copying one run of state values between the caller's float array at
        `k` and the state struct (set: into the struct)."""
        slot = _at(self.state_slot(run.node, run.d, run.kind), run.j)
        if run.stride == 1:
            if setting:
                return [f"memcpy({slot}, {k}, {run.count} * sizeof(float));"]
            return [f"memcpy({k}, {slot}, {run.count} * sizeof(float));"]
        a, b = (f"({slot})[i]", f"({k})[i * {run.stride}]")
        return [f"for (i = 0; i < {run.count}; ++i)", "{",
                f"    {a if setting else b} = {b if setting else a};", "}"]

    def op_concat(self, n: ir.Concat, p: str) -> dict[str, Any]:
        out = self.g.shapes[n.outputs[0]]
        ost = cgen.strides(out)
        lines = []
        pos = 0
        y = self.buf(n.outputs[0])
        for k, t in enumerate(n.inputs):
            s = self.g.shapes[t]
            lines.append(self._copy(f"{p}_{k}", s, self.src(t), cgen.strides(s),
                                    _at(y, pos * ost[n.axis]), ost))
            pos += s[n.axis]
        return self._lines(n, lines)


@dataclass(frozen=True)
class StateRun:
    """Consecutive units j .. j + count - 1 of one recurrent state vector (node, direction,
    h or c) that a state input holds at elements k, k + stride, ..."""

    node: str
    d: int
    kind: str
    j: int
    count: int
    k: int
    stride: int


def state_runs(si: ir.StateInput) -> list[StateRun]:
    """A state input's element -> slot map as few runs as it takes (one per vector for the
    usual initial_h / initial_c inputs)."""
    order = sorted(range(si.size), key=lambda k: (si.slots[k][:3], si.slots[k][3]))
    runs: list[StateRun] = []
    for k in order:
        node, d, kind, j = si.slots[k]
        if runs:
            r = runs[-1]
            same = (r.node, r.d, r.kind) == (node, d, kind) and j == r.j + r.count
            stride = k - r.k if r.count == 1 else r.stride
            if same and stride > 0 and k == r.k + r.count * stride:
                runs[-1] = StateRun(node, d, kind, r.j, r.count + 1, r.k, stride)
                continue
        runs.append(StateRun(node, d, kind, j, 1, k, 1))
    return runs


def state_api(prog: "_Program", g: ir.Graph) -> dict[str, Any]:
    """The header's state layout and the bodies of <name>_set_state / <name>_get_state."""
    layout, set_lines, get_lines = [], [], []
    loops = False
    base = 0
    for si in g.state_inputs:
        layout.append(dict(name=cgen.c_comment(si.name), shape=list(si.shape), first=base,
                           last=base + si.size - 1))
        for r in state_runs(si):
            k = _at("state", base + r.k)
            loops = loops or r.stride != 1
            set_lines += prog.state_copy(r, k, True)
            get_lines += prog.state_copy(r, k, False)
        base += si.size
    if loops:
        set_lines.insert(0, "int32_t i;")
        get_lines.insert(0, "int32_t i;")
    return dict(state_layout=layout, state_size=base, state_set=set_lines,
                state_get=get_lines)


def one_window(n: ir.Conv, x: ir.Shape) -> bool:
    """A Conv whose one window is its whole input (no padding, no dilation, one group): one
    output per filter, W [M, C x kernel] times the input flattened — the step of a 1-D conv
    streaming along time reads its window of frames so. The emitters use the mat-vec
    kernels there (the same products; int8: the same requantization, bit for bit)."""
    return (n.group == 1 and tuple(x[2:]) == n.kernel and not any(n.pads)
            and all(d == 1 for d in n.dilations))


def _at(base: str, off: int) -> str:
    return base if off == 0 else f"{base} + {off}"


# cppcheck 2.10 (Debian 12) takes the element offsets of two pointers into one array for
# bytes when it checks memcpy for overlap: it reports a copy between disjoint parts of the
# arena that are closer than the copy's size in bytes. Such a line carries an inline
# suppression that says so (the copies are planned disjoint; ASan checks them at run time).
CPPCHECK_DISJOINT = ("/* cppcheck-suppress overlappingWriteFunction ; disjoint: cppcheck 2.10 "
                     "reads these element offsets as bytes */")


def _base_offset(ptr: str) -> tuple[str, int] | None:
    """'s->arena + 32 + 8' -> ('s->arena', 40); None when an offset is not a number."""
    base, *offs = ptr.split(" + ")
    if not all(o.isdigit() for o in offs):
        return None
    return base, sum(int(o) for o in offs)


def memcpy(dst: str, src: str, count: int, elem: str, elem_bytes: int) -> str:
    """memcpy of `count` elements (`elem`: " * sizeof(float)", or "" for bytes)."""
    line = f"memcpy({dst}, {src}, {count}{elem});"
    d, s = _base_offset(dst), _base_offset(src)
    # suppressed only where the ranges really are disjoint (a real overlap stays reported)
    if d is not None and s is not None and d[0] == s[0] and \
            count <= abs(d[1] - s[1]) < count * elem_bytes:
        line += " " + CPPCHECK_DISJOINT
    return line


def _upper(name: str) -> str:
    return cgen.c_ident(name).upper()


def build_context(g: ir.Graph, name: str) -> dict[str, Any]:
    """Everything model.c, model.h and test/main.c need, for either number type: the
    program class (_Program for float32, c_int8.QProgram for an int8 graph) supplies what
    differs — the nodes' C, the state's fields and initial values, how an output is stored."""
    ctx = _Ctx()
    pg = g.step if g.step is not None else g

    def program(graph: ir.Graph) -> _Program:
        if g.quant is not None:
            from .c_int8 import QProgram
            return QProgram(graph, ctx, g.quant)
        return _Program(graph, ctx)

    prog = program(pg)
    ops = prog.ops()
    mem = pg.memory
    assert mem is not None
    init = prog.init_state()
    # a streaming model's block of steps for <name>_run (same state slots, same weights:
    # the constants it declares anew are its own, compiled only with the block)
    n_decls = len(ctx.decls)
    before = set(ctx.kernels)
    bprog = program(g.block) if g.block is not None else None
    block_ops = bprog.ops() if bprog is not None else []
    block_new = set(ctx.kernels) - before
    K = g.block.seq_len if g.block is not None else 1
    # outputs: where they are after forward(), and where name_run puts them
    outs = []
    seq_acc = fin_acc = step_off = 0
    for o in g.outputs:
        info = (g.time or {}).get(o)
        seq = g.streaming and info is not None and info.kind == "seq"
        size = math.prod(pg.shapes[o])
        src = prog.buf(o)
        run_dst = _offset_expr(seq_acc, fin_acc)
        run_dst = "y" if run_dst == "0" else f"y + {run_dst}"
        if seq:
            run_dst += f" + (size_t)t * {size}"
        store_block = None
        if bprog is not None:
            store_block = bprog.store_output(o, run_dst, bprog.buf(o), size * K if seq else size)
        outs.append(dict(name=o, cname=cgen.c_comment(o), src=src, size=size, seq=seq,
                         shape=list(g.shapes[o]), seq_before=seq_acc, fin_before=fin_acc,
                         step_off=step_off,
                         store_step=prog.store_output(o, _at("y", step_off), src, size),
                         store_run=prog.store_output(o, run_dst, src, size),
                         store_block=store_block))
        step_off += size
        if seq:
            seq_acc += size
        else:
            fin_acc += size
    init.append("memset(s->arena, 0, sizeof(s->arena));")
    in_shape = g.shapes[g.input]
    in_size = math.prod(in_shape)
    fields = prog.state_fields()
    # one state struct for both programs: an array the block needs larger is sized by
    # <NAME>_RUN_BLOCK (0 on Cortex-M, where _run goes step by step: see model.h.j2)
    bsizes = {f: n for _, f, n in bprog.state_fields()} if bprog is not None else {}
    decls, block_bytes = [], 0
    for t, f, n in fields:
        nb = max(n, bsizes.get(f, 0))
        block_bytes += _CTYPE_BYTES[t] * nb if nb else 0
        if nb > n:
            decls.append(f"{t} {f}[{_upper(name)}_RUN_BLOCK ? {nb} : {max(n, 1)}];")
        elif n:
            decls.append(f"{t} {f}[{n}];")
    state = state_api(prog, g)
    return dict(
        **state,
        name=name, NAME=_upper(name), ops=ops, decls=ctx.decls[:n_decls],
        block_decls=ctx.decls[n_decls:], init=init, outputs=outs,
        block_ops=block_ops, block=K, block_why=g.block_why,
        streaming=g.streaming, not_streaming_why=g.not_streaming_why, seq_len=g.seq_len,
        delay=pg.delay if g.streaming else 0, held=bool(pg.held),
        input_size=in_size, input_step_size=in_size // g.seq_len if g.streaming else None,
        input_shape=list(in_shape), input_name=cgen.c_comment(g.input),
        step_output_size=step_off, seq_out=seq_acc, fin_out=fin_acc,
        arena=max(1, mem.arena), work=mem.work, state=mem.state,
        state_fields=decls,
        in_t="int32_t" if g.input_ids else prog.io_type, out_t=prog.io_type,
        kernels=prog.kernel_closure(ctx.kernels), weight_bytes=ctx.weight_bytes,
        # kernels only forward_block calls: not linked where <NAME>_RUN_BLOCK is 0
        block_kernels=sorted(set(prog.kernel_closure(ctx.kernels))
                             - set(prog.kernel_closure(ctx.kernels - block_new))),
        state_bytes=sum(_CTYPE_BYTES[t] * n for t, _, n in fields if n),
        state_bytes_block=block_bytes,
    )


def _offset_expr(seq_before: int, fin_before: int) -> str:
    parts = []
    if seq_before:
        parts.append(f"steps * {seq_before}")
    if fin_before or not parts:
        parts.append(str(fin_before))
    return " + ".join(parts)
