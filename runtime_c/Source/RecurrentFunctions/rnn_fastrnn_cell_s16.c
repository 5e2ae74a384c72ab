/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_fastrnn_cell_s16.c
 * Description: int8 FastRNN update: h~ = act(gx + gh + b) by table;
 *              h = s2 h + s1 h~ in Q0.15, requantized to int8.
 *
 * The plain C below is the reference (the host, the last H mod 4 units on NEON and Helium,
 * every call whose shifts a path does not take). Its bounds, which every path uses: a and
 * h15 are int16 and s1, s2 Q0.15 constants, so |s2 h15|, |s1 a| <= 2^30: plus 2^14 neither
 * leaves int32, and the rounding shifts by 15 are 32-bit (rnn_rshift15, SRSHR / VRSHR #15).
 * The two requantizations take rnn_cell_support.h's 32-bit forms with |h - zp| <= 255
 * (b = 8) and |nw| <= 2^15 (b = 15, nw is a sat16 value). See rnn_fastgrnn_cell_s16.c for
 * each identity; here:
 * - NEON (AArch64), RNN_RQ_FAST(h15_shift, 8) and RNN_RQ_FAST(out_shift, 15): four units a
 *   pass in int32 lanes: gx + gh + b widened (SADDL, SADDW) and saturated once (SQXTN),
 *   rnn_lut4_neon, rnn_rq4_neon for h15 and the output, MUL and SRSHR #15, SQXTN, SQADD of
 *   the zero point, SQXTN to int8.
 * - Helium (Cortex-M55), the same condition: four units a pass (widening loads,
 *   rnn_lut4_mve, VQDMULH / VRSHL, sat16 and sat8 by VQSHL and VSHR, a narrowing byte
 *   store).
 * - DSP (Cortex-M4/M7), h15_shift in [-1, 20] and out_shift in [-23, -2]: every unit, one a
 *   pass, in 32-bit words: SSAT, the SMLAD lookup (rnn_lut_mid_dsp), h15 by SMMULR of
 *   h 2^(s+1) - zp 2^(s+1) (one MLA), the products plus 2^14 by MLA, the output from SMMUL
 *   with the rounding term and the zero point folded into one constant.
 * Measured (exact QEMU counts of rnn_fastrnn_cell_s16 per unit and step, I = 32, H = 64,
 * 8 steps, one `_run`, the layer of benchmarks/cells.py; plain C -> this file):
 * cortex-m4 115.3 -> 35.7, cortex-m55 105.3 -> 12.4, cortex-a73 80.3 -> 14.9. On the M4
 * about 16 values live across the loop (5 pointers, the table, 10 constants): 6 of the 35
 * are stack loads and stores.
 */

#include "rnn_nnfunctions.h"
#include "rnn_nn_support.h"
#include "rnn_cell_support.h"

#if defined(__ARM_NEON) && defined(__aarch64__)
#include <arm_neon.h>
#include <string.h>
#define RNN_FAST_NEON 1
#elif defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
#include <arm_mve.h>
#define RNN_FAST_MVE 1
#elif defined(__ARM_FEATURE_DSP) && defined(__ARM_FEATURE_SIMD32) && !defined(__aarch64__) && \
    defined(__GNUC__)
#include <arm_acle.h>
#define RNN_FAST_DSP 1
#endif

/* The reference (codegen/cells/fastrnn.py step_s8), from unit u0 on. a, h15 are int16 and
 * s1, s2 Q0.15 constants (|.| <= 32768), so |s2 h15|, |s1 a| <= 2^30: each plus 2^14 stays
 * inside int32, and rnn_rshift15 is rnn_rshift_round(., 15). */
static void fastrnn_plain(const rnn_fast_params_s16 *p, const int16_t *gx, const int16_t *gh,
                          int8_t *h, int32_t u0)
{
    int32_t u;

    for (u = u0; u < p->hidden; ++u)
    {
        const int32_t a = rnn_lut_q12(p->lut0, RNN_SAT16(gx[u] + gh[u] + p->bias[u]));
        const int32_t h15 = RNN_SAT16(rnn_requantize(h[u] - p->h_zero_point, p->h15_mult,
                                                     p->h15_shift));
        const int32_t nw = RNN_SAT16(rnn_rshift15(p->s2 * h15) + rnn_rshift15(p->s1 * a));
        /* sat16 first: the same int8, no int32 overflow (see rnn_rnn_cell_s16) */
        h[u] = (int8_t)RNN_SAT8(p->h_zero_point +
                                RNN_SAT16(rnn_requantize(nw, p->out_mult, p->out_shift)));
    }
}

#if defined(RNN_FAST_NEON)
/* fastrnn_plain for units 0 .. H - H mod 4; returns the units done */
static int32_t fastrnn_neon(const rnn_fast_params_s16 *p, const int16_t *gx, const int16_t *gh,
                            int8_t *h)
{
    const int32_t H = p->hidden;
    const int16_t *bias = p->bias;
    const int16_t *lut0 = p->lut0;
    const int16x4_t zp = vdup_n_s16((int16_t)p->h_zero_point);
    const int32_t hm = p->h15_mult;
    const int32x4_t hpre = vdupq_n_s32(RNN_RQ_PRE(p->h15_shift));
    const int32x4_t hpost = vdupq_n_s32(RNN_RQ_POST(p->h15_shift));
    const int32_t om = p->out_mult;
    const int32x4_t opre = vdupq_n_s32(RNN_RQ_PRE(p->out_shift));
    const int32x4_t opost = vdupq_n_s32(RNN_RQ_POST(p->out_shift));
    const int32_t s1 = p->s1;
    const int32_t s2 = p->s2;
    int32_t u;

    for (u = 0; u + 4 <= H; u += 4)
    {
        const int32x4_t sum = vaddw_s16(vaddl_s16(vld1_s16(gx + u), vld1_s16(gh + u)),
                                        vld1_s16(bias + u));
        const int32x4_t a = rnn_lut4_neon(lut0, vmovl_s16(vqmovn_s32(sum)));
        int32_t w;
        memcpy(&w, h + u, 4);
        {
            const int8x8_t h8 = vreinterpret_s8_s32(vdup_n_s32(w));
            const int16x4_t hd = vsub_s16(vget_low_s16(vmovl_s8(h8)), zp);
            const int32x4_t h15 = vmovl_s16(vqmovn_s32(rnn_rq4_neon(vmovl_s16(hd), hm, hpre,
                                                                    hpost)));
            const int32x4_t nw = vaddq_s32(vrshrq_n_s32(vmulq_n_s32(h15, s2), 15),
                                           vrshrq_n_s32(vmulq_n_s32(a, s1), 15));
            const int32x4_t nw16 = vmovl_s16(vqmovn_s32(nw));
            const int16x4_t o16 = vqadd_s16(vqmovn_s32(rnn_rq4_neon(nw16, om, opre, opost)), zp);
            const int32_t o4 =
                vget_lane_s32(vreinterpret_s32_s8(vqmovn_s16(vcombine_s16(o16, o16))), 0);
            memcpy(h + u, &o4, 4);
        }
    }
    return u;
}
#endif

#if defined(RNN_FAST_MVE)
/* fastrnn_plain for units 0 .. H - H mod 4; returns the units done */
static int32_t fastrnn_mve(const rnn_fast_params_s16 *p, const int16_t *gx, const int16_t *gh,
                           int8_t *h)
{
    const int32_t H = p->hidden;
    const int16_t *bias = p->bias;
    const int16_t *lut0 = p->lut0;
    const int32_t zp = p->h_zero_point;
    const int32_t hm = p->h15_mult;
    const int32_t hpre = RNN_RQ_PRE(p->h15_shift);
    const int32_t hpost = RNN_RQ_POST(p->h15_shift);
    const int32_t om = p->out_mult;
    const int32_t opre = RNN_RQ_PRE(p->out_shift);
    const int32_t opost = RNN_RQ_POST(p->out_shift);
    const int32_t s1 = p->s1;
    const int32_t s2 = p->s2;
    int32_t u;

    for (u = 0; u + 4 <= H; u += 4)
    {
        const int32x4_t sum = vaddq_s32(vaddq_s32(vldrhq_s32(gx + u), vldrhq_s32(gh + u)),
                                        vldrhq_s32(bias + u));
        const int32x4_t a = rnn_lut4_mve(lut0, rnn_sat16_mve(sum));
        const int32x4_t h15 =
            rnn_sat16_mve(rnn_rq4_mve(vsubq_n_s32(vldrbq_s32(h + u), zp), hm, hpre, hpost));
        const int32x4_t nw = rnn_sat16_mve(vaddq_s32(vrshrq_n_s32(vmulq_n_s32(h15, s2), 15),
                                                     vrshrq_n_s32(vmulq_n_s32(a, s1), 15)));
        /* sat8(zp + sat16(r)) = sat8(zp + r): |r| < 2^28, nothing wraps */
        const int32x4_t o = vaddq_n_s32(rnn_rq4_mve(nw, om, opre, opost), zp);
        vstrbq_s32(h + u, rnn_sat8_mve(o));
    }
    return u;
}
#endif

#if defined(RNN_FAST_DSP)
/* fastrnn_plain for every unit, h15_shift in [-1, 20] and out_shift in [-23, -2] */
static void fastrnn_dsp(const rnn_fast_params_s16 *p, const int16_t *gx, const int16_t *gh,
                        int8_t *h)
{
    const int32_t H = p->hidden;
    const int16_t *bias = p->bias;
    const int16_t *t0 = p->lut0 + 256;
    int32_t hp = 1 << (p->h15_shift + 1); /* h15 = rnn_smmulr(h hp + hz, hm) */
    const int32_t hz = -p->h_zero_point * hp;
    const int32_t hm = p->h15_mult;
    const int32_t s1 = p->s1;
    const int32_t s2 = p->s2;
    int32_t c14 = 1 << 14;
    const int32_t om = p->out_mult;
    const int32_t m = -1 - p->out_shift;              /* h = sat8((smmul(nw, om) + ko) >> m) */
    const int32_t ko = (1 << (m - 1)) + p->h_zero_point * (1 << m);
    int32_t u;

    /* opaque: GCC would fold the + 256 back into every lookup's address, turn h hp + hz
     * (one MLA) into a shift and an add, and 2^14 into immediates (an add more each) */
    __asm__("" : "+r"(t0), "+r"(hp), "+r"(c14));
    for (u = 0; u < H; ++u)
    {
        const int32_t a = rnn_lut_mid_dsp(t0, RNN_SAT16(gx[u] + gh[u] + bias[u]));
        const int32_t h15 = RNN_SAT16(rnn_smmulr(h[u] * hp + hz, hm));
        const int32_t nw = RNN_SAT16(((s2 * h15 + c14) >> 15) + ((s1 * a + c14) >> 15));
        h[u] = (int8_t)RNN_SAT8((rnn_smmul(nw, om) + ko) >> m);
    }
}
#endif

/* Refer to header file for details. */
void rnn_fastrnn_cell_s16(const rnn_fast_params_s16 *p, const int16_t *gx, const int16_t *gh,
                          int8_t *h)
{
#if defined(RNN_FAST_NEON) || defined(RNN_FAST_MVE)
    if (RNN_FAST_VEC_OK(p))
    {
#if defined(RNN_FAST_NEON)
        fastrnn_plain(p, gx, gh, h, fastrnn_neon(p, gx, gh, h));
#else
        fastrnn_plain(p, gx, gh, h, fastrnn_mve(p, gx, gh, h));
#endif
        return;
    }
#elif defined(RNN_FAST_DSP)
    if (RNN_FAST_DSP_OK(p))
    {
        fastrnn_dsp(p, gx, gh, h);
        return;
    }
#endif
    fastrnn_plain(p, gx, gh, h, 0);
}
