/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_cell_support.h
 * Description: Helpers the int8 cell kernels share (rnn_lstm_cell_s16, rnn_gru_gates_s16,
 *              rnn_gru_cell_s16, rnn_rnn_cell_s16, rnn_fastrnn_cell_s16,
 *              rnn_fastgrnn_cell_s16, rnn_sru_cell_s16): saturation by SSAT, a rounding shift
 *              by 15 in 32 bits, the table lookup rnn_lut_q12 of four lanes on NEON and
 *              Helium and from the middle entry on DSP, the exact 32-bit requantization
 *              forms, and the DSP instructions GCC does not emit from C (SMMUL, SMMULR,
 *              SMMLA, SMMLAR, PKHBT, PKHTB).
 *
 * Included by those kernels only: every feature macro it tests is one they test already, so
 * the configurations cppcheck checks for the other kernels do not multiply.
 */

#ifndef RNN_CELL_SUPPORT_H
#define RNN_CELL_SUPPORT_H

#include "rnn_nn_support.h"

#if defined(__ARM_FEATURE_SAT) && defined(__GNUC__) && !defined(__clang__)
/* SSAT. arm_acle.h's __ssat is this builtin, whose result GCC 12 types unsigned int, which
 * -Wconversion flags inside the macro; called directly, the cast restores the sign. */
#define RNN_SAT16(v) ((int32_t)__builtin_arm_ssat((v), 16))
#define RNN_SAT8(v) ((int32_t)__builtin_arm_ssat((v), 8))
#elif defined(__ARM_FEATURE_SAT)
#include <arm_acle.h>
#define RNN_SAT16(v) __ssat((v), 16)
#define RNN_SAT8(v) __ssat((v), 8)
#else
#define RNN_SAT16(v) rnn_sat16(v)
#define RNN_SAT8(v) rnn_sat8(v)
#endif

/* rnn_rshift_round(v, 15) for |v| < 2^31 - 2^14 (a product of two int16-ranged values below
 * that bound): v + 2^14 cannot overflow 32 bits */
static inline int32_t rnn_rshift15(int32_t v)
{
    return (v + (1 << 14)) >> 15;
}

/*
 * rnn_requantize(acc, mult, shift) without 64-bit arithmetic, for |acc| <= 2^b and
 * shift <= 28 - b (RNN_RQ_FAST(shift, b), checked once per call by the cells; the rest take
 * the plain C). With p = acc mult and right = 31 - shift, rq = floor((p + 2^(right - 1)) /
 * 2^right). Two forms, both exact (floor(floor(y) / 2^m) = floor(y / 2^m)):
 *
 * - high word (DSP, SMMUL): acc pre-shifted left by e = max(shift + 2, 0) (|acc| 2^e <= 2^30:
 *   no overflow), t = floor(acc 2^e mult / 2^32), then the rounding shift right by
 *   m = max(-1 - shift, 1): (t + 2^(m - 1)) >> m. Nothing to saturate: |rq| < 2^31.
 * - doubling high word (NEON SQDMULH, Helium VQDMULH: floor(2 a b / 2^32), saturating only for
 *   a = b = INT32_MIN, and mult >= 2^30): acc pre-shifted by e = max(shift + 1, 0), then the
 *   rounding shift right by m = max(-shift, 1) (SRSHL, VRSHL: rounded without overflow).
 *   This form needs only |acc| 2^e < 2^31, one bit less than RNN_RQ_FAST asks (the GRU
 *   cell's vector paths test that looser bound themselves).
 */
#define RNN_RQ_FAST(shift, b) ((shift) >= -31 && (shift) <= 28 - (b))
/* the shift amounts of the two forms: NEON / Helium pre = max(shift + 1, 0),
 * post = min(shift, -1); DSP e = max(shift + 2, 0), m = max(-1 - shift, 1) */
#define RNN_RQ_PRE(shift) ((shift) + 1 > 0 ? (shift) + 1 : 0)
#define RNN_RQ_POST(shift) ((shift) < -1 ? (shift) : -1)
#define RNN_RQ_E(shift) ((shift) + 2 > 0 ? (shift) + 2 : 0)
#define RNN_RQ_M(shift) ((shift) < -2 ? -1 - (shift) : 1)

/* The parameter ranges of rnn_fastrnn_cell_s16's and rnn_fastgrnn_cell_s16's fast paths (one
 * rnn_fast_params_s16 for both): NEON and Helium take both requantizations in the 32-bit
 * forms (|h - zp| <= 2^8, |nw| <= 2^15); DSP takes h15 by SMMULR of (h - zp) 2^(s + 1)
 * (s >= -1) and the output from the high word with the zero point in its rounding term
 * (-23 <= out_shift <= -2) */
#define RNN_FAST_VEC_OK(p) (RNN_RQ_FAST((p)->h15_shift, 8) && RNN_RQ_FAST((p)->out_shift, 15))
#define RNN_FAST_DSP_OK(p) \
    ((p)->h15_shift >= -1 && (p)->h15_shift <= 20 && (p)->out_shift >= -23 && \
     (p)->out_shift <= -2)

#if defined(__ARM_NEON) && defined(__aarch64__)
#include <arm_neon.h>

/* rnn_requantize of four lanes (see RNN_RQ_FAST): pre = vdupq_n_s32(max(shift + 1, 0)),
 * post = vdupq_n_s32(min(shift, -1)) (a negative SRSHL amount shifts right, rounding) */
static inline int32x4_t rnn_rq4_neon(int32x4_t acc, int32_t mult, int32x4_t pre, int32x4_t post)
{
    return vrshlq_s32(vqdmulhq_n_s32(vshlq_s32(acc, pre), mult), post);
}

/* an int32 at a 2-byte boundary: a table's entry pair (GNU C: a typedef may lower the
 * alignment; AArch64 loads need none) */
typedef int32_t rnn_s32_a2 __attribute__((aligned(2)));

static inline int32_t rnn_lut_pair(const int16_t *table, int32_t i)
{
    return *(const rnn_s32_a2 *)(const void *)(table + i);
}

/*
 * rnn_lut_q12 of four Q3.12 values in int32 lanes: the entries table[i], table[i + 1] of each
 * lane read as one 32-bit word (little-endian: table[i] in the low half) straight into its
 * lane (LD1R, LD1 {v.s}[lane]; through memcpy and a vector load GCC 12 assembled the lanes
 * with BFI and INS: HAR1's LSTM cell, 8 steps of 179 units on cortex-a73, 73,280 -> 64,472
 * instructions).
 */
static inline int32x4_t rnn_lut4_neon(const int16_t *table, int32x4_t x)
{
    const int32x4_t u = vaddq_s32(x, vdupq_n_s32(32768));
    const int32x4_t i = vshrq_n_s32(u, 7);
    const int32x4_t f = vandq_s32(u, vdupq_n_s32(127));
    int32x4_t pair = vdupq_n_s32(rnn_lut_pair(table, vgetq_lane_s32(i, 0)));
    pair = vsetq_lane_s32(rnn_lut_pair(table, vgetq_lane_s32(i, 1)), pair, 1);
    pair = vsetq_lane_s32(rnn_lut_pair(table, vgetq_lane_s32(i, 2)), pair, 2);
    pair = vsetq_lane_s32(rnn_lut_pair(table, vgetq_lane_s32(i, 3)), pair, 3);
    {
        const int16x4_t t0 = vmovn_s32(pair);
        const int16x4_t t1 = vshrn_n_s32(pair, 16);
        const int32x4_t d = vmlaq_s32(vdupq_n_s32(64), vsubl_s16(t1, t0), f);
        return vaddq_s32(vmovl_s16(t0), vshrq_n_s32(d, 7));
    }
}
#elif defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
#include <arm_mve.h>

/* rnn_lut_q12 of four Q3.12 values in int32 lanes: the two entries by gathers */
static inline int32x4_t rnn_lut4_mve(const int16_t *table, int32x4_t x)
{
    const int32x4_t u = vaddq_n_s32(x, 32768);
    const uint32x4_t i = vreinterpretq_u32_s32(vshrq_n_s32(u, 7));
    const int32x4_t f = vandq_s32(u, vdupq_n_s32(127));
    const int32x4_t t0 = vldrhq_gather_shifted_offset_s32(table, i);
    const int32x4_t t1 = vldrhq_gather_shifted_offset_s32(table + 1, i);
    return vaddq_s32(t0, vshrq_n_s32(vaddq_n_s32(vmulq_s32(vsubq_s32(t1, t0), f), 64), 7));
}

/* rnn_requantize of four lanes (see RNN_RQ_FAST): pre = max(shift + 1, 0),
 * post = min(shift, -1) (a negative VRSHL amount shifts right, rounding) */
static inline int32x4_t rnn_rq4_mve(int32x4_t acc, int32_t mult, int32_t pre, int32_t post)
{
    return vrshlq_n_s32(vqdmulhq_n_s32(vshlq_r_s32(acc, pre), mult), post);
}

/* sat16 of four int32 lanes, kept in int32 lanes, in two instructions and no constant
 * register: VQSHL saturates v 2^16 to int32, which is sat16(v) 2^16, then VSHR */
static inline int32x4_t rnn_sat16_mve(int32x4_t v)
{
    return vshrq_n_s32(vqshlq_n_s32(v, 16), 16);
}

/* sat8 of four int32 lanes, alike */
static inline int32x4_t rnn_sat8_mve(int32x4_t v)
{
    return vshrq_n_s32(vqshlq_n_s32(v, 24), 24);
}
#endif

#if defined(__ARM_FEATURE_DSP) && defined(__ARM_FEATURE_SIMD32) && !defined(__aarch64__) && \
    defined(__GNUC__)
/* SMMUL: floor(a b / 2^32), the high word (GCC emits it from the 64-bit product's high half,
 * but not always: written out) */
static inline int32_t rnn_smmul(int32_t a, int32_t b)
{
    int32_t r;
    __asm__("smmul %0, %1, %2" : "=r"(r) : "r"(a), "r"(b));
    return r;
}

/* SMMULR: (a b + 2^31) >> 32, the rounded high word (GCC does not emit it from C) */
static inline int32_t rnn_smmulr(int32_t a, int32_t b)
{
    int32_t r;
    __asm__("smmulr %0, %1, %2" : "=r"(r) : "r"(a), "r"(b));
    return r;
}

/* SMMLA: acc + floor(a b / 2^32), exact (the product's low word only carries into the sum's
 * high word) */
static inline int32_t rnn_smmla(int32_t a, int32_t b, int32_t acc)
{
    int32_t r;
    __asm__("smmla %0, %1, %2, %3" : "=r"(r) : "r"(a), "r"(b), "r"(acc));
    return r;
}

/* SMMLAR: acc + rnn_smmulr(a, b) */
static inline int32_t rnn_smmlar(int32_t a, int32_t b, int32_t acc)
{
    int32_t r;
    __asm__("smmlar %0, %1, %2, %3" : "=r"(r) : "r"(a), "r"(b), "r"(acc));
    return r;
}

/* PKHBT: the low half of lo, the low half of hi as the high half (GCC 12 makes UXTH + ORR
 * of the C form) */
static inline int32_t rnn_pkhbt16(int32_t lo, int32_t hi)
{
    int32_t r;
    __asm__("pkhbt %0, %1, %2, lsl #16" : "=r"(r) : "r"(lo), "r"(hi));
    return r;
}

/* PKHBT without a shift: the low half of lo, the high half of hi */
static inline int32_t rnn_pkhbt(int32_t lo, int32_t hi)
{
    int32_t r;
    __asm__("pkhbt %0, %1, %2" : "=r"(r) : "r"(lo), "r"(hi));
    return r;
}

/* PKHTB: the high half of hi, the high half of lo as the low half */
static inline int32_t rnn_pkhtb16(int32_t hi, int32_t lo)
{
    int32_t r;
    __asm__("pkhtb %0, %1, %2, asr #16" : "=r"(r) : "r"(hi), "r"(lo));
    return r;
}

/* rnn_lut_q12 with the table pointer moved to its middle entry (t = table + 256): the index
 * (x + 32768) >> 7 is 256 + (x >> 7) and the fraction (x + 32768) & 127 is x & 127; the two
 * entries as one word, weighted by (128 - f, f) in one SMLAD (see rnn_lut_q12) */
static inline int32_t rnn_lut_mid_dsp(const int16_t *t, int32_t x)
{
    const uint32_t f = (uint32_t)x & 127u;
    int32_t pair;
    memcpy(&pair, t + (x >> 7), sizeof pair);
    return __smlad(pair, (int32_t)(f * 65535u + 128u), 64) >> 7;
}

/* rnn_requantize (see RNN_RQ_FAST): e = max(shift + 2, 0), m = max(-1 - shift, 1) */
static inline int32_t rnn_rq_dsp(int32_t acc, int32_t mult, int32_t e, int32_t m)
{
    return (rnn_smmul(acc << e, mult) + (1 << (m - 1))) >> m;
}
#endif

#endif /* RNN_CELL_SUPPORT_H */
