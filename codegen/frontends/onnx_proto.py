"""ONNX protocol-buffer helpers shared by the ONNX frontend (onnx.py, onnx_compressed.py) and
the compressor (compress_onnx.py): reading a model with its external data, attributes,
sparse tensors, and evaluating one node at compile time. One reader of ONNX files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .. import limits
from ..errors import RnngenError
from . import onnx_check


def short(e: BaseException) -> str:
    """The first line of an exception's message (at most 200 characters)."""
    s = str(e).strip().splitlines()
    return (s[0] if s else type(e).__name__)[:200]


def read_model(path: Path) -> Any:
    """An ONNX model with its external data, every tensor's type, dims and data length
    checked before any value is read (onnx_check.check_tensors)."""
    import onnx

    if path.stat().st_size > limits.MAX_ONNX_BYTES:
        raise RnngenError(f"{path}: {path.stat().st_size} bytes, more than an ONNX file can "
                          "hold (2 GiB; larger weights go into external data files)")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as e:  # DecodeError, truncated protobuf, not ONNX at all
        raise RnngenError(f"{path}: not a readable ONNX model ({short(e)})") from None
    if not model.graph.node and not model.graph.input:
        raise RnngenError(f"{path}: not a readable ONNX model (no graph)")
    # opset, types, dims, data lengths: before any value is read
    onnx_check.check_tensors(model, path)
    load_external(model, path)
    return model


def load_external(model: Any, path: Path) -> None:
    """Read the initializers stored in external data files beside the model, after checking
    that each file is a regular file in the model's folder (or below it) and that offset and
    length stay inside it and match the tensor's dims and type."""
    from onnx import numpy_helper
    from onnx.external_data_helper import uses_external_data

    base = path.parent.resolve()
    for t in model.graph.initializer:
        if not uses_external_data(t):
            continue
        where = f"{path}: initializer '{t.name}'"
        info = {kv.key: kv.value for kv in t.external_data}
        loc = info.get("location", "")
        f = (path.parent / loc).resolve() if loc else base
        if not loc or Path(loc).is_absolute() or base not in (f, *f.parents) or f == base:
            raise RnngenError(f"{where}: external data location '{loc}' must name a file in "
                              "the model's folder")
        if not f.exists():
            raise RnngenError(f"{where} refers to external data file '{loc}', which does not "
                              "exist beside the model")
        if not f.is_file():
            raise RnngenError(f"{where}: external data '{loc}' is not a regular file")
        size = f.stat().st_size
        try:
            offset = int(info.get("offset", "0"))
            length = int(info["length"]) if "length" in info else size - offset
        except ValueError:
            raise RnngenError(f"{where}: external data offset/length are not integers") \
                from None
        need = limits.elements(t.dims) * onnx_check.item_size(t.data_type)
        if offset < 0 or length != need or offset + length > size:
            raise RnngenError(f"{where}: external data '{loc}' offset {offset} length {length} "
                              f"does not hold the {need} bytes of dims {list(t.dims)} "
                              f"(the file has {size} bytes)")
        try:
            with open(f, "rb") as fh:
                fh.seek(offset)
                data = fh.read(length)
        except OSError as e:
            raise RnngenError(f"{where}: cannot read external data '{loc}' ({e.strerror})") \
                from None
        t.ClearField("external_data")
        t.data_location = 0
        t.raw_data = data
        numpy_helper.to_array(t)  # the tensor is consistent now


def attrs(node: Any) -> dict[str, Any]:
    from onnx import helper

    out = {}
    for a in node.attribute:
        v = helper.get_attribute_value(a)
        if isinstance(v, bytes):  # not UTF-8: kept visible, refused where it is checked
            v = v.decode("utf-8", "backslashreplace")
        elif isinstance(v, list) and v and isinstance(v[0], bytes):
            v = [x.decode("utf-8", "backslashreplace") for x in v]
        out[a.name] = v
    return out


def eval_node(node: Any, values: dict[str, np.ndarray], opset_import: Any) -> list[Any]:
    """Run one node with onnx's reference operators on constant inputs (exceptions pass to
    the caller, which names the node)."""
    from onnx import helper
    from onnx.reference import ReferenceEvaluator

    present = [i for i in node.input if i]
    outs = [o for o in node.output if o]
    vin = [helper.make_tensor_value_info(i, 1, None) for i in present]
    vout = [helper.make_tensor_value_info(o, 1, None) for o in outs]
    graph = helper.make_graph([node], "fold", vin, vout)
    m = helper.make_model(graph, opset_imports=list(opset_import))
    return ReferenceEvaluator(m).run(None, {i: values[i] for i in present})


# ---------------------------------------------------------------------- sparse tensors

def sparse_coords(sp: Any, where: str) -> tuple[np.ndarray, np.ndarray, tuple[int, ...]]:
    """(values, row-major linear indices, dims) of a SparseTensorProto, indices checked:
    in range, strictly increasing (as ONNX requires)."""
    from onnx import numpy_helper

    name = sp.values.name
    dims = tuple(int(d) for d in sp.dims)
    try:
        values = np.asarray(numpy_helper.to_array(sp.values))
        idx = np.asarray(numpy_helper.to_array(sp.indices)).astype(np.int64)
    except Exception as e:
        msg = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
        raise RnngenError(f"{where}: sparse initializer '{name}' cannot be read ({msg})") \
            from None
    values = values.reshape(-1)
    size = int(np.prod(dims)) if dims else 1
    if idx.ndim == 2 and idx.shape[1] == len(dims) and len(dims) > 1:
        bad = np.nonzero((idx < 0) | (idx >= np.asarray(dims)))[0]
        if bad.size:
            k = int(bad[0])
            raise RnngenError(f"{where}: sparse initializer '{name}' index "
                              f"{idx[k].tolist()} (entry {k}) is out of range for shape "
                              f"{list(dims)}")
        lin = np.ravel_multi_index(tuple(idx.T), dims) if idx.size else np.zeros(0, np.int64)
    elif idx.ndim == 1 or (idx.ndim == 2 and idx.shape[1] == 1):
        lin = idx.reshape(-1)
        bad = np.nonzero((lin < 0) | (lin >= size))[0]
        if bad.size:
            k = int(bad[0])
            raise RnngenError(f"{where}: sparse initializer '{name}' index {int(lin[k])} "
                              f"(entry {k}) is out of range 0..{size - 1} for shape "
                              f"{list(dims)}")
    else:
        raise RnngenError(f"{where}: sparse initializer '{name}' has indices of shape "
                          f"{tuple(idx.shape)}, expected [nnz] or [nnz, {len(dims)}]")
    if lin.size != values.size:
        raise RnngenError(f"{where}: sparse initializer '{name}' has {values.size} values and "
                          f"{lin.size} indices")
    if lin.size > 1:
        bad = np.nonzero(np.diff(lin) <= 0)[0]
        if bad.size:
            k = int(bad[0]) + 1
            raise RnngenError(f"{where}: sparse initializer '{name}' indices are not sorted "
                              f"(row-major, increasing, no repeats) at entry {k}")
    return values, lin, dims


def sparse_to_dense(sp: Any, path: Path) -> np.ndarray:
    """The dense value of a sparse initializer (for the ordinary fold)."""
    values, lin, dims = sparse_coords(sp, str(path))
    out = np.zeros(int(np.prod(dims)) if dims else 1, values.dtype)
    out[lin] = values
    return out.reshape(dims)
