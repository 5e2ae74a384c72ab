/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_pool_f32.c
 * Description: MaxPool and AveragePool (ONNX, batch 1, 1-D or 2-D, floor mode) with strides,
 *              padding and dilation. Padding never wins a maximum; an average divides by the
 *              window's positions inside the input (RNN_POOL_AVG) or by the whole window
 *              (RNN_POOL_AVG_WITH_PAD, ONNX count_include_pad = 1).
 */

#include "rnn_nnfunctions.h"

/* Refer to header file for details. */
void rnn_pool_f32(const rnn_window_params *p, rnn_pool_kind kind, const float *x, float *y)
{
    int32_t c;
    for (c = 0; c < p->in_c; ++c)
    {
        const float *xc = x + c * p->in_h * p->in_w;
        int32_t oh;
        for (oh = 0; oh < p->out_h; ++oh)
        {
            int32_t ow;
            for (ow = 0; ow < p->out_w; ++ow)
            {
                float acc = 0.0f;
                int32_t count = 0;
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
                        float v;
                        if (iw < 0 || iw >= p->in_w)
                        {
                            continue;
                        }
                        v = xc[ih * p->in_w + iw];
                        if (kind == RNN_POOL_MAX)
                        {
                            acc = (count == 0 || v > acc || v != v) ? v : acc;
                        }
                        else
                        {
                            acc += v;
                        }
                        ++count;
                    }
                }
                if (kind == RNN_POOL_AVG)
                {
                    acc = count > 0 ? acc / (float)count : 0.0f;
                }
                else if (kind == RNN_POOL_AVG_WITH_PAD)
                {
                    acc = acc / (float)(p->k_h * p->k_w);
                }
                y[(c * p->out_h + oh) * p->out_w + ow] = acc;
            }
        }
    }
}
