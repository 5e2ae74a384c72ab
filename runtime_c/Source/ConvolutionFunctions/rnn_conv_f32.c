/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_conv_f32.c
 * Description: Direct 1-D / 2-D convolution with strides, zero padding, dilation and groups
 *              (ONNX Conv, batch 1). No im2col: the kernel needs no scratch memory.
 *
 * For each output position the range of kernel taps that fall inside the input is computed
 * once (so the inner loop has no bounds tests); each output sums its bias first, then input
 * channel by channel, kernel row by row, tap by tap.
 */

#include <stddef.h>

#include "rnn_nnfunctions.h"

/* First tap k in [0, k_n) with 0 <= o * s - pad + k * d, and one past the last with
 * o * s - pad + k * d < n. */
static void rnn_conv_taps(int32_t o, int32_t s, int32_t pad, int32_t d, int32_t k_n, int32_t n,
                          int32_t *lo, int32_t *hi)
{
    const int32_t start = o * s - pad;
    int32_t a = 0;
    int32_t b = k_n;
    if (start < 0)
    {
        a = (-start + d - 1) / d;
    }
    if (start + (k_n - 1) * d >= n)
    {
        b = (n - 1 - start) / d + 1;
        if (n - 1 - start < 0)
        {
            b = 0;
        }
    }
    *lo = a;
    *hi = b > a ? b : a;
}

/* Refer to header file for details. */
void rnn_conv_f32(const rnn_window_params *p, const float *x, const float *w, const float *bias,
                  float *y)
{
    const int32_t cg = p->in_c / p->groups;  /* input channels per group */
    const int32_t mg = p->out_c / p->groups; /* output channels per group */
    const int32_t kk = p->k_h * p->k_w;
    int32_t m;
    for (m = 0; m < p->out_c; ++m)
    {
        const float *xg = x + (m / mg) * cg * p->in_h * p->in_w;
        const float *wm = w + m * cg * kk;
        const float b0 = bias != NULL ? bias[m] : 0.0f;
        int32_t oh;
        for (oh = 0; oh < p->out_h; ++oh)
        {
            int32_t kh0;
            int32_t kh1;
            int32_t ow;
            const int32_t ih0 = oh * p->stride_h - p->pad_h;
            rnn_conv_taps(oh, p->stride_h, p->pad_h, p->dil_h, p->k_h, p->in_h, &kh0, &kh1);
            for (ow = 0; ow < p->out_w; ++ow)
            {
                int32_t kw0;
                int32_t kw1;
                int32_t c;
                const int32_t iw0 = ow * p->stride_w - p->pad_w;
                float acc = b0;
                rnn_conv_taps(ow, p->stride_w, p->pad_w, p->dil_w, p->k_w, p->in_w, &kw0, &kw1);
                for (c = 0; c < cg; ++c)
                {
                    const float *xc = xg + c * p->in_h * p->in_w;
                    const float *wc = wm + c * kk;
                    int32_t kh;
                    for (kh = kh0; kh < kh1; ++kh)
                    {
                        const float *xr = xc + (ih0 + kh * p->dil_h) * p->in_w + iw0;
                        const float *wr = wc + kh * p->k_w;
                        int32_t kw;
                        for (kw = kw0; kw < kw1; ++kw)
                        {
                            acc += wr[kw] * xr[kw * p->dil_w];
                        }
                    }
                }
                y[(m * p->out_h + oh) * p->out_w + ow] = acc;
            }
        }
    }
}
