/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_mat_vec_kron_s8_s16.c
 * Description: Kronecker-product int8 product (A (x) B) x: the intermediate (A X or X B^T)
 *              is requantized to int8 (symmetric), the result to int16. x past cols (zero
 *              padding) reads as the real value 0, i.e. x_zero_point.
 *
 * Integer sums are exact in any order, so every path equals quant's QKron.forward bit for bit.
 * The work that is B (int8, [m2, n2], row-major) times int8 vectors, the bulk of the MACs
 * (Y[i] = B T[i] with ax_first, else T[j] = B X[j]), runs on the fast int8 dot products of
 * rnn_mat_vec_s8_sums (DSP SMLAD on Cortex-M4/M7, Helium VMLADAVA on the M55, NEON for
 * n2 >= 16 on AArch64), or for n2 <= 16 on row passes of its own (b_sums, b_rows16): on
 * AArch64 each row of B is one 16-byte load multiplied by the vector zero-padded to 16
 * lanes: the bytes past the row, the next row's, meet zeros (SMULL + SMLAL2 + SADDLP, four rows
 * reduced together); the last rows, whose 16 bytes would run past B, are plain C. On
 * Cortex-M4/M7 the vector is split once into SMLAD pairs and each row taken word by word
 * (LDR, SXTB16 twice, SMLAD twice; rows of 1 to 3 words in an assembly loop). On the M55 each
 * row is one 16-byte load (predicated for the last rows only) and one VMLADAVA. With ax_first the output's
 * requantization is fused into those row passes (b_rows16) when its shift is in [-31, -2]:
 * VQDMULH + VRSHL + VQMOVN (NEON; Helium's requant16 the same with a clamp), SMMLA + ASR +
 * SSAT (DSP), see KRON_VEC_RQ and KRON_DSP_RQ. With
 * X B^T first, x's zero point enters as offset[l] = -x_zero_point * (sum of row l of B),
 * m->b_offset, made at build time (it was B times a vector of ones at every call: on
 * cortex-m55, two memsets and a pass over B a call), and x's last partial row is copied with
 * the zero point as padding. The other stage (A's scalars times rows of int8 values): with
 * ax_first and n2 <= 16 several columns of X a pass (a_row_neon: SMLAL by element;
 * a_row_mve: widening loads and VMLA by A's scalar; a_row_dsp: SXTB16 + SMLABB / SMLATB over
 * the whole rows of X, then per column the partial row, the zero point and SMMLA + ASR +
 * SSAT), else plain C (GCC vectorises it at -O3).
 * Requantization of the shift <= -2 case (the usual one) takes the high word of the 64-bit
 * product and one rounding shift, the identity rnn_mat_vec_s8_s16.c documents.
 *
 * Scratch (bytes, see kron.py _scratch_s8): [n1 m2] the intermediate (X B^T first only),
 * two vectors of max(n2, 16), 3 bytes of alignment, then int32 [max(m2, n2)] sums.
 */

#include <stdint.h>
#include <string.h>

#include "rnn_nnfunctions.h"
#include "rnn_nn_support.h"

#if defined(__ARM_NEON) && defined(__aarch64__)
#include <arm_neon.h>
#define RNN_KRON_S8_NEON 1
#elif defined(__ARM_FEATURE_DSP) && defined(__ARM_FEATURE_SIMD32) &&                          \
    !defined(__ARM_FEATURE_MVE) && defined(__GNUC__)
#include <arm_acle.h>
#define RNN_KRON_S8_DSP 1
#elif defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
#include <arm_mve.h>
#define RNN_KRON_S8_MVE 1
#endif

#if defined(__GNUC__)
#define KRON_INLINE static inline __attribute__((always_inline))
#define KRON_NOINLINE static __attribute__((noinline))
#else
#define KRON_NOINLINE static
#define KRON_INLINE static inline
#endif

#if defined(__ARM_FEATURE_SAT) && defined(__GNUC__) && !defined(__clang__)
/* SSAT (as rnn_mat_vec_s8_s16.c: the builtin's result is typed unsigned by GCC 12) */
#define KRON_SAT16(v) ((int32_t)__builtin_arm_ssat((v), 16))
#define KRON_SAT8(v) ((int32_t)__builtin_arm_ssat((v), 8))
#else
#define KRON_SAT16(v) rnn_sat16(v)
#define KRON_SAT8(v) rnn_sat8(v)
#endif

static const int32_t rnn_kron_zero_offset[RNN_KRON_MAX_ROW];

/* rnn_requantize(acc, mult, shift), the common case (shift <= -2) through the high word */
static inline int32_t kron_rq(int32_t acc, int32_t mult, int32_t shift)
{
    if (shift <= -2)
    {
        const int32_t hi = (int32_t)(((int64_t)acc * (int64_t)mult) >> 32);
        return ((hi >> (-2 - shift)) + 1) >> 1;
    }
    return rnn_requantize(acc, mult, shift);
}

/* The vector requantization's domain: shift in [-31, -2] (the usual case) and mult not
 * INT32_MIN. There rq(acc) = round_half_up(acc mult / 2^(31 - shift)) equals a saturating
 * doubling high multiply d = floor(acc mult / 2^31) (exact: only INT32_MIN^2 saturates)
 * followed by a rounding shift right by -shift (floor((d + 2^(-shift-1)) / 2^-shift): the
 * nested floors of one division), which is VQDMULH + VRSHL (NEON, Helium). */
#define KRON_VEC_RQ(mult, shift) ((shift) <= -2 && (shift) >= -31 && (mult) != INT32_MIN)

#if defined(RNN_KRON_S8_DSP)
/* Ra + the high word of Rn Rm (SMMLA: floor((Ra 2^32 + Rn Rm) / 2^32), exact) */
static inline int32_t kron_smmla(int32_t a, int32_t b, int32_t c)
{
    int32_t r;
    __asm__("smmla %0, %1, %2, %3" : "=r"(r) : "r"(a), "r"(b), "r"(c));
    return r;
}
/* With s = -2 - shift in [0, 29]: ((hi >> s) + 1) >> 1 = (hi + 2^s) >> (s + 1) (nested floor
 * divisions; |hi| <= 2^30, so hi + 2^s does not overflow), and hi + 2^s is one SMMLA */
#define KRON_DSP_RQ(mult, shift) ((shift) <= -2 && (shift) >= -31)
#endif

/* y[l] = sat16(rq(acc[l])) for l < n, the shift tested once */
static void requant16(int32_t n, const int32_t *acc, int32_t mult, int32_t shift, int16_t *y)
{
    int32_t l;
#if defined(RNN_KRON_S8_NEON)
    if (KRON_VEC_RQ(mult, shift))
    {
        const int32x4_t sh = vdupq_n_s32(shift);
        for (l = 0; l + 4 <= n; l += 4)
        {
            const int32x4_t d = vqdmulhq_n_s32(vld1q_s32(acc + l), mult);
            vst1_s16(y + l, vqmovn_s32(vrshlq_s32(d, sh)));
        }
        for (; l < n; ++l)
        {
            y[l] = (int16_t)rnn_sat16(rnn_requantize(acc[l], mult, shift));
        }
        return;
    }
#elif defined(RNN_KRON_S8_MVE)
    if (KRON_VEC_RQ(mult, shift))
    {
        /* whole vectors unpredicated, the last n % 4 predicated */
        for (l = 0; l + 4 <= n; l += 4)
        {
            int32x4_t d = vqdmulhq_n_s32(vld1q_s32(acc + l), mult);
            d = vrshlq_n_s32(d, shift);
            vstrhq_s32(y + l, vmaxq_s32(vminq_s32(d, vdupq_n_s32(32767)), vdupq_n_s32(-32768)));
        }
        if (l < n)
        {
            const mve_pred16_t p = vctp32q((uint32_t)(n - l));
            int32x4_t d = vqdmulhq_n_s32(vldrwq_z_s32(acc + l, p), mult);
            d = vrshlq_n_s32(d, shift);
            vstrhq_p_s32(y + l, vmaxq_s32(vminq_s32(d, vdupq_n_s32(32767)), vdupq_n_s32(-32768)),
                         p);
        }
        return;
    }
#elif defined(RNN_KRON_S8_DSP)
    if (KRON_DSP_RQ(mult, shift))
    {
        const int32_t rnd = (int32_t)1 << (-2 - shift), sr = -1 - shift;
        for (l = 0; l < n; ++l)
        {
            y[l] = (int16_t)KRON_SAT16(kron_smmla(acc[l], mult, rnd) >> sr);
        }
        return;
    }
#endif
    if (shift <= -2)
    {
        const int32_t s = -2 - shift;
        for (l = 0; l < n; ++l)
        {
            const int32_t hi = (int32_t)(((int64_t)acc[l] * (int64_t)mult) >> 32);
            y[l] = (int16_t)KRON_SAT16(((hi >> s) + 1) >> 1);
        }
        return;
    }
    for (l = 0; l < n; ++l)
    {
        y[l] = (int16_t)rnn_sat16(rnn_requantize(acc[l], mult, shift));
    }
}

/* t[l] = sat8(rq(acc[l])) for l < n, the shift tested once */
static void requant8(int32_t n, const int32_t *acc, int32_t mult, int32_t shift, int8_t *t)
{
    int32_t l;
    if (shift <= -2)
    {
        const int32_t s = -2 - shift;
        for (l = 0; l < n; ++l)
        {
            const int32_t hi = (int32_t)(((int64_t)acc[l] * (int64_t)mult) >> 32);
            t[l] = (int8_t)rnn_sat8(((hi >> s) + 1) >> 1);
        }
        return;
    }
    for (l = 0; l < n; ++l)
    {
        t[l] = (int8_t)rnn_sat8(rnn_requantize(acc[l], mult, shift));
    }
}

#if defined(RNN_KRON_S8_NEON)
static inline int32x4_t kron_dot16(int8x16_t w, int8x16_t x)
{
    int16x8_t p = vmull_s8(vget_low_s8(w), vget_low_s8(x));
    p = vmlal_high_s8(p, w, x);
    return vpaddlq_s16(p);
}
#endif

#if defined(RNN_KRON_S8_DSP)
static int32_t kron_load4(const int8_t *p)
{
    int32_t v;
    memcpy(&v, p, sizeof v); /* one LDR: unaligned word loads are allowed on Cortex-M4/M7 */
    return v;
}

/* SXTB16 of bytes 1 and 3 (one instruction; GCC does not fold a C rotate into it) */
static int32_t kron_sxtb16_hi(int32_t v)
{
    int32_t r;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(v));
    return r;
}

/* a + the word of 4 weights at w times the split word (x02, x13) of the vector */
#define KRON_DOT_WORD(a, w, x02, x13)                                                          \
    do                                                                                         \
    {                                                                                          \
        const int32_t wv_ = kron_load4(w);                                                     \
        a = __smlad(__sxtb16(wv_), x02, a);                                                    \
        a = __smlad(kron_sxtb16_hi(wv_), x13, a);                                              \
    } while (0)
#endif

#if defined(RNN_KRON_S8_NEON)
/* t[k] = sat8(rq(sum_j a[j] (X[j][k] - zx))) for k < n2 <= 16, X = x as rows of n2 (x past
 * cols is real zero): a row of X per 16-byte load (lanes past n2 are ignored) while the load
 * stays inside the whole rows of x, widened to int16 after subtracting zx and multiplied by
 * a[j] into four int32 vectors (SMLAL by element); the other rows in plain C; the usual
 * requantization by vector (t then holds 16 bytes, those past n2 for the caller to zero) */
static void a_row_neon(const int8_t *a, int32_t n2, int32_t cols, int32_t zx, const int8_t *x,
                       int32_t mult, int32_t shift, int8_t *t)
{
    const int32_t full = cols / n2;
    int32_t nv = cols >= 16 ? (cols - 16) / n2 + 1 : 0;
    const int16x8_t z = vdupq_n_s16((int16_t)zx);
    int32x4_t s0 = vdupq_n_s32(0), s1 = s0, s2 = s0, s3 = s0;
    int32_t acc[16];
    int32_t j, k;
    nv = nv < full ? nv : full;
    for (j = 0; j < nv; ++j)
    {
        const int8x16_t xv = vld1q_s8(x + j * n2);
        const int16x8_t lo = vsubq_s16(vmovl_s8(vget_low_s8(xv)), z);
        const int16x8_t hi = vsubq_s16(vmovl_high_s8(xv), z);
        const int16_t aj = (int16_t)a[j];
        s0 = vmlal_n_s16(s0, vget_low_s16(lo), aj);
        s1 = vmlal_high_n_s16(s1, lo, aj);
        s2 = vmlal_n_s16(s2, vget_low_s16(hi), aj);
        s3 = vmlal_high_n_s16(s3, hi, aj);
    }
    vst1q_s32(acc, s0);
    vst1q_s32(acc + 4, s1);
    vst1q_s32(acc + 8, s2);
    vst1q_s32(acc + 12, s3);
    for (; j * n2 < cols; ++j)
    {
        const int32_t valid = cols - j * n2 < n2 ? cols - j * n2 : n2;
        const int32_t aj = a[j];
        for (k = 0; k < valid; ++k)
        {
            acc[k] += aj * ((int32_t)x[j * n2 + k] - zx);
        }
    }
    if (KRON_VEC_RQ(mult, shift))
    {
        /* all 16 lanes (t has 16 bytes; the caller zeroes those past n2), saturated to
         * int16 then int8: sat8(sat16(v)) = sat8(v) */
        const int32x4_t sh = vdupq_n_s32(shift);
        const int32x4_t r0 = vrshlq_s32(vqdmulhq_n_s32(vld1q_s32(acc), mult), sh);
        const int32x4_t r1 = vrshlq_s32(vqdmulhq_n_s32(vld1q_s32(acc + 4), mult), sh);
        const int32x4_t r2 = vrshlq_s32(vqdmulhq_n_s32(vld1q_s32(acc + 8), mult), sh);
        const int32x4_t r3 = vrshlq_s32(vqdmulhq_n_s32(vld1q_s32(acc + 12), mult), sh);
        const int16x8_t h0 = vcombine_s16(vqmovn_s32(r0), vqmovn_s32(r1));
        const int16x8_t h1 = vcombine_s16(vqmovn_s32(r2), vqmovn_s32(r3));
        vst1q_s8(t, vcombine_s8(vqmovn_s16(h0), vqmovn_s16(h1)));
        return;
    }
    requant8(n2, acc, mult, shift, t);
}
#endif

#if defined(RNN_KRON_S8_DSP)
/* t[k] = sat8(rq(sum_j a[j] (X[j][k] - zx))) for k < n2 <= 16, X = x as rows of n2 (x past
 * cols is real zero), when the usual requantization applies (KRON_DSP_RQ) and the word
 * x[j n2 + k0 .. + 3] of every whole row j and column group k0 is inside x; returns 0
 * otherwise (nothing written). Four columns at a time: per whole row one LDR of the row's
 * word (lanes past n2 ignored), SXTB16 twice, SMLABB / SMLATB by a[j] into four sums; then
 * per column the partial row (k < part) and x's zero point (-zx times the sum of the a[j] of
 * the column's rows), and the requantization by SMMLA + ASR + SSAT. */
KRON_NOINLINE int a_row_dsp(const int8_t *a, int32_t n2, int32_t cols, int32_t zx,
                            const int8_t *x, int32_t mult, int32_t shift, int8_t *t)
{
    const int32_t full = cols / n2, part = cols - full * n2;
    const int32_t last = ((n2 - 1) >> 2) << 2; /* the last group's first column */
    int32_t sa_full = 0, sa_all, rnd, sr;
    int32_t j, k0;
    if (!KRON_DSP_RQ(mult, shift) || full < 1 || (full - 1) * n2 + last + 4 > cols)
    {
        return 0;
    }
    rnd = (int32_t)1 << (-2 - shift);
    sr = -1 - shift;
    for (j = 0; j < full; ++j)
    {
        sa_full += a[j];
    }
    sa_all = sa_full + (part ? a[full] : 0);
    for (k0 = 0; k0 < n2; k0 += 4)
    {
        const int8_t *xp = x + k0;
        int32_t c0 = 0, c1 = 0, c2 = 0, c3 = 0;
        int32_t c[4];
        int32_t q;
        for (j = 0; j < full; ++j, xp += n2)
        {
            const int32_t xv = kron_load4(xp);
            const int32_t e = __sxtb16(xv), o = kron_sxtb16_hi(xv), aj = a[j];
            c0 = __smlabb(e, aj, c0);
            c1 = __smlabb(o, aj, c1);
            c2 = __smlatb(e, aj, c2);
            c3 = __smlatb(o, aj, c3);
        }
        /* the sums in registers during the loop (an array there is stored every row) */
        c[0] = c0;
        c[1] = c1;
        c[2] = c2;
        c[3] = c3;
        for (q = 0; q < 4 && k0 + q < n2; ++q)
        {
            const int32_t k = k0 + q;
            int32_t v = c[q];
            if (k < part)
            {
                v += (int32_t)a[full] * (int32_t)x[full * n2 + k] - zx * sa_all;
            }
            else
            {
                v -= zx * sa_full;
            }
            t[k] = (int8_t)KRON_SAT8(kron_smmla(v, mult, rnd) >> sr);
        }
    }
    return 1;
}
#endif

#if defined(RNN_KRON_S8_MVE)
/* a_row_neon on Helium: per row of X whose 16 bytes stay inside x (lanes past n2 ignored),
 * four widening loads (VLDRB.S32) and four VMLA by a[j]; x's zero point as -zx times the sum
 * of those a[j]; the other rows in plain C; the usual requantization by vector (VQDMULH,
 * VRSHL, clamp, VSTRB.32 of all 16 lanes: t holds 16 bytes, the caller zeroes those past
 * n2) */
static void a_row_mve(const int8_t *a, int32_t n2, int32_t cols, int32_t zx, const int8_t *x,
                      int32_t mult, int32_t shift, int8_t *t)
{
    const int32_t full = cols / n2;
    int32_t nv = cols >= 16 ? (cols - 16) / n2 + 1 : 0;
    int32x4_t s0 = vdupq_n_s32(0), s1 = s0, s2 = s0, s3 = s0;
    int32_t acc[16];
    int32_t sa = 0, j, k;
    nv = nv < full ? nv : full;
    for (j = 0; j < nv; ++j)
    {
        const int8_t *xj = x + j * n2;
        const int32_t aj = a[j];
        sa += aj;
        s0 = vmlaq_n_s32(s0, vldrbq_s32(xj), aj);
        s1 = vmlaq_n_s32(s1, vldrbq_s32(xj + 4), aj);
        s2 = vmlaq_n_s32(s2, vldrbq_s32(xj + 8), aj);
        s3 = vmlaq_n_s32(s3, vldrbq_s32(xj + 12), aj);
    }
    vst1q_s32(acc, vsubq_n_s32(s0, zx * sa));
    vst1q_s32(acc + 4, vsubq_n_s32(s1, zx * sa));
    vst1q_s32(acc + 8, vsubq_n_s32(s2, zx * sa));
    vst1q_s32(acc + 12, vsubq_n_s32(s3, zx * sa));
    for (; j * n2 < cols; ++j)
    {
        const int32_t valid = cols - j * n2 < n2 ? cols - j * n2 : n2;
        const int32_t aj = a[j];
        for (k = 0; k < valid; ++k)
        {
            acc[k] += aj * ((int32_t)x[j * n2 + k] - zx);
        }
    }
    if (KRON_VEC_RQ(mult, shift))
    {
        int32_t q;
        for (q = 0; q < 4; ++q)
        {
            int32x4_t d = vqdmulhq_n_s32(vld1q_s32(acc + 4 * q), mult);
            d = vrshlq_n_s32(d, shift);
            vstrbq_s32(t + 4 * q, vmaxq_s32(vminq_s32(d, vdupq_n_s32(127)), vdupq_n_s32(-128)));
        }
        return;
    }
    requant8(n2, acc, mult, shift, t);
}
#endif

/* acc[l] = offset[l] (or 0 when offset is NULL) + B[l] . v for l < n (n <= m2); v: n2 int8,
 * zero-padded to 16 lanes when n2 <= 16. B's rows are RNN_S8_STRIDE(n2) bytes apart (zero
 * after column n2), as the int8 dense kernels read them. */
static void b_sums(int32_t n, int32_t m2, int32_t n2, const int8_t *b, const int32_t *offset,
                   const int8_t *v, int32_t *acc)
{
    const int32_t ld = RNN_S8_STRIDE(n2);
    int32_t l = 0;
#if defined(RNN_KRON_S8_NEON)
    if (n2 <= 16)
    {
        /* rows whose 16-byte load stays inside B */
        const int32_t safe = m2 * ld >= 16 ? (m2 * ld - 16) / ld + 1 : 0;
        const int32_t nv = safe < n ? safe : n;
        const int8x16_t x = vld1q_s8(v);
        int32_t k;
        for (; l + 4 <= nv; l += 4)
        {
            const int8_t *w = b + (int32_t)l * ld;
            const int32x4_t a0 = kron_dot16(vld1q_s8(w), x);
            const int32x4_t a1 = kron_dot16(vld1q_s8(w + ld), x);
            const int32x4_t a2 = kron_dot16(vld1q_s8(w + 2 * ld), x);
            const int32x4_t a3 = kron_dot16(vld1q_s8(w + 3 * ld), x);
            int32x4_t s = vpaddq_s32(vpaddq_s32(a0, a1), vpaddq_s32(a2, a3));
            if (offset)
            {
                s = vaddq_s32(s, vld1q_s32(offset + l));
            }
            vst1q_s32(acc + l, s);
        }
        for (; l < nv; ++l)
        {
            acc[l] = vaddvq_s32(kron_dot16(vld1q_s8(b + (int32_t)l * ld), x)) +
                     (offset ? offset[l] : 0);
        }
        for (; l < n; ++l)
        {
            const int8_t *w = b + (int32_t)l * ld;
            int32_t s = offset ? offset[l] : 0;
            for (k = 0; k < n2; ++k)
            {
                s += (int32_t)w[k] * (int32_t)v[k];
            }
            acc[l] = s;
        }
        return;
    }
#elif defined(RNN_KRON_S8_DSP)
    if (n2 <= 16)
    {
        /* The vector split once into int16 pairs (SXTB16), then each row's words (whole
         * words: the row's padding is zero) with SMLAD. rnn_mat_vec_s8_sums spends more on
         * its per-row setup than on so few columns. */
        const int32_t words = ld >> 2;
        const int32_t nv = n;
        (void)m2;
        int32_t xw[8];
        int32_t q, k;
        for (q = 0; q < words; ++q)
        {
            const int32_t xv = kron_load4(v + 4 * q);
            xw[2 * q] = __sxtb16(xv);
            xw[2 * q + 1] = kron_sxtb16_hi(xv);
        }
        switch (words)
        {
        case 4:
            for (; l < nv; ++l)
            {
                const int8_t *w = b + (int32_t)l * ld;
                int32_t a = offset ? offset[l] : 0;
                KRON_DOT_WORD(a, w, xw[0], xw[1]);
                KRON_DOT_WORD(a, w + 4, xw[2], xw[3]);
                KRON_DOT_WORD(a, w + 8, xw[4], xw[5]);
                KRON_DOT_WORD(a, w + 12, xw[6], xw[7]);
                acc[l] = a;
            }
            break;
        case 3:
            for (; l < nv; ++l)
            {
                const int8_t *w = b + (int32_t)l * ld;
                int32_t a = offset ? offset[l] : 0;
                KRON_DOT_WORD(a, w, xw[0], xw[1]);
                KRON_DOT_WORD(a, w + 4, xw[2], xw[3]);
                KRON_DOT_WORD(a, w + 8, xw[4], xw[5]);
                acc[l] = a;
            }
            break;
        case 2:
            for (; l < nv; ++l)
            {
                const int8_t *w = b + (int32_t)l * ld;
                int32_t a = offset ? offset[l] : 0;
                KRON_DOT_WORD(a, w, xw[0], xw[1]);
                KRON_DOT_WORD(a, w + 4, xw[2], xw[3]);
                acc[l] = a;
            }
            break;
        default:
            for (; l < nv; ++l)
            {
                int32_t a = offset ? offset[l] : 0;
                KRON_DOT_WORD(a, b + (int32_t)l * ld, xw[0], xw[1]);
                acc[l] = a;
            }
            break;
        }
        for (; l < n; ++l)
        {
            const int8_t *w = b + (int32_t)l * ld;
            int32_t a = offset ? offset[l] : 0;
            for (k = 0; k < n2; ++k)
            {
                a += (int32_t)w[k] * (int32_t)v[k];
            }
            acc[l] = a;
        }
        return;
    }
#elif defined(RNN_KRON_S8_MVE)
    (void)m2;
    if (n2 <= 16)
    {
        /* one 16-byte load per row and one VMLADAVA against the vector: unpredicated while
         * the load stays inside B (the bytes past the row meet the vector's zero lanes;
         * GCC 12 spends three instructions on each predicate), then predicated loads (lanes
         * past n2 read as zero, never past B) */
        const int32_t safe = m2 * ld >= 16 ? (m2 * ld - 16) / ld + 1 : 0;
        const int32_t nv = safe < n ? safe : n;
        const int8x16_t x = vld1q_s8(v);
        const int8_t *w = b;
        if (offset)
        {
            for (; l < nv; ++l, w += ld)
            {
                acc[l] = vmladavaq_s8(offset[l], vld1q_s8(w), x);
            }
        }
        else
        {
            for (; l < nv; ++l, w += ld)
            {
                acc[l] = vmladavq_s8(vld1q_s8(w), x);
            }
        }
        if (l < n)
        {
            const mve_pred16_t p = vctp8q((uint32_t)n2);
            for (; l < n; ++l, w += ld)
            {
                acc[l] = vmladavaq_s8(offset ? offset[l] : 0, vldrbq_z_s8(w, p), x);
            }
        }
        return;
    }
#else
    (void)m2;
#endif
    if (offset)
    {
        rnn_mat_vec_s8_sums(n, n2, b, offset, v, acc);
        return;
    }
    for (; l < n; l += RNN_KRON_MAX_ROW)
    {
        const int32_t c = n - l < RNN_KRON_MAX_ROW ? n - l : RNN_KRON_MAX_ROW;
        rnn_mat_vec_s8_sums(c, n2, b + (int32_t)l * ld, rnn_kron_zero_offset, v, acc + l);
    }
}

#if defined(RNN_KRON_S8_DSP)
/* y[l] = sat16(rq(B[l] . x)) for l < n, B's rows `words` words (the row's padding is zero),
 * x split in SMLAD pairs xw[2q] (bytes 0, 2 of word q), xw[2q + 1] (bytes 1, 3); per row:
 * `words` LDR, 2 `words` SXTB16, 2 `words` SMUAD/SMLAD, SMMLA, ASR, SSAT, STRH */
KRON_INLINE void dsp_rows16(int32_t n, const int8_t *b, const int32_t *xw, const int32_t words,
                            int32_t mult, int32_t shift, int16_t *y)
{
    const int32_t x0 = xw[0], x1 = xw[1], x2 = xw[2], x3 = xw[3];
    const int32_t x4 = xw[4], x5 = xw[5], x6 = xw[6], x7 = xw[7];
    const int32_t rnd = (int32_t)1 << (-2 - shift), sr = -1 - shift;
    const int16_t *end = y + n;
    const int8_t *w = b;
    /* rows are exactly `words` words apart: the row pointer steps by a constant */
    for (; y != end; ++y, w += 4 * words)
    {
        const int32_t w0 = kron_load4(w);
        int32_t a = __smuad(__sxtb16(w0), x0);
        a = __smlad(kron_sxtb16_hi(w0), x1, a);
        if (words > 1)
        {
            KRON_DOT_WORD(a, w + 4, x2, x3);
        }
        if (words > 2)
        {
            KRON_DOT_WORD(a, w + 8, x4, x5);
        }
        if (words > 3)
        {
            KRON_DOT_WORD(a, w + 12, x6, x7);
        }
        *y = (int16_t)KRON_SAT16(kron_smmla(a, mult, rnd) >> sr);
    }
}
#endif

#if defined(RNN_KRON_S8_DSP) && defined(__thumb2__) && defined(__OPTIMIZE__)
/* (Without optimisation GCC keeps a frame pointer and cannot give the loop its 13 registers:
 * the C loop then.) */
#define RNN_KRON_S8_DSP_ASM 1
/* One word of a row of B against the pair (e, o) of x: LDR (post-increment), SXTB16 of bytes
 * 0 and 2 and of bytes 1 and 3, two SMLADs (the first word: SMUAD starts the sum) */
#define KRON_ASM_W0                                                                             \
    "ldr %[t0], [%[w]], #4\n\t"                                                               \
    "sxtb16 %[t1], %[t0]\n\t"                                                                 \
    "smuad %[acc], %[t1], %[x0]\n\t"                                                          \
    "sxtb16 %[t0], %[t0], ror #8\n\t"                                                         \
    "smlad %[acc], %[t0], %[x1], %[acc]\n\t"
#define KRON_ASM_W(e, o)                                                                        \
    "ldr %[t0], [%[w]], #4\n\t"                                                               \
    "sxtb16 %[t1], %[t0]\n\t"                                                                 \
    "smlad %[acc], %[t1], %[" e "], %[acc]\n\t"                                                \
    "sxtb16 %[t0], %[t0], ror #8\n\t"                                                         \
    "smlad %[acc], %[t0], %[" o "], %[acc]\n\t"
/* (acc mult / 2^32 + 2^s) >> (s + 1) (SMMLA, ASR), SSAT, STRH, loop until y reaches end; the
 * shift and the end read from memory, so that x's six pairs, mult, the rounding term, the
 * pointers and three temporaries fit 13 registers (also at -O0, where r7 is the frame
 * pointer; 14 would not) */
#define KRON_ASM_END                                                                            \
    "smmla %[acc], %[acc], %[mult], %[rnd]\n\t"                                               \
    "ldr %[t0], %[sr]\n\t"                                                                    \
    "asr %[acc], %[acc], %[t0]\n\t"                                                           \
    "ssat %[acc], #16, %[acc]\n\t"                                                            \
    "strh %[acc], [%[y]], #2\n\t"                                                             \
    "ldr %[t0], %[end]\n\t"                                                                   \
    "cmp %[y], %[t0]\n\t"                                                                     \
    "bne 1b\n\t"

/* dsp_rows16 for rows of 1 to 3 words, the row loop in assembly (GCC 12 spills three of x's
 * pairs in the C loop: 23 instructions a row of 3 words with three reloads of x; here 22,
 * the stack read only for the shift and the end) */
static void dsp_rows16_asm(int32_t n, const int8_t *b, const int32_t *xw, int32_t words,
                           int32_t mult, int32_t shift, int16_t *y)
{
    const int32_t x0 = xw[0], x1 = xw[1], x2 = xw[2], x3 = xw[3], x4 = xw[4], x5 = xw[5];
    const int32_t rnd = (int32_t)1 << (-2 - shift);
    const int32_t sr = -1 - shift;
    const int16_t *const end = y + n;
    const int8_t *w = b;
    int32_t acc, t0, t1;
    if (n <= 0)
    {
        return;
    }
#define KRON_ASM_OPERANDS                                                                       \
    : [w] "+r"(w), [y] "+r"(y), [acc] "=&r"(acc), [t0] "=&r"(t0), [t1] "=&r"(t1)                \
    : [x0] "r"(x0), [x1] "r"(x1), [x2] "r"(x2), [x3] "r"(x3), [x4] "r"(x4), [x5] "r"(x5),      \
      [mult] "r"(mult), [rnd] "r"(rnd), [sr] "m"(sr), [end] "m"(end)                            \
    : "cc", "memory"
    if (words == 3)
    {
        __asm__ volatile("1:\n\t" KRON_ASM_W0 KRON_ASM_W("x2", "x3") KRON_ASM_W("x4", "x5")
                             KRON_ASM_END KRON_ASM_OPERANDS);
    }
    else if (words == 2)
    {
        __asm__ volatile("1:\n\t" KRON_ASM_W0 KRON_ASM_W("x2", "x3") KRON_ASM_END
                             KRON_ASM_OPERANDS);
    }
    else
    {
        __asm__ volatile("1:\n\t" KRON_ASM_W0 KRON_ASM_END KRON_ASM_OPERANDS);
    }
#undef KRON_ASM_OPERANDS
}
#endif

/* y[l] = sat16(rq(B[l] . v)) for l < n (n <= m2; v as for b_sums, acc scratch for n sums):
 * the B stage of A X first with the output requantization fused into the row passes where
 * the ISA path has one (DSP, NEON; n2 <= 16, the usual requantization), else b_sums and
 * requant16. Not inlined: its row loops get every register. */
KRON_NOINLINE void b_rows16(int32_t n, int32_t m2, int32_t n2, const int8_t *b, const int8_t *v,
                     int32_t mult, int32_t shift, int32_t *acc, int16_t *y)
{
#if defined(RNN_KRON_S8_NEON)
    if (n2 <= 16 && KRON_VEC_RQ(mult, shift))
    {
        const int32_t ld = RNN_S8_STRIDE(n2);
        /* rows whose 16-byte load stays inside B */
        const int32_t safe = m2 * ld >= 16 ? (m2 * ld - 16) / ld + 1 : 0;
        const int32_t nv = safe < n ? safe : n;
        const int8x16_t x = vld1q_s8(v);
        const int32x4_t sh = vdupq_n_s32(shift);
        int32_t l = 0;
        for (; l + 4 <= nv; l += 4)
        {
            const int8_t *w = b + l * ld;
            const int32x4_t a0 = kron_dot16(vld1q_s8(w), x);
            const int32x4_t a1 = kron_dot16(vld1q_s8(w + ld), x);
            const int32x4_t a2 = kron_dot16(vld1q_s8(w + 2 * ld), x);
            const int32x4_t a3 = kron_dot16(vld1q_s8(w + 3 * ld), x);
            const int32x4_t sm = vpaddq_s32(vpaddq_s32(a0, a1), vpaddq_s32(a2, a3));
            vst1_s16(y + l, vqmovn_s32(vrshlq_s32(vqdmulhq_n_s32(sm, mult), sh)));
        }
        if (l < n)
        {
            b_sums(n - l, m2 - l, n2, b + l * ld, 0, v, acc);
            requant16(n - l, acc, mult, shift, y + l);
        }
        return;
    }
#elif defined(RNN_KRON_S8_DSP)
    if (n2 <= 16 && KRON_DSP_RQ(mult, shift))
    {
        const int32_t words = RNN_S8_STRIDE(n2) >> 2;
        int32_t xw[8];
        int32_t q;
        (void)m2;
        (void)acc;
        /* v holds max(n2, 16) bytes: all four words are inside it */
        for (q = 0; q < 4; ++q)
        {
            const int32_t xv = kron_load4(v + 4 * q);
            xw[2 * q] = __sxtb16(xv);
            xw[2 * q + 1] = kron_sxtb16_hi(xv);
        }
#if defined(RNN_KRON_S8_DSP_ASM)
        if (words < 4)
        {
            dsp_rows16_asm(n, b, xw, words, mult, shift, y);
            return;
        }
#endif
        switch (words)
        {
        case 4:
            dsp_rows16(n, b, xw, 4, mult, shift, y);
            break;
        case 3:
            dsp_rows16(n, b, xw, 3, mult, shift, y);
            break;
        case 2:
            dsp_rows16(n, b, xw, 2, mult, shift, y);
            break;
        default:
            dsp_rows16(n, b, xw, 1, mult, shift, y);
            break;
        }
        return;
    }
#endif
    b_sums(n, m2, n2, b, 0, v, acc);
    requant16(n, acc, mult, shift, y);
}

/* Refer to header file for details. */
void rnn_mat_vec_kron_s8_s16(int8_t *ctx, const rnn_kron_s8 *m, const int8_t *x, int16_t *y)
{
    const int32_t m1 = m->m1, n1 = m->n1, m2 = m->m2, n2 = m->n2;
    const int32_t rows = m->rows, cols = m->cols;
    const int32_t zx = m->x_zero_point;
    const int32_t vlen = n2 > 16 ? n2 : 16;
    const int32_t full = cols / n2; /* whole rows of X inside x */
    const int32_t part = cols - full * n2;
    int8_t *t = ctx;                                   /* [n1, m2] (X B^T first) */
    int8_t *v = ctx + (m->ax_first ? 0 : n1 * m2);     /* [vlen] a vector for B */
    int8_t *ones = v + vlen;                           /* [vlen] */
    int32_t *acc = (int32_t *)(void *)(ones + vlen + ((4 - ((uintptr_t)(ones + vlen) & 3)) & 3));
    int32_t i, j, k, l;

    if (m->ax_first)
    {
        for (i = 0; i < m1 && i * m2 < rows; ++i)
        {
            const int32_t n = rows - i * m2 < m2 ? rows - i * m2 : m2;
            /* T[i] = sat8(rq(A[i] (X - zx))) [n2]; x past cols reads as real zero */
#if defined(RNN_KRON_S8_NEON)
            if (n2 <= 16)
            {
                a_row_neon(m->a + i * n1, n2, cols, zx, x, m->t_mult,
                           m->t_shift, v);
            }
            else
#elif defined(RNN_KRON_S8_MVE)
            if (n2 <= 16)
            {
                a_row_mve(m->a + i * n1, n2, cols, zx, x, m->t_mult, m->t_shift, v);
            }
            else
#elif defined(RNN_KRON_S8_DSP)
            if (n2 <= 16 && a_row_dsp(m->a + i * n1, n2, cols, zx, x, m->t_mult, m->t_shift, v))
            {
            }
            else
#endif
            /* column by column, the sum in a register: A[i] . X[:, k] - zx (sum of the A[i][j]
             * whose x is inside cols: all nj rows for k < part, the full ones after) */
            {
                const int8_t *ai = m->a + i * n1;
                int32_t sa_full = 0;
                int32_t sa_all;
                for (j = 0; j < full; ++j)
                {
                    sa_full += ai[j];
                }
                sa_all = sa_full + (part ? ai[full] : 0);
                for (k = 0; k < n2; ++k)
                {
                    const int32_t nj = k < part ? full + 1 : full;
                    const int8_t *xk = x + k;
                    int32_t s = -zx * (k < part ? sa_all : sa_full);
                    for (j = 0; j < nj; ++j)
                    {
                        s += (int32_t)ai[j] * (int32_t)*xk;
                        xk += n2;
                    }
                    v[k] = (int8_t)rnn_sat8(kron_rq(s, m->t_mult, m->t_shift));
                }
            }
            if (n2 < 16)
            {
                /* v[n2:16] = 0 for the 16-lane reads of B's rows: 16 bytes of a constant size
                 * (inline stores; a loop to vlen became a memset call, about 60 instructions
                 * on Cortex-M), the rest in the second vector's place, unused here */
                memset(v + n2, 0, 16);
            }
            /* Y[i] = rq(B T[i]) */
            b_rows16(n, m2, n2, m->b, v, m->y_mult, m->y_shift, acc, y + i * m2);
        }
    }
    else
    {
        const int32_t nj = full + (part ? 1 : 0);
        /* offset[l] = -zx * sum_k B[l][k], made at build time */
        const int32_t *offset = zx != 0 ? m->b_offset : 0;
        /* T[j] = sat8(rq(B (X[j] - zx))) [m2] for the rows of X inside cols */
        for (j = 0; j < nj; ++j)
        {
            const int8_t *xj = x + j * n2;
            if (j == full || n2 < 16)
            {
                /* the partial row (padded with zx, the real zero) or a short one (padded with
                 * zeros to 16 lanes for the AArch64 path) */
                const int32_t valid = j == full ? part : n2;
                memcpy(v, xj, (size_t)valid);
                memset(v + valid, zx, (size_t)(n2 - valid));
                memset(v + n2, 0, (size_t)(vlen - n2));
                xj = v;
            }
            b_sums(m2, m2, n2, m->b, offset, xj, acc);
            requant8(m2, acc, m->t_mult, m->t_shift, t + j * m2);
        }
        /* Y[i] = rq(sum_j A[i][j] T[j]); only the first rows outputs exist */
        for (i = 0; i < m1 && i * m2 < rows; ++i)
        {
            const int32_t n = rows - i * m2 < m2 ? rows - i * m2 : m2;
            for (l = 0; l < n; ++l)
            {
                acc[l] = 0;
            }
            for (j = 0; j < nj; ++j)
            {
                const int32_t aij = m->a[i * n1 + j];
                const int8_t *tj = t + j * m2;
                for (l = 0; l < n; ++l)
                {
                    acc[l] += aij * tj[l];
                }
            }
            requant16(n, acc, m->y_mult, m->y_shift, y + i * m2);
        }
    }
}

/* Y[i] = rq(sum_j A[i][j] T[j]) for the rows whose outputs exist (X B^T first), T [nj, m2]
 * int8, acc scratch for m2 sums */
static void a_t_rows(const rnn_kron_s8 *m, int32_t nj, const int8_t *t, int32_t *acc,
                          int16_t *y)
{
    const int32_t m1 = m->m1, n1 = m->n1, m2 = m->m2, rows = m->rows;
    int32_t i, j, l;
    for (i = 0; i < m1 && i * m2 < rows; ++i)
    {
        const int32_t n = rows - i * m2 < m2 ? rows - i * m2 : m2;
        for (l = 0; l < n; ++l)
        {
            acc[l] = 0;
        }
        for (j = 0; j < nj; ++j)
        {
            const int32_t aij = m->a[i * n1 + j];
            const int8_t *tj = t + j * m2;
            for (l = 0; l < n; ++l)
            {
                acc[l] += aij * tj[l];
            }
        }
        requant16(n, acc, m->y_mult, m->y_shift, y + i * m2);
    }
}

/* Refer to header file for details. */
void rnn_mat_vec_kron_s8_t_s16(int8_t *ctx, const rnn_kron_s8 *m, const int8_t *t, int16_t *y)
{
    const int32_t m1 = m->m1, n1 = m->n1, m2 = m->m2, n2 = m->n2;
    const int32_t rows = m->rows;
    const int32_t vlen = n2 > 16 ? n2 : 16;
    int8_t *v = ctx + (m->ax_first ? 0 : n1 * m2);     /* as rnn_mat_vec_kron_s8_s16 */
    int8_t *ones = v + vlen;
    int32_t *acc = (int32_t *)(void *)(ones + vlen + ((4 - ((uintptr_t)(ones + vlen) & 3)) & 3));
    if (m->ax_first)
    {
        int32_t i;
        for (i = 0; i < m1 && i * m2 < rows; ++i)
        {
            const int32_t n = rows - i * m2 < m2 ? rows - i * m2 : m2;
            /* T[i], zero-padded to vlen lanes as the B stage reads it */
            memcpy(v, t + i * n2, (size_t)n2);
            if (n2 < 16)
            {
                memset(v + n2, 0, 16); /* as in rnn_mat_vec_kron_s8_s16 */
            }
            b_rows16(n, m2, n2, m->b, v, m->y_mult, m->y_shift, acc, y + i * m2);
        }
    }
    else
    {
        a_t_rows(m, (m->cols + n2 - 1) / n2, t, acc, y);
    }
}
