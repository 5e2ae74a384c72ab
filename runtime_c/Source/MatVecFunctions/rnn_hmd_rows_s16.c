/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_hmd_rows_s16.c
 * Description: The lower rows of an HMD (variant D1) product, shared by the int8-input and
 *              int16-input kernels (rnn_mat_vec_hmd_s8_s16, rnn_mat_vec_hmd_a16_s16):
 *              y[i] = sat16(rq(b[i] s1, b_mult, b_shift) + rq(d[i] s2, d_mult, d_shift))
 *              for i < n, s1 and s2 the two half-row sums already requantized to int16.
 *
 * When both shifts are below -1 (a right shift past 32 bits: every HMD model measured has -8
 * or below) each rq is the high word of the 64-bit product shifted with one rounding bit,
 * exactly rnn_requantize's value: ((hi >> (-2 - shift)) + 1) >> 1; |b s1| < 2^22, so the
 * two terms' sum fits int32 before the saturation. Helium: four rows per pass (VMULH, then
 * the rounding shift, predicated tail). Other shifts: rnn_requantize row by row.
 */

#include "rnn_nnfunctions.h"
#include "rnn_nn_support.h"

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
#include <arm_mve.h>
#define RNN_HMDROWS_MVE 1
#endif

#if defined(RNN_HMDROWS_MVE)
/* rnn_requantize(v[k], mult, shift) of four lanes for shift < -1 (right = 31 - shift > 32):
 * ((hi >> (right - 33)) + 1) >> 1 with hi = VMULH's high word */
static inline int32x4_t hmd_rq4(int32x4_t v, int32_t mult, int32_t shift)
{
    const int32x4_t t = vshlq_r_s32(vmulhq_s32(v, vdupq_n_s32(mult)), shift + 2);
    return vshrq_n_s32(vaddq_n_s32(t, 1), 1);
}
#endif

/* Refer to header file for details. */
void rnn_hmd_rows_s16(int32_t n, const int8_t *b, const int8_t *d, int32_t s1, int32_t s2,
                      int32_t b_mult, int32_t b_shift, int32_t d_mult, int32_t d_shift,
                      int16_t *y)
{
    int32_t i = 0;
    if (b_shift < -1 && d_shift < -1) /* right > 32 for both requantizations */
    {
#if defined(RNN_HMDROWS_MVE)
        const int32x4_t hi = vdupq_n_s32(32767);
        const int32x4_t lo = vdupq_n_s32(-32768);
        for (; i < n; i += 4)
        {
            const mve_pred16_t p = vctp32q((uint32_t)(n - i));
            const int32x4_t t1 = hmd_rq4(vmulq_n_s32(vldrbq_z_s32(b + i, p), s1), b_mult,
                                         b_shift);
            const int32x4_t t2 = hmd_rq4(vmulq_n_s32(vldrbq_z_s32(d + i, p), s2), d_mult,
                                         d_shift);
            vstrhq_p_s32(y + i, vmaxq_s32(vminq_s32(vaddq_s32(t1, t2), hi), lo), p);
        }
#else
        const int32_t rb = -2 - b_shift; /* right - 33 */
        const int32_t rd = -2 - d_shift;
        for (; i < n; ++i)
        {
            const int32_t h1 = (int32_t)(((int64_t)((int32_t)b[i] * s1) * b_mult) >> 32);
            const int32_t h2 = (int32_t)(((int64_t)((int32_t)d[i] * s2) * d_mult) >> 32);
            y[i] = (int16_t)rnn_sat16((((h1 >> rb) + 1) >> 1) + (((h2 >> rd) + 1) >> 1));
        }
#endif
        return;
    }
    for (; i < n; ++i)
    {
        const int32_t t1 = rnn_requantize((int32_t)b[i] * s1, b_mult, b_shift);
        const int32_t t2 = rnn_requantize((int32_t)d[i] * s2, d_mult, d_shift);
        const int64_t sum = (int64_t)t1 + (int64_t)t2;
        y[i] = (int16_t)(sum > 32767 ? 32767 : (sum < -32768 ? -32768 : sum));
    }
}
