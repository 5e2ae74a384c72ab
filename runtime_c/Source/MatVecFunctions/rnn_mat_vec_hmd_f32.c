/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_mat_vec_hmd_f32.c
 * Description: Matrix-vector product with a Hybrid Matrix Decomposition (HMD, variant D1).
 *
 * W = [A' ; [B C | D E]] (Thakker et al., "Run-Time Efficient RNN Compression for Inference
 * on Edge Devices", Alg. 2): the top r rows are dense, the lower m - r rows are two rank-1
 * blocks, so y[0:r] = A' x and y[r:m] = B (C . x[0:h]) + D (E . x[h:n]) with h = ceil(n/2).
 * W is never expanded: r n + n + 3 (m - r) operations.
 *
 * Order of the sums (the same on every target): A' x is rnn_mat_vec_f32's. Each of the two
 * dot products C . x[0:h] and E . x[h:n] sums its terms in four partial sums (term i into
 * p[i mod 4], each starting at 0.0f) and then (p0 + p1) + (p2 + p3); each step is a fused
 * multiply-add where RNN_MAT_VEC_FUSED (the targets whose vector units fuse), a rounded
 * product then a rounded sum elsewhere. A lower row is bias + (b s1 + d s2), every operation
 * rounded (no fusion). Vector paths, the same results (Helium flushes denormals to zero):
 * - AArch64 NEON: four terms / four rows a pass (FMLA; FMUL, FADD).
 * - Cortex-M55 Helium: the same, the last partial pass predicated (VCTP).
 * - Cortex-M4/M7 (single-precision FPU): the lower rows four a pass in assembly, VLDM of four
 *   b, d and bias values, VMUL, VMLA (not fused: the product rounded, then the sum, exactly
 *   b s1 + d s2), VADD, VSTM: about 4.75 instructions a row instead of 13.
 */

#include <math.h>

#include "rnn_nnfunctions.h"

#if defined(__ARM_NEON) && defined(__aarch64__)
#include <arm_neon.h>
#define RNN_HMD_NEON 1
#elif defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 2)
#include <arm_mve.h>
#define RNN_HMD_MVE 1
#elif defined(__GNUC__) && defined(__thumb2__) && defined(__ARM_FP) && (__ARM_FP & 4) &&   \
    !defined(__ARM_FEATURE_MVE)
#define RNN_HMD_VMLA 1
#endif


/* sum_{i < n} v[i] x[i] in the order stated above */
static float dot4(int32_t n, const float *v, const float *x)
{
    float p0;
    float p1;
    float p2;
    float p3;
    int32_t i = 0;
#if defined(RNN_HMD_NEON)
    float32x4_t a = vdupq_n_f32(0.0f);
    for (; i + 4 <= n; i += 4)
    {
        a = vfmaq_f32(a, vld1q_f32(v + i), vld1q_f32(x + i));
    }
    p0 = vgetq_lane_f32(a, 0);
    p1 = vgetq_lane_f32(a, 1);
    p2 = vgetq_lane_f32(a, 2);
    p3 = vgetq_lane_f32(a, 3);
#elif defined(RNN_HMD_MVE)
    float32x4_t a = vdupq_n_f32(0.0f);
    for (; i < n; i += 4)
    {
        /* lanes past n read as 0.0f: 0 x 0 added to a partial sum leaves it as it is (a sum
         * that starts at +0.0f never becomes -0.0f under round to nearest) */
        const mve_pred16_t q = vctp32q((uint32_t)(n - i));
        a = vfmaq_f32(a, vldrwq_z_f32(v + i, q), vldrwq_z_f32(x + i, q));
    }
    p0 = vgetq_lane_f32(a, 0);
    p1 = vgetq_lane_f32(a, 1);
    p2 = vgetq_lane_f32(a, 2);
    p3 = vgetq_lane_f32(a, 3);
#else
    p0 = 0.0f;
    p1 = 0.0f;
    p2 = 0.0f;
    p3 = 0.0f;
    for (; i + 4 <= n; i += 4)
    {
        p0 = RNN_MADD_F32(p0, v[i], x[i]);
        p1 = RNN_MADD_F32(p1, v[i + 1], x[i + 1]);
        p2 = RNN_MADD_F32(p2, v[i + 2], x[i + 2]);
        p3 = RNN_MADD_F32(p3, v[i + 3], x[i + 3]);
    }
#endif
    /* the last 1..3 terms (none left on Helium) */
    if (i < n)
    {
        p0 = RNN_MADD_F32(p0, v[i], x[i]);
    }
    if (i + 1 < n)
    {
        p1 = RNN_MADD_F32(p1, v[i + 1], x[i + 1]);
    }
    if (i + 2 < n)
    {
        p2 = RNN_MADD_F32(p2, v[i + 2], x[i + 2]);
    }
    return (p0 + p1) + (p2 + p3);
}

/* y[i] = bias[i] (or 0) + (b[i] s1 + d[i] s2) for i < n; bias may alias y */
static void lower_rows(int32_t n, const float *b, const float *d, float s1, float s2,
                       const float *bias, float *y)
{
    int32_t i = 0;
#if defined(RNN_HMD_NEON)
    for (; i + 4 <= n; i += 4)
    {
        const float32x4_t t = vaddq_f32(vmulq_n_f32(vld1q_f32(b + i), s1),
                                        vmulq_n_f32(vld1q_f32(d + i), s2));
        const float32x4_t base = bias ? vld1q_f32(bias + i) : vdupq_n_f32(0.0f);
        vst1q_f32(y + i, vaddq_f32(base, t));
    }
#elif defined(RNN_HMD_MVE)
    for (; i < n; i += 4)
    {
        const mve_pred16_t q = vctp32q((uint32_t)(n - i));
        const float32x4_t t = vaddq_f32(vmulq_n_f32(vldrwq_z_f32(b + i, q), s1),
                                        vmulq_n_f32(vldrwq_z_f32(d + i, q), s2));
        const float32x4_t base = bias ? vldrwq_z_f32(bias + i, q) : vdupq_n_f32(0.0f);
        vstrwq_p_f32(y + i, vaddq_f32(base, t), q);
    }
#elif defined(RNN_HMD_VMLA)
    static const float zeros4[4];
    int32_t n4 = n >> 2;
    const float *p = bias ? bias : zeros4;
    const int32_t step = bias ? 16 : 0; /* bytes; zeros4 is read again and again */
    const float *bi = b;
    const float *di = d;
    float *yi = y;
    i = n4 * 4;
    if (n4 > 0)
    {
        __asm__ volatile("1:\n\t"
                         "vldmia %[b]!, {s8-s11}\n\t"
                         "vldmia %[d]!, {s12-s15}\n\t"
                         "vldmia %[p], {s16-s19}\n\t"
                         "add %[p], %[p], %[step]\n\t"
                         "vmul.f32 s8, s8, %[s1]\n\t"
                         "vmul.f32 s9, s9, %[s1]\n\t"
                         "vmul.f32 s10, s10, %[s1]\n\t"
                         "vmul.f32 s11, s11, %[s1]\n\t"
                         "vmla.f32 s8, s12, %[s2]\n\t"
                         "vmla.f32 s9, s13, %[s2]\n\t"
                         "vmla.f32 s10, s14, %[s2]\n\t"
                         "vmla.f32 s11, s15, %[s2]\n\t"
                         "vadd.f32 s8, s16, s8\n\t"
                         "vadd.f32 s9, s17, s9\n\t"
                         "vadd.f32 s10, s18, s10\n\t"
                         "vadd.f32 s11, s19, s11\n\t"
                         "vstmia %[y]!, {s8-s11}\n\t"
                         "subs %[n4], %[n4], #1\n\t"
                         "bne 1b\n\t"
                         : [b] "+r"(bi), [d] "+r"(di), [p] "+r"(p), [y] "+r"(yi), [n4] "+r"(n4)
                         : [s1] "t"(s1), [s2] "t"(s2), [step] "r"(step)
                         : "s8", "s9", "s10", "s11", "s12", "s13", "s14", "s15", "s16", "s17",
                           "s18", "s19", "cc", "memory");
    }
#endif
    for (; i < n; ++i)
    {
        const float base = bias ? bias[i] : 0.0f;
        y[i] = base + (b[i] * s1 + d[i] * s2);
    }
}

/* Refer to header file for details. */
void rnn_mat_vec_hmd_f32(int32_t rows, int32_t cols, int32_t r, const float *a, const float *b,
                         const float *c, const float *d, const float *e, const float *bias,
                         const float *x, float *y)
{
    const int32_t h = cols - cols / 2; /* C covers x[0:h], E covers x[h:cols] */

    if (r > 0)
    {
        rnn_mat_vec_f32(r, cols, a, bias, x, y);
    }
    if (rows > r)
    {
        const float s1 = dot4(h, c, x);
        const float s2 = dot4(cols - h, e, x + h);
        lower_rows(rows - r, b, d, s1, s2, bias ? bias + r : 0, y + r);
    }
}
