/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_fastgrnn_cell_s16.c
 * Description: int8 FastGRNN update: with p = gx + gh, z = gate(p + b_g) and h~ = act(p + b_h)
 *              by table; h = z h + (s1 (1 - z) + s2) h~ in Q0.15, requantized to int8.
 *
 * The plain C below is the reference (the host, the last H mod 4 units on NEON and Helium,
 * every call whose shifts a path does not take). Its bounds, which every path uses: z, a,
 * h15 and coef are int16 and s1, s2 Q0.15 constants, so |z h15|, |coef a| <= 2^30 and
 * s1 (32768 - z) lies in [-2^31, 2^31 - 2^16]: plus 2^14 none leaves int32, and the rounding
 * shifts by 15 are 32-bit (rnn_rshift15, SRSHR / VRSHR #15, exact for any int32). The two
 * requantizations take rnn_cell_support.h's 32-bit forms with |h - zp| <= 255 (b = 8) and
 * |nw| <= 2^15 (b = 15, nw is a sat16 value).
 * - NEON (AArch64), RNN_RQ_FAST(h15_shift, 8) and RNN_RQ_FAST(out_shift, 15): four units a
 *   pass in int32 lanes: p and the two gate inputs by SQADD of int16 lanes (the C's sat16
 *   of int16 sums), the tables by rnn_lut4_neon, h15 and the output by rnn_rq4_neon
 *   (SQDMULH, SRSHL), the products by SMULL / MUL then SRSHR #15, sat16 by SQXTN, the zero
 *   point by SQADD and SQXTN to int8 (sat8(zp + sat16(r)) = sat8(sat16(sat16(r) + zp))).
 * - Helium (Cortex-M55), the same condition: four units a pass (widening loads, the
 *   tables by rnn_lut4_mve's gathers, VQDMULH / VRSHL), sat16 as VQSHL #16 then VSHR #16
 *   (VQSHL saturates v 2^16 to int32, which is sat16(v) 2^16; no constant registers), the
 *   zero point added before sat8 (|rq| < 2^28: sat8(zp + sat16(rq)) = sat8(zp + rq)), a
 *   narrowing byte store.
 * - DSP (Cortex-M4/M7), h15_shift in [-1, 20] and out_shift in [-23, -2]: every unit, two a
 *   pass: the three int16 sums of both by QADD16 (one word load per array), both lookups'
 *   weight words (128 - f, f) from one AND and one RSB of the two fractions (0x00800080 - f2
 *   borrows nothing) and PKHBT / PKHTB, then SMLAD as rnn_lut_mid_dsp. Per unit:
 *   h15 = SSAT(SMMULR(h 2^(s+1) - zp 2^(s+1), m)), which is rq(h - zp, m, s) for s >= -1
 *   (scaled by 2^(s+1), the rounding term 2^(30-s) is 2^31; |h - zp| 2^(s+1) < 2^30);
 *   coef = SSAT(s1 + s2 + ((2^14 - s1 z) >> 15)) (s1 2^15 is a multiple of 2^15, so that is
 *   rnn_rshift15(s1 (32768 - z)) + s2); the products plus 2^14 by MLA; the output
 *   SSAT8((SMMUL(nw, m) + 2^(k-1) + zp 2^k) >> k), k = -1 - out_shift in [1, 22]: the high
 *   word form rnn_requantize takes for right shifts of 33 or more, with the zero point
 *   folded in (|SMMUL| <= 2^14, |zp| 2^k + 2^(k-1) + 2^14 < 2^31; |rq| <= 2^14, so sat16 is
 *   none). An odd last unit the same way, from one pair of lookups.
 * Measured (exact QEMU counts of rnn_fastgrnn_cell_s16 per unit and step, I = 32, H = 64,
 * 8 steps, one `_run`, the layer of benchmarks/cells.py; plain C -> this file):
 * cortex-m4 152.3 -> 44.7, cortex-m55 144.4 -> 19.0, cortex-a73 110.5 -> 22.4. On the M4 the
 * pair loop needs about 19 registers (6 pointers, 2 tables, 11 constants): about 9 of the
 * 45 are stack loads. Two loops per block of 16 units (the lookups into a stack buffer,
 * then the update) counted about 52 a unit in GCC's assembly, so it is not kept.
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

/* The reference (codegen/cells/fastgrnn.py step_s8), from unit u0 on. The products are kept
 * in 32 bits: z, a, h15 and coef are int16, so |z h15|, |coef a| <= 2^30, and
 * s1 (32768 - z) lies in [-2^31, 2^31 - 2^16] (|s1| <= 32768, 32768 - z in [1, 65536]); each
 * plus 2^14 stays inside int32, so rnn_rshift15 is rnn_rshift_round(., 15). */
static void fastgrnn_plain(const rnn_fast_params_s16 *p, const int16_t *gx, const int16_t *gh,
                           int8_t *h, int32_t u0)
{
    const int32_t H = p->hidden;
    int32_t u;

    for (u = u0; u < H; ++u)
    {
        const int32_t pre = RNN_SAT16(gx[u] + gh[u]);
        const int32_t z = rnn_lut_q12(p->lut0, RNN_SAT16(pre + p->bias2[u]));
        const int32_t a = rnn_lut_q12(p->lut1, RNN_SAT16(pre + p->bias2[H + u]));
        const int32_t h15 = RNN_SAT16(rnn_requantize(h[u] - p->h_zero_point, p->h15_mult,
                                                     p->h15_shift));
        const int32_t coef = RNN_SAT16(rnn_rshift15(p->s1 * (32768 - z)) + p->s2);
        const int32_t nw = RNN_SAT16(rnn_rshift15(z * h15) + rnn_rshift15(coef * a));
        /* sat16 first: the same int8, no int32 overflow (see rnn_rnn_cell_s16) */
        h[u] = (int8_t)RNN_SAT8(p->h_zero_point +
                                RNN_SAT16(rnn_requantize(nw, p->out_mult, p->out_shift)));
    }
}

#if defined(RNN_FAST_NEON)
/* fastgrnn_plain for units 0 .. H - H mod 4; returns the units done */
static int32_t fastgrnn_neon(const rnn_fast_params_s16 *p, const int16_t *gx, const int16_t *gh,
                             int8_t *h)
{
    const int32_t H = p->hidden;
    const int16_t *bg = p->bias2;
    const int16_t *bu = p->bias2 + H;
    const int16_t *lut0 = p->lut0;
    const int16_t *lut1 = p->lut1;
    const int16x4_t zp = vdup_n_s16((int16_t)p->h_zero_point);
    const int32_t hm = p->h15_mult;
    const int32x4_t hpre = vdupq_n_s32(RNN_RQ_PRE(p->h15_shift));
    const int32x4_t hpost = vdupq_n_s32(RNN_RQ_POST(p->h15_shift));
    const int32_t om = p->out_mult;
    const int32x4_t opre = vdupq_n_s32(RNN_RQ_PRE(p->out_shift));
    const int32x4_t opost = vdupq_n_s32(RNN_RQ_POST(p->out_shift));
    const int32x4_t one = vdupq_n_s32(32768);
    const int32x4_t s2 = vdupq_n_s32(p->s2);
    const int32_t s1 = p->s1;
    int32_t u;

    for (u = 0; u + 4 <= H; u += 4)
    {
        const int16x4_t pre = vqadd_s16(vld1_s16(gx + u), vld1_s16(gh + u));
        const int32x4_t z = rnn_lut4_neon(lut0, vmovl_s16(vqadd_s16(pre, vld1_s16(bg + u))));
        const int32x4_t a = rnn_lut4_neon(lut1, vmovl_s16(vqadd_s16(pre, vld1_s16(bu + u))));
        int32_t w;
        memcpy(&w, h + u, 4);
        {
            const int8x8_t h8 = vreinterpret_s8_s32(vdup_n_s32(w));
            const int16x4_t hd = vsub_s16(vget_low_s16(vmovl_s8(h8)), zp);
            const int16x4_t h15 = vqmovn_s32(rnn_rq4_neon(vmovl_s16(hd), hm, hpre, hpost));
            const int16x4_t coef = vqmovn_s32(
                vaddq_s32(vrshrq_n_s32(vmulq_n_s32(vsubq_s32(one, z), s1), 15), s2));
            const int32x4_t nw = vaddq_s32(vrshrq_n_s32(vmull_s16(vmovn_s32(z), h15), 15),
                                           vrshrq_n_s32(vmull_s16(coef, vmovn_s32(a)), 15));
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
/* fastgrnn_plain for units 0 .. H - H mod 4; returns the units done */
static int32_t fastgrnn_mve(const rnn_fast_params_s16 *p, const int16_t *gx, const int16_t *gh,
                            int8_t *h)
{
    const int32_t H = p->hidden;
    const int16_t *bg = p->bias2;
    const int16_t *bu = p->bias2 + H;
    const int16_t *lut0 = p->lut0;
    const int16_t *lut1 = p->lut1;
    const int32_t zp = p->h_zero_point;
    const int32_t hm = p->h15_mult;
    const int32_t hpre = RNN_RQ_PRE(p->h15_shift);
    const int32_t hpost = RNN_RQ_POST(p->h15_shift);
    const int32_t om = p->out_mult;
    const int32_t opre = RNN_RQ_PRE(p->out_shift);
    const int32_t opost = RNN_RQ_POST(p->out_shift);
    const int32_t s1n = -p->s1; /* s1 (32768 - z) = (z - 32768) (-s1) */
    const int32_t s2 = p->s2;
    int32_t u;

    for (u = 0; u + 4 <= H; u += 4)
    {
        const int32x4_t pre = rnn_sat16_mve(vaddq_s32(vldrhq_s32(gx + u), vldrhq_s32(gh + u)));
        const int32x4_t z = rnn_lut4_mve(lut0, rnn_sat16_mve(vaddq_s32(pre, vldrhq_s32(bg + u))));
        const int32x4_t a = rnn_lut4_mve(lut1, rnn_sat16_mve(vaddq_s32(pre, vldrhq_s32(bu + u))));
        const int32x4_t h15 =
            rnn_sat16_mve(rnn_rq4_mve(vsubq_n_s32(vldrbq_s32(h + u), zp), hm, hpre, hpost));
        const int32x4_t coef = rnn_sat16_mve(
            vaddq_n_s32(vrshrq_n_s32(vmulq_n_s32(vsubq_n_s32(z, 32768), s1n), 15), s2));
        const int32x4_t nw = rnn_sat16_mve(vaddq_s32(vrshrq_n_s32(vmulq_s32(z, h15), 15),
                                                     vrshrq_n_s32(vmulq_s32(coef, a), 15)));
        /* sat8(zp + sat16(r)) = sat8(zp + r): |r| < 2^28, nothing wraps */
        const int32x4_t o = vaddq_n_s32(rnn_rq4_mve(nw, om, opre, opost), zp);
        vstrbq_s32(h + u, rnn_sat8_mve(o));
    }
    return u;
}
#endif

#if defined(RNN_FAST_DSP)
/* the parameters of fastgrnn_dsp's unit, read once (h, int8_t, may alias p) */
typedef struct
{
    int32_t hp, hz, hm; /* h15 = rnn_smmulr(h hp + hz, hm) */
    int32_t ns1, s12;   /* coef = sat16(s12 + ((2^14 - s1 z) >> 15)) */
    int32_t c14;        /* 2^14 */
    int32_t om, ko, m;  /* h = sat8((smmul(nw, om) + ko) >> m) */
} fastgrnn_dsp_k;

/* one unit from its gate z and candidate a (Q0.15), h updated in place */
static inline __attribute__((always_inline)) void fastgrnn_dsp_unit(const fastgrnn_dsp_k *k,
                                                                    int32_t z, int32_t a,
                                                                    int8_t *h)
{
    const int32_t h15 = RNN_SAT16(rnn_smmulr(*h * k->hp + k->hz, k->hm));
    const int32_t coef = RNN_SAT16(k->s12 + ((k->ns1 * z + k->c14) >> 15));
    const int32_t nw = RNN_SAT16(((z * h15 + k->c14) >> 15) + ((coef * a + k->c14) >> 15));
    *h = (int8_t)RNN_SAT8((rnn_smmul(nw, k->om) + k->ko) >> k->m);
}

/* rnn_lut_mid_dsp of the two Q3.12 values of x2 (low half: lo, high half: hi): the weight
 * words (128 - f, f) of both from the two fractions at once (0x00800080 - f2 borrows
 * nothing: f <= 127), the indices by SBFX / ASR */
static inline __attribute__((always_inline)) void lut2_dsp(const int16_t *t, int32_t x2,
                                                           int32_t *lo, int32_t *hi)
{
    const int32_t f2 = x2 & 0x007F007F;
    const int32_t g2 = 0x00800080 - f2;
    int32_t pl, ph;
    memcpy(&pl, t + ((int32_t)((uint32_t)x2 << 16) >> 23), sizeof pl);
    memcpy(&ph, t + (x2 >> 23), sizeof ph);
    *lo = __smlad(pl, rnn_pkhbt16(g2, f2), 64) >> 7;
    *hi = __smlad(ph, rnn_pkhtb16(f2, g2), 64) >> 7;
}

/* fastgrnn_plain for every unit, h15_shift in [-1, 20] and out_shift in [-23, -2]: two
 * units a pass, their int16 sums by QADD16 (sat16 of each half) */
static void fastgrnn_dsp(const rnn_fast_params_s16 *p, const int16_t *gx, const int16_t *gh,
                         int8_t *h)
{
    const int32_t H = p->hidden;
    const int16_t *bg = p->bias2;
    const int16_t *bu = p->bias2 + H;
    const int16_t *t0 = p->lut0 + 256;
    const int16_t *t1 = p->lut1 + 256;
    fastgrnn_dsp_k k;
    int32_t u;

    k.hp = 1 << (p->h15_shift + 1);
    k.hz = -p->h_zero_point * k.hp;
    k.c14 = 1 << 14;
    k.hm = p->h15_mult;
    k.ns1 = -p->s1;
    k.s12 = p->s1 + p->s2;
    k.om = p->out_mult;
    k.m = -1 - p->out_shift;
    k.ko = (1 << (k.m - 1)) + p->h_zero_point * (1 << k.m);
    /* opaque: GCC would fold the + 256 back into every lookup's address, and h hp + hz
     * (one MLA) would become a shift and an add */
    __asm__("" : "+r"(t0), "+r"(t1), "+r"(k.hp), "+r"(k.c14));
    for (u = 0; u + 2 <= H; u += 2)
    {
        int32_t g, b, x, z0, z1, a0, a1;
        memcpy(&g, gx + u, sizeof g);
        memcpy(&b, gh + u, sizeof b);
        g = __qadd16(g, b);
        memcpy(&b, bg + u, sizeof b);
        x = __qadd16(g, b);
        lut2_dsp(t0, x, &z0, &z1);
        memcpy(&b, bu + u, sizeof b);
        x = __qadd16(g, b);
        lut2_dsp(t1, x, &a0, &a1);
        fastgrnn_dsp_unit(&k, z0, a0, h + u);
        fastgrnn_dsp_unit(&k, z1, a1, h + u + 1);
    }
    if (u < H)
    {
        const int32_t pre = RNN_SAT16(gx[u] + gh[u]);
        fastgrnn_dsp_unit(&k, rnn_lut_mid_dsp(t0, RNN_SAT16(pre + bg[u])),
                          rnn_lut_mid_dsp(t1, RNN_SAT16(pre + bu[u])), h + u);
    }
}
#endif

/* Refer to header file for details. */
void rnn_fastgrnn_cell_s16(const rnn_fast_params_s16 *p, const int16_t *gx, const int16_t *gh,
                           int8_t *h)
{
#if defined(RNN_FAST_NEON) || defined(RNN_FAST_MVE)
    if (RNN_FAST_VEC_OK(p))
    {
#if defined(RNN_FAST_NEON)
        fastgrnn_plain(p, gx, gh, h, fastgrnn_neon(p, gx, gh, h));
#else
        fastgrnn_plain(p, gx, gh, h, fastgrnn_mve(p, gx, gh, h));
#endif
        return;
    }
#elif defined(RNN_FAST_DSP)
    if (RNN_FAST_DSP_OK(p))
    {
        fastgrnn_dsp(p, gx, gh, h);
        return;
    }
#endif
    fastgrnn_plain(p, gx, gh, h, 0);
}
