/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_gru_gates_s16.c
 * Description: int8 GRU update and reset gates: z, r (Q0.15) into zr[0:2H]; with
 *              linear_before_reset 0 also r * h as int8 (the input of the R_h product).
 *
 * NEON (AArch64, __ARM_NEON): four gates at a time in int32 lanes, the same arithmetic:
 * gx + gh + bias saturated once (SQXTN), the optional clip by SMIN/SMAX, each table
 * lookup's two neighbouring entries read as one 32-bit word per lane (the only scalar
 * part) and interpolated in vector; r * (h - zp) rounded by SRSHR (exact: the product is
 * below 2^24). The last 2H mod 4 gates and H mod 4 units of r * h run the C loops.
 * Helium (Cortex-M55, __ARM_FEATURE_MVE): the same four lanes, the table entries by two
 * gathers (VLDRH.S32 with shifted offsets), the same C tails (predicated passes measured
 * more: a VPST before each load).
 * Cortex-M4/M7 and plain C: the C loops, with SSAT (__ARM_FEATURE_SAT), the clip test out
 * of the loop and 32-bit rounding shifts (the lookup is rnn_lut_q12's SMLAD over the pair).
 * KWS GRU (10 -> 154, linear_before_reset 1; `python benchmarks/kernels.py --gru`), this
 * kernel's own instructions a step, plain C (a7b8126) -> this file: cortex-a73 7,099 ->
 * 2,800, cortex-m4 7,731 -> 5,566, cortex-m55 8,042 -> 2,060.
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
#endif

/* the gates z, r of units [u0, 2H) */
static void gates_c(const rnn_gru_params_s16 *p, const int16_t *gx, const int16_t *gh,
                    int16_t *zr, int32_t u0)
{
    const int32_t H = p->hidden;
    const int16_t *bias = p->bias;
    const int16_t *lut0 = p->lut0;
    const int32_t clip = p->clip;
    int32_t u;

    if (clip == 0)
    {
        for (u = u0; u < 2 * H; ++u)
        {
            zr[u] = (int16_t)rnn_lut_q12(lut0, RNN_SAT16(gx[u] + gh[u] + bias[u]));
        }
        return;
    }
    for (u = u0; u < 2 * H; ++u)
    {
        int32_t v = RNN_SAT16(gx[u] + gh[u] + bias[u]);
        v = v < -clip ? -clip : (v > clip ? clip : v);
        zr[u] = (int16_t)rnn_lut_q12(lut0, v);
    }
}

/* r * h as int8 for units [u0, H) (r: zr[H:2H], all written) */
static void rh_c(const rnn_gru_params_s16 *p, const int8_t *h, const int16_t *zr, int8_t *rh,
                 int32_t u0)
{
    const int32_t H = p->hidden;
    const int32_t zp = p->h_zero_point;
    int32_t u;

    /* |r (h - zp)| <= 2^15 * 255 */
    for (u = u0; u < H; ++u)
    {
        rh[u] = (int8_t)RNN_SAT8(zp + rnn_rshift15(zr[H + u] * (h[u] - zp)));
    }
}

#if defined(RNN_GRU_NEON)
/* four int8 values widened to int32 lanes */
static inline int32x4_t load4_s8_neon(const int8_t *a)
{
    int32_t w;
    memcpy(&w, a, 4);
    return vmovl_s16(vget_low_s16(vmovl_s8(vreinterpret_s8_s32(vdup_n_s32(w)))));
}

/* four int32 lanes saturated to int8 and stored */
static inline void store4_s8_neon(int8_t *a, int32x4_t v)
{
    const int16x4_t v16 = vqmovn_s32(v);
    const int32_t w = vget_lane_s32(vreinterpret_s32_s8(vqmovn_s16(vcombine_s16(v16, v16))), 0);
    memcpy(a, &w, 4);
}

/* gates_c for gates [0, 2H - 2H mod 4); returns the gates done */
static int32_t gates_neon(const rnn_gru_params_s16 *p, const int16_t *gx, const int16_t *gh,
                          int16_t *zr)
{
    const int32_t H = p->hidden;
    const int16_t *bias = p->bias;
    const int16_t *lut0 = p->lut0;
    const int32_t clip = p->clip;
    const int32x4_t hi = vdupq_n_s32(clip);
    const int32x4_t lo = vdupq_n_s32(-clip);
    int32_t u;

    for (u = 0; u + 4 <= 2 * H; u += 4)
    {
        int32x4_t v = vmovl_s16(vqmovn_s32(
            vaddw_s16(vaddl_s16(vld1_s16(gx + u), vld1_s16(gh + u)), vld1_s16(bias + u))));
        if (clip)
        {
            v = vmaxq_s32(vminq_s32(v, hi), lo);
        }
        vst1_s16(zr + u, vmovn_s32(rnn_lut4_neon(lut0, v)));
    }
    return u;
}

/* rh_c for units [0, H - H mod 4); returns the units done */
static int32_t rh_neon(const rnn_gru_params_s16 *p, const int8_t *h, const int16_t *zr,
                       int8_t *rh)
{
    const int32_t H = p->hidden;
    const int32x4_t zp = vdupq_n_s32(p->h_zero_point);
    int32_t u;

    for (u = 0; u + 4 <= H; u += 4)
    {
        const int32x4_t r = vmovl_s16(vld1_s16(zr + H + u));
        const int32x4_t d = vsubq_s32(load4_s8_neon(h + u), zp);
        store4_s8_neon(rh + u, vaddq_s32(zp, vrshrq_n_s32(vmulq_s32(r, d), 15)));
    }
    return u;
}
#endif

#if defined(RNN_GRU_MVE)
/* gates_c for gates [0, 2H - 2H mod 4); returns the gates done */
static int32_t gates_mve(const rnn_gru_params_s16 *p, const int16_t *gx, const int16_t *gh,
                         int16_t *zr)
{
    const int32_t H = p->hidden;
    const int16_t *bias = p->bias;
    const int16_t *lut0 = p->lut0;
    const int32_t clip = p->clip;
    int32_t u;

    for (u = 0; u + 4 <= 2 * H; u += 4)
    {
        int32x4_t v = vaddq_s32(vaddq_s32(vldrhq_s32(gx + u), vldrhq_s32(gh + u)),
                                vldrhq_s32(bias + u));
        v = vmaxq_s32(vminq_s32(v, vdupq_n_s32(32767)), vdupq_n_s32(-32768));
        if (clip)
        {
            v = vmaxq_s32(vminq_s32(v, vdupq_n_s32(clip)), vdupq_n_s32(-clip));
        }
        vstrhq_s32(zr + u, rnn_lut4_mve(lut0, v));
    }
    return u;
}

/* rh_c for units [0, H - H mod 4); returns the units done */
static int32_t rh_mve(const rnn_gru_params_s16 *p, const int8_t *h, const int16_t *zr,
                      int8_t *rh)
{
    const int32_t H = p->hidden;
    const int32_t zp = p->h_zero_point;
    int32_t u;

    for (u = 0; u + 4 <= H; u += 4)
    {
        const int32x4_t r = vldrhq_s32(zr + H + u);
        const int32x4_t d = vsubq_s32(vldrbq_s32(h + u), vdupq_n_s32(zp));
        const int32x4_t v = vaddq_n_s32(vrshrq_n_s32(vmulq_s32(r, d), 15), zp);
        vstrbq_s32(rh + u, vmaxq_s32(vminq_s32(v, vdupq_n_s32(127)), vdupq_n_s32(-128)));
    }
    return u;
}
#endif

/* Refer to header file for details. */
void rnn_gru_gates_s16(const rnn_gru_params_s16 *p, const int16_t *gx, const int16_t *gh,
                       const int8_t *h, int16_t *zr, int8_t *rh)
{
#if defined(RNN_GRU_NEON)
    gates_c(p, gx, gh, zr, gates_neon(p, gx, gh, zr));
    if (rh)
    {
        rh_c(p, h, zr, rh, rh_neon(p, h, zr, rh));
    }
#elif defined(RNN_GRU_MVE)
    gates_c(p, gx, gh, zr, gates_mve(p, gx, gh, zr));
    if (rh)
    {
        rh_c(p, h, zr, rh, rh_mve(p, h, zr, rh));
    }
#else
    gates_c(p, gx, gh, zr, 0);
    if (rh)
    {
        rh_c(p, h, zr, rh, 0);
    }
#endif
}
