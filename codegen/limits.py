"""Size limits rnngen checks from declared shapes before it allocates (docs/limits.md).

Every limit is far above what a model for the boards rnngen targets needs; a file that
declares more is refused with a one-line error before any memory is spent on it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from .errors import RnngenError

# elements of one tensor: an initializer, a folded constant, an .npz array, a run-time tensor
MAX_TENSOR_ELEMENTS = 1 << 24  # 16,777,216 (64 MiB of float32)
# elements of all the constants of one model (initializers and folded constants together)
MAX_MODEL_ELEMENTS = 1 << 26  # 67,108,864 (256 MiB of float32)
# time steps the model is compiled for (--seq-len, a fixed time axis, an .npz seq_len)
MAX_SEQ_LEN = 1 << 16  # 65,536
# values of the golden input and of the golden outputs (test/golden.h), each
MAX_GOLDEN_VALUES = 1 << 20  # 1,048,576
# bytes of an ONNX file (protobuf cannot hold more) and of an .npz manifest
MAX_ONNX_BYTES = (1 << 31) - 1
MAX_MANIFEST_BYTES = 1 << 20
# nesting of an .npz manifest (JSON objects and lists), and of compressed blocks in ONNX
MAX_NESTING = 32
# ai.onnx opsets: 7 is the first with NumPy broadcasting (ONNX 1.2); the newest is the
# installed onnx package's (onnx.defs.onnx_opset_version())
MIN_OPSET = 7


def max_opset() -> int:
    import onnx

    return int(onnx.defs.onnx_opset_version())


def elements(shape: Iterable[int]) -> int:
    return math.prod(int(d) for d in shape)


def check_elements(where: str, shape: Iterable[int], what: str = "tensor") -> int:
    """The element count of `shape`; RnngenError (naming `where`) if a dimension is negative
    or the count is over MAX_TENSOR_ELEMENTS."""
    dims = [int(d) for d in shape]
    if any(d < 0 for d in dims):
        raise RnngenError(f"{where}: {what} has a negative dimension {dims}")
    n = math.prod(dims)
    if n > MAX_TENSOR_ELEMENTS:
        raise RnngenError(f"{where}: {what} of shape {dims} has {n} elements, over rnngen's "
                          f"limit of {MAX_TENSOR_ELEMENTS} (docs/limits.md)")
    return n


def check_seq_len(where: str, T: int) -> None:
    if T > MAX_SEQ_LEN:
        raise RnngenError(f"{where}: sequence length {T} is over rnngen's limit of "
                          f"{MAX_SEQ_LEN} steps (docs/limits.md)")
