/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_mat_vec_f32.c
 * Description: Dense float matrix-vector product over a row-tile packed matrix.
 *
 * Each tile of RNN_MAT_VEC_TILE (16) rows is stored column by column, so the kernel streams
 * the weights once, front to back, while the tile's accumulators stay in registers; vector
 * paths work on several tiles per pass so that enough independent sums are in flight.
 * Every row is summed in the same order on every target: bias, then column 0, 1, 2, ...
 * Where the vector instruction set has a fused multiply-add (x86 FMA3, AArch64, Cortex-M55
 * Helium) each step rounds once, otherwise twice (see RNN_MAT_VEC_FUSED); nothing else differs
 * (Cortex-M4/M7 use the chained, not fused, VMLA: two roundings). AVX-512 (RNN_X86_512: Intel
 * cores) holds a tile in one register; AMD Zen builds take the AVX2 path, which measured faster
 * there.
 */

#include <math.h>

#include "rnn_nnfunctions.h"

/* AVX-512 paths (a tile of 16 rows is one 512-bit register) on x86 with AVX-512F, except
 * AMD Zen 3/4 builds (GCC's -march=native names them znver3 / znver4), whose 512-bit
 * operations run as two 256-bit halves and whose AVX-512 path measured slower than AVX2 on
 * an AMD EPYC. Defined here and in rnn_mat_mul_f32.c alike (not in a shared header: each
 * macro a header tests multiplies the configurations cppcheck checks in every kernel). */
#if defined(__AVX512F__) && !defined(__znver3__) && !defined(__znver4__)
#define RNN_X86_512 1
#else
#define RNN_X86_512 0
#endif

#if defined(__AVX__)
#include <immintrin.h>
#elif defined(__SSE2__)
#include <emmintrin.h>
#elif defined(__ARM_NEON) && defined(__aarch64__)
#include <arm_neon.h>
#elif defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 2)
#include <arm_mve.h>
#endif

#if defined(__AVX__)
/* ---- AVX: two registers per tile, 4 tiles per pass ---- */
#if defined(__FMA__)
#define MADD(acc, w, x) _mm256_fmadd_ps(w, x, acc)
#else
#define MADD(acc, w, x) _mm256_add_ps(acc, _mm256_mul_ps(w, x))
#endif
#if RNN_X86_512
/* ---- AVX-512 (RNN_X86_512): one register per tile, 4 tiles per pass ---- */
#define GROUP 4
static void tile_group(int32_t cols, const float *w, const float *bias, const float *x,
                       float *y)
{
    const int32_t stride = RNN_MAT_VEC_TILE * cols;
    __m512 a0 = bias ? _mm512_loadu_ps(bias) : _mm512_setzero_ps();
    __m512 a1 = bias ? _mm512_loadu_ps(bias + 16) : _mm512_setzero_ps();
    __m512 a2 = bias ? _mm512_loadu_ps(bias + 32) : _mm512_setzero_ps();
    __m512 a3 = bias ? _mm512_loadu_ps(bias + 48) : _mm512_setzero_ps();
    int32_t j;
    for (j = 0; j < cols; ++j)
    {
        const __m512 xj = _mm512_set1_ps(x[j]);
        const float *wj = w + j * RNN_MAT_VEC_TILE;
        a0 = _mm512_fmadd_ps(_mm512_loadu_ps(wj), xj, a0);
        a1 = _mm512_fmadd_ps(_mm512_loadu_ps(wj + stride), xj, a1);
        a2 = _mm512_fmadd_ps(_mm512_loadu_ps(wj + 2 * stride), xj, a2);
        a3 = _mm512_fmadd_ps(_mm512_loadu_ps(wj + 3 * stride), xj, a3);
    }
    _mm512_storeu_ps(y, a0);
    _mm512_storeu_ps(y + 16, a1);
    _mm512_storeu_ps(y + 32, a2);
    _mm512_storeu_ps(y + 48, a3);
}
#else
#define GROUP 4
static void tile_group(int32_t cols, const float *w, const float *bias, const float *x,
                       float *y)
{
    const int32_t stride = RNN_MAT_VEC_TILE * cols;
    __m256 a[2 * GROUP];
    int32_t j;
    int32_t t;
    for (t = 0; t < 2 * GROUP; ++t)
    {
        a[t] = bias ? _mm256_loadu_ps(bias + 8 * t) : _mm256_setzero_ps();
    }
    for (j = 0; j < cols; ++j)
    {
        const __m256 xj = _mm256_set1_ps(x[j]);
        const float *wj = w + j * RNN_MAT_VEC_TILE;
        a[0] = MADD(a[0], _mm256_loadu_ps(wj), xj);
        a[1] = MADD(a[1], _mm256_loadu_ps(wj + 8), xj);
        a[2] = MADD(a[2], _mm256_loadu_ps(wj + stride), xj);
        a[3] = MADD(a[3], _mm256_loadu_ps(wj + stride + 8), xj);
        a[4] = MADD(a[4], _mm256_loadu_ps(wj + 2 * stride), xj);
        a[5] = MADD(a[5], _mm256_loadu_ps(wj + 2 * stride + 8), xj);
        a[6] = MADD(a[6], _mm256_loadu_ps(wj + 3 * stride), xj);
        a[7] = MADD(a[7], _mm256_loadu_ps(wj + 3 * stride + 8), xj);
    }
    for (t = 0; t < 2 * GROUP; ++t)
    {
        _mm256_storeu_ps(y + 8 * t, a[t]);
    }
}

#endif

static void tile16(int32_t cols, const float *w, const float *bias, const float *x, float *y)
{
    __m256 a0 = bias ? _mm256_loadu_ps(bias) : _mm256_setzero_ps();
    __m256 a1 = bias ? _mm256_loadu_ps(bias + 8) : _mm256_setzero_ps();
    int32_t j;
    for (j = 0; j < cols; ++j)
    {
        const __m256 xj = _mm256_set1_ps(x[j]);
        a0 = MADD(a0, _mm256_loadu_ps(w), xj);
        a1 = MADD(a1, _mm256_loadu_ps(w + 8), xj);
        w += RNN_MAT_VEC_TILE;
    }
    _mm256_storeu_ps(y, a0);
    _mm256_storeu_ps(y + 8, a1);
}

#elif defined(__SSE2__)
/* ---- SSE2 (x86-64 baseline): four registers per tile ---- */
#define GROUP 1
static void tile16(int32_t cols, const float *w, const float *bias, const float *x, float *y)
{
    __m128 a0 = bias ? _mm_loadu_ps(bias) : _mm_setzero_ps();
    __m128 a1 = bias ? _mm_loadu_ps(bias + 4) : _mm_setzero_ps();
    __m128 a2 = bias ? _mm_loadu_ps(bias + 8) : _mm_setzero_ps();
    __m128 a3 = bias ? _mm_loadu_ps(bias + 12) : _mm_setzero_ps();
    int32_t j;
    for (j = 0; j < cols; ++j)
    {
        const __m128 xj = _mm_set1_ps(x[j]);
        a0 = _mm_add_ps(a0, _mm_mul_ps(_mm_loadu_ps(w), xj));
        a1 = _mm_add_ps(a1, _mm_mul_ps(_mm_loadu_ps(w + 4), xj));
        a2 = _mm_add_ps(a2, _mm_mul_ps(_mm_loadu_ps(w + 8), xj));
        a3 = _mm_add_ps(a3, _mm_mul_ps(_mm_loadu_ps(w + 12), xj));
        w += RNN_MAT_VEC_TILE;
    }
    _mm_storeu_ps(y, a0);
    _mm_storeu_ps(y + 4, a1);
    _mm_storeu_ps(y + 8, a2);
    _mm_storeu_ps(y + 12, a3);
}

#elif defined(__ARM_NEON) && defined(__aarch64__)
/* ---- AArch64 NEON: four registers per tile, 2 tiles per pass, fused multiply-add; four
 * columns per iteration share one load of x (FMLA by lane), the weights come in pairs of
 * registers (LDP) ---- */
#define GROUP 2
#define FMA8(j)                                                                                \
    do                                                                                         \
    {                                                                                          \
        a0 = vfmaq_laneq_f32(a0, vld1q_f32(w0 + 16 * (j)), xv, j);                             \
        a1 = vfmaq_laneq_f32(a1, vld1q_f32(w0 + 16 * (j) + 4), xv, j);                         \
        a2 = vfmaq_laneq_f32(a2, vld1q_f32(w0 + 16 * (j) + 8), xv, j);                         \
        a3 = vfmaq_laneq_f32(a3, vld1q_f32(w0 + 16 * (j) + 12), xv, j);                        \
        a4 = vfmaq_laneq_f32(a4, vld1q_f32(w1 + 16 * (j)), xv, j);                             \
        a5 = vfmaq_laneq_f32(a5, vld1q_f32(w1 + 16 * (j) + 4), xv, j);                         \
        a6 = vfmaq_laneq_f32(a6, vld1q_f32(w1 + 16 * (j) + 8), xv, j);                         \
        a7 = vfmaq_laneq_f32(a7, vld1q_f32(w1 + 16 * (j) + 12), xv, j);                        \
    } while (0)
static void tile_group(int32_t cols, const float *w, const float *bias, const float *x,
                       float *y)
{
    const float *w0 = w;
    const float *w1 = w + RNN_MAT_VEC_TILE * cols;
    const float32x4_t z = vdupq_n_f32(0.0f);
    float32x4_t a0 = bias ? vld1q_f32(bias) : z;
    float32x4_t a1 = bias ? vld1q_f32(bias + 4) : z;
    float32x4_t a2 = bias ? vld1q_f32(bias + 8) : z;
    float32x4_t a3 = bias ? vld1q_f32(bias + 12) : z;
    float32x4_t a4 = bias ? vld1q_f32(bias + 16) : z;
    float32x4_t a5 = bias ? vld1q_f32(bias + 20) : z;
    float32x4_t a6 = bias ? vld1q_f32(bias + 24) : z;
    float32x4_t a7 = bias ? vld1q_f32(bias + 28) : z;
    int32_t j;
    for (j = 0; j + 4 <= cols; j += 4)
    {
        const float32x4_t xv = vld1q_f32(x + j);
        FMA8(0);
        FMA8(1);
        FMA8(2);
        FMA8(3);
        w0 += 4 * RNN_MAT_VEC_TILE;
        w1 += 4 * RNN_MAT_VEC_TILE;
    }
    for (; j < cols; ++j)
    {
        const float32x4_t xv = vdupq_n_f32(x[j]);
        FMA8(0);
        w0 += RNN_MAT_VEC_TILE;
        w1 += RNN_MAT_VEC_TILE;
    }
    vst1q_f32(y, a0);
    vst1q_f32(y + 4, a1);
    vst1q_f32(y + 8, a2);
    vst1q_f32(y + 12, a3);
    vst1q_f32(y + 16, a4);
    vst1q_f32(y + 20, a5);
    vst1q_f32(y + 24, a6);
    vst1q_f32(y + 28, a7);
}
#undef FMA8

static void tile16(int32_t cols, const float *w, const float *bias, const float *x, float *y)
{
    float32x4_t a0 = bias ? vld1q_f32(bias) : vdupq_n_f32(0.0f);
    float32x4_t a1 = bias ? vld1q_f32(bias + 4) : vdupq_n_f32(0.0f);
    float32x4_t a2 = bias ? vld1q_f32(bias + 8) : vdupq_n_f32(0.0f);
    float32x4_t a3 = bias ? vld1q_f32(bias + 12) : vdupq_n_f32(0.0f);
    int32_t j;
#define FMA4(j)                                                                                \
    do                                                                                         \
    {                                                                                          \
        a0 = vfmaq_laneq_f32(a0, vld1q_f32(w + 16 * (j)), xv, j);                              \
        a1 = vfmaq_laneq_f32(a1, vld1q_f32(w + 16 * (j) + 4), xv, j);                          \
        a2 = vfmaq_laneq_f32(a2, vld1q_f32(w + 16 * (j) + 8), xv, j);                          \
        a3 = vfmaq_laneq_f32(a3, vld1q_f32(w + 16 * (j) + 12), xv, j);                         \
    } while (0)
    for (j = 0; j + 4 <= cols; j += 4)
    {
        const float32x4_t xv = vld1q_f32(x + j);
        FMA4(0);
        FMA4(1);
        FMA4(2);
        FMA4(3);
        w += 4 * RNN_MAT_VEC_TILE;
    }
    for (; j < cols; ++j)
    {
        const float32x4_t xv = vdupq_n_f32(x[j]);
        FMA4(0);
        w += RNN_MAT_VEC_TILE;
    }
#undef FMA4
    vst1q_f32(y, a0);
    vst1q_f32(y + 4, a1);
    vst1q_f32(y + 8, a2);
    vst1q_f32(y + 12, a3);
}

#elif defined(__GNUC__) && defined(__thumb2__) && defined(__ARM_FP) && (__ARM_FP & 4) &&   \
    !defined(__ARM_FEATURE_MVE)
/* ---- Cortex-M with a single-precision FPU (M4, M7): VLDM + VMLA ----
 * The sixteen sums of a tile stay in s0-s15; each column's sixteen weights arrive as two
 * VLDM of eight (s16-s23) and four values of x as one VLDM (s24-s27), so a multiply-add
 * costs about one instruction plus an eighth of a load, where plain C (-std=c99 forbids
 * contraction) needs VLDR + VMUL + VADD. VMLA.F32 is not fused: it rounds the product, then
 * the sum, exactly as a separate VMUL and VADD do, so the results are the plain C loop's bit
 * for bit, in the same order (bias, then column 0, 1, 2, ...). Written in assembly because
 * GCC never emits VMLA under -ffp-contract=off and VLDM needs consecutive registers. */
#define GROUP 1
static const float rnn_zeros16[RNN_MAT_VEC_TILE];

#define RNN_VMLA8(xr)                                                                          \
    "vldmia %[w]!, {s16-s23}\n\t"                                                              \
    "vmla.f32 s0, s16, " xr "\n\t"                                                             \
    "vmla.f32 s1, s17, " xr "\n\t"                                                             \
    "vmla.f32 s2, s18, " xr "\n\t"                                                             \
    "vmla.f32 s3, s19, " xr "\n\t"                                                             \
    "vmla.f32 s4, s20, " xr "\n\t"                                                             \
    "vmla.f32 s5, s21, " xr "\n\t"                                                             \
    "vmla.f32 s6, s22, " xr "\n\t"                                                             \
    "vmla.f32 s7, s23, " xr "\n\t"                                                             \
    "vldmia %[w]!, {s16-s23}\n\t"                                                              \
    "vmla.f32 s8, s16, " xr "\n\t"                                                             \
    "vmla.f32 s9, s17, " xr "\n\t"                                                             \
    "vmla.f32 s10, s18, " xr "\n\t"                                                            \
    "vmla.f32 s11, s19, " xr "\n\t"                                                            \
    "vmla.f32 s12, s20, " xr "\n\t"                                                            \
    "vmla.f32 s13, s21, " xr "\n\t"                                                            \
    "vmla.f32 s14, s22, " xr "\n\t"                                                            \
    "vmla.f32 s15, s23, " xr "\n\t"

/* The loop around a block of columns, shared by tile16 and rest8 / rest4: the accumulators
 * `acc` (a register list) from b, `body(xr)` once per column with x[j] in xr, four columns per
 * VLDM of x, then the rest one by one; the sums stored to y. */
#define RNN_VMLA_LOOP(acc, body)                                                               \
    "vldmia %[b], {" acc "}\n\t"                                                               \
    "cmp %[n4], #0\n\t"                                                                       \
    "beq 2f\n"                                                                                 \
    "1:\n\t"                                                                                  \
    "vldmia %[x]!, {s24-s27}\n\t" body("s24") body("s25") body("s26") body("s27")            \
    "subs %[n4], %[n4], #1\n\t"                                                               \
    "bne 1b\n"                                                                                 \
    "2:\n\t"                                                                                  \
    "cmp %[n1], #0\n\t"                                                                       \
    "beq 4f\n"                                                                                 \
    "3:\n\t"                                                                                  \
    "vldmia %[x]!, {s24}\n\t" body("s24")                                                     \
    "subs %[n1], %[n1], #1\n\t"                                                               \
    "bne 3b\n"                                                                                 \
    "4:\n\t"                                                                                  \
    "vstmia %[y], {" acc "}\n\t"

static void tile16(int32_t cols, const float *w, const float *bias, const float *x, float *y)
{
    const float *b = bias ? bias : rnn_zeros16;
    int32_t n4 = cols >> 2;
    int32_t n1 = cols & 3;
    __asm__ volatile(RNN_VMLA_LOOP("s0-s15", RNN_VMLA8)
        : [w] "+r"(w), [x] "+r"(x), [n4] "+r"(n4), [n1] "+r"(n1)
        : [b] "r"(b), [y] "r"(y)
        : "s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "s12",
          "s13", "s14", "s15", "s16", "s17", "s18", "s19", "s20", "s21", "s22", "s23", "s24",
          "s25", "s26", "s27", "cc", "memory");
}
#undef RNN_VMLA8

#elif defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 2)
/* ---- Cortex-M55 (Helium, MVE float): a tile's sixteen sums in four Q registers ----
 * Per column four VLDRW of the tile's weights (post-incremented) and four VFMA by x[j] (a
 * scalar operand in a core register): fused, one rounding per step (RNN_MAT_VEC_FUSED), in the
 * same order as every target (bias, then column 0, 1, 2, ...); Helium arithmetic flushes
 * denormals to zero (a product or sum below 2^-126 in magnitude becomes 0), where the scalar
 * FPU keeps them. Two columns a pass (one LDRD of x[j], x[j+1]) in a low-overhead loop
 * (WLS/LE): 18 instructions per 32 multiply-adds, the loads interleaved with the VFMA so the
 * core overlaps them. In assembly because GCC 12, given the intrinsics for two columns,
 * spills an accumulator (eight Q registers) and adds a pointer increment per column. */
#define GROUP 1
static const float rnn_zeros16[RNN_MAT_VEC_TILE];

#define RNN_VFMA4(xr)                                                                          \
    "vldrw.32 q4, [%[w]], #16\n\t"                                                              \
    "vldrw.32 q5, [%[w]], #16\n\t"                                                              \
    "vfma.f32 q0, q4, " xr "\n\t"                                                              \
    "vldrw.32 q6, [%[w]], #16\n\t"                                                              \
    "vfma.f32 q1, q5, " xr "\n\t"                                                              \
    "vldrw.32 q7, [%[w]], #16\n\t"                                                              \
    "vfma.f32 q2, q6, " xr "\n\t"                                                              \
    "vfma.f32 q3, q7, " xr "\n\t"

static void tile16(int32_t cols, const float *w, const float *bias, const float *x, float *y)
{
    const float *b = bias ? bias : rnn_zeros16;
    int32_t n2 = cols >> 1;
    const int32_t n1 = cols & 1;
    uint32_t x0;
    uint32_t x1;
    __asm__ volatile(
        "vldrw.32 q0, [%[b]]\n\t"
        "vldrw.32 q1, [%[b], #16]\n\t"
        "vldrw.32 q2, [%[b], #32]\n\t"
        "vldrw.32 q3, [%[b], #48]\n\t"
        "wls lr, %[n2], 2f\n"
        "1:\n\t"
        "ldrd %[x0], %[x1], [%[x]], #8\n\t"
        RNN_VFMA4("%[x0]")
        RNN_VFMA4("%[x1]")
        "le lr, 1b\n"
        "2:\n\t"
        "cmp %[n1], #0\n\t"
        "beq 3f\n\t"
        "ldr %[x0], [%[x]]\n\t"
        RNN_VFMA4("%[x0]")
        "3:\n\t"
        "vstrw.32 q0, [%[y]]\n\t"
        "vstrw.32 q1, [%[y], #16]\n\t"
        "vstrw.32 q2, [%[y], #32]\n\t"
        "vstrw.32 q3, [%[y], #48]\n\t"
        : [w] "+r"(w), [x] "+r"(x), [n2] "+r"(n2), [x0] "=&r"(x0), [x1] "=&r"(x1)
        : [b] "r"(b), [y] "r"(y), [n1] "r"(n1)
        : "d0", "d1", "d2", "d3", "d4", "d5", "d6", "d7", "d8", "d9", "d10", "d11", "d12", "d13",
          "d14", "d15", "lr", "cc", "memory");
}
#undef RNN_VFMA4

#else
/* ---- plain C99 (Cortex-M without an FPU, and any other target) ---- */
#define GROUP 1
static void tile16(int32_t cols, const float *w, const float *bias, const float *x, float *y)
{
    /* Sixteen named accumulators: kept in registers at any optimization level. */
    float a0 = bias ? bias[0] : 0.0f;
    float a1 = bias ? bias[1] : 0.0f;
    float a2 = bias ? bias[2] : 0.0f;
    float a3 = bias ? bias[3] : 0.0f;
    float a4 = bias ? bias[4] : 0.0f;
    float a5 = bias ? bias[5] : 0.0f;
    float a6 = bias ? bias[6] : 0.0f;
    float a7 = bias ? bias[7] : 0.0f;
    float a8 = bias ? bias[8] : 0.0f;
    float a9 = bias ? bias[9] : 0.0f;
    float a10 = bias ? bias[10] : 0.0f;
    float a11 = bias ? bias[11] : 0.0f;
    float a12 = bias ? bias[12] : 0.0f;
    float a13 = bias ? bias[13] : 0.0f;
    float a14 = bias ? bias[14] : 0.0f;
    float a15 = bias ? bias[15] : 0.0f;
    int32_t j;
    for (j = 0; j < cols; ++j)
    {
        const float xj = x[j];
        a0 += w[0] * xj;
        a1 += w[1] * xj;
        a2 += w[2] * xj;
        a3 += w[3] * xj;
        a4 += w[4] * xj;
        a5 += w[5] * xj;
        a6 += w[6] * xj;
        a7 += w[7] * xj;
        a8 += w[8] * xj;
        a9 += w[9] * xj;
        a10 += w[10] * xj;
        a11 += w[11] * xj;
        a12 += w[12] * xj;
        a13 += w[13] * xj;
        a14 += w[14] * xj;
        a15 += w[15] * xj;
        w += RNN_MAT_VEC_TILE;
    }
    y[0] = a0;
    y[1] = a1;
    y[2] = a2;
    y[3] = a3;
    y[4] = a4;
    y[5] = a5;
    y[6] = a6;
    y[7] = a7;
    y[8] = a8;
    y[9] = a9;
    y[10] = a10;
    y[11] = a11;
    y[12] = a12;
    y[13] = a13;
    y[14] = a14;
    y[15] = a15;
}
#endif

/* ---- the last rows (fewer than a tile), stored [cols][rem] ----
 * In the same order as the tiles (bias, then column 0, 1, 2, ...) and with the same rounding:
 * fused where RNN_MAT_VEC_FUSED, a multiply then an add elsewhere. Chunks of rows keep their
 * sums in registers; `w` points at the chunk's first row in column 0, columns are `rem` floats
 * apart. */
#if (defined(__ARM_NEON) && defined(__aarch64__)) ||                                          \
    (defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 2))
/* NEON and Helium alike (both fused, as their tiles): FMLA / VFMA by x[j] */
static void rest8(int32_t rem, int32_t cols, const float *w, const float *bias, const float *x,
                  float *y)
{
    float32x4_t a0 = bias ? vld1q_f32(bias) : vdupq_n_f32(0.0f);
    float32x4_t a1 = bias ? vld1q_f32(bias + 4) : vdupq_n_f32(0.0f);
    int32_t j;
    for (j = 0; j < cols; ++j)
    {
        const float xj = x[j];
        a0 = vfmaq_n_f32(a0, vld1q_f32(w), xj);
        a1 = vfmaq_n_f32(a1, vld1q_f32(w + 4), xj);
        w += rem;
    }
    vst1q_f32(y, a0);
    vst1q_f32(y + 4, a1);
}

static void rest4(int32_t rem, int32_t cols, const float *w, const float *bias, const float *x,
                  float *y)
{
    float32x4_t a0 = bias ? vld1q_f32(bias) : vdupq_n_f32(0.0f);
    int32_t j;
    for (j = 0; j < cols; ++j)
    {
        a0 = vfmaq_n_f32(a0, vld1q_f32(w), x[j]);
        w += rem;
    }
    vst1q_f32(y, a0);
}
#elif defined(__SSE2__)
#if RNN_MAT_VEC_FUSED
#define MADD4(acc, w, x) _mm_fmadd_ps(w, x, acc)
#else
#define MADD4(acc, w, x) _mm_add_ps(acc, _mm_mul_ps(w, x))
#endif
static void rest8(int32_t rem, int32_t cols, const float *w, const float *bias, const float *x,
                  float *y)
{
    __m128 a0 = bias ? _mm_loadu_ps(bias) : _mm_setzero_ps();
    __m128 a1 = bias ? _mm_loadu_ps(bias + 4) : _mm_setzero_ps();
    int32_t j;
    for (j = 0; j < cols; ++j)
    {
        const __m128 xj = _mm_set1_ps(x[j]);
        a0 = MADD4(a0, _mm_loadu_ps(w), xj);
        a1 = MADD4(a1, _mm_loadu_ps(w + 4), xj);
        w += rem;
    }
    _mm_storeu_ps(y, a0);
    _mm_storeu_ps(y + 4, a1);
}

static void rest4(int32_t rem, int32_t cols, const float *w, const float *bias, const float *x,
                  float *y)
{
    __m128 a0 = bias ? _mm_loadu_ps(bias) : _mm_setzero_ps();
    int32_t j;
    for (j = 0; j < cols; ++j)
    {
        a0 = MADD4(a0, _mm_loadu_ps(w), _mm_set1_ps(x[j]));
        w += rem;
    }
    _mm_storeu_ps(y, a0);
}
#elif defined(__GNUC__) && defined(__thumb2__) && defined(__ARM_FP) && (__ARM_FP & 4) &&   \
    !defined(__ARM_FEATURE_MVE)
/* Cortex-M4/M7: as tile16, VLDM of a column's 8 (or 4) weights and VMLA (not fused: the plain
 * C's roundings), four columns a pass from one VLDM of x; a column's weights are `rem`
 * floats apart, so one ADD skips the rest of the row block. 1.3-1.6 instructions a
 * multiply-add where the plain C took about 3.5 (VLDR, VMUL, VADD). */
#define RNN_REST8(xr)                                                                          \
    "vldmia %[w], {s16-s23}\n\t"                                                               \
    "add %[w], %[w], %[step]\n\t"                                                             \
    "vmla.f32 s0, s16, " xr "\n\t"                                                             \
    "vmla.f32 s1, s17, " xr "\n\t"                                                             \
    "vmla.f32 s2, s18, " xr "\n\t"                                                             \
    "vmla.f32 s3, s19, " xr "\n\t"                                                             \
    "vmla.f32 s4, s20, " xr "\n\t"                                                             \
    "vmla.f32 s5, s21, " xr "\n\t"                                                             \
    "vmla.f32 s6, s22, " xr "\n\t"                                                             \
    "vmla.f32 s7, s23, " xr "\n\t"
#define RNN_REST4(xr)                                                                          \
    "vldmia %[w], {s16-s19}\n\t"                                                               \
    "add %[w], %[w], %[step]\n\t"                                                             \
    "vmla.f32 s0, s16, " xr "\n\t"                                                             \
    "vmla.f32 s1, s17, " xr "\n\t"                                                             \
    "vmla.f32 s2, s18, " xr "\n\t"                                                             \
    "vmla.f32 s3, s19, " xr "\n\t"
static void rest8(int32_t rem, int32_t cols, const float *w, const float *bias, const float *x,
                  float *y)
{
    const float *b = bias ? bias : rnn_zeros16;
    const int32_t step = rem * (int32_t)sizeof(float);
    int32_t n4 = cols >> 2;
    int32_t n1 = cols & 3;
    __asm__ volatile(RNN_VMLA_LOOP("s0-s7", RNN_REST8)
        : [w] "+r"(w), [x] "+r"(x), [n4] "+r"(n4), [n1] "+r"(n1)
        : [b] "r"(b), [y] "r"(y), [step] "r"(step)
        : "s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "s16", "s17", "s18", "s19", "s20",
          "s21", "s22", "s23", "s24", "s25", "s26", "s27", "cc", "memory");
}

static void rest4(int32_t rem, int32_t cols, const float *w, const float *bias, const float *x,
                  float *y)
{
    const float *b = bias ? bias : rnn_zeros16;
    const int32_t step = rem * (int32_t)sizeof(float);
    int32_t n4 = cols >> 2;
    int32_t n1 = cols & 3;
    __asm__ volatile(RNN_VMLA_LOOP("s0-s3", RNN_REST4)
        : [w] "+r"(w), [x] "+r"(x), [n4] "+r"(n4), [n1] "+r"(n1)
        : [b] "r"(b), [y] "r"(y), [step] "r"(step)
        : "s0", "s1", "s2", "s3", "s16", "s17", "s18", "s19", "s24", "s25", "s26", "s27", "cc",
          "memory");
}
#undef RNN_REST8
#undef RNN_REST4
#undef RNN_VMLA_LOOP
#else
static void rest8(int32_t rem, int32_t cols, const float *w, const float *bias, const float *x,
                  float *y)
{
    float a0 = bias ? bias[0] : 0.0f;
    float a1 = bias ? bias[1] : 0.0f;
    float a2 = bias ? bias[2] : 0.0f;
    float a3 = bias ? bias[3] : 0.0f;
    float a4 = bias ? bias[4] : 0.0f;
    float a5 = bias ? bias[5] : 0.0f;
    float a6 = bias ? bias[6] : 0.0f;
    float a7 = bias ? bias[7] : 0.0f;
    int32_t j;
    for (j = 0; j < cols; ++j)
    {
        const float xj = x[j];
        a0 += w[0] * xj;
        a1 += w[1] * xj;
        a2 += w[2] * xj;
        a3 += w[3] * xj;
        a4 += w[4] * xj;
        a5 += w[5] * xj;
        a6 += w[6] * xj;
        a7 += w[7] * xj;
        w += rem;
    }
    y[0] = a0;
    y[1] = a1;
    y[2] = a2;
    y[3] = a3;
    y[4] = a4;
    y[5] = a5;
    y[6] = a6;
    y[7] = a7;
}

static void rest4(int32_t rem, int32_t cols, const float *w, const float *bias, const float *x,
                  float *y)
{
    float a0 = bias ? bias[0] : 0.0f;
    float a1 = bias ? bias[1] : 0.0f;
    float a2 = bias ? bias[2] : 0.0f;
    float a3 = bias ? bias[3] : 0.0f;
    int32_t j;
    for (j = 0; j < cols; ++j)
    {
        const float xj = x[j];
        a0 += w[0] * xj;
        a1 += w[1] * xj;
        a2 += w[2] * xj;
        a3 += w[3] * xj;
        w += rem;
    }
    y[0] = a0;
    y[1] = a1;
    y[2] = a2;
    y[3] = a3;
}
#endif

static void rest2(int32_t rem, int32_t cols, const float *w, const float *bias, const float *x,
                  float *y)
{
    float a0 = bias ? bias[0] : 0.0f;
    float a1 = bias ? bias[1] : 0.0f;
    int32_t j;
    for (j = 0; j < cols; ++j)
    {
        const float xj = x[j];
        a0 = RNN_MADD_F32(a0, w[0], xj);
        a1 = RNN_MADD_F32(a1, w[1], xj);
        w += rem;
    }
    y[0] = a0;
    y[1] = a1;
}

static void rest1(int32_t rem, int32_t cols, const float *w, const float *bias, const float *x,
                  float *y)
{
    float a0 = bias ? bias[0] : 0.0f;
    int32_t j;
    for (j = 0; j < cols; ++j)
    {
        a0 = RNN_MADD_F32(a0, w[0], x[j]);
        w += rem;
    }
    y[0] = a0;
}

/* Refer to header file for details. */
void rnn_mat_vec_f32(int32_t rows, int32_t cols, const float *w, const float *bias,
                     const float *x, float *y)
{
    int32_t r0 = 0;

#if GROUP > 1
    for (; r0 + GROUP * RNN_MAT_VEC_TILE <= rows; r0 += GROUP * RNN_MAT_VEC_TILE)
    {
        tile_group(cols, w, bias ? bias + r0 : 0, x, y + r0);
        w += (int32_t)(GROUP * RNN_MAT_VEC_TILE) * cols;
    }
#endif
    for (; r0 + RNN_MAT_VEC_TILE <= rows; r0 += RNN_MAT_VEC_TILE)
    {
        tile16(cols, w, bias ? bias + r0 : 0, x, y + r0);
        w += (int32_t)RNN_MAT_VEC_TILE * cols;
    }
    if (r0 < rows)
    {
        /* the last rows (fewer than a tile), stored [cols][rem], in chunks of 8, 4, 2, 1 */
        const int32_t rem = rows - r0;
        int32_t k = 0;
        for (; k + 8 <= rem; k += 8)
        {
            rest8(rem, cols, w + k, bias ? bias + r0 + k : 0, x, y + r0 + k);
        }
        if (k + 4 <= rem)
        {
            rest4(rem, cols, w + k, bias ? bias + r0 + k : 0, x, y + r0 + k);
            k += 4;
        }
        if (k + 2 <= rem)
        {
            rest2(rem, cols, w + k, bias ? bias + r0 + k : 0, x, y + r0 + k);
            k += 2;
        }
        if (k < rem)
        {
            rest1(rem, cols, w + k, bias ? bias + r0 + k : 0, x, y + r0 + k);
        }
    }
}
