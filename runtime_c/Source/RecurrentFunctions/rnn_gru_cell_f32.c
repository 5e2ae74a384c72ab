/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_gru_cell_f32.c
 * Description: GRU hidden state update, after rnn_gru_gates_f32.
 */

#include "rnn_nnfunctions.h"

/* Refer to header file for details. */
void rnn_gru_cell_f32(const rnn_gru_params_f32 *p, const float *gx, const float *gh, float *h)
{
    const int32_t H = p->hidden;
    const float *z = gx;
    const float *r = gx + H;
    const float *xh = gx + 2 * H;
    const float *hh = gh + 2 * H;
    float n[RNN_MAT_VEC_TILE];
    int32_t k0;
    int32_t k;

    /* candidate state in chunks, so the scratch stays a few registers wide */
    for (k0 = 0; k0 < H; k0 += RNN_MAT_VEC_TILE)
    {
        const int32_t m = (H - k0) < RNN_MAT_VEC_TILE ? (H - k0) : RNN_MAT_VEC_TILE;
        for (k = 0; k < m; ++k)
        {
            float v = p->linear_before_reset ? xh[k0 + k] + r[k0 + k] * hh[k0 + k]
                                             : xh[k0 + k] + hh[k0 + k];
            if (p->clip > 0.0f)
            {
                v = v < -p->clip ? -p->clip : (v > p->clip ? p->clip : v);
            }
            n[k] = v;
        }
        rnn_activation_f32(&p->g, n, m);
        for (k = 0; k < m; ++k)
        {
            h[k0 + k] = (1.0f - z[k0 + k]) * n[k] + z[k0 + k] * h[k0 + k];
        }
    }
}
