/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_gather_rows_f32.c
 * Description: Embedding lookup: rows of a table in flash selected by run-time token ids.
 */

#include <string.h>

#include "rnn_nnfunctions.h"

/* Refer to header file for details. */
void rnn_gather_rows_f32(int32_t count, const int32_t *ids, int32_t rows, int32_t dim,
                        const float *table, float *y)
{
    int32_t i;
    for (i = 0; i < count; ++i)
    {
        int32_t r = ids[i];
        if (r < 0)
        {
            r += rows; /* ONNX Gather: a negative index counts from the end */
        }
        if (r < 0)
        {
            r = 0;
        }
        else if (r >= rows)
        {
            r = rows - 1;
        }
        memcpy(y + (size_t)i * (size_t)dim, table + (size_t)r * (size_t)dim,
               (size_t)dim * sizeof(float));
    }
}
