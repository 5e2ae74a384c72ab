/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_conv_s8.c
 * Description: int8 1-D / 2-D convolution (ONNX Conv, batch 1) with per-output-channel
 *              weight scales, as CMSIS-NN's convolve_s8: int32 accumulation of
 *              w * (x - x_zero_point) over the taps inside the input (padding is the real
 *              value 0), the int32 bias, Q31 requantization per output channel, the output
 *              zero point, saturation. Bit for bit quant.conv_s8.
 *
 * Integer sums are exact in any order, so every path gives the plain sum's results bit for
 * bit. The caller's scratch (the model's int16 work area), n = in_c / groups x k_h x k_w the
 * window's values (rnn_conv_s8 in rnn_nnfunctions.h; plan_memory.conv_s8_scratch): n <= 16:
 * 28 x out_c + 32 x ceil2(n) + 2 int16 values; n > 16: 2 x ceil16(n) + 2 x out_c.
 * - Helium (Cortex-M55, __ARM_FEATURE_MVE): the windows are int8 columns of the input values
 *   themselves, the padding as x_zero_point, so that every window sums over all n taps and
 *   the zero point's term folds into one offset per channel, bias - x_zero_point x sum(w)
 *   (VADDVA, once per call), as CMSIS-NN's arm_nn_mat_mult_nt_t_s8. Four output positions
 *   per pass; each channel's four sums are requantized as one vector.
 *   Small windows, an even number of output columns, two neighbouring positions' windows
 *   within 16 lanes (rnn_conv_s8_pairs_mve: the CRNN's 3x3 at stride 2): pairs of windows,
 *   one gather each, two weight vectors per channel; the pairs gathered first into a ring in
 *   the scratch an output row at a time (in assembly: 4 instructions a pair), then four pairs
 *   (8 positions) per pass in one assembly call of 27 instructions per channel and pass (the
 *   sums start from the offset, VMLADAVA; into vectors by STM / VLDRW).
 *   Other small windows (rnn_conv_s8_small_mve: at most 16 values spanning at most 256 input
 *   bytes): a 32-byte record per channel (weights zero-padded
 *   to 16, offset, mult, shift); four positions of one output row per pass, each window one
 *   VLDRB gather into a register (a window not inside the input: a predicated gather, the
 *   zero point elsewhere), the four kept for all channels; per channel one weight load, four
 *   VMLADAV.S8, the sums into a vector, VQDMULH, VRSHL, the zero point, two saturating
 *   narrowings and a byte store: 20 instructions in a DLS/LE loop (inline assembly).
 *   Longer windows: the four columns copied (one predicated load/store per kernel row),
 *   VMLADAVA.S8 over 16 lanes in DLSTP/LETP loops (inline assembly: VMLADAVA needs an even
 *   accumulator register, which GCC 12's intrinsics place with many moves and spills).
 * - DSP extension (Cortex-M4/M7, __ARM_FEATURE_DSP): small windows (rnn_conv_s8_small_dsp,
 *   n <= 16): the windows of 32 output positions at a time copied once as int16 pairs of the
 *   input values (the padding as x_zero_point, the zero point's term in the offset; kernel
 *   rows of three as SXTB16 of one word: taps 0, 2, and rotated, tap 1), then channel after
 *   channel with its weights as int16 pairs in registers: ceil(n / 2) SMLAD per output and
 *   the requantization as SMMLA (high word plus the rounding and zero-point constant), ASR,
 *   SSAT (the CRNN's 9-value windows: 13 instructions per output in inline assembly).
 *   Longer windows: two output positions per pass copied into int16 columns
 *   (x - x_zero_point, 0 for the padding) with each group of four taps reordered
 *   (0, 2, 1, 3), so one word of four weights split by SXTB16 (taps 0, 2) and SXTB16 of it
 *   rotated by 8 (taps 1, 3) meets two int16 pairs of the column with two SMLADs (4
 *   multiply-adds); each pair of output channels with both columns (each loaded value used
 *   twice); the last window % 4 taps as straight code; requantization with SSAT.
 * - NEON (AArch64: cortex-a73, __ARM_NEON && __aarch64__; its own functions and #if blocks,
 *   RNN_CONV_S8_NEON): windows of at most 16 values (out_w >= 8) take the lanes path, no
 *   columns: eight positions of an output row in the lanes, four channels a pass, per tap
 *   the eight input values minus the zero point (LD1 / LD2 / lane loads, SSUBL to int16)
 *   multiply-accumulated by lane of each channel's int16 weights (SMLAL + SMLAL2 by
 *   element), the sums from the bias; positions whose windows reach into the padding from a
 *   copy of their input with the padding as x_zero_point (784 bytes of stack). Larger
 *   windows take the column path (the Helium path's arithmetic): four positions as int8
 *   columns of ceil16(n) bytes, the zero point's term in a per-channel offset, four channels
 *   x four columns per pass of 16 values (SMULL + SMLAL2 + SADALP: two products fit int16 as
 *   the weights lie in [-127, 127], rnngen's symmetric quantization), the last pass's weights
 *   of the channels that would read past the weights from a copy made once per call.
 *   Requantization as vectors (SMULL/SMULL2, UZP2, SRSHL, SQXTN), rnn_conv_s8_out exactly.
 * - plain C99 elsewhere (the DSP path's long-window blocking).
 */

#include "rnn_nn_support.h"
#include "rnn_nnfunctions.h"

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
#include <arm_mve.h>
#include <stddef.h>
#include <string.h>
#define RNN_CONV_S8_MVE 1
#elif defined(__ARM_FEATURE_DSP) && defined(__ARM_FEATURE_SIMD32) && !defined(__aarch64__)
#include <arm_acle.h>
#include <string.h>
#define RNN_CONV_S8_DSP 1
#endif

/* NEON (AArch64, cortex-a73 / a53): its own block of helpers and rnn_conv_s8 below */
#if !defined(RNN_CONV_S8_MVE) && defined(__ARM_NEON) && defined(__aarch64__)
#include <arm_neon.h>
#include <stddef.h>
#include <string.h>
#define RNN_CONV_S8_NEON 1
#if defined(__GNUC__)
#define RNN_CONV_S8_NOINLINE __attribute__((noinline))
#define RNN_CONV_S8_INLINE inline __attribute__((always_inline))
#else
#define RNN_CONV_S8_NOINLINE
#define RNN_CONV_S8_INLINE inline
#endif
#endif

#if defined(RNN_CONV_S8_DSP) && defined(__ARM_FEATURE_SAT) && defined(__GNUC__) && \
    !defined(__clang__)
/* SSAT (as rnn_mat_vec_s8_s16.c: GCC 12 types __ssat's result unsigned) */
#define RNN_CONV_S8_SAT8(v) ((int32_t)__builtin_arm_ssat((v), 8))
#elif defined(RNN_CONV_S8_DSP) && defined(__ARM_FEATURE_SAT)
#define RNN_CONV_S8_SAT8(v) __ssat((v), 8)
#else
#define RNN_CONV_S8_SAT8(v) rnn_sat8(v)
#endif

/* The int8 output of one accumulator (as quant.conv_s8). When shift <= -2 (the usual case:
 * a right shift by more than 32 bits) round(acc * mult * 2^(shift - 31)) half up is
 * (hi + 2^(s - 1)) >> s with hi the high word of the 64-bit product (floor(acc * mult / 2^32))
 * and s = -1 - shift in [1, 31]: floor((floor(p / 2^32) + 2^(s-1)) / 2^s) =
 * floor((p + 2^(31+s)) / 2^(32+s)) since 2^(s-1) is an integer. |hi| < 2^30, so neither the
 * sum nor the result (|r| < 2^29) needs saturation before the zero point; saturating
 * r + y_zp to int8 then equals the reference's sat8(sat32(r) + y_zp) (|y_zp| <= 128). */
static inline int8_t rnn_conv_s8_out(int32_t acc, int32_t mult, int32_t shift, int32_t y_zp)
{
    int32_t r;
    if (shift <= -2)
    {
        const int32_t s = -1 - shift;
        const int32_t hi = (int32_t)(((int64_t)acc * (int64_t)mult) >> 32);
        r = ((hi + ((int32_t)1 << (s - 1))) >> s) + y_zp;
    }
    else
    {
        r = rnn_requantize(acc, mult, shift);
        /* bounded first (|zero point| <= 128: the same int8 result, no overflow) */
        r = (r > 255 ? 255 : (r < -256 ? -256 : r)) + y_zp;
    }
    return (int8_t)RNN_CONV_S8_SAT8(r);
}

/* The window of output position (oh, ow): the rows [kh0, kh1) and columns [kw0, kw1) of
 * taps inside the input, and the input offset of tap (0, 0) (ih0 * in_w + iw0, which may lie
 * outside the input; only taps inside are read). */
typedef struct
{
    int32_t kh0;
    int32_t kh1;
    int32_t kw0;
    int32_t kw1;
    int32_t ih0;
    int32_t iw0;
} rnn_conv_s8_win;

static inline void rnn_conv_s8_window(const rnn_window_params *p, int32_t oh, int32_t ow,
                                      rnn_conv_s8_win *v)
{
    v->ih0 = oh * p->stride_h - p->pad_h;
    v->iw0 = ow * p->stride_w - p->pad_w;
    v->kh0 = 0;
    v->kh1 = p->k_h;
    v->kw0 = 0;
    v->kw1 = p->k_w;
    if (v->ih0 < 0 || v->ih0 + (p->k_h - 1) * p->dil_h >= p->in_h)
    {
        rnn_conv_taps(oh, p->stride_h, p->pad_h, p->dil_h, p->k_h, p->in_h, &v->kh0, &v->kh1);
    }
    if (v->iw0 < 0 || v->iw0 + (p->k_w - 1) * p->dil_w >= p->in_w)
    {
        rnn_conv_taps(ow, p->stride_w, p->pad_w, p->dil_w, p->k_w, p->in_w, &v->kw0, &v->kw1);
    }
}

#if defined(RNN_CONV_S8_MVE)
/* int8 im2col of one output position (Helium path): col[t] = x for window value
 * t = (c, kh, kw) inside the input, x_zero_point (the real value 0) for the padding, so that
 * every window sums over all its n taps and the zero point folds into -x_zero_point * sum(w).
 * A window inside the input with rows of at most 16 contiguous taps (dil_w = 1): one
 * predicated 16-byte load and store per kernel row; any other window value by value. */
static void rnn_conv_s8_column8(const rnn_window_params *p, const int8_t *xg, int32_t x_zero_point,
                                const rnn_conv_s8_win *v, int32_t cg, int8_t *col)
{
    const int32_t plane = p->in_h * p->in_w;
    const int32_t in_w = p->in_w;
    const int32_t k_h = p->k_h;
    const int32_t k_w = p->k_w;
    const int32_t row = p->dil_h * in_w;
    const int32_t dil_w = p->dil_w;
    const int32_t kh0 = v->kh0;
    const int32_t kh1 = v->kh1;
    const int32_t kw0 = v->kw0;
    const int32_t kw1 = v->kw1;
    const int8_t *xc = xg + v->ih0 * in_w + v->iw0;
    int8_t *t = col;
    int32_t c;
    if (kh0 == 0 && kh1 == k_h && kw0 == 0 && kw1 == k_w && dil_w == 1 && k_w <= 16)
    {
        const mve_pred16_t pr = vctp8q((uint32_t)k_w);
        for (c = 0; c < cg; ++c, xc += plane)
        {
            const int8_t *xr = xc;
            int32_t kh;
            for (kh = 0; kh < k_h; ++kh, xr += row, t += k_w)
            {
                vstrbq_p_s8(t, vldrbq_z_s8(xr, pr), pr);
            }
        }
        return;
    }
    for (c = 0; c < cg; ++c, xc += plane)
    {
        int32_t kh;
        for (kh = 0; kh < k_h; ++kh, t += k_w)
        {
            int32_t kw;
            if (kh < kh0 || kh >= kh1)
            {
                for (kw = 0; kw < k_w; ++kw)
                {
                    t[kw] = (int8_t)x_zero_point;
                }
                continue;
            }
            for (kw = 0; kw < kw0; ++kw)
            {
                t[kw] = (int8_t)x_zero_point;
            }
            for (; kw < kw1; ++kw)
            {
                t[kw] = xc[kh * row + kw * dil_w];
            }
            for (; kw < k_w; ++kw)
            {
                t[kw] = (int8_t)x_zero_point;
            }
        }
    }
}

/* The four columns of output positions (oh, ow) to (oh, ow + 3) at once when they lie in one
 * output row and all their windows are inside the input with rows of at most 16 contiguous
 * taps: each kernel row of the four windows by four predicated loads and stores. Returns 0
 * (nothing written) otherwise. */
static int32_t rnn_conv_s8_columns4(const rnn_window_params *p, const int8_t *xg, int32_t oh,
                                    int32_t ow, int32_t cg, int32_t n16, int8_t *col)
{
    const int32_t in_w = p->in_w;
    const int32_t k_w = p->k_w;
    const int32_t sw = p->stride_w;
    const int32_t ih0 = oh * p->stride_h - p->pad_h;
    const int32_t iw0 = ow * sw - p->pad_w;
    const int32_t row = p->dil_h * in_w;
    const int32_t plane = p->in_h * in_w;
    if (ow + 3 >= p->out_w || p->dil_w != 1 || k_w > 16 || ih0 < 0 || iw0 < 0 ||
        ih0 + (p->k_h - 1) * p->dil_h >= p->in_h || iw0 + 3 * sw + k_w > in_w)
    {
        return 0;
    }
    {
        const mve_pred16_t pr = vctp8q((uint32_t)k_w);
        const int8_t *xc = xg + ih0 * in_w + iw0;
        int8_t *t = col;
        int32_t c;
        for (c = 0; c < cg; ++c, xc += plane)
        {
            const int8_t *xr = xc;
            int32_t kh;
            for (kh = 0; kh < p->k_h; ++kh, xr += row, t += k_w)
            {
                vstrbq_p_s8(t, vldrbq_z_s8(xr, pr), pr);
                vstrbq_p_s8(t + n16, vldrbq_z_s8(xr + sw, pr), pr);
                vstrbq_p_s8(t + 2 * n16, vldrbq_z_s8(xr + 2 * sw, pr), pr);
                vstrbq_p_s8(t + 3 * n16, vldrbq_z_s8(xr + 3 * sw, pr), pr);
            }
        }
    }
    return 1;
}

/* The input offsets of a window's values (t = (c, kh, kw) -> c plane + kh dil_h in_w +
 * kw dil_w) as the byte offsets of a VLDRB gather, when the window has at most 16 values and
 * they span at most 256 bytes; returns 0 otherwise. */
static int32_t rnn_conv_s8_gather_offsets(const rnn_window_params *p, int32_t cg, int32_t n,
                                          uint8_t o[16])
{
    const int32_t plane = p->in_h * p->in_w;
    const int32_t row = p->dil_h * p->in_w;
    int32_t t = 0;
    int32_t c;
    if (n > 16 || (cg - 1) * plane + (p->k_h - 1) * row + (p->k_w - 1) * p->dil_w > 255)
    {
        return 0;
    }
    for (c = 0; c < cg; ++c)
    {
        int32_t kh;
        for (kh = 0; kh < p->k_h; ++kh)
        {
            int32_t kw;
            for (kw = 0; kw < p->k_w; ++kw)
            {
                o[t++] = (uint8_t)(c * plane + kh * row + kw * p->dil_w);
            }
        }
    }
    return 1;
}

#elif !defined(RNN_CONV_S8_NEON) /* the NEON path has its own column copy */
/* On the DSP path each whole group of four column values is stored in the order (0, 2, 1, 3)
 * (the order SXTB16 gives a weight word's taps: 0, 2 and, rotated, 1, 3). */
static inline void rnn_conv_s8_reorder(int16_t *col, int32_t n)
{
#if defined(RNN_CONV_S8_DSP)
    const int32_t whole = n & ~3;
    int32_t i;
    for (i = 0; i < whole; i += 4)
    {
        const int16_t v1 = col[i + 1];
        col[i + 1] = col[i + 2];
        col[i + 2] = v1;
    }
#else
    (void)col;
    (void)n;
#endif
}

/* int16 im2col of one output position: col[t] = x - x_zero_point for window value
 * t = (c, kh, kw) inside the input, 0 for the padding. On the DSP path each whole group of
 * four values is then stored in the order (0, 2, 1, 3). */
static void rnn_conv_s8_column(const rnn_window_params *p, const int8_t *xg, int32_t x_zero_point,
                               const rnn_conv_s8_win *v, int32_t cg, int16_t *col)
{
    const int32_t plane = p->in_h * p->in_w;
    const int32_t in_w = p->in_w;
    const int32_t k_h = p->k_h;
    const int32_t k_w = p->k_w;
    const int32_t row = p->dil_h * in_w;
    const int32_t dil_w = p->dil_w;
    const int32_t kh0 = v->kh0;
    const int32_t kh1 = v->kh1;
    const int32_t kw0 = v->kw0;
    const int32_t kw1 = v->kw1;
    const int8_t *xc = xg + v->ih0 * in_w + v->iw0;
    int16_t *t = col;
    int32_t c;
    if (kh0 == 0 && kh1 == k_h && kw0 == 0 && kw1 == k_w && dil_w == 1)
    {
        for (c = 0; c < cg; ++c, xc += plane)
        {
            const int8_t *xr = xc;
            int32_t kh;
            for (kh = 0; kh < k_h; ++kh, xr += row)
            {
                int32_t kw;
                for (kw = 0; kw < k_w; ++kw)
                {
                    *t++ = (int16_t)((int32_t)xr[kw] - x_zero_point);
                }
            }
        }
    }
    else
    {
        for (c = 0; c < cg; ++c, xc += plane)
        {
            int32_t kh;
            for (kh = 0; kh < k_h; ++kh, t += k_w)
            {
                int32_t kw;
                if (kh < kh0 || kh >= kh1)
                {
                    for (kw = 0; kw < k_w; ++kw)
                    {
                        t[kw] = 0;
                    }
                    continue;
                }
                for (kw = 0; kw < kw0; ++kw)
                {
                    t[kw] = 0;
                }
                for (; kw < kw1; ++kw)
                {
                    t[kw] = (int16_t)((int32_t)xc[kh * row + kw * dil_w] - x_zero_point);
                }
                for (; kw < k_w; ++kw)
                {
                    t[kw] = 0;
                }
            }
        }
    }
    rnn_conv_s8_reorder(col, (int32_t)(t - col));
}

/* The two columns of output positions (oh, ow) and (oh, ow + 1) at once when they lie in one
 * output row and both windows are inside the input with contiguous rows (dil_w = 1).
 * Returns 0 (nothing written) otherwise. */
static int32_t rnn_conv_s8_columns2(const rnn_window_params *p, const int8_t *xg,
                                    int32_t x_zero_point, int32_t oh, int32_t ow, int32_t cg,
                                    int32_t n, int16_t *col)
{
    const int32_t in_w = p->in_w;
    const int32_t k_w = p->k_w;
    const int32_t sw = p->stride_w;
    const int32_t ih0 = oh * p->stride_h - p->pad_h;
    const int32_t iw0 = ow * sw - p->pad_w;
    const int32_t row = p->dil_h * in_w;
    const int32_t plane = p->in_h * in_w;
    if (ow + 1 >= p->out_w || p->dil_w != 1 || ih0 < 0 || iw0 < 0 ||
        ih0 + (p->k_h - 1) * p->dil_h >= p->in_h || iw0 + sw + k_w > in_w)
    {
        return 0;
    }
    {
        const int8_t *xc = xg + ih0 * in_w + iw0;
        int16_t *t = col;
        int32_t c;
        for (c = 0; c < cg; ++c, xc += plane)
        {
            const int8_t *xr = xc;
            int32_t kh;
            for (kh = 0; kh < p->k_h; ++kh, xr += row, t += k_w)
            {
                const int8_t *x1 = xr + sw;
                int32_t kw;
                for (kw = 0; kw < k_w; ++kw)
                {
                    t[kw] = (int16_t)((int32_t)xr[kw] - x_zero_point);
                    t[n + kw] = (int16_t)((int32_t)x1[kw] - x_zero_point);
                }
            }
        }
    }
    rnn_conv_s8_reorder(col, n);
    rnn_conv_s8_reorder(col + n, n);
    return 1;
}
#endif

#if defined(RNN_CONV_S8_DSP)
/* One word (four int8) at any address (LDR allows unaligned access on Cortex-M4/M7). */
static inline int32_t rnn_conv_s8_word(const void *a)
{
    int32_t v;
    memcpy(&v, a, sizeof v);
    return v;
}

/* SXTB16 of a word rotated right by 8 bits: taps 1, 3 of four int8 (GCC emits the rotation
 * and the SXTB16 apart; an inline-assembly SXTB16 with ROR measured slower, as it hinders
 * scheduling) */
static inline int32_t rnn_conv_s8_odd(int32_t v)
{
    return (int32_t)__sxtb16((int32_t)(((uint32_t)v >> 8) | ((uint32_t)v << 24)));
}
#endif

#if defined(RNN_CONV_S8_DSP)
/* ---- Small windows (n <= 16) on the DSP path: rnn_conv_s8_small_dsp ----
 * Up to RNN_CONV_S8_CHUNK output positions at a time, each window copied once as int16
 * values x in window order (c, kh, kw) (the padding as x_zero_point, so that
 * bias - x_zero_point x sum(w) stands for the zero point's term), an odd window's last pair
 * completed by a 0; then channel after channel (outer) over the chunk's windows (inner) with
 * the channel's weights as int16 pairs held in registers: ceil(n / 2) SMLAD per output from
 * that offset, and the requantization as (SMMLA + rounding and zero point) >> s, SSAT. */
#define RNN_CONV_S8_CHUNK 32

#if defined(__GNUC__) && defined(__OPTIMIZE__)
/* the inner loops of 3x3 single-channel windows as inline assembly (it needs the registers
 * an optimizing build leaves free) */
#define RNN_CONV_S8_ASM 1
#endif
#if defined(__GNUC__)
#define RNN_CONV_S8_INLINE static inline __attribute__((always_inline))
#define RNN_CONV_S8_APART __attribute__((noinline))
#else
#define RNN_CONV_S8_INLINE static inline
#define RNN_CONV_S8_APART
#endif

/* Pairs of the word-aligned int16 windows (written as int16 values): two words at once
 * (LDRD needs word alignment only) */
#if defined(__GNUC__)
typedef uint64_t rnn_conv_s8_pair2_t __attribute__((may_alias, aligned(4)));
typedef int32_t rnn_conv_s8_pair_t __attribute__((may_alias));
#define RNN_CONV_S8_PAIR2(t, i) (((const rnn_conv_s8_pair2_t *)(const void *)(t))[i])
#else
static inline uint64_t rnn_conv_s8_pair2(const int16_t *t)
{
    uint64_t v;
    memcpy(&v, t, sizeof v);
    return v;
}
#define RNN_CONV_S8_PAIR2(t, i) rnn_conv_s8_pair2((t) + 4 * (i))
typedef int32_t rnn_conv_s8_pair_t;
#endif

/* c + floor(a * b / 2^32) (SMMLA) */
static inline int32_t rnn_conv_s8_smmla(int32_t a, int32_t b, int32_t c)
{
#if defined(__GNUC__)
    int32_t r;
    __asm__("smmla %0, %1, %2, %3" : "=r"(r) : "r"(a), "r"(b), "r"(c));
    return r;
#else
    return (int32_t)((uint32_t)c + (uint32_t)(int32_t)(((int64_t)a * (int64_t)b) >> 32));
#endif
}

/* SXTB16 with ROR #8 as one instruction (rnn_conv_s8_odd: GCC emits two) */
static inline int32_t rnn_conv_s8_odd1(int32_t v)
{
#if defined(__GNUC__)
    int32_t r;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(v));
    return r;
#else
    return rnn_conv_s8_odd(v);
#endif
}

/* The order of a window's values in its int16 pairs (the weights' the same): map[k] = the
 * window value (c, kh, kw) in slot k, or 255 (a 0 with weight 0). Rows of three taps
 * (k_w = 3, dil_w = 1; R = in_c / groups x k_h <= 5 of them): slots (2r, 2r + 1) = taps 0, 2
 * of row r (SXTB16 of the row's word), then taps 1 of rows (0, 1), (2, 3), ... (SXTB16 of the
 * word rotated, paired by PKHBT); else the window order. Returns 1 for the rows of three. */
static int32_t rnn_conv_s8_slots(const rnn_window_params *p, int32_t n, uint8_t map[16])
{
    const int32_t rows = n / 3;
    int32_t k;
    for (k = 0; k < 16; ++k)
    {
        map[k] = (uint8_t)(k < n ? k : 255);
    }
    if (p->k_w != 3 || p->dil_w != 1)
    {
        return 0;
    }
    for (k = 0; k < rows; ++k)
    {
        map[2 * k] = (uint8_t)(3 * k);
        map[2 * k + 1] = (uint8_t)(3 * k + 2);
        map[2 * rows + k] = (uint8_t)(3 * k + 1);
    }
    if (rows & 1)
    {
        map[3 * rows] = 255;
    }
    return 1;
}

/* The five words of a 3x3 window from its three rows' words v0, v1, v2 (bytes 0-2: taps
 * 0-2): SXTB16 gives taps 0, 2 of a row, SXTB16 of it rotated by 8 tap 1. */
static inline void rnn_conv_s8_put3x3(int32_t v0, int32_t v1, int32_t v2,
                                      rnn_conv_s8_pair_t *u)
{
    u[0] = __sxtb16(v0);
    u[1] = __sxtb16(v1);
    u[2] = __sxtb16(v2);
    u[3] = (int32_t)(((uint32_t)rnn_conv_s8_odd1(v0) & 0xFFFFu) |
                     ((uint32_t)rnn_conv_s8_odd1(v1) << 16));
    u[4] = rnn_conv_s8_odd1(v2);
}

/* Bytes iw0 .. iw0 + 2 of an input row (xr its start) as a word, x_zero_point's byte zb
 * outside the row */
static inline uint32_t rnn_conv_s8_row3(const uint8_t *xr, int32_t iw0, int32_t in_w,
                                        uint32_t zb)
{
    if (iw0 >= 0 && iw0 + 2 < in_w)
    {
        return (uint32_t)xr[iw0] | ((uint32_t)xr[iw0 + 1] << 8) | ((uint32_t)xr[iw0 + 2] << 16);
    }
    if (iw0 == -1 && in_w >= 2)
    {
        return zb | ((uint32_t)xr[0] << 8) | ((uint32_t)xr[1] << 16);
    }
    {
        const uint32_t b0 = iw0 >= 0 && iw0 < in_w ? xr[iw0] : zb;
        const uint32_t b1 = iw0 + 1 >= 0 && iw0 + 1 < in_w ? xr[iw0 + 1] : zb;
        const uint32_t b2 = iw0 + 2 >= 0 && iw0 + 2 < in_w ? xr[iw0 + 2] : zb;
        return b0 | (b1 << 8) | (b2 << 16);
    }
}

/* The 3x3 window of output position (oh, ow) not inside the input: row by row, a row outside
 * all x_zero_point, else its three bytes (the padding x_zero_point). */
RNN_CONV_S8_APART static void rnn_conv_s8_edge3x3(const rnn_window_params *p,
                                                  const int8_t *xg, int32_t x_zero_point,
                                                  int32_t oh, int32_t ow,
                                                  rnn_conv_s8_pair_t *u)
{
    const int32_t ih0 = oh * p->stride_h - p->pad_h;
    const int32_t iw0 = ow * p->stride_w - p->pad_w;
    const int32_t in_w = p->in_w;
    const uint32_t zb = (uint32_t)x_zero_point & 0xFFu;
    const uint32_t zw = zb * 0x010101u;
    const uint8_t *const x8 = (const uint8_t *)xg;
    const int32_t ih1 = ih0 + p->dil_h;
    const int32_t ih2 = ih1 + p->dil_h;
    const uint32_t v0 =
        ih0 >= 0 && ih0 < p->in_h ? rnn_conv_s8_row3(x8 + ih0 * in_w, iw0, in_w, zb) : zw;
    const uint32_t v1 =
        ih1 >= 0 && ih1 < p->in_h ? rnn_conv_s8_row3(x8 + ih1 * in_w, iw0, in_w, zb) : zw;
    const uint32_t v2 =
        ih2 >= 0 && ih2 < p->in_h ? rnn_conv_s8_row3(x8 + ih2 * in_w, iw0, in_w, zb) : zw;
    rnn_conv_s8_put3x3((int32_t)v0, (int32_t)v1, (int32_t)v2, u);
}

#if defined(RNN_CONV_S8_ASM)
/* rnn_conv_s8_put3x3 over the windows of one output row inside the input, their first rows
 * from xc to xe (exclusive) sw apart, as assembly: the five words in ascending registers for
 * one STM (GCC 12 stores them one by one and moves registers). Returns the next window. */
RNN_CONV_S8_APART static rnn_conv_s8_pair_t *rnn_conv_s8_interior3x3(const int8_t *xc,
                                                                     const int8_t *xe,
                                                                     int32_t sw, int32_t row,
                                                                     rnn_conv_s8_pair_t *u)
{
    register int32_t e0 __asm__("r4");
    register int32_t e1 __asm__("r5");
    register int32_t e2 __asm__("r6");
    register int32_t o01 __asm__("r7");
    register int32_t o2 __asm__("r8");
    int32_t o1;
    const int32_t row2 = 2 * row;
    __asm__ volatile("1: ldr    %[e0], [%[xc]]\n"
                     "   ldr    %[e1], [%[xc], %[row]]\n"
                     "   ldr    %[e2], [%[xc], %[row2]]\n"
                     "   sxtb16 %[o01], %[e0], ror #8\n"
                     "   sxtb16 %[e0], %[e0]\n"
                     "   sxtb16 %[o1], %[e1], ror #8\n"
                     "   sxtb16 %[e1], %[e1]\n"
                     "   pkhbt  %[o01], %[o01], %[o1], lsl #16\n"
                     "   sxtb16 %[o2], %[e2], ror #8\n"
                     "   sxtb16 %[e2], %[e2]\n"
                     "   stmia  %[u]!, {%[e0], %[e1], %[e2], %[o01], %[o2]}\n"
                     "   add    %[xc], %[xc], %[sw]\n"
                     "   cmp    %[xc], %[xe]\n"
                     "   bne    1b\n"
                     : [e0] "=&r"(e0), [e1] "=&r"(e1), [e2] "=&r"(e2), [o01] "=&r"(o01),
                       [o2] "=&r"(o2), [o1] "=&r"(o1), [xc] "+r"(xc), [u] "+r"(u)
                     : [xe] "r"(xe), [sw] "r"(sw), [row] "r"(row), [row2] "r"(row2)
                     : "cc", "memory");
    return u;
}
#endif

/* rnn_conv_s8_windows16 for one input channel and a 3x3 kernel (dil_w = 1, any stride,
 * dil_h, padding): the windows inside the input (their rows' fourth bytes too) as runs of
 * one word per kernel row, the others by rnn_conv_s8_edge3x3. */
RNN_CONV_S8_APART static void rnn_conv_s8_windows3x3(const rnn_window_params *p,
                                                     const int8_t *xg, int32_t x_zero_point,
                                                     int32_t oh, int32_t ow, int32_t np,
                                                     int16_t *t)
{
    const int32_t in_w = p->in_w;
    const int32_t row = p->dil_h * in_w;
    const int32_t sw = p->stride_w;
    /* the columns ow of the interior: iw0 >= 0 and iw0 + 2 <= in_w - 1 (a row's word reads
     * the next byte: inside the input but after the window's last row at its end) */
    const int32_t ow_lo = (p->pad_w + sw - 1) / sw;
    const int32_t ow_end = in_w - 3 + p->pad_w < 0 ? 0 : (in_w - 3 + p->pad_w) / sw + 1;
    const int32_t ow_end_last = in_w - 4 + p->pad_w < 0 ? 0 : (in_w - 4 + p->pad_w) / sw + 1;
    rnn_conv_s8_pair_t *u = (rnn_conv_s8_pair_t *)(void *)t;
    while (np > 0)
    {
        const int32_t ih0 = oh * p->stride_h - p->pad_h;
        const int32_t row_in = ih0 >= 0 && ih0 + 2 * p->dil_h < p->in_h;
        const int32_t end = ih0 + 2 * p->dil_h == p->in_h - 1 ? ow_end_last : ow_end;
        const int32_t stop = ow + np < p->out_w ? ow + np : p->out_w;
        np -= stop - ow;
        while (ow < stop)
        {
            const int32_t run_end = end < stop ? end : stop;
            if (row_in && ow >= ow_lo && ow < run_end)
            {
                const int8_t *xc = xg + ih0 * in_w + ow * sw - p->pad_w;
                const int8_t *const xe = xc + (run_end - ow) * sw;
#if defined(RNN_CONV_S8_ASM)
                u = rnn_conv_s8_interior3x3(xc, xe, sw, row, u);
#else
                for (; xc != xe; xc += sw, u += 5)
                {
                    rnn_conv_s8_put3x3(rnn_conv_s8_word(xc), rnn_conv_s8_word(xc + row),
                                       rnn_conv_s8_word(xc + 2 * row), u);
                }
#endif
                ow = run_end;
            }
            else
            {
                rnn_conv_s8_edge3x3(p, xg, x_zero_point, oh, ow, u);
                u += 5;
                ++ow;
            }
        }
        if (ow == p->out_w)
        {
            ow = 0;
            ++oh;
        }
    }
}

/* The int16 windows of the np positions from (oh, ow) on (row by row), 2 x npair values
 * apart, in the slot order of map (rnn_conv_s8_slots; kw3: its rows of three). */
RNN_CONV_S8_APART static void rnn_conv_s8_windows16(const rnn_window_params *p,
                                                    const int8_t *xg, int32_t x_zero_point,
                                                    int32_t oh, int32_t ow, int32_t np,
                                                    int32_t cg, int32_t n, int32_t npair,
                                                    const uint8_t *map, int32_t kw3,
                                                    int16_t *t)
{
    const int32_t in_w = p->in_w;
    const int32_t k_h = p->k_h;
    const int32_t k_w = p->k_w;
    const int32_t plane = p->in_h * in_w;
    const int32_t row = p->dil_h * in_w;
    const int32_t span_h = (k_h - 1) * p->dil_h;
    const int32_t span_w = (k_w - 1) * p->dil_w;
    /* a row of three read as a word reads one byte more: inside the input but for its end */
    const int8_t *const last = xg + (cg - 1) * plane + plane - 4;
    const int32_t rows = cg * k_h;
    int32_t j;
    for (j = 0; j < np; ++j, t += 2 * npair)
    {
        const int32_t ih0 = oh * p->stride_h - p->pad_h;
        const int32_t iw0 = ow * p->stride_w - p->pad_w;
        const int8_t *xc = xg + (ih0 * in_w + iw0);
        const int32_t inside = ih0 >= 0 && iw0 >= 0 && ih0 + span_h < p->in_h &&
                               iw0 + span_w < in_w;
        if (inside && kw3 && xc + (cg - 1) * plane + span_h * in_w <= last)
        {
            int32_t odd[6];
            int32_t r = 0;
            int32_t c;
            for (c = 0; c < cg; ++c, xc += plane)
            {
                const int8_t *xr = xc;
                int32_t kh;
                for (kh = 0; kh < k_h; ++kh, xr += row, ++r)
                {
                    const int32_t v = rnn_conv_s8_word(xr);
                    ((rnn_conv_s8_pair_t *)(void *)t)[r] = __sxtb16(v);
                    odd[r] = rnn_conv_s8_odd(v);
                }
            }
            odd[rows] = 0;
            for (r = 0; r < rows; r += 2)
            {
                ((rnn_conv_s8_pair_t *)(void *)t)[rows + r / 2] =
                    (int32_t)(((uint32_t)odd[r] & 0xFFFFu) | ((uint32_t)odd[r + 1] << 16));
            }
        }
        else if (inside && !kw3 && p->dil_w == 1)
        {
            int16_t *u = t;
            int32_t c;
            for (c = 0; c < cg; ++c, xc += plane)
            {
                const int8_t *xr = xc;
                int32_t kh;
                for (kh = 0; kh < k_h; ++kh, xr += row)
                {
                    int32_t kw;
                    for (kw = 0; kw < k_w; ++kw)
                    {
                        *u++ = xr[kw];
                    }
                }
            }
            if (n & 1)
            {
                t[n] = 0;
            }
        }
        else
        {
            /* the window order into tmp (the padding as x_zero_point), then into the slots */
            int16_t tmp[16];
            rnn_conv_s8_win v;
            int32_t c;
            int32_t k = 0;
            rnn_conv_s8_window(p, oh, ow, &v);
            xc = xg + v.ih0 * in_w + v.iw0;
            for (c = 0; c < cg; ++c, xc += plane)
            {
                int32_t kh;
                for (kh = 0; kh < k_h; ++kh)
                {
                    int32_t kw;
                    for (kw = 0; kw < k_w; ++kw, ++k)
                    {
                        const int32_t in = kh >= v.kh0 && kh < v.kh1 && kw >= v.kw0 &&
                                           kw < v.kw1;
                        tmp[k] = (int16_t)(in ? xc[kh * row + kw * p->dil_w] : x_zero_point);
                    }
                }
            }
            for (k = 0; k < 2 * npair; ++k)
            {
                t[k] = (int16_t)(map[k] == 255 ? 0 : tmp[map[k]]);
            }
        }
        if (++ow == p->out_w)
        {
            ow = 0;
            ++oh;
        }
    }
}

/* One channel over np windows (win, npair int16 pairs each) into y[0 .. np): rec holds the
 * channel's npair weight pairs, then bias - x_zero_point x sum(w), mult, the rounding and
 * zero-point constant c and the right shift s (fast: shift <= -2 and c fits), else shift. */
RNN_CONV_S8_INLINE void rnn_conv_s8_run(const int32_t *rec, const int32_t npair,
                                        const int16_t *win, int32_t np, int32_t y_zp,
                                        int32_t fast, int8_t *y)
{
    /* the pairs as scalars (npair is a constant in each caller: the unused ones vanish) */
    const int32_t w0 = rec[0];
    const int32_t w1 = npair > 1 ? rec[1] : 0;
    const int32_t w2 = npair > 2 ? rec[2] : 0;
    const int32_t w3 = npair > 3 ? rec[3] : 0;
    const int32_t w4 = npair > 4 ? rec[4] : 0;
    const int32_t w5 = npair > 5 ? rec[5] : 0;
    const int32_t w6 = npair > 6 ? rec[6] : 0;
    const int32_t w7 = npair > 7 ? rec[7] : 0;
    const int32_t off = rec[npair];
    const int32_t mult = rec[npair + 1];
    const int32_t c = rec[npair + 2];
    const int32_t s = rec[npair + 3];
    const int8_t *const end = y + np;
    const rnn_conv_s8_pair_t *pw = (const rnn_conv_s8_pair_t *)(const void *)win;
    /* one window: acc = off + its pairs . the weights (post-incremented loads) */
#define RNN_CONV_S8_DOT(acc)                                              \
    do                                                                    \
    {                                                                     \
        (acc) = __smlad(w0, *pw++, (acc));                                \
        if (npair > 1)                                                    \
            (acc) = __smlad(w1, *pw++, (acc));                            \
        if (npair > 2)                                                    \
            (acc) = __smlad(w2, *pw++, (acc));                            \
        if (npair > 3)                                                    \
            (acc) = __smlad(w3, *pw++, (acc));                            \
        if (npair > 4)                                                    \
            (acc) = __smlad(w4, *pw++, (acc));                            \
        if (npair > 5)                                                    \
            (acc) = __smlad(w5, *pw++, (acc));                            \
        if (npair > 6)                                                    \
            (acc) = __smlad(w6, *pw++, (acc));                            \
        if (npair > 7)                                                    \
            (acc) = __smlad(w7, *pw++, (acc));                            \
    } while (0)
    if (fast)
    {
        /* two outputs per pass (the loop's compare and branch shared), an odd one first */
        if (np & 1)
        {
            int32_t acc = off;
            RNN_CONV_S8_DOT(acc);
            *y++ = (int8_t)RNN_CONV_S8_SAT8(rnn_conv_s8_smmla(acc, mult, c) >> s);
        }
        while (y < end)
        {
            int32_t a0 = off;
            int32_t a1 = off;
            RNN_CONV_S8_DOT(a0);
            y[0] = (int8_t)RNN_CONV_S8_SAT8(rnn_conv_s8_smmla(a0, mult, c) >> s);
            RNN_CONV_S8_DOT(a1);
            y[1] = (int8_t)RNN_CONV_S8_SAT8(rnn_conv_s8_smmla(a1, mult, c) >> s);
            y += 2;
        }
    }
    else
    {
        do
        {
            int32_t acc = off;
            RNN_CONV_S8_DOT(acc);
            *y++ = rnn_conv_s8_out(acc, mult, s, y_zp);
        } while (y < end);
    }
#undef RNN_CONV_S8_DOT
}

#if defined(RNN_CONV_S8_ASM)
/* rnn_conv_s8_run's fast loop for five pairs whose last has a zero top half (a window of 9
 * values, the CRNN's 3x3), as assembly: GCC 12 keeps the 14 values in the 14 registers only
 * so (its own code reloads the window words one by one and spills). The last weight shares
 * a register with the shift (w8 in the top half for SMLATB, s in the low byte for ASR). */
RNN_CONV_S8_APART static void rnn_conv_s8_run9(const int32_t *rec, const int16_t *win,
                                               int32_t np, int8_t *y)
{
    const int32_t w0 = rec[0];
    const int32_t w1 = rec[1];
    const int32_t w2 = rec[2];
    const int32_t w3 = rec[3];
    const int32_t w4s = (int32_t)(((uint32_t)rec[4] << 16) | (uint32_t)rec[8]);
    const int32_t off = rec[5];
    const int32_t mult = rec[6];
    const int32_t c = rec[7];
    const int8_t *const end = y + np;
    const void *pw = win;
    int32_t t0;
    int32_t t1;
    int32_t acc;
    /* one output: five words of the window (LDRD, LDRD, LDR), four SMLAD and an SMLATB from
     * the offset, SMMLA, ASR, SSAT, STRB */
#define RNN_CONV_S8_ONE9                                 \
    "   ldrd   %[t0], %[t1], [%[pw]], #8\n"              \
    "   smlad  %[acc], %[w0], %[t0], %[off]\n"           \
    "   smlad  %[acc], %[w1], %[t1], %[acc]\n"           \
    "   ldrd   %[t0], %[t1], [%[pw]], #8\n"              \
    "   smlad  %[acc], %[w2], %[t0], %[acc]\n"           \
    "   smlad  %[acc], %[w3], %[t1], %[acc]\n"           \
    "   ldr    %[t0], [%[pw]], #4\n"                     \
    "   smlatb %[acc], %[w4s], %[t0], %[acc]\n"          \
    "   smmla  %[t0], %[acc], %[mult], %[c]\n"           \
    "   asr    %[t0], %[t0], %[w4s]\n"                   \
    "   ssat   %[t0], #8, %[t0]\n"                       \
    "   strb   %[t0], [%[y]], #1\n"
#define RNN_CONV_S8_OPS9                                                                     \
    : [t0] "=&r"(t0), [t1] "=&r"(t1), [acc] "=&r"(acc), [pw] "+r"(pw), [y] "+r"(y)           \
    : [w0] "r"(w0), [w1] "r"(w1), [w2] "r"(w2), [w3] "r"(w3), [w4s] "r"(w4s), [off] "r"(off), \
      [mult] "r"(mult), [c] "r"(c), [end] "r"(end)                                           \
    : "cc", "memory"
    /* an odd output first, then two per pass */
    if (np & 1)
    {
        __asm__ volatile(RNN_CONV_S8_ONE9 RNN_CONV_S8_OPS9);
    }
    if (y != end)
    {
        __asm__ volatile("1:\n" RNN_CONV_S8_ONE9 RNN_CONV_S8_ONE9 "   cmp    %[y], %[end]\n"
                         "   bne    1b\n" RNN_CONV_S8_OPS9);
    }
#undef RNN_CONV_S8_ONE9
#undef RNN_CONV_S8_OPS9
}

/* rnn_conv_s8_run9 for the channels [0, mc) of the records from rec on (9 words each), the
 * outputs of channel m from y + m positions */
RNN_CONV_S8_APART static void rnn_conv_s8_run9s(const int32_t *rec, int32_t mc,
                                                const int16_t *win, int32_t np, int8_t *y,
                                                int32_t positions)
{
    int32_t m;
    for (m = 0; m < mc; ++m, rec += 9, y += positions)
    {
        rnn_conv_s8_run9(rec, win, np, y);
    }
}
#endif

/* rnn_conv_s8_run for each number of weight pairs, each a function of its own (so that its
 * weights stay in registers) */
RNN_CONV_S8_APART static void rnn_conv_s8_run1(const int32_t *rec, const int16_t *win,
                                                int32_t np, int32_t y_zp, int32_t fast, int8_t *y)
{
    rnn_conv_s8_run(rec, 1, win, np, y_zp, fast, y);
}

RNN_CONV_S8_APART static void rnn_conv_s8_run2(const int32_t *rec, const int16_t *win,
                                                int32_t np, int32_t y_zp, int32_t fast, int8_t *y)
{
    rnn_conv_s8_run(rec, 2, win, np, y_zp, fast, y);
}

RNN_CONV_S8_APART static void rnn_conv_s8_run3(const int32_t *rec, const int16_t *win,
                                                int32_t np, int32_t y_zp, int32_t fast, int8_t *y)
{
    rnn_conv_s8_run(rec, 3, win, np, y_zp, fast, y);
}

RNN_CONV_S8_APART static void rnn_conv_s8_run4(const int32_t *rec, const int16_t *win,
                                                int32_t np, int32_t y_zp, int32_t fast, int8_t *y)
{
    rnn_conv_s8_run(rec, 4, win, np, y_zp, fast, y);
}

RNN_CONV_S8_APART static void rnn_conv_s8_run5(const int32_t *rec, const int16_t *win,
                                                int32_t np, int32_t y_zp, int32_t fast, int8_t *y)
{
#if defined(RNN_CONV_S8_ASM)
    if (fast && ((uint32_t)rec[4] >> 16) == 0)
    {
        rnn_conv_s8_run9(rec, win, np, y);
        return;
    }
#endif
    rnn_conv_s8_run(rec, 5, win, np, y_zp, fast, y);
}

RNN_CONV_S8_APART static void rnn_conv_s8_run6(const int32_t *rec, const int16_t *win,
                                                int32_t np, int32_t y_zp, int32_t fast, int8_t *y)
{
    rnn_conv_s8_run(rec, 6, win, np, y_zp, fast, y);
}

RNN_CONV_S8_APART static void rnn_conv_s8_run7(const int32_t *rec, const int16_t *win,
                                                int32_t np, int32_t y_zp, int32_t fast, int8_t *y)
{
    rnn_conv_s8_run(rec, 7, win, np, y_zp, fast, y);
}

RNN_CONV_S8_APART static void rnn_conv_s8_run8(const int32_t *rec, const int16_t *win,
                                                int32_t np, int32_t y_zp, int32_t fast, int8_t *y)
{
    rnn_conv_s8_run(rec, 8, win, np, y_zp, fast, y);
}

typedef void (*rnn_conv_s8_run_fn)(const int32_t *, const int16_t *, int32_t, int32_t, int32_t,
                                   int8_t *);
static const rnn_conv_s8_run_fn rnn_conv_s8_runs[8] = {
    rnn_conv_s8_run1, rnn_conv_s8_run2, rnn_conv_s8_run3, rnn_conv_s8_run4,
    rnn_conv_s8_run5, rnn_conv_s8_run6, rnn_conv_s8_run7, rnn_conv_s8_run8};

/* Refer to header file for details (the DSP path for windows of at most 16 values). */
RNN_CONV_S8_APART static void rnn_conv_s8_small_dsp(const rnn_window_params *p, const int8_t *x,
                                  int32_t x_zero_point, const int8_t *w, const int32_t *bias,
                                  const int32_t *mult, const int32_t *shift,
                                  int32_t y_zero_point, int8_t *y, int16_t *cols)
{
    const int32_t cg = p->in_c / p->groups;
    const int32_t mg = p->out_c / p->groups;
    const int32_t n = cg * p->k_h * p->k_w;
    const int32_t npair = (n + 1) >> 1;
    const int32_t rl = npair + 4;
    const int32_t positions = p->out_h * p->out_w;
    int32_t *recs = (int32_t *)(((uintptr_t)cols + 3u) & ~(uintptr_t)3u);
    int16_t *win = (int16_t *)(recs + p->out_c * 12);
    int32_t m;
    int32_t g;
    uint8_t map[16];
    const int32_t kw3 = rnn_conv_s8_slots(p, n, map);
    int32_t all9 = 1; /* every channel by rnn_conv_s8_run9 (RNN_CONV_S8_ASM) */
    /* each channel's record: its weights as int16 pairs (in the windows' slot order), the
     * offset, the requantization */
    for (m = 0; m < p->out_c; ++m)
    {
        const int8_t *wm = w + m * n;
        int32_t *r = recs + m * rl;
        int32_t sw = 0;
        int32_t i;
        for (i = 0; i < n; ++i)
        {
            sw += wm[i];
        }
        for (i = 0; i < npair; ++i)
        {
            const int32_t lo = map[2 * i] == 255 ? 0 : wm[map[2 * i]];
            const int32_t hi = map[2 * i + 1] == 255 ? 0 : wm[map[2 * i + 1]];
            r[i] = (int32_t)(((uint32_t)lo & 0xFFFFu) | ((uint32_t)hi << 16));
        }
        r[npair] = (int32_t)((uint32_t)bias[m] - (uint32_t)(x_zero_point * sw));
        r[npair + 1] = mult[m];
        r[npair + 2] = 0;
        r[npair + 3] = shift[m];
        if (npair != 5 || ((uint32_t)r[4] >> 16) != 0 || shift[m] > -2 || shift[m] < -23)
        {
            all9 = 0; /* rnn_conv_s8_run9 for every channel: five pairs, the last one value */
        }
        if (shift[m] <= -2 && shift[m] >= -23)
        {
            /* (hi + 2^(s-1) + y_zp 2^s) >> s: |c| <= 257 x 2^21 and |hi| <= 2^30 */
            const int32_t s = -1 - shift[m];
            r[npair + 2] = (2 * y_zero_point + 1) * ((int32_t)1 << (s - 1));
            r[npair + 3] = s;
        }
    }
    for (g = 0; g < p->groups; ++g)
    {
        const int8_t *xg = x + g * cg * p->in_h * p->in_w;
        int32_t q;
        for (q = 0; q < positions; q += RNN_CONV_S8_CHUNK)
        {
            const int32_t np =
                positions - q < RNN_CONV_S8_CHUNK ? positions - q : RNN_CONV_S8_CHUNK;
            if (kw3 && cg == 1 && p->k_h == 3)
            {
                rnn_conv_s8_windows3x3(p, xg, x_zero_point, q / p->out_w, q % p->out_w, np,
                                       win);
            }
            else
            {
                rnn_conv_s8_windows16(p, xg, x_zero_point, q / p->out_w, q % p->out_w, np, cg,
                                      n, npair, map, kw3, win);
            }
#if defined(RNN_CONV_S8_ASM)
            if (all9)
            {
                rnn_conv_s8_run9s(recs + g * mg * rl, mg, win, np, y + g * mg * positions + q,
                                  positions);
                continue;
            }
#else
            (void)all9;
#endif
            for (m = g * mg; m < (g + 1) * mg; ++m)
            {
                const int32_t *r = recs + m * rl;
                const int32_t fast = shift[m] <= -2 && shift[m] >= -23;
                int8_t *ym = y + m * positions + q;
                rnn_conv_s8_runs[npair - 1](r, win, np, y_zero_point, fast, ym);
            }
        }
    }
}
#endif

#if defined(RNN_CONV_S8_MVE)
/* The int8 outputs of channel m at np (1 to 4) consecutive positions: the four accumulators
 * as one vector, the high word of the product by VMULH, rounding half up and the shift as in
 * rnn_conv_s8_out, the zero point, saturation, and a predicated byte store. */
static inline void rnn_conv_s8_out4(int32x4_t acc, int32_t mult, int32_t shift, int32_t y_zp,
                                    int8_t *y, int32_t np)
{
    if (shift <= -2)
    {
        const int32_t s = -1 - shift;
        int32x4_t h = vmulhq_s32(acc, vdupq_n_s32(mult));
        h = vaddq_n_s32(h, (int32_t)1 << (s - 1));
        h = vshlq_r_s32(h, -s);
        h = vaddq_n_s32(h, y_zp);
        h = vmaxq_s32(vminq_s32(h, vdupq_n_s32(127)), vdupq_n_s32(-128));
        vstrbq_p_s32(y, h, vctp32q((uint32_t)np));
    }
    else
    {
        int32_t a[4];
        int32_t j;
        vst1q_s32(a, acc);
        for (j = 0; j < np; ++j)
        {
            y[j] = rnn_conv_s8_out(a[j], mult, shift, y_zp);
        }
    }
}

/* *s0, *s1 = the channel's weights wm . the columns c0, c1 over n window values: a
 * tail-predicated loop (DLSTP/LETP) of 16 values per pass, the last pass's lanes past n
 * inactive. VMLADAVA accumulates into an even register, so the two sums are pinned (r0, r2);
 * few operands, so that the constraints hold at every optimization level. */
static inline void rnn_conv_s8_dot12(const int8_t *wm, const int8_t *c0, const int8_t *c1,
                                     int32_t n, int32_t *s0, int32_t *s1)
{
#if defined(__GNUC__)
    register int32_t a0 __asm__("r0") = 0;
    register int32_t a1 __asm__("r2") = 0;
    __asm__ volatile("   dlstp.8     lr, %[n]\n"
                     "1: vldrb.8     q0, [%[wm]], #16\n"
                     "   vldrb.8     q1, [%[c0]], #16\n"
                     "   vmladava.s8 %[a0], q0, q1\n"
                     "   vldrb.8     q2, [%[c1]], #16\n"
                     "   vmladava.s8 %[a1], q0, q2\n"
                     "   letp        lr, 1b\n"
                     : [a0] "+r"(a0), [a1] "+r"(a1), [wm] "+r"(wm), [c0] "+r"(c0), [c1] "+r"(c1)
                     : [n] "r"(n)
                     : "lr", "q0", "q1", "q2", "memory");
    *s0 = a0;
    *s1 = a1;
#else
    /* other compilers: the same sums with intrinsics */
    int32_t a0 = 0;
    int32_t a1 = 0;
    int32_t t;
    for (t = n; t > 0; t -= 16)
    {
        const mve_pred16_t pr = vctp8q((uint32_t)t);
        const int8x16_t v = vldrbq_z_s8(wm, pr);
        a0 = vmladavaq_s8(a0, v, vldrbq_z_s8(c0, pr));
        a1 = vmladavaq_s8(a1, v, vldrbq_z_s8(c1, pr));
        wm += 16;
        c0 += 16;
        c1 += 16;
    }
    *s0 = a0;
    *s1 = a1;
#endif
}

/* ---- Small windows (n <= 16 values spanning at most 256 input bytes) on Helium:
 * rnn_conv_s8_small_mve ----
 * Each output channel's record first (32 bytes of the scratch): its weights zero-padded to 16
 * bytes, bias - x_zero_point x sum(w), mult, shift. Then four output positions per pass,
 * their windows gathered into four registers (one VLDRB gather each; the four straight from
 * one row's input when all inside, else rnn_conv_s8_edge16), and for each channel one weight
 * load, four VMLADAV, the sums as one vector plus the offset, and the vector requantization:
 * VQDMULH, VRSHL (the rounding shift), the zero point, two saturating narrowings (VQMOVNB to
 * int16, then int8) and a byte store of the four (rnn_conv_s8_mve_ch4). */

#if defined(__GNUC__)
#define RNN_CONV_S8_MVE_APART __attribute__((noinline))
#else
#define RNN_CONV_S8_MVE_APART
#endif

/* The four outputs of each of the mc channels of the records from r on (32 bytes each) at four
 * positions (windows x0 .. x3), all channels' shifts in [-32, -2]: the high word doubled
 * (VQDMULH: floor(acc x mult / 2^31), never saturating with mult > 0) and VRSHL by shift
 * (rounding half up by 2^(s + 1), s = -1 - shift: rnn_conv_s8_out's result), the zero
 * point, saturation by narrowing. */
RNN_CONV_S8_MVE_APART static void rnn_conv_s8_mve_ch4(const int8_t *r, int32_t mc,
                                                     int8x16_t x0,
                                       int8x16_t x1, int8x16_t x2, int8x16_t x3, int8_t *yo,
                                       int32_t positions, int32_t y_zp)
{
#if defined(__GNUC__) && defined(__OPTIMIZE__)
    /* as assembly (GCC 12 copies the narrowings' registers and spills): a low-overhead loop
     * (DLS/LE) of 20 instructions per channel; VMLADAV needs even registers. (The two-lane
     * VMOV Qd[2], Qd[0], Rt, Rt2 would save two, but QEMU 7.2 and LLVM's assembler disagree
     * on which lane takes Rt, so it is not used.) */
    register int32_t a0 __asm__("r0");
    register int32_t a1 __asm__("r2");
    register int32_t a2 __asm__("r4");
    register int32_t a3 __asm__("r6");
    int32_t off;
    int32_t mu;
    int32_t sh;
    __asm__ volatile("   dls    lr, %[mc]\n"
                     "1: ldrd   %[off], %[mu], [%[r], #16]\n"
                     "   ldr    %[sh], [%[r], #24]\n"
                     "   vldrb.u8 q6, [%[r]], #32\n"
                     "   vmladav.s8 %[a0], q6, %q[x0]\n"
                     "   vmladav.s8 %[a1], q6, %q[x1]\n"
                     "   vmladav.s8 %[a2], q6, %q[x2]\n"
                     "   vmladav.s8 %[a3], q6, %q[x3]\n"
                     "   vmov.32 q7[0], %[a0]\n"
                     "   vmov.32 q7[1], %[a1]\n"
                     "   vmov.32 q7[2], %[a2]\n"
                     "   vmov.32 q7[3], %[a3]\n"
                     "   vadd.i32 q7, q7, %[off]\n"
                     "   vqdmulh.s32 q7, q7, %[mu]\n"
                     "   vrshl.s32 q7, %[sh]\n"
                     "   vadd.i32 q7, q7, %[yzp]\n"
                     "   vqmovnb.s32 q6, q7\n"
                     "   vqmovnb.s16 q7, q6\n"
                     "   vstrb.32 q7, [%[yo]]\n"
                     "   add    %[yo], %[yo], %[pos]\n"
                     "   le     lr, 1b\n"
                     : [a0] "=&r"(a0), [a1] "=&r"(a1), [a2] "=&r"(a2), [a3] "=&r"(a3),
                       [off] "=&r"(off), [mu] "=&r"(mu), [sh] "=&r"(sh), [r] "+r"(r),
                       [yo] "+r"(yo)
                     : [mc] "r"(mc), [x0] "w"(x0), [x1] "w"(x1), [x2] "w"(x2), [x3] "w"(x3),
                       [pos] "r"(positions), [yzp] "r"(y_zp)
                     : "lr", "q6", "q7", "cc", "memory");
#else
    int32_t m;
    for (m = 0; m < mc; ++m)
    {
        int32_t off;
        int32_t mu;
        int32_t sh;
        const int8x16_t wv = vldrbq_s8(r);
        int32x4_t a = vdupq_n_s32(vmladavq_s8(wv, x0));
        int16x8_t h16;
        int8x16_t h8;
        a = vsetq_lane_s32(vmladavq_s8(wv, x1), a, 1);
        a = vsetq_lane_s32(vmladavq_s8(wv, x2), a, 2);
        a = vsetq_lane_s32(vmladavq_s8(wv, x3), a, 3);
        memcpy(&off, r + 16, sizeof off);
        memcpy(&mu, r + 20, sizeof mu);
        memcpy(&sh, r + 24, sizeof sh);
        a = vrshlq_n_s32(vqdmulhq_n_s32(vaddq_n_s32(a, off), mu), sh);
        a = vaddq_n_s32(a, y_zp);
        h16 = vqmovnbq_s32(vuninitializedq_s16(), a);
        h8 = vqmovnbq_s16(vuninitializedq_s8(), h16);
        vstrbq_s32(yo, vreinterpretq_s32_s8(h8));
        r += 32;
        yo += positions;
    }
#endif
}

/* The window of output position (oh, ow) as one vector when it is not inside the input (its
 * row's first input row ih0 and kernel rows [kh0, kh1) inside): a predicated gather of the
 * lanes inside (kh0 <= kh < kh1, kw0 <= kw < kw1, from the lanes' kh, 255 - kh, kw, 255 - kw
 * in lk; lanes past n have kh = 255), x_zero_point elsewhere. */
static inline int8x16_t rnn_conv_s8_edge16(const rnn_window_params *p, const int8_t *xg,
                                           int32_t ih0, int32_t kh0, int32_t kh1, int32_t ow,
                                           uint8x16_t offv, const uint8x16_t lk[4],
                                           int8x16_t zpv)
{
    const int32_t iw0 = ow * p->stride_w - p->pad_w;
    int32_t kw0 = 0;
    int32_t kw1 = p->k_w;
    mve_pred16_t in;
    if (iw0 < 0 || iw0 + (p->k_w - 1) * p->dil_w >= p->in_w)
    {
        rnn_conv_taps(ow, p->stride_w, p->pad_w, p->dil_w, p->k_w, p->in_w, &kw0, &kw1);
    }
    in = vcmpcsq_n_u8(lk[0], (uint8_t)kh0);
    in = vcmphiq_m_n_u8(lk[1], (uint8_t)(255 - kh1), in);
    in = vcmpcsq_m_n_u8(lk[2], (uint8_t)kw0, in);
    in = vcmphiq_m_n_u8(lk[3], (uint8_t)(255 - kw1), in);
    return vpselq_s8(vldrbq_gather_offset_z_s8(xg + ih0 * p->in_w + iw0, offv, in), zpv, in);
}

RNN_CONV_S8_MVE_APART static void rnn_conv_s8_small_mve(
    const rnn_window_params *p, const int8_t *x, int32_t x_zero_point, const int8_t *w,
    const int32_t *bias, const int32_t *mult, const int32_t *shift, int32_t y_zero_point,
    int8_t *y, int16_t *cols, uint8x16_t offv)
{
    const int32_t cg = p->in_c / p->groups;
    const int32_t mg = p->out_c / p->groups;
    const int32_t n = cg * p->k_h * p->k_w;
    const int32_t positions = p->out_h * p->out_w;
    const int32_t in_w = p->in_w;
    const int32_t sw = p->stride_w;
    const int32_t span_h = (p->k_h - 1) * p->dil_h;
    const int32_t span_w = (p->k_w - 1) * p->dil_w;
    int8_t *recs = (int8_t *)(((uintptr_t)cols + 3u) & ~(uintptr_t)3u);
    const mve_pred16_t pr = vctp8q((uint32_t)n);
    const int8x16_t zpv = vdupq_n_s8((int8_t)x_zero_point);
    uint8x16_t lk[4];
    int32_t fast = 1;
    int32_t g;
    int32_t m;
    {
        /* each lane's kernel row and column (rnn_conv_s8_edge16) */
        uint8_t kh[16];
        uint8_t kw[16];
        int32_t t;
        for (t = 0; t < 16; ++t)
        {
            kh[t] = (uint8_t)(t < n ? (t / p->k_w) % p->k_h : 255);
            kw[t] = (uint8_t)(t % p->k_w);
        }
        lk[0] = vld1q_u8(kh);
        lk[1] = vsubq_u8(vdupq_n_u8(255), lk[0]);
        lk[2] = vld1q_u8(kw);
        lk[3] = vsubq_u8(vdupq_n_u8(255), lk[2]);
    }
    for (m = 0; m < p->out_c; ++m)
    {
        int8_t *r = recs + 32 * m;
        if (shift[m] > -2 || shift[m] < -32)
        {
            fast = 0;
        }
        const int8x16_t wv = vldrbq_z_s8(w + m * n, pr);
        const int32_t off = bias[m] - x_zero_point * vaddvq_s8(wv);
        vst1q_s8(r, wv);
        memcpy(r + 16, &off, sizeof off);
        memcpy(r + 20, &mult[m], sizeof mult[m]);
        memcpy(r + 24, &shift[m], sizeof shift[m]);
    }
    for (g = 0; g < p->groups; ++g)
    {
        const int8_t *xg = x + g * cg * p->in_h * in_w;
        int32_t oh;
        for (oh = 0; oh < p->out_h; ++oh)
        {
            const int32_t ih0 = oh * p->stride_h - p->pad_h;
            const int32_t row_in = ih0 >= 0 && ih0 + span_h < p->in_h;
            int32_t kh0 = 0;
            int32_t kh1 = p->k_h;
            int32_t ow;
            if (!row_in)
            {
                rnn_conv_taps(oh, p->stride_h, p->pad_h, p->dil_h, p->k_h, p->in_h, &kh0,
                                 &kh1);
            }
            /* four output positions of this row per pass (the row's last pass 1 to 4) */
            for (ow = 0; ow < p->out_w; ow += 4)
            {
            const int32_t np = p->out_w - ow < 4 ? p->out_w - ow : 4;
            const int32_t iw0 = ow * sw - p->pad_w;
            const int8_t *r = recs + 32 * g * mg;
            int8_t *yo = y + g * mg * positions + oh * p->out_w + ow;
            int8x16_t x0;
            int8x16_t x1;
            int8x16_t x2;
            int8x16_t x3;
            if (np == 4 && row_in && iw0 >= 0 && iw0 + 3 * sw + span_w < in_w)
            {
                /* the four windows inside one row of the input: lanes past n read the
                 * window's first value (offset 0), their weights 0 */
                const int8_t *xc = xg + ih0 * in_w + iw0;
                x0 = vldrbq_gather_offset_s8(xc, offv);
                x1 = vldrbq_gather_offset_s8(xc + sw, offv);
                x2 = vldrbq_gather_offset_s8(xc + 2 * sw, offv);
                x3 = vldrbq_gather_offset_s8(xc + 3 * sw, offv);
            }
            else
            {
                /* each window gathered straight when inside, else predicated */
#define RNN_CONV_S8_WIN16(j)                                                                \
    (row_in && iw0 + (j) * sw >= 0 && iw0 + (j) * sw + span_w < in_w                        \
         ? vldrbq_gather_offset_s8(xg + ih0 * in_w + iw0 + (j) * sw, offv)                  \
         : rnn_conv_s8_edge16(p, xg, ih0, kh0, kh1, ow + (j), offv, lk, zpv))
                x0 = RNN_CONV_S8_WIN16(0);
                x1 = x0;
                x2 = x0;
                x3 = x0;
                if (np > 1)
                {
                    x1 = RNN_CONV_S8_WIN16(1);
                }
                if (np > 2)
                {
                    x2 = RNN_CONV_S8_WIN16(2);
                }
                if (np > 3)
                {
                    x3 = RNN_CONV_S8_WIN16(3);
                }
#undef RNN_CONV_S8_WIN16
            }
            if (np == 4 && fast)
            {
                rnn_conv_s8_mve_ch4(r, mg, x0, x1, x2, x3, yo, positions, y_zero_point);
                continue;
            }
            for (m = 0; m < mg; ++m, r += 32, yo += positions)
            {
                const int8x16_t wv = vldrbq_s8(r);
                int32_t off;
                int32_t mu;
                int32_t sh;
                int32x4_t a = vdupq_n_s32(vmladavq_s8(wv, x0));
                a = vsetq_lane_s32(vmladavq_s8(wv, x1), a, 1);
                a = vsetq_lane_s32(vmladavq_s8(wv, x2), a, 2);
                a = vsetq_lane_s32(vmladavq_s8(wv, x3), a, 3);
                memcpy(&off, r + 16, sizeof off);
                memcpy(&mu, r + 20, sizeof mu);
                memcpy(&sh, r + 24, sizeof sh);
                rnn_conv_s8_out4(vaddq_n_s32(a, off), mu, sh, y_zero_point, yo, np);
            }
            }
        }
    }
}

/* ---- Pairs of small windows on Helium: rnn_conv_s8_pairs_mve ----
 * Two neighbouring output positions of a row, (oh, ow) and (oh, ow + 1), read the kernel's
 * columns kw dil_w and kw dil_w + stride_w of the same input rows; when the union of those
 * columns over the window's cg x k_h rows has at most 16 values (the CRNN's 3x3 at stride 2:
 * 3 rows of the columns 0 to 4, 15 values) one VLDRB gather reads both windows, and each
 * channel has two weight vectors, A (its taps at the first position's lanes) and B (at the
 * second's), zero elsewhere. Four such pairs (eight positions) per pass stay in registers for
 * all the channels; per channel two weight loads, one LDM of its record's mult, shift and
 * offset (four times: the four sums start from it), four VMLADAVA, one LDMDB of the offset
 * again, four more, the eight sums into two vectors through memory (two STMs, two VLDRWs: four
 * instructions where eight VMOVs would be needed), VQDMULH, VRSHL, narrowed to int16 into one
 * vector (VQMOVNB / VQMOVNT: the A sums into the even lanes, the B sums into the odd ones, so
 * the eight are in position order), the zero point (saturating; a value saturated to int16
 * stays saturated in int8), the narrowing to int8 and one 8-byte store: 27 instructions per 8
 * outputs in a DLS/LE assembly loop (rnn_conv_s8_pairs_run). The positions of a pass follow
 * each other in the output (a pass may go on into the next output row when out_w is even, so
 * that no pair spans two rows; else the passes stop at each row's end). */

/* Each pair's lanes: the gather offset, kernel row (255 past the lanes used) and column from
 * the first position's tap 0, and the taps of the first (A) and the second position (B)
 * (their index in the channel's weights, 255 where the lane is not one of its taps); returns
 * the largest column, or -1 when the pair does not fit 16 lanes and 255 input bytes. */
static int32_t rnn_conv_s8_pair_lanes(const rnn_window_params *p, int32_t cg, uint8_t off[16],
                                      uint8_t kh_of[16], uint8_t col_of[16], uint8_t ta[16],
                                      uint8_t tb[16])
{
    const int32_t plane = p->in_h * p->in_w;
    const int32_t row = p->dil_h * p->in_w;
    const int32_t dw = p->dil_w;
    const int32_t sw = p->stride_w;
    const int32_t last = (p->k_w - 1) * dw + sw; /* the second position's last column */
    uint8_t cols[16];
    uint8_t ka[16];
    uint8_t kb[16];
    int32_t nu = 0;
    int32_t v;
    int32_t t = 0;
    int32_t c;
    if (last > 254 || cg * p->k_h > 16 || (cg - 1) * plane + (p->k_h - 1) * row + last > 255)
    {
        return -1;
    }
    /* the union of the two positions' columns, in order */
    for (v = 0; v <= last; ++v)
    {
        const int32_t a = v % dw == 0 && v / dw < p->k_w ? v / dw : 255;
        const int32_t b = v >= sw && (v - sw) % dw == 0 && (v - sw) / dw < p->k_w
                              ? (v - sw) / dw
                              : 255;
        if (a == 255 && b == 255)
        {
            continue;
        }
        if (cg * p->k_h * (nu + 1) > 16)
        {
            return -1;
        }
        cols[nu] = (uint8_t)v;
        ka[nu] = (uint8_t)a;
        kb[nu] = (uint8_t)b;
        ++nu;
    }
    for (t = 0; t < 16; ++t)
    {
        off[t] = 0;
        kh_of[t] = 255;
        col_of[t] = 0;
        ta[t] = 255;
        tb[t] = 255;
    }
    t = 0;
    for (c = 0; c < cg; ++c)
    {
        int32_t kh;
        for (kh = 0; kh < p->k_h; ++kh)
        {
            const int32_t tap = (c * p->k_h + kh) * p->k_w;
            int32_t u;
            for (u = 0; u < nu; ++u, ++t)
            {
                off[t] = (uint8_t)(c * plane + kh * row + cols[u]);
                kh_of[t] = (uint8_t)kh;
                col_of[t] = cols[u];
                ta[t] = (uint8_t)(ka[u] == 255 ? 255 : tap + ka[u]);
                tb[t] = (uint8_t)(kb[u] == 255 ? 255 : tap + kb[u]);
            }
        }
    }
    return last;
}

/* At most this many pairs of an output row reach into the padding on the left or the right
 * (their lanes inside the input's columns are kept, one predicate each); more: the single
 * windows' path. */
#define RNN_CONV_S8_PAIR_EDGES 16

/* A channel's record (bytes): its A and its B weights (16 each), mult, shift, and its offset
 * bias - x_zero_point x sum(w) four times (the start of the four sums of an LDM) */
#define RNN_CONV_S8_PAIR_REC 56

/* The pairs of windows of an output row whose kernel rows are all inside the input, into wv
 * (16 bytes each): nl pairs by the predicates cp[0 .. nl) (the left edge: the lanes inside
 * the input, x_zero_point elsewhere), ni inside the input (a plain gather each), nr by the
 * predicates cp[nl .. nl + nr) (the right edge); the pairs sw2 input bytes apart from xc on.
 * In assembly (GCC 12 keeps the loops' state on the stack): 4 instructions per pair inside,
 * 8 per edge pair. */
static inline void rnn_conv_s8_pair_row(const int8_t *xc, int8_t *wv, const mve_pred16_t *cp,
                                        int32_t nl, int32_t ni, int32_t nr, int32_t sw2,
                                        uint8x16_t offv, int8x16_t zpv)
{
#if defined(__GNUC__) && defined(__OPTIMIZE__)
    int32_t t;
    __asm__ volatile("   wls    lr, %[nl], 2f\n"
                     "1: ldrh   %[t], [%[cp]], #2\n"
                     "   vmsr   p0, %[t]\n"
                     "   vpst\n"
                     "   vldrbt.u8 q7, [%[xc], %q[off]]\n"
                     "   vpsel  q7, q7, %q[zp]\n"
                     "   vstrb.8 q7, [%[wv]], #16\n"
                     "   add    %[xc], %[xc], %[sw2]\n"
                     "   le     lr, 1b\n"
                     "2: wls    lr, %[ni], 4f\n"
                     "3: vldrb.u8 q7, [%[xc], %q[off]]\n"
                     "   add    %[xc], %[xc], %[sw2]\n"
                     "   vstrb.8 q7, [%[wv]], #16\n"
                     "   le     lr, 3b\n"
                     "4: wls    lr, %[nr], 6f\n"
                     "5: ldrh   %[t], [%[cp]], #2\n"
                     "   vmsr   p0, %[t]\n"
                     "   vpst\n"
                     "   vldrbt.u8 q7, [%[xc], %q[off]]\n"
                     "   vpsel  q7, q7, %q[zp]\n"
                     "   vstrb.8 q7, [%[wv]], #16\n"
                     "   add    %[xc], %[xc], %[sw2]\n"
                     "   le     lr, 5b\n"
                     "6:\n"
                     : [xc] "+r"(xc), [wv] "+r"(wv), [cp] "+r"(cp), [t] "=&r"(t)
                     : [nl] "r"(nl), [ni] "r"(ni), [nr] "r"(nr), [sw2] "r"(sw2), [off] "w"(offv),
                       [zp] "w"(zpv)
                     : "lr", "q7", "memory");
#else
    int32_t k;
    for (k = 0; k < nl + ni + nr; ++k, xc += sw2, wv += 16)
    {
        if (k >= nl && k < nl + ni)
        {
            vst1q_s8(wv, vldrbq_gather_offset_s8(xc, offv));
        }
        else
        {
            const mve_pred16_t pr = cp[k < nl ? k : k - ni];
            vst1q_s8(wv, vpselq_s8(vldrbq_gather_offset_z_s8(xc, offv, pr), zpv, pr));
        }
    }
#endif
}

/* The outputs of the mc channels of the records from r on (56 bytes each) at the np (1 to 8)
 * positions of a pass (the pairs x0 .. x3), in intrinsics (any shift; the passes of fewer
 * than 8 positions, or every pass when not optimizing). */
static void rnn_conv_s8_pairs_ch(const int8_t *r, int32_t mc, int8x16_t x0, int8x16_t x1,
                                 int8x16_t x2, int8x16_t x3, int8_t *yo, int32_t positions,
                                 int32_t y_zp, int32_t np, int32_t fast)
{
    const mve_pred16_t pr = vctp16q((uint32_t)np);
    int32_t m;
    for (m = 0; m < mc; ++m, r += RNN_CONV_S8_PAIR_REC, yo += positions)
    {
        int32_t off;
        int32_t mu;
        int32_t sh;
        const int8x16_t wa = vldrbq_s8(r);
        const int8x16_t wb = vldrbq_s8(r + 16);
        int32x4_t a = vdupq_n_s32(vmladavq_s8(wa, x0));
        int32x4_t b = vdupq_n_s32(vmladavq_s8(wb, x0));
        a = vsetq_lane_s32(vmladavq_s8(wa, x1), a, 1);
        a = vsetq_lane_s32(vmladavq_s8(wa, x2), a, 2);
        a = vsetq_lane_s32(vmladavq_s8(wa, x3), a, 3);
        b = vsetq_lane_s32(vmladavq_s8(wb, x1), b, 1);
        b = vsetq_lane_s32(vmladavq_s8(wb, x2), b, 2);
        b = vsetq_lane_s32(vmladavq_s8(wb, x3), b, 3);
        memcpy(&mu, r + 32, sizeof mu);
        memcpy(&sh, r + 36, sizeof sh);
        memcpy(&off, r + 40, sizeof off);
        a = vaddq_n_s32(a, off);
        b = vaddq_n_s32(b, off);
        if (fast)
        {
            int16x8_t h;
            a = vrshlq_n_s32(vqdmulhq_n_s32(a, mu), sh);
            b = vrshlq_n_s32(vqdmulhq_n_s32(b, mu), sh);
            h = vqmovntq_s32(vqmovnbq_s32(vuninitializedq_s16(), a), b);
            h = vqaddq_n_s16(h, (int16_t)y_zp);
            vstrbq_p_s16(yo, vreinterpretq_s16_s8(vqmovnbq_s16(vuninitializedq_s8(), h)), pr);
        }
        else
        {
            int32_t t[8];
            int32_t j;
            int32x4x2_t ab;
            ab.val[0] = a;
            ab.val[1] = b;
            vst2q_s32(t, ab); /* a0 b0 a1 b1 ...: position order */
            for (j = 0; j < np; ++j)
            {
                yo[j] = rnn_conv_s8_out(t[j], mu, sh, y_zp);
            }
        }
    }
}

/* The outputs of all mc channels of the records from r on at the positions of npass (>= 1)
 * full passes whose pairs of windows are stored one after the other from win (16 bytes
 * each, 4 a pass), the first pass's outputs at yq, every shift in [-32, -2]. ctx: 48 bytes,
 * word-aligned: the sums (32 bytes) and the passes' constants. In assembly: per pass the four
 * windows loaded (VLDRB), the records' start and the channel count (LDRD), the outputs moved
 * on to the next pass's (one SUB of a constant from memory) and the loop set up: 10
 * instructions; then per channel two weight loads, one LDM of mult, shift and the offset four
 * times (the sums' start: VMLADAVA), four VMLADAVA (the A sums), their STM, one LDMDB of the
 * four offsets again, four VMLADAVA (the B sums), their STMDB, the sums into two vectors
 * (two VLDRWs, where eight VMOVs would be needed), VQDMULH, VRSHL, narrowed to int16 into one
 * vector (VQMOVNB / VQMOVNT: the A sums into the even lanes, the B sums into the odd ones:
 * position order), the zero point, the narrowing to int8 and one 8-byte store: 27
 * instructions per channel. */
RNN_CONV_S8_MVE_APART static void rnn_conv_s8_pairs_run(const int8_t *r, int32_t mc,
                                                        const int8_t *win, int32_t npass,
                                                        int8_t *yq, int32_t positions,
                                                        int32_t y_zp, int32_t *ctx)
{
#if defined(__GNUC__) && defined(__OPTIMIZE__)
    /* VMLADAVA needs even registers (the sums: r4, r6, r8, r10), LDM ascending ones (r1, r3
     * before them: mult, shift), VSTRB.16 a low base register (yo). The A sums are stored at
     * mid, the B sums below it; after them the records' start, the channel count and the
     * step from a pass's last outputs to the next pass's first (mc x positions - 8). */
    int32_t *mid = ctx + 4;
    const int8_t *rr;
    int8_t *yo = yq + mc * positions - 8; /* as after a pass before the first one's at yq */
    mid[4] = (int32_t)(uintptr_t)r;
    mid[5] = mc;
    mid[6] = mc * positions - 8;
    __asm__ volatile("   vdup.16 q7, %[yzp]\n"
                     "2: vldrb.u8 q0, [%[win]], #16\n"
                     "   vldrb.u8 q1, [%[win]], #16\n"
                     "   vldrb.u8 q2, [%[win]], #16\n"
                     "   vldrb.u8 q3, [%[win]], #16\n"
                     "   ldrd   %[rr], lr, [%[mid], #16]\n"
                     "   ldr    r1, [%[mid], #24]\n"
                     "   sub    %[yo], %[yo], r1\n"
                     "   dls    lr, lr\n"
                     "1: vldrb.u8 q4, [%[rr]], #16\n"
                     "   vldrb.u8 q5, [%[rr]], #16\n"
                     "   ldm    %[rr]!, {r1, r3, r4, r6, r8, r10}\n"
                     "   vmladava.s8 r4, q4, q0\n"
                     "   vmladava.s8 r6, q4, q1\n"
                     "   vmladava.s8 r8, q4, q2\n"
                     "   vmladava.s8 r10, q4, q3\n"
                     "   stm    %[mid], {r4, r6, r8, r10}\n"
                     "   ldmdb  %[rr], {r4, r6, r8, r10}\n"
                     "   vmladava.s8 r4, q5, q0\n"
                     "   vmladava.s8 r6, q5, q1\n"
                     "   vmladava.s8 r8, q5, q2\n"
                     "   vmladava.s8 r10, q5, q3\n"
                     "   stmdb  %[mid], {r4, r6, r8, r10}\n"
                     "   vldrw.u32 q4, [%[mid]]\n"
                     "   vldrw.u32 q5, [%[mid], #-16]\n"
                     "   vqdmulh.s32 q4, q4, r1\n"
                     "   vqdmulh.s32 q5, q5, r1\n"
                     "   vrshl.s32 q4, r3\n"
                     "   vrshl.s32 q5, r3\n"
                     "   vqmovnb.s32 q6, q4\n"
                     "   vqmovnt.s32 q6, q5\n"
                     "   vqadd.s16 q6, q6, q7\n"
                     "   vqmovnb.s16 q4, q6\n"
                     "   vstrb.16 q4, [%[yo]]\n"
                     "   add    %[yo], %[yo], %[pos]\n"
                     "   le     lr, 1b\n"
                     "   subs   %[np], %[np], #1\n"
                     "   bne    2b\n"
                     : [rr] "=&r"(rr), [yo] "+l"(yo), [win] "+r"(win), [np] "+r"(npass)
                     : [mid] "r"(mid), [pos] "r"(positions), [yzp] "r"(y_zp)
                     : "r1", "r3", "r4", "r6", "r8", "r10", "lr", "q0", "q1", "q2", "q3", "q4",
                       "q5", "q6", "q7", "cc", "memory");
    (void)rr;
#else
    int32_t j;
    (void)ctx;
    for (j = 0; j < npass; ++j, win += 64, yq += 8)
    {
        rnn_conv_s8_pairs_ch(r, mc, vldrbq_s8(win), vldrbq_s8(win + 16), vldrbq_s8(win + 32),
                             vldrbq_s8(win + 48), yq, positions, y_zp, 8, 1);
    }
#endif
}

/* Windows of at most 16 values whose pairs fit 16 lanes (rnn_conv_s8_pair_lanes), an output
 * row's pairs and 3 more within the ring, at most RNN_CONV_S8_PAIR_EDGES edge pairs a row;
 * returns 0 (nothing written) otherwise. Scratch (the small-window contract: 56 x out_c +
 * 64 x ceil2(n) + 4 bytes): the records (RNN_CONV_S8_PAIR_REC bytes per channel), 48 bytes
 * for rnn_conv_s8_pairs_run (the sums and its constants), word-aligned, then the ring of
 * pairs of windows (16 bytes each; 36 for the CRNN's conv). */
RNN_CONV_S8_MVE_APART static int32_t rnn_conv_s8_pairs_mve(
    const rnn_window_params *p, const int8_t *x, int32_t x_zero_point, const int8_t *w,
    const int32_t *bias, const int32_t *mult, const int32_t *shift, int32_t y_zero_point,
    int8_t *y, int16_t *cols)
{
    const int32_t cg = p->in_c / p->groups;
    const int32_t mg = p->out_c / p->groups;
    const int32_t n = cg * p->k_h * p->k_w;
    const int32_t positions = p->out_h * p->out_w;
    const int32_t in_w = p->in_w;
    const int32_t sw2 = 2 * p->stride_w;              /* input bytes from pair to pair */
    const int32_t row_step = p->stride_h * in_w;      /* from output row to output row */
    const int32_t kpr = (p->out_w + 1) / 2;           /* pairs per output row */
    int8_t *recs = (int8_t *)(((uintptr_t)cols + 3u) & ~(uintptr_t)3u);
    int32_t *ctx = (int32_t *)(void *)(recs + RNN_CONV_S8_PAIR_REC * p->out_c); /* the run's */
    int8_t *win = (int8_t *)(ctx + 12);                                  /* the ring of windows */
    /* the ring: pairs of windows, a multiple of 4, in the rest of the scratch (56 x out_c +
     * 64 x ceil2(n) + 4 bytes, at most 3 of them before recs) */
    const int32_t ring =
        ((56 * p->out_c + 64 * (n + (n & 1)) + 4 - 3 - RNN_CONV_S8_PAIR_REC * p->out_c - 48) /
         64) *
        4;
    const int8x16_t zpv = vdupq_n_s8((int8_t)x_zero_point);
    uint8_t o[16];
    uint8_t kh_of[16];
    uint8_t col_of[16];
    uint8_t ta[16];
    uint8_t tb[16];
    uint8x16_t lk[2]; /* each lane's column, 255 - it */
    uint8x16_t lkh[2]; /* each lane's kernel row (255 past the pair's lanes), 255 - it */
    uint8x16_t offv;
    const int32_t last = rnn_conv_s8_pair_lanes(p, cg, o, kh_of, col_of, ta, tb);
    int32_t kl;   /* the pairs k of an output row inside the input's columns: [kl, kh) */
    int32_t kh;
    int32_t ohlo; /* the output rows inside the input's rows: [ohlo, ohhi) */
    int32_t ohhi;
    mve_pred16_t colp[RNN_CONV_S8_PAIR_EDGES]; /* the edge pairs' lanes inside the columns */
    mve_pred16_t colp_in[RNN_CONV_S8_PAIR_EDGES]; /* and of the rows inside the input */
    int32_t fast = 1;
    int32_t g;
    int32_t m;
    if (last < 0 || (p->out_w & 1) != 0)
    {
        return 0;
    }
    offv = vld1q_u8(o);
    lkh[0] = vld1q_u8(kh_of);
    lkh[1] = vsubq_u8(vdupq_n_u8(255), lkh[0]);
    lk[0] = vld1q_u8(col_of);
    lk[1] = vsubq_u8(vdupq_n_u8(255), lk[0]);
    {
        /* pair k's windows are inside the input's columns when 2 k sw - pad_w >= 0 and
         * 2 k sw - pad_w + last < in_w; output row oh inside its rows when
         * oh sh - pad_h >= 0 and oh sh - pad_h + (k_h - 1) dil_h < in_h */
        const int32_t cw = in_w - last + p->pad_w;
        const int32_t ch = p->in_h - (p->k_h - 1) * p->dil_h + p->pad_h;
        int32_t k;
        kl = (p->pad_w + sw2 - 1) / sw2;
        kl = kl > kpr ? kpr : kl;
        kh = cw > 0 ? (cw + sw2 - 1) / sw2 : 0;
        kh = kh > kpr ? kpr : (kh < kl ? kl : kh);
        ohlo = (p->pad_h + p->stride_h - 1) / p->stride_h;
        ohhi = ch > 0 ? (ch + p->stride_h - 1) / p->stride_h : 0;
        ohhi = ohhi > p->out_h ? p->out_h : (ohhi < ohlo ? ohlo : ohhi);
        if (kl + kpr - kh > RNN_CONV_S8_PAIR_EDGES)
        {
            return 0; /* more edge pairs a row than kept: the single windows' path */
        }
        /* the edge pairs' lanes whose columns lie inside the input, the same in every row:
         * the pairs [0, kl) then [kh, kpr) */
        for (k = 0; k < kl + kpr - kh; ++k)
        {
            const int32_t iw0 = (k < kl ? k : kh + k - kl) * sw2 - p->pad_w;
            const int32_t c0 = iw0 >= 0 ? 0 : (-iw0 > 255 ? 255 : -iw0);
            const int32_t c1 = in_w - iw0 < 0 ? 0 : (in_w - iw0 > 255 ? 255 : in_w - iw0);
            colp[k] =
                vcmphiq_m_n_u8(lk[1], (uint8_t)(255 - c1), vcmpcsq_n_u8(lk[0], (uint8_t)c0));
            /* the lanes of the pair (kernel row < k_h) */
            colp_in[k] = vcmphiq_m_n_u8(lkh[1], (uint8_t)(255 - p->k_h), colp[k]);
        }
    }
    {
        /* 255 > t rather than t != 255: GCC 12 fails on the latter (internal compiler error) */
        const uint8x16_t tav = vld1q_u8(ta);
        const uint8x16_t tbv = vld1q_u8(tb);
        const mve_pred16_t pa = vcmphiq_u8(vdupq_n_u8(255), tav);
        const mve_pred16_t pb = vcmphiq_u8(vdupq_n_u8(255), tbv);
        for (m = 0; m < p->out_c; ++m)
        {
            int8_t *r = recs + RNN_CONV_S8_PAIR_REC * m;
            const int8_t *wm = w + m * n;
            const int32_t off =
                bias[m] - x_zero_point * vaddvq_s8(vldrbq_z_s8(wm, vctp8q((uint32_t)n)));
            if (shift[m] > -2 || shift[m] < -32)
            {
                fast = 0;
            }
            vst1q_s8(r, vldrbq_gather_offset_z_s8(wm, tav, pa));
            vst1q_s8(r + 16, vldrbq_gather_offset_z_s8(wm, tbv, pb));
            memcpy(r + 32, &mult[m], sizeof mult[m]);
            memcpy(r + 36, &shift[m], sizeof shift[m]);
            vst1q_s32((int32_t *)(void *)(r + 40), vdupq_n_s32(off));
        }
    }
    for (g = 0; g < p->groups; ++g)
    {
        const int8_t *r = recs + RNN_CONV_S8_PAIR_REC * g * mg;
        int8_t *yq = y + g * mg * positions;
        /* xrow: the input at tap (0, 0) of output row oh's first pair (maybe outside the
         * input); fill: the pairs in the ring, whose passes run when it is full (the ring
         * holds a multiple of 4 pairs, so only the group's last passes can be partial) */
        const int8_t *xrow = x + g * cg * p->in_h * in_w - p->pad_h * in_w - p->pad_w;
        int32_t fill = 0;
        int32_t oh;
#define RNN_CONV_S8_PAIRS_PASSES(np)                                                        \
    do                                                                                      \
    {                                                                                       \
        if (fast)                                                                           \
        {                                                                                   \
            rnn_conv_s8_pairs_run(r, mg, win, (np), yq, positions, y_zero_point, ctx);      \
        }                                                                                   \
        else                                                                                \
        {                                                                                   \
            const int8_t *wf;                                                               \
            for (wf = win; wf < win + 64 * (np); wf += 64)                                  \
            {                                                                               \
                rnn_conv_s8_pairs_ch(r, mg, vldrbq_s8(wf), vldrbq_s8(wf + 16),              \
                                     vldrbq_s8(wf + 32), vldrbq_s8(wf + 48),                \
                                     yq + (wf - win) / 8, positions, y_zero_point, 8, 0);   \
            }                                                                               \
        }                                                                                   \
        yq += 8 * (np);                                                                     \
    } while (0)
        /* the ring's full passes, its last 0 to 3 pairs moved to its start */
#define RNN_CONV_S8_PAIRS_SPILL()                                                           \
    do                                                                                      \
    {                                                                                       \
        const int32_t np = fill / 4;                                                        \
        int32_t j;                                                                          \
        if (np > 0)                                                                         \
        {                                                                                   \
            RNN_CONV_S8_PAIRS_PASSES(np);                                                   \
        }                                                                                   \
        for (j = 0; j < (fill & 3); ++j)                                                    \
        {                                                                                   \
            vst1q_s8(win + 16 * j, vldrbq_s8(win + 64 * np + 16 * j));                      \
        }                                                                                   \
        fill &= 3;                                                                          \
    } while (0)
        for (oh = 0; oh < p->out_h; ++oh, xrow += row_step)
        {
            int32_t inr = oh >= ohlo && oh < ohhi; /* the row's kernel rows inside */
            const int8_t *xc;
            mve_pred16_t rows = 0;
            int32_t k = 0;
            if (inr && kpr + 3 <= ring)
            {
                /* the rows inside the input's rows, each whole in the ring: the usual case */
                for (; oh < ohhi; ++oh, xrow += row_step)
                {
                    if (fill + kpr > ring)
                    {
                        RNN_CONV_S8_PAIRS_SPILL();
                    }
                    rnn_conv_s8_pair_row(xrow, win + 16 * fill, colp_in, kl, kh - kl, kpr - kh,
                                         sw2, offv, zpv);
                    fill += kpr;
                }
                if (oh == p->out_h)
                {
                    break;
                }
                inr = 0;
            }
            xc = xrow;
            if (!inr)
            {
                /* the lanes of the row's kernel rows inside the input */
                int32_t kh0 = 0;
                int32_t kh1 = p->k_h;
                rnn_conv_taps(oh, p->stride_h, p->pad_h, p->dil_h, p->k_h, p->in_h, &kh0,
                                 &kh1);
                rows = vcmphiq_m_n_u8(lkh[1], (uint8_t)(255 - kh1),
                                      vcmpcsq_n_u8(lkh[0], (uint8_t)kh0));
            }
            if (fill + kpr > ring)
            {
                RNN_CONV_S8_PAIRS_SPILL();
            }
            if (inr && fill + kpr <= ring)
            {
                /* the whole row: the usual case */
                rnn_conv_s8_pair_row(xc, win + 16 * fill, colp_in, kl, kh - kl, kpr - kh, sw2,
                                     offv, zpv);
                fill += kpr;
                continue;
            }
            while (k < kpr)
            {
                /* the row's pairs [k, k + seg) that fit the ring (all of them unless the ring
                 * is nearly full or the row is longer than the ring): its left edge pairs
                 * (by predicate: their lanes inside the input, x_zero_point elsewhere), those
                 * inside the input's columns, its right edge pairs */
                int32_t seg;
                int8_t *wv;
                if (fill == ring)
                {
                    RNN_CONV_S8_PAIRS_SPILL();
                }
                seg = kpr - k < ring - fill ? kpr - k : ring - fill;
                wv = win + 16 * fill;
                fill += seg;
                if (inr)
                {
                    const int32_t nl = kl - k <= 0 ? 0 : (kl - k < seg ? kl - k : seg);
                    const int32_t e = kh < k + seg ? kh : k + seg;
                    const int32_t ni = e - (k + nl) > 0 ? e - (k + nl) : 0;
                    /* the predicates from pair k's on (the right edge's: from max(k, kh)'s) */
                    const int32_t c = k < kl ? k : kl + (k > kh ? k - kh : 0);
                    rnn_conv_s8_pair_row(xc, wv, colp_in + c, nl, ni, seg - nl - ni, sw2, offv,
                                         zpv);
                    xc += seg * sw2;
                    k += seg;
                    continue;
                }
                for (; seg > 0; --seg, ++k, xc += sw2, wv += 16)
                {
                    const mve_pred16_t pr =
                        k < kl ? rows & colp[k] : (k < kh ? rows : rows & colp[kl + k - kh]);
                    vst1q_s8(wv, vpselq_s8(vldrbq_gather_offset_z_s8(xc, offv, pr), zpv, pr));
                }
            }
        }
        if (fill >= 4)
        {
            RNN_CONV_S8_PAIRS_PASSES(fill / 4);
        }
        if ((fill & 3) != 0)
        {
            /* the group's last pairs: 1 to 3 */
            const int8_t *wl = win + 64 * (fill / 4);
            const int8x16_t x0 = vldrbq_s8(wl);
            rnn_conv_s8_pairs_ch(r, mg, x0, (fill & 3) > 1 ? vldrbq_s8(wl + 16) : x0,
                                 (fill & 3) > 2 ? vldrbq_s8(wl + 32) : x0, x0, yq, positions,
                                 y_zero_point, 2 * (fill & 3), fast);
        }
#undef RNN_CONV_S8_PAIRS_SPILL
#undef RNN_CONV_S8_PAIRS_PASSES
    }
    return 1;
}

/* Refer to header file for details. Helium: first each output channel's bias - x_zero_point *
 * sum(w) (the zero point's term), kept after the columns in the scratch; then four output
 * positions per pass: gathered windows of at most 16 values, or int8 columns of ceil16(n)
 * bytes (the padding as x_zero_point) multiplied with each channel by VMLADAVA.S8 over 16
 * lanes (tail-predicated: the columns' unused lanes add nothing); each channel's four outputs
 * requantized as one vector. */
void rnn_conv_s8(const rnn_window_params *p, const int8_t *x, int32_t x_zero_point,
                 const int8_t *w, const int32_t *bias, const int32_t *mult,
                 const int32_t *shift, int32_t y_zero_point, int8_t *y, int16_t *cols)
{
    const int32_t cg = p->in_c / p->groups;
    const int32_t mg = p->out_c / p->groups;
    const int32_t n = cg * p->k_h * p->k_w;
    const int32_t positions = p->out_h * p->out_w;
    const int32_t n16 = (n + 15) & ~15;
    int8_t *c8 = (int8_t *)cols;
    int8_t *offs = c8 + 4 * n16;
    uint8_t gather_at[16] = {0};
    const int32_t gather = rnn_conv_s8_gather_offsets(p, cg, n, gather_at);
    const uint8x16_t offv = vldrbq_u8(gather_at);
    int32_t g;
    int32_t m;
    if (gather)
    {
        if (rnn_conv_s8_pairs_mve(p, x, x_zero_point, w, bias, mult, shift, y_zero_point, y,
                                  cols))
        {
            return;
        }
        rnn_conv_s8_small_mve(p, x, x_zero_point, w, bias, mult, shift, y_zero_point, y, cols,
                              offv);
        return;
    }
    for (m = 0; m < p->out_c; ++m)
    {
        const int8_t *wm = w + m * n;
        int32_t s = 0;
        int32_t t;
        int32_t off;
        for (t = n; t > 0; t -= 16)
        {
            s = vaddvaq_s8(s, vldrbq_z_s8(wm, vctp8q((uint32_t)t)));
            wm += 16;
        }
        off = bias[m] - x_zero_point * s;
        memcpy(offs + 4 * m, &off, sizeof off);
    }
    for (g = 0; g < p->groups; ++g)
    {
        const int8_t *xg = x + g * cg * p->in_h * p->in_w;
        int32_t oh = 0;
        int32_t ow = 0;
        int32_t q;
        for (q = 0; q < positions; q += 4)
        {
            const int32_t np = positions - q < 4 ? positions - q : 4;
            /* cppcheck-suppress knownConditionTrueFalse ; a step's one position */
            if (np == 4 && rnn_conv_s8_columns4(p, xg, oh, ow, cg, n16, c8))
            {
                ow += 4;
                if (ow == p->out_w)
                {
                    ow = 0;
                    ++oh;
                }
            }
            else
            {
                int32_t j;
                for (j = 0; j < np; ++j)
                {
                    rnn_conv_s8_win v;
                    rnn_conv_s8_window(p, oh, ow, &v);
                    rnn_conv_s8_column8(p, xg, x_zero_point, &v, cg, c8 + j * n16);
                    if (++ow == p->out_w)
                    {
                        ow = 0;
                        ++oh;
                    }
                }
            }
            /* the columns of positions past the end (last pass) hold older values: computed,
             * never stored */
            if (n <= 16)
            {
                /* a window of at most 16 values: the four columns stay in registers for all
                 * the channels, one predicated weight load and four VMLADAV per channel */
                const mve_pred16_t pr = vctp8q((uint32_t)n);
                const int8x16_t x0 = vldrbq_s8(c8);
                const int8x16_t x1 = vldrbq_s8(c8 + 16);
                const int8x16_t x2 = vldrbq_s8(c8 + 32);
                const int8x16_t x3 = vldrbq_s8(c8 + 48);
                for (m = g * mg; m < (g + 1) * mg; ++m)
                {
                    const int8x16_t wv = vldrbq_z_s8(w + m * n, pr);
                    int32x4_t a = vdupq_n_s32(vmladavq_s8(wv, x0));
                    int32_t off;
                    a = vsetq_lane_s32(vmladavq_s8(wv, x1), a, 1);
                    a = vsetq_lane_s32(vmladavq_s8(wv, x2), a, 2);
                    a = vsetq_lane_s32(vmladavq_s8(wv, x3), a, 3);
                    memcpy(&off, offs + 4 * m, sizeof off);
                    rnn_conv_s8_out4(vaddq_n_s32(a, off), mult[m], shift[m], y_zero_point,
                                     y + m * positions + q, np);
                }
                continue;
            }
            for (m = g * mg; m < (g + 1) * mg; ++m)
            {
                int32_t a0;
                int32_t a1;
                int32_t a2;
                int32_t a3;
                int32_t off;
                rnn_conv_s8_dot12(w + m * n, c8, c8 + n16, n, &a0, &a1);
                rnn_conv_s8_dot12(w + m * n, c8 + 2 * n16, c8 + 3 * n16, n, &a2, &a3);
                {
                    int32x4_t a = vdupq_n_s32(a0);
                    a = vsetq_lane_s32(a1, a, 1);
                    a = vsetq_lane_s32(a2, a, 2);
                    a = vsetq_lane_s32(a3, a, 3);
                    memcpy(&off, offs + 4 * m, sizeof off);
                    rnn_conv_s8_out4(vaddq_n_s32(a, off), mult[m], shift[m], y_zero_point,
                                     y + m * positions + q, np);
                }
            }
        }
    }
}

#elif defined(RNN_CONV_S8_NEON)
/* ------------------------------------------------------------ AArch64 NEON (cortex-a73) ---- */

/* d[0 .. len - 1] = s[0 .. len - 1], len < 16, in pieces of 8, 4, 2 and 1 (fixed sizes:
 * single loads and stores, no call); s NULL: zeros. */
static inline void rnn_conv_s8_bytes_neon(int8_t *d, const int8_t *s, int32_t len)
{
    static const int8_t zero[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    const int32_t step = s != NULL ? 1 : 0;
    if (s == NULL)
    {
        s = zero;
    }
    if (len & 8)
    {
        memcpy(d, s, 8);
        d += 8;
        s += 8 * step;
    }
    if (len & 4)
    {
        memcpy(d, s, 4);
        d += 4;
        s += 4 * step;
    }
    if (len & 2)
    {
        memcpy(d, s, 2);
        d += 2;
        s += 2 * step;
    }
    if (len & 1)
    {
        *d = *s;
    }
}

/* The int8 column of a window inside the input with rows of contiguous taps (dil_w 1): its
 * cg x k_h kernel rows of k_w bytes, the first at xc (room: the input's bytes from xc on).
 * Rows of 8 or more bytes: 16 or 8 at a time, the last ones overlapping the ones before.
 * Shorter rows: one 8-byte copy each where it stays inside the column's ceil16(n) bytes and
 * the input (its extra bytes are rewritten by the next rows, or, past n, zeroed again at the
 * end), else in pieces. */
static RNN_CONV_S8_NOINLINE void rnn_conv_s8_rows_neon(const rnn_window_params *p,
                                                       const int8_t *xc, ptrdiff_t room,
                                                       int32_t cg, int32_t n16, int8_t *col)
{
    const int32_t plane = p->in_h * p->in_w;
    const int32_t row = p->dil_h * p->in_w;
    const int32_t k_h = p->k_h;
    const int32_t k_w = p->k_w;
    const int32_t n = cg * k_h * k_w;
    int8_t *t = col;
    int32_t c;
    if (k_w >= 8)
    {
        for (c = 0; c < cg; ++c, xc += plane)
        {
            const int8_t *xr = xc;
            int32_t kh;
            for (kh = 0; kh < k_h; ++kh, xr += row, t += k_w)
            {
                int32_t i;
                if (k_w < 16)
                {
                    vst1_s8(t, vld1_s8(xr));
                    vst1_s8(t + k_w - 8, vld1_s8(xr + k_w - 8));
                    continue;
                }
                for (i = 0; i + 16 < k_w; i += 16)
                {
                    vst1q_s8(t + i, vld1q_s8(xr + i));
                }
                vst1q_s8(t + k_w - 16, vld1q_s8(xr + k_w - 16));
            }
        }
        return;
    }
    /* kernel rows of fewer than 8 bytes: one 8-byte copy each while it stays inside the
     * column's ceil16(n) bytes and the input, its extra bytes rewritten by the next row (or,
     * past n, zeroed again at the end); the other rows in pieces */
    if (k_h == 1)
    {
        /* 1-D (or one kernel row): one loop over the channels */
        int32_t fast = (n16 - 8) / k_w + 1; /* rows inside the column */
        const ptrdiff_t src = room >= 8 ? (room - 8) / plane + 1 : 0; /* inside the input */
        if (src < fast)
        {
            fast = (int32_t)src;
        }
        if (fast > cg)
        {
            fast = cg;
        }
        for (c = 0; c < fast; ++c, xc += plane, t += k_w)
        {
            vst1_s8(t, vld1_s8(xc));
        }
        for (; c < cg; ++c, xc += plane, t += k_w)
        {
            rnn_conv_s8_bytes_neon(t, xc, k_w);
        }
        if (fast > 0)
        {
            rnn_conv_s8_bytes_neon(col + n, NULL, n16 - n);
        }
        return;
    }
    for (c = 0; c < cg; ++c, xc += plane)
    {
        const int8_t *xr = xc;
        int32_t kh;
        for (kh = 0; kh < k_h; ++kh, xr += row, t += k_w)
        {
            if ((int32_t)(t - col) + 8 <= n16 && (room - (xr - xc)) - (ptrdiff_t)c * plane >= 8)
            {
                vst1_s8(t, vld1_s8(xr));
            }
            else
            {
                rnn_conv_s8_bytes_neon(t, xr, k_w);
            }
        }
    }
    rnn_conv_s8_bytes_neon(col + n, NULL, n16 - n);
}

/* int8 im2col of output position (oh, ow) for the NEON path: col[t] = x for window value
 * t = (c, kh, kw) inside the input, x_zero_point (the real value 0) for the padding, as the
 * Helium path; the bytes n .. ceil16(n) - 1 after it are not written (zero, set once per
 * call). (Windows inside the input with rows of contiguous taps: rnn_conv_s8_rows_neon.) */
static RNN_CONV_S8_NOINLINE void rnn_conv_s8_column_neon(const rnn_window_params *p,
                                                         const int8_t *xg,
                                                         int32_t x_zero_point, int32_t oh,
                                                         int32_t ow, int32_t cg, int8_t *col)
{
    const int32_t plane = p->in_h * p->in_w;
    const int32_t k_h = p->k_h;
    const int32_t k_w = p->k_w;
    const int32_t row = p->dil_h * p->in_w;
    const int32_t dil_w = p->dil_w;
    const int8_t zp = (int8_t)x_zero_point;
    rnn_conv_s8_win v;
    const int8_t *xc;
    int8_t *t = col;
    int32_t c;
    rnn_conv_s8_window(p, oh, ow, &v);
    xc = xg + v.ih0 * p->in_w + v.iw0;
    for (c = 0; c < cg; ++c, xc += plane)
    {
        int32_t kh;
        for (kh = 0; kh < k_h; ++kh, t += k_w)
        {
            int32_t kw;
            if (kh < v.kh0 || kh >= v.kh1)
            {
                for (kw = 0; kw < k_w; ++kw)
                {
                    t[kw] = zp;
                }
                continue;
            }
            for (kw = 0; kw < v.kw0; ++kw)
            {
                t[kw] = zp;
            }
            for (; kw < v.kw1; ++kw)
            {
                t[kw] = xc[kh * row + kw * dil_w];
            }
            for (; kw < k_w; ++kw)
            {
                t[kw] = zp;
            }
        }
    }
}

/* a + the 16 products w x, summed in pairs into four int32 lanes: SMULL, SMLAL2, SADALP (two
 * products fit int16 as |w| <= 127, as in rnn_mat_vec_s8_s16.c) */
static inline int32x4_t rnn_conv_s8_dot16_neon(int32x4_t a, int8x16_t w, int8x16_t x)
{
    int16x8_t q = vmull_s8(vget_low_s8(w), vget_low_s8(x));
    q = vmlal_high_s8(q, w, x);
    return vpadalq_s16(a, q);
}

/* The sums of four channels (weights w0..w3) with four columns (c0..c3, ceil16(n) bytes,
 * zero past n) over the window: `done` values in passes of 16, then one pass of 16 more from
 * wl0..wl3 (the channels' weights done .. done + 15: past n they meet the columns' zero
 * bytes). out[j]: channel j's four sums, column i in lane i. */
static RNN_CONV_S8_INLINE void rnn_conv_s8_block_neon(const int8_t *const wp[4], const int8_t *const wl[4],
                                   const int8_t *const cp[4], int32_t done, int32x4_t out[4])
{
    const int8_t *w0 = wp[0];
    const int8_t *w1 = wp[1];
    const int8_t *w2 = wp[2];
    const int8_t *w3 = wp[3];
    const int8_t *c0 = cp[0];
    const int8_t *c1 = cp[1];
    const int8_t *c2 = cp[2];
    const int8_t *c3 = cp[3];
    int32x4_t a00 = vdupq_n_s32(0), a01 = a00, a02 = a00, a03 = a00;
    int32x4_t a10 = a00, a11 = a00, a12 = a00, a13 = a00;
    int32x4_t a20 = a00, a21 = a00, a22 = a00, a23 = a00;
    int32x4_t a30 = a00, a31 = a00, a32 = a00, a33 = a00;
    int8x16_t x0, x1, x2, x3, v;
    int32_t t;
    for (t = 0; t < done; t += 16)
    {
        x0 = vld1q_s8(c0 + t);
        x1 = vld1q_s8(c1 + t);
        x2 = vld1q_s8(c2 + t);
        x3 = vld1q_s8(c3 + t);
        v = vld1q_s8(w0 + t);
        a00 = rnn_conv_s8_dot16_neon(a00, v, x0);
        a01 = rnn_conv_s8_dot16_neon(a01, v, x1);
        a02 = rnn_conv_s8_dot16_neon(a02, v, x2);
        a03 = rnn_conv_s8_dot16_neon(a03, v, x3);
        v = vld1q_s8(w1 + t);
        a10 = rnn_conv_s8_dot16_neon(a10, v, x0);
        a11 = rnn_conv_s8_dot16_neon(a11, v, x1);
        a12 = rnn_conv_s8_dot16_neon(a12, v, x2);
        a13 = rnn_conv_s8_dot16_neon(a13, v, x3);
        v = vld1q_s8(w2 + t);
        a20 = rnn_conv_s8_dot16_neon(a20, v, x0);
        a21 = rnn_conv_s8_dot16_neon(a21, v, x1);
        a22 = rnn_conv_s8_dot16_neon(a22, v, x2);
        a23 = rnn_conv_s8_dot16_neon(a23, v, x3);
        v = vld1q_s8(w3 + t);
        a30 = rnn_conv_s8_dot16_neon(a30, v, x0);
        a31 = rnn_conv_s8_dot16_neon(a31, v, x1);
        a32 = rnn_conv_s8_dot16_neon(a32, v, x2);
        a33 = rnn_conv_s8_dot16_neon(a33, v, x3);
    }
    x0 = vld1q_s8(c0 + done);
    x1 = vld1q_s8(c1 + done);
    x2 = vld1q_s8(c2 + done);
    x3 = vld1q_s8(c3 + done);
    v = vld1q_s8(wl[0]);
    a00 = rnn_conv_s8_dot16_neon(a00, v, x0);
    a01 = rnn_conv_s8_dot16_neon(a01, v, x1);
    a02 = rnn_conv_s8_dot16_neon(a02, v, x2);
    a03 = rnn_conv_s8_dot16_neon(a03, v, x3);
    v = vld1q_s8(wl[1]);
    a10 = rnn_conv_s8_dot16_neon(a10, v, x0);
    a11 = rnn_conv_s8_dot16_neon(a11, v, x1);
    a12 = rnn_conv_s8_dot16_neon(a12, v, x2);
    a13 = rnn_conv_s8_dot16_neon(a13, v, x3);
    v = vld1q_s8(wl[2]);
    a20 = rnn_conv_s8_dot16_neon(a20, v, x0);
    a21 = rnn_conv_s8_dot16_neon(a21, v, x1);
    a22 = rnn_conv_s8_dot16_neon(a22, v, x2);
    a23 = rnn_conv_s8_dot16_neon(a23, v, x3);
    v = vld1q_s8(wl[3]);
    a30 = rnn_conv_s8_dot16_neon(a30, v, x0);
    a31 = rnn_conv_s8_dot16_neon(a31, v, x1);
    a32 = rnn_conv_s8_dot16_neon(a32, v, x2);
    a33 = rnn_conv_s8_dot16_neon(a33, v, x3);
    out[0] = vpaddq_s32(vpaddq_s32(a00, a01), vpaddq_s32(a02, a03));
    out[1] = vpaddq_s32(vpaddq_s32(a10, a11), vpaddq_s32(a12, a13));
    out[2] = vpaddq_s32(vpaddq_s32(a20, a21), vpaddq_s32(a22, a23));
    out[3] = vpaddq_s32(vpaddq_s32(a30, a31), vpaddq_s32(a32, a33));
}

/* The int8 outputs of one channel at np (1 to 4) positions pos[] (ym: the channel's output)
 * from its four sums (offset included): when shift <= -2 as one vector, exactly
 * rnn_conv_s8_out (SMULL, SMULL2, UZP2 for the high words of the products, SRSHL by -s:
 * (hi + 2^(s - 1)) >> s, the zero point, SQXTN twice: saturation to int8), else
 * rnn_conv_s8_out lane by lane; four consecutive positions stored as one word. */
static inline void rnn_conv_s8_out4_neon(int32x4_t acc, int32_t mult, int32_t shift,
                                         int32_t y_zp, int8_t *ym, const int32_t *pos,
                                         int32_t np)
{
    int8_t t[8];
    int32_t j;
    if (shift <= -2)
    {
        const int64x2_t p0 = vmull_n_s32(vget_low_s32(acc), mult);
        const int64x2_t p1 = vmull_high_n_s32(acc, mult);
        int32x4_t h = vuzp2q_s32(vreinterpretq_s32_s64(p0), vreinterpretq_s32_s64(p1));
        int8x8_t b;
        h = vaddq_s32(vrshlq_s32(h, vdupq_n_s32(shift + 1)), vdupq_n_s32(y_zp));
        b = vqmovn_s16(vcombine_s16(vqmovn_s32(h), vdup_n_s16(0)));
        if (np == 4 && pos[3] == pos[0] + 3)
        {
            const uint32_t u = vget_lane_u32(vreinterpret_u32_s8(b), 0);
            memcpy(ym + pos[0], &u, sizeof u);
            return;
        }
        vst1_s8(t, b);
    }
    else
    {
        int32_t a[4];
        vst1q_s32(a, acc);
        for (j = 0; j < np; ++j)
        {
            t[j] = rnn_conv_s8_out(a[j], mult, shift, y_zp);
        }
    }
    for (j = 0; j < np; ++j)
    {
        ym[pos[j]] = t[j];
    }
}

/* The outputs of channels m0 .. m_end - 1 at np (1 to 4) positions pos[] (y: output
 * channel m0), their columns cp: four channels at a time (past m_end the last again,
 * computed, never stored), their last pass's weights from wtail (16 bytes per channel from mt
 * on) where it would read past the weights; each channel's sums plus its offset (offs)
 * requantized. */
static RNN_CONV_S8_NOINLINE void rnn_conv_s8_channels_neon(
    const int8_t *w, int32_t n, int32_t m0, int32_t m_end, int32_t mt, const int8_t *wtail,
    const int8_t *const cp[4], const int8_t *offs, const int32_t *mult, const int32_t *shift,
    int32_t y_zero_point, int8_t *y, int32_t positions, const int32_t *pos, int32_t np)
{
    const int32_t done = ((n + 15) & ~15) - 16;
    int32_t m;
    for (m = m0; m < m_end; m += 4)
    {
        const int8_t *wp[4];
        const int8_t *wl[4];
        int32x4_t acc[4];
        int32_t j;
        for (j = 0; j < 4; ++j)
        {
            const int32_t mj = m + j < m_end ? m + j : m_end - 1;
            wp[j] = w + mj * n;
            wl[j] = mj >= mt ? wtail + 16 * (mj - mt) : wp[j] + done;
        }
        rnn_conv_s8_block_neon(wp, wl, cp, done, acc);
        for (j = 0; j < 4 && m + j < m_end; ++j)
        {
            int32_t off;
            memcpy(&off, offs + 4 * (m + j), sizeof off);
            rnn_conv_s8_out4_neon(vaddq_s32(acc[j], vdupq_n_s32(off)), mult[m + j],
                                  shift[m + j], y_zero_point, y + (m + j - m0) * positions,
                                  pos, np);
        }
    }
}

/* ---- the lanes path (windows of at most 16 values): eight output positions in the lanes,
 * no columns ----
 * Eight consecutive positions of an output row whose windows lie inside the input, four
 * channels at a time: for each tap t of the window (the input of tap t at off[t] from the
 * tap 0 of position 0), the eight positions' input values minus the zero point (SSUBL: int16)
 * multiply-accumulated into each channel's eight int32 sums by lane of its int16 weights
 * (SMLAL, SMLAL2 by element: 2 instructions per 8 multiply-adds). The sums start from the
 * bias; each channel's 8 outputs requantized as two vectors. */
#define RNN_CONV_S8_LD1 1    /* stride 1: one LD1 of 8 bytes */
#define RNN_CONV_S8_LD2 2    /* stride 2: one LD2 of 16 bytes */
#define RNN_CONV_S8_GATHER 0 /* any other: eight lane loads */

static RNN_CONV_S8_INLINE int16x8_t rnn_conv_s8_x8(int32_t mode, const int8_t *a, int32_t sw,
                                                   int8x8_t zp)
{
    int8x8_t v;
    if (mode == RNN_CONV_S8_LD1)
    {
        v = vld1_s8(a);
    }
    else if (mode == RNN_CONV_S8_LD2)
    {
        v = vld2_s8(a).val[0];
    }
    else
    {
        v = vld1_dup_s8(a);
        v = vld1_lane_s8(a + sw, v, 1);
        v = vld1_lane_s8(a + 2 * sw, v, 2);
        v = vld1_lane_s8(a + 3 * sw, v, 3);
        v = vld1_lane_s8(a + 4 * sw, v, 4);
        v = vld1_lane_s8(a + 5 * sw, v, 5);
        v = vld1_lane_s8(a + 6 * sw, v, 6);
        v = vld1_lane_s8(a + 7 * sw, v, 7);
    }
    return vsubl_s8(v, zp);
}

/* The int8 outputs of one channel at eight consecutive positions y[0..7] from its sums
 * (lo: positions 0-3, hi: 4-7), as rnn_conv_s8_out4_neon: one 8-byte store. */
static inline void rnn_conv_s8_out8_neon(int32x4_t lo, int32x4_t hi, int32_t mult,
                                         int32_t shift, int32_t y_zp, int8_t *y)
{
    if (shift <= -2)
    {
        const int32x4_t sh = vdupq_n_s32(shift + 1);
        const int32x4_t zp = vdupq_n_s32(y_zp);
        int32x4_t h0 = vuzp2q_s32(vreinterpretq_s32_s64(vmull_n_s32(vget_low_s32(lo), mult)),
                                  vreinterpretq_s32_s64(vmull_high_n_s32(lo, mult)));
        int32x4_t h1 = vuzp2q_s32(vreinterpretq_s32_s64(vmull_n_s32(vget_low_s32(hi), mult)),
                                  vreinterpretq_s32_s64(vmull_high_n_s32(hi, mult)));
        h0 = vaddq_s32(vrshlq_s32(h0, sh), zp);
        h1 = vaddq_s32(vrshlq_s32(h1, sh), zp);
        vst1_s8(y, vqmovn_s16(vcombine_s16(vqmovn_s32(h0), vqmovn_s32(h1))));
    }
    else
    {
        int32_t a[8];
        int32_t j;
        vst1q_s32(a, lo);
        vst1q_s32(a + 4, hi);
        for (j = 0; j < 8; ++j)
        {
            y[j] = rnn_conv_s8_out(a[j], mult, shift, y_zp);
        }
    }
}

#define RNN_CONV_S8_LMAC(j, W, L)                                                              \
    lo##j = vmlal_laneq_s16(lo##j, vget_low_s16(xt), W##j, L);                                 \
    hi##j = vmlal_high_laneq_s16(hi##j, xt, W##j, L);
#define RNN_CONV_S8_LTAP(k, W, L)                                                              \
    {                                                                                          \
        const int16x8_t xt = rnn_conv_s8_x8(mode, xq + off[k], sw, zp8);                       \
        RNN_CONV_S8_LMAC(0, W, L)                                                              \
        RNN_CONV_S8_LMAC(1, W, L)                                                              \
        RNN_CONV_S8_LMAC(2, W, L)                                                              \
        RNN_CONV_S8_LMAC(3, W, L)                                                              \
    }

/* Channels with weights wv[0..3] (16 bytes each, window n <= 16 values, any bytes past n),
 * outputs (pointers ym[0..nm - 1] at position 0 of the row) at positions at .. at + count - 1
 * of the row (count >= 8; the last eight may overlap the ones before: the same values
 * again), xb: tap 0 of position 0. */
static RNN_CONV_S8_INLINE void rnn_conv_s8_lanes_at(
    int32_t mode, int32_t n, int32_t sw, const int32_t *off, const int8_t *xb, int32_t count,
    int8_t x_zero_point, const int8_t *const wv[4], const int32_t bias[4], const int32_t *mult,
    const int32_t *shift, int32_t y_zp, int8_t *const ym[4], int32_t nm)
{
    const int8x8_t zp8 = vdup_n_s8(x_zero_point);
    const int8x16_t v0 = vld1q_s8(wv[0]);
    const int8x16_t v1 = vld1q_s8(wv[1]);
    const int8x16_t v2 = vld1q_s8(wv[2]);
    const int8x16_t v3 = vld1q_s8(wv[3]);
    const int16x8_t a0 = vmovl_s8(vget_low_s8(v0)), b0 = vmovl_high_s8(v0);
    const int16x8_t a1 = vmovl_s8(vget_low_s8(v1)), b1 = vmovl_high_s8(v1);
    const int16x8_t a2 = vmovl_s8(vget_low_s8(v2)), b2 = vmovl_high_s8(v2);
    const int16x8_t a3 = vmovl_s8(vget_low_s8(v3)), b3 = vmovl_high_s8(v3);
    int32_t q;
    for (q = 0; q < count; q += 8)
    {
        const int32_t at = q + 8 <= count ? q : count - 8;
        const int8_t *xq = xb + at * sw;
        int32x4_t lo0 = vdupq_n_s32(bias[0]), hi0 = lo0;
        int32x4_t lo1 = vdupq_n_s32(bias[1]), hi1 = lo1;
        int32x4_t lo2 = vdupq_n_s32(bias[2]), hi2 = lo2;
        int32x4_t lo3 = vdupq_n_s32(bias[3]), hi3 = lo3;
        /* taps n - 1 down to 0 (integer sums: any order), entered at the first one */
        switch (n)
        {
        case 16:
            RNN_CONV_S8_LTAP(15, b, 7)
            /* fall through */
        case 15:
            RNN_CONV_S8_LTAP(14, b, 6)
            /* fall through */
        case 14:
            RNN_CONV_S8_LTAP(13, b, 5)
            /* fall through */
        case 13:
            RNN_CONV_S8_LTAP(12, b, 4)
            /* fall through */
        case 12:
            RNN_CONV_S8_LTAP(11, b, 3)
            /* fall through */
        case 11:
            RNN_CONV_S8_LTAP(10, b, 2)
            /* fall through */
        case 10:
            RNN_CONV_S8_LTAP(9, b, 1)
            /* fall through */
        case 9:
            RNN_CONV_S8_LTAP(8, b, 0)
            /* fall through */
        case 8:
            RNN_CONV_S8_LTAP(7, a, 7)
            /* fall through */
        case 7:
            RNN_CONV_S8_LTAP(6, a, 6)
            /* fall through */
        case 6:
            RNN_CONV_S8_LTAP(5, a, 5)
            /* fall through */
        case 5:
            RNN_CONV_S8_LTAP(4, a, 4)
            /* fall through */
        case 4:
            RNN_CONV_S8_LTAP(3, a, 3)
            /* fall through */
        case 3:
            RNN_CONV_S8_LTAP(2, a, 2)
            /* fall through */
        case 2:
            RNN_CONV_S8_LTAP(1, a, 1)
            /* fall through */
        default:
            RNN_CONV_S8_LTAP(0, a, 0)
        }
        rnn_conv_s8_out8_neon(lo0, hi0, mult[0], shift[0], y_zp, ym[0] + at);
        if (nm > 1)
        {
            rnn_conv_s8_out8_neon(lo1, hi1, mult[1], shift[1], y_zp, ym[1] + at);
        }
        if (nm > 2)
        {
            rnn_conv_s8_out8_neon(lo2, hi2, mult[2], shift[2], y_zp, ym[2] + at);
        }
        if (nm > 3)
        {
            rnn_conv_s8_out8_neon(lo3, hi3, mult[3], shift[3], y_zp, ym[3] + at);
        }
    }
}

/* The lanes path over one output row (see above) for channels m0 .. m_end - 1 of a group:
 * four at a time (past m_end the last again, never stored); weights of the channels from mt
 * on from wtail (16 bytes each). */
static RNN_CONV_S8_NOINLINE void rnn_conv_s8_lanes_neon(
    int32_t mode, int32_t n, int32_t sw, const int32_t *off, const int8_t *xb, int32_t count,
    int32_t x_zero_point, const int8_t *w, int32_t m0, int32_t m_end, int32_t mt,
    const int8_t *wtail, const int32_t *bias, const int32_t *mult, const int32_t *shift,
    int32_t y_zp, int8_t *yr, int32_t positions)
{
    int32_t m;
    for (m = m0; m < m_end; m += 4)
    {
        const int8_t *wv[4];
        int32_t b[4];
        int8_t *ym[4];
        const int32_t nm = m_end - m < 4 ? m_end - m : 4;
        int32_t j;
        for (j = 0; j < 4; ++j)
        {
            const int32_t mj = m + j < m_end ? m + j : m_end - 1;
            wv[j] = mj >= mt ? wtail + 16 * (mj - mt) : w + mj * n;
            b[j] = bias[mj];
            ym[j] = yr + mj * positions;
        }
        if (mode == RNN_CONV_S8_LD1)
        {
            rnn_conv_s8_lanes_at(RNN_CONV_S8_LD1, n, sw, off, xb, count, (int8_t)x_zero_point,
                                 wv, b, mult + m, shift + m, y_zp, ym, nm);
        }
        else if (mode == RNN_CONV_S8_LD2)
        {
            rnn_conv_s8_lanes_at(RNN_CONV_S8_LD2, n, sw, off, xb, count, (int8_t)x_zero_point,
                                 wv, b, mult + m, shift + m, y_zp, ym, nm);
        }
        else
        {
            rnn_conv_s8_lanes_at(RNN_CONV_S8_GATHER, n, sw, off, xb, count,
                                 (int8_t)x_zero_point, wv, b, mult + m, shift + m, y_zp, ym,
                                 nm);
        }
    }
}

/* The lanes path's input for eight positions ow0 .. ow0 + 7 of output row oh whose windows
 * reach into the padding: for each kernel row r = (c, kh) of the window, the wb input values
 * from the window of position ow0 on (wb = 7 stride_w + (k_w - 1) dil_w + 1), x_zero_point
 * (the real value 0: its products w (x - x_zero_point) add nothing) outside the input. */
static RNN_CONV_S8_NOINLINE void rnn_conv_s8_pad_neon(const rnn_window_params *p,
                                                      const int8_t *xg, int32_t x_zero_point,
                                                      int32_t oh, int32_t ow0, int32_t cg,
                                                      int32_t wb, int8_t *buf)
{
    const int32_t plane = p->in_h * p->in_w;
    const int32_t iw0 = ow0 * p->stride_w - p->pad_w;
    /* the input columns iw0 + i inside: i in [i0, i1) */
    const int32_t i0 = iw0 < 0 ? (-iw0 < wb ? -iw0 : wb) : 0;
    const int32_t i1 = p->in_w - iw0 < wb ? (p->in_w - iw0 > i0 ? p->in_w - iw0 : i0) : wb;
    int32_t c;
    for (c = 0; c < cg; ++c)
    {
        int32_t kh;
        for (kh = 0; kh < p->k_h; ++kh, buf += wb)
        {
            const int32_t ih = oh * p->stride_h - p->pad_h + kh * p->dil_h;
            int32_t i = 0;
            if (ih >= 0 && ih < p->in_h)
            {
                const int8_t *xr = xg + c * plane + ih * p->in_w + iw0;
                for (; i < i0; ++i)
                {
                    buf[i] = (int8_t)x_zero_point;
                }
                for (; i < i1; ++i)
                {
                    buf[i] = xr[i];
                }
            }
            for (; i < wb; ++i)
            {
                buf[i] = (int8_t)x_zero_point;
            }
        }
    }
}

/* Refer to header file for details. NEON: first each output channel's offset, bias -
 * x_zero_point x sum(w) (the zero point's term, as the Helium path), kept after the columns
 * in the scratch; then four output positions per pass as int8 columns of ceil16(n) bytes (the
 * padding as x_zero_point, zero past n) and four channels at a time: 16 sums (4 x 4) in
 * passes of 16 window values, each channel's four outputs requantized as one vector. */
void rnn_conv_s8(const rnn_window_params *p, const int8_t *x, int32_t x_zero_point,
                 const int8_t *w, const int32_t *bias, const int32_t *mult,
                 const int32_t *shift, int32_t y_zero_point, int8_t *y, int16_t *cols)
{
    const int32_t cg = p->in_c / p->groups;
    const int32_t mg = p->out_c / p->groups;
    const int32_t n = cg * p->k_h * p->k_w;
    const int32_t positions = p->out_h * p->out_w;
    const int32_t n16 = (n + 15) & ~15;
    const int32_t done = n16 - 16; /* values in whole passes before the last pass of 16 */
    const int32_t hspan = (p->k_h - 1) * p->dil_h; /* of a window along h */
    const int32_t plane = p->in_h * p->in_w;
    const int32_t total_x = p->in_c * plane;
    const int8_t *xend = x + total_x;
    const int32_t sw = p->stride_w;
    /* the positions of an output row whose windows lie inside the input along w: lo .. hi */
    const int32_t lo = (p->pad_w + sw - 1) / sw;
    const int32_t hi_n = p->in_w - 1 - (p->k_w - 1) * p->dil_w + p->pad_w;
    const int32_t hi = hi_n < 0 ? -1 : (hi_n / sw < p->out_w - 1 ? hi_n / sw : p->out_w - 1);
    /* the lanes path: windows of at most 16 values, rows of at least 8 positions; positions
     * whose windows reach into the padding from a copy with the padding (pbuf: 16 kernel
     * rows of wb bytes at most, and 16 bytes that LD2 may read past them) */
    const int32_t wb = 7 * sw + (p->k_w - 1) * p->dil_w + 1;
    const int32_t lanes = n <= 16 && p->out_w >= 8 && wb <= 48;
    int32_t toff[16]; /* the lanes path's tap offsets: in the input */
    int32_t boff[16]; /* in pbuf */
    int8_t pbuf[16 * 48 + 16];
    /* the channels from mt on would read past the weights in their last pass: their last
     * pass's weights copied (zero past n), at most 16 channels (n16 < 16 n) */
    const int32_t mt = p->out_c - (n16 - 1) / n;
    int8_t wtail[16][16];
    int8_t *c8 = (int8_t *)cols;
    int8_t *offs = c8 + 4 * n16;
    int32_t g;
    int32_t m;
    int32_t j;
    for (m = mt > 0 ? mt : 0; m < p->out_c; ++m)
    {
        memset(wtail[m - mt], 0, sizeof wtail[0]);
        memcpy(wtail[m - mt], w + m * n + done, (size_t)(n - done));
    }
    for (m = 0; m < p->out_c; ++m)
    {
        const int8_t *wm = w + m * n;
        int32x4_t s4 = vdupq_n_s32(0);
        int32_t s;
        int32_t t;
        int32_t off;
        for (t = 0; t + 16 <= n; t += 16)
        {
            s4 = vpadalq_s16(s4, vpaddlq_s8(vld1q_s8(wm + t)));
        }
        s = vaddvq_s32(s4);
        for (; t < n; ++t)
        {
            s += wm[t];
        }
        off = bias[m] - x_zero_point * s;
        memcpy(offs + 4 * m, &off, sizeof off);
    }
    for (j = 0; j < 4; ++j)
    {
        memset(c8 + j * n16 + n, 0, (size_t)(n16 - n));
    }
    if (lanes)
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
                    boff[t] = (c * p->k_h + kh) * wb + kw * p->dil_w;
                    toff[t++] = c * plane + kh * p->dil_h * p->in_w + kw * p->dil_w;
                }
            }
        }
    }
    for (g = 0; g < p->groups; ++g)
    {
        const int8_t *xg = x + g * cg * plane;
        const int32_t m_end = (g + 1) * mg;
        const int8_t *cp[4];
        int32_t pos[4];
        int32_t np = 0;
        int32_t oh;
        if (lanes)
        {
            const int32_t bmode = sw == 1 ? RNN_CONV_S8_LD1
                                          : (sw == 2 ? RNN_CONV_S8_LD2 : RNN_CONV_S8_GATHER);
            for (oh = 0; oh < p->out_h; ++oh)
            {
                const int32_t ih0 = oh * p->stride_h - p->pad_h;
                /* positions 0 .. d0 - 1 from padded copies (eight at a time), d0 .. d1 from the
                 * input, d1 + 1 .. out_w - 1 from padded copies */
                const int32_t row_in = ih0 >= 0 && ih0 + hspan < p->in_h;
                const int32_t d0 = row_in ? (lo + 7) & ~7 : p->out_w;
                const int32_t d1 = row_in ? hi : p->out_w - 1;
                int32_t b;
                for (b = 0; b < d0 && b < p->out_w; b += 8)
                {
                    const int32_t at = b + 8 <= p->out_w ? b : p->out_w - 8;
                    rnn_conv_s8_pad_neon(p, xg, x_zero_point, oh, at, cg, wb, pbuf);
                    rnn_conv_s8_lanes_neon(bmode, n, sw, boff, pbuf, 8, x_zero_point, w, g * mg,
                                           m_end, mt, &wtail[0][0], bias, mult, shift,
                                           y_zero_point, y + oh * p->out_w + at, positions);
                }
                if (d1 - d0 + 1 >= 8)
                {
                    const int32_t cnt = d1 - d0 + 1;
                    const int32_t at0 = ih0 * p->in_w + d0 * sw - p->pad_w;
                    /* LD2 reads 16 bytes from a tap on: inside the input */
                    const int32_t last = (int32_t)(xg - x) + at0 + (cnt - 8) * sw +
                                         toff[n - 1] + 15;
                    const int32_t mode =
                        sw == 1 ? RNN_CONV_S8_LD1
                                : (sw == 2 && last < total_x ? RNN_CONV_S8_LD2
                                                              : RNN_CONV_S8_GATHER);
                    rnn_conv_s8_lanes_neon(mode, n, sw, toff, xg + at0, cnt, x_zero_point, w,
                                           g * mg, m_end, mt, &wtail[0][0], bias, mult, shift,
                                           y_zero_point, y + oh * p->out_w + d0, positions);
                    b = d1 + 1;
                }
                else
                {
                    b = d0;
                }
                for (; b < p->out_w; b += 8)
                {
                    const int32_t at = b + 8 <= p->out_w ? b : p->out_w - 8;
                    rnn_conv_s8_pad_neon(p, xg, x_zero_point, oh, at, cg, wb, pbuf);
                    rnn_conv_s8_lanes_neon(bmode, n, sw, boff, pbuf, 8, x_zero_point, w, g * mg,
                                           m_end, mt, &wtail[0][0], bias, mult, shift,
                                           y_zero_point, y + oh * p->out_w + at, positions);
                }
            }
            continue;
        }
        /* the column path: four positions at a time */
        for (oh = 0; oh < p->out_h; ++oh)
        {
            const int32_t ih0 = oh * p->stride_h - p->pad_h;
            int32_t ow;
            for (ow = 0; ow < p->out_w; ++ow)
            {
                const int32_t iw0 = ow * sw - p->pad_w;
                int8_t *col = c8 + np * n16;
                if (p->dil_w == 1 && ih0 >= 0 && iw0 >= 0 && ih0 + hspan < p->in_h &&
                    iw0 + p->k_w <= p->in_w)
                {
                    const int8_t *xc = xg + ih0 * p->in_w + iw0;
                    rnn_conv_s8_rows_neon(p, xc, xend - xc, cg, n16, col);
                }
                else
                {
                    rnn_conv_s8_column_neon(p, xg, x_zero_point, oh, ow, cg, col);
                }
                cp[np] = col;
                pos[np++] = oh * p->out_w + ow;
                if (np == 4)
                {
                    rnn_conv_s8_channels_neon(w, n, g * mg, m_end, mt, &wtail[0][0], cp, offs,
                                              mult, shift, y_zero_point, y + g * mg * positions,
                                              positions, pos, np);
                    np = 0;
                }
            }
        }
        if (np > 0)
        {
            for (j = np; j < 4; ++j)
            {
                cp[j] = c8; /* past the last position: computed, never stored */
            }
            rnn_conv_s8_channels_neon(w, n, g * mg, m_end, mt, &wtail[0][0], cp, offs, mult,
                                      shift, y_zero_point, y + g * mg * positions, positions,
                                      pos, np);
        }
    }
}

#else
/* The outputs of one channel at one or two (two) consecutive positions: the shift's
 * constants once for both; the general case out of line. */
static void rnn_conv_s8_out_any(const int32_t *acc, int32_t mult, int32_t shift, int32_t y_zp,
                                int8_t *y, int32_t two)
{
    y[0] = rnn_conv_s8_out(acc[0], mult, shift, y_zp);
    if (two)
    {
        y[1] = rnn_conv_s8_out(acc[1], mult, shift, y_zp);
    }
}

static inline void rnn_conv_s8_out2(const int32_t *acc, int32_t mult, int32_t shift,
                                    int32_t y_zp, int8_t *y, int32_t two)
{
    if (shift <= -2)
    {
        const int32_t s = -1 - shift;
        const int32_t rnd = (int32_t)1 << (s - 1);
        const int32_t h0 = (int32_t)(((int64_t)acc[0] * (int64_t)mult) >> 32);
        y[0] = (int8_t)RNN_CONV_S8_SAT8(((h0 + rnd) >> s) + y_zp);
        if (two)
        {
            const int32_t h1 = (int32_t)(((int64_t)acc[1] * (int64_t)mult) >> 32);
            y[1] = (int8_t)RNN_CONV_S8_SAT8(((h1 + rnd) >> s) + y_zp);
        }
    }
    else
    {
        rnn_conv_s8_out_any(acc, mult, shift, y_zp, y, two);
    }
}

/* acc[i][j] += weights of channel i (w0, w1) . column j (c0, c1) over n window values. */
static inline void rnn_conv_s8_dot22(const int8_t *w0, const int8_t *w1, const int16_t *c0,
                                     const int16_t *c1, int32_t n, int32_t acc[4])
{
    int32_t a00 = acc[0];
    int32_t a01 = acc[1];
    int32_t a10 = acc[2];
    int32_t a11 = acc[3];
    int32_t t = 0;
#if defined(RNN_CONV_S8_DSP)
    for (; t + 4 <= n; t += 4)
    {
        const int32_t u0 = rnn_conv_s8_word(w0 + t);
        const int32_t u1 = rnn_conv_s8_word(w1 + t);
        const int32_t e0 = __sxtb16(u0);        /* taps 0, 2 of channel 0 */
        const int32_t o0 = rnn_conv_s8_odd(u0); /* taps 1, 3 */
        const int32_t e1 = __sxtb16(u1);
        const int32_t o1 = rnn_conv_s8_odd(u1);
        const int32_t x0e = rnn_conv_s8_word(c0 + t);     /* column 0, taps 0, 2 */
        const int32_t x0o = rnn_conv_s8_word(c0 + t + 2); /* taps 1, 3 */
        const int32_t x1e = rnn_conv_s8_word(c1 + t);
        const int32_t x1o = rnn_conv_s8_word(c1 + t + 2);
        a00 = __smlad(e0, x0e, __smlad(o0, x0o, a00));
        a01 = __smlad(e0, x1e, __smlad(o0, x1o, a01));
        a10 = __smlad(e1, x0e, __smlad(o1, x0o, a10));
        a11 = __smlad(e1, x1e, __smlad(o1, x1o, a11));
    }
#endif
#if defined(RNN_CONV_S8_DSP)
    /* at most three taps left: straight code, no loop to set up */
    if (t < n)
    {
        int32_t v0 = w0[t];
        int32_t v1 = w1[t];
        a00 += v0 * c0[t];
        a01 += v0 * c1[t];
        a10 += v1 * c0[t];
        a11 += v1 * c1[t];
        if (t + 1 < n)
        {
            v0 = w0[t + 1];
            v1 = w1[t + 1];
            a00 += v0 * c0[t + 1];
            a01 += v0 * c1[t + 1];
            a10 += v1 * c0[t + 1];
            a11 += v1 * c1[t + 1];
            if (t + 2 < n)
            {
                v0 = w0[t + 2];
                v1 = w1[t + 2];
                a00 += v0 * c0[t + 2];
                a01 += v0 * c1[t + 2];
                a10 += v1 * c0[t + 2];
                a11 += v1 * c1[t + 2];
            }
        }
    }
#else
    for (; t < n; ++t)
    {
        const int32_t v0 = w0[t];
        const int32_t v1 = w1[t];
        a00 += v0 * c0[t];
        a01 += v0 * c1[t];
        a10 += v1 * c0[t];
        a11 += v1 * c1[t];
    }
#endif
    acc[0] = a00;
    acc[1] = a01;
    acc[2] = a10;
    acc[3] = a11;
}

/* Refer to header file for details. */
void rnn_conv_s8(const rnn_window_params *p, const int8_t *x, int32_t x_zero_point,
                 const int8_t *w, const int32_t *bias, const int32_t *mult,
                 const int32_t *shift, int32_t y_zero_point, int8_t *y, int16_t *cols)
{
    const int32_t cg = p->in_c / p->groups;
    const int32_t mg = p->out_c / p->groups;
    const int32_t n = cg * p->k_h * p->k_w;
    const int32_t positions = p->out_h * p->out_w;
    int32_t g;
#if defined(RNN_CONV_S8_DSP)
    if (n <= 16)
    {
        rnn_conv_s8_small_dsp(p, x, x_zero_point, w, bias, mult, shift, y_zero_point, y, cols);
        return;
    }
#endif
    for (g = 0; g < p->groups; ++g)
    {
        const int8_t *xg = x + g * cg * p->in_h * p->in_w;
        int32_t oh = 0;
        int32_t ow = 0;
        int32_t q;
        for (q = 0; q < positions; q += 2)
        {
            const int32_t two = q + 1 < positions;
            const int16_t *c1 = cols;
            int32_t m;
            rnn_conv_s8_win v;
            if (two && rnn_conv_s8_columns2(p, xg, x_zero_point, oh, ow, cg, n, cols))
            {
                c1 = cols + n;
                ow += 2;
                if (ow == p->out_w)
                {
                    ow = 0;
                    ++oh;
                }
            }
            else
            {
                rnn_conv_s8_window(p, oh, ow, &v);
                rnn_conv_s8_column(p, xg, x_zero_point, &v, cg, cols);
                if (++ow == p->out_w)
                {
                    ow = 0;
                    ++oh;
                }
                if (two)
                {
                    rnn_conv_s8_window(p, oh, ow, &v);
                    rnn_conv_s8_column(p, xg, x_zero_point, &v, cg, cols + n);
                    c1 = cols + n;
                    if (++ow == p->out_w)
                    {
                        ow = 0;
                        ++oh;
                    }
                }
            }
            for (m = g * mg; m < (g + 1) * mg; m += 2)
            {
                const int32_t m1 = m + 1 < (g + 1) * mg ? m + 1 : m;
                int32_t acc[4];
                acc[0] = bias[m];
                acc[1] = bias[m];
                acc[2] = bias[m1];
                acc[3] = bias[m1];
                rnn_conv_s8_dot22(w + m * n, w + m1 * n, cols, c1, n, acc);
                rnn_conv_s8_out2(acc, mult[m], shift[m], y_zero_point, y + m * positions + q,
                                 two);
                if (m1 != m)
                {
                    rnn_conv_s8_out2(acc + 2, mult[m1], shift[m1], y_zero_point,
                                     y + m1 * positions + q, two);
                }
            }
        }
    }
}
#endif
