/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_gru_gates_a16.c
 * Description: GRU update and reset gates with an int16 h (w8a16 activations: symmetric,
 *              zero point 0): z, r (Q0.15) into zr[0:2H]; with linear_before_reset 0 (rh
 *              not NULL) also r * h as int16, the input of the R_h product. Mirrors
 *              cells/gru.py step_s8.
 */

#include "rnn_nnfunctions.h"
#include "rnn_nn_support.h"

/* Refer to header file for details. */
void rnn_gru_gates_a16(const rnn_gru_params_s16 *p, const int16_t *gx, const int16_t *gh,
                       const int16_t *h, int16_t *zr, int16_t *rh)
{
    const int32_t H = p->hidden;
    int32_t u;

    for (u = 0; u < 2 * H; ++u)
    {
        int32_t v = rnn_sat16(gx[u] + gh[u] + p->bias[u]);
        if (p->clip)
        {
            v = v < -p->clip ? -p->clip : (v > p->clip ? p->clip : v);
        }
        zr[u] = (int16_t)rnn_lut_q12(p->lut0, v);
    }
    if (rh)
    {
        for (u = 0; u < H; ++u)
        {
            rh[u] = (int16_t)rnn_sat16(rnn_rshift_round(zr[H + u] * h[u], 15));
        }
    }
}
