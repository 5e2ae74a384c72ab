/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_sru_cell_s16.c
 * Description: int8 SRU cell update after the W x product: f and r gates in Q3.12 (W x +
 *              bias + v * c, v * c requantized like LSTM peepholes), sigmoid by table
 *              (Q0.15), int16 cell state with scale 2^-cell_exp, h = r c + (1 - r) x' summed
 *              in Q.15 and requantized to int8 (rnn_sru_unit in rnn_nn_support.h). Mirrors
 *              cells/sru.py step_s8 (docs/int8.md).
 */

#include "rnn_nnfunctions.h"
#include "rnn_nn_support.h"

/* Refer to header file for details. */
void rnn_sru_cell_s16(const rnn_sru_params_s16 *p, const int16_t *gx, const int8_t *x,
                      int16_t *c, int8_t *h)
{
    int32_t u;

    for (u = 0; u < p->hidden; ++u)
    {
        const int32_t xv = p->projection ? 0 : (int32_t)x[u] - p->x_zero_point;
        h[u] = (int8_t)rnn_sat8(rnn_sru_unit(p, gx, xv, c, u));
    }
}
