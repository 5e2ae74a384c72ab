/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_sru_cell_a16.c
 * Description: SRU cell update with an int16 input x and hidden state h (w8a16 activations:
 *              symmetric, zero point 0): the arithmetic of rnn_sru_cell_s16 (gates Q3.12,
 *              sigmoid by table, int16 c with scale 2^-cell_exp, h summed in Q.15), the
 *              highway x rescaled from its int16 scale, h saturated to int16. Mirrors
 *              cells/sru.py step_s8.
 */

#include "rnn_nnfunctions.h"
#include "rnn_nn_support.h"

/* quant.rshift_round of a 64-bit value by n >= 1 */
static int64_t rshift_round64(int64_t v, int32_t n)
{
    return (v + ((int64_t)1 << (n - 1))) >> n;
}

/* Refer to header file for details. */
void rnn_sru_cell_a16(const rnn_sru_params_s16 *p, const int16_t *gx, const int16_t *x,
                      int16_t *c, int16_t *h)
{
    const int32_t H = p->hidden;
    const int32_t k = p->cell_exp;
    const int16_t *b = p->bias;
    const int16_t *v = p->v;
    int32_t u;

    for (u = 0; u < H; ++u)
    {
        const int32_t cp = c[u];
        const int32_t wx = rnn_sat16(gx[u] + b[u]);
        const int32_t gf = rnn_sat16(rnn_sat16(gx[H + u] + b[H + u]) + rnn_sat16(
            rnn_requantize((int32_t)v[u] * cp, p->v_mult, p->v_shift)));
        const int32_t gr = rnn_sat16(rnn_sat16(gx[2 * H + u] + b[2 * H + u]) + rnn_sat16(
            rnn_requantize((int32_t)v[H + u] * cp, p->v_mult, p->v_shift)));
        const int32_t f = rnn_lut_q12(p->lut0, gf);
        const int32_t r = rnn_lut_q12(p->lut0, gr);
        const int32_t cn = rnn_sat16(rnn_rshift_round(f * cp, 15) +
                                     rnn_rshift_round((32768 - f) * wx, 27 - k));
        int64_t hw15, total;
        if (p->projection)
        {
            hw15 = (int64_t)rnn_sat16(gx[3 * H + u] + b[3 * H + u]) * 8; /* Q3.12 -> Q.15 */
        }
        else
        {
            hw15 = rnn_requantize((int32_t)x[u] - p->x_zero_point, p->x15_mult, p->x15_shift);
        }
        total = (int64_t)rnn_rshift_round(r * cn, k) + rshift_round64((32768 - r) * hw15, 15);
        total = total > INT32_MAX ? INT32_MAX : (total < INT32_MIN ? INT32_MIN : total);
        c[u] = (int16_t)cn;
        h[u] = (int16_t)rnn_sat16(p->h_zero_point + rnn_requantize((int32_t)total, p->out_mult,
                                                                   p->out_shift));
    }
}
