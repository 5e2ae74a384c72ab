/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_mat_vec_a16_s4_s16.c
 * Description: int4 matrix (packed two weights per byte, as rnn_mat_vec_s4_s16) times int16
 *              vector (int16 activations: w4a16), int32 accumulation, each row requantized
 *              to int16: y[r] = sat16(rq(W[r] . x + offset[r])) (gate pre-activations in
 *              Q3.12, or a w4a16 Linear layer's symmetric int16 output);
 *              rnn_mat_vec_a16_s4_rows, the work of this kernel and of rnn_mat_vec_a16_s4_s8
 *              (int8 output with a zero point).
 *
 * Storage: pack_s4's (rnn_mat_vec_s4_s16.c's header): rows in pairs, byte j of pair p is
 * B = 16 w[2p + 1][j] + w[2p][j] + 8 read as int8, pairs RNN_S4_STRIDE(cols) bytes apart.
 * Per pair S = sum B x and H = sum (B >> 4) x (= row 2p + 1 . x); row 2p . x = S - 16 H -
 * 8 sum(x).
 *
 * The int32 sums: rnngen proves sum |W[r]| * 32768 + |offset[r]| < 2^31 for every row at
 * build time (quant.a16_fits_int32; a matrix that fails takes rnn_mat_vec_a16_s4_wide), so
 * each row's sum is exact in int32. S itself can exceed int32 (|B| <= 127): it is summed
 * modulo 2^32 (SMLAD, VMLADAVA and SMLAL wrap; the C adds as uint32_t), and so are the
 * other terms of row 2p, whose true value fits int32: the result is exact. H is exact.
 * - DSP extension (Cortex-M4/M7, __ARM_FEATURE_DSP): x split once per call into the int16
 *   pairs (x0, x2), (x1, x3) per 4 columns (a PKHBT and a PKHTB per word pair), then the
 *   w4a8 kernel's pair loop in assembly on them (rnn_mat_vec_s4_pairs_split: SXTB16 of the
 *   weight word and of the word AND 0xF0F0F0F0, four SMLAD; 20 instructions per 16
 *   multiply-adds). It gives 16 H, exact up to RNN_A16S4_XW columns
 *   (16 * 7 * 32768 * 584 < 2^31); wider inputs take plain C.
 * - Helium (Cortex-M55): two row pairs per pass share each 8-lane load of x (VLDRH); per
 *   pair the bytes loaded widened (VLDRB.S16), VSHR #4, two VMLADAVA.S16 (S and H); the last
 *   1..7 columns predicated; sum(x) by VADDVA; four rows requantized as one vector when
 *   every shift is <= -2 (int16 out, or int8 with the zero point).
 * - NEON (AArch64): two row pairs per pass share each 8-lane load of x; per pair 8 bytes
 *   widened (SXTL), SSHR #4, SMLAL + SMLAL2 for S and for H; the last columns plain C.
 * - plain C99 elsewhere: each row's sum directly (low nibble - 8, high nibble).
 */

#include <stddef.h>

#include "rnn_nnfunctions.h"
#include "rnn_nn_support.h"

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
#include <arm_mve.h>
#define RNN_A16S4_MVE 1
#elif defined(__ARM_NEON) && defined(__aarch64__)
#include <arm_neon.h>
#define RNN_A16S4_NEON 1
#elif defined(__ARM_FEATURE_DSP) && defined(__ARM_FEATURE_SIMD32)
#include <arm_acle.h>
#include <string.h>
#define RNN_A16S4_DSP 1
#endif

#define RNN_A16S4_BLOCK 64 /* rows whose sums wait on the stack (even: whole pairs) */
#define RNN_A16S4_XW 584   /* DSP: widest input split (16 H exact in int32 up to it) */

/* row 2p . x and row 2p + 1 . x of one pair over all columns, plain C (exact: each row's
 * partial sums are within the proven bound) */
static void pair_c(const int8_t *w, const int16_t *x, int32_t cols, int32_t *lo, int32_t *hi)
{
    int32_t a = 0, b = 0;
    int32_t j;
    for (j = 0; j < cols; ++j)
    {
        const int32_t v = (int32_t)w[j];
        const int32_t u = v & 15;
        a += (u - 8) * (int32_t)x[j];
        b += ((v - u) / 16) * (int32_t)x[j];
    }
    *lo = a;
    *hi = b;
}

#if defined(RNN_A16S4_MVE)
/* S (modulo 2^32) and H of the pairs at w0 and w1 over all columns */
static void pairs2_mve(int32_t cols, const int8_t *w0, const int8_t *w1, const int16_t *x,
                       int32_t *out)
{
    int32_t s0 = 0, h0 = 0, s1 = 0, h1 = 0;
    int32_t n = cols;
    for (; n >= 8; n -= 8)
    {
        const int16x8_t xv = vldrhq_s16(x);
        const int16x8_t b0 = vldrbq_s16(w0);
        const int16x8_t b1 = vldrbq_s16(w1);
        x += 8;
        w0 += 8;
        w1 += 8;
        s0 = vmladavaq_s16(s0, b0, xv);
        h0 = vmladavaq_s16(h0, vshrq_n_s16(b0, 4), xv);
        s1 = vmladavaq_s16(s1, b1, xv);
        h1 = vmladavaq_s16(h1, vshrq_n_s16(b1, 4), xv);
    }
    if (n > 0) /* lanes past the end load as zero (weights and x): no products */
    {
        const mve_pred16_t p = vctp16q((uint32_t)n);
        const int16x8_t xv = vldrhq_z_s16(x, p);
        const int16x8_t b0 = vldrbq_z_s16(w0, p);
        const int16x8_t b1 = vldrbq_z_s16(w1, p);
        s0 = vmladavaq_s16(s0, b0, xv);
        h0 = vmladavaq_s16(h0, vshrq_n_s16(b0, 4), xv);
        s1 = vmladavaq_s16(s1, b1, xv);
        h1 = vmladavaq_s16(h1, vshrq_n_s16(b1, 4), xv);
    }
    out[0] = s0;
    out[1] = h0;
    out[2] = s1;
    out[3] = h1;
}

/* sat16(rq(acc[0..3])) as one vector when every shift is <= -2 (VMULH, VRSHL by shift + 1:
 * the reference's rq exactly, as rnn_mat_vec_a16_s16.c) into *out; 0 (nothing done) when a
 * shift is above -2 */
static int32_t requant4_mve(const int32_t *acc, const int32_t *mult, const int32_t *shift,
                            int32x4_t *out)
{
    const int32x4_t sh = vldrwq_s32(shift);
    int32x4_t r;
    if (vmaxvq_s32(INT32_MIN, sh) > -2)
    {
        return 0;
    }
    r = vrshlq_s32(vmulhq_s32(vldrwq_s32(acc), vldrwq_s32(mult)), vaddq_n_s32(sh, 1));
    *out = vmaxq_s32(vminq_s32(r, vdupq_n_s32(32767)), vdupq_n_s32(-32768));
    return 1;
}
#endif

#if defined(RNN_A16S4_NEON)
/* S (modulo 2^32) and H of the pairs at w0 and w1 over all columns (vectors of 8, the rest
 * plain C) */
static void pairs2_neon(int32_t cols, const int8_t *w0, const int8_t *w1, const int16_t *x,
                        int32_t *out)
{
    int32x4_t s0 = vdupq_n_s32(0), h0 = s0, s1 = s0, h1 = s0;
    int32_t t[4];
    int32_t j = 0;
    for (; j + 8 <= cols; j += 8)
    {
        const int16x8_t xv = vld1q_s16(x + j);
        const int16x4_t xl = vget_low_s16(xv);
        const int16x8_t b0 = vmovl_s8(vld1_s8(w0 + j));
        const int16x8_t b1 = vmovl_s8(vld1_s8(w1 + j));
        const int16x8_t g0 = vshrq_n_s16(b0, 4);
        const int16x8_t g1 = vshrq_n_s16(b1, 4);
        s0 = vmlal_high_s16(vmlal_s16(s0, vget_low_s16(b0), xl), b0, xv);
        h0 = vmlal_high_s16(vmlal_s16(h0, vget_low_s16(g0), xl), g0, xv);
        s1 = vmlal_high_s16(vmlal_s16(s1, vget_low_s16(b1), xl), b1, xv);
        h1 = vmlal_high_s16(vmlal_s16(h1, vget_low_s16(g1), xl), g1, xv);
    }
    vst1q_s32(t, vpaddq_s32(vpaddq_s32(s0, h0), vpaddq_s32(s1, h1)));
    for (; j < cols; ++j)
    {
        const int32_t v0 = (int32_t)w0[j], v1 = (int32_t)w1[j], xj = (int32_t)x[j];
        t[0] = (int32_t)((uint32_t)t[0] + (uint32_t)(v0 * xj));
        t[1] += ((v0 - (v0 & 15)) / 16) * xj;
        t[2] = (int32_t)((uint32_t)t[2] + (uint32_t)(v1 * xj));
        t[3] += ((v1 - (v1 & 15)) / 16) * xj;
    }
    out[0] = t[0];
    out[1] = t[1];
    out[2] = t[2];
    out[3] = t[3];
}
#endif

/* row 2p's sum from S (modulo 2^32), 16 H, 8 sum(x) and its offset: exact (its true value
 * fits int32) */
static inline int32_t row_lo(int32_t s, int32_t h16, uint32_t sx8, int32_t offset)
{
    return (int32_t)((uint32_t)s - (uint32_t)h16 - sx8 + (uint32_t)offset);
}

/* the block's rows requantized: to int16 (y16) or to int8 with the zero point (y8) */
static void requant_block(int32_t nb, const int32_t *acc, const int32_t *mult,
                          const int32_t *shift, int32_t zp, int16_t *y16, int8_t *y8)
{
    int32_t k = 0;
    if (y16 != NULL)
    {
#if defined(RNN_A16S4_MVE)
        int32x4_t v;
        while (k + 4 <= nb && requant4_mve(acc + k, mult + k, shift + k, &v))
        {
            vstrhq_s32(y16 + k, v); /* narrowing store */
            k += 4;
        }
#endif
        for (; k < nb; ++k)
        {
            y16[k] = (int16_t)rnn_sat16(rnn_requantize(acc[k], mult[k], shift[k]));
        }
    }
    else if (y8 != NULL)
    {
#if defined(RNN_A16S4_MVE)
        int32x4_t v;
        while (k + 4 <= nb && requant4_mve(acc + k, mult + k, shift + k, &v))
        {
            v = vaddq_n_s32(v, zp);
            vstrbq_s32(y8 + k, vmaxq_s32(vminq_s32(v, vdupq_n_s32(127)), vdupq_n_s32(-128)));
            k += 4;
        }
#endif
        for (; k < nb; ++k)
        {
            /* sat16 first: the same result as sat8(zp + rq) (|zp| <= 128), no overflow */
            y8[k] = (int8_t)rnn_sat8(zp + rnn_sat16(rnn_requantize(acc[k], mult[k], shift[k])));
        }
    }
}

/* Refer to header file for details. */
void rnn_mat_vec_a16_s4_rows(int32_t rows, int32_t cols, const int8_t *w, const int32_t *offset,
                             const int32_t *mult, const int32_t *shift, int32_t out_zero_point,
                             const int16_t *x, int32_t *sums, int16_t *y16, int8_t *y8)
{
    const int32_t ld = RNN_S4_STRIDE(cols);
    int32_t block[RNN_A16S4_BLOCK];
    int32_t r;
#if defined(RNN_A16S4_DSP) || defined(RNN_A16S4_MVE) || defined(RNN_A16S4_NEON)
    int32_t sx = 0; /* sum(x): |sum| <= 32768 cols fits int32 (cols <= 65536) */
    uint32_t sx8;   /* 8 sum(x), modulo 2^32 (the SIMD paths' row 2p) */
#endif
#if defined(RNN_A16S4_DSP)
    int32_t xw[RNN_A16S4_XW / 2];
    const int split = cols <= RNN_A16S4_XW;
    if (split)
    {
        int32_t j;
        rnn_split_pairs_s16(cols, x, xw);
        for (j = 0; j < (ld >> 1); ++j) /* both int16 halves by one SMLAD (zeros after) */
        {
            sx = __smlad(xw[j], 0x00010001, sx);
        }
    }
#elif defined(RNN_A16S4_MVE)
    {
        int32_t j;
        for (j = 0; j < cols; j += 8)
        {
            const mve_pred16_t p = vctp16q((uint32_t)(cols - j));
            sx = vaddvaq_p_s16(sx, vldrhq_z_s16(x + j, p), p);
        }
    }
#elif defined(RNN_A16S4_NEON)
    {
        int32_t j;
        for (j = 0; j < cols; ++j)
        {
            sx += (int32_t)x[j];
        }
    }
#endif
#if defined(RNN_A16S4_DSP) || defined(RNN_A16S4_MVE) || defined(RNN_A16S4_NEON)
    sx8 = 8u * (uint32_t)sx;
#endif
    for (r = 0; r < rows; r += RNN_A16S4_BLOCK)
    {
        const int32_t nb = rows - r < RNN_A16S4_BLOCK ? rows - r : RNN_A16S4_BLOCK;
        /* cppcheck-suppress legacyUninitvar ; block's acc[k] are written before read */
        int32_t *acc = sums != NULL ? sums + r : block;
        const int8_t *wp = w + (size_t)(r >> 1) * (size_t)ld; /* r even: whole pairs */
        const int32_t *off = offset + r;
        int32_t k = 0;
#if defined(RNN_A16S4_MVE) || defined(RNN_A16S4_NEON)
        for (; k + 4 <= nb; k += 4)
        {
            int32_t t[4];
#if defined(RNN_A16S4_MVE)
            pairs2_mve(cols, wp, wp + ld, x, t);
#else
            pairs2_neon(cols, wp, wp + ld, x, t);
#endif
            acc[k] = row_lo(t[0], (int32_t)(16u * (uint32_t)t[1]), sx8, off[k]);
            acc[k + 1] = t[1] + off[k + 1];
            acc[k + 2] = row_lo(t[2], (int32_t)(16u * (uint32_t)t[3]), sx8, off[k + 2]);
            acc[k + 3] = t[3] + off[k + 3];
            wp += 2 * ld;
        }
#elif defined(RNN_A16S4_DSP)
        if (split)
        {
            int32_t sh[RNN_A16S4_BLOCK]; /* S and 16 H of each pair */
            const int32_t pairs = (nb + 1) >> 1;
            int32_t p;
            rnn_mat_vec_s4_pairs_split(cols, pairs, wp, xw, sh);
            if (sums == NULL)
            {
                /* the rows' sums straight into their requantization (as w4a8's kernel) */
                const int32_t *mu = mult + r;
                const int32_t *sf = shift + r;
                for (p = 0; p < pairs; ++p, k += 2)
                {
                    const int32_t h16 = sh[2 * p + 1];
                    const int32_t v0 = rnn_sat16(
                        rnn_requantize(row_lo(sh[2 * p], h16, sx8, off[k]), mu[k], sf[k]));
                    const int32_t v1 = k + 1 < nb ? rnn_sat16(rnn_requantize(
                                                        (h16 >> 4) + off[k + 1], mu[k + 1],
                                                        sf[k + 1]))
                                                  : 0;
                    if (y16 != NULL)
                    {
                        y16[r + k] = (int16_t)v0;
                        if (k + 1 < nb)
                        {
                            y16[r + k + 1] = (int16_t)v1;
                        }
                    }
                    else
                    {
                        y8[r + k] = (int8_t)rnn_sat8(out_zero_point + v0);
                        if (k + 1 < nb)
                        {
                            y8[r + k + 1] = (int8_t)rnn_sat8(out_zero_point + v1);
                        }
                    }
                }
                continue; /* the block is done */
            }
            for (p = 0; p < pairs; ++p, k += 2)
            {
                const int32_t h16 = sh[2 * p + 1]; /* 16 H, exact: divided below */
                acc[k] = row_lo(sh[2 * p], h16, sx8, off[k]);
                if (k + 1 < nb)
                {
                    acc[k + 1] = (h16 >> 4) + off[k + 1];
                }
            }
            wp += pairs * ld;
        }
#endif
        for (; k < nb; k += 2)
        {
            int32_t lo, hi;
            pair_c(wp, x, cols, &lo, &hi);
            acc[k] = lo + off[k];
            if (k + 1 < nb)
            {
                acc[k + 1] = hi + off[k + 1];
            }
            wp += ld;
        }
        requant_block(nb, acc, mult != NULL ? mult + r : NULL, shift != NULL ? shift + r : NULL,
                      out_zero_point, y16 != NULL ? y16 + r : NULL, y8 != NULL ? y8 + r : NULL);
    }
}

/* Refer to header file for details. */
void rnn_mat_vec_a16_s4_s16(int32_t rows, int32_t cols, const int8_t *w, const int32_t *offset,
                            const int32_t *mult, const int32_t *shift, const int16_t *x,
                            int16_t *y)
{
    rnn_mat_vec_a16_s4_rows(rows, cols, w, offset, mult, shift, 0, x, NULL, y, NULL);
}
