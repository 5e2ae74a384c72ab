/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_mat_vec_f32.c
 * Description: Dense float matrix-vector product over a row-tile packed matrix.
 *
 * Each tile of RNN_MAT_VEC_TILE (16) rows is stored column by column, so the kernel streams
 * the weights once, front to back, while the tile's 16 accumulators stay in registers.
 * Every row is summed in the same order on every target (bias, then column 0, 1, ...) with
 * a separate multiply and add, so the vector paths (AVX, SSE2, AArch64 NEON) and the plain
 * C path give bit-identical results.
 */

#include "rnn_nnfunctions.h"

#if defined(__AVX__)
#include <immintrin.h>
#elif defined(__SSE2__)
#include <emmintrin.h>
#elif defined(__ARM_NEON) && defined(__aarch64__)
#include <arm_neon.h>
#endif

/* One full tile: acc[0..15] = bias + W_tile x. */
static void tile16(int32_t cols, const float *w, const float *bias, const float *x, float *y)
{
    int32_t j;
#if defined(__AVX__)
    __m256 a0 = bias ? _mm256_loadu_ps(bias) : _mm256_setzero_ps();
    __m256 a1 = bias ? _mm256_loadu_ps(bias + 8) : _mm256_setzero_ps();
    for (j = 0; j < cols; ++j)
    {
        const __m256 xj = _mm256_set1_ps(x[j]);
        a0 = _mm256_add_ps(a0, _mm256_mul_ps(_mm256_loadu_ps(w), xj));
        a1 = _mm256_add_ps(a1, _mm256_mul_ps(_mm256_loadu_ps(w + 8), xj));
        w += RNN_MAT_VEC_TILE;
    }
    _mm256_storeu_ps(y, a0);
    _mm256_storeu_ps(y + 8, a1);
#elif defined(__SSE2__)
    __m128 a0 = bias ? _mm_loadu_ps(bias) : _mm_setzero_ps();
    __m128 a1 = bias ? _mm_loadu_ps(bias + 4) : _mm_setzero_ps();
    __m128 a2 = bias ? _mm_loadu_ps(bias + 8) : _mm_setzero_ps();
    __m128 a3 = bias ? _mm_loadu_ps(bias + 12) : _mm_setzero_ps();
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
#elif defined(__ARM_NEON) && defined(__aarch64__)
    /* vmlaq_f32 is a separate multiply and add on AArch64 (not fused). */
    float32x4_t a0 = bias ? vld1q_f32(bias) : vdupq_n_f32(0.0f);
    float32x4_t a1 = bias ? vld1q_f32(bias + 4) : vdupq_n_f32(0.0f);
    float32x4_t a2 = bias ? vld1q_f32(bias + 8) : vdupq_n_f32(0.0f);
    float32x4_t a3 = bias ? vld1q_f32(bias + 12) : vdupq_n_f32(0.0f);
    for (j = 0; j < cols; ++j)
    {
        const float32x4_t xj = vdupq_n_f32(x[j]);
        a0 = vmlaq_f32(a0, vld1q_f32(w), xj);
        a1 = vmlaq_f32(a1, vld1q_f32(w + 4), xj);
        a2 = vmlaq_f32(a2, vld1q_f32(w + 8), xj);
        a3 = vmlaq_f32(a3, vld1q_f32(w + 12), xj);
        w += RNN_MAT_VEC_TILE;
    }
    vst1q_f32(y, a0);
    vst1q_f32(y + 4, a1);
    vst1q_f32(y + 8, a2);
    vst1q_f32(y + 12, a3);
#else
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
#endif
}

/* Refer to header file for details. */
void rnn_mat_vec_f32(int32_t rows, int32_t cols, const float *w, const float *bias,
                     const float *x, float *y)
{
    int32_t r0 = 0;

    for (; r0 + RNN_MAT_VEC_TILE <= rows; r0 += RNN_MAT_VEC_TILE)
    {
        tile16(cols, w, bias ? bias + r0 : 0, x, y + r0);
        w += (int32_t)RNN_MAT_VEC_TILE * cols;
    }
    if (r0 < rows)
    {
        const int32_t rem = rows - r0;
        float acc[RNN_MAT_VEC_TILE];
        int32_t j;
        int32_t k;
        for (k = 0; k < rem; ++k)
        {
            acc[k] = bias ? bias[r0 + k] : 0.0f;
        }
        for (j = 0; j < cols; ++j)
        {
            const float xj = x[j];
            for (k = 0; k < rem; ++k)
            {
                acc[k] += w[k] * xj;
            }
            w += rem;
        }
        for (k = 0; k < rem; ++k)
        {
            y[r0 + k] = acc[k];
        }
    }
}
