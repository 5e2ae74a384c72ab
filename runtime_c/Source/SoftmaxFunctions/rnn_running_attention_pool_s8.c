/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_running_attention_pool_s8.c
 * Description: int8 attention pooling over time in a streaming model: rnn_attention_pool_s8's
 *              integer online softmax with its maximum, normalizer, shift and weighted sums
 *              in the state struct, continued call after call.
 */

#include <stddef.h>

#include "rnn_nnfunctions.h"
#include "rnn_nn_support.h"

/* Refer to header file for details. */
void rnn_running_attention_pool_s8(int32_t outer, int32_t n, int32_t inner, int32_t inner_s,
                                   const rnn_attention_params *p, const int8_t *scores,
                                   const int8_t *values, int32_t *state, int32_t *count,
                                   int8_t *y)
{
    const int32_t seen = *count;
    const size_t ns = (size_t)outer * (size_t)inner_s;
    int32_t *ms = state;
    int32_t *ls = state + ns;
    int32_t *xs = state + 2 * ns;
    int32_t *as = state + 3 * ns;
    int32_t o;
    for (o = 0; o < outer; ++o)
    {
        int32_t j;
        for (j = 0; j < inner_s; ++j)
        {
            const size_t js = (size_t)o * (size_t)inner_s + (size_t)j;
            const int32_t i0 = inner_s == 1 ? 0 : j;
            const int32_t cnt = inner_s == 1 ? inner : 1;
            int32_t *a = as + (size_t)o * (size_t)inner + (size_t)i0;
            int32_t m = ms[js];
            int32_t l = ls[js];
            int32_t x = xs[js];
            int32_t k;
            int32_t i;
            if (seen == 0)
            {
                /* the first step after _reset starts at its own score, nothing summed */
                m = scores[(size_t)o * (size_t)n * (size_t)inner_s + (size_t)j];
                l = 0;
                x = 0;
                for (i = 0; i < cnt; ++i)
                {
                    a[i] = 0;
                }
            }
            for (k = 0; k < n; ++k)
            {
                const size_t at = (size_t)o * (size_t)n + (size_t)k;
                rnn_att_step(p->exp_table, scores[at * (size_t)inner_s + (size_t)j],
                             values + at * (size_t)inner + (size_t)i0, p->zp_v, cnt,
                             &m, &l, &x, a);
            }
            ms[js] = m;
            ls[js] = l;
            xs[js] = x;
            for (i = 0; i < cnt; ++i)
            {
                y[(size_t)o * (size_t)inner + (size_t)(i0 + i)] =
                    rnn_att_output(a[i], l, p->mult, p->shift, p->zp_out);
            }
        }
    }
    *count = seen > INT32_MAX - n ? INT32_MAX : seen + n;
}
