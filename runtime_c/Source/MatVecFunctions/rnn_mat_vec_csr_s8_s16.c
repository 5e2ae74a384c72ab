/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_mat_vec_csr_s8_s16.c
 * Description: Sparse (CSR) int8 matrix times int8 vector, rows requantized to int16:
 *              y[r] = sat16(rq(offset[r] + sum_k values[k] x[col_idx[k]])).
 *
 * Every row holds a multiple of RNN_CSR_GROUP (4) entries (rows padded at build time with
 * zero values at the row's last column, codegen/formats/csr.py pad_rows), so the loops take
 * four entries at a time with no scalar tail. Integer sums are exact in any order: every path
 * gives the plain C loop's results bit for bit (QCsr.forward in csr.py defines them).
 * - Helium (Cortex-M55, __ARM_FEATURE_MVE): eight entries per step: VLDRH.U16 (indices), a
 *   gather VLDRB.S16 [x, offsets] of eight x values as int16, VLDRB.S16 (values) and
 *   VMLADAVA.S16 (eight multiply-adds into the row's int32 sum); a row of 8k + 4 entries
 *   ends with one step predicated on four lanes.
 * - DSP extension (Cortex-M4/M7, __ARM_FEATURE_DSP): the four values of a group come as one
 *   word, split by SXTB16 into (v0, v2) and (v1, v3); each gathered x (LDRSB) meets its value
 *   in SMLABB / SMLATB (a 16 x 16 multiply-add with the half chosen: no extraction).
 * - plain C99 elsewhere, four entries per step on two sums.
 */

#include <string.h>

#include "rnn_nnfunctions.h"
#include "rnn_nn_support.h"

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
#include <arm_mve.h>
#define RNN_CSR_S8_MVE 1
#elif defined(__ARM_FEATURE_DSP) && defined(__GNUC__)
#include <arm_acle.h>
#define RNN_CSR_S8_DSP 1
#endif

#if defined(__ARM_FEATURE_SAT) && defined(__GNUC__) && !defined(__clang__)
/* SSAT (as rnn_mat_vec_s8_s16.c: GCC 12 types __ssat's result unsigned) */
#define SAT16(v) ((int32_t)__builtin_arm_ssat((v), 16))
#elif defined(__ARM_FEATURE_SAT)
#include <arm_acle.h>
#define SAT16(v) __ssat((v), 16)
#else
#define SAT16(v) rnn_sat16(v)
#endif

#if defined(__GNUC__)
#define RNN_CSR_OUT_OF_LINE __attribute__((noinline))
#else
#define RNN_CSR_OUT_OF_LINE
#endif

/* the general case, kept out of line so that the common one stays short (GCC otherwise
 * computes both before the test) */
static RNN_CSR_OUT_OF_LINE int32_t requant16_any(int32_t acc, int32_t mult, int32_t shift)
{
    return rnn_sat16(rnn_requantize(acc, mult, shift));
}

/* sat16(rnn_requantize(acc, mult, shift)), as rnn_mat_vec_s8_s16.c computes it: when
 * shift <= -2 (the usual case for gate pre-activations) ((hi >> (s - 1)) + 1) >> 1 with hi the
 * high word of acc * mult and s = -1 - shift is the same value (the proof is in that file) */
static inline int32_t requant16(int32_t acc, int32_t mult, int32_t shift)
{
    if (shift <= -2)
    {
        const int32_t hi = (int32_t)(((int64_t)acc * (int64_t)mult) >> 32);
        const int32_t t = (hi >> (-2 - shift)) + 1;
        return SAT16(t >> 1);
    }
    return requant16_any(acc, mult, shift);
}

/* Thumb without Helium: the row loop's registers stay out of the sum's loop (GCC otherwise
 * spills on Cortex-M4/M7); AArch64 has registers for both, Helium keeps its sum in one */
#if defined(__GNUC__) && defined(__thumb__) && !defined(RNN_CSR_S8_MVE)
#define RNN_CSR_NOINLINE __attribute__((noinline))
#else
#define RNN_CSR_NOINLINE
#endif

#if defined(RNN_CSR_S8_DSP)
/* SXTB16 of bytes 1 and 3 (SXTB16 with ROR #8: one instruction; GCC does not fold a C
 * rotate into it) */
static inline int32_t sxtb16_hi(int32_t w)
{
    int32_t r;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(w));
    return r;
}

/* one group: the values' word split into (v0, v2), (v1, v3); SMLABB / SMLATB pick the half */
#define GROUP4(a0, a1, v, c, x)                                                                \
    do                                                                                         \
    {                                                                                          \
        int32_t w_;                                                                            \
        int32_t v02_;                                                                          \
        int32_t v13_;                                                                          \
        memcpy(&w_, v, sizeof w_); /* one LDR: unaligned loads are allowed on M4/M7 */        \
        v02_ = (int32_t)__sxtb16(w_);                                                          \
        v13_ = sxtb16_hi(w_);                                                                  \
        a0 = __smlabb(v02_, (x)[(c)[0]], a0);                                                  \
        a1 = __smlabb(v13_, (x)[(c)[1]], a1);                                                  \
        a0 = __smlatb(v02_, (x)[(c)[2]], a0);                                                  \
        a1 = __smlatb(v13_, (x)[(c)[3]], a1);                                                  \
    } while (0)
#else
#define GROUP4(a0, a1, v, c, x)                                                                \
    do                                                                                         \
    {                                                                                          \
        a0 += (int32_t)(v)[0] * (int32_t)(x)[(c)[0]];                                          \
        a1 += (int32_t)(v)[1] * (int32_t)(x)[(c)[1]];                                          \
        a0 += (int32_t)(v)[2] * (int32_t)(x)[(c)[2]];                                          \
        a1 += (int32_t)(v)[3] * (int32_t)(x)[(c)[3]];                                          \
    } while (0)
#endif

/* sum_k v[k] x[c[k]] over n4 groups of four entries */
static RNN_CSR_NOINLINE int32_t row_sum(uint32_t n4, const int8_t *v, const uint16_t *c,
                                       const int8_t *x)
{
#if defined(RNN_CSR_S8_MVE)
    int32_t a = 0;
    for (; n4 >= 2; n4 -= 2)
    {
        const int16x8_t xv = vldrbq_gather_offset_s16(x, vldrhq_u16(c));
        a = vmladavaq_s16(a, vldrbq_s16(v), xv);
        v += 2 * RNN_CSR_GROUP;
        c += 2 * RNN_CSR_GROUP;
    }
    if (n4 > 0)
    {
        const mve_pred16_t p = vctp16q(RNN_CSR_GROUP);
        const int16x8_t xv = vldrbq_gather_offset_z_s16(x, vldrhq_z_u16(c, p), p);
        a = vmladavaq_p_s16(a, vldrbq_z_s16(v, p), xv, p);
    }
    return a;
#else
    int32_t a0 = 0;
    int32_t a1 = 0;
    /* two groups per iteration (one loop test per eight entries), then an odd one */
    for (; n4 >= 2; n4 -= 2)
    {
        GROUP4(a0, a1, v, c, x);
        GROUP4(a0, a1, v + RNN_CSR_GROUP, c + RNN_CSR_GROUP, x);
        v += 2 * RNN_CSR_GROUP;
        c += 2 * RNN_CSR_GROUP;
    }
    if (n4 > 0)
    {
        GROUP4(a0, a1, v, c, x);
    }
    return a0 + a1;
#endif
}

/* Refer to header file for details. */
void rnn_mat_vec_csr_s8_s16(int32_t rows, const int8_t *values, const uint16_t *col_idx,
                            const int32_t *row_ptr, const int32_t *offset, const int32_t *mult,
                            const int32_t *shift, const int8_t *x, int16_t *y)
{
    int32_t r;

    for (r = 0; r < rows; ++r)
    {
        const int32_t lo = row_ptr[r];
        const uint32_t n4 = (uint32_t)(row_ptr[r + 1] - lo) / RNN_CSR_GROUP;
        const int32_t acc = offset[r] + row_sum(n4, values + lo, col_idx + lo, x);
        y[r] = (int16_t)requant16(acc, mult[r], shift[r]);
    }
}
