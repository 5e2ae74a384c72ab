/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_mat_vec_a16_s4_s8.c
 * Description: int4 matrix (two weights per byte) times int16 vector to an int8 output with
 *              a zero point (a w4a16 Linear layer whose output an int8-only operator reads,
 *              or a w4a8 Linear layer reading a w8a16 / w4a16 layer's int16 output):
 *              y[r] = sat8(zp + rq(W[r] . x + offset[r])). The work is
 *              rnn_mat_vec_a16_s4_rows's (rnn_mat_vec_a16_s4_s16.c: x prepared once per call,
 *              the ISA paths, the rows requantized to int8 block by block).
 */

#include <stddef.h>

#include "rnn_nnfunctions.h"

/* Refer to header file for details. */
void rnn_mat_vec_a16_s4_s8(int32_t rows, int32_t cols, const int8_t *w, const int32_t *offset,
                           const int32_t *mult, const int32_t *shift, int32_t out_zero_point,
                           const int16_t *x, int8_t *y)
{
    rnn_mat_vec_a16_s4_rows(rows, cols, w, offset, mult, shift, out_zero_point, x, NULL, NULL,
                            y);
}
