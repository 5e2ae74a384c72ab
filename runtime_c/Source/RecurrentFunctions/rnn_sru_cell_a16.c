/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_sru_cell_a16.c
 * Description: SRU cell update with an int16 input x and hidden state h (w8a16 activations:
 *              symmetric, zero point 0): rnn_sru_cell_s16's arithmetic (rnn_sru_unit in
 *              rnn_nn_support.h), the highway x rescaled from its int16 scale, h saturated
 *              to int16. Mirrors cells/sru.py step_s8.
 */

#include "rnn_nnfunctions.h"
#include "rnn_nn_support.h"

/* Refer to header file for details. */
void rnn_sru_cell_a16(const rnn_sru_params_s16 *p, const int16_t *gx, const int16_t *x,
                      int16_t *c, int16_t *h)
{
    int32_t u;

    for (u = 0; u < p->hidden; ++u)
    {
        const int32_t xv = p->projection ? 0 : (int32_t)x[u] - p->x_zero_point;
        h[u] = (int16_t)rnn_sat16(rnn_sru_unit(p, gx, xv, c, u));
    }
}
