/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_fastgrnn_cell_f32.c
 * Description: FastGRNN update (Kusupati et al., Microsoft EdgeML): with p = W x + U h,
 *              z = gate(p + b_g), h~ = act(p + b_h),
 *              h = z h + (sigmoid(zeta) (1 - z) + sigmoid(nu)) h~.
 */

#include "rnn_nnfunctions.h"

/* Refer to header file for details. */
void rnn_fastgrnn_cell_f32(const rnn_fast_params_f32 *p, float *pre, float *z, float *h)
{
    const int32_t H = p->hidden;
    int32_t k;

    for (k = 0; k < H; ++k)
    {
        z[k] = pre[k] + p->bias_gate[k];
        pre[k] = pre[k] + p->bias_update[k];
    }
    rnn_activation_f32(&p->gate, z, H);
    rnn_activation_f32(&p->update, pre, H);
    for (k = 0; k < H; ++k)
    {
        h[k] = z[k] * h[k] + (p->s1 * (1.0f - z[k]) + p->s2) * pre[k];
    }
}
