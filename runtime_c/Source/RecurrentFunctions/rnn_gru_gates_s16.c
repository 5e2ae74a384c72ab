/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_gru_gates_s16.c
 * Description: int8 GRU update and reset gates: z, r (Q0.15) into zr[0:2H]; with
 *              linear_before_reset 0 also r * h as int8 (the input of the R_h product).
 */

#include "rnn_nnfunctions.h"
#include "rnn_nn_support.h"

/* Refer to header file for details. */
void rnn_gru_gates_s16(const rnn_gru_params_s16 *p, const int16_t *gx, const int16_t *gh,
                       const int8_t *h, int16_t *zr, int8_t *rh)
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
            rh[u] = (int8_t)rnn_sat8(p->h_zero_point +
                                     rnn_rshift_round(zr[H + u] * (h[u] - p->h_zero_point), 15));
        }
    }
}
