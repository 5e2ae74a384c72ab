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
 */

#include "rnn_nnfunctions.h"

/* Refer to header file for details. */
void rnn_mat_vec_hmd_f32(int32_t rows, int32_t cols, int32_t r, const float *a, const float *b,
                         const float *c, const float *d, const float *e, const float *bias,
                         const float *x, float *y)
{
    const int32_t h = cols - cols / 2; /* C covers x[0:h], E covers x[h:cols] */
    float s1 = 0.0f;
    float s2 = 0.0f;
    int32_t i;

    if (r > 0)
    {
        rnn_mat_vec_f32(r, cols, a, bias, x, y);
    }
    for (i = 0; i < h; ++i)
    {
        s1 += c[i] * x[i];
    }
    for (i = h; i < cols; ++i)
    {
        s2 += e[i - h] * x[i];
    }
    for (i = 0; i < rows - r; ++i)
    {
        const float base = bias ? bias[r + i] : 0.0f;
        y[r + i] = base + (b[i] * s1 + d[i] * s2);
    }
}
