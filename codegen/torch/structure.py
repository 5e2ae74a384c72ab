"""Parametrizations of recurrent weights with rnngen's compressed formats.

structure(module, method, factor) replaces each recurrent weight matrix of nn.LSTM, nn.GRU,
nn.RNN (every layer and direction) and of rnngen.torch.FastRNN / FastGRNN / SRU by a
torch.nn.utils.parametrize parametrization whose parameters are the factors. The sizes come
from rnngen.compress (the same rules as `rnngen compress`, so a factor means the same
everywhere), the initial factors from its projections of the current weights (a trained
model), or at random (init="random": training with the structure from scratch).

The factors are held in ONNX gate order (LSTM i, o, f, c; GRU z, r, h), as rnngen compiles
them; the parametrization permutes the gate blocks into PyTorch's order (LSTM i, f, g, o;
GRU r, z, n). Per gate (the default), every gate block of H rows has its own factors with
the same sizes; per_gate=False factors the whole stacked matrix.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch
from torch import nn
from torch.nn.utils import parametrize

from .. import cells, ir
from .. import compress as algo
from ..errors import RnngenError
from .blocks import Block, CsrBlock, csr_blocks, from_ir

F32 = np.float32
# torch gate block j comes from ONNX gate block TORCH_FROM_ONNX[cell][j], and the reverse
TORCH_FROM_ONNX = {"LSTM": (0, 2, 3, 1), "GRU": (1, 0, 2)}
ONNX_FROM_TORCH = {"LSTM": (0, 3, 1, 2), "GRU": (1, 0, 2)}


@dataclass(frozen=True)
class Structure:
    """What to train: a method of rnngen compress and its size, by factor or explicitly
    (hmd r, lmf d, csr nnz, kron shapes (m1, n1, m2, n2), hkp r and shapes), per gate block
    or for the whole stacked matrix."""

    method: str
    factor: float | None = None
    r: int | None = None
    d: int | None = None
    nnz: int | None = None
    shapes: tuple[int, int, int, int] | None = None
    per_gate: bool = True

    def plan(self, m: int, n: int, where: str) -> algo.Plan:
        if self.method not in algo.METHODS:
            raise RnngenError(f"method '{self.method}': expected one of "
                              f"{', '.join(algo.METHODS)}")
        if self.factor is not None:
            return algo.plan(self.method, m, n, float(self.factor), where)
        return algo.plan_sizes(self.method, m, n, where, r=self.r, d=self.d,
                               shapes=self.shapes, nnz=self.nnz)


def _row_perm(cell: str, H: int, table: dict[str, tuple[int, ...]]) -> torch.Tensor | None:
    if cell not in table:
        return None
    return torch.cat([torch.arange(g * H, (g + 1) * H) for g in table[cell]])


class StructuredMatrix(nn.Module):
    """The parametrization of one recurrent weight: forward() ignores the (empty) original
    and returns the dense matrix of the factors in PyTorch's gate order."""

    def __init__(self, block: Block, plan: algo.Plan, cell: str, gates: int, where: str):
        super().__init__()
        self.block = block
        self.plan = plan
        self.cell = cell
        self.gates = gates  # gate blocks with their own factors (1: the whole matrix)
        self.where = where
        H = block.shape[0] // cells.of(cell).gates
        perm = _row_perm(cell, H, TORCH_FROM_ONNX)
        self.register_buffer("perm", perm if perm is not None else torch.zeros(0, dtype=torch.long),
                             persistent=False)

    def onnx_order(self) -> torch.Tensor:
        """The dense matrix in ONNX gate order."""
        return self.block()

    def forward(self, original: torch.Tensor) -> torch.Tensor:
        w = self.block()
        return w[self.perm] if self.perm.numel() else w

    def right_inverse(self, w: torch.Tensor) -> torch.Tensor:
        # the factors are the parameters; the original is kept empty
        return torch.zeros(0, dtype=w.dtype, device=w.device)

    def to_ir(self) -> ir.Matrix:
        """The trained matrix as rnngen's IR (ONNX gate order): what export writes."""
        return self.block.to_ir()


def _cell(m: nn.Module) -> str | None:
    from .fast import SRU, FastGRNN, FastRNN

    if isinstance(m, (FastRNN, FastGRNN, SRU)):
        return m.cell
    mode = str(getattr(m, "mode", ""))
    if isinstance(m, nn.RNNBase) and mode in ("LSTM", "GRU", "RNN_TANH", "RNN_RELU"):
        return "RNN" if mode.startswith("RNN_") else mode
    return None


def weight_names(m: nn.Module) -> list[tuple[str, int, str, str]]:
    """(parameter name, layer, direction "fwd"/"bwd"/"", role "W"/"R") of each recurrent
    weight of a recurrent module."""
    cell = _cell(m)
    if cell in ("FastRNN", "FastGRNN"):
        return [("W", 0, "", "W"), ("U", 0, "", "R")]
    if cell == "SRU":  # no recurrent matrix
        return [("W", 0, "", "W")]
    bidir = bool(getattr(m, "bidirectional", False))
    out = []
    for k in range(int(m.num_layers)):
        for role, base in (("W", "weight_ih"), ("R", "weight_hh")):
            for sfx, tag in ((("", "fwd"), ("_reverse", "bwd")) if bidir else (("", ""),)):
                out.append((f"{base}_l{k}{sfx}", k, tag, role))
    return out


def recurrent_modules(model: nn.Module) -> Iterator[tuple[str, nn.Module, str]]:
    for name, m in model.named_modules():
        cell = _cell(m)
        if cell is not None:
            yield name, m, cell


def structure(model: nn.Module, method: str, factor: float | None = None, *,
              r: int | None = None, d: int | None = None, nnz: int | None = None,
              shapes: tuple[int, int, int, int] | None = None, per_gate: bool = True,
              roles: tuple[str, ...] = ("W", "R"), init: str = "projection",
              seed: int = 0) -> nn.Module:
    """Give every recurrent weight (W: input-to-hidden, R: hidden-to-hidden) of `model` (an
    nn.LSTM / nn.GRU / nn.RNN / FastRNN / FastGRNN / SRU, or any module holding them) rnngen's
    structure `method` (hmd, lmf, csr, kron, hkp) at storage factor `factor` (or the
    explicit sizes r / d / nnz / shapes). init="projection" starts from rnngen compress's
    projection of the current weights; init="random" draws fresh factors (training with the
    structure from scratch). Returns `model`, changed in place.

    Raises RnngenError naming the module and weight when a size cannot be reached."""
    if init not in ("projection", "random"):
        raise RnngenError(f"init={init!r}: expected 'projection' or 'random'")
    spec = Structure(method, factor, r, d, nnz, tuple(shapes) if shapes else None, per_gate)
    mods = list(recurrent_modules(model))
    if not mods:
        raise RnngenError(f"{type(model).__name__}: no LSTM, GRU, RNN, FastRNN, FastGRNN or SRU "
                          "module to structure")
    gen = torch.Generator().manual_seed(seed)
    todo = []
    for name, m, cell in mods:
        if int(getattr(m, "proj_size", 0) or 0) > 0:
            raise RnngenError(f"{type(m).__name__} '{name}': proj_size is not supported")
        for pname, layer, tag, role in weight_names(m):
            if role not in roles:
                continue
            where = f"{type(m).__name__} '{name or type(m).__name__}' {pname}"
            if parametrize.is_parametrized(m, pname):
                raise RnngenError(f"{where}: already structured (rnngen.torch.remove first)")
            w = getattr(m, pname).detach().cpu().numpy().astype(F32)
            G = w.shape[0] // int(m.hidden_size)  # blocks of H rows, as rnngen compress fits
            onnx = w if cell not in ONNX_FROM_TORCH else np.concatenate(
                [w[g * (w.shape[0] // G):(g + 1) * (w.shape[0] // G)]
                 for g in ONNX_FROM_TORCH[cell]], axis=0)
            gates = G if per_gate else 1
            p = spec.plan(onnx.shape[0] // gates, onnx.shape[1], where)
            mat = algo.fit_gates(onnx, gates, p)
            block = from_ir(mat, gates, p.nnz if p.method == "csr" else None, onnx)
            if init == "random":
                block.randomize(float(1.0 / np.sqrt(3.0 * (w.shape[0] // G))), gen)
            todo.append((m, pname, StructuredMatrix(block, p, cell, gates, where)))
    for m, pname, sm in todo:  # every size was reachable: now change the model
        parametrize.register_parametrization(m, pname, sm, unsafe=True)
    return model


def structured_layers(model: nn.Module) -> list[tuple[str, nn.Module, str, int, str, str,
                                                      StructuredMatrix]]:
    """(module name, module, cell, layer, direction, role, parametrization) of every
    structured recurrent weight, in module order."""
    out = []
    for name, m, cell in recurrent_modules(model):
        for pname, layer, tag, role in weight_names(m):
            if parametrize.is_parametrized(m, pname):
                p = m.parametrizations[pname][0]
                if isinstance(p, StructuredMatrix):
                    out.append((name, m, cell, layer, tag, role, p))
    return out


def remove(model: nn.Module) -> nn.Module:
    """Replace every structured weight by a plain dense parameter holding the product."""
    for _, m, _, _, _, _, _ in structured_layers(model):
        for pname, *_ in weight_names(m):
            if parametrize.is_parametrized(m, pname):
                parametrize.remove_parametrizations(m, pname, leave_parametrized=True)
    return model


class GradualPruning:
    """Zhu & Gupta (2017) gradual magnitude pruning of every csr-structured weight in
    `model`: call step() after each optimizer step. Between steps `begin` and `end` the
    sparsity of each gate block follows s_t = s_f + (s_i - s_f) (1 - (t - begin) /
    (end - begin))^3, updated every `frequency` steps; from `end` on the mask is fixed at
    the final nnz of the structure (round(H n / F) per gate block, as `rnngen compress`).
    With from_dense=True (the default) the masks start full (s_i = 0)."""

    def __init__(self, model: nn.Module, begin: int, end: int, frequency: int = 1,
                 from_dense: bool = True):
        if not 0 <= begin < end or frequency < 1:
            raise RnngenError(f"GradualPruning: need 0 <= begin < end and frequency >= 1, got "
                              f"begin={begin}, end={end}, frequency={frequency}")
        self.blocks: list[CsrBlock] = csr_blocks(model)
        if not self.blocks:
            raise RnngenError("GradualPruning: the model has no csr-structured weight")
        self.begin, self.end, self.frequency = begin, end, frequency
        self.t = 0
        if from_dense:
            for b in self.blocks:
                with torch.no_grad():
                    b.mask.fill_(1.0)
        self._apply()

    def keep(self, b: CsrBlock) -> int:
        size = b.shape[0] // b.groups * b.shape[1]
        if self.t >= self.end:
            return b.nnz
        s_f = 1.0 - b.nnz / size
        frac = min(max((self.t - self.begin) / (self.end - self.begin), 0.0), 1.0)
        s = s_f * (1.0 - (1.0 - frac) ** 3)
        return max(b.nnz, int(round(size * (1.0 - s))))

    def _apply(self) -> None:
        for b in self.blocks:
            b.set_keep(self.keep(b))

    def step(self) -> None:
        self.t += 1
        if self.t == self.end or (self.begin <= self.t < self.end and
                                  (self.t - self.begin) % self.frequency == 0):
            self._apply()

    @property
    def done(self) -> bool:
        return self.t >= self.end
