"""The int8 number type of the one C program builder (emit/c.py's build_context): the
program class for a quantized graph (graph.quant). It reuses _Program's layout nodes and
helpers and prepares every number and name of the integer C; the integer kernels are the
*_s8 / *_s16 functions of runtime_c.
"""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Any

import numpy as np

from .. import cells, cgen, formats, ir, quant
from ..errors import RnngenError
from .c import KERNELS, _at, _Ctx, _Program, kernel_closure, one_window
from .c_float_layer import FloatLayer, state_init

INT8_KERNELS: dict[str, tuple[str, tuple[str, ...]]] = {
    **formats.kernels_s8(),
    **cells.kernels_s16(),
    "rnn_softmax_s8": ("SoftmaxFunctions/rnn_softmax_s8.c", ()),
    "rnn_lut_s8": ("ActivationFunctions/rnn_lut_s8.c", ()),
    "rnn_quantize_s8": ("ConvertFunctions/rnn_quantize_s8.c", ()),
    "rnn_dequantize_s8": ("ConvertFunctions/rnn_dequantize_s8.c", ()),
    "rnn_quantize_s16": ("ConvertFunctions/rnn_quantize_s16.c", ()),
    "rnn_dequantize_s16": ("ConvertFunctions/rnn_dequantize_s16.c", ()),
    "rnn_copy_strided_s8": ("ViewFunctions/rnn_copy_strided_s8.c", ()),
    "rnn_conv_s8": ("ConvolutionFunctions/rnn_conv_s8.c", ()),
    "rnn_conv_s4": ("ConvolutionFunctions/rnn_conv_s4.c", ()),
    "rnn_conv_a16": ("ConvolutionFunctions/rnn_conv_a16.c", ()),
    "rnn_max_pool_s8": ("PoolingFunctions/rnn_max_pool_s8.c", ()),
    "rnn_avg_pool_s8": ("PoolingFunctions/rnn_avg_pool_s8.c", ()),
    "rnn_reduce_s8": ("BasicMathFunctions/rnn_reduce_s8.c", ()),
    "rnn_gather_rows": ("ViewFunctions/rnn_gather_rows.c", ()),
    "rnn_frame_push": ("ViewFunctions/rnn_frame_push.c", ()),
    "rnn_running_reduce_s8": ("BasicMathFunctions/rnn_running_reduce_s8.c", ()),
    "rnn_scale_shift_s8": ("NormalizationFunctions/rnn_scale_shift_s8.c", ()),
    "rnn_reduce_sum_s8": ("BasicMathFunctions/rnn_reduce_sum_s8.c", ()),
    "rnn_layer_norm_s8": ("NormalizationFunctions/rnn_layer_norm_s8.c", ()),
    "rnn_attention_pool_s8": ("SoftmaxFunctions/rnn_attention_pool_s8.c", ()),
    "rnn_running_attention_pool_s8": ("SoftmaxFunctions/rnn_running_attention_pool_s8.c", ()),
}

def pack_conv_s4(w: np.ndarray) -> np.ndarray:
    """int4 Conv weights [M, C/group, *kernel] (values in [-7, 7]) -> the bytes rnn_conv_s4
    reads: per output channel its window's n values in order, two per byte (value 2j in the
    low nibble of byte j, 2j + 1 in the high one, two's complement), ceil(n / 2) bytes a
    channel (an odd n's last high nibble 0)."""
    M = w.shape[0]
    v = np.asarray(w, np.int64).reshape(M, -1)
    if v.size and int(np.max(np.abs(v))) > 7:
        raise ValueError("pack_conv_s4: weights outside [-7, 7]")
    if v.shape[1] % 2:
        v = np.concatenate([v, np.zeros((M, 1), np.int64)], axis=1)
    u = v & 15
    return (u[:, 0::2] | (u[:, 1::2] << 4)).astype(np.uint8).view(np.int8).reshape(-1)


class QProgram(_Program):
    """The int8 program: cells, matrices and Linear/Softmax/activation nodes in integers;
    the layout operators (Transpose, Slice, Concat, View) are _Program's, on bytes."""

    COPY_KERNEL = "rnn_copy_strided_s8"
    ELEM = ""
    ELEM_BYTES = 1
    C_STATE = "s->state16"  # the int16 cell state
    C_ELEM = " * sizeof(int16_t)"

    io_type = "int8_t"  # with --io int8; float I/O: "float"
    RUNNING_KERNEL = "rnn_running_reduce_s8"
    RUNNING_ACC = "s->state32"

    def running_args(self, n: ir.RunningReduce, p: str) -> str:
        """The sum's requantization (RNN_REDUCE_SUM), or NULL."""
        if n.fn != "sum":
            return "NULL, "
        q: quant.QReduceSum = self.plan.nodes[n.name]
        sym = self.ctx.sym(f"{p}_sum")
        self.ctx.decls.append(f"static const rnn_reduce_sum_params {sym} = {{"
                              f"{q.x.zero_point}, {q.mult}, {q.shift}, {q.out.zero_point}}};")
        return f"&{sym}, "

    def table(self, p: str, n: ir.Embedding) -> str:
        return self.arr(f"{p}_table", self.plan.nodes[n.name].table, "int8_t")

    def __init__(self, g: ir.Graph, ctx: _Ctx, plan: quant.QuantPlan):
        assert g.memory is not None
        self.g, self.mem, self.plan, self.ctx = g, g.memory, plan, ctx
        if plan.io == "float":
            self.io_type = "float"

    def buf(self, t: str) -> str:
        region, off = self.mem.place[t]
        base = {"x": "x", "arena": "s->arena", "arena16": "s->arena16",
                "state": "s->state"}.get(region)
        if base is None:
            raise RnngenError(f"int8: tensor '{t}' is a constant")
        return _at(base, off)

    def arr(self, base: str, values: np.ndarray, ctype: str) -> str:
        return self.ctx.array(base, np.asarray(values), ctype=ctype)

    # -- the number type's part of the model state and API ---------------------------
    def state_fields(self) -> list[tuple[str, str, int]]:
        mem = self.mem
        return [("int8_t", "arena", max(1, mem.arena)), ("int16_t", "arena16", mem.arena16),
                ("int16_t", "work", mem.work), ("int8_t", "work8", mem.work8),
                ("int8_t", "state", mem.state), ("int16_t", "state16", mem.state16),
                ("int32_t", "state32", mem.state32),
                # float32 layers (--precision LAYER=float32): their state and work area
                ("float", "statef", mem.statef), ("float", "workf", mem.workf)]

    def init_state(self) -> list[str]:
        mem, init = self.mem, []
        if mem.state:
            init.append("memset(s->state, 0, sizeof(s->state));")
        if mem.state16:
            init.append("memset(s->state16, 0, sizeof(s->state16));")
        if mem.state32:
            init.append("memset(s->state32, 0, sizeof(s->state32));")
        if mem.statef:
            init.append("memset(s->statef, 0, sizeof(s->statef));")
        for n in self.g.nodes:
            if isinstance(n, ir.Recurrent) and self.is_float(n.name):
                init += state_init(self, n)
            elif isinstance(n, ir.Recurrent):
                for d, qd in enumerate(self.plan.nodes[n.name].directions):
                    h_off, c_off = mem.state_slots[(n.name, d)]
                    if np.any(qd.h0 != 0) and self.a16(n):  # w8a16: int16 h in state16
                        sym = self.arr(f"{n.name}_d{d}_h0", qd.h0, "int16_t")
                        init.append(f"memcpy({_at('s->state16', h_off)}, {sym}, "
                                    f"{qd.h0.size} * sizeof(int16_t));")
                    elif np.any(qd.h0 != 0):
                        sym = self.arr(f"{n.name}_d{d}_h0", qd.h0, "int8_t")
                        init.append(f"memcpy({_at('s->state', h_off)}, {sym}, {qd.h0.size});")
                    if qd.c0 is not None and np.any(qd.c0 != 0):
                        sym = self.arr(f"{n.name}_d{d}_c0", qd.c0, "int16_t")
                        init.append(f"memcpy({_at('s->state16', c_off)}, {sym}, "
                                    f"{qd.c0.size} * sizeof(int16_t));")
        # the windows along time and the held outputs in the state start at float zero
        for t, (region, off) in sorted(mem.place.items(), key=lambda kv: kv[1][1]):
            if region == "state" and t in self.owners:
                zp = self.plan.tensors[t].zero_point
                if zp:
                    init.append(f"memset({_at('s->state', off)}, {zp}, "
                                f"{math.prod(self.g.shapes[t])});")
        return init

    @property
    def owners(self) -> set[str]:
        """The tensors that own their memory (not views)."""
        return {o for n in self.g.nodes if not isinstance(n, ir.View) for o in n.outputs if o}

    def store_output(self, name: str, dst: str, src: str, size: int) -> str:
        """int8 I/O: the integers as they are; float I/O: dequantized as the reference's
        decode does (int8 with its zero point; the int16 cell state by its power of two)."""
        if self.plan.io != "float":
            return f"memcpy({dst}, {src}, {size});"
        p = self.plan.tensors[name]
        if p.dtype == "int8":
            self.ctx.kernels.add("rnn_dequantize_s8")
            return (f"rnn_dequantize_s8({src}, {size}, {cgen.c_float(p.scale)}, "
                    f"{p.zero_point}, {dst});")
        self.ctx.kernels.add("rnn_dequantize_s16")
        return f"rnn_dequantize_s16({src}, {size}, {cgen.c_float(p.scale)}, {dst});"

    def kernel_closure(self, names: set[str]) -> list[str]:
        # the float kernels too: a float32 layer's (--precision LAYER=float32)
        return kernel_closure(names, {**KERNELS, **INT8_KERNELS})

    def is_float(self, node: str) -> bool:
        """The layer runs in float32 inside the int8 model (quant.QFloatLayer)."""
        return isinstance(self.plan.nodes.get(node), quant.QFloatLayer)

    # -- int16 activations (w8a16) -----------------------------------------------------
    def a16(self, n: ir.Recurrent) -> bool:
        """The layer's h is int16 (w8a16 activations)."""
        return bool(self.plan.nodes[n.name].h.dtype == "int16")

    def is16(self, t: str) -> bool:
        p = self.plan.tensors.get(t)
        return p is not None and p.dtype == "int16"

    def state_slot(self, node: str, d: int, kind: str) -> str:
        if self.is_float(node):  # float h and c in statef
            h_off, c_off = self.mem.state_slots[(node, d)]
            return _at("s->statef", h_off if kind == "h" else c_off)
        if kind == "h" and self.plan.nodes[node].h.dtype == "int16":
            return _at("s->state16", self.mem.state_slots[(node, d)][0])
        return super().state_slot(node, d, kind)

    def direction(self, n: ir.Recurrent, d: int, Y: str | None, Yh: str | None,
                  Yc: str | None, **parts: Any) -> dict[str, Any]:
        """_Program's, with an int16 h (w8a16) in state16 and copied as int16 values."""
        if not self.a16(n):
            return super().direction(n, d, Y, Yh, Yc, **parts)
        self.ELEM = " * sizeof(int16_t)"
        try:
            out = super().direction(n, d, Y, Yh, Yc, **parts)
        finally:
            del self.ELEM
        out["h"] = self.state_slot(n.name, d, "h")
        return out

    def _copy16(self, fn: Any, n: ir.Node, p: str) -> dict[str, Any]:
        """A layout operator on int16 tensors (w8a16): the int8 copies over bytes, each value
        two bytes (an innermost axis of 2)."""
        if not self.is16(n.outputs[0]):
            return fn(n, p)
        self._elem16 = True
        try:
            return fn(n, p)
        finally:
            self._elem16 = False

    _elem16 = False

    def _copy(self, p: str, shape: tuple[int, ...], src: str, sst: tuple[int, ...], dst: str,
              dstr: tuple[int, ...]) -> str:
        if not self._elem16:
            return super()._copy(p, shape, src, sst, dst, dstr)
        shape2 = tuple(shape) + (2,)
        sst2 = tuple(2 * v for v in sst) + (1,)
        dst2 = tuple(2 * v for v in dstr) + (1,)
        return super()._copy(p, shape2, f"(const int8_t *)({src})", sst2,
                             f"(int8_t *)({dst})", dst2)

    def op_transpose(self, n: ir.Transpose, p: str) -> dict[str, Any]:
        return self._copy16(super().op_transpose, n, p)

    def op_slice(self, n: ir.Slice, p: str) -> dict[str, Any]:
        return self._copy16(super().op_slice, n, p)

    def op_concat(self, n: ir.Concat, p: str) -> dict[str, Any]:
        return self._copy16(super().op_concat, n, p)

    def state_copy(self, run: Any, k: str, setting: bool) -> list[str]:
        """int8 state: h quantized with the layer's hidden-state parameters, the LSTM cell
        state with its power of two (float values at the API whatever --io is); a float32
        layer's h and c as they are."""
        if self.is_float(run.node):
            return _Program.state_copy(self, run, k, setting)
        q = self.plan.nodes[run.node]
        slot = _at(self.state_slot(run.node, run.d, run.kind), run.j)
        if run.kind == "h" and q.h.dtype != "int16":
            p = q.h
            if setting:
                kern = "rnn_quantize_s8"
                call = (lambda src, dst, n: f"rnn_quantize_s8({src}, {n}, "
                        f"{cgen.c_float(1.0 / p.scale)}, {p.zero_point}, {dst});")
            else:
                kern = "rnn_dequantize_s8"
                call = (lambda src, dst, n: f"rnn_dequantize_s8({src}, {n}, "
                        f"{cgen.c_float(p.scale)}, {p.zero_point}, {dst});")
        else:  # int16, symmetric: a w8a16 h (its scale) or the cell state (2^-cell_exp)
            scale = q.h.scale if run.kind == "h" else 2.0 ** -q.cell_exp
            kern = "rnn_quantize_s16" if setting else "rnn_dequantize_s16"
            factor = cgen.c_float(1.0 / scale if setting else scale)
            call = (lambda src, dst, n: f"{kern}({src}, {n}, {factor}, {dst});")
        self.ctx.kernels.add(kern)
        src, dst = (k, slot) if setting else (slot, k)
        if run.stride == 1:
            return [call(src, dst, run.count)]
        if setting:
            one = call(f"{k} + i * {run.stride}", f"{slot} + i", 1)
        else:
            one = call(f"{slot} + i", f"{k} + i * {run.stride}", 1)
        return [f"for (i = 0; i < {run.count}; ++i)", "{", f"    {one}", "}"]

    # -- matrices ---------------------------------------------------------------------
    def matvec(self, base: str, m: formats.QMatrix, x: str, y: str, scratch: str) -> list[str]:
        """C statements computing y (int16) = the quantized product of m with int8 x."""
        emit = formats.of(m).emit_s8
        if emit is None:
            raise RnngenError(f"int8: no kernel for {type(m).__name__}")
        return emit(m, self, base, x, y, scratch)

    def matmul(self, base: str, m: formats.QMatrix, count: str, x: str, y: str,
               scratch: str) -> list[str]:
        """C statements computing y[v] (int16) = m x[v] for `count` consecutive int8 vectors:
        the format's several-vector kernel, else its one-vector kernel in a loop."""
        rows, cols = m.shape
        batch = formats.of(m).emit_s8_batch
        if batch is not None:
            return batch(m, self, base, count, x, y, scratch)
        body = self.matvec(base, m, f"{x} + v * {cols}", f"{y} + v * {rows}", scratch)
        return ["{", "    int32_t v;", f"    for (v = 0; v < {count}; ++v)", "    {"] + \
            [f"        {line}" for line in body] + ["    }", "}"]

    # -- nodes --------------------------------------------------------------------------
    def prologue(self) -> list[dict[str, Any]]:
        if self.plan.io != "float" or self.g.input_ids:  # token ids: int32 as given
            return []
        g = self.g
        n = math.prod(g.shapes[g.input])
        p = self.plan.input
        region, off = self.mem.place[g.input]
        if p.dtype == "int16":  # w8a16 layers read it: symmetric int16
            self.ctx.kernels.add("rnn_quantize_s16")
            call = (f"rnn_quantize_s16(x, {n}, {cgen.c_float(1.0 / p.scale)}, "
                    f"{self.buf(g.input)});")
            return [dict(kind="lines", comment="quantize the input (int16)", gate="",
                         lines=[call])]
        self.ctx.kernels.add("rnn_quantize_s8")
        return [dict(kind="lines", comment="quantize the input", gate="", lines=[
            f"rnn_quantize_s8(x, {n}, {cgen.c_float(1.0 / p.scale)}, {p.zero_point}, "
            f"{_at('s->arena', off)});"])]

    def src(self, t: str) -> str:
        return self.xbuf(t)

    def xbuf(self, t: str) -> str:
        """The int8 buffer of a tensor (the quantized input lives in the arena)."""
        if t == self.g.input and self.plan.io == "float" and not self.g.input_ids:
            if self.is16(t):  # int16 (w8a16): in arena16
                return self.buf(t)
            return _at("s->arena", self.mem.place[t][1])
        return self.buf(t)

    def cell_params(self, n: ir.Recurrent, q: quant.QRecurrent, qd: quant.QDirection,
                    qn: str) -> str:
        """Declare one direction's params struct of the cell's int16 kernels (the cell's
        ``params_s16``: struct type and fields; tables, biases and multipliers); its symbol."""
        cell = cells.of(n.cell)
        ctype, fields = cell.params_s16
        luts = {f"lut{k}": t for k, t in enumerate(qd.luts)}

        def arr(field: str, values: Any) -> Any:
            return (lambda: self.arr(f"{qn}_{field}", values, "int16_t")) \
                if values is not None else "NULL"

        peep = arr("peep", qd.peephole)
        values: dict[str, Any] = {
            "hidden": n.hidden, "clip": q.clip, "input_forget": int(q.input_forget),
            "linear_before_reset": int(q.lbr), "cell_exp": q.cell_exp,
            "bias": arr("bias", qd.bias), "bias2": arr("bias2", qd.bias2),
            "peephole": peep, "v": peep,
            "peep_mult": cgen.c_int(qd.pm), "peep_shift": cgen.c_int(qd.ps),
            "v_mult": cgen.c_int(qd.pm), "v_shift": cgen.c_int(qd.ps),
            **{f"lut{k}": arr(f"lut{k}", luts.get(f"lut{k}")) for k in range(3)},
            "s1": qd.fast[0], "s2": qd.fast[1], "h_zero_point": q.h.zero_point,
            "h15_mult": cgen.c_int(q.h15_mult), "h15_shift": cgen.c_int(q.h15_shift),
            "out_mult": cgen.c_int(q.out_mult), "out_shift": cgen.c_int(q.out_shift),
            **dict(cell.extra_s16(q, qd))}
        # tables and biases in the order the kernels have always had them declared
        order = ["lut0", "lut1", "lut2", "bias", "bias2", "peephole", "v"]
        for f in sorted(fields, key=lambda f: order.index(f) if f in order else len(order)):
            if callable(values[f]):
                values[f] = values[f]()
        return self.ctx.const(f"{qn}_cell", ctype,
                              cgen.c_struct([(f, values[f]) for f in fields]))

    def op_recurrent(self, n: ir.Recurrent, p: str) -> Any:
        if self.is_float(n.name):  # float32 layer: dequantize, float, quantize
            return FloatLayer(self, n).ops_of(p)
        q: quant.QRecurrent = self.plan.nodes[n.name]
        H, I, D, T = n.hidden, n.input_size, n.num_directions, n.seq_len
        cell = cells.of(n.cell)
        x = self.xbuf(n.inputs[0])
        Y, Yh, Yc = self.recurrent_outputs(n)
        places = self.mem.cells[n.name]
        block = places.hoist
        gx, gh, zr = (_at("s->work", places.work[k]) for k in ("gx", "gh", "zr"))
        rh, scratch = (_at("s->work8", places.work8[k]) for k in ("rh", "scratch"))
        rh16 = _at("s->work", places.work["rh16"])
        GH = q.directions[0].W.shape[0]  # the rows of W x per step
        dirs = []
        for d, qd in enumerate(q.directions):
            qn = f"{p}d{d}"
            prm = self.cell_params(n, q, qd, qn)
            if block > 1:
                # the input projections of up to `block` steps at once into gx, then per
                # step the cell reads its row g of them
                w_calls = self.matmul(f"{qn}_W", qd.W, "n", f"{x} + b0 * {I}", gx, scratch)
                steps: list[str] = []
                slots = SimpleNamespace(gx="g", gh=gh, zr=zr, rh=rh, rh16=rh16,
                                        scratch=scratch, prefix=qn, params=prm,
                                        xt=f"{x} + tt * {I}")
            else:
                w_calls = []
                steps = self.matvec(f"{qn}_W", qd.W, "xt", gx, scratch)
                slots = SimpleNamespace(gx=gx, gh=gh, zr=zr, rh=rh, rh16=rh16,
                                        scratch=scratch, prefix=qn, params=prm, xt="xt")
            steps += cell.emit_s8(self, n, q, qd, slots)
            dirs.append(self.direction(
                n, d, Y, Yh, Yc, steps=steps, w_calls=w_calls,
                b0=f"{n.valid_len} - t0 - n" if n.directions[d].reverse else "t0",
                k="n - 1 - k" if n.directions[d].reverse else "k"))
        y_fill = None
        a16 = self.a16(n)
        if Y and n.valid_len < T:
            y_fill = (f"memset({_at(Y, n.valid_len * D * H)}, {q.h.zero_point}, "
                      f"{(T - n.valid_len) * D * H}{' * sizeof(int16_t)' if a16 else ''});")
        what = "int8, w8a16: int16 h" if a16 else "int8"
        return dict(kind="recurrent_q",
                    comment=cgen.c_comment(f"{n.cell} '{n.name}' ({what})"),
                    x=x, I=I, valid=n.valid_len, dirs=dirs, y_fill=y_fill, block=block,
                    gx=gx, GH=GH, h_type="int16_t" if a16 else "int8_t",
                    x_type="int16_t" if self.is16(n.inputs[0]) else "int8_t")

    def _lines(self, n: ir.Node, lines: list[str]) -> dict[str, Any]:
        return dict(kind="lines", comment=cgen.c_comment(f"{n.op} '{n.name}' (int8)"),
                    lines=lines)

    def op_linear(self, n: ir.Linear, p: str) -> Any:
        if self.is_float(n.name):
            return FloatLayer(self, n).ops_of(p)
        q: quant.QLinear = self.plan.nodes[n.name]
        N, K = n.W.shape
        rows = math.prod(self.g.shapes[n.inputs[0]][:-1])
        x, y = self.xbuf(n.inputs[0]), self.buf(n.outputs[0])
        xr = f"{x}{' + r * ' + str(K) if rows > 1 else ''}"
        yr = f"{y}{' + r * ' + str(N) if rows > 1 else ''}"
        if q.out.dtype == "int16":  # w8a16: y = sat16(rq(W x + offset)), zero point 0
            lines = self.matvec(f"{p}_W", q.w, xr, yr, "NULL")
            assert len(lines) == 1
            call = lines[0]
        else:
            emit = formats.of(q.w).emit_s8_out
            assert emit is not None  # the quantize pass admits only such formats
            call = emit(q.w, self.ctx, f"{p}_W", q.out.zero_point, xr, yr)
        if rows == 1:
            return self._lines(n, [call])
        return self._lines(n, ["{", "    int32_t r;", f"    for (r = 0; r < {rows}; ++r)",
                               "    {", f"        {call}", "    }", "}"])

    def op_softmax(self, n: ir.Softmax, p: str) -> dict[str, Any]:
        q: quant.QSoftmax = self.plan.nodes[n.name]
        s = self.g.shapes[n.inputs[0]]
        outer, inner = math.prod(s[:n.axis]), math.prod(s[n.axis + 1:])
        table = self.arr(f"{p}_exp", q.exp_table, "int32_t")
        self.ctx.kernels.add("rnn_softmax_s8")
        return self._lines(n, [f"rnn_softmax_s8({outer}, {s[n.axis]}, {inner}, {table}, "
                               f"{self.xbuf(n.inputs[0])}, {self.buf(n.outputs[0])});"])

    def op_unary(self, n: ir.Unary, p: str) -> dict[str, Any]:
        q: quant.QLut8 = self.plan.nodes[n.name]
        table = self.arr(f"{p}_lut", q.table, "int8_t")
        self.ctx.kernels.add("rnn_lut_s8")
        size = math.prod(self.g.shapes[n.outputs[0]])
        return self._lines(n, [f"rnn_lut_s8({table}, {self.xbuf(n.inputs[0])}, {size}, "
                               f"{self.buf(n.outputs[0])});"])

    def op_conv(self, n: ir.Conv, p: str) -> Any:
        if self.is_float(n.name):  # float32 layer: dequantize, rnn_conv_f32, quantize
            return FloatLayer(self, n).ops_of(p)
        q: quant.QConv = self.plan.nodes[n.name]
        x, y = self.g.shapes[n.inputs[0]], self.g.shapes[n.outputs[0]]
        if q.x.dtype == "int16":  # w8a16 / w4a16 reading int16
            return self.conv_a16(n, p, q)
        if one_window(n, x):  # one output per filter: the int8 fully connected kernel
            w = np.asarray(q.w, np.int8).reshape(n.W.shape[0], -1)
            qd = formats.dense_s8(w, np.asarray(q.bias, np.int64)
                                  - q.x.zero_point * w.astype(np.int64).sum(axis=1),
                                  q.mult, q.shift, bits=q.bits)
            return self._lines(n, [formats.of(qd).emit_s8_out(
                qd, self.ctx, f"{p}_W", q.out.zero_point, self.xbuf(n.inputs[0]),
                self.buf(n.outputs[0]))])
        prm = self.window(p, x, y, n.kernel, n.strides, n.pads, n.dilations, n.group)
        if q.bits == 4:
            w = self.ctx.array(f"{p}_w", pack_conv_s4(np.asarray(q.w)), ctype="int8_t")
        else:
            w = self.ctx.array(f"{p}_w", np.asarray(q.w).reshape(-1), ctype="int8_t")
        b = self.arr(f"{p}_bias", q.bias, "int32_t")
        mu = self.arr(f"{p}_mult", q.mult, "int32_t")
        sh = self.arr(f"{p}_shift", q.shift, "int32_t")
        kernel = "rnn_conv_s4" if q.bits == 4 else "rnn_conv_s8"
        self.ctx.kernels.add(kernel)
        return self._lines(n, [f"{kernel}(&{prm}, {self.xbuf(n.inputs[0])}, "
                               f"{q.x.zero_point}, {w}, {b}, {mu}, {sh}, {q.out.zero_point}, "
                               f"{self.buf(n.outputs[0])}, s->work);"])  # plan_int8: the columns

    def conv_a16(self, n: ir.Conv, p: str, q: quant.QConv) -> dict[str, Any]:
        """rnn_conv_a16: int16 input, int8 or int4 weights (unpacked per output channel into
        the int16 work area), int64 sums, an int8 or int16 output (quant.conv_a16)."""
        x, y = self.g.shapes[n.inputs[0]], self.g.shapes[n.outputs[0]]
        prm = self.window(p, x, y, n.kernel, n.strides, n.pads, n.dilations, n.group)
        w = self.ctx.array(f"{p}_w", pack_conv_s4(np.asarray(q.w)) if q.bits == 4
                           else np.asarray(q.w).reshape(-1), ctype="int8_t")
        b = self.arr(f"{p}_bias", q.bias, "int64_t")
        mu = self.arr(f"{p}_mult", q.mult, "int32_t")
        sh = self.arr(f"{p}_shift", q.shift, "int32_t")
        out = self.buf(n.outputs[0])
        y8, y16 = ("NULL", out) if q.out.dtype == "int16" else (out, "NULL")
        self.ctx.kernels.add("rnn_conv_a16")
        return self._lines(n, [f"rnn_conv_a16(&{prm}, {self.xbuf(n.inputs[0])}, {w}, "
                               f"{q.bits}, {b}, {mu}, {sh}, {q.out.zero_point}, {y8}, {y16}, "
                               "s->work);"])

    def op_pool(self, n: ir.Pool, p: str) -> dict[str, Any]:
        x, y = self.g.shapes[n.inputs[0]], self.g.shapes[n.outputs[0]]
        prm = self.window(p, x, y, n.kernel, n.strides, n.pads, n.dilations, 1)
        zp = self.plan.tensors[n.inputs[0]].zero_point
        xb, yb = self.xbuf(n.inputs[0]), self.buf(n.outputs[0])
        if n.kind == "max":
            self.ctx.kernels.add("rnn_max_pool_s8")
            return self._lines(n, [f"rnn_max_pool_s8(&{prm}, {zp}, {xb}, {yb});"])
        self.ctx.kernels.add("rnn_avg_pool_s8")
        return self._lines(n, [f"rnn_avg_pool_s8(&{prm}, {int(bool(n.count_include_pad))}, "
                               f"{zp}, {xb}, {yb});"])

    def op_reduce(self, n: ir.Reduce, p: str) -> dict[str, Any]:
        outer, mid, inner = self.reduce_dims(n)
        if n.fn == "sum":
            q: quant.QReduceSum = self.plan.nodes[n.name]
            self.ctx.kernels.add("rnn_reduce_sum_s8")
            return self._lines(n, [f"rnn_reduce_sum_s8({outer}, {mid}, {inner}, "
                                   f"{q.x.zero_point}, {q.mult}, {q.shift}, "
                                   f"{q.out.zero_point}, {self.xbuf(n.inputs[0])}, "
                                   f"{self.buf(n.outputs[0])});"])
        kind = {"mean": "RNN_REDUCE_MEAN", "max": "RNN_REDUCE_MAX"}[n.fn]
        self.ctx.kernels.add("rnn_reduce_s8")
        return self._lines(n, [f"rnn_reduce_s8({kind}, {outer}, {mid}, {inner}, "
                               f"{self.xbuf(n.inputs[0])}, {self.buf(n.outputs[0])});"])

    def op_attentionpool(self, n: ir.AttentionPool, p: str) -> dict[str, Any]:
        """rnn_attention_pool_s8, or over time in a streaming model
        rnn_running_attention_pool_s8 with its m, l and a in state32 (then the count)."""
        q: quant.QAttentionPool = self.plan.nodes[n.name]
        outer, k, inner, inner_s = n.layout(self.g.shapes[n.inputs[0]],
                                            self.g.shapes[n.inputs[1]])
        table = self.arr(f"{p}_exp", q.exp_table, "int32_t")
        prm = self.ctx.const(f"{p}_att", "rnn_attention_params", cgen.c_struct([
            ("exp_table", table), ("zp_v", q.v.zero_point), ("mult", cgen.c_int(q.mult)),
            ("shift", cgen.c_int(q.shift)), ("zp_out", q.out.zero_point)]))
        args = (f"{outer}, {k}, {inner}, {inner_s}, &{prm}, {self.xbuf(n.inputs[0])}, "
                f"{self.xbuf(n.inputs[1])}")
        if isinstance(n, ir.RunningAttentionPool):
            acc, cnt = self.mem.running[n.name]
            self.ctx.kernels.add("rnn_running_attention_pool_s8")
            return self._lines(n, [f"rnn_running_attention_pool_s8({args}, "
                                   f"{_at('s->state32', acc)}, {_at('s->state32', cnt)}, "
                                   f"{self.buf(n.outputs[0])});"])
        self.ctx.kernels.add("rnn_attention_pool_s8")
        return self._lines(n, [f"rnn_attention_pool_s8({args}, {self.buf(n.outputs[0])});"])

    def op_channelaffine(self, n: ir.ChannelAffine, p: str) -> dict[str, Any]:
        q: quant.QConv = self.plan.nodes[n.name]
        s = self.g.shapes[n.inputs[0]]
        w = self.arr(f"{p}_w", q.w.reshape(-1), "int8_t")
        b = self.arr(f"{p}_bias", q.bias, "int32_t")
        m = self.arr(f"{p}_mult", q.mult, "int32_t")
        sh = self.arr(f"{p}_shift", q.shift, "int32_t")
        self.ctx.kernels.add("rnn_scale_shift_s8")
        return self._lines(n, [f"rnn_scale_shift_s8({math.prod(s[:n.axis])}, {s[n.axis]}, "
                               f"{math.prod(s[n.axis + 1:])}, {w}, {b}, {m}, {sh}, "
                               f"{q.x.zero_point}, {q.out.zero_point}, "
                               f"{self.xbuf(n.inputs[0])}, {self.buf(n.outputs[0])});"])

    def op_layernorm(self, n: ir.LayerNorm, p: str) -> dict[str, Any]:
        q: quant.QLayerNorm = self.plan.nodes[n.name]
        rows = math.prod(self.g.shapes[n.inputs[0]]) // q.n
        prm = self.ctx.const(f"{p}_ln", "rnn_layer_norm_s8_params", cgen.c_struct([
            ("n", q.n), ("zp_in", q.x.zero_point), ("eps", f"INT64_C({q.eps})"),
            ("gamma", self.arr(f"{p}_gamma", q.gamma, "int32_t")),
            ("bias", self.arr(f"{p}_bias", q.bias, "int64_t")),
            ("per_value", int(q.gamma.size > 1))]))
        self.ctx.kernels.add("rnn_layer_norm_s8")
        return self._lines(n, [f"rnn_layer_norm_s8(&{prm}, {rows}, {self.xbuf(n.inputs[0])}, "
                               f"{self.buf(n.outputs[0])});"])

    def op_pad(self, n: ir.Pad, p: str) -> dict[str, Any]:
        x, y = self.g.shapes[n.inputs[0]], self.g.shapes[n.outputs[0]]
        dst = self.buf(n.outputs[0])
        lines = [f"memset({dst}, {self.plan.nodes[n.name]}, {math.prod(y)});"]
        yst = cgen.strides(y)
        off = sum(n.pads[i] * yst[i] for i in range(len(x)))
        lines.append(self._copy(p, x, self.src(n.inputs[0]), cgen.strides(x), _at(dst, off),
                                yst))
        return self._lines(n, lines)

    def op_binary(self, n: ir.Binary, p: str) -> None:
        raise RnngenError(f"{n.fn} node '{n.name}' is not supported with --dtype int8")
