"""The protocol every recurrent cell implements (docs/extending.md, "Add a cell").

A cell is one module of this package with one :class:`Cell` record: its gate layout, whether
it carries a cell state, the work area of one step, its float step (the reference), its
integer step (bit-exact with the int16 C kernel), what quantization needs to know, and the C
it emits for float32 and int8. Consumers reach a cell through the registry
(``cells.of(name)``) and never test a cell's name.

Contexts the emit functions receive (duck-typed):

- float32: ``prog`` (emit/c.py) with ``prog.ctx`` (``array``, ``sym``, ``decls``,
  ``kernels``), ``prog.matvec(base, m, bias, x, y)``, ``prog.act(activation)`` and ``slots``:
  ``slot(name)`` (the C address of one of the cell's ``work_slots``, from the memory plan),
  ``prefix`` (symbol prefix of this direction), ``clip`` (C literal), ``acts`` (C literals
  of the direction's activations), ``xt`` (the C address of this step's input x_t).
  Returns (the bias added to W x, or None; the C statements after W x). The W x block of
  one step has W's rows (G H, or more when the cell's W carries extra rows).
- int8: ``prog`` (emit/c_int8.py) with ``prog.ctx`` and ``prog.matvec(base, qm, x, y,
  scratch)``, and ``slots``: ``gx``, ``gh``, ``zr``, ``rh``, ``scratch``, ``prefix``,
  ``params`` (the direction's params struct symbol, ``params_s16``), ``xt`` (this step's
  int8 input).
  Returns the C statements after the W x product.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Kernels = dict[str, tuple[str, tuple[str, ...]]]  # kernel -> (source, kernels it calls)


@dataclass(frozen=True)
class Cell:
    name: str  # ir.Recurrent.cell: "LSTM"
    gates: int  # G: W is [G H, I], R [G H, H]
    has_cell_state: bool  # a c slot beside h (LSTM): initial_c, Y_c, int16 state
    activations: tuple[str, ...]  # the default activations, in the cell's order
    work: Callable[[int], int]  # floats of one step's work area for hidden size H
    work_slots: Callable[[int], dict[str, int]]  # named float offsets in it (hidden size H)
    # float32
    step_f32: Callable[..., tuple[Any, Any]]  # (n, cd, x_t, gx, h, c) -> (h, c)
    kernels_f32: Kernels
    emit_f32: Callable[..., tuple[Any, list[str]]]  # (prog, n, cd, slots) -> (bias, C)
    # int8
    step_s8: Callable[..., tuple[Any, Any]]  # (q, qd, x_t, gx, h, c) -> (h, c)
    kernels_s16: Kernels
    emit_s8: Callable[..., list[str]]  # (prog, n, q, qd, slots) -> C
    quant_biases: Callable[..., tuple[Any, Any]]  # (n, cd) -> (bias int16, bias2 | None)
    out_frac: int  # fraction bits of the activation product that becomes h (Q0.30, Q0.15)
    # int8 C: the params struct of the int16 kernel(s) and its fields, in order (names of
    # emit/c_int8.py's cell_params values; extra_s16(q, qd) adds the cell's own)
    params_s16: tuple[str, tuple[str, ...]] = ("", ())
    extra_s16: Callable[..., list[tuple[str, Any]]] = lambda q, qd: []
    split_recurrent: Callable[[Any], bool] = lambda n: False  # R's last H rows apply to r*h
    peepholes: bool = False  # reads peepholes P (i, o, f) on the cell state
    options: tuple[str, ...] = ()  # the boolean attributes it reads (input_forget, ...)
    # int8: a Relu activation (unbounded) is taken, with the pre-activations in a calibrated
    # int16 scale instead of Q3.12 and no table (quantize.relu_gate_scale; the RNN cell)
    relu_s8: bool = False
    # w8a16: step_s8 and the int16 kernels take an int16 h (QRecurrent.h a quant.QParams16;
    # emit_s8 calls the *_a16 variants of its kernels)
    a16: bool = False
    # whether the int8 step reads x_t itself (not only through W x): then x and h must have
    # the same width (int8, or int16 in w8a16), as its kernel takes both in one type
    reads_x: Callable[[Any], bool] = lambda n: False
