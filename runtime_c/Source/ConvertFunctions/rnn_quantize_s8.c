/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_quantize_s8.c
 * Description: float -> int8: q = sat8(lrintf(x * inv_scale) + zero_point), the product in
 *              float (no contraction under -std=c99), rounded half to even.
 *
 * One path per instruction set, the same integers for every finite or infinite x (the
 * product is one IEEE multiply everywhere; every path rounds it to nearest, ties to even,
 * and saturates: sat8(sat16(r) + zp) = sat8(r + zp) since |zp| <= 128):
 * - plain C: clamped to +-512, rounded by adding and subtracting 1.5 * 2^23;
 * - AArch64 NEON: 16 values a pass, FCVTNS (round to nearest even, saturating to int32),
 *   SQXTN to int16, SQADD of the zero point, SQXTN to int8; the last n % 16 one at a time;
 * - Helium (Cortex-M55): 4 values a pass, the last partial pass predicated, VCVTN, VQADD,
 *   VMIN / VMAX, VSTRB of the low bytes (Helium flushes denormals to zero: a denormal
 *   product rounds to 0 on every path anyway);
 * - Cortex-M4/M7 (scalar FPU): VCVTR (the FPSCR's rounding mode, to nearest even by
 *   default, saturating), SSAT to 16 bits, the zero point, SSAT to 8 bits.
 * Instructions a value, plain C -> these paths (exact, under QEMU; `python
 * benchmarks/overhead.py --dtypes int8 --variants dense`: HAR1's input, 8 steps of 77 values,
 * one call on the AArch64 boards, one a step on Cortex-M): cortex-a73 and -a53 21.0 -> 1.7,
 * cortex-m4 23.2 -> 10.1, cortex-m7 24.1 -> 10.1, cortex-m55 23.2 -> 4.4.
 * A NaN gives the zero point on the boards' paths (the conversions give 0); plain C leaves
 * it to the compiler's float-to-int conversion.
 */

#include <float.h>
#include <math.h>

#include "rnn_nnfunctions.h"
#include "rnn_nn_support.h"

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 2)
#include <arm_mve.h>
#define RNN_Q8_MVE 1
#elif defined(__ARM_NEON) && defined(__aarch64__)
#include <arm_neon.h>
#define RNN_Q8_NEON 1
#elif defined(__ARM_FP) && (__ARM_FP & 4) && defined(__thumb2__) && defined(__GNUC__) &&      \
    defined(__ARM_FEATURE_SAT)
#define RNN_Q8_FPU 1
#endif

/* lrintf(v) for |v| <= 2^22 without a library call: adding and subtracting 1.5 * 2^23
 * rounds to an integer in the current rounding mode (to nearest, ties to even), exactly as
 * lrintf does, when float arithmetic is evaluated in float (FLT_EVAL_METHOD 0; not x87). */
#if defined(FLT_EVAL_METHOD) && FLT_EVAL_METHOD == 0
static int32_t round_even(float v)
{
    const float magic = 12582912.0f; /* 1.5 * 2^23 */
    return (int32_t)((v + magic) - magic);
}
#else
static int32_t round_even(float v)
{
    return (int32_t)lrintf(v);
}
#endif

/* the plain C form of one value */
static int8_t quantize_one(float x, float inv_scale, int32_t zero_point)
{
    float v = x * inv_scale;
    /* beyond +-512 every value saturates alike (|zero_point| <= 128) */
    v = v < -512.0f ? -512.0f : (v > 512.0f ? 512.0f : v);
    return (int8_t)rnn_sat8(round_even(v) + zero_point);
}

#if defined(RNN_Q8_NEON)
static inline int16x8_t q8_half_neon(const float *x, float inv_scale)
{
    const int32x4_t r0 = vcvtnq_s32_f32(vmulq_n_f32(vld1q_f32(x), inv_scale));
    const int32x4_t r1 = vcvtnq_s32_f32(vmulq_n_f32(vld1q_f32(x + 4), inv_scale));
    return vcombine_s16(vqmovn_s32(r0), vqmovn_s32(r1));
}
#endif

#if defined(RNN_Q8_FPU)
/* sat8(sat16(lrintf(v)) + zp): VCVTR rounds in the FPSCR's mode and saturates to int32 */
static inline int8_t q8_fpu(float v, int32_t zp)
{
    float r;
    int32_t q;
    __asm__("vcvtr.s32.f32 %0, %1" : "=t"(r) : "t"(v));
    memcpy(&q, &r, sizeof(q));
    /* GCC 12 types the builtin's result unsigned: the casts restore the sign */
    return (int8_t)(int32_t)__builtin_arm_ssat((int32_t)__builtin_arm_ssat(q, 16) + zp, 8);
}
#endif

/* Refer to header file for details. */
void rnn_quantize_s8(const float *x, int32_t n, float inv_scale, int32_t zero_point, int8_t *y)
{
    int32_t i = 0;

#if defined(RNN_Q8_NEON)
    const int16x8_t zp = vdupq_n_s16((int16_t)zero_point);
    for (; i + 16 <= n; i += 16)
    {
        const int16x8_t lo = vqaddq_s16(q8_half_neon(x + i, inv_scale), zp);
        const int16x8_t hi = vqaddq_s16(q8_half_neon(x + i + 8, inv_scale), zp);
        vst1q_s8(y + i, vcombine_s8(vqmovn_s16(lo), vqmovn_s16(hi)));
    }
#elif defined(RNN_Q8_MVE)
    for (; i < n; i += 4)
    {
        const mve_pred16_t p = vctp32q((uint32_t)(n - i));
        int32x4_t r = vcvtnq_s32_f32(vmulq_n_f32(vldrwq_z_f32(x + i, p), inv_scale));
        r = vqaddq_n_s32(r, zero_point);
        r = vmaxq_s32(vminq_s32(r, vdupq_n_s32(127)), vdupq_n_s32(-128));
        vstrbq_p_s32(y + i, r, p);
    }
#elif defined(RNN_Q8_FPU)
    for (; i < n; ++i)
    {
        y[i] = q8_fpu(x[i] * inv_scale, zero_point);
    }
#endif
    for (; i < n; ++i)
    {
        y[i] = quantize_one(x[i], inv_scale, zero_point);
    }
}
