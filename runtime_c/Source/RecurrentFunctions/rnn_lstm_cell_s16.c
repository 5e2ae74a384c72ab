/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_lstm_cell_s16.c
 * Description: int8 LSTM cell update (the 8x8_16 scheme): gates in Q3.12 from the two
 *              products and the bias, sigmoid/tanh by table (Q0.15), int16 cell state with
 *              scale 2^-cell_exp, int8 hidden state. Mirrors reference_int.lstm_step.
 *
 * NEON (AArch64, __ARM_NEON) and Helium (Cortex-M55, __ARM_FEATURE_MVE): the common cell (no
 * peepholes, no clip, cell_exp in 1..29, out_shift <= -2, H >= 4) four units at a time, every
 * unit: the last four units are computed first from the old c, the loop runs over the
 * blocks before them, then those four are stored (the H mod 4 overlapping units get the same
 * values), so no C tail; one loop per input_forget (no test inside). Each NEON lookup from
 * the table's middle entry (index x >> 7, fraction x & 127: no bias to add; Helium's gathers
 * take unsigned offsets, so there (x + 32768) >> 7 from the table's start); c in Q3.12 by one
 * saturating rounding shift by 12 - k (SQRSHL / VQRSHL: the rounding shift right for k > 12,
 * the saturating left shift else; no branch); the output requantization as (V)QDMULH then a
 * rounding shift by out_shift (floor(floor(2 a m / 2^32) ...) = the high-word form, exact).
 * NEON: the gates and lookups in int16 lanes, two lookups in one int16x8 (f, i and o, g: each
 * product's two factors in the same half, SMULL / SMULL2); each lane's entry pair read as one
 * word (SMOV, ADD, LD1 {v.s}[n]: written as asm, as from C GCC 12 zeroed or copied the
 * register a lookup), split by UZP1 / UZP2 and interpolated as t1 f - t0 f (SMULL, SMLSL) with
 * RSHRN (exact in 16 bits: the result lies between t0 and t1); the cell update's two rounded
 * terms by SRSHL and SRSRA.
 * Helium: int32 lanes; the gate inputs and c read by gathers at one offset vector (no
 * address arithmetic, which with 12 base + offset adds made GCC spill), the entries by two
 * gathers at offsets 0 .. 511 from the table's start, round((t1 - t0) f / 128) as VQRDMULH
 * by f 2^24 (f from two shifts: no constant register), sat16 / sat8 by VQSHL + VSHR.
 * Measured (exact QEMU counts, HAR1 LSTM 77 -> 179, 8 steps = 1432 unit-steps, python
 * benchmarks/overhead.py --boards cortex-a73,cortex-m55 --dtypes int8 --variants dense):
 * rnn_lstm_cell_s16 64,488 -> 48,456 instructions on cortex-a73 (45.0 -> 33.8 per unit and
 * step), 57,640 -> 40,624 on cortex-m55 (40.2 -> 28.4). Not done: LD1 lane loads chained by
 * post-increment (about 1.5 fewer a lookup).
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
/* sat16(a[u] + b[u] + bias[u]) for four units, in 32-bit lanes */
static inline int32x4_t gsum4_neon(const int16_t *a, const int16_t *b, const int16_t *bias)
{
    return vaddw_s16(vaddl_s16(vld1_s16(a), vld1_s16(b)), vld1_s16(bias));
}

/* the entry pairs (t[i] low, t[i + 1] high, one unaligned word) at four addresses, one a lane:
 * LDR S (which zeroes the rest) then LD1 {v.s}[n]. Written out: from C, GCC 12 zeroes or
 * copies the register first (a MOVI, DUP or MOV a lookup). The tables are never written
 * here, so the loads need no memory operands. */
static inline int32x4_t lstm_pairs4(const int16_t *p0, const int16_t *p1, const int16_t *p2,
                                    const int16_t *p3)
{
    int32x4_t v;
    __asm__("ldr %s0, [%1]\n\tld1 {%0.s}[1], [%2]\n\tld1 {%0.s}[2], [%3]\n\tld1 {%0.s}[3], [%4]"
            : "=w"(v)
            : "r"(p0), "r"(p1), "r"(p2), "r"(p3));
    return v;
}

/* sat16 of two int32x4 into one int16x8 (SQXTN, SQXTN2; from vqmovn_high_s32 GCC 12 makes
 * up to three register copies around them) */
static inline int16x8_t lstm_sqxtn8(int32x4_t lo, int32x4_t hi)
{
    int16x8_t r;
    __asm__("sqxtn %0.4h, %1.4s\n\tsqxtn2 %0.8h, %2.4s" : "=&w"(r) : "w"(lo), "w"(hi));
    return r;
}

/* t0 + round((t1 - t0) f / 128) from the pairs' halves t0, t1 as t1 f - t0 f (SMULL, SMLSL)
 * narrowed by RSHRN: the result lies between t0 and t1, so the 16-bit wrap of RSHRN and ADD
 * is exact */
static inline int16x4_t lstm_interp4(int16x4_t t0, int16x4_t t1, int16x4_t f)
{
    return vadd_s16(t0, vrshrn_n_s32(vmlsl_s16(vmull_s16(t1, f), t0, f), 7));
}

/* rnn_lut_q12 of eight int16 lanes, lanes 0-3 from table a, 4-7 from table b, each passed
 * as its middle entry (table + 256): index x >> 7, fraction x & 127 (no bias to add). The
 * pairs are loaded into the dead registers of x and of the indices (no zeroing or DUP). */
static inline int16x8_t lstm_lut8_neon(const int16_t *a, const int16_t *b, int16x8_t x)
{
    const int16x8_t i = vshrq_n_s16(x, 7);
    const int16x8_t f = vandq_s16(x, vdupq_n_s16(127));
    const int32x4_t pa = lstm_pairs4(a + vgetq_lane_s16(i, 0), a + vgetq_lane_s16(i, 1),
                                     a + vgetq_lane_s16(i, 2), a + vgetq_lane_s16(i, 3));
    const int32x4_t pb = lstm_pairs4(b + vgetq_lane_s16(i, 4), b + vgetq_lane_s16(i, 5),
                                     b + vgetq_lane_s16(i, 6), b + vgetq_lane_s16(i, 7));
    {
        const int16x8_t t0 = vuzp1q_s16(vreinterpretq_s16_s32(pa), vreinterpretq_s16_s32(pb));
        const int16x8_t t1 = vuzp2q_s16(vreinterpretq_s16_s32(pa), vreinterpretq_s16_s32(pb));
        const int32x4_t dl = vmlsl_s16(vmull_s16(vget_low_s16(t1), vget_low_s16(f)),
                                       vget_low_s16(t0), vget_low_s16(f));
        const int32x4_t dh = vmlsl_high_s16(vmull_high_s16(t1, f), t0, f);
        return vaddq_s16(t0, vrshrn_high_n_s32(vrshrn_n_s32(dl, 7), dh, 7));
    }
}

/* the same for four lanes */
static inline int16x4_t lstm_lut4_neon(const int16_t *a, int16x4_t x)
{
    const int16x4_t i = vshr_n_s16(x, 7);
    const int32x4_t pa = lstm_pairs4(a + vget_lane_s16(i, 0), a + vget_lane_s16(i, 1),
                                     a + vget_lane_s16(i, 2), a + vget_lane_s16(i, 3));
    return lstm_interp4(vmovn_s32(pa), vshrn_n_s32(pa, 16), vand_s16(x, vdup_n_s16(127)));
}

typedef struct
{
    const int16_t *gx, *gh, *bias, *m0, *m1, *m2;
    int32_t H;
    int32x4_t ig_shift, os, zp, om;
    int16x4_t c12_shift;
} lstm_neon_k;

/* units u .. u + 3 of lstm_plain (out_shift <= -2): the new c, and h in the low 4 bytes */
static inline __attribute__((always_inline)) int16x4_t lstm_block_neon(const lstm_neon_k *q,
                                                                        const int16_t *c,
                                                                        int32_t u,
                                                                        const int32_t ifg,
                                                                        int8x8_t *h8)
{
    const int32_t H = q->H;
    const int16_t *gx = q->gx + u;
    const int16_t *gh = q->gh + u;
    const int16_t *b = q->bias + u;
    const int32x4_t si = gsum4_neon(gx, gh, b);
    const int32x4_t so = gsum4_neon(gx + H, gh + H, b + H);
    const int32x4_t sc = gsum4_neon(gx + 3 * H, gh + 3 * H, b + 3 * H);
    int16x4_t f, o;
    int32x4_t ig; /* i g */
    if (ifg)
    {
        const int16x8_t ig8 = lstm_lut8_neon(q->m0, q->m1, lstm_sqxtn8(si, sc));
        const int16x4_t i = vget_low_s16(ig8);
        ig = vmull_s16(i, vget_high_s16(ig8));
        o = lstm_lut4_neon(q->m0, vqmovn_s32(so));
        /* sat16(32768 - i) = sat16(sat16(32767 - i) + 1) */
        f = vqadd_s16(vqsub_s16(vdup_n_s16(32767), i), vdup_n_s16(1));
    }
    else
    {
        /* packed so that each product's two factors sit in the same half: f, o low (with
         * c and tanh(c)), i, g high (SMULL2) */
        const int32x4_t sf = gsum4_neon(gx + 2 * H, gh + 2 * H, b + 2 * H);
        const int16x8_t fi = lstm_lut8_neon(q->m0, q->m0, lstm_sqxtn8(sf, si));
        const int16x8_t og = lstm_lut8_neon(q->m0, q->m1, lstm_sqxtn8(so, sc));
        f = vget_low_s16(fi);
        o = vget_low_s16(og);
        ig = vmull_high_s16(fi, og);
    }
    {
        /* round(i g / 2^(30 - k)) + round(f c / 2^15) (SRSRA), saturated */
        const int16x4_t cn = vqmovn_s32(vrsraq_n_s32(vrshlq_s32(ig, q->ig_shift),
                                                     vmull_s16(f, vld1_s16(c + u)), 15));
        /* c in Q3.12: SQRSHL by 12 - k, the rounding shift right for k > 12, else saturating */
        const int16x4_t th = lstm_lut4_neon(q->m2, vqrshl_s16(cn, q->c12_shift));
        /* requant for out_shift <= -2: SQDMULH (floor(2 a m / 2^32)) then SRSHL by out_shift */
        const int32x4_t r = vrshlq_s32(vqdmulhq_s32(vmull_s16(o, th), q->om), q->os);
        const int16x4_t h16 = vqmovn_s32(vaddq_s32(q->zp, r));
        *h8 = vqmovn_s16(vcombine_s16(h16, vdup_n_s16(0)));
        return cn;
    }
}

/* lstm_plain for every unit (H >= 4, out_shift <= -2); ifg a constant in each call */
static inline __attribute__((always_inline)) void lstm_neon_loop(const lstm_neon_k *q,
                                                                 int16_t *c, int8_t *h,
                                                                 const int32_t ifg)
{
    const int32_t last = q->H - 4;
    int8x8_t hl, hu;
    int32_t u;
    /* the last four units first, from the old c: they overlap the loop's last block by
     * H mod 4 - 4 units, whose results are the same; stored after the loop */
    const int16x4_t cl = lstm_block_neon(q, c, last, ifg, &hl);
    for (u = 0; u < last; u += 4)
    {
        const int16x4_t cn = lstm_block_neon(q, c, u, ifg, &hu);
        vst1_s16(c + u, cn);
        memcpy(h + u, &hu, 4);
    }
    vst1_s16(c + last, cl);
    memcpy(h + last, &hl, 4);
}

static void lstm_plain_neon(const rnn_lstm_params_s16 *p, const int16_t *gx,
                            const int16_t *gh, int16_t *c, int8_t *h)
{
    lstm_neon_k q;
    q.gx = gx;
    q.gh = gh;
    q.bias = p->bias;
    q.m0 = p->lut0 + 256;
    q.m1 = p->lut1 + 256;
    q.m2 = p->lut2 + 256;
    q.H = p->hidden;
    q.ig_shift = vdupq_n_s32(p->cell_exp - 30);
    q.os = vdupq_n_s32(p->out_shift);
    q.zp = vdupq_n_s32(p->h_zero_point);
    q.c12_shift = vdup_n_s16((int16_t)(12 - p->cell_exp));
    q.om = vdupq_n_s32(p->out_mult);
    if (p->input_forget)
    {
        lstm_neon_loop(&q, c, h, 1);
    }
    else
    {
        lstm_neon_loop(&q, c, h, 0);
    }
}
#endif

#if defined(RNN_CELL_MVE)
/* sat16(a[v] + b[v] + bias[v]) for the four units v of ov, by gathers (no address arithmetic) */
static inline int32x4_t gate4_mve(const int16_t *a, const int16_t *b, const int16_t *bias,
                                  uint32x4_t ov)
{
    return rnn_sat16_mve(vaddq_s32(vaddq_s32(vldrhq_gather_shifted_offset_s32(a, ov),
                                             vldrhq_gather_shifted_offset_s32(b, ov)),
                                   vldrhq_gather_shifted_offset_s32(bias, ov)));
}

/* rnn_lut_q12 of four int16-ranged lanes, t0 = table, t1 = table + 1: index
 * (x + 32768) >> 7 as an unsigned shift (offsets 0 .. 511: no address below the table, so
 * nothing depends on how a gather's address wraps), fraction x & 127 as f 2^24 =
 * (x << 25) >> 1 (logical), and round((t1 - t0) f / 128) as VQRDMULH by f 2^24
 * ((2 d f 2^24 + 2^31) >> 32, exact; no saturation: f 2^24 < 2^31) */
static inline int32x4_t lut4_mve(const int16_t *t0, const int16_t *t1, int32x4_t x)
{
    const uint32x4_t i = vshrq_n_u32(vreinterpretq_u32_s32(vaddq_n_s32(x, 32768)), 7);
    const int32x4_t f24 =
        vreinterpretq_s32_u32(vshrq_n_u32(vreinterpretq_u32_s32(vshlq_n_s32(x, 25)), 1));
    const int32x4_t a = vldrhq_gather_shifted_offset_s32(t0, i);
    const int32x4_t b = vldrhq_gather_shifted_offset_s32(t1, i);
    return vaddq_s32(a, vqrdmulhq_s32(vsubq_s32(b, a), f24));
}

typedef struct
{
    const int16_t *gx, *gh, *bias, *m0, *m1, *m2;
    int32_t H, k, om, os, zp;
} lstm_mve_k;

/* units ov (four in a row) of lstm_plain (out_shift <= -2): the new c, and h (sat8, int32
 * lanes) */
static inline __attribute__((always_inline)) int32x4_t lstm_block_mve(const lstm_mve_k *q,
                                                                       const int16_t *c,
                                                                       uint32x4_t ov,
                                                                       const int32_t ifg,
                                                                       int32x4_t *hv)
{
    const uint32_t H = (uint32_t)q->H;
    const int16_t *gx = q->gx;
    const int16_t *gh = q->gh;
    const int16_t *b = q->bias;
    const uint32x4_t o1 = vaddq_n_u32(ov, H);
    const uint32x4_t o2 = vaddq_n_u32(o1, H);
    const uint32x4_t o3 = vaddq_n_u32(o2, H);
    const int32x4_t i = lut4_mve(q->m0, q->m0 + 1, gate4_mve(gx, gh, b, ov));
    const int32x4_t g = lut4_mve(q->m1, q->m1 + 1, gate4_mve(gx, gh, b, o3));
    const int32x4_t f = ifg ? rnn_sat16_mve(vsubq_s32(vdupq_n_s32(32768), i))
                            : lut4_mve(q->m0, q->m0 + 1, gate4_mve(gx, gh, b, o2));
    const int32x4_t cf = vmulq_s32(f, vldrhq_gather_shifted_offset_s32(c, ov));
    const int32x4_t cn =
        rnn_sat16_mve(vaddq_s32(vrshrq_n_s32(cf, 15), vrshlq_n_s32(vmulq_s32(i, g), q->k - 30)));
    const int32x4_t o = lut4_mve(q->m0, q->m0 + 1, gate4_mve(gx, gh, b, o1));
    /* c in Q3.12: VQRSHL by 12 - k (the rounding shift right for k > 12, else the left shift)
     * then sat16 */
    const int32x4_t th = lut4_mve(q->m2, q->m2 + 1,
                                      rnn_sat16_mve(vqrshlq_n_s32(cn, 12 - q->k)));
    /* requant for out_shift <= -2: VQDMULH (floor(2 a m / 2^32)) then VRSHL by out_shift */
    const int32x4_t r = vrshlq_n_s32(vqdmulhq_n_s32(vmulq_s32(o, th), q->om), q->os);
    *hv = rnn_sat8_mve(vaddq_n_s32(r, q->zp));
    return cn;
}

/* lstm_plain for every unit (H >= 4, out_shift <= -2); ifg a constant in each call */
static inline __attribute__((always_inline)) void lstm_mve_loop(const lstm_mve_k *q,
                                                                int16_t *c, int8_t *h,
                                                                const int32_t ifg)
{
    const int32_t last = q->H - 4;
    int32x4_t hl, hu;
    uint32x4_t ov = vidupq_n_u32(0, 1);
    int32_t u;
    /* the last four units first, from the old c: they overlap the loop's last block by
     * 4 - H mod 4 units (none for H mod 4 = 0), whose results are the same; stored after
     * the loop */
    const int32x4_t cl = lstm_block_mve(q, c, vaddq_n_u32(ov, (uint32_t)last), ifg, &hl);
    for (u = 0; u < last; u += 4)
    {
        const int32x4_t cn = lstm_block_mve(q, c, ov, ifg, &hu);
        vstrhq_s32(c + u, cn);
        vstrbq_s32(h + u, hu);
        ov = vaddq_n_u32(ov, 4);
    }
    vstrhq_s32(c + last, cl);
    vstrbq_s32(h + last, hl);
}

static void lstm_plain_mve(const rnn_lstm_params_s16 *p, const int16_t *gx,
                           const int16_t *gh, int16_t *c, int8_t *h)
{
    lstm_mve_k q;
    q.gx = gx;
    q.gh = gh;
    q.bias = p->bias;
    q.m0 = p->lut0;
    q.m1 = p->lut1;
    q.m2 = p->lut2;
    q.H = p->hidden;
    q.k = p->cell_exp;
    q.om = p->out_mult;
    q.os = p->out_shift;
    q.zp = p->h_zero_point;
    if (p->input_forget)
    {
        lstm_mve_loop(&q, c, h, 1);
    }
    else
    {
        lstm_mve_loop(&q, c, h, 0);
    }
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
        if (p->out_shift <= -2 && H >= 4)
        {
            lstm_plain_neon(p, gx, gh, c, h);
        }
        else
        {
            lstm_plain(p, gx, gh, c, h, 0);
        }
#elif defined(RNN_CELL_MVE)
        if (p->out_shift <= -2 && H >= 4)
        {
            lstm_plain_mve(p, gx, gh, c, h);
        }
        else
        {
            lstm_plain(p, gx, gh, c, h, 0);
        }
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
