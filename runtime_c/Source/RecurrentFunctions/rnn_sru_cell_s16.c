/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_sru_cell_s16.c
 * Description: int8 SRU cell update after the W x product: f and r gates in Q3.12 (W x +
 *              bias + v * c, v * c requantized like LSTM peepholes), sigmoid by table
 *              (Q0.15), int16 cell state with scale 2^-cell_exp, h = r c + (1 - r) x' summed
 *              in Q.15 and requantized to int8 (rnn_sru_unit in rnn_nn_support.h). Mirrors
 *              cells/sru.py step_s8 (docs/int8.md).
 *
 * The plain C (rnn_sru_unit) is the reference: every unit on the host, the last H mod 4
 * units on NEON and Helium, and every call whose parameters the fast paths below do not
 * cover (sru_fast: cell_exp in 0..15, int8 zero points, each requantization's RNN_RQ_FAST
 * with the bound below; every calibrated model tried meets it: cell_exp 8..15, v_shift
 * -9..-21, out_shift -4..-14, x15_shift 6..9). Fast paths, both forms (projection,
 * I != H: x' = W_p x from gx[3H:4H]; highway, I == H: x' = rq(x - x_zp, x15_mult,
 * x15_shift)), the projection test hoisted out of the loops (each compiled twice):
 * - NEON (AArch64): four units at a time in int32 lanes, the saturating gate sums in int16
 *   lanes (SQADD: sat16(sat16(a) + sat16(b)) exactly), the lookups by rnn_lut4_neon, the
 *   requantizations by rnn_rq4_neon (SQDMULH + SRSHL), the rounding shifts SRSHR/SRSHL.
 * - Helium (Cortex-M55): four units at a time, widening loads (VLDRH.S32, VLDRB.S32),
 *   the lookups by gathers (rnn_lut4_mve), every saturation by VQSHL (rnn_sat16_mve: no
 *   constant registers, of which Helium has few), rnn_rq4_mve, VRSHR/VRSHL.
 * - DSP (Cortex-M4/M7): two units a pass in 32-bit arithmetic (sru_dsp_pairs: out_shift in
 *   -23..-2), the int16 inputs read as word pairs and summed by QADD16, the lookups as one
 *   SMLAD each straight from the packed halves, the requantizations by SMMLA (its
 *   accumulator adds the rounding term), the rounding shifts by SMMULR; an odd last unit
 *   and other output shifts one unit at a time (sru_dsp_units, rnn_rq_dsp for the output).
 *
 * Bounds and identities (f, r: any table output in [-32768, 32767], so 32768 - f and
 * 32768 - r lie in [1, 65536]; c, gate sums: int16; |x - x_zp| <= 255):
 * - v c: |v c| <= 2^30 (b = 30); RNN_RQ_FAST(v_shift, 30) means v_shift <= -2, where the
 *   pre-shift max(v_shift + 1, 0) (or + 2 on DSP) is 0: the requantization is the doubling
 *   high word (or SMMUL) then a rounding shift right by -v_shift (-1 - v_shift on DSP).
 * - c' = sat16(round(f c / 2^15) + round((32768 - f) wx / 2^(27 - k))): f c in
 *   [-2^30 + 2^15, 2^30], (32768 - f) wx in [-2^31, 2^31 - 2^16]: both products are exact
 *   int32. SRSHR/SRSHL (VRSHR/VRSHL) round without intermediate overflow; on DSP
 *   (f c + 2^14) >> 15 cannot overflow, and round(v / 2^n) = SMMULR(v, 2^(32 - n)) =
 *   floor((v 2^(32 - n) + 2^31) / 2^32) for n = 27 - k in 12..27 (any int32 v).
 * - r c' / 2^k rounded: |r c'| <= 2^30, so |rc| <= 2^(30 - k); (v + 2^(k - 1)) >> k in
 *   32 bits for k >= 1 (|v| + 2^(k-1) < 2^31).
 * - The highway term round((32768 - r) x' / 2^15) (x' = hw15 of rnn_sru_unit, whose 64-bit
 *   product this replaces) is the rounding high word of A B with A = (32768 - r) 2^14 in
 *   [2^14, 2^30] and B = x' 2^2 (VQRDMULH: floor((2 A B + 2^31) / 2^32), never saturating as
 *   A > 0) or B = x' 2^3 (SMMULR: floor((A B + 2^31) / 2^32)); both are floor((a x' 2^17 +
 *   2^31) / 2^32) = floor((a x' + 2^14) / 2^15), exact as long as |x' 2^3| < 2^31:
 *   projection x' = sat16(.) 2^3, |x'| <= 2^18, so |term| <= 2^19; highway
 *   x' = rq(x - x_zp) with RNN_RQ_FAST(x15_shift, 8) (x15_shift <= 20), |x'| <=
 *   255 2^max(x15_shift, 0) < 2^28 and |term| <= 2 |x'| < 2^(9 + max(x15_shift, 0)).
 * - total = rc + term: |total| <= 2^(30 - k) + 2^e (e = 19, or 9 + max(x15_shift, 0) <= 29)
 *   < 2^31, so rnn_sru_unit's int64 total never reaches its int32 clamp, and the output
 *   requantization has b = max(30 - k, e) + 1 (RNN_RQ_FAST(out_shift, b)); its result is at
 *   most 2^28 in magnitude, so the zero point is added in int32 before the saturation to int8
 *   (the same int8 as rnn_sru_unit's sat8(zp + sat16(.))).
 * Checked beyond the tests (tests/kernels/test_sru_cell_s16.py) by 100,000 random calls per
 * board (H 1..13, every parameter drawn inside sru_fast, out_shift at its bound a quarter of
 * the time, random full-range tables, inputs at the int16 limits one time in four) against
 * rnn_sru_unit on cortex-a73, m4, m7 and m55: no difference.
 *
 * Measured (exact QEMU counts, instructions of rnn_sru_cell_s16 per unit and step, I=32,
 * H=64, 8 steps: python /tmp/lead/cells/prof.py sru cortex-m4,cortex-m55,cortex-a73 int8;
 * the highway the same with I=64, 3H rows):
 *                 projection       highway
 *   cortex-m4     279.3 -> 70.8    302.3 -> 80.9
 *   cortex-m55    259.4 -> 30.8    272.4 -> 31.3
 *   cortex-a73    170.5 -> 26.7    176.5 -> 28.0
 * What remains: on NEON the lookups (four lane extractions, address computations and lane
 * loads each: about 40 of the 100 instructions of four units); on Helium about 25 of the 125
 * are address arithmetic and stack reloads (eleven streams); on the M4 about 16 of the 132
 * of a pair reload values spilled to the stack (18 live values for 13 registers), a number
 * that moves by +-5 with unrelated code changes (GCC 12's allocation).
 */

#include "rnn_nnfunctions.h"
#include "rnn_nn_support.h"
#include "rnn_cell_support.h"

#if defined(__ARM_NEON) && defined(__aarch64__)
#include <arm_neon.h>
#include <string.h>
#define RNN_CELL_NEON 1
#elif defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
#include <arm_mve.h>
#define RNN_CELL_MVE 1
#elif defined(__ARM_FEATURE_DSP) && defined(__ARM_FEATURE_SIMD32) && !defined(__aarch64__) && \
    defined(__GNUC__)
#include <string.h>
#define RNN_CELL_DSP 1
#endif

#if defined(RNN_CELL_NEON) || defined(RNN_CELL_MVE) || defined(RNN_CELL_DSP)
/* The fast paths' parameters (see the bounds above): cell_exp in 0..15 (the quantizer's
 * range), each requantization's RNN_RQ_FAST with its bound, zero points of int8 tensors. */
static int32_t sru_fast(const rnn_sru_params_s16 *p)
{
    const int32_t k = p->cell_exp;
    int32_t e = 19; /* the highway term's bound 2^e */
    int32_t b;
    if (k < 0 || k > 15 || !RNN_RQ_FAST(p->v_shift, 30) || p->h_zero_point < -128 ||
        p->h_zero_point > 127)
    {
        return 0;
    }
    if (!p->projection)
    {
        if (!RNN_RQ_FAST(p->x15_shift, 8) || p->x_zero_point < -128 || p->x_zero_point > 127)
        {
            return 0;
        }
        e = 9 + (p->x15_shift > 0 ? p->x15_shift : 0);
    }
    b = (30 - k > e ? 30 - k : e) + 1;
    return RNN_RQ_FAST(p->out_shift, b);
}
#endif

#if defined(RNN_CELL_NEON)
/* sat16(a + b) of four int16 values */
static inline int16x4_t sum4(const int16_t *a, const int16_t *b)
{
    return vqadd_s16(vld1_s16(a), vld1_s16(b));
}

/* four units at a time (proj: a constant in each call below, so each loop is compiled
 * without its test); returns the units done */
static inline __attribute__((always_inline)) int32_t sru_neon_loop(
    const rnn_sru_params_s16 *p, const int16_t *gx, const int8_t *x, int16_t *c, int8_t *h,
    const int32_t proj)
{
    const int32_t H = p->hidden;
    const int16_t *b = p->bias;
    const int16_t *v = p->v;
    const int16_t *lut = p->lut0;
    const int32_t vm = p->v_mult;
    const int32x4_t vpost = vdupq_n_s32(p->v_shift); /* v_shift <= -2: no pre-shift */
    const int32x4_t cw_shift = vdupq_n_s32(p->cell_exp - 27);
    const int32x4_t rc_shift = vdupq_n_s32(-p->cell_exp);
    const int32_t xm = p->x15_mult;
    const int32x4_t xpre = vdupq_n_s32(RNN_RQ_PRE(p->x15_shift));
    const int32x4_t xpost = vdupq_n_s32(RNN_RQ_POST(p->x15_shift));
    const int16x4_t xzp = vdup_n_s16((int16_t)p->x_zero_point);
    const int32_t om = p->out_mult;
    const int32x4_t opre = vdupq_n_s32(RNN_RQ_PRE(p->out_shift));
    const int32x4_t opost = vdupq_n_s32(RNN_RQ_POST(p->out_shift));
    const int32x4_t zp = vdupq_n_s32(p->h_zero_point);
    const int32x4_t one15 = vdupq_n_s32(32768);
    const int32x4_t one29 = vdupq_n_s32(1 << 29);
    int32_t u;
    for (u = 0; u + 4 <= H; u += 4)
    {
        const int16x4_t cp = vld1_s16(c + u);
        const int32x4_t wx = vmovl_s16(sum4(gx + u, b + u));
        const int16x4_t vf = vqmovn_s32(vrshlq_s32(vqdmulhq_n_s32(
            vmull_s16(vld1_s16(v + u), cp), vm), vpost));
        const int16x4_t vr = vqmovn_s32(vrshlq_s32(vqdmulhq_n_s32(
            vmull_s16(vld1_s16(v + H + u), cp), vm), vpost));
        const int32x4_t f = rnn_lut4_neon(lut, vmovl_s16(vqadd_s16(
            sum4(gx + H + u, b + H + u), vf)));
        const int32x4_t r = rnn_lut4_neon(lut, vmovl_s16(vqadd_s16(
            sum4(gx + 2 * H + u, b + 2 * H + u), vr)));
        const int32x4_t cf = vrshrq_n_s32(vmulq_s32(f, vmovl_s16(cp)), 15);
        const int32x4_t cw = vrshlq_s32(vmulq_s32(vsubq_s32(one15, f), wx), cw_shift);
        const int16x4_t cn = vqmovn_s32(vaddq_s32(cf, cw));
        const int32x4_t rc = vrshlq_s32(vmulq_s32(r, vmovl_s16(cn)), rc_shift);
        int32x4_t hw; /* x' 2^2 */
        if (proj)
        {
            hw = vshll_n_s16(sum4(gx + 3 * H + u, b + 3 * H + u), 5);
        }
        else
        {
            int32_t x4;
            memcpy(&x4, x + u, 4);
            hw = vshlq_n_s32(rnn_rq4_neon(vsubl_s16(vget_low_s16(vmovl_s8(
                vreinterpret_s8_s32(vdup_n_s32(x4)))), xzp), xm, xpre, xpost), 2);
        }
        {
            /* (32768 - r) 2^14 = 2^29 - r 2^14 */
            const int32x4_t a = vmlsq_s32(one29, r, vdupq_n_s32(1 << 14));
            const int32x4_t total = vaddq_s32(rc, vqrdmulhq_s32(a, hw));
            const int16x4_t h16 = vqmovn_s32(vaddq_s32(zp, rnn_rq4_neon(total, om, opre, opost)));
            const int32_t h4 = vget_lane_s32(
                vreinterpret_s32_s8(vqmovn_s16(vcombine_s16(h16, h16))), 0);
            vst1_s16(c + u, cn);
            memcpy(h + u, &h4, 4);
        }
    }
    return u;
}

static int32_t sru_neon(const rnn_sru_params_s16 *p, const int16_t *gx, const int8_t *x,
                        int16_t *c, int8_t *h)
{
    return p->projection ? sru_neon_loop(p, gx, x, c, h, 1) : sru_neon_loop(p, gx, x, c, h, 0);
}
#endif

#if defined(RNN_CELL_MVE)
static inline int32x4_t qadd16_mve(int32x4_t a, int32x4_t b)
{
    return vshrq_n_s32(vqaddq_s32(vqshlq_n_s32(a, 16), vqshlq_n_s32(b, 16)), 16);
}

static inline __attribute__((always_inline)) int32_t sru_mve_loop(
    const rnn_sru_params_s16 *p, const int16_t *gx, const int8_t *x, int16_t *c, int8_t *h,
    const int32_t proj)
{
    const int32_t H = p->hidden;
    const int16_t *b = p->bias;
    const int16_t *v = p->v;
    const int16_t *lut = p->lut0;
    const int32_t vm = p->v_mult;
    const int32_t vpost = p->v_shift; /* v_shift <= -2: no pre-shift */
    const int32_t k = p->cell_exp;
    const int32_t xm = p->x15_mult;
    const int32_t xpre = RNN_RQ_PRE(p->x15_shift);
    const int32_t xpost = RNN_RQ_POST(p->x15_shift);
    const int32_t xzp = p->x_zero_point;
    const int32_t om = p->out_mult;
    const int32_t opre = RNN_RQ_PRE(p->out_shift);
    const int32_t opost = RNN_RQ_POST(p->out_shift);
    const int32_t zp = p->h_zero_point;
    int32_t u;
    for (u = 0; u + 4 <= H; u += 4)
    {
        const int32x4_t cp = vldrhq_s32(c + u);
        const int32x4_t wx = rnn_sat16_mve(vaddq_s32(vldrhq_s32(gx + u), vldrhq_s32(b + u)));
        const int32x4_t vf = vrshlq_n_s32(vqdmulhq_n_s32(vmulq_s32(vldrhq_s32(v + u), cp), vm),
                                          vpost);
        const int32x4_t vr = vrshlq_n_s32(
            vqdmulhq_n_s32(vmulq_s32(vldrhq_s32(v + H + u), cp), vm), vpost);
        const int32x4_t f = rnn_lut4_mve(lut, qadd16_mve(
            vaddq_s32(vldrhq_s32(gx + H + u), vldrhq_s32(b + H + u)), vf));
        const int32x4_t r = rnn_lut4_mve(lut, qadd16_mve(
            vaddq_s32(vldrhq_s32(gx + 2 * H + u), vldrhq_s32(b + 2 * H + u)), vr));
        const int32x4_t cf = vrshrq_n_s32(vmulq_s32(f, cp), 15);
        const int32x4_t cw = vrshlq_n_s32(vmulq_s32(vsubq_s32(vdupq_n_s32(32768), f), wx),
                                          k - 27);
        const int32x4_t cn = rnn_sat16_mve(vaddq_s32(cf, cw));
        const int32x4_t rc = vrshlq_n_s32(vmulq_s32(r, cn), -k);
        int32x4_t hw; /* x' 2^2 */
        if (proj)
        {
            hw = vshlq_n_s32(rnn_sat16_mve(vaddq_s32(vldrhq_s32(gx + 3 * H + u),
                                                 vldrhq_s32(b + 3 * H + u))), 5);
        }
        else
        {
            hw = vshlq_n_s32(rnn_rq4_mve(vsubq_n_s32(vldrbq_s32(x + u), xzp), xm, xpre, xpost),
                             2);
        }
        {
            /* (32768 - r) 2^14 = 2^29 - r 2^14 */
            const int32x4_t a = vsubq_s32(vdupq_n_s32(1 << 29), vshlq_n_s32(r, 14));
            const int32x4_t total = vaddq_s32(rc, vqrdmulhq_s32(a, hw));
            const int32x4_t hv = vaddq_n_s32(rnn_rq4_mve(total, om, opre, opost), zp);
            vstrhq_s32(c + u, cn);
            /* sat8 by VQSHL #24 (as sat16 above); VSTRB.32 stores the low bytes */
            vstrbq_s32(h + u, vshrq_n_s32(vqshlq_n_s32(hv, 24), 24));
        }
    }
    return u;
}

static int32_t sru_mve(const rnn_sru_params_s16 *p, const int16_t *gx, const int8_t *x,
                       int16_t *c, int8_t *h)
{
    return p->projection ? sru_mve_loop(p, gx, x, c, h, 1) : sru_mve_loop(p, gx, x, c, h, 0);
}
#endif

#if defined(RNN_CELL_DSP)
/* rnn_lut_mid_dsp of the high half of g: the fraction's weights (128 - f, f) from F = f 2^16 (one
 * mask) as F - (F >> 16) + 128 */
static inline int32_t lut_hi(const int16_t *t, int32_t g)
{
    const uint32_t F = (uint32_t)g & 0x7F0000u;
    int32_t pair;
    memcpy(&pair, t + (g >> 23), sizeof pair);
    return __smlad(pair, (int32_t)(F - (F >> 16) + 128u), 64) >> 7;
}

/* two int16 values as one word (unaligned word loads and stores are allowed), the first in
 * the low half; and the two halves back, sign-extended */
static inline int32_t ld_pair(const int16_t *a)
{
    int32_t w;
    memcpy(&w, a, sizeof w);
    return w;
}

static inline int32_t lo16(int32_t w)
{
    return (int32_t)(int16_t)w;
}

static inline int32_t hi16(int32_t w)
{
    return w >> 16;
}

/* units u0 .. H - 1 one at a time (the general form of the fast parameters: the output's
 * pre-shift and zero point as rnn_rq_dsp needs them) */
static void sru_dsp_units(const rnn_sru_params_s16 *p, const int16_t *gx, const int8_t *x,
                          int16_t *c, int8_t *h, int32_t u0)
{
    const int32_t H = p->hidden;
    const int32_t k = p->cell_exp;
    const int16_t *b = p->bias;
    const int16_t *v = p->v;
    const int16_t *t = p->lut0 + 256;
    const int32_t vm = p->v_mult;
    const int32_t vsh = -1 - p->v_shift; /* v_shift <= -2: e = 0, m = -1 - v_shift */
    const int32_t vrnd = 1 << (vsh - 1);
    const int32_t cw_mult = 1 << (5 + k); /* SMMULR by 2^(32 - n), n = 27 - k */
    const int32_t rc_rnd = (1 << k) >> 1; /* k = 0: no rounding */
    const int32_t xm = p->x15_mult;
    const int32_t xe = RNN_RQ_E(p->x15_shift);
    const int32_t xmm = RNN_RQ_M(p->x15_shift);
    const int32_t om = p->out_mult;
    const int32_t oe = RNN_RQ_E(p->out_shift);
    const int32_t omm = RNN_RQ_M(p->out_shift);
    int32_t u;
    for (u = u0; u < H; ++u)
    {
        const int32_t cp = c[u];
        const int32_t wx = RNN_SAT16(gx[u] + b[u]);
        const int32_t gf = RNN_SAT16(RNN_SAT16(gx[H + u] + b[H + u]) +
                                     RNN_SAT16(rnn_smmla(v[u] * cp, vm, vrnd) >> vsh));
        const int32_t gr = RNN_SAT16(RNN_SAT16(gx[2 * H + u] + b[2 * H + u]) +
                                     RNN_SAT16(rnn_smmla(v[H + u] * cp, vm, vrnd) >> vsh));
        const int32_t f = rnn_lut_mid_dsp(t, gf);
        const int32_t r = rnn_lut_mid_dsp(t, gr);
        const int32_t cn =
            RNN_SAT16(((f * cp + (1 << 14)) >> 15) + rnn_smmulr((32768 - f) * wx, cw_mult));
        /* x' 2^3 */
        const int32_t hw = p->projection
                               ? RNN_SAT16(gx[3 * H + u] + b[3 * H + u]) * 64
                               : rnn_rq_dsp((int32_t)x[u] - p->x_zero_point, xm, xe, xmm) * 8;
        const int32_t total = ((r * cn + rc_rnd) >> k) + rnn_smmulr((32768 - r) * 16384, hw);
        c[u] = (int16_t)cn;
        h[u] = (int8_t)RNN_SAT8(p->h_zero_point + rnn_rq_dsp(total, om, oe, omm));
    }
}

/*
 * Two units a pass (out_shift in -23..-2; |h_zero_point| <= 128 by sru_fast; proj: a constant
 * in each call below): the int16 inputs read as word pairs, the gate sums by QADD16 (sat16 of both
 * halves; sat16(sat16(a) + sat16(b)) with b the two requantized v c packed by PKHBT), the
 * lookups straight from the packed halves, c written as one word. The output requantization
 * needs no pre-shift (out_shift <= -2) and takes the zero point into its rounding term:
 * zp + ((t + 2^(m-1)) >> m) = (t + 2^(m-1) + zp 2^m) >> m, one SMMLA, with
 * |t| = |floor(total out_mult / 2^32)| <= 2^30 and |2^(m-1) + zp 2^m| < 2^30 for m <= 22.
 * The projection term as SMMULR((32768 - r) 2^4, s 2^16) (s = sat16(W_p x + b), x' = 8 s:
 * floor((a s 2^20 + 2^31) / 2^32) = floor((8 a s + 2^14) / 2^15)): the low unit's s 2^16 is
 * the QADD16 pair shifted left by 16, the high unit's the pair's high half, by PKHBT.
 * Returns the units done (H rounded down to even).
 */
static inline __attribute__((always_inline)) int32_t sru_dsp_pairs(
    const rnn_sru_params_s16 *p, const int16_t *gx, const int8_t *x, int16_t *c, int8_t *h,
    const int32_t proj)
{
    const int32_t H = p->hidden;
    const int32_t k = p->cell_exp;
    const int16_t *b = p->bias;
    const int16_t *v = p->v;
    const int16_t *t = p->lut0 + 256;
    const int32_t vm = p->v_mult;
    const int32_t vsh = -1 - p->v_shift; /* v_shift <= -2: e = 0, m = -1 - v_shift */
    const int32_t vrnd = 1 << (vsh - 1);
    const int32_t cw_mult = 1 << (5 + k); /* SMMULR by 2^(32 - n), n = 27 - k */
    const int32_t rc_rnd = (1 << k) >> 1; /* k = 0: no rounding */
    const int32_t xm = p->x15_mult;
    const int32_t xe = RNN_RQ_E(p->x15_shift);
    const int32_t xmm = RNN_RQ_M(p->x15_shift);
    const int32_t xzp = p->x_zero_point;
    const int32_t om = p->out_mult;
    const int32_t omm = -1 - p->out_shift;
    const int32_t ornd = p->h_zero_point * (1 << omm) + (1 << (omm - 1));
    int32_t u;
    for (u = 0; u + 2 <= H; u += 2)
    {
        const int32_t cw = ld_pair(c + u);
        const int32_t wx = __qadd16(ld_pair(gx + u), ld_pair(b + u));
        const int32_t vf = ld_pair(v + u);
        const int32_t vr = ld_pair(v + H + u);
        const int32_t gf = __qadd16(
            __qadd16(ld_pair(gx + H + u), ld_pair(b + H + u)),
            rnn_pkhbt16(RNN_SAT16(rnn_smmla(lo16(vf) * lo16(cw), vm, vrnd) >> vsh),
                   RNN_SAT16(rnn_smmla(hi16(vf) * hi16(cw), vm, vrnd) >> vsh)));
        const int32_t gr = __qadd16(
            __qadd16(ld_pair(gx + 2 * H + u), ld_pair(b + 2 * H + u)),
            rnn_pkhbt16(RNN_SAT16(rnn_smmla(lo16(vr) * lo16(cw), vm, vrnd) >> vsh),
                   RNN_SAT16(rnn_smmla(hi16(vr) * hi16(cw), vm, vrnd) >> vsh)));
        const int32_t f0 = rnn_lut_mid_dsp(t, lo16(gf));
        const int32_t f1 = lut_hi(t, gf);
        const int32_t cn0 = RNN_SAT16(((f0 * lo16(cw) + (1 << 14)) >> 15) +
                                      rnn_smmulr((32768 - f0) * lo16(wx), cw_mult));
        const int32_t cn1 = RNN_SAT16(((f1 * hi16(cw) + (1 << 14)) >> 15) +
                                      rnn_smmulr((32768 - f1) * hi16(wx), cw_mult));
        const int32_t r0 = rnn_lut_mid_dsp(t, lo16(gr));
        const int32_t r1 = lut_hi(t, gr);
        int32_t term0, term1;
        if (proj)
        {
            const int32_t s = __qadd16(ld_pair(gx + 3 * H + u), ld_pair(b + 3 * H + u));
            const int32_t s0 = (int32_t)((uint32_t)s << 16);
            term0 = rnn_smmulr((32768 - r0) * 16, s0);
            term1 = rnn_smmulr((32768 - r1) * 16, rnn_pkhbt(s0, s)); /* s & 0xFFFF0000 */
        }
        else
        {
            term0 = rnn_smmulr((32768 - r0) * 16384,
                           rnn_rq_dsp((int32_t)x[u] - xzp, xm, xe, xmm) * 8);
            term1 = rnn_smmulr((32768 - r1) * 16384,
                           rnn_rq_dsp((int32_t)x[u + 1] - xzp, xm, xe, xmm) * 8);
        }
        {
            const int32_t pc = rnn_pkhbt16(cn0, cn1);
            memcpy(c + u, &pc, sizeof pc);
        }
        h[u] = (int8_t)RNN_SAT8(rnn_smmla(((r0 * cn0 + rc_rnd) >> k) + term0, om, ornd) >> omm);
        h[u + 1] = (int8_t)RNN_SAT8(rnn_smmla(((r1 * cn1 + rc_rnd) >> k) + term1, om, ornd) >> omm);
    }
    return u;
}

static void sru_dsp(const rnn_sru_params_s16 *p, const int16_t *gx, const int8_t *x,
                    int16_t *c, int8_t *h)
{
    int32_t u = 0;
    if (p->out_shift <= -2 && p->out_shift >= -23)
    {
        u = p->projection ? sru_dsp_pairs(p, gx, x, c, h, 1) : sru_dsp_pairs(p, gx, x, c, h, 0);
    }
    sru_dsp_units(p, gx, x, c, h, u);
}
#endif

/* Refer to header file for details. */
void rnn_sru_cell_s16(const rnn_sru_params_s16 *p, const int16_t *gx, const int8_t *x,
                      int16_t *c, int8_t *h)
{
    int32_t u = 0;

#if defined(RNN_CELL_NEON)
    if (sru_fast(p))
    {
        u = sru_neon(p, gx, x, c, h);
    }
#elif defined(RNN_CELL_MVE)
    if (sru_fast(p))
    {
        u = sru_mve(p, gx, x, c, h);
    }
#elif defined(RNN_CELL_DSP)
    if (sru_fast(p))
    {
        sru_dsp(p, gx, x, c, h);
        return;
    }
#endif
    for (; u < p->hidden; ++u)
    {
        const int32_t xv = p->projection ? 0 : (int32_t)x[u] - p->x_zero_point;
        h[u] = (int8_t)rnn_sat8(rnn_sru_unit(p, gx, xv, c, u));
    }
}
