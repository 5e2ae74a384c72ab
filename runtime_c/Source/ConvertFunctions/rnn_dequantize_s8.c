/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_dequantize_s8.c
 * Description: int8 -> float: y = (q - zero_point) * scale, in float.
 */

#include "rnn_nnfunctions.h"

/* Refer to header file for details. */
void rnn_dequantize_s8(const int8_t *x, int32_t n, float scale, int32_t zero_point, float *y)
{
    int32_t i;

    for (i = 0; i < n; ++i)
    {
        y[i] = (float)(x[i] - zero_point) * scale;
    }
}
