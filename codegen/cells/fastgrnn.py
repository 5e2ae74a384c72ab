"""FastGRNN (Microsoft EdgeML): p = W x + U h (no bias); z = gate(p + b_g);
h~ = update(p + b_u); h' = z h + (sigmoid(zeta) (1 - z) + sigmoid(nu)) h~.

C: rnn_fastgrnn_cell_f32 / rnn_fastgrnn_cell_s16 after the two matrix products (work area:
2H)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import cgen, reference
from ..quant import I64, lut, rq, rshift_round, sat16, sat_act
from .base import Cell
from .common import F32, c_sigmoid_const, q12, sigmoid_const


def step_f32(n: Any, cd: Any, x: np.ndarray, gx: np.ndarray, h: np.ndarray,
             c: Any) -> tuple[np.ndarray, Any]:
    pre = cd.W.matvec(x) + cd.R.matvec(h)  # shared pre-activation, no bias
    z = reference.activation(cd.activations[0], pre + cd.wb)
    hh = reference.activation(cd.activations[1], pre + cd.rb)
    zeta, nu = cd.scalars
    return (z * h + (sigmoid_const(zeta) * (F32(1) - z) + sigmoid_const(nu)) * hh
            ).astype(F32), c


def step_s8(q: Any, qd: Any, x: np.ndarray, gx: np.ndarray, h: np.ndarray,
            c: Any) -> tuple[np.ndarray, Any]:
    """C: rnn_fastgrnn_cell_s16()."""
    H = q.hidden
    zh = q.h.zero_point
    gh = sat16(qd.R.forward(h))
    h15 = sat16(rq(h - zh, q.h15_mult, q.h15_shift))
    s1, s2 = qd.fast
    pre = sat16(gx + gh)
    b2 = qd.bias2.astype(I64)
    z = lut(qd.luts[0], sat16(pre + b2[:H]))
    a = lut(qd.luts[1], sat16(pre + b2[H:]))
    coef = sat16(rshift_round(s1 * (32768 - z), 15) + s2)
    new15 = sat16(rshift_round(z * h15, 15) + rshift_round(coef * a, 15))
    return sat_act(zh + rq(new15, q.out_mult, q.out_shift), q.h), c


def emit_f32(prog: Any, n: Any, cd: Any, s: Any) -> tuple[None, list[str]]:
    """The shared pre-activation has no bias; the cell adds both."""
    ctx = prog.ctx
    s1, s2 = (c_sigmoid_const(v) for v in cd.scalars)
    bg, bu = ctx.array(f"{s.prefix}_bg", cd.wb), ctx.array(f"{s.prefix}_bu", cd.rb)
    gate, update = s.acts[0], s.acts[1]
    prm = ctx.const(f"{s.prefix}_cell", "rnn_fast_params_f32", cgen.c_struct([
        ("hidden", n.hidden), ("gate", gate), ("update", update), ("bias_gate", bg),
        ("bias_update", bu), ("s1", s1), ("s2", s2)]))
    steps = prog.matvec(f"{s.prefix}_U", cd.R, "g", "h", "g")
    steps.append(f"rnn_fastgrnn_cell_f32(&{prm}, g, {s.slot('tmp')}, h);")
    ctx.kernels.add("rnn_fastgrnn_cell_f32")
    return None, steps


def emit_s8(prog: Any, n: Any, q: Any, qd: Any, s: Any) -> list[str]:
    steps = prog.matvec(f"{s.prefix}_R", qd.R, "h", s.gh, s.scratch)
    a = "a16" if q.h.dtype == "int16" else "s16"  # int16 h: w8a16
    prog.ctx.kernels.add(f"rnn_fastgrnn_cell_{a}")
    steps.append(f"rnn_fastgrnn_cell_{a}(&{s.params}, {s.gx}, {s.gh}, h);")
    return steps


CELL = Cell(
    name="FastGRNN", gates=1, has_cell_state=False, activations=("Sigmoid", "Tanh"),
    work=lambda H: 2 * H, work_slots=lambda H: {"tmp": H},
    step_f32=step_f32,
    kernels_f32={"rnn_fastgrnn_cell_f32": ("RecurrentFunctions/rnn_fastgrnn_cell_f32.c",
                                           ("rnn_activation_f32",))},
    emit_f32=emit_f32,
    step_s8=step_s8,
    kernels_s16={"rnn_fastgrnn_cell_s16": ("RecurrentFunctions/rnn_fastgrnn_cell_s16.c", ()),
                 "rnn_fastgrnn_cell_a16": ("RecurrentFunctions/rnn_fastgrnn_cell_a16.c", ())},
    emit_s8=emit_s8,
    params_s16=("rnn_fast_params_s16", (
        "hidden", "bias", "bias2", "lut0", "lut1", "s1", "s2", "h_zero_point", "h15_mult",
        "h15_shift", "out_mult", "out_shift")),
    quant_biases=lambda n, cd: (np.zeros(n.hidden, np.int16),
                                q12(np.concatenate([cd.wb, cd.rb]))),
    out_frac=15,
    a16=True,
)
