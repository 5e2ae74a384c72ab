/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_mat_vec_kron_f32.c
 * Description: Matrix-vector product with a Kronecker product W = A (x) B, never expanded.
 *
 * Row-major identity: with X = x as [n1, n2], (A (x) B) x = vec(A X B^T) [m1, m2]. The
 * product may be zero-padded (m1 m2 >= rows, n1 n2 >= cols): x is read as zero past cols and
 * only the first `rows` outputs are written. `ax_first` picks the cheaper association:
 * T = A X (m1 n2 (n1 + m2) multiply-adds) or T = X B^T (n1 m2 (n2 + m1)).
 */

#include "rnn_nnfunctions.h"

/* Refer to header file for details. */
void rnn_mat_vec_kron_f32(float *ctx, int32_t rows, int32_t cols, int32_t m1, int32_t n1,
                          int32_t m2, int32_t n2, int32_t ax_first, const float *a,
                          const float *b, const float *bias, const float *x, float *y)
{
    int32_t i;
    int32_t j;
    int32_t k;
    int32_t l;

    if (ax_first)
    {
        /* T[i][k] = sum_j A[i][j] X[j][k], then Y[i][l] = sum_k T[i][k] B[l][k] */
        for (i = 0; i < m1; ++i)
        {
            for (k = 0; k < n2; ++k)
            {
                float acc = 0.0f;
                for (j = 0; j < n1; ++j)
                {
                    const int32_t q = j * n2 + k;
                    acc += q < cols ? a[i * n1 + j] * x[q] : 0.0f;
                }
                ctx[i * n2 + k] = acc;
            }
        }
        for (i = 0; i < m1; ++i)
        {
            for (l = 0; l < m2 && i * m2 + l < rows; ++l)
            {
                float acc = 0.0f;
                for (k = 0; k < n2; ++k)
                {
                    acc += ctx[i * n2 + k] * b[l * n2 + k];
                }
                y[i * m2 + l] = (bias ? bias[i * m2 + l] : 0.0f) + acc;
            }
        }
    }
    else
    {
        /* T[j][l] = sum_k X[j][k] B[l][k], then Y[i][l] = sum_j A[i][j] T[j][l] */
        for (j = 0; j < n1; ++j)
        {
            for (l = 0; l < m2; ++l)
            {
                float acc = 0.0f;
                for (k = 0; k < n2; ++k)
                {
                    const int32_t q = j * n2 + k;
                    acc += q < cols ? x[q] * b[l * n2 + k] : 0.0f;
                }
                ctx[j * m2 + l] = acc;
            }
        }
        for (i = 0; i < m1; ++i)
        {
            for (l = 0; l < m2 && i * m2 + l < rows; ++l)
            {
                float acc = 0.0f;
                for (j = 0; j < n1; ++j)
                {
                    acc += a[i * n1 + j] * ctx[j * m2 + l];
                }
                y[i * m2 + l] = (bias ? bias[i * m2 + l] : 0.0f) + acc;
            }
        }
    }
}
