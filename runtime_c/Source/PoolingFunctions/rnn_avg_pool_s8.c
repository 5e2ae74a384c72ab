/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_avg_pool_s8.c
 * Description: int8 AveragePool (ONNX, batch 1, 1-D or 2-D, floor mode) with strides, padding
 *              and dilation. The output has the input's scale and zero point (an average of
 *              x / s + zp is the average of x over s plus zp), so only the division rounds:
 *              as CMSIS-NN's avgpool_s8, half away from zero, (sum + count / 2) / count for
 *              sum > 0, else (sum - count / 2) / count (C's division truncates). count is the
 *              window's positions inside the input, or the whole window with
 *              count_include_pad (each padded position then adds the zero point: the real
 *              value 0). A window with no position inside gives the zero point.
 */

#include "rnn_nnfunctions.h"

/* Refer to header file for details. */
void rnn_avg_pool_s8(const rnn_window_params *p, int32_t include_pad, int32_t zero_point,
                     const int8_t *x, int8_t *y)
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
                int32_t sum = 0;
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
                        if (iw >= 0 && iw < p->in_w)
                        {
                            sum += xc[ih * p->in_w + iw];
                            ++count;
                        }
                    }
                }
                if (include_pad)
                {
                    const int32_t all = p->k_h * p->k_w;
                    sum += (all - count) * zero_point;
                    count = all;
                }
                y[(c * p->out_h + oh) * p->out_w + ow] =
                    (int8_t)(count == 0 ? zero_point
                                        : (sum > 0 ? (sum + count / 2) / count
                                                   : (sum - count / 2) / count));
            }
        }
    }
}
