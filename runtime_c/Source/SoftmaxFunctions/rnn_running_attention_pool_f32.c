/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_running_attention_pool_f32.c
 * Description: Attention pooling over time in a streaming model: an online softmax whose
 *              running maximum, normalizer and weighted sum live in the state struct.
 */

#include <math.h>
#include <stddef.h>

#include "rnn_nnfunctions.h"

/* Refer to header file for details. */
void rnn_running_attention_pool_f32(int32_t outer, int32_t n, int32_t inner, int32_t inner_s,
                                    const float *scores, const float *values, float *m,
                                    float *l, float *a, int32_t *count, float *y)
{
    const int32_t seen = *count;
    int32_t o;
    for (o = 0; o < outer; ++o)
    {
        int32_t j;
        for (j = 0; j < inner_s; ++j)
        {
            const size_t js = (size_t)o * (size_t)inner_s + (size_t)j;
            const int32_t i0 = inner_s == 1 ? 0 : j;
            const int32_t i1 = inner_s == 1 ? inner : j + 1;
            int32_t k;
            int32_t i;
            for (k = 0; k < n; ++k)
            {
                const float s = scores[((size_t)o * (size_t)n + (size_t)k) * (size_t)inner_s
                                       + (size_t)j];
                const float *v = values + ((size_t)o * (size_t)n + (size_t)k) * (size_t)inner;
                float *ao = a + (size_t)o * (size_t)inner;
                if (seen == 0 && k == 0)
                {
                    /* the first step after _reset starts the running values */
                    m[js] = s;
                    l[js] = 1.0f;
                    for (i = i0; i < i1; ++i)
                    {
                        ao[i] = v[i];
                    }
                }
                else
                {
                    const float mn = s > m[js] ? s : m[js];
                    const float c1 = expf(m[js] - mn);
                    const float c2 = expf(s - mn);
                    m[js] = mn;
                    l[js] = l[js] * c1 + c2;
                    for (i = i0; i < i1; ++i)
                    {
                        ao[i] = ao[i] * c1 + c2 * v[i];
                    }
                }
            }
            for (i = i0; i < i1; ++i)
            {
                y[(size_t)o * (size_t)inner + (size_t)i] = a[(size_t)o * (size_t)inner + (size_t)i] / l[js];
            }
        }
    }
    *count = seen + n;
}
