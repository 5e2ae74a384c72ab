/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_gru_cell_s16.c
 * Description: int8 GRU state update after rnn_gru_gates_s16: candidate n (Q0.15 by table),
 *              then h = n + z (h - n) in Q0.15, requantized to the int8 hidden state.
 */

#include "rnn_nnfunctions.h"
#include "rnn_nn_support.h"

/* Refer to header file for details. */
void rnn_gru_cell_s16(const rnn_gru_params_s16 *p, const int16_t *gx, const int16_t *gh,
                      const int16_t *zr, int8_t *h)
{
    const int32_t H = p->hidden;
    int32_t u;

    for (u = 0; u < H; ++u)
    {
        const int32_t z = zr[u];
        int32_t npre, n, h15, nw;
        if (p->linear_before_reset)
        {
            const int32_t hh = rnn_sat16(gh[2 * H + u] + p->bias2[u]);
            npre = rnn_sat16(gx[2 * H + u] + p->bias[2 * H + u] +
                             rnn_rshift_round(zr[H + u] * hh, 15));
        }
        else
        {
            npre = rnn_sat16(gx[2 * H + u] + gh[2 * H + u] + p->bias[2 * H + u]);
        }
        if (p->clip)
        {
            npre = npre < -p->clip ? -p->clip : (npre > p->clip ? p->clip : npre);
        }
        n = rnn_lut_q12(p->lut1, npre);
        h15 = rnn_sat16(rnn_requantize(h[u] - p->h_zero_point, p->h15_mult, p->h15_shift));
        nw = rnn_sat16(n + rnn_rshift_round(z * (h15 - n), 15));
        h[u] = (int8_t)rnn_sat8(p->h_zero_point + rnn_requantize(nw, p->out_mult, p->out_shift));
    }
}
