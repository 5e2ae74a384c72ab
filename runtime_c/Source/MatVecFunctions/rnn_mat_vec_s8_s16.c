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
 *   scalar tail). Narrow inputs (cols < 16, sensors of a few channels) take one 16-byte load
 *   per row from the row's start against x zero-padded to 16 lanes: the load runs on into
 *   the row's padding and the next rows, whose weights meet zero lanes; the last
 *   ceil(16 / stride) - 1 rows, whose load would pass the matrix's end, are plain C. Groups
 *   of four rows are requantized as one vector (SMULL, UZP2 for the high words, SRSHL,
 *   SQXTN).
 * - Helium (Cortex-M55, __ARM_FEATURE_MVE): four rows per pass share each 16-byte load of x,
 *   VMLADAVA accumulates 16 products per instruction; with cols >= 16 the last 16 columns are
 *   one more pass over w[cols - 16 .. cols - 1] with the columns already done zeroed in x
 *   (as NEON below), else one predicated pass (no scalar tail); the four rows are
 *   requantized as one vector.
 * - DSP extension (Cortex-M4/M7, __ARM_FEATURE_DSP): x is split once per call into int16
 *   pairs (SXTB16; one row at a time with x split word by word where x is wider than
 *   RNN_S8_XW); each row's word of weights is split likewise and SMLAD does two
 *   multiply-adds per instruction. Two rows per pass in assembly: one LDM of four x words
 *   and one LDRD of two weight words per row per 8 columns (word-aligned rows: the stored
 *   row stride, RNN_S8_STRIDE, makes every row a whole number of words, so there is no
 *   column tail either).
 * Weight rows are RNN_S8_STRIDE(cols) bytes apart (zero after the last column); the Helium
 * and plain paths read only the first cols bytes of each, the NEON one too for cols >= 16
 * (narrower rows: see above; every load stays inside the matrix's rows * stride bytes).
 * - plain C99 elsewhere.
 * rnn_mat_vec_s8_sums gives the same paths' int32 sums without requantization (for
 * rnn_mat_vec_s8, the int8-output kernel).
 * Requantization: when shift <= -2 (a right shift by more than 32 bits, the usual case for
 * gate pre-activations) round(acc * mult * 2^(shift - 31)) half up equals
 * (hi + 2^(s - 1)) >> s, with hi the high word of the 64-bit product and s = -1 - shift >= 1:
 * floor((p + 2^(31 + s)) / 2^(32 + s)) = floor((floor(p / 2^32) + 2^(s - 1)) / 2^s), exactly;
 * and that is ((hi >> (s - 1)) + 1) >> 1 (floor((floor(a) + 1) / 2) = floor((a + 1) / 2)).
 * When shift is -1 .. 29 and a = acc 2^(shift + 1) is exact, the same rounding is
 * (a mult + 2^31) >> 32 (one 64-bit product; numerator and denominator times 2^(shift + 1));
 * only rows where neither form applies take the general 64-bit shift. NEON and Helium
 * requantize four rows as one vector with either form per lane (RSHRN #32 / VRMULH for the
 * second).
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
        /* (hi + 2^(s - 1)) >> s computed as ((hi >> (s - 1)) + 1) >> 1, the same value, with
         * hi >> (s - 1) as (2 hi) >> s and s = -1 - shift = ~shift (|hi| < 2^30: |acc| and
         * |mult| < 2^31, so 2 hi fits; -2 - shift is no Thumb-2 immediate operand, ~shift is
         * one MVN) */
        const int32_t hi = (int32_t)(((int64_t)acc * (int64_t)mult) >> 32);
        const int32_t t = ((int32_t)((uint32_t)hi << 1) >> ~shift) + 1;
        return SAT16(t >> 1);
    }
    if (shift <= 29)
    {
        /* shift -1 .. 29 (30 takes the general form: no shift of a signed word by 31), k =
         * shift + 1: with a = acc 2^k exact (acc's top k + 1 bits all
         * equal), (a mult + 2^31) >> 32 is the same rounding (numerator and denominator of
         * (p + 2^(30 - shift)) / 2^(31 - shift) times 2^k), below 2^30 in magnitude: one
         * 64-bit product, no variable 64-bit shift (SMMULR on the DSP cores) */
        const int32_t k = shift + 1;
        const int32_t a = (int32_t)((uint32_t)acc << k);
        if ((a >> k) == acc)
        {
            return SAT16((int32_t)(((int64_t)a * (int64_t)mult + INT64_C(0x80000000)) >> 32));
        }
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
static void dot4_mve(int32_t ld, int32_t cols, const int8_t *w, const int8_t *x, int32_t *acc)
{
    const int8_t *w1 = w + ld;
    const int8_t *w2 = w1 + ld;
    const int8_t *w3 = w2 + ld;
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
 * (xt: x's last 16 with the columns before `done` zeroed). Inlined: as a call its eight
 * arguments cost more than the row stride saves (measured on the M55). */
static inline __attribute__((always_inline)) void dot4_last16_mve(int32_t ld, int32_t cols,
                                                                   int32_t done, const int8_t *w,
                                                                   const int8_t *x, int8x16_t xt,
                                                                   int32_t *acc)
{
    const int8_t *w1 = w + ld;
    const int8_t *w2 = w1 + ld;
    const int8_t *w3 = w2 + ld;
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

/* Four rows whose shifts are mixed (some -1 .. 29): lanes with shift <= -2 as the all-low
 * case (VMULH, VRSHL by 1 + shift), the others by requant16's second form, a = acc 2^k with
 * k = shift + 1 when exact (shifted back it is acc again), then VRMULH (a mult + 2^31) >> 32;
 * selected per lane, saturated to int16. Returns 0 (nothing written) when some lane's a is
 * not exact or a shift passes 29. */
static int requant4_mixed_mve(int32x4_t a, int32x4_t m, int32x4_t sh, int16_t *y)
{
    const mve_pred16_t low = vcmpleq_n_s32(sh, -2);
    const int32x4_t k = vaddq_n_s32(sh, 1);
    const int32x4_t s = vshlq_s32(a, k);
    const mve_pred16_t same = vcmpeqq_s32(vshlq_s32(s, vnegq_s32(k)), a);
    int32x4_t q;
    if ((mve_pred16_t)(low | same) != 0xFFFF || vmaxvq_s32(INT32_MIN, sh) > 29)
    {
        return 0;
    }
    q = vpselq_s32(vrshlq_s32(vmulhq_s32(a, m), k), vrmulhq_s32(s, m), low);
    vstrhq_s32(y, vmaxq_s32(vminq_s32(q, vdupq_n_s32(32767)), vdupq_n_s32(-32768)));
    return 1;
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
static void rows8_neon(int32_t ld, int32_t cols, int32_t done, const int8_t *w,
                       const int8_t *x, int8x16_t xt, int32x4_t *lo, int32x4_t *hi)
{
    const int8_t *w0 = w;
    const int8_t *w1 = w0 + ld;
    const int8_t *w2 = w1 + ld;
    const int8_t *w3 = w2 + ld;
    const int8_t *w4 = w3 + ld;
    const int8_t *w5 = w4 + ld;
    const int8_t *w6 = w5 + ld;
    const int8_t *w7 = w6 + ld;
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
static int32x4_t rows4_neon(int32_t ld, int32_t cols, int32_t done, const int8_t *w,
                            const int8_t *x, int8x16_t xt)
{
    const int8_t *w0 = w;
    const int8_t *w1 = w0 + ld;
    const int8_t *w2 = w1 + ld;
    const int8_t *w3 = w2 + ld;
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

/* cols < 16: x in lanes 0 .. cols - 1 of a vector whose other lanes are zero. Each row is
 * then one 16-byte load from its start (rows8_neon and the others with cols 16, done 0): the
 * load runs on into the row's zero padding and the rows after it, whose weights meet the zero
 * lanes. */
static int8x16_t narrow_x_neon(int32_t cols, const int8_t *x)
{
    int8_t xb[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    int32_t j;
    for (j = 0; j < cols; ++j)
    {
        xb[j] = x[j];
    }
    return vld1q_s8(xb);
}

/* cols < 16: the rows whose 16-byte load ends inside the matrix (rows * ld bytes); the last
 * ceil(16 / ld) - 1 rows are left to the plain C loop */
static int32_t narrow_rows(int32_t rows, int32_t ld)
{
    return rows - (16 + ld - 1) / ld + 1;
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
        return;
    }
    if (vmaxvq_s32(sh) <= 29)
    {
        /* lanes with shifts -1 .. 29 (requant16's second form, the others as above): a = acc
         * 2^k, k = shift + 1, when exact (shifted back it is acc again), then
         * (a mult + 2^31) >> 32 by SMULL and a rounding narrowing shift (RSHRN #32) */
        const uint32x4_t low = vcleq_s32(sh, vdupq_n_s32(-2));
        const int32x4_t k = vaddq_s32(sh, vdupq_n_s32(1));
        const int32x4_t s = vshlq_s32(a, k);
        if (vminvq_u32(vorrq_u32(low, vceqq_s32(vshlq_s32(s, vnegq_s32(k)), a))) != 0)
        {
            const int32x4_t m = vld1q_s32(mult);
            const int64x2_t p0 = vmull_s32(vget_low_s32(a), vget_low_s32(m));
            const int64x2_t p1 = vmull_high_s32(a, m);
            const int32x4_t h = vrshlq_s32(
                vuzp2q_s32(vreinterpretq_s32_s64(p0), vreinterpretq_s32_s64(p1)), k);
            const int64x2_t q0 = vmull_s32(vget_low_s32(s), vget_low_s32(m));
            const int64x2_t q1 = vmull_high_s32(s, m);
            const int32x4_t g = vcombine_s32(vrshrn_n_s64(q0, 32), vrshrn_n_s64(q1, 32));
            vst1_s16(y, vqmovn_s32(vbslq_s32(low, h, g)));
            return;
        }
    }
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
#define RNN_S8_XW 512

/* rows whose sums wait in a stack buffer for their requantization (even) */
#define RNN_S8_BLOCK 64

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

/* one row over `words` words, x split beforehand (the padding columns are zero in both) */
static int32_t dot_split_dsp(int32_t words, const int8_t *w, const int32_t *xw)
{
    int32_t a = 0;
    int32_t k;
    for (k = 0; k < words; ++k)
    {
        const int32_t v = load_s8x4(w);
        a = __smlad(__sxtb16(v), xw[0], a);
        a = __smlad(sxtb16_hi(v), xw[1], a);
        w += 4;
        xw += 2;
    }
    return a;
}

/* one row, x split word by word here (inputs wider than RNN_S8_XW columns) */
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

#if defined(__GNUC__) && defined(__thumb2__) && defined(__OPTIMIZE__)
#define RNN_S8_DSP2 1
/* one word of weights (v: 4 columns) of one row into a: (x0, x2), (x1, x3) in xe, xo */
#define RNN_DOT_WORD(a, v, xe, xo)                                                             \
    "sxtb16 %[t], %[" v "]\n\t"                                                                \
    "smlad %[" a "], %[t], %[" xe "], %[" a "]\n\t"                                            \
    "sxtb16 %[" v "], %[" v "], ror #8\n\t"                                                    \
    "smlad %[" a "], %[" v "], %[" xo "], %[" a "]\n\t"
/* two words (8 columns) of two rows: one LDM of the four split x words, one LDRD per row */
#define RNN_DOT2_DWORD                                                                         \
    "ldm %[xw]!, {%[x0], %[x1], %[x2], %[x3]}\n\t"                                             \
    "ldrd %[v0], %[v1], [%[w0]], #8\n\t" RNN_DOT_WORD("a0", "v0", "x0", "x1")                  \
        RNN_DOT_WORD("a0", "v1", "x2", "x3") "ldrd %[v0], %[v1], [%[w1]], #8\n\t"              \
            RNN_DOT_WORD("a1", "v0", "x0", "x1") RNN_DOT_WORD("a1", "v1", "x2", "x3")
/* one word (4 columns) of two rows */
#define RNN_DOT2_WORD                                                                          \
    "ldrd %[x0], %[x1], [%[xw]], #8\n\t"                                                       \
    "ldr %[v0], [%[w0]], #4\n\t"                                                               \
    "ldr %[v1], [%[w1]], #4\n\t" RNN_DOT_WORD("a0", "v0", "x0", "x1")                          \
        RNN_DOT_WORD("a1", "v1", "x0", "x1")

/* acc[r] = offset[r] + row r of w . x for the rows 0 .. 2 pairs - 1, x split beforehand
 * (xw, `words` words of 4 columns), rows `ld` bytes apart (a multiple of 4, w word-aligned:
 * LDRD needs it). Each pass reads 8 columns of two rows: one LDM of four x words (their
 * registers pinned so that LDM's ascending order is the words' order) and one LDRD of two
 * weight words per row, 19 instructions per 16 multiply-adds; the loop is assembly (two
 * passes, SUBS, BNE: 40 instructions per 32 multiply-adds, against 86 per 64 for four rows
 * with one LDR per word). Kept out of line: inlined, the pinned registers make GCC spill in
 * its caller. */
/* The pair loop, all in assembly: for each pair of rows, a0, a1 = the next two offsets,
 * k passes of 16 columns (when k0 > 0), then TAIL (the last 8 and/or 4 columns), the sums
 * stored, w0 and w1 moved on to the next pair (row 0 of a pair ends where row 1 starts, row
 * 1 where the next pair starts). Thirteen values live in registers through the loop; the
 * per-pair values (offset and acc pointers, counts, x, the stride) are memory operands. */
#define RNN_PAIRS_DSP(TAIL)                                                                    \
    __asm__ volatile("2:\n\t"                                                                  \
                     "ldr %[t], %[offp]\n\t"                                                   \
                     "ldrd %[a0], %[a1], [%[t]], #8\n\t"                                       \
                     "str %[t], %[offp]\n\t"                                                   \
                     "ldr %[xw], %[xw0]\n\t"                                                   \
                     "ldr %[k], %[k0]\n\t"                                                     \
                     "cmp %[k], #0\n\t"                                                        \
                     "beq 3f\n\t"                                                              \
                     "1:\n\t" RNN_DOT2_DWORD RNN_DOT2_DWORD                                    \
                     "subs %[k], %[k], #1\n\t"                                                 \
                     "bne 1b\n\t"                                                              \
                     "3:\n\t" TAIL                                                             \
                     "ldr %[t], %[accp]\n\t"                                                   \
                     "strd %[a0], %[a1], [%[t]], #8\n\t"                                       \
                     "str %[t], %[accp]\n\t"                                                   \
                     "mov %[w0], %[w1]\n\t"                                                    \
                     "ldr %[t], %[ldm]\n\t"                                                    \
                     "add %[w1], %[w1], %[t]\n\t"                                              \
                     "ldr %[t], %[np]\n\t"                                                     \
                     "subs %[t], %[t], #1\n\t"                                                 \
                     "str %[t], %[np]\n\t"                                                     \
                     "bne 2b\n\t"                                                              \
                     : [a0] "=&r"(a0), [a1] "=&r"(a1), [w0] "+&r"(w0), [w1] "+&r"(w1),         \
                       [xw] "=&r"(xw), [k] "=&r"(k), [x0] "=&r"(x0), [x1] "=&r"(x1),           \
                       [x2] "=&r"(x2), [x3] "=&r"(x3), [v0] "=&r"(v0), [v1] "=&r"(v1),         \
                       [t] "=&r"(t), [offp] "+m"(offp), [accp] "+m"(accp), [np] "+m"(np)       \
                     : [xw0] "m"(xw0), [k0] "m"(k0), [ldm] "m"(ld)                             \
                     : "cc", "memory")

/* acc[r] = offset[r] + row r of w . x for the rows 0 .. 2 pairs - 1 (pairs >= 1), x split
 * beforehand (xw0, ld / 4 words of 4 columns), rows `ld` bytes apart (a multiple of 4, w
 * word-aligned: LDRD needs it), two rows per pass. Each pass reads 8 columns of the two
 * rows: one LDM of four x words (their registers pinned so that LDM's ascending order is
 * the words' order) and one LDRD of two weight words per row, 19 instructions per 16
 * multiply-adds; 40 per 32 with SUBS, BNE, and 17 per pair of rows around them (against 86
 * per 64 multiply-adds for four rows with one LDR per word, and a call per group). */
static RNN_NOINLINE void pairs_dsp(int32_t ld, int32_t pairs, const int8_t *w,
                                   const int32_t *xw0, const int32_t *offset, int32_t *acc)
{
    register int32_t x0 __asm__("r8");
    register int32_t x1 __asm__("r9");
    register int32_t x2 __asm__("r10");
    register int32_t x3 __asm__("r11");
    const int32_t words = ld >> 2;
    const int32_t k0 = words >> 2;
    const int32_t *offp = offset;
    int32_t *accp = acc;
    int32_t np = pairs;
    const int8_t *w0 = w;
    const int8_t *w1 = w + ld;
    const int32_t *xw;
    int32_t a0, a1, k, v0, v1, t;
    switch (words & 3)
    {
    case 0:
        RNN_PAIRS_DSP("");
        break;
    case 1:
        RNN_PAIRS_DSP(RNN_DOT2_WORD);
        break;
    case 2:
        RNN_PAIRS_DSP(RNN_DOT2_DWORD);
        break;
    default:
        RNN_PAIRS_DSP(RNN_DOT2_DWORD RNN_DOT2_WORD);
        break;
    }
}
#undef RNN_PAIRS_DSP
#undef RNN_DOT2_WORD
#undef RNN_DOT2_DWORD
#undef RNN_DOT_WORD
#endif

#endif

/* Refer to header file for details. */
void rnn_mat_vec_s8_s16(int32_t rows, int32_t cols, const int8_t *w, const int32_t *offset,
                        const int32_t *mult, const int32_t *shift, const int8_t *x, int16_t *y)
{
    const int32_t ld = RNN_S8_STRIDE(cols);
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
            dot4_last16_mve(ld, cols, done, w + (int32_t)r * ld, x, xt, acc);
        }
        else
        {
            dot4_mve(ld, cols, w + (int32_t)r * ld, x, acc);
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
        else if (!requant4_mixed_mve(vaddq_s32(vldrwq_s32(acc), vldrwq_s32(offset + r)),
                                     vldrwq_s32(mult + r), sh, y + r))
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
        const int32_t acc = dot1_mve(cols, w + (int32_t)r * ld, x) + offset[r];
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
            rows8_neon(ld, cols, done, w, x, xt, &lo, &hi);
            requant4_neon(lo, offset + r, mult + r, shift + r, y + r);
            requant4_neon(hi, offset + r + 4, mult + r + 4, shift + r + 4, y + r + 4);
            w += 8 * ld;
        }
        for (; r + 4 <= rows; r += 4)
        {
            requant4_neon(rows4_neon(ld, cols, done, w, x, xt), offset + r, mult + r,
                          shift + r, y + r);
            w += 4 * ld;
        }
        for (; r < rows; ++r)
        {
            y[r] = (int16_t)requant16(row1_neon(cols, done, w, x, xt) + offset[r], mult[r],
                                      shift[r]);
            w += ld;
        }
    }
    else
    {
        /* narrow inputs (cols < 16): one 16-byte load per row against x zero-padded */
        const int8x16_t xt = narrow_x_neon(cols, x);
        const int32_t safe = narrow_rows(rows, ld);
        for (; r + 8 <= safe; r += 8)
        {
            int32x4_t lo, hi;
            rows8_neon(ld, 16, 0, w, x, xt, &lo, &hi);
            requant4_neon(lo, offset + r, mult + r, shift + r, y + r);
            requant4_neon(hi, offset + r + 4, mult + r + 4, shift + r + 4, y + r + 4);
            w += 8 * ld;
        }
        for (; r + 4 <= safe; r += 4)
        {
            requant4_neon(rows4_neon(ld, 16, 0, w, x, xt), offset + r, mult + r, shift + r,
                          y + r);
            w += 4 * ld;
        }
    }
    for (; r < rows; ++r)
    {
        y[r] = (int16_t)requant16(dot_s8(w, x, cols) + offset[r], mult[r], shift[r]);
        w += ld;
    }
#elif defined(RNN_S8_DSP)
    if (ld <= RNN_S8_XW)
    {
        /* x split once; whole words of every row (the padding columns are zero) */
        int32_t xw[RNN_S8_XW / 2];
        const int32_t words = ld >> 2;
        split_x(cols, x, xw);
#if defined(RNN_S8_DSP2)
        /* blocks of up to RNN_S8_BLOCK rows: their sums, then their requantization */
        while (((uintptr_t)w & 3) == 0 && r + 2 <= rows)
        {
            int32_t acc[RNN_S8_BLOCK];
            const int32_t nb = rows - r < RNN_S8_BLOCK ? (rows - r) & ~1 : RNN_S8_BLOCK;
            int32_t k;
            pairs_dsp(ld, nb >> 1, w, xw, offset + r, acc);
            for (k = 0; k < nb; ++k)
            {
                y[r + k] = (int16_t)requant16(acc[k], mult[r + k], shift[r + k]);
            }
            r += nb;
            w += nb * ld;
        }
#endif
        for (; r < rows; ++r)
        {
            y[r] = (int16_t)requant16(dot_split_dsp(words, w, xw) + offset[r], mult[r],
                                      shift[r]);
            w += ld;
        }
    }
    for (; r < rows; ++r)
    {
        y[r] = (int16_t)requant16(dot1_dsp(cols, w, x) + offset[r], mult[r], shift[r]);
        w += ld;
    }
#else
    for (; r < rows; ++r)
    {
        const int32_t acc = dot_s8(w + (int32_t)r * ld, x, cols) + offset[r];
        y[r] = (int16_t)requant16(acc, mult[r], shift[r]);
    }
#endif
}

/* Refer to header file for details. */
void rnn_mat_vec_s8_sums(int32_t rows, int32_t cols, const int8_t *w, const int32_t *offset,
                         const int8_t *x, int32_t *acc)
{
    const int32_t ld = RNN_S8_STRIDE(cols);
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
            dot4_last16_mve(ld, cols, done, w, x, xt, acc + r);
            vstrwq_s32(acc + r, vaddq_s32(vldrwq_s32(acc + r), vldrwq_s32(offset + r)));
            w += 4 * ld;
        }
    }
    for (; r < rows; ++r)
    {
        acc[r] = dot1_mve(cols, w, x) + offset[r];
        w += ld;
    }
#elif defined(RNN_S8_NEON)
    if (cols >= 16)
    {
        const int32_t done = ((cols - 1) >> 4) << 4;
        const int8x16_t xt = last16_neon(cols, done, x);
        for (; r + 8 <= rows; r += 8)
        {
            int32x4_t lo, hi;
            rows8_neon(ld, cols, done, w, x, xt, &lo, &hi);
            vst1q_s32(acc + r, vaddq_s32(lo, vld1q_s32(offset + r)));
            vst1q_s32(acc + r + 4, vaddq_s32(hi, vld1q_s32(offset + r + 4)));
            w += 8 * ld;
        }
        for (; r + 4 <= rows; r += 4)
        {
            vst1q_s32(acc + r, vaddq_s32(rows4_neon(ld, cols, done, w, x, xt),
                                         vld1q_s32(offset + r)));
            w += 4 * ld;
        }
        for (; r < rows; ++r)
        {
            acc[r] = row1_neon(cols, done, w, x, xt) + offset[r];
            w += ld;
        }
    }
    else
    {
        /* narrow inputs (cols < 16), as in rnn_mat_vec_s8_s16 */
        const int8x16_t xt = narrow_x_neon(cols, x);
        const int32_t safe = narrow_rows(rows, ld);
        for (; r + 8 <= safe; r += 8)
        {
            int32x4_t lo, hi;
            rows8_neon(ld, 16, 0, w, x, xt, &lo, &hi);
            vst1q_s32(acc + r, vaddq_s32(lo, vld1q_s32(offset + r)));
            vst1q_s32(acc + r + 4, vaddq_s32(hi, vld1q_s32(offset + r + 4)));
            w += 8 * ld;
        }
        for (; r + 4 <= safe; r += 4)
        {
            vst1q_s32(acc + r, vaddq_s32(rows4_neon(ld, 16, 0, w, x, xt),
                                         vld1q_s32(offset + r)));
            w += 4 * ld;
        }
    }
    for (; r < rows; ++r)
    {
        acc[r] = dot_s8(w, x, cols) + offset[r];
        w += ld;
    }
#elif defined(RNN_S8_DSP)
    if (ld <= RNN_S8_XW)
    {
        int32_t xw[RNN_S8_XW / 2];
        const int32_t words = ld >> 2;
        split_x(cols, x, xw);
#if defined(RNN_S8_DSP2)
        if (((uintptr_t)w & 3) == 0 && rows >= 2)
        {
            pairs_dsp(ld, rows >> 1, w, xw, offset, acc);
            r = rows & ~1;
            w += r * ld;
        }
#endif
        for (; r < rows; ++r)
        {
            acc[r] = dot_split_dsp(words, w, xw) + offset[r];
            w += ld;
        }
    }
    for (; r < rows; ++r)
    {
        acc[r] = dot1_dsp(cols, w, x) + offset[r];
        w += ld;
    }
#else
    for (; r < rows; ++r)
    {
        acc[r] = dot_s8(w, x, cols) + offset[r];
        w += ld;
    }
#endif
}

#if defined(RNN_S8_DSP)
/* Refer to header file for details. (Cortex-M4/M7 only: the int16-activation kernel's DSP
 * path; elsewhere not compiled, so no other build carries it.) */
void rnn_mat_vec_s8_sums_split(int32_t rows, int32_t cols, const int8_t *w,
                               const int32_t *offset, const int32_t *xw, int32_t *acc)
{
    const int32_t ld = RNN_S8_STRIDE(cols);
    const int32_t words = ld >> 2;
    int32_t r = 0;
#if defined(RNN_S8_DSP2)
    if (((uintptr_t)w & 3) == 0 && rows >= 2)
    {
        pairs_dsp(ld, rows >> 1, w, xw, offset, acc);
        r = rows & ~1;
        w += r * ld;
    }
#endif
    for (; r < rows; ++r)
    {
        acc[r] = dot_split_dsp(words, w, xw) + offset[r];
        w += ld;
    }
}
#endif
