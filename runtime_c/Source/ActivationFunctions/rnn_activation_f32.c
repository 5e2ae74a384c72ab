/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_activation_f32.c
 * Description: The ONNX recurrent-layer activation functions, applied in place.
 */

#include <math.h>
#include <string.h>

#include "rnn_nnfunctions.h"

/*
 * e^x in float without libm, written so that loops calling it vectorize: x = k ln2 + r with
 * |r| <= ln2/2 (k rounded by the 1.5 * 2^23 trick), e^r by a degree-6 polynomial
 * (coefficients fitted for rnngen on Chebyshev nodes; relative error 3e-9 before float
 * rounding, about 1 ulp after), 2^k built from the exponent bits.
 * x must be in [-87, 88], where e^x is a normal float: callers clamp first.
 */
static float exp_f32(float x)
{
    float k;
    float r;
    float p;
    float scale;
    int32_t bits;

    k = x * 1.44269504f + 12582912.0f;
    k = k - 12582912.0f;
    r = x - k * 0.693145751953125f; /* ln 2, high part (exact product) */
    r = r - k * 1.42860677e-06f;     /* ln 2, low part */
    p = 0.00138294206f;
    p = p * r + 0.00837477152f;
    p = p * r + 0.0416683580f;
    p = p * r + 0.166664208f;
    p = p * r + 0.499999915f;
    p = p * r + 1.00000004f;
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
    default:
        break;
    }
}
