"""The kernels' target-specific fast paths, compiled for each board and run where it runs (the
host, qemu-aarch64, qemu-system-arm), bit for bit against NumPy models:

- rnn_mat_vec_s8_s16: Helium (cortex-m55: four rows per pass, predicated last columns, vector
  requantization), DSP (cortex-m4 / m7: three rows per pass, x split once, whole words over
  the last partial word, inline assembly) and plain C, on row counts that leave 1..3 rows
  over, column counts that are not multiples of 4 or 16, either side of the 256-column split
  buffer, extreme int8 values, and both requantization paths (shift <= -2 and > -2);
- rnn_mat_vec_f32: the remainder rows (fewer than a tile: chunks of 8, 4, 2, 1; NEON on
  AArch64, plain C on Cortex-M), against the exact summation model of test_kernels.py;
- rnn_lstm_cell_s16: the plain-cell fast path against quant.py's arithmetic;
- rnn_gru_gates_s16 and rnn_gru_cell_s16: NEON (A73), Helium (M55) and C (host, M4, M7)
  against quant.py's arithmetic (cells/gru.py step_s8): odd H (tails), saturating sums both
  ways, both linear_before_reset values, clip, r * h on and off, requantization shifts at
  and past the edges of the vector paths' domain;
- rnn_quantize_s8: the rounding without lrintf, against NumPy's rint.
- rnn_activation_f32 sigmoid and tanh: plain C (host), the FPU path (Cortex-M4/M7), Helium
  (M55) and NEON (A73) over a dense sweep with the extremes (+-inf, NaN, denormals, the
  clamps), against float64 within the bounds the kernel's header states.
"""

from __future__ import annotations


from fractions import Fraction

import numpy as np
import pytest

from rnngen import quant
from rnngen.formats.dense import pack_dense, pack_s8
from tests.kernels.harness import c_array, run_on_board
from tests.kernels.test_kernels import sequential_matvec

F32 = np.float32
I64 = np.int64
BOARDS = ["host", "cortex-a73", "cortex-m4", "cortex-m7", "cortex-m55"]


def _marks(board: str):
    return [] if board == "host" else [pytest.mark.qemu]


# ------------------------------------------------------------------ requantization

@pytest.mark.parametrize("board", [pytest.param(b, marks=_marks(b)) for b in BOARDS])
def test_requantize_equals_quant_rq(tmp_path, board):
    """rnn_requantize (the 32-bit cores' high-word path for right shifts of 33 or more, the
    64-bit one elsewhere) equals quant.rq for every shift in [-31, 30], the extremes of the
    accumulator and of the multiplier, halves exactly (ties) and seeded random values."""
    rng = np.random.default_rng(5)
    accs, mults, shifts = [], [], []
    for shift in range(-31, 31):
        right = 31 - shift
        acc = [-2**31, 2**31 - 1, 0, 1, -1, 2**30, -2**30 - 1,
               *rng.integers(-2**31, 2**31, 24)]
        mult = [2**30, 2**31 - 1, *rng.integers(2**30, 2**31, len(acc) - 2)]
        if right >= 31:  # ties: acc * 2^30 an odd multiple of 2^(right-1)
            k = right - 31
            tie = [3 << k, -(3 << k)] if k <= 29 else [1 << k, -(1 << k)] if k == 30 \
                else [-(1 << k)]
            acc += tie
            mult += [2**30] * len(tie)
        accs += acc
        mults += mult
        shifts += [shift] * len(acc)
    a, m, sh = (np.array(v, np.int64) for v in (accs, mults, shifts))
    n = a.size
    decls = ['#include "rnn_nn_support.h"', c_array("const int32_t", "ra", a),
             c_array("const int32_t", "rm", m), c_array("const int32_t", "rs", sh),
             f"static int32_t ro[{n}];"]
    body = [f"{{ int i; for (i = 0; i < {n}; ++i) ro[i] = rnn_requantize(ra[i], rm[i], rs[i]); }}",
            f'PI("Trq", ro, {n});']
    got = run_on_board(board, tmp_path, [], "\n".join(decls), "\n".join(body))["Trq"]
    np.testing.assert_array_equal(got, quant.rq(a, m, sh))


# ------------------------------------------------------------------ int8 dense mat-vec

# (rows, cols): 1..3 rows left over from groups of 3 and 4; columns around words (4), MVE
# vectors (16), the split buffer (256) and HAR1's 77 / 179
S8_SHAPES = [(1, 1), (2, 3), (3, 4), (4, 5), (5, 7), (6, 15), (7, 16), (8, 17), (9, 31),
             (10, 33), (11, 77), (13, 179), (6, 255), (5, 256), (7, 257), (4, 300), (12, 64),
             # Cortex-M4/M7 pair loop: 3 words (no 16-column pass, both tails), 130 rows (past
             # a 64-row block, an odd last row), wider than x's split buffer (512 columns)
             (5, 12), (4, 11), (130, 20), (3, 513)]


def _s8_case(rng, rows, cols, k):
    # weights in [-127, 127], the kernels' contract (symmetric quantization never makes -128)
    w = rng.integers(-127, 128, (rows, cols)).astype(np.int8)
    x = rng.integers(-128, 128, cols).astype(np.int8)
    if k % 3 == 0:  # extremes: saturation and the largest products
        w[0] = -127
        x[:] = -128
        if rows > 1:
            w[1] = 127
    offset = rng.integers(-20000, 20000, rows)
    mult = rng.integers(1 << 30, (1 << 31) - 1, rows)
    # mostly the usual right shifts; some rows on the general path (shift >= -1)
    shift = rng.integers(-20, -1, rows)
    shift[rng.random(rows) < 0.25] = rng.choice([-1, 0, 1])
    if k % 4 == 1:
        shift[:] = -12  # whole groups on the vector requantization
    return w, x, offset, mult, shift


def _s8_want(w, x, offset, mult, shift):
    acc = w.astype(I64) @ x.astype(I64) + offset
    return quant.sat16(quant.rq(acc, mult, shift))


def s8_weights(name, w, k):
    """The C declaration of int8 weights `name` as the int8 dense kernels read them (rows
    padded to RNN_S8_STRIDE, pack_s8): word-aligned, or, for every third case, `name` a
    pointer one byte into an aligned buffer (the kernels' path for unaligned rows)."""
    packed = pack_s8(np.asarray(w, np.int8))
    if k % 3 != 2:
        return c_array("const int8_t", name, packed).replace(" = {", " RNN_ALIGN4 = {", 1)
    buf = c_array("const int8_t", f"{name}_buf", np.concatenate([[0], packed]))
    return (buf.replace(" = {", " RNN_ALIGN4 = {", 1)
            + f"\nstatic const int8_t *const {name} = {name}_buf + 1;")


def check_mat_vec_s8_s16(board, tmp_path, shapes, make_case, seed):
    """rnn_mat_vec_s8_s16 on every (rows, cols) of `shapes` (inputs from make_case(rng,
    rows, cols, k)) in one program on the board, bit for bit against _s8_want."""
    rng = np.random.default_rng(seed)
    decls, body, want = [], [], {}
    for k, (rows, cols) in enumerate(shapes):
        w, x, off, mu, sh = make_case(rng, rows, cols, k)
        decls += [s8_weights(f"w{k}", w, k), c_array("const int8_t", f"x{k}", x),
                  c_array("const int32_t", f"o{k}", off), c_array("const int32_t", f"m{k}", mu),
                  c_array("const int32_t", f"s{k}", sh), f"static int16_t y{k}[{rows}];"]
        body.append(f"{{ int32_t t[{rows}]; int i; rnn_mat_vec_s8_s16({rows}, {cols}, w{k}, "
                    f"o{k}, m{k}, s{k}, x{k}, y{k}); for (i = 0; i < {rows}; ++i) t[i] = y{k}[i];"
                    f" PI(\"T{k}\", t, {rows}); }}")
        want[f"T{k}"] = _s8_want(w, x, off, mu, sh)
    got = run_on_board(board, tmp_path, ["MatVecFunctions/rnn_mat_vec_s8_s16.c"],
                       "\n".join(decls), "\n".join(body))
    assert set(got) == set(want)
    for tag, v in want.items():
        assert np.array_equal(got[tag], v), (board, tag, got[tag], v)


@pytest.mark.parametrize("board", [pytest.param(b, marks=_marks(b)) for b in BOARDS])
def test_mat_vec_s8_s16_fast_paths(tmp_path, board):
    check_mat_vec_s8_s16(board, tmp_path, S8_SHAPES, _s8_case, 11)


# ------------------------------------------------------------------ float remainder rows

F32_SHAPES = [(1, 9), (2, 5), (3, 7), (5, 3), (7, 11), (8, 6), (9, 4), (10, 77), (12, 13),
              (13, 2), (15, 17), (17, 5), (26, 77), (43, 19), (179, 26)]


@pytest.mark.parametrize("board", [pytest.param(b, marks=_marks(b)) for b in BOARDS])
def test_mat_vec_f32_remainder_rows(tmp_path, board):
    rng = np.random.default_rng(12)
    decls, body, cases = [], ["{ int32_t f = RNN_MAT_VEC_FUSED; PI(\"Tfused\", &f, 1); }"], []
    for k, (m, n) in enumerate(F32_SHAPES):
        w = rng.standard_normal((m, n)).astype(F32)
        x = rng.standard_normal(n).astype(F32)
        b = rng.standard_normal(m).astype(F32)
        decls += [c_array("const float", f"w{k}", pack_dense(w)),
                  c_array("const float", f"x{k}", x), c_array("const float", f"b{k}", b),
                  f"static float y{k}[{m}];"]
        body += [f"rnn_mat_vec_f32({m}, {n}, w{k}, b{k}, x{k}, y{k}); PF(\"T{k}a\", y{k}, {m});",
                 f"rnn_mat_vec_f32({m}, {n}, w{k}, NULL, x{k}, y{k}); PF(\"T{k}b\", y{k}, {m});",
                 f"rnn_mat_vec_f32({m}, {n}, w{k}, y{k}, x{k}, y{k}); PF(\"T{k}c\", y{k}, {m});"]
        cases.append((w, x, b))
    got = run_on_board(board, tmp_path, ["MatVecFunctions/rnn_mat_vec_f32.c"],
                       "\n".join(decls), "\n".join(body))
    fused = bool(got["Tfused"][0])
    for k, (w, x, b) in enumerate(cases):
        y1 = sequential_matvec(w, x, b, fused)
        y2 = sequential_matvec(w, x, None, fused)
        y3 = sequential_matvec(w, x, y2, fused)
        for tag, v in (("a", y1), ("b", y2), ("c", y3)):
            assert np.array_equal(got[f"T{k}{tag}"], v.view(np.uint32).astype(np.int64)), \
                (board, k, tag)


# ------------------------------------------------------------------ HMD float lower rows

HMD_SHAPES = [(5, 3, 0), (9, 8, 0), (12, 77, 3), (23, 10, 16), (40, 5, 17), (11, 1, 4),
              (34, 154, 28), (7, 2, 6), (21, 13, 0)]  # (rows, cols, r)


def hmd_f32_model(a, b, c, d, e, bias, x, fused: bool) -> np.ndarray:
    """rnn_mat_vec_hmd_f32's stated order (its header): A' x as rnn_mat_vec_f32 sums it; each
    dot product in four partial sums (term i into p[i mod 4]) then (p0 + p1) + (p2 + p3),
    fused or not; a lower row bias + (b s1 + d s2), every operation rounded."""
    from tests.kernels.test_kernels import _round32

    def dot4(v, xs):
        p = [F32(0.0)] * 4
        for i, (vi, xi) in enumerate(zip(v, xs)):
            if fused:
                p[i % 4] = _round32(Fraction(float(p[i % 4])) +
                                    Fraction(float(vi)) * Fraction(float(xi)))
            else:
                p[i % 4] = F32(p[i % 4] + F32(vi * xi))
        return F32(F32(p[0] + p[1]) + F32(p[2] + p[3]))

    r, n = a.shape[0], x.size
    h = n - n // 2
    top = sequential_matvec(a, x, None if bias is None else bias[:r], fused) if r else \
        np.zeros(0, F32)
    s1, s2 = dot4(c, x[:h]), dot4(e, x[h:])
    base = np.zeros(b.size, F32) if bias is None else bias[r:]
    low = (base + ((b * s1).astype(F32) + (d * s2).astype(F32)).astype(F32)).astype(F32)
    return np.concatenate([top, low]).astype(F32)


@pytest.mark.parametrize("board", [pytest.param(b, marks=_marks(b)) for b in BOARDS])
def test_mat_vec_hmd_f32_order(tmp_path, board):
    """rnn_mat_vec_hmd_f32 on every path (NEON, Helium, the Cortex-M4/M7 assembly, plain C):
    bit for bit its stated order, with a bias, without, and with the bias aliasing y."""
    rng = np.random.default_rng(15)
    decls, body, cases = [], ["{ int32_t f = RNN_MAT_VEC_FUSED; PI(\"Tfused\", &f, 1); }"], []
    for k, (m, n, r) in enumerate(HMD_SHAPES):
        h = n - n // 2
        a = rng.standard_normal((r, n)).astype(F32)
        b, d = (rng.standard_normal(m - r).astype(F32) for _ in range(2))
        c, e = rng.standard_normal(h).astype(F32), rng.standard_normal(n - h).astype(F32)
        x, bias = rng.standard_normal(n).astype(F32), rng.standard_normal(m).astype(F32)
        one = np.zeros(1, F32)
        decls += [c_array("const float", f"a{k}", pack_dense(a) if r else one),
                  c_array("const float", f"hb{k}", b if b.size else one),
                  c_array("const float", f"hc{k}", c),
                  c_array("const float", f"hd{k}", d if d.size else one),
                  c_array("const float", f"he{k}", e if e.size else one),
                  c_array("const float", f"x{k}", x), c_array("float", f"bs{k}", bias),
                  f"static float y{k}[{m}];"]
        args = f"{m}, {n}, {r}, a{k}, hb{k}, hc{k}, hd{k}, he{k}"
        body += [f"rnn_mat_vec_hmd_f32({args}, bs{k}, x{k}, y{k}); PF(\"T{k}a\", y{k}, {m});",
                 f"rnn_mat_vec_hmd_f32({args}, NULL, x{k}, y{k}); PF(\"T{k}b\", y{k}, {m});",
                 f"rnn_mat_vec_hmd_f32({args}, bs{k}, x{k}, bs{k}); PF(\"T{k}c\", bs{k}, {m});"]
        cases.append((a, b, c, d, e, bias, x))
    got = run_on_board(board, tmp_path, ["MatVecFunctions/rnn_mat_vec_hmd_f32.c",
                                         "MatVecFunctions/rnn_mat_vec_f32.c"],
                       "\n".join(decls), "\n".join(body))
    fused = bool(got["Tfused"][0])
    for k, (a, b, c, d, e, bias, x) in enumerate(cases):
        y1 = hmd_f32_model(a, b, c, d, e, bias, x, fused)
        y2 = hmd_f32_model(a, b, c, d, e, None, x, fused)
        np.testing.assert_allclose(y1, np.concatenate([a @ x, b * (c @ x[:len(c)]) +
                                                       d * (e @ x[len(c):])]) + bias,
                                   rtol=1e-4, atol=1e-4)  # the model itself
        for tag, v in (("a", y1), ("b", y2), ("c", y1)):
            assert np.array_equal(got[f"T{k}{tag}"], v.view(np.uint32).astype(np.int64)), \
                (board, k, tag)


MM_SHAPES = [(70, 13, 9), (16, 5, 4), (131, 7, 3), (5, 3, 6), (48, 77, 8), (32, 4, 5)]


@pytest.mark.parametrize("board", [pytest.param(b, marks=_marks(b)) for b in BOARDS])
def test_mat_mul_f32_equals_the_sequential_sums(tmp_path, board):
    """rnn_mat_mul_f32 (several vectors per pass over a tile on AArch64 and AVX): bit for bit
    each vector's sequential sums, as rnn_mat_vec_f32 sums them on the board."""
    rng = np.random.default_rng(14)
    decls, body, cases = [], ["{ int32_t f = RNN_MAT_VEC_FUSED; PI(\"Tfused\", &f, 1); }"], []
    for k, (m, n, count) in enumerate(MM_SHAPES):
        w = rng.standard_normal((m, n)).astype(F32)
        x = rng.standard_normal((count, n)).astype(F32)
        b = rng.standard_normal(m).astype(F32)
        decls += [c_array("const float", f"w{k}", pack_dense(w)),
                  c_array("const float", f"x{k}", x), c_array("const float", f"b{k}", b),
                  f"static float y{k}[{m * count}];"]
        body += [f"rnn_mat_mul_f32({m}, {n}, w{k}, b{k}, {count}, x{k}, y{k}); "
                 f"PF(\"T{k}a\", y{k}, {m * count});",
                 f"rnn_mat_mul_f32({m}, {n}, w{k}, NULL, {count}, x{k}, y{k}); "
                 f"PF(\"T{k}b\", y{k}, {m * count});"]
        cases.append((w, x, b))
    got = run_on_board(board, tmp_path, ["MatVecFunctions/rnn_mat_mul_f32.c",
                                         "MatVecFunctions/rnn_mat_vec_f32.c"],
                       "\n".join(decls), "\n".join(body))
    fused = bool(got["Tfused"][0])
    for k, (w, x, b) in enumerate(cases):
        for tag, bias in (("a", b), ("b", None)):
            want = np.concatenate([sequential_matvec(w, xv, bias, fused) for xv in x])
            assert np.array_equal(got[f"T{k}{tag}"], want.view(np.uint32).astype(np.int64)), \
                (board, k, tag)


# ------------------------------------------------------------------ int8 LSTM cell

def lstm_cell_call(k, H, cexp, ifg, osh, gx, gh, bias, c, om, zp, lut2):
    """Declarations and the main() statement of one rnn_lstm_cell_s16 call (tables lf, lg
    and `lut2` declared by the caller) printing its c (T<k>c) and h (T<k>h)."""
    decls = [c_array("const int16_t", f"gx{k}", gx), c_array("const int16_t", f"gh{k}", gh),
             c_array("const int16_t", f"b{k}", bias), c_array("int16_t", f"c{k}", c),
             f"static int8_t h{k}[{H}];"]
    body = (f"{{ rnn_lstm_params_s16 p; int32_t t[{H}]; int i; memset(&p, 0, sizeof p);"
            f" p.hidden = {H}; p.input_forget = {ifg}; p.cell_exp = {cexp}; p.bias = b{k};"
            f" p.lut0 = lf; p.lut1 = lg; p.lut2 = {lut2}; p.h_zero_point = {zp};"
            f" p.out_mult = {om}; p.out_shift = {osh};"
            f" rnn_lstm_cell_s16(&p, gx{k}, gh{k}, c{k}, h{k});"
            f" for (i = 0; i < {H}; ++i) t[i] = c{k}[i]; PI(\"T{k}c\", t, {H});"
            f" for (i = 0; i < {H}; ++i) t[i] = h{k}[i]; PI(\"T{k}h\", t, {H}); }}")
    return decls, body


def _cell_want(gx, gh, bias, c, lf, lg, lh, k, zp, om, osh, ifg):
    H = c.size
    g = quant.sat16(gx.astype(I64) + gh + bias)
    gi, go, gf, gc = g[:H], g[H:2 * H], g[2 * H:3 * H], g[3 * H:]
    i = quant.lut(lf, gi)
    f = quant.sat16(32768 - i) if ifg else quant.lut(lf, gf)
    gg = quant.lut(lg, gc)
    cn = quant.sat16(quant.rshift_round(f * c.astype(I64), 15) +
                     quant.rshift_round(i * gg, 30 - k))
    o = quant.lut(lf, go)
    c12 = quant.rshift_round(cn, k - 12) if k >= 12 else quant.sat16(cn << (12 - k))
    th = quant.lut(lh, c12)
    h = quant.sat8(zp + quant.rq(o * th, om, osh))
    return cn, h


@pytest.mark.parametrize("board", [pytest.param(b, marks=_marks(b)) for b in BOARDS])
def test_lstm_cell_s16_plain_path(tmp_path, board):
    rng = np.random.default_rng(13)
    lf = quant.lut_table(lambda v: 1 / (1 + np.exp(-v)))
    lg = quant.lut_table(np.tanh)
    decls = [c_array("const int16_t", "lf", lf), c_array("const int16_t", "lg", lg)]
    body, want = [], {}
    H = 23  # odd, and not a multiple of 4: every vector path has a tail
    # (cell_exp, input_forget, out_shift): cell_exp > 12 and <= 12 (13: a shift by 1), 1, 28
    # (the Cortex-M4/M7 path's last) and 29 (outside it), both input_forget, out_shift -2 (the
    # fast paths' edge), -1 (outside them) and far below (-24: h still varies; -31: h = zp)
    for k, (cexp, ifg, osh) in enumerate([(11, 0, -9), (15, 0, -12), (12, 1, -3), (3, 0, -2),
                                          (29, 0, -1), (1, 1, -31), (13, 1, -2), (29, 0, -31),
                                          (20, 1, -17), (1, 0, -2), (7, 0, -24), (28, 1, -3)]):
        gx = rng.integers(-32768, 32768, 4 * H)
        gh = rng.integers(-32768, 32768, 4 * H)
        bias = rng.integers(-4000, 4000, 4 * H)
        for g in range(4):  # gate sums saturating both ways in every gate
            gx[g * H:g * H + 3], gh[g * H:g * H + 3] = 32767, 32767
            gx[g * H + 3:g * H + 6], gh[g * H + 3:g * H + 6] = -32768, -32768
        c = rng.integers(-32768, 32768, H)
        c[6:9] = [32767, -32768, 0]  # the cell state at its bounds
        om = int(rng.integers(1 << 30, (1 << 31) - 1))
        zp = int(rng.integers(-128, 128))
        d, call = lstm_cell_call(k, H, cexp, ifg, osh, gx, gh, bias, c, om, zp, "lg")
        decls += d
        body.append(call)
        cn, h = _cell_want(gx, gh, bias, c, lf, lg, lg, cexp, zp, om, osh, ifg)
        want[f"T{k}c"], want[f"T{k}h"] = cn, h
    got = run_on_board(board, tmp_path, ["RecurrentFunctions/rnn_lstm_cell_s16.c"],
                       "\n".join(decls), "\n".join(body))
    for tag, v in want.items():
        assert np.array_equal(got[tag], v), (board, tag, got[tag], v)


# ------------------------------------------------------------------ int8 GRU cell

def _clip(v, clip):
    return np.clip(v, -clip, clip) if clip else v


def _gru_gates_want(gx, gh, bias, h, lf, clip, zp, with_rh):
    """quant.py's z, r (and r * h) as cells/gru.py step_s8 computes them."""
    H = h.size
    zr = quant.lut(lf, _clip(quant.sat16(gx.astype(I64) + gh + bias), clip))
    rh = quant.sat8(zp + quant.rshift_round(zr[H:] * (h.astype(I64) - zp), 15)) \
        if with_rh else None
    return zr, rh


def _gru_cell_want(gx, gh, bias, bias2, zr, h, lg, clip, lbr, zp, hm, hs, om, os_):
    H = h.size
    z, r = zr[:H].astype(I64), zr[H:].astype(I64)
    if lbr:
        hh = quant.sat16(gh.astype(I64) + bias2)
        npre = quant.sat16(gx.astype(I64) + bias + quant.rshift_round(r * hh, 15))
    else:
        npre = quant.sat16(gx.astype(I64) + gh + bias)
    n = quant.lut(lg, _clip(npre, clip))
    h15 = quant.sat16(quant.rq(h.astype(I64) - zp, hm, hs))
    nw = quant.sat16(n + quant.rshift_round(z * (h15 - n), 15))
    return quant.sat8(zp + quant.rq(nw, om, os_))


# (H, linear_before_reset, clip, rh, h15_shift, out_shift): the KWS GRU's shifts (9, -8),
# the NEON / Helium paths' edges (h15 22, out 15) and one past each (C), the M4 / M7
# path's edges (h15 -1 and 22, out -2) and one past each, 0 / -1 (the identities'
# boundaries), the smallest shifts,
# out_shift 17 (rq saturates int32 before zp is added); H 1..23 with tails of 1..3 units
GRU_CASES = [(23, 1, 0, 0, 9, -8), (23, 0, 0, 1, 9, -8), (7, 1, 5000, 0, 9, 16),
             (5, 0, 3000, 1, 23, 16), (9, 1, 0, 0, 24, -8), (6, 0, 0, 1, 9, 17),
             (10, 1, 0, 0, 0, -1), (11, 0, 0, 1, -1, 0), (3, 1, 0, 0, -31, -31),
             (1, 0, 0, 1, 8, -2), (4, 1, 20000, 0, 12, -12), (2, 0, 0, 0, 10, -9),
             (13, 1, 0, 0, 22, -2), (8, 0, 0, 1, -1, -31), (12, 0, 0, 1, 9, 15),
             (9, 1, 0, 0, 23, -9), (16, 0, 0, 1, -2, -4), (15, 1, 0, 1, -2, -1)]


@pytest.mark.parametrize("board", [pytest.param(b, marks=_marks(b)) for b in BOARDS])
def test_gru_gates_and_cell_s16(tmp_path, board):
    """rnn_gru_gates_s16 then rnn_gru_cell_s16 (each on its own inputs) equal quant.py's
    arithmetic bit for bit on every GRU_CASES case."""
    rng = np.random.default_rng(17)
    lf = quant.lut_table(lambda v: 1 / (1 + np.exp(-v)))
    lg = quant.lut_table(np.tanh)
    decls = [c_array("const int16_t", "lf", lf), c_array("const int16_t", "lg", lg)]
    body, want = [], {}
    for k, (H, lbr, clip, with_rh, hs, os_) in enumerate(GRU_CASES):
        gx = rng.integers(-32768, 32768, 3 * H)
        gh = rng.integers(-32768, 32768, 3 * H)
        bias = rng.integers(-4000, 4000, 3 * H)
        bias2 = rng.integers(-4000, 4000, H)
        gx[:2], gh[:2] = 32767, 32767  # sums saturating up, then down
        gx[2 * H:2 * H + 2], gh[2 * H:2 * H + 2] = 32767, 32767
        gx[H - 1], gh[H - 1] = -32768, -32768
        gx[3 * H - 1], gh[3 * H - 1] = -32768, -32768
        h = rng.integers(-128, 128, H)
        h[0], h[-1] = -128, 127
        zp = int(rng.choice([-128, 127, int(rng.integers(-128, 128))]))
        zr_in = rng.integers(-32768, 32768, 2 * H)  # the cell's z, r: any int16
        zr_in[0], zr_in[-1] = 32767, -32768
        zr_in[1:H:3] = rng.integers(32000, 32768, len(zr_in[1:H:3]))  # z ~ 1: h mostly h15
        hm, om = (int(v) for v in rng.integers(1 << 30, 1 << 31, 2))
        decls += [c_array("const int16_t", f"gx{k}", gx), c_array("const int16_t", f"gh{k}", gh),
                  c_array("const int16_t", f"b{k}", bias),
                  c_array("const int16_t", f"bb{k}", bias2 if lbr else []),
                  c_array("const int8_t", f"h{k}", h), c_array("int8_t", f"hc{k}", h),
                  c_array("const int16_t", f"zi{k}", zr_in),
                  f"static int16_t zr{k}[{2 * H}];", f"static int8_t rh{k}[{H}];"]
        body.append(
            f"{{ rnn_gru_params_s16 p; int32_t t[{2 * H}]; int i; memset(&p, 0, sizeof p);"
            f" p.hidden = {H}; p.clip = {clip}; p.linear_before_reset = {lbr}; p.bias = b{k};"
            f" p.bias2 = {f'bb{k}' if lbr else 'NULL'}; (void)bb{k}; p.lut0 = lf; p.lut1 = lg;"
            f" p.h_zero_point = {zp}; p.h15_mult = {hm}; p.h15_shift = {hs};"
            f" p.out_mult = {om}; p.out_shift = {os_};"
            f" rnn_gru_gates_s16(&p, gx{k}, gh{k}, h{k}, zr{k}, {f'rh{k}' if with_rh else 'NULL'});"
            f" for (i = 0; i < {2 * H}; ++i) t[i] = zr{k}[i]; PI(\"T{k}zr\", t, {2 * H});"
            f" for (i = 0; i < {H}; ++i) t[i] = rh{k}[i]; PI(\"T{k}rh\", t, {H});"
            f" rnn_gru_cell_s16(&p, gx{k}, gh{k}, zi{k}, hc{k});"
            f" for (i = 0; i < {H}; ++i) t[i] = hc{k}[i]; PI(\"T{k}h\", t, {H}); }}")
        zr, rh = _gru_gates_want(gx[:2 * H], gh[:2 * H], bias[:2 * H], h, lf, clip, zp, with_rh)
        want[f"T{k}zr"] = zr
        want[f"T{k}rh"] = rh if with_rh else np.zeros(H, I64)
        want[f"T{k}h"] = _gru_cell_want(gx[2 * H:], gh[2 * H:], bias[2 * H:], bias2, zr_in, h,
                                        lg, clip, lbr, zp, hm, hs, om, os_)
    got = run_on_board(board, tmp_path, ["RecurrentFunctions/rnn_gru_gates_s16.c",
                                         "RecurrentFunctions/rnn_gru_cell_s16.c"],
                       "\n".join(decls), "\n".join(body))
    for tag, v in want.items():
        assert np.array_equal(got[tag], v), (board, tag, got[tag], v)


# ------------------------------------------------------------------ quantize

@pytest.mark.parametrize("board", [pytest.param(b, marks=_marks(b)) for b in BOARDS])
def test_quantize_s8_rounding(tmp_path, board):
    rng = np.random.default_rng(14)
    # ties (k + 0.5), values near them, large values, and ordinary ones
    x = np.concatenate([np.arange(-140, 140) + 0.5, np.arange(-140, 140) + 0.5000001,
                        [1e9, -1e9, 3e38, -3e38, 600.0, -600.0, 0.0, -0.0],
                        rng.standard_normal(200) * 50]).astype(F32)
    # counts that leave 1..15 values after the vector paths' passes of 16 (NEON) and 4
    # (Helium): the scalar and predicated tails; y's bytes past n must stay untouched
    cases = [(1.0, 0, x.size), (1.0, -37, x.size), (0.37, 12, x.size), (2.5, 127, x.size - 1),
             (0.5, -128, 13), (3.0, 5, 7), (1.0, 0, 1)]
    decls = [c_array("const float", "x", x), f"static int8_t y[{x.size}];"]
    body, want = [], {}
    for k, (inv, zp, n) in enumerate(cases):
        body.append(f"{{ int32_t t[{x.size}]; int i; for (i = 0; i < {x.size}; ++i) y[i] = 99;"
                    f" rnn_quantize_s8(x, {n}, {float(F32(inv)).hex()}f, {zp}, y);"
                    f" for (i = 0; i < {x.size}; ++i) t[i] = y[i]; PI(\"T{k}\", t, {x.size}); }}")
        with np.errstate(over="ignore"):  # 3e38 times 2.5
            v = (x[:n] * F32(inv)).astype(F32)
        want[f"T{k}"] = np.concatenate([
            np.clip(np.clip(v, -1e6, 1e6).astype(np.float64).round() + zp, -128, 127),
            np.full(x.size - n, 99)]).astype(np.int64)
    got = run_on_board(board, tmp_path, ["ConvertFunctions/rnn_quantize_s8.c"],
                       "\n".join(decls), "\n".join(body))
    for tag, v in want.items():
        assert np.array_equal(got[tag], v), (board, tag)


# ------------------------------------------------------------------ float sigmoid / tanh

# Bounds every path of rnn_activation_f32 meets (its header: measured over every float on
# the host and on the boards' paths): absolute error against float64, and relative error of
# sigmoid where its value is a normal float (x >= -87)
SIGMOID_ABS, SIGMOID_REL, TANH_ABS = 1.2e-7, 5e-7, 2e-7


def activation_sweep() -> np.ndarray:
    """A dense sweep of float32 inputs: every 2^-7 over [-24, 24] (both sides of the clamps at
    -87, 43 and 87 too), tiny magnitudes down to denormals, the largest floats, +-0, +-inf,
    NaNs with payloads; a count that is not a multiple of 4, so the vector paths' last partial
    vector is exercised."""
    big = np.concatenate([np.arange(-100, 100.01, 0.25), np.geomspace(100, 3.4e38, 60),
                          [1e7, 4194304.0, 3e6, 86.9, 87.0, 87.1, 87.5, 88.0, 88.8, 42.9, 43.0,
                           43.1, 9.0, 9.1]])
    tiny = np.concatenate([np.geomspace(1e-44, 1e-3, 120), [1.4e-45, 1.1754942e-38]])
    x = np.concatenate([np.arange(-24, 24, 2.0 ** -7), big, -big, tiny, -tiny,
                        [0.0, -0.0, np.inf, -np.inf, np.nan, 3.4028235e38, -3.4028235e38]])
    # NaNs with payloads (quiet and signalling, both signs): a payload must not reach the result
    nans = np.array([0x7FC00001, 0xFFC12345, 0x7F800001, 0x7FA001FF, 0xFFBFFFFF], np.uint32)
    return np.concatenate([x.astype(F32), nans.view(F32)])


def check_sigmoid_tanh(x: np.ndarray, sg_bits: np.ndarray, th_bits: np.ndarray,
                       what: str) -> None:
    with np.errstate(invalid="ignore"):  # signalling NaNs
        sg = sg_bits.astype(np.uint32).view(F32).astype(np.float64)
        th = th_bits.astype(np.uint32).view(F32).astype(np.float64)
        x64 = x.astype(np.float64)
    nan = np.isnan(x64)
    assert np.all(np.isnan(sg[nan])) and np.all(np.isnan(th[nan])), what
    ok = ~nan
    with np.errstate(over="ignore"):
        want_sg = 1 / (1 + np.exp(-x64[ok]))
    want_th = np.tanh(x64[ok])
    sg, th, xo = sg[ok], th[ok], x64[ok]
    assert np.all((sg >= 0) & (sg <= 1)) and np.all(np.abs(th) <= 1), what
    assert np.max(np.abs(sg - want_sg)) <= SIGMOID_ABS, what
    normal = xo >= -87  # below, the true value is smaller than the smallest normal float
    rel = np.abs(sg - want_sg)[normal] / want_sg[normal]
    assert np.max(rel) <= SIGMOID_REL, (what, xo[normal][np.argmax(rel)], np.max(rel))
    assert np.max(np.abs(th - want_th)) <= TANH_ABS, (what, xo[np.argmax(np.abs(th - want_th))])
    # the limits: sigmoid 1 and (the clamp at -87) sigmoid(-87) = 1.6e-38, tanh -1 / 1, for
    # large |x|, inf included
    assert np.all(sg[xo >= 17] == 1) and np.all(sg[xo <= -87] <= 1.7e-38), what
    assert np.all(th[xo >= 9.1] == 1) and np.all(th[xo <= -9.1] == -1), what


# The Cortex-M4/M7 path's table-driven e^x (2^(j/32) with its rounding as a correction, a
# degree-3 polynomial on |r| <= ln2/64): tighter bounds than the other paths', measured on
# the sweep below (sigmoid relative 1.39e-7 = 2.18 ulp of the float64 value, tanh 8.9e-8)
FPU_SIGMOID_REL, FPU_TANH_ABS = 1.5e-7, 1e-7


@pytest.mark.parametrize("board", [pytest.param(b, marks=_marks(b))
                                   for b in ("cortex-m4", "cortex-m7")])
def test_sigmoid_tanh_fpu_dense(tmp_path, board):
    """The FPU path's sigmoid and tanh over a dense sweep (every 2^-12 over [-20, 20]: all 32
    table entries at every exponent there; every 2^-6 over [-90, 90]: every 2^m up to the
    clamps) plus activation_sweep(), against float64: the general bounds and the path's own."""
    x = np.concatenate([np.arange(-20, 20, 2.0 ** -12), np.arange(-90, 90, 2.0 ** -6)])
    x = np.concatenate([x.astype(F32), activation_sweep()])
    n = x.size
    decls = [c_array("const uint32_t", "xb", x.view(np.uint32)),
             f"static float a[{n}];", f"static float b[{n}];"]
    body = ["memcpy(a, xb, sizeof a); memcpy(b, xb, sizeof b);",
            "{ rnn_activation sg = {RNN_ACT_SIGMOID, 0.0f, 0.0f};",
            "rnn_activation th = {RNN_ACT_TANH, 0.0f, 0.0f};",
            f"rnn_activation_f32(&sg, a, {n}); PF(\"Tsg\", a, {n});",
            f"rnn_activation_f32(&th, b, {n}); PF(\"Tth\", b, {n}); }}"]
    got = run_on_board(board, tmp_path, ["ActivationFunctions/rnn_activation_f32.c"],
                       "\n".join(decls), "\n".join(body))
    check_sigmoid_tanh(x, got["Tsg"], got["Tth"], board)
    with np.errstate(invalid="ignore"):
        x64 = x.astype(np.float64)
    ok = ~np.isnan(x64) & (x64 >= -87)
    sg = got["Tsg"].astype(np.uint32).view(F32).astype(np.float64)[ok]
    th = got["Tth"].astype(np.uint32).view(F32).astype(np.float64)[ok]
    want = 1 / (1 + np.exp(-x64[ok]))
    assert np.max(np.abs(sg - want) / want) <= FPU_SIGMOID_REL, board
    assert np.max(np.abs(th - np.tanh(x64[ok]))) <= FPU_TANH_ABS, board


@pytest.mark.parametrize("board", [pytest.param(b, marks=_marks(b)) for b in BOARDS])
def test_sigmoid_tanh_paths(tmp_path, board):
    """Sigmoid and tanh of rnn_activation_f32 (plain C on the host, the FPU path on
    Cortex-M4/M7, Helium on the M55, NEON on the A73) over activation_sweep() and on short
    arrays (1..9 values: the vector paths' tails), against float64 within the bounds."""
    x = activation_sweep()
    n = x.size
    decls = [c_array("const uint32_t", "xb", x.view(np.uint32)),
             f"static float a[{n}];", f"static float b[{n}];"]
    body = ["memcpy(a, xb, sizeof a); memcpy(b, xb, sizeof b);",
            "{ rnn_activation sg = {RNN_ACT_SIGMOID, 0.0f, 0.0f};",
            "rnn_activation th = {RNN_ACT_TANH, 0.0f, 0.0f};",
            f"rnn_activation_f32(&sg, a, {n}); PF(\"Tsg\", a, {n});",
            f"rnn_activation_f32(&th, b, {n}); PF(\"Tth\", b, {n});"]
    # short arrays inside a larger one: values past the end must stay untouched
    for m in range(1, 10):
        body.append(f"memcpy(a, xb, sizeof a); rnn_activation_f32(&sg, a + 1, {m}); "
                    f"PF(\"Ts{m}\", a, {m + 6});")
        body.append(f"memcpy(b, xb, sizeof b); rnn_activation_f32(&th, b + 1, {m}); "
                    f"PF(\"Tt{m}\", b, {m + 6});")
    body.append("}")
    got = run_on_board(board, tmp_path, ["ActivationFunctions/rnn_activation_f32.c"],
                       "\n".join(decls), "\n".join(body))
    check_sigmoid_tanh(x, got["Tsg"], got["Tth"], board)
    xb = x.view(np.uint32).astype(np.int64)
    for m in range(1, 10):
        for tag, full in ((f"Ts{m}", got["Tsg"]), (f"Tt{m}", got["Tth"])):
            g = got[tag]
            assert g[0] == xb[0] and np.array_equal(g[m + 1:], xb[m + 1:m + 6]), (board, tag)
            assert np.array_equal(g[1:m + 1], full[1:m + 1]), (board, tag)
