/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_mat_vec_s4.c
 * Description: int4 matrix (two weights per byte) times int8 vector to int8, a Linear layer
 *              with int4 weights: y[r] = sat8(zp + rq(W[r] . x + offset[r])). The work is
 *              rnn_mat_vec_s4_rows's (rnn_mat_vec_s4_s16.c: x split once per call, the ISA
 *              paths, the rows requantized to int8 block by block).
 */

#include "rnn_nnfunctions.h"

#include <stddef.h>

/* Refer to header file for details. */
void rnn_mat_vec_s4(int32_t rows, int32_t cols, const int8_t *w, const int32_t *offset,
                    const int32_t *mult, const int32_t *shift, int32_t out_zero_point,
                    const int8_t *x, int8_t *y)
{
    rnn_mat_vec_s4_rows(rows, cols, w, offset, mult, shift, out_zero_point, x, NULL, NULL, y);
}
