/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_rnn_cell_s16.c
 * Description: int8 simple RNN update: h = f(gx + gh + b) by table, requantized to int8;
 *              with no table (lut0 NULL), ReLU: max(gx + gh + b, 0), the pre-activation
 *              in its calibrated int16 scale, requantized to int8.
 *
 * The plain C below is the reference (the host, the last H mod 4 units, and any call whose
 * out_shift is outside RNN_RQ_FAST(out_shift, 15)). The value requantized is a sat16 or a
 * table output, so |v| <= 2^15 and the requantization takes rnn_cell_support.h's 32-bit
 * forms. sat8(zp + sat16(rq)) = sat8(sat32(zp + rq)) (both saturations clamp past int8), so
 * the paths add the zero point with a saturating add.
 * - NEON (AArch64): four units a pass: the gate sums saturated once (SQXTN), the clip and
 *   ReLU by SMAX/SMIN (a clip of 0, none, clamps to the int16 range: nothing), the table by
 *   rnn_lut4_neon, SQDMULH/SRSHL, SQADD and two SQXTN to int8.
 * - Helium (Cortex-M55): the same four units a pass (widening loads, VQDMULH/VRSHL, a
 *   narrowing byte store).
 * - DSP (Cortex-M4/M7): one unit at a time with SSAT, the SMLAD lookup and SMMUL.
 * Measured (I=32, H=64, 8 steps, one `_run`, exact QEMU counts of rnn_rnn_cell_s16, per
 * unit and step; python benchmarks/cells.py): see the table in benchmarks/results/cells.md.
 */

#include "rnn_nnfunctions.h"
#include "rnn_nn_support.h"
#include "rnn_cell_support.h"

#if defined(__ARM_NEON) && defined(__aarch64__)
#include <arm_neon.h>
#include <string.h>
#define RNN_RNN_NEON 1
#elif defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
#include <arm_mve.h>
#define RNN_RNN_MVE 1
#elif defined(__ARM_FEATURE_DSP) && defined(__ARM_FEATURE_SIMD32) && !defined(__aarch64__) && \
    defined(__GNUC__)
#include <arm_acle.h>
#define RNN_RNN_DSP 1
#endif

/* the reference, from unit u0 on */
static void rnn_plain(const rnn_rnn_params_s16 *p, const int16_t *gx, const int16_t *gh,
                      int8_t *h, int32_t u0)
{
    int32_t u;

    for (u = u0; u < p->hidden; ++u)
    {
        int32_t v = rnn_sat16(gx[u] + gh[u] + p->bias[u]);
        if (p->clip)
        {
            v = v < -p->clip ? -p->clip : (v > p->clip ? p->clip : v);
        }
        v = p->lut0 ? rnn_lut_q12(p->lut0, v) : (v > 0 ? v : 0);
        /* sat16 first: the same int8 as sat8(zp + rq) (|zp| <= 128), and no int32 overflow
         * when the requantization saturates (out_shift >= 17) */
        h[u] = (int8_t)rnn_sat8(p->h_zero_point +
                                rnn_sat16(rnn_requantize(v, p->out_mult, p->out_shift)));
    }
}

#if defined(RNN_RNN_NEON) || defined(RNN_RNN_MVE) || defined(RNN_RNN_DSP)
/* the clip's bounds (clip >= 0): none (0), or one past the int16 range the sums are
 * saturated to, clamps nothing */
static int32_t clip_hi(const rnn_rnn_params_s16 *p)
{
    return p->clip == 0 || p->clip > 32767 ? 32767 : p->clip;
}

static int32_t clip_lo(const rnn_rnn_params_s16 *p)
{
    return p->clip == 0 || p->clip > 32767 ? -32768 : -p->clip;
}
#endif

#if defined(RNN_RNN_NEON)
/* units 0 .. H - H mod 4; returns the units done */
static int32_t rnn_neon(const rnn_rnn_params_s16 *p, const int16_t *gx, const int16_t *gh,
                        int8_t *h)
{
    const int32_t H = p->hidden;
    const int16_t *lut = p->lut0;
    const int32x4_t hi = vdupq_n_s32(clip_hi(p));
    const int32x4_t lo = vdupq_n_s32(clip_lo(p));
    const int32x4_t zero = vdupq_n_s32(0);
    const int32x4_t pre = vdupq_n_s32(RNN_RQ_PRE(p->out_shift));
    const int32x4_t post = vdupq_n_s32(RNN_RQ_POST(p->out_shift));
    const int32x4_t zp = vdupq_n_s32(p->h_zero_point);
    const int32_t om = p->out_mult;
    int32_t u;
    for (u = 0; u + 4 <= H; u += 4)
    {
        const int16x4_t g = vqmovn_s32(
            vaddw_s16(vaddl_s16(vld1_s16(gx + u), vld1_s16(gh + u)), vld1_s16(p->bias + u)));
        int32x4_t v = vminq_s32(vmaxq_s32(vmovl_s16(g), lo), hi);
        int16x4_t h16;
        int32_t h4;
        v = lut != NULL ? rnn_lut4_neon(lut, v) : vmaxq_s32(v, zero);
        h16 = vqmovn_s32(vqaddq_s32(rnn_rq4_neon(v, om, pre, post), zp));
        h4 = vget_lane_s32(vreinterpret_s32_s8(vqmovn_s16(vcombine_s16(h16, h16))), 0);
        memcpy(h + u, &h4, 4);
    }
    return u;
}
#endif

#if defined(RNN_RNN_MVE)
/* units 0 .. H - H mod 4; returns the units done */
static int32_t rnn_mve(const rnn_rnn_params_s16 *p, const int16_t *gx, const int16_t *gh,
                       int8_t *h)
{
    const int32_t H = p->hidden;
    const int16_t *lut = p->lut0;
    const int32_t hi = clip_hi(p);
    const int32_t lo = clip_lo(p);
    const int32_t pre = RNN_RQ_PRE(p->out_shift);
    const int32_t post = RNN_RQ_POST(p->out_shift);
    const int32_t zp = p->h_zero_point;
    const int32_t om = p->out_mult;
    int32_t u;
    for (u = 0; u + 4 <= H; u += 4)
    {
        const int32x4_t s = vaddq_s32(vaddq_s32(vldrhq_s32(gx + u), vldrhq_s32(gh + u)),
                                      vldrhq_s32(p->bias + u));
        int32x4_t v = vmaxq_s32(vminq_s32(rnn_sat16_mve(s), vdupq_n_s32(hi)), vdupq_n_s32(lo));
        v = lut != NULL ? rnn_lut4_mve(lut, v) : vmaxq_s32(v, vdupq_n_s32(0));
        v = vqaddq_n_s32(rnn_rq4_mve(v, om, pre, post), zp);
        vstrbq_s32(h + u, vmaxq_s32(vminq_s32(v, vdupq_n_s32(127)), vdupq_n_s32(-128)));
    }
    return u;
}
#endif

#if defined(RNN_RNN_DSP)
/* every unit; has_lut and has_clip are constants in each call below, so each of the four
 * loops is compiled without their tests. The fields are read into locals once: h (int8_t)
 * may alias them, so GCC would reload them after every store. */
static inline __attribute__((always_inline)) void rnn_dsp_loop(
    const rnn_rnn_params_s16 *p, const int16_t *gx, const int16_t *gh, int8_t *h,
    const int32_t has_lut, const int32_t has_clip)
{
    const int32_t H = p->hidden;
    const int16_t *bias = p->bias;
    const int16_t *t = has_lut ? p->lut0 + 256 : p->lut0;
    const int32_t hi = clip_hi(p);
    const int32_t lo = clip_lo(p);
    const int32_t e = RNN_RQ_E(p->out_shift);
    const int32_t m = RNN_RQ_M(p->out_shift);
    const int32_t zp = p->h_zero_point;
    const int32_t om = p->out_mult;
    int32_t u;
    for (u = 0; u < H; ++u)
    {
        int32_t v = RNN_SAT16(gx[u] + gh[u] + bias[u]);
        if (has_clip)
        {
            v = v < lo ? lo : (v > hi ? hi : v);
        }
        v = has_lut ? rnn_lut_mid_dsp(t, v) : (v > 0 ? v : 0);
        h[u] = (int8_t)RNN_SAT8(__qadd(rnn_rq_dsp(v, om, e, m), zp));
    }
}

static void rnn_dsp(const rnn_rnn_params_s16 *p, const int16_t *gx, const int16_t *gh,
                    int8_t *h)
{
    if (p->lut0 != NULL)
    {
        if (p->clip != 0)
        {
            rnn_dsp_loop(p, gx, gh, h, 1, 1);
        }
        else
        {
            rnn_dsp_loop(p, gx, gh, h, 1, 0);
        }
    }
    else if (p->clip != 0)
    {
        rnn_dsp_loop(p, gx, gh, h, 0, 1);
    }
    else
    {
        rnn_dsp_loop(p, gx, gh, h, 0, 0);
    }
}
#endif

/* Refer to header file for details. */
void rnn_rnn_cell_s16(const rnn_rnn_params_s16 *p, const int16_t *gx, const int16_t *gh,
                      int8_t *h)
{
    if (!RNN_RQ_FAST(p->out_shift, 15) || p->clip < 0)
    {
        rnn_plain(p, gx, gh, h, 0);
        return;
    }
#if defined(RNN_RNN_NEON)
    rnn_plain(p, gx, gh, h, rnn_neon(p, gx, gh, h));
#elif defined(RNN_RNN_MVE)
    rnn_plain(p, gx, gh, h, rnn_mve(p, gx, gh, h));
#elif defined(RNN_RNN_DSP)
    rnn_dsp(p, gx, gh, h);
#else
    rnn_plain(p, gx, gh, h, 0);
#endif
}
