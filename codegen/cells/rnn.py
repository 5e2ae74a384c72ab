"""RNN (Elman, ONNX semantics): h' = f(W x + R h + b_W + b_R), with clip.

C: rnn_rnn_cell_f32 / rnn_rnn_cell_s16 after the two matrix products (work area: H). int8:
f by table over Q3.12 pre-activations; ReLU (unbounded) instead with the pre-activations in
a calibrated int16 scale (quantize.py, relu_gate_scale) and no table."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import cgen, reference
from ..quant import I64, lut, rq, sat16, sat_act
from .base import Cell
from .common import clip_f32, clip_s16, q12


def step_f32(n: Any, cd: Any, x: np.ndarray, gx: np.ndarray, h: np.ndarray,
             c: Any) -> tuple[np.ndarray, Any]:
    pre = gx + cd.R.matvec(h) + cd.rb
    return reference.activation(cd.activations[0], clip_f32(pre, n.clip)), c


def step_s8(q: Any, qd: Any, x: np.ndarray, gx: np.ndarray, h: np.ndarray,
            c: Any) -> tuple[np.ndarray, Any]:
    """C: rnn_rnn_cell_s16()."""
    gh = sat16(qd.R.forward(h))
    pre = clip_s16(sat16(gx + gh + qd.bias.astype(I64)), q.clip)
    # a table (Q0.15 out), or ReLU (no table): the pre-activation in its own scale
    a = lut(qd.luts[0], pre) if qd.luts[0] is not None else np.maximum(pre, 0)
    return sat_act(q.h.zero_point + rq(a, q.out_mult, q.out_shift), q.h), c


def emit_f32(prog: Any, n: Any, cd: Any, s: Any) -> tuple[np.ndarray, list[str]]:
    ctx = prog.ctx
    prm = ctx.const(f"{s.prefix}_cell", "rnn_rnn_params_f32", cgen.c_struct([
        ("hidden", n.hidden), ("clip", s.clip), ("f", s.acts[0])]))
    steps = prog.matvec(f"{s.prefix}_R", cd.R, "g", "h", "g")
    steps.append(f"rnn_rnn_cell_f32(&{prm}, g, h);")
    ctx.kernels.add("rnn_rnn_cell_f32")
    return cd.wb + cd.rb, steps


def emit_s8(prog: Any, n: Any, q: Any, qd: Any, s: Any) -> list[str]:
    steps = prog.matvec(f"{s.prefix}_R", qd.R, "h", s.gh, s.scratch)
    k = "rnn_rnn_cell_a16" if q.h.dtype == "int16" else "rnn_rnn_cell_s16"  # int16 h: w8a16
    prog.ctx.kernels.add(k)
    steps.append(f"{k}(&{s.params}, {s.gx}, {s.gh}, h);")
    return steps


CELL = Cell(
    name="RNN", gates=1, has_cell_state=False, activations=("Tanh",),
    work=lambda H: H, work_slots=lambda H: {},
    step_f32=step_f32,
    kernels_f32={"rnn_rnn_cell_f32": ("RecurrentFunctions/rnn_rnn_cell_f32.c",
                                      ("rnn_activation_f32",))},
    emit_f32=emit_f32,
    step_s8=step_s8,
    kernels_s16={"rnn_rnn_cell_s16": ("RecurrentFunctions/rnn_rnn_cell_s16.c", ()),
                 "rnn_rnn_cell_a16": ("RecurrentFunctions/rnn_rnn_cell_a16.c", ())},
    emit_s8=emit_s8,
    params_s16=("rnn_rnn_params_s16", (
        "hidden", "clip", "bias", "lut0", "h_zero_point", "out_mult", "out_shift")),
    quant_biases=lambda n, cd: (q12(cd.wb + cd.rb), None),
    relu_s8=True,
    out_frac=15,
    a16=True,
)
