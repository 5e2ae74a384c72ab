/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_quantize_s8.c
 * Description: float -> int8: q = sat8(lrintf(x * inv_scale) + zero_point), the product in
 *              float (no contraction under -std=c99), rounded half to even.
 */

#include <math.h>

#include "rnn_nnfunctions.h"
#include "rnn_nn_support.h"

/* Refer to header file for details. */
void rnn_quantize_s8(const float *x, int32_t n, float inv_scale, int32_t zero_point, int8_t *y)
{
    int32_t i;

    for (i = 0; i < n; ++i)
    {
        float v = x[i] * inv_scale;
        v = v < -1.0e6f ? -1.0e6f : (v > 1.0e6f ? 1.0e6f : v);
        y[i] = (int8_t)rnn_sat8((int32_t)lrintf(v) + zero_point);
    }
}
