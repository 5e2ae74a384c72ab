/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_mat_vec_csr_s8_s16.c
 * Description: Sparse (CSR) int8 matrix times int8 vector, rows requantized to int16.
 */

#include "rnn_nnfunctions.h"
#include "rnn_nn_support.h"

/* Refer to header file for details. */
void rnn_mat_vec_csr_s8_s16(int32_t rows, const int8_t *values, const uint16_t *col_idx,
                            const int32_t *row_ptr, const int32_t *offset, const int32_t *mult,
                            const int32_t *shift, const int8_t *x, int16_t *y)
{
    int32_t r;

    for (r = 0; r < rows; ++r)
    {
        int32_t acc = offset[r];
        int32_t k;
        for (k = row_ptr[r]; k < row_ptr[r + 1]; ++k)
        {
            acc += (int32_t)values[k] * (int32_t)x[col_idx[k]];
        }
        y[r] = (int16_t)rnn_sat16(rnn_requantize(acc, mult[r], shift[r]));
    }
}
