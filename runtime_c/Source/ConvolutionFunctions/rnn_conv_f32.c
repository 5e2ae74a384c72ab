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

#if defined(__ARM_NEON) && defined(__aarch64__)
#include <arm_neon.h>
#include <math.h>
#define RNN_CONV_F32_NEON 1
#endif

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

#if defined(RNN_CONV_F32_NEON)
/* ---- AArch64 NEON: four output positions (lanes) x up to eight channels per pass ---- */

#if defined(__GNUC__)
#define RNN_CONV_F32_INLINE static inline __attribute__((always_inline))
#else
#define RNN_CONV_F32_INLINE static inline
#endif

/* How a block loads one tap's input values at its four positions (lane i at p[i * sw]). */
#define RNN_CONV_F32_LD1 1    /* stride 1: one LD1 */
#define RNN_CONV_F32_LD2 2    /* stride 2, dilation 1: one LD2 serves two taps */
#define RNN_CONV_F32_GATHER 0 /* any other: four lane loads */

RNN_CONV_F32_INLINE float32x4_t rnn_conv_f32_gather(const float *a, int32_t sw)
{
    float32x4_t v = vld1q_dup_f32(a);
    v = vld1q_lane_f32(a + sw, v, 1);
    v = vld1q_lane_f32(a + 2 * sw, v, 2);
    return vld1q_lane_f32(a + 3 * sw, v, 3);
}

/* Outputs (m .. m + NC - 1, oh, ow .. ow + 3), every window inside the input along w (rows
 * kh0 .. kh1 - 1 inside along h): each lane sums as rnn_conv_f32_one does (bias, then channel
 * by channel, row by row, tap by tap, one FMLA each), the taps of a kernel row four (LD1 of
 * four weights, FMLA by lane), two and one at a time. xb: input of tap (c 0, kh 0, kw 0) at
 * position ow (may lie outside; only rows kh0 .. kh1 - 1 are read). */
RNN_CONV_F32_INLINE void rnn_conv_f32_block(const rnn_window_params *p, int32_t nc, int32_t mode,
                                            const float *xb, const float *wm,
                                            const float *bias, int32_t kh0, int32_t kh1,
                                            float *yo)
{
    const int32_t plane = p->in_h * p->in_w;
    const int32_t row = p->dil_h * p->in_w;
    const int32_t k_w = p->k_w;
    const int32_t dw = p->dil_w;
    const int32_t sw = p->stride_w;
    const int32_t kk = p->k_h * k_w;
    const int32_t n = (p->in_c / p->groups) * kk;
    const int32_t cg = p->in_c / p->groups;
    const int32_t ys = p->out_h * p->out_w;
    float32x4_t acc[8];
    int32_t j;
    int32_t c;
    for (j = 0; j < nc; ++j)
    {
        acc[j] = vdupq_n_f32(bias != NULL ? bias[j] : 0.0f);
    }
    for (c = 0; c < cg; ++c)
    {
        int32_t kh;
        for (kh = kh0; kh < kh1; ++kh)
        {
            const float *xr = xb + c * plane + kh * row;
            const float *wr = wm + c * kk + kh * k_w;
            int32_t kw = 0;
            for (; kw + 4 <= k_w; kw += 4)
            {
                float32x4_t x0, x1, x2, x3;
                if (mode == RNN_CONV_F32_LD1)
                {
                    x0 = vld1q_f32(xr + kw * dw);
                    x1 = vld1q_f32(xr + (kw + 1) * dw);
                    x2 = vld1q_f32(xr + (kw + 2) * dw);
                    x3 = vld1q_f32(xr + (kw + 3) * dw);
                }
                else if (mode == RNN_CONV_F32_LD2)
                {
                    const float32x4x2_t a = vld2q_f32(xr + kw);
                    const float32x4x2_t b = vld2q_f32(xr + kw + 2);
                    x0 = a.val[0];
                    x1 = a.val[1];
                    x2 = b.val[0];
                    x3 = b.val[1];
                }
                else
                {
                    x0 = rnn_conv_f32_gather(xr + kw * dw, sw);
                    x1 = rnn_conv_f32_gather(xr + (kw + 1) * dw, sw);
                    x2 = rnn_conv_f32_gather(xr + (kw + 2) * dw, sw);
                    x3 = rnn_conv_f32_gather(xr + (kw + 3) * dw, sw);
                }
                for (j = 0; j < nc; ++j)
                {
                    const float32x4_t wv = vld1q_f32(wr + j * n + kw);
                    acc[j] = vfmaq_laneq_f32(acc[j], x0, wv, 0);
                    acc[j] = vfmaq_laneq_f32(acc[j], x1, wv, 1);
                    acc[j] = vfmaq_laneq_f32(acc[j], x2, wv, 2);
                    acc[j] = vfmaq_laneq_f32(acc[j], x3, wv, 3);
                }
            }
            if (kw + 2 <= k_w)
            {
                float32x4_t x0, x1;
                if (mode == RNN_CONV_F32_LD1)
                {
                    x0 = vld1q_f32(xr + kw * dw);
                    x1 = vld1q_f32(xr + (kw + 1) * dw);
                }
                else if (mode == RNN_CONV_F32_LD2)
                {
                    const float32x4x2_t a = vld2q_f32(xr + kw);
                    x0 = a.val[0];
                    x1 = a.val[1];
                }
                else
                {
                    x0 = rnn_conv_f32_gather(xr + kw * dw, sw);
                    x1 = rnn_conv_f32_gather(xr + (kw + 1) * dw, sw);
                }
                for (j = 0; j < nc; ++j)
                {
                    const float32x2_t wv = vld1_f32(wr + j * n + kw);
                    acc[j] = vfmaq_lane_f32(acc[j], x0, wv, 0);
                    acc[j] = vfmaq_lane_f32(acc[j], x1, wv, 1);
                }
                kw += 2;
            }
            if (kw < k_w)
            {
                float32x4_t x0;
                if (mode == RNN_CONV_F32_LD1)
                {
                    x0 = vld1q_f32(xr + kw * dw);
                }
                else if (mode == RNN_CONV_F32_LD2)
                {
                    x0 = vld2q_f32(xr + kw).val[0];
                }
                else
                {
                    x0 = rnn_conv_f32_gather(xr + kw * dw, sw);
                }
                for (j = 0; j < nc; ++j)
                {
                    acc[j] = vfmaq_n_f32(acc[j], x0, wr[j * n + kw]);
                }
            }
        }
    }
    for (j = 0; j < nc; ++j)
    {
        vst1q_f32(yo + j * ys, acc[j]);
    }
}

/* The block for nc channels (8, 4 or 1) and a load mode, each its own specialization. */
static void rnn_conv_f32_block8(const rnn_window_params *p, int32_t mode, const float *xb,
                                const float *wm, const float *bias, int32_t kh0, int32_t kh1,
                                float *yo)
{
    if (mode == RNN_CONV_F32_LD1)
    {
        rnn_conv_f32_block(p, 8, RNN_CONV_F32_LD1, xb, wm, bias, kh0, kh1, yo);
    }
    else if (mode == RNN_CONV_F32_LD2)
    {
        rnn_conv_f32_block(p, 8, RNN_CONV_F32_LD2, xb, wm, bias, kh0, kh1, yo);
    }
    else
    {
        rnn_conv_f32_block(p, 8, RNN_CONV_F32_GATHER, xb, wm, bias, kh0, kh1, yo);
    }
}

static void rnn_conv_f32_block4(const rnn_window_params *p, int32_t mode, const float *xb,
                                const float *wm, const float *bias, int32_t kh0, int32_t kh1,
                                float *yo)
{
    if (mode == RNN_CONV_F32_LD1)
    {
        rnn_conv_f32_block(p, 4, RNN_CONV_F32_LD1, xb, wm, bias, kh0, kh1, yo);
    }
    else if (mode == RNN_CONV_F32_LD2)
    {
        rnn_conv_f32_block(p, 4, RNN_CONV_F32_LD2, xb, wm, bias, kh0, kh1, yo);
    }
    else
    {
        rnn_conv_f32_block(p, 4, RNN_CONV_F32_GATHER, xb, wm, bias, kh0, kh1, yo);
    }
}

static void rnn_conv_f32_block1(const rnn_window_params *p, int32_t mode, const float *xb,
                                const float *wm, const float *bias, int32_t kh0, int32_t kh1,
                                float *yo)
{
    if (mode == RNN_CONV_F32_LD1)
    {
        rnn_conv_f32_block(p, 1, RNN_CONV_F32_LD1, xb, wm, bias, kh0, kh1, yo);
    }
    else if (mode == RNN_CONV_F32_LD2)
    {
        rnn_conv_f32_block(p, 1, RNN_CONV_F32_LD2, xb, wm, bias, kh0, kh1, yo);
    }
    else
    {
        rnn_conv_f32_block(p, 1, RNN_CONV_F32_GATHER, xb, wm, bias, kh0, kh1, yo);
    }
}

/* One output (channel of weights wm, position (oh, ow)) as the plain loop sums it, each
 * multiply-add fused (fmaf), as the blocks' lanes. */
static float rnn_conv_f32_one(const rnn_window_params *p, const float *xg, const float *wm,
                              float b0, int32_t oh, int32_t ow, int32_t kh0, int32_t kh1)
{
    const int32_t kk = p->k_h * p->k_w;
    const int32_t ih0 = oh * p->stride_h - p->pad_h;
    const int32_t iw0 = ow * p->stride_w - p->pad_w;
    const int32_t cg = p->in_c / p->groups;
    int32_t kw0;
    int32_t kw1;
    int32_t c;
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
                acc = fmaf(wr[kw], xr[kw * p->dil_w], acc);
            }
        }
    }
    return acc;
}

/* Refer to header file for details. NEON: output channels in blocks of 8 (then 4, then 1) of
 * one group; each output row in blocks of four positions whose windows lie inside the input
 * along w (the last block of a row may overlap the one before it: the same values again),
 * the other positions one at a time. Every output is the plain loop's sum in the plain
 * loop's order with each multiply-add fused (one rounding per tap instead of two). */
void rnn_conv_f32(const rnn_window_params *p, const float *x, const float *w, const float *bias,
                  float *y)
{
    const int32_t cg = p->in_c / p->groups;
    const int32_t mg = p->out_c / p->groups;
    const int32_t plane = p->in_h * p->in_w;
    const int32_t n = cg * p->k_h * p->k_w;
    const int32_t sw = p->stride_w;
    const int32_t dw = p->dil_w;
    const int32_t span = (p->k_w - 1) * dw; /* of a window along w */
    const int32_t total = p->in_c * plane;
    int32_t g;
    for (g = 0; g < p->groups; ++g)
    {
        const float *xg = x + g * cg * plane;
        int32_t m = g * mg;
        while (m < (g + 1) * mg)
        {
            const int32_t left = (g + 1) * mg - m;
            const int32_t nc = left >= 8 ? 8 : (left >= 4 ? 4 : 1);
            const float *wm = w + m * n;
            const float *bm = bias != NULL ? bias + m : NULL;
            int32_t oh;
            for (oh = 0; oh < p->out_h; ++oh)
            {
                const int32_t ih0 = oh * p->stride_h - p->pad_h;
                float *yr = y + (m * p->out_h + oh) * p->out_w;
                int32_t kh0;
                int32_t kh1;
                int32_t ow = 0;
                rnn_conv_taps(oh, p->stride_h, p->pad_h, p->dil_h, p->k_h, p->in_h, &kh0, &kh1);
                while (ow < p->out_w)
                {
                    int32_t at = ow + 4 <= p->out_w ? ow : p->out_w - 4;
                    const int32_t iw0 = at * sw - p->pad_w;
                    if (at >= 0 && iw0 >= 0 && iw0 + 3 * sw + span < p->in_w && kh1 > kh0)
                    {
                        const float *xb = xg + ih0 * p->in_w + iw0;
                        /* LD2 reads 8 values from each tap: inside the input */
                        const int32_t last = (int32_t)(xg - x) + (cg - 1) * plane +
                                             (ih0 + (kh1 - 1) * p->dil_h) * p->in_w + iw0 +
                                             span + 7;
                        const int32_t mode =
                            sw == 1 ? RNN_CONV_F32_LD1
                                    : (sw == 2 && dw == 1 && last < total ? RNN_CONV_F32_LD2
                                                                           : RNN_CONV_F32_GATHER);
                        if (nc == 8)
                        {
                            rnn_conv_f32_block8(p, mode, xb, wm, bm, kh0, kh1, yr + at);
                        }
                        else if (nc == 4)
                        {
                            rnn_conv_f32_block4(p, mode, xb, wm, bm, kh0, kh1, yr + at);
                        }
                        else
                        {
                            rnn_conv_f32_block1(p, mode, xb, wm, bm, kh0, kh1, yr + at);
                        }
                        ow = at + 4;
                    }
                    else
                    {
                        int32_t j;
                        for (j = 0; j < nc; ++j)
                        {
                            yr[j * p->out_h * p->out_w + ow] =
                                rnn_conv_f32_one(p, xg, wm + j * n, bm != NULL ? bm[j] : 0.0f,
                                                 oh, ow, kh0, kh1);
                        }
                        ++ow;
                    }
                }
            }
            m += nc;
        }
    }
}
#else
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
#endif
