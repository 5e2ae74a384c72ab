/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_rnn_cell_f32.c
 * Description: Simple RNN hidden state update: h = f(clip(pre)).
 */

#include "rnn_nnfunctions.h"

/* Refer to header file for details. */
void rnn_rnn_cell_f32(const rnn_rnn_params_f32 *p, const float *pre, float *h)
{
    int32_t k;

    for (k = 0; k < p->hidden; ++k)
    {
        float v = pre[k];
        if (p->clip > 0.0f)
        {
            v = v < -p->clip ? -p->clip : (v > p->clip ? p->clip : v);
        }
        h[k] = v;
    }
    rnn_activation_f32(&p->f, h, p->hidden);
}
