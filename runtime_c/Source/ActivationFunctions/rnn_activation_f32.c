/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_activation_f32.c
 * Description: The ONNX recurrent-layer activation functions, applied in place.
 */

#include <math.h>

#include "rnn_nnfunctions.h"

/* Refer to header file for details. */
void rnn_activation_f32(const rnn_activation *act, float *data, int32_t n)
{
    const float a = act->alpha;
    const float b = act->beta;
    int32_t i;

    switch (act->kind)
    {
    case RNN_ACT_SIGMOID:
        for (i = 0; i < n; ++i)
        {
            data[i] = 1.0f / (1.0f + expf(-data[i]));
        }
        break;
    case RNN_ACT_TANH:
        for (i = 0; i < n; ++i)
        {
            data[i] = tanhf(data[i]);
        }
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
            data[i] = a * tanhf(b * data[i]);
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
