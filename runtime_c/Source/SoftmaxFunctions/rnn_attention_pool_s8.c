/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_attention_pool_s8.c
 * Description: int8 attention pooling over a whole sequence: the integer online softmax
 *              (the int8 softmax's table of e^x) and the weighted mean of the values,
 *              requantized to the output's scale (quant.QAttentionPool bit for bit).
 */

#include <stddef.h>

#include "rnn_nnfunctions.h"
#include "rnn_nn_support.h"

/* Refer to header file for details. */
void rnn_attention_pool_s8(int32_t outer, int32_t n, int32_t inner, int32_t inner_s,
                           const rnn_attention_params *p, const int8_t *scores,
                           const int8_t *values, int8_t *y)
{
    int32_t o;
    for (o = 0; o < outer; ++o)
    {
        int32_t i;
        for (i = 0; i < inner; ++i)
        {
            const int32_t j = inner_s == 1 ? 0 : i;
            const int8_t *s = scores + (size_t)o * (size_t)n * (size_t)inner_s + (size_t)j;
            const int8_t *v = values + (size_t)o * (size_t)n * (size_t)inner + (size_t)i;
            int32_t m = s[0];
            int32_t l = 0;
            int32_t x = 0;
            int32_t a = 0;
            int32_t k;
            for (k = 0; k < n; ++k)
            {
                rnn_att_step(p->exp_table, s[(size_t)k * (size_t)inner_s],
                             v + (size_t)k * (size_t)inner, p->zp_v, 1, &m, &l, &x, &a);
            }
            y[(size_t)o * (size_t)inner + (size_t)i] =
                rnn_att_output(a, l, p->mult, p->shift, p->zp_out);
        }
    }
}
