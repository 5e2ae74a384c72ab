"""A float32 layer inside an int8 program (--precision LAYER=float32, quant.QFloatLayer).

The layer's C is the float program's (_Program.op_recurrent / op_linear / op_conv: the
float kernels of its cell, matrix format or convolution, its float weights), run on a float
copy of its input and into
float outputs in the model state's float work area (`workf`), with its h and c in the float
state (`statef`). Around it: its int8 (or int16) input dequantized (rnn_dequantize_s8 /
_s16), each output quantized with its tensor's parameters (rnn_quantize_s8 / _s16) into the
int8 arena where its integer readers find it. docs/int8.md, "float32 layers".
"""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from .. import cgen, ir, quant
from .c import _at, _Program

if TYPE_CHECKING:
    from .c_int8 import QProgram


class FloatLayer(_Program):
    """The float program of one layer, its tensors and state in the float regions."""

    STATE = C_STATE = "s->statef"

    def __init__(self, qprog: QProgram, n: ir.Node):
        mem = qprog.mem
        self.g, self.ctx, self.consts = qprog.g, qprog.ctx, {}
        self.qprog, self.node = qprog, n
        self.f = f = mem.floats[n.name]
        base = f.get("work", 0)
        self.WORK = _at("s->workf", base)
        # the float program's view of the memory plan: the layer's cell places, its state
        # slots (in statef) and the kernels' scratch (relative to WORK)
        self.mem = SimpleNamespace(cells=mem.cells, state_slots=mem.state_slots,
                                   scratch_off=f["scratch"] - base)
        self.at = {t: _at("s->workf", f[k])
                   for k, t in zip(("x", "y", "yh", "yc"), [n.inputs[0], *n.outputs])
                   if t and k in f}

    def buf(self, t: str) -> str:
        return self.at[t]

    def comment(self, n: ir.Node) -> str:
        return cgen.c_comment(f"{n.op} '{n.name}' (float32 inside the int8 model)")

    def ops_of(self, p: str) -> list[dict[str, Any]]:
        """Dequantize the input, the float layer, quantize its outputs."""
        n, qp = self.node, self.qprog
        q: quant.QFloatLayer = qp.plan.nodes[n.name]
        ctx = self.ctx
        size = math.prod(self.g.shapes[n.inputs[0]])
        x, xf = qp.xbuf(n.inputs[0]), self.at[n.inputs[0]]
        if q.x.dtype == "int16":
            ctx.kernels.add("rnn_dequantize_s16")
            deq = f"rnn_dequantize_s16({x}, {size}, {cgen.c_float(q.x.scale)}, {xf});"
        else:
            ctx.kernels.add("rnn_dequantize_s8")
            deq = (f"rnn_dequantize_s8({x}, {size}, {cgen.c_float(q.x.scale)}, "
                   f"{q.x.zero_point}, {xf});")
        if isinstance(n, ir.Recurrent):
            body = self.op_recurrent(n, p)
            body["comment"] = cgen.c_comment(f"{n.cell} '{n.name}' (float32 inside the int8 "
                                             "model)")
        elif isinstance(n, ir.Conv):  # rnn_conv_f32 (or, one window, rnn_mat_vec_f32)
            body = self.op_conv(n, p)
        else:
            assert isinstance(n, ir.Linear)
            body = self.op_linear(n, p)
        quantize = []
        for o, pr in zip(n.outputs, q.outs):
            if not o or pr is None:
                continue
            size = math.prod(self.g.shapes[o])
            src, dst = self.at[o], qp.buf(o)
            if pr.dtype == "int16":  # symmetric: an int16 activation or the cell state
                factor = 2.0 ** pr.exp if isinstance(pr, quant.QState16) else 1.0 / pr.scale
                ctx.kernels.add("rnn_quantize_s16")
                quantize.append(f"rnn_quantize_s16({src}, {size}, {cgen.c_float(factor)}, "
                                f"{dst});")
            else:
                ctx.kernels.add("rnn_quantize_s8")
                quantize.append(f"rnn_quantize_s8({src}, {size}, "
                                f"{cgen.c_float(1.0 / pr.scale)}, {pr.zero_point}, {dst});")
        return [dict(kind="lines", comment=cgen.c_comment(
                    f"'{n.name}' (float32): dequantize its input"), lines=[deq]),
                body,
                dict(kind="lines", comment=cgen.c_comment(
                    f"'{n.name}' (float32): quantize its outputs"), lines=quantize)]


def state_init(qprog: QProgram, n: ir.Recurrent) -> list[str]:
    """C statements putting a float32 layer's initial h and c into statef (after the memset
    to zero)."""
    init = []
    for d, cd in enumerate(n.directions):
        h_off, c_off = qprog.mem.state_slots[(n.name, d)]
        for off, arr, what in ((h_off, cd.h0, "h0"), (c_off, cd.c0, "c0")):
            if off >= 0 and arr is not None and arr.any():
                sym = qprog.ctx.array(f"{n.name}_d{d}_{what}", arr)
                init.append(f"memcpy({_at('s->statef', off)}, {sym}, "
                            f"{arr.size} * sizeof(float));")
    return init
