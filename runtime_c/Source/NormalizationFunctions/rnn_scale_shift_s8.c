/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_scale_shift_s8.c
 * Description: int8 per-channel scale and shift (a standalone batch normalization): a
 *              depthwise 1x1 convolution in CMSIS-NN's arithmetic.
 */

#include "rnn_nnfunctions.h"
#include "rnn_nn_support.h"

/* Refer to header file for details. */
void rnn_scale_shift_s8(int32_t outer, int32_t channels, int32_t inner, const int8_t *w,
                        const int32_t *bias, const int32_t *mult, const int32_t *shift,
                        int32_t zp_in, int32_t zp_out, const int8_t *x, int8_t *y)
{
    int32_t o;
    for (o = 0; o < outer; ++o)
    {
        int32_t c;
        for (c = 0; c < channels; ++c)
        {
            const int32_t wc = w[c];
            const int32_t bc = bias[c];
            const int32_t mc = mult[c];
            const int32_t sc = shift[c];
            const int8_t *xc = x + ((int32_t)o * channels + c) * inner;
            int8_t *yc = y + ((int32_t)o * channels + c) * inner;
            int32_t i;
            for (i = 0; i < inner; ++i)
            {
                /* sat16 first: the same int8, no int32 overflow */
                int32_t v =
                    rnn_sat16(rnn_requantize((xc[i] - zp_in) * wc + bc, mc, sc)) + zp_out;
                v = v > 127 ? 127 : (v < -128 ? -128 : v);
                yc[i] = (int8_t)v;
            }
        }
    }
}
