/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_mat_vec_a16_wide.c
 * Description: int8 matrix times int16 vector (int16 activations, w8a16) with int64
 *              accumulation, for the matrices whose int32 sum could overflow (a row with
 *              sum |W[r]| * 32768 + |offset[r]| >= 2^31: more than about 516 columns of
 *              full-scale weights): acc[r] = W[r] . x + offset[r] exact in int64 (|acc| <
 *              2^47), requantized as CMSIS-NN's arm_nn_requantize_s64 (rnn_requantize_s64): the
 *              multiplier reduced to Q15, m15 = (mult + 2^15) >> 16, then
 *              round(acc * m15 * 2^(shift - 15)) half up, saturated to int32.
 *              rnn_mat_vec_a16_wide: y = sat16(rq64(acc)); rnn_mat_vec_a16_wide_s8:
 *              y = sat8(zp + sat16(rq64(acc))) (the same as sat8(zp + rq64(acc))).
 *
 * Helium (Cortex-M55): VMLALDAVA.S16 (8 products into a 64-bit sum per instruction), one
 * row at a time, the last 1..7 columns predicated. Elsewhere plain C99 (the int32 kernels,
 * rnn_mat_vec_a16_s16.c, take every matrix whose bound fits; this one is the fallback).
 */

#include "rnn_nnfunctions.h"
#include "rnn_nn_support.h"

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
#include <arm_mve.h>
#define RNN_A16W_MVE 1
#endif

/* one row's int64 sum */
static int64_t dot64(const int8_t *w, const int16_t *x, int32_t n)
{
    int64_t acc = 0;
#if defined(RNN_A16W_MVE)
    int32_t j = 0;
    for (; j + 8 <= n; j += 8)
    {
        acc = vmlaldavaq_s16(acc, vldrbq_s16(w + j), vldrhq_s16(x + j));
    }
    if (j < n)
    {
        const mve_pred16_t p = vctp16q((uint32_t)(n - j));
        acc = vmlaldavaq_p_s16(acc, vldrbq_z_s16(w + j, p), vldrhq_z_s16(x + j, p), p);
    }
#else
    int32_t j;
    for (j = 0; j < n; ++j)
    {
        acc += (int32_t)w[j] * (int32_t)x[j];
    }
#endif
    return acc;
}

/* Refer to header file for details. */
void rnn_mat_vec_a16_wide(int32_t rows, int32_t cols, const int8_t *w,
                              const int32_t *offset, const int32_t *mult, const int32_t *shift,
                              const int16_t *x, int16_t *y)
{
    const int32_t ld = RNN_S8_STRIDE(cols);
    int32_t r;
    for (r = 0; r < rows; ++r)
    {
        const int64_t acc = dot64(w, x, cols) + offset[r];
        y[r] = (int16_t)rnn_sat16(rnn_requantize_s64(acc, mult[r], shift[r]));
        w += ld;
    }
}

/* Refer to header file for details. */
void rnn_mat_vec_a16_wide_s8(int32_t rows, int32_t cols, const int8_t *w,
                             const int32_t *offset, const int32_t *mult, const int32_t *shift,
                             int32_t out_zero_point, const int16_t *x, int8_t *y)
{
    const int32_t ld = RNN_S8_STRIDE(cols);
    int32_t r;
    for (r = 0; r < rows; ++r)
    {
        const int64_t acc = dot64(w, x, cols) + offset[r];
        y[r] = (int8_t)rnn_sat8(out_zero_point +
                                rnn_sat16(rnn_requantize_s64(acc, mult[r], shift[r])));
        w += ld;
    }
}
