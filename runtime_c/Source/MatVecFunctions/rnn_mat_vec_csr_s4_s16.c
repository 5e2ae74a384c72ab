/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_mat_vec_csr_s4_s16.c
 * Description: Sparse (CSR) matrix with int4 values (--precision w4a8) times int8 vector,
 *              rows requantized to int16:
 *              y[r] = sat16(rq(offset[r] + sum_k values[k] x[col_idx[k]])).
 *
 * Storage (docs/int8.md, "int4 in the compressed formats"): the values, in [-7, 7], two per
 * byte in entry order: byte k / 2 holds entry k (k even) in its low nibble and entry k + 1 in
 * its high nibble, both in two's complement. The column indices and row pointers are the
 * int8 kernel's (rnn_mat_vec_csr_s8_s16): every row padded at build time to a multiple of
 * RNN_CSR_GROUP (4) entries, so a row starts on a whole byte and a group of four entries is
 * two bytes. The integer arithmetic is the int8 kernel's (an int4 value is an int8 value in
 * [-7, 7]), so the results equal QCsr.forward bit for bit.
 * - Helium (Cortex-M55, __ARM_FEATURE_MVE): sixteen entries per step: VLDRB.S16 of their
 *   eight value bytes (entry 2j in byte j's low nibble, 2j + 1 in its high one), the low
 *   nibbles by VSHL #12 then VSHR #12, the high ones by VSHR #4; VLD20 / VLD21 deinterleave
 *   the sixteen column indices into the even and the odd entries', two gathers VLDRB.S16
 *   [x, indices] and two VMLADAVA.S16: 11 instructions for 16 entries (int8: 10). The rest of
 *   a row (8, 4 or 12 entries) takes eight entries per step as the int8 kernel: VLDRH.U16
 *   (indices), a gather of eight x, the four value bytes gathered as int16 lanes (offsets 0,
 *   0, 1, 1, 2, 2, 3, 3; sign-extended), the even lanes' low nibble by VSHL #12 then
 *   arithmetic VSHL #-12, the odd lanes' high nibble by VSHL #-4 (one VSHL by a vector of
 *   lane shifts each), VMLADAVA.S16; four entries at the end: one step predicated on four
 *   lanes.
 * - DSP extension (Cortex-M4/M7, __ARM_FEATURE_DSP): eight entries per value word (LDR):
 *   w AND 0xF0F0F0F0 and (w << 4) AND 0xF0F0F0F0 hold 16 times the odd and the even entries'
 *   values in their bytes, split by SXTB16 (and SXTB16 ROR #8) into halfword pairs that
 *   SMLABB / SMLATB multiply with the gathered x (LDRSB): the row's sum comes 16-fold and is
 *   shifted right by 4 at the end (exact: a multiple of 16). It fits int32: 16 * 7 * 128 *
 *   (entries of a row) with at most 65,539 entries (uint16 column indices, rows padded by
 *   at most 3) is below 2^30. A row of 8k + 4 entries ends with a halfword of four values.
 *   The sum runs in its own (noinline) function, as the int8 kernel's (inlined, GCC spills
 *   inside the loop).
 * - plain C99 elsewhere, four entries per step on two sums.
 */

#include "rnn_nnfunctions.h"
#include "rnn_nn_support.h"

#include <string.h>

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
#include <arm_mve.h>
#define RNN_CSR_S4_MVE 1
#elif defined(__ARM_FEATURE_DSP) && defined(__GNUC__)
#include <arm_acle.h>
#define RNN_CSR_S4_DSP 1
#endif

/* Thumb without Helium: the row loop's registers stay out of the sum's loop (inlined, GCC
 * spills the pointer and two x values on Cortex-M4/M7), as in rnn_mat_vec_csr_s8_s16.c */
#if defined(__GNUC__) && defined(__thumb__) && !defined(RNN_CSR_S4_MVE)
#define RNN_CSR_S4_NOINLINE __attribute__((noinline))
#else
#define RNN_CSR_S4_NOINLINE
#endif

#if defined(RNN_CSR_S4_DSP)
/* SXTB16 of bytes 1 and 3 (SXTB16 with ROR #8: one instruction) */
static inline int32_t sxtb16_hi(int32_t w)
{
    int32_t r;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(w));
    return r;
}

/* 16 times sum_k v[k] x[c[k]] over n4 groups of four entries (above) */
static RNN_CSR_S4_NOINLINE int32_t row_sum_dsp(uint32_t n4, const uint8_t *v, const uint16_t *c,
                                               const int8_t *x)
{
    int32_t a0 = 0;
    int32_t a1 = 0;
    for (; n4 >= 2; n4 -= 2)
    {
        uint32_t w;
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
        a0 = __smlabb(le, x[c[0]], a0);
        a1 = __smlabb(he, x[c[1]], a1);
        a0 = __smlabb(lod, x[c[2]], a0);
        a1 = __smlabb(hod, x[c[3]], a1);
        a0 = __smlatb(le, x[c[4]], a0);
        a1 = __smlatb(he, x[c[5]], a1);
        a0 = __smlatb(lod, x[c[6]], a0);
        a1 = __smlatb(hod, x[c[7]], a1);
        v += RNN_CSR_GROUP;
        c += 2 * RNN_CSR_GROUP;
    }
    if (n4 > 0)
    {
        const uint32_t w = (uint32_t)v[0] | ((uint32_t)v[1] << 8);
        const int32_t lo = (int32_t)((w << 4) & 0xF0F0u);
        const int32_t hi = (int32_t)(w & 0xF0F0u);
        a0 = __smlabb((int32_t)__sxtb16(lo), x[c[0]], a0);
        a1 = __smlabb((int32_t)__sxtb16(hi), x[c[1]], a1);
        a0 = __smlabb(sxtb16_hi(lo), x[c[2]], a0);
        a1 = __smlabb(sxtb16_hi(hi), x[c[3]], a1);
    }
    return a0 + a1;
}
#endif

#if !defined(RNN_CSR_S4_MVE) && !defined(RNN_CSR_S4_DSP)
/* the signed value of a nibble (0..15, two's complement) */
static inline int32_t nibble(uint32_t u)
{
    return (int32_t)(u ^ 8u) - 8;
}
#endif

#if !defined(RNN_CSR_S4_MVE) && !defined(RNN_CSR_S4_DSP)
/* sum_k v[k] x[c[k]] over n4 groups of four entries, v packed (two values a byte) */
static int32_t row_sum(uint32_t n4, const uint8_t *v, const uint16_t *c, const int8_t *x)
{
    int32_t a0 = 0;
    int32_t a1 = 0;
    for (; n4 > 0; --n4)
    {
        const uint32_t b0 = v[0];
        const uint32_t b1 = v[1];
        a0 += nibble(b0 & 15u) * (int32_t)x[c[0]];
        a1 += nibble(b0 >> 4) * (int32_t)x[c[1]];
        a0 += nibble(b1 & 15u) * (int32_t)x[c[2]];
        a1 += nibble(b1 >> 4) * (int32_t)x[c[3]];
        v += RNN_CSR_GROUP / 2;
        c += RNN_CSR_GROUP;
    }
    return a0 + a1;
}
#endif

#if defined(RNN_CSR_S4_MVE)
static const uint16_t csr_s4_bytes[8] = {0, 0, 1, 1, 2, 2, 3, 3};
static const int16_t csr_s4_up[8] = {12, 0, 12, 0, 12, 0, 12, 0};
static const int16_t csr_s4_down[8] = {-12, -4, -12, -4, -12, -4, -12, -4};

/* row_sum on Helium (above) */
static int32_t row_sum_mve(uint32_t n4, const uint8_t *v, const uint16_t *c, const int8_t *x,
                           uint16x8_t bytes, int16x8_t up, int16x8_t down)
{
    int32_t a = 0;
    /* sixteen entries: eight bytes, entry 2j in byte j's low nibble and 2j + 1 in its high
     * one; VLD20 / VLD21 deinterleave the sixteen indices into the even and the odd entries' */
    for (; n4 >= 4; n4 -= 4)
    {
        const int16x8_t b = vldrbq_s16((const int8_t *)v);
        const uint16x8x2_t cc = vld2q_u16(c);
        a = vmladavaq_s16(a, vshrq_n_s16(vshlq_n_s16(b, 12), 12),
                          vldrbq_gather_offset_s16(x, cc.val[0]));
        a = vmladavaq_s16(a, vshrq_n_s16(b, 4), vldrbq_gather_offset_s16(x, cc.val[1]));
        v += 2 * RNN_CSR_GROUP;
        c += 4 * RNN_CSR_GROUP;
    }
    if (n4 >= 2)
    {
        const int16x8_t xv = vldrbq_gather_offset_s16(x, vldrhq_u16(c));
        const int16x8_t b = vldrbq_gather_offset_s16((const int8_t *)v, bytes);
        a = vmladavaq_s16(a, vshlq_s16(vshlq_s16(b, up), down), xv);
        v += RNN_CSR_GROUP;
        c += 2 * RNN_CSR_GROUP;
        n4 -= 2;
    }
    if (n4 > 0)
    {
        const mve_pred16_t p = vctp16q(RNN_CSR_GROUP);
        const int16x8_t xv = vldrbq_gather_offset_z_s16(x, vldrhq_z_u16(c, p), p);
        const int16x8_t b = vldrbq_gather_offset_z_s16((const int8_t *)v, bytes, p);
        a = vmladavaq_p_s16(a, vshlq_s16(vshlq_s16(b, up), down), xv, p);
    }
    return a;
}
#endif

#if defined(__ARM_FEATURE_SAT) && defined(__GNUC__) && !defined(__clang__)
/* SSAT (as rnn_mat_vec_s8_s16.c: GCC 12 types __ssat's result unsigned) */
#define RNN_CSR_S4_SAT16(v) ((int32_t)__builtin_arm_ssat((v), 16))
#elif defined(__ARM_FEATURE_SAT)
#include <arm_acle.h>
#define RNN_CSR_S4_SAT16(v) __ssat((v), 16)
#else
#define RNN_CSR_S4_SAT16(v) rnn_sat16(v)
#endif

#if defined(__GNUC__)
#define RNN_CSR_S4_OUT_OF_LINE __attribute__((noinline))
#else
#define RNN_CSR_S4_OUT_OF_LINE
#endif

/* the general case, out of line so that the common ones stay short */
static RNN_CSR_S4_OUT_OF_LINE int32_t requant16_any(int32_t acc, int32_t mult, int32_t shift)
{
    return rnn_sat16(rnn_requantize(acc, mult, shift));
}

/* sat16(rnn_requantize(acc, mult, shift)), as rnn_mat_vec_s4_s16.c computes it. shift <= -2:
 * the high word of acc mult and one rounding shift (the form rnn_mat_vec_s8_s16.c derives).
 * int4 rows' scales are about 18 times int8's, so their shifts are mostly -1 .. 3:
 * rq(acc 2^k, mult, shift - k) = rq(acc, mult, shift) exactly (the same rational number
 * floored); the common case with k = 4 (one unsigned compare for the range, no shift amount
 * to compute), then k = shift + 2 wherever acc 2^k fits, else the general rnn_requantize. */
static inline int32_t requant16_s4(int32_t acc, int32_t mult, int32_t shift)
{
    if (shift <= -2)
    {
        const int32_t hi = (int32_t)(((int64_t)acc * (int64_t)mult) >> 32);
        return RNN_CSR_S4_SAT16(((hi >> (-2 - shift)) + 1) >> 1);
    }
    if (shift <= 2 && (uint32_t)acc + (1u << 27) < (1u << 28))
    {
        const int32_t hi = (int32_t)(((int64_t)(acc * 16) * (int64_t)mult) >> 32);
        const int32_t t = ((int32_t)((uint32_t)hi << 1) >> (3 - shift)) + 1;
        return RNN_CSR_S4_SAT16(t >> 1);
    }
    if (shift <= 13)
    {
        const int32_t lim = (int32_t)1 << (29 - shift); /* 2^(31 - k) */
        if (acc >= -lim && acc < lim)
        {
            const int32_t a = acc * ((int32_t)1 << (shift + 2));
            const int32_t hi = (int32_t)(((int64_t)a * (int64_t)mult) >> 32);
            return RNN_CSR_S4_SAT16((hi + 1) >> 1);
        }
    }
    return requant16_any(acc, mult, shift);
}

/* Refer to header file for details. */
void rnn_mat_vec_csr_s4_s16(int32_t rows, const int8_t *values, const uint16_t *col_idx,
                            const int32_t *row_ptr, const int32_t *offset, const int32_t *mult,
                            const int32_t *shift, const int8_t *x, int16_t *y)
{
    const uint8_t *v = (const uint8_t *)values;
    int32_t r;
#if defined(RNN_CSR_S4_MVE)
    const uint16x8_t bytes = vldrhq_u16(csr_s4_bytes);
    const int16x8_t up = vldrhq_s16(csr_s4_up);
    const int16x8_t down = vldrhq_s16(csr_s4_down);
#endif

    for (r = 0; r < rows; ++r)
    {
        const uint32_t lo = (uint32_t)row_ptr[r];
        const uint32_t n4 = ((uint32_t)row_ptr[r + 1] - lo) / RNN_CSR_GROUP;
#if defined(RNN_CSR_S4_MVE)
        const int32_t acc = offset[r] + row_sum_mve(n4, v + lo / 2, col_idx + lo, x, bytes, up,
                                                    down);
#elif defined(RNN_CSR_S4_DSP)
        const int32_t acc = offset[r] + (row_sum_dsp(n4, v + lo / 2, col_idx + lo, x) >> 4);
#else
        const int32_t acc = offset[r] + row_sum(n4, v + lo / 2, col_idx + lo, x);
#endif
        y[r] = (int16_t)requant16_s4(acc, mult[r], shift[r]);
    }
}
