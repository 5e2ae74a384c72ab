"""FastRNN (Microsoft EdgeML): h~ = act(W x + U h + b), h' = sigmoid(beta) h + sigmoid(alpha) h~
(one W [H, I] and one U [H, H]; the scalars alpha, beta stored before the sigmoid).

C: rnn_fastrnn_cell_f32 / rnn_fastrnn_cell_s16 after the two matrix products (work area: H)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import cgen, ir, reference
from ..quant import I64, lut, rq, rshift_round, sat16, sat_act
from .base import Cell
from .common import F32, c_sigmoid_const, q12, sigmoid_const


def step_f32(n: Any, cd: Any, x: np.ndarray, gx: np.ndarray, h: np.ndarray,
             c: Any) -> tuple[np.ndarray, Any]:
    hh = reference.activation(cd.activations[0], gx + cd.R.matvec(h))
    alpha, beta = cd.scalars
    return (sigmoid_const(beta) * h + sigmoid_const(alpha) * hh).astype(F32), c


def step_s8(q: Any, qd: Any, x: np.ndarray, gx: np.ndarray, h: np.ndarray,
            c: Any) -> tuple[np.ndarray, Any]:
    """C: rnn_fastrnn_cell_s16()."""
    zh = q.h.zero_point
    gh = sat16(qd.R.forward(h))
    h15 = sat16(rq(h - zh, q.h15_mult, q.h15_shift))
    s1, s2 = qd.fast
    a = lut(qd.luts[0], sat16(gx + gh + qd.bias.astype(I64)))
    new15 = sat16(rshift_round(s2 * h15, 15) + rshift_round(s1 * a, 15))
    return sat_act(zh + rq(new15, q.out_mult, q.out_shift), q.h), c


def emit_f32(prog: Any, n: Any, cd: Any, s: Any) -> tuple[np.ndarray, list[str]]:
    ctx = prog.ctx
    s1, s2 = (c_sigmoid_const(v) for v in cd.scalars)
    update, gate = s.acts[0], prog.act(ir.SIGMOID)
    prm = ctx.const(f"{s.prefix}_cell", "rnn_fast_params_f32", cgen.c_struct([
        ("hidden", n.hidden), ("gate", gate), ("update", update), ("bias_gate", "NULL"),
        ("bias_update", "NULL"), ("s1", s1), ("s2", s2)]))
    steps = prog.matvec(f"{s.prefix}_U", cd.R, "g", "h", "g")
    steps.append(f"rnn_fastrnn_cell_f32(&{prm}, g, h);")
    ctx.kernels.add("rnn_fastrnn_cell_f32")
    return cd.wb + cd.rb, steps


def emit_s8(prog: Any, n: Any, q: Any, qd: Any, s: Any) -> list[str]:
    steps = prog.matvec(f"{s.prefix}_R", qd.R, "h", s.gh, s.scratch)
    a = "a16" if q.h.dtype == "int16" else "s16"  # int16 h: w8a16
    prog.ctx.kernels.add(f"rnn_fastrnn_cell_{a}")
    steps.append(f"rnn_fastrnn_cell_{a}(&{s.params}, {s.gx}, {s.gh}, h);")
    return steps


CELL = Cell(
    name="FastRNN", gates=1, has_cell_state=False, activations=("Tanh",),
    work=lambda H: H, work_slots=lambda H: {},
    step_f32=step_f32,
    kernels_f32={"rnn_fastrnn_cell_f32": ("RecurrentFunctions/rnn_fastrnn_cell_f32.c",
                                          ("rnn_activation_f32",))},
    emit_f32=emit_f32,
    step_s8=step_s8,
    kernels_s16={"rnn_fastrnn_cell_s16": ("RecurrentFunctions/rnn_fastrnn_cell_s16.c", ()),
                 "rnn_fastrnn_cell_a16": ("RecurrentFunctions/rnn_fastrnn_cell_a16.c", ())},
    emit_s8=emit_s8,
    params_s16=("rnn_fast_params_s16", (
        "hidden", "bias", "bias2", "lut0", "lut1", "s1", "s2", "h_zero_point", "h15_mult",
        "h15_shift", "out_mult", "out_shift")),
    quant_biases=lambda n, cd: (q12(cd.wb + cd.rb), None),
    out_frac=15,
    a16=True,
)
