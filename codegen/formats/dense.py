"""dense: W [m, n] stored as is; y = W x. Storage m n, MACs m n.

float32 C: rnn_mat_vec_f32 over the row-tile layout of pack_dense (and rnn_mat_mul_f32 for
several vectors at once). int8: per-row symmetric int8 weights, each row stored padded with
zeros to a multiple of 4 bytes (pack_s8), the input's zero point folded into an int32 offset
per row, Q31 requantization per row (rnn_mat_vec_s8_s16 to int16 gates, rnn_mat_vec_s8 to an
int8 output for Linear layers). int4 weights (pack_s4) and int16 inputs have their own kernels
(_KERNEL_S16, _KERNEL_S8: w4a8 rnn_mat_vec_s4*, w8a16 rnn_mat_vec_a16_*, w4a16
rnn_mat_vec_a16_s4_*; int64 sums where the int32 bound fails, the *_wide ones)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import cgen, quant
from ..errors import RnngenError
from ..quant import I64, QParams, rq
from .base import Format

F32 = np.float32
TILE = 16  # RNN_MAT_VEC_TILE in runtime_c/Include/rnn_nn_types.h


@dataclass(frozen=True, eq=False)
class Dense:
    """A dense float matrix W [m, n]; y = W x."""

    w: np.ndarray  # [m, n] float32

    fmt = "dense"

    @property
    def shape(self) -> tuple[int, int]:
        return (int(self.w.shape[0]), int(self.w.shape[1]))

    @property
    def params(self) -> int:
        return int(self.w.size)

    @property
    def nbytes(self) -> int:
        """Storage bytes as float32."""
        return 4 * self.params

    @property
    def macs(self) -> int:
        return int(self.w.size)

    def to_dense(self) -> np.ndarray:
        return self.w

    def matvec(self, x: np.ndarray) -> np.ndarray:
        return self.w @ x

    def arrays(self) -> dict[str, np.ndarray]:
        return {"w": self.w}

    def row_slice(self, lo: int, hi: int) -> Any:
        return Dense(np.ascontiguousarray(self.w[lo:hi]))


def dense(w: np.ndarray) -> Dense:
    return Dense(np.ascontiguousarray(w, dtype=F32))


@dataclass(frozen=True, eq=False)
class QDense:
    w: np.ndarray  # int8 [m, n]
    offset: np.ndarray  # int32 [m]: -zero_point * row sum (+ int32 bias, for Linear)
    mult: np.ndarray  # int32 [m]
    shift: np.ndarray  # int32 [m]
    bits: int = 8  # 4: int4 weights (values in [-7, 7], stored packed; pack_s4)
    xbits: int = 8  # 16: int16 input (w8a16 / w4a16 activations; rnn_mat_vec_a16_*)
    acc64: bool = False  # int16 input whose int32 sum could overflow: int64 sums, rq64

    fmt = "dense"

    @property
    def shape(self) -> tuple[int, int]:
        return (int(self.w.shape[0]), int(self.w.shape[1]))

    def forward(self, x: np.ndarray) -> np.ndarray:
        acc = self.w.astype(I64) @ np.asarray(x, I64) + self.offset.astype(I64)
        if self.acc64:  # exact in int64 (|acc| < 2^47), CMSIS-NN's s64 requantization
            return quant.rq64(acc, self.mult, self.shift)
        return rq(acc, self.mult, self.shift)


# --------------------------------------------------------------------------- float32 C

def pack_dense(w: np.ndarray) -> np.ndarray:
    """W [m, n] -> the row-tile layout rnn_mat_vec_f32 reads (see its header)."""
    m, _n = w.shape
    parts = []
    for r0 in range(0, m - m % TILE, TILE):
        parts.append(np.ascontiguousarray(w[r0:r0 + TILE].T).reshape(-1))
    if m % TILE:
        parts.append(np.ascontiguousarray(w[m - m % TILE:].T).reshape(-1))
    return np.concatenate(parts).astype(np.float32) if parts else np.zeros(0, np.float32)


def _emit_f32(m: Dense, prog: Any, base: str, bias: str, x: str, y: str) -> list[str]:
    rows, cols = m.shape
    sym = prog.ctx.array(base, pack_dense(m.w), attr="RNN_ALIGN64")
    prog.ctx.kernels.add("rnn_mat_vec_f32")
    return [f"rnn_mat_vec_f32({rows}, {cols}, {sym}, {bias}, {x}, {y});"]


def _emit_f32_batch(m: Dense, prog: Any, base: str, bias: str, count: str, x: str, y: str
                    ) -> list[str]:
    rows, cols = m.shape
    sym = prog.ctx.array(base, pack_dense(m.w), attr="RNN_ALIGN64")
    prog.ctx.kernels.add("rnn_mat_mul_f32")
    return [f"rnn_mat_mul_f32({rows}, {cols}, {sym}, {bias}, {count}, {x}, {y});"]


# --------------------------------------------------------------------------- int8

def multipliers(reals: np.ndarray, what: str) -> tuple[np.ndarray, np.ndarray]:
    ms = [quant.multiplier(float(r), what) for r in reals]
    return (np.array([m for m, _ in ms], np.int64), np.array([s for _, s in ms], np.int64))


def quantize_dense(w: np.ndarray, x: QParams, out_scale: float, what: str,
                   bias: np.ndarray | None = None, scales: np.ndarray | None = None,
                   bits: int = 8) -> QDense:
    """Per-row symmetric int8 weights for an int8 input x, outputs in units of out_scale;
    `bias` (float) folded into the offset (Linear layers). `scales`: the model's own per-row
    weight scales (a QDQ model's), used when every weight is on their grid within
    [-127, 127] (then the int8 weights are the model's own); else re-derived. bits=4: int4
    weights, per-row symmetric in [-7, 7] (the same integer arithmetic; only the storage and
    the kernel differ); a QDQ model's own scales are not used then."""
    xbits = 16 if x.dtype == "int16" else 8
    if bits == 4:
        wq, sw = quant.quantize_rows(w.astype(np.float64), what, quant.W4_LEVELS)
        if xbits == 8:  # int16 inputs (w4a16): the int32 / int64 choice below
            quant.check_accumulator_s4(wq, what)
        scales = None
    else:
        wq, sw = quant.quantize_rows(w.astype(np.float64), what)
    if scales is not None:
        s = np.asarray(scales, np.float64)
        q = np.round(w.astype(np.float64) / s[:, None])
        if np.all(np.abs(q) <= 127) and np.all(s > 0) and \
                np.allclose(q * s[:, None], w, rtol=1e-6, atol=0):
            wq, sw = q.astype(np.int8), s
    offset = -x.zero_point * wq.astype(np.int64).sum(axis=1)
    if bias is not None:
        offset = offset + np.round(bias / (sw * x.scale)).astype(np.int64)
    if xbits == 16:  # int16 input (w8a16, w4a16): symmetric, no zero point
        if np.any(np.abs(offset) >= 2**31) or wq.shape[1] > quant.A16_WIDE_COLS:
            raise RnngenError(f"int8: {what}: int16 activations: the bias or the width "
                              "overflows the int64 kernels' bounds; give this layer w8a8")
    else:
        quant.check_accumulator(wq, offset, what)
    mult, shift = multipliers(sw * x.scale / out_scale, what)
    acc64 = xbits == 16 and not quant.a16_fits_int32(wq, offset)
    return QDense(wq, offset.astype(np.int64), mult, shift, bits, xbits, acc64)


def _quantize(m: Dense, q: Any, x: QParams, out_scale: float, inputs: np.ndarray,
              what: str, bits: int = 8) -> QDense:
    return quantize_dense(m.w, x, out_scale, what, bits=bits)


S8_ALIGN = 4  # RNN_S8_STRIDE in runtime_c/Include/rnn_nn_types.h


def pack_s8(w: np.ndarray) -> np.ndarray:
    """int8 W [m, n] -> the stored rows rnn_mat_vec_s8_s16 reads: each row padded with zero
    weights to a multiple of 4 bytes (RNN_S8_STRIDE), flattened."""
    m, n = w.shape
    out = np.zeros((m, -(-n // S8_ALIGN) * S8_ALIGN), np.int8)
    out[:, :n] = w
    return out.reshape(-1)


def pack_s4(w: np.ndarray) -> np.ndarray:
    """int4 W [m, n] (values in [-7, 7]) -> the stored bytes rnn_mat_vec_s4_s16 reads: rows in
    pairs, byte j of pair p holding column j of row 2p in its low nibble as w + 8 and column
    j of row 2p + 1 in its high nibble in two's complement (the byte as int8 is
    16 w[2p + 1][j] + w[2p][j] + 8), each pair padded with zero weights (byte 0x08) to a
    multiple of 4 bytes (RNN_S4_STRIDE), an odd last row paired with zero weights; flattened.
    (Both nibbles on one column: one product with x serves two rows; the kernel's header
    says why.)"""
    m, n = w.shape
    w = np.asarray(w, np.int64)
    if w.size and (w.min() < -8 or w.max() > 7):
        raise ValueError("pack_s4: weights outside [-8, 7]")
    full = np.zeros((2 * (-(-m // 2)), -(-n // S8_ALIGN) * S8_ALIGN), np.int64)
    full[:m, :n] = w
    lo, hi = full[0::2], full[1::2]
    return ((lo + 8) | ((hi & 15) << 4)).astype(np.uint8).view(np.int8).reshape(-1)


def unpack_s4(packed: np.ndarray, m: int, n: int) -> np.ndarray:
    """The int4 weights [m, n] of pack_s4's bytes (an independent decoding, for checks)."""
    b = np.asarray(packed, np.int8).astype(np.int64).reshape(-(-m // 2), -1)
    u = b & 15
    out = np.empty((2 * b.shape[0], b.shape[1]), np.int64)
    out[0::2], out[1::2] = u - 8, (b - u) // 16
    return out[:m, :n]


def offset_split_a16(w: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """The offsets the int32 int16-input kernels (rnn_mat_vec_a16_s16 / _s8) read on Helium:
    offset + 128 * (row sums of w) (they split x into bytes, x = 256 hi + lo' + 128 with hi,
    lo' int8; rnn_mat_vec_a16_s16.c). Within int32: |offset| + 128 sum |W[r]| < 2^31
    wherever the int32 kernels are chosen (quant.a16_fits_int32)."""
    split = np.asarray(offset, np.int64) + 128 * np.asarray(w, np.int64).sum(axis=1)
    if split.size and np.abs(split).max() >= 2**31:  # the bound makes this unreachable
        raise ValueError("offset_split_a16: offset + 128 row sum outside int32")
    return split


def _declare_offsets_a16(ctx: Any, base: str, m: QDense) -> str:
    """The offsets argument of an int32 int16-input kernel: RNN_A16_OFFSETS(offsets, split)
    (rnn_nn_types.h), the split ones (offset_split_a16) declared under `#if RNN_A16_SPLIT`:
    the model's C stays the same bytes for every board, only Helium builds store and read
    the split offsets, the others the plain ones. The weight bytes count the plain ones
    (the measured flash of a Helium build includes the 4 bytes per row more)."""
    off = ctx.array(f"{base}_off", np.asarray(m.offset), ctype="int32_t")
    split = offset_split_a16(np.asarray(m.w), np.asarray(m.offset))
    key = ("int32_t", "#if RNN_A16_SPLIT", split.dtype.str, split.shape, split.tobytes())
    if key not in ctx.arrays:
        sym = ctx.sym(f"{base}_off_split")
        ctx.decls.append("#if RNN_A16_SPLIT\n"
                         + cgen.array_declare("int32_t", sym, split) + "\n#endif")
        ctx.arrays[key] = sym
    return f"RNN_A16_OFFSETS({off}, {ctx.arrays[key]})"


def declare_s8(ctx: Any, base: str, m: QDense) -> tuple[str, str, str, str]:
    """The four constants of an int8 dense matrix: weights (pack_s8's padded rows,
    word-aligned; pack_s4's with int4 weights), offsets (for the int32 int16-input kernels
    an expression choosing plain or split ones per board: _declare_offsets_a16),
    multipliers, shifts."""
    packed = pack_s4(np.asarray(m.w)) if m.bits == 4 else pack_s8(np.asarray(m.w))
    off = _declare_offsets_a16(ctx, base, m) \
        if m.xbits == 16 and m.bits == 8 and not m.acc64 and m.shape[0] > 0 else \
        ctx.array(f"{base}_off", np.asarray(m.offset), ctype="int32_t")
    return (ctx.array(f"{base}_w", packed, ctype="int8_t", attr="RNN_ALIGN4"),
            off,
            ctx.array(f"{base}_mult", np.asarray(m.mult), ctype="int32_t"),
            ctx.array(f"{base}_shift", np.asarray(m.shift), ctype="int32_t"))


# the int32 kernels by (weight bits, input bits): int16 gates / outputs, and int8 outputs
_KERNEL_S16 = {(8, 8): "rnn_mat_vec_s8_s16", (4, 8): "rnn_mat_vec_s4_s16",
               (8, 16): "rnn_mat_vec_a16_s16", (4, 16): "rnn_mat_vec_a16_s4_s16"}
_KERNEL_S8 = {(8, 8): "rnn_mat_vec_s8", (4, 8): "rnn_mat_vec_s4",
              (8, 16): "rnn_mat_vec_a16_s8", (4, 16): "rnn_mat_vec_a16_s4_s8"}


def _emit_s8(m: QDense, prog: Any, base: str, x: str, y: str, scratch: str) -> list[str]:
    rows, cols = m.shape
    w, off, mu, sh = declare_s8(prog.ctx, base, m)
    if m.acc64:  # int64 sums (rnn_mat_vec_a16_wide.c holds both outputs' functions)
        k = "rnn_mat_vec_a16_s4_wide" if m.bits == 4 else "rnn_mat_vec_a16_wide"
        prog.ctx.kernels.add(k)
        return [f"{k}({rows}, {cols}, {w}, {off}, {mu}, {sh}, {x}, {y});"]
    k = _KERNEL_S16[m.bits, m.xbits]
    prog.ctx.kernels.add(k)
    return [f"{k}({rows}, {cols}, {w}, {off}, {mu}, {sh}, {x}, {y});"]


def _emit_s8_out(m: QDense, ctx: Any, base: str, zero_point: int, x: str, y: str) -> str:
    """One int8 -> int8 product (an int8 Linear layer's row): y = sat8(zp + W x)."""
    rows, cols = m.shape
    w, off, mu, sh = declare_s8(ctx, base, m)
    if m.acc64:  # int64 sums
        k = "rnn_mat_vec_a16_s4_wide" if m.bits == 4 else "rnn_mat_vec_a16_wide"
        ctx.kernels.add(k)
        return (f"{k}_s8({rows}, {cols}, {w}, {off}, {mu}, {sh}, {zero_point}, {x}, {y});")
    k = _KERNEL_S8[m.bits, m.xbits]
    ctx.kernels.add(k)
    return f"{k}({rows}, {cols}, {w}, {off}, {mu}, {sh}, {zero_point}, {x}, {y});"


# --------------------------------------------------------------------------- files

def _npz_read(b: Any, entry: dict[str, Any], where: str, rows: int | None, cols: int,
              meaning: str) -> Dense:
    b.fields(entry, where, ("format", "w"))
    return dense(b.array(entry["w"], f"{where}.w", (rows, cols), meaning))


def _npz_write(m: Dense, path: str, put: Any) -> dict[str, Any]:
    return {"format": "dense", "w": put(path, m.w)}


def _npz_decode(entry: dict[str, Any], a: dict[str, np.ndarray], rec: Any) -> np.ndarray:
    return a["w"].astype(F32)


def _npz_shape(entry: dict[str, Any], a: dict[str, np.ndarray], rec: Any) -> tuple[int, int]:
    return int(a["w"].shape[0]), int(a["w"].shape[1])


def _onnx_write(m: Dense, w: Any, base: str) -> str:
    return w.init(base, m.w)


def _onnx_read(mt: Any, t: str, where: str) -> Any:
    leaf = mt.matrix_leaf(t)
    if leaf is None:
        return None
    return mt.found(dense(leaf[0]), where, f"dense initializer '{leaf[1]}'", {"w": leaf[1]})


def _permute_rows(m: Dense, rows: np.ndarray) -> Dense:
    return dense(m.w[rows])


def _sparsify(m: Dense, threshold: float) -> Any:
    from .csr import from_dense

    zeros = m.w.size - np.count_nonzero(m.w)
    return from_dense(m.w) if m.w.size and zeros >= threshold * m.w.size else m


FORMAT = Format(
    name="dense", matrix=Dense, qmatrix=QDense, doc="stored as is",
    check=lambda m, fail, where: None, describe=lambda m: "", scratch=lambda m: 0,
    scratch_s8=lambda q: 0,
    kernels_f32={
        "rnn_mat_vec_f32": ("MatVecFunctions/rnn_mat_vec_f32.c", ()),
        "rnn_mat_mul_f32": ("MatVecFunctions/rnn_mat_mul_f32.c", ("rnn_mat_vec_f32",)),
    },
    emit_f32=_emit_f32,
    kernels_s8={
        "rnn_mat_vec_s8_s16": ("MatVecFunctions/rnn_mat_vec_s8_s16.c", ()),
        "rnn_mat_vec_s8": ("MatVecFunctions/rnn_mat_vec_s8.c", ("rnn_mat_vec_s8_s16",)),
        "rnn_mat_vec_s4_s16": ("MatVecFunctions/rnn_mat_vec_s4_s16.c", ()),
        "rnn_mat_vec_s4": ("MatVecFunctions/rnn_mat_vec_s4.c", ("rnn_mat_vec_s4_s16",)),
        "rnn_mat_vec_a16_s16": ("MatVecFunctions/rnn_mat_vec_a16_s16.c",
                                ("rnn_mat_vec_s8_s16",)),
        "rnn_mat_vec_a16_s8": ("MatVecFunctions/rnn_mat_vec_a16_s8.c",
                               ("rnn_mat_vec_a16_s16",)),
        "rnn_mat_vec_a16_wide": ("MatVecFunctions/rnn_mat_vec_a16_wide.c", ()),
        "rnn_mat_vec_a16_s4_s16": ("MatVecFunctions/rnn_mat_vec_a16_s4_s16.c",
                                   ("rnn_mat_vec_s4_s16",)),
        "rnn_mat_vec_a16_s4_s8": ("MatVecFunctions/rnn_mat_vec_a16_s4_s8.c",
                                  ("rnn_mat_vec_a16_s4_s16",)),
        "rnn_mat_vec_a16_s4_wide": ("MatVecFunctions/rnn_mat_vec_a16_s4_wide.c", ()),
    },
    quantize=_quantize, emit_s8=_emit_s8,
    npz_read=_npz_read, npz_write=_npz_write, npz_decode=_npz_decode, npz_shape=_npz_shape,
    onnx_write=_onnx_write, onnx_read=_onnx_read,
    emit_f32_batch=_emit_f32_batch, permute_rows=_permute_rows, sparsify=_sparsify,
    quantize_out=lambda m, x, out_scale, what, bias, scales=None, bits=8: quantize_dense(
        m.w.astype(np.float64), x, out_scale, what, bias, scales, bits),
    emit_s8_out=_emit_s8_out, plain=True, weight_bits=(8, 4), act_bits=(8, 16),
)
