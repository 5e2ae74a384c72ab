/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_reduce_s8.c
 * Description: int8 ReduceMax / ReduceMean along one axis of a tensor viewed as
 *              [outer, n, inner]. The output has the input's scale and zero point: the
 *              maximum is exact, the mean is the sum over n rounded half away from zero as
 *              rnn_avg_pool_s8 (CMSIS-NN avgpool_s8). ReduceSum needs an output scale of its
 *              own and is float32 only.
 */

#include "rnn_nnfunctions.h"

/* Refer to header file for details. */
void rnn_reduce_s8(rnn_reduce_kind kind, int32_t outer, int32_t n, int32_t inner,
                   const int8_t *x, int8_t *y)
{
    int32_t o;
    for (o = 0; o < outer; ++o)
    {
        int32_t i;
        for (i = 0; i < inner; ++i)
        {
            const int8_t *xi = x + o * n * inner + i;
            int32_t acc = kind == RNN_REDUCE_MAX ? -128 : 0;
            int32_t k;
            for (k = 0; k < n; ++k)
            {
                const int32_t v = xi[k * inner];
                if (kind == RNN_REDUCE_MAX)
                {
                    acc = v > acc ? v : acc;
                }
                else
                {
                    acc += v;
                }
            }
            if (kind != RNN_REDUCE_MAX)
            {
                acc = acc > 0 ? (acc + n / 2) / n : (acc - n / 2) / n;
            }
            y[o * inner + i] = (int8_t)acc;
        }
    }
}
