/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_mat_vec_csr_f32.c
 * Description: Matrix-vector product with a pruned matrix in compressed sparse rows.
 */

#include "rnn_nnfunctions.h"

/* Refer to header file for details. */
void rnn_mat_vec_csr_f32(int32_t rows, const float *values, const uint16_t *col_idx,
                         const int32_t *row_ptr, const float *bias, const float *x, float *y)
{
    int32_t i;

    for (i = 0; i < rows; ++i)
    {
        float acc = 0.0f;
        int32_t k;
        for (k = row_ptr[i]; k < row_ptr[i + 1]; ++k)
        {
            acc += values[k] * x[col_idx[k]];
        }
        y[i] = (bias ? bias[i] : 0.0f) + acc;
    }
}
