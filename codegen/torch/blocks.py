"""Trainable forms of rnngen's matrix formats (codegen/ir.py): one torch module per format,
built from an ir.Matrix (the projection `rnngen compress` makes) and turned back into one
with the trained factors. forward() returns the dense matrix the factors stand for, with
the same formula as ir.<Format>.to_dense(), so gradients reach the factors only.

    dense    w [m, n]
    lowrank  u [m, d], v [d, n]                         W = U V
    hmd      a [r, n], b [m-r], c [ceil(n/2)], d [m-r], e [floor(n/2)]
                                                        W = [A' ; [b c^T | d e^T]]
    kron     a [m1, n1], b [m2, n2]                     W = (A (x) B)[:m, :n]
    csr      w [m, n] with a fixed 0/1 mask (buffer)    W = w * mask
             (GradualPruning shrinks the mask during training; the mask is per gate block)
    stack    row blocks of the above (per gate; HKP = dense rows over a kron block)
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from .. import compress as algo
from .. import formats, ir

F32 = np.float32


def _param(a: np.ndarray) -> nn.Parameter:
    return nn.Parameter(torch.from_numpy(np.array(a, dtype=F32, copy=True)))


def _np(t: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(t.detach().cpu().numpy().astype(F32))


class Block(nn.Module):
    """One matrix in one format; forward() -> the dense [m, n] float32 tensor."""

    fmt = ""
    shape: tuple[int, int]

    def to_ir(self) -> ir.Matrix:
        raise NotImplementedError

    def randomize(self, std: float, gen: torch.Generator) -> None:
        """Fresh factors whose product has entries of about this standard deviation
        (training with the structure from scratch)."""
        raise NotImplementedError


def _normal_(p: torch.Tensor, std: float, gen: torch.Generator) -> None:
    with torch.no_grad():
        p.copy_(torch.randn(p.shape, generator=gen) * std)


class DenseBlock(Block):
    fmt = "dense"

    def __init__(self, m: formats.Dense):
        super().__init__()
        self.w = _param(m.w)
        self.shape = m.shape

    def forward(self) -> torch.Tensor:
        return self.w

    def to_ir(self) -> ir.Matrix:
        return formats.as_matrix(_np(self.w))

    def randomize(self, std: float, gen: torch.Generator) -> None:
        _normal_(self.w, std, gen)


class LowRankBlock(Block):
    fmt = "lowrank"

    def __init__(self, m: formats.LowRank):
        super().__init__()
        self.u, self.v = _param(m.u), _param(m.v)
        self.shape = m.shape

    def forward(self) -> torch.Tensor:
        return self.u @ self.v

    def to_ir(self) -> ir.Matrix:
        return formats.LowRank(_np(self.u), _np(self.v))

    def randomize(self, std: float, gen: torch.Generator) -> None:
        s = (std * std / self.u.shape[1]) ** 0.25  # var(sum of d products) = d s^4
        _normal_(self.u, s, gen)
        _normal_(self.v, s, gen)


class HmdBlock(Block):
    fmt = "hmd"

    def __init__(self, m: formats.Hmd):
        super().__init__()
        self.a = _param(m.a.reshape(m.r, m.shape[1]))
        self.b, self.c, self.d, self.e = (_param(v) for v in (m.b, m.c, m.d, m.e))
        self.shape = m.shape

    def forward(self) -> torch.Tensor:
        low = torch.cat([torch.outer(self.b, self.c), torch.outer(self.d, self.e)], dim=1)
        return torch.cat([self.a, low], dim=0)

    def to_ir(self) -> ir.Matrix:
        return formats.Hmd(_np(self.a), _np(self.b), _np(self.c), _np(self.d), _np(self.e))

    def randomize(self, std: float, gen: torch.Generator) -> None:
        _normal_(self.a, std, gen)
        for p in (self.b, self.c, self.d, self.e):
            _normal_(p, math.sqrt(std), gen)


class KronBlock(Block):
    fmt = "kron"

    def __init__(self, m: formats.Kron):
        super().__init__()
        self.a, self.b = _param(m.a), _param(m.b)
        self.shape = m.shape

    def forward(self) -> torch.Tensor:
        return torch.kron(self.a, self.b)[:self.shape[0], :self.shape[1]]

    def to_ir(self) -> ir.Matrix:
        return formats.Kron(_np(self.a), _np(self.b), *self.shape)

    def randomize(self, std: float, gen: torch.Generator) -> None:
        _normal_(self.a, math.sqrt(std), gen)
        _normal_(self.b, math.sqrt(std), gen)


class CsrBlock(Block):
    """A pruned matrix: dense weights times a 0/1 mask. `groups` row blocks (the gates)
    each keep `nnz` weights at the end of pruning (compress.prune_mask per block, as
    `rnngen compress` prunes)."""

    fmt = "csr"

    def __init__(self, m: formats.Csr, groups: int = 1, nnz: int | None = None,
                 dense: np.ndarray | None = None):
        super().__init__()
        rows, cols = m.shape
        mask = np.zeros((rows, cols), F32)
        r = np.repeat(np.arange(rows), np.diff(m.row_ptr))
        mask[r, m.col_idx] = 1.0
        # the weights under the mask: the dense matrix the mask was pruned from when known
        # (gradual pruning then starts from it), else the kept values
        self.w = _param(m.to_dense() if dense is None else dense)
        self.register_buffer("mask", torch.from_numpy(mask))
        self.shape = m.shape
        self.groups = groups
        self.nnz = int(nnz) if nnz is not None else int(m.values.size) // groups

    def forward(self) -> torch.Tensor:
        return self.w * self.mask

    def to_ir(self) -> ir.Matrix:
        w = _np(self.w * self.mask)
        return algo.csr_from_mask(w, _np(self.mask) > 0)

    def set_keep(self, keep: int) -> None:
        """Keep the `keep` largest |weights| of each row block among those still kept."""
        H = self.shape[0] // self.groups
        w = _np(self.w * self.mask)
        old = _np(self.mask) > 0
        masks = []
        for g in range(self.groups):
            blk = np.where(old[g * H:(g + 1) * H], np.abs(w[g * H:(g + 1) * H]) + 1.0, 0.0)
            masks.append(algo.prune_mask(blk, min(keep, blk.size)))
        with torch.no_grad():
            self.mask.copy_(torch.from_numpy(np.concatenate(masks, 0).astype(F32)))

    def randomize(self, std: float, gen: torch.Generator) -> None:
        _normal_(self.w, std, gen)


class StackBlock(Block):
    fmt = "stack"

    def __init__(self, m: formats.RowStack):
        super().__init__()
        self.blocks = nn.ModuleList(from_ir(b) for b in m.blocks)
        self.shape = m.shape

    def forward(self) -> torch.Tensor:
        return torch.cat([b() for b in self.blocks], dim=0)

    def to_ir(self) -> ir.Matrix:
        return formats.RowStack(tuple(b.to_ir() for b in self.blocks))

    def randomize(self, std: float, gen: torch.Generator) -> None:
        for b in self.blocks:
            b.randomize(std, gen)


def from_ir(m: ir.Matrix, groups: int = 1, nnz: int | None = None,
            dense: np.ndarray | None = None) -> Block:
    """The trainable block of an ir.Matrix, initialised with its values (a Csr: `groups`
    gate blocks of `nnz` weights each, over `dense` when given)."""
    if isinstance(m, formats.Dense):
        return DenseBlock(m)
    if isinstance(m, formats.LowRank):
        return LowRankBlock(m)
    if isinstance(m, formats.Hmd):
        return HmdBlock(m)
    if isinstance(m, formats.Kron):
        return KronBlock(m)
    if isinstance(m, formats.Csr):
        return CsrBlock(m, groups, nnz, dense)
    if isinstance(m, formats.RowStack):
        return StackBlock(m)
    raise TypeError(f"no trainable form of {type(m).__name__}")


def csr_blocks(module: nn.Module) -> list[CsrBlock]:
    return [b for b in module.modules() if isinstance(b, CsrBlock)]
