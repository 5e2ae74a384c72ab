"""lowrank (LMF): W = U V, U [m, d], V [d, n]; y = U (V x). Storage and MACs d (m + n).

float32 C: rnn_mat_vec_lowrank_f32 (d floats of scratch for V x). int8: V x requantized to
int8 with a symmetric scale from calibration, then U t (rnn_mat_vec_lowrank_s8_s16).
int4 weights (--precision w4a8): both factors per-row symmetric in [-7, 7], stored as the
dense int4 kernels read them (pack_s4), the same integer arithmetic
(rnn_mat_vec_lowrank_s4_s16: rnn_mat_vec_s4 then rnn_mat_vec_s4_s16).
int16 activations (--precision w8a16 / w4a16, an int16 x): V x by the dense int16-input
kernels to int8 t (rnn_mat_vec_a16_s8, int64 sums by the dense bound rule:
rnn_mat_vec_a16_wide_s8; int4 V: the rnn_mat_vec_a16_s4_* ones), then U t as above; t stays
int8 (docs/int8.md, "int16 activations in the low-rank format").
ONNX: MatMul(U, V)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import quant
from ..errors import RnngenError
from ..quant import QParams, sat8
from .base import Format
from .dense import QDense, declare_s8, pack_dense, quantize_dense
from .dense import _emit_s8 as _emit_dense_s8
from .dense import _emit_s8_out as _emit_dense_s8_out

F32 = np.float32


@dataclass(frozen=True, eq=False)
class LowRank:
    """Low-rank matrix factorization (LMF): W = U V, U [m, d], V [d, n]; y = U (V x)."""

    u: np.ndarray  # [m, d]
    v: np.ndarray  # [d, n]

    fmt = "lowrank"

    @property
    def rank(self) -> int:
        return int(self.v.shape[0])

    @property
    def shape(self) -> tuple[int, int]:
        return (int(self.u.shape[0]), int(self.v.shape[1]))

    @property
    def params(self) -> int:
        m, n = self.shape
        return self.rank * (m + n)

    @property
    def nbytes(self) -> int:
        return 4 * self.params

    @property
    def macs(self) -> int:
        return self.params

    def to_dense(self) -> np.ndarray:
        return (self.u @ self.v).astype(F32)

    def matvec(self, x: np.ndarray) -> np.ndarray:
        return (self.u @ (self.v @ x).astype(F32)).astype(F32)

    def arrays(self) -> dict[str, np.ndarray]:
        return {"u": self.u, "v": self.v}

    def row_slice(self, lo: int, hi: int) -> Any:
        return LowRank(np.ascontiguousarray(self.u[lo:hi]), self.v)


def _check(m: LowRank, fail: Any, where: str) -> None:
    if m.u.ndim != 2 or m.v.ndim != 2 or m.u.shape[1] != m.v.shape[0]:
        fail(f"low-rank factors U {m.u.shape} and V {m.v.shape} do not multiply")


@dataclass(frozen=True, eq=False)
class QLowRank:
    """t = sat8(V x) (the intermediate requantized to int8, symmetric), then U t. x int16
    (w8a16 / w4a16): V has xbits 16 (int32 or int64 sums, QDense.acc64), t still int8."""

    v: QDense  # [d, n] -> int8 t
    u: QDense  # [m, d], input zero point 0

    fmt = "lowrank"

    @property
    def shape(self) -> tuple[int, int]:
        return (self.u.shape[0], self.v.shape[1])

    def forward(self, x: np.ndarray) -> np.ndarray:
        return self.u.forward(sat8(self.v.forward(x)))


def _quantize(m: LowRank, q: Any, x: QParams, out_scale: float, inputs: np.ndarray,
              what: str, bits: int = 8) -> QLowRank:
    """bits=4: both factors int4 (the intermediate t stays int8). x int16 (QParams16): V reads
    it as a dense int16-input matrix (quantize_dense: xbits 16, acc64 by the bound rule)."""
    t = inputs @ m.v.T.astype(np.float64) if inputs.size else np.zeros(1)
    s_t = quant.symmetric_scale(float(np.max(np.abs(t))), 127, f"{what} V x")
    v = quantize_dense(m.v, x, s_t, f"{what} V", bits=bits)
    u = quantize_dense(m.u, QParams(s_t, 0), out_scale, f"{what} U", bits=bits)
    return QLowRank(v, u)


def _emit_f32(m: LowRank, prog: Any, base: str, bias: str, x: str, y: str) -> list[str]:
    ctx = prog.ctx
    rows, cols = m.shape
    u = ctx.array(f"{base}_U", pack_dense(m.u), attr="RNN_ALIGN64")
    v = ctx.array(f"{base}_V", pack_dense(m.v), attr="RNN_ALIGN64")
    ctx.kernels.add("rnn_mat_vec_lowrank_f32")
    return [(f"rnn_mat_vec_lowrank_f32({prog.scratch}, {rows}, {cols}, {m.rank}, {u}, {v}, "
            f"{bias}, {x}, {y});")]


def _emit_s8(m: QLowRank, prog: Any, base: str, x: str, y: str, scratch: str) -> list[str]:
    rows, cols = m.shape
    if m.v.xbits == 16:  # int16 x: the dense int16-input kernels to int8 t, then U t
        return [_emit_dense_s8_out(m.v, prog.ctx, f"{base}_V", 0, x, scratch),
                *_emit_dense_s8(m.u, prog, f"{base}_U", scratch, y, scratch)]
    v = declare_s8(prog.ctx, f"{base}_V", m.v)
    u = declare_s8(prog.ctx, f"{base}_U", m.u)
    k = "rnn_mat_vec_lowrank_s4_s16" if m.v.bits == 4 else "rnn_mat_vec_lowrank_s8_s16"
    prog.ctx.kernels.add(k)
    return [(f"{k}({scratch}, {rows}, {cols}, {m.v.shape[0]}, "
            f"{', '.join(v)}, {', '.join(u)}, {x}, {y});")]


def _npz_read(b: Any, entry: dict[str, Any], where: str, rows: int | None, cols: int,
              meaning: str) -> LowRank:
    """U [m, d], V [d, n]: W = U V."""
    b.fields(entry, where, ("format", "u", "v"))
    rname, cname = b.dims(meaning)
    u = b.array(entry["u"], f"{where}.u", (rows, None), f"[{rname}, rank]")
    v = b.array(entry["v"], f"{where}.v", (u.shape[1], cols), f"[rank, {cname}] (rank = "
                                                              f"{u.shape[1]} from u)")
    return b.checked(LowRank(u, v), where)


def _npz_write(m: LowRank, path: str, put: Any) -> dict[str, Any]:
    return {"format": "lowrank", "u": put(f"{path}.u", m.u), "v": put(f"{path}.v", m.v)}


def _npz_decode(entry: dict[str, Any], a: dict[str, np.ndarray], rec: Any) -> np.ndarray:
    return (a["u"] @ a["v"]).astype(F32)


def _npz_shape(entry: dict[str, Any], a: dict[str, np.ndarray], rec: Any) -> tuple[int, int]:
    return int(a["u"].shape[0]), int(a["v"].shape[1])


def _onnx_write(m: LowRank, w: Any, base: str) -> str:
    return w.node("MatMul", [w.init(base + ".U", m.u), w.init(base + ".V", m.v)], base)


def _onnx_read(mt: Any, t: str, where: str) -> Any:
    mm = mt.node(t, "MatMul")
    if mm is None:
        return None
    u, v = mt.matrix_leaf(mm.input[0]), mt.matrix_leaf(mm.input[1])
    if u is None or v is None:
        return None
    desc = f"lowrank MatMul('{u[1]}' {u[0].shape}, '{v[1]}' {v[0].shape})"
    if u[0].shape[1] != v[0].shape[0]:
        raise RnngenError(f"{where}: {desc}: the factors do not multiply (U has "
                          f"{u[0].shape[1]} columns, V {v[0].shape[0]} rows)")
    return mt.found(LowRank(u[0], v[0]), where, desc, {"u": u[1], "v": v[1]})


FORMAT = Format(
    name="lowrank", matrix=LowRank, qmatrix=QLowRank, doc="low-rank factors U V (LMF)",
    check=_check, describe=lambda m: f" d={m.rank}", scratch=lambda m: m.rank,
    scratch_s8=lambda q: q.v.shape[0],
    kernels_f32={"rnn_mat_vec_lowrank_f32": ("MatVecFunctions/rnn_mat_vec_lowrank_f32.c",
                                             ("rnn_mat_vec_f32",))},
    emit_f32=_emit_f32,
    kernels_s8={"rnn_mat_vec_lowrank_s8_s16": ("MatVecFunctions/rnn_mat_vec_lowrank_s8_s16.c",
                                               ("rnn_mat_vec_s8", "rnn_mat_vec_s8_s16")),
                "rnn_mat_vec_lowrank_s4_s16": ("MatVecFunctions/rnn_mat_vec_lowrank_s4_s16.c",
                                               ("rnn_mat_vec_s4", "rnn_mat_vec_s4_s16"))},
    quantize=_quantize, emit_s8=_emit_s8,
    npz_read=_npz_read, npz_write=_npz_write, npz_decode=_npz_decode, npz_shape=_npz_shape,
    onnx_write=_onnx_write, onnx_read=_onnx_read, weight_bits=(8, 4), act_bits=(8, 16),
)
