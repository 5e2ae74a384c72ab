/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_layer_norm_f32.c
 * Description: Layer normalization of each row (ONNX LayerNormalization): the mean, then the
 *              biased variance of the differences (two passes: no cancellation), then
 *              (x - mean) / sqrt(var + eps) * scale + bias.
 */

#include <math.h>

#include "rnn_nnfunctions.h"

/* Refer to header file for details. */
void rnn_layer_norm_f32(int32_t rows, int32_t n, float eps, const float *scale,
                        const float *bias, const float *x, float *y)
{
    int32_t r;
    for (r = 0; r < rows; ++r)
    {
        const float *xr = x + r * n;
        float *yr = y + r * n;
        float mean = 0.0f;
        float var = 0.0f;
        float inv;
        int32_t k;
        for (k = 0; k < n; ++k)
        {
            mean += xr[k];
        }
        mean = mean / (float)n;
        for (k = 0; k < n; ++k)
        {
            const float d = xr[k] - mean;
            var += d * d;
        }
        inv = 1.0f / sqrtf(var / (float)n + eps);
        for (k = 0; k < n; ++k)
        {
            yr[k] = (xr[k] - mean) * inv * scale[k] + bias[k];
        }
    }
}
