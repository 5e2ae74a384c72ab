/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_scale_shift_f32.c
 * Description: Per-channel scale and shift: an inference BatchNormalization that could not
 *              be folded into the layer in front of it.
 */

#include "rnn_nnfunctions.h"

/* Refer to header file for details. */
void rnn_scale_shift_f32(int32_t outer, int32_t channels, int32_t inner, const float *scale,
                         const float *shift, const float *x, float *y)
{
    int32_t o;
    for (o = 0; o < outer; ++o)
    {
        int32_t c;
        for (c = 0; c < channels; ++c)
        {
            const float *xc = x + (o * channels + c) * inner;
            float *yc = y + (o * channels + c) * inner;
            const float a = scale[c];
            const float b = shift[c];
            int32_t i;
            for (i = 0; i < inner; ++i)
            {
                yc[i] = xc[i] * a + b;
            }
        }
    }
}
