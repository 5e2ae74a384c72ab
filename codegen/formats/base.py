"""The protocol every matrix format implements (docs/extending.md, "Add a matrix format").

A format is one module of this package. It defines its float matrix (a frozen dataclass with
``fmt``, ``shape``, ``params``, ``nbytes``, ``macs``, ``to_dense``, ``matvec``, ``arrays``,
``row_slice``), its int8 matrix (``fmt``, ``shape``, ``forward``: the bit-exact integer
product), and one :class:`Format` record of the functions the rest of rnngen calls. Consumers
reach a format only through the registry (``formats.of(m)``), never by its name.

Contexts the format functions receive (duck-typed, so this package imports no consumer):

- emit: the program ``prog`` (emit/c.py, emit/c_int8.py) with ``prog.ctx.array(base, values,
  ctype="float", attr="")`` (declares a constant, returns its symbol), ``prog.ctx.sym(base)``,
  ``prog.ctx.decls``, ``prog.ctx.kernels``, ``prog.scratch`` (the float kernels' scratch)
  and ``prog.matvec(...)`` for nested matrices (row stacks).
- quantize: ``q(m, x, out_scale, inputs, what)`` quantizes nested matrices.
- ONNX: the writer (``init``, ``node``, ``unsqueeze``, ``int64s``, ``opset``) and the matcher
  of frontends/onnx_compressed.py (``node``, ``peel``, ``matrix_leaf``, ``ints``, ``attrs``,
  ``axes``, ``concat_axis``, ``found(matrix, where, desc, names)`` -> a checked Block).
- .npz: the frontend's builder (``fields``, ``array``, ``fail``, ``matrix``, ``src``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

Kernels = dict[str, tuple[str, tuple[str, ...]]]  # kernel -> (source, kernels it calls)


@dataclass(frozen=True)
class Format:
    name: str  # the IR and manifest name ("hmd"), = matrix.fmt
    matrix: type  # the float matrix dataclass
    qmatrix: type | None  # the int8 matrix dataclass (None: no int8 kernel)
    doc: str  # one line for docs and `inspect`
    # structure
    check: Callable[[Any, Callable[[str], None], str], None]  # (m, fail, where)
    describe: Callable[[Any], str]  # the extra text of describe_matrix (" r=2")
    scratch: Callable[[Any], int]  # floats of the float kernel's scratch
    scratch_s8: Callable[[Any], int]  # int8 values of the int8 kernel's scratch
    # float32 C
    kernels_f32: Kernels
    emit_f32: Callable[..., list[str]]  # (m, prog, base, bias, x, y) -> C lines
    # int8 C
    kernels_s8: Kernels
    quantize: Callable[..., Any] | None  # (m, q, x, out_scale, inputs, what) -> qmatrix
    emit_s8: Callable[..., list[str]] | None  # (qm, prog, base, x, y, scratch) -> C lines
    # .npz (docs/npz-format.md)
    npz_read: Callable[..., Any]  # (builder, entry, where, rows, cols, meaning) -> matrix
    npz_write: Callable[..., dict[str, Any]]  # (m, path, put) -> manifest entry
    npz_decode: Callable[..., np.ndarray]  # (entry, arrays, decode) -> dense, independently
    npz_shape: Callable[..., tuple[int, int]]  # (entry, arrays, shape_of) -> (rows, cols)
    # ONNX factor subgraphs (docs/compression.md, "In ONNX")
    onnx_write: Callable[..., str]  # (m, writer, base) -> tensor [rows, cols]
    onnx_read: Callable[..., Any] | None  # (matcher, t, where) -> Block | None
    # optional capabilities
    emit_f32_batch: Callable[..., list[str]] | None = None  # several vectors at once
    # int8, several vectors at once: (qm, prog, base, count, x, y, scratch) -> C lines
    emit_s8_batch: Callable[..., list[str]] | None = None
    permute_rows: Callable[[Any, np.ndarray], Any] | None = None  # gate reordering
    sparsify: Callable[[Any, float], Any] | None = None  # --sparse-threshold
    # an int8 Linear layer's weight (int8 output, bias folded in):
    quantize_out: Callable[..., Any] | None = None  # (m, x, out_scale, what, bias) -> qmatrix
    emit_s8_out: Callable[..., str] | None = None  # (qm, ctx, base, zero_point, x, y) -> C
    plain: bool = False  # stored as is: a model of only plain matrices is not compressed
    # the weight widths of its int8 kernels (8; 4: int4 weights, quantize(..., bits=4) and
    # quantize_out(..., bits=4) take them, emit_s8 / emit_s8_out read qm.bits)
    weight_bits: tuple[int, ...] = (8,)
    # the input widths of its int8 kernels (8; 16: int16 activations, w8a16: quantize and
    # quantize_out take an int16 input's quant.QParams16 and emit the int16-input kernels)
    act_bits: tuple[int, ...] = (8,)
    onnx_read_concat: Callable[..., Any] | None = None  # (matcher, inputs, where): Concat
    onnx_read_sparse: Callable[..., Any] | None = None  # (values, linear idx, m, n): sparse
    onnx_write_whole: Callable[..., str] | None = None  # (mats, writer, base): [D, m, n]


def pack_nibbles(v: np.ndarray) -> np.ndarray:
    """int4 values (in [-8, 7]), in order, two per byte: value 2j in the low nibble of byte
    j, value 2j + 1 in its high nibble, both two's complement; an odd count ends with a zero
    nibble. The storage of the int4 values of the compressed formats (csr values, Kronecker
    factors; dense has its own row-pair layout, pack_s4)."""
    v = np.asarray(v, np.int64).reshape(-1)
    if v.size and (v.min() < -8 or v.max() > 7):
        raise ValueError("pack_nibbles: values outside [-8, 7]")
    if v.size % 2:
        v = np.append(v, 0)
    return ((v[0::2] & 15) | ((v[1::2] & 15) << 4)).astype(np.uint8).view(np.int8)


def unpack_nibbles(packed: np.ndarray, count: int) -> np.ndarray:
    """The first `count` int4 values of pack_nibbles' bytes (an independent decoding)."""
    b = np.asarray(packed, np.int8).astype(np.int64) & 255
    out = np.empty(2 * b.size, np.int64)
    out[0::2] = ((b & 15) ^ 8) - 8
    out[1::2] = ((b >> 4) ^ 8) - 8
    return out[:count]
