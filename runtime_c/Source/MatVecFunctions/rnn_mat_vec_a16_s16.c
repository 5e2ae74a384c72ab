/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_mat_vec_a16_s16.c
 * Description: int8 matrix times int16 vector (int16 activations: w8a16, the CMSIS-NN s16
 *              scheme), int32 accumulation, each row requantized to int16:
 *              y[r] = sat16(rq(W[r] . x + offset[r])) (gate pre-activations in Q3.12, or a
 *              w8a16 Linear layer's symmetric int16 output).
 *
 * The int32 sum cannot overflow: rnngen proves sum |W[r]| * 32768 + |offset[r]| < 2^31 for
 * every row at build time (quant.check_accumulator_a16) and refuses a matrix that fails, so
 * every path's int32 sums are exact and equal the integer reference's.
 * - DSP extension (Cortex-M4/M7): x is split once per call into the int16 pairs the int8
 *   kernel makes of int8 x ((x0, x2), (x1, x3) per 4 columns: a PKHBT and a PKHTB per
 *   word pair), and the sums are the int8 kernel's (rnn_mat_vec_s8_sums_split: two rows per
 *   pass in assembly, SXTB16 of the weight words and SMLAD, 19 instructions per 16
 *   multiply-adds): the same inner loop as int8 activations; up to RNN_A16_XW columns (a
 *   stack buffer), wider inputs plain C.
 * - Helium (Cortex-M55): four rows per pass share each 8-lane load of x (VLDRH); per row the
 *   weights are loaded widened to int16 (VLDRB.S16) and VMLADAVA.S16 adds 8 products; the
 *   last 1..7 columns predicated; four rows requantized as one vector (VMULH, VRSHL).
 *   An int16 lane holds half an int8 lane's values, so the multiply-adds per MAC are twice
 *   the int8 kernel's (VMLADAVA.S8: 16 products).
 * - NEON (AArch64): four rows per pass share each 8-lane load of x; per row the 8 weights
 *   are widened (SXTL) and SMLAL + SMLAL2 add 8 products into four int32 lanes.
 * - plain C99 elsewhere.
 * rnn_mat_vec_a16_sums gives the same paths' sums without requantization (for
 * rnn_mat_vec_a16_s8, the int8-output kernel). Weight rows are RNN_S8_STRIDE(cols) bytes
 * apart, as for int8 activations (pack_s8).
 */

#include <stddef.h>

#include "rnn_nnfunctions.h"
#include "rnn_nn_support.h"

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
#include <arm_mve.h>
#define RNN_A16_MVE 1
#elif defined(__ARM_NEON) && defined(__aarch64__)
#include <arm_neon.h>
#define RNN_A16_NEON 1
#elif defined(__ARM_FEATURE_DSP) && defined(__ARM_FEATURE_SIMD32)
#include <string.h>
#define RNN_A16_DSP 1
#endif

#define RNN_A16_BLOCK 64 /* rows whose sums wait on the stack for their requantization */
#define RNN_A16_XW 512   /* DSP: columns split once per call (a stack buffer of 2 KB) */

/* sum_j w[j] x[j] over n values, plain C */
static int32_t dot_a16(const int8_t *w, const int16_t *x, int32_t n)
{
    int32_t acc = 0;
    int32_t j;
    for (j = 0; j < n; ++j)
    {
        acc += (int32_t)w[j] * (int32_t)x[j];
    }
    return acc;
}

#if defined(RNN_A16_MVE)
/* rows r .. r + 3 (ld bytes apart): sums over all columns, the last 1..7 predicated */
static void rows4_mve(int32_t ld, int32_t cols, const int8_t *w, const int16_t *x,
                      int32_t *acc)
{
    const int8_t *w0 = w;
    const int8_t *w1 = w + ld;
    const int8_t *w2 = w + 2 * ld;
    const int8_t *w3 = w + 3 * ld;
    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    int32_t k;
    for (k = cols >> 3; k > 0; --k)
    {
        const int16x8_t xv = vldrhq_s16(x);
        a0 = vmladavaq_s16(a0, vldrbq_s16(w0), xv);
        a1 = vmladavaq_s16(a1, vldrbq_s16(w1), xv);
        a2 = vmladavaq_s16(a2, vldrbq_s16(w2), xv);
        a3 = vmladavaq_s16(a3, vldrbq_s16(w3), xv);
        x += 8;
        w0 += 8;
        w1 += 8;
        w2 += 8;
        w3 += 8;
    }
    if (cols & 7)
    {
        const mve_pred16_t p = vctp16q((uint32_t)(cols & 7));
        const int16x8_t xv = vldrhq_z_s16(x, p);
        a0 = vmladavaq_p_s16(a0, vldrbq_z_s16(w0, p), xv, p);
        a1 = vmladavaq_p_s16(a1, vldrbq_z_s16(w1, p), xv, p);
        a2 = vmladavaq_p_s16(a2, vldrbq_z_s16(w2, p), xv, p);
        a3 = vmladavaq_p_s16(a3, vldrbq_z_s16(w3, p), xv, p);
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}

/* four rows' requantization to int16 as one vector when every shift is <= -2: VMULH (the
 * high word of the 64-bit product, floor), VRSHL by shift + 1 (a right shift by
 * s = -1 - shift rounding half up: (hi + 2^(s - 1)) >> s, the reference's rq exactly, as
 * in rnn_mat_vec_s8_s16.c), saturation, a narrowing store; 0 when a shift is above -2 */
static int32_t requant4_mve(const int32_t *acc, const int32_t *mult, const int32_t *shift,
                            int16_t *y)
{
    const int32x4_t sh = vldrwq_s32(shift);
    int32x4_t r;
    if (vmaxvq_s32(INT32_MIN, sh) > -2)
    {
        return 0;
    }
    r = vrshlq_s32(vmulhq_s32(vldrwq_s32(acc), vldrwq_s32(mult)), vaddq_n_s32(sh, 1));
    r = vmaxq_s32(vminq_s32(r, vdupq_n_s32(32767)), vdupq_n_s32(-32768));
    vstrhq_s32(y, r);
    return 1;
}
#endif

#if defined(RNN_A16_NEON)
/* rows r .. r + 3 (ld bytes apart): sums over all columns, the last 1..7 plain C */
static void rows4_neon(int32_t ld, int32_t cols, const int8_t *w, const int16_t *x,
                       int32_t *acc)
{
    int32x4_t a0 = vdupq_n_s32(0), a1 = a0, a2 = a0, a3 = a0;
    int32_t j = 0;
    for (; j + 8 <= cols; j += 8)
    {
        const int16x8_t xv = vld1q_s16(x + j);
        const int16x8_t w0 = vmovl_s8(vld1_s8(w + j));
        const int16x8_t w1 = vmovl_s8(vld1_s8(w + ld + j));
        const int16x8_t w2 = vmovl_s8(vld1_s8(w + 2 * ld + j));
        const int16x8_t w3 = vmovl_s8(vld1_s8(w + 3 * ld + j));
        a0 = vmlal_high_s16(vmlal_s16(a0, vget_low_s16(w0), vget_low_s16(xv)), w0, xv);
        a1 = vmlal_high_s16(vmlal_s16(a1, vget_low_s16(w1), vget_low_s16(xv)), w1, xv);
        a2 = vmlal_high_s16(vmlal_s16(a2, vget_low_s16(w2), vget_low_s16(xv)), w2, xv);
        a3 = vmlal_high_s16(vmlal_s16(a3, vget_low_s16(w3), vget_low_s16(xv)), w3, xv);
    }
    acc[0] = vaddvq_s32(a0) + dot_a16(w + j, x + j, cols - j);
    acc[1] = vaddvq_s32(a1) + dot_a16(w + ld + j, x + j, cols - j);
    acc[2] = vaddvq_s32(a2) + dot_a16(w + 2 * ld + j, x + j, cols - j);
    acc[3] = vaddvq_s32(a3) + dot_a16(w + 3 * ld + j, x + j, cols - j);
}
#endif

#if defined(RNN_A16_DSP)
/* x split into the int8 kernel's pairs: per 4 columns (x0 | x2 << 16), (x1 | x3 << 16);
 * the last partial word padded with zero columns */
static void split_a16(int32_t cols, const int16_t *x, int32_t *xw)
{
    int32_t k;
    for (k = cols >> 2; k > 0; --k)
    {
        uint32_t lo, hi;
        memcpy(&lo, x, 4); /* (x0, x1) */
        memcpy(&hi, x + 2, 4); /* (x2, x3) */
        /* PKHBT, PKHTB */
        xw[0] = (int32_t)((lo & 0xFFFFu) | (hi << 16));
        xw[1] = (int32_t)((hi & 0xFFFF0000u) | (lo >> 16));
        x += 4;
        xw += 2;
    }
    if (cols & 3)
    {
        int16_t last[4] = {0, 0, 0, 0};
        for (k = 0; k < (cols & 3); ++k)
        {
            last[k] = x[k];
        }
        xw[0] = (int32_t)((uint32_t)(uint16_t)last[0] | ((uint32_t)(uint16_t)last[2] << 16));
        xw[1] = (int32_t)((uint32_t)(uint16_t)last[1] | ((uint32_t)(uint16_t)last[3] << 16));
    }
}
#endif

/* Refer to header file for details. */
void rnn_mat_vec_a16_sums(int32_t rows, int32_t cols, const int8_t *w, const int32_t *offset,
                          const int16_t *x, int32_t *acc)
{
    const int32_t ld = RNN_S8_STRIDE(cols);
    int32_t r = 0;
#if defined(RNN_A16_MVE) || defined(RNN_A16_NEON)
    for (; r + 4 <= rows; r += 4)
    {
#if defined(RNN_A16_MVE)
        rows4_mve(ld, cols, w, x, acc + r);
#else
        rows4_neon(ld, cols, w, x, acc + r);
#endif
        acc[r] += offset[r];
        acc[r + 1] += offset[r + 1];
        acc[r + 2] += offset[r + 2];
        acc[r + 3] += offset[r + 3];
        w += 4 * ld;
    }
#elif defined(RNN_A16_DSP)
    if (ld <= RNN_A16_XW && rows > 0)
    {
        int32_t xw[RNN_A16_XW / 2];
        split_a16(cols, x, xw);
        rnn_mat_vec_s8_sums_split(rows, cols, w, offset, xw, acc);
        return;
    }
#endif
    for (; r < rows; ++r)
    {
        acc[r] = dot_a16(w, x, cols) + offset[r];
        w += ld;
    }
}

/* Refer to header file for details. */
void rnn_mat_vec_a16_s16(int32_t rows, int32_t cols, const int8_t *w, const int32_t *offset,
                         const int32_t *mult, const int32_t *shift, const int16_t *x,
                         int16_t *y)
{
    int32_t acc[RNN_A16_BLOCK];
    int32_t r;
    for (r = 0; r < rows; r += RNN_A16_BLOCK)
    {
        const int32_t nb = rows - r < RNN_A16_BLOCK ? rows - r : RNN_A16_BLOCK;
        int32_t k;
        rnn_mat_vec_a16_sums(nb, cols, w + (size_t)r * (size_t)RNN_S8_STRIDE(cols),
                             offset + r, x, acc);
        k = 0;
#if defined(RNN_A16_MVE)
        for (; k + 4 <= nb; k += 4)
        {
            if (!requant4_mve(acc + k, mult + r + k, shift + r + k, y + r + k))
            {
                break;
            }
        }
#endif
        for (; k < nb; ++k)
        {
            y[r + k] = (int16_t)rnn_sat16(rnn_requantize(acc[k], mult[r + k], shift[r + k]));
        }
    }
}
