/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_quantize_s16.c
 * Description: float -> int16 with a power-of-two scale (an LSTM cell state, scale 2^-exp):
 *              q = sat16(lrintf(x * inv_scale)), inv_scale = 2^exp, so the product is exact;
 *              rounded half to even. <name>_set_state of int8 models.
 */

#include <float.h>
#include <math.h>

#include "rnn_nnfunctions.h"
#include "rnn_nn_support.h"

/* lrintf(v) for |v| <= 2^22 without a library call (see rnn_quantize_s8.c). */
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
void rnn_quantize_s16(const float *x, int32_t n, float inv_scale, int16_t *y)
{
    int32_t i;

    for (i = 0; i < n; ++i)
    {
        float v = x[i] * inv_scale;
        /* beyond +-65536 every value saturates alike */
        v = v < -65536.0f ? -65536.0f : (v > 65536.0f ? 65536.0f : v);
        y[i] = (int16_t)rnn_sat16(round_even(v));
    }
}
