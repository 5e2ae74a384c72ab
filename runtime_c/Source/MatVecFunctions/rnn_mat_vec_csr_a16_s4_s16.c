/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_mat_vec_csr_a16_s4_s16.c
 * Description: Sparse (CSR) matrix with int4 values times int16 vector (int16 activations,
 *              w4a16), rows requantized to int16:
 *              y[r] = sat16(rq64(offset[r] + sum_k values[k] x[col_idx[k]], mult[r], shift[r])).
 *
 * Storage as rnn_mat_vec_csr_s4_s16 (values in [-7, 7] two per byte in entry order: entry 2j
 * in byte j's low nibble, 2j + 1 in its high one, two's complement; rows padded to a multiple
 * of RNN_CSR_GROUP (4) entries, so a row starts on a whole byte); only x is int16. Sums:
 * int64 always, requantized by rnn_requantize_s64 (quant.rq64), as rnn_mat_vec_csr_a16_s16
 * (that file says why; the same 32-bit form of the usual requantization, requant16_s64);
 * the products of a step are summed in int32 first. The results equal QCsr.forward bit for
 * bit on every path.
 * - Helium (Cortex-M55, __ARM_FEATURE_MVE): as rnn_mat_vec_csr_s4_s16's, with the gathers
 *   VLDRH.S16 [x, indices, UXTW #1] of int16 x and VMLALDAVA.S16 into the row's 64-bit sum:
 *   sixteen entries per step (VLD20 / VLD21 deinterleave the indices into the even and the
 *   odd entries', the eight value bytes' low nibbles by VSHL #12 then VSHR #12, the high ones
 *   by VSHR #4), then eight (the four value bytes gathered as int16 lanes, one VSHL by a
 *   vector of lane shifts each way) and four (predicated).
 * - DSP extension (Cortex-M4/M7, __ARM_FEATURE_DSP): eight entries per value word as
 *   rnn_mat_vec_csr_s4_s16's: the values 16-fold in halfword pairs (masks and SXTB16), each
 *   gathered x (LDRSH) multiplied in SMLABB / SMLATB into an int32 step sum (|16 * 8 * 7 *
 *   32768| < 2^25), added to the 64-bit sum, shifted right by 4 at the end (exact: a
 *   multiple of 16).
 * - plain C99 elsewhere, four entries per step.
 */

#include "rnn_nnfunctions.h"
#include "rnn_nn_support.h"

#include <string.h>

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
#include <arm_mve.h>
#define RNN_CSR_A16_S4_MVE 1
#elif defined(__ARM_FEATURE_DSP) && defined(__GNUC__)
#include <arm_acle.h>
#define RNN_CSR_A16_S4_DSP 1
#endif

/* Thumb without Helium: the sum in its own function (as rnn_mat_vec_csr_s4_s16.c) */
#if defined(__GNUC__) && defined(__thumb__) && !defined(RNN_CSR_A16_S4_MVE)
#define RNN_CSR_A16_S4_NOINLINE __attribute__((noinline))
#else
#define RNN_CSR_A16_S4_NOINLINE
#endif

#if defined(RNN_CSR_A16_S4_DSP)
/* SXTB16 of bytes 1 and 3 (SXTB16 with ROR #8: one instruction) */
static inline int32_t sxtb16_hi(int32_t w)
{
    int32_t r;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(w));
    return r;
}

/* sum_k v[k] x[c[k]] over n4 groups of four entries (above) */
static RNN_CSR_A16_S4_NOINLINE int64_t row_sum(uint32_t n4, const uint8_t *v, const uint16_t *c,
                                               const int16_t *x)
{
    int64_t a = 0;
    for (; n4 >= 2; n4 -= 2)
    {
        uint32_t w;
        int32_t s;
        int32_t lo;
        int32_t hi;
        int32_t le, lod, he, hod;
        memcpy(&w, v, sizeof w); /* one LDR: unaligned loads are allowed on M4/M7 */
        lo = (int32_t)((w << 4) & 0xF0F0F0F0u); /* 16 v0, 16 v2, 16 v4, 16 v6 */
        hi = (int32_t)(w & 0xF0F0F0F0u);        /* 16 v1, 16 v3, 16 v5, 16 v7 */
        le = (int32_t)__sxtb16(lo);             /* (v0, v4) */
        lod = sxtb16_hi(lo);                    /* (v2, v6) */
        he = (int32_t)__sxtb16(hi);             /* (v1, v5) */
        hod = sxtb16_hi(hi);                    /* (v3, v7) */
        s = __smlabb(le, x[c[0]], 0);
        s = __smlabb(he, x[c[1]], s);
        s = __smlabb(lod, x[c[2]], s);
        s = __smlabb(hod, x[c[3]], s);
        s = __smlatb(le, x[c[4]], s);
        s = __smlatb(he, x[c[5]], s);
        s = __smlatb(lod, x[c[6]], s);
        s = __smlatb(hod, x[c[7]], s);
        a += s;
        v += RNN_CSR_GROUP;
        c += 2 * RNN_CSR_GROUP;
    }
    if (n4 > 0)
    {
        const uint32_t w = (uint32_t)v[0] | ((uint32_t)v[1] << 8);
        const int32_t lo = (int32_t)((w << 4) & 0xF0F0u);
        const int32_t hi = (int32_t)(w & 0xF0F0u);
        int32_t s = __smlabb((int32_t)__sxtb16(lo), x[c[0]], 0);
        s = __smlabb((int32_t)__sxtb16(hi), x[c[1]], s);
        s = __smlabb(sxtb16_hi(lo), x[c[2]], s);
        s = __smlabb(sxtb16_hi(hi), x[c[3]], s);
        a += s;
    }
    return a >> 4; /* exact: a multiple of 16 (arithmetic shift, as rnn_nn_support.h) */
}
#elif defined(RNN_CSR_A16_S4_MVE)
static const uint16_t csr_a16_s4_bytes[8] = {0, 0, 1, 1, 2, 2, 3, 3};
static const int16_t csr_a16_s4_up[8] = {12, 0, 12, 0, 12, 0, 12, 0};
static const int16_t csr_a16_s4_down[8] = {-12, -4, -12, -4, -12, -4, -12, -4};

/* sum_k v[k] x[c[k]] over n4 groups of four entries (above) */
static int64_t row_sum(uint32_t n4, const uint8_t *v, const uint16_t *c, const int16_t *x)
{
    const uint16x8_t bytes = vldrhq_u16(csr_a16_s4_bytes);
    const int16x8_t up = vldrhq_s16(csr_a16_s4_up);
    const int16x8_t down = vldrhq_s16(csr_a16_s4_down);
    int64_t a = 0;
    for (; n4 >= 4; n4 -= 4)
    {
        const int16x8_t b = vldrbq_s16((const int8_t *)v);
        const uint16x8x2_t cc = vld2q_u16(c);
        a = vmlaldavaq_s16(a, vshrq_n_s16(vshlq_n_s16(b, 12), 12),
                           vldrhq_gather_shifted_offset_s16(x, cc.val[0]));
        a = vmlaldavaq_s16(a, vshrq_n_s16(b, 4), vldrhq_gather_shifted_offset_s16(x, cc.val[1]));
        v += 2 * RNN_CSR_GROUP;
        c += 4 * RNN_CSR_GROUP;
    }
    if (n4 >= 2)
    {
        const int16x8_t xv = vldrhq_gather_shifted_offset_s16(x, vldrhq_u16(c));
        const int16x8_t b = vldrbq_gather_offset_s16((const int8_t *)v, bytes);
        a = vmlaldavaq_s16(a, vshlq_s16(vshlq_s16(b, up), down), xv);
        v += RNN_CSR_GROUP;
        c += 2 * RNN_CSR_GROUP;
        n4 -= 2;
    }
    if (n4 > 0)
    {
        const mve_pred16_t p = vctp16q(RNN_CSR_GROUP);
        const int16x8_t xv = vldrhq_gather_shifted_offset_z_s16(x, vldrhq_z_u16(c, p), p);
        const int16x8_t b = vldrbq_gather_offset_z_s16((const int8_t *)v, bytes, p);
        a = vmlaldavaq_p_s16(a, vshlq_s16(vshlq_s16(b, up), down), xv, p);
    }
    return a;
}
#else
/* the signed value of a nibble (0..15, two's complement) */
static inline int32_t nibble(uint32_t u)
{
    return (int32_t)(u ^ 8u) - 8;
}

/* sum_k v[k] x[c[k]] over n4 groups of four entries, v packed (two values a byte) */
static int64_t row_sum(uint32_t n4, const uint8_t *v, const uint16_t *c, const int16_t *x)
{
    int64_t a = 0;
    for (; n4 > 0; --n4)
    {
        const uint32_t b0 = v[0];
        const uint32_t b1 = v[1];
        int32_t s = nibble(b0 & 15u) * (int32_t)x[c[0]];
        s += nibble(b0 >> 4) * (int32_t)x[c[1]];
        s += nibble(b1 & 15u) * (int32_t)x[c[2]];
        s += nibble(b1 >> 4) * (int32_t)x[c[3]];
        a += s;
        v += RNN_CSR_GROUP / 2;
        c += RNN_CSR_GROUP;
    }
    return a;
}
#endif

#if defined(__ARM_FEATURE_SAT) && defined(__GNUC__) && !defined(__clang__)
/* SSAT (as rnn_mat_vec_s8_s16.c: GCC 12 types __ssat's result unsigned) */
#define RNN_CSR_A16_S4_SAT16(v) ((int32_t)__builtin_arm_ssat((v), 16))
#elif defined(__ARM_FEATURE_SAT)
#include <arm_acle.h>
#define RNN_CSR_A16_S4_SAT16(v) __ssat((v), 16)
#else
#define RNN_CSR_A16_S4_SAT16(v) rnn_sat16(v)
#endif

#if defined(__GNUC__)
#define RNN_CSR_A16_S4_OUT_OF_LINE __attribute__((noinline))
#else
#define RNN_CSR_A16_S4_OUT_OF_LINE
#endif

/* the general case, out of line so that the common one stays short */
static RNN_CSR_A16_S4_OUT_OF_LINE int32_t requant16_any(int64_t acc, int32_t mult, int32_t shift)
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
        return RNN_CSR_A16_S4_SAT16((t + 1) >> 1);
    }
    return requant16_any(acc, mult, shift);
}

/* Refer to header file for details. */
void rnn_mat_vec_csr_a16_s4_s16(int32_t rows, const int8_t *values, const uint16_t *col_idx,
                                const int32_t *row_ptr, const int32_t *offset,
                                const int32_t *mult, const int32_t *shift, const int16_t *x,
                                int16_t *y)
{
    const uint8_t *v = (const uint8_t *)values;
    int32_t r;

    for (r = 0; r < rows; ++r)
    {
        const uint32_t lo = (uint32_t)row_ptr[r];
        const uint32_t n4 = ((uint32_t)row_ptr[r + 1] - lo) / RNN_CSR_GROUP;
        const int64_t acc = (int64_t)offset[r] + row_sum(n4, v + lo / 2, col_idx + lo, x);
        y[r] = (int16_t)requant16_s64(acc, mult[r], shift[r]);
    }
}
