/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_mat_vec_kron_a16_s16.c
 * Description: Kronecker-product product (A (x) B) x with an int16 x (--precision w8a16 /
 *              w4a16 activations: symmetric, zero point 0) and int8 factors: the first stage
 *              (A X with ax_first, else X B^T) reads x as int16, each sum requantized to the
 *              int8 intermediate t; the second stage is the int8 kernel's own
 *              (rnn_mat_vec_kron_s8_t_s16: B T[i] or A T, int8 t, int32 sums, its ISA paths),
 *              so t keeps its int8 type and scale.
 *
 * int32 or int64 sums by dense w8a16's bound rule (docs/int8.md, "int16 activations in
 * kron"): the first stage's factor (A with ax_first, else B) proves sum |row| 32768 < 2^31
 * for every row (quant.a16_fits_int32 at build time; its values 16-fold for int4, as
 * rnn_mat_vec_kron_a16_s4_s16 passes them): int32 sums and rnn_requantize (the usual shift
 * through the high word, as the int8 kernel); else m->acc64 and int64 sums with
 * rnn_requantize_s64 (quant.rq64). The first stage's sums are short (n1 or n2 terms, about
 * the square root of cols), so every factorisation rnngen's compressor makes stays int32;
 * the int64 path is there for any factor a file may hold. quant's QKron.forward does the same
 * integer arithmetic, so the C equals it bit for bit. x past cols (the zero padding of the
 * product) is real zero, i.e. not read. Plain C (no ISA path yet).
 *
 * Scratch (bytes, see kron.py _scratch_s8): with ax_first the int8 t [m1 n2] first, then the
 * scratch of rnn_mat_vec_kron_s8_s16; else that scratch alone (t is its [n1 m2] intermediate).
 */

#include <stdint.h>

#include "rnn_nnfunctions.h"
#include "rnn_nn_support.h"

/* sat8(rnn_requantize(acc, mult, shift)), the usual shift (<= -2) through the high word of the
 * 64-bit product and one rounding shift (the identity rnn_mat_vec_s8_s16.c documents) */
static inline int8_t a16_rq8(int32_t acc, int32_t mult, int32_t shift)
{
    if (shift <= -2)
    {
        const int32_t hi = (int32_t)(((int64_t)acc * (int64_t)mult) >> 32);
        return (int8_t)rnn_sat8(((hi >> (-2 - shift)) + 1) >> 1);
    }
    return (int8_t)rnn_sat8(rnn_requantize(acc, mult, shift));
}

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
        /* T[i][k] = sat8(rq(A[i] . X[:, k])) [m1, n2] for the rows whose outputs exist */
        int32_t i;
        for (i = 0; i < m1 && i * m2 < rows; ++i)
        {
            const int8_t *ai = m->a + i * n1;
            for (k = 0; k < n2; ++k)
            {
                const int32_t nj = k < part ? full + 1 : full;
                const int16_t *xk = x + k;
                if (m->acc64)
                {
                    int64_t s = 0;
                    for (j = 0; j < nj; ++j, xk += n2)
                    {
                        s += (int32_t)ai[j] * (int32_t)*xk; /* |product| < 2^22 */
                    }
                    t[i * n2 + k] = (int8_t)rnn_sat8(rnn_requantize_s64(s, tm, ts));
                }
                else
                {
                    int32_t s = 0;
                    for (j = 0; j < nj; ++j, xk += n2)
                    {
                        s += (int32_t)ai[j] * (int32_t)*xk;
                    }
                    t[i * n2 + k] = a16_rq8(s, tm, ts);
                }
            }
        }
        rnn_mat_vec_kron_s8_t_s16(ctx + m1 * n2, m, t, y);
    }
    else
    {
        /* T[j][l] = sat8(rq(B[l] . X[j])) [n1, m2] for the rows of X inside cols */
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
                if (m->acc64)
                {
                    int64_t s = 0;
                    for (k = 0; k < valid; ++k)
                    {
                        s += (int32_t)bl[k] * (int32_t)xj[k];
                    }
                    t[j * m2 + l] = (int8_t)rnn_sat8(rnn_requantize_s64(s, tm, ts));
                }
                else
                {
                    int32_t s = 0;
                    for (k = 0; k < valid; ++k)
                    {
                        s += (int32_t)bl[k] * (int32_t)xj[k];
                    }
                    t[j * m2 + l] = a16_rq8(s, tm, ts);
                }
            }
        }
        rnn_mat_vec_kron_s8_t_s16(ctx, m, t, y);
    }
}
