"""LSTM (ONNX semantics): gates i, o, f, c; a cell state c beside h; optional peepholes
(i, o, f), input_forget (f = 1 - i) and clip.

    i = f_act(W_i x + R_i h + b_i + p_i c)      f = f_act(W_f x + R_f h + b_f + p_f c)
    g = g_act(W_c x + R_c h + b_c)             c' = f c + i g
    o = f_act(W_o x + R_o h + b_o + p_o c')     h' = o h_act(c')

C: rnn_lstm_cell_f32 / rnn_lstm_cell_s16 after the two matrix products (the gates in the
work area: 4H)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import cgen, reference
from ..quant import I64, lut, rq, rshift_round, sat16, sat_act
from .base import Cell
from .common import F32, clip_f32, clip_s16, q12


def _act(a: Any, v: np.ndarray, clip: float | None) -> np.ndarray:
    return reference.activation(a, clip_f32(v, clip))


def step_f32(n: Any, cd: Any, x: np.ndarray, gx: np.ndarray, h: np.ndarray,
             c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    H = n.hidden
    f_act, g_act, h_act = cd.activations
    g = gx + cd.R.matvec(h) + cd.rb  # gates i, o, f, c
    gi, go, gf, gc = g[:H], g[H:2 * H], g[2 * H:3 * H], g[3 * H:]
    p = cd.p
    if p is not None:
        gi = gi + p[:H] * c
        gf = gf + p[2 * H:] * c
    i = _act(f_act, gi, n.clip)
    f = (F32(1) - i) if n.input_forget else _act(f_act, gf, n.clip)
    cc = reference.activation(g_act, clip_f32(gc, n.clip))
    c_new = f * c + i * cc
    if p is not None:
        go = go + p[H:2 * H] * c_new
    o = _act(f_act, go, n.clip)
    h_new = o * reference.activation(h_act, c_new)
    return h_new.astype(F32), c_new.astype(F32)


def step_s8(q: Any, qd: Any, x: np.ndarray, gx: np.ndarray, h: np.ndarray,
            c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """C: rnn_lstm_cell_s16() after the two matrix products."""
    H, k = q.hidden, q.cell_exp
    lf, lg, lh = qd.luts
    gh = sat16(qd.R.forward(h))
    g = sat16(gx + gh + qd.bias.astype(I64))
    gi, go, gf, gc = g[:H], g[H:2 * H], g[2 * H:3 * H], g[3 * H:]
    if qd.peephole is not None:
        p = qd.peephole.astype(I64)
        gi = sat16(gi + sat16(rq(p[:H] * c, qd.pm, qd.ps)))
        gf = sat16(gf + sat16(rq(p[2 * H:] * c, qd.pm, qd.ps)))
    gi, gf, gc = clip_s16(gi, q.clip), clip_s16(gf, q.clip), clip_s16(gc, q.clip)
    i = lut(lf, gi)
    f = sat16(32768 - i) if q.input_forget else lut(lf, gf)
    gg = lut(lg, gc)
    c = sat16(rshift_round(f * c, 15) + rshift_round(i * gg, 30 - k))
    if qd.peephole is not None:
        go = sat16(go + sat16(rq(qd.peephole.astype(I64)[H:2 * H] * c, qd.pm, qd.ps)))
    o = lut(lf, clip_s16(go, q.clip))
    c12 = rshift_round(c, k - 12) if k >= 12 else sat16(c << (12 - k))
    th = lut(lh, c12)
    h = sat_act(q.h.zero_point + rq(o * th, q.out_mult, q.out_shift), q.h)
    return h, c


def emit_f32(prog: Any, n: Any, cd: Any, s: Any) -> tuple[np.ndarray, list[str]]:
    ctx, H, acts = prog.ctx, n.hidden, s.acts
    pp = ctx.array(f"{s.prefix}_P", cd.p) if cd.p is not None else "NULL"
    prm = ctx.const(f"{s.prefix}_cell", "rnn_lstm_params_f32", cgen.c_struct([
        ("hidden", H), ("clip", s.clip), ("input_forget", int(n.input_forget)),
        ("peephole", pp), ("f", acts[0]), ("g", acts[1]), ("h", acts[2])]))
    steps = prog.matvec(f"{s.prefix}_R", cd.R, "g", "h", "g")
    steps.append(f"rnn_lstm_cell_f32(&{prm}, g, c, h);")
    ctx.kernels.add("rnn_lstm_cell_f32")
    return cd.wb + cd.rb, steps


def emit_s8(prog: Any, n: Any, q: Any, qd: Any, s: Any) -> list[str]:
    steps = prog.matvec(f"{s.prefix}_R", qd.R, "h", s.gh, s.scratch)
    k = "rnn_lstm_cell_a16" if q.h.dtype == "int16" else "rnn_lstm_cell_s16"  # int16 h: w8a16
    prog.ctx.kernels.add(k)
    steps.append(f"{k}(&{s.params}, {s.gx}, {s.gh}, c, h);")
    return steps


CELL = Cell(
    name="LSTM", gates=4, has_cell_state=True, activations=("Sigmoid", "Tanh", "Tanh"),
    work=lambda H: 4 * H, work_slots=lambda H: {},
    step_f32=step_f32,
    kernels_f32={"rnn_lstm_cell_f32": ("RecurrentFunctions/rnn_lstm_cell_f32.c",
                                       ("rnn_activation_f32",))},
    emit_f32=emit_f32,
    step_s8=step_s8,
    kernels_s16={"rnn_lstm_cell_s16": ("RecurrentFunctions/rnn_lstm_cell_s16.c", ()),
                 "rnn_lstm_cell_a16": ("RecurrentFunctions/rnn_lstm_cell_a16.c", ())},
    emit_s8=emit_s8,
    params_s16=("rnn_lstm_params_s16", (
        "hidden", "clip", "input_forget", "cell_exp", "bias", "peephole", "peep_mult",
        "peep_shift", "lut0", "lut1", "lut2", "h_zero_point", "out_mult", "out_shift")),
    quant_biases=lambda n, cd: (q12(cd.wb + cd.rb), None),
    out_frac=30,
    peepholes=True, options=("input_forget",),
    a16=True,
)
