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
    int32_t i, j, k, l;

    if (m->ax_first)
    {
        for (i = 0; i < m1; ++i)
        {
            for (k = 0; k < n2; ++k)
            {
                int32_t acc = 0;
                for (j = 0; j < n1; ++j)
                {
                    const int32_t q = j * n2 + k;
                    if (q < m->cols)
                    {
                        acc += (int32_t)m->a[i * n1 + j] * ((int32_t)x[q] - m->x_zero_point);
                    }
                }
                ctx[i * n2 + k] = (int8_t)rnn_sat8(rnn_requantize(acc, m->t_mult, m->t_shift));
            }
        }
        for (i = 0; i < m1; ++i)
        {
            for (l = 0; l < m2 && i * m2 + l < m->rows; ++l)
            {
                int32_t acc = 0;
                for (k = 0; k < n2; ++k)
                {
                    acc += (int32_t)ctx[i * n2 + k] * (int32_t)m->b[l * n2 + k];
                }
                y[i * m2 + l] = (int16_t)rnn_sat16(rnn_requantize(acc, m->y_mult, m->y_shift));
            }
        }
    }
    else
    {
        for (j = 0; j < n1; ++j)
        {
            for (l = 0; l < m2; ++l)
            {
                int32_t acc = 0;
                for (k = 0; k < n2; ++k)
                {
                    const int32_t q = j * n2 + k;
                    if (q < m->cols)
                    {
                        acc += ((int32_t)x[q] - m->x_zero_point) * (int32_t)m->b[l * n2 + k];
                    }
                }
                ctx[j * m2 + l] = (int8_t)rnn_sat8(rnn_requantize(acc, m->t_mult, m->t_shift));
            }
        }
        for (i = 0; i < m1; ++i)
        {
            for (l = 0; l < m2 && i * m2 + l < m->rows; ++l)
            {
                int32_t acc = 0;
                for (j = 0; j < n1; ++j)
                {
                    acc += (int32_t)m->a[i * n1 + j] * (int32_t)ctx[j * m2 + l];
                }
                y[i * m2 + l] = (int16_t)rnn_sat16(rnn_requantize(acc, m->y_mult, m->y_shift));
            }
        }
    }
}
