/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_softmax_s8.c
 * Description: Exact integer softmax along one axis of an int8 tensor viewed as
 *              [outer, n, inner]: e = table[max - x] (round(e^(-k * input scale) * 2^16)),
 *              y = round(256 e / sum e) - 128: output scale 1/256, zero point -128.
 */

#include "rnn_nnfunctions.h"
#include "rnn_nn_support.h"

/* Refer to header file for details. */
void rnn_softmax_s8(int32_t outer, int32_t n, int32_t inner, const int32_t *exp_table,
                    const int8_t *x, int8_t *y)
{
    int32_t o;
    int32_t i;
    int32_t k;

    for (o = 0; o < outer; ++o)
    {
        for (i = 0; i < inner; ++i)
        {
            const int8_t *xv = x + (o * n) * inner + i;
            int8_t *yv = y + (o * n) * inner + i;
            int32_t m = xv[0];
            int32_t sum = 0;
            for (k = 1; k < n; ++k)
            {
                m = xv[k * inner] > m ? xv[k * inner] : m;
            }
            for (k = 0; k < n; ++k)
            {
                sum += exp_table[m - xv[k * inner]];
            }
            for (k = 0; k < n; ++k)
            {
                const int32_t e = exp_table[m - xv[k * inner]];
                yv[k * inner] = (int8_t)rnn_sat8((e * 512 + sum) / (2 * sum) - 128);
            }
        }
    }
}
