"""SRU (Lei et al. 2018, "Simple Recurrent Units for Highly Parallelizable Recurrence"):
no recurrent matrix; the recurrence is elementwise on the cell state c.

    f = sigmoid(W_f x + v_f c + b_f)        r = sigmoid(W_r x + v_r c + b_r)   (c = c_{t-1})
    c' = f c + (1 - f) (W x)                h' = r c' + (1 - r) x'
    x' = x when input_size == hidden_size, else W_p x (a projection)

IR: W is the stacked input matrix [W; W_f; W_r] [3H, I], with W_p as a fourth block [4H, I]
when I != H (any format; a per-block `stack` compresses each block in its own format);
wb = [0; b_f; b_r; 0]; rb is empty (no recurrent bias); R has no rows ([0, H]: there is no
recurrent matrix); p = [v_f; v_r] [2H] (quantized like LSTM peepholes: int16, v c -> Q3.12).

C: rnn_sru_cell_f32 / rnn_sru_cell_s16 after W x (work area: 4H). int8 (docs/int8.md,
"SRU"): gates Q3.12, sigmoid by table, c int16 with scale 2^-cell_exp, h' summed in Q.15
(r c' and (1 - r) x', with x' rescaled from x's int8 domain by a requantization multiplier,
or W_p x from Q3.12) and requantized once to int8 h. w8a16 (rnn_sru_cell_a16): the same
with x and h int16 (symmetric: zero point 0), h saturated to int16.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import cgen, quant, reference
from ..quant import I64, lut, rq, rshift_round, sat16, sat_act
from .base import Cell
from .common import F32, q12


def projection(H: int, rows: int) -> bool:
    """True when W carries the projection W_p (rows 4H; I != H)."""
    return rows == 4 * H


def step_f32(n: Any, cd: Any, x: np.ndarray, gx: np.ndarray, h: np.ndarray,
             c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    H = n.hidden
    gate = cd.activations[0]
    v = cd.p
    f = reference.activation(gate, gx[H:2 * H] + v[:H] * c)
    r = reference.activation(gate, gx[2 * H:3 * H] + v[H:] * c)
    c_new = f * c + (F32(1) - f) * gx[:H]
    hw = gx[3 * H:] if projection(H, gx.shape[0]) else x
    h_new = r * c_new + (F32(1) - r) * hw
    return h_new.astype(F32), c_new.astype(F32)


def x15(q: Any) -> tuple[int, int]:
    """The requantization multiplier of the highway x (int8, minus its zero point) to Q.15
    (real value times 2^15): x.scale 2^15."""
    return quant.multiplier(q.x.scale * 2.0 ** 15, "SRU highway x (input scale)")


def step_s8(q: Any, qd: Any, x: np.ndarray, gx: np.ndarray, h: np.ndarray,
            c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """C: rnn_sru_cell_s16() after the W x product."""
    H, k = q.hidden, q.cell_exp
    b = qd.bias.astype(I64)
    v = qd.peephole.astype(I64)
    wx = sat16(gx[:H] + b[:H])
    gf = sat16(sat16(gx[H:2 * H] + b[H:2 * H]) + sat16(rq(v[:H] * c, qd.pm, qd.ps)))
    gr = sat16(sat16(gx[2 * H:3 * H] + b[2 * H:3 * H]) + sat16(rq(v[H:] * c, qd.pm, qd.ps)))
    f = lut(qd.luts[0], gf)
    r = lut(qd.luts[0], gr)
    c_new = sat16(rshift_round(f * c, 15) + rshift_round((32768 - f) * wx, 27 - k))
    if projection(H, gx.shape[0]):
        hw15 = sat16(gx[3 * H:4 * H] + b[3 * H:4 * H]) << 3  # Q3.12 -> Q.15
    else:
        xm, xs = x15(q)
        hw15 = rq(np.asarray(x, I64) - q.x.zero_point, xm, xs)
    rc15 = rshift_round(r * c_new, k)
    total = quant.sat(rc15 + rshift_round((32768 - r) * hw15, 15), 32)
    h_new = sat_act(q.h.zero_point + rq(total, q.out_mult, q.out_shift), q.h)
    return h_new, c_new


def emit_f32(prog: Any, n: Any, cd: Any, s: Any) -> tuple[np.ndarray, list[str]]:
    ctx, H = prog.ctx, n.hidden
    v = ctx.array(f"{s.prefix}_v", cd.p)
    prm = ctx.const(f"{s.prefix}_cell", "rnn_sru_params_f32", cgen.c_struct([
        ("hidden", H), ("projection", int(projection(H, cd.W.shape[0]))), ("v", v),
        ("gate", s.acts[0])]))
    ctx.kernels.add("rnn_sru_cell_f32")
    return cd.wb, [f"rnn_sru_cell_f32(&{prm}, g, {s.xt}, c, h);"]


def extra_s16(q: Any, qd: Any) -> list[tuple[str, Any]]:
    """The highway's fields of rnn_sru_params_s16."""
    proj = projection(q.hidden, qd.W.shape[0])
    xm, xs = (0, 0) if proj else x15(q)
    return [("projection", int(proj)), ("x_zero_point", q.x.zero_point),
            ("x15_mult", cgen.c_int(xm)), ("x15_shift", cgen.c_int(xs))]


def reads_x(n: Any) -> bool:
    """The highway reads x_t itself when there is no projection (I == H)."""
    return not projection(n.hidden, n.directions[0].W.shape[0])


def emit_s8(prog: Any, n: Any, q: Any, qd: Any, s: Any) -> list[str]:
    k = "rnn_sru_cell_a16" if q.h.dtype == "int16" else "rnn_sru_cell_s16"  # int16 x, h: w8a16
    prog.ctx.kernels.add(k)
    x = s.xt if reads_x(n) else "NULL"  # with a projection x is not read (any width)
    return [f"{k}(&{s.params}, {s.gx}, {x}, c, h);"]


CELL = Cell(
    name="SRU", gates=3, has_cell_state=True, activations=("Sigmoid",),
    work=lambda H: 4 * H, work_slots=lambda H: {},
    step_f32=step_f32,
    kernels_f32={"rnn_sru_cell_f32": ("RecurrentFunctions/rnn_sru_cell_f32.c",
                                      ("rnn_activation_f32",))},
    emit_f32=emit_f32,
    step_s8=step_s8,
    kernels_s16={"rnn_sru_cell_s16": ("RecurrentFunctions/rnn_sru_cell_s16.c", ()),
                 "rnn_sru_cell_a16": ("RecurrentFunctions/rnn_sru_cell_a16.c", ())},
    emit_s8=emit_s8,
    extra_s16=extra_s16,
    params_s16=("rnn_sru_params_s16", (
        "hidden", "cell_exp", "bias", "v", "v_mult", "v_shift", "lut0", "h_zero_point",
        "out_mult", "out_shift", "projection", "x_zero_point", "x15_mult", "x15_shift")),
    quant_biases=lambda n, cd: (q12(cd.wb), None),
    out_frac=15,  # h' is summed in Q.15 (real value times 2^15)
    peepholes=True,  # v_f, v_r: elementwise weights on the cell state
    a16=True,  # w8a16: x and h int16 (the highway reads x in its int16 scale)
    reads_x=reads_x,
)
