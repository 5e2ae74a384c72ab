"""validate: refuse models that would compile into a silently wrong program.

Every weight, bias, initial state and constant must be finite (a constant is named with the
nodes that read it); sizes must be positive.
"""

from __future__ import annotations

import numpy as np

from .. import ir
from ..errors import RnngenError


def _check(g: ir.Graph, where: str, arr: np.ndarray | None) -> None:
    if arr is None:
        return
    if arr.size and not np.all(np.isfinite(arr)):
        bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise RnngenError(f"{g.source or g.name}: {where} contains {bad} NaN or Inf "
                          "value(s)")


def run(g: ir.Graph, opts: object = None) -> ir.Graph:
    readers = g.consumers()
    for name, arr in g.constants.items():  # named with the node(s) that read it
        nodes = ", ".join(f"{n.fn if isinstance(n, ir.Binary) else n.op} node '{n.name}'"
                          for n in readers.get(name, []))
        _check(g, f"constant '{name}'" + (f" (input of {nodes})" if nodes else ""), arr)
    for n in g.nodes:
        if isinstance(n, ir.Recurrent):
            if n.hidden < 1 or n.input_size < 1:
                raise RnngenError(f"{g.source or g.name}: {n.cell} node '{n.name}': empty layer")
            for d, cd in enumerate(n.directions):
                tag = f"{n.cell} node '{n.name}'" + (f" direction {d}" if n.num_directions > 1
                                                      else "")
                for role, m in (("W", cd.W), ("R", cd.R)):
                    for k, arr in m.arrays().items():
                        _check(g, f"{tag} {role}" + ("" if k == "w" else f".{k}"), arr)
                for role, arr in (("B (W part)", cd.wb), ("B (R part)", cd.rb), ("P", cd.p),
                                  ("initial_h", cd.h0), ("initial_c", cd.c0)):
                    _check(g, f"{tag} {role}", arr)
        elif isinstance(n, ir.Conv):
            _check(g, f"Conv node '{n.name}' W", n.W)
            _check(g, f"Conv node '{n.name}' B", n.b)
        elif isinstance(n, ir.LayerNorm):
            _check(g, f"LayerNormalization node '{n.name}' Scale", n.scale)
            _check(g, f"LayerNormalization node '{n.name}' B", n.bias)
        elif isinstance(n, ir.ChannelAffine):
            _check(g, f"BatchNormalization node '{n.name}' scale / var", n.scale)
            _check(g, f"BatchNormalization node '{n.name}' bias / mean", n.shift)
        elif isinstance(n, ir.Linear):
            for k, arr in n.W.arrays().items():
                _check(g, f"{n.op} node '{n.name}' weight" + ("" if k == "w" else f".{k}"), arr)
            _check(g, f"node '{n.name}' bias", n.b)
    return g
