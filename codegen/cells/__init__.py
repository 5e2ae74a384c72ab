"""Recurrent cells: one module per cell, one registry (docs/extending.md).

``ir.Recurrent.cell`` names a cell of this registry; consumers (the references, the passes,
the emitters, the frontends) reach its properties and code through ``of(name)`` and never
test a cell's name.
"""

from __future__ import annotations

from ..errors import RnngenError
from . import fastgrnn, fastrnn, gru, lstm, rnn, sru
from .base import Cell, Kernels

CELLS: dict[str, Cell] = {c.name: c for c in (lstm.CELL, gru.CELL, rnn.CELL, fastrnn.CELL,
                                              fastgrnn.CELL, sru.CELL)}


def of(name: str) -> Cell:
    c = CELLS.get(name)
    if c is None:
        raise RnngenError(f"internal: '{name}' is not a registered cell")
    return c


def kernels_f32() -> Kernels:
    return {k: v for c in CELLS.values() for k, v in c.kernels_f32.items()}


def kernels_s16() -> Kernels:
    return {k: v for c in CELLS.values() for k, v in c.kernels_s16.items()}


__all__ = ["CELLS", "Cell", "kernels_f32", "kernels_s16", "of"]
