"""Compressed models end to end: every format (per-gate stack of mixed formats, HMD, CSR,
low rank, Kronecker with padding, HKP) on LSTM, GRU and RNN (ONNX files written with the
conventions of docs/compression.md) and on FastRNN and FastGRNN (.npz), plus an .npz LSTM
per format. For each model:

(a) the frontend builds the intended IR format (the factors, never the dense product);
(b) rnngen's reference equals a NumPy run of the cell with the dense product of the factors
    (and, for ONNX, onnxruntime on the same file, which proves the file is a valid model);
(c) `rnngen.driver.verify` builds the C, runs it and matches the reference (atol 1e-5,
    rtol 1e-4): every model on the host, each format once and each cell once on
    cortex-a73 (qemu-aarch64) and cortex-m4 (qemu-system-arm).

Sizes are tiny and odd on purpose: n odd for HMD (C covers ceil(n/2)), prime sizes 5 and 7
for Kronecker (zero-padded products), empty CSR rows, rank 1. Bad factors are refused by
the CLI with one line naming the matrix; --sparse-threshold and `rnngen inspect` are
checked too.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import pytest
import rnngen.npz as rn
from onnx import TensorProto, helper, numpy_helper
from rnngen import driver, formats, ir, pipeline, reference

F32 = np.float32
T = 6
ATOL, RTOL = 1e-5, 1e-4
CELLS = ("LSTM", "GRU", "RNN", "FastRNN", "FastGRNN")
FORMATS = ("stack", "hmd", "csr", "lowrank", "kron", "hkp")
GATES = {"LSTM": 4, "GRU": 3, "RNN": 1, "FastRNN": 1, "FastGRNN": 1}
# (input size, hidden size): odd n for HMD; primes 5 and 7 give padded Kronecker products
SIZES = {"LSTM": (5, 7), "GRU": (5, 7), "RNN": (5, 7), "FastRNN": (5, 7), "FastGRNN": (5, 6)}
# one matrix for all gates instead of one block per gate
WHOLE = {("GRU", "lowrank"), ("LSTM", "kron")}


# ---------------------------------------------------------------------- factors

@dataclass
class Fac:
    """One row block in a format, with its factors."""

    fmt: str
    arrays: dict[str, np.ndarray]
    shape: tuple[int, int]

    def dense(self) -> np.ndarray:
        """The dense block, multiplied out here in float64 (independently of rnngen.ir)."""
        a = {k: v.astype(np.float64) for k, v in self.arrays.items()}
        m, n = self.shape
        if self.fmt == "dense":
            return a["w"]
        if self.fmt == "lowrank":
            return a["u"] @ a["v"]
        if self.fmt == "hmd":
            low = np.hstack([np.outer(a["b"], a["c"]), np.outer(a["d"], a["e"])])
            return np.vstack([a["a"].reshape(-1, n), low])
        if self.fmt == "csr":
            w = np.zeros((m, n))
            ptr = self.arrays["row_ptr"]
            for i in range(m):
                w[i, self.arrays["col_idx"][ptr[i]:ptr[i + 1]]] = a["values"][ptr[i]:ptr[i + 1]]
            return w
        if self.fmt == "kron":
            return np.kron(a["a"], a["b"])[:m, :n]
        raise ValueError(self.fmt)


def _u(rng, *shape, scale=0.5):
    return rng.uniform(-scale, scale, size=shape).astype(F32)


def csr_arrays(w: np.ndarray) -> dict[str, np.ndarray]:
    rows, cols = np.nonzero(w)
    ptr = np.zeros(w.shape[0] + 1, np.int64)
    np.add.at(ptr, rows + 1, 1)
    return {"values": w[rows, cols].astype(F32), "col_idx": cols.astype(np.int32),
            "row_ptr": np.cumsum(ptr).astype(np.int32)}


def kron_shapes(m: int, n: int) -> tuple[tuple[int, int], tuple[int, int]]:
    n1 = 2 if n >= 4 else 1
    return (2, n1), (-(-m // 2), -(-n // n1))


def block(fmt: str, m: int, n: int, rng, variant: int = 0) -> Fac:
    if fmt == "dense":
        return Fac(fmt, {"w": _u(rng, m, n)}, (m, n))
    if fmt == "lowrank":
        d = 1 if variant else 2  # rank 1 in the R matrices
        return Fac(fmt, {"u": _u(rng, m, d), "v": _u(rng, d, n)}, (m, n))
    if fmt == "hmd":
        r = 0 if variant and m > 2 else max(1, m // 3)  # r = 0: no A' (R of the RNN)
        return Fac(fmt, {"a": _u(rng, r, n), "b": _u(rng, m - r), "c": _u(rng, n - n // 2),
                         "d": _u(rng, m - r), "e": _u(rng, n // 2)}, (m, n))
    if fmt == "csr":
        w = _u(rng, m, n)
        w[rng.random((m, n)) < 0.5] = 0
        w[m // 2] = 0  # an empty row
        return Fac(fmt, csr_arrays(w), (m, n))
    if fmt == "kron":
        (m1, n1), (m2, n2) = kron_shapes(m, n)
        return Fac(fmt, {"a": _u(rng, m1, n1, scale=0.8), "b": _u(rng, m2, n2, scale=0.8)},
                   (m, n))
    raise ValueError(fmt)


def matrix_blocks(cell: str, fmt: str, role: str, H: int, n: int, rng) -> list[Fac]:
    """The row blocks of one direction's W [G H, I] or R [G H, H] in format `fmt`."""
    G = GATES[cell]
    # R: rank 1 for lowrank; HMD without A' (r = 0) for the RNN's R
    variant = int(role == "R" and (fmt != "hmd" or cell == "RNN"))
    if fmt == "stack":  # a different format per gate
        if G == 1:
            return [block("dense", 2, n, rng), block("lowrank", H - 2, n, rng)]
        return [block(f, H, n, rng, variant) for f in ("dense", "hmd", "csr", "lowrank")[:G]]
    if fmt == "hkp":  # per gate: one dense row over a Kronecker block
        return [b for _ in range(G) for b in (block("dense", 1, n, rng),
                                              block("kron", H - 1, n, rng))]
    if fmt == "csr" and role == "W":
        return [block("csr", G * H, n, rng)]  # one CSR matrix (in ONNX: the whole W)
    if (cell, fmt) in WHOLE:
        return [block(fmt, G * H, n, rng, variant)]
    return [block(fmt, H, n, rng, variant) for _ in range(G)]


def leaf_formats(facs: list[Fac]) -> list[str]:
    """The IR block formats rnngen should build (ir.stack merges adjacent dense blocks)."""
    out: list[str] = []
    for f in facs:
        if not (f.fmt == "dense" and out and out[-1] == "dense"):
            out.append(f.fmt)
    return out


def ir_formats(m: ir.Matrix) -> list[str]:
    return [b.fmt for b in m.blocks] if isinstance(m, formats.RowStack) else [m.fmt]


@dataclass
class Model:
    cell: str
    fmt: str
    path: Path
    I: int
    H: int
    dirs: list[dict]  # per direction: W, R (lists of Fac), wb, rb, scalars, reverse
    lbr: bool = False
    output: str = "Y"

    def expected_formats(self) -> list[tuple[list[str], list[str]]]:
        return [(leaf_formats(d["W"]), leaf_formats(d["R"])) for d in self.dirs]


# ---------------------------------------------------------------------- NumPy cells

def _sig(v):
    return 1.0 / (1.0 + np.exp(-v))


def numpy_run(m: Model, x: np.ndarray) -> np.ndarray:
    """Y [T, D, H] of the model's layer, in float64 with the dense products of the factors."""
    H, xs = m.H, x.reshape(T, m.I).astype(np.float64)
    Y = np.zeros((T, len(m.dirs), H))
    for d, dr in enumerate(m.dirs):
        W = np.vstack([f.dense() for f in dr["W"]])
        R = np.vstack([f.dense() for f in dr["R"]])
        wb, rb = dr["wb"].astype(np.float64), dr["rb"].astype(np.float64)
        h, c = np.zeros(H), np.zeros(H)
        for t in (range(T - 1, -1, -1) if dr["reverse"] else range(T)):
            gx = W @ xs[t]
            if m.cell == "LSTM":  # gates i, o, f, c
                g = gx + wb + R @ h + rb
                i, o, f = _sig(g[:H]), _sig(g[H:2 * H]), _sig(g[2 * H:3 * H])
                c = f * c + i * np.tanh(g[3 * H:])
                h = o * np.tanh(c)
            elif m.cell == "GRU":  # gates z, r, h
                gh = R[:2 * H] @ h + rb[:2 * H]
                z = _sig(gx[:H] + wb[:H] + gh[:H])
                r = _sig(gx[H:2 * H] + wb[H:2 * H] + gh[H:])
                if m.lbr:
                    hh = np.tanh(gx[2 * H:] + wb[2 * H:] + r * (R[2 * H:] @ h + rb[2 * H:]))
                else:
                    hh = np.tanh(gx[2 * H:] + wb[2 * H:] + R[2 * H:] @ (r * h) + rb[2 * H:])
                h = (1 - z) * hh + z * h
            elif m.cell == "RNN":
                h = np.tanh(gx + wb + R @ h + rb)
            elif m.cell == "FastRNN":
                alpha, beta = dr["scalars"]
                h = _sig(beta) * h + _sig(alpha) * np.tanh(gx + R @ h + wb)
            else:  # FastGRNN: wb is the gate bias, rb the update bias
                zeta, nu = dr["scalars"]
                p = gx + R @ h
                z = _sig(p + wb)
                h = z * h + (_sig(zeta) * (1 - z) + _sig(nu)) * np.tanh(p + rb)
            Y[t, d] = h
    return Y


# ---------------------------------------------------------------------- ONNX files

class OnnxWriter:
    """Writes the factor subgraphs of docs/compression.md."""

    def __init__(self, opset: int):
        self.opset = opset
        self.nodes: list = []
        self.inits: list = []
        self.sparse: list = []
        self.k = 0

    def name(self, base: str) -> str:
        self.k += 1
        return f"{base}_{self.k}"

    def init(self, base: str, arr: np.ndarray) -> str:
        n = self.name(base)
        self.inits.append(numpy_helper.from_array(np.asarray(arr), n))
        return n

    def ints(self, vals) -> str:
        return self.init("c", np.asarray(vals, np.int64))

    def node(self, op: str, ins: list[str], **attrs) -> str:
        out = self.name(op.lower())
        self.nodes.append(helper.make_node(op, ins, [out], name=out, **attrs))
        return out

    def sparse_init(self, base: str, values: np.ndarray, lin: np.ndarray, dims) -> str:
        n = self.name(base)
        v = numpy_helper.from_array(np.asarray(values, F32), n)
        i = numpy_helper.from_array(np.asarray(lin, np.int64), n + "_idx")
        self.sparse.append(helper.make_sparse_tensor(v, i, list(dims)))
        return n

    def unsqueeze(self, x: str, axes: list[int]) -> str:
        if self.opset >= 13:
            return self.node("Unsqueeze", [x, self.ints(axes)])
        return self.node("Unsqueeze", [x], axes=axes)

    def block(self, f: Fac) -> str:
        a = f.arrays
        m, n = f.shape
        if f.fmt == "dense":
            return self.init("w", a["w"])
        if f.fmt == "lowrank":  # an Identity on U: "Identity nodes may appear anywhere"
            u = self.node("Identity", [self.init("u", a["u"])])
            return self.node("MatMul", [u, self.init("v", a["v"])])
        if f.fmt == "hmd":
            low = self.node("Concat", [
                self.node("MatMul", [self.init("hb", a["b"][:, None]),
                                     self.init("hc", a["c"][None])]),
                self.node("MatMul", [self.init("hd", a["d"][:, None]),
                                     self.init("he", a["e"][None])])], axis=1)
            if a["a"].shape[0] == 0:
                return low
            return self.node("Concat", [self.init("ha", a["a"]), low], axis=0)
        if f.fmt == "csr":
            dense = f.dense()
            lin = np.flatnonzero(dense)
            return self.sparse_init("s", dense.reshape(-1)[lin], lin, (m, n))
        if f.fmt == "kron":
            (m1, n1), (m2, n2) = a["a"].shape, a["b"].shape
            prod = self.node("Mul", [self.unsqueeze(self.init("ka", a["a"]), [1, 3]),
                                     self.unsqueeze(self.init("kb", a["b"]), [0, 2])])
            k = self.node("Reshape", [prod, self.ints([m1 * m2, n1 * n2])])
            if (m1 * m2, n1 * n2) == (m, n):
                return k
            return self.node("Slice", [k, self.ints([0, 0]), self.ints([m, n]),
                                       self.ints([0, 1])])
        raise ValueError(f.fmt)

    def recurrent_input(self, per_dir: list[list[Fac]], whole_sparse: bool) -> str:
        if whole_sparse:  # one sparse_initializer for the whole [D, G H, cols]
            dense = np.stack([np.vstack([f.dense() for f in facs]) for facs in per_dir])
            lin = np.flatnonzero(dense)
            return self.sparse_init("W_sparse", dense.reshape(-1)[lin], lin, dense.shape)
        parts = []
        for facs in per_dir:
            blocks = [self.block(f) for f in facs]
            m = blocks[0] if len(blocks) == 1 else self.node("Concat", blocks, axis=0)
            parts.append(self.unsqueeze(m, [0]))
        if len(parts) == 1:
            return self.node("Identity", [parts[0]])
        return self.node("Concat", parts, axis=0)


def onnx_model(cell: str, fmt: str, folder: Path, seed: int = 0) -> Model:
    rng = np.random.default_rng(seed)
    I, H = SIZES[cell]
    G = GATES[cell]
    D = 2 if cell == "LSTM" else 1  # the LSTM runs bidirectional: per-direction Concat
    opset = 11 if cell == "RNN" else 17  # Unsqueeze axes as an attribute before opset 13
    lbr = cell == "GRU" and fmt in ("csr", "hkp")
    dirs = []
    for d in range(D):
        dirs.append(dict(W=matrix_blocks(cell, fmt, "W", H, I, rng),
                         R=matrix_blocks(cell, fmt, "R", H, H, rng),
                         wb=_u(rng, G * H), rb=_u(rng, G * H), reverse=d == 1, scalars=()))
    w = OnnxWriter(opset)
    Wt = w.recurrent_input([d["W"] for d in dirs], whole_sparse=fmt == "csr")
    Rt = w.recurrent_input([d["R"] for d in dirs], whole_sparse=False)
    Bt = w.init("B", np.stack([np.concatenate([d["wb"], d["rb"]]) for d in dirs]))
    attrs = dict(hidden_size=H, direction="bidirectional" if D == 2 else "forward")
    if cell == "GRU":
        attrs["linear_before_reset"] = int(lbr)
    w.nodes.append(helper.make_node(cell, ["X", Wt, Rt, Bt], ["Y"], name=cell.lower(),
                                    **attrs))
    graph = helper.make_graph(
        w.nodes, f"{cell}_{fmt}", [helper.make_tensor_value_info("X", TensorProto.FLOAT,
                                                                 [T, 1, I])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [T, D, 1, H])],
        initializer=w.inits, sparse_initializer=w.sparse)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    path = folder / f"{cell.lower()}_{fmt}.onnx"
    onnx.save(model, path)
    return Model(cell, fmt, path, I, H, dirs, lbr)


# ---------------------------------------------------------------------- .npz files

def npz_entry(f: Fac):
    a = f.arrays
    if f.fmt == "dense":
        return a["w"]
    if f.fmt == "lowrank":
        return rn.lowrank(a["u"], a["v"])
    if f.fmt == "hmd":
        return rn.hmd(a["a"] if a["a"].shape[0] else None, a["b"], a["c"], a["d"], a["e"])
    if f.fmt == "csr":
        return rn.csr(a["values"], a["col_idx"], a["row_ptr"], f.shape)
    if f.fmt == "kron":
        return rn.kron(a["a"], a["b"], f.shape)
    raise ValueError(f.fmt)


def npz_matrix(facs: list[Fac]):
    return npz_entry(facs[0]) if len(facs) == 1 else rn.stack(*[npz_entry(f) for f in facs])


def npz_model(cell: str, fmt: str, folder: Path, seed: int = 0) -> Model:
    rng = np.random.default_rng(seed)
    I, H = SIZES[cell]
    G = GATES[cell]
    W = matrix_blocks(cell, fmt, "W", H, I, rng)
    R = matrix_blocks(cell, fmt, "R", H, H, rng)
    wb, rb = _u(rng, G * H), _u(rng, G * H)
    scalars: tuple = ()
    if cell == "LSTM":
        layer = rn.lstm(npz_matrix(W), npz_matrix(R), wb, rb, gate_order="onnx")
    elif cell == "FastRNN":
        scalars = (-1.5, 2.0)  # alpha, beta (before the sigmoid)
        rb = np.zeros(H, F32)
        layer = rn.fastrnn(npz_matrix(W), npz_matrix(R), wb, alpha=scalars[0],
                           beta=scalars[1])
    elif cell == "FastGRNN":
        scalars = (1.0, -2.0)  # zeta, nu
        layer = rn.fastgrnn(npz_matrix(W), npz_matrix(R), wb, rb, zeta=scalars[0],
                            nu=scalars[1])
    else:
        raise ValueError(cell)
    path = rn.save(folder / f"{cell.lower()}_{fmt}.npz", [layer], seq_len=T)
    return Model(cell, fmt, path, I, H,
                 [dict(W=W, R=R, wb=wb, rb=rb, reverse=False, scalars=scalars)],
                 output="output")


def make_model(cell: str, fmt: str, kind: str, folder: Path) -> Model:
    seed = sum(map(ord, cell + fmt + kind))
    if kind == "onnx":
        return onnx_model(cell, fmt, folder, seed)
    return npz_model(cell, fmt, folder, seed)


# ---------------------------------------------------------------------- (a) and (b)

def _x(m: Model) -> np.ndarray:
    return np.random.default_rng(7).uniform(-1, 1, size=(T, 1, m.I)).astype(F32)


def check_ir_and_reference(m: Model) -> None:
    g = pipeline.compile_model(m.path, pipeline.Options())
    rec = [n for n in g.nodes if isinstance(n, ir.Recurrent)]
    assert len(rec) == 1 and rec[0].cell == m.cell
    # (a) the intended formats, block by block, never one dense matrix
    got = [(ir_formats(cd.W), ir_formats(cd.R)) for cd in rec[0].directions]
    assert got == m.expected_formats(), (got, m.expected_formats())
    assert all(f != ["dense"] for pair in got for f in pair)
    # (b) rnngen's reference against NumPy with the dense products of the factors
    x = _x(m)
    want = numpy_run(m, x)  # [T, D, H]
    out = reference.run(g, x)[m.output]
    D = len(m.dirs)
    if m.output == "Y":  # ONNX Y [T, D, 1, H]
        got_y = out.reshape(T, D, m.H)
    else:  # npz "sequence" [T, 1, D*H]
        got_y = out.reshape(T, D, m.H)
    np.testing.assert_allclose(got_y, want, atol=ATOL, rtol=RTOL)
    if m.path.suffix == ".onnx":  # the file is a valid model: onnxruntime agrees
        import onnxruntime as ort

        sess = ort.InferenceSession(str(m.path), providers=["CPUExecutionProvider"])
        y_ort = sess.run(None, {"X": x})[0]
        np.testing.assert_allclose(y_ort.reshape(T, D, m.H), want, atol=ATOL, rtol=RTOL)


def _kind(cell: str) -> str:
    return "npz" if cell.startswith("Fast") else "onnx"


CASES = [(c, f, _kind(c)) for c in CELLS for f in FORMATS] + [("LSTM", f, "npz") for f in FORMATS]


def _verify(m: Model, target: str) -> None:
    res = driver.verify(m.path, driver.BuildOptions(target=target, atol=ATOL, rtol=RTOL))
    assert res.passed, res.output
    assert res.report["mismatches"] == 0 and res.report["values"] == T * len(m.dirs) * m.H


@pytest.mark.parametrize("cell,fmt,kind", CASES, ids=[f"{c}-{f}-{k}" for c, f, k in CASES])
def test_compressed_model_on_host(tmp_path, cell, fmt, kind):
    m = make_model(cell, fmt, kind, tmp_path)
    check_ir_and_reference(m)
    _verify(m, "host")


# each format once and each cell once on each QEMU board
QEMU_CASES = [("LSTM", "hmd", "onnx"), ("GRU", "kron", "onnx"), ("RNN", "csr", "onnx"),
              ("FastRNN", "lowrank", "npz"), ("FastGRNN", "hkp", "npz"),
              ("LSTM", "stack", "npz")]


@pytest.mark.qemu
@pytest.mark.parametrize("board", ["cortex-a73", "cortex-m4"])
@pytest.mark.parametrize("cell,fmt,kind", QEMU_CASES,
                         ids=[f"{c}-{f}-{k}" for c, f, k in QEMU_CASES])
def test_compressed_model_under_qemu(tmp_path, board, cell, fmt, kind):
    # no skip: a missing cross compiler or QEMU makes verify raise, and the test fails
    _verify(make_model(cell, fmt, kind, tmp_path), board)


# ---------------------------------------------------------------------- the CLI

def rnngen(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rnngen.cli", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=300)


def _lstm_lowrank_onnx(folder: Path, edit=None, name: str = "bad.onnx") -> Path:
    """A forward LSTM (I 5, H 4) whose W is four low-rank gate blocks and whose R is four
    sparse gate blocks; `edit(writer, facs)` may spoil factors before writing."""
    rng = np.random.default_rng(21)
    w = OnnxWriter(17)
    facs = {"W": [block("lowrank", 4, 5, rng) for _ in range(4)],
            "R": [block("csr", 4, 4, rng) for _ in range(4)]}
    if edit:
        edit(facs)
    Wt = w.recurrent_input([facs["W"]], whole_sparse=False)
    Rt = w.recurrent_input([facs["R"]], whole_sparse=False)
    w.nodes.append(helper.make_node("LSTM", ["X", Wt, Rt], ["Y"], name="lstm", hidden_size=4))
    g = helper.make_graph(w.nodes, "m", [helper.make_tensor_value_info(
        "X", TensorProto.FLOAT, [T, 1, 5])], [helper.make_tensor_value_info(
            "Y", TensorProto.FLOAT, [T, 1, 1, 4])], initializer=w.inits,
        sparse_initializer=w.sparse)
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    path = folder / name
    onnx.save(model, path)
    return path


def _spoil_sparse(folder: Path, fn) -> Path:
    """The LSTM above with R's gate-1 sparse initializer indices changed by fn."""
    p = _lstm_lowrank_onnx(folder)
    m = onnx.load(str(p))
    sp = m.graph.sparse_initializer[1]
    idx = numpy_helper.to_array(sp.indices).copy()
    sp.indices.CopyFrom(numpy_helper.from_array(fn(idx), sp.indices.name))
    onnx.save(m, p)
    return p


def _bad_npz(folder: Path, layer, edit) -> Path:
    manifest, arrays = rn.manifest_and_arrays([layer], seq_len=T)
    edit(arrays)
    p = folder / "bad.npz"
    np.savez(p, __rnngen__=np.array(json.dumps(manifest)), **arrays)
    return p


def _set(facs, role, k, key, fn):
    facs[role][k].arrays[key] = fn(facs[role][k].arrays[key])


def _nan(a):
    a = a.copy()
    a.flat[1] = np.nan
    return a


BAD = {
    "onnx factor shape vs layer": (
        lambda d: _lstm_lowrank_onnx(d, lambda f: f["W"].__setitem__(
            2, block("lowrank", 4, 6, np.random.default_rng(0)))),
        ["bad.onnx: LSTM node 'lstm' W direction 0 block 2: lowrank MatMul('", "(2, 6))",
         "has shape (4, 6), expected (4, 5) = [hidden_size, input_size]"]),
    "onnx gate rows vs layer": (
        lambda d: _lstm_lowrank_onnx(d, lambda f: f["R"].__setitem__(
            3, block("csr", 5, 4, np.random.default_rng(0)))),
        ["bad.onnx: LSTM node 'lstm' R direction 0 block 3: csr sparse initializer 's_",
         "has shape (5, 4), expected (4, 4) = [hidden_size, hidden_size]"]),
    "onnx factors do not multiply": (
        lambda d: _lstm_lowrank_onnx(d, lambda f: _set(f, "W", 1, "v", lambda v: v[:1])),
        ["bad.onnx: LSTM node 'lstm' W direction 0 block 1: lowrank MatMul(",
         "the factors do not multiply (U has 2 columns, V 1 rows)"]),
    "onnx csr index out of range": (
        lambda d: _spoil_sparse(d, lambda i: np.append(i[:-1], 16)),
        ["bad.onnx: LSTM node 'lstm' R direction 0 block 1: sparse initializer 's_",
         "index 16 (entry", "is out of range 0..15 for shape [4, 4]"]),
    "onnx csr indices unsorted": (
        lambda d: _spoil_sparse(d, lambda i: i[::-1].copy()),
        ["bad.onnx: LSTM node 'lstm' R direction 0 block 1: sparse initializer 's_",
         "indices are not sorted (row-major, increasing, no repeats) at entry 1"]),
    "onnx nan factor": (
        lambda d: _lstm_lowrank_onnx(d, lambda f: _set(f, "W", 3, "v", _nan)),
        ["bad.onnx: LSTM node 'lstm' W direction 0 block 3: lowrank factor 'v' (initializer "
         "'v_", "contains NaN or Inf"]),
    "npz factor shape vs layer": (
        lambda d: _bad_npz(d, rn.fastgrnn(rn.kron(np.ones((2, 2), F32), np.ones((4, 3), F32),
                                                  (7, 5)), np.eye(7, dtype=F32), zeta=1, nu=1),
                           lambda a: a.update({"layer0.W.b": np.ones((4, 2), F32)})),
        ["bad.npz: layer 0 (fastgrnn) directions[0].W: the Kronecker product of a (2, 2) and "
         "b (4, 2) is 8 x 4, smaller than the matrix 7 x 5 ([hidden_size, input_size])"]),
    "npz csr index out of range": (
        lambda d: _bad_npz(d, rn.rnn(np.ones((3, 2), F32), rn.csr_from_dense(np.eye(3)),
                                     input_size=2, hidden_size=3),
                           lambda a: a.update({"layer0.R.col_idx": np.array([0, 3, 2])})),
        ["bad.npz: layer 0 (rnn) directions[0].R: CSR column index out of range 0..2"]),
    "npz csr indices unsorted": (
        lambda d: _bad_npz(d, rn.rnn(np.ones((3, 2), F32),
                                     rn.csr_from_dense(np.ones((3, 3), F32)),
                                     input_size=2, hidden_size=3),
                           lambda a: a["layer0.R.col_idx"].__setitem__(slice(3, 6), [2, 1, 0])),
        ["bad.npz: layer 0 (rnn) directions[0].R: CSR column indices of row 1 are not sorted "
         "and unique"]),
    "npz nan factor": (
        lambda d: _bad_npz(d, rn.fastrnn(rn.hmd(None, np.ones(3), np.ones(1), np.ones(3),
                                                np.ones(1)), np.eye(3, dtype=F32), alpha=0,
                                         beta=0),
                           lambda a: a.update({"layer0.W.c": np.array([np.nan], F32)})),
        ["bad.npz: layer 0 (fastrnn) directions[0].W: factor 'c' contains NaN or Inf"]),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_factors_are_one_line_errors_naming_the_matrix(tmp_path, case):
    make, needles = BAD[case]
    path = make(tmp_path)
    r = rnngen("build", path.name, "-o", "out", cwd=tmp_path)
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rnngen: error: "), r.stderr
    assert "Traceback" not in r.stderr
    for n in needles:
        assert n in lines[0], (n, lines[0])
    assert not (tmp_path / "out").exists()


def test_inspect_shows_formats_compression_and_mac_reduction(tmp_path):
    hmd = make_model("LSTM", "hmd", "onnx", tmp_path)
    hkp = make_model("LSTM", "hkp", "npz", tmp_path)
    mixed = make_model("GRU", "stack", "onnx", tmp_path)
    r = rnngen("inspect", hmd.path.name, "--json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    mats = json.loads(r.stdout)["layers"][0]["matrices"]
    assert [m["role"] for m in mats] == ["W", "R", "bwd W", "bwd R"]
    W = mats[0]
    assert W["format"] == "hmd x4" and W["blocks"] == ["hmd"] * 4 and W["shape"] == [28, 5]
    # per gate 7 x 5 with r = 2: storage r n + 2 (m - r) + n = 25, MACs r n + n + 3 (m - r) = 30
    assert W["params"] == 4 * 25 and W["macs"] == 4 * 30
    assert W["compression"] == round(140 / 100, 3) and W["mac_reduction"] == round(140 / 120, 3)
    r = rnngen("inspect", hkp.path.name, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    line = next(x for x in r.stdout.splitlines() if x.split()[:2] == ["W", "(dense+kron)"])
    assert "x4 28x5" in line and "compression" in line and "MAC reduction" in line
    r = rnngen("inspect", mixed.path.name, "--json", cwd=tmp_path)
    mats = json.loads(r.stdout)["layers"][0]["matrices"]
    assert [m["format"] for m in mats] == ["dense+hmd+csr"] * 2


def test_sparse_threshold_builds_csr_and_verifies(tmp_path):
    """A dense LSTM whose W is 60 % zeros: CSR from --sparse-threshold 0.5 (not 0.7),
    verified as C; R has no zeros and stays dense."""
    rng = np.random.default_rng(5)
    I, H = 6, 5
    W = _u(rng, 1, 4 * H, I)
    W[..., :3] = 0
    W[0, :, -1][rng.random(4 * H) < 0.5] = 0
    zeros = 1 - np.count_nonzero(W) / W.size
    assert 0.5 <= zeros < 0.7
    w = OnnxWriter(17)
    w.nodes.append(helper.make_node("LSTM", ["X", w.init("W", W),
                                             w.init("R", _u(rng, 1, 4 * H, H))],
                                    ["Y"], name="lstm", hidden_size=H))
    g = helper.make_graph(w.nodes, "m", [helper.make_tensor_value_info(
        "X", TensorProto.FLOAT, [T, 1, I])], [helper.make_tensor_value_info(
            "Y", TensorProto.FLOAT, [T, 1, 1, H])], initializer=w.inits)
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]),
              tmp_path / "p.onnx")

    def formats(*extra):
        r = rnngen("inspect", "p.onnx", "--json", *extra, cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        return [m["format"] for m in json.loads(r.stdout)["layers"][0]["matrices"]]

    assert formats() == ["dense", "dense"]
    assert formats("--sparse-threshold", "0.7") == ["dense", "dense"]
    assert formats("--sparse-threshold", "0.5") == ["csr", "dense"]
    r = rnngen("verify", "p.onnx", "--sparse-threshold", "0.5", "--keep", "kept",
               cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.startswith("PASS host")
    model_c = (tmp_path / "kept" / "src" / "p.c").read_text()
    assert "rnn_mat_vec_csr_f32(" in model_c and "--sparse-threshold 0.5" in model_c
    r = rnngen("build", "p.onnx", "--sparse-threshold", "0", "-o", "out", cwd=tmp_path)
    assert r.returncode == 2 and "--sparse-threshold" in r.stderr
