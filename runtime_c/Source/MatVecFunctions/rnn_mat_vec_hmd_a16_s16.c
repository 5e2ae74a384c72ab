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
 *
 * Helium (Cortex-M55): the two sums by VMLADAVA.S16 (int32) or VMLALDAVA.S16 (int64), 8
 * products per instruction, the last 1..7 columns predicated. The lower rows are
 * rnn_hmd_rows_s16 (shared with rnn_mat_vec_hmd_s8_s16): on Helium four at a time
 * in int32 lanes when both b_shift and d_shift are below -1 (rnn_requantize's right shift
 * above 32: multipliers below 1/4, -8 or below in every HMD model seen): B[i] s1 by VMUL,
 * then rnn_requantize's 32-bit-core branch exactly, t = VMULH(B[i] s1, b_mult) (the
 * product's high word) >> (right - 33), (t + 1) >> 1; the sum (|t| < 2^21 each) clamped
 * to int16 and stored by VSTRH.32, the last 1..3 rows predicated. Other cores: plain C99,
 * the rows (their cost: two requantizations each; the sums are only n of the matrix's
 * r n + n + 3 (rows - r) MACs) by the same branch in word arithmetic when both shifts are
 * below -1 (the high word of one 32 x 32 product, two shifts and an add per
 * requantization, an int32 sum), else by rnn_requantize itself.
 */

#include "rnn_nnfunctions.h"
#include "rnn_nn_support.h"

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
#include <arm_mve.h>
#define RNN_HMDA16_MVE 1
#endif

/* round(w . x * mult * 2^(shift - 31)) to int16, summed in int32 (wide 0) or int64 */
static int32_t hmd_a16_dot(const int8_t *w, const int16_t *x, int32_t n, int32_t mult,
                           int32_t shift, int32_t wide)
{
    int32_t j = 0;
    if (wide)
    {
        int64_t acc = 0;
#if defined(RNN_HMDA16_MVE)
        for (; j + 8 <= n; j += 8)
        {
            acc = vmlaldavaq_s16(acc, vldrbq_s16(w + j), vldrhq_s16(x + j));
        }
        if (j < n)
        {
            const mve_pred16_t p = vctp16q((uint32_t)(n - j));
            acc = vmlaldavaq_p_s16(acc, vldrbq_z_s16(w + j, p), vldrhq_z_s16(x + j, p), p);
        }
#else
        for (; j < n; ++j)
        {
            acc += (int32_t)w[j] * (int32_t)x[j];
        }
#endif
        return rnn_sat16(rnn_requantize_s64(acc, mult, shift));
    }
    else
    {
        /* every partial sum is within sum |w| * 32768 < 2^31 too: exact in int32 */
        int32_t acc = 0;
#if defined(RNN_HMDA16_MVE)
        for (; j + 8 <= n; j += 8)
        {
            acc = vmladavaq_s16(acc, vldrbq_s16(w + j), vldrhq_s16(x + j));
        }
        if (j < n)
        {
            const mve_pred16_t p = vctp16q((uint32_t)(n - j));
            acc = vmladavaq_p_s16(acc, vldrbq_z_s16(w + j, p), vldrhq_z_s16(x + j, p), p);
        }
#else
        for (; j < n; ++j)
        {
            acc += (int32_t)w[j] * (int32_t)x[j];
        }
#endif
        return rnn_sat16(rnn_requantize(acc, mult, shift));
    }
}

/* Refer to header file for details. */
void rnn_mat_vec_hmd_a16_s16(const rnn_hmd_a16 *m, const int16_t *x, int16_t *y)
{
    const int32_t h = m->cols - m->cols / 2;
    const int32_t s1 = hmd_a16_dot(m->c, x, h, m->c_mult, m->c_shift, m->c_wide);
    const int32_t s2 = hmd_a16_dot(m->e, x + h, m->cols - h, m->e_mult, m->e_shift, m->e_wide);
    rnn_hmd_rows_s16(m->rows - m->r, m->b, m->d, s1, s2, m->b_mult, m->b_shift, m->d_mult,
                     m->d_shift, y + m->r);
}
