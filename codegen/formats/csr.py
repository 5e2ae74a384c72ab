"""csr: a pruned matrix in compressed sparse rows. Storage nnz values (+ column indices and
m + 1 row pointers), MACs nnz; the compression factor is m n / nnz.

float32 C: rnn_mat_vec_csr_f32 (uint16 column indices: n <= 65536). int8: per-row symmetric
int8 values, offsets and Q31 multipliers per row (rnn_mat_vec_csr_s8_s16); int4 weights
(--precision w4a8): values in [-7, 7] packed two per byte, indices unchanged
(rnn_mat_vec_csr_s4_s16). int16 activations (--precision w8a16 / w4a16, an int16 x,
symmetric): the same values, int64 sums requantized by quant.rq64 (rnn_mat_vec_csr_a16_s16,
rnn_mat_vec_csr_a16_s4_s16; docs/int8.md, "int16 activations in csr"). The kernels take
rows padded at build time with zero values to a multiple of 4 entries (pad_rows; nbytes
counts the padding). ONNX: a
sparse_initializer (a block [m, n], or a recurrent input's whole [D, m, n])."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import RnngenError
from ..quant import I64, W4_LEVELS, QParams, QParams16, rq, rq64
from .base import Format, pack_nibbles
from .dense import multipliers

F32 = np.float32


@dataclass(frozen=True, eq=False)
class Csr:
    """A sparse matrix in compressed sparse rows: row i holds values[row_ptr[i]:row_ptr[i+1]]
    at columns col_idx[...] (sorted, unique). Pruned weights."""

    values: np.ndarray  # [nnz] float32
    col_idx: np.ndarray  # [nnz] int32
    row_ptr: np.ndarray  # [m + 1] int32
    cols: int  # n

    fmt = "csr"

    @property
    def shape(self) -> tuple[int, int]:
        return (int(self.row_ptr.size - 1), int(self.cols))

    @property
    def nnz(self) -> int:
        return int(self.values.size)

    @property
    def params(self) -> int:
        """Stored weights (nnz); the compression factor is m n / nnz (docs/compression.md)."""
        return self.nnz

    @property
    def nnz_padded(self) -> int:
        """Entries as compiled: every non-empty row padded to a multiple of GROUP (pad_rows)."""
        return padded_size(self.row_ptr)

    @property
    def index_bytes(self) -> int:
        """Bytes per column index as emitted: uint16 when n <= 65536, else int32."""
        return 2 if self.cols <= 65536 else 4

    @property
    def nbytes(self) -> int:
        """Physical storage as compiled: values and column indices of the padded rows
        (pad_rows), and m + 1 int32 row pointers."""
        k = self.nnz_padded
        return 4 * k + self.index_bytes * k + 4 * (self.shape[0] + 1)

    @property
    def macs(self) -> int:
        return self.nnz

    def to_dense(self) -> np.ndarray:
        m, n = self.shape
        w = np.zeros((m, n), F32)
        for i in range(m):
            lo, hi = self.row_ptr[i], self.row_ptr[i + 1]
            w[i, self.col_idx[lo:hi]] = self.values[lo:hi]
        return w

    def matvec(self, x: np.ndarray) -> np.ndarray:
        """Each row's products summed in column order in float32 (np.add.reduceat, one call
        for all rows: no Python loop over rows); empty rows give 0."""
        m = self.shape[0]
        y = np.zeros(m, F32)
        if self.nnz == 0:
            return y
        prod = (self.values * x[self.col_idx]).astype(F32)
        lo = self.row_ptr[:-1]
        full = lo < self.row_ptr[1:]
        y[full] = np.add.reduceat(prod, lo[full].astype(np.intp), dtype=F32)
        return y

    def arrays(self) -> dict[str, np.ndarray]:
        return {"values": self.values}

    def row_slice(self, lo: int, hi: int) -> Any:
        p0, p1 = int(self.row_ptr[lo]), int(self.row_ptr[hi])
        return Csr(self.values[p0:p1].copy(), self.col_idx[p0:p1].copy(),
                   (self.row_ptr[lo:hi + 1] - p0).astype(np.int32), self.cols)


GROUP = 4  # entries per step of the C kernels (RNN_CSR_GROUP in rnn_nnfunctions.h)


def padded_size(row_ptr: np.ndarray, group: int = GROUP) -> int:
    """Entries of the rows padded to multiples of `group` (an empty row stays empty)."""
    n = np.diff(np.asarray(row_ptr, np.int64))
    return int((-(-n // group) * group).sum())


def pad_rows(values: np.ndarray, col_idx: np.ndarray, row_ptr: np.ndarray,
             group: int = GROUP) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The C kernels' layout: each non-empty row padded with zero values to a multiple of
    `group` entries, the padding at the row's last column (a zero weight adds exactly 0 to
    the sum for any finite x; a non-finite x[c] already reaches the row through its real
    entry at c). Empty rows stay empty. Returns (values, col_idx, row_ptr) of the padded
    rows, in the input arrays' dtypes (row_ptr int64)."""
    values, col_idx = np.asarray(values), np.asarray(col_idx)
    ptr = np.asarray(row_ptr, np.int64)
    n = np.diff(ptr)
    new_ptr = np.concatenate([[0], np.cumsum(-(-n // group) * group)]).astype(np.int64)
    rows = np.repeat(np.arange(n.size), np.diff(new_ptr))  # each padded entry's row
    j = np.arange(new_ptr[-1]) - new_ptr[:-1][rows]  # its place in the row
    src = ptr[:-1][rows] + np.minimum(j, n[rows] - 1)  # a pad repeats the row's last entry
    vals = np.where(j < n[rows], values[src], 0).astype(values.dtype)
    return vals, col_idx[src].astype(col_idx.dtype), new_ptr


def from_dense(w: np.ndarray) -> Csr:
    """The CSR matrix of w's nonzeros (row-major, column indices sorted)."""
    w = np.asarray(w, np.float32)
    rows, cols = np.nonzero(w)
    ptr = np.zeros(w.shape[0] + 1, np.int64)
    np.add.at(ptr, rows + 1, 1)
    return Csr(np.ascontiguousarray(w[rows, cols]), cols.astype(np.int32),
               np.cumsum(ptr).astype(np.int32), int(w.shape[1]))


def from_linear(values: np.ndarray, lin: np.ndarray, m: int, n: int) -> Csr:
    """From row-major linear indices (sorted) of an [m, n] matrix (ONNX sparse tensors)."""
    rows, cols = lin // n, lin % n
    ptr = np.zeros(m + 1, np.int64)
    np.add.at(ptr, rows + 1, 1)
    return Csr(np.ascontiguousarray(values, dtype=F32), cols.astype(np.int32),
               np.cumsum(ptr).astype(np.int32), int(n))


def _check(m: Csr, fail: Any, where: str) -> None:
    rows = m.row_ptr.size - 1
    if rows < 1 or m.row_ptr[0] != 0 or m.row_ptr[-1] != m.values.size or \
            np.any(np.diff(m.row_ptr) < 0):
        fail("CSR row pointers must start at 0, never decrease and end at nnz")
    if m.col_idx.size != m.values.size:
        fail("CSR has a different number of column indices and values")
    if m.col_idx.size and (m.col_idx.min() < 0 or m.col_idx.max() >= m.cols):
        fail(f"CSR column index out of range 0..{m.cols - 1}")
    for i in range(rows):
        seg = m.col_idx[m.row_ptr[i]:m.row_ptr[i + 1]]
        if np.any(np.diff(seg) <= 0):
            fail(f"CSR column indices of row {i} are not sorted and unique")


# --------------------------------------------------------------------------- int8

@dataclass(frozen=True, eq=False)
class QCsr:
    values: np.ndarray  # int8 [nnz]
    col_idx: np.ndarray  # int32 [nnz]
    row_ptr: np.ndarray  # int32 [m + 1]
    cols: int
    offset: np.ndarray
    mult: np.ndarray
    shift: np.ndarray
    bits: int = 8  # 4: int4 values (in [-7, 7], stored two per byte; base.pack_nibbles)
    xbits: int = 8  # 16: int16 x (w8a16 / w4a16): int64 sums, requantized by rq64

    fmt = "csr"

    @property
    def shape(self) -> tuple[int, int]:
        return (int(self.row_ptr.size - 1), self.cols)

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, I64)
        prod = self.values.astype(I64) * x[self.col_idx]
        acc = np.array([prod[self.row_ptr[i]:self.row_ptr[i + 1]].sum()
                        for i in range(self.shape[0])], I64)
        if self.xbits == 16:  # int64 sums (|acc| < 2^47), CMSIS-NN's s64 requantization
            return rq64(acc + self.offset.astype(I64), self.mult, self.shift)
        return rq(acc + self.offset.astype(I64), self.mult, self.shift)


def _quantize(m: Csr, q: Any, x: QParams | QParams16, out_scale: float, inputs: np.ndarray,
              what: str, bits: int = 8) -> QCsr:
    """Per-row symmetric values: int8 in [-127, 127], or with bits=4 int4 in [-7, 7] (the same
    integer arithmetic; stored packed). x int16 (QParams16, zero point 0): the same values,
    int64 sums (bound sum |v| * 32768 + |offset| < 2^47) requantized by rq64."""
    xbits = 16 if x.dtype == "int16" else 8
    levels = 127 if bits == 8 else W4_LEVELS
    rows = m.shape[0]
    vals = m.values.astype(np.float64)
    qv = np.zeros(m.nnz, np.int8)
    sw = np.ones(rows)
    offset = np.zeros(rows, np.int64)
    for i in range(rows):
        a, b = int(m.row_ptr[i]), int(m.row_ptr[i + 1])
        amax = float(np.max(np.abs(vals[a:b]))) if b > a else 0.0
        sw[i] = amax / levels if amax > 0 else 1.0
        qv[a:b] = np.clip(np.round(vals[a:b] / sw[i]), -levels, levels)
        offset[i] = -x.zero_point * int(qv[a:b].astype(np.int64).sum())
    # a row's largest |sum| for any x: sum |v| * max |x| + |offset| (int8 x: 128; int16 x:
    # 32768, int64 sums, rnn_requantize_s64 needs |acc| < 2^47)
    mags = np.array([np.abs(qv[int(m.row_ptr[i]):int(m.row_ptr[i + 1])].astype(np.int64)).sum()
                     for i in range(rows)] + [0])
    bound = mags * (32768 if xbits == 16 else 128) + np.append(np.abs(offset), 0)
    if xbits == 16 and int(bound.max()) >= 2**47:
        raise RnngenError(f"int8: {what}: int16 activations: the int64 accumulator could "
                          "overflow; give this layer w8a8")
    if xbits == 8 and int(bound.max()) >= 2**31:
        raise RnngenError(f"int8: {what}: the int32 accumulator could overflow")
    mult, shift = multipliers(sw * x.scale / out_scale, what)
    return QCsr(qv, m.col_idx.astype(np.int64), m.row_ptr.astype(np.int64), m.cols,
                offset, mult, shift, bits, xbits)


# --------------------------------------------------------------------------- C

# the int8-value kernels by (value bits, x bits)
_KERNEL = {(8, 8): "rnn_mat_vec_csr_s8_s16", (4, 8): "rnn_mat_vec_csr_s4_s16",
           (8, 16): "rnn_mat_vec_csr_a16_s16", (4, 16): "rnn_mat_vec_csr_a16_s4_s16"}


def _emit_f32(m: Csr, prog: Any, base: str, bias: str, x: str, y: str) -> list[str]:
    ctx = prog.ctx
    rows, _cols = m.shape
    if m.cols > 65536:
        raise RnngenError(f"CSR matrix {base}: {m.cols} columns; the kernel indexes "
                          "columns with 16 bits")
    if m.nnz == 0:  # an all-zero matrix: y = bias
        ctx.kernels.add("rnn_mat_vec_csr_f32")
    pv, pc, pp = pad_rows(m.values, m.col_idx, m.row_ptr)  # rows of 4k entries
    vals = ctx.array(f"{base}_val", pv if pv.size else np.zeros(1, np.float32))
    idx = ctx.array(f"{base}_col", pc if pc.size else np.zeros(1, np.int64), ctype="uint16_t")
    ptr = ctx.array(f"{base}_ptr", pp, ctype="int32_t")
    ctx.kernels.add("rnn_mat_vec_csr_f32")
    return [f"rnn_mat_vec_csr_f32({rows}, {vals}, {idx}, {ptr}, {bias}, {x}, {y});"]


def _emit_s8(m: QCsr, prog: Any, base: str, x: str, y: str, scratch: str) -> list[str]:
    ctx = prog.ctx
    rows, _cols = m.shape
    if m.cols > 65536:
        raise RnngenError(f"CSR matrix {base}: {m.cols} columns; the kernel indexes "
                          "columns with 16 bits")
    pv, pc, pp = pad_rows(m.values, m.col_idx, m.row_ptr)  # rows of 4k entries
    if m.bits == 4:  # two values a byte; rows are 4k entries, so a row starts on a byte
        pv = pack_nibbles(pv)
    vals = ctx.array(f"{base}_val", pv if pv.size else np.zeros(1), ctype="int8_t")
    idx = ctx.array(f"{base}_col", pc if pc.size else np.zeros(1), ctype="uint16_t")
    ptr = ctx.array(f"{base}_ptr", pp, ctype="int32_t")
    off = ctx.array(f"{base}_off", np.asarray(m.offset), ctype="int32_t")
    mu = ctx.array(f"{base}_mult", np.asarray(m.mult), ctype="int32_t")
    sh = ctx.array(f"{base}_shift", np.asarray(m.shift), ctype="int32_t")
    k = _KERNEL[m.bits, m.xbits]
    ctx.kernels.add(k)
    return [(f"{k}({rows}, {vals}, {idx}, {ptr}, {off}, {mu}, {sh}, "
            f"{x}, {y});")]


# --------------------------------------------------------------------------- files

def _npz_read(b: Any, entry: dict[str, Any], where: str, rows: int | None, cols: int,
              meaning: str) -> Csr:
    """values [nnz], col_idx [nnz] (integers), row_ptr [rows + 1] (integers), shape."""
    b.fields(entry, where, ("format", "values", "col_idx", "row_ptr", "shape"))
    m, n = b.shape_field(entry, where, rows, cols, meaning)
    vals = b.array(entry["values"], f"{where}.values", (None,), "[nnz]", allow_empty=True)
    idx = b.array(entry["col_idx"], f"{where}.col_idx", (vals.size,), "[nnz] (as values)",
                  integer=True, allow_empty=True)
    ptr = b.array(entry["row_ptr"], f"{where}.row_ptr", (m + 1,), "[rows + 1]", integer=True)
    b.checked(Csr(vals, idx, ptr, n), where)  # ranges and order, before narrowing
    return Csr(vals, idx.astype(np.int32), ptr.astype(np.int32), n)


def _npz_write(m: Csr, path: str, put: Any) -> dict[str, Any]:
    return {"format": "csr", "values": put(f"{path}.values", m.values),
            "col_idx": put(f"{path}.col_idx", m.col_idx.astype(np.int32)),
            "row_ptr": put(f"{path}.row_ptr", m.row_ptr.astype(np.int32)),
            "shape": list(m.shape)}


def _npz_decode(entry: dict[str, Any], a: dict[str, np.ndarray], rec: Any) -> np.ndarray:
    m, n = entry["shape"]
    w = np.zeros((m, n), F32)
    rows = np.repeat(np.arange(m), np.diff(a["row_ptr"]))
    w[rows, a["col_idx"]] = a["values"]
    return w


def _npz_shape(entry: dict[str, Any], a: dict[str, np.ndarray], rec: Any) -> tuple[int, int]:
    return int(entry["shape"][0]), int(entry["shape"][1])


def _onnx_write(m: Csr, w: Any, base: str) -> str:
    return _onnx_write_whole([m], w, base, squeeze=True)


def _onnx_write_whole(mats: list[Csr], w: Any, base: str, squeeze: bool = False) -> str:
    """One sparse_initializer [D, rows, cols] (or [rows, cols]): linear indices, row-major."""
    from onnx import helper, numpy_helper

    rows, cols = mats[0].shape
    vals, idx = [], []
    for d, m in enumerate(mats):
        r = np.repeat(np.arange(rows, dtype=np.int64), np.diff(m.row_ptr))
        idx.append((d * rows + r) * cols + m.col_idx.astype(np.int64))
        vals.append(m.values)
    name = w.name(base)
    w.taken.add(name + "_indices")
    w.sparse.append(helper.make_sparse_tensor(
        numpy_helper.from_array(np.concatenate(vals).astype(F32), name),
        numpy_helper.from_array(np.concatenate(idx), name + "_indices"),
        [rows, cols] if squeeze else [len(mats), rows, cols]))
    return name


def _onnx_read(mt: Any, t: str, where: str) -> Any:
    sp = mt.sparse_leaf(t)
    if sp is None or len(sp.dims) != 2:
        return None
    values, lin, dims = mt.sparse_coords(sp, where)
    return mt.found(from_linear(values, lin, dims[0], dims[1]), where,
                    f"csr sparse initializer '{sp.values.name}'", {"values": sp.values.name})


FORMAT = Format(
    name="csr", matrix=Csr, qmatrix=QCsr, doc="pruned, compressed sparse rows",
    check=_check, describe=lambda m: f" nnz={m.nnz}", scratch=lambda m: 0, scratch_s8=lambda q: 0,
    kernels_f32={"rnn_mat_vec_csr_f32": ("MatVecFunctions/rnn_mat_vec_csr_f32.c", ())},
    emit_f32=_emit_f32,
    kernels_s8={"rnn_mat_vec_csr_s8_s16": ("MatVecFunctions/rnn_mat_vec_csr_s8_s16.c", ()),
                "rnn_mat_vec_csr_s4_s16": ("MatVecFunctions/rnn_mat_vec_csr_s4_s16.c", ()),
                "rnn_mat_vec_csr_a16_s16": ("MatVecFunctions/rnn_mat_vec_csr_a16_s16.c", ()),
                "rnn_mat_vec_csr_a16_s4_s16":
                    ("MatVecFunctions/rnn_mat_vec_csr_a16_s4_s16.c", ())},
    quantize=_quantize, emit_s8=_emit_s8,
    npz_read=_npz_read, npz_write=_npz_write, npz_decode=_npz_decode, npz_shape=_npz_shape,
    onnx_write=_onnx_write, onnx_read=_onnx_read,
    onnx_read_sparse=from_linear, onnx_write_whole=_onnx_write_whole,
    weight_bits=(8, 4),  # int4: values packed two per byte, indices unchanged
    act_bits=(8, 16),  # int16 x: rnn_mat_vec_csr_a16_s16 / _a16_s4_s16 (int64 sums)
)
