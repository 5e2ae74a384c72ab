/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_conv_s8.c
 * Description: Direct int8 1-D / 2-D convolution (ONNX Conv, batch 1) with per-output-
 *              channel weight scales, as CMSIS-NN's convolve_s8: int32 accumulation of
 *              w * (x - x_zero_point) over the taps inside the input (padding is the real
 *              value 0), the int32 bias, Q31 requantization per output channel, the output
 *              zero point, saturation. Bit for bit quant.conv_s8. No scratch memory.
 */

#include "rnn_nn_support.h"
#include "rnn_nnfunctions.h"

/* The taps [lo, hi) of one output position that fall inside the input (as rnn_conv_f32). */
static void rnn_conv_s8_taps(int32_t o, int32_t s, int32_t pad, int32_t d, int32_t k_n,
                             int32_t n, int32_t *lo, int32_t *hi)
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
        b = n - 1 - start < 0 ? 0 : (n - 1 - start) / d + 1;
    }
    *lo = a;
    *hi = b > a ? b : a;
}

/* Refer to header file for details. */
void rnn_conv_s8(const rnn_window_params *p, const int8_t *x, int32_t x_zero_point,
                 const int8_t *w, const int32_t *bias, const int32_t *mult,
                 const int32_t *shift, int32_t y_zero_point, int8_t *y)
{
    const int32_t cg = p->in_c / p->groups;
    const int32_t mg = p->out_c / p->groups;
    const int32_t kk = p->k_h * p->k_w;
    int32_t m;
    for (m = 0; m < p->out_c; ++m)
    {
        const int8_t *xg = x + (m / mg) * cg * p->in_h * p->in_w;
        const int8_t *wm = w + m * cg * kk;
        int32_t oh;
        for (oh = 0; oh < p->out_h; ++oh)
        {
            int32_t kh0;
            int32_t kh1;
            int32_t ow;
            const int32_t ih0 = oh * p->stride_h - p->pad_h;
            rnn_conv_s8_taps(oh, p->stride_h, p->pad_h, p->dil_h, p->k_h, p->in_h, &kh0, &kh1);
            for (ow = 0; ow < p->out_w; ++ow)
            {
                int32_t kw0;
                int32_t kw1;
                int32_t c;
                const int32_t iw0 = ow * p->stride_w - p->pad_w;
                int32_t acc = bias[m];
                rnn_conv_s8_taps(ow, p->stride_w, p->pad_w, p->dil_w, p->k_w, p->in_w, &kw0,
                                 &kw1);
                for (c = 0; c < cg; ++c)
                {
                    const int8_t *xc = xg + c * p->in_h * p->in_w;
                    const int8_t *wc = wm + c * kk;
                    int32_t kh;
                    for (kh = kh0; kh < kh1; ++kh)
                    {
                        const int8_t *xr = xc + (ih0 + kh * p->dil_h) * p->in_w + iw0;
                        const int8_t *wr = wc + kh * p->k_w;
                        int32_t kw;
                        for (kw = kw0; kw < kw1; ++kw)
                        {
                            acc += (int32_t)wr[kw] * ((int32_t)xr[kw * p->dil_w] - x_zero_point);
                        }
                    }
                }
                acc = rnn_requantize(acc, mult[m], shift[m]);
                /* bounded first (|zero point| <= 128: the same int8 result, no overflow) */
                acc = acc > 255 ? 255 : (acc < -256 ? -256 : acc);
                y[(m * p->out_h + oh) * p->out_w + ow] = (int8_t)rnn_sat8(acc + y_zero_point);
            }
        }
    }
}
