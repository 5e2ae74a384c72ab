/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_running_reduce_s8.c
 * Description: int8 pooling over time in a streaming model: a running int32 sum or maximum
 *              in the state struct; the mean so far rounded as rnn_reduce_s8 rounds it.
 */

#include <stddef.h>

#include "rnn_nnfunctions.h"
#include "rnn_nn_support.h"

/* Refer to header file for details. */
void rnn_running_reduce_s8(rnn_reduce_kind kind, int32_t outer, int32_t n, int32_t inner,
                           const rnn_reduce_sum_params *sum, const int8_t *x, int32_t *acc,
                           int32_t *count, int8_t *y)
{
    const int32_t seen = *count;
    const int64_t cnt = (int64_t)seen + n;
    int32_t o;
    for (o = 0; o < outer; ++o)
    {
        int32_t i;
        for (i = 0; i < inner; ++i)
        {
            const size_t at = (size_t)o * (size_t)inner + (size_t)i;
            int32_t a = acc[at];
            int32_t k;
            for (k = 0; k < n; ++k)
            {
                const int32_t v = x[((size_t)o * (size_t)n + (size_t)k) * (size_t)inner + (size_t)i];
                if (seen == 0 && k == 0)
                {
                    a = v;
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
            if (kind == RNN_REDUCE_SUM)
            {
                /* the values' sum without their zero points, in the output's scale */
                const int64_t d = (int64_t)a - cnt * sum->zp_in;
                const int32_t dv = d > INT32_MAX ? INT32_MAX : (d < INT32_MIN ? INT32_MIN : (int32_t)d);
                /* sat16 first: the same int8, no int32 overflow */
                int32_t v = rnn_sat16(rnn_requantize(dv, sum->mult, sum->shift)) + sum->zp_out;
                y[at] = (int8_t)(v > 127 ? 127 : (v < -128 ? -128 : v));
            }
            else if (kind == RNN_REDUCE_MEAN)
            {
                /* half away from zero, as rnn_reduce_s8 */
                const int64_t q = a > 0 ? ((int64_t)a + cnt / 2) / cnt : -((-(int64_t)a + cnt / 2) / cnt);
                y[at] = (int8_t)q;
            }
            else
            {
                y[at] = (int8_t)a;
            }
        }
    }
    *count = seen + n;
}
