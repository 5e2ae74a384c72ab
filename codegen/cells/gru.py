"""GRU (ONNX semantics): gates z, r, h; linear_before_reset 0 (R_h applied to r * h) or 1
(r * (R_h h + Rb_h)); clip.

    z = f(W_z x + R_z h + b_z)    r = f(W_r x + R_r h + b_r)
    n = g(W_h x + b_Wh + R_h (r h) + b_Rh)            (linear_before_reset 0)
    n = g(W_h x + b_Wh + r (R_h h + b_Rh))            (linear_before_reset 1)
    h' = (1 - z) n + z h

C: rnn_gru_gates and rnn_gru_cell (_f32 / _s16) around the R products (work area: 7H)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import cgen, reference
from ..quant import I64, lut, rq, rshift_round, sat16, sat_act
from .base import Cell
from .common import F32, clip_f32, clip_s16, q12


def step_f32(n: Any, cd: Any, x: np.ndarray, gx: np.ndarray, h: np.ndarray,
             c: Any) -> tuple[np.ndarray, Any]:
    H = n.hidden
    f_act, g_act = cd.activations
    rz_h = cd.R.row_slice(0, 2 * H).matvec(h) + cd.rb[:2 * H]
    z = reference.activation(f_act, clip_f32(gx[:H] + rz_h[:H], n.clip))
    r = reference.activation(f_act, clip_f32(gx[H:2 * H] + rz_h[H:], n.clip))
    r_h = cd.R.row_slice(2 * H, 3 * H)
    if n.linear_before_reset:
        hh = gx[2 * H:] + r * (r_h.matvec(h) + cd.rb[2 * H:])
    else:
        hh = gx[2 * H:] + r_h.matvec(r * h) + cd.rb[2 * H:]
    hn = reference.activation(g_act, clip_f32(hh, n.clip))
    return ((F32(1) - z) * hn + z * h).astype(F32), c


def step_s8(q: Any, qd: Any, x: np.ndarray, gx: np.ndarray, h: np.ndarray,
            c: Any) -> tuple[np.ndarray, Any]:
    """C: rnn_gru_gates_s16(), the R_h product, rnn_gru_cell_s16()."""
    H = q.hidden
    lf, lg = qd.luts
    zh = q.h.zero_point
    b = qd.bias.astype(I64)
    if q.lbr:
        gh = sat16(qd.R.forward(h))
        zr = clip_s16(sat16(gx[:2 * H] + gh[:2 * H] + b[:2 * H]), q.clip)
        z, r = lut(lf, zr[:H]), lut(lf, zr[H:])
        hh = sat16(gh[2 * H:] + qd.bias2.astype(I64))
        npre = sat16(gx[2 * H:] + b[2 * H:] + rshift_round(r * hh, 15))
    else:
        gzr = sat16(qd.R.forward(h))
        zr = clip_s16(sat16(gx[:2 * H] + gzr + b[:2 * H]), q.clip)
        z, r = lut(lf, zr[:H]), lut(lf, zr[H:])
        rh = sat_act(zh + rshift_round(r * (h - zh), 15), q.h)
        ghh = sat16(qd.Rh.forward(rh))
        npre = sat16(gx[2 * H:] + ghh + b[2 * H:])
    nn = lut(lg, clip_s16(npre, q.clip))
    h15 = sat16(rq(h - zh, q.h15_mult, q.h15_shift))
    new15 = sat16(nn + rshift_round(z * (h15 - nn), 15))
    return sat_act(zh + rq(new15, q.out_mult, q.out_shift), q.h), c


def emit_f32(prog: Any, n: Any, cd: Any, s: Any) -> tuple[np.ndarray, list[str]]:
    ctx, H, acts = prog.ctx, n.hidden, s.acts
    gh, rh = s.slot("gh"), s.slot("rh")
    prm = ctx.const(f"{s.prefix}_cell", "rnn_gru_params_f32", cgen.c_struct([
        ("hidden", H), ("clip", s.clip), ("linear_before_reset", int(n.linear_before_reset)),
        ("f", acts[0]), ("g", acts[1])]))
    rb = cd.rb
    zeros = np.zeros(H, np.float32)
    steps: list[str] = []
    if n.linear_before_reset:
        bias = cd.wb + np.concatenate([rb[:2 * H], zeros])
        bh = ctx.array(f"{s.prefix}_bh", np.concatenate([zeros, zeros, rb[2 * H:]]))
        steps += prog.matvec(f"{s.prefix}_R", cd.R, bh, "h", gh)
        steps.append(f"rnn_gru_gates_f32(&{prm}, g, {gh}, h, NULL);")
    else:
        bias = cd.wb + rb
        steps += prog.matvec(f"{s.prefix}_Rzr", cd.R.row_slice(0, 2 * H), "NULL", "h", gh)
        steps.append(f"rnn_gru_gates_f32(&{prm}, g, {gh}, h, {rh});")
        steps += prog.matvec(f"{s.prefix}_Rh", cd.R.row_slice(2 * H, 3 * H), "NULL", rh,
                             s.slot("hh"))
    steps.append(f"rnn_gru_cell_f32(&{prm}, g, {gh}, h);")
    ctx.kernels.update(("rnn_gru_gates_f32", "rnn_gru_cell_f32"))
    return bias, steps


def emit_s8(prog: Any, n: Any, q: Any, qd: Any, s: Any) -> list[str]:
    H, prm = q.hidden, s.params
    a = "a16" if q.h.dtype == "int16" else "s16"  # int16 h and r * h: w8a16
    rh = s.rh16 if a == "a16" else s.rh
    steps = prog.matvec(f"{s.prefix}_R", qd.R, "h", s.gh, s.scratch)
    if q.lbr:
        steps.append(f"rnn_gru_gates_{a}(&{prm}, {s.gx}, {s.gh}, h, {s.zr}, NULL);")
    else:
        steps.append(f"rnn_gru_gates_{a}(&{prm}, {s.gx}, {s.gh}, h, {s.zr}, {rh});")
        steps += prog.matvec(f"{s.prefix}_Rh", qd.Rh, rh, f"{s.gh} + {2 * H}", s.scratch)
    steps.append(f"rnn_gru_cell_{a}(&{prm}, {s.gx}, {s.gh}, {s.zr}, h);")
    prog.ctx.kernels.update((f"rnn_gru_gates_{a}", f"rnn_gru_cell_{a}"))
    return steps


def quant_biases(n: Any, cd: Any) -> tuple[np.ndarray, np.ndarray | None]:
    H = n.hidden
    rb = cd.rb.astype(np.float64)
    if n.linear_before_reset:
        return q12(cd.wb + np.concatenate([rb[:2 * H], np.zeros(H)])), q12(rb[2 * H:])
    return q12(cd.wb + rb), None


CELL = Cell(
    name="GRU", gates=3, has_cell_state=False, activations=("Sigmoid", "Tanh"),
    work=lambda H: 7 * H,
    work_slots=lambda H: {"gh": 3 * H, "hh": 5 * H, "rh": 6 * H},  # gh: R h; rh: r * h
    step_f32=step_f32,
    kernels_f32={
        "rnn_gru_gates_f32": ("RecurrentFunctions/rnn_gru_gates_f32.c", ("rnn_activation_f32",)),
        "rnn_gru_cell_f32": ("RecurrentFunctions/rnn_gru_cell_f32.c", ("rnn_activation_f32",)),
    },
    emit_f32=emit_f32,
    step_s8=step_s8,
    kernels_s16={
        "rnn_gru_gates_s16": ("RecurrentFunctions/rnn_gru_gates_s16.c", ()),
        "rnn_gru_cell_s16": ("RecurrentFunctions/rnn_gru_cell_s16.c", ()),
        "rnn_gru_gates_a16": ("RecurrentFunctions/rnn_gru_gates_a16.c", ()),
        "rnn_gru_cell_a16": ("RecurrentFunctions/rnn_gru_cell_a16.c", ()),
    },
    emit_s8=emit_s8,
    params_s16=("rnn_gru_params_s16", (
        "hidden", "clip", "linear_before_reset", "bias", "bias2", "lut0", "lut1", "h_zero_point",
        "h15_mult", "h15_shift", "out_mult", "out_shift")),
    quant_biases=quant_biases,
    out_frac=15,
    split_recurrent=lambda n: not n.linear_before_reset,
    options=("linear_before_reset",),
    a16=True,
)
