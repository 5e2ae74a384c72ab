"""`rnngen compress`, the fitting: each recurrent matrix of a model compressed gate block by
gate block (rnngen.compress), with its report (MatrixResult)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import compress as algo
from . import ir
from .errors import RnngenError

F32 = np.float32


@dataclass
class MatrixResult:
    """One compressed matrix: a direction's W or R of a recurrent layer."""

    layer: str  # node name (ONNX) or layer name (npz)
    index: int  # position among the model's recurrent layers
    cell: str
    direction: str  # "fwd", "bwd" (bidirectional) or "" (one direction)
    role: str  # "W" or "R"
    dense: np.ndarray  # the original [G H, cols], ONNX gate order
    matrix: ir.Matrix
    plan: algo.Plan
    gates: int

    @property
    def shape(self) -> tuple[int, int]:
        return (int(self.dense.shape[0]), int(self.dense.shape[1]))

    @property
    def dense_params(self) -> int:
        return int(self.dense.size)

    @property
    def rel_error(self) -> float:
        return algo.rel_error(self.dense, self.matrix)

    def format(self) -> str:
        p = self.plan
        kind = {"hkp": "hkp", "lmf": "lowrank"}.get(p.method, p.method)
        blocks = f"{self.gates} x " if self.gates > 1 else ""
        if p.method == "csr":
            return f"csr nnz={self.matrix.params} ({blocks}{p.nnz} per gate)" if \
                self.gates > 1 else f"csr nnz={self.matrix.params}"
        return f"{blocks}{kind} {p.describe()}"

    def as_dict(self) -> dict[str, Any]:
        m = self.matrix
        return dict(layer=self.layer, index=self.index, cell=self.cell,
                    direction=self.direction or "fwd", role=self.role, format=self.format(),
                    method=self.plan.method, shape=list(self.shape), gates=self.gates,
                    plan=self.plan.as_dict(), dense_params=self.dense_params, params=m.params,
                    bytes=m.nbytes, storage_factor=self.dense_params / m.params,
                    byte_factor=4 * self.dense_params / m.nbytes,
                    dense_macs=self.dense_params, macs=m.macs,
                    mac_factor=self.dense_params / m.macs, rel_error=self.rel_error)


def _select(names: list[str], tokens: list[str], src: Path) -> list[int]:
    """Indices of the recurrent layers that `--layers` names (all when empty)."""
    if not tokens:
        return list(range(len(names)))
    chosen: list[int] = []
    for t in tokens:
        if t in names:
            k = names.index(t)
        elif t.lstrip("-").isdigit() and -len(names) <= int(t) < len(names):
            k = int(t) % len(names)
        else:
            listing = ", ".join(f"{i} '{n}'" for i, n in enumerate(names))
            raise RnngenError(f"{src}: --layers '{t}' is not a recurrent layer (name or index; "
                              f"the model has {listing})")
        if k not in chosen:
            chosen.append(k)
    return sorted(chosen)


def _where(src: Path, cell: str, name: str, direction: str, role: str, kind: str) -> str:
    d = f" {direction}" if direction else ""
    return f"{src}: {cell} {kind} '{name}'{d} {role}"


def _rkey(cell: str) -> str:
    """The name of the recurrent matrix: U for FastRNN/FastGRNN (EdgeML), else R."""
    return "U" if cell in ("FastRNN", "FastGRNN") else "R"


def _compress_direction_mats(src: Path, cell: str, name: str, index: int, kind: str,
                             per_dir: list[tuple[np.ndarray, np.ndarray]], method: str,
                             factor: float, nearest: bool = False) -> list[MatrixResult]:
    """per_dir: (W, R) dense per direction, ONNX gate order. Each matrix is fitted in blocks of
    H rows (H = R's columns): G gates, or more when a cell's W carries extra rows (the SRU's
    projection); a matrix without rows (the SRU has no recurrent matrix) is left out."""
    out = []
    D = len(per_dir)
    H = per_dir[0][1].shape[1]
    for role in ("W", _rkey(cell)):
        for d, (W, R) in enumerate(per_dir):
            dense = np.ascontiguousarray(W if role == "W" else R, dtype=F32)
            if dense.shape[0] == 0:
                continue
            G = dense.shape[0] // H
            tag = ("fwd", "bwd")[d] if D == 2 else ""
            where = _where(src, cell, name, tag, role, kind)
            if not np.all(np.isfinite(dense)):
                raise RnngenError(f"{where}: contains NaN or Inf")
            try:
                m, p = algo.compress_gates(dense, G, method, factor, where)
            except algo.Unreachable as e:
                if not nearest:
                    raise
                p = e.closest
                m = algo.fit_gates(dense, G, p)
            out.append(MatrixResult(name, index, cell, tag, role, dense, m, p, G))
    return out


def _replacements(results: list[MatrixResult]) -> dict[str, dict[tuple[int, str], ir.Matrix]]:
    rep: dict[str, dict[tuple[int, str], ir.Matrix]] = {}
    for r in results:
        d = 1 if r.direction == "bwd" else 0
        rep.setdefault(r.layer, {})[(d, "W" if r.role == "W" else "R")] = r.matrix
    return rep
