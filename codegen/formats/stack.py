"""stack: matrices stacked by rows, each block in its own format: the per-gate matrices of a
recurrent layer, or a hybrid such as HKP (a dense top block over a Kronecker lower part).
Storage and MACs: the sum of the blocks'.

C: one call per block (each block's own kernel), on consecutive rows of the output.
ONNX: Concat(axis=0)(block, ...); .npz: {"format": "stack", "blocks": [...]}."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .base import Format
from .dense import Dense

F32 = np.float32


@dataclass(frozen=True, eq=False)
class RowStack:
    """Matrices stacked by rows: per-gate matrices of a recurrent layer, or a hybrid such as
    HKP (a dense top block over a Kronecker lower part)."""

    blocks: tuple[Any, ...]

    fmt = "stack"

    @property
    def shape(self) -> tuple[int, int]:
        return (sum(b.shape[0] for b in self.blocks), self.blocks[0].shape[1])

    @property
    def params(self) -> int:
        return sum(b.params for b in self.blocks)

    @property
    def nbytes(self) -> int:
        return sum(b.nbytes for b in self.blocks)

    @property
    def macs(self) -> int:
        return sum(b.macs for b in self.blocks)

    @property
    def formats(self) -> str:
        return "+".join(b.fmt for b in self.blocks)

    def to_dense(self) -> np.ndarray:
        return np.concatenate([b.to_dense() for b in self.blocks], axis=0).astype(F32)

    def matvec(self, x: np.ndarray) -> np.ndarray:
        return np.concatenate([b.matvec(x) for b in self.blocks]).astype(F32)

    def arrays(self) -> dict[str, np.ndarray]:
        return {f"{k}.{n}": v for k, b in enumerate(self.blocks) for n, v in b.arrays().items()}

    def row_slice(self, lo: int, hi: int) -> Any:
        out: list[Any] = []
        r0 = 0
        for b in self.blocks:
            r1 = r0 + b.shape[0]
            a, z = max(lo, r0), min(hi, r1)
            if a < z:
                out.append(b if (a, z) == (r0, r1) else b.row_slice(a - r0, z - r0))
            r0 = r1
        return out[0] if len(out) == 1 else RowStack(tuple(out))


def stack(blocks: list[Any]) -> Any:
    """One block stays itself; adjacent dense blocks merge; more make a RowStack."""
    merged: list[Any] = []
    for b in blocks:
        if merged and isinstance(b, Dense) and isinstance(merged[-1], Dense):
            merged[-1] = Dense(np.concatenate([merged[-1].w, b.w], axis=0))
        else:
            merged.append(b)
    return merged[0] if len(merged) == 1 else RowStack(tuple(merged))


def _check(m: RowStack, fail: Any, where: str) -> None:
    from . import check

    cols = {b.shape[1] for b in m.blocks}
    if len(cols) != 1:
        fail(f"stacked blocks have different column counts {sorted(cols)}")
    for k, b in enumerate(m.blocks):
        check(b, f"{where} block {k}")


def _scratch(m: RowStack) -> int:
    from . import scratch

    return max(scratch(b) for b in m.blocks)


def _scratch_s8(q: QStack) -> int:
    from . import scratch_s8

    return max(scratch_s8(b) for b in q.blocks)


@dataclass(frozen=True, eq=False)
class QStack:
    blocks: tuple[Any, ...]

    fmt = "stack"

    @property
    def shape(self) -> tuple[int, int]:
        return (sum(b.shape[0] for b in self.blocks), self.blocks[0].shape[1])

    def forward(self, x: np.ndarray) -> np.ndarray:
        return np.concatenate([b.forward(x) for b in self.blocks])


def _quantize(m: RowStack, q: Any, x: Any, out_scale: float, inputs: np.ndarray,
              what: str, bits: int = 8) -> QStack:
    """Each block by its own format (`q` carries the weight bits: int4 blocks when bits=4)."""
    return QStack(tuple(q(b, x, out_scale, inputs, f"{what} block {k}")
                        for k, b in enumerate(m.blocks)))


def _at(base: str, off: int) -> str:
    return base if off == 0 else f"{base} + {off}"


def _emit_f32(m: RowStack, prog: Any, base: str, bias: str, x: str, y: str) -> list[str]:
    out, r0 = [], 0
    for k, blk in enumerate(m.blocks):
        b = bias if bias == "NULL" else _at(bias, r0)
        out += prog.matvec(f"{base}{k}", blk, b, x, _at(y, r0))
        r0 += blk.shape[0]
    return out


def _emit_s8(m: QStack, prog: Any, base: str, x: str, y: str, scratch: str) -> list[str]:
    out, r0 = [], 0
    for k, b in enumerate(m.blocks):
        out += prog.matvec(f"{base}{k}", b, x, _at(y, r0), scratch)
        r0 += b.shape[0]
    return out


def _npz_read(bd: Any, entry: dict[str, Any], where: str, rows: int | None, cols: int,
              meaning: str) -> Any:
    """Row blocks of any formats, top to bottom (per gate: one block per gate)."""
    bd.fields(entry, where, ("format", "blocks"))
    blocks = entry["blocks"]
    if not isinstance(blocks, list) or not blocks:
        raise bd.fail(where, "field 'blocks' must be a non-empty list of matrix entries")
    rname, cname = bd.dims(meaning)
    out: list[Any] = []
    for k, blk in enumerate(blocks):
        m = bd.matrix(blk, f"{where}.blocks[{k}]", None, cols, f"[rows, {cname}]")
        out.extend(m.blocks if isinstance(m, RowStack) else (m,))
    total = sum(m.shape[0] for m in out)
    bd.rows_match(where, total, rows, rname,
                  f"the blocks have ({', '.join(str(m.shape[0]) for m in out)}) =")
    return bd.checked(stack(out), where)


def _npz_write(m: RowStack, path: str, put: Any) -> dict[str, Any]:
    from . import npz_entry

    return {"format": "stack", "blocks": [npz_entry(b, f"{path}.{k}", put)
                                          for k, b in enumerate(m.blocks)]}


def _npz_decode(entry: dict[str, Any], a: dict[str, np.ndarray], rec: Any) -> np.ndarray:
    return np.concatenate([rec(b) for b in entry["blocks"]], axis=0)


def _npz_shape(entry: dict[str, Any], a: dict[str, np.ndarray], rec: Any) -> Any:
    shapes = [rec(b) for b in entry["blocks"]]
    if any(s is None for s in shapes):
        return None
    return sum(s[0] for s in shapes), shapes[0][1]


def _onnx_write(m: RowStack, w: Any, base: str) -> str:
    from . import onnx_block

    return w.concat([onnx_block(b, w, f"{base}.{k}") for k, b in enumerate(m.blocks)], 0, base)


def _sparsify(m: RowStack, threshold: float) -> Any:
    from . import sparsify

    blocks = [sparsify(b, threshold) for b in m.blocks]
    if all(b is o for b, o in zip(blocks, m.blocks)):
        return m
    return stack(blocks)


FORMAT = Format(
    name="stack", matrix=RowStack, qmatrix=QStack, doc="row blocks of any formats",
    check=_check, describe=lambda m: "", scratch=_scratch, scratch_s8=_scratch_s8,
    kernels_f32={}, emit_f32=_emit_f32, kernels_s8={}, quantize=_quantize, emit_s8=_emit_s8,
    npz_read=_npz_read, npz_write=_npz_write, npz_decode=_npz_decode, npz_shape=_npz_shape,
    onnx_write=_onnx_write, onnx_read=None, sparsify=_sparsify,
    weight_bits=(8, 4),  # int4: each block by its own format (dense blocks have it)
    act_bits=(8, 16),  # int16 input: each block by its own format (dense blocks have it)
)
