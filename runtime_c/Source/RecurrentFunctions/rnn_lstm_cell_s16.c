/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_lstm_cell_s16.c
 * Description: int8 LSTM cell update (the 8x8_16 scheme): gates in Q3.12 from the two
 *              products and the bias, sigmoid/tanh by table (Q0.15), int16 cell state with
 *              scale 2^-cell_exp, int8 hidden state. Mirrors reference_int.lstm_step.
 *
 * NEON (AArch64, __ARM_NEON): the common cell (no peepholes, no clip, cell_exp in 1..29,
 * out_shift <= -2) four units at a time in int32 lanes, with the same arithmetic: gate sums
 * saturated once (SQXTN), each table lookup's two neighbouring entries read as one 32-bit
 * word per lane (the only scalar part) and interpolated in vector, the rounding shifts as
 * SRSHR/SRSHL (exact: no intermediate overflows, as in the 32-bit C), the output
 * requantization from the high word of the 64-bit product. The last H mod 4 units and
 * every other cell run the C below, so results are bit for bit the same.
 * Helium (Cortex-M55, __ARM_FEATURE_MVE): the same cells four units at a time, the table
 * entries by two gathers (VLDRH.S32 with shifted offsets), saturation by VMIN/VMAX, the
 * output requantization by VMULH (the high word) and VRSHL.
 * DSP (Cortex-M4/M7, __ARM_FEATURE_DSP): the common cell with cell_exp <= 28, one unit at a
 * time in one loop per input_forget, every unit (no tail): each lookup from the table's middle
 * entry (index x >> 7, fraction x & 127: no bias to add) with its two entries as one word
 * against the weights (128 - f, f) in one SMLAD, every saturation an SSAT, the two rounding
 * shifts by a cell_exp-dependent amount as SMMULR by a power of two (i g by 30 - k; c into
 * Q3.12 as rnn_smmulr(c 2^16, 2^(28 - k)), which is the rounding shift for k > 12 and the exact
 * c 2^(12 - k) for k <= 12: one form, no branch), h from the product's high word (SMULL) with
 * the zero point folded into the final halving (SSAT #8, ASR #1). Identities checked over
 * every int16 input (and 10^6 products) against codegen/quant.py. Measured (exact QEMU
 * counts, HAR1 LSTM 77 -> 179, 8 steps, python benchmarks/overhead.py --boards
 * cortex-m4,cortex-m7 --dtypes int8): rnn_lstm_cell_s16 165,304 -> 126,576 instructions on
 * the M4 (115.4 -> 88.4 per unit and step), 159,584 -> 126,584 on the M7. What remains is
 * mostly register pressure (14 registers for 3 walking pointers, 3 gate offsets, 3 tables,
 * 7 constants: about 10 stack reloads a unit): two units per iteration (the gate inputs read
 * as words, SXTAH) measured 133,320 and loops per (input_forget, cell_exp > 12) with the
 * rounding shifts as ADD + ASR 130,872 (both before the t1/t2 reload fix below, which saves
 * 2 a unit), so neither is kept.
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
#define RNN_CELL_DSP 1
#endif

/* rnn_rshift_round(v, n) for n in 1..30 and |v| <= 2^30 (products of two int16 values):
 * v + 2^(n - 1) cannot overflow 32 bits, so no 64-bit arithmetic is needed. */
static inline int32_t rshift_round32(int32_t v, int32_t n)
{
    return (v + (1 << (n - 1))) >> n;
}

/* rnn_requantize(acc, mult, shift) for the output, whose zero point is added next: for
 * shift <= -2 from the high word of the product (see rnn_mat_vec_s8_s16.c for the
 * identity; |result| < 2^30), else the general form saturated to int16 (the same int8 after
 * sat8(zp + .), |zp| <= 128; unbounded, a saturated INT32_MAX plus zp would overflow). */
static inline int32_t requant(int32_t acc, int32_t mult, int32_t shift)
{
    if (shift <= -2)
    {
        const int32_t hi = (int32_t)(((int64_t)acc * (int64_t)mult) >> 32);
        return ((hi >> (-2 - shift)) + 1) >> 1;
    }
    return rnn_sat16(rnn_requantize(acc, mult, shift));
}

/* The common cell (no peepholes, no clip, cell_exp in 1..29) from unit u0 on: the same
 * arithmetic as the general loop below, with 32-bit rounding shifts where they are exact. */
static void lstm_plain(const rnn_lstm_params_s16 *p, const int16_t *gx, const int16_t *gh,
                       int16_t *c, int8_t *h, int32_t u0)
{
    const int32_t H = p->hidden;
    const int32_t k = p->cell_exp;
    const int16_t *bias = p->bias;
    const int16_t *lut0 = p->lut0;
    const int16_t *lut1 = p->lut1;
    const int16_t *lut2 = p->lut2;
    const int32_t ifg = p->input_forget;
    const int32_t zp = p->h_zero_point;
    const int32_t om = p->out_mult;
    const int32_t os = p->out_shift;
    int32_t u;

    for (u = u0; u < H; ++u)
    {
        const int32_t gi = RNN_SAT16(gx[u] + gh[u] + bias[u]);
        const int32_t go = RNN_SAT16(gx[H + u] + gh[H + u] + bias[H + u]);
        const int32_t gf = RNN_SAT16(gx[2 * H + u] + gh[2 * H + u] + bias[2 * H + u]);
        const int32_t gc = RNN_SAT16(gx[3 * H + u] + gh[3 * H + u] + bias[3 * H + u]);
        const int32_t i = rnn_lut_q12(lut0, gi);
        const int32_t f = ifg ? RNN_SAT16(32768 - i) : rnn_lut_q12(lut0, gf);
        const int32_t g = rnn_lut_q12(lut1, gc);
        const int32_t cn = RNN_SAT16(rshift_round32(f * c[u], 15) + rshift_round32(i * g, 30 - k));
        const int32_t o = rnn_lut_q12(lut0, go);
        const int32_t c12 = k > 12 ? rshift_round32(cn, k - 12) : RNN_SAT16(cn * (1 << (12 - k)));
        const int32_t th = rnn_lut_q12(lut2, c12);
        c[u] = (int16_t)cn;
        h[u] = (int8_t)RNN_SAT8(zp + requant(o * th, om, os));
    }
}

#if defined(RNN_CELL_NEON)
/* sat16(a[u] + b[u] + bias[u]) for four units */
static inline int16x4_t gate4_neon(const int16_t *a, const int16_t *b, const int16_t *bias)
{
    return vqmovn_s32(vaddw_s16(vaddl_s16(vld1_s16(a), vld1_s16(b)), vld1_s16(bias)));
}

/* lstm_plain for units 0 .. H - H mod 4 (out_shift <= -2); returns the units done */
static int32_t lstm_plain_neon(const rnn_lstm_params_s16 *p, const int16_t *gx,
                               const int16_t *gh, int16_t *c, int8_t *h)
{
    const int32_t H = p->hidden;
    const int32_t k = p->cell_exp;
    const int16_t *bias = p->bias;
    const int16_t *lut0 = p->lut0;
    const int16_t *lut1 = p->lut1;
    const int16_t *lut2 = p->lut2;
    const int32x4_t ig_shift = vdupq_n_s32(k - 30);       /* round(i g / 2^(30 - k)) */
    const int32x4_t c12_shift = vdupq_n_s32(12 - k);      /* c in Q3.12 */
    const int32x4_t zp = vdupq_n_s32(p->h_zero_point);
    const int32x4_t om = vdupq_n_s32(p->out_mult);
    const int32x4_t os = vdupq_n_s32(p->out_shift + 1); /* rounding shift right by -1 - s */
    const int32x4_t one15 = vdupq_n_s32(32768);
    int32_t u;
    for (u = 0; u + 4 <= H; u += 4)
    {
        const int16x4_t gi = gate4_neon(gx + u, gh + u, bias + u);
        const int16x4_t go = gate4_neon(gx + H + u, gh + H + u, bias + H + u);
        const int16x4_t gc = gate4_neon(gx + 3 * H + u, gh + 3 * H + u, bias + 3 * H + u);
        const int32x4_t i = rnn_lut4_neon(lut0, vmovl_s16(gi));
        const int32x4_t f =
            p->input_forget ? vmovl_s16(vqmovn_s32(vsubq_s32(one15, i)))
                            : rnn_lut4_neon(lut0, vmovl_s16(gate4_neon(
                                  gx + 2 * H + u, gh + 2 * H + u, bias + 2 * H + u)));
        const int32x4_t g = rnn_lut4_neon(lut1, vmovl_s16(gc));
        const int32x4_t cf = vrshrq_n_s32(vmulq_s32(f, vmovl_s16(vld1_s16(c + u))), 15);
        const int32x4_t ci = vrshlq_s32(vmulq_s32(i, g), ig_shift);
        const int16x4_t cn = vqmovn_s32(vaddq_s32(cf, ci));
        const int32x4_t o = rnn_lut4_neon(lut0, vmovl_s16(go));
        /* k > 12: rounding shift right by k - 12; else sat16(cn * 2^(12 - k)) */
        const int16x4_t c12 = k > 12 ? vmovn_s32(vrshlq_s32(vmovl_s16(cn), c12_shift))
                                     : vqmovn_s32(vshlq_s32(vmovl_s16(cn), c12_shift));
        const int32x4_t th = rnn_lut4_neon(lut2, vmovl_s16(c12));
        const int32x4_t ot = vmulq_s32(o, th);
        const int64x2_t p0 = vmull_s32(vget_low_s32(ot), vget_low_s32(om));
        const int64x2_t p1 = vmull_high_s32(ot, om);
        const int32x4_t hi = vuzp2q_s32(vreinterpretq_s32_s64(p0), vreinterpretq_s32_s64(p1));
        const int16x4_t h16 = vqmovn_s32(vaddq_s32(zp, vrshlq_s32(hi, os)));
        const int32_t h4 = vget_lane_s32(vreinterpret_s32_s8(vqmovn_s16(vcombine_s16(h16, h16))),
                                         0);
        vst1_s16(c + u, cn);
        memcpy(h + u, &h4, 4);
    }
    return u;
}
#endif

#if defined(RNN_CELL_MVE)
/* sat16(a[u] + b[u] + bias[u]) for four units */
static inline int32x4_t gate4_mve(const int16_t *a, const int16_t *b, const int16_t *bias)
{
    return rnn_sat16_mve(vaddq_s32(vaddq_s32(vldrhq_s32(a), vldrhq_s32(b)), vldrhq_s32(bias)));
}

/* lstm_plain for units 0 .. H - H mod 4 (out_shift <= -2); returns the units done */
static int32_t lstm_plain_mve(const rnn_lstm_params_s16 *p, const int16_t *gx,
                              const int16_t *gh, int16_t *c, int8_t *h)
{
    const int32_t H = p->hidden;
    const int32_t k = p->cell_exp;
    const int16_t *bias = p->bias;
    const int16_t *lut0 = p->lut0;
    const int16_t *lut1 = p->lut1;
    const int16_t *lut2 = p->lut2;
    const int32_t zp = p->h_zero_point;
    const int32_t om = p->out_mult;
    const int32_t os = p->out_shift + 1; /* rounding shift right by -1 - out_shift */
    int32_t u;
    for (u = 0; u + 4 <= H; u += 4)
    {
        const int32x4_t i = rnn_lut4_mve(lut0, gate4_mve(gx + u, gh + u, bias + u));
        const int32x4_t f =
            p->input_forget ? rnn_sat16_mve(vsubq_s32(vdupq_n_s32(32768), i))
                            : rnn_lut4_mve(lut0, gate4_mve(gx + 2 * H + u, gh + 2 * H + u,
                                                       bias + 2 * H + u));
        const int32x4_t g = rnn_lut4_mve(lut1, gate4_mve(gx + 3 * H + u, gh + 3 * H + u,
                                                     bias + 3 * H + u));
        const int32x4_t cf = vrshrq_n_s32(vmulq_s32(f, vldrhq_s32(c + u)), 15);
        const int32x4_t ci = vrshlq_n_s32(vmulq_s32(i, g), k - 30);
        const int32x4_t cn = rnn_sat16_mve(vaddq_s32(cf, ci));
        const int32x4_t o = rnn_lut4_mve(lut0, gate4_mve(gx + H + u, gh + H + u, bias + H + u));
        /* k > 12: rounding shift right by k - 12; else sat16(cn * 2^(12 - k)) */
        const int32x4_t c12 = k > 12 ? vrshlq_n_s32(cn, 12 - k)
                                     : rnn_sat16_mve(vshlq_s32(cn, vdupq_n_s32(12 - k)));
        const int32x4_t th = rnn_lut4_mve(lut2, c12);
        const int32x4_t hi = vmulhq_s32(vmulq_s32(o, th), vdupq_n_s32(om));
        const int32x4_t hv = vaddq_n_s32(vrshlq_n_s32(hi, os), zp);
        vstrhq_s32(c + u, cn);
        vstrbq_s32(h + u, vmaxq_s32(vminq_s32(hv, vdupq_n_s32(127)), vdupq_n_s32(-128)));
    }
    return u;
}
#endif

#if defined(RNN_CELL_DSP)
/* lstm_plain for every unit (out_shift <= -2, cell_exp <= 28); ifg is a constant in each call
 * below, so each of the two loops is compiled without its test */
static inline __attribute__((always_inline)) void lstm_dsp_loop(
    const rnn_lstm_params_s16 *p, const int16_t *gx, const int16_t *gh, int16_t *c,
    int8_t *h, const int32_t ifg)
{
    const int32_t H = p->hidden;
    const int32_t k = p->cell_exp;
    const int16_t *bias = p->bias;
    const int16_t *t0 = p->lut0 + 256;
    const int16_t *t1 = p->lut1 + 256;
    const int16_t *t2 = p->lut2 + 256;
    const int32_t om = p->out_mult;
    const int32_t s1 = -2 - p->out_shift;        /* requant: hi >> s1, then a rounding halving */
    const int32_t zp2 = 2 * p->h_zero_point + 1; /* zp + ((v + 1) >> 1) = (v + 2 zp + 1) >> 1 */
    /* (v + 2^(n - 1)) >> n = rnn_smmulr(v, 2^(32 - n)): i g rounded by n = 30 - k (1 <= n <= 29
     * needs 2^(2 + k) < 2^31: k <= 28); c in Q3.12 as rnn_smmulr(c 2^16, 2^(28 - k)): for
     * k > 12 the rounding shift by k - 12, for k <= 12 the exact c 2^(12 - k) */
    const int32_t ig_mult = 1 << (2 + k);
    const int32_t c12_mult = 1 << (28 - k);
    int32_t u;
    /* t1 and t2 live on the stack (registers run out); opaque here, GCC reloads them as they
     * are instead of reloading lutN and adding 512 for every lookup */
    __asm__("" : "+r"(t1), "+r"(t2));
    for (u = 0; u < H; ++u)
    {
        const int32_t i = rnn_lut_mid_dsp(t0, RNN_SAT16(gx[u] + gh[u] + bias[u]));
        const int32_t g =
            rnn_lut_mid_dsp(t1, RNN_SAT16(gx[3 * H + u] + gh[3 * H + u] + bias[3 * H + u]));
        const int32_t f =
            ifg ? RNN_SAT16(32768 - i)
                : rnn_lut_mid_dsp(t0, RNN_SAT16(gx[2 * H + u] + gh[2 * H + u] + bias[2 * H + u]));
        const int32_t cn = RNN_SAT16(((f * c[u] + (1 << 14)) >> 15) + rnn_smmulr(i * g, ig_mult));
        const int32_t th = rnn_lut_mid_dsp(t2, RNN_SAT16(rnn_smmulr(cn * 65536, c12_mult)));
        const int32_t o = rnn_lut_mid_dsp(t0, RNN_SAT16(gx[H + u] + gh[H + u] + bias[H + u]));
        const int32_t hi = (int32_t)(((int64_t)(o * th) * om) >> 32);
        c[u] = (int16_t)cn;
        h[u] = (int8_t)RNN_SAT8(((hi >> s1) + zp2) >> 1);
    }
}

static void lstm_plain_dsp(const rnn_lstm_params_s16 *p, const int16_t *gx, const int16_t *gh,
                           int16_t *c, int8_t *h)
{
    if (p->input_forget)
    {
        lstm_dsp_loop(p, gx, gh, c, h, 1);
    }
    else
    {
        lstm_dsp_loop(p, gx, gh, c, h, 0);
    }
}
#endif

static int32_t clip_gate(int32_t v, int32_t clip)
{
    return clip == 0 ? v : (v < -clip ? -clip : (v > clip ? clip : v));
}

/* Refer to header file for details. */
void rnn_lstm_cell_s16(const rnn_lstm_params_s16 *p, const int16_t *gx, const int16_t *gh,
                       int16_t *c, int8_t *h)
{
    const int32_t H = p->hidden;
    const int32_t k = p->cell_exp;
    int32_t u;

    if (!p->peephole && p->clip == 0 && k >= 1 && k <= 29)
    {
#if defined(RNN_CELL_NEON)
        lstm_plain(p, gx, gh, c, h, p->out_shift <= -2 ? lstm_plain_neon(p, gx, gh, c, h) : 0);
#elif defined(RNN_CELL_MVE)
        lstm_plain(p, gx, gh, c, h, p->out_shift <= -2 ? lstm_plain_mve(p, gx, gh, c, h) : 0);
#elif defined(RNN_CELL_DSP)
        if (p->out_shift <= -2 && k <= 28)
        {
            lstm_plain_dsp(p, gx, gh, c, h);
        }
        else
        {
            lstm_plain(p, gx, gh, c, h, 0);
        }
#else
        lstm_plain(p, gx, gh, c, h, 0);
#endif
        return;
    }
    for (u = 0; u < H; ++u)
    {
        int32_t gi = rnn_sat16(gx[u] + gh[u] + p->bias[u]);
        int32_t go = rnn_sat16(gx[H + u] + gh[H + u] + p->bias[H + u]);
        int32_t gf = rnn_sat16(gx[2 * H + u] + gh[2 * H + u] + p->bias[2 * H + u]);
        int32_t gc = rnn_sat16(gx[3 * H + u] + gh[3 * H + u] + p->bias[3 * H + u]);
        int32_t i, f, g, o, cn, c12, th;
        if (p->peephole)
        {
            gi = rnn_sat16(gi + rnn_sat16(rnn_requantize((int32_t)p->peephole[u] * c[u],
                                                         p->peep_mult, p->peep_shift)));
            gf = rnn_sat16(gf + rnn_sat16(rnn_requantize((int32_t)p->peephole[2 * H + u] * c[u],
                                                         p->peep_mult, p->peep_shift)));
        }
        gi = clip_gate(gi, p->clip);
        gf = clip_gate(gf, p->clip);
        gc = clip_gate(gc, p->clip);
        i = rnn_lut_q12(p->lut0, gi);
        f = p->input_forget ? rnn_sat16(32768 - i) : rnn_lut_q12(p->lut0, gf);
        g = rnn_lut_q12(p->lut1, gc);
        cn = rnn_sat16(rnn_rshift_round(f * c[u], 15) + rnn_rshift_round(i * g, 30 - k));
        c[u] = (int16_t)cn;
        if (p->peephole)
        {
            go = rnn_sat16(go + rnn_sat16(rnn_requantize((int32_t)p->peephole[H + u] * cn,
                                                         p->peep_mult, p->peep_shift)));
        }
        o = rnn_lut_q12(p->lut0, clip_gate(go, p->clip));
        c12 = k >= 12 ? rnn_rshift_round(cn, k - 12) : rnn_sat16(cn * (1 << (12 - k)));
        th = rnn_lut_q12(p->lut2, c12);
        /* sat16 first: the same int8, no int32 overflow (see requant above) */
        h[u] = (int8_t)rnn_sat8(p->h_zero_point + rnn_sat16(rnn_requantize(o * th, p->out_mult,
                                                                           p->out_shift)));
    }
}
