/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_lut_s8.c
 * Description: An elementwise function of an int8 tensor by a 256-entry table (exact for
 *              every input value): y = table[x + 128].
 */

#include "rnn_nnfunctions.h"

/* Refer to header file for details. */
void rnn_lut_s8(const int8_t *table, const int8_t *x, int32_t n, int8_t *y)
{
    int32_t i;

    for (i = 0; i < n; ++i)
    {
        y[i] = table[x[i] + 128];
    }
}
