"""IR + quant.QuantPlan -> plain dicts for the C templates, for --dtype int8 models.

Same structure as emit/c.py (which it reuses for layout nodes and helpers); every number and
name is prepared here. The integer kernels are the *_s8 / *_s16 functions of runtime_c.
"""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Any

import numpy as np

from .. import cells, cgen, formats, ir, quant
from ..errors import RnngenError
from .c import _at, _Ctx, _offset_expr, _Program, _upper, kernel_closure

INT8_KERNELS: dict[str, tuple[str, tuple[str, ...]]] = {
    **formats.kernels_s8(),
    **cells.kernels_s16(),
    "rnn_softmax_s8": ("SoftmaxFunctions/rnn_softmax_s8.c", ()),
    "rnn_lut_s8": ("ActivationFunctions/rnn_lut_s8.c", ()),
    "rnn_quantize_s8": ("ConvertFunctions/rnn_quantize_s8.c", ()),
    "rnn_dequantize_s8": ("ConvertFunctions/rnn_dequantize_s8.c", ()),
    "rnn_dequantize_s16": ("ConvertFunctions/rnn_dequantize_s16.c", ()),
    "rnn_copy_strided_s8": ("ViewFunctions/rnn_copy_strided_s8.c", ()),
}

class _QProgram(_Program):
    """The int8 program: cells, matrices and Linear/Softmax/activation nodes in integers;
    the layout operators (Transpose, Slice, Concat, View) are _Program's, on bytes."""

    COPY_KERNEL = "rnn_copy_strided_s8"
    ELEM = ""
    ELEM_BYTES = 1

    def __init__(self, g: ir.Graph, ctx: _Ctx):
        assert g.memory is not None and g.quant is not None
        self.g, self.mem, self.plan, self.ctx = g, g.memory, g.quant, ctx

    def buf(self, t: str) -> str:
        region, off = self.mem.place[t]
        base = {"x": "x", "arena": "s->arena", "arena16": "s->arena16"}.get(region)
        if base is None:
            raise RnngenError(f"int8: tensor '{t}' is a constant")
        return _at(base, off)

    def arr(self, base: str, values: np.ndarray, ctype: str) -> str:
        return self.ctx.array(base, np.asarray(values), ctype=ctype)

    # -- matrices ---------------------------------------------------------------------
    def matvec(self, base: str, m: formats.QMatrix, x: str, y: str, scratch: str) -> list[str]:
        """C statements computing y (int16) = the quantized product of m with int8 x."""
        emit = formats.of(m).emit_s8
        if emit is None:
            raise RnngenError(f"int8: no kernel for {type(m).__name__}")
        return emit(m, self, base, x, y, scratch)

    # -- nodes --------------------------------------------------------------------------
    def ops(self) -> list[dict[str, Any]]:
        out = []
        if self.plan.io == "float":
            g = self.g
            n = math.prod(g.shapes[g.input])
            p = self.plan.input
            region, off = self.mem.place[g.input]
            self.ctx.kernels.add("rnn_quantize_s8")
            out.append(dict(kind="lines", comment="quantize the input", lines=[
                f"rnn_quantize_s8(x, {n}, {cgen.c_float(1.0 / p.scale)}, {p.zero_point}, "
                f"{_at('s->arena', off)});"]))
        for k, n in enumerate(self.g.nodes):
            op = getattr(self, "op_" + type(n).__name__.lower())(n, f"n{k}")
            if op is not None:
                out.append(op)
        return out

    def src(self, t: str) -> str:
        return self.xbuf(t)

    def xbuf(self, t: str) -> str:
        """The int8 buffer of a tensor (the quantized input lives in the arena)."""
        if t == self.g.input and self.plan.io == "float":
            return _at("s->arena", self.mem.place[t][1])
        return self.buf(t)

    def op_recurrent(self, n: ir.Recurrent, p: str) -> dict[str, Any]:
        q: quant.QRecurrent = self.plan.nodes[n.name]
        ctx = self.ctx
        H, I, D, T = n.hidden, n.input_size, n.num_directions, n.seq_len
        cell = cells.of(n.cell)
        x = self.xbuf(n.inputs[0])
        Y = self.buf(n.outputs[0]) if n.outputs[0] else None
        Yh = self.buf(n.outputs[1]) if n.outputs[1] else None
        Yc = self.buf(n.outputs[2]) if cell.has_cell_state and n.outputs[2] else None
        places = self.mem.cells[n.name]
        gx, gh, zr = (_at("s->work", places.work[k]) for k in ("gx", "gh", "zr"))
        rh, scratch = (_at("s->work8", places.work8[k]) for k in ("rh", "scratch"))
        dirs = []
        for d, qd in enumerate(q.directions):
            h_off, c_off = self.mem.state_slots[(n.name, d)]
            qn = f"{p}d{d}"
            luts = [self.arr(f"{qn}_lut{k}", t, "int16_t") for k, t in enumerate(qd.luts)]
            luts += ["NULL"] * (3 - len(luts))
            bias = self.arr(f"{qn}_bias", qd.bias, "int16_t")
            bias2 = self.arr(f"{qn}_bias2", qd.bias2, "int16_t") if qd.bias2 is not None \
                else "NULL"
            peep = self.arr(f"{qn}_peep", qd.peephole, "int16_t") if qd.peephole is not None \
                else "NULL"
            prm = ctx.sym(f"{qn}_cell")
            ctx.decls.append(f"static const rnn_cell_params_s16 {prm} = " + cgen.c_struct([
                ("hidden", H), ("clip", q.clip), ("input_forget", int(q.input_forget)),
                ("linear_before_reset", int(q.lbr)), ("cell_exp", q.cell_exp),
                ("bias", bias), ("bias2", bias2), ("peephole", peep),
                ("peep_mult", cgen.c_int(qd.pm)), ("peep_shift", cgen.c_int(qd.ps)),
                ("lut0", luts[0]), ("lut1", luts[1]), ("lut2", luts[2]), ("s1", qd.fast[0]),
                ("s2", qd.fast[1]),
                ("h_zero_point", q.h.zero_point), ("h15_mult", cgen.c_int(q.h15_mult)),
                ("h15_shift", cgen.c_int(q.h15_shift)), ("out_mult", cgen.c_int(q.out_mult)),
                ("out_shift", cgen.c_int(q.out_shift))]) + ";")
            steps = self.matvec(f"{qn}_W", qd.W, "xt", gx, scratch)
            slots = SimpleNamespace(gx=gx, gh=gh, zr=zr, rh=rh, scratch=scratch, prefix=qn,
                                    params=prm, xt="xt")
            steps += cell.emit_s8(self, n, q, qd, slots)
            after = []
            if Yh:
                after.append(f"memcpy({_at(Yh, d * H)}, h, {H});")
            if Yc:
                after.append(f"memcpy({_at(Yc, d * H)}, c, {H} * sizeof(int16_t));")
            dirs.append(dict(
                h=_at("s->state", h_off), c=_at("s->state16", c_off) if c_off >= 0 else None,
                tt=f"{n.valid_len - 1} - t" if n.directions[d].reverse else "t",
                label="backward" if n.directions[d].reverse else "forward", steps=steps,
                after=after, y_store=(f"memcpy({Y} + (tt * {D} + {d}) * {H}, h, {H});"
                                      if Y else None)))
        y_fill = None
        if Y and n.valid_len < T:
            y_fill = (f"memset({_at(Y, n.valid_len * D * H)}, {q.h.zero_point}, "
                      f"{(T - n.valid_len) * D * H});")
        return dict(kind="recurrent_q", comment=cgen.c_comment(f"{n.cell} '{n.name}' (int8)"),
                    x=x, I=I, valid=n.valid_len, dirs=dirs, y_fill=y_fill)

    def _lines(self, n: ir.Node, lines: list[str]) -> dict[str, Any]:
        return dict(kind="lines", comment=cgen.c_comment(f"{n.op} '{n.name}' (int8)"),
                    lines=lines)

    def op_linear(self, n: ir.Linear, p: str) -> dict[str, Any]:
        q: quant.QLinear = self.plan.nodes[n.name]
        N, K = n.W.shape
        rows = math.prod(self.g.shapes[n.inputs[0]][:-1])
        x, y = self.xbuf(n.inputs[0]), self.buf(n.outputs[0])
        emit = formats.of(q.w).emit_s8_out
        assert emit is not None  # the quantize pass admits only such formats
        call = emit(q.w, self.ctx, f"{p}_W", q.out.zero_point,
                    f"{x}{' + r * ' + str(K) if rows > 1 else ''}",
                    f"{y}{' + r * ' + str(N) if rows > 1 else ''}")
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

    def op_binary(self, n: ir.Binary, p: str) -> None:
        raise RnngenError(f"{n.fn} node '{n.name}' is not supported with --dtype int8")


def build_context_int8(g: ir.Graph, name: str) -> dict[str, Any]:
    ctx = _Ctx()
    pg = g.step if g.step is not None else g
    prog = _QProgram(pg, ctx)
    ops = prog.ops()
    mem = pg.memory
    plan: quant.QuantPlan = g.quant
    assert mem is not None
    init = []
    if mem.state:
        init.append("memset(s->state, 0, sizeof(s->state));")
    if mem.state16:
        init.append("memset(s->state16, 0, sizeof(s->state16));")
    for n in pg.nodes:
        if isinstance(n, ir.Recurrent):
            q = plan.nodes[n.name]
            for d, qd in enumerate(q.directions):
                h_off, c_off = mem.state_slots[(n.name, d)]
                if np.any(qd.h0 != 0):
                    sym = prog.arr(f"{n.name}_d{d}_h0", qd.h0, "int8_t")
                    init.append(f"memcpy({_at('s->state', h_off)}, {sym}, {qd.h0.size});")
                if qd.c0 is not None and np.any(qd.c0 != 0):
                    sym = prog.arr(f"{n.name}_d{d}_c0", qd.c0, "int16_t")
                    init.append(f"memcpy({_at('s->state16', c_off)}, {sym}, "
                                f"{qd.c0.size} * sizeof(int16_t));")
    init.append("memset(s->arena, 0, sizeof(s->arena));")
    float_io = plan.io == "float"
    outs = []
    seq_acc = fin_acc = step_off = 0
    for o in g.outputs:
        info = (g.time or {}).get(o)
        seq = g.streaming and info is not None and info.kind == "seq"
        size = math.prod(pg.shapes[o])
        src = prog.buf(o)
        p = plan.tensors[o]
        run_dst = _offset_expr(seq_acc, fin_acc)
        run_dst = "y" if run_dst == "0" else f"y + {run_dst}"
        if seq:
            run_dst += f" + (size_t)t * {size}"

        def store(dst: str, src: str = src, size: int = size, p: Any = p) -> str:
            if not float_io:
                return f"memcpy({dst}, {src}, {size});"
            if isinstance(p, quant.QParams):
                ctx.kernels.add("rnn_dequantize_s8")
                return (f"rnn_dequantize_s8({src}, {size}, {cgen.c_float(p.scale)}, "
                        f"{p.zero_point}, {dst});")
            ctx.kernels.add("rnn_dequantize_s16")
            return f"rnn_dequantize_s16({src}, {size}, {cgen.c_float(2.0 ** -p[1])}, {dst});"

        outs.append(dict(name=o, cname=cgen.c_comment(o), src=src, size=size, seq=seq,
                         shape=list(g.shapes[o]), seq_before=seq_acc, fin_before=fin_acc,
                         step_off=step_off, store_step=store(_at("y", step_off)),
                         store_run=store(run_dst)))
        step_off += size
        if seq:
            seq_acc += size
        else:
            fin_acc += size
    in_shape = g.shapes[g.input]
    in_size = math.prod(in_shape)
    fields = [("int8_t", "arena", max(1, mem.arena)), ("int16_t", "arena16", mem.arena16),
              ("int16_t", "work", mem.work), ("int8_t", "work8", mem.work8),
              ("int8_t", "state", mem.state), ("int16_t", "state16", mem.state16)]
    state_bytes = sum((2 if t == "int16_t" else 1) * n for t, _, n in fields if n)
    kernels = kernel_closure_int8(ctx.kernels)
    return dict(
        name=name, NAME=_upper(name), ops=ops, decls=ctx.decls, init=init, outputs=outs,
        streaming=g.streaming, not_streaming_why=g.not_streaming_why, seq_len=g.seq_len,
        input_size=in_size, input_step_size=in_size // g.seq_len if g.streaming else None,
        input_shape=list(in_shape), input_name=cgen.c_comment(g.input),
        step_output_size=step_off, seq_out=seq_acc, fin_out=fin_acc,
        state_fields=[f"{t} {f}[{n}];" for t, f, n in fields if n],
        in_t="float" if float_io else "int8_t", out_t="float" if float_io else "int8_t",
        kernels=kernels, weight_bytes=ctx.weight_bytes, state_bytes=state_bytes,
        arena=max(1, mem.arena), work=mem.work, state=mem.state,
    )


def kernel_closure_int8(names: set[str]) -> list[str]:
    return kernel_closure(names, INT8_KERNELS)
