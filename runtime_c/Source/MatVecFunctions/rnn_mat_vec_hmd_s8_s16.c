/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_mat_vec_hmd_s8_s16.c
 * Description: HMD (variant D1) int8 product: dense top rows, then for the lower rows
 *              s1 = C . x[0:h] and s2 = E . x[h:n] requantized to int16, and
 *              y[i] = sat16(rq(B[i] s1) + rq(D[i] s2)). With int4 weights (w4a8) the
 *              top rows A' are int4 and computed by the caller (rnn_mat_vec_s4_s16), and
 *              the struct's a is NULL: this kernel then writes only the lower rows.
 *              The lower rows are rnn_hmd_rows_s16 (shared with the int16-input kernel:
 *              four rows a pass on Helium, the high-word form of the requantization
 *              elsewhere; before, plain rnn_requantize per term: the w8a8 HMD LSTM 32 -> 64
 *              at 2x of benchmarks/a16_hmd.py spent 106,688 (M4) and 106,560 (M55)
 *              instructions in these rows).
 */

#include "rnn_nnfunctions.h"
#include "rnn_nn_support.h"

#include <stddef.h>

/* Refer to header file for details. */
void rnn_mat_vec_hmd_s8_s16(const rnn_hmd_s8 *m, const int8_t *x, int16_t *y)
{
    const int32_t h = m->cols - m->cols / 2;
    int32_t acc1 = m->off_c;
    int32_t acc2 = m->off_e;
    int32_t s1;
    int32_t s2;
    int32_t i;

    if (m->r > 0 && m->a != NULL) /* a NULL: int4 A', the caller's rnn_mat_vec_s4_s16 */
    {
        rnn_mat_vec_s8_s16(m->r, m->cols, m->a, m->a_offset, m->a_mult, m->a_shift, x, y);
    }
    for (i = 0; i < h; ++i)
    {
        acc1 += (int32_t)m->c[i] * (int32_t)x[i];
    }
    for (i = h; i < m->cols; ++i)
    {
        acc2 += (int32_t)m->e[i - h] * (int32_t)x[i];
    }
    s1 = rnn_sat16(rnn_requantize(acc1, m->c_mult, m->c_shift));
    s2 = rnn_sat16(rnn_requantize(acc2, m->e_mult, m->e_shift));
    rnn_hmd_rows_s16(m->rows - m->r, m->b, m->d, s1, s2, m->b_mult, m->b_shift, m->d_mult,
                     m->d_shift, y + m->r);
}
