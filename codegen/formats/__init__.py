"""Matrix formats: one module per format, one registry (docs/extending.md).

Every weight matrix in the IR is a float matrix of one of these formats; its int8 version
(passes/quantize.py) is the format's int8 matrix. Consumers (reference, passes, emit,
compress, the frontends' readers and the writers) reach a format through this registry —
``of(m)`` gives a matrix's :class:`~.base.Format` — and never name one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import RnngenError
from . import csr, dense, hmd, kron, lowrank, stack
from .base import Format, Kernels

# The registry, in the order messages list the formats.
FORMATS: dict[str, Format] = {f.name: f for f in (dense.FORMAT, hmd.FORMAT, csr.FORMAT,
                                                   lowrank.FORMAT, kron.FORMAT, stack.FORMAT)}

Matrix = dense.Dense | hmd.Hmd | csr.Csr | lowrank.LowRank | kron.Kron | stack.RowStack
QMatrix = (dense.QDense | hmd.QHmd | csr.QCsr | lowrank.QLowRank | kron.QKron
           | stack.QStack)
MATRIX_TYPES = tuple(f.matrix for f in FORMATS.values())
Dense, Hmd, Csr, LowRank, Kron, RowStack = MATRIX_TYPES

# Constructors every consumer may use without naming a format: a dense matrix from an array
# (what a frontend reads by default), and row stacking (per-gate blocks).
as_matrix = dense.dense
stack_rows = stack.stack


def of(m: Any) -> Format:
    """The format of a float or int8 matrix."""
    f = FORMATS.get(getattr(m, "fmt", None))  # type: ignore[arg-type]
    if f is None:
        raise RnngenError(f"internal: {type(m).__name__} is not a registered matrix format")
    return f


def blocks(m: Any) -> tuple[Any, ...]:
    """The row blocks of a stack; a matrix of any other format is its own one block."""
    return tuple(getattr(m, "blocks", (m,)))


def is_stack(m: Any) -> bool:
    return hasattr(m, "blocks")


def check(m: Any, where: str) -> None:
    """Structural checks of a matrix read from a user's file; RnngenError naming `where`
    (for example "model.onnx: LSTM node 'lstm' W direction 0 gate block 2")."""
    def fail(msg: str) -> None:
        raise RnngenError(f"{where}: {msg}")

    for k, arr in m.arrays().items():
        if not np.all(np.isfinite(arr)):
            fail(f"factor '{k}' contains NaN or Inf")
    of(m).check(m, fail, where)


def describe(m: Any) -> str:
    if is_stack(m):
        return f"stack[{', '.join(describe(b) for b in m.blocks)}]"
    return f"{m.fmt}{m.shape}{of(m).describe(m)}"


def scratch(m: Any) -> int:
    """Floats of scratch a matrix kernel needs (low-rank V x, Kronecker intermediate)."""
    return of(m).scratch(m)


def scratch_s8(q: Any) -> int:
    """int8 values of scratch an int8 matrix kernel needs (low-rank V x, Kronecker
    intermediate)."""
    return of(q).scratch_s8(q)


def is_plain(m: Any) -> bool:
    """Stored as is (dense): nothing compressed."""
    return of(m).plain


def sparsify(m: Any, threshold: float) -> Any:
    """m, or its blocks, stored sparse when at least `threshold` of the entries are zero."""
    fn = of(m).sparsify
    return m if fn is None else fn(m, threshold)


def permute_rows(m: Any, rows: np.ndarray) -> Any | None:
    """m with its rows in the order `rows`; None when the format cannot reorder rows without
    expanding the matrix."""
    fn = of(m).permute_rows
    return None if fn is None else fn(m, rows)


# --------------------------------------------------------------------------- C kernels

def kernels_f32() -> Kernels:
    return {k: v for f in FORMATS.values() for k, v in f.kernels_f32.items()}


def kernels_s8() -> Kernels:
    return {k: v for f in FORMATS.values() for k, v in f.kernels_s8.items()}


def quantize(m: Any, x: Any, out_scale: float, inputs: np.ndarray, what: str,
             bits: int = 8) -> Any:
    """The int8 matrix of m for an int8 input with parameters x; outputs in units of
    out_scale (int32, unsaturated). `inputs` [N, n] are float input vectors seen in
    calibration (for intermediates). bits=4: int4 weights (formats whose weight_bits have 4;
    the others are refused in one line naming the matrix and the format)."""
    f = of(m)
    if f.quantize is None:
        raise RnngenError(f"int8: {what}: format {m.fmt} has no int8 kernel")
    check_act_bits(m, x, what)
    if bits == 8:
        return f.quantize(m, quantize, x, out_scale, inputs, what)
    if bits not in f.weight_bits:
        raise RnngenError(f"int8: {what}: int{bits} weights are not available for the "
                          f"{m.fmt} format yet (they are for: "
                          f"{', '.join(k for k, v in FORMATS.items() if bits in v.weight_bits)});"
                          " give this layer w8a8")

    def q(m2: Any, x2: Any, s2: float, i2: np.ndarray, w2: str) -> Any:
        return quantize(m2, x2, s2, i2, w2, bits=bits)

    return f.quantize(m, q, x, out_scale, inputs, what, bits=bits)


def check_act_bits(m: Any, x: Any, what: str) -> None:
    """An int16 input (w8a16 / w4a16 activations) only for formats with int16-input
    kernels; the others refused in one line naming the matrix and the format."""
    if getattr(x, "dtype", "int8") == "int16" and 16 not in of(m).act_bits:
        raise RnngenError(f"int8: {what}: int16 activations (w8a16, w4a16) are not "
                          f"available for the {m.fmt} format yet (they are for: "
                          f"{', '.join(k for k, v in FORMATS.items() if 16 in v.act_bits)}); "
                          "give this layer w8a8 or w4a8")


# --------------------------------------------------------------------------- .npz

def npz_reader(name: Any) -> Callable[..., Any] | None:
    f = FORMATS.get(name) if isinstance(name, str) else None
    return None if f is None else f.npz_read


def npz_entry(m: Any, path: str, put: Callable[[str, np.ndarray], str]) -> dict[str, Any]:
    """The manifest matrix entry of docs/compression.md ("In .npz") for m; put(name, array)
    stores an array and returns the name it is stored under."""
    return of(m).npz_write(m, path, put)


def npz_decode(entry: dict[str, Any], arrays: Any, not_arrays: set[str]) -> np.ndarray:
    """The dense matrix a manifest matrix entry (arrays by name) stands for, read by the
    conventions of docs/compression.md (a decoder independent of the frontend, for checks)."""
    a = {k: np.asarray(arrays[v]) for k, v in entry.items()
         if isinstance(v, str) and k not in not_arrays}
    f = FORMATS.get(entry["format"])
    if f is None:
        raise RnngenError(f"unknown matrix format {entry['format']!r}")
    return f.npz_decode(entry, a, lambda e: npz_decode(e, arrays, not_arrays))


def npz_shape(entry: Any) -> tuple[int, int] | None:
    """[rows, columns] of a matrix entry whose arrays are still in place (None: unknown)."""
    if not isinstance(entry, dict):
        return None
    f = FORMATS.get(entry.get("format"))  # type: ignore[arg-type]
    if f is None:
        return None
    a = {k: v for k, v in entry.items() if isinstance(v, np.ndarray)}
    try:
        return f.npz_shape(entry, a, npz_shape)
    except (KeyError, IndexError, TypeError, AttributeError):
        return None


# --------------------------------------------------------------------------- ONNX

def onnx_block(m: Any, w: Any, base: str) -> str:
    """A tensor [rows, cols] equal to m.to_dense(), as a factor subgraph."""
    return of(m).onnx_write(m, w, base)


def onnx_whole(mats: list[Any], w: Any, base: str) -> str | None:
    """One tensor [D, rows, cols] for the directions' matrices when their format writes
    whole recurrent inputs (a sparse initializer); None otherwise."""
    fs = {of(m).name for m in mats}
    if len(fs) != 1:
        return None
    fn = FORMATS[fs.pop()].onnx_write_whole
    return None if fn is None else fn(mats, w, base)


def onnx_readers() -> list[Callable[..., Any]]:
    return [f.onnx_read for f in FORMATS.values() if f.onnx_read is not None]


def onnx_concat_readers() -> list[Callable[..., Any]]:
    return [f.onnx_read_concat for f in FORMATS.values() if f.onnx_read_concat is not None]


def onnx_sparse_reader() -> Callable[..., Any]:
    """The format that holds an ONNX sparse tensor: (values, linear indices, m, n) -> matrix."""
    return next(f.onnx_read_sparse for f in FORMATS.values() if f.onnx_read_sparse)


__all__ = [
    "FORMATS",
    "MATRIX_TYPES",
    "Csr",
    "Dense",
    "Format",
    "Hmd",
    "Kron",
    "LowRank",
    "Matrix",
    "QMatrix",
    "RowStack",
    "as_matrix",
    "blocks",
    "check",
    "check_act_bits",
    "csr",
    "dense",
    "describe",
    "hmd",
    "is_plain",
    "is_stack",
    "kernels_f32",
    "kernels_s8",
    "kron",
    "lowrank",
    "npz_decode",
    "npz_entry",
    "npz_reader",
    "npz_shape",
    "of",
    "onnx_block",
    "onnx_concat_readers",
    "onnx_readers",
    "onnx_sparse_reader",
    "onnx_whole",
    "permute_rows",
    "quantize",
    "scratch",
    "sparsify",
    "stack",
    "stack_rows",
]


def dense_matrix(w: np.ndarray) -> Any:
    """A plain float32 matrix (a conv's filters as rows: emit's one-window conv)."""
    return dense.dense(w)


def dense_s8(w: np.ndarray, offset: np.ndarray, mult: np.ndarray, shift: np.ndarray,
             bits: int = 8) -> Any:
    """An int8 plain matrix with its per-row offsets and requantization (int8 W [m, n];
    rnn_mat_vec_s8's operands; bits=4: values in [-7, 7], rnn_mat_vec_s4's)."""
    return dense.QDense(w=np.asarray(w, np.int8), offset=np.asarray(offset, np.int32),
                        mult=np.asarray(mult, np.int32), shift=np.asarray(shift, np.int32),
                        bits=bits)
