/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_mat_vec_a16_s8.c
 * Description: int8 matrix times int16 vector to an int8 output with a zero point (a w8a8
 *              Linear layer reading a w8a16 layer's int16 output, or a w8a16 Linear layer
 *              whose output an int8-only operator reads: the requantization at the
 *              boundary): y[r] = sat8(zp + rq(W[r] . x + offset[r])).
 *
 * The sums come from rnn_mat_vec_a16_sums (rnn_mat_vec_a16_s16.c: DSP and NEON paths; on
 * Helium rnn_mat_vec_a16_sums_split, x split into bytes, whose offsets are offset + 128
 * row sum: rnn_mat_vec_a16_s16's contract) in blocks of RNN_A16_FC_BLOCK rows kept on the
 * stack, then are requantized.
 */

#include <stddef.h>

#include "rnn_nnfunctions.h"
#include "rnn_nn_support.h"

#define RNN_A16_FC_BLOCK 64

/* Refer to header file for details. */
void rnn_mat_vec_a16_s8(int32_t rows, int32_t cols, const int8_t *w, const int32_t *offset,
                        const int32_t *mult, const int32_t *shift, int32_t out_zero_point,
                        const int16_t *x, int8_t *y)
{
    int32_t acc[RNN_A16_FC_BLOCK];
    int32_t r;
    for (r = 0; r < rows; r += RNN_A16_FC_BLOCK)
    {
        const int32_t nb = rows - r < RNN_A16_FC_BLOCK ? rows - r : RNN_A16_FC_BLOCK;
        int32_t k;
#if RNN_A16_SPLIT
        rnn_mat_vec_a16_sums_split(nb, cols, w + (size_t)r * (size_t)RNN_S8_STRIDE(cols),
                                   offset + r, x, acc);
#else
        rnn_mat_vec_a16_sums(nb, cols, w + (size_t)r * (size_t)RNN_S8_STRIDE(cols),
                             offset + r, x, acc);
#endif
        for (k = 0; k < nb; ++k)
        {
            /* sat16 first: the same result as sat8(zp + rq) (|zp| <= 128), no int32
             * overflow when rq saturates */
            y[r + k] = (int8_t)rnn_sat8(
                out_zero_point + rnn_sat16(rnn_requantize(acc[k], mult[r + k], shift[r + k])));
        }
    }
}
