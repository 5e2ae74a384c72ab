/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_gru_cell_s16.c
 * Description: int8 GRU state update after rnn_gru_gates_s16: candidate n (Q0.15 by table),
 *              then h = n + z (h - n) in Q0.15, requantized to the int8 hidden state.
 *
 * NEON (AArch64, __ARM_NEON) and Helium (Cortex-M55, __ARM_FEATURE_MVE): four units at a
 * time in int32 lanes for either linear_before_reset, with or without clip, when
 * h15_shift <= 22 and out_shift <= 15 (a hidden state calibrated to about [-1, 1] gives
 * h15 shifts near +9, output shifts near -7). The same arithmetic as the C: each saturation once where the C has it,
 * rounding shifts by SRSHR / VRSHR (exact: no intermediate overflows), the tables as in
 * rnn_gru_gates_s16.c, and both requantizations rnn_requantize(x, m, s) in 32-bit lanes
 * without a branch on s: with a = max(s + 1, 0) and b = a - s >= 1,
 *   SRSHL(SQDMULH(x 2^a, m), -b) = (floor(x m 2^a / 2^31) + 2^(b-1)) >> b
 *                               = (x m 2^a + 2^(30+b)) >> (31+b) = (x m + 2^(30-s)) >> (31-s),
 * exact for m in [2^30, 2^31) when x 2^a fits int32 (|h - zp| <= 255, nw in int16: hence
 * the bounds above). The output saturates to int16 before zp is added (sat8(zp + sat16(r))
 * = sat8(zp + r) for |zp| <= 128; the int32 sum cannot wrap). The last H mod 4 units and
 * other shifts run the C below.
 * Cortex-M4/M7 (__ARM_FEATURE_DSP), h15_shift in [-1, 22] and out_shift <= -2: one unit at a
 * time in 32-bit words, h15 by SMMULR((h - zp) 2^(s+1), m), the output from the product's
 * high word (rnn_requantize's form for right shifts of 33 or more), SSAT; the lookups are
 * rnn_lut_q12's SMLAD over the entry pair. Other shifts and cores: the C below (SSAT where
 * there is one, 32-bit rounding shifts, the output saturated to int16 before zp is added).
 * KWS GRU (10 -> 154, linear_before_reset 1; `python benchmarks/kernels.py --gru`), this
 * kernel's own instructions a step, plain C (a7b8126) -> this file: cortex-a73 13,584 ->
 * 2,839, cortex-m4 20,969 -> 8,510, cortex-m55 20,049 -> 3,276.
 */

#include "rnn_nnfunctions.h"
#include "rnn_nn_support.h"
#include "rnn_cell_support.h"

#if defined(__ARM_NEON) && defined(__aarch64__)
#include <arm_neon.h>
#include <string.h>
#define RNN_GRU_NEON 1
#elif defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
#include <arm_mve.h>
#define RNN_GRU_MVE 1
#elif defined(__ARM_FEATURE_DSP) && !defined(__aarch64__) && defined(__GNUC__)
#define RNN_GRU_DSP 1
#endif

/* units [u0, H), as quant.py (cells/gru.py step_s8) */
static void cell_c(const rnn_gru_params_s16 *p, const int16_t *gx, const int16_t *gh,
                   const int16_t *zr, int8_t *h, int32_t u0)
{
    const int32_t H = p->hidden;
    const int16_t *bn = p->bias + 2 * H;
    const int16_t *xn = gx + 2 * H;
    const int16_t *hn = gh + 2 * H;
    const int16_t *lut1 = p->lut1;
    const int16_t *b2 = p->bias2;
    const int32_t clip = p->clip;
    const int32_t lbr = p->linear_before_reset;
    const int32_t zp = p->h_zero_point;
    int32_t u;

    for (u = u0; u < H; ++u)
    {
        const int32_t z = zr[u];
        int32_t npre, n, h15, nw;
        if (lbr)
        {
            const int32_t hh = RNN_SAT16(hn[u] + b2[u]);
            npre = RNN_SAT16(xn[u] + bn[u] + rnn_rshift15(zr[H + u] * hh));
        }
        else
        {
            npre = RNN_SAT16(xn[u] + hn[u] + bn[u]);
        }
        if (clip)
        {
            npre = npre < -clip ? -clip : (npre > clip ? clip : npre);
        }
        n = rnn_lut_q12(lut1, npre);
        h15 = RNN_SAT16(rnn_requantize(h[u] - zp, p->h15_mult, p->h15_shift));
        nw = RNN_SAT16(n + rnn_rshift15(z * (h15 - n)));
        /* sat8(zp + sat16(r)) = sat8(zp + r) for |zp| <= 128, and the int32 sum cannot wrap */
        h[u] = (int8_t)RNN_SAT8(zp + RNN_SAT16(rnn_requantize(nw, p->out_mult, p->out_shift)));
    }
}

#if defined(RNN_GRU_DSP)
/* cell_c for h15_shift in [-1, 22] and out_shift <= -2 (Cortex-M4/M7), both requantizations
 * in 32-bit words: h15 = SMMULR((h - zp) 2^(s+1), m) = ((h - zp) m + 2^(30-s)) >> (31-s)
 * exactly (|h - zp| <= 255: the shifted value fits, s + 1 <= 23); the output from the high
 * word of the product as rnn_requantize does for right shifts of 33 or more (|result| <
 * 2^14: zp + it cannot leave int32). */
static void cell_dsp(const rnn_gru_params_s16 *p, const int16_t *gx, const int16_t *gh,
                     const int16_t *zr, int8_t *h)
{
    const int32_t H = p->hidden;
    const int16_t *bn = p->bias + 2 * H;
    const int16_t *xn = gx + 2 * H;
    const int16_t *hn = gh + 2 * H;
    const int16_t *b2 = p->bias2;
    const int16_t *r = zr + H;
    const int16_t *lut1 = p->lut1;
    const int32_t clip = p->clip;
    const int32_t lbr = p->linear_before_reset;
    const int32_t zp = p->h_zero_point;
    const int32_t hm = p->h15_mult;
    const uint32_t hl = (uint32_t)(p->h15_shift + 1);
    const int32_t om = p->out_mult;
    const int32_t ohi = -2 - p->out_shift;
    int32_t u;

    for (u = 0; u < H; ++u)
    {
        int32_t npre, n, h15, nw, t;
        if (lbr)
        {
            npre = RNN_SAT16(xn[u] + bn[u] + rnn_rshift15(r[u] * RNN_SAT16(hn[u] + b2[u])));
        }
        else
        {
            npre = RNN_SAT16(xn[u] + hn[u] + bn[u]);
        }
        if (clip)
        {
            npre = npre < -clip ? -clip : (npre > clip ? clip : npre);
        }
        n = rnn_lut_q12(lut1, npre);
        h15 = RNN_SAT16(rnn_smmulr((int32_t)((uint32_t)(h[u] - zp) << hl), hm));
        nw = RNN_SAT16(n + rnn_rshift15(zr[u] * (h15 - n)));
        t = (int32_t)(((int64_t)nw * om) >> 32) >> ohi;
        h[u] = (int8_t)RNN_SAT8(zp + ((t + 1) >> 1));
    }
}
#endif

#if defined(RNN_GRU_NEON) || defined(RNN_GRU_MVE)
/* the vector paths' requantization shifts (the header's identity) */
static int32_t vector_shifts(const rnn_gru_params_s16 *p)
{
    return p->h15_shift <= 22 && p->out_shift <= 15;
}
#endif

#if defined(RNN_GRU_NEON)
/* sat16 of four int32 lanes, kept in int32 lanes */
static inline int32x4_t sat16_neon(int32x4_t v)
{
    return vmovl_s16(vqmovn_s32(v));
}

/* cell_c for units [0, H - H mod 4); returns the units done */
static int32_t cell_neon(const rnn_gru_params_s16 *p, const int16_t *gx, const int16_t *gh,
                         const int16_t *zr, int8_t *h)
{
    const int32_t H = p->hidden;
    const int16_t *bn = p->bias + 2 * H;
    const int16_t *xn = gx + 2 * H;
    const int16_t *hn = gh + 2 * H;
    const int16_t *lut1 = p->lut1;
    const int16_t *b2 = p->bias2;
    const int32_t clip = p->clip; /* locals: the int8 stores may alias *p */
    const int32_t lbr = p->linear_before_reset;
    const int32x4_t hi = vdupq_n_s32(clip);
    const int32x4_t lo = vdupq_n_s32(-clip);
    const int32x4_t zp = vdupq_n_s32(p->h_zero_point);
    const int32_t hm = p->h15_mult;
    const int32_t om = p->out_mult;
    const int32_t ha = p->h15_shift >= -1 ? p->h15_shift + 1 : 0;
    const int32_t oa = p->out_shift >= -1 ? p->out_shift + 1 : 0;
    const int32x4_t hsa = vdupq_n_s32(ha);
    const int32x4_t hsb = vdupq_n_s32(p->h15_shift - ha);
    const int32x4_t osa = vdupq_n_s32(oa);
    const int32x4_t osb = vdupq_n_s32(p->out_shift - oa);
    int32_t u;

    for (u = 0; u + 4 <= H; u += 4)
    {
        const int32x4_t z = vmovl_s16(vld1_s16(zr + u));
        int32x4_t npre, n, h8, h15, nw;
        int32_t w;
        if (lbr)
        {
            const int32x4_t r = vmovl_s16(vld1_s16(zr + H + u));
            const int32x4_t hh = sat16_neon(vaddl_s16(vld1_s16(hn + u), vld1_s16(b2 + u)));
            npre = sat16_neon(vaddq_s32(vaddl_s16(vld1_s16(xn + u), vld1_s16(bn + u)),
                                        vrshrq_n_s32(vmulq_s32(r, hh), 15)));
        }
        else
        {
            npre = sat16_neon(vaddw_s16(vaddl_s16(vld1_s16(xn + u), vld1_s16(hn + u)),
                                        vld1_s16(bn + u)));
        }
        if (clip)
        {
            npre = vmaxq_s32(vminq_s32(npre, hi), lo);
        }
        n = rnn_lut4_neon(lut1, npre);
        memcpy(&w, h + u, 4);
        h8 = vmovl_s16(vget_low_s16(vmovl_s8(vreinterpret_s8_s32(vdup_n_s32(w)))));
        h15 = sat16_neon(rnn_rq4_neon(vsubq_s32(h8, zp), hm, hsa, hsb));
        nw = sat16_neon(vaddq_s32(n, vrshrq_n_s32(vmulq_s32(z, vsubq_s32(h15, n)), 15)));
        {
            const int16x4_t o16 = vqmovn_s32(rnn_rq4_neon(nw, om, osa, osb));
            const int16x4_t h16 = vqmovn_s32(vaddw_s16(zp, o16));
            w = vget_lane_s32(vreinterpret_s32_s8(vqmovn_s16(vcombine_s16(h16, h16))), 0);
            memcpy(h + u, &w, 4);
        }
    }
    return u;
}
#endif

#if defined(RNN_GRU_MVE)
/* cell_c for units [0, H - H mod 4); returns the units done */
static int32_t cell_mve(const rnn_gru_params_s16 *p, const int16_t *gx, const int16_t *gh,
                        const int16_t *zr, int8_t *h)
{
    const int32_t H = p->hidden;
    const int16_t *bn = p->bias + 2 * H;
    const int16_t *xn = gx + 2 * H;
    const int16_t *hn = gh + 2 * H;
    const int16_t *lut1 = p->lut1;
    const int16_t *b2 = p->bias2;
    const int32_t clip = p->clip; /* locals: the int8 stores may alias *p */
    const int32_t lbr = p->linear_before_reset;
    const int32_t zp = p->h_zero_point;
    const int32_t hm = p->h15_mult;
    const int32_t om = p->out_mult;
    const int32_t ha = p->h15_shift >= -1 ? p->h15_shift + 1 : 0;
    const int32_t hb = p->h15_shift - ha;
    const int32_t oa = p->out_shift >= -1 ? p->out_shift + 1 : 0;
    const int32_t ob = p->out_shift - oa;
    int32_t u;

    for (u = 0; u + 4 <= H; u += 4)
    {
        const int32x4_t z = vldrhq_s32(zr + u);
        int32x4_t npre, n, h15, nw, hv;
        if (lbr)
        {
            const int32x4_t r = vldrhq_s32(zr + H + u);
            const int32x4_t hh = rnn_sat16_mve(vaddq_s32(vldrhq_s32(hn + u), vldrhq_s32(b2 + u)));
            npre = rnn_sat16_mve(vaddq_s32(vaddq_s32(vldrhq_s32(xn + u), vldrhq_s32(bn + u)),
                                       vrshrq_n_s32(vmulq_s32(r, hh), 15)));
        }
        else
        {
            npre = rnn_sat16_mve(vaddq_s32(vaddq_s32(vldrhq_s32(xn + u), vldrhq_s32(hn + u)),
                                       vldrhq_s32(bn + u)));
        }
        if (clip)
        {
            npre = vmaxq_s32(vminq_s32(npre, vdupq_n_s32(clip)), vdupq_n_s32(-clip));
        }
        n = rnn_lut4_mve(lut1, npre);
        h15 = rnn_sat16_mve(
            rnn_rq4_mve(vsubq_s32(vldrbq_s32(h + u), vdupq_n_s32(zp)), hm, ha, hb));
        nw = rnn_sat16_mve(vaddq_s32(n, vrshrq_n_s32(vmulq_s32(z, vsubq_s32(h15, n)), 15)));
        hv = vaddq_n_s32(rnn_sat16_mve(rnn_rq4_mve(nw, om, oa, ob)), zp);
        vstrbq_s32(h + u, vmaxq_s32(vminq_s32(hv, vdupq_n_s32(127)), vdupq_n_s32(-128)));
    }
    return u;
}
#endif

/* Refer to header file for details. */
void rnn_gru_cell_s16(const rnn_gru_params_s16 *p, const int16_t *gx, const int16_t *gh,
                      const int16_t *zr, int8_t *h)
{
#if defined(RNN_GRU_NEON)
    cell_c(p, gx, gh, zr, h, vector_shifts(p) ? cell_neon(p, gx, gh, zr, h) : 0);
#elif defined(RNN_GRU_MVE)
    cell_c(p, gx, gh, zr, h, vector_shifts(p) ? cell_mve(p, gx, gh, zr, h) : 0);
#elif defined(RNN_GRU_DSP)
    if (p->h15_shift >= -1 && p->h15_shift <= 22 && p->out_shift <= -2)
    {
        cell_dsp(p, gx, gh, zr, h);
        return;
    }
    cell_c(p, gx, gh, zr, h, 0);
#else
    cell_c(p, gx, gh, zr, h, 0);
#endif
}
