"""The intermediate representation: small frozen dataclasses, the only module every layer imports.

A :class:`Graph` is a list of nodes in execution order over named float32 tensors with
static shapes (batch 1). One tensor is the dynamic input (the sequence); the others are
node outputs or constants. Weight matrices are :class:`Matrix` objects that know their own
shape, storage bytes, MACs, ``to_dense()`` and NumPy ``matvec``.

Shapes are ONNX shapes (batch dimensions of size 1 included), so a graph read from ONNX
keeps the exact output layout the ONNX model defines. Memory layout is row-major.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from typing import Any, Mapping, Union

import numpy as np

from .errors import RnngenError

Shape = tuple[int, ...]
F32 = np.float32


# --------------------------------------------------------------------------- matrices
#
# Every weight matrix knows its shape, parameters (stored numbers), storage bytes, MACs per
# matvec, to_dense() and matvec(x). The formulas follow PAPERS.md (HMD Eq. 1-2, LMF d(m+n),
# CSR nnz, Kronecker min of the two association orders).


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

    def row_slice(self, lo: int, hi: int) -> "Matrix":
        return Dense(np.ascontiguousarray(self.w[lo:hi]))


@dataclass(frozen=True, eq=False)
class Hmd:
    """Hybrid Matrix Decomposition, variant D1 (HMD paper Alg. 1-2):
    W = [A' ; [B C | D E]]: rows 0..r-1 dense (A' [r, n]); rows r..m-1 are outer(B, C) on the
    left ceil(n/2) columns and outer(D, E) on the right floor(n/2) columns."""

    a: np.ndarray  # A' [r, n]
    b: np.ndarray  # B [m - r]
    c: np.ndarray  # C [ceil(n / 2)]
    d: np.ndarray  # D [m - r]
    e: np.ndarray  # E [floor(n / 2)]

    fmt = "hmd"

    @property
    def r(self) -> int:
        return int(self.a.shape[0])

    @property
    def shape(self) -> tuple[int, int]:
        return (self.r + int(self.b.size), int(self.c.size + self.e.size))

    @property
    def params(self) -> int:
        """Eq. 1: S = r n + 2 (m - r) + n."""
        m, n = self.shape
        return self.r * n + 2 * (m - self.r) + n

    @property
    def nbytes(self) -> int:
        return 4 * self.params

    @property
    def macs(self) -> int:
        """Eq. 2: O = r n + n + 3 (m - r) (the two n/2 dot products, then B s1 + D s2)."""
        m, n = self.shape
        return self.r * n + n + 3 * (m - self.r)

    def to_dense(self) -> np.ndarray:
        low = np.concatenate([np.outer(self.b, self.c), np.outer(self.d, self.e)], axis=1)
        return np.concatenate([self.a, low.astype(F32)], axis=0).astype(F32)

    def matvec(self, x: np.ndarray) -> np.ndarray:
        h = self.c.size
        s1 = self.c @ x[:h]
        s2 = self.e @ x[h:]
        return np.concatenate([self.a @ x, self.b * s1 + self.d * s2]).astype(F32)

    def arrays(self) -> dict[str, np.ndarray]:
        return {"a": self.a, "b": self.b, "c": self.c, "d": self.d, "e": self.e}

    def row_slice(self, lo: int, hi: int) -> "Matrix":
        r = self.r
        a = self.a[min(lo, r):min(hi, r)]
        blo, bhi = max(lo, r) - r, max(hi, r) - r
        return Hmd(np.ascontiguousarray(a), self.b[blo:bhi].copy(), self.c,
                   self.d[blo:bhi].copy(), self.e)


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
        """Stored weights (nnz); the compression factor is m n / nnz (PAPERS.md)."""
        return self.nnz

    @property
    def index_bytes(self) -> int:
        """Bytes per column index as emitted: uint16 when n <= 65536, else int32."""
        return 2 if self.cols <= 65536 else 4

    @property
    def nbytes(self) -> int:
        """Physical storage: values, column indices, and m + 1 int32 row pointers."""
        return 4 * self.nnz + self.index_bytes * self.nnz + 4 * (self.shape[0] + 1)

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

    def row_slice(self, lo: int, hi: int) -> "Matrix":
        p0, p1 = int(self.row_ptr[lo]), int(self.row_ptr[hi])
        return Csr(self.values[p0:p1].copy(), self.col_idx[p0:p1].copy(),
                   (self.row_ptr[lo:hi + 1] - p0).astype(np.int32), self.cols)


@dataclass(frozen=True, eq=False)
class LowRank:
    """Low-rank matrix factorization (LMF): W = U V, U [m, d], V [d, n]; y = U (V x)."""

    u: np.ndarray  # [m, d]
    v: np.ndarray  # [d, n]

    fmt = "lowrank"

    @property
    def rank(self) -> int:
        return int(self.v.shape[0])

    @property
    def shape(self) -> tuple[int, int]:
        return (int(self.u.shape[0]), int(self.v.shape[1]))

    @property
    def params(self) -> int:
        m, n = self.shape
        return self.rank * (m + n)

    @property
    def nbytes(self) -> int:
        return 4 * self.params

    @property
    def macs(self) -> int:
        return self.params

    def to_dense(self) -> np.ndarray:
        return (self.u @ self.v).astype(F32)

    def matvec(self, x: np.ndarray) -> np.ndarray:
        return (self.u @ (self.v @ x).astype(F32)).astype(F32)

    def arrays(self) -> dict[str, np.ndarray]:
        return {"u": self.u, "v": self.v}

    def row_slice(self, lo: int, hi: int) -> "Matrix":
        return LowRank(np.ascontiguousarray(self.u[lo:hi]), self.v)


@dataclass(frozen=True, eq=False)
class Kron:
    """Kronecker product W = (A (x) B)[:m, :n], A [m1, n1], B [m2, n2]. A prime size (179)
    has no useful factorisation, so the product may be zero-padded: it covers
    (m1 m2) x (n1 n2) >= (m, n) and only the top-left m x n block is the matrix.
    Row-major matvec: X = x (padded) as [n1, n2]; Y = A X B^T [m1, m2]; y = Y flattened."""

    a: np.ndarray  # [m1, n1]
    b: np.ndarray  # [m2, n2]
    rows: int  # m
    cols: int  # n

    fmt = "kron"

    @property
    def shape(self) -> tuple[int, int]:
        return (self.rows, self.cols)

    @property
    def padded(self) -> tuple[int, int]:
        return (int(self.a.shape[0] * self.b.shape[0]), int(self.a.shape[1] * self.b.shape[1]))

    @property
    def params(self) -> int:
        return int(self.a.size + self.b.size)

    @property
    def nbytes(self) -> int:
        return 4 * self.params

    @property
    def order(self) -> str:
        """"AX" computes A X first, "XB" computes X B^T first: the cheaper association."""
        (m1, n1), (m2, n2) = self.a.shape, self.b.shape
        return "AX" if m1 * n2 * (n1 + m2) <= n1 * m2 * (n2 + m1) else "XB"

    @property
    def macs(self) -> int:
        """min(m1 n2 (n1 + m2), n1 m2 (n2 + m1))."""
        (m1, n1), (m2, n2) = self.a.shape, self.b.shape
        return int(min(m1 * n2 * (n1 + m2), n1 * m2 * (n2 + m1)))

    def to_dense(self) -> np.ndarray:
        return np.kron(self.a, self.b).astype(F32)[:self.rows, :self.cols]

    def matvec(self, x: np.ndarray) -> np.ndarray:
        n1, n2 = self.a.shape[1], self.b.shape[1]
        xp = np.zeros(n1 * n2, F32)
        xp[:self.cols] = x
        X = xp.reshape(n1, n2)
        if self.order == "AX":
            Y = (self.a @ X).astype(F32) @ self.b.T
        else:
            Y = self.a @ (X @ self.b.T).astype(F32)
        return Y.astype(F32).reshape(-1)[:self.rows]

    def arrays(self) -> dict[str, np.ndarray]:
        return {"a": self.a, "b": self.b}

    def row_slice(self, lo: int, hi: int) -> "Matrix":
        m2 = int(self.b.shape[0])
        if lo % m2 == 0 and (hi % m2 == 0 or hi == self.rows):
            a = self.a[lo // m2:-(-hi // m2)]
            return Kron(np.ascontiguousarray(a), self.b, hi - lo, self.cols)
        return Dense(np.ascontiguousarray(self.to_dense()[lo:hi]))


@dataclass(frozen=True, eq=False)
class RowStack:
    """Matrices stacked by rows: per-gate matrices of a recurrent layer, or a hybrid such as
    HKP (a dense top block over a Kronecker lower part)."""

    blocks: tuple["Matrix", ...]

    fmt = "stack"

    @property
    def shape(self) -> tuple[int, int]:
        return (sum(b.shape[0] for b in self.blocks), self.blocks[0].shape[1])

    @property
    def params(self) -> int:
        return sum(b.params for b in self.blocks)

    @property
    def nbytes(self) -> int:
        return sum(b.nbytes for b in self.blocks)

    @property
    def macs(self) -> int:
        return sum(b.macs for b in self.blocks)

    @property
    def formats(self) -> str:
        return "+".join(b.fmt for b in self.blocks)

    def to_dense(self) -> np.ndarray:
        return np.concatenate([b.to_dense() for b in self.blocks], axis=0).astype(F32)

    def matvec(self, x: np.ndarray) -> np.ndarray:
        return np.concatenate([b.matvec(x) for b in self.blocks]).astype(F32)

    def arrays(self) -> dict[str, np.ndarray]:
        return {f"{k}.{n}": v for k, b in enumerate(self.blocks) for n, v in b.arrays().items()}

    def row_slice(self, lo: int, hi: int) -> "Matrix":
        out: list[Matrix] = []
        r0 = 0
        for b in self.blocks:
            r1 = r0 + b.shape[0]
            a, z = max(lo, r0), min(hi, r1)
            if a < z:
                out.append(b if (a, z) == (r0, r1) else b.row_slice(a - r0, z - r0))
            r0 = r1
        return out[0] if len(out) == 1 else RowStack(tuple(out))


Matrix = Union[Dense, Hmd, Csr, LowRank, Kron, RowStack]
MATRIX_TYPES = (Dense, Hmd, Csr, LowRank, Kron, RowStack)


def check_matrix(m: "Matrix", where: str) -> None:
    """Structural checks of a matrix read from a user's file; RnngenError naming `where`
    (for example "model.onnx: LSTM node 'lstm' W direction 0 gate block 2")."""
    def fail(msg: str) -> None:
        raise RnngenError(f"{where}: {msg}")

    for k, arr in m.arrays().items():
        if not np.all(np.isfinite(arr)):
            fail(f"factor '{k}' contains NaN or Inf")
    if isinstance(m, RowStack):
        cols = {b.shape[1] for b in m.blocks}
        if len(cols) != 1:
            fail(f"stacked blocks have different column counts {sorted(cols)}")
        for k, b in enumerate(m.blocks):
            check_matrix(b, f"{where} block {k}")
    elif isinstance(m, Hmd):
        if m.a.ndim != 2 or m.b.shape != m.d.shape or m.b.ndim != 1:
            fail("HMD factors: A' must be [r, n] and B, D vectors of equal length")
        n = m.c.size + m.e.size
        if m.a.shape[1] != n or m.c.size != n - n // 2:
            fail(f"HMD factors: C has {m.c.size} and E {m.e.size} values, A' has "
                 f"{m.a.shape[1]} columns; C must cover ceil(n/2) columns, E the rest")
    elif isinstance(m, Csr):
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
    elif isinstance(m, LowRank):
        if m.u.ndim != 2 or m.v.ndim != 2 or m.u.shape[1] != m.v.shape[0]:
            fail(f"low-rank factors U {m.u.shape} and V {m.v.shape} do not multiply")
    elif isinstance(m, Kron):
        if m.a.ndim != 2 or m.b.ndim != 2:
            fail("Kronecker factors must be matrices")
        pr, pc = m.padded
        if pr < m.rows or pc < m.cols:
            fail(f"Kronecker product {pr}x{pc} is smaller than the matrix {m.rows}x{m.cols}")


def dense(w: np.ndarray) -> Dense:
    return Dense(np.ascontiguousarray(w, dtype=F32))


def stack(blocks: list["Matrix"]) -> "Matrix":
    """One block stays itself; adjacent dense blocks merge; more make a RowStack."""
    merged: list[Matrix] = []
    for b in blocks:
        if merged and isinstance(b, Dense) and isinstance(merged[-1], Dense):
            merged[-1] = Dense(np.concatenate([merged[-1].w, b.w], axis=0))
        else:
            merged.append(b)
    return merged[0] if len(merged) == 1 else RowStack(tuple(merged))


def describe_matrix(m: "Matrix") -> str:
    if isinstance(m, RowStack):
        return f"stack[{', '.join(describe_matrix(b) for b in m.blocks)}]"
    extra = {"hmd": lambda: f" r={m.r}", "csr": lambda: f" nnz={m.nnz}",
             "lowrank": lambda: f" d={m.rank}",
             "kron": lambda: f" A{tuple(m.a.shape)} B{tuple(m.b.shape)}"}.get(m.fmt,
                                                                              lambda: "")()
    return f"{m.fmt}{m.shape}{extra}"


# --------------------------------------------------------------------------- activations

# ONNX activation functions usable inside LSTM/GRU/RNN and as standalone nodes,
# with their default (alpha, beta) from the ONNX operator definitions.
ACTIVATION_DEFAULTS: dict[str, tuple[float, float]] = {
    "Sigmoid": (0.0, 0.0),
    "Tanh": (0.0, 0.0),
    "Relu": (0.0, 0.0),
    "Affine": (1.0, 0.0),
    "LeakyRelu": (0.01, 0.0),
    "ThresholdedRelu": (1.0, 0.0),
    "ScaledTanh": (1.0, 1.0),
    "HardSigmoid": (0.2, 0.5),
    "Elu": (1.0, 0.0),
    "Softsign": (0.0, 0.0),
    "Softplus": (0.0, 0.0),
}
# Which of (alpha, beta) each activation reads.
ACTIVATION_PARAMS: dict[str, tuple[bool, bool]] = {
    "Sigmoid": (False, False),
    "Tanh": (False, False),
    "Relu": (False, False),
    "Affine": (True, True),
    "LeakyRelu": (True, False),
    "ThresholdedRelu": (True, False),
    "ScaledTanh": (True, True),
    "HardSigmoid": (True, True),
    "Elu": (True, False),
    "Softsign": (False, False),
    "Softplus": (False, False),
}


@dataclass(frozen=True)
class Activation:
    name: str
    alpha: float = 0.0
    beta: float = 0.0

    @staticmethod
    def default(name: str) -> "Activation":
        a, b = ACTIVATION_DEFAULTS[name]
        return Activation(name, a, b)


SIGMOID = Activation("Sigmoid")
TANH = Activation("Tanh")


# --------------------------------------------------------------------------- nodes

@dataclass(frozen=True, eq=False)
class Node:
    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]  # "" marks an output the model does not use

    @property
    def op(self) -> str:
        return type(self).__name__

    def out_shapes(self, ins: list[Shape]) -> list[Shape]:  # pragma: no cover - abstract
        raise NotImplementedError

    def describe(self) -> str:
        """One line for --dump-ir."""
        extra = []
        for f in fields(self):
            if f.name in ("name", "inputs", "outputs"):
                continue
            v = getattr(self, f.name)
            if isinstance(v, np.ndarray):
                v = f"array{tuple(v.shape)}"
            elif isinstance(v, tuple) and v and isinstance(v[0], CellDirection):
                v = "[" + "; ".join(f"{'bwd' if d.reverse else 'fwd'} W={describe_matrix(d.W)} "
                                    f"R={describe_matrix(d.R)}" for d in v) + "]"
            elif isinstance(v, MATRIX_TYPES):
                v = f"{describe_matrix(v)}"
            extra.append(f"{f.name}={v}")
        return (f"{self.op} '{self.name}' ({', '.join(self.inputs)}) -> "
                f"({', '.join(o or '_' for o in self.outputs)}) {' '.join(extra)}")


@dataclass(frozen=True, eq=False)
class CellDirection:
    """One direction of a recurrent layer. Gates are stacked in ONNX order:
    LSTM i,o,f,c; GRU z,r,h; RNN i.

    FastRNN and FastGRNN (Microsoft EdgeML, PAPERS.md section 5) have one W [H, I] and one
    R (their U) [H, H]:
      FastRNN:  h~ = act(W x + U h + wb);  h = sigmoid(beta) h + sigmoid(alpha) h~
                (rb is zero; scalars = (alpha, beta), stored before the sigmoid)
      FastGRNN: p = W x + U h;  z = gate(p + wb);  h~ = act(p + rb);
                h = z h + (sigmoid(zeta) (1 - z) + sigmoid(nu)) h~
                (wb is the gate bias, rb the update bias; scalars = (zeta, nu))
    activations: FastRNN (update,); FastGRNN (gate, update).
    """

    reverse: bool
    W: Matrix  # [G*H, I]
    R: Matrix  # [G*H, H]
    wb: np.ndarray  # [G*H]
    rb: np.ndarray  # [G*H]
    p: np.ndarray | None  # LSTM peepholes [3H] in order i, o, f; None: no peepholes
    h0: np.ndarray  # [H] initial hidden state
    c0: np.ndarray | None  # [H] initial cell state (LSTM)
    activations: tuple[Activation, ...]  # LSTM (f, g, h); GRU (f, g); RNN (f)
    scalars: tuple[float, ...] = ()  # FastRNN (alpha, beta); FastGRNN (zeta, nu)


GATES = {"LSTM": 4, "GRU": 3, "RNN": 1, "FastRNN": 1, "FastGRNN": 1}
CELLS = tuple(GATES)


@dataclass(frozen=True, eq=False)
class Recurrent(Node):
    """ONNX LSTM / GRU / RNN with batch 1.

    inputs: (x,) with x [T,1,I] (layout 0) or [1,T,I] (layout 1): both are [T][I] in memory.
    outputs: (Y, Y_h, Y_c), "" when unused. Y [T,D,1,H] or [1,T,D,H] ([T][D][H] in memory),
    Y_h / Y_c [D,1,H] or [1,D,H] ([D][H] in memory).
    """

    cell: str  # one of CELLS
    hidden: int
    input_size: int
    seq_len: int  # T, the time steps the tensors hold
    valid_len: int  # sequence_lens[0] (<= T); steps past it give zeros in Y
    layout: int
    directions: tuple[CellDirection, ...]
    clip: float | None
    input_forget: bool
    linear_before_reset: bool

    @property
    def num_directions(self) -> int:
        return len(self.directions)

    def out_shapes(self, ins: list[Shape]) -> list[Shape]:
        T, D, H = self.seq_len, self.num_directions, self.hidden
        x = ins[0]
        want = (T, 1, self.input_size) if self.layout == 0 else (1, T, self.input_size)
        if tuple(x) != want:
            raise RnngenError(f"{self.cell} node '{self.name}': input X has shape {x}, "
                              f"expected {want}")
        if self.layout == 0:
            return [(T, D, 1, H), (D, 1, H), (D, 1, H)]
        return [(1, T, D, H), (1, D, H), (1, D, H)]


@dataclass(frozen=True, eq=False)
class Linear(Node):
    """y[..., N] = x[..., K] @ W^T + b, W [N, K] constant."""

    W: Matrix
    b: np.ndarray | None  # [N]

    def out_shapes(self, ins: list[Shape]) -> list[Shape]:
        n, k = self.W.shape
        if not ins[0] or ins[0][-1] != k:
            raise RnngenError(f"node '{self.name}': input shape {ins[0]} does not end in {k}")
        return [tuple(ins[0][:-1]) + (n,)]


BINARY_OPS = ("Add", "Sub", "Mul", "Div")


@dataclass(frozen=True, eq=False)
class Binary(Node):
    """Elementwise a (op) b with NumPy broadcasting; either input may be a constant."""

    fn: str  # one of BINARY_OPS

    def out_shapes(self, ins: list[Shape]) -> list[Shape]:
        try:
            return [tuple(int(d) for d in np.broadcast_shapes(ins[0], ins[1]))]
        except ValueError:
            raise RnngenError(f"{self.fn} node '{self.name}': shapes {ins[0]} and {ins[1]} "
                              "do not broadcast") from None


@dataclass(frozen=True, eq=False)
class Unary(Node):
    """Elementwise activation."""

    act: Activation

    def out_shapes(self, ins: list[Shape]) -> list[Shape]:
        return [ins[0]]


@dataclass(frozen=True, eq=False)
class Softmax(Node):
    """Softmax (or LogSoftmax) along one axis (non-negative)."""

    axis: int
    log: bool

    def out_shapes(self, ins: list[Shape]) -> list[Shape]:
        return [ins[0]]


@dataclass(frozen=True, eq=False)
class Transpose(Node):
    perm: tuple[int, ...]

    def out_shapes(self, ins: list[Shape]) -> list[Shape]:
        return [tuple(ins[0][p] for p in self.perm)]


@dataclass(frozen=True, eq=False)
class Slice(Node):
    """y[..., i, ...] = x[..., start + i*step, ...] on each axis: per-axis (start, step, count).

    Gather with constant indices lowers to Slice (+ View)."""

    starts: tuple[int, ...]
    steps: tuple[int, ...]
    counts: tuple[int, ...]

    def out_shapes(self, ins: list[Shape]) -> list[Shape]:
        x = ins[0]
        for ax, (s, st, c) in enumerate(zip(self.starts, self.steps, self.counts)):
            last = s + (c - 1) * st
            if c < 1 or not (0 <= s < x[ax]) or not (0 <= last < x[ax]):
                raise RnngenError(f"node '{self.name}': slice out of range on axis {ax}")
        return [tuple(self.counts)]


@dataclass(frozen=True, eq=False)
class Concat(Node):
    axis: int

    def out_shapes(self, ins: list[Shape]) -> list[Shape]:
        first = list(ins[0])
        total = 0
        for s in ins:
            if len(s) != len(first) or any(
                    a != b for i, (a, b) in enumerate(zip(s, first)) if i != self.axis):
                raise RnngenError(f"Concat node '{self.name}': shapes {ins} do not match")
            total += s[self.axis]
        first[self.axis] = total
        return [tuple(first)]


@dataclass(frozen=True, eq=False)
class View(Node):
    """Same data, new shape (Reshape, Squeeze, Unsqueeze, Flatten, Identity)."""

    shape: Shape

    def out_shapes(self, ins: list[Shape]) -> list[Shape]:
        if math.prod(ins[0]) != math.prod(self.shape):
            raise RnngenError(f"node '{self.name}': cannot view {ins[0]} as {self.shape}")
        return [tuple(self.shape)]


# --------------------------------------------------------------------------- graph

@dataclass(frozen=True)
class TimeInfo:
    """Where the time axis of a tensor is, from the analyze_time pass.

    kind "seq": the tensor has the time axis `axis` (one slice per step);
    kind "final": the tensor is a value after the last step (Y_h, the last step of Y).
    """

    kind: str
    axis: int = -1


@dataclass(frozen=True)
class MemoryPlan:
    """Where each run-time tensor lives (plan_memory).

    place[t] = (region, offset in floats): region "x" is the caller's input, "arena" the
    scratch arena in the state struct, "const:<name>" a constant. Recurrent state (h, c per
    node and direction) lives in region "state" at state_slots[(node, d)] = (h_off, c_off).
    `work` floats of per-cell scratch (gate pre-activations) are shared by all recurrent nodes.
    """

    place: Mapping[str, tuple[str, int]]
    arena: int
    work: int
    state: int
    state_slots: Mapping[tuple[str, int], tuple[int, int]]
    scratch_off: int = 0  # where the matrix kernels' scratch starts inside `work`
    work8: int = 0  # int8 models: `work` is int16 gate values; work8 int8 scratch
    state16: int = 0  # int8 models: `state` is the int8 hidden state, state16 the cell state
    arena16: int = 0  # int8 models: int16 tensors (a cell-state output)


@dataclass(frozen=True, eq=False)
class Graph:
    name: str
    input: str  # the dynamic input: the sequence
    outputs: tuple[str, ...]
    nodes: tuple[Node, ...]
    shapes: Mapping[str, Shape]  # every tensor, constants included
    constants: Mapping[str, np.ndarray]  # float32 constants used as node inputs
    seq_len: int  # T the graph was compiled for
    source: str = ""  # file it came from (for messages)
    input_time_axis: int | None = None  # the input's time axis, when the frontend knows it
    time: Mapping[str, TimeInfo] | None = None  # set by analyze_time
    step: "Graph | None" = None  # the one-step graph of a streamable model (analyze_time)
    not_streaming_why: str = ""  # set by analyze_time when step is None
    memory: "MemoryPlan | None" = None  # set by plan_memory
    quant: Any = None  # quant.QuantPlan, set by quantize with --dtype int8

    @property
    def streaming(self) -> bool:
        return self.step is not None

    def replace(self, **kw) -> "Graph":
        return replace(self, **kw)

    def producer(self) -> dict[str, Node]:
        return {o: n for n in self.nodes for o in n.outputs if o}

    def consumers(self) -> dict[str, list[Node]]:
        out: dict[str, list[Node]] = {}
        for n in self.nodes:
            for i in n.inputs:
                out.setdefault(i, []).append(n)
        return out

    def matrices(self) -> list[tuple[str, str, Matrix]]:
        """(node name, role, matrix) for every weight matrix."""
        out = []
        for n in self.nodes:
            if isinstance(n, Recurrent):
                for d, cd in enumerate(n.directions):
                    tag = "" if n.num_directions == 1 else ("fwd " if d == 0 else "bwd ")
                    out.append((n.name, f"{tag}W", cd.W))
                    out.append((n.name, f"{tag}R", cd.R))
            elif isinstance(n, Linear):
                out.append((n.name, "W", n.W))
        return out

    def dump(self) -> str:
        lines = [f"graph '{self.name}' T={self.seq_len} input {self.input}"
                 f"{self.shapes[self.input]}"]
        for n in self.nodes:
            outs = ", ".join(f"{o}{self.shapes[o]}" for o in n.outputs if o)
            lines.append(f"  {n.describe()}  => {outs}")
        lines.append(f"  outputs: {', '.join(f'{o}{self.shapes[o]}' for o in self.outputs)}")
        if self.time is not None:
            lines.append(f"  streaming: {'yes' if self.streaming else 'no'}")
        return "\n".join(lines)


def verify(g: Graph) -> None:
    """Check the IR invariants; raises RnngenError (an internal bug if a pass broke them)."""
    defined = {g.input} | set(g.constants)
    for name, arr in g.constants.items():
        if arr.dtype != F32:
            raise RnngenError(f"IR: constant '{name}' is {arr.dtype}, not float32")
        if tuple(arr.shape) != tuple(g.shapes[name]):
            raise RnngenError(f"IR: constant '{name}' shape {arr.shape} != {g.shapes[name]}")
    seen: set[str] = set()
    for n in g.nodes:
        if n.name in seen:  # state, quantization and C symbols are keyed by node name
            raise RnngenError(f"IR: two nodes are named '{n.name}'")
        seen.add(n.name)
        for i in n.inputs:
            if i not in defined:
                raise RnngenError(f"IR: node '{n.name}' reads '{i}' before it is defined")
        want = n.out_shapes([tuple(g.shapes[i]) for i in n.inputs])
        for o, s in zip(n.outputs, want):
            if not o:
                continue
            if o in defined:
                raise RnngenError(f"IR: tensor '{o}' is defined twice")
            if tuple(g.shapes.get(o, ())) != tuple(s) and o in g.shapes:
                raise RnngenError(f"IR: node '{n.name}' output '{o}' has shape "
                                  f"{g.shapes[o]}, inferred {s}")
            if o not in g.shapes:
                raise RnngenError(f"IR: node '{n.name}' output '{o}' has no shape")
            defined.add(o)
    for o in g.outputs:
        if o not in defined:
            raise RnngenError(f"IR: output '{o}' is never computed")
    if g.step is not None:
        verify(g.step)


def matrix_scratch(m: "Matrix") -> int:
    """Floats of scratch a matrix kernel needs (low-rank V x, Kronecker intermediate)."""
    if isinstance(m, LowRank):
        return m.rank
    if isinstance(m, Kron):
        (m1, n1), (m2, n2) = m.a.shape, m.b.shape
        return int(m1 * n2 if m.order == "AX" else n1 * m2)
    if isinstance(m, RowStack):
        return max(matrix_scratch(b) for b in m.blocks)
    return 0


def macs(g: Graph) -> int:
    """Multiply-accumulates of the weight matrices in one evaluation of the graph."""
    total = 0
    for n in g.nodes:
        if isinstance(n, Recurrent):
            total += sum(d.W.macs + d.R.macs for d in n.directions) * n.valid_len
        elif isinstance(n, Linear):
            total += n.W.macs * math.prod(g.shapes[n.inputs[0]][:-1])
    return total


def macs_per_step(g: Graph) -> int:
    """MACs per time step: of the one-step graph when streaming, else the average."""
    if g.step is not None:
        return macs(g.step)
    return -(-macs(g) // max(1, g.seq_len))

