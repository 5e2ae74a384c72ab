/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_gru_gates_f32.c
 * Description: GRU update and reset gates (ONNX GRU, gates z, r, h).
 */

#include "rnn_nnfunctions.h"

/* Refer to header file for details. */
void rnn_gru_gates_f32(const rnn_gru_params_f32 *p, float *gx, const float *gh, const float *h,
                       float *rh)
{
    const int32_t n = 2 * p->hidden;
    int32_t k;

    for (k = 0; k < n; ++k)
    {
        float v = gx[k] + gh[k];
        if (p->clip > 0.0f)
        {
            v = v < -p->clip ? -p->clip : (v > p->clip ? p->clip : v);
        }
        gx[k] = v;
    }
    rnn_activation_f32(&p->f, gx, n);
    if (rh)
    {
        const float *r = gx + p->hidden;
        for (k = 0; k < p->hidden; ++k)
        {
            rh[k] = r[k] * h[k];
        }
    }
}
