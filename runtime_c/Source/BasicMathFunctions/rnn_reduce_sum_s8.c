/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_reduce_sum_s8.c
 * Description: int8 ReduceSum along one axis of a tensor viewed as [outer, n, inner],
 *              requantized to the output's own scale and zero point.
 */

#include "rnn_nnfunctions.h"
#include "rnn_nn_support.h"

/* Refer to header file for details. */
void rnn_reduce_sum_s8(int32_t outer, int32_t n, int32_t inner, int32_t zp_in, int32_t mult,
                       int32_t shift, int32_t zp_out, const int8_t *x, int8_t *y)
{
    int32_t o;
    for (o = 0; o < outer; ++o)
    {
        int32_t i;
        for (i = 0; i < inner; ++i)
        {
            const int8_t *xi = x + o * n * inner + i;
            int32_t acc = -n * zp_in;
            int32_t k;
            int32_t v;
            for (k = 0; k < n; ++k)
            {
                acc += xi[k * inner];
            }
            /* sat16 first: the same int8, no int32 overflow if the requantization
             * saturates */
            v = rnn_sat16(rnn_requantize(acc, mult, shift)) + zp_out;
            y[o * inner + i] = (int8_t)(v > 127 ? 127 : (v < -128 ? -128 : v));
        }
    }
}
