/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_dequantize_s16.c
 * Description: int16 (an LSTM cell state, scale 2^-cell_exp) -> float: y = q * scale.
 */

#include "rnn_nnfunctions.h"

/* Refer to header file for details. */
void rnn_dequantize_s16(const int16_t *x, int32_t n, float scale, float *y)
{
    int32_t i;

    for (i = 0; i < n; ++i)
    {
        y[i] = (float)x[i] * scale;
    }
}
