/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_running_reduce_f32.c
 * Description: Pooling over time in a streaming model: a running sum, mean or maximum kept in
 *              the state struct, the pooled value so far written at every call.
 */

#include <stddef.h>

#include "rnn_nnfunctions.h"

/* Refer to header file for details. */
void rnn_running_reduce_f32(rnn_reduce_kind kind, int32_t outer, int32_t n, int32_t inner,
                            const float *x, float *acc, int32_t *count, float *y)
{
    const int32_t seen = *count;
    int32_t o;
    for (o = 0; o < outer; ++o)
    {
        int32_t i;
        for (i = 0; i < inner; ++i)
        {
            const size_t at = (size_t)o * (size_t)inner + (size_t)i;
            float a = acc[at];
            int32_t k;
            for (k = 0; k < n; ++k)
            {
                const float v = x[((size_t)o * (size_t)n + (size_t)k) * (size_t)inner + (size_t)i];
                if (seen == 0 && k == 0)
                {
                    a = v; /* the first value after _reset */
                }
                else if (kind == RNN_REDUCE_MAX)
                {
                    a = v > a ? v : a;
                }
                else
                {
                    a += v;
                }
            }
            acc[at] = a;
            y[at] = kind == RNN_REDUCE_MEAN ? a / (float)(seen + n) : a;
        }
    }
    *count = seen + n;
}
