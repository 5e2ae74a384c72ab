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
 * - Helium (Cortex-M55): x is split once per call into bytes, x = 256 hi + lo' + 128 with hi
 *   and lo' int8 (below), and each row's 16 weights per load serve two VMLADAVA.S8 (16
 *   products each), three rows per pass in assembly; the sums start at the offsets the
 *   caller gives there, offset + 128 row sum (RNN_A16_OFFSETS); four rows requantized as
 *   one vector (VMULH, VRSHL). (VMLADAVA.S16 on x as is would multiply 8 lanes where the
 *   int8 kernel's VMLADAVA.S8 multiplies 16: twice its multiply-adds.)
 * - NEON (AArch64): four rows per pass share each 8-lane load of x; per row the 8 weights
 *   are widened (SXTL) and SMLAL + SMLAL2 add 8 products into four int32 lanes.
 * - plain C99 elsewhere.
 * rnn_mat_vec_a16_sums (rnn_mat_vec_a16_sums_split on Helium) gives the same paths' sums
 * without requantization (for rnn_mat_vec_a16_s8, the int8-output kernel). Weight rows are
 * RNN_S8_STRIDE(cols) bytes apart, as for int8 activations (pack_s8).
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

#if defined(RNN_A16_MVE)
#define RNN_A16_BLOCK 96 /* rows whose sums wait on the stack for their requantization (a
                          * multiple of the Helium passes' 3 rows and the requantization's 4) */
#else
#define RNN_A16_BLOCK 64 /* rows whose sums wait on the stack for their requantization */
#endif
#if defined(__GNUC__)
#define RNN_A16_NOINLINE __attribute__((noinline))
#else
#define RNN_A16_NOINLINE
#endif
#define RNN_A16_XW 512   /* DSP and Helium: columns split once per call (a stack buffer of 1 KB) */

#if !defined(RNN_A16_MVE)
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
#endif

#if defined(RNN_A16_MVE)
/* The byte split: x = 256 hi + lo' + 128 with hi = x >> 8 (the high byte, signed) and
 * lo' = (x & 255) - 128 (the low byte with its top bit flipped, signed), both in
 * [-128, 127]; so W[r] . x = 256 (W[r] . hi) + (W[r] . lo') + 128 rowsum(W[r]), two int8
 * dot products: per row one VLDRB of 16 weights serves two VMLADAVA.S8 (16 products each).
 * x is split once per call (VLD20/VLD21, vld2q_s8: 16 int16 values as their 16 low and 16
 * high bytes; one VEOR makes lo'), 16 columns' hi then lo' per 32 bytes, into a stack
 * buffer of RNN_A16_XW columns (wider inputs: in chunks of that many columns, the sums
 * carried over). Each partial sum is below 128 sum |W[r]| < 2^23 (the build's bound), so
 * exact; their combination (h << 8) + l + offset_split[r] is taken modulo 2^32 and equals
 * W[r] . x + offset[r], which the bound keeps within int32. offset_split[r] = offset[r] +
 * 128 rowsum(W[r]) is what the caller passes as the offsets on Helium builds
 * (RNN_A16_OFFSETS; rnngen declares them under #if RNN_A16_SPLIT). */

/* xs = the split of x[0 .. n - 1] (1 <= n <= RNN_A16_XW), 32 bytes per 16 columns (the
 * last 16 padded: their weights are loaded as zeros) */
static void split_mve(int32_t n, const int16_t *x, int8_t *xs)
{
    const int8x16_t flip = vdupq_n_s8(-128);
    int32_t k;
    for (k = n >> 4; k > 0; --k)
    {
        const int8x16x2_t v = vld2q_s8((const int8_t *)x); /* low bytes, high bytes */
        vstrbq_s8(xs, v.val[1]);
        vstrbq_s8(xs + 16, veorq_s8(v.val[0], flip));
        x += 16;
        xs += 32;
    }
    if (n & 15)
    {
        int16_t t[16];
        const int32_t m = n & 15;
        int8x16x2_t v;
        vst1q_s16(t, vldrhq_z_s16(x, vctp16q((uint32_t)m)));
        vst1q_s16(t + 8, vldrhq_z_s16(x + 8, vctp16q((uint32_t)(m > 8 ? m - 8 : 0))));
        v = vld2q_s8((const int8_t *)t);
        vstrbq_s8(xs, v.val[1]);
        vstrbq_s8(xs + 16, veorq_s8(v.val[0], flip));
    }
}

#if defined(__GNUC__)
/* One 16-column chunk of three rows, backwards: x's hi in q0 and lo' in q1 (from r9, then
 * r9 moves 32 bytes down), each row's 16 weights (r1, r3, r5, then 16 bytes down) into
 * the sums r0, r2, r4 (W . hi) and r6, r8, r10 (W . lo'). 11 instructions. */
#define RNN_A16_CHUNK3                                                                         \
    "vldrb.u8 q1, [r9, #16]\n\t"                                                              \
    "vldrb.u8 q0, [r9], #-32\n\t"                                                             \
    "vldrb.u8 q2, [r1], #-16\n\t"                                                             \
    "vmladava.s8 r0, q2, q0\n\t"                                                              \
    "vmladava.s8 r6, q2, q1\n\t"                                                              \
    "vldrb.u8 q3, [r3], #-16\n\t"                                                             \
    "vmladava.s8 r2, q3, q0\n\t"                                                              \
    "vmladava.s8 r8, q3, q1\n\t"                                                              \
    "vldrb.u8 q4, [r5], #-16\n\t"                                                             \
    "vmladava.s8 r4, q4, q0\n\t"                                                              \
    "vmladava.s8 r10, q4, q1\n\t"

/* acc[3 g .. 3 g + 2] = init[..] + rows 3 g .. 3 g + 2 of w (ld bytes apart) . x over
 * 16 k0 + 16 columns, for g = 0 .. groups - 1 (groups >= 1); xs: split_mve's. In assembly
 * (GCC kept the rows' pointers in memory and copied the x pointer each pass: 14
 * instructions per 16 columns and about 50 per group of rows). Each group runs from its
 * last chunk down: first the last 16 columns under the predicate p (VPST: the weights'
 * loads; the rest of those rows is not read), with VMLADAV starting the W . hi sums (no
 * zeroing) and VMLADAVA the W . lo' ones from init; then the k0 whole chunks, one alone
 * when k0 is odd, then pairs per low-overhead loop (WLS / LE): 11 instructions per 16
 * columns of three rows (48 multiply-adds) plus half an LE; about 32 per group besides.
 * The six sums live in r0, r2, r4 and r6, r8, r10 (VMLADAV writes even registers only);
 * the group's results are r6 + (r0 << 8) .. (modulo 2^32), stored with one STM. r12
 * counts the groups; r7 is left alone (a frame pointer in unoptimised builds); the rest
 * the loop needs is memory operands. The assembly sets P0 (VPR) for VPST; GCC 12 has no
 * clobber name for VPR, so the function is kept out of line: VPR is not preserved across
 * calls (AAPCS), so no caller keeps a predicate in it across this one. */
static RNN_A16_NOINLINE void groups3_mve(int32_t groups, int32_t ld, int32_t k0,
                                         const int8_t *w, const int8_t *xs,
                                         const int32_t *init, int32_t *acc, mve_pred16_t p)
{
    const int8_t *wt = w + 16 * k0;                   /* group 0's row 0, last chunk */
    const int8_t *xe = xs + 32 * k0;                  /* the last chunk's split x */
    const int32_t step = 3 * ld + 16 * (k0 + 1); /* after a group, to the next group's */
    const int32_t pr = (int32_t)p;
    __asm__ volatile(
        "ldr r1, %[wt]\n\t"
        "ldr r11, %[ldm]\n\t"
        "add r3, r1, r11\n\t"
        "add r5, r3, r11\n\t"
        "ldr r11, %[pr]\n\t"
        "vmsr p0, r11\n\t"
        "ldr r12, %[groups]\n\t"
        "2:\n\t"
        "ldr r11, %[initp]\n\t"
        "ldm r11!, {r6, r8, r10}\n\t"
        "str r11, %[initp]\n\t"
        "ldr r9, %[xe]\n\t"
        "vldrb.u8 q1, [r9, #16]\n\t"
        "vldrb.u8 q0, [r9], #-32\n\t"
        "vpsttt\n\t"
        "vldrbt.u8 q2, [r1], #-16\n\t"
        "vldrbt.u8 q3, [r3], #-16\n\t"
        "vldrbt.u8 q4, [r5], #-16\n\t"
        "vmladav.s8 r0, q2, q0\n\t"
        "vmladava.s8 r6, q2, q1\n\t"
        "vmladav.s8 r2, q3, q0\n\t"
        "vmladava.s8 r8, q3, q1\n\t"
        "vmladav.s8 r4, q4, q0\n\t"
        "vmladava.s8 r10, q4, q1\n\t"
        "ldr r11, %[k0]\n\t"
        "lsrs r11, r11, #1\n\t"
        "bcc 4f\n\t" RNN_A16_CHUNK3
        "4:\n\t"
        "wls lr, r11, 3f\n\t"
        "1:\n\t" RNN_A16_CHUNK3 RNN_A16_CHUNK3
        "le lr, 1b\n\t"
        "3:\n\t"
        "add r6, r6, r0, lsl #8\n\t"
        "add r8, r8, r2, lsl #8\n\t"
        "add r10, r10, r4, lsl #8\n\t"
        "ldr r11, %[accp]\n\t"
        "stm r11!, {r6, r8, r10}\n\t"
        "str r11, %[accp]\n\t"
        "ldr r11, %[step]\n\t"
        "add r1, r1, r11\n\t"
        "add r3, r3, r11\n\t"
        "add r5, r5, r11\n\t"
        "subs r12, r12, #1\n\t"
        "bne 2b\n\t"
        : [initp] "+m"(init), [accp] "+m"(acc)
        : [wt] "m"(wt), [ldm] "m"(ld), [k0] "m"(k0), [xe] "m"(xe), [step] "m"(step),
          [pr] "m"(pr), [groups] "m"(groups)
        : "r0", "r1", "r2", "r3", "r4", "r5", "r6", "r8", "r9", "r10", "r11", "r12", "lr",
          "d0", "d1", "d2", "d3", "d4", "d5", "d6", "d7", "d8", "d9", "cc", "memory");
}
#undef RNN_A16_CHUNK3
#endif

/* acc[r] = init[r] + W[r][0 .. n - 1] . x (1 <= n <= RNN_A16_XW; xs: split_mve's) for
 * rows 0 .. rows - 1, rows ld bytes apart (init may be acc): groups of three rows in
 * assembly (groups3_mve), the last one or two rows here. */
static void sums_split_mve(int32_t rows, int32_t ld, int32_t n, const int8_t *w,
                           const int8_t *xs, const int32_t *init, int32_t *acc)
{
    const int32_t k0 = (n - 1) >> 4; /* whole 16-column chunks before the last */
    const mve_pred16_t p = vctp8q((uint32_t)(n - 16 * k0));
    const int8x16_t th = vldrbq_s8(xs + 32 * k0);
    const int8x16_t tl = vldrbq_s8(xs + 32 * k0 + 16);
    int32_t r = 0;
#if defined(__GNUC__)
    r = rows - rows % 3;
    if (r > 0)
    {
        groups3_mve(r / 3, ld, k0, w, xs, init, acc, p);
        w += (size_t)r * (size_t)ld;
    }
#endif
    for (; r < rows; ++r)
    {
        const int8_t *xp = xs;
        int32_t h = 0, l = init[r];
        int8x16_t wv;
        int32_t k;
        for (k = 0; k < k0; ++k)
        {
            wv = vldrbq_s8(w + 16 * k);
            h = vmladavaq_s8(h, wv, vldrbq_s8(xp));
            l = vmladavaq_s8(l, wv, vldrbq_s8(xp + 16));
            xp += 32;
        }
        wv = vldrbq_z_s8(w + 16 * k0, p);
        h = vmladavaq_s8(h, wv, th);
        l = vmladavaq_s8(l, wv, tl);
        acc[r] = (int32_t)(((uint32_t)h << 8) + (uint32_t)l);
        w += ld;
    }
}

/* the Helium sums over all columns, x split in chunks of RNN_A16_XW columns */
static void sums_mve(int32_t rows, int32_t cols, const int8_t *w, const int32_t *off2,
                     const int16_t *x, int32_t *acc)
{
    const int32_t ld = RNN_S8_STRIDE(cols);
    int8_t xs[2 * RNN_A16_XW];
    int32_t c0;
    if (cols == 0)
    {
        int32_t r;
        for (r = 0; r < rows; ++r)
        {
            acc[r] = off2[r];
        }
        return;
    }
    for (c0 = 0; c0 < cols; c0 += RNN_A16_XW)
    {
        const int32_t n = cols - c0 < RNN_A16_XW ? cols - c0 : RNN_A16_XW;
        split_mve(n, x + c0, xs);
        sums_split_mve(rows, ld, n, w + c0, xs, c0 ? acc : off2, acc);
    }
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

#if !defined(RNN_A16_MVE)
/* Refer to header file for details. (Not on Helium: rnn_mat_vec_a16_sums_split there.) */
void rnn_mat_vec_a16_sums(int32_t rows, int32_t cols, const int8_t *w, const int32_t *offset,
                          const int16_t *x, int32_t *acc)
{
    const int32_t ld = RNN_S8_STRIDE(cols);
    int32_t r = 0;
#if defined(RNN_A16_NEON)
    for (; r + 4 <= rows; r += 4)
    {
        rows4_neon(ld, cols, w, x, acc + r);
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
        rnn_split_pairs_s16(cols, x, xw);
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

#else
/* Refer to header file for details. (Helium only: the int16-input kernels' path there.) */
void rnn_mat_vec_a16_sums_split(int32_t rows, int32_t cols, const int8_t *w,
                                const int32_t *offset_split, const int16_t *x, int32_t *acc)
{
    sums_mve(rows, cols, w, offset_split, x, acc);
}
#endif

/* Refer to header file for details. */
void rnn_mat_vec_a16_s16(int32_t rows, int32_t cols, const int8_t *w, const int32_t *offset,
                         const int32_t *mult, const int32_t *shift, const int16_t *x,
                         int16_t *y)
{
    int32_t acc[RNN_A16_BLOCK];
    int32_t r;
#if defined(RNN_A16_MVE)
    if (cols > 0 && cols <= RNN_A16_XW)
    {
        /* x split once for all the blocks */
        const int32_t ld = RNN_S8_STRIDE(cols);
        int8_t xs[2 * RNN_A16_XW];
        split_mve(cols, x, xs);
        for (r = 0; r < rows; r += RNN_A16_BLOCK)
        {
            const int32_t nb = rows - r < RNN_A16_BLOCK ? rows - r : RNN_A16_BLOCK;
            int32_t k = 0;
            sums_split_mve(nb, ld, cols, w + (size_t)r * (size_t)ld, xs, offset + r, acc);
            for (; k + 4 <= nb; k += 4)
            {
                if (!requant4_mve(acc + k, mult + r + k, shift + r + k, y + r + k))
                {
                    break;
                }
            }
            for (; k < nb; ++k)
            {
                y[r + k] =
                    (int16_t)rnn_sat16(rnn_requantize(acc[k], mult[r + k], shift[r + k]));
            }
        }
        return;
    }
#endif
    for (r = 0; r < rows; r += RNN_A16_BLOCK)
    {
        const int32_t nb = rows - r < RNN_A16_BLOCK ? rows - r : RNN_A16_BLOCK;
        int32_t k;
#if defined(RNN_A16_MVE)
        sums_mve(nb, cols, w + (size_t)r * (size_t)RNN_S8_STRIDE(cols), offset + r, x, acc);
#else
        rnn_mat_vec_a16_sums(nb, cols, w + (size_t)r * (size_t)RNN_S8_STRIDE(cols),
                             offset + r, x, acc);
#endif
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
