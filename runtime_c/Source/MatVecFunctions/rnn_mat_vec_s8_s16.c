/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_mat_vec_s8_s16.c
 * Description: int8 matrix times int8 vector, int32 accumulation, each row requantized to
 *              int16 (a gate pre-activation in Q3.12): y[r] = sat16(rq(W[r] . x + offset[r])).
 *
 * Integer sums are exact in any order, so the vector paths (Cortex-M DSP SMLAD, Helium
 * VMLADAVA) give the same results as the plain C loop.
 */

#include "rnn_nnfunctions.h"
#include "rnn_nn_support.h"

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
#include <arm_mve.h>
#endif

/* sum_j w[j] x[j] over n values */
static int32_t dot_s8(const int8_t *w, const int8_t *x, int32_t n)
{
    int32_t acc = 0;
    int32_t j = 0;
#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
    for (; j + 16 <= n; j += 16)
    {
        acc = vmladavaq_s8(acc, vldrbq_s8(w + j), vldrbq_s8(x + j));
    }
#endif
    for (; j < n; ++j)
    {
        acc += (int32_t)w[j] * (int32_t)x[j];
    }
    return acc;
}

/* Refer to header file for details. */
void rnn_mat_vec_s8_s16(int32_t rows, int32_t cols, const int8_t *w, const int32_t *offset,
                        const int32_t *mult, const int32_t *shift, const int8_t *x, int16_t *y)
{
    int32_t r;

    for (r = 0; r < rows; ++r)
    {
        const int32_t acc = dot_s8(w + (int32_t)r * cols, x, cols) + offset[r];
        y[r] = (int16_t)rnn_sat16(rnn_requantize(acc, mult[r], shift[r]));
    }
}
