"""hmd: Hybrid Matrix Decomposition, variant D1 (docs/compression.md).
W = [A' ; [B C | D E]]: rows 0..r-1 dense (A' [r, n]); rows r..m-1 are outer(B, C) on the
left ceil(n/2) columns and outer(D, E) on the right floor(n/2) columns.
Storage r n + 2 (m - r) + n; MACs r n + n + 3 (m - r).

float32 C: rnn_mat_vec_hmd_f32. int8: A' as a dense int8 block; C x and E x to int16 with
their own scales, then B s1 + D s2 per row (rnn_mat_vec_hmd_s8_s16, params struct
rnn_hmd_s8). int4 weights (--precision w4a8): A' int4 (pack_s4, its own
rnn_mat_vec_s4_s16 call, the struct's a NULL), the rank-1 vectors int8.
int16 activations (--precision w8a16 / w4a16, an int16 x): A' x by the dense int16-input
kernels (rnn_mat_vec_a16_s16 / _a16_s4_s16, int64 sums by the dense bound rule: the _wide
ones), the lower rows by rnn_mat_vec_hmd_a16_s16 (params struct rnn_hmd_a16): C x and E x
summed in int32, or in int64 with rq64 where sum |C| (|E|) * 32768 reaches 2^31; s1 and s2
stay int16 (docs/int8.md, "int16 activations in hmd").
ONNX: Concat(axis=0)(A', Concat(axis=1)(MatMul(B, C), MatMul(D, E)))."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import cgen, quant
from ..errors import RnngenError
from ..quant import I64, QParams, rq, sat16
from .base import Format
from .dense import QDense, declare_s8, pack_dense, quantize_dense
from .dense import _emit_s8 as _emit_dense_s8

F32 = np.float32


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

    def row_slice(self, lo: int, hi: int) -> Any:
        r = self.r
        a = self.a[min(lo, r):min(hi, r)]
        blo, bhi = max(lo, r) - r, max(hi, r) - r
        return Hmd(np.ascontiguousarray(a), self.b[blo:bhi].copy(), self.c,
                   self.d[blo:bhi].copy(), self.e)


def _check(m: Hmd, fail: Any, where: str) -> None:
    if m.a.ndim != 2 or m.b.shape != m.d.shape or m.b.ndim != 1:
        fail("HMD factors: A' must be [r, n] and B, D vectors of equal length")
    n = m.c.size + m.e.size
    if m.a.shape[1] != n or m.c.size != n - n // 2:
        fail(f"HMD factors: C has {m.c.size} and E {m.e.size} values, A' has "
             f"{m.a.shape[1]} columns; C must cover ceil(n/2) columns, E the rest")


# --------------------------------------------------------------------------- int8

@dataclass(frozen=True, eq=False)
class QHmd:
    """Top rows: a dense block. Lower rows: s1 = sat16(rq(C . x[:h])), s2 likewise with E
    (int16, their own scales), then rq(B s1) + rq(D s2) per row. x int16 (w8a16 / w4a16):
    xbits 16, A' a dense int16-input block, and C . x (E . x) summed in int64 and
    requantized by rq64 where wide_c (wide_e): quant.a16_fits_int32's bound rule."""

    a: QDense | None  # [r, n]
    c: np.ndarray  # int8 [h]
    e: np.ndarray  # int8 [n - h]
    off_c: int
    off_e: int
    mc: int
    sc: int
    me: int
    se: int
    b: np.ndarray  # int8 [m - r]
    d: np.ndarray  # int8 [m - r]
    mb: int
    sb: int
    md: int
    sd: int
    xbits: int = 8  # 16: int16 x (w8a16 / w4a16)
    wide_c: bool = False  # int16 x whose C . x could overflow int32: int64 sum, rq64
    wide_e: bool = False

    fmt = "hmd"

    @property
    def shape(self) -> tuple[int, int]:
        r = 0 if self.a is None else self.a.shape[0]
        return (r + int(self.b.size), int(self.c.size + self.e.size))

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, I64)
        h = self.c.size
        top = self.a.forward(x) if self.a is not None else np.zeros(0, I64)
        r1, r2 = (quant.rq64 if self.wide_c else rq), (quant.rq64 if self.wide_e else rq)
        s1 = sat16(r1(int(self.c.astype(I64) @ x[:h]) + self.off_c, self.mc, self.sc))
        s2 = sat16(r2(int(self.e.astype(I64) @ x[h:]) + self.off_e, self.me, self.se))
        low = rq(self.b.astype(I64) * s1, self.mb, self.sb) + \
            rq(self.d.astype(I64) * s2, self.md, self.sd)
        return np.concatenate([top, low])


def _quantize(m: Hmd, q: Any, x: QParams, out_scale: float, inputs: np.ndarray,
              what: str, bits: int = 8) -> QHmd:
    """bits=4: the dense top rows A' int4 (docs/int8.md "int4 in the compressed formats");
    the rank-1 vectors B, C, D, E stay int8. x int16 (QParams16): A' a dense int16-input
    block (quantize_dense: xbits 16, acc64 by the bound rule); C . x and E . x int32 or int64
    sums by the same rule (quant.a16_fits_int32, offsets 0: no zero point)."""
    h = m.c.size
    a = quantize_dense(m.a, x, out_scale, f"{what} A'", bits=bits) if m.r else None
    cq, s_c = quant.quantize_tensor(m.c.astype(np.float64))
    eq, s_e = quant.quantize_tensor(m.e.astype(np.float64))
    bq, s_b = quant.quantize_tensor(m.b.astype(np.float64))
    dq, s_d = quant.quantize_tensor(m.d.astype(np.float64))
    s1 = np.abs(inputs[:, :h] @ m.c.astype(np.float64)) if inputs.size else np.zeros(1)
    s2 = np.abs(inputs[:, h:] @ m.e.astype(np.float64)) if inputs.size else np.zeros(1)
    ss1 = quant.symmetric_scale(max(float(s1.max()), 1e-12), 32767, f"{what} C x")
    ss2 = quant.symmetric_scale(max(float(s2.max()), 1e-12), 32767, f"{what} E x")
    mc, sc = quant.multiplier(s_c * x.scale / ss1, f"{what} C")
    me, se = quant.multiplier(s_e * x.scale / ss2, f"{what} E")
    mb, sb = quant.multiplier(s_b * ss1 / out_scale, f"{what} B")
    md, sd = quant.multiplier(s_d * ss2 / out_scale, f"{what} D")
    off_c = -x.zero_point * int(cq.astype(np.int64).sum())
    off_e = -x.zero_point * int(eq.astype(np.int64).sum())
    if x.dtype != "int16":
        return QHmd(a, cq, eq, off_c, off_e, mc, sc, me, se, bq, dq, mb, sb, md, sd)
    if h > quant.A16_WIDE_COLS:
        raise RnngenError(f"int8: {what}: int16 activations: C covers {h} columns, more than "
                          f"the int64 sums' bound ({quant.A16_WIDE_COLS}); give this layer "
                          "w8a8")
    wide_c = not quant.a16_fits_int32(cq.reshape(1, -1), np.zeros(1, np.int64))
    wide_e = not quant.a16_fits_int32(eq.reshape(1, -1), np.zeros(1, np.int64))
    return QHmd(a, cq, eq, 0, 0, mc, sc, me, se, bq, dq, mb, sb, md, sd, 16, wide_c, wide_e)


# --------------------------------------------------------------------------- C

def _emit_f32(m: Hmd, prog: Any, base: str, bias: str, x: str, y: str) -> list[str]:
    ctx = prog.ctx
    rows, cols = m.shape
    a = ctx.array(f"{base}_A", pack_dense(m.a), attr="RNN_ALIGN64") if m.r else "NULL"
    b, c = ctx.array(f"{base}_B", m.b) if m.b.size else "NULL", ctx.array(f"{base}_C", m.c)
    d = ctx.array(f"{base}_D", m.d) if m.d.size else "NULL"
    e = ctx.array(f"{base}_E", m.e) if m.e.size else "NULL"
    ctx.kernels.add("rnn_mat_vec_hmd_f32")
    return [(f"rnn_mat_vec_hmd_f32({rows}, {cols}, {m.r}, {a}, {b}, {c}, {d}, {e}, "
            f"{bias}, {x}, {y});")]


def _emit_s8(m: QHmd, prog: Any, base: str, x: str, y: str, scratch: str) -> list[str]:
    if m.xbits == 16:
        return _emit_a16(m, prog, base, x, y, scratch)
    ctx = prog.ctx
    rows, cols = m.shape
    r = 0 if m.a is None else m.a.shape[0]
    a = declare_s8(ctx, f"{base}_A", m.a) if m.a is not None else ("NULL",) * 4
    top: list[str] = []
    if m.a is not None and m.a.bits == 4:  # int4 A': its own call; the struct's a is NULL
        ctx.kernels.add("rnn_mat_vec_s4_s16")
        top = [f"rnn_mat_vec_s4_s16({r}, {cols}, {', '.join(a)}, {x}, {y});"]
        a = ("NULL",) * 4
    c = ctx.array(f"{base}_C", np.asarray(m.c), ctype="int8_t")
    e = ctx.array(f"{base}_E", np.asarray(m.e), ctype="int8_t")
    b = ctx.array(f"{base}_B", np.asarray(m.b), ctype="int8_t") if m.b.size else "NULL"
    d = ctx.array(f"{base}_D", np.asarray(m.d), ctype="int8_t") if m.d.size else "NULL"
    sym = ctx.const(f"{base}_hmd", "rnn_hmd_s8", cgen.c_struct([
        ("rows", rows), ("cols", cols), ("r", r), ("a", a[0]), ("a_offset", a[1]),
        ("a_mult", a[2]), ("a_shift", a[3]), ("c", c), ("e", e), ("off_c", cgen.c_int(m.off_c)),
        ("off_e", cgen.c_int(m.off_e)), ("c_mult", cgen.c_int(m.mc)), ("c_shift", cgen.c_int(m.sc)),
        ("e_mult", cgen.c_int(m.me)), ("e_shift", cgen.c_int(m.se)), ("b", b), ("d", d),
        ("b_mult", cgen.c_int(m.mb)), ("b_shift", cgen.c_int(m.sb)), ("d_mult", cgen.c_int(m.md)),
        ("d_shift", cgen.c_int(m.sd))]))
    ctx.kernels.add("rnn_mat_vec_hmd_s8_s16")
    return top + [f"rnn_mat_vec_hmd_s8_s16(&{sym}, {x}, {y});"]


def _emit_a16(m: QHmd, prog: Any, base: str, x: str, y: str, scratch: str) -> list[str]:
    """int16 x: A' (int8 or int4, int32 or int64 sums) by dense's emitter into y[0:r], then
    the lower rows by rnn_mat_vec_hmd_a16_s16 into y[r:]."""
    ctx = prog.ctx
    rows, cols = m.shape
    r = 0 if m.a is None else m.a.shape[0]
    top = _emit_dense_s8(m.a, prog, f"{base}_A", x, y, scratch) if m.a is not None else []
    if rows == r:  # a row slice within A'
        return top
    c = ctx.array(f"{base}_C", np.asarray(m.c), ctype="int8_t")
    e = ctx.array(f"{base}_E", np.asarray(m.e), ctype="int8_t") if m.e.size else "NULL"
    b = ctx.array(f"{base}_B", np.asarray(m.b), ctype="int8_t")
    d = ctx.array(f"{base}_D", np.asarray(m.d), ctype="int8_t")
    sym = ctx.const(f"{base}_hmd", "rnn_hmd_a16", cgen.c_struct([
        ("rows", rows), ("cols", cols), ("r", r), ("c", c), ("e", e),
        ("c_mult", cgen.c_int(m.mc)), ("c_shift", cgen.c_int(m.sc)),
        ("c_wide", int(m.wide_c)), ("e_mult", cgen.c_int(m.me)),
        ("e_shift", cgen.c_int(m.se)), ("e_wide", int(m.wide_e)), ("b", b), ("d", d),
        ("b_mult", cgen.c_int(m.mb)), ("b_shift", cgen.c_int(m.sb)),
        ("d_mult", cgen.c_int(m.md)), ("d_shift", cgen.c_int(m.sd))]))
    ctx.kernels.add("rnn_mat_vec_hmd_a16_s16")
    return top + [f"rnn_mat_vec_hmd_a16_s16(&{sym}, {x}, {y});"]


# --------------------------------------------------------------------------- files

def _npz_read(bd: Any, entry: dict[str, Any], where: str, rows: int | None, cols: int,
              meaning: str) -> Hmd:
    """A' [r, n] (optional: r = 0), B and D [m - r], C [ceil(n/2)], E [floor(n/2)]."""
    bd.fields(entry, where, ("format", "b", "c", "d"), ("a", "e"))
    rname, cname = bd.dims(meaning)
    h = cols - cols // 2
    c = bd.array(entry["c"], f"{where}.c", (h,), f"[ceil({cname}/2)] ({cname} = {cols})")
    if cols // 2 or entry.get("e") is not None:
        e = bd.array(entry.get("e"), f"{where}.e", (cols // 2,),
                     f"[floor({cname}/2)] ({cname} = {cols})")
    else:
        e = np.zeros(0, F32)
    a = np.zeros((0, cols), F32)
    if entry.get("a") is not None:
        a = bd.array(entry["a"], f"{where}.a", (None, cols), f"[r, {cname}]")
    low = None if rows is None else rows - a.shape[0]
    if low is not None and low < 0:
        raise bd.fail(f"{where}.a", f"A' has {a.shape[0]} rows, more than the matrix's "
                                    f"{rows} = {rname}")
    empty_ok = low == 0
    bv = bd.array(entry["b"], f"{where}.b", (low,), f"[{rname} - r]", allow_empty=empty_ok)
    dv = bd.array(entry["d"], f"{where}.d", (bv.size,), f"[{rname} - r] (as B)",
                  allow_empty=empty_ok)
    return bd.checked(Hmd(a, bv, c, dv, e), where)


def _npz_write(m: Hmd, path: str, put: Any) -> dict[str, Any]:
    # without A' when r = 0 (as in ONNX)
    return {"format": "hmd", **{k: put(f"{path}.{k}", v) for k, v in m.arrays().items()
                                if k != "a" or m.r > 0}}


def _npz_decode(entry: dict[str, Any], a: dict[str, np.ndarray], rec: Any) -> np.ndarray:
    e = a.get("e", np.zeros(0, F32))
    low = np.concatenate([np.outer(a["b"], a["c"]), np.outer(a["d"], e)], axis=1)
    top = a.get("a", np.zeros((0, low.shape[1]), F32))
    return np.concatenate([top.reshape(-1, low.shape[1]), low], axis=0).astype(F32)


def _npz_shape(entry: dict[str, Any], a: dict[str, np.ndarray], rec: Any) -> tuple[int, int]:
    r = int(a["a"].shape[0]) if "a" in a else 0
    return r + int(a["b"].size), int(a["c"].size + (a["e"].size if "e" in a else 0))


def _onnx_write(m: Hmd, w: Any, base: str) -> str:
    def outer(col: np.ndarray, row: np.ndarray, a: str, b: str) -> str:
        return w.node("MatMul", [w.init(f"{base}.{a}", col.reshape(-1, 1)),
                                 w.init(f"{base}.{b}", row.reshape(1, -1))],
                      f"{base}.{a}{b}")
    low = w.node("Concat", [outer(m.b, m.c, "B", "C"), outer(m.d, m.e, "D", "E")],
                 base + ".low", axis=1)
    if m.r == 0:
        return low
    return w.node("Concat", [w.init(base + ".A", m.a), low], base, axis=0)


def _lower(mt: Any, t: str, where: str) -> tuple | None:
    """Concat(axis=1)(MatMul(B [k, 1], C [1, ceil(n/2)]), MatMul(D [k, 1], E [1, n/2]))."""
    t = mt.peel(t)
    cat = mt.node(t, "Concat")
    if cat is None or mt.concat_axis(cat, 2) != 1:
        return None
    ins = [i for i in cat.input if i]
    if len(ins) != 2:
        return None
    outer = []
    for i in ins:
        mm = mt.node(mt.peel(i), "MatMul")
        if mm is None:
            return None
        col, row = mt.matrix_leaf(mm.input[0]), mt.matrix_leaf(mm.input[1])
        if col is None or row is None or col[0].shape[1] != 1 or row[0].shape[0] != 1:
            return None
        outer.append((col, row))
    (b, c), (d, e) = outer
    n = c[0].shape[1] + e[0].shape[1]
    if c[0].shape[1] != n - n // 2:
        return None  # not the D1 split (C covers ceil(n/2)): an ordinary dense block
    if b[0].shape[0] != d[0].shape[0]:
        raise RnngenError(f"{where}: hmd factors B '{b[1]}' {b[0].shape} and D '{d[1]}' "
                          f"{d[0].shape} must have the same number of rows")
    return b, c, d, e


def _make(mt: Any, a: tuple[np.ndarray, str] | None, low: tuple, where: str) -> Any:
    b, c, d, e = low
    n = c[0].shape[1] + e[0].shape[1]
    names = {"b": b[1], "c": c[1], "d": d[1], "e": e[1]}
    if a is None:
        av = np.zeros((0, n), F32)
        desc = f"hmd (B '{b[1]}' {b[0].shape}, C '{c[1]}', D '{d[1]}', E '{e[1]}')"
    else:
        av = a[0]
        names["a"] = a[1]
        desc = (f"hmd (A' '{a[1]}' {a[0].shape}, B '{b[1]}' {b[0].shape}, C '{c[1]}' "
                f"{c[0].shape}, D '{d[1]}', E '{e[1]}' {e[0].shape})")
        if av.shape[1] != n:
            raise RnngenError(f"{where}: {desc}: A' has {av.shape[1]} columns, C and E "
                              f"cover {n}")
    m = Hmd(av, b[0][:, 0].copy(), c[0][0].copy(), d[0][:, 0].copy(), e[0][0].copy())
    return mt.found(m, where, desc, names)


def _onnx_read(mt: Any, t: str, where: str) -> Any:
    low = _lower(mt, t, where)
    return None if low is None else _make(mt, None, low, where)


def _onnx_read_concat(mt: Any, ins: list[str], where: str) -> Any:
    """Concat(axis=0)(A', lower): HMD with r > 0 rows of A'."""
    if len(ins) != 2:
        return None
    a = mt.matrix_leaf(ins[0])
    low = _lower(mt, ins[1], where) if a else None
    if a is None or low is None:
        return None
    return _make(mt, a, low, where)


FORMAT = Format(
    name="hmd", matrix=Hmd, qmatrix=QHmd, doc="hybrid matrix decomposition (D1)",
    check=_check, describe=lambda m: f" r={m.r}", scratch=lambda m: 0, scratch_s8=lambda q: 0,
    kernels_f32={"rnn_mat_vec_hmd_f32": ("MatVecFunctions/rnn_mat_vec_hmd_f32.c",
                                         ("rnn_mat_vec_f32",))},
    emit_f32=_emit_f32,
    kernels_s8={"rnn_hmd_rows_s16": ("MatVecFunctions/rnn_hmd_rows_s16.c", ()),
                "rnn_mat_vec_hmd_s8_s16": ("MatVecFunctions/rnn_mat_vec_hmd_s8_s16.c",
                                           ("rnn_mat_vec_s8_s16", "rnn_hmd_rows_s16")),
                "rnn_mat_vec_hmd_a16_s16": ("MatVecFunctions/rnn_mat_vec_hmd_a16_s16.c",
                                            ("rnn_hmd_rows_s16",))},
    quantize=_quantize, emit_s8=_emit_s8,
    npz_read=_npz_read, npz_write=_npz_write, npz_decode=_npz_decode, npz_shape=_npz_shape,
    onnx_write=_onnx_write, onnx_read=_onnx_read, onnx_read_concat=_onnx_read_concat,
    weight_bits=(8, 4),  # int4: A' (rnn_mat_vec_s4_s16); B, C, D, E stay int8
    act_bits=(8, 16),  # int16 x: A' by the dense int16-input kernels, rnn_mat_vec_hmd_a16_s16
)
