/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_mat_vec_lowrank_f32.c
 * Description: Matrix-vector product with a low-rank factorization W = U V: y = U (V x),
 *              d (m + n) multiply-adds instead of m n.
 */

#include "rnn_nnfunctions.h"

/* Refer to header file for details. */
void rnn_mat_vec_lowrank_f32(float *ctx, int32_t rows, int32_t cols, int32_t rank,
                             const float *u, const float *v, const float *bias, const float *x,
                             float *y)
{
    rnn_mat_vec_f32(rank, cols, v, 0, x, ctx);
    rnn_mat_vec_f32(rows, rank, u, bias, ctx, y);
}
