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
        /* T = A X [m1, n2]: row i of T accumulates A[i][j] * (row j of X), row by row */
        for (i = 0; i < m1; ++i)
        {
            float *t = ctx + i * n2;
            for (k = 0; k < n2; ++k)
            {
                t[k] = 0.0f;
            }
            for (j = 0; j < n1; ++j)
            {
                const float aij = a[i * n1 + j];
                const float *xj = x + j * n2;
                const int32_t valid = cols - j * n2 < n2 ? cols - j * n2 : n2; /* padding */
                for (k = 0; k < valid; ++k)
                {
                    t[k] += aij * xj[k];
                }
            }
        }
        /* Y[i][l] = T[i] . B[l] */
        for (i = 0; i < m1; ++i)
        {
            const float *t = ctx + i * n2;
            for (l = 0; l < m2 && i * m2 + l < rows; ++l)
            {
                const float *bl = b + l * n2;
                float acc = 0.0f;
                for (k = 0; k < n2; ++k)
                {
                    acc += t[k] * bl[k];
                }
                y[i * m2 + l] = (bias ? bias[i * m2 + l] : 0.0f) + acc;
            }
        }
    }
    else
    {
        /* T = X B^T [n1, m2]: T[j][l] = (row j of X) . B[l] */
        for (j = 0; j < n1; ++j)
        {
            const float *xj = x + j * n2;
            const int32_t valid = cols - j * n2 < n2 ? cols - j * n2 : n2;
            for (l = 0; l < m2; ++l)
            {
                const float *bl = b + l * n2;
                float acc = 0.0f;
                for (k = 0; k < valid; ++k)
                {
                    acc += xj[k] * bl[k];
                }
                ctx[j * m2 + l] = acc;
            }
        }
        /* Y[i] = bias + sum_j A[i][j] * T[j], accumulated in y row by row (only the first
         * `rows` outputs exist; bias may alias y, so it is read first) */
        for (i = 0; i < m1; ++i)
        {
            const int32_t base = i * m2;
            const int32_t n = rows - base < m2 ? rows - base : m2;
            float *yi = y + base;
            if (n <= 0)
            {
                break;
            }
            for (l = 0; l < n; ++l)
            {
                yi[l] = bias ? bias[base + l] : 0.0f;
            }
            for (j = 0; j < n1; ++j)
            {
                const float aij = a[i * n1 + j];
                const float *tj = ctx + j * m2;
                for (l = 0; l < n; ++l)
                {
                    yi[l] += aij * tj[l];
                }
            }
        }
    }
}
