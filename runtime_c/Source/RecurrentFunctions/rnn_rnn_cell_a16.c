/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_rnn_cell_a16.c
 * Description: simple RNN update with an int16 h (w8a16 activations: symmetric, zero point
 *              0): h = sat16(rq(f(gx + gh + b))) by table, or ReLU (lut0 NULL) on the
 *              pre-activation in its calibrated int16 scale. Mirrors cells/rnn.py step_s8.
 */

#include "rnn_nnfunctions.h"
#include "rnn_nn_support.h"

/* Refer to header file for details. */
void rnn_rnn_cell_a16(const rnn_rnn_params_s16 *p, const int16_t *gx, const int16_t *gh,
                      int16_t *h)
{
    int32_t u;

    for (u = 0; u < p->hidden; ++u)
    {
        int32_t v = rnn_sat16(gx[u] + gh[u] + p->bias[u]);
        if (p->clip)
        {
            v = v < -p->clip ? -p->clip : (v > p->clip ? p->clip : v);
        }
        v = p->lut0 ? rnn_lut_q12(p->lut0, v) : (v > 0 ? v : 0);
        h[u] = (int16_t)rnn_sat16(rnn_requantize(v, p->out_mult, p->out_shift));
    }
}
