/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_fastrnn_cell_f32.c
 * Description: FastRNN update (Kusupati et al., Microsoft EdgeML):
 *              h~ = act(W x + U h + b); h = sigmoid(beta) h + sigmoid(alpha) h~.
 */

#include "rnn_nnfunctions.h"

/* Refer to header file for details. */
void rnn_fastrnn_cell_f32(const rnn_fast_params_f32 *p, float *pre, float *h)
{
    int32_t k;

    rnn_activation_f32(&p->update, pre, p->hidden);
    for (k = 0; k < p->hidden; ++k)
    {
        h[k] = p->s2 * h[k] + p->s1 * pre[k];
    }
}
