/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_lstm_cell_s16.c
 * Description: int8 LSTM cell update (the 8x8_16 scheme): gates in Q3.12 from the two
 *              products and the bias, sigmoid/tanh by table (Q0.15), int16 cell state with
 *              scale 2^-cell_exp, int8 hidden state. Mirrors reference_int.lstm_step.
 */

#include "rnn_nnfunctions.h"
#include "rnn_nn_support.h"

static int32_t clip_gate(int32_t v, int32_t clip)
{
    return clip == 0 ? v : (v < -clip ? -clip : (v > clip ? clip : v));
}

/* Refer to header file for details. */
void rnn_lstm_cell_s16(const rnn_cell_params_s16 *p, const int16_t *gx, const int16_t *gh,
                       int16_t *c, int8_t *h)
{
    const int32_t H = p->hidden;
    const int32_t k = p->cell_exp;
    int32_t u;

    for (u = 0; u < H; ++u)
    {
        int32_t gi = rnn_sat16(gx[u] + gh[u] + p->bias[u]);
        int32_t go = rnn_sat16(gx[H + u] + gh[H + u] + p->bias[H + u]);
        int32_t gf = rnn_sat16(gx[2 * H + u] + gh[2 * H + u] + p->bias[2 * H + u]);
        int32_t gc = rnn_sat16(gx[3 * H + u] + gh[3 * H + u] + p->bias[3 * H + u]);
        int32_t i, f, g, o, cn, c12, th;
        if (p->peephole)
        {
            gi = rnn_sat16(gi + rnn_sat16(rnn_requantize((int32_t)p->peephole[u] * c[u],
                                                         p->peep_mult, p->peep_shift)));
            gf = rnn_sat16(gf + rnn_sat16(rnn_requantize((int32_t)p->peephole[2 * H + u] * c[u],
                                                         p->peep_mult, p->peep_shift)));
        }
        gi = clip_gate(gi, p->clip);
        gf = clip_gate(gf, p->clip);
        gc = clip_gate(gc, p->clip);
        i = rnn_lut_q12(p->lut0, gi);
        f = p->input_forget ? rnn_sat16(32768 - i) : rnn_lut_q12(p->lut0, gf);
        g = rnn_lut_q12(p->lut1, gc);
        cn = rnn_sat16(rnn_rshift_round(f * c[u], 15) + rnn_rshift_round(i * g, 30 - k));
        c[u] = (int16_t)cn;
        if (p->peephole)
        {
            go = rnn_sat16(go + rnn_sat16(rnn_requantize((int32_t)p->peephole[H + u] * cn,
                                                         p->peep_mult, p->peep_shift)));
        }
        o = rnn_lut_q12(p->lut0, clip_gate(go, p->clip));
        c12 = k >= 12 ? rnn_rshift_round(cn, k - 12) : rnn_sat16(cn * (1 << (12 - k)));
        th = rnn_lut_q12(p->lut2, c12);
        h[u] = (int8_t)rnn_sat8(p->h_zero_point + rnn_requantize(o * th, p->out_mult,
                                                                 p->out_shift));
    }
}
