/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_gather_rows.c
 * Description: Embedding lookup: rows of a table in flash selected by run-time token ids
 *              (any element type: rows are copied as bytes).
 */

#include <string.h>

#include "rnn_nnfunctions.h"

/* Refer to header file for details. */
void rnn_gather_rows(int32_t count, const int32_t *ids, int32_t rows, int32_t row_bytes,
                     const void *table, void *y)
{
    const unsigned char *src = (const unsigned char *)table;
    unsigned char *dst = (unsigned char *)y;
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
        memcpy(dst + (size_t)i * (size_t)row_bytes, src + (size_t)r * (size_t)row_bytes,
               (size_t)row_bytes);
    }
}
