/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_fastgrnn_cell_s16.c
 * Description: int8 FastGRNN update: with p = gx + gh, z = gate(p + b_g) and h~ = act(p + b_h)
 *              by table; h = z h + (s1 (1 - z) + s2) h~ in Q0.15, requantized to int8.
 */

#include "rnn_nnfunctions.h"
#include "rnn_nn_support.h"

/* Refer to header file for details. */
void rnn_fastgrnn_cell_s16(const rnn_fast_params_s16 *p, const int16_t *gx, const int16_t *gh,
                           int8_t *h)
{
    const int32_t H = p->hidden;
    int32_t u;

    for (u = 0; u < H; ++u)
    {
        const int32_t pre = rnn_sat16(gx[u] + gh[u]);
        const int32_t z = rnn_lut_q12(p->lut0, rnn_sat16(pre + p->bias2[u]));
        const int32_t a = rnn_lut_q12(p->lut1, rnn_sat16(pre + p->bias2[H + u]));
        const int32_t h15 = rnn_sat16(rnn_requantize(h[u] - p->h_zero_point, p->h15_mult,
                                                     p->h15_shift));
        const int32_t coef = rnn_sat16(rnn_rshift_round(p->s1 * (32768 - z), 15) + p->s2);
        const int32_t nw = rnn_sat16(rnn_rshift_round(z * h15, 15) +
                                     rnn_rshift_round(coef * a, 15));
        /* sat16 first: the same int8, no int32 overflow (see rnn_rnn_cell_s16) */
        h[u] = (int8_t)rnn_sat8(p->h_zero_point +
                                rnn_sat16(rnn_requantize(nw, p->out_mult, p->out_shift)));
    }
}
