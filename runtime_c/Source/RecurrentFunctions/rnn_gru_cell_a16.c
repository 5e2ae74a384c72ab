/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_gru_cell_a16.c
 * Description: GRU update after rnn_gru_gates_a16 with an int16 h (w8a16 activations:
 *              symmetric, zero point 0); gh[2H:3H] is R_h h (lbr 1) or R_h (r h) (lbr 0).
 *              h updated in place. Mirrors cells/gru.py step_s8.
 */

#include "rnn_nnfunctions.h"
#include "rnn_nn_support.h"

/* Refer to header file for details. */
void rnn_gru_cell_a16(const rnn_gru_params_s16 *p, const int16_t *gx, const int16_t *gh,
                      const int16_t *zr, int16_t *h)
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
        h15 = rnn_sat16(rnn_requantize(h[u], p->h15_mult, p->h15_shift));
        nw = rnn_sat16(n + rnn_rshift_round(z * (h15 - n), 15));
        h[u] = (int16_t)rnn_sat16(rnn_requantize(nw, p->out_mult, p->out_shift));
    }
}
