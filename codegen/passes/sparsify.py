"""sparsify (--sparse-threshold F, off by default): store pruned recurrent matrices as CSR.

A dense W or R of a recurrent layer (or a dense block of a row stack) in which at least a
fraction F of the entries are zero becomes a CSR matrix of its nonzeros (docs/compression.md):
the formats' own `sparsify` (formats/).
Linear layers stay dense, as compressed matrices are read for recurrent layers only.
"""

from __future__ import annotations

from dataclasses import replace

from .. import formats, ir
from ..errors import RnngenError


def run(g: ir.Graph, opts: object = None) -> ir.Graph:
    threshold = getattr(opts, "sparse_threshold", None)
    if threshold is None:
        return g
    if not 0 < threshold <= 1:
        raise RnngenError(f"--sparse-threshold {threshold} must be in (0, 1]: the fraction of "
                          "zeros from which a matrix is stored as CSR")
    nodes = []
    for n in g.nodes:
        if isinstance(n, ir.Recurrent):
            dirs = tuple(replace(cd, W=formats.sparsify(cd.W, threshold),
                                 R=formats.sparsify(cd.R, threshold))
                         for cd in n.directions)
            n = replace(n, directions=dirs)
        nodes.append(n)
    return g.replace(nodes=tuple(nodes))
