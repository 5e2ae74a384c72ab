"""Mutations of ONNX models, .npz models and board files (seeded: `random.Random`).

Each mutator returns the mutated file's bytes and a short description. ONNX edits go
through the protobuf fields (onnx.helper): element types, dims, raw data, attributes,
missing and duplicate names, cycles, dangling inputs, huge dims, NaN/Inf, opsets 1 and 99,
unknown domains; plus byte flips and truncation of the serialized file. No hostile names
(comment terminators, newlines, Makefile syntax): those belong to the emitter's own tests.
"""

from __future__ import annotations

import copy
import io
import json
import random
import struct
import zipfile
from typing import Any, Callable

import numpy as np
import onnx
from onnx import AttributeProto, TensorProto, helper

HUGE = [10**9, 2**31 - 1, 2**40, 10**6]
ODD_INTS = [-(2**62), -1, 0, 1, 2, 3, 7, 99, 10**9, 2**40]
ODD_FLOATS = [float("nan"), float("inf"), -float("inf"), -1.0, 0.0, 1e30, -1e-30]
DTYPES = [TensorProto.INT32, TensorProto.INT64, TensorProto.DOUBLE, TensorProto.FLOAT16,
          TensorProto.BFLOAT16, TensorProto.BOOL, TensorProto.UINT8, TensorProto.INT8,
          TensorProto.STRING, TensorProto.UNDEFINED, TensorProto.COMPLEX64, 99]
SAFE = "abcdefghij_0123456789"


def _word(rng: random.Random) -> str:
    return "".join(rng.choice(SAFE) for _ in range(rng.randint(1, 6)))


# ---------------------------------------------------------------------- ONNX

def _pick_init(rng: random.Random, m: onnx.ModelProto) -> Any | None:
    inits = list(m.graph.initializer)
    return rng.choice(inits) if inits else None


def _tensor_names(m: onnx.ModelProto) -> list[str]:
    names = [i.name for i in m.graph.input] + [t.name for t in m.graph.initializer]
    names += [o for n in m.graph.node for o in n.output if o]
    return names or ["x"]


def m_dtype(rng: random.Random, m: onnx.ModelProto) -> str:
    t = _pick_init(rng, m)
    if t is None:
        return "no initializer"
    old, t.data_type = t.data_type, rng.choice(DTYPES)
    return f"initializer '{t.name}' data_type {old} -> {t.data_type}"


def m_dims(rng: random.Random, m: onnx.ModelProto) -> str:
    t = _pick_init(rng, m)
    if t is None:
        return "no initializer"
    dims = list(t.dims)
    how = rng.choice(["neg", "zero", "huge", "plus", "drop", "add", "swap"])
    if how == "neg" and dims:
        dims[rng.randrange(len(dims))] = -1
    elif how == "zero" and dims:
        dims[rng.randrange(len(dims))] = 0
    elif how == "huge" and dims:
        dims[rng.randrange(len(dims))] = rng.choice(HUGE)
    elif how == "plus" and dims:
        dims[rng.randrange(len(dims))] += 1
    elif how == "drop" and dims:
        dims.pop(rng.randrange(len(dims)))
    elif how == "add":
        dims.insert(rng.randrange(len(dims) + 1), rng.choice([1, 2, 10**9]))
    elif len(dims) > 1:
        i, j = rng.sample(range(len(dims)), 2)
        dims[i], dims[j] = dims[j], dims[i]
    del t.dims[:]
    t.dims.extend(dims)
    return f"initializer '{t.name}' dims -> {dims}"


def m_raw(rng: random.Random, m: onnx.ModelProto) -> str:
    t = _pick_init(rng, m)
    if t is None:
        return "no initializer"
    if not t.raw_data:
        if t.float_data:
            del t.float_data[-1:]
            return f"initializer '{t.name}' float_data one short"
        t.raw_data = b"\x00" * rng.choice([1, 3, 4, 8])
        return f"initializer '{t.name}' raw_data added"
    n = len(t.raw_data)
    cut = rng.choice([0, 1, n // 2, n - 1, n + 1, n + 4, 2 * n])
    t.raw_data = (t.raw_data + b"\x01" * max(0, cut - n))[:cut]
    return f"initializer '{t.name}' raw_data {n} -> {cut} bytes"


def m_nan(rng: random.Random, m: onnx.ModelProto) -> str:
    t = _pick_init(rng, m)
    if t is None or t.data_type != TensorProto.FLOAT:
        return "no float initializer"
    a = onnx.numpy_helper.to_array(t).copy()
    if a.size == 0:
        return "empty"
    a.reshape(-1)[rng.randrange(a.size)] = rng.choice([np.nan, np.inf, -np.inf])
    t.CopyFrom(onnx.numpy_helper.from_array(a, t.name))
    return f"initializer '{t.name}' gets NaN/Inf"


def _odd_value(rng: random.Random, a: AttributeProto) -> None:
    if a.type == AttributeProto.INT:
        a.i = rng.choice(ODD_INTS)
    elif a.type == AttributeProto.FLOAT:
        a.f = rng.choice(ODD_FLOATS)
    elif a.type == AttributeProto.STRING:
        a.s = rng.choice([b"", b"sideways", b"\xff\xfe", _word(rng).encode(), b"forward"])
    elif a.type == AttributeProto.INTS:
        v = list(a.ints)
        how = rng.choice(["empty", "huge", "dup", "neg", "extra"])
        if how == "empty":
            v = []
        elif how == "huge":
            v = [rng.choice(HUGE)] + v[1:]
        elif how == "dup" and v:
            v = v + [v[0]]
        elif how == "neg":
            v = [-x - 5 for x in v]
        else:
            v = v + [rng.choice(ODD_INTS)]
        del a.ints[:]
        a.ints.extend(v)
    elif a.type == AttributeProto.FLOATS:
        del a.floats[rng.randrange(len(a.floats)) if a.floats else 0:]
        a.floats.extend([rng.choice(ODD_FLOATS)])
    elif a.type == AttributeProto.STRINGS:
        v = list(a.strings)
        v = rng.choice([[], v + [b"Tanh"], [b"\xff"] + v[1:], [b"NoSuchAct"] * len(v)])
        del a.strings[:]
        a.strings.extend(v)
    elif a.type == AttributeProto.TENSOR:
        a.t.data_type = rng.choice(DTYPES)


def m_attr(rng: random.Random, m: onnx.ModelProto) -> str:
    nodes = [n for n in m.graph.node if n.attribute]
    if not nodes:
        return "no attributes"
    n = rng.choice(nodes)
    a = rng.choice(list(n.attribute))
    how = rng.choice(["value", "value", "value", "type", "drop", "unknown"])
    if how == "value":
        _odd_value(rng, a)
    elif how == "type":
        new = rng.choice([helper.make_attribute(a.name, "four"),
                          helper.make_attribute(a.name, 4),
                          helper.make_attribute(a.name, 0.5),
                          helper.make_attribute(a.name, [1, 2]),
                          helper.make_attribute(a.name, [b"x", b"y"])])
        a.CopyFrom(new)
    elif how == "drop":
        n.attribute.remove(a)
    else:
        n.attribute.append(helper.make_attribute("zz_" + _word(rng), rng.choice([1, 1.5, "s"])))
    return f"node '{n.name}' ({n.op_type}) attribute '{a.name}' {how}"


def m_add_attr(rng: random.Random, m: onnx.ModelProto) -> str:
    """An attribute the op has, with an odd value (hidden_size, layout, axis, perm, ...)."""
    if not m.graph.node:
        return "no nodes"
    n = rng.choice(list(m.graph.node))
    name = rng.choice(["hidden_size", "layout", "direction", "axis", "perm", "clip",
                       "activations", "linear_before_reset", "input_forget", "to", "transB",
                       "alpha", "axes", "keepdims", "allowzero"])
    val = rng.choice([rng.choice(ODD_INTS), rng.choice(ODD_FLOATS), "reverse", [0, 0],
                      [b"Relu", b"Foo"], rng.choice(HUGE)])
    for a in list(n.attribute):
        if a.name == name:
            n.attribute.remove(a)
    n.attribute.append(helper.make_attribute(name, val))
    return f"node '{n.name}' ({n.op_type}) attribute {name}={val!r}"


def m_dangling(rng: random.Random, m: onnx.ModelProto) -> str:
    nodes = [n for n in m.graph.node if n.input]
    if not nodes:
        return "no inputs"
    n = rng.choice(nodes)
    k = rng.randrange(len(n.input))
    n.input[k] = rng.choice(["nowhere", "", n.output[0] if n.output else "nowhere"])
    return f"node '{n.name}' input {k} -> '{n.input[k]}'"


def m_drop_init(rng: random.Random, m: onnx.ModelProto) -> str:
    t = _pick_init(rng, m)
    if t is None:
        return "no initializer"
    m.graph.initializer.remove(t)
    return f"initializer '{t.name}' removed"


def m_duplicate(rng: random.Random, m: onnx.ModelProto) -> str:
    g = m.graph
    how = rng.choice(["init", "output", "input", "node"])
    if how == "init" and g.initializer:
        t = copy.deepcopy(rng.choice(list(g.initializer)))
        other = rng.choice(list(g.initializer))
        t.name = other.name
        g.initializer.append(t)
        return f"initializer '{t.name}' twice"
    if how == "output" and len(g.node) > 1:
        a, b = rng.sample(list(g.node), 2)
        if a.output and b.output:
            b.output[0] = a.output[0]
            return f"nodes '{a.name}' and '{b.name}' write '{a.output[0]}'"
    if how == "input" and g.input:
        g.input.append(copy.deepcopy(g.input[0]))
        return f"graph input '{g.input[0].name}' twice"
    if g.node:
        n = copy.deepcopy(rng.choice(list(g.node)))
        g.node.insert(rng.randrange(len(g.node) + 1), n)
        return f"node '{n.name}' twice"
    return "nothing duplicated"


def m_cycle(rng: random.Random, m: onnx.ModelProto) -> str:
    nodes = list(m.graph.node)
    if not nodes:
        return "no nodes"
    i = rng.randrange(len(nodes))
    j = rng.randrange(i, len(nodes))
    a, b = nodes[i], nodes[j]
    if not a.input or not b.output:
        return "no cycle"
    a.input[0] = b.output[0]
    return f"node '{a.name}' reads '{b.output[0]}' of node '{b.name}' (cycle)"


def m_shuffle(rng: random.Random, m: onnx.ModelProto) -> str:
    nodes = list(m.graph.node)
    rng.shuffle(nodes)
    del m.graph.node[:]
    m.graph.node.extend(nodes)
    return "nodes shuffled"


def m_input(rng: random.Random, m: onnx.ModelProto) -> str:
    if not m.graph.input:
        return "no input"
    tt = m.graph.input[0].type.tensor_type
    how = rng.choice(["huge", "neg", "zero", "param", "add", "drop", "dtype", "noshape"])
    dims = tt.shape.dim
    if how in ("huge", "neg", "zero", "param") and len(dims):
        d = dims[rng.randrange(len(dims))]
        if how == "param":
            d.dim_param = _word(rng)
        else:
            d.dim_value = {"huge": rng.choice(HUGE), "neg": -3, "zero": 0}[how]
    elif how == "add":
        dims.add().dim_value = rng.choice([1, 2, 10**9])
    elif how == "drop" and len(dims):
        del dims[rng.randrange(len(dims))]
    elif how == "dtype":
        tt.elem_type = rng.choice(DTYPES)
    else:
        tt.ClearField("shape")
    return f"graph input {how}"


def m_opset(rng: random.Random, m: onnx.ModelProto) -> str:
    how = rng.choice(["version", "version", "domain", "drop", "ir"])
    if how == "version":
        v = rng.choice([0, 1, 1, 6, 9, 99, 99, 10**9, -1])
        for o in m.opset_import:
            if o.domain in ("", "ai.onnx"):
                o.version = v
        return f"opset {v}"
    if how == "domain":
        m.opset_import.append(helper.make_opsetid("com.example." + _word(rng), 1))
        return "unknown opset domain"
    if how == "drop":
        del m.opset_import[:]
        return "no opset_import"
    m.ir_version = rng.choice([0, 1, 3, 99])
    return f"ir_version {m.ir_version}"


def m_domain(rng: random.Random, m: onnx.ModelProto) -> str:
    if not m.graph.node:
        return "no nodes"
    n = rng.choice(list(m.graph.node))
    n.domain = rng.choice(["com.example", "ai.onnx.ml", "com.microsoft", "ai.onnx"])
    return f"node '{n.name}' domain '{n.domain}'"


OPS = ["LSTM", "GRU", "RNN", "Gemm", "MatMul", "Add", "Relu", "Softmax", "Reshape", "Slice",
       "Gather", "Concat", "Transpose", "Squeeze", "Identity", "Cast", "ConstantOfShape",
       "Expand", "Tile", "Range", "NoSuchOp"]


def m_optype(rng: random.Random, m: onnx.ModelProto) -> str:
    if not m.graph.node:
        return "no nodes"
    n = rng.choice(list(m.graph.node))
    old, n.op_type = n.op_type, rng.choice(OPS)
    return f"node '{n.name}' {old} -> {n.op_type}"


def m_outputs(rng: random.Random, m: onnx.ModelProto) -> str:
    g = m.graph
    how = rng.choice(["input", "input", "drop", "inner", "missing", "clear"])
    if how == "input" and g.input:
        vi = copy.deepcopy(g.input[0])
        if rng.random() < 0.5:
            g.output.insert(rng.randrange(len(g.output) + 1), vi)
        else:
            g.output.append(vi)
        return f"graph input '{vi.name}' is also a graph output"
    if how == "drop" and g.output:
        g.output.remove(rng.choice(list(g.output)))
        return "an output dropped"
    if how == "inner":
        name = rng.choice(_tensor_names(m))
        g.output.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, None))
        return f"'{name}' made an output"
    if how == "missing":
        g.output.append(helper.make_tensor_value_info("nowhere", TensorProto.FLOAT, None))
        return "output 'nowhere'"
    del g.output[:]
    return "no outputs"


def m_external(rng: random.Random, m: onnx.ModelProto) -> str:
    t = _pick_init(rng, m)
    if t is None:
        return "no initializer"
    t.data_location = TensorProto.EXTERNAL
    del t.external_data[:]
    loc = rng.choice(["missing.bin", ".", "sub/none.bin", "", "model.onnx"])
    for k, v in (("location", loc), ("offset", str(rng.choice([0, 10**12, -5]))),
                 ("length", str(rng.choice([4, 10**12, 0])))):
        e = t.external_data.add()
        e.key, e.value = k, v
    t.ClearField("raw_data")
    return f"initializer '{t.name}' external data '{loc}'"


def m_node_io(rng: random.Random, m: onnx.ModelProto) -> str:
    """Drop or add inputs/outputs of a node."""
    if not m.graph.node:
        return "no nodes"
    n = rng.choice(list(m.graph.node))
    how = rng.choice(["drop_in", "add_in", "drop_out", "add_out"])
    if how == "drop_in" and n.input:
        del n.input[-1]
    elif how == "add_in":
        n.input.append(rng.choice(_tensor_names(m)))
    elif how == "drop_out" and n.output:
        del n.output[-1]
    else:
        n.output.append("extra_" + _word(rng))
    return f"node '{n.name}' {how}"


STRUCTURAL: list[Callable[[random.Random, onnx.ModelProto], str]] = [
    m_dtype, m_dims, m_raw, m_nan, m_attr, m_attr, m_add_attr, m_dangling, m_drop_init,
    m_duplicate, m_cycle, m_shuffle, m_input, m_opset, m_domain, m_optype, m_outputs,
    m_external, m_node_io]


def mutate_onnx(rng: random.Random, seed: bytes) -> tuple[bytes, str]:
    r = rng.random()
    if r < 0.12:  # byte flips
        b = bytearray(seed)
        k = rng.choice([1, 1, 2, 4, 16])
        for _ in range(k):
            i = rng.randrange(len(b))
            b[i] ^= rng.randrange(1, 256)
        return bytes(b), f"{k} byte flip(s)"
    if r < 0.18:
        n = rng.randrange(len(seed))
        return seed[:n], f"truncated to {n} of {len(seed)} bytes"
    m = onnx.ModelProto()
    m.ParseFromString(seed)
    descs = []
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        fn = rng.choice(STRUCTURAL)
        try:
            descs.append(fn(rng, m))
        except ValueError:  # an earlier edit left a tensor onnx cannot convert: keep it
            descs.append(f"{fn.__name__} skipped")
    return m.SerializeToString(), "; ".join(descs)


# ---------------------------------------------------------------------- .npz

def _paths(obj: Any, prefix: tuple = ()) -> list[tuple]:
    """Every key path into a JSON value (dict keys and list indices)."""
    out = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            out.append(prefix + (k,))
            out += _paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out.append(prefix + (i,))
            out += _paths(v, prefix + (i,))
    return out


def _get(obj: Any, path: tuple) -> Any:
    for k in path:
        obj = obj[k]
    return obj


def _odd_json(rng: random.Random) -> Any:
    return rng.choice([-1, 0, 10**9, 10**30, "four", None, [], {}, True, 1.5, "", "lstm",
                       {"format": "dense"}, [1, 2], "\udcff" if False else "dense", 2**63])


def npy_bytes(arr: np.ndarray, header_shape: tuple | None = None,
              descr: str | None = None) -> bytes:
    """An .npy file; header_shape/descr replace the header's fields (the data stays)."""
    d = {"descr": descr or np.lib.format.dtype_to_descr(arr.dtype), "fortran_order": False,
         "shape": tuple(arr.shape) if header_shape is None else header_shape}
    h = repr(d).encode("latin1")
    pad = 64 - (10 + len(h) + 1) % 64
    h = h + b" " * pad + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h + arr.tobytes()


def write_npz(manifest: Any, arrays: dict[str, Any], raw: dict[str, bytes] | None = None,
              manifest_arr: np.ndarray | None = None, deep: int = 0) -> bytes:
    """deep: replace the manifest's layers by a list nested that deep (written as text)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        text = json.dumps(manifest)
        if deep:
            text = text[:-1] + ', "layers": ' + "[" * deep + "1" + "]" * deep + "}"
        man = manifest_arr if manifest_arr is not None else np.array(text)
        z.writestr("__rnngen__.npy", npy_bytes(man))
        for k, v in arrays.items():
            if isinstance(v, np.ndarray) and v.dtype == object:
                b = io.BytesIO()
                np.save(b, v, allow_pickle=True)
                z.writestr(k + ".npy", b.getvalue())
            else:
                z.writestr(k + ".npy", npy_bytes(np.asarray(v)))
        for k, b in (raw or {}).items():
            z.writestr(k, b)
    return buf.getvalue()


def mutate_npz(rng: random.Random, manifest: dict, arrays: dict[str, np.ndarray]
               ) -> tuple[bytes, str]:
    man = copy.deepcopy(manifest)
    arr = dict(arrays)
    names = sorted(arr)
    how = rng.choice(["del", "value", "value", "value", "extra", "dtype", "dtype", "shape",
                      "shape", "nan", "drop_array", "pickle", "header", "zip_flip", "zip_cut",
                      "deep", "manifest", "seq_len", "bomb"])
    raw: dict[str, bytes] = {}
    man_arr = None
    deep = 0
    desc = how
    paths = _paths(man)
    if how == "del" and paths:
        p = rng.choice(paths)
        parent = _get(man, p[:-1])
        del parent[p[-1]]
        desc = f"manifest {list(p)} deleted"
    elif how == "value" and paths:
        p = rng.choice(paths)
        v = _odd_json(rng)
        _get(man, p[:-1])[p[-1]] = v
        desc = f"manifest {list(p)} = {v!r}"
    elif how == "extra":
        dicts = [p for p in paths if isinstance(_get(man, p), dict)] + [()]
        _get(man, rng.choice(dicts))["zz_" + _word(rng)] = 1
        desc = "unknown manifest field"
    elif how == "dtype" and names:
        k = rng.choice(names)
        dt = rng.choice(["float64", "float16", "int32", "int64", "bool", "complex64", "U3",
                         "uint8", "datetime64[s]", "object", "V4", "f4,f4"])
        try:
            arr[k] = arr[k].astype(dt)
        except (TypeError, ValueError):
            arr[k] = np.zeros(arr[k].shape, dt)
        desc = f"array '{k}' as {dt}"
    elif how == "shape" and names:
        k = rng.choice(names)
        a = arr[k]
        arr[k] = rng.choice([a.T, a.reshape(1, *a.shape), a.reshape(-1)[:max(0, a.size - 1)],
                             np.zeros((0,) + a.shape[1:], a.dtype), a[..., None],
                             np.float32(1.5)])
        desc = f"array '{k}' shape {a.shape} -> {np.shape(arr[k])}"
    elif how == "nan" and names:
        k = rng.choice(names)
        a = arr[k].copy()
        if a.dtype.kind == "f" and a.size:
            a.reshape(-1)[rng.randrange(a.size)] = rng.choice([np.nan, np.inf])
        arr[k] = a
        desc = f"array '{k}' NaN/Inf"
    elif how == "drop_array" and names:
        k = rng.choice(names)
        del arr[k]
        desc = f"array '{k}' removed"
    elif how == "pickle" and names:
        k = rng.choice(names)
        o = np.empty(2, dtype=object)
        o[0], o[1] = {"a": 1}, [1, 2]
        arr[k] = o
        desc = f"array '{k}' is a pickled object array"
    elif how == "header" and names:
        k = rng.choice(names)
        a = np.ascontiguousarray(arr.pop(k))
        shape = rng.choice([(10**9,), (10**6, 1000), (2**40, 2), (-1, 4), (a.size + 1,),
                            ("four",), ()])
        raw[k + ".npy"] = npy_bytes(a, header_shape=shape)
        desc = f"array '{k}' header says shape {shape}"
    elif how == "deep":
        man.pop("layers", None)
        deep = rng.choice([50, 2000, 100000])
        desc = f"manifest nested {deep} deep"
    elif how == "manifest":
        man_arr = rng.choice([np.array(b"\xff\xfe{}"), np.array([1.0, 2.0]),
                              np.array("{" * 10), np.array("[]"), np.zeros(0, "U1")])
        desc = f"manifest array {man_arr!r}"[:80]
    elif how == "seq_len":
        v = rng.choice([10**9, 10**6, 2**31, 0, -1])
        man["seq_len"] = v
        desc = f"seq_len {v}"
    elif how == "bomb" and names:
        k = rng.choice(names)
        a = arr.pop(k)
        n = 1 << 24  # 64 MiB of float32 zeros; deflates to ~64 KiB
        raw[k + ".npy"] = npy_bytes(np.zeros(n, np.float32), header_shape=(n,),
                                    descr=np.lib.format.dtype_to_descr(a.dtype))
        desc = f"array '{k}' is 64 MiB of zeros"
    data = write_npz(man, arr, raw, man_arr, deep)
    if how == "zip_flip":
        b = bytearray(data)
        for _ in range(rng.choice([1, 2, 8])):
            b[rng.randrange(len(b))] ^= rng.randrange(1, 256)
        data = bytes(b)
    elif how == "zip_cut":
        data = data[:rng.randrange(len(data))]
    return data, desc


# ---------------------------------------------------------------------- board files

def _toml_value(rng: random.Random) -> str:
    return rng.choice(["-1", "0", "4294967296", "9223372036854775807", "9223372036854775808",
                       "1.5", "true", '""', '"x"', "[]", '["a", 1]', "{}", '"0xZZ"',
                       '"0x20000000"', "[1, 2]", '"baremetal"', '"host"', '"neon"'])


def mutate_board(rng: random.Random, text: str) -> tuple[bytes, str]:
    lines = text.splitlines()
    how = rng.choice(["drop", "value", "value", "value", "dup", "flip", "cut", "utf8",
                      "region"])
    keyed = [i for i, line in enumerate(lines) if "=" in line and not line.startswith("#")]
    desc = how
    if how == "drop" and keyed:
        i = rng.choice(keyed)
        desc = f"line dropped: {lines[i][:40]}"
        del lines[i]
    elif how == "value" and keyed:
        i = rng.choice(keyed)
        key = lines[i].split("=", 1)[0]
        lines[i] = f"{key}= {_toml_value(rng)}"
        desc = f"value: {lines[i][:60]}"
    elif how == "dup" and keyed:
        i = rng.choice(keyed)
        lines.insert(i, lines[i])
        desc = f"duplicated: {lines[i][:40]}"
    elif how == "region":
        lines = [line.replace("length = ", f"length = {rng.choice(['0', '-4', '4294967296'])}"
                              " + 0 # ") if "length" in line and rng.random() < 0.5 else line
                 for line in lines]
        desc = "memory region lengths"
    data = ("\n".join(lines) + "\n").encode()
    if how == "flip":
        b = bytearray(data)
        b[rng.randrange(len(b))] ^= rng.randrange(1, 128)
        data = bytes(b)
    elif how == "cut":
        data = data[:rng.randrange(len(data))]
    elif how == "utf8":
        i = rng.randrange(len(data))
        data = data[:i] + b"\xff\xfe" + data[i:]
    return data, desc
