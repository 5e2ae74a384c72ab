/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_gru_gates_s16.c
 * Description: int8 GRU update and reset gates: z, r (Q0.15) into zr[0:2H]; with
 *              linear_before_reset 0 also r * h as int8 (the input of the R_h product).
 *              rnn_gru_gates_a16: the same with int16 h and r * h (w8a16: zero point 0).
 */

#include <stddef.h>

#include "rnn_nnfunctions.h"
#include "rnn_nn_support.h"

/* the z and r gates; r * h into rh8 (int8 h with its zero point) or rh16 (int16 h, w8a16) */
static void gru_gates(const rnn_gru_params_s16 *p, const int16_t *gx, const int16_t *gh,
                      const int8_t *h8, const int16_t *h16, int16_t *zr, int8_t *rh8,
                      int16_t *rh16)
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
    if (rh8)
    {
        for (u = 0; u < H; ++u)
        {
            rh8[u] = (int8_t)rnn_sat8(p->h_zero_point +
                                      rnn_rshift_round(zr[H + u] * (h8[u] - p->h_zero_point), 15));
        }
    }
    if (rh16)
    {
        for (u = 0; u < H; ++u)
        {
            rh16[u] = (int16_t)rnn_sat16(rnn_rshift_round(zr[H + u] * h16[u], 15));
        }
    }
}

/* Refer to header file for details. */
void rnn_gru_gates_s16(const rnn_gru_params_s16 *p, const int16_t *gx, const int16_t *gh,
                       const int8_t *h, int16_t *zr, int8_t *rh)
{
    gru_gates(p, gx, gh, h, NULL, zr, rh, NULL);
}

/* Refer to header file for details. */
void rnn_gru_gates_a16(const rnn_gru_params_s16 *p, const int16_t *gx, const int16_t *gh,
                       const int16_t *h, int16_t *zr, int16_t *rh)
{
    gru_gates(p, gx, gh, NULL, h, zr, NULL, rh);
}
