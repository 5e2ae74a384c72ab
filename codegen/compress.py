"""rnngen compress: turn a trained dense recurrent model into a compressed one.

Pure NumPy and deterministic. Per recurrent layer, per direction, per gate block (each
gate's W_g [H, I] and R_g [H, H] on its own, the same r / d / shapes for every gate;
docs/compression.md), both W and R are replaced by

    hmd   HMD D1: A' = the top r rows; the lower rows' left ceil(n/2) and right floor(n/2)
          columns each the best rank-1 approximation (SVD): B C and D E.
    lmf   truncated SVD: U = U_d S_d [m, d], V = V_d^T [d, n].
    csr   magnitude pruning: each gate block keeps its round(m n / F) largest weights;
          a direction's matrix is one CSR matrix (sorted column indices).
    kron  nearest Kronecker product (Van Loan-Pitsianis): the leading singular pair of the
          rearranged matrix; zero-padded sizes are refined by masked alternating least
          squares so that only the real m x n block is fitted.
    hkp   dense top r rows over a Kronecker product of the lower m - r rows.

How r, d, nnz and the Kronecker shapes are chosen (PAPERS.md; docs/compression.md,
"Compressing a trained model"):

    hmd   r = clamp(floor((m n / F - 2 m - n) / (n - 2)), 0, m)     (storage factor >= F)
    lmf   d = floor(m n / (F (m + n)))                               (storage factor >= F)
    csr   nnz = round(m n / F) per gate block
    kron  every (m1, m2) with m1 m2 >= m and (n1, n2) with n1 n2 >= n that pads minimally
          (no factor can shrink); the factor closest to F (in ratio) wins, then fewer MACs,
          then less padding
    hkp   the lower part L = m - r rows is composite (not padded); its Kronecker shapes
          minimise m1 n1 + m2 n2 (then MACs, then padding: PAPERS.md's rule); r is the
          largest with storage factor >= F

A factor is reachable when the achieved storage factor is within TOLERANCE (10%) of F;
otherwise RnngenError names the matrix and the closest reachable factor.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache, lru_cache

import numpy as np

from . import formats, ir
from .errors import RnngenError

F32 = np.float32
METHODS = ("hmd", "lmf", "csr", "kron", "hkp")
# the matrix formats (codegen/formats) each method's matrices are made of
METHOD_FORMATS = {"hmd": ("hmd",), "lmf": ("lowrank",), "csr": ("csr",), "kron": ("kron",),
                  "hkp": ("dense", "kron")}


def weight_bits(method: str) -> tuple[int, ...]:
    """The weight widths of the int8 kernels of a method's matrices ("dense": not compressed):
    those every one of its formats has (formats.Format.weight_bits)."""
    fs = ("dense",) if method == "dense" else METHOD_FORMATS[method]
    return tuple(b for b in formats.FORMATS[fs[0]].weight_bits
                 if all(b in formats.FORMATS[f].weight_bits for f in fs))


def act_bits(method: str) -> tuple[int, ...]:
    """The input widths of the int8 kernels of a method's matrices, likewise
    (formats.Format.act_bits: 16, int16 activations, w8a16)."""
    fs = ("dense",) if method == "dense" else METHOD_FORMATS[method]
    return tuple(b for b in formats.FORMATS[fs[0]].act_bits
                 if all(b in formats.FORMATS[f].act_bits for f in fs))


def supports(method: str, precision_name: str) -> bool:
    """A method's matrices (or dense ones) can be built in this precision (its weight and
    activation widths: codegen/precision.py). float32 (a float layer inside an integer
    model, docs/int8.md "float32 layers"): where every one of its formats has float
    kernels (formats.Format.emit_f32)."""
    from . import precision

    p = precision.PRECISIONS[precision_name]
    if p.name == precision.FLOAT:
        fs = ("dense",) if method == "dense" else METHOD_FORMATS[method]
        return all(formats.FORMATS[f].emit_f32 is not None for f in fs)
    return p.weight_bits in weight_bits(method) and p.act_bits in act_bits(method)


TOLERANCE = 0.10  # achieved storage factor within 10% of the target
_EPS = 1e-9  # floor() of a ratio that is an integer up to rounding (10/3 * 400 * 30)
_ALS_ITERS = 200  # masked alternating least squares for padded Kronecker products


# --------------------------------------------------------------------------- plans

@dataclass(frozen=True)
class Plan:
    """How one gate block of shape m x n is compressed: the method's sizes and costs."""

    method: str
    m: int
    n: int
    params: int  # stored numbers (CSR: nnz)
    macs: int
    r: int = 0  # hmd, hkp: dense top rows
    d: int = 0  # lmf: rank
    nnz: int = 0  # csr
    kron: tuple[int, int, int, int] | None = None  # (m1, n1, m2, n2) of the Kronecker part

    @property
    def factor(self) -> float:
        return self.m * self.n / self.params

    @property
    def padding(self) -> tuple[int, int]:
        """Rows and columns the Kronecker product adds past the matrix (0, 0 if none)."""
        if self.kron is None:
            return (0, 0)
        m1, n1, m2, n2 = self.kron
        return (m1 * m2 - (self.m - self.r), n1 * n2 - self.n)

    def describe(self) -> str:
        if self.method == "hmd":
            return f"r={self.r}"
        if self.method == "lmf":
            return f"d={self.d}"
        if self.method == "csr":
            return f"nnz={self.nnz}"
        assert self.kron is not None
        m1, n1, m2, n2 = self.kron
        s = f"A {m1}x{n1} B {m2}x{n2}"
        pr, pc = self.padding
        if pr or pc:
            s += f" (padded {m1 * m2}x{n1 * n2})"
        return (f"r={self.r} " if self.method == "hkp" else "") + s

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"block_shape": [self.m, self.n], "params": self.params,
                                  "macs": self.macs}
        if self.method in ("hmd", "hkp"):
            out["r"] = self.r
        if self.method == "lmf":
            out["d"] = self.d
        if self.method == "csr":
            out["nnz"] = self.nnz
        if self.kron is not None:
            m1, n1, m2, n2 = self.kron
            out["A"], out["B"] = [m1, n1], [m2, n2]
            out["padding"] = list(self.padding)
        return out


def _kron_macs(m1: int, n1: int, m2: int, n2: int) -> int:
    return min(m1 * n2 * (n1 + m2), n1 * m2 * (n2 + m1))


def hmd_rank(m: int, n: int, factor: float) -> int:
    """PAPERS.md: r = clamp(floor((m n / CF - 2 m - n) / (n - 2)), 0, m)."""
    return min(max(math.floor((m * n / factor - 2 * m - n) / (n - 2) + _EPS), 0), m)


def hmd_plan_r(m: int, n: int, r: int) -> Plan:
    return Plan("hmd", m, n, params=r * n + 2 * (m - r) + n, macs=r * n + n + 3 * (m - r), r=r)


def lmf_rank(m: int, n: int, factor: float) -> int:
    """PAPERS.md: the largest d with m n / (d (m + n)) >= CF."""
    return math.floor(m * n / (factor * (m + n)) + _EPS)


def _lmf_plan_d(m: int, n: int, d: int) -> Plan:
    return Plan("lmf", m, n, params=d * (m + n), macs=d * (m + n), d=d)


def _csr_plan_nnz(m: int, n: int, nnz: int) -> Plan:
    return Plan("csr", m, n, params=nnz, macs=nnz, nnz=nnz)


@cache
def covers(k: int) -> tuple[tuple[int, int], ...]:
    """Every (k1, k2) with k1 k2 >= k where neither can shrink: the Kronecker factor sizes
    of a dimension k, zero-padded as little as those sizes allow. Exact divisor pairs of k
    are among them (no padding)."""
    pairs = set()
    for k1 in range(1, k + 1):
        k2 = -(-k // k1)
        pairs.add((-(-k // k2), k2))
    return tuple(sorted(pairs))


def _kron_plan(m: int, n: int, shape: tuple[int, int, int, int], method: str = "kron",
               r: int = 0) -> Plan:
    m1, n1, m2, n2 = shape
    return Plan(method, m, n, params=r * n + m1 * n1 + m2 * n2,
                macs=r * n + _kron_macs(m1, n1, m2, n2), r=r, kron=shape)


def _ratio(a: float, b: float) -> float:
    return abs(math.log(a / b))


class Unreachable(RnngenError):
    """The factor cannot be reached within TOLERANCE; `closest` is the nearest plan
    (`rnngen compress --nearest` takes it)."""

    def __init__(self, message: str, closest: Plan):
        super().__init__(message)
        self.closest = closest


def _unreachable(where: str, method: str, m: int, n: int, factor: float, closest: Plan,
                 why: str = "") -> RnngenError:
    return Unreachable(
        f"{where}: {method} cannot reach {factor:g}x (within {TOLERANCE:.0%}) on a {m}x{n} "
        f"gate block{why}; the closest reachable factor is {closest.factor:.3f}x "
        f"({closest.describe()}); --nearest takes it", closest)


def _choose(cands: list[Plan], factor: float, where: str, method: str, m: int, n: int,
            why: str = "") -> Plan:
    """The one rule for every method: the smallest storage factor >= F (the most parameters
    the budget allows) if it is within TOLERANCE of F; else the factor closest to F within
    TOLERANCE (a little below F); else an error naming the closest reachable factor.
    `cands` come in tie-break order (the first of equal factors wins)."""
    if not cands:
        raise RnngenError(f"{where}: {method} cannot compress a {m}x{n} gate block{why}")
    tol = math.log1p(TOLERANCE)
    above = [p for p in cands if p.factor >= factor and _ratio(p.factor, factor) <= tol]
    if above:
        return min(above, key=lambda p: p.factor)
    near = min(cands, key=lambda p: _ratio(p.factor, factor))
    if _ratio(near.factor, factor) <= tol:
        return near
    raise _unreachable(where, method, m, n, factor, near, why)


def plan(method: str, m: int, n: int, factor: float, where: str) -> Plan:
    """The sizes `method` uses on an m x n gate block for storage factor `factor`.

    Raises RnngenError (naming `where` and the closest reachable factor) when the factor
    cannot be reached within TOLERANCE."""
    if method not in METHODS:
        raise RnngenError(f"--method '{method}': expected one of {', '.join(METHODS)}")
    if not (math.isfinite(factor) and factor > 1):
        raise RnngenError(f"--factor {factor:g}: expected a number greater than 1")
    if method == "hmd":
        if n < 3:
            raise RnngenError(f"{where}: hmd needs at least 3 columns, the gate block is "
                              f"{m}x{n}")
        # r = hmd_rank(m, n, factor) is the smallest factor >= F (PAPERS.md)
        return _choose([hmd_plan_r(m, n, r) for r in range(m + 1)], factor, where, method,
                       m, n, " (r = 0 is HMD's maximum)" if m * n / factor < 2 * m + n
                       else "")
    if method == "lmf":
        # d = lmf_rank(m, n, factor) is the smallest factor >= F (PAPERS.md)
        return _choose([_lmf_plan_d(m, n, d) for d in range(1, min(m, n) + 1)], factor, where,
                       method, m, n, " (rank 1 is the maximum)")
    if method == "csr":
        nnz = math.floor(m * n / factor + 0.5)  # round(m n / F), the closest factor
        p = _csr_plan_nnz(m, n, max(nnz, 1))
        if _ratio(p.factor, factor) > math.log1p(TOLERANCE):
            raise _unreachable(where, method, m, n, factor, p, " (1 weight is the minimum)"
                               if nnz < 1 else "")
        return p
    if method == "kron":
        return _choose(_kron_candidates(m, n), factor, where, method, m, n,
                       " (no Kronecker shapes get closer; hkp gives fine control)")
    return _choose(_hkp_candidates(m, n), factor, where, method, m, n)


def _kron_candidates(m: int, n: int) -> list[Plan]:
    """Every minimally padded shape set, in tie-break order: fewer MACs, less padding."""
    cands = []
    for m1, m2 in covers(m):
        for n1, n2 in covers(n):
            if m1 * n1 == 1 or m2 * n2 == 1:
                continue  # a scalar factor: the other one is the whole matrix
            cands.append(_kron_plan(m, n, (m1, n1, m2, n2)))
    return sorted(cands, key=lambda p: (p.macs, sum(p.padding), p.kron))


@lru_cache(maxsize=4096)
def _cheapest_kron(rows: int, n: int) -> tuple[int, int, int, int] | None:
    """PAPERS.md's Kronecker shape rule for the lower part of HKP: rows = m1 m2 exactly
    (1 < m1 < rows), columns padded if needed; minimise m1 n1 + m2 n2, then MACs, then
    padding."""
    best: tuple | None = None
    for m1 in range(2, rows // 2 + 1):
        if rows % m1:
            continue
        m2 = rows // m1
        for n1, n2 in covers(n):
            key = (m1 * n1 + m2 * n2, _kron_macs(m1, n1, m2, n2), n1 * n2 - n, m1, n1)
            if best is None or key < best[0]:
                best = (key, (m1, n1, m2, n2))
    return None if best is None else best[1]


def _hkp_candidates(m: int, n: int) -> list[Plan]:
    """One plan per r whose lower part m - r is composite, in tie-break order: fewer MACs,
    more dense rows."""
    cands = []
    for r in range(m):
        shape = _cheapest_kron(m - r, n)
        if shape is not None:
            cands.append(_kron_plan(m, n, shape, "hkp", r))
    return sorted(cands, key=lambda p: (p.macs, -p.r))


# --------------------------------------------------------------------------- fitting

def _flip(u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic signs of a singular pair: the largest |v| entry is positive."""
    if v.size and v[np.argmax(np.abs(v))] < 0:
        return -u, -v
    return u, v


def rank1(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The best rank-1 approximation b c^T of w (b carries the singular value)."""
    m, n = w.shape
    if w.size == 0 or not np.any(w):
        return np.zeros(m, F32), np.zeros(n, F32)
    u, s, vt = np.linalg.svd(w.astype(np.float64), full_matrices=False)
    b, c = _flip(u[:, 0] * s[0], vt[0])
    return b.astype(F32), c.astype(F32)


def fit_hmd(w: np.ndarray, r: int) -> formats.Hmd:
    n = w.shape[1]
    h = n - n // 2  # C covers x[0:ceil(n/2)], E the rest
    low = w[r:]
    b, c = rank1(low[:, :h])
    d, e = rank1(low[:, h:])
    return formats.Hmd(np.ascontiguousarray(w[:r], dtype=F32), b, c, d, e)


def fit_lmf(w: np.ndarray, d: int) -> formats.LowRank:
    u, s, vt = np.linalg.svd(w.astype(np.float64), full_matrices=False)
    u, vt = u[:, :d] * s[:d], vt[:d]
    for k in range(d):
        u[:, k], vt[k] = _flip(u[:, k], vt[k])
    return formats.LowRank(np.ascontiguousarray(u, dtype=F32), np.ascontiguousarray(vt, dtype=F32))


def prune_mask(w: np.ndarray, nnz: int) -> np.ndarray:
    """The nnz largest |w| (ties: the first in row-major order)."""
    order = np.argsort(-np.abs(w).reshape(-1), kind="stable")[:nnz]
    mask = np.zeros(w.size, bool)
    mask[order] = True
    return mask.reshape(w.shape)


def csr_from_mask(w: np.ndarray, mask: np.ndarray) -> formats.Csr:
    rows, cols = np.nonzero(mask)  # row-major: column indices sorted within each row
    ptr = np.zeros(w.shape[0] + 1, np.int64)
    np.add.at(ptr, rows + 1, 1)
    return formats.Csr(np.ascontiguousarray(w[rows, cols], dtype=F32), cols.astype(np.int32),
                  np.cumsum(ptr).astype(np.int32), int(w.shape[1]))


def _rearrange(p: np.ndarray, m1: int, n1: int, m2: int, n2: int) -> np.ndarray:
    """R(W) [m1 n1, m2 n2] with R(A (x) B) = vec(A) vec(B)^T (row-major vec)."""
    return p.reshape(m1, m2, n1, n2).transpose(0, 2, 1, 3).reshape(m1 * n1, m2 * n2)


def fit_kron(w: np.ndarray, shape: tuple[int, int, int, int]) -> formats.Kron:
    """Nearest Kronecker product of the m x n matrix w, read as the top-left block of the
    (m1 m2) x (n1 n2) product. Van Loan-Pitsianis (leading singular pair of R(W)) on the
    zero-padded matrix; with padding, masked alternating least squares then fits only the
    real block (the padded part of the product is never used)."""
    m1, n1, m2, n2 = shape
    m, n = w.shape
    pad = np.zeros((m1 * m2, n1 * n2))
    pad[:m, :n] = w
    rw = _rearrange(pad, m1, n1, m2, n2)
    a, b = rank1(rw)
    a, b = a.astype(np.float64), b.astype(np.float64)
    if (m1 * m2, n1 * n2) != (m, n) and np.any(a) and np.any(b):
        mask = np.zeros_like(pad)
        mask[:m, :n] = 1.0
        mk = _rearrange(mask, m1, n1, m2, n2)
        for _ in range(_ALS_ITERS):
            den = mk @ (b * b)
            a = np.divide(rw @ b, den, out=np.zeros_like(a), where=den > 0)
            den = mk.T @ (a * a)
            b = np.divide(rw.T @ a, den, out=np.zeros_like(b), where=den > 0)
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if na > 0 and nb > 0:  # balance the two factors' scales
        a, b = a * math.sqrt(nb / na), b * math.sqrt(na / nb)
    b, a = _flip(b, a)
    return formats.Kron(np.ascontiguousarray(a.reshape(m1, n1), dtype=F32),
                   np.ascontiguousarray(b.reshape(m2, n2), dtype=F32), m, n)


def fit(w: np.ndarray, p: Plan) -> ir.Matrix:
    """One gate block compressed by plan p (CSR blocks: see compress_gates)."""
    if p.method == "hmd":
        return fit_hmd(w, p.r)
    if p.method == "lmf":
        return fit_lmf(w, p.d)
    if p.method == "csr":
        return csr_from_mask(w, prune_mask(w, p.nnz))
    assert p.kron is not None
    if p.method == "kron":
        return fit_kron(w, p.kron)
    low = fit_kron(w[p.r:], p.kron)
    if p.r == 0:
        return low
    return formats.RowStack((formats.as_matrix(w[:p.r]), low))


def compress_gates(w: np.ndarray, gates: int, method: str, factor: float,
                   where: str) -> tuple[ir.Matrix, Plan]:
    """A gate-stacked matrix [G H, n] compressed gate block by gate block (the same plan
    for every gate). Returns a RowStack of the gate blocks (the block itself for one
    gate); CSR returns one Csr of the whole matrix, pruned per gate block."""
    rows, n = w.shape
    if rows % gates:
        raise RnngenError(f"{where}: {rows} rows do not split into {gates} gate blocks")
    p = plan(method, rows // gates, n, factor, where)
    return fit_gates(w, gates, p), p


def fit_gates(w: np.ndarray, gates: int, p: Plan) -> ir.Matrix:
    """A gate-stacked matrix [G H, n] projected gate block by gate block with plan p (made
    for one H x n block): a RowStack of the gate blocks (the block itself for one gate); CSR
    gives one Csr of the whole matrix, pruned per gate block."""
    H = w.shape[0] // gates
    blocks = [np.asarray(w[g * H:(g + 1) * H], F32) for g in range(gates)]
    if p.method == "csr":
        mask = np.concatenate([prune_mask(b, p.nnz) for b in blocks], axis=0)
        return csr_from_mask(np.asarray(w, F32), mask)
    mats = [fit(b, p) for b in blocks]
    return mats[0] if gates == 1 else formats.RowStack(tuple(mats))


def plan_sizes(method: str, m: int, n: int, where: str, *, r: int | None = None,
               d: int | None = None, shapes: tuple[int, int, int, int] | None = None,
               nnz: int | None = None) -> Plan:
    """A plan from explicit sizes instead of a factor: hmd r, lmf d, csr nnz, kron shapes
    (m1, n1, m2, n2), hkp r and shapes. The sizes must fit the m x n block."""
    def bad(msg: str) -> RnngenError:
        return RnngenError(f"{where}: {method} on a {m}x{n} gate block: {msg}")

    if method == "hmd" and r is not None:
        if not 0 <= r <= m or n < 3:
            raise bad(f"r={r} must be in 0..{m} (and n >= 3)")
        return hmd_plan_r(m, n, r)
    if method == "lmf" and d is not None:
        if not 1 <= d <= min(m, n):
            raise bad(f"d={d} must be in 1..{min(m, n)}")
        return _lmf_plan_d(m, n, d)
    if method == "csr" and nnz is not None:
        if not 1 <= nnz <= m * n:
            raise bad(f"nnz={nnz} must be in 1..{m * n}")
        return _csr_plan_nnz(m, n, nnz)
    if method in ("kron", "hkp") and shapes is not None:
        rr = r or 0 if method == "hkp" else 0
        if len(shapes) != 4 or min(shapes) < 1:
            raise bad(f"shapes {shapes} must be four positive sizes (m1, n1, m2, n2)")
        m1, n1, m2, n2 = (int(v) for v in shapes)
        if not 0 <= rr < m or m1 * m2 < m - rr or n1 * n2 < n:
            raise bad(f"A {m1}x{n1} (x) B {m2}x{n2} does not cover the {m - rr}x{n} "
                      f"{'lower part' if rr else 'block'}")
        return _kron_plan(m, n, (m1, n1, m2, n2), method, rr)
    need = {"hmd": "r", "lmf": "d", "csr": "nnz", "kron": "shapes", "hkp": "r and shapes"}
    if method not in need:
        raise RnngenError(f"method '{method}': expected one of {', '.join(METHODS)}")
    raise bad(f"give a factor or {need[method]}")


def rel_error(w: np.ndarray, m: ir.Matrix) -> float:
    """||W - W'||_F / ||W||_F (0 for an all-zero W reproduced exactly)."""
    w64 = np.asarray(w, np.float64)
    diff = float(np.linalg.norm(w64 - m.to_dense().astype(np.float64)))
    norm = float(np.linalg.norm(w64))
    return diff / norm if norm > 0 else diff
