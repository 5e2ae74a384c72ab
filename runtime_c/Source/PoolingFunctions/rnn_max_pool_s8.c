/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_max_pool_s8.c
 * Description: int8 MaxPool (ONNX, batch 1, 1-D or 2-D, floor mode) with strides, padding and
 *              dilation. The output has the input's scale and zero point (a maximum commutes
 *              with the monotone quantization), so it is exact: the largest int8 value of
 *              the window's positions inside the input (padding never wins); a window with
 *              none gives the zero point (the real value 0, as rnn_pool_f32).
 */

#include "rnn_nnfunctions.h"

/* Refer to header file for details. */
void rnn_max_pool_s8(const rnn_window_params *p, int32_t zero_point, const int8_t *x, int8_t *y)
{
    int32_t c;
    for (c = 0; c < p->in_c; ++c)
    {
        const int8_t *xc = x + c * p->in_h * p->in_w;
        int32_t oh;
        for (oh = 0; oh < p->out_h; ++oh)
        {
            int32_t ow;
            for (ow = 0; ow < p->out_w; ++ow)
            {
                int32_t best = -129; /* below every int8 value: no position yet */
                int32_t kh;
                for (kh = 0; kh < p->k_h; ++kh)
                {
                    const int32_t ih = oh * p->stride_h - p->pad_h + kh * p->dil_h;
                    int32_t kw;
                    if (ih < 0 || ih >= p->in_h)
                    {
                        continue;
                    }
                    for (kw = 0; kw < p->k_w; ++kw)
                    {
                        const int32_t iw = ow * p->stride_w - p->pad_w + kw * p->dil_w;
                        if (iw >= 0 && iw < p->in_w && xc[ih * p->in_w + iw] > best)
                        {
                            best = xc[ih * p->in_w + iw];
                        }
                    }
                }
                y[(c * p->out_h + oh) * p->out_w + ow] =
                    (int8_t)(best == -129 ? zero_point : best);
            }
        }
    }
}
