/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_mat_vec_kron_s8_s16.c
 * Description: Kronecker-product int8 product (A (x) B) x: the intermediate (A X or X B^T)
 *              is requantized to int8 (symmetric), the result to int16. x past cols (zero
 *              padding) reads as the real value 0, i.e. x_zero_point.
 */

#include "rnn_nnfunctions.h"
#include "rnn_nn_support.h"

/* Refer to header file for details. */
void rnn_mat_vec_kron_s8_s16(int8_t *ctx, const rnn_kron_s8 *m, const int8_t *x, int16_t *y)
{
    const int32_t m1 = m->m1, n1 = m->n1, m2 = m->m2, n2 = m->n2;
    const int32_t zx = m->x_zero_point;
    int32_t acc[RNN_KRON_MAX_ROW];
    int32_t i, j, k, l;

    if (m->ax_first)
    {
        /* T = A (X - zx) [m1, n2], one row at a time in int32, requantized to int8 */
        for (i = 0; i < m1; ++i)
        {
            int32_t k0;
            for (k0 = 0; k0 < n2; k0 += RNN_KRON_MAX_ROW)
            {
                const int32_t kn = n2 - k0 < RNN_KRON_MAX_ROW ? n2 - k0 : RNN_KRON_MAX_ROW;
                for (k = 0; k < kn; ++k)
                {
                    acc[k] = 0;
                }
                for (j = 0; j < n1; ++j)
                {
                    const int32_t aij = m->a[i * n1 + j];
                    const int8_t *xj = x + j * n2 + k0;
                    int32_t valid = m->cols - j * n2 - k0; /* padding reads as real zero */
                    valid = valid < kn ? valid : kn;
                    for (k = 0; k < valid; ++k)
                    {
                        acc[k] += aij * (xj[k] - zx);
                    }
                }
                for (k = 0; k < kn; ++k)
                {
                    ctx[i * n2 + k0 + k] =
                        (int8_t)rnn_sat8(rnn_requantize(acc[k], m->t_mult, m->t_shift));
                }
            }
        }
        /* Y[i][l] = T[i] . B[l] */
        for (i = 0; i < m1; ++i)
        {
            const int8_t *t = ctx + i * n2;
            for (l = 0; l < m2 && i * m2 + l < m->rows; ++l)
            {
                const int8_t *bl = m->b + l * n2;
                int32_t s = 0;
                for (k = 0; k < n2; ++k)
                {
                    s += (int32_t)t[k] * (int32_t)bl[k];
                }
                y[i * m2 + l] = (int16_t)rnn_sat16(rnn_requantize(s, m->y_mult, m->y_shift));
            }
        }
    }
    else
    {
        /* T = (X - zx) B^T [n1, m2]: T[j][l] = (row j of X) . B[l] */
        for (j = 0; j < n1; ++j)
        {
            const int8_t *xj = x + j * n2;
            int32_t valid = m->cols - j * n2;
            valid = valid < n2 ? valid : n2;
            for (l = 0; l < m2; ++l)
            {
                const int8_t *bl = m->b + l * n2;
                int32_t s = 0;
                for (k = 0; k < valid; ++k)
                {
                    s += ((int32_t)xj[k] - zx) * (int32_t)bl[k];
                }
                ctx[j * m2 + l] = (int8_t)rnn_sat8(rnn_requantize(s, m->t_mult, m->t_shift));
            }
        }
        /* Y[i] = sum_j A[i][j] T[j] (int32, a row of up to RNN_KRON_MAX_ROW at a time) */
        for (i = 0; i < m1; ++i)
        {
            int32_t l0;
            for (l0 = 0; l0 < m2; l0 += RNN_KRON_MAX_ROW)
            {
                /* up to RNN_KRON_MAX_ROW outputs of row block i; only the first rows exist */
                const int32_t left = m->rows - i * m2 - l0;
                const int32_t n_block = m2 - l0 < RNN_KRON_MAX_ROW ? m2 - l0 : RNN_KRON_MAX_ROW;
                const int32_t n = left < n_block ? left : n_block;
                if (n <= 0)
                {
                    break;
                }
                for (l = 0; l < n; ++l)
                {
                    acc[l] = 0;
                }
                for (j = 0; j < n1; ++j)
                {
                    const int32_t aij = m->a[i * n1 + j];
                    const int8_t *tj = ctx + j * m2 + l0;
                    for (l = 0; l < n; ++l)
                    {
                        acc[l] += aij * tj[l];
                    }
                }
                for (l = 0; l < n; ++l)
                {
                    y[i * m2 + l0 + l] =
                        (int16_t)rnn_sat16(rnn_requantize(acc[l], m->y_mult, m->y_shift));
                }
            }
        }
    }
}
