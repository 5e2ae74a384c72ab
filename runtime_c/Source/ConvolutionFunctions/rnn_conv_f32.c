/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_conv_f32.c
 * Description: Direct 1-D / 2-D convolution with strides, zero padding, dilation and groups
 *              (ONNX Conv, batch 1). No im2col: the kernel needs no scratch memory.
 *
 * For each output position the range of kernel taps that fall inside the input is computed
 * once (so the inner loop has no bounds tests); each output sums its bias first, then input
 * channel by channel, kernel row by row, tap by tap (the taps outside the input skipped).
 *
 * - AArch64 NEON (cortex-a73, __ARM_NEON && __aarch64__): the same sums in the same order,
 *   each multiply-add fused (FMLA; fmaf at the edges): one rounding per tap instead of two,
 *   as rnn_mat_vec_f32 on this target (RNN_MAT_VEC_FUSED). Four consecutive positions of an
 *   output row in the lanes of a vector (their input values: one LD1 at stride 1, one LD2 at
 *   stride 2, else four lane loads) times 8, 4 or 1 output channels per pass (one
 *   accumulator each), four taps per step from one LD1 of four weights (FMLA by lane: 8
 *   channels x 4 taps = 32 FMLA for 4 input and 8 weight loads). Windows of at most
 *   RNN_CONV_F32_TAPS (1024) taps whose kernel rows all lie inside the input along h take
 *   their taps four at a time across kernel rows (the input offsets of the taps in a table
 *   built once per call, 4 KB of stack; a channel's weights are one run); other rows (cut by
 *   the padding along h) and larger windows go kernel row by kernel row, the 2 or 3 taps
 *   after a row's whole fours from one LD1 of four weights where the weights go on (else
 *   as two and one). Blocks cover the positions whose windows lie inside the input along w
 *   (the last block of a row may overlap the one before: the same values again); the others
 *   (the edges) one at a time from one list of the taps inside (4 KB of stack), the block's
 *   4 or 8 channels in the lanes (their weights transposed once per block of channels, 4 KB
 *   of stack). Measured (benchmarks/conv.py, cortex-a73): the CRNN's 3x3 conv 14.63 -> 1.07
 *   instructions per MAC, DeepConvLSTM's 11.29 -> 0.49.
 * - plain C99 elsewhere.
 */

#include <stddef.h>

#include "rnn_nnfunctions.h"
#include "rnn_nn_support.h"

#if defined(__ARM_NEON) && defined(__aarch64__)
#include <arm_neon.h>
#include <math.h>
#define RNN_CONV_F32_NEON 1
#endif

#if defined(RNN_CONV_F32_NEON)
/* ---- AArch64 NEON: four output positions (lanes) x 8, 4 or 1 channels per pass ---- */

#if defined(__GNUC__)
#define RNN_CONV_F32_INLINE static inline __attribute__((always_inline))
#define RNN_CONV_F32_NOINLINE __attribute__((noinline))
#else
#define RNN_CONV_F32_INLINE static inline
#define RNN_CONV_F32_NOINLINE
#endif

/* How a block loads one tap's input values at its four positions (lane i at a[i * sw]). */
#define RNN_CONV_F32_LD1 1    /* stride 1: one LD1 */
#define RNN_CONV_F32_LD2 2    /* stride 2, dilation 1: one LD2 serves two taps */
#define RNN_CONV_F32_GATHER 0 /* any other: four lane loads */

RNN_CONV_F32_INLINE float32x4_t rnn_conv_f32_x(int32_t mode, const float *a, int32_t sw)
{
    float32x4_t v;
    if (mode == RNN_CONV_F32_LD1)
    {
        return vld1q_f32(a);
    }
    if (mode == RNN_CONV_F32_LD2)
    {
        return vld2q_f32(a).val[0];
    }
    v = vld1q_dup_f32(a);
    v = vld1q_lane_f32(a + sw, v, 1);
    v = vld1q_lane_f32(a + 2 * sw, v, 2);
    return vld1q_lane_f32(a + 3 * sw, v, 3);
}

/* the taps at a and a + dw (LD2: dw is 1, one load for both) */
RNN_CONV_F32_INLINE void rnn_conv_f32_x2(int32_t mode, const float *a, int32_t dw, int32_t sw,
                                         float32x4_t *x0, float32x4_t *x1)
{
    if (mode == RNN_CONV_F32_LD2)
    {
        const float32x4x2_t v = vld2q_f32(a);
        *x0 = v.val[0];
        *x1 = v.val[1];
        return;
    }
    *x0 = rnn_conv_f32_x(mode, a, sw);
    *x1 = rnn_conv_f32_x(mode, a + dw, sw);
}

/* One block's per-channel steps (channel j: accumulator a<j>, weights w<j>; wo: the tap's
 * offset in a channel's weights). */
#define RNN_CONV_F32_INIT(j)                                                                   \
    float32x4_t a##j = vdupq_n_f32(bias != NULL ? bias[j] : 0.0f);                             \
    const float *const w##j = wm + (j) * n;
#define RNN_CONV_F32_MAC4(j)                                                                   \
    {                                                                                          \
        const float32x4_t v = vld1q_f32(w##j + wo);                                            \
        a##j = vfmaq_laneq_f32(a##j, x0, v, 0);                                                \
        a##j = vfmaq_laneq_f32(a##j, x1, v, 1);                                                \
        a##j = vfmaq_laneq_f32(a##j, x2, v, 2);                                                \
        a##j = vfmaq_laneq_f32(a##j, x3, v, 3);                                                \
    }
#define RNN_CONV_F32_MAC2(j)                                                                   \
    {                                                                                          \
        const float32x2_t v = vld1_f32(w##j + wo);                                             \
        a##j = vfmaq_lane_f32(a##j, x0, v, 0);                                                 \
        a##j = vfmaq_lane_f32(a##j, x1, v, 1);                                                 \
    }
#define RNN_CONV_F32_MAC1(j) a##j = vfmaq_n_f32(a##j, x0, w##j[wo]);
/* The last 2 or 3 taps of a kernel row from one LD1 of four weights: from the first of them
 * on (F: the caller has checked that the weights go on for four), or (B, the block's last
 * channel when they may not) ending with the last of them, rotated by EXT. */
#define RNN_CONV_F32_TAIL3F(j)                                                                 \
    {                                                                                          \
        const float32x4_t v = vld1q_f32(w##j + wo);                                            \
        a##j = vfmaq_laneq_f32(a##j, x0, v, 0);                                                \
        a##j = vfmaq_laneq_f32(a##j, x1, v, 1);                                                \
        a##j = vfmaq_laneq_f32(a##j, x2, v, 2);                                                \
    }
#define RNN_CONV_F32_TAIL3B(j)                                                                 \
    {                                                                                          \
        float32x4_t v = vld1q_f32(w##j + wo - 1);                                              \
        v = vextq_f32(v, v, 1);                                                                \
        a##j = vfmaq_laneq_f32(a##j, x0, v, 0);                                                \
        a##j = vfmaq_laneq_f32(a##j, x1, v, 1);                                                \
        a##j = vfmaq_laneq_f32(a##j, x2, v, 2);                                                \
    }
#define RNN_CONV_F32_TAIL2F(j)                                                                 \
    {                                                                                          \
        const float32x4_t v = vld1q_f32(w##j + wo);                                            \
        a##j = vfmaq_laneq_f32(a##j, x0, v, 0);                                                \
        a##j = vfmaq_laneq_f32(a##j, x1, v, 1);                                                \
    }
#define RNN_CONV_F32_TAIL2B(j)                                                                 \
    {                                                                                          \
        float32x4_t v = vld1q_f32(w##j + wo - 2);                                              \
        v = vextq_f32(v, v, 2);                                                                \
        a##j = vfmaq_laneq_f32(a##j, x0, v, 0);                                                \
        a##j = vfmaq_laneq_f32(a##j, x1, v, 1);                                                \
    }
#define RNN_CONV_F32_STORE(j) vst1q_f32(yq + (j) * ys, a##j);
#define RNN_CONV_F32_EACH8(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)
#define RNN_CONV_F32_EACH4(X) X(0) X(1) X(2) X(3)
#define RNN_CONV_F32_EACH1(X) X(0)
/* all channels of a block but the last */
#define RNN_CONV_F32_HEAD8(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6)
#define RNN_CONV_F32_HEAD4(X) X(0) X(1) X(2)
#define RNN_CONV_F32_HEAD1(X)

/* NAME: outputs (m .. m + NC - 1, oh, ow .. ow + count - 1) for NC channels (EACH), count
 * >= 4 positions whose windows lie inside the input along w (rows kh0 .. kh1 - 1 inside along
 * h), four at a time (the last four may overlap the ones before: the same values again): each
 * lane sums as rnn_conv_f32_edge does (bias, then channel by channel, row by row, tap by tap,
 * one FMLA each), the taps of a kernel row four (LD1 of four weights, FMLA by lane), then
 * the last two or three (LD1 of four weights when `wide`, see rnn_conv_f32) or two and one.
 * xb: the input of tap (c 0, kh 0, kw 0) at position ow (only rows kh0 .. kh1 - 1 are read);
 * wm: channel m's weights; yo: output (m, oh, ow). */
#define RNN_CONV_F32_BLOCK(NAME, EACH, HEAD, LAST)                                             \
    RNN_CONV_F32_INLINE void NAME(const rnn_window_params *p, int32_t mode, int32_t wide,      \
                                  const float *xb, const float *wm, const float *bias,        \
                                  int32_t kh0, int32_t kh1, float *yo, int32_t count)          \
    {                                                                                          \
        const int32_t plane = p->in_h * p->in_w;                                               \
        const int32_t row = p->dil_h * p->in_w;                                                \
        const int32_t k_w = p->k_w;                                                            \
        const int32_t dw = p->dil_w;                                                           \
        const int32_t sw = p->stride_w;                                                        \
        const int32_t kk = p->k_h * k_w;                                                       \
        const int32_t cg = p->in_c / p->groups;                                                \
        const int32_t n = cg * kk;                                                             \
        const int32_t ys = p->out_h * p->out_w;                                                \
        int32_t q;                                                                             \
        for (q = 0; q < count; q += 4)                                                         \
        {                                                                                      \
        const int32_t at = q + 4 <= count ? q : count - 4;                                     \
        const float *const xq = xb + at * sw;                                                  \
        float *const yq = yo + at;                                                             \
        int32_t c;                                                                             \
        EACH(RNN_CONV_F32_INIT)                                                                \
        for (c = 0; c < cg; ++c)                                                               \
        {                                                                                      \
            int32_t kh;                                                                        \
            for (kh = kh0; kh < kh1; ++kh)                                                     \
            {                                                                                  \
                const float *xr = xq + c * plane + kh * row;                                   \
                int32_t wo = c * kk + kh * k_w;                                                \
                int32_t kw = 0;                                                                \
                float32x4_t x0;                                                                \
                float32x4_t x1;                                                                \
                for (; kw + 4 <= k_w; kw += 4, wo += 4)                                        \
                {                                                                              \
                    float32x4_t x2;                                                            \
                    float32x4_t x3;                                                            \
                    rnn_conv_f32_x2(mode, xr + kw * dw, dw, sw, &x0, &x1);                     \
                    rnn_conv_f32_x2(mode, xr + (kw + 2) * dw, dw, sw, &x2, &x3);               \
                    EACH(RNN_CONV_F32_MAC4)                                                    \
                }                                                                              \
                if (wide && k_w - kw == 3)                                                     \
                {                                                                              \
                    float32x4_t x2;                                                            \
                    rnn_conv_f32_x2(mode, xr + kw * dw, dw, sw, &x0, &x1);                     \
                    x2 = rnn_conv_f32_x(mode, xr + (kw + 2) * dw, sw);                         \
                    HEAD(RNN_CONV_F32_TAIL3F)                                                  \
                    if (wide == 1)                                                             \
                    {                                                                          \
                        RNN_CONV_F32_TAIL3F(LAST)                                              \
                    }                                                                          \
                    else                                                                       \
                    {                                                                          \
                        RNN_CONV_F32_TAIL3B(LAST)                                              \
                    }                                                                          \
                    continue;                                                                  \
                }                                                                              \
                if (kw + 2 <= k_w)                                                             \
                {                                                                              \
                    rnn_conv_f32_x2(mode, xr + kw * dw, dw, sw, &x0, &x1);                     \
                    if (wide)                                                                  \
                    {                                                                          \
                        HEAD(RNN_CONV_F32_TAIL2F)                                              \
                        if (wide == 1)                                                         \
                        {                                                                      \
                            RNN_CONV_F32_TAIL2F(LAST)                                          \
                        }                                                                      \
                        else                                                                   \
                        {                                                                      \
                            RNN_CONV_F32_TAIL2B(LAST)                                          \
                        }                                                                      \
                    }                                                                          \
                    else                                                                       \
                    {                                                                          \
                        EACH(RNN_CONV_F32_MAC2)                                                \
                    }                                                                          \
                    kw += 2;                                                                   \
                    wo += 2;                                                                   \
                }                                                                              \
                if (kw < k_w)                                                                  \
                {                                                                              \
                    x0 = rnn_conv_f32_x(mode, xr + kw * dw, sw);                               \
                    EACH(RNN_CONV_F32_MAC1)                                                    \
                }                                                                              \
            }                                                                                  \
        }                                                                                      \
        EACH(RNN_CONV_F32_STORE)                                                               \
        }                                                                                      \
    }

RNN_CONV_F32_BLOCK(rnn_conv_f32_block8_at, RNN_CONV_F32_EACH8, RNN_CONV_F32_HEAD8, 7)
RNN_CONV_F32_BLOCK(rnn_conv_f32_block4_at, RNN_CONV_F32_EACH4, RNN_CONV_F32_HEAD4, 3)
RNN_CONV_F32_BLOCK(rnn_conv_f32_block1_at, RNN_CONV_F32_EACH1, RNN_CONV_F32_HEAD1, 0)

/* The blocks of 8, 4 and 1 channels, each specialized for the three load modes. */
#define RNN_CONV_F32_MODES(NAME, AT)                                                           \
    static RNN_CONV_F32_NOINLINE void NAME(const rnn_window_params *p, int32_t mode,          \
                                           int32_t wide, const float *xb, const float *wm,     \
                                           const float *bias, int32_t kh0, int32_t kh1,        \
                                           float *yo, int32_t count)                           \
    {                                                                                          \
        if (mode == RNN_CONV_F32_LD1)                                                          \
        {                                                                                      \
            AT(p, RNN_CONV_F32_LD1, wide, xb, wm, bias, kh0, kh1, yo, count);                         \
        }                                                                                      \
        else if (mode == RNN_CONV_F32_LD2)                                                     \
        {                                                                                      \
            AT(p, RNN_CONV_F32_LD2, wide, xb, wm, bias, kh0, kh1, yo, count);                         \
        }                                                                                      \
        else                                                                                   \
        {                                                                                      \
            AT(p, RNN_CONV_F32_GATHER, wide, xb, wm, bias, kh0, kh1, yo, count);                      \
        }                                                                                      \
    }
RNN_CONV_F32_MODES(rnn_conv_f32_block8, rnn_conv_f32_block8_at)
RNN_CONV_F32_MODES(rnn_conv_f32_block4, rnn_conv_f32_block4_at)
RNN_CONV_F32_MODES(rnn_conv_f32_block1, rnn_conv_f32_block1_at)

/* The window path, for output rows whose windows have all their kernel rows inside the input
 * along h (the usual case): a window's taps t = (c, kh, kw) in order, the input of tap t at
 * off[t] from the tap (0, 0, 0) (a table built once per call, at most RNN_CONV_F32_TAPS taps:
 * larger windows take the row path), four taps per step whatever the kernel rows' length:
 * the weights of a channel's window lie in one run. The last n % 4 taps as a row's tail (LD1
 * of four weights when `wide`, else one at a time). Otherwise as RNN_CONV_F32_BLOCK. */
#define RNN_CONV_F32_TAPS 1024
#define RNN_CONV_F32_WBLOCK(NAME, EACH, HEAD, LAST)                                            \
    RNN_CONV_F32_INLINE void NAME(const rnn_window_params *p, int32_t mode, int32_t wide,      \
                                  const float *xb, const float *wm, const float *bias,        \
                                  const int32_t *off, float *yo, int32_t count)                \
    {                                                                                          \
        const int32_t sw = p->stride_w;                                                        \
        const int32_t n = (p->in_c / p->groups) * p->k_h * p->k_w;                             \
        const int32_t ys = p->out_h * p->out_w;                                                \
        const int32_t whole = n & ~3;                                                          \
        const int32_t rem = n - whole;                                                         \
        int32_t q;                                                                             \
        for (q = 0; q < count; q += 4)                                                         \
        {                                                                                      \
            const int32_t at = q + 4 <= count ? q : count - 4;                                 \
            const float *const xq = xb + at * sw;                                              \
            float *const yq = yo + at;                                                         \
            int32_t wo;                                                                        \
            float32x4_t x0;                                                                    \
            float32x4_t x1;                                                                    \
            float32x4_t x2;                                                                    \
            EACH(RNN_CONV_F32_INIT)                                                            \
            for (wo = 0; wo < whole; wo += 4)                                                  \
            {                                                                                  \
                float32x4_t x3;                                                                \
                x0 = rnn_conv_f32_x(mode, xq + off[wo], sw);                                   \
                x1 = rnn_conv_f32_x(mode, xq + off[wo + 1], sw);                               \
                x2 = rnn_conv_f32_x(mode, xq + off[wo + 2], sw);                               \
                x3 = rnn_conv_f32_x(mode, xq + off[wo + 3], sw);                               \
                EACH(RNN_CONV_F32_MAC4)                                                        \
            }                                                                                  \
            if (rem >= 2 && wide)                                                              \
            {                                                                                  \
                x0 = rnn_conv_f32_x(mode, xq + off[wo], sw);                                   \
                x1 = rnn_conv_f32_x(mode, xq + off[wo + 1], sw);                               \
                if (rem == 3)                                                                  \
                {                                                                              \
                    x2 = rnn_conv_f32_x(mode, xq + off[wo + 2], sw);                           \
                    HEAD(RNN_CONV_F32_TAIL3F)                                                  \
                    if (wide == 1)                                                             \
                    {                                                                          \
                        RNN_CONV_F32_TAIL3F(LAST)                                              \
                    }                                                                          \
                    else                                                                       \
                    {                                                                          \
                        RNN_CONV_F32_TAIL3B(LAST)                                              \
                    }                                                                          \
                }                                                                              \
                else                                                                           \
                {                                                                              \
                    HEAD(RNN_CONV_F32_TAIL2F)                                                  \
                    if (wide == 1)                                                             \
                    {                                                                          \
                        RNN_CONV_F32_TAIL2F(LAST)                                              \
                    }                                                                          \
                    else                                                                       \
                    {                                                                          \
                        RNN_CONV_F32_TAIL2B(LAST)                                              \
                    }                                                                          \
                }                                                                              \
            }                                                                                  \
            else                                                                               \
            {                                                                                  \
                for (; wo < n; ++wo)                                                           \
                {                                                                              \
                    x0 = rnn_conv_f32_x(mode, xq + off[wo], sw);                               \
                    EACH(RNN_CONV_F32_MAC1)                                                    \
                }                                                                              \
            }                                                                                  \
            EACH(RNN_CONV_F32_STORE)                                                           \
        }                                                                                      \
    }

RNN_CONV_F32_WBLOCK(rnn_conv_f32_window8_at, RNN_CONV_F32_EACH8, RNN_CONV_F32_HEAD8, 7)
RNN_CONV_F32_WBLOCK(rnn_conv_f32_window4_at, RNN_CONV_F32_EACH4, RNN_CONV_F32_HEAD4, 3)
RNN_CONV_F32_WBLOCK(rnn_conv_f32_window1_at, RNN_CONV_F32_EACH1, RNN_CONV_F32_HEAD1, 0)

#define RNN_CONV_F32_WMODES(NAME, AT)                                                          \
    static RNN_CONV_F32_NOINLINE void NAME(const rnn_window_params *p, int32_t mode,          \
                                           int32_t wide, const float *xb, const float *wm,     \
                                           const float *bias, const int32_t *off, float *yo,   \
                                           int32_t count)                                      \
    {                                                                                          \
        if (mode == RNN_CONV_F32_LD1)                                                          \
        {                                                                                      \
            AT(p, RNN_CONV_F32_LD1, wide, xb, wm, bias, off, yo, count);                       \
        }                                                                                      \
        else if (mode == RNN_CONV_F32_LD2)                                                     \
        {                                                                                      \
            AT(p, RNN_CONV_F32_LD2, wide, xb, wm, bias, off, yo, count);                       \
        }                                                                                      \
        else                                                                                   \
        {                                                                                      \
            AT(p, RNN_CONV_F32_GATHER, wide, xb, wm, bias, off, yo, count);                    \
        }                                                                                      \
    }
RNN_CONV_F32_WMODES(rnn_conv_f32_window8, rnn_conv_f32_window8_at)
RNN_CONV_F32_WMODES(rnn_conv_f32_window4, rnn_conv_f32_window4_at)
RNN_CONV_F32_WMODES(rnn_conv_f32_window1, rnn_conv_f32_window1_at)

/* Outputs (m .. m + nc - 1, oh, ow) one at a time, as the plain loop sums them (the window's
 * taps inside the input), each multiply-add fused (fmaf) as in the blocks' lanes. */
static RNN_CONV_F32_NOINLINE void rnn_conv_f32_edge(const rnn_window_params *p, int32_t nc, const float *xg,
                              const float *wm, const float *bias, int32_t oh, int32_t ow,
                              int32_t kh0, int32_t kh1, float *yo)
{
    const int32_t k_w = p->k_w;
    const int32_t kk = p->k_h * k_w;
    const int32_t cg = p->in_c / p->groups;
    const int32_t n = cg * kk;
    const int32_t plane = p->in_h * p->in_w;
    const int32_t row = p->dil_h * p->in_w;
    const int32_t dw = p->dil_w;
    const float *xo = xg + (oh * p->stride_h - p->pad_h) * p->in_w + ow * p->stride_w - p->pad_w;
    int32_t kw0;
    int32_t kw1;
    int32_t j;
    rnn_conv_taps(ow, p->stride_w, p->pad_w, dw, k_w, p->in_w, &kw0, &kw1);
    for (j = 0; j < nc; ++j)
    {
        const float *wj = wm + j * n;
        float acc = bias != NULL ? bias[j] : 0.0f;
        int32_t c;
        for (c = 0; c < cg; ++c)
        {
            int32_t kh;
            for (kh = kh0; kh < kh1; ++kh)
            {
                const float *xr = xo + c * plane + kh * row;
                const float *wr = wj + c * kk + kh * k_w;
                int32_t kw;
                for (kw = kw0; kw < kw1; ++kw)
                {
                    acc = fmaf(wr[kw], xr[kw * dw], acc);
                }
            }
        }
        yo[j * p->out_h * p->out_w] = acc;
    }
}

/* As rnn_conv_f32_edge, for a window of at most RNN_CONV_F32_TAPS taps: the taps inside the
 * input listed once (tl: t for the weights, off[t] for the input from the window's origin xo)
 * for all nc channels; with wt (the nc = 4 or 8 channels' weights [n][nc]) the channels in
 * the lanes of one or two vectors. */
static RNN_CONV_F32_NOINLINE void rnn_conv_f32_edge_list(const rnn_window_params *p,
                                                         int32_t nc, const float *xg,
                                                         const float *wm, const float *wt,
                                                         const float *bias,
                                                         const int32_t *off, int32_t oh,
                                                         int32_t ow, int32_t kh0, int32_t kh1,
                                                         float *yo)
{
    const int32_t k_w = p->k_w;
    const int32_t cg = p->in_c / p->groups;
    const int32_t n = cg * p->k_h * k_w;
    const int32_t ys = p->out_h * p->out_w;
    const float *xo = xg + (oh * p->stride_h - p->pad_h) * p->in_w + ow * p->stride_w - p->pad_w;
    int32_t tl[RNN_CONV_F32_TAPS];
    int32_t nt = 0;
    int32_t kw0;
    int32_t kw1;
    int32_t c;
    int32_t j;
    rnn_conv_taps(ow, p->stride_w, p->pad_w, p->dil_w, k_w, p->in_w, &kw0, &kw1);
    for (c = 0; c < cg; ++c)
    {
        int32_t kh;
        for (kh = kh0; kh < kh1; ++kh)
        {
            int32_t kw;
            for (kw = kw0; kw < kw1; ++kw)
            {
                tl[nt++] = (c * p->k_h + kh) * k_w + kw;
            }
        }
    }
    if (wt != NULL)
    {
        /* the channels in the lanes: per tap one input value for all, FMLA as fmaf */
        const float32x4_t z = vdupq_n_f32(0.0f);
        float32x4_t a0 = bias != NULL ? vld1q_f32(bias) : z;
        float32x4_t a1 = bias != NULL && nc == 8 ? vld1q_f32(bias + 4) : z;
        float r[8];
        int32_t i;
        for (i = 0; i < nt; ++i)
        {
            const int32_t t = tl[i];
            const float32x4_t xv = vld1q_dup_f32(xo + off[t]);
            a0 = vfmaq_f32(a0, vld1q_f32(wt + t * nc), xv);
            if (nc == 8)
            {
                a1 = vfmaq_f32(a1, vld1q_f32(wt + t * nc + 4), xv);
            }
        }
        vst1q_f32(r, a0);
        vst1q_f32(r + 4, a1);
        for (j = 0; j < nc; ++j)
        {
            yo[j * ys] = r[j];
        }
        return;
    }
    for (j = 0; j < nc; ++j)
    {
        const float *wj = wm + j * n;
        float acc = bias != NULL ? bias[j] : 0.0f;
        int32_t i;
        for (i = 0; i < nt; ++i)
        {
            const int32_t t = tl[i];
            acc = fmaf(wj[t], xo[off[t]], acc);
        }
        yo[j * ys] = acc;
    }
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
    const int32_t tail = p->k_w & ~3;          /* a kernel row's first tap after whole fours */
    const int32_t back = 4 - (p->k_w - tail); /* (for 2 or 3 tail taps) */
    /* the positions whose windows lie inside the input along w: lo .. lo + count - 1 */
    const int32_t lo = (p->pad_w + sw - 1) / sw;
    const int32_t hi_n = p->in_w - 1 - span + p->pad_w; /* hi = hi_n / sw */
    const int32_t hi = hi_n < 0 ? -1 : (hi_n / sw < p->out_w - 1 ? hi_n / sw : p->out_w - 1);
    const int32_t count = hi - lo + 1;
    int32_t off[RNN_CONV_F32_TAPS]; /* the window path's tap offsets */
    float wt[RNN_CONV_F32_TAPS];    /* a channel block's weights for the edges, [n][nc] */
    const int32_t win = n <= RNN_CONV_F32_TAPS; /* the table is built */
    int32_t g;
    if (win)
    {
        int32_t t = 0;
        int32_t c;
        for (c = 0; c < cg; ++c)
        {
            int32_t kh;
            for (kh = 0; kh < p->k_h; ++kh)
            {
                int32_t kw;
                for (kw = 0; kw < p->k_w; ++kw)
                {
                    off[t++] = c * plane + kh * p->dil_h * p->in_w + kw * dw;
                }
            }
        }
    }
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
            /* the edges' weights, channels in the lanes (when they fit) */
            const float *wtr = NULL;
            int32_t oh;
            if (win && nc >= 4 && n * nc <= RNN_CONV_F32_TAPS)
            {
                int32_t t;
                for (t = 0; t < n; ++t)
                {
                    int32_t j;
                    for (j = 0; j < nc; ++j)
                    {
                        wt[t * nc + j] = wm[j * n + t];
                    }
                }
                wtr = wt;
            }
            for (oh = 0; oh < p->out_h; ++oh)
            {
                const int32_t ih0 = oh * p->stride_h - p->pad_h;
                float *yr = y + (m * p->out_h + oh) * p->out_w;
                int32_t kh0;
                int32_t kh1;
                int32_t ow;
                rnn_conv_taps(oh, p->stride_h, p->pad_h, p->dil_h, p->k_h, p->in_h, &kh0, &kh1);
                if (count >= 4)
                {
                    const float *xb = xg + ih0 * p->in_w + lo * sw - p->pad_w;
                    /* LD2 reads 8 values from a tap on: inside the input (the row's last
                     * block, last channel, last kernel row) */
                    const int32_t last = (int32_t)(xg - x) + (cg - 1) * plane +
                                         (ih0 + (kh1 - 1) * p->dil_h) * p->in_w +
                                         (lo + count - 4) * sw - p->pad_w + span + 7;
                    const int32_t mode =
                        sw == 1 ? RNN_CONV_F32_LD1
                                : (sw == 2 && dw == 1 && last < total ? RNN_CONV_F32_LD2
                                                                       : RNN_CONV_F32_GATHER);
                    /* the 2 or 3 tail taps of a kernel row (after whole fours) as four
                     * weights: from the first on while the weights go on for four (1), else
                     * for the block's last channel ending with the last (2), or neither (0:
                     * the first channel's first row) */
                    const int32_t wide =
                        (m + nc - 1) * n + (cg - 1) * p->k_h * p->k_w + (kh1 - 1) * p->k_w +
                                    tail + 4 <= p->out_c * n
                            ? 1
                            : ((m + nc - 1) * n + kh0 * p->k_w + tail - back >= 0 ? 2 : 0);
                    if (win && kh0 == 0 && kh1 == p->k_h)
                    {
                        /* the window's last 2 or 3 taps as four weights, as a row's */
                        const int32_t wlast = n - (n & ~3);
                        const int32_t wwide =
                            (m + nc) * n - wlast + 4 <= p->out_c * n
                                ? 1
                                : ((m + nc) * n - 4 >= 0 ? 2 : 0);
                        if (nc == 8)
                        {
                            rnn_conv_f32_window8(p, mode, wwide, xb, wm, bm, off, yr + lo, count);
                        }
                        else if (nc == 4)
                        {
                            rnn_conv_f32_window4(p, mode, wwide, xb, wm, bm, off, yr + lo, count);
                        }
                        else
                        {
                            rnn_conv_f32_window1(p, mode, wwide, xb, wm, bm, off, yr + lo, count);
                        }
                    }
                    else if (nc == 8)
                    {
                        rnn_conv_f32_block8(p, mode, wide, xb, wm, bm, kh0, kh1, yr + lo, count);
                    }
                    else if (nc == 4)
                    {
                        rnn_conv_f32_block4(p, mode, wide, xb, wm, bm, kh0, kh1, yr + lo, count);
                    }
                    else
                    {
                        rnn_conv_f32_block1(p, mode, wide, xb, wm, bm, kh0, kh1, yr + lo, count);
                    }
                }
                for (ow = 0; ow < p->out_w; ++ow)
                {
                    if (count >= 4 && ow == lo)
                    {
                        ow = lo + count - 1; /* done by the blocks */
                    }
                    else if (win)
                    {
                        rnn_conv_f32_edge_list(p, nc, xg, wm, wtr, bm, off, oh, ow, kh0, kh1,
                                               yr + ow);
                    }
                    else
                    {
                        rnn_conv_f32_edge(p, nc, xg, wm, bm, oh, ow, kh0, kh1, yr + ow);
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
