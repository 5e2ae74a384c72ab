/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_mat_vec_s8_s16.c
 * Description: int8 matrix times int8 vector, int32 accumulation, each row requantized to
 *              int16 (a gate pre-activation in Q3.12): y[r] = sat16(rq(W[r] . x + offset[r])).
 *
 * Integer sums are exact in any order, so every path gives the plain C loop's results bit for
 * bit (quant.py defines them):
 * - NEON (AArch64: Cortex-A73/A53, __ARM_NEON): eight rows per pass share each 16-byte load
 *   of x; per row SMULL + SMLAL2 form eight int16 sums of two products and SADALP adds them
 *   pairwise into four int32 lanes (3 instructions for 16 multiply-adds). Two products fit in
 *   int16 because the weights lie in [-127, 127] (rnngen's symmetric quantization never
 *   makes -128): |w x| <= 127 * 128, twice that < 2^15. The last 16 columns are one more pass
 *   over w[cols - 16 .. cols - 1] with the columns already done zeroed in x (no padding, no
 *   scalar tail; needs cols >= 16, else plain C); groups of four rows are requantized as one
 *   vector (SMULL, UZP2 for the high words, SRSHL, SQXTN).
 * - Helium (Cortex-M55, __ARM_FEATURE_MVE): four rows per pass share each 16-byte load of x,
 *   VMLADAVA accumulates 16 products per instruction; with cols >= 16 the last 16 columns are
 *   one more pass over w[cols - 16 .. cols - 1] with the columns already done zeroed in x
 *   (as NEON below), else one predicated pass (no scalar tail); the four rows are
 *   requantized as one vector.
 * - DSP extension (Cortex-M4/M7, __ARM_FEATURE_DSP): x is split once per call into int16
 *   pairs (SXTB16), four rows per pass share each pair (three where x is too wide to split
 *   once); each row's word of weights is split likewise and SMLAD does two multiply-adds per
 *   instruction.
 * - plain C99 elsewhere.
 * rnn_mat_vec_s8_sums gives the same paths' int32 sums without requantization (for
 * rnn_mat_vec_s8, the int8-output kernel).
 * Requantization: when shift <= -2 (a right shift by more than 32 bits, the usual case for
 * gate pre-activations) round(acc * mult * 2^(shift - 31)) half up equals
 * (hi + 2^(s - 1)) >> s, with hi the high word of the 64-bit product and s = -1 - shift >= 1:
 * floor((p + 2^(31 + s)) / 2^(32 + s)) = floor((floor(p / 2^32) + 2^(s - 1)) / 2^s), exactly;
 * and that is ((hi >> (s - 1)) + 1) >> 1 (floor((floor(a) + 1) / 2) = floor((a + 1) / 2)).
 */

#include "rnn_nnfunctions.h"
#include "rnn_nn_support.h"

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
#include <arm_mve.h>
#define RNN_S8_MVE 1
#elif defined(__ARM_NEON) && defined(__aarch64__)
#include <arm_neon.h>
#define RNN_S8_NEON 1
#elif defined(__ARM_FEATURE_DSP) && defined(__ARM_FEATURE_SIMD32)
#include <string.h>
#define RNN_S8_DSP 1
#endif
#if defined(__ARM_FEATURE_DSP) || defined(__ARM_FEATURE_SAT)
#include <arm_acle.h>
#endif

#if defined(__GNUC__)
#define RNN_NOINLINE __attribute__((noinline))
#else
#define RNN_NOINLINE
#endif

#if defined(__ARM_FEATURE_SAT) && defined(__GNUC__) && !defined(__clang__)
/* SSAT. arm_acle.h's __ssat is this builtin, whose result GCC 12 types unsigned int, which
 * -Wconversion flags inside the macro; called directly, the cast restores the sign. */
#define SAT16(v) ((int32_t)__builtin_arm_ssat((v), 16))
#elif defined(__ARM_FEATURE_SAT)
#define SAT16(v) __ssat((v), 16)
#else
#define SAT16(v) rnn_sat16(v)
#endif

/* the general case, kept out of line so that the common one stays short */
static RNN_NOINLINE int32_t requant16_any(int32_t acc, int32_t mult, int32_t shift)
{
    return rnn_sat16(rnn_requantize(acc, mult, shift));
}

/* sat16(rnn_requantize(acc, mult, shift)) */
static inline int32_t requant16(int32_t acc, int32_t mult, int32_t shift)
{
    if (shift <= -2)
    {
        /* (hi + 2^(s - 1)) >> s computed as ((hi >> (s - 1)) + 1) >> 1, the same value */
        const int32_t hi = (int32_t)(((int64_t)acc * (int64_t)mult) >> 32);
        const int32_t t = (hi >> (-2 - shift)) + 1;
        return SAT16(t >> 1);
    }
    return requant16_any(acc, mult, shift);
}

#if !defined(RNN_S8_MVE)
/* sum_j w[j] x[j] over n values, plain C */
static int32_t dot_s8(const int8_t *w, const int8_t *x, int32_t n)
{
    int32_t acc = 0;
    int32_t j;
    for (j = 0; j < n; ++j)
    {
        acc += (int32_t)w[j] * (int32_t)x[j];
    }
    return acc;
}
#endif

#if defined(RNN_S8_MVE)
/* Rows r .. r + 3: dot products with x over all columns, the last 1..15 predicated. */
static void dot4_mve(int32_t cols, const int8_t *w, const int8_t *x, int32_t *acc)
{
    const int8_t *w1 = w + cols;
    const int8_t *w2 = w1 + cols;
    const int8_t *w3 = w2 + cols;
    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    int32_t j = 0;
    for (; j + 16 <= cols; j += 16)
    {
        const int8x16_t xv = vldrbq_s8(x + j);
        a0 = vmladavaq_s8(a0, vldrbq_s8(w + j), xv);
        a1 = vmladavaq_s8(a1, vldrbq_s8(w1 + j), xv);
        a2 = vmladavaq_s8(a2, vldrbq_s8(w2 + j), xv);
        a3 = vmladavaq_s8(a3, vldrbq_s8(w3 + j), xv);
    }
    if (j < cols)
    {
        const mve_pred16_t p = vctp8q((uint32_t)(cols - j));
        const int8x16_t xv = vldrbq_z_s8(x + j, p);
        a0 = vmladavaq_p_s8(a0, vldrbq_z_s8(w + j, p), xv, p);
        a1 = vmladavaq_p_s8(a1, vldrbq_z_s8(w1 + j, p), xv, p);
        a2 = vmladavaq_p_s8(a2, vldrbq_z_s8(w2 + j, p), xv, p);
        a3 = vmladavaq_p_s8(a3, vldrbq_z_s8(w3 + j, p), xv, p);
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}

/* Rows r .. r + 3 for cols >= 16: columns 0 .. done - 1 in passes of 16, then the last 16
 * (xt: x's last 16 with the columns before `done` zeroed) */
static void dot4_last16_mve(int32_t cols, int32_t done, const int8_t *w, const int8_t *x,
                            int8x16_t xt, int32_t *acc)
{
    const int8_t *w1 = w + cols;
    const int8_t *w2 = w1 + cols;
    const int8_t *w3 = w2 + cols;
    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    int32_t j;
    for (j = 0; j < done; j += 16)
    {
        const int8x16_t xv = vldrbq_s8(x + j);
        a0 = vmladavaq_s8(a0, vldrbq_s8(w + j), xv);
        a1 = vmladavaq_s8(a1, vldrbq_s8(w1 + j), xv);
        a2 = vmladavaq_s8(a2, vldrbq_s8(w2 + j), xv);
        a3 = vmladavaq_s8(a3, vldrbq_s8(w3 + j), xv);
    }
    j = cols - 16;
    acc[0] = vmladavaq_s8(a0, vldrbq_s8(w + j), xt);
    acc[1] = vmladavaq_s8(a1, vldrbq_s8(w1 + j), xt);
    acc[2] = vmladavaq_s8(a2, vldrbq_s8(w2 + j), xt);
    acc[3] = vmladavaq_s8(a3, vldrbq_s8(w3 + j), xt);
}

static int32_t dot1_mve(int32_t cols, const int8_t *w, const int8_t *x)
{
    int32_t a = 0;
    int32_t j = 0;
    for (; j + 16 <= cols; j += 16)
    {
        a = vmladavaq_s8(a, vldrbq_s8(w + j), vldrbq_s8(x + j));
    }
    if (j < cols)
    {
        const mve_pred16_t p = vctp8q((uint32_t)(cols - j));
        a = vmladavaq_p_s8(a, vldrbq_z_s8(w + j, p), vldrbq_z_s8(x + j, p), p);
    }
    return a;
}
#endif

#if defined(RNN_S8_NEON)
/* a + the 16 products w x, summed in pairs into four int32 lanes (|w| <= 127) */
static inline int32x4_t dot16_neon(int32x4_t a, int8x16_t w, int8x16_t x)
{
    int16x8_t p = vmull_s8(vget_low_s8(w), vget_low_s8(x));
    p = vmlal_high_s8(p, w, x);
    return vpadalq_s16(a, p);
}

/* x[cols - 16 .. cols - 1] with the lanes of columns before `done` zeroed */
static int8x16_t last16_neon(int32_t cols, int32_t done, const int8_t *x)
{
    static const uint8_t lane[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    const uint8x16_t before = vcltq_u8(vld1q_u8(lane), vdupq_n_u8((uint8_t)(done - (cols - 16))));
    return vbicq_s8(vld1q_s8(x + cols - 16), vreinterpretq_s8_u8(before));
}

/* the four row sums of a0..a3 as one vector */
static inline int32x4_t sum4_neon(int32x4_t a0, int32x4_t a1, int32x4_t a2, int32x4_t a3)
{
    return vpaddq_s32(vpaddq_s32(a0, a1), vpaddq_s32(a2, a3));
}

/* Rows r .. r + 7 over all columns: columns 0 .. done - 1 in passes of 16, then the last
 * 16 (xt: x's last 16 with the columns before `done` zeroed). */
static void rows8_neon(int32_t cols, int32_t done, const int8_t *w, const int8_t *x,
                       int8x16_t xt, int32x4_t *lo, int32x4_t *hi)
{
    const int8_t *w0 = w;
    const int8_t *w1 = w0 + cols;
    const int8_t *w2 = w1 + cols;
    const int8_t *w3 = w2 + cols;
    const int8_t *w4 = w3 + cols;
    const int8_t *w5 = w4 + cols;
    const int8_t *w6 = w5 + cols;
    const int8_t *w7 = w6 + cols;
    int32x4_t a0 = vdupq_n_s32(0), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0,
              a7 = a0;
    int32_t j;
    for (j = 0; j < done; j += 16)
    {
        const int8x16_t xv = vld1q_s8(x + j);
        a0 = dot16_neon(a0, vld1q_s8(w0 + j), xv);
        a1 = dot16_neon(a1, vld1q_s8(w1 + j), xv);
        a2 = dot16_neon(a2, vld1q_s8(w2 + j), xv);
        a3 = dot16_neon(a3, vld1q_s8(w3 + j), xv);
        a4 = dot16_neon(a4, vld1q_s8(w4 + j), xv);
        a5 = dot16_neon(a5, vld1q_s8(w5 + j), xv);
        a6 = dot16_neon(a6, vld1q_s8(w6 + j), xv);
        a7 = dot16_neon(a7, vld1q_s8(w7 + j), xv);
    }
    j = cols - 16;
    a0 = dot16_neon(a0, vld1q_s8(w0 + j), xt);
    a1 = dot16_neon(a1, vld1q_s8(w1 + j), xt);
    a2 = dot16_neon(a2, vld1q_s8(w2 + j), xt);
    a3 = dot16_neon(a3, vld1q_s8(w3 + j), xt);
    a4 = dot16_neon(a4, vld1q_s8(w4 + j), xt);
    a5 = dot16_neon(a5, vld1q_s8(w5 + j), xt);
    a6 = dot16_neon(a6, vld1q_s8(w6 + j), xt);
    a7 = dot16_neon(a7, vld1q_s8(w7 + j), xt);
    *lo = sum4_neon(a0, a1, a2, a3);
    *hi = sum4_neon(a4, a5, a6, a7);
}

/* rows r .. r + 3, as rows8_neon */
static int32x4_t rows4_neon(int32_t cols, int32_t done, const int8_t *w, const int8_t *x,
                            int8x16_t xt)
{
    const int8_t *w0 = w;
    const int8_t *w1 = w0 + cols;
    const int8_t *w2 = w1 + cols;
    const int8_t *w3 = w2 + cols;
    int32x4_t a0 = vdupq_n_s32(0), a1 = a0, a2 = a0, a3 = a0;
    int32_t j;
    for (j = 0; j < done; j += 16)
    {
        const int8x16_t xv = vld1q_s8(x + j);
        a0 = dot16_neon(a0, vld1q_s8(w0 + j), xv);
        a1 = dot16_neon(a1, vld1q_s8(w1 + j), xv);
        a2 = dot16_neon(a2, vld1q_s8(w2 + j), xv);
        a3 = dot16_neon(a3, vld1q_s8(w3 + j), xv);
    }
    j = cols - 16;
    a0 = dot16_neon(a0, vld1q_s8(w0 + j), xt);
    a1 = dot16_neon(a1, vld1q_s8(w1 + j), xt);
    a2 = dot16_neon(a2, vld1q_s8(w2 + j), xt);
    a3 = dot16_neon(a3, vld1q_s8(w3 + j), xt);
    return sum4_neon(a0, a1, a2, a3);
}

/* one row, as rows8_neon */
static int32_t row1_neon(int32_t cols, int32_t done, const int8_t *w, const int8_t *x,
                         int8x16_t xt)
{
    int32x4_t a = vdupq_n_s32(0);
    int32_t j;
    for (j = 0; j < done; j += 16)
    {
        a = dot16_neon(a, vld1q_s8(w + j), vld1q_s8(x + j));
    }
    a = dot16_neon(a, vld1q_s8(w + cols - 16), xt);
    return vaddvq_s32(a);
}

/* y[0..3] = sat16(rq(acc + offset)) for four rows: as one vector when every shift <= -2
 * (hi = high word of the 64-bit product, then a rounding shift right by -1 - shift) */
static void requant4_neon(int32x4_t acc, const int32_t *offset, const int32_t *mult,
                          const int32_t *shift, int16_t *y)
{
    const int32x4_t sh = vld1q_s32(shift);
    const int32x4_t a = vaddq_s32(acc, vld1q_s32(offset));
    if (vmaxvq_s32(sh) <= -2)
    {
        const int32x4_t m = vld1q_s32(mult);
        const int64x2_t p0 = vmull_s32(vget_low_s32(a), vget_low_s32(m));
        const int64x2_t p1 = vmull_high_s32(a, m);
        const int32x4_t h = vuzp2q_s32(vreinterpretq_s32_s64(p0), vreinterpretq_s32_s64(p1));
        vst1_s16(y, vqmovn_s32(vrshlq_s32(h, vaddq_s32(sh, vdupq_n_s32(1)))));
    }
    else
    {
        int32_t v[4];
        int32_t k;
        vst1q_s32(v, a);
        for (k = 0; k < 4; ++k)
        {
            y[k] = (int16_t)requant16(v[k], mult[k], shift[k]);
        }
    }
}
#endif

#if defined(RNN_S8_DSP)
static int32_t load_s8x4(const int8_t *p)
{
    int32_t v;
    memcpy(&v, p, sizeof v); /* one LDR: unaligned word loads are allowed on Cortex-M4/M7 */
    return v;
}

/* SXTB16 of bytes 1 and 3 (SXTB16 with ROR #8: one instruction; GCC does not fold a C
 * rotate into it) */
static int32_t sxtb16_hi(int32_t v)
{
#if defined(__GNUC__)
    int32_t r;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(v));
    return r;
#else
    return __sxtb16((int32_t)(((uint32_t)v >> 8) | ((uint32_t)v << 24)));
#endif
}

/* x split once per call into int16 pairs: for each word of 4 columns (x0, x2), (x1, x3);
 * the last partial word is padded with zero columns. Up to RNN_S8_XW columns (a stack buffer
 * of 2 * RNN_S8_XW bytes); wider inputs are split word by word in the row loop instead. */
#define RNN_S8_XW 256

/* rows whose sums wait in a stack buffer for their requantization */
#define RNN_S8_BLOCK 48

static void split_x(int32_t cols, const int8_t *x, int32_t *xw)
{
    int32_t k;
    for (k = cols >> 2; k > 0; --k)
    {
        const int32_t v = load_s8x4(x);
        xw[0] = __sxtb16(v);
        xw[1] = sxtb16_hi(v);
        x += 4;
        xw += 2;
    }
    if (cols & 3)
    {
        int8_t last[4] = {0, 0, 0, 0};
        int32_t v;
        for (k = 0; k < (cols & 3); ++k)
        {
            last[k] = x[k];
        }
        v = load_s8x4(last);
        xw[0] = __sxtb16(v);
        xw[1] = sxtb16_hi(v);
    }
}

/* a += w . x over one word (4 columns) of three rows, x split into (x0, x2), (x1, x3) */
#define DOT3_WORD(x02, x13)                                                                    \
    do                                                                                         \
    {                                                                                          \
        int32_t wv = load_s8x4(w0);                                                            \
        a0 = __smlad(__sxtb16(wv), x02, a0);                                                   \
        a0 = __smlad(sxtb16_hi(wv), x13, a0);                                                  \
        wv = load_s8x4(w1);                                                                    \
        a1 = __smlad(__sxtb16(wv), x02, a1);                                                   \
        a1 = __smlad(sxtb16_hi(wv), x13, a1);                                                  \
        wv = load_s8x4(w2);                                                                    \
        a2 = __smlad(__sxtb16(wv), x02, a2);                                                   \
        a2 = __smlad(sxtb16_hi(wv), x13, a2);                                                  \
        w0 += 4;                                                                               \
        w1 += 4;                                                                               \
        w2 += 4;                                                                               \
    } while (0)

/* acc[0..2] = offset[0..2] + rows 0..2 of w . x: the first n columns (a multiple of 4) with
 * x split beforehand (xw) or word by word here (xw NULL), then the columns n..cols - 1 one
 * by one. Three rows keep every value of the loop in registers
 * (with four rows GCC 12 spills inside the loop on the M4's fourteen registers). */
static void rows3_dsp(int32_t cols, int32_t n, const int8_t *w, const int8_t *x,
                      const int32_t *xw, const int32_t *offset, int32_t *acc)
{
    const int8_t *w0 = w;
    const int8_t *w1 = w0 + cols;
    const int8_t *w2 = w1 + cols;
    const int8_t *xp = x;
    int32_t a0 = offset[0], a1 = offset[1], a2 = offset[2];
    int32_t k;
    if (xw)
    {
#if defined(__GNUC__) && defined(__thumb2__) && defined(__OPTIMIZE__)
        /* 16 columns per pass: 4 LDRD (x), 12 LDR, 24 SXTB16, 24 SMLAD, SUBS, BNE for 48
         * multiply-adds. Written out because GCC 12 spills in this loop (it needs 12 of the
         * 14 registers), costing a third more instructions. */
        int32_t x02, x13, v, t;
        k = n >> 4;
        if (k > 0)
        {
            __asm__ volatile(
                "1:\n\t"
                "ldrd %[x02], %[x13], [%[xw]], #8\n\t"
                "ldr %[v], [%[w0]], #4\n\t"
                "sxtb16 %[t], %[v]\n\t"
                "smlad %[a0], %[t], %[x02], %[a0]\n\t"
                "sxtb16 %[v], %[v], ror #8\n\t"
                "smlad %[a0], %[v], %[x13], %[a0]\n\t"
                "ldr %[v], [%[w1]], #4\n\t"
                "sxtb16 %[t], %[v]\n\t"
                "smlad %[a1], %[t], %[x02], %[a1]\n\t"
                "sxtb16 %[v], %[v], ror #8\n\t"
                "smlad %[a1], %[v], %[x13], %[a1]\n\t"
                "ldr %[v], [%[w2]], #4\n\t"
                "sxtb16 %[t], %[v]\n\t"
                "smlad %[a2], %[t], %[x02], %[a2]\n\t"
                "sxtb16 %[v], %[v], ror #8\n\t"
                "smlad %[a2], %[v], %[x13], %[a2]\n\t"
                "ldrd %[x02], %[x13], [%[xw]], #8\n\t"
                "ldr %[v], [%[w0]], #4\n\t"
                "sxtb16 %[t], %[v]\n\t"
                "smlad %[a0], %[t], %[x02], %[a0]\n\t"
                "sxtb16 %[v], %[v], ror #8\n\t"
                "smlad %[a0], %[v], %[x13], %[a0]\n\t"
                "ldr %[v], [%[w1]], #4\n\t"
                "sxtb16 %[t], %[v]\n\t"
                "smlad %[a1], %[t], %[x02], %[a1]\n\t"
                "sxtb16 %[v], %[v], ror #8\n\t"
                "smlad %[a1], %[v], %[x13], %[a1]\n\t"
                "ldr %[v], [%[w2]], #4\n\t"
                "sxtb16 %[t], %[v]\n\t"
                "smlad %[a2], %[t], %[x02], %[a2]\n\t"
                "sxtb16 %[v], %[v], ror #8\n\t"
                "smlad %[a2], %[v], %[x13], %[a2]\n\t"
                "ldrd %[x02], %[x13], [%[xw]], #8\n\t"
                "ldr %[v], [%[w0]], #4\n\t"
                "sxtb16 %[t], %[v]\n\t"
                "smlad %[a0], %[t], %[x02], %[a0]\n\t"
                "sxtb16 %[v], %[v], ror #8\n\t"
                "smlad %[a0], %[v], %[x13], %[a0]\n\t"
                "ldr %[v], [%[w1]], #4\n\t"
                "sxtb16 %[t], %[v]\n\t"
                "smlad %[a1], %[t], %[x02], %[a1]\n\t"
                "sxtb16 %[v], %[v], ror #8\n\t"
                "smlad %[a1], %[v], %[x13], %[a1]\n\t"
                "ldr %[v], [%[w2]], #4\n\t"
                "sxtb16 %[t], %[v]\n\t"
                "smlad %[a2], %[t], %[x02], %[a2]\n\t"
                "sxtb16 %[v], %[v], ror #8\n\t"
                "smlad %[a2], %[v], %[x13], %[a2]\n\t"
                "ldrd %[x02], %[x13], [%[xw]], #8\n\t"
                "ldr %[v], [%[w0]], #4\n\t"
                "sxtb16 %[t], %[v]\n\t"
                "smlad %[a0], %[t], %[x02], %[a0]\n\t"
                "sxtb16 %[v], %[v], ror #8\n\t"
                "smlad %[a0], %[v], %[x13], %[a0]\n\t"
                "ldr %[v], [%[w1]], #4\n\t"
                "sxtb16 %[t], %[v]\n\t"
                "smlad %[a1], %[t], %[x02], %[a1]\n\t"
                "sxtb16 %[v], %[v], ror #8\n\t"
                "smlad %[a1], %[v], %[x13], %[a1]\n\t"
                "ldr %[v], [%[w2]], #4\n\t"
                "sxtb16 %[t], %[v]\n\t"
                "smlad %[a2], %[t], %[x02], %[a2]\n\t"
                "sxtb16 %[v], %[v], ror #8\n\t"
                "smlad %[a2], %[v], %[x13], %[a2]\n\t"
                "subs %[k], %[k], #1\n\t"
                "bne 1b\n\t"
                : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [w0] "+r"(w0), [w1] "+r"(w1),
                  [w2] "+r"(w2), [xw] "+r"(xw), [k] "+r"(k), [x02] "=&r"(x02), [x13] "=&r"(x13),
                  [v] "=&r"(v), [t] "=&r"(t)
                :
                : "cc", "memory");
        }
        for (k = (n >> 2) & 3; k > 0; --k) /* the last 0..3 words */
        {
            x02 = xw[0];
            x13 = xw[1];
            DOT3_WORD(x02, x13);
            xw += 2;
        }
#else
        for (k = n >> 2; k > 0; --k)
        {
            const int32_t x02 = xw[0];
            const int32_t x13 = xw[1];
            DOT3_WORD(x02, x13);
            xw += 2;
        }
#endif
    }
    else
    {
        for (k = n >> 2; k > 0; --k)
        {
            const int32_t xv = load_s8x4(xp);
            const int32_t x02 = __sxtb16(xv);
            const int32_t x13 = sxtb16_hi(xv);
            DOT3_WORD(x02, x13);
            xp += 4;
        }
    }
    for (k = n; k < cols; ++k) /* the last 0..3 columns, when not done as a whole word */
    {
        const int32_t xk = x[k];
        a0 += (int32_t)w[k] * xk;
        a1 += (int32_t)w[cols + k] * xk;
        a2 += (int32_t)w[2 * cols + k] * xk;
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
}

#if defined(__GNUC__) && defined(__thumb2__) && defined(__OPTIMIZE__)
#define RNN_S8_DSP4 1
/* one word (4 columns) of four rows: rows 1 and 3 at [w0 + cols], [w2 + cols], then rows 2
 * and 0 with the post-increment; x split into (x0, x2), (x1, x3) */
#define RNN_DOT4_WORD                                                                          \
    "ldrd %[x02], %[x13], [%[xw]], #8\n\t"                                                     \
    "ldr %[v], [%[w0], %[cs]]\n\t"                                                             \
    "sxtb16 %[t], %[v]\n\t"                                                                    \
    "smlad %[a1], %[t], %[x02], %[a1]\n\t"                                                     \
    "sxtb16 %[v], %[v], ror #8\n\t"                                                            \
    "smlad %[a1], %[v], %[x13], %[a1]\n\t"                                                     \
    "ldr %[v], [%[w2], %[cs]]\n\t"                                                             \
    "sxtb16 %[t], %[v]\n\t"                                                                    \
    "smlad %[a3], %[t], %[x02], %[a3]\n\t"                                                     \
    "sxtb16 %[v], %[v], ror #8\n\t"                                                            \
    "smlad %[a3], %[v], %[x13], %[a3]\n\t"                                                     \
    "ldr %[v], [%[w2]], #4\n\t"                                                                \
    "sxtb16 %[t], %[v]\n\t"                                                                    \
    "smlad %[a2], %[t], %[x02], %[a2]\n\t"                                                     \
    "sxtb16 %[v], %[v], ror #8\n\t"                                                            \
    "smlad %[a2], %[v], %[x13], %[a2]\n\t"                                                     \
    "ldr %[v], [%[w0]], #4\n\t"                                                                \
    "sxtb16 %[t], %[v]\n\t"                                                                    \
    "smlad %[a0], %[t], %[x02], %[a0]\n\t"                                                     \
    "sxtb16 %[v], %[v], ror #8\n\t"                                                            \
    "smlad %[a0], %[v], %[x13], %[a0]\n\t"

/* acc[0..3] = offset[0..3] + rows 0..3 of w . x over `words` words of 4 columns, x split
 * beforehand (xw); rows `cols` bytes apart. Four rows share each pair of x words (one LDRD
 * per 16 multiply-adds, against one per 12 in rows3_dsp) and the whole loop is assembly: 86
 * instructions per 64 multiply-adds. */
static void rows4_dsp(int32_t cols, int32_t words, const int8_t *w, const int32_t *xw,
                      const int32_t *offset, int32_t *acc)
{
    int32_t a0 = offset[0], a1 = offset[1], a2 = offset[2], a3 = offset[3];
    const int8_t *w0 = w;
    const int8_t *w2 = w + 2 * cols;
    int32_t k = words >> 2;
    int32_t x02, x13, v, t;
    if (k > 0)
    {
        __asm__ volatile("1:\n\t" RNN_DOT4_WORD RNN_DOT4_WORD RNN_DOT4_WORD RNN_DOT4_WORD
                         "subs %[k], %[k], #1\n\t"
                         "bne 1b\n\t"
                         : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3),
                           [w0] "+r"(w0), [w2] "+r"(w2), [xw] "+r"(xw), [k] "+r"(k),
                           [x02] "=&r"(x02), [x13] "=&r"(x13), [v] "=&r"(v), [t] "=&r"(t)
                         : [cs] "r"(cols)
                         : "cc", "memory");
    }
    k = words & 3;
    if (k > 0)
    {
        __asm__ volatile("1:\n\t" RNN_DOT4_WORD
                         "subs %[k], %[k], #1\n\t"
                         "bne 1b\n\t"
                         : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3),
                           [w0] "+r"(w0), [w2] "+r"(w2), [xw] "+r"(xw), [k] "+r"(k),
                           [x02] "=&r"(x02), [x13] "=&r"(x13), [v] "=&r"(v), [t] "=&r"(t)
                         : [cs] "r"(cols)
                         : "cc", "memory");
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}
#undef RNN_DOT4_WORD
#endif

static int32_t dot1_dsp(int32_t cols, const int8_t *w, const int8_t *x)
{
    int32_t a = 0;
    int32_t j = 0;
    for (; j + 4 <= cols; j += 4)
    {
        const int32_t xv = load_s8x4(x + j);
        const int32_t v = load_s8x4(w + j);
        a = __smlad(__sxtb16(v), __sxtb16(xv), a);
        a = __smlad(sxtb16_hi(v), sxtb16_hi(xv), a);
    }
    return a + dot_s8(w + j, x + j, cols - j);
}
#endif

/* Refer to header file for details. */
void rnn_mat_vec_s8_s16(int32_t rows, int32_t cols, const int8_t *w, const int32_t *offset,
                        const int32_t *mult, const int32_t *shift, const int8_t *x, int16_t *y)
{
    int32_t r = 0;

#if defined(RNN_S8_MVE)
    const int32_t done = cols >= 16 ? ((cols - 1) >> 4) << 4 : 0;
    /* x's last 16 columns with those before `done` zeroed (cols >= 16) */
    const int8x16_t xt =
        cols >= 16 ? vpselq_s8(vldrbq_s8(x + cols - 16), vdupq_n_s8(0),
                               vcmpcsq_n_u8(vidupq_n_u8(0, 1), (uint8_t)(done - (cols - 16))))
                   : vdupq_n_s8(0);
    for (; r + 4 <= rows; r += 4)
    {
        int32_t acc[4];
        const int32x4_t sh = vldrwq_s32(shift + r);
        if (cols >= 16)
        {
            dot4_last16_mve(cols, done, w + (int32_t)r * cols, x, xt, acc);
        }
        else
        {
            dot4_mve(cols, w + (int32_t)r * cols, x, acc);
        }
        if (vmaxvq_s32(INT32_MIN, sh) <= -2)
        {
            /* all four shifts <= -2: hi = high word of acc * mult (VMULH), then a rounding
             * shift right by s = -1 - shift (VRSHL by 1 + shift), saturated to int16 */
            const int32x4_t a = vaddq_s32(vldrwq_s32(acc), vldrwq_s32(offset + r));
            const int32x4_t hi = vmulhq_s32(a, vldrwq_s32(mult + r));
            const int32x4_t q = vrshlq_s32(hi, vaddq_n_s32(sh, 1));
            vstrhq_s32(y + r, vmaxq_s32(vminq_s32(q, vdupq_n_s32(32767)), vdupq_n_s32(-32768)));
        }
        else
        {
            int32_t k;
            for (k = 0; k < 4; ++k)
            {
                y[r + k] = (int16_t)requant16(acc[k] + offset[r + k], mult[r + k], shift[r + k]);
            }
        }
    }
    for (; r < rows; ++r)
    {
        const int32_t acc = dot1_mve(cols, w + (int32_t)r * cols, x) + offset[r];
        y[r] = (int16_t)requant16(acc, mult[r], shift[r]);
    }
#elif defined(RNN_S8_NEON)
    if (cols >= 16)
    {
        /* columns 0 .. done - 1 in passes of 16, then the last 16 (overlapping) */
        const int32_t done = ((cols - 1) >> 4) << 4;
        const int8x16_t xt = last16_neon(cols, done, x);
        for (; r + 8 <= rows; r += 8)
        {
            int32x4_t lo, hi;
            rows8_neon(cols, done, w, x, xt, &lo, &hi);
            requant4_neon(lo, offset + r, mult + r, shift + r, y + r);
            requant4_neon(hi, offset + r + 4, mult + r + 4, shift + r + 4, y + r + 4);
            w += 8 * cols;
        }
        for (; r + 4 <= rows; r += 4)
        {
            requant4_neon(rows4_neon(cols, done, w, x, xt), offset + r, mult + r, shift + r,
                          y + r);
            w += 4 * cols;
        }
        for (; r < rows; ++r)
        {
            y[r] = (int16_t)requant16(row1_neon(cols, done, w, x, xt) + offset[r], mult[r],
                                      shift[r]);
            w += cols;
        }
    }
    for (; r < rows; ++r)
    {
        y[r] = (int16_t)requant16(dot_s8(w, x, cols) + offset[r], mult[r], shift[r]);
        w += cols;
    }
#elif defined(RNN_S8_DSP)
    {
        const int32_t n = cols & ~3;       /* columns in whole words */
        const int32_t ne = (cols + 3) & ~3; /* and with the last partial word */
        int32_t xw[RNN_S8_XW / 2];
        const int32_t *xs = ne <= RNN_S8_XW ? xw : 0;
        if (xs)
        {
            split_x(cols, x, xw);
        }
        /* sums of blocks of up to RNN_S8_BLOCK rows into a stack buffer, then their
         * requantization in one loop: fewer values live across the assembly loop */
        int32_t acc[RNN_S8_BLOCK];
#if defined(RNN_S8_DSP4)
        /* x split: four rows per pass, whole words (over the last partial one where the bytes
         * read past row r + 3 lie in row r + 4), the columns left one by one */
        while (xs && r + 4 <= rows)
        {
            const int32_t r0 = r;
            int32_t nb = 0;
            int32_t k;
            for (; r + 4 <= rows && nb + 4 <= RNN_S8_BLOCK; r += 4, nb += 4)
            {
                const int32_t nr = r + 4 < rows ? ne : n;
                rows4_dsp(cols, nr >> 2, w, xs, offset + r, acc + nb);
                for (k = nr; k < cols; ++k)
                {
                    const int32_t xk = x[k];
                    acc[nb] += (int32_t)w[k] * xk;
                    acc[nb + 1] += (int32_t)w[cols + k] * xk;
                    acc[nb + 2] += (int32_t)w[2 * cols + k] * xk;
                    acc[nb + 3] += (int32_t)w[3 * cols + k] * xk;
                }
                w += 4 * cols;
            }
            for (k = 0; k < nb; ++k)
            {
                y[r0 + k] = (int16_t)requant16(acc[k], mult[r0 + k], shift[r0 + k]);
            }
        }
#endif
        while (r + 3 <= rows)
        {
            const int32_t r0 = r;
            int32_t nb = 0;
            int32_t k;
            for (; r + 3 <= rows && nb + 3 <= RNN_S8_BLOCK; r += 3, nb += 3)
            {
                /* whole words over the last partial one too where x is split (zero there)
                 * and the bytes read past row r + 2 lie in row r + 3 */
                const int32_t nr = xs && r + 3 < rows ? ne : n;
                rows3_dsp(cols, nr, w, x, xs, offset + r, acc + nb);
                w += 3 * cols;
            }
            for (k = 0; k < nb; ++k)
            {
                y[r0 + k] = (int16_t)requant16(acc[k], mult[r0 + k], shift[r0 + k]);
            }
        }
    }
    for (; r < rows; ++r)
    {
        const int32_t acc = dot1_dsp(cols, w, x) + offset[r];
        y[r] = (int16_t)requant16(acc, mult[r], shift[r]);
        w += cols;
    }
#else
    for (; r < rows; ++r)
    {
        const int32_t acc = dot_s8(w + (int32_t)r * cols, x, cols) + offset[r];
        y[r] = (int16_t)requant16(acc, mult[r], shift[r]);
    }
#endif
}

/* Refer to header file for details. */
void rnn_mat_vec_s8_sums(int32_t rows, int32_t cols, const int8_t *w, const int32_t *offset,
                         const int8_t *x, int32_t *acc)
{
    int32_t r = 0;

#if defined(RNN_S8_MVE)
    if (cols >= 16)
    {
        const int32_t done = ((cols - 1) >> 4) << 4;
        const int8x16_t xt =
            vpselq_s8(vldrbq_s8(x + cols - 16), vdupq_n_s8(0),
                      vcmpcsq_n_u8(vidupq_n_u8(0, 1), (uint8_t)(done - (cols - 16))));
        for (; r + 4 <= rows; r += 4)
        {
            dot4_last16_mve(cols, done, w, x, xt, acc + r);
            vstrwq_s32(acc + r, vaddq_s32(vldrwq_s32(acc + r), vldrwq_s32(offset + r)));
            w += 4 * cols;
        }
    }
    for (; r < rows; ++r)
    {
        acc[r] = dot1_mve(cols, w, x) + offset[r];
        w += cols;
    }
#elif defined(RNN_S8_NEON)
    if (cols >= 16)
    {
        const int32_t done = ((cols - 1) >> 4) << 4;
        const int8x16_t xt = last16_neon(cols, done, x);
        for (; r + 8 <= rows; r += 8)
        {
            int32x4_t lo, hi;
            rows8_neon(cols, done, w, x, xt, &lo, &hi);
            vst1q_s32(acc + r, vaddq_s32(lo, vld1q_s32(offset + r)));
            vst1q_s32(acc + r + 4, vaddq_s32(hi, vld1q_s32(offset + r + 4)));
            w += 8 * cols;
        }
        for (; r + 4 <= rows; r += 4)
        {
            vst1q_s32(acc + r, vaddq_s32(rows4_neon(cols, done, w, x, xt),
                                         vld1q_s32(offset + r)));
            w += 4 * cols;
        }
        for (; r < rows; ++r)
        {
            acc[r] = row1_neon(cols, done, w, x, xt) + offset[r];
            w += cols;
        }
    }
    for (; r < rows; ++r)
    {
        acc[r] = dot_s8(w, x, cols) + offset[r];
        w += cols;
    }
#elif defined(RNN_S8_DSP)
    {
        const int32_t n = cols & ~3;
        const int32_t ne = (cols + 3) & ~3;
        int32_t xw[RNN_S8_XW / 2];
        const int32_t *xs = ne <= RNN_S8_XW ? xw : 0;
        if (xs)
        {
            split_x(cols, x, xw);
        }
#if defined(RNN_S8_DSP4)
        for (; xs && r + 4 <= rows; r += 4)
        {
            const int32_t nr = r + 4 < rows ? ne : n;
            int32_t k;
            rows4_dsp(cols, nr >> 2, w, xs, offset + r, acc + r);
            for (k = nr; k < cols; ++k)
            {
                const int32_t xk = x[k];
                acc[r] += (int32_t)w[k] * xk;
                acc[r + 1] += (int32_t)w[cols + k] * xk;
                acc[r + 2] += (int32_t)w[2 * cols + k] * xk;
                acc[r + 3] += (int32_t)w[3 * cols + k] * xk;
            }
            w += 4 * cols;
        }
#endif
        for (; r + 3 <= rows; r += 3)
        {
            rows3_dsp(cols, xs && r + 3 < rows ? ne : n, w, x, xs, offset + r, acc + r);
            w += 3 * cols;
        }
    }
    for (; r < rows; ++r)
    {
        acc[r] = dot1_dsp(cols, w, x) + offset[r];
        w += cols;
    }
#else
    for (; r < rows; ++r)
    {
        acc[r] = dot_s8(w, x, cols) + offset[r];
        w += cols;
    }
#endif
}
