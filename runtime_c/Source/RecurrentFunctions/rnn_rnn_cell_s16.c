/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_rnn_cell_s16.c
 * Description: int8 simple RNN update: h = f(gx + gh + b) by table, requantized to int8;
 *              with no table (lut0 NULL), ReLU: max(gx + gh + b, 0), the pre-activation
 *              in its calibrated int16 scale, requantized to int8.
 *              rnn_rnn_cell_a16: the same with an int16 h (w8a16: symmetric, zero point 0).
 */

#include <stddef.h>

#include "rnn_nnfunctions.h"
#include "rnn_nn_support.h"

/* h8 (int8 h with its zero point) or h16 (int16 h, w8a16; the other NULL) */
static void rnn_general(const rnn_rnn_params_s16 *p, const int16_t *gx, const int16_t *gh,
                        int8_t *h8, int16_t *h16)
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
        if (h16)
        {
            h16[u] = (int16_t)rnn_sat16(rnn_requantize(v, p->out_mult, p->out_shift));
        }
        else
        {
            h8[u] = (int8_t)rnn_sat8(p->h_zero_point +
                                     rnn_requantize(v, p->out_mult, p->out_shift));
        }
    }
}

/* Refer to header file for details. */
void rnn_rnn_cell_s16(const rnn_rnn_params_s16 *p, const int16_t *gx, const int16_t *gh,
                      int8_t *h)
{
    rnn_general(p, gx, gh, h, NULL);
}

/* Refer to header file for details. */
void rnn_rnn_cell_a16(const rnn_rnn_params_s16 *p, const int16_t *gx, const int16_t *gh,
                      int16_t *h)
{
    rnn_general(p, gx, gh, NULL, h);
}
