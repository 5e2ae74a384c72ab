/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_mat_vec_csr_a16_s16.c
 * Description: Sparse (CSR) int8 matrix times int16 vector (int16 activations, w8a16), rows
 *              requantized to int16:
 *              y[r] = sat16(rq64(offset[r] + sum_k values[k] x[col_idx[k]], mult[r], shift[r])).
 *
 * Storage as rnn_mat_vec_csr_s8_s16 (rows padded at build time with zero values to a multiple
 * of RNN_CSR_GROUP (4) entries, codegen/formats/csr.py pad_rows); only x is int16.
 *
 * Sums: int64 always, requantized as CMSIS-NN's arm_nn_requantize_s64 (rnn_requantize_s64,
 * quant.rq64: the multiplier reduced to Q15). A row's sum is at most 127 * 32768 * 65,539
 * entries (uint16 column indices, rows padded by at most 3) + |offset| < 2^47, so it is
 * exact; the products of a step (eight at most, each below 2^22 in magnitude) are summed in
 * int32 first and added to the 64-bit sum once per step, which costs one or two
 * instructions per step over an int32 sum (docs/int8.md, "int16 activations in csr"). The
 * requantization takes 32-bit words where the sum fits int32 and the shift is the usual
 * kind (requant16_s64 below: the same value, one SMULL); otherwise rnn_requantize_s64. The
 * results equal QCsr.forward bit for bit on every path (integer sums are exact in any order).
 * - Helium (Cortex-M55, __ARM_FEATURE_MVE): eight entries per step: VLDRH.U16 (indices), a
 *   gather VLDRH.S16 [x, indices, UXTW #1] of eight int16 x, VLDRB.S16 (values) and
 *   VMLALDAVA.S16 (eight multiply-adds into the row's 64-bit sum); a row of 8k + 4 entries
 *   ends with one step predicated on four lanes.
 * - DSP extension (Cortex-M4/M7, __ARM_FEATURE_DSP): the four values of a group come as one
 *   word, split by SXTB16 into (v0, v2) and (v1, v3); each gathered x (LDRSH) meets its value
 *   in SMLABB / SMLATB (16 x 16 multiply-adds, the value's half chosen), eight entries into
 *   an int32 step sum, then one 64-bit add.
 * - plain C99 elsewhere, four entries per step.
 */

#include <string.h>

#include "rnn_nnfunctions.h"
#include "rnn_nn_support.h"

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
#include <arm_mve.h>
#define RNN_CSR_A16_MVE 1
#elif defined(__ARM_FEATURE_DSP) && defined(__GNUC__)
#include <arm_acle.h>
#define RNN_CSR_A16_DSP 1
#endif

/* Thumb without Helium: the row loop's registers stay out of the sum's loop (as in
 * rnn_mat_vec_csr_s8_s16.c: inlined, GCC spills on Cortex-M4/M7) */
#if defined(__GNUC__) && defined(__thumb__) && !defined(RNN_CSR_A16_MVE)
#define RNN_CSR_A16_NOINLINE __attribute__((noinline))
#else
#define RNN_CSR_A16_NOINLINE
#endif

#if defined(RNN_CSR_A16_DSP)
/* SXTB16 of bytes 1 and 3 (SXTB16 with ROR #8: one instruction) */
static inline int32_t sxtb16_hi(int32_t w)
{
    int32_t r;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(w));
    return r;
}

/* one group into the int32 step sum s: (v0, v2) and (v1, v3) by SXTB16, SMLABB / SMLATB */
#define A16_GROUP4(s, v, c, x)                                                                 \
    do                                                                                         \
    {                                                                                          \
        int32_t w_;                                                                            \
        int32_t v02_;                                                                          \
        int32_t v13_;                                                                          \
        memcpy(&w_, v, sizeof w_); /* one LDR: unaligned loads are allowed on M4/M7 */        \
        v02_ = (int32_t)__sxtb16(w_);                                                          \
        v13_ = sxtb16_hi(w_);                                                                  \
        s = __smlabb(v02_, (x)[(c)[0]], s);                                                    \
        s = __smlabb(v13_, (x)[(c)[1]], s);                                                    \
        s = __smlatb(v02_, (x)[(c)[2]], s);                                                    \
        s = __smlatb(v13_, (x)[(c)[3]], s);                                                    \
    } while (0)
#else
#define A16_GROUP4(s, v, c, x)                                                                 \
    do                                                                                         \
    {                                                                                          \
        s += (int32_t)(v)[0] * (int32_t)(x)[(c)[0]];                                           \
        s += (int32_t)(v)[1] * (int32_t)(x)[(c)[1]];                                           \
        s += (int32_t)(v)[2] * (int32_t)(x)[(c)[2]];                                           \
        s += (int32_t)(v)[3] * (int32_t)(x)[(c)[3]];                                           \
    } while (0)
#endif

/* sum_k v[k] x[c[k]] over n4 groups of four entries, in int64 */
static RNN_CSR_A16_NOINLINE int64_t row_sum(uint32_t n4, const int8_t *v, const uint16_t *c,
                                            const int16_t *x)
{
    int64_t a = 0;
#if defined(RNN_CSR_A16_MVE)
    for (; n4 >= 2; n4 -= 2)
    {
        const int16x8_t xv = vldrhq_gather_shifted_offset_s16(x, vldrhq_u16(c));
        a = vmlaldavaq_s16(a, vldrbq_s16(v), xv);
        v += 2 * RNN_CSR_GROUP;
        c += 2 * RNN_CSR_GROUP;
    }
    if (n4 > 0)
    {
        const mve_pred16_t p = vctp16q(RNN_CSR_GROUP);
        const int16x8_t xv = vldrhq_gather_shifted_offset_z_s16(x, vldrhq_z_u16(c, p), p);
        a = vmlaldavaq_p_s16(a, vldrbq_z_s16(v, p), xv, p);
    }
#else
    /* two groups per step: |s| <= 8 * 127 * 32768 < 2^25 */
    for (; n4 >= 2; n4 -= 2)
    {
        int32_t s = 0;
        A16_GROUP4(s, v, c, x);
        A16_GROUP4(s, v + RNN_CSR_GROUP, c + RNN_CSR_GROUP, x);
        a += s;
        v += 2 * RNN_CSR_GROUP;
        c += 2 * RNN_CSR_GROUP;
    }
    if (n4 > 0)
    {
        int32_t s = 0;
        A16_GROUP4(s, v, c, x);
        a += s;
    }
#endif
    return a;
}

#if defined(__ARM_FEATURE_SAT) && defined(__GNUC__) && !defined(__clang__)
/* SSAT (as rnn_mat_vec_s8_s16.c: GCC 12 types __ssat's result unsigned) */
#define RNN_CSR_A16_SAT16(v) ((int32_t)__builtin_arm_ssat((v), 16))
#elif defined(__ARM_FEATURE_SAT)
#include <arm_acle.h>
#define RNN_CSR_A16_SAT16(v) __ssat((v), 16)
#else
#define RNN_CSR_A16_SAT16(v) rnn_sat16(v)
#endif

#if defined(__GNUC__)
#define RNN_CSR_A16_OUT_OF_LINE __attribute__((noinline))
#else
#define RNN_CSR_A16_OUT_OF_LINE
#endif

/* the general case, out of line so that the common one stays short */
static RNN_CSR_A16_OUT_OF_LINE int32_t requant16_any(int64_t acc, int32_t mult, int32_t shift)
{
    return rnn_sat16(rnn_requantize_s64(acc, mult, shift));
}

/* sat16(rnn_requantize_s64(acc, mult, shift)) (quant.rq64), in 32-bit words where acc fits
 * int32, mult >= 0 and -31 <= shift <= -3 (the usual case): with m15 = (mult + 2^15) >> 16
 * <= 2^15, p = acc m15 and right = 15 - shift >= 18, (p + 2^(right - 1)) >> right =
 * (t + 1) >> 1 for t = floor(p / 2^(right - 1)) (floor((t + 1 + f) / 2) = floor((t + 1) / 2)
 * for 0 <= f < 1). With k = 18 + shift: k >= 0 (shift >= -18): t is the high word of
 * acc (m15 2^k) (k <= 15: m15 2^k <= 2^30; the product exact in 64 bits); k < 0: t is the
 * high word of acc m15 shifted right by -k (a floor of a floor). One SMULL either way (two
 * branches: fewer instructions than selecting k's shifts, measured on M4 and M55).
 * |t| < 2^31 2^15 / 2^17: no int32 saturation. */
static inline int32_t requant16_s64(int64_t acc, int32_t mult, int32_t shift)
{
    const int32_t a = (int32_t)acc;
    if ((int64_t)a == acc && mult >= 0 && shift <= -3 && shift >= -31)
    {
        const int32_t m15 = (int32_t)(((uint32_t)mult + 32768u) >> 16);
        int32_t t;
        if (shift >= -18)
        {
            t = (int32_t)(((int64_t)a * (int64_t)(m15 * ((int32_t)1 << (18 + shift)))) >> 32);
        }
        else
        {
            t = (int32_t)(((int64_t)a * (int64_t)m15) >> 32) >> (-18 - shift);
        }
        return RNN_CSR_A16_SAT16((t + 1) >> 1);
    }
    return requant16_any(acc, mult, shift);
}

/* Refer to header file for details. */
void rnn_mat_vec_csr_a16_s16(int32_t rows, const int8_t *values, const uint16_t *col_idx,
                             const int32_t *row_ptr, const int32_t *offset, const int32_t *mult,
                             const int32_t *shift, const int16_t *x, int16_t *y)
{
    int32_t r;

    for (r = 0; r < rows; ++r)
    {
        const int32_t lo = row_ptr[r];
        const uint32_t n4 = (uint32_t)(row_ptr[r + 1] - lo) / RNN_CSR_GROUP;
        const int64_t acc = (int64_t)offset[r] + row_sum(n4, values + lo, col_idx + lo, x);
        y[r] = (int16_t)requant16_s64(acc, mult[r], shift[r]);
    }
}
