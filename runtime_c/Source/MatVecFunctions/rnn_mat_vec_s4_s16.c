/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_mat_vec_s4_s16.c
 * Description: int4 matrix (packed two weights per byte) times int8 vector, int32
 *              accumulation, each row requantized to int16 (a gate pre-activation in Q3.12):
 *              y[r] = sat16(rq(W[r] . x + offset[r])); rnn_mat_vec_s4_sums, the sums before
 *              requantization; rnn_mat_vec_s4_rows, the work of both and of rnn_mat_vec_s4.
 *
 * Storage (docs/int8.md, "Precision per layer"): weights in [-7, 7], rows in pairs: byte j
 * of pair p holds column j of row 2p in its low nibble (stored as w + 8: 1..15) and column j
 * of row 2p + 1 in its high nibble (two's complement), so the byte read as int8 is
 * B = 16 w[2p + 1][j] + w[2p][j] + 8. Pairs are RNN_S4_STRIDE(cols) bytes apart (a whole
 * number of words; byte 0x08, two zero weights, after the last column and as the missing
 * second row of an odd last row). Decoding: u = B & 15 = w[2p][j] + 8, h = B >> 4 (arithmetic)
 * = w[2p + 1][j].
 *
 * Why rows in pairs: with both nibbles of a byte on the same column, one product with x
 * serves both rows. sum_j B x = 16 (row 2p + 1 . x) + (row 2p . x) + 8 sum(x), and one shift
 * gives h = B >> 4, so per 16 bytes (32 multiply-adds) a row pair costs one load, one shift
 * and two dot products with x itself (no split of x, no nibble masking): row 2p + 1 = H,
 * row 2p = S - 16 H - 8 sum(x), with S = sum B x, H = sum h x.
 *
 * Integer sums are exact in any order, so every path gives the plain C loop's results bit for
 * bit (quant.py defines them):
 * - Helium (Cortex-M55, __ARM_FEATURE_MVE): two row pairs per pass share each 16-byte load of
 *   x: VLDRB, VSHR and two VMLADAVA per pair; the last 1..15 columns predicated; a block's
 *   last 1 to 3 rows one pair at a time the same way (small matrices, such as the low-rank
 *   and stacked formats' blocks, have them); groups of four rows requantized as one vector
 *   (as rnn_mat_vec_s8_s16), sum(x) by VADDVA.
 * - NEON (AArch64, __ARM_NEON): two row pairs per pass share each 16-byte load of x: per
 *   pair one load, SSHR and the int8 kernel's SMULL + SMLAL2 + SADALP for S and for H (two
 *   products of |B| <= 127 and |x| <= 128 fit int16); the last columns in plain C.
 * - DSP extension (Cortex-M4/M7, __ARM_FEATURE_DSP): x split once per call into int16 pairs
 *   ((x0, x2), (x1, x3) per word of 4 columns, as rnn_mat_vec_s8_s16 does); per weight word
 *   SXTB16 (and SXTB16 ROR #8) of the word and of the word AND 0xF0F0F0F0 (16 h) with four
 *   SMLAD: 9 instructions for 8 multiply-adds; one pair per pass in assembly, one LDM of
 *   four x words and one LDRD of two weight words per 8 columns, the loop over the pairs
 *   in assembly too. H comes 16-fold (exact, divided at the end);
 *   quant.check_accumulator_s4 proves it fits int32.
 * - plain C99 elsewhere.
 * rnn_mat_vec_s4_pairs_split (DSP builds only) is the Cortex-M4/M7 pair loop on x given
 * already split; the int16-activation kernel (rnn_mat_vec_a16_s4_s16.c) shares it.
 */

#include "rnn_nnfunctions.h"
#include "rnn_nn_support.h"

#include <stddef.h>

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
#include <arm_mve.h>
#define RNN_S4_MVE 1
#elif defined(__ARM_NEON) && defined(__aarch64__)
#include <arm_neon.h>
#define RNN_S4_NEON 1
#elif defined(__ARM_FEATURE_DSP) && defined(__ARM_FEATURE_SIMD32)
#include <arm_acle.h>
#include <string.h>
#define RNN_S4_DSP 1
#endif

/* widest input the Cortex-M4/M7 path splits on the stack; wider inputs use plain C there */
#define RNN_S4_XW 1024

/* rows whose sums wait on the stack before their requantization (even) */
#define RNN_S4_BLOCK 64

/* S and H (above) of one row pair over columns [j0, cols), plain C */
static void pair_c(const int8_t *w, const int8_t *x, int32_t j0, int32_t cols, int32_t *s,
                   int32_t *h)
{
    int32_t a = 0, b = 0;
    int32_t j;
    for (j = j0; j < cols; ++j)
    {
        const int32_t v = (int32_t)w[j];
        const int32_t u = v & 15;
        a += v * (int32_t)x[j];
        b += ((v - u) / 16) * (int32_t)x[j];
    }
    *s += a;
    *h += b;
}

#if defined(RNN_S4_MVE)
/* S, H of the pairs at w0 and w1 over all columns (pointers moved on by 16 bytes per pass:
 * post-incremented loads) */
static void pairs2_mve(int32_t cols, const int8_t *w0, const int8_t *w1, const int8_t *x,
                       int32_t *out)
{
    int32_t s0 = 0, h0 = 0, s1 = 0, h1 = 0;
    int32_t n = cols;
    for (; n >= 16; n -= 16)
    {
        const int8x16_t xv = vldrbq_s8(x);
        const int8x16_t b0 = vldrbq_s8(w0);
        const int8x16_t b1 = vldrbq_s8(w1);
        x += 16;
        w0 += 16;
        w1 += 16;
        s0 = vmladavaq_s8(s0, b0, xv);
        h0 = vmladavaq_s8(h0, vshrq_n_s8(b0, 4), xv);
        s1 = vmladavaq_s8(s1, b1, xv);
        h1 = vmladavaq_s8(h1, vshrq_n_s8(b1, 4), xv);
    }
    if (n > 0)
    {
        const mve_pred16_t p = vctp8q((uint32_t)n);
        const int8x16_t xv = vldrbq_z_s8(x, p);
        const int8x16_t b0 = vldrbq_z_s8(w0, p);
        const int8x16_t b1 = vldrbq_z_s8(w1, p);
        s0 = vmladavaq_s8(s0, b0, xv);
        h0 = vmladavaq_s8(h0, vshrq_n_s8(b0, 4), xv);
        s1 = vmladavaq_s8(s1, b1, xv);
        h1 = vmladavaq_s8(h1, vshrq_n_s8(b1, 4), xv);
    }
    out[0] = s0;
    out[1] = h0;
    out[2] = s1;
    out[3] = h1;
}

/* S, H of the one pair at w over all columns (the last pair of a block of 4k + 1 or 4k + 2
 * rows) */
#if defined(__GNUC__)
__attribute__((noinline)) /* inlined, it changes the register allocation of the main loop */
#endif
static void pair1_mve(int32_t cols, const int8_t *w, const int8_t *x, int32_t *out)
{
    int32_t s = 0, h = 0;
    int32_t n = cols;
    for (; n >= 16; n -= 16)
    {
        const int8x16_t xv = vldrbq_s8(x);
        const int8x16_t b = vldrbq_s8(w);
        x += 16;
        w += 16;
        s = vmladavaq_s8(s, b, xv);
        h = vmladavaq_s8(h, vshrq_n_s8(b, 4), xv);
    }
    if (n > 0)
    {
        const mve_pred16_t p = vctp8q((uint32_t)n);
        const int8x16_t xv = vldrbq_z_s8(x, p);
        const int8x16_t b = vldrbq_z_s8(w, p);
        s = vmladavaq_s8(s, b, xv);
        h = vmladavaq_s8(h, vshrq_n_s8(b, 4), xv);
    }
    out[0] = s;
    out[1] = h;
}

/* y[0..3] = sat16(rq(acc[0..3])) as one vector (as rnn_mat_vec_s8_s16's Helium path, shifts
 * above -2 brought to -2 as requant16 does); returns 0 (nothing done) when a shift is above
 * 13 or an acc does not fit */
static int requant4_mve(const int32_t *acc, const int32_t *mult, const int32_t *shift,
                        int16_t *y)
{
    const int32x4_t sh = vldrwq_s32(shift);
    /* a shift s above -2 becomes -2 with acc 2^(s + 2) (exact, see requant16) when that
     * fits: k = max(s + 2, 0) per lane, the shifted acc checked by shifting it back */
    const int32x4_t k = vmaxq_s32(vaddq_n_s32(sh, 2), vdupq_n_s32(0));
    const int32x4_t a0 = vldrwq_s32(acc);
    const int32x4_t a = vshlq_s32(a0, k);
    if (vmaxvq_s32(INT32_MIN, sh) > 13 ||
        vcmpneq_s32(vshlq_s32(a, vnegq_s32(k)), a0) != 0)
    {
        return 0;
    }
    {
        const int32x4_t hi = vmulhq_s32(a, vldrwq_s32(mult));
        const int32x4_t q = vrshlq_s32(hi, vaddq_n_s32(vsubq_s32(sh, k), 1));
        vstrhq_s32(y, vmaxq_s32(vminq_s32(q, vdupq_n_s32(32767)), vdupq_n_s32(-32768)));
    }
    return 1;
}
#endif

#if defined(RNN_S4_NEON)
static inline int32x4_t dot16_neon(int32x4_t a, int8x16_t w, int8x16_t x)
{
    int16x8_t p = vmull_s8(vget_low_s8(w), vget_low_s8(x));
    p = vmlal_high_s8(p, w, x);
    return vpadalq_s16(a, p);
}

/* How pairs2_neon ends a row pair after its whole passes of 16 columns */
enum
{
    RNN_S4_TAIL_C = 0,    /* the last columns in plain C (pair_c), or none */
    RNN_S4_TAIL_LAST = 1, /* cols > 16: one more pass over the last 16 columns, xt = x's last
                           * 16 with the lanes already done zeroed */
    RNN_S4_TAIL_NARROW = 2 /* cols < 16: one pass from the row's start, xt = x zero-padded to
                            * 16 lanes; the load runs on into the pair's padding and the next
                            * pairs, which meet zero lanes (the caller makes sure the load
                            * stays inside the matrix) */
};

/* S, H of the pairs at w0 and w1 over all columns: vectors of 16, then the tail */
static void pairs2_neon(int32_t cols, const int8_t *w0, const int8_t *w1, const int8_t *x,
                        int8x16_t xt, int tail, int32_t *out)
{
    int32x4_t s0 = vdupq_n_s32(0), h0 = s0, s1 = s0, h1 = s0;
    int32_t t[4];
    int32_t j = 0;
    for (; j + 16 <= cols; j += 16)
    {
        const int8x16_t xv = vld1q_s8(x + j);
        const int8x16_t b0 = vld1q_s8(w0 + j);
        const int8x16_t b1 = vld1q_s8(w1 + j);
        s0 = dot16_neon(s0, b0, xv);
        h0 = dot16_neon(h0, vshrq_n_s8(b0, 4), xv);
        s1 = dot16_neon(s1, b1, xv);
        h1 = dot16_neon(h1, vshrq_n_s8(b1, 4), xv);
    }
    if (tail != RNN_S4_TAIL_C)
    {
        const int32_t at = tail == RNN_S4_TAIL_LAST ? cols - 16 : 0;
        const int8x16_t b0 = vld1q_s8(w0 + at);
        const int8x16_t b1 = vld1q_s8(w1 + at);
        s0 = dot16_neon(s0, b0, xt);
        h0 = dot16_neon(h0, vshrq_n_s8(b0, 4), xt);
        s1 = dot16_neon(s1, b1, xt);
        h1 = dot16_neon(h1, vshrq_n_s8(b1, 4), xt);
        j = cols;
    }
    vst1q_s32(t, vpaddq_s32(vpaddq_s32(s0, h0), vpaddq_s32(s1, h1)));
    pair_c(w0, x, j, cols, &t[0], &t[1]);
    pair_c(w1, x, j, cols, &t[2], &t[3]);
    out[0] = t[0];
    out[1] = t[1];
    out[2] = t[2];
    out[3] = t[3];
}

/* The tail mode of a matrix (above) and its x vector */
static int tail_neon(int32_t cols, const int8_t *x, int8x16_t *xt)
{
    static const uint8_t lane[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    if (cols > 16 && (cols & 15) != 0)
    {
        const int32_t done = (cols >> 4) << 4;
        const uint8x16_t before =
            vcltq_u8(vld1q_u8(lane), vdupq_n_u8((uint8_t)(done - (cols - 16))));
        *xt = vbicq_s8(vld1q_s8(x + cols - 16), vreinterpretq_s8_u8(before));
        return RNN_S4_TAIL_LAST;
    }
    if (cols > 0 && cols < 16)
    {
        int8_t xb[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
        int32_t j;
        for (j = 0; j < cols; ++j)
        {
            xb[j] = x[j];
        }
        *xt = vld1q_s8(xb);
        return RNN_S4_TAIL_NARROW;
    }
    *xt = vdupq_n_s8(0);
    return RNN_S4_TAIL_C;
}
#endif

#if defined(RNN_S4_DSP)
static int32_t pair16(int32_t lo, int32_t hi)
{
    return (int32_t)(((uint32_t)hi << 16) | ((uint32_t)lo & 0xFFFFu));
}

/* x split once per call: per word of 4 columns (x0, x2), (x1, x3), zero after the last */
static void split_dsp(int32_t cols, int32_t words, const int8_t *x, int32_t *xw)
{
    int32_t g;
    for (g = 0; 4 * g + 4 <= cols; ++g)
    {
        xw[2 * g] = pair16(x[4 * g], x[4 * g + 2]);
        xw[2 * g + 1] = pair16(x[4 * g + 1], x[4 * g + 3]);
    }
    if (g < words)
    {
        int32_t c[4];
        int32_t k;
        for (k = 0; k < 4; ++k)
        {
            c[k] = 4 * g + k < cols ? (int32_t)x[4 * g + k] : 0;
        }
        xw[2 * g] = pair16(c[0], c[2]);
        xw[2 * g + 1] = pair16(c[1], c[3]);
    }
}

/* SXTB16 of bytes 1 and 3 (SXTB16 with ROR #8: one instruction) */
static int32_t sxtb16_hi(int32_t v)
{
#if defined(__GNUC__)
    int32_t r;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(v));
    return r;
#else
    return __sxtb16((int32_t)(((uint32_t)v >> 8) | ((uint32_t)v << 24)));
#endif
}

/* S and 16 H of one pair over `words` words, x split in xw (C intrinsics) */
static void pair1_dsp(int32_t words, const int8_t *w, const int32_t *xw, int32_t *out)
{
    int32_t s = 0, h = 0;
    int32_t k;
    for (k = 0; k < words; ++k)
    {
        int32_t v, m;
        memcpy(&v, w + 4 * k, sizeof v);
        m = (int32_t)((uint32_t)v & 0xF0F0F0F0u);
        s = __smlad(__sxtb16(v), xw[2 * k], s);
        s = __smlad(sxtb16_hi(v), xw[2 * k + 1], s);
        h = __smlad(__sxtb16(m), xw[2 * k], h);
        h = __smlad(sxtb16_hi(m), xw[2 * k + 1], h);
    }
    out[0] = s;
    out[1] = h;
}

#if defined(__GNUC__) && defined(__thumb2__) && defined(__OPTIMIZE__)
#define RNN_S4_DSP2 1
/* one word of weights (v: 4 columns of a row pair) into s and h, x pairs in xa, xb */
#define RNN_S4_WORD(v, xa, xb)                                                                 \
    "sxtb16 %[t], %[" v "]\n\t"                                                                \
    "smlad %[s], %[t], %[" xa "], %[s]\n\t"                                                    \
    "sxtb16 %[t], %[" v "], ror #8\n\t"                                                        \
    "smlad %[s], %[t], %[" xb "], %[s]\n\t"                                                    \
    "and %[" v "], %[" v "], #0xF0F0F0F0\n\t"                                                  \
    "sxtb16 %[t], %[" v "]\n\t"                                                                \
    "smlad %[h], %[t], %[" xa "], %[h]\n\t"                                                    \
    "sxtb16 %[" v "], %[" v "], ror #8\n\t"                                                    \
    "smlad %[h], %[" v "], %[" xb "], %[h]\n\t"
/* 8 columns: one LDM of four split x words, one LDRD of two weight words */
#define RNN_S4_DWORD                                                                           \
    "ldm %[xw]!, {%[x0], %[x1], %[x2], %[x3]}\n\t"                                             \
    "ldrd %[v0], %[v1], [%[w]], #8\n\t" RNN_S4_WORD("v0", "x0", "x1")                          \
        RNN_S4_WORD("v1", "x2", "x3")
/* 4 columns */
#define RNN_S4_SWORD                                                                           \
    "ldrd %[x0], %[x1], [%[xw]], #8\n\t"                                                       \
    "ldr %[v0], [%[w]], #4\n\t" RNN_S4_WORD("v0", "x0", "x1")
#if defined(__GNUC__)
#define RNN_S4_NOINLINE __attribute__((noinline))
#else
#define RNN_S4_NOINLINE
#endif
/* The pair loop, all in assembly (as rnn_mat_vec_s8_s16's): for each pair, s = h = 0, k0
 * passes of 16 columns, then TAIL (the last 4, 8 or 12 columns), S and 16 H stored, w moved
 * on to the next pair (each pair's RNN_S4_STRIDE bytes are exactly the words read). The
 * per-pair values (the output pointer, the count, x, k0) are memory operands. */
#define RNN_S4_PAIRS(TAIL)                                                                     \
    __asm__ volatile("2:\n\t"                                                                  \
                     "mov %[s], #0\n\t"                                                        \
                     "mov %[h], #0\n\t"                                                        \
                     "ldr %[xw], %[xw0]\n\t"                                                   \
                     "ldr %[k], %[k0]\n\t"                                                     \
                     "cmp %[k], #0\n\t"                                                        \
                     "beq 3f\n\t"                                                              \
                     "1:\n\t" RNN_S4_DWORD RNN_S4_DWORD "subs %[k], %[k], #1\n\t"              \
                     "bne 1b\n\t"                                                              \
                     "3:\n\t" TAIL                                                             \
                     "ldr %[t], %[outp]\n\t"                                                   \
                     "strd %[s], %[h], [%[t]], #8\n\t"                                         \
                     "str %[t], %[outp]\n\t"                                                   \
                     "ldr %[t], %[np]\n\t"                                                     \
                     "subs %[t], %[t], #1\n\t"                                                 \
                     "str %[t], %[np]\n\t"                                                     \
                     "bne 2b\n\t"                                                              \
                     : [s] "=&r"(s), [h] "=&r"(h), [w] "+&r"(w), [xw] "=&r"(xw), [k] "=&r"(k), \
                       [x0] "=&r"(x0), [x1] "=&r"(x1), [x2] "=&r"(x2), [x3] "=&r"(x3),         \
                       [v0] "=&r"(v0), [v1] "=&r"(v1), [t] "=&r"(t), [outp] "+m"(outp),        \
                       [np] "+m"(np)                                                           \
                     : [xw0] "m"(xw0), [k0] "m"(k0)                                            \
                     : "cc", "memory")

/* out[2p], out[2p + 1] = S and 16 H of pair p for p < pairs (>= 1), pairs `ld` bytes apart
 * from w (word-aligned), x split in xw0: 20 instructions per 16 multiply-adds (one LDM, one
 * LDRD, 18 SXTB16 / AND / SMLAD), 42 per 32 with SUBS, BNE. Out of line: inlined, the
 * pinned registers make GCC spill in its caller. */
static RNN_S4_NOINLINE void pairs_dsp(int32_t ld, int32_t pairs, const int8_t *w,
                                      const int32_t *xw0, int32_t *out)
{
    register int32_t x0 __asm__("r8");
    register int32_t x1 __asm__("r9");
    register int32_t x2 __asm__("r10");
    register int32_t x3 __asm__("r11");
    const int32_t words = ld >> 2;
    const int32_t k0 = words >> 2;
    int32_t *outp = out;
    int32_t np = pairs;
    const int32_t *xw;
    int32_t s, h, k, v0, v1, t;
    switch (words & 3)
    {
    case 0:
        RNN_S4_PAIRS("");
        break;
    case 1:
        RNN_S4_PAIRS(RNN_S4_SWORD);
        break;
    case 2:
        RNN_S4_PAIRS(RNN_S4_DWORD);
        break;
    default:
        RNN_S4_PAIRS(RNN_S4_DWORD RNN_S4_SWORD);
        break;
    }
}
#undef RNN_S4_PAIRS
#undef RNN_S4_SWORD
#undef RNN_S4_DWORD
#undef RNN_S4_WORD
#endif

/* Refer to header file for details. (w word-aligned: pairs_dsp's contract. Without the
 * assembly, pair1_dsp; with it pair1_dsp is not called here, so that it stays inlined in
 * rnn_mat_vec_s4_rows, as before this function existed.) */
void rnn_mat_vec_s4_pairs_split(int32_t cols, int32_t pairs, const int8_t *w, const int32_t *xw,
                                int32_t *out)
{
    const int32_t ld = RNN_S4_STRIDE(cols);
#if defined(RNN_S4_DSP2)
    if (ld > 0 && pairs > 0)
    {
        pairs_dsp(ld, pairs, w, xw, out);
    }
#else
    int32_t p;
    for (p = 0; p < pairs; ++p)
    {
        pair1_dsp(ld >> 2, w + p * ld, xw, out + 2 * p);
    }
#endif
}
#endif

#if defined(__ARM_FEATURE_SAT) && defined(__GNUC__) && !defined(__clang__)
#include <arm_acle.h>
/* SSAT (the builtin arm_acle.h's __ssat wraps; GCC 12 types its result unsigned) */
#define RNN_S4_SAT16(v) ((int32_t)__builtin_arm_ssat((v), 16))
#else
#define RNN_S4_SAT16(v) rnn_sat16(v)
#endif

#if defined(__GNUC__)
#define RNN_S4_NOINLINE_ANY __attribute__((noinline))
#else
#define RNN_S4_NOINLINE_ANY
#endif

/* Cortex-M4/M7: the row requantizations out of line too. Inlined into the row loops they
 * make GCC spill there (measured, whole LSTM runs: low-rank 32 -> 64 at 2x 413,164 ->
 * 401,644 instructions, dense 456,684 -> 454,636); on Helium inlining is the cheaper */
#if defined(RNN_S4_DSP) && defined(__GNUC__)
#define RNN_S4_RQ static __attribute__((noinline))
#else
#define RNN_S4_RQ static inline
#endif

/* the general case, out of line so that the common one stays short */
static RNN_S4_NOINLINE_ANY int32_t requant16_any(int32_t acc, int32_t mult, int32_t shift)
{
    return rnn_sat16(rnn_requantize(acc, mult, shift));
}

/* sat16(rnn_requantize(acc, mult, shift)), as rnn_mat_vec_s8_s16 (its header derives the
 * shift <= -2 form: ((2 hi) >> ~shift) + 1, halved) */
RNN_S4_RQ int32_t requant16(int32_t acc, int32_t mult, int32_t shift)
{
    if (shift <= -2)
    {
        const int32_t hi = (int32_t)(((int64_t)acc * (int64_t)mult) >> 32);
        const int32_t t = ((int32_t)((uint32_t)hi << 1) >> ~shift) + 1;
        return RNN_S4_SAT16(t >> 1);
    }
    /* int4 rows' scales are about 18 times int8's, so their shifts are mostly -1 .. 3:
     * rq(acc 2^k, mult, shift - k) = rq(acc, mult, shift) exactly (the same rational
     * number floored). The common case first, with k = 4 (one unsigned compare for the
     * range, a shift of the sum, no shift amount to compute), then k = shift + 2 wherever
     * acc 2^k fits */
    if (shift <= 2 && (uint32_t)acc + (1u << 27) < (1u << 28))
    {
        const int32_t hi = (int32_t)(((int64_t)(acc * 16) * (int64_t)mult) >> 32);
        const int32_t t = ((int32_t)((uint32_t)hi << 1) >> (3 - shift)) + 1;
        return RNN_S4_SAT16(t >> 1);
    }
    if (shift <= 13)
    {
        const int32_t lim = (int32_t)1 << (29 - shift); /* 2^(31 - k) */
        if (acc >= -lim && acc < lim)
        {
            const int32_t a = acc * ((int32_t)1 << (shift + 2));
            const int32_t hi = (int32_t)(((int64_t)a * (int64_t)mult) >> 32);
            return RNN_S4_SAT16((hi + 1) >> 1);
        }
    }
    return requant16_any(acc, mult, shift);
}

/* sat8(zp + rnn_requantize(acc, mult, shift)), as rnn_mat_vec_s8 */
RNN_S4_RQ int32_t requant8(int32_t acc, int32_t mult, int32_t shift, int32_t zp)
{
    int32_t v;
    if (shift <= -2)
    {
        const int32_t hi = (int32_t)(((int64_t)acc * (int64_t)mult) >> 32);
        v = ((hi >> (-2 - shift)) + 1) >> 1;
    }
    else if (shift <= 13 && acc >= -((int32_t)1 << (29 - shift)) &&
             acc < ((int32_t)1 << (29 - shift)))
    {
        /* as requant16: acc 2^(shift + 2) with the shift -2 */
        const int32_t a = acc * ((int32_t)1 << (shift + 2));
        const int32_t hi = (int32_t)(((int64_t)a * (int64_t)mult) >> 32);
        v = (hi + 1) >> 1;
    }
    else
    {
        v = rnn_requantize(acc, mult, shift);
    }
    /* bounded before the zero point is added (|zero point| <= 128: the same int8 result) */
    v = v > 255 ? 255 : (v < -256 ? -256 : v);
    return rnn_sat8(zp + v);
}

/* Refer to header file for details. */
void rnn_mat_vec_s4_rows(int32_t rows, int32_t cols, const int8_t *w, const int32_t *offset,
                         const int32_t *mult, const int32_t *shift, int32_t out_zero_point,
                         const int8_t *x, int32_t *sums, int16_t *y16, int8_t *y8)
{
    const int32_t ld = RNN_S4_STRIDE(cols);
    int32_t block[RNN_S4_BLOCK];
    int32_t sx8 = 0; /* 8 sum(x) */
    int32_t r, j;
#if defined(RNN_S4_DSP)
    int32_t xw[RNN_S4_XW / 2];
    const int split = cols <= RNN_S4_XW;
    if (split)
    {
        split_dsp(cols, ld >> 2, x, xw);
    }
#endif
#if defined(RNN_S4_NEON)
    int8x16_t xt;
    const int tail = tail_neon(cols, x, &xt);
    const int8_t *const wend = w + ((rows + 1) >> 1) * ld; /* the matrix's last byte + 1 */
#endif
#if defined(RNN_S4_MVE)
    for (j = 0; j < cols; j += 16)
    {
        const mve_pred16_t p = vctp8q((uint32_t)(cols - j));
        sx8 = vaddvaq_p_s8(sx8, vldrbq_z_s8(x + j, p), p);
    }
#elif defined(RNN_S4_DSP)
    /* cppcheck-suppress duplicateCondition ; the split above, then this sum: one per path */
    if (split) /* sum(x) from the split words: both int16 halves by one SMLAD (zeros after) */
    {
        for (j = 0; j < 2 * (ld >> 2); ++j)
        {
            sx8 = __smlad(xw[j], 0x00010001, sx8);
        }
    }
    else
    {
        for (j = 0; j < cols; ++j)
        {
            sx8 += x[j];
        }
    }
#else
    for (j = 0; j < cols; ++j)
    {
        sx8 += x[j];
    }
#endif
    sx8 *= 8;
    for (r = 0; r < rows; r += RNN_S4_BLOCK)
    {
        const int32_t nb = rows - r < RNN_S4_BLOCK ? rows - r : RNN_S4_BLOCK;
        /* cppcheck-suppress legacyUninitvar ; block's acc[k] are written before read */
        int32_t *acc = sums != NULL ? sums + r : block;
        const int8_t *wp = w + (r >> 1) * ld; /* r is even: a whole number of pairs */
        int32_t k = 0;
        /* acc[k], acc[k + 1] = S - 16 H - 8 sum(x), H of the pair (one value when the
         * block ends inside the pair) */
#define RNN_S4_STORE(S, H)                                                                     \
    do                                                                                         \
    {                                                                                          \
        acc[k] = (S) - 16 * (H)-sx8 + offset[r + k];                                           \
        if (k + 1 < nb)                                                                        \
        {                                                                                      \
            acc[k + 1] = (H) + offset[r + k + 1];                                              \
        }                                                                                      \
    } while (0)
#if defined(RNN_S4_MVE) || defined(RNN_S4_NEON)
        for (; k + 4 <= nb; k += 4)
        {
            int32_t t[4];
#if defined(RNN_S4_MVE)
            pairs2_mve(cols, wp, wp + ld, x, t);
#else
            /* a narrow load from the second pair must end inside the matrix */
            pairs2_neon(cols, wp, wp + ld, x, xt,
                        tail == RNN_S4_TAIL_NARROW && wp + ld + 16 > wend ? RNN_S4_TAIL_C
                                                                          : tail,
                        t);
#endif
            RNN_S4_STORE(t[0], t[1]);
            k += 2;
            RNN_S4_STORE(t[2], t[3]);
            k -= 2;
            wp += 2 * ld;
        }
#if defined(RNN_S4_MVE)
        /* the last 1 to 3 rows on vectors too (plain C there costs about 10 instructions a
         * column), a pair at a time (an odd last row: RNN_S4_STORE writes one value) */
        for (; k < nb; k += 2)
        {
            int32_t t[2];
            pair1_mve(cols, wp, x, t);
            RNN_S4_STORE(t[0], t[1]);
            wp += ld;
        }
#endif
#elif defined(RNN_S4_DSP)
        if (split)
        {
            int32_t sh[RNN_S4_BLOCK + 2]; /* S and 16 H of each pair */
            const int32_t pairs = (nb + 1) >> 1;
            int32_t p;
#if defined(RNN_S4_DSP2)
            if (((uintptr_t)wp & 3) == 0 && ld > 0)
            {
                pairs_dsp(ld, pairs, wp, xw, sh);
            }
            else
#endif
            {
                for (p = 0; p < pairs; ++p)
                {
                    pair1_dsp(ld >> 2, wp + p * ld, xw, sh + 2 * p);
                }
            }
            if (y16 != NULL && sums == NULL)
            {
                /* the rows' sums straight into their requantization */
                for (p = 0; p < (nb >> 1); ++p, k += 2)
                {
                    const int32_t h16 = sh[2 * p + 1];
                    y16[r + k] = (int16_t)requant16(sh[2 * p] - h16 - sx8 + offset[r + k],
                                                    mult[r + k], shift[r + k]);
                    y16[r + k + 1] = (int16_t)requant16((h16 >> 4) + offset[r + k + 1],
                                                        mult[r + k + 1], shift[r + k + 1]);
                }
                if (k < nb)
                {
                    y16[r + k] = (int16_t)requant16(sh[2 * p] - sh[2 * p + 1] - sx8 +
                                                        offset[r + k],
                                                    mult[r + k], shift[r + k]);
                }
                wp += pairs * ld;
                continue; /* the block is done */
            }
            for (p = 0; p < pairs; ++p, k += 2)
            {
                const int32_t h16 = sh[2 * p + 1];
                acc[k] = sh[2 * p] - h16 - sx8 + offset[r + k];
                if (k + 1 < nb)
                {
                    acc[k + 1] = (h16 >> 4) + offset[r + k + 1]; /* 16 H, exactly */
                }
            }
            wp += pairs * ld;
        }
#endif
        for (; k < nb; k += 2)
        {
            int32_t s = 0, h = 0;
            pair_c(wp, x, 0, cols, &s, &h);
            RNN_S4_STORE(s, h);
            wp += ld;
        }
#undef RNN_S4_STORE
        if (y16 != NULL)
        {
            k = 0;
#if defined(RNN_S4_MVE)
            while (k + 4 <= nb && requant4_mve(acc + k, mult + r + k, shift + r + k, y16 + r + k))
            {
                k += 4;
            }
#endif
            for (; k < nb; ++k)
            {
                y16[r + k] = (int16_t)requant16(acc[k], mult[r + k], shift[r + k]);
            }
        }
        else if (y8 != NULL)
        {
            for (k = 0; k < nb; ++k)
            {
                y8[r + k] = (int8_t)requant8(acc[k], mult[r + k], shift[r + k], out_zero_point);
            }
        }
    }
}

/* Refer to header file for details. */
void rnn_mat_vec_s4_sums(int32_t rows, int32_t cols, const int8_t *w, const int32_t *offset,
                         const int8_t *x, int32_t *acc)
{
    rnn_mat_vec_s4_rows(rows, cols, w, offset, NULL, NULL, 0, x, acc, NULL, NULL);
}

/* Refer to header file for details. */
void rnn_mat_vec_s4_s16(int32_t rows, int32_t cols, const int8_t *w, const int32_t *offset,
                        const int32_t *mult, const int32_t *shift, const int8_t *x, int16_t *y)
{
    rnn_mat_vec_s4_rows(rows, cols, w, offset, mult, shift, 0, x, NULL, y, NULL);
}
