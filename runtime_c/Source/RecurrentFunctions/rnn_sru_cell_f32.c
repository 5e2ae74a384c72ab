/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_sru_cell_f32.c
 * Description: SRU cell update (Lei et al. 2018) after the input projection W x:
 *              f = sigmoid(W_f x + v_f c + b_f), r = sigmoid(W_r x + v_r c + b_r),
 *              c = f c + (1 - f) W x, h = r c + (1 - r) x' (x' = x, or W_p x).
 */

#include "rnn_nnfunctions.h"

/* Refer to header file for details. */
void rnn_sru_cell_f32(const rnn_sru_params_f32 *p, float *gates, const float *x, float *c,
                      float *h)
{
    const int32_t H = p->hidden;
    const float *hw = p->projection ? gates + 3 * H : x;
    int32_t u;

    for (u = 0; u < H; ++u)
    {
        gates[H + u] += p->v[u] * c[u];
        gates[2 * H + u] += p->v[H + u] * c[u];
    }
    rnn_activation_f32(&p->gate, gates + H, 2 * H);
    for (u = 0; u < H; ++u)
    {
        const float f = gates[H + u];
        const float r = gates[2 * H + u];
        const float cn = f * c[u] + (1.0f - f) * gates[u];
        c[u] = cn;
        h[u] = r * cn + (1.0f - r) * hw[u];
    }
}
