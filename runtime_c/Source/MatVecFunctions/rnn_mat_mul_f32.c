/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_mat_mul_f32.c
 * Description: The same packed matrix applied to several vectors: y[k] = bias + W x[k].
 *
 * This is how a recurrent layer computes the input projections of a block of time steps at
 * once. Rows are taken in slices of RNN_MAT_MUL_SLICE rows (whole tiles, so a slice is
 * itself a packed matrix), and each slice is applied to every vector before the next, so
 * its weights come from cache after the first vector. On x86 and AArch64 a tile is applied
 * to several vectors per pass, so each weight load feeds several multiply-adds (AVX-512:
 * eight vectors; AVX: four; AArch64: four vectors, fused multiply-adds by lane, 0.33
 * instructions per multiply-add against rnn_mat_vec_f32's 0.49 on HAR1's 716 x 77 input
 * matrix, cortex-a73).
 * Each row is summed exactly as rnn_mat_vec_f32 sums it on the same target.
 */

#include "rnn_nnfunctions.h"

/* AVX-512 paths (a tile of 16 rows is one 512-bit register) on x86 with AVX-512F, except
 * AMD Zen 3/4 builds (GCC's -march=native names them znver3 / znver4), whose 512-bit
 * operations run as two 256-bit halves and whose AVX-512 path measured slower than AVX2 on
 * an AMD EPYC. Defined here and in rnn_mat_vec_f32.c alike (not in a shared header: each
 * macro a header tests multiplies the configurations cppcheck checks in every kernel). */
#if defined(__AVX512F__) && !defined(__znver3__) && !defined(__znver4__)
#define RNN_X86_512 1
#else
#define RNN_X86_512 0
#endif

#if RNN_X86_512
#include <immintrin.h>
#define VECS 8 /* vectors per pass over a tile */
/* AVX-512: one tile of 16 rows (one register) applied to 8 vectors, fused as
 * rnn_mat_vec_f32's AVX-512 path. */
static void tile_vecs(int32_t cols, const float *w, const float *bias, const float *x,
                      int32_t xs, float *y, int32_t ys)
{
    const __m512 b = bias ? _mm512_loadu_ps(bias) : _mm512_setzero_ps();
    __m512 a0 = b, a1 = b, a2 = b, a3 = b, a4 = b, a5 = b, a6 = b, a7 = b;
    int32_t j;
    for (j = 0; j < cols; ++j)
    {
        const __m512 wj = _mm512_loadu_ps(w);
        a0 = _mm512_fmadd_ps(wj, _mm512_set1_ps(x[j]), a0);
        a1 = _mm512_fmadd_ps(wj, _mm512_set1_ps(x[xs + j]), a1);
        a2 = _mm512_fmadd_ps(wj, _mm512_set1_ps(x[2 * xs + j]), a2);
        a3 = _mm512_fmadd_ps(wj, _mm512_set1_ps(x[3 * xs + j]), a3);
        a4 = _mm512_fmadd_ps(wj, _mm512_set1_ps(x[4 * xs + j]), a4);
        a5 = _mm512_fmadd_ps(wj, _mm512_set1_ps(x[5 * xs + j]), a5);
        a6 = _mm512_fmadd_ps(wj, _mm512_set1_ps(x[6 * xs + j]), a6);
        a7 = _mm512_fmadd_ps(wj, _mm512_set1_ps(x[7 * xs + j]), a7);
        w += RNN_MAT_VEC_TILE;
    }
    _mm512_storeu_ps(y, a0);
    _mm512_storeu_ps(y + ys, a1);
    _mm512_storeu_ps(y + 2 * ys, a2);
    _mm512_storeu_ps(y + 3 * ys, a3);
    _mm512_storeu_ps(y + 4 * ys, a4);
    _mm512_storeu_ps(y + 5 * ys, a5);
    _mm512_storeu_ps(y + 6 * ys, a6);
    _mm512_storeu_ps(y + 7 * ys, a7);
}
#elif defined(__AVX__)
#include <immintrin.h>
#if defined(__FMA__)
#define MADD(acc, w, x) _mm256_fmadd_ps(w, x, acc)
#else
#define MADD(acc, w, x) _mm256_add_ps(acc, _mm256_mul_ps(w, x))
#endif
#define VECS 4 /* vectors per pass over a tile */
/* One tile of 16 rows applied to 4 vectors (x rows `xs` floats apart, y rows `ys` apart). */
static void tile_vecs(int32_t cols, const float *w, const float *bias, const float *x,
                      int32_t xs, float *y, int32_t ys)
{
    const __m256 b0 = bias ? _mm256_loadu_ps(bias) : _mm256_setzero_ps();
    const __m256 b1 = bias ? _mm256_loadu_ps(bias + 8) : _mm256_setzero_ps();
    __m256 a0 = b0, a1 = b1, a2 = b0, a3 = b1, a4 = b0, a5 = b1, a6 = b0, a7 = b1;
    const float *x1 = x + xs;
    const float *x2 = x1 + xs;
    const float *x3 = x2 + xs;
    int32_t j;
    for (j = 0; j < cols; ++j)
    {
        const __m256 w0 = _mm256_loadu_ps(w);
        const __m256 w1 = _mm256_loadu_ps(w + 8);
        __m256 v = _mm256_set1_ps(x[j]);
        a0 = MADD(a0, w0, v);
        a1 = MADD(a1, w1, v);
        v = _mm256_set1_ps(x1[j]);
        a2 = MADD(a2, w0, v);
        a3 = MADD(a3, w1, v);
        v = _mm256_set1_ps(x2[j]);
        a4 = MADD(a4, w0, v);
        a5 = MADD(a5, w1, v);
        v = _mm256_set1_ps(x3[j]);
        a6 = MADD(a6, w0, v);
        a7 = MADD(a7, w1, v);
        w += RNN_MAT_VEC_TILE;
    }
    _mm256_storeu_ps(y, a0);
    _mm256_storeu_ps(y + 8, a1);
    _mm256_storeu_ps(y + ys, a2);
    _mm256_storeu_ps(y + ys + 8, a3);
    _mm256_storeu_ps(y + 2 * ys, a4);
    _mm256_storeu_ps(y + 2 * ys + 8, a5);
    _mm256_storeu_ps(y + 3 * ys, a6);
    _mm256_storeu_ps(y + 3 * ys + 8, a7);
}
#elif defined(__ARM_NEON) && defined(__aarch64__)
#include <arm_neon.h>
#define VECS 4 /* vectors per pass over a tile */
/* a[4 v .. 4 v + 3] += column (lane L of the 4 columns) of the tile times vector v's value */
#define RNN_MM_LANE(L)                                                                         \
    do                                                                                         \
    {                                                                                          \
        const float32x4_t w0 = vld1q_f32(w + 16 * (L));                                        \
        const float32x4_t w1 = vld1q_f32(w + 16 * (L) + 4);                                    \
        const float32x4_t w2 = vld1q_f32(w + 16 * (L) + 8);                                    \
        const float32x4_t w3 = vld1q_f32(w + 16 * (L) + 12);                                   \
        a0 = vfmaq_laneq_f32(a0, w0, x0, L);                                                   \
        a1 = vfmaq_laneq_f32(a1, w1, x0, L);                                                   \
        a2 = vfmaq_laneq_f32(a2, w2, x0, L);                                                   \
        a3 = vfmaq_laneq_f32(a3, w3, x0, L);                                                   \
        a4 = vfmaq_laneq_f32(a4, w0, x1, L);                                                   \
        a5 = vfmaq_laneq_f32(a5, w1, x1, L);                                                   \
        a6 = vfmaq_laneq_f32(a6, w2, x1, L);                                                   \
        a7 = vfmaq_laneq_f32(a7, w3, x1, L);                                                   \
        a8 = vfmaq_laneq_f32(a8, w0, x2, L);                                                   \
        a9 = vfmaq_laneq_f32(a9, w1, x2, L);                                                   \
        a10 = vfmaq_laneq_f32(a10, w2, x2, L);                                                 \
        a11 = vfmaq_laneq_f32(a11, w3, x2, L);                                                 \
        a12 = vfmaq_laneq_f32(a12, w0, x3, L);                                                 \
        a13 = vfmaq_laneq_f32(a13, w1, x3, L);                                                 \
        a14 = vfmaq_laneq_f32(a14, w2, x3, L);                                                 \
        a15 = vfmaq_laneq_f32(a15, w3, x3, L);                                                 \
    } while (0)

/* One tile of 16 rows applied to 4 vectors (x rows `xs` floats apart, y rows `ys` apart):
 * per 4 columns one load of each vector's 4 values and, per column, the tile's 4 weight
 * loads feed 16 fused multiply-adds by lane (0.33 instructions per multiply-add); each row
 * still summed bias first, then column by column, as rnn_mat_vec_f32 sums it. */
static void tile_vecs(int32_t cols, const float *w, const float *bias, const float *x,
                      int32_t xs, float *y, int32_t ys)
{
    const float *xa = x, *xb = x + xs, *xc = x + 2 * xs, *xd = x + 3 * xs;
    const float32x4_t z = vdupq_n_f32(0.0f);
    float32x4_t a0 = bias ? vld1q_f32(bias) : z, a1 = bias ? vld1q_f32(bias + 4) : z,
                a2 = bias ? vld1q_f32(bias + 8) : z, a3 = bias ? vld1q_f32(bias + 12) : z;
    float32x4_t a4 = a0, a5 = a1, a6 = a2, a7 = a3, a8 = a0, a9 = a1, a10 = a2, a11 = a3,
                a12 = a0, a13 = a1, a14 = a2, a15 = a3;
    int32_t j = 0;
    for (; j + 4 <= cols; j += 4)
    {
        const float32x4_t x0 = vld1q_f32(xa + j), x1 = vld1q_f32(xb + j),
                          x2 = vld1q_f32(xc + j), x3 = vld1q_f32(xd + j);
        RNN_MM_LANE(0);
        RNN_MM_LANE(1);
        RNN_MM_LANE(2);
        RNN_MM_LANE(3);
        w += 4 * RNN_MAT_VEC_TILE;
    }
    for (; j < cols; ++j) /* the last 0..3 columns: each vector's value in lane 0 */
    {
        const float32x4_t x0 = vdupq_n_f32(xa[j]), x1 = vdupq_n_f32(xb[j]),
                          x2 = vdupq_n_f32(xc[j]), x3 = vdupq_n_f32(xd[j]);
        RNN_MM_LANE(0);
        w += RNN_MAT_VEC_TILE;
    }
    vst1q_f32(y, a0);
    vst1q_f32(y + 4, a1);
    vst1q_f32(y + 8, a2);
    vst1q_f32(y + 12, a3);
    y += ys;
    vst1q_f32(y, a4);
    vst1q_f32(y + 4, a5);
    vst1q_f32(y + 8, a6);
    vst1q_f32(y + 12, a7);
    y += ys;
    vst1q_f32(y, a8);
    vst1q_f32(y + 4, a9);
    vst1q_f32(y + 8, a10);
    vst1q_f32(y + 12, a11);
    y += ys;
    vst1q_f32(y, a12);
    vst1q_f32(y + 4, a13);
    vst1q_f32(y + 8, a14);
    vst1q_f32(y + 12, a15);
}
#undef RNN_MM_LANE
#else
#define VECS 1
#endif

/* Refer to header file for details. */
void rnn_mat_mul_f32(int32_t rows, int32_t cols, const float *w, const float *bias,
                     int32_t count, const float *x, float *y)
{
    int32_t r0;
    int32_t k;

    for (r0 = 0; r0 < rows; r0 += RNN_MAT_MUL_SLICE)
    {
        const int32_t n = rows - r0 < RNN_MAT_MUL_SLICE ? rows - r0 : RNN_MAT_MUL_SLICE;
        const float *ws = w + (int32_t)r0 * cols;
        const float *bs = bias ? bias + r0 : 0;
        k = 0;
#if VECS > 1
        {
            const int32_t full = n - n % RNN_MAT_VEC_TILE; /* rows in whole tiles */
            for (; k + VECS <= count; k += VECS)
            {
                int32_t t;
                for (t = 0; t < full; t += RNN_MAT_VEC_TILE)
                {
                    tile_vecs(cols, ws + (int32_t)t * cols, bs ? bs + t : 0,
                              x + (int32_t)k * cols, cols, y + (int32_t)k * rows + r0 + t,
                              rows);
                }
                if (full < n)
                {
                    int32_t v;
                    for (v = 0; v < VECS; ++v)
                    {
                        rnn_mat_vec_f32(n - full, cols, ws + (int32_t)full * cols,
                                        bs ? bs + full : 0, x + (int32_t)(k + v) * cols,
                                        y + (int32_t)(k + v) * rows + r0 + full);
                    }
                }
            }
        }
#endif
        for (; k < count; ++k)
        {
            rnn_mat_vec_f32(n, cols, ws, bs, x + (int32_t)k * cols, y + (int32_t)k * rows + r0);
        }
    }
}
