/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_dequantize_s8.c
 * Description: int8 -> float: y = (q - zero_point) * scale, in float.
 *
 * q - zero_point is an exact integer (|.| <= 255) and exact in float; the product is rounded
 * once, so every path gives the same floats. Helium (Cortex-M55): four values a pass
 * (VLDRB.S32 widening load, VSUB, VCVT, VMUL by the scalar), the last partial pass
 * predicated; Helium flushes a denormal product to zero, which needs a scale below 2^-126 /
 * 255 (no calibrated scale is). GCC vectorises the plain C on AArch64 itself. Measured
 * (python benchmarks/cells.py: 64 values a step, 8 steps; exact QEMU counts) on cortex-m55:
 * 7.1 -> 1.6 instructions a value.
 */

#include "rnn_nnfunctions.h"

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 2)
#include <arm_mve.h>
#endif

/* Refer to header file for details. */
void rnn_dequantize_s8(const int8_t *x, int32_t n, float scale, int32_t zero_point, float *y)
{
    int32_t i;

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 2)
    for (i = 0; i + 4 <= n; i += 4)
    {
        const int32x4_t q = vsubq_n_s32(vldrbq_s32(x + i), zero_point);
        vst1q_f32(y + i, vmulq_n_f32(vcvtq_f32_s32(q), scale));
    }
    if (i < n)
    {
        const mve_pred16_t m = vctp32q((uint32_t)(n - i));
        const int32x4_t q = vsubq_n_s32(vldrbq_z_s32(x + i, m), zero_point);
        vstrwq_p_f32(y + i, vmulq_n_f32(vcvtq_f32_s32(q), scale), m);
    }
#else
    for (i = 0; i < n; ++i)
    {
        y[i] = (float)(x[i] - zero_point) * scale;
    }
#endif
}
