/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_activation_f32.c
 * Description: The ONNX recurrent-layer activation functions, applied in place.
 *
 * Sigmoid and tanh need no libm: e^x = 2^k e^r with x = k ln2 + r, |r| <= ln2/2 (k rounded by
 * the 1.5 * 2^23 trick), e^r by one degree-6 polynomial (coefficients fitted for rnngen on
 * Chebyshev nodes, relative error 3e-9 before float rounding), 2^k from the exponent bits;
 * sigmoid(x) = 1 / (1 + e^-x) with x clamped to [-87, 87], tanh(x) = sign(x) (1 - e) /
 * (1 + e) with e = e^-2|x|, |x| clamped to 43. One path per instruction set, the same
 * clamps everywhere and the same polynomial but on Cortex-M4/M7 (a table-driven e^x there):
 *
 * - plain C (the host, any other target): unchanged from before the paths, so host results
 *   did not change: ln 2 split so that k * ln2_hi is exact, separate multiplies and adds, the
 *   clamping in its own loop (GCC then vectorizes the other loop with SSE/AVX).
 * - Cortex-M4/M7 (scalar single-precision FPU with fused multiply-add): one loop per
 *   activation with e^x inlined (no call, constants in registers), the reduction by fused
 *   multiply-adds with ln 2 / 32 as the nearest float plus its remainder, the sign of x and
 *   the factor 2 of tanh folded into the constants (exactly: powers of 2); e^x table-driven
 *   (exp_fpu: 32 entries 2^(j/32) with their rounding as a correction, |r| <= ln2/64, a
 *   degree-3 Taylor polynomial, one rounding at the end), which needs fewer instructions
 *   than the degree-6 polynomial on a scalar FPU whose fused multiply-add adds to its
 *   destination; the clamps as one rarely taken branch.
 * - Cortex-M55 (Helium, MVE float): 4 lanes per pass, the last partial pass predicated; the
 *   polynomial by VFMAS (p * r + c_i, c_i a scalar); clamping by compare and select (NaN
 *   stays NaN); no vector divide in MVE, so 1 / d by an integer first guess (0x7EF311C3 -
 *   bits(d), within 5.1%) and three Newton steps y += y (1 - d y). Helium arithmetic always
 *   flushes denormals to zero (tanh of a denormal gives 0).
 * - AArch64 NEON (cortex-a73): the degree-6 polynomial, reduction by fused multiply-adds as
 *   the Cortex-M4/M7 path had it before its table (FMLA, FDIV), 4 lanes at a time, the last
 *   n % 4 values as an overlapping last vector (a buffer for n < 4).
 *
 * Accuracy against float64 (1 / (1 + exp(-x)) and tanh(x) in double), measured over every
 * float32 input on the host for the plain C and the FPU path (the FPU path compiled for x86
 * with FMA: the same IEEE operations), and over every 37th bit pattern (116 million inputs)
 * on the boards under QEMU for Helium and NEON:
 *
 *   path        sigmoid abs   sigmoid rel (x >= -87)   tanh abs    e^-x rel on [-87, 87]
 *   plain C     8.93e-8       1.60e-7 (2.48 ulp)       9.64e-8     1.13e-7 (1.35 ulp)
 *   NEON        8.93e-8       1.65e-7 (2.48 ulp)       9.16e-8     8.92e-8 (1.06 ulp)
 *   FPU         8.93e-8       1.48e-7                  8.94e-8     6.09e-8
 *   Helium      8.93e-8       1.48e-7 (2.43 ulp)       1.19e-7     -
 *
 * (The FPU row is the table-driven e^x, measured over every float32 as above by
 * benchmarks/act_accuracy.py; with the degree-6 polynomial the FPU path measured as NEON
 * does. On cortex-m4 and -m7 under QEMU, every 2^-12 over [-20, 20] plus the test sweep
 * (171,990 inputs): sigmoid relative 1.39e-7, tanh 8.9e-8; test_board_kernels.py's
 * test_sigmoid_tanh_fpu_dense bounds them by 1.5e-7 and 1e-7.)
 *
 * For comparison, glibc's expf is within 0.50 ulp, 1 / (1 + expf(-x)) in float within
 * 2.48 ulp (1.48e-7), tanhf within 1.04e-7 absolute. tanh is accurate in absolute terms
 * only: near 0 (1 - e) cancels (up to 130 ulp for |x| around 2e-3, an absolute 3e-8).
 * Below -87 sigmoid gives sigmoid(-87) = 1.6e-38 (the true value is smaller still); above
 * 17 it gives 1; tanh gives +-1 beyond |x| = 9.1; +-inf give these limits, NaN gives NaN
 * (whatever its payload). tests/kernels/test_board_kernels.py checks the bounds 1.2e-7
 * (sigmoid, absolute), 5e-7 (relative) and 2e-7 (tanh) on every path on a dense sweep.
 *
 * Instructions (HAR1 LSTM direction, input 77, hidden 179: one `_run` of 8 steps, 895
 * sigmoid/tanh values a step; benchmarks/kernels.py's build, exact counts under QEMU, each
 * function's own instructions, static helpers included), before these paths -> now, a step:
 *
 *   cortex-m4   exp_f32 32,220 + sigmoid/tanh/rest 19,619 (58 per value) -> 33,423 (37)
 *               -> 29,431 (32.9) with the branch clamps and the table-driven e^x
 *               (benchmarks/kron_model.py's build, where they took 33,353 before:
 *               sigmoid_f32 16,155 + tanh_f32 13,276 a step; 30 and 37 per value)
 *   cortex-m55  exp_f32 32,220 + 18,749 (57 per value) -> 10,941 (12.2)
 *   cortex-a73  10,718 (12.0 per value, GCC's vectorization of the plain C) -> 6,811 (7.6)
 *
 * The other activations are plain C loops on every target (ELU and Softplus call libm).
 */

#include <math.h>
#include <string.h>

#include "rnn_nnfunctions.h"

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 2)
#include <arm_mve.h>
#define RNN_ACT_MVE 1
#elif defined(__ARM_NEON) && defined(__aarch64__)
#include <arm_neon.h>
#define RNN_ACT_NEON 1
#elif defined(__ARM_FP) && (__ARM_FP & 4) && defined(__ARM_FEATURE_FMA)
#define RNN_ACT_FPU 1
#endif

#if defined(__GNUC__)
#define RNN_ACT_INLINE static inline __attribute__((always_inline))
#else
#define RNN_ACT_INLINE static inline
#endif

/* e^r on |r| <= ln2/2: 1 + r (C1 + r (C2 + ... r C6)) */
#define EXP_C6 0.00138294206f
#define EXP_C5 0.00837477152f
#define EXP_C4 0.0416683580f
#define EXP_C3 0.166664208f
#define EXP_C2 0.499999915f
#define EXP_C1 1.00000004f
#define EXP_LOG2E 1.44269504f
#define EXP_SHIFTER 12582912.0f /* 1.5 * 2^23: adding it rounds to an integer */
/* 1.5 * 2^23 + 127: the sum's low bits are then k + 127, 2^k's exponent field */
#define EXP_SHIFTER_BIASED 12583039.0f
/* ln 2 for fused multiply-adds: the nearest float and the remainder */
#define EXP_LN2_F 0.693147182f
#define EXP_LN2_R -1.90465421e-09f

#if !defined(RNN_ACT_FPU) && !defined(RNN_ACT_MVE) && !defined(RNN_ACT_NEON)
/* ---- plain C ---- */

/*
 * e^x, written so that loops calling it vectorize: ln 2 split so that k * ln2_hi is exact,
 * 2^k built from the exponent bits.
 * x must be in [-87, 88], where e^x is a normal float: callers clamp first.
 */
static float exp_f32(float x)
{
    float k;
    float r;
    float p;
    float scale;
    int32_t bits;

    k = x * EXP_LOG2E + EXP_SHIFTER;
    k = k - EXP_SHIFTER;
    r = x - k * 0.693145751953125f; /* ln 2, high part (exact product) */
    r = r - k * 1.42860677e-06f;     /* ln 2, low part */
    p = EXP_C6;
    p = p * r + EXP_C5;
    p = p * r + EXP_C4;
    p = p * r + EXP_C3;
    p = p * r + EXP_C2;
    p = p * r + EXP_C1;
    p = p * r + 1.0f;
    bits = ((int32_t)k + 127) << 23;
    memcpy(&scale, &bits, sizeof(scale));
    return p * scale;
}


/* Clamping runs in its own loop: with a comparison in the same loop as the division or
 * the float-to-int conversion, GCC (with the default -ftrapping-math) does not vectorize. */
static void clamp_f32(float *data, int32_t n, float lo, float hi)
{
    int32_t i;
    for (i = 0; i < n; ++i)
    {
        const float v = data[i] < lo ? lo : data[i];
        data[i] = v > hi ? hi : v;
    }
}

/* sigmoid(x) = 1 / (1 + e^-x); x clamped to [-87, 87] (the result is 0 or 1 there anyway) */
static void sigmoid_f32(float *data, int32_t n)
{
    int32_t i;
    clamp_f32(data, n, -87.0f, 87.0f);
    for (i = 0; i < n; ++i)
    {
        data[i] = 1.0f / (1.0f + exp_f32(-data[i]));
    }
}

/* tanh(x) = sign(x) (1 - e) / (1 + e), e = e^-2|x|; absolute error below 2e-7 */
static void tanh_f32(float *data, int32_t n)
{
    int32_t i;
    clamp_f32(data, n, -43.0f, 43.0f);
    for (i = 0; i < n; ++i)
    {
        const float e = exp_f32(-2.0f * fabsf(data[i]));
        data[i] = copysignf((1.0f - e) / (1.0f + e), data[i]);
    }
}

#elif defined(RNN_ACT_FPU)
/* ---- Cortex-M4/M7: scalar FPU, fused multiply-add ---- */

/* 2^(j/32), j = 0..31: the nearest float32 T_j (its bits) and the relative remainder
 * c_j = (2^(j/32) - T_j) / T_j (|c_j| < 6e-8), so that the result is rounded once */
typedef struct
{
    uint32_t bits;
    float corr;
} rnn_exp2_entry;
static const rnn_exp2_entry rnn_exp2_32[32] = {
    {0x3F800000u, 0.000000000e+00f},
    {0x3F82CD87u, -4.708457624e-08f},
    {0x3F85AAC3u, 4.628547146e-08f},
    {0x3F88980Fu, -5.560422522e-08f},
    {0x3F8B95C2u, -1.199215749e-08f},
    {0x3F8EA43Au, -4.877606230e-08f},
    {0x3F91C3D3u, 4.729782432e-08f},
    {0x3F94F4F0u, -3.481442690e-08f},
    {0x3F9837F0u, 3.193418152e-08f},
    {0x3F9B8D3Au, -2.688666534e-08f},
    {0x3F9EF532u, 3.621057232e-08f},
    {0x3FA27043u, 1.118421022e-09f},
    {0x3FA5FED7u, -3.099071932e-08f},
    {0x3FA9A15Bu, -2.638300955e-08f},
    {0x3FAD583Fu, -7.475213337e-09f},
    {0x3FB123F6u, -4.245635665e-08f},
    {0x3FB504F3u, 1.711427089e-08f},
    {0x3FB8FBAFu, 2.300196655e-08f},
    {0x3FBD08A4u, -3.047683350e-08f},
    {0x3FC12C4Du, -1.653853765e-08f},
    {0x3FC5672Au, 5.233334210e-09f},
    {0x3FC9B9BEu, -3.592064601e-08f},
    {0x3FCE248Cu, 6.107591766e-09f},
    {0x3FD2A81Eu, -3.114054437e-08f},
    {0x3FD744FDu, -1.471960509e-08f},
    {0x3FDBFBB8u, -2.821810163e-08f},
    {0x3FE0CCDFu, -5.258795177e-09f},
    {0x3FE5B907u, -6.360387328e-09f},
    {0x3FEAC0C7u, -6.128259677e-09f},
    {0x3FEFE4BAu, -2.488040884e-08f},
    {0x3FF5257Du, 5.140609272e-09f},
    {0x3FFA83B3u, -8.697266907e-09f}};
#define EXP_N32_LOG2E 4.616624069e+01f /* 32 / ln 2 */
/* ln 2 / 32 for fused multiply-adds: the nearest float and the remainder */
#define EXP_LN2_32_F 2.166084945e-02f
#define EXP_LN2_32_R -5.952044413e-11f

/*
 * e^(s x) for s = -1 or -2 (a constant after inlining), s x in [-87, 87], table-driven:
 * s x = (32 m + j) ln2 / 32 + r with K = 32 m + j = round(s x 32 / ln 2) (the 1.5 * 2^23
 * trick) and |r| <= ln2 / 64, so e^(s x) = S (1 + q) with S = 2^m 2^(j/32) (the table entry
 * with m added to its exponent bits, in integer registers: z's low bits are K) and
 * q = e^r - 1 + c_j = r + r^2/2 + r^3/6 + c_j (the next term, r^4/24, is below 5.7e-10
 * relatively; c_j the table entry's rounding, so S (1 + q) is 2^m 2^(j/32) e^r but for
 * c_j r < 7e-10). With u = x - k ln2 / (32 s) the reduced argument is r = s u, so the
 * polynomial runs on u with coefficients s^i / i!. The result is one fused multiply-add
 * S + S q, rounded once. Instructions (GCC 12, Cortex-M4): 19 where the degree-6 polynomial
 * on |r| <= ln2/2 took 22 (a fused multiply-add adds to its destination, so each Horner step
 * there was a VMOV of the coefficient and a VFMA; here the last step adds c_j, a fresh
 * load). A NaN x makes u and q NaN, so the result is NaN whatever S its bits give.
 */
RNN_ACT_INLINE float exp_fpu(float x, const float s)
{
    const float z = fmaf(x, s * EXP_N32_LOG2E, EXP_SHIFTER);
    const float k = z - EXP_SHIFTER;
    float u = fmaf(k, -EXP_LN2_32_F / s, x);
    float q;
    float scale;
    uint32_t bz;
    uint32_t bs;
    const rnn_exp2_entry *e;
    u = fmaf(k, -EXP_LN2_32_R / s, u);
    q = fmaf(u, (1.0f / 6.0f) * s * s * s, 0.5f * s * s);
    q = fmaf(q, u, s);
    /* z = 1.5 * 2^23 + K exactly: bits 0x4B400000 + K; K mod 32 picks the entry and
     * (bits - j) << 18 = m << 23 (the shifter's bits shift out) */
    memcpy(&bz, &z, sizeof(bz));
    e = &rnn_exp2_32[bz & 31u];
    q = fmaf(q, u, e->corr);
    bs = e->bits + ((bz & ~31u) << 18);
    memcpy(&scale, &bs, sizeof(scale));
    return fmaf(scale, q, scale);
}

#if defined(__GNUC__)
#define RNN_ACT_RARELY(c) __builtin_expect(!!(c), 0)
#define RNN_ACT_NOINLINE static __attribute__((noinline))
#else
#define RNN_ACT_RARELY(c) (c)
#define RNN_ACT_NOINLINE static
#endif

/* The clamps as one rarely taken branch (|x| > 87 or NaN: VABS, VCMP, VMRS, B) rather than
 * two compare-and-selects (VCMP, VMRS, IT, VMOV each): the same values, NaN kept. Not
 * inlined: the loop gets the caller-saved registers for its constants. */
RNN_ACT_NOINLINE void sigmoid_f32(float *data, int32_t n)
{
    int32_t i;
    for (i = 0; i < n; ++i)
    {
        float v = data[i];
        if (RNN_ACT_RARELY(!(fabsf(v) <= 87.0f)))
        {
            v = v < -87.0f ? -87.0f : v;
            v = v > 87.0f ? 87.0f : v;
        }
        data[i] = 1.0f / (1.0f + exp_fpu(v, -1.0f));
    }
}

RNN_ACT_NOINLINE void tanh_f32(float *data, int32_t n)
{
    int32_t i;
    for (i = 0; i < n; ++i)
    {
        const float v = data[i];
        float a = fabsf(v);
        float e;
        float t;
        if (RNN_ACT_RARELY(a > 43.0f))
        {
            a = 43.0f;
        }
        e = exp_fpu(a, -2.0f);
        t = (1.0f - e) / (1.0f + e);
        data[i] = v < 0.0f ? -t : t;
    }
}

#elif defined(RNN_ACT_MVE)
/* ---- Cortex-M55: Helium, 4 lanes ----
 * Written for GCC 12's register allocation (8 Q registers): constants as scalar operands
 * (VMUL, VADD, VFMAS with a general-purpose register) rather than held in Q registers, and
 * the main loop without predication (each predicate costs GCC 12 a VMRS/SXTH/VMSR). */

/* e^(s x), s = -1 or -2, s x in [-87, 87]: as exp_fpu, lane by lane */
RNN_ACT_INLINE float32x4_t exp_mve(float32x4_t x, const float s)
{
    const float32x4_t z = vaddq_n_f32(vmulq_n_f32(x, s * EXP_LOG2E), EXP_SHIFTER);
    const float32x4_t k = vsubq_n_f32(z, EXP_SHIFTER);
    float32x4_t u = vfmaq_n_f32(x, k, -EXP_LN2_F / s);
    float32x4_t p;
    u = vfmaq_n_f32(u, k, -EXP_LN2_R / s);
    p = vaddq_n_f32(vmulq_n_f32(u, EXP_C6 * s * s * s * s * s * s), EXP_C5 * s * s * s * s * s);
    p = vfmasq_n_f32(p, u, EXP_C4 * s * s * s * s);
    p = vfmasq_n_f32(p, u, EXP_C3 * s * s * s);
    p = vfmasq_n_f32(p, u, EXP_C2 * s * s);
    p = vfmasq_n_f32(p, u, EXP_C1 * s);
    p = vfmasq_n_f32(p, u, 1.0f);
    /* k added to p's exponent bits: MVE always uses the default NaN (no payload), whose
     * low bits are 0, so a NaN z adds nothing and p stays NaN */
    return vreinterpretq_f32_s32(vaddq_s32(vreinterpretq_s32_f32(p),
                                           vshlq_n_s32(vreinterpretq_s32_f32(z), 23)));
}

/*
 * -1 / d for d in [1, 2^127]: first guess -y0 with y0 = bits 0x7EF311C3 - bits(d) (within
 * 5.1% of 1 / d), then three Newton steps y += y (1 - d y), each by two fused multiply-adds
 * and carried on -y so that no constant is needed in a Q register:
 * 1 - d y = d (-y) + 1 (VFMAS), -y + (-y) (1 - d y) (VFMA). The last step rounds twice
 * after an almost exact correction, so the result is within about 1 ulp, and 1 / 1 = 1.
 */
RNN_ACT_INLINE float32x4_t neg_recip_mve(float32x4_t d)
{
    float32x4_t y = vreinterpretq_f32_s32(
        vaddq_n_s32(vnegq_s32(vreinterpretq_s32_f32(d)), (int32_t)0xFEF311C3u));
    y = vfmaq_f32(y, y, vfmasq_n_f32(d, y, 1.0f));
    y = vfmaq_f32(y, y, vfmasq_n_f32(d, y, 1.0f));
    y = vfmaq_f32(y, y, vfmasq_n_f32(d, y, 1.0f));
    return y;
}

RNN_ACT_INLINE float32x4_t sigmoid_mve(float32x4_t v)
{
    /* a NaN lane compares false with GT (LT would be true: the N != V condition) */
    const float32x4_t lo = vdupq_n_f32(-87.0f);
    v = vpselq_f32(lo, v, vcmpgtq_f32(lo, v));
    v = vpselq_f32(vdupq_n_f32(87.0f), v, vcmpgtq_n_f32(v, 87.0f));
    return vnegq_f32(neg_recip_mve(vaddq_n_f32(exp_mve(v, -1.0f), 1.0f)));
}

RNN_ACT_INLINE float32x4_t tanh_mve(float32x4_t v)
{
    const float32x4_t a = vabsq_f32(v);
    const float32x4_t e = exp_mve(vpselq_f32(vdupq_n_f32(43.0f), a, vcmpgtq_n_f32(a, 43.0f)), -2.0f);
    float32x4_t t;
    t = vmulq_f32(vsubq_n_f32(e, 1.0f), neg_recip_mve(vaddq_n_f32(e, 1.0f)));
    /* v ^ |v| is v's sign bit */
    return vreinterpretq_f32_u32(veorq_u32(
        vreinterpretq_u32_f32(t), veorq_u32(vreinterpretq_u32_f32(v), vreinterpretq_u32_f32(a))));
}

static void sigmoid_f32(float *data, int32_t n)
{
    int32_t i;
    for (i = 0; i + 4 <= n; i += 4)
    {
        vst1q_f32(data + i, sigmoid_mve(vld1q_f32(data + i)));
    }
    if (i < n)
    {
        const mve_pred16_t m = vctp32q((uint32_t)(n - i));
        vstrwq_p_f32(data + i, sigmoid_mve(vldrwq_z_f32(data + i, m)), m);
    }
}

static void tanh_f32(float *data, int32_t n)
{
    int32_t i;
    for (i = 0; i + 4 <= n; i += 4)
    {
        vst1q_f32(data + i, tanh_mve(vld1q_f32(data + i)));
    }
    if (i < n)
    {
        const mve_pred16_t m = vctp32q((uint32_t)(n - i));
        vstrwq_p_f32(data + i, tanh_mve(vldrwq_z_f32(data + i, m)), m);
    }
}

#elif defined(RNN_ACT_NEON)
/* ---- AArch64 NEON, 4 lanes ----
 * The last n % 4 values: the last four values are computed from the inputs before the loop
 * (always, so that the constants are set up once for both) and stored after it, over
 * values the loop has already written with the same results (each output depends on its
 * own input only); a buffer only for n < 4. */

/* e^(s x), s = -1 or -2, s x in [-87, 87]: as exp_fpu, lane by lane */
RNN_ACT_INLINE float32x4_t exp_neon(float32x4_t x, const float s)
{
    const float32x4_t z = vfmaq_n_f32(vdupq_n_f32(EXP_SHIFTER_BIASED), x, s * EXP_LOG2E);
    const float32x4_t k = vsubq_f32(z, vdupq_n_f32(EXP_SHIFTER_BIASED));
    float32x4_t u = vfmaq_n_f32(x, k, -EXP_LN2_F / s);
    float32x4_t p;
    u = vfmaq_n_f32(u, k, -EXP_LN2_R / s);
    p = vfmaq_n_f32(vdupq_n_f32(EXP_C5 * s * s * s * s * s), u, EXP_C6 * s * s * s * s * s * s);
    p = vfmaq_f32(vdupq_n_f32(EXP_C4 * s * s * s * s), p, u);
    p = vfmaq_f32(vdupq_n_f32(EXP_C3 * s * s * s), p, u);
    p = vfmaq_f32(vdupq_n_f32(EXP_C2 * s * s), p, u);
    p = vfmaq_f32(vdupq_n_f32(EXP_C1 * s), p, u);
    p = vfmaq_f32(vdupq_n_f32(1.0f), p, u);
    /* times 2^k (see exp_fpu: a NaN's payload reaches z) */
    return vmulq_f32(p, vreinterpretq_f32_u32(vshlq_n_u32(vreinterpretq_u32_f32(z), 23)));
}

RNN_ACT_INLINE float32x4_t sigmoid_neon(float32x4_t v)
{
    /* FMAX / FMIN return NaN for a NaN lane */
    v = vminq_f32(vmaxq_f32(v, vdupq_n_f32(-87.0f)), vdupq_n_f32(87.0f));
    return vdivq_f32(vdupq_n_f32(1.0f), vaddq_f32(exp_neon(v, -1.0f), vdupq_n_f32(1.0f)));
}

RNN_ACT_INLINE float32x4_t tanh_neon(float32x4_t v)
{
    const float32x4_t a = vabsq_f32(v);
    const float32x4_t e = exp_neon(vminq_f32(a, vdupq_n_f32(43.0f)), -2.0f);
    const float32x4_t t = vdivq_f32(vsubq_f32(vdupq_n_f32(1.0f), e),
                                    vaddq_f32(e, vdupq_n_f32(1.0f)));
    /* v ^ |v| is v's sign bit */
    return vreinterpretq_f32_u32(veorq_u32(
        vreinterpretq_u32_f32(t), veorq_u32(vreinterpretq_u32_f32(v), vreinterpretq_u32_f32(a))));
}

static void sigmoid_f32(float *data, int32_t n)
{
    float *const end = data + (n & ~3);
    float *d;
    float32x4_t last;
    if (n < 4)
    {
        float b[4] = {0.0f, 0.0f, 0.0f, 0.0f};
        memcpy(b, data, (size_t)n * sizeof(float));
        vst1q_f32(b, sigmoid_neon(vld1q_f32(b)));
        memcpy(data, b, (size_t)n * sizeof(float));
        return;
    }
    /* the last four values, from the inputs, before the loop overwrites them (see above) */
    last = sigmoid_neon(vld1q_f32(data + n - 4));
    for (d = data; d != end; d += 4)
    {
        vst1q_f32(d, sigmoid_neon(vld1q_f32(d)));
    }
    if ((n & 3) != 0)
    {
        vst1q_f32(data + n - 4, last);
    }
}

static void tanh_f32(float *data, int32_t n)
{
    float *const end = data + (n & ~3);
    float *d;
    float32x4_t last;
    if (n < 4)
    {
        float b[4] = {0.0f, 0.0f, 0.0f, 0.0f};
        memcpy(b, data, (size_t)n * sizeof(float));
        vst1q_f32(b, tanh_neon(vld1q_f32(b)));
        memcpy(data, b, (size_t)n * sizeof(float));
        return;
    }
    /* the last four values, from the inputs, before the loop overwrites them (see above) */
    last = tanh_neon(vld1q_f32(data + n - 4));
    for (d = data; d != end; d += 4)
    {
        vst1q_f32(d, tanh_neon(vld1q_f32(d)));
    }
    if ((n & 3) != 0)
    {
        vst1q_f32(data + n - 4, last);
    }
}
#endif

/* Refer to header file for details. */
void rnn_activation_f32(const rnn_activation *act, float *data, int32_t n)
{
    const float a = act->alpha;
    const float b = act->beta;
    int32_t i;

    switch (act->kind)
    {
    case RNN_ACT_SIGMOID:
        sigmoid_f32(data, n);
        break;
    case RNN_ACT_TANH:
        tanh_f32(data, n);
        break;
    case RNN_ACT_RELU:
        for (i = 0; i < n; ++i)
        {
            data[i] = data[i] > 0.0f ? data[i] : 0.0f;
        }
        break;
    case RNN_ACT_AFFINE:
        for (i = 0; i < n; ++i)
        {
            data[i] = a * data[i] + b;
        }
        break;
    case RNN_ACT_LEAKY_RELU:
        for (i = 0; i < n; ++i)
        {
            data[i] = data[i] >= 0.0f ? data[i] : a * data[i];
        }
        break;
    case RNN_ACT_THRESHOLDED_RELU:
        for (i = 0; i < n; ++i)
        {
            data[i] = data[i] > a ? data[i] : 0.0f;
        }
        break;
    case RNN_ACT_SCALED_TANH:
        for (i = 0; i < n; ++i)
        {
            data[i] = b * data[i];
        }
        tanh_f32(data, n);
        for (i = 0; i < n; ++i)
        {
            data[i] = a * data[i];
        }
        break;
    case RNN_ACT_HARD_SIGMOID:
        for (i = 0; i < n; ++i)
        {
            const float v = a * data[i] + b;
            data[i] = v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v);
        }
        break;
    case RNN_ACT_ELU:
        for (i = 0; i < n; ++i)
        {
            data[i] = data[i] >= 0.0f ? data[i] : a * (expf(data[i]) - 1.0f);
        }
        break;
    case RNN_ACT_SOFTSIGN:
        for (i = 0; i < n; ++i)
        {
            data[i] = data[i] / (1.0f + fabsf(data[i]));
        }
        break;
    case RNN_ACT_SOFTPLUS:
        for (i = 0; i < n; ++i)
        {
            const float v = data[i];
            data[i] = v > 0.0f ? v + log1pf(expf(-v)) : log1pf(expf(v));
        }
        break;
    case RNN_ACT_CLIP:
        for (i = 0; i < n; ++i)
        {
            const float v = data[i] < a ? a : data[i];
            data[i] = v > b ? b : v;
        }
        break;
    case RNN_ACT_HARD_SWISH:
        for (i = 0; i < n; ++i)
        {
            const float v = data[i];
            float g = v * (1.0f / 6.0f) + 0.5f;
            g = g < 0.0f ? 0.0f : (g > 1.0f ? 1.0f : g);
            data[i] = v * g;
        }
        break;
    default:
        break;
    }
}
