/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_softmax_f32.c
 * Description: Softmax and log-softmax along one axis, numerically stable (max subtracted).
 */

#include <math.h>

#include "rnn_nnfunctions.h"

/* Refer to header file for details. */
void rnn_softmax_f32(int32_t outer, int32_t n, int32_t inner, int32_t log, const float *x,
                     float *y)
{
    int32_t o;
    int32_t i;
    int32_t k;

    for (o = 0; o < outer; ++o)
    {
        for (i = 0; i < inner; ++i)
        {
            const float *xv = x + (o * n) * inner + i;
            float *yv = y + (o * n) * inner + i;
            float m = xv[0];
            float sum = 0.0f;
            for (k = 1; k < n; ++k)
            {
                m = xv[k * inner] > m ? xv[k * inner] : m;
            }
            for (k = 0; k < n; ++k)
            {
                sum += expf(xv[k * inner] - m);
            }
            if (log)
            {
                const float ls = logf(sum);
                for (k = 0; k < n; ++k)
                {
                    yv[k * inner] = xv[k * inner] - m - ls;
                }
            }
            else
            {
                for (k = 0; k < n; ++k)
                {
                    yv[k * inner] = expf(xv[k * inner] - m) / sum;
                }
            }
        }
    }
}
