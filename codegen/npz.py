"""Write rnngen .npz models from training code (format: docs/npz-format.md).

    import rnngen.npz
    rnngen.npz.save("kws.npz", rnngen.npz.from_torch(lstm, fc, torch.nn.Softmax(dim=-1)),
                    input_size=40, seq_len=49)

or layer by layer, with NumPy arrays (or torch tensors) in the order PyTorch stores them:

    rnngen.npz.save("kws.npz", [
        rnngen.npz.lstm(W_ih, W_hh, b_ih, b_hh, gate_order="pytorch"),
        rnngen.npz.dense(W_fc, b_fc),
        rnngen.npz.softmax(),
    ], seq_len=49, output="last")

The helpers return plain dicts: the manifest entry of the layer with arrays in place of
array names. `save` names the arrays, checks the whole model with the same rules
`rnngen build` applies (so a file it writes always loads), and writes the archive. Nothing
here imports torch; `from_torch` reads modules by their class names and attributes.
"""

from __future__ import annotations

import json
import numbers
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from . import formats
from .errors import RnngenError
from .frontends import numpy as _frontend

F32 = np.float32
Layer = dict[str, Any]

__all__ = [
    "csr",
    "csr_from_dense",
    "dense",
    "fastgrnn",
    "fastrnn",
    "from_edgeml",
    "from_torch",
    "gru",
    "hmd",
    "kron",
    "lowrank",
    "log_softmax",
    "lstm",
    "relu",
    "rnn",
    "save",
    "sigmoid",
    "softmax",
    "stack",
    "tanh",
]


# ---------------------------------------------------------------------- arrays

def _np(x: Any, what: str, keep_int: bool = False) -> np.ndarray:
    """A float32 NumPy copy of an array-like or a torch tensor (detached, on the CPU).

    keep_int: integer arrays stay integers (index arrays of compressed matrices)."""
    if hasattr(x, "detach"):  # torch.Tensor (also Parameter)
        x = x.detach().cpu()
        if x.is_floating_point():
            x = x.float()  # bfloat16/float16 -> float32 before .numpy()
        x = x.numpy()
    arr = np.asarray(x)
    if arr.dtype.kind not in "fiu":
        raise RnngenError(f"rnngen.npz: {what} has dtype {arr.dtype}, expected numbers")
    if keep_int and arr.dtype.kind in "iu":
        return np.ascontiguousarray(arr)
    return np.ascontiguousarray(arr, dtype=F32)


def _is_arraylike(x: Any) -> bool:
    return hasattr(x, "shape") and hasattr(x, "dtype")


def _per_direction(x: Any, D: int, ndim: int, what: str) -> list[Any]:
    """Split one argument into D per-direction values.

    Accepted: a list/tuple of D arrays (forward first); an array with a leading axis of
    size D (ONNX layout, e.g. W [D, G*H, I]); for D == 1 also the bare array."""
    if x is None:
        return [None] * D
    if isinstance(x, (list, tuple)) and x and all(_is_arraylike(v) or isinstance(v, dict)
                                                   for v in x):
        if len(x) != D:
            raise RnngenError(f"rnngen.npz: {what}: got {len(x)} per-direction values, "
                              f"expected {D}")
        return list(x)
    if isinstance(x, dict):  # a matrix entry in another format: one direction only
        if D != 1:
            raise RnngenError(f"rnngen.npz: {what}: give a list of {D} matrix entries "
                              "(forward, backward)")
        return [x]
    arr = _np(x, what)
    if arr.ndim == ndim + 1 and arr.shape[0] == D:
        return list(arr)
    if D == 1 and arr.ndim == ndim:
        return [arr]
    want = f"[{D}, ...] with {ndim + 1} axes" + (f" or {ndim} axes" if D == 1 else "")
    raise RnngenError(f"rnngen.npz: {what} has shape {arr.shape}, expected {want}")


def _matrix(m: Any, what: str) -> dict[str, Any]:
    """A matrix entry: {"format": "dense", "w": array}, or an entry of another format
    with arrays as values (passed through; the frontend checks it)."""
    if isinstance(m, dict):
        if "format" not in m:
            raise RnngenError(f"rnngen.npz: {what}: a matrix entry needs a 'format'")
        keep_int = m["format"] != "dense"
        out = {k: (_np(v, f"{what}.{k}", keep_int) if _is_arraylike(v) else v)
               for k, v in m.items()}
        if m["format"] == "stack" and isinstance(m.get("blocks"), (list, tuple)):
            out["blocks"] = [_matrix(b, f"{what}.blocks[{k}]") for k, b in enumerate(m["blocks"])]
        return out
    return {"format": "dense", "w": _np(m, what)}


def _sizes(kind: str, w: Any, r: Any, rname: str, input_size: int | None,
           hidden_size: int | None) -> tuple[int, int]:
    """input_size and hidden_size as given, else from the shapes of W and R (or U)."""
    if input_size is None or hidden_size is None:
        ws, rs = _entry_shape(w), _entry_shape(r)
        if ws is None or rs is None:
            raise RnngenError(f"rnngen.npz.{kind}: give input_size= and hidden_size= (the "
                              f"shape of W or {rname} is not known)")
        input_size = ws[1] if input_size is None else input_size
        hidden_size = rs[1] if hidden_size is None else hidden_size
    return int(input_size), int(hidden_size)


def _entry_shape(entry: Any) -> tuple[int, int] | None:
    """[rows, columns] of a matrix entry whose arrays are still in place (None: unknown)."""
    return formats.npz_shape(entry)


# ---------------------------------------------------------------------- matrix entries
#
# Compressed matrices (docs/compression.md). Each helper returns a matrix entry with its
# arrays in place; give it wherever a layer takes a matrix (W, R, U, a dense layer's W).

def hmd(a: Any, b: Any, c: Any, d: Any, e: Any) -> dict[str, Any]:
    """HMD (D1): W = [A' ; [B C | D E]], A' [r, n] (None when r = 0), B and D [m - r] (the
    column vectors), C [ceil(n/2)] and E [floor(n/2)] (the row vectors)."""
    entry: dict[str, Any] = {"format": "hmd"}
    if a is not None:
        entry["a"] = _np(a, "hmd a")
    entry.update(b=_np(b, "hmd b").reshape(-1), c=_np(c, "hmd c").reshape(-1),
                 d=_np(d, "hmd d").reshape(-1))
    ev = _np(e, "hmd e").reshape(-1)
    if ev.size:
        entry["e"] = ev
    return entry


def csr(values: Any, col_idx: Any, row_ptr: Any, shape: tuple[int, int]) -> dict[str, Any]:
    """A pruned matrix in compressed sparse rows: row i holds values[row_ptr[i]:
    row_ptr[i+1]] at columns col_idx[...] (sorted); shape (rows, columns)."""
    return {"format": "csr", "values": _np(values, "csr values").reshape(-1),
            "col_idx": _np(col_idx, "csr col_idx", keep_int=True).reshape(-1),
            "row_ptr": _np(row_ptr, "csr row_ptr", keep_int=True).reshape(-1),
            "shape": [int(shape[0]), int(shape[1])]}


def csr_from_dense(w: Any) -> dict[str, Any]:
    """The CSR entry of a dense matrix's nonzeros (a pruned weight)."""
    m = formats.csr.from_dense(_np(w, "csr_from_dense w"))
    return csr(m.values, m.col_idx, m.row_ptr, m.shape)


def lowrank(u: Any, v: Any) -> dict[str, Any]:
    """W = U V, U [m, d], V [d, n]."""
    return {"format": "lowrank", "u": _np(u, "lowrank u"), "v": _np(v, "lowrank v")}


def kron(a: Any, b: Any, shape: tuple[int, int] | None = None) -> dict[str, Any]:
    """W = (A kron B)[:m, :n], A [m1, n1], B [m2, n2]; shape (m, n) defaults to the whole
    product (m1 m2, n1 n2); a smaller one drops the zero padding of a prime size."""
    av, bv = _np(a, "kron a"), _np(b, "kron b")
    if shape is None:
        if av.ndim != 2 or bv.ndim != 2:
            raise RnngenError(f"rnngen.npz.kron: a {av.shape} and b {bv.shape} must be matrices")
        shape = (av.shape[0] * bv.shape[0], av.shape[1] * bv.shape[1])
    return {"format": "kron", "a": av, "b": bv, "shape": [int(shape[0]), int(shape[1])]}


def stack(*blocks: Any) -> dict[str, Any]:
    """Row blocks of any formats, top to bottom: per-gate matrices (gates in ONNX order), or
    HKP, stack(dense_rows, kron(...)). A plain array is a dense block."""
    if len(blocks) == 1 and isinstance(blocks[0], (list, tuple)):
        blocks = tuple(blocks[0])
    return {"format": "stack", "blocks": [_matrix(b, f"stack block {k}")
                                          for k, b in enumerate(blocks)]}


def _dense_shape(entry: dict[str, Any]) -> tuple[int, int] | None:
    if entry["format"] == "dense" and isinstance(entry.get("w"), np.ndarray) and \
            entry["w"].ndim == 2:
        return int(entry["w"].shape[0]), int(entry["w"].shape[1])
    return None


# ---------------------------------------------------------------------- layer helpers

def _recurrent(kind: str, W: Any, R: Any, b_ih: Any, b_hh: Any, h0: Any, c0: Any,
               direction: str, name: str | None, input_size: int | None,
               hidden_size: int | None, **extra: Any) -> Layer:
    if direction not in _frontend.DIRECTIONS:
        raise RnngenError(f"rnngen.npz.{kind}: direction={direction!r}, expected one of "
                          f"{', '.join(repr(d) for d in _frontend.DIRECTIONS)}")
    D = _frontend.DIRECTIONS[direction]
    Ws = [_matrix(w, f"{kind} W") for w in _per_direction(W, D, 2, f"{kind} W")]
    Rs = [_matrix(r, f"{kind} R") for r in _per_direction(R, D, 2, f"{kind} R")]
    vectors = {key: _per_direction(v, D, 1, f"{kind} {key}")
               for key, v in (("b_ih", b_ih), ("b_hh", b_hh), ("h0", h0), ("c0", c0))}
    input_size, hidden_size = _sizes(kind, Ws[0], Rs[0], "R", input_size, hidden_size)
    dirs = []
    for d in range(D):
        ent: dict[str, Any] = {"W": Ws[d], "R": Rs[d]}
        for key, vals in vectors.items():
            if vals[d] is not None:
                ent[key] = _np(vals[d], f"{kind} {key}").reshape(-1)
        dirs.append(ent)
    layer: Layer = {"type": kind, "input_size": int(input_size),
                    "hidden_size": int(hidden_size), "direction": direction, **extra,
                    "directions": dirs}
    if name is not None:
        layer["name"] = name
    return layer


def lstm(W: Any, R: Any, b_ih: Any = None, b_hh: Any = None, *, gate_order: str,
         direction: str = "forward", h0: Any = None, c0: Any = None, name: str | None = None,
         input_size: int | None = None, hidden_size: int | None = None) -> Layer:
    """An LSTM layer. W [4H, I], R [4H, H], b_ih/b_hh [4H], h0/c0 [H] (all optional but W, R).

    gate_order "pytorch" (i,f,g,o: torch.nn.LSTM and Keras) or "onnx" (i,o,f,c). For
    direction "bidirectional" give each argument as a pair (forward, backward) or with a
    leading axis of 2."""
    return _recurrent("lstm", W, R, b_ih, b_hh, h0, c0, direction, name, input_size,
                      hidden_size, gate_order=gate_order)


def gru(W: Any, R: Any, b_ih: Any = None, b_hh: Any = None, *, gate_order: str,
        linear_before_reset: bool, direction: str = "forward", h0: Any = None,
        name: str | None = None, input_size: int | None = None,
        hidden_size: int | None = None) -> Layer:
    """A GRU layer. W [3H, I], R [3H, H], b_ih/b_hh [3H], h0 [H].

    gate_order "pytorch" (r,z,n) or "onnx" (z,r,h; also Keras). torch.nn.GRU (and Keras'
    reset_after=True) is linear_before_reset=True."""
    return _recurrent("gru", W, R, b_ih, b_hh, h0, None, direction, name, input_size,
                      hidden_size, gate_order=gate_order,
                      linear_before_reset=linear_before_reset)


def rnn(W: Any, R: Any, b_ih: Any = None, b_hh: Any = None, *, nonlinearity: str = "tanh",
        direction: str = "forward", h0: Any = None, name: str | None = None,
        input_size: int | None = None, hidden_size: int | None = None) -> Layer:
    """An Elman RNN layer (torch.nn.RNN): h = act(W x + b_ih + R h + b_hh), act tanh|relu."""
    return _recurrent("rnn", W, R, b_ih, b_hh, h0, None, direction, name, input_size,
                      hidden_size, nonlinearity=nonlinearity)


def _scalars(v: Any, D: int, what: str) -> list[float]:
    """One float per direction: a number, a 1-element array/tensor, or a pair for D = 2."""
    vals = list(v) if isinstance(v, (list, tuple)) else [v]
    if D == 2 and len(vals) == 1 and _is_arraylike(v) and _np(v, what).size == 2:
        vals = list(_np(v, what).reshape(-1))
    if len(vals) != D:
        raise RnngenError(f"rnngen.npz: {what}: got {len(vals)} values, expected {D} (one per "
                          "direction)")
    out = []
    for x in vals:
        arr = _np(x, what).reshape(-1)
        if arr.size != 1:
            raise RnngenError(f"rnngen.npz: {what} has {arr.size} values, expected one number")
        out.append(float(arr[0]))
    return out


def _fast(kind: str, W: Any, U: Any, biases: dict[str, Any], scalars: dict[str, Any],
          direction: str, h0: Any, nonlinearities: dict[str, str], name: str | None,
          input_size: int | None, hidden_size: int | None) -> Layer:
    if direction not in _frontend.DIRECTIONS:
        raise RnngenError(f"rnngen.npz.{kind}: direction={direction!r}, expected one of "
                          f"{', '.join(repr(d) for d in _frontend.DIRECTIONS)}")
    D = _frontend.DIRECTIONS[direction]
    Ws = [_matrix(w, f"{kind} W") for w in _per_direction(W, D, 2, f"{kind} W")]
    Us = [_matrix(u, f"{kind} U") for u in _per_direction(U, D, 2, f"{kind} U")]
    vectors = {key: _per_direction(v, D, 1, f"{kind} {key}")
               for key, v in (*biases.items(), ("h0", h0))}
    vals = {key: _scalars(v, D, f"{kind} {key}") for key, v in scalars.items()}
    input_size, hidden_size = _sizes(kind, Ws[0], Us[0], "U", input_size, hidden_size)
    dirs = []
    for d in range(D):
        ent: dict[str, Any] = {"W": Ws[d], "U": Us[d]}
        for key, vs in vectors.items():
            if vs[d] is not None:
                ent[key] = _np(vs[d], f"{kind} {key}").reshape(-1)
        for key, vs in vals.items():
            ent[key] = vs[d]
        dirs.append(ent)
    layer: Layer = {"type": kind, "input_size": int(input_size),
                    "hidden_size": int(hidden_size), "direction": direction,
                    **nonlinearities, "directions": dirs}
    if name is not None:
        layer["name"] = name
    return layer


def fastrnn(W: Any, U: Any, bias_update: Any = None, *, alpha: Any, beta: Any,
            update_nonlinearity: str = "tanh", direction: str = "forward", h0: Any = None,
            name: str | None = None, input_size: int | None = None,
            hidden_size: int | None = None) -> Layer:
    """A FastRNN layer (Microsoft EdgeML): h~ = act(W x + U h + bias_update),
    h = sigmoid(beta) h + sigmoid(alpha) h~. W [H, I] and U [H, H] (rows = outputs; any
    matrix entry), bias_update [H]; alpha and beta as trained, before the sigmoid."""
    return _fast("fastrnn", W, U, {"bias_update": bias_update}, {"alpha": alpha, "beta": beta},
                 direction, h0, {"update_nonlinearity": update_nonlinearity}, name,
                 input_size, hidden_size)


def fastgrnn(W: Any, U: Any, bias_gate: Any = None, bias_update: Any = None, *, zeta: Any,
             nu: Any, gate_nonlinearity: str = "sigmoid", update_nonlinearity: str = "tanh",
             direction: str = "forward", h0: Any = None, name: str | None = None,
             input_size: int | None = None, hidden_size: int | None = None) -> Layer:
    """A FastGRNN layer (Microsoft EdgeML): p = W x + U h, z = gate(p + bias_gate),
    h~ = update(p + bias_update), h = z h + (sigmoid(zeta) (1 - z) + sigmoid(nu)) h~.
    W [H, I], U [H, H] (any matrix entry), biases [H]; zeta and nu before the sigmoid."""
    return _fast("fastgrnn", W, U, {"bias_gate": bias_gate, "bias_update": bias_update},
                 {"zeta": zeta, "nu": nu}, direction, h0,
                 {"gate_nonlinearity": gate_nonlinearity,
                  "update_nonlinearity": update_nonlinearity}, name, input_size, hidden_size)


def sru(W: Any, v_f: Any, v_r: Any, b_f: Any = None, b_r: Any = None, *,
        direction: str = "forward", c0: Any = None, name: str | None = None,
        input_size: int | None = None, hidden_size: int | None = None) -> Layer:
    """An SRU layer (Lei et al. 2018): f = sigmoid(W_f x + v_f c + b_f),
    r = sigmoid(W_r x + v_r c + b_r), c = f c + (1 - f) W x, h = r c + (1 - r) x', with
    x' = x when input_size == hidden_size, else W_p x.

    W is the stacked input matrix [W; W_f; W_r] [3H, I], or [W; W_f; W_r; W_p] [4H, I] when
    I != H: a dense array, or any matrix entry (``stack(...)`` of one entry per block to
    compress each block in its own format). v_f, v_r, b_f, b_r, c0 [H] (h is not recurrent:
    no h0)."""
    kind = "sru"
    if direction not in _frontend.DIRECTIONS:
        raise RnngenError(f"rnngen.npz.{kind}: direction={direction!r}, expected one of "
                          f"{', '.join(repr(d) for d in _frontend.DIRECTIONS)}")
    D = _frontend.DIRECTIONS[direction]
    Ws = [_matrix(w, f"{kind} W") for w in _per_direction(W, D, 2, f"{kind} W")]
    vectors = {key: _per_direction(v, D, 1, f"{kind} {key}")
               for key, v in (("v_f", v_f), ("v_r", v_r), ("b_f", b_f), ("b_r", b_r),
                              ("c0", c0))}
    if input_size is None or hidden_size is None:
        ws = _entry_shape(Ws[0])
        vf = vectors["v_f"][0]
        if ws is None or vf is None:
            raise RnngenError(f"rnngen.npz.{kind}: give input_size= and hidden_size= (the "
                              "shape of W is not known)")
        input_size = ws[1] if input_size is None else input_size
        hidden_size = _np(vf, f"{kind} v_f").size if hidden_size is None else hidden_size
    dirs = []
    for d in range(D):
        ent: dict[str, Any] = {"W": Ws[d]}
        for key, vals in vectors.items():
            if vals[d] is not None:
                ent[key] = _np(vals[d], f"{kind} {key}").reshape(-1)
        dirs.append(ent)
    layer: Layer = {"type": kind, "input_size": int(input_size),
                    "hidden_size": int(hidden_size), "direction": direction,
                    "directions": dirs}
    if name is not None:
        layer["name"] = name
    return layer


def dense(W: Any, b: Any = None, activation: str | None = None, *,
          name: str | None = None) -> Layer:
    """y = W x + b on every step, W [out, in] (torch.nn.Linear.weight), then an optional
    activation "relu" | "tanh" | "sigmoid"."""
    layer: Layer = {"type": "dense", "W": _matrix(W, "dense W")}
    if b is not None:
        layer["b"] = _np(b, "dense b").reshape(-1)
    if activation is not None:
        layer["activation"] = activation
    if name is not None:
        layer["name"] = name
    return layer


def _simple(kind: str, name: str | None) -> Layer:
    return {"type": kind} if name is None else {"type": kind, "name": name}


def relu(name: str | None = None) -> Layer:
    return _simple("relu", name)


def tanh(name: str | None = None) -> Layer:
    return _simple("tanh", name)


def sigmoid(name: str | None = None) -> Layer:
    return _simple("sigmoid", name)


def softmax(name: str | None = None) -> Layer:
    """Softmax over the features of each step."""
    return _simple("softmax", name)


def log_softmax(name: str | None = None) -> Layer:
    """LogSoftmax over the features of each step."""
    return _simple("log_softmax", name)


# ---------------------------------------------------------------------- save

def manifest_and_arrays(layers: Iterable[Layer], input_size: int | None = None,
                        seq_len: int | None = None, output: str = "sequence",
                        name: str | None = None) -> tuple[dict[str, Any],
                                                          dict[str, np.ndarray]]:
    """The JSON manifest and the named arrays `save` writes."""
    if isinstance(layers, dict):
        raise RnngenError("rnngen.npz.save: layers must be a list of layers, got one layer "
                          "(wrap it in [...])")
    layers = list(layers)
    arrays: dict[str, np.ndarray] = {}
    entries = []
    for i, lay in enumerate(layers):
        if not isinstance(lay, dict):
            raise RnngenError(f"rnngen.npz.save: layer {i} is a {type(lay).__name__}, expected "
                              "a layer dict (rnngen.npz.lstm(...), dense(...), ...)")
        entries.append(_name_arrays(lay, f"layer{i}", arrays))
    if input_size is None and layers:
        input_size = _first_input_size(layers[0])
    input_size, seq_len = _plain_int(input_size), _plain_int(seq_len)
    manifest: dict[str, Any] = {"format_version": _frontend.FORMAT_VERSION}
    if name is not None:
        manifest["name"] = name
    manifest["input_size"] = input_size
    if seq_len is not None:
        manifest["seq_len"] = seq_len
    manifest["output"] = output
    manifest["layers"] = entries
    return manifest, arrays


def _plain_int(v: Any) -> Any:
    """NumPy integers (x.shape[0], np.int64) as Python ints, so JSON can store them."""
    return int(v) if isinstance(v, numbers.Integral) and not isinstance(v, bool) else v


def _first_input_size(layer: Layer) -> int | None:
    if isinstance(layer.get("input_size"), int):
        return int(layer["input_size"])
    W = layer.get("W")
    if isinstance(W, dict):
        shape = _dense_shape(W)
        if shape is not None:
            return shape[1]
    return None


def _name_arrays(lay: Layer, prefix: str, arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    """The layer's manifest entry: every array replaced by the name it is stored under."""

    def put(name: str, arr: np.ndarray) -> str:
        arrays[name] = arr
        return name

    def matrix(m: Any, path: str) -> Any:
        if not isinstance(m, dict):
            return m  # the frontend reports it
        out = {}
        for k, v in m.items():
            if k == "blocks" and m.get("format") == "stack" and isinstance(v, list):
                out[k] = [matrix(b, f"{path}.{j}") for j, b in enumerate(v)]
            elif isinstance(v, np.ndarray):
                # dense "w" is stored under the matrix's own name (layer0.W), factors as
                # layer0.W.<factor>
                out[k] = put(path if (m.get("format") == "dense" and k == "w")
                             else f"{path}.{k}", v)
            else:
                out[k] = v
        return out

    entry: dict[str, Any] = {}
    for key, v in lay.items():
        if key == "directions" and isinstance(v, list):
            dirs = []
            for d, ent in enumerate(v):
                tag = ("fwd", "bwd")[d] if len(v) == 2 else str(d)
                base = prefix if len(v) == 1 else f"{prefix}.{tag}"
                if not isinstance(ent, dict):
                    dirs.append(ent)
                    continue
                out = {}
                for k, x in ent.items():
                    if k in ("W", "R", "U"):
                        out[k] = matrix(x, f"{base}.{k}")
                    elif isinstance(x, np.ndarray):
                        out[k] = put(f"{base}.{k}", x)
                    else:
                        out[k] = x
                dirs.append(out)
            entry[key] = dirs
        elif key == "W":
            entry[key] = matrix(v, f"{prefix}.W")
        elif isinstance(v, np.ndarray):
            entry[key] = put(f"{prefix}.{key}", v)
        else:
            entry[key] = v
    return entry


def save(path: str | os.PathLike[str], layers: Iterable[Layer], input_size: int | None = None,
         seq_len: int | None = None, output: str = "sequence", name: str | None = None) -> Path:
    """Write an rnngen .npz model and return its path.

    input_size: features per step (default: the first layer's); seq_len: the default
    sequence length (`rnngen build --seq-len` overrides it); output: "sequence" (one output
    per step, shape [T, 1, F]) or "last" (the last step's, shape [1, F]); name: the model
    name (default: the file name). Raises RnngenError, naming the layer and field, for
    anything `rnngen build` would refuse (except NaN/Inf in dense weights, which the build
    reports)."""
    p = Path(path)
    if p.suffix.lower() != ".npz":
        raise RnngenError(f"{p}: the file name must end in .npz (rnngen picks the frontend by "
                          "the suffix)")
    manifest, arrays = manifest_and_arrays(layers, input_size, seq_len, output, name)
    try:
        text = json.dumps(manifest)
    except (TypeError, ValueError) as e:
        raise RnngenError(f"rnngen.npz.save: the layers hold a value JSON cannot store "
                          f"({e})") from None
    # the same checks `rnngen build` applies (a file save writes always loads)
    _frontend.parse(json.loads(text), arrays, p, 1 if seq_len is None else None)
    from .outputs import write_file

    write_file(p, lambda f: np.savez(f, **{_frontend.MANIFEST: np.array(text)}, **arrays))
    return p


# ---------------------------------------------------------------------- PyTorch

_TORCH_ACTS = {"ReLU": "relu", "Tanh": "tanh", "Sigmoid": "sigmoid"}
_TORCH_NOOPS = ("Dropout", "Identity")  # no-ops at inference


def from_torch(*modules: Any) -> list[Layer]:
    """Layer dicts for torch modules applied in this order.

    Understood: nn.LSTM, nn.GRU, nn.RNN (any num_layers, bidirectional, with or without
    bias; batch_first does not matter for batch 1; inter-layer dropout is an inference
    no-op), nn.Linear, nn.ReLU/Tanh/Sigmoid, nn.Softmax/LogSoftmax over the feature axis,
    nn.Dropout/Identity (skipped), and nn.Sequential/ModuleList or lists of these.
    Refused with an RnngenError: LSTM proj_size, anything else (pass the layers your
    forward() applies, in order, instead of your own Module)."""
    layers: list[Layer] = []
    for m in modules:
        layers.extend(_from_torch_one(m))
    return layers


def _from_torch_one(m: Any) -> list[Layer]:
    cls = type(m).__name__
    if isinstance(m, (list, tuple)) or cls in ("Sequential", "ModuleList"):
        return [lay for sub in m for lay in _from_torch_one(sub)]
    if hasattr(m, "mode") and hasattr(m, "weight_ih_l0"):
        return _torch_recurrent(m)
    if cls == "Linear" and hasattr(m, "weight"):
        return [dense(m.weight, getattr(m, "bias", None))]
    if cls in _TORCH_ACTS:
        return [_simple(_TORCH_ACTS[cls], None)]
    if cls in ("Softmax", "LogSoftmax"):
        dim = getattr(m, "dim", None)
        if dim is None or dim == 0:
            raise RnngenError(f"rnngen.npz.from_torch: {cls}(dim={dim}) does not normalize over "
                              "the features; rnngen applies it over the last axis: use "
                              f"{cls}(dim=-1)")
        return [_simple("softmax" if cls == "Softmax" else "log_softmax", None)]
    if cls in _TORCH_NOOPS:
        return []
    raise RnngenError(f"rnngen.npz.from_torch: {cls} is not a layer rnngen converts (LSTM, GRU, "
                      "RNN, Linear, ReLU, Tanh, Sigmoid, Softmax, LogSoftmax, Dropout, "
                      "Identity, Sequential); pass the layers your forward() applies, in order")


def _torch_recurrent(m: Any) -> list[Layer]:
    cls = type(m).__name__
    mode = str(m.mode)
    if mode not in ("LSTM", "GRU", "RNN_TANH", "RNN_RELU"):
        raise RnngenError(f"rnngen.npz.from_torch: {cls} has mode '{mode}'")
    if int(getattr(m, "proj_size", 0) or 0) > 0:
        raise RnngenError(f"rnngen.npz.from_torch: {cls}: proj_size={m.proj_size} (LSTM with "
                          "projections) is not supported")
    bidir = bool(getattr(m, "bidirectional", False))
    direction = "bidirectional" if bidir else "forward"
    bias = bool(getattr(m, "bias", True))
    out = []
    for k in range(int(getattr(m, "num_layers", 1))):
        sfx = [f"_l{k}", f"_l{k}_reverse"] if bidir else [f"_l{k}"]
        W, R = _torch_params(m, "weight_ih", sfx), _torch_params(m, "weight_hh", sfx)
        b_ih, b_hh = ((_torch_params(m, "bias_ih", sfx), _torch_params(m, "bias_hh", sfx))
                      if bias else (None, None))
        if mode == "LSTM":
            out.append(lstm(W, R, b_ih, b_hh, gate_order="pytorch", direction=direction))
        elif mode == "GRU":
            out.append(gru(W, R, b_ih, b_hh, gate_order="pytorch", linear_before_reset=True,
                           direction=direction))
        else:
            out.append(rnn(W, R, b_ih, b_hh, direction=direction,
                           nonlinearity="relu" if mode == "RNN_RELU" else "tanh"))
    return out


def _torch_params(m: Any, base: str, suffixes: list[str]) -> list[np.ndarray]:
    """weight_ih_l0, weight_ih_l0_reverse, ... of a torch RNN module, per direction."""
    cls = type(m).__name__
    vals = []
    for s in suffixes:
        if not hasattr(m, base + s):
            raise RnngenError(f"rnngen.npz.from_torch: {cls} has no {base + s}")
        vals.append(_np(getattr(m, base + s), f"{cls}.{base + s}"))
    return vals


# ---------------------------------------------------------------------- Microsoft EdgeML

_EDGEML_NONLINEARITIES = ("tanh", "sigmoid", "relu")


def from_edgeml(cell: Any, *, name: str | None = None) -> Layer:
    """A fastrnn / fastgrnn layer from an EdgeML cell (edgeml_pytorch.graph.rnn FastRNNCell
    or FastGRNNCell, full or low rank), run over the sequence as EdgeML's FastRNN /
    FastGRNN wrappers do.

    EdgeML stores the two cells differently (edgeml_pytorch, rnn.py): FastGRNNCell keeps
    W [H, I] (low rank W = W2 W1, W1 [r, I], W2 [H, r]) and multiplies x W^T; FastRNNCell
    keeps W [I, H] (W1 [I, r], W2 [r, H]) and multiplies x W. Both become rnngen's
    W [H, I] (a lowrank entry for the low-rank forms), and likewise U. Hard-thresholded
    (sparsified) matrices stay dense here; `rnngen build --sparse-threshold` stores them
    as CSR."""
    kind = str(getattr(cell, "cellType", type(cell).__name__))
    if kind not in ("FastRNN", "FastGRNN"):
        raise RnngenError(f"rnngen.npz.from_edgeml: {type(cell).__name__} (cellType "
                          f"'{kind}') is not a FastRNN or FastGRNN cell")

    def get(attr: str) -> np.ndarray:
        if not hasattr(cell, attr):
            raise RnngenError(f"rnngen.npz.from_edgeml: the {kind} cell has no {attr}")
        return _np(getattr(cell, attr), f"{kind}.{attr}")

    def matrix(base: str, rank: Any) -> Any:
        if rank is None:
            w = get(base)
            return w if kind == "FastGRNN" else w.T
        w1, w2 = get(base + "1"), get(base + "2")
        if kind == "FastGRNN":  # W = W2 W1
            return lowrank(w2, w1)
        return lowrank(w2.T, w1.T)  # x W1 W2 = (W2^T W1^T) x

    acts = {}
    for field in (("gate", "update") if kind == "FastGRNN" else ("update",)):
        v = getattr(cell, f"_{field}_nonlinearity", None)
        if v is None:
            v = getattr(cell, f"{field}_nonlinearity", "sigmoid" if field == "gate" else "tanh")
        if not isinstance(v, str) or v not in _EDGEML_NONLINEARITIES:
            raise RnngenError(f"rnngen.npz.from_edgeml: {kind} {field}_nonlinearity {v!r} is "
                              f"not supported (rnngen has {', '.join(_EDGEML_NONLINEARITIES)})")
        acts[f"{field}_nonlinearity"] = v
    W = matrix("W", getattr(cell, "_wRank", None))
    U = matrix("U", getattr(cell, "_uRank", None))
    I = int(getattr(cell, "_input_size", 0) or 0) or None
    H = int(getattr(cell, "_hidden_size", 0) or 0) or None
    if kind == "FastGRNN":
        return fastgrnn(W, U, get("bias_gate"), get("bias_update"), zeta=get("zeta"),
                        nu=get("nu"), name=name, input_size=I,
                        hidden_size=H, **acts)
    return fastrnn(W, U, get("bias_update"), alpha=get("alpha"), beta=get("beta"),
                   name=name, input_size=I, hidden_size=H, **acts)
