/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_rnn_cell_s16.c
 * Description: int8 simple RNN update: h = f(gx + gh + b) by table, requantized to int8;
 *              with no table (lut0 NULL), ReLU: max(gx + gh + b, 0), the pre-activation
 *              in its calibrated int16 scale, requantized to int8.
 */

#include "rnn_nnfunctions.h"
#include "rnn_nn_support.h"

/* Refer to header file for details. */
void rnn_rnn_cell_s16(const rnn_rnn_params_s16 *p, const int16_t *gx, const int16_t *gh,
                      int8_t *h)
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
        /* sat16 first: the same int8 as sat8(zp + rq) (|zp| <= 128), and no int32 overflow
         * when the requantization saturates (out_shift >= 17) */
        h[u] = (int8_t)rnn_sat8(p->h_zero_point +
                                rnn_sat16(rnn_requantize(v, p->out_mult, p->out_shift)));
    }
}
