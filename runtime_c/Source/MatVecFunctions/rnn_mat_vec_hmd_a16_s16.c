/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_mat_vec_hmd_a16_s16.c
 * Description: The lower rows of an HMD (variant D1) matrix for an int16 x (int16
 *              activations, w8a16 / w4a16): s1 = C . x[0:h] and s2 = E . x[h:n] (int8
 *              C, E times int16 x) requantized to int16, then
 *              y[r + i] = sat16(rq(B[i] s1) + rq(D[i] s2)), as rnn_mat_vec_hmd_s8_s16.
 *
 * Design (docs/int8.md, "int16 activations in hmd"):
 * - A new file with its own params struct, rnn_hmd_a16, rather than rnn_hmd_s8 with an
 *   int16 x: the top rows A' are never done here (the model's C calls the dense
 *   int16-input kernels for them, rnn_mat_vec_a16_s16 / _a16_s4_s16 / the _wide ones, as
 *   the int4 A' of w4a8 is done by its caller), and an int16 x has no zero point, so
 *   rnn_hmd_s8's a, a_offset, a_mult, a_shift, off_c and off_e would all be dead here; what
 *   this kernel needs in their place is the int32 / int64 choice of each sum.
 * - int32 or int64 sums by the dense w8a16 bound rule (quant.a16_fits_int32): C . x is
 *   summed in int32 and requantized by rnn_requantize (quant.rq) when sum |C| * 32768 <
 *   2^31 (always for h <= 516: 127 * 516 * 32768 < 2^31), else in int64 and requantized by
 *   rnn_requantize_s64 (quant.rq64; |sum| < 127 * 32768 * 2^16 < 2^47: at most 65,536
 *   columns); c_wide says which. E . x likewise (e_wide).
 * - The intermediates s1, s2 stay int16 (with their own scales) as with an int8 x; B s1 and
 *   D s2 are int8 x int16 products, exact in int32, as in rnn_mat_vec_hmd_s8_s16.
 * Plain C99 on every core (these are n + 2 (rows - r) of the matrix's r n + n + 3 (rows - r)
 * MACs; the dense A' kernels have the ISA paths).
 */

#include "rnn_nnfunctions.h"
#include "rnn_nn_support.h"

/* round(w . x * mult * 2^(shift - 31)) to int16, summed in int32 (wide 0) or int64 */
static int32_t hmd_a16_dot(const int8_t *w, const int16_t *x, int32_t n, int32_t mult,
                           int32_t shift, int32_t wide)
{
    int32_t j;
    if (wide)
    {
        int64_t acc = 0;
        for (j = 0; j < n; ++j)
        {
            acc += (int32_t)w[j] * (int32_t)x[j];
        }
        return rnn_sat16(rnn_requantize_s64(acc, mult, shift));
    }
    else
    {
        int32_t acc = 0;
        for (j = 0; j < n; ++j)
        {
            acc += (int32_t)w[j] * (int32_t)x[j];
        }
        return rnn_sat16(rnn_requantize(acc, mult, shift));
    }
}

/* Refer to header file for details. */
void rnn_mat_vec_hmd_a16_s16(const rnn_hmd_a16 *m, const int16_t *x, int16_t *y)
{
    const int32_t h = m->cols - m->cols / 2;
    const int32_t s1 = hmd_a16_dot(m->c, x, h, m->c_mult, m->c_shift, m->c_wide);
    const int32_t s2 = hmd_a16_dot(m->e, x + h, m->cols - h, m->e_mult, m->e_shift, m->e_wide);
    int32_t i;

    for (i = 0; i < m->rows - m->r; ++i)
    {
        const int32_t t1 = rnn_requantize((int32_t)m->b[i] * s1, m->b_mult, m->b_shift);
        const int32_t t2 = rnn_requantize((int32_t)m->d[i] * s2, m->d_mult, m->d_shift);
        const int64_t sum = (int64_t)t1 + (int64_t)t2;
        y[m->r + i] = (int16_t)(sum > 32767 ? 32767 : (sum < -32768 ? -32768 : sum));
    }
}
