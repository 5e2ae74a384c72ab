"""kron: Kronecker product W = (A (x) B)[:m, :n], A [m1, n1], B [m2, n2] (zero-padded when m
or n has no useful factorisation). Storage m1 n1 + m2 n2; MACs the cheaper association,
min(m1 n2 (n1 + m2), n1 m2 (n2 + m1)).

float32 C: rnn_mat_vec_kron_f32, B packed at build time in rnn_mat_vec_f32's row tiles (the
kernel's B stage is the dense kernel); scratch: the intermediate A X or X B^T, x's padded
last row, one tile. int8: per-tensor int8 A and B, the intermediate requantized to int8
(rnn_mat_vec_kron_s8_s16, params struct rnn_kron_s8; B row-major with rows padded as the
int8 dense kernel reads them (pack_s8), its stage on that kernel's dot products).
int4 weights (--precision w4a8): per-tensor A and B in [-7, 7] stored two per byte in
groups of 8 (pack_s4_groups: A row-major, B as pack_s8's rows); rnn_mat_vec_kron_s4_s16
unpacks them 16-fold into scratch each call (four words a pass) and runs the int8 kernel
with both shifts 4 lower (the same integers).
int16 activations (--precision w8a16 / w4a16, an int16 x, symmetric): the first stage (A X or
X B^T) reads x as int16, its sums int32 (rq) where the factor's rows prove the bound
(a16_fits_int32 on A, or B, 16-fold for int4 as the C sums them), else int64 (rq64; acc64),
requantized to the same int8 intermediate (rnn_mat_vec_kron_a16_s16; int4 factors:
rnn_mat_vec_kron_a16_s4_s16, unpacked as above; DSP and Helium paths for A X first),
then the int8 kernel's own second stage (rnn_mat_vec_kron_s8_t_s16); docs/int8.md, "int16
activations in kron".
ONNX: Reshape(Mul(Unsqueeze(A, [1, 3]), Unsqueeze(B, [0, 2])), [m1 m2, n1 n2])
[-> Slice to [m, n]]."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import cgen, quant
from ..errors import RnngenError
from ..quant import I64, QParams, rq, rq64, sat8
from .base import Format
from .dense import TILE, Dense, pack_dense, pack_s8

F32 = np.float32


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

    def row_slice(self, lo: int, hi: int) -> Any:
        m2 = int(self.b.shape[0])
        if lo % m2 == 0 and (hi % m2 == 0 or hi == self.rows):
            a = self.a[lo // m2:-(-hi // m2)]
            return Kron(np.ascontiguousarray(a), self.b, hi - lo, self.cols)
        return Dense(np.ascontiguousarray(self.to_dense()[lo:hi]))


def _check(m: Kron, fail: Any, where: str) -> None:
    if m.a.ndim != 2 or m.b.ndim != 2:
        fail("Kronecker factors must be matrices")
    pr, pc = m.padded
    if pr < m.rows or pc < m.cols:
        fail(f"Kronecker product {pr}x{pc} is smaller than the matrix {m.rows}x{m.cols}")


def _scratch(m: Kron) -> int:
    """The intermediate, x's zero-padded last row (n2) and one tile of outputs (see
    rnn_mat_vec_kron_f32.c)."""
    (m1, n1), (m2, n2) = m.a.shape, m.b.shape
    return int((m1 * n2 if m.order == "AX" else n1 * m2) + n2 + TILE)


def _scratch_s8(q: QKron) -> int:
    """Bytes (see rnn_mat_vec_kron_s8_s16.c): the int8 intermediate (X B^T first), two int8
    vectors of max(n2, 16), 3 bytes of alignment and int32 sums [max(m2, n2)] (x's zero-point
    offsets are a constant array, b_offset)."""
    (m1, n1), (m2, n2) = q.a.shape, q.b.shape
    s8 = (0 if q.ax_first else n1 * m2) + 2 * max(n2, 16) + 3 + 4 * max(m2, n2)
    if q.bits == 4:  # rnn_mat_vec_kron_s4_s16: B and A unpacked (groups of 8) in front
        s8 += 3 + 8 * -(-(m2 * (-(-n2 // 4) * 4)) // 8) + 8 * -(-(m1 * n1) // 8)
    if q.xbits == 16 and q.ax_first:  # rnn_mat_vec_kron_a16_s16: the int8 t [m1, n2] first
        s8 += m1 * n2
    return int(s8)


# --------------------------------------------------------------------------- int8

@dataclass(frozen=True, eq=False)
class QKron:
    """(A (x) B) x with the intermediate (A X or X B^T) requantized to int8 (symmetric). x
    int16 (xbits 16, w8a16 / w4a16; zero point 0): the first stage sums in int32 and
    requantizes by rq, or past the int32 bound (acc64) in int64 and by rq64
    (rnn_mat_vec_kron_a16_s16); t still int8, the second stage as int8's."""

    a: np.ndarray  # int8 [m1, n1]
    b: np.ndarray  # int8 [m2, n2]
    rows: int
    cols: int
    ax_first: bool
    zx: int  # the input's zero point (padding reads as real zero)
    mt: int
    st: int
    my: int
    sy: int
    bits: int = 8  # 4: int4 A and B (in [-7, 7], stored two per byte; pack_s4_groups)
    xbits: int = 8  # 16: int16 x
    acc64: bool = False  # int16 x: the first stage's sums past the int32 bound: int64, rq64

    fmt = "kron"

    @property
    def shape(self) -> tuple[int, int]:
        return (self.rows, self.cols)

    def forward(self, x: np.ndarray) -> np.ndarray:
        n1, n2 = self.a.shape[1], self.b.shape[1]
        xp = np.zeros(n1 * n2, I64)
        xp[:self.cols] = np.asarray(x, I64) - self.zx
        X = xp.reshape(n1, n2)
        A, B = self.a.astype(I64), self.b.astype(I64)
        rq_t = rq64 if self.acc64 else rq
        if self.ax_first:
            t = sat8(rq_t(A @ X, self.mt, self.st))  # [m1, n2]
            Y = t @ B.T
        else:
            t = sat8(rq_t(X @ B.T, self.mt, self.st))  # [n1, m2]
            Y = A @ t
        return rq(Y.reshape(-1)[:self.rows], self.my, self.sy)


def _tensor4(w: np.ndarray) -> tuple[np.ndarray, float]:
    """Per-tensor symmetric int4: values in [-7, 7] (as quant.quantize_tensor's int8)."""
    amax = float(np.max(np.abs(w))) if w.size else 0.0
    scale = amax / quant.W4_LEVELS if amax > 0 else 1.0
    return np.clip(np.round(w / scale), -quant.W4_LEVELS, quant.W4_LEVELS).astype(np.int8), scale


def pack_s4_groups(v: np.ndarray) -> np.ndarray:
    """int4 values (in [-8, 7]) -> the bytes rnn_mat_vec_kron_s4_s16 reads: groups of 8
    values in 4 bytes, byte k of a group holding value k in its low nibble and value k + 4 in
    its high nibble, both two's complement (one word unpacks to two words of int8 with a few
    bitwise operations); the last group padded with zeros."""
    v = np.asarray(v, np.int64).reshape(-1)
    if v.size and (v.min() < -8 or v.max() > 7):
        raise ValueError("pack_s4_groups: values outside [-8, 7]")
    g = np.zeros(-(-v.size // 8) * 8, np.int64)
    g[:v.size] = v
    g = g.reshape(-1, 8)
    return ((g[:, :4] & 15) | ((g[:, 4:] & 15) << 4)).astype(np.uint8).view(np.int8).reshape(-1)


def unpack_s4_groups(packed: np.ndarray, count: int) -> np.ndarray:
    """The first `count` values of pack_s4_groups' bytes (an independent decoding)."""
    b = (np.asarray(packed, np.int8).astype(np.int64) & 255).reshape(-1, 4)
    out = np.concatenate([((b & 15) ^ 8) - 8, ((b >> 4) ^ 8) - 8], axis=1)
    return out.reshape(-1)[:count]


def _quantize(m: Kron, q: Any, x: QParams, out_scale: float, inputs: np.ndarray,
              what: str, bits: int = 8) -> QKron:
    """Per-tensor symmetric A and B: int8, or with bits=4 int4 in [-7, 7] (the same integer
    arithmetic; stored packed). x int16 (quant.QParams16): xbits 16; the first stage's factor
    (A with A X first, else B) gives the bound rule of dense w8a16 (quant.a16_fits_int32,
    its values 16-fold for int4 as the C sums them): int32 sums, else acc64 (int64, rq64)."""
    tq = quant.quantize_tensor if bits == 8 else _tensor4
    aq, s_a = tq(m.a.astype(np.float64))
    bq, s_b = tq(m.b.astype(np.float64))
    n1, n2 = m.a.shape[1], m.b.shape[1]
    ax = m.order == "AX"
    amax = 1e-12
    for v in inputs:
        xp = np.zeros(n1 * n2)
        xp[:m.cols] = v
        X = xp.reshape(n1, n2)
        T = m.a.astype(np.float64) @ X if ax else X @ m.b.T.astype(np.float64)
        amax = max(amax, float(np.max(np.abs(T))))
    s_t = quant.symmetric_scale(amax, 127, f"{what} intermediate")
    if ax:
        mt, st = quant.multiplier(s_a * x.scale / s_t, f"{what} A X")
        my, sy = quant.multiplier(s_t * s_b / out_scale, f"{what} (A X) B^T")
    else:
        mt, st = quant.multiplier(x.scale * s_b / s_t, f"{what} X B^T")
        my, sy = quant.multiplier(s_a * s_t / out_scale, f"{what} A (X B^T)")
    xbits = 16 if getattr(x, "dtype", "int8") == "int16" else 8
    first = (aq if ax else bq).astype(I64) * (16 if bits == 4 else 1)
    acc64 = xbits == 16 and not quant.a16_fits_int32(first, np.zeros(first.shape[0], I64))
    # the C runs them 4 lower (_emit_s8); rq64 (acc64's first stage) takes any
    low = sy if acc64 else min(st, sy)
    if bits == 4 and low - 4 < -31:
        raise RnngenError(f"int8: {what}: int4 Kronecker factors: a requantization shift "
                          f"({low}) too small for the 16-fold sums; give this layer "
                          f"w8a{xbits}")
    return QKron(aq, bq, m.rows, m.cols, ax, x.zero_point, mt, st, my, sy, bits, xbits,
                 acc64)


# --------------------------------------------------------------------------- C

def _emit_f32(m: Kron, prog: Any, base: str, bias: str, x: str, y: str) -> list[str]:
    ctx = prog.ctx
    rows, cols = m.shape
    (m1, n1), (m2, n2) = m.a.shape, m.b.shape
    # B in the row tiles of rnn_mat_vec_f32: the kernel's B stage is the dense kernel
    a = ctx.array(f"{base}_A", m.a)
    b = ctx.array(f"{base}_B", pack_dense(m.b), attr="RNN_ALIGN64")
    ctx.kernels.add("rnn_mat_vec_kron_f32")
    return [(f"rnn_mat_vec_kron_f32({prog.scratch}, {rows}, {cols}, {m1}, {n1}, {m2}, {n2}, "
            f"{int(m.order == 'AX')}, {a}, {b}, {bias}, {x}, {y});")]


def _emit_s8(m: QKron, prog: Any, base: str, x: str, y: str, scratch: str) -> list[str]:
    ctx = prog.ctx
    (m1, n1), (m2, n2) = m.a.shape, m.b.shape
    if m.bits == 4:  # A row-major, B as pack_s8's padded rows, each in groups of 8 values
        a = ctx.array(f"{base}_A", pack_s4_groups(np.asarray(m.a)), ctype="int8_t",
                      attr="RNN_ALIGN4")
        b = ctx.array(f"{base}_B", pack_s4_groups(pack_s8(np.asarray(m.b))), ctype="int8_t",
                      attr="RNN_ALIGN4")
    else:
        a = ctx.array(f"{base}_A", np.asarray(m.a), ctype="int8_t")
        b = ctx.array(f"{base}_B", pack_s8(np.asarray(m.b)), ctype="int8_t",
                      attr="RNN_ALIGN4")
    # int4: the kernel unpacks 16 v (rnn_mat_vec_kron_s4_s16.c), so both stages' sums are
    # 16-fold: rq(16 acc, m, s - 4) = rq(acc, m, s) exactly
    st, sy = (m.st - 4, m.sy - 4) if m.bits == 4 else (m.st, m.sy)
    # X B^T first on int8 x: x's zero point as per-row offsets of B, -zx (row sums of B) of
    # the B the int8 kernel reads (int4: unpacked as 16 times its values, as above)
    b_off = "0"
    if not m.ax_first and m.xbits == 8 and m.zx != 0:
        unpacked = 16 if m.bits == 4 else 1
        b_off = ctx.array(f"{base}_Boff", -int(m.zx) * unpacked
                          * np.asarray(m.b, np.int64).sum(axis=1), ctype="int32_t")
    sym = ctx.const(f"{base}_kron", "rnn_kron_s8", cgen.c_struct([
        ("rows", m.rows), ("cols", m.cols), ("m1", m1), ("n1", n1), ("m2", m2), ("n2", n2),
        ("ax_first", int(m.ax_first)), ("a", a), ("b", b), ("x_zero_point", cgen.c_int(m.zx)),
        ("t_mult", cgen.c_int(m.mt)), ("t_shift", cgen.c_int(st)), ("y_mult", cgen.c_int(m.my)),
        ("y_shift", cgen.c_int(sy)), ("acc64", int(m.acc64)), ("b_offset", b_off)]))
    k = {(8, 8): "rnn_mat_vec_kron_s8_s16", (4, 8): "rnn_mat_vec_kron_s4_s16",
         (8, 16): "rnn_mat_vec_kron_a16_s16", (4, 16): "rnn_mat_vec_kron_a16_s4_s16"}[
        m.bits, m.xbits]
    ctx.kernels.add(k)
    return [f"{k}({scratch}, &{sym}, {x}, {y});"]


# --------------------------------------------------------------------------- files

def _npz_read(bd: Any, entry: dict[str, Any], where: str, rows: int | None, cols: int,
              meaning: str) -> Kron:
    """A [m1, n1], B [m2, n2], shape [m, n]: W = (A kron B)[:m, :n] (zero-padded product)."""
    bd.fields(entry, where, ("format", "a", "b", "shape"))
    m, n = bd.shape_field(entry, where, rows, cols, meaning)
    a = bd.array(entry["a"], f"{where}.a", (None, None), "[m1, n1]")
    bb = bd.array(entry["b"], f"{where}.b", (None, None), "[m2, n2]")
    k = Kron(a, bb, m, n)
    pr, pc = k.padded
    if pr < m or pc < n:
        raise bd.fail(where, f"the Kronecker product of a {a.shape} and b {bb.shape} is "
                             f"{pr} x {pc}, smaller than the matrix {m} x {n} ({meaning})")
    return bd.checked(k, where)


def _npz_write(m: Kron, path: str, put: Any) -> dict[str, Any]:
    return {"format": "kron", "a": put(f"{path}.a", m.a), "b": put(f"{path}.b", m.b),
            "shape": list(m.shape)}


def _npz_decode(entry: dict[str, Any], a: dict[str, np.ndarray], rec: Any) -> np.ndarray:
    m, n = entry["shape"]
    return np.kron(a["a"], a["b"]).astype(F32)[:m, :n]


def _npz_shape(entry: dict[str, Any], a: dict[str, np.ndarray], rec: Any) -> tuple[int, int]:
    return int(entry["shape"][0]), int(entry["shape"][1])


def _onnx_write(m: Kron, w: Any, base: str) -> str:
    (m1, n1), (m2, n2) = m.a.shape, m.b.shape
    a = w.unsqueeze(w.init(base + ".A", m.a), (1, 3), base + ".A4")
    b = w.unsqueeze(w.init(base + ".B", m.b), (0, 2), base + ".B4")
    prod = w.node("Mul", [a, b], base + ".AB")
    full = w.node("Reshape", [prod, w.int64s((m1 * m2, n1 * n2))],
                  base + (".full" if m.padded != m.shape else ""))
    if m.padded == m.shape:
        return full
    if w.opset >= 10:
        return w.node("Slice", [full, w.int64s((0, 0)), w.int64s((m.rows, m.cols))], base)
    return w.node("Slice", [full], base, starts=[0, 0], ends=[m.rows, m.cols])


def _onnx_read(mt: Any, t: str, where: str) -> Any:
    sl = mt.node(t, "Slice")
    rows = cols = None
    if sl is not None:
        a = mt.attrs(sl)
        if "starts" in a:  # opset < 10
            starts, ends = list(a["starts"]), list(a["ends"])
            axes, steps = a.get("axes"), None
        else:
            starts = mt.ints(sl.input[1]) if len(sl.input) > 1 else None
            ends = mt.ints(sl.input[2]) if len(sl.input) > 2 else None
            axes = mt.ints(sl.input[3]) if len(sl.input) > 3 and sl.input[3] else None
            steps = mt.ints(sl.input[4]) if len(sl.input) > 4 and sl.input[4] else None
        if starts is None or ends is None or len(starts) != 2 or len(ends) != 2:
            return None
        if axes is not None and [int(x) % 2 for x in axes] != [0, 1]:
            return None
        if starts != [0, 0] or (steps is not None and list(steps) != [1, 1]):
            return None
        rows, cols = ends
        t = mt.peel(sl.input[0])
    rs = mt.node(t, "Reshape")
    if rs is None:
        return None
    shape = mt.ints(rs.input[1]) if len(rs.input) > 1 else None
    mul = mt.node(mt.peel(rs.input[0]), "Mul")
    if shape is None or mul is None:
        return None
    fa = fb = None
    for i in mul.input:
        un = mt.node(mt.peel(i), "Unsqueeze")
        if un is None:
            return None
        ax = mt.axes(un)
        ax = None if ax is None else sorted(x % 4 for x in ax)
        leaf = mt.matrix_leaf(un.input[0])
        if leaf is None:
            return None
        if ax == [1, 3]:
            fa = leaf
        elif ax == [0, 2]:
            fb = leaf
        else:
            return None
    if fa is None or fb is None:
        return None
    (m1, n1), (m2, n2) = fa[0].shape, fb[0].shape
    desc = f"kron('{fa[1]}' {fa[0].shape}, '{fb[1]}' {fb[0].shape})"
    full = [m1 * m2, n1 * n2]
    if len(shape) != 2:
        return None
    if -1 in shape and shape.count(-1) == 1:
        known = shape[1 - shape.index(-1)]
        if known and (m1 * m2 * n1 * n2) % known == 0:
            shape[shape.index(-1)] = m1 * m2 * n1 * n2 // known
    if shape != full:
        if shape[0] * shape[1] != full[0] * full[1]:
            raise RnngenError(f"{where}: {desc}: the Reshape asks for {shape}, the product "
                              f"has {m1 * m2} x {n1 * n2} values")
        return None  # another layout of the same numbers: an ordinary dense block
    rows = full[0] if rows is None else min(int(rows), full[0])
    cols = full[1] if cols is None else min(int(cols), full[1])
    if rows < 1 or cols < 1:
        return None
    if (rows, cols) != tuple(full):
        desc += f" sliced to ({rows}, {cols})"
    return mt.found(Kron(fa[0], fb[0], rows, cols), where, desc, {"a": fa[1], "b": fb[1]})


FORMAT = Format(
    name="kron", matrix=Kron, qmatrix=QKron, doc="Kronecker product (zero-padded)",
    check=_check, describe=lambda m: f" A{tuple(m.a.shape)} B{tuple(m.b.shape)}",
    scratch=_scratch, scratch_s8=_scratch_s8,
    kernels_f32={"rnn_mat_vec_kron_f32": ("MatVecFunctions/rnn_mat_vec_kron_f32.c",
                                          ("rnn_mat_vec_f32", "rnn_mat_mul_f32"))},
    emit_f32=_emit_f32,
    kernels_s8={"rnn_mat_vec_kron_s8_s16": ("MatVecFunctions/rnn_mat_vec_kron_s8_s16.c",
                                             ("rnn_mat_vec_s8_s16",)),
                "rnn_mat_vec_kron_s4_s16": ("MatVecFunctions/rnn_mat_vec_kron_s4_s16.c",
                                             ("rnn_mat_vec_kron_s8_s16",)),
                "rnn_mat_vec_kron_a16_s16": ("MatVecFunctions/rnn_mat_vec_kron_a16_s16.c",
                                              ("rnn_mat_vec_kron_s8_s16",)),
                "rnn_mat_vec_kron_a16_s4_s16": (
                    "MatVecFunctions/rnn_mat_vec_kron_a16_s4_s16.c",
                    ("rnn_mat_vec_kron_s4_s16", "rnn_mat_vec_kron_a16_s16"))},
    quantize=_quantize, emit_s8=_emit_s8,
    npz_read=_npz_read, npz_write=_npz_write, npz_decode=_npz_decode, npz_shape=_npz_shape,
    onnx_write=_onnx_write, onnx_read=_onnx_read,
    weight_bits=(8, 4),  # int4: A and B packed (pack_s4_groups), unpacked per call to scratch
    act_bits=(8, 16),  # int16 x: rnn_mat_vec_kron_a16_s16 (int32 or int64 first stage)
)
