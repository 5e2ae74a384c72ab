/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_mat_vec_s4.c
 * Description: int4 matrix (two weights per byte) times int8 vector to int8, a Linear layer
 *              with int4 weights: y[r] = sat8(zp + rq(W[r] . x + offset[r])). The sums come
 *              from rnn_mat_vec_s4_sums (its ISA paths), in blocks of rows.
 */

#include "rnn_nnfunctions.h"
#include "rnn_nn_support.h"

#define RNN_S4_FC_BLOCK 64

/* rnn_requantize(acc, mult, shift) */
static inline int32_t requant(int32_t acc, int32_t mult, int32_t shift)
{
    if (shift <= -2)
    {
        const int32_t hi = (int32_t)(((int64_t)acc * (int64_t)mult) >> 32);
        return ((hi >> (-2 - shift)) + 1) >> 1;
    }
    return rnn_requantize(acc, mult, shift);
}

/* Refer to header file for details. */
void rnn_mat_vec_s4(int32_t rows, int32_t cols, const int8_t *w, const int32_t *offset,
                    const int32_t *mult, const int32_t *shift, int32_t out_zero_point,
                    const int8_t *x, int8_t *y)
{
    int32_t acc[RNN_S4_FC_BLOCK];
    int32_t r;

    for (r = 0; r < rows; r += RNN_S4_FC_BLOCK)
    {
        const int32_t nb = rows - r < RNN_S4_FC_BLOCK ? rows - r : RNN_S4_FC_BLOCK;
        int32_t k;
        rnn_mat_vec_s4_sums(nb, cols, w + (int32_t)r * RNN_S4_STRIDE(cols), offset + r, x, acc);
        for (k = 0; k < nb; ++k)
        {
            int32_t v = requant(acc[k], mult[r + k], shift[r + k]);
            /* bounded before the zero point is added, as rnn_mat_vec_s8 */
            v = v > 255 ? 255 : (v < -256 ? -256 : v);
            y[r + k] = (int8_t)rnn_sat8(out_zero_point + v);
        }
    }
}
