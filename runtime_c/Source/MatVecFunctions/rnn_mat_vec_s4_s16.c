/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_mat_vec_s4_s16.c
 * Description: int4 matrix (packed two weights per byte) times int8 vector, int32
 *              accumulation, each row requantized to int16 (a gate pre-activation in Q3.12):
 *              y[r] = sat16(rq(W[r] . x + offset[r])); and rnn_mat_vec_s4_sums, the sums
 *              before requantization (for rnn_mat_vec_s4, the int8-output kernel).
 *
 * Storage (docs/int8.md, "Precision per layer"): weights in [-7, 7]; byte k of a row holds
 * columns 2k (low nibble, stored as w + 8: 1..15) and 2k + 1 (high nibble, two's complement),
 * so the byte read as int8 is B = 16 w[2k + 1] + w[2k] + 8. Rows are RNN_S4_STRIDE(cols)
 * bytes apart (a whole number of words; zero weights, byte 0x08, after the last column).
 * Decoding: u = B & 15 = w[2k] + 8, h = (B - u) / 16 = w[2k + 1].
 *
 * Integer sums are exact in any order, so every path gives the plain C loop's results bit for
 * bit (quant.py defines them):
 * - NEON (AArch64, __ARM_NEON): x split once per call into its even and odd columns (xe, xo);
 *   per 16 bytes of a row u = B AND 15 and h = B >> 4 (two instructions), then u . xe and
 *   h . xo as the int8 kernel's SMULL + SMLAL2 + SADALP; four rows per pass share the loads
 *   of xe and xo. The sum of u . xe exceeds the true one by 8 sum(xe), subtracted once per row.
 * - Helium (Cortex-M55, __ARM_FEATURE_MVE): the same split; per 16 bytes of a row VAND, VSHR
 *   and two VMLADAVA (32 multiply-adds); four rows per pass; the last bytes predicated.
 * - DSP extension (Cortex-M4/M7, __ARM_FEATURE_DSP): x split once per call into int16 pairs
 *   so that no nibble needs its own sign extension: for a word of weights (8 columns), SXTB16
 *   of the word gives the bytes B0, B2 (B1, B3 with ROR #8) and SXTB16 of the word AND
 *   0xF0F0F0F0 gives 16 h0, 16 h2 (16 h1, 16 h3); against the pairs (16 x0, 16 x4) and
 *   (x1 - 16 x0, x5 - 16 x4) (and likewise for columns 2, 3, 6, 7) four SMLAD give
 *   16 (w0 x0 + w1 x1 + ... + w7 x7) + 128 (x0 + x2 + x4 + x6). The constant part is
 *   subtracted once per row and the rest divided by 16, exactly. Two rows per pass in
 *   assembly: one LDM of four x words per 8 columns shared by the two rows, one LDR of a
 *   weight word per row (9 instructions per 8 multiply-adds of a row besides the loads).
 *   The 16-fold sum must fit int32: quant.check_accumulator_s4 proves it at build time.
 * - plain C99 elsewhere.
 */

#include "rnn_nnfunctions.h"
#include "rnn_nn_support.h"

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
#include <arm_mve.h>
#define RNN_S4_MVE 1
#elif defined(__ARM_NEON) && defined(__aarch64__)
#include <arm_neon.h>
#define RNN_S4_NEON 1
#elif defined(__ARM_FEATURE_DSP) && defined(__ARM_FEATURE_SIMD32)
#include <arm_acle.h>
#include <string.h>
#define RNN_S4_DSP 1
#endif

/* widest input the split paths take (x split on the stack); wider inputs use plain C */
#define RNN_S4_XW 1024

/* rows whose sums rnn_mat_vec_s4_s16 keeps on the stack before requantizing them */
#define RNN_S4_BLOCK 64

/* sum over one row of W[r][j] x[j], plain C (any column range of whole bytes) */
static int32_t dot_s4(const int8_t *w, const int8_t *x, int32_t cols)
{
    int32_t acc = 0;
    int32_t j;
    for (j = 0; j + 1 < cols; j += 2)
    {
        const int32_t b = (int32_t)w[j >> 1];
        const int32_t u = b & 15;
        acc += (u - 8) * (int32_t)x[j] + ((b - u) / 16) * (int32_t)x[j + 1];
    }
    if (j < cols)
    {
        acc += (((int32_t)w[j >> 1] & 15) - 8) * (int32_t)x[j];
    }
    return acc;
}

#if defined(RNN_S4_MVE) || defined(RNN_S4_NEON)
/* x split into even and odd columns, zero after the last; returns sum(xe) */
static int32_t split_eo(int32_t cols, int32_t n, const int8_t *x, int8_t *xe, int8_t *xo)
{
    int32_t s = 0;
    int32_t k;
    for (k = 0; k < n; ++k)
    {
        const int32_t j = 2 * k;
        xe[k] = j < cols ? x[j] : 0;
        xo[k] = j + 1 < cols ? x[j + 1] : 0;
        s += xe[k];
    }
    return s;
}
#endif

#if defined(RNN_S4_MVE)
static void sums_mve(int32_t rows, int32_t cols, const int8_t *w, const int32_t *offset,
                     const int8_t *x, int32_t *acc)
{
    const int32_t ld = RNN_S4_STRIDE(cols);
    const int32_t full = ld & ~15;
    int8_t xe[RNN_S4_XW / 2 + 16], xo[RNN_S4_XW / 2 + 16];
    const int32_t corr = 8 * split_eo(cols, ((ld + 15) >> 4) << 4, x, xe, xo);
    const int8x16_t m15 = vdupq_n_s8(15);
    int32_t r = 0;
    for (; r + 4 <= rows; r += 4)
    {
        const int8_t *w0 = w + r * ld;
        const int8_t *w1 = w0 + ld;
        const int8_t *w2 = w1 + ld;
        const int8_t *w3 = w2 + ld;
        int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
        int32_t j;
        int8x16_t b;
        for (j = 0; j < full; j += 16)
        {
            const int8x16_t e = vldrbq_s8(xe + j);
            const int8x16_t o = vldrbq_s8(xo + j);
            b = vldrbq_s8(w0 + j);
            a0 = vmladavaq_s8(vmladavaq_s8(a0, vandq_s8(b, m15), e), vshrq_n_s8(b, 4), o);
            b = vldrbq_s8(w1 + j);
            a1 = vmladavaq_s8(vmladavaq_s8(a1, vandq_s8(b, m15), e), vshrq_n_s8(b, 4), o);
            b = vldrbq_s8(w2 + j);
            a2 = vmladavaq_s8(vmladavaq_s8(a2, vandq_s8(b, m15), e), vshrq_n_s8(b, 4), o);
            b = vldrbq_s8(w3 + j);
            a3 = vmladavaq_s8(vmladavaq_s8(a3, vandq_s8(b, m15), e), vshrq_n_s8(b, 4), o);
        }
        if (j < ld)
        {
            /* the zeroed lanes (u = 0, h = 0) add nothing; xe, xo are zero there too */
            const mve_pred16_t p = vctp8q((uint32_t)(ld - j));
            const int8x16_t e = vldrbq_s8(xe + j);
            const int8x16_t o = vldrbq_s8(xo + j);
            b = vldrbq_z_s8(w0 + j, p);
            a0 = vmladavaq_s8(vmladavaq_s8(a0, vandq_s8(b, m15), e), vshrq_n_s8(b, 4), o);
            b = vldrbq_z_s8(w1 + j, p);
            a1 = vmladavaq_s8(vmladavaq_s8(a1, vandq_s8(b, m15), e), vshrq_n_s8(b, 4), o);
            b = vldrbq_z_s8(w2 + j, p);
            a2 = vmladavaq_s8(vmladavaq_s8(a2, vandq_s8(b, m15), e), vshrq_n_s8(b, 4), o);
            b = vldrbq_z_s8(w3 + j, p);
            a3 = vmladavaq_s8(vmladavaq_s8(a3, vandq_s8(b, m15), e), vshrq_n_s8(b, 4), o);
        }
        acc[r] = a0 - corr + offset[r];
        acc[r + 1] = a1 - corr + offset[r + 1];
        acc[r + 2] = a2 - corr + offset[r + 2];
        acc[r + 3] = a3 - corr + offset[r + 3];
    }
    for (; r < rows; ++r)
    {
        const int8_t *w0 = w + r * ld;
        int32_t a0 = 0;
        int32_t j;
        for (j = 0; j < ld; j += 16)
        {
            const mve_pred16_t p = vctp8q((uint32_t)(ld - j));
            const int8x16_t b = vldrbq_z_s8(w0 + j, p);
            a0 = vmladavaq_s8(vmladavaq_s8(a0, vandq_s8(b, m15), vldrbq_s8(xe + j)),
                              vshrq_n_s8(b, 4), vldrbq_s8(xo + j));
        }
        acc[r] = a0 - corr + offset[r];
    }
}
#endif

#if defined(RNN_S4_NEON)
/* a + u . e + h . o for 16 bytes b of a row (u = b AND 15, h = b >> 4; |u e|, |h o| small
 * enough that two products fit int16) */
static inline int32x4_t dot32_neon(int32x4_t a, int8x16_t b, int8x16_t e, int8x16_t o)
{
    const int8x16_t u = vandq_s8(b, vdupq_n_s8(15));
    const int8x16_t h = vshrq_n_s8(b, 4);
    int16x8_t p = vmull_s8(vget_low_s8(u), vget_low_s8(e));
    p = vmlal_high_s8(p, u, e);
    a = vpadalq_s16(a, p);
    p = vmull_s8(vget_low_s8(h), vget_low_s8(o));
    p = vmlal_high_s8(p, h, o);
    return vpadalq_s16(a, p);
}

static void sums_neon(int32_t rows, int32_t cols, const int8_t *w, const int32_t *offset,
                      const int8_t *x, int32_t *acc)
{
    const int32_t ld = RNN_S4_STRIDE(cols);
    const int32_t full = ld & ~15;
    int8_t xe[RNN_S4_XW / 2 + 16], xo[RNN_S4_XW / 2 + 16];
    /* the vector passes cover bytes 0 .. full - 1 (columns 0 .. 2 full - 1), plain C the rest */
    const int32_t corr = 8 * split_eo(cols, full, x, xe, xo);
    int32_t r = 0;
    for (; r + 4 <= rows; r += 4)
    {
        const int8_t *w0 = w + r * ld;
        const int8_t *w1 = w0 + ld;
        const int8_t *w2 = w1 + ld;
        const int8_t *w3 = w2 + ld;
        int32x4_t a0 = vdupq_n_s32(0), a1 = a0, a2 = a0, a3 = a0;
        int32_t j;
        int32_t t[4];
        for (j = 0; j < full; j += 16)
        {
            const int8x16_t e = vld1q_s8(xe + j);
            const int8x16_t o = vld1q_s8(xo + j);
            a0 = dot32_neon(a0, vld1q_s8(w0 + j), e, o);
            a1 = dot32_neon(a1, vld1q_s8(w1 + j), e, o);
            a2 = dot32_neon(a2, vld1q_s8(w2 + j), e, o);
            a3 = dot32_neon(a3, vld1q_s8(w3 + j), e, o);
        }
        vst1q_s32(t, vpaddq_s32(vpaddq_s32(a0, a1), vpaddq_s32(a2, a3)));
        acc[r] = t[0] - corr + offset[r] + dot_s4(w0 + full, x + 2 * full, cols - 2 * full);
        acc[r + 1] =
            t[1] - corr + offset[r + 1] + dot_s4(w1 + full, x + 2 * full, cols - 2 * full);
        acc[r + 2] =
            t[2] - corr + offset[r + 2] + dot_s4(w2 + full, x + 2 * full, cols - 2 * full);
        acc[r + 3] =
            t[3] - corr + offset[r + 3] + dot_s4(w3 + full, x + 2 * full, cols - 2 * full);
    }
    for (; r < rows; ++r)
    {
        const int8_t *w0 = w + r * ld;
        int32x4_t a0 = vdupq_n_s32(0);
        int32_t j;
        for (j = 0; j < full; j += 16)
        {
            a0 = dot32_neon(a0, vld1q_s8(w0 + j), vld1q_s8(xe + j), vld1q_s8(xo + j));
        }
        acc[r] = vaddvq_s32(a0) - corr + offset[r] +
                 dot_s4(w0 + full, x + 2 * full, cols - 2 * full);
    }
}
#endif

#if defined(RNN_S4_DSP)
/* int16 pair (lo, hi) as one word */
static int32_t pair16(int32_t lo, int32_t hi)
{
    return (int32_t)(((uint32_t)hi << 16) | ((uint32_t)lo & 0xFFFFu));
}

/* x split once per call: per 8 columns c0..c7 the words (16 c0, 16 c4), (c1 - 16 c0,
 * c5 - 16 c4), (16 c2, 16 c6), (c3 - 16 c2, c7 - 16 c6), zero after the last column;
 * returns 128 times the sum of the even columns */
static int32_t split_dsp(int32_t cols, int32_t words, const int8_t *x, int32_t *xw)
{
    int32_t s = 0;
    int32_t g, k;
    for (g = 0; g < words; ++g)
    {
        int32_t c[8];
        for (k = 0; k < 8; ++k)
        {
            c[k] = 8 * g + k < cols ? (int32_t)x[8 * g + k] : 0;
        }
        xw[4 * g] = pair16(16 * c[0], 16 * c[4]);
        xw[4 * g + 1] = pair16(c[1] - 16 * c[0], c[5] - 16 * c[4]);
        xw[4 * g + 2] = pair16(16 * c[2], 16 * c[6]);
        xw[4 * g + 3] = pair16(c[3] - 16 * c[2], c[7] - 16 * c[6]);
        s += c[0] + c[2] + c[4] + c[6];
    }
    return 128 * s;
}

/* SXTB16 of bytes 1 and 3 (SXTB16 with ROR #8: one instruction) */
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

/* one row: the 16-fold sum over `words` words of weights */
static int32_t dot1_dsp(int32_t words, const int8_t *w, const int32_t *xw)
{
    int32_t a = 0;
    int32_t k;
    for (k = 0; k < words; ++k)
    {
        int32_t v, hv;
        memcpy(&v, w + 4 * k, sizeof v);
        hv = (int32_t)((uint32_t)v & 0xF0F0F0F0u);
        a = __smlad(__sxtb16(v), xw[4 * k], a);
        a = __smlad(sxtb16_hi(v), xw[4 * k + 2], a);
        a = __smlad(__sxtb16(hv), xw[4 * k + 1], a);
        a = __smlad(sxtb16_hi(hv), xw[4 * k + 3], a);
    }
    return a;
}

#if defined(__GNUC__) && defined(__thumb2__) && defined(__OPTIMIZE__)
#define RNN_S4_DSP2 1
/* one word of weights (v: 8 columns) of one row into a, x split in x0..x3 */
#define RNN_S4_WORD(a, v)                                                                      \
    "sxtb16 %[t], %[" v "]\n\t"                                                                \
    "smlad %[" a "], %[t], %[x0], %[" a "]\n\t"                                                \
    "sxtb16 %[t], %[" v "], ror #8\n\t"                                                        \
    "smlad %[" a "], %[t], %[x2], %[" a "]\n\t"                                                \
    "and %[" v "], %[" v "], #0xF0F0F0F0\n\t"                                                  \
    "sxtb16 %[t], %[" v "]\n\t"                                                                \
    "smlad %[" a "], %[t], %[x1], %[" a "]\n\t"                                                \
    "sxtb16 %[" v "], %[" v "], ror #8\n\t"                                                    \
    "smlad %[" a "], %[" v "], %[x3], %[" a "]\n\t"
/* 8 columns of two rows: one LDM of the four split x words, one LDR per row */
#define RNN_S4_PAIR                                                                            \
    "ldm %[xw]!, {%[x0], %[x1], %[x2], %[x3]}\n\t"                                             \
    "ldr %[v0], [%[w0]], #4\n\t"                                                               \
    "ldr %[v1], [%[w1]], #4\n\t" RNN_S4_WORD("a0", "v0") RNN_S4_WORD("a1", "v1")

/* the 16-fold sums of two rows (w0, w1: `words` words each, words >= 1), x split in xw */
static void pair_dsp(int32_t words, const int8_t *w0, const int8_t *w1, const int32_t *xw,
                     int32_t *acc)
{
    register int32_t x0 __asm__("r8");
    register int32_t x1 __asm__("r9");
    register int32_t x2 __asm__("r10");
    register int32_t x3 __asm__("r11");
    int32_t a0 = 0, a1 = 0, v0, v1, t;
    int32_t k = words >> 1;
    if (k > 0)
    {
        __asm__ volatile("1:\n\t" RNN_S4_PAIR RNN_S4_PAIR "subs %[k], %[k], #1\n\t"
                                                          "bne 1b\n\t"
                         : [a0] "+&r"(a0), [a1] "+&r"(a1), [w0] "+&r"(w0), [w1] "+&r"(w1),
                           [xw] "+&r"(xw), [k] "+&r"(k), [x0] "=&r"(x0), [x1] "=&r"(x1),
                           [x2] "=&r"(x2), [x3] "=&r"(x3), [v0] "=&r"(v0), [v1] "=&r"(v1),
                           [t] "=&r"(t)
                         :
                         : "cc", "memory");
    }
    if (words & 1)
    {
        __asm__ volatile(RNN_S4_PAIR
                         : [a0] "+&r"(a0), [a1] "+&r"(a1), [w0] "+&r"(w0), [w1] "+&r"(w1),
                           [xw] "+&r"(xw), [x0] "=&r"(x0), [x1] "=&r"(x1), [x2] "=&r"(x2),
                           [x3] "=&r"(x3), [v0] "=&r"(v0), [v1] "=&r"(v1), [t] "=&r"(t)
                         :
                         : "memory");
    }
    acc[0] = a0;
    acc[1] = a1;
}
#undef RNN_S4_PAIR
#undef RNN_S4_WORD
#endif

static void sums_dsp(int32_t rows, int32_t cols, const int8_t *w, const int32_t *offset,
                     const int8_t *x, int32_t *acc)
{
    const int32_t ld = RNN_S4_STRIDE(cols);
    const int32_t words = ld >> 2;
    int32_t xw[RNN_S4_XW / 2];
    const int32_t corr = split_dsp(cols, words, x, xw);
    int32_t r = 0;
#if defined(RNN_S4_DSP2)
    if (((uintptr_t)w & 3) == 0)
    {
        for (; r + 2 <= rows; r += 2)
        {
            pair_dsp(words, w + r * ld, w + (r + 1) * ld, xw, acc + r);
            acc[r] = ((acc[r] - corr) >> 4) + offset[r];
            acc[r + 1] = ((acc[r + 1] - corr) >> 4) + offset[r + 1];
        }
    }
#endif
    for (; r < rows; ++r)
    {
        acc[r] = ((dot1_dsp(words, w + r * ld, xw) - corr) >> 4) + offset[r];
    }
}
#endif

/* Refer to header file for details. */
void rnn_mat_vec_s4_sums(int32_t rows, int32_t cols, const int8_t *w, const int32_t *offset,
                         const int8_t *x, int32_t *acc)
{
    int32_t r;
#if defined(RNN_S4_MVE) || defined(RNN_S4_NEON) || defined(RNN_S4_DSP)
    if (cols <= RNN_S4_XW)
    {
#if defined(RNN_S4_MVE)
        sums_mve(rows, cols, w, offset, x, acc);
#elif defined(RNN_S4_NEON)
        sums_neon(rows, cols, w, offset, x, acc);
#else
        sums_dsp(rows, cols, w, offset, x, acc);
#endif
        return;
    }
#endif
    for (r = 0; r < rows; ++r)
    {
        acc[r] = dot_s4(w + r * RNN_S4_STRIDE(cols), x, cols) + offset[r];
    }
}

/* sat16(rnn_requantize(acc, mult, shift)), as rnn_mat_vec_s8_s16 */
static inline int32_t requant16(int32_t acc, int32_t mult, int32_t shift)
{
    if (shift <= -2)
    {
        const int32_t hi = (int32_t)(((int64_t)acc * (int64_t)mult) >> 32);
        return rnn_sat16(((hi >> (-2 - shift)) + 1) >> 1);
    }
    return rnn_sat16(rnn_requantize(acc, mult, shift));
}

/* Refer to header file for details. */
void rnn_mat_vec_s4_s16(int32_t rows, int32_t cols, const int8_t *w, const int32_t *offset,
                        const int32_t *mult, const int32_t *shift, const int8_t *x, int16_t *y)
{
    int32_t acc[RNN_S4_BLOCK];
    int32_t r;
    for (r = 0; r < rows; r += RNN_S4_BLOCK)
    {
        const int32_t nb = rows - r < RNN_S4_BLOCK ? rows - r : RNN_S4_BLOCK;
        int32_t k;
        rnn_mat_vec_s4_sums(nb, cols, w + r * RNN_S4_STRIDE(cols), offset + r, x, acc);
        for (k = 0; k < nb; ++k)
        {
            y[r + k] = (int16_t)requant16(acc[k], mult[r + k], shift[r + k]);
        }
    }
}
