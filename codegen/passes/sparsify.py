"""sparsify (--sparse-threshold F, off by default): store pruned recurrent matrices as CSR.

A dense W or R of a recurrent layer (or a dense block of a row stack) in which at least a
fraction F of the entries are zero becomes an ir.Csr of its nonzeros (docs/compression.md).
Linear layers stay dense, as compressed matrices are read for recurrent layers only.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from .. import ir
from ..errors import RnngenError


def to_csr(w: np.ndarray) -> ir.Csr:
    """The CSR matrix of w's nonzeros (row-major, column indices sorted)."""
    w = np.asarray(w, np.float32)
    rows, cols = np.nonzero(w)
    ptr = np.zeros(w.shape[0] + 1, np.int64)
    np.add.at(ptr, rows + 1, 1)
    return ir.Csr(np.ascontiguousarray(w[rows, cols]), cols.astype(np.int32),
                  np.cumsum(ptr).astype(np.int32), int(w.shape[1]))


def _sparsify(m: ir.Matrix, threshold: float) -> ir.Matrix:
    if isinstance(m, ir.Dense):
        zeros = m.w.size - np.count_nonzero(m.w)
        return to_csr(m.w) if m.w.size and zeros >= threshold * m.w.size else m
    if isinstance(m, ir.RowStack):
        blocks = [_sparsify(b, threshold) for b in m.blocks]
        if all(b is o for b, o in zip(blocks, m.blocks)):
            return m
        return ir.stack(blocks)
    return m


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
            dirs = tuple(replace(cd, W=_sparsify(cd.W, threshold), R=_sparsify(cd.R, threshold))
                         for cd in n.directions)
            n = replace(n, directions=dirs)
        nodes.append(n)
    return g.replace(nodes=tuple(nodes))
