/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_quantize_s8.c
 * Description: float -> int8: q = sat8(lrintf(x * inv_scale) + zero_point), the product in
 *              float (no contraction under -std=c99), rounded half to even.
 */

#include <float.h>
#include <math.h>

#include "rnn_nnfunctions.h"
#include "rnn_nn_support.h"

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

/* Refer to header file for details. */
void rnn_quantize_s8(const float *x, int32_t n, float inv_scale, int32_t zero_point, int8_t *y)
{
    int32_t i;

    for (i = 0; i < n; ++i)
    {
        float v = x[i] * inv_scale;
        /* beyond +-512 every value saturates alike (|zero_point| <= 128) */
        v = v < -512.0f ? -512.0f : (v > 512.0f ? 512.0f : v);
        y[i] = (int8_t)rnn_sat8(round_even(v) + zero_point);
    }
}
