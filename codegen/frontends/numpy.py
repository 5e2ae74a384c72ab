"""NumPy frontend: an rnngen .npz export -> ir.Graph.

The format is specified in docs/npz-format.md: an npz archive with one array `__rnngen__`
holding a JSON manifest (format version, input size, sequence length, output mode, an
ordered list of layers) and one array per weight, named by the manifest.

Steps: read the manifest and check every field -> walk the layers in order, each lowered
to IR nodes on a [T, 1, width] tensor (time, batch, features) -> for output "last", slice
the last time step after the last recurrent layer (everything after it is step-wise).
Recurrent gates are reordered into ONNX order here; PyTorch's GRU is ONNX's GRU with
linear_before_reset=1. NaN/Inf weights are refused later by the validate pass.

`parse` works on a manifest and a mapping of arrays, so `rnngen.npz.save` checks what it is
about to write with exactly the rules `load` applies.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from .. import cells, cgen, formats, ir, limits, npyio
from ..errors import RnngenError, UnsupportedModel

F32 = np.float32

MANIFEST = "__rnngen__"  # name of the manifest array in the archive
FORMAT_VERSION = 1  # the newest format version this frontend reads

OUTPUT_MODES = ("sequence", "last")
DIRECTIONS = {"forward": 1, "reverse": 1, "bidirectional": 2}
CELLS = {"lstm": "LSTM", "gru": "GRU", "rnn": "RNN", "fastrnn": "FastRNN",
         "fastgrnn": "FastGRNN", "sru": "SRU"}
ACTIVATIONS = {"relu": "Relu", "tanh": "Tanh", "sigmoid": "Sigmoid"}
# FastRNN / FastGRNN (Microsoft EdgeML): the scalars of each direction, stored before the
# sigmoid, and the nonlinearity fields with their defaults
FAST_SCALARS = {"FastRNN": ("alpha", "beta"), "FastGRNN": ("zeta", "nu")}
FAST_NONLINEARITIES = {"FastRNN": (("update_nonlinearity", "tanh"),),
                       "FastGRNN": (("gate_nonlinearity", "sigmoid"),
                                    ("update_nonlinearity", "tanh"))}
RNN_NONLINEARITIES = {"tanh": "Tanh", "relu": "Relu"}

# Row blocks of W, R and the biases, from the stored gate order to ONNX order
# (LSTM i,o,f,c; GRU z,r,h). PyTorch stores LSTM as i,f,g,o and GRU as r,z,n.
GATE_ORDERS = ("onnx", "pytorch")
_TO_ONNX = {
    ("LSTM", "onnx"): (0, 1, 2, 3), ("LSTM", "pytorch"): (0, 3, 1, 2),
    ("GRU", "onnx"): (0, 1, 2), ("GRU", "pytorch"): (1, 0, 2),
    ("RNN", "onnx"): (0,), ("RNN", "pytorch"): (0,),
}

_TOP_FIELDS = {"format_version", "name", "input_size", "seq_len", "output", "layers"}


def load(path: Path, seq_len: int | None = None) -> ir.Graph:
    """Read an rnngen .npz export; `seq_len` (--seq-len) overrides the manifest's."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            magic = f.read(6)
    except OSError as e:
        raise RnngenError(f"{path}: cannot read the model ({e.strerror})") from None
    if magic == b"\x93NUMPY":
        raise RnngenError(f"{path}: not an .npz archive (a single .npy array); write rnngen "
                          "models with rnngen.npz.save")
    with npyio.NpzReader(path) as archive:
        manifest = read_manifest(archive, path)
        return parse(manifest, _NpzArrays(archive, path), path, seq_len)


def read_manifest(archive: Any, path: Path) -> dict[str, Any]:
    """The decoded JSON manifest of an open archive (an npyio.NpzReader, or a mapping of
    arrays)."""
    names = list(archive.names if isinstance(archive, npyio.NpzReader) else archive.keys())
    if MANIFEST not in names:
        raise RnngenError(f"{path}: not an rnngen .npz (no '{MANIFEST}' manifest array; write "
                          "models with rnngen.npz.save, see docs/npz-format.md)")
    if isinstance(archive, npyio.NpzReader):
        try:
            shape, dtype = archive.header(MANIFEST)
        except RnngenError as e:
            why = str(e).split(f"array '{MANIFEST}'", 1)[-1].lstrip(": ")
            raise RnngenError(f"{path}: manifest '{MANIFEST}' {why}") from None
        if dtype.kind not in "US" or limits.elements(shape) != 1:
            raise RnngenError(f"{path}: manifest '{MANIFEST}' must be one string "
                              f"(np.array(json_text)), got an array of {dtype} with shape "
                              f"{shape}")
        if dtype.itemsize > limits.MAX_MANIFEST_BYTES * 4:
            raise RnngenError(f"{path}: manifest '{MANIFEST}' is {dtype.itemsize} bytes, over "
                              f"rnngen's limit of {limits.MAX_MANIFEST_BYTES} (docs/limits.md)")
        arr = archive.read(MANIFEST)
    else:
        arr = archive[MANIFEST]
    if not isinstance(arr, np.ndarray) or arr.dtype.kind not in "US" or arr.size != 1:
        raise RnngenError(f"{path}: manifest '{MANIFEST}' must be one string (np.array(json_text)"
                          f"), got an array of {getattr(arr, 'dtype', type(arr).__name__)} "
                          f"with shape {getattr(arr, 'shape', ())}")
    text = arr.reshape(())[()]
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise RnngenError(f"{path}: manifest '{MANIFEST}' is not UTF-8 text") from None
    try:
        manifest = json.loads(str(text))
    except json.JSONDecodeError as e:
        raise RnngenError(f"{path}: manifest '{MANIFEST}' is not valid JSON ({e})") from None
    except RecursionError:
        raise RnngenError(f"{path}: manifest '{MANIFEST}' nests deeper than "
                          f"{limits.MAX_NESTING} levels") from None
    depth = _depth(manifest)
    if depth > limits.MAX_NESTING:
        raise RnngenError(f"{path}: manifest '{MANIFEST}' nests {depth} levels deep, over "
                          f"rnngen's limit of {limits.MAX_NESTING} (docs/limits.md)")
    if not isinstance(manifest, dict):
        raise RnngenError(f"{path}: manifest '{MANIFEST}' must be a JSON object, got "
                          f"{_json_type(manifest)}")
    return manifest


def _depth(v: Any) -> int:
    """Nesting depth of a JSON value (objects and lists), without recursion."""
    deepest, todo = 0, [(v, 1)]
    while todo:
        x, d = todo.pop()
        if isinstance(x, (dict, list)):
            deepest = max(deepest, d)
            if d <= limits.MAX_NESTING:
                todo.extend((y, d + 1) for y in (x.values() if isinstance(x, dict) else x))
    return deepest


def parse(manifest: Mapping[str, Any], arrays: Mapping[str, Any], source: str | Path,
          seq_len: int | None = None) -> ir.Graph:
    """Build the IR from a decoded manifest and its arrays (by name)."""
    return _Builder(manifest, arrays, str(source), seq_len).run()


def _short(e: BaseException) -> str:
    s = str(e).strip().splitlines()
    return (s[0] if s else type(e).__name__)[:200]


def _json_type(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "a boolean"
    if isinstance(v, (int, float)):
        return "a number"
    if isinstance(v, str):
        return "a string"
    if isinstance(v, list):
        return "a list"
    if isinstance(v, dict):
        return "an object"
    return type(v).__name__


def _c_name(stem: str) -> str:
    return cgen.default_name(stem)


class _NpzArrays(Mapping[str, Any]):
    """Lazy access to the arrays of an open archive; `header(name)` gives shape and dtype
    before any data is read. Read errors are RnngenErrors naming the array."""

    def __init__(self, archive: npyio.NpzReader, path: Path):
        self.archive = archive
        self.path = path
        self.names = set(archive.names)

    def header(self, name: str) -> tuple[tuple[int, ...], np.dtype]:
        return self.archive.header(name)

    def __getitem__(self, name: str) -> Any:
        if name not in self.names:
            raise KeyError(name)
        return self.archive.read(name)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.names)

    def __len__(self) -> int:
        return len(self.names)


class _Builder:
    def __init__(self, manifest: Mapping[str, Any], arrays: Mapping[str, Any], source: str,
                 seq_len: int | None):
        self.m = manifest
        self.arrays = arrays
        self.src = source
        self.seq_len_opt = seq_len
        self.nodes: list[ir.Node] = []
        self.shapes: dict[str, ir.Shape] = {}
        self.names: set[str] = set()
        self.T = 1
        self.node_names: set[str] = set()

    # ------------------------------------------------------------------ helpers
    def fail(self, where: str, msg: str) -> RnngenError:
        return RnngenError(f"{self.src}: {where}{': ' if where else ''}{msg}")

    def fresh(self, base: str, taken: set[str] | None = None) -> str:
        """An unused tensor name (or, with `taken`, an unused name in that set)."""
        taken = self.names if taken is None else taken
        name, k = base, 1
        while name in taken:
            name, k = f"{base}_{k}", k + 1
        taken.add(name)
        return name

    def node(self, base: str) -> str:
        return self.fresh(base, self.node_names)

    def add(self, node: ir.Node) -> None:
        outs = node.out_shapes([self.shapes[i] for i in node.inputs])
        for o, s in zip(node.outputs, outs):
            if o:
                self.shapes[o] = tuple(int(d) for d in s)
        self.nodes.append(node)

    def sizes(self, lay: dict, where: str, x: str) -> tuple[int, int, str, int]:
        """A recurrent layer's input_size (checked against its input), hidden_size, direction
        and number of directions."""
        I = self.int_field(lay, "input_size", where)
        H = self.int_field(lay, "hidden_size", where)
        width = self.shapes[x][-1]
        if I != width:
            src = "the model's input_size" if x == "input" else "the layer before"
            raise self.fail(where, f"input_size is {I} but its input has {width} features "
                                   f"(from {src})")
        direction = self.choice(lay, "direction", where, tuple(DIRECTIONS))
        return I, H, direction, DIRECTIONS[direction]

    def fields(self, obj: Any, where: str, required: tuple[str, ...],
               optional: tuple[str, ...] = ()) -> dict[str, Any]:
        if not isinstance(obj, dict):
            raise self.fail(where, f"expected a JSON object, got {_json_type(obj)}")
        for k in required:
            if k not in obj:
                raise self.fail(where, f"missing field '{k}'")
        allowed = set(required) | set(optional)
        extra = sorted(k for k in obj if k not in allowed)
        if extra:
            raise self.fail(where, f"unknown field '{extra[0]}' (format version "
                                   f"{FORMAT_VERSION} has: {', '.join(sorted(allowed))})")
        return obj

    def int_field(self, obj: Mapping[str, Any], key: str, where: str) -> int:
        v = obj[key]
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise self.fail(where, f"field '{key}' must be a positive integer, got {v!r}")
        return v

    def choice(self, obj: Mapping[str, Any], key: str, where: str,
               options: Mapping[str, Any] | tuple[str, ...]) -> str:
        v = obj[key]
        if not isinstance(v, str) or v not in options:
            raise self.fail(where, f"field '{key}' is {v!r}, expected one of "
                                   f"{', '.join(repr(o) for o in options)}")
        return v

    def array(self, name: Any, where: str, shape: tuple[int | None, ...],
              meaning: str, integer: bool = False, allow_empty: bool = False) -> np.ndarray:
        """The float32 array the manifest calls `name`; None in `shape` matches any size.
        integer: an index array (kept int64) instead."""
        if not isinstance(name, str) or not name:
            raise self.fail(where, f"expected the name of an array (a string), got "
                                   f"{_json_type(name)}")
        if name == MANIFEST:
            raise self.fail(where, f"'{MANIFEST}' is the manifest, not a weight array")
        if name not in self.arrays:
            raise self.fail(where, f"array '{name}' is not in the archive")
        if isinstance(self.arrays, _NpzArrays):  # shape and dtype before the data is read
            self.check_array(self.arrays.header(name), name, where, shape, meaning, integer)
        arr = np.asarray(self.arrays[name])
        self.check_array((arr.shape, arr.dtype), name, where, shape, meaning, integer)
        if arr.size == 0 and not allow_empty:
            raise self.fail(where, f"array '{name}' is empty (shape {tuple(arr.shape)})")
        return np.ascontiguousarray(arr, dtype=np.int64 if integer else F32)

    def check_array(self, head: tuple[tuple[int, ...], np.dtype], name: str, where: str,
                    shape: tuple[int | None, ...], meaning: str, integer: bool) -> None:
        arr_shape, dtype = tuple(head[0]), head[1]
        if integer and dtype.kind not in "iu":
            raise self.fail(where, f"array '{name}' has dtype {dtype}, expected integers")
        if not integer and dtype.kind != "f":
            raise self.fail(where, f"array '{name}' has dtype {dtype}, expected floating "
                                   "point")
        if len(arr_shape) != len(shape) or any(
                w is not None and d != w for d, w in zip(arr_shape, shape)):
            want = "(" + ", ".join("?" if w is None else str(w) for w in shape) + \
                ("," if len(shape) == 1 else "") + ")"
            raise self.fail(where, f"array '{name}' has shape {arr_shape}, expected "
                                   f"{want} = {meaning}")
        limits.check_elements(f"{self.src}: {where}", arr_shape, f"array '{name}'")

    def matrix(self, entry: Any, where: str, rows: int | None, cols: int,
               meaning: str) -> ir.Matrix:
        """A matrix entry {"format": ..., ...}; rows None: any number of rows."""
        if not isinstance(entry, dict):
            raise self.fail(where, f"expected a matrix entry like {{\"format\": \"dense\", "
                                   f"\"w\": \"array name\"}}, got {_json_type(entry)}")
        fmt = entry.get("format")
        if "format" not in entry:
            raise self.fail(where, "missing field 'format'")
        fn = formats.npz_reader(fmt)
        if fn is None:
            raise UnsupportedModel(
                f"{self.src}: {where}: matrix format {fmt!r} is not supported (this rnngen "
                f"reads {', '.join(repr(f) for f in formats.FORMATS)})")
        return fn(self, entry, where, rows, cols, meaning)

    # helpers of the formats' readers (formats/*.py, npz_read)
    def dims(self, meaning: str) -> tuple[str, str]:
        return _dims(meaning)

    def checked(self, m: ir.Matrix, where: str) -> ir.Matrix:
        return _checked(self, m, where)

    def rows_match(self, where: str, got: int, rows: int | None, rname: str,
                   what: str) -> None:
        _rows_match(self, where, got, rows, rname, what)

    def shape_field(self, entry: dict[str, Any], where: str, rows: int | None, cols: int,
                    meaning: str) -> tuple[int, int]:
        return _shape_field(self, entry, where, rows, cols, meaning)

    # ------------------------------------------------------------------ main
    def run(self) -> ir.Graph:
        m = self.fields(self.m, "manifest", ("format_version", "input_size", "layers"),
                        ("name", "seq_len", "output"))
        v = m["format_version"]
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise self.fail("manifest", f"field 'format_version' must be a positive integer, "
                                        f"got {v!r}")
        if v > FORMAT_VERSION:
            raise self.fail("manifest", f"format_version {v} is newer than this rnngen reads "
                                        f"({FORMAT_VERSION}); upgrade rnngen")
        I = self.int_field(m, "input_size", "manifest")
        if m.get("seq_len") is not None:
            manifest_T = self.int_field(m, "seq_len", "manifest")
        else:
            manifest_T = None
        if self.seq_len_opt is not None:
            if isinstance(self.seq_len_opt, bool) or int(self.seq_len_opt) < 1:
                raise RnngenError(f"--seq-len {self.seq_len_opt} must be a positive integer")
            self.T = int(self.seq_len_opt)
        elif manifest_T is not None:
            self.T = manifest_T
        else:
            raise self.fail("manifest", "no sequence length (field 'seq_len' is absent); "
                                        "give one with --seq-len")
        limits.check_seq_len(f"{self.src}: manifest", self.T)
        if self.T * I > limits.MAX_GOLDEN_VALUES:
            raise self.fail("manifest", f"one sequence of {self.T} steps of {I} features has "
                                        f"{self.T * I} values, over rnngen's limit of "
                                        f"{limits.MAX_GOLDEN_VALUES} (docs/limits.md)")
        mode = "sequence"
        if m.get("output") is not None:
            mode = self.choice(m, "output", "manifest", OUTPUT_MODES)
        name = m.get("name")
        if name is not None and (not isinstance(name, str) or not name.strip()):
            raise self.fail("manifest", f"field 'name' must be a non-empty string, got "
                                        f"{name!r}")
        layers = m["layers"]
        if not isinstance(layers, list) or not layers:
            raise self.fail("manifest", "field 'layers' must be a non-empty list of layers")

        types, lnames = [], []
        for i, lay in enumerate(layers):
            if not isinstance(lay, dict):
                raise self.fail(f"layer {i}", f"expected a JSON object, got {_json_type(lay)}")
            t = lay.get("type")
            if "type" not in lay:
                raise self.fail(f"layer {i}", "missing field 'type'")
            if not isinstance(t, str) or t not in _LAYERS:
                raise self.fail(f"layer {i}", f"unknown layer type {t!r} (known: "
                                              f"{', '.join(_LAYERS)})")
            lname = lay.get("name")
            lname = f"{t}{i}" if lname is None else lname
            if not isinstance(lname, str) or not lname.strip():
                raise self.fail(f"layer {i} ({t})", f"field 'name' must be a non-empty string, "
                                                    f"got {lname!r}")
            if lname in lnames:
                raise self.fail(f"layer {i} ({t})", f"layer name '{lname}' is used twice")
            types.append(t)
            lnames.append(lname)
        # layer names are node names; helper nodes (flatten, slice...) get other names
        self.node_names = set(lnames)
        recurrent = [i for i, t in enumerate(types) if t in CELLS]
        # "last": after the last recurrent layer every layer is step-wise, so slicing the
        # last step there gives the same result for less work.
        slice_after = (recurrent[-1] if recurrent else -1) if mode == "last" else None

        self.names.update(("input", "output"))
        cur = "input"
        self.shapes[cur] = (self.T, 1, I)
        if slice_after == -1:
            cur = self.last_step(cur, "input")
        for i, lay in enumerate(layers):
            cur = _LAYERS[types[i]](self, lay, f"layer {i} ({types[i]})", lnames[i], cur)
            if slice_after == i:
                cur = self.last_step(cur, lnames[i])

        width = self.shapes[cur][-1]
        if mode == "last":
            self.add(ir.View(self.node("output_view"), (cur,), ("output",), (1, width)))
        else:
            last = self.nodes[-1]
            assert last.outputs[0] == cur
            self.nodes[-1] = _rename_output(last, "output")
            self.shapes["output"] = self.shapes.pop(cur)
        return ir.Graph(name=_c_name(name if name is not None else Path(self.src).stem),
                        input="input", outputs=("output",), nodes=tuple(self.nodes),
                        shapes=dict(self.shapes), constants={}, seq_len=self.T,
                        source=self.src, input_time_axis=0)

    def last_step(self, x: str, base: str) -> str:
        """[T, 1, F] -> [1, 1, F]: the last time step (analyze_time: a "final" value)."""
        T, b, F = self.shapes[x]
        y = self.fresh(f"{base}_last")
        self.add(ir.Slice(self.node(f"{base}_last_step"), (x,), (y,), (T - 1, 0, 0), (1, 1, 1),
                          (1, b, F)))
        return y

    # ------------------------------------------------------------------ layers
    def recurrent(self, lay: dict[str, Any], where: str, lname: str, x: str) -> str:
        kind = lay["type"]
        cell = CELLS[kind]
        spec = cells.of(cell)
        required = ("type", "input_size", "hidden_size", "direction", "directions")
        optional: tuple[str, ...] = ("name",)
        if spec.gates > 1:
            required += ("gate_order",)
        else:
            optional += ("gate_order", "nonlinearity")
        required += tuple(o for o in spec.options if o == "linear_before_reset")
        self.fields(lay, where, required, optional)
        I, H, direction, D = self.sizes(lay, where, x)
        order = "onnx"
        if "gate_order" in lay:
            order = self.choice(lay, "gate_order", where, GATE_ORDERS)
        lbr = False
        if "linear_before_reset" in required:
            v = lay["linear_before_reset"]
            if not isinstance(v, bool):
                raise self.fail(where, f"field 'linear_before_reset' must be true or false, got "
                                       f"{v!r}")
            lbr = v
        acts = tuple(ir.Activation.default(a) for a in spec.activations)
        if "nonlinearity" in lay:
            act = RNN_NONLINEARITIES[self.choice(lay, "nonlinearity", where,
                                                 tuple(RNN_NONLINEARITIES))]
            acts = (ir.Activation.default(act),)
        dirs = lay["directions"]
        if not isinstance(dirs, list) or len(dirs) != D:
            n = len(dirs) if isinstance(dirs, list) else _json_type(dirs)
            raise self.fail(where, f"field 'directions' must be a list of {D} entr"
                                   f"{'y' if D == 1 else 'ies'} for direction '{direction}'"
                                   f"{' (forward, then backward)' if D == 2 else ''}, got {n}")
        G = spec.gates
        perm = _TO_ONNX[(cell, order)]
        gname = "4*hidden_size" if G == 4 else ("3*hidden_size" if G == 3 else "hidden_size")
        out_dirs = []
        for d, ent in enumerate(dirs):
            dw = f"{where} directions[{d}]"
            opt = ("b_ih", "b_hh", "h0") + (("c0",) if spec.has_cell_state else ())
            self.fields(ent, dw, ("W", "R"), opt)
            W = self.matrix(ent["W"], f"{dw}.W", G * H, I, f"[{gname}, input_size]")
            R = self.matrix(ent["R"], f"{dw}.R", G * H, H, f"[{gname}, hidden_size]")
            vec = {}
            for key, n, meaning in (("b_ih", G * H, f"[{gname}]"), ("b_hh", G * H, f"[{gname}]"),
                                    ("h0", H, "[hidden_size]"), ("c0", H, "[hidden_size]")):
                if key in ent and ent[key] is not None:
                    vec[key] = self.array(ent[key], f"{dw}.{key}", (n,), meaning)
                elif key in opt:
                    vec[key] = np.zeros(n, F32)
            out_dirs.append(ir.CellDirection(
                reverse=direction == "reverse" or d == 1,
                W=_reorder(W, perm, H, f"{self.src}: {dw}.W"),
                R=_reorder(R, perm, H, f"{self.src}: {dw}.R"),
                wb=_reorder_vec(vec["b_ih"], perm, H), rb=_reorder_vec(vec["b_hh"], perm, H),
                p=None, h0=vec["h0"], c0=vec.get("c0"), activations=acts))
        return self.recurrent_node(lname, x, cell, H, I, out_dirs, lbr)

    def recurrent_node(self, lname: str, x: str, cell: str, H: int, I: int,
                       dirs: list[ir.CellDirection], lbr: bool = False) -> str:
        """The Recurrent node and the view of its Y as [T, 1, D*H]."""
        D = len(dirs)
        y = self.fresh(f"{lname}_Y")
        self.add(ir.Recurrent(lname, (x,), (y, "", ""), cell=cell, hidden=H, input_size=I,
                              seq_len=self.T, valid_len=self.T, layout=0,
                              directions=tuple(dirs), clip=None, input_forget=False,
                              linear_before_reset=lbr))
        # Y [T, D, 1, H] -> [T, 1, D*H]: per step [forward h, backward h], as PyTorch
        src = y
        if D == 2:
            src = self.fresh(f"{lname}_Yt")
            self.add(ir.Transpose(self.node(f"{lname}_transpose"), (y,), (src,), (0, 2, 1, 3)))
        out = self.fresh(f"{lname}_out")
        self.add(ir.View(self.node(f"{lname}_flatten"), (src,), (out,), (self.T, 1, D * H)))
        return out

    def fast(self, lay: dict[str, Any], where: str, lname: str, x: str) -> str:
        """FastRNN / FastGRNN (PAPERS.md section 5): one W [H, I] and one U [H, H]."""
        cell = CELLS[lay["type"]]
        acts = FAST_NONLINEARITIES[cell]
        self.fields(lay, where, ("type", "input_size", "hidden_size", "direction", "directions"),
                    ("name",) + tuple(k for k, _ in acts))
        I, H, direction, D = self.sizes(lay, where, x)
        activations = tuple(
            ir.Activation.default(ACTIVATIONS[self.choice(lay, k, where, tuple(ACTIVATIONS))
                                              if lay.get(k) is not None else default])
            for k, default in acts)
        dirs = lay["directions"]
        if not isinstance(dirs, list) or len(dirs) != D:
            n = len(dirs) if isinstance(dirs, list) else _json_type(dirs)
            raise self.fail(where, f"field 'directions' must be a list of {D} entr"
                                   f"{'y' if D == 1 else 'ies'} for direction '{direction}'"
                                   f"{' (forward, then backward)' if D == 2 else ''}, got {n}")
        scalars = FAST_SCALARS[cell]
        biases = ("bias_gate", "bias_update") if cell == "FastGRNN" else ("bias_update",)
        out_dirs = []
        for d, ent in enumerate(dirs):
            dw = f"{where} directions[{d}]"
            self.fields(ent, dw, ("W", "U") + scalars, biases + ("h0",))
            W = self.matrix(ent["W"], f"{dw}.W", H, I, "[hidden_size, input_size]")
            U = self.matrix(ent["U"], f"{dw}.U", H, H, "[hidden_size, hidden_size]")
            vec = {}
            for key, meaning in [(b, "[hidden_size]") for b in biases] + [("h0", "[hidden_size]")]:
                if ent.get(key) is not None:
                    vec[key] = self.array(ent[key], f"{dw}.{key}", (H,), meaning)
                else:
                    vec[key] = np.zeros(H, F32)
            vals = []
            for key in scalars:
                v = ent[key]
                if isinstance(v, bool) or not isinstance(v, (int, float)) or \
                        not np.isfinite(v):
                    raise self.fail(dw, f"field '{key}' must be a finite number (the value "
                                        f"before the sigmoid), got {v!r}")
                vals.append(float(v))
            if cell == "FastRNN":  # h~ = act(W x + U h + b): the bias rides on W x
                wb, rb = vec["bias_update"], np.zeros(H, F32)
            else:  # z = gate(p + bias_gate), h~ = act(p + bias_update)
                wb, rb = vec["bias_gate"], vec["bias_update"]
            out_dirs.append(ir.CellDirection(
                reverse=direction == "reverse" or d == 1, W=W, R=U, wb=wb, rb=rb, p=None,
                h0=vec["h0"], c0=None, activations=activations, scalars=tuple(vals)))
        return self.recurrent_node(lname, x, cell, H, I, out_dirs)

    def sru(self, lay: dict[str, Any], where: str, lname: str, x: str) -> str:
        """SRU (Lei et al. 2018; cells/sru.py): one stacked W [W; W_f; W_r] [3H, I], with the
        projection W_p as a fourth block [4H, I] when input_size != hidden_size; v_f, v_r
        (the elementwise weights on the cell state) and the biases b_f, b_r [H]."""
        self.fields(lay, where, ("type", "input_size", "hidden_size", "direction", "directions"),
                    ("name",))
        I, H, direction, D = self.sizes(lay, where, x)
        dirs = lay["directions"]
        if not isinstance(dirs, list) or len(dirs) != D:
            n = len(dirs) if isinstance(dirs, list) else _json_type(dirs)
            raise self.fail(where, f"field 'directions' must be a list of {D} entr"
                                   f"{'y' if D == 1 else 'ies'} for direction '{direction}'"
                                   f"{' (forward, then backward)' if D == 2 else ''}, got {n}")
        G = 3 if I == H else 4
        meaning = ("[3*hidden_size, input_size] (W; W_f; W_r)" if G == 3 else
                   "[4*hidden_size, input_size] (W; W_f; W_r; W_p: input_size != hidden_size)")
        out_dirs = []
        for d, ent in enumerate(dirs):
            dw = f"{where} directions[{d}]"
            self.fields(ent, dw, ("W", "v_f", "v_r"), ("b_f", "b_r", "c0"))
            W = self.matrix(ent["W"], f"{dw}.W", G * H, I, meaning)
            vec = {}
            for key in ("v_f", "v_r", "b_f", "b_r", "c0"):
                if ent.get(key) is not None:
                    vec[key] = self.array(ent[key], f"{dw}.{key}", (H,), "[hidden_size]")
                else:
                    vec[key] = np.zeros(H, F32)
            zero = np.zeros(H, F32)
            wb = np.concatenate([zero, vec["b_f"], vec["b_r"]] + [zero] * (G - 3))
            out_dirs.append(ir.CellDirection(
                reverse=direction == "reverse" or d == 1, W=W,
                R=formats.as_matrix(np.zeros((0, H), F32)),  # no recurrent matrix
                wb=wb, rb=np.zeros(0, F32), p=np.concatenate([vec["v_f"], vec["v_r"]]),
                h0=np.zeros(H, F32),  # h is not recurrent: no initial hidden state to read
                c0=vec["c0"], activations=(ir.SIGMOID,)))
        return self.recurrent_node(lname, x, "SRU", H, I, out_dirs)

    def dense(self, lay: dict[str, Any], where: str, lname: str, x: str) -> str:
        self.fields(lay, where, ("type", "W"), ("name", "b", "activation"))
        K = self.shapes[x][-1]
        W = self.matrix(lay["W"], f"{where} W", None, K, "[out_features, in_features]")
        N = W.shape[0]
        b = None
        if lay.get("b") is not None:
            b = self.array(lay["b"], f"{where} b", (N,), "[out_features]")
        y = self.fresh(f"{lname}_y")
        self.add(ir.Linear(lname, (x,), (y,), W=W, b=b))
        if lay.get("activation") is not None:
            act = ACTIVATIONS[self.choice(lay, "activation", where, tuple(ACTIVATIONS))]
            z = self.fresh(f"{lname}_{act.lower()}")
            self.add(ir.Unary(self.node(f"{lname}_{act.lower()}"), (y,), (z,),
                              act=ir.Activation.default(act)))
            y = z
        return y

    def activation(self, lay: dict[str, Any], where: str, lname: str, x: str) -> str:
        self.fields(lay, where, ("type",), ("name",))
        y = self.fresh(f"{lname}_y")
        self.add(ir.Unary(lname, (x,), (y,),
                          act=ir.Activation.default(ACTIVATIONS[lay["type"]])))
        return y

    def softmax(self, lay: dict[str, Any], where: str, lname: str, x: str) -> str:
        self.fields(lay, where, ("type",), ("name",))
        y = self.fresh(f"{lname}_y")
        # over the features of each step: axis 2 of [T, 1, F]
        self.add(ir.Softmax(lname, (x,), (y,), axis=2, log=lay["type"] == "log_softmax"))
        return y


def _rename_output(node: ir.Node, name: str) -> ir.Node:
    return replace(node, outputs=(name,) + tuple(node.outputs[1:]))


def _block_rows(perm: tuple[int, ...], H: int) -> np.ndarray:
    return np.concatenate([np.arange(g * H, (g + 1) * H) for g in perm])


def _reorder(m: ir.Matrix, perm: tuple[int, ...], H: int, where: str) -> ir.Matrix:
    """Rows of a gate-stacked matrix in ONNX order."""
    if perm == tuple(range(len(perm))):
        return m
    out = formats.permute_rows(m, _block_rows(perm, H))
    if out is not None:
        return out
    raise UnsupportedModel(f"{where}: gate_order 'pytorch' cannot reorder a {m.fmt} matrix; "
                           "store it in gate_order 'onnx'")


def _reorder_vec(v: np.ndarray, perm: tuple[int, ...], H: int) -> np.ndarray:
    return np.ascontiguousarray(v[_block_rows(perm, H)], dtype=F32)


# ---------------------------------------------------------------------- matrix formats

# Helpers of the matrix formats' readers (formats/*.py, npz_read). `meaning` is the layer's
# "[rows, columns]" text; factor shapes are checked against the layer's rows and columns,
# naming the field.

def _dims(meaning: str) -> tuple[str, str]:
    parts = meaning.strip("[]").split(", ")
    return (parts[0], parts[1]) if len(parts) == 2 else ("rows", "columns")


def _checked(b: _Builder, m: ir.Matrix, where: str) -> ir.Matrix:
    formats.check(m, f"{b.src}: {where}")
    return m


def _rows_match(b: _Builder, where: str, got: int, rows: int | None, rname: str,
                what: str) -> None:
    if rows is not None and got != rows:
        raise b.fail(where, f"{what} {got} rows, expected {rows} = {rname}")


def _shape_field(b: _Builder, entry: dict[str, Any], where: str, rows: int | None,
                 cols: int, meaning: str) -> tuple[int, int]:
    v = entry["shape"]
    if not (isinstance(v, list) and len(v) == 2 and all(
            isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in v)):
        raise b.fail(where, f"field 'shape' must be [rows, columns] (two positive integers), "
                            f"got {v!r}")
    want = [v[0] if rows is None else rows, cols]
    if v != want:
        raise b.fail(where, f"field 'shape' is {v}, expected {want} = {meaning}")
    return v[0], v[1]


_LAYERS: dict[str, Callable[[_Builder, dict[str, Any], str, str, str], str]] = {
    "lstm": _Builder.recurrent, "gru": _Builder.recurrent, "rnn": _Builder.recurrent,
    "fastrnn": _Builder.fast, "fastgrnn": _Builder.fast, "sru": _Builder.sru,
    "dense": _Builder.dense,
    "relu": _Builder.activation, "tanh": _Builder.activation, "sigmoid": _Builder.activation,
    "softmax": _Builder.softmax, "log_softmax": _Builder.softmax,
}
