/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_conv_s4.c
 * Description: int8 convolution with int4 weights (w4a8; quant.conv_s8 bit for bit, the
 *              arithmetic of rnn_conv_s8): each output channel's filter is stored as its
 *              window's values (in_c / groups x k_h x k_w, in [-7, 7]) packed two per byte,
 *              unpacked once per output channel into the int16 scratch; then a direct
 *              convolution (no im2col): for each output position the taps inside the input
 *              are computed once, acc = bias + the sum of w * (x - x_zero_point) over them in
 *              channel, row, tap order, y = sat8(requantize(acc) + y_zero_point).
 *
 * Plain C99 on every target (no ISA paths yet).
 */

#include "rnn_nnfunctions.h"

#include "rnn_nn_support.h"

/* Refer to header file for details. */
void rnn_conv_s4(const rnn_window_params *p, const int8_t *x, int32_t x_zero_point,
                 const int8_t *w, const int32_t *bias, const int32_t *mult,
                 const int32_t *shift, int32_t y_zero_point, int8_t *y, int16_t *wrow)
{
    const int32_t cg = p->in_c / p->groups;  /* input channels per group */
    const int32_t mg = p->out_c / p->groups; /* output channels per group */
    const int32_t k_h = p->k_h;
    const int32_t k_w = p->k_w;
    const int32_t kk = k_h * k_w;
    const int32_t n = cg * kk;       /* the window's values */
    const int32_t row = (n + 1) / 2; /* bytes of one output channel's filter */
    const int32_t in_w = p->in_w;
    const int32_t plane = p->in_h * in_w;
    const int32_t dh = p->dil_h * in_w; /* a kernel row's step in the input */
    const int32_t dw = p->dil_w;
    const int32_t span = (k_w - 1) * dw; /* of a window along w */
    const int32_t out_h = p->out_h;
    const int32_t out_w = p->out_w;
    /* the window's input offsets from its origin, in the weights' order (word-aligned in
     * the scratch after the unpacked weights) */
    int32_t *const off = (int32_t *)(((uintptr_t)(wrow + n) + 3u) & ~(uintptr_t)3u);
    int32_t m;
    {
        int32_t t = 0;
        int32_t c;
        for (c = 0; c < cg; ++c)
        {
            int32_t kh;
            for (kh = 0; kh < k_h; ++kh)
            {
                int32_t kw;
                for (kw = 0; kw < k_w; ++kw)
                {
                    off[t++] = c * plane + kh * dh + kw * dw;
                }
            }
        }
    }
    for (m = 0; m < p->out_c; ++m)
    {
        const uint8_t *wb = (const uint8_t *)w + m * row;
        const int8_t *xg = x + (m / mg) * cg * plane;
        const int32_t mm = mult[m];
        const int32_t ms = shift[m];
        int32_t wsum = 0;
        int32_t t;
        int32_t oh;
        /* value 2j in the low nibble of byte j, 2j + 1 in the high one (two's complement) */
        for (t = 0; t < n; ++t)
        {
            const int32_t b = wb[t >> 1];
            const int32_t v = ((t & 1) != 0 ? (b >> 4) & 15 : b & 15);
            wrow[t] = (int16_t)((v ^ 8) - 8);
            wsum += wrow[t];
        }
        for (oh = 0; oh < out_h; ++oh)
        {
            int32_t kh0;
            int32_t kh1;
            int32_t ow;
            const int32_t ih0 = oh * p->stride_h - p->pad_h;
            int8_t *yr = y + (m * out_h + oh) * out_w;
            rnn_conv_taps(oh, p->stride_h, p->pad_h, p->dil_h, k_h, p->in_h, &kh0, &kh1);
            for (ow = 0; ow < out_w; ++ow)
            {
                const int32_t iw0 = ow * p->stride_w - p->pad_w;
                int32_t acc;
                int32_t r;
                if (kh0 == 0 && kh1 == k_h && iw0 >= 0 && iw0 + span < in_w)
                {
                    /* the whole window inside the input: one pass over its taps */
                    const int8_t *xo = xg + ih0 * in_w + iw0;
                    int32_t u = 0;
                    acc = bias[m] - x_zero_point * wsum;
                    for (; u + 2 <= n; u += 2)
                    {
                        acc += wrow[u] * xo[off[u]] + wrow[u + 1] * xo[off[u + 1]];
                    }
                    if (u < n)
                    {
                        acc += wrow[u] * xo[off[u]];
                    }
                }
                else
                {
                    int32_t kw0;
                    int32_t kw1;
                    int32_t c;
                    rnn_conv_taps(ow, p->stride_w, p->pad_w, dw, k_w, in_w, &kw0, &kw1);
                    acc = bias[m];
                    for (c = 0; c < cg; ++c)
                    {
                        const int8_t *xc = xg + c * plane;
                        const int16_t *wc = wrow + c * kk;
                        int32_t kh;
                        for (kh = kh0; kh < kh1; ++kh)
                        {
                            /* (an index, not a pointer: the window may start before the
                             * row) */
                            const int32_t xr = (ih0 + kh * p->dil_h) * in_w + iw0;
                            const int16_t *wr = wc + kh * k_w;
                            int32_t kw;
                            for (kw = kw0; kw < kw1; ++kw)
                            {
                                acc += (int32_t)wr[kw] * ((int32_t)xc[xr + kw * dw] -
                                                          x_zero_point);
                            }
                        }
                    }
                }
                /* bounded first (|zero point| <= 128: the same int8 result, no overflow
                 * when the requantization saturates) */
                r = rnn_requantize(acc, mm, ms);
                yr[ow] = (int8_t)rnn_sat8((r > 255 ? 255 : (r < -256 ? -256 : r)) +
                                          y_zero_point);
            }
        }
    }
}
