/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_attention_pool_f32.c
 * Description: Attention pooling over a whole sequence: the sum over n of softmax(scores)
 *              times values.
 */

#include <math.h>
#include <stddef.h>

#include "rnn_nnfunctions.h"

/* Refer to header file for details. */
void rnn_attention_pool_f32(int32_t outer, int32_t n, int32_t inner, int32_t inner_s,
                            const float *scores, const float *values, float *y)
{
    int32_t o;
    for (o = 0; o < outer; ++o)
    {
        int32_t j;
        for (j = 0; j < inner_s; ++j)
        {
            const float *s = scores + (size_t)o * (size_t)n * (size_t)inner_s + (size_t)j;
            float m = s[0];
            float l = 0.0f;
            int32_t k;
            int32_t i;
            const int32_t i0 = inner_s == 1 ? 0 : j;
            const int32_t i1 = inner_s == 1 ? inner : j + 1;
            for (k = 1; k < n; ++k)
            {
                const float v = s[(size_t)k * (size_t)inner_s];
                m = v > m ? v : m;
            }
            for (k = 0; k < n; ++k)
            {
                l += expf(s[(size_t)k * (size_t)inner_s] - m);
            }
            for (i = i0; i < i1; ++i)
            {
                const float *v = values + (size_t)o * (size_t)n * (size_t)inner + (size_t)i;
                float acc = 0.0f;
                for (k = 0; k < n; ++k)
                {
                    const float w = expf(s[(size_t)k * (size_t)inner_s] - m) / l;
                    acc += w * v[(size_t)k * (size_t)inner];
                }
                y[(size_t)o * (size_t)inner + (size_t)i] = acc;
            }
        }
    }
}
