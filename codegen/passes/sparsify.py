"""sparsify (--sparse-threshold F, off by default): store pruned recurrent matrices as CSR.

A dense W or R of a recurrent layer (or a dense block of a row stack) in which at least a
fraction F of the entries are zero becomes a CSR matrix of its nonzeros (docs/compression.md):
the formats' own `sparsify` (formats/).
Linear layers stay dense, as compressed matrices are read for recurrent layers only.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from .. import formats, ir

if TYPE_CHECKING:
    from ..pipeline import Options


def run(g: ir.Graph, opts: Options) -> ir.Graph:
    threshold = opts.sparse_threshold  # checked in (0, 1] by Options
    if threshold is None:
        return g
    nodes = []
    for n in g.nodes:
        if isinstance(n, ir.Recurrent):
            dirs = tuple(replace(cd, W=formats.sparsify(cd.W, threshold),
                                 R=formats.sparsify(cd.R, threshold))
                         for cd in n.directions)
            n = replace(n, directions=dirs)
        nodes.append(n)
    return g.replace(nodes=tuple(nodes))
