/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_mat_mul_f32.c
 * Description: The same packed matrix applied to several vectors: y[k] = bias + W x[k].
 *
 * This is how a recurrent layer computes the input projections of a block of time steps at
 * once. Rows are taken in slices of RNN_MAT_MUL_SLICE rows (whole tiles, so a slice is
 * itself a packed matrix), and each slice is applied to every vector before the next, so
 * its weights come from cache after the first vector. On x86 AVX and AArch64 a tile is
 * applied to several vectors per pass, so each weight load feeds several multiply-adds.
 * Each row is summed exactly as rnn_mat_vec_f32 sums it on the same target.
 */

#include "rnn_nnfunctions.h"

#if defined(__AVX__)
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
#define VECS 2
static void tile_vecs(int32_t cols, const float *w, const float *bias, const float *x,
                      int32_t xs, float *y, int32_t ys)
{
    float32x4_t a[8];
    const float *x1 = x + xs;
    int32_t j;
    int32_t k;
    for (k = 0; k < 4; ++k)
    {
        a[k] = bias ? vld1q_f32(bias + 4 * k) : vdupq_n_f32(0.0f);
        a[k + 4] = a[k];
    }
    for (j = 0; j < cols; ++j)
    {
        const float32x4_t w0 = vld1q_f32(w);
        const float32x4_t w1 = vld1q_f32(w + 4);
        const float32x4_t w2 = vld1q_f32(w + 8);
        const float32x4_t w3 = vld1q_f32(w + 12);
        float32x4_t v = vdupq_n_f32(x[j]);
        a[0] = vfmaq_f32(a[0], w0, v);
        a[1] = vfmaq_f32(a[1], w1, v);
        a[2] = vfmaq_f32(a[2], w2, v);
        a[3] = vfmaq_f32(a[3], w3, v);
        v = vdupq_n_f32(x1[j]);
        a[4] = vfmaq_f32(a[4], w0, v);
        a[5] = vfmaq_f32(a[5], w1, v);
        a[6] = vfmaq_f32(a[6], w2, v);
        a[7] = vfmaq_f32(a[7], w3, v);
        w += RNN_MAT_VEC_TILE;
    }
    for (k = 0; k < 4; ++k)
    {
        vst1q_f32(y + 4 * k, a[k]);
        vst1q_f32(y + ys + 4 * k, a[k + 4]);
    }
}
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
