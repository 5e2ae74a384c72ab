/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_mat_vec_s8.c
 * Description: int8 matrix times int8 vector to an int8 output with a zero point (a Linear
 *              layer, or a low-rank intermediate): y[r] = sat8(zp + rq(W[r] . x + offset[r])).
 */

#include "rnn_nnfunctions.h"
#include "rnn_nn_support.h"

/* Refer to header file for details. */
void rnn_mat_vec_s8(int32_t rows, int32_t cols, const int8_t *w, const int32_t *offset,
                    const int32_t *mult, const int32_t *shift, int32_t out_zero_point,
                    const int8_t *x, int8_t *y)
{
    int32_t r;
    int32_t j;

    for (r = 0; r < rows; ++r)
    {
        const int8_t *wr = w + (int32_t)r * cols;
        int32_t acc = offset[r];
        for (j = 0; j < cols; ++j)
        {
            acc += (int32_t)wr[j] * (int32_t)x[j];
        }
        y[r] = (int8_t)rnn_sat8(out_zero_point + rnn_requantize(acc, mult[r], shift[r]));
    }
}
