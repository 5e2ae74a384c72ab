/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_mat_vec_kron_a16_s16.c
 * Description: Kronecker-product product (A (x) B) x with an int16 x (--precision w8a16 /
 *              w4a16 activations: symmetric, zero point 0) and int8 factors: the first stage
 *              (A X with ax_first, else X B^T) reads x as int16 and sums in int64, each sum
 *              requantized by rnn_requantize_s64 to the int8 intermediate t; the second stage
 *              is the int8 kernel's own (rnn_mat_vec_kron_s8_t_s16: B T[i] or A T, int8 t,
 *              int32 sums, its ISA paths), so t keeps its int8 type and scale.
 *
 * int64 always in the first stage (docs/int8.md, "int16 activations in kron"): its sums are
 * short (n1 or n2 terms, about the square root of cols), so an int32 bound would hold for
 * every factorisation rnngen makes, but the int64 sum costs little: one SMLAL(BB) per MAC on
 * Cortex-M4/M7 as MLA is one, and the requantizations are few (m1 n2 or n1 m2 per call, against
 * the m1 n2 n1 or n1 m2 n2 MACs). quant's QKron.forward does the same integer arithmetic
 * (rq64), so the C equals it bit for bit. x past cols (the zero padding of the product) is
 * real zero, i.e. not read. Plain C (no ISA path yet).
 *
 * Scratch (bytes, see kron.py _scratch_s8): with ax_first the int8 t [m1 n2] first, then the
 * scratch of rnn_mat_vec_kron_s8_s16; else that scratch alone (t is its [n1 m2] intermediate).
 */

#include <stdint.h>

#include "rnn_nnfunctions.h"
#include "rnn_nn_support.h"

/* Refer to header file for details. */
void rnn_mat_vec_kron_a16_s16(int8_t *ctx, const rnn_kron_s8 *m, const int16_t *x, int16_t *y)
{
    const int32_t m1 = m->m1, n1 = m->n1, m2 = m->m2, n2 = m->n2;
    const int32_t rows = m->rows, cols = m->cols;
    const int32_t full = cols / n2; /* whole rows of X inside x */
    const int32_t part = cols - full * n2;
    const int32_t tm = m->t_mult, ts = m->t_shift;
    int8_t *t = ctx;
    int32_t j, k;

    if (m->ax_first)
    {
        int32_t i;
        /* T[i][k] = sat8(rq64(A[i] . X[:, k])) [m1, n2] for the rows whose outputs exist */
        for (i = 0; i < m1 && i * m2 < rows; ++i)
        {
            const int8_t *ai = m->a + i * n1;
            for (k = 0; k < n2; ++k)
            {
                const int32_t nj = k < part ? full + 1 : full;
                const int16_t *xk = x + k;
                int64_t s = 0;
                for (j = 0; j < nj; ++j)
                {
                    s += (int32_t)ai[j] * (int32_t)*xk; /* |product| < 2^22 */
                    xk += n2;
                }
                t[i * n2 + k] = (int8_t)rnn_sat8(rnn_requantize_s64(s, tm, ts));
            }
        }
        rnn_mat_vec_kron_s8_t_s16(ctx + m1 * n2, m, t, y);
    }
    else
    {
        /* T[j][l] = sat8(rq64(B[l] . X[j])) [n1, m2] for the rows of X inside cols */
        const int32_t nj = full + (part ? 1 : 0);
        const int32_t ld = RNN_S8_STRIDE(n2);
        int32_t l;
        for (j = 0; j < nj; ++j)
        {
            const int32_t valid = j == full ? part : n2;
            const int16_t *xj = x + j * n2;
            for (l = 0; l < m2; ++l)
            {
                const int8_t *bl = m->b + l * ld;
                int64_t s = 0;
                for (k = 0; k < valid; ++k)
                {
                    s += (int32_t)bl[k] * (int32_t)xj[k];
                }
                t[j * m2 + l] = (int8_t)rnn_sat8(rnn_requantize_s64(s, tm, ts));
            }
        }
        rnn_mat_vec_kron_s8_t_s16(ctx, m, t, y);
    }
}
