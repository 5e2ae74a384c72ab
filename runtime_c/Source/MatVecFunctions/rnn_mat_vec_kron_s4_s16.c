/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_mat_vec_kron_s4_s16.c
 * Description: Kronecker-product product (A (x) B) x with int4 factors (--precision w4a8):
 *              A and B unpacked into the scratch, then rnn_mat_vec_kron_s8_s16 on them.
 *              The unpacking is also exported (rnn_kron_unpack_s4) for the int16-input
 *              variant, rnn_mat_vec_kron_a16_s4_s16.
 *
 * Storage (docs/int8.md, "int4 in the compressed formats"; kron.py pack_s4_groups): A
 * [m1, n1] row-major and B as the int8 kernel reads it (rows padded to RNN_S8_STRIDE(n2)
 * bytes with zeros), each as int4 values in [-7, 7] in groups of 8 values in 4 bytes: byte k
 * of a group holds value k in its low nibble and value k + 4 in its high nibble, two's
 * complement; the last group padded with zeros. An int4 value is an int8 value in [-7, 7],
 * so after unpacking the int8 kernel's integer arithmetic gives QKron.forward's results bit
 * for bit on every ISA path of that kernel.
 *
 * The factors are unpacked 16-fold: (w << 4) AND 0xF0F0F0F0 and w AND 0xF0F0F0F0 hold,
 * byte by byte (lanes independent, so the byte order does not matter), each nibble in the
 * top half of its byte, i.e. 16 v as an int8 in [-112, 112] (inside the int8 kernel's
 * [-127, 127] contract): two ANDs and a shift per 8 values. Both stages' sums then come
 * 16-fold, and the emitter (kron.py _emit_s8) gives the struct t_shift - 4 and y_shift - 4:
 * rnn_requantize(16 acc, mult, shift - 4) = rnn_requantize(acc, mult, shift) exactly (the
 * same rational number floored), and int4 scales (about 18 times int8's) make those shifts
 * the int8 kernel's usual ones, where its fast requantization applies. Helium (Cortex-M55)
 * and NEON (AArch64): four groups per pass on vectors (VST2.32 interleaving the lo and hi
 * words); Thumb-2 (Cortex-M4/M7): four groups per pass with LDM / STM (3.25 instructions a
 * group, against 10 a word at a time); the last groups and other targets one word at a time.
 *
 * The Kronecker factors are small next to the matrix (m1 n1 + m2 n2 values for an
 * m1 m2 x n1 n2 matrix), but at low compression factors they are not small next to the
 * product's MACs: the unpacking then shows in the instruction count
 * (benchmarks/results/precision_formats.md). The price in RAM: the scratch holds B
 * (m2 RNN_S8_STRIDE(n2) bytes, rounded up to 8) and A (m1 n1, rounded up to 8) in front of the
 * int8 kernel's own scratch (kron.py _scratch_s8).
 */

#include <stdint.h>
#include <string.h>

#include "rnn_nnfunctions.h"

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
#include <arm_mve.h>
#define RNN_KRON_S4_VEC 1
#elif defined(__ARM_NEON) && defined(__aarch64__)
#include <arm_neon.h>
#define RNN_KRON_S4_VEC 1
#endif

/* out[0 .. 8 groups) = 16 times the values of `groups` packed groups */
static void unpack_groups(const int8_t *packed, int32_t groups, int8_t *out)
{
    int32_t g = 0;
#if defined(RNN_KRON_S4_VEC)
    /* four groups a vector: one 16-byte load, the low nibbles by a shift of the byte lanes
     * (VSHL.I8 #4 drops the high ones), the high ones by AND 0xF0, and one interleaving store
     * (VST2.32: lane words lo0, hi0, lo1, hi1, ...) */
    const uint8x16_t mask = vdupq_n_u8(0xF0u);
    const uint8_t *p = (const uint8_t *)packed;
    uint32_t *o = (uint32_t *)(void *)out;
    for (; g + 4 <= groups; g += 4)
    {
        const uint8x16_t w = vld1q_u8(p);
        uint32x4x2_t r;
        r.val[0] = vreinterpretq_u32_u8(vshlq_n_u8(w, 4));
        r.val[1] = vreinterpretq_u32_u8(vandq_u8(w, mask));
        vst2q_u32(o, r);
        p += 16;
        o += 8;
    }
#elif defined(__GNUC__) && defined(__thumb2__) && defined(__OPTIMIZE__)
    /* Thumb-2 (Cortex-M4/M7): four groups a pass in 13 instructions: one LDM of the four
     * packed words, per word two ANDs with the mask in a register (one with the word shifted
     * left by 4 as its operand), two STMs of four unpacked words. LDM / STM need word-aligned
     * addresses: the factors' arrays are RNN_ALIGN4 (kron.py) and the scratch is aligned
     * below. r7 is left alone (a frame pointer); unoptimised builds (-O0: GCC has no registers
     * left for the operands) take the word loop below. */
    int32_t passes = groups / 4;
    if (passes > 0)
    {
        const int8_t *p = packed;
        int8_t *o = out;
        /* w0..w3 load into r3, r5, r6, r9; each word's high nibbles overwrite it, so both
         * STM lists ascend: {u0 r2, u1 r3, u2 r4, u3 r5}, {u4 r4, u5 r6, u6 r8, u7 r9} */
        __asm__ volatile("1:\n\t"
                         "ldmia %[p]!, {r3, r5, r6, r9}\n\t"
                         "and r2, %[m], r3, lsl #4\n\t"
                         "and r3, %[m], r3\n\t"
                         "and r4, %[m], r5, lsl #4\n\t"
                         "and r5, %[m], r5\n\t"
                         "stmia %[o]!, {r2, r3, r4, r5}\n\t"
                         "and r4, %[m], r6, lsl #4\n\t"
                         "and r6, %[m], r6\n\t"
                         "and r8, %[m], r9, lsl #4\n\t"
                         "and r9, %[m], r9\n\t"
                         "stmia %[o]!, {r4, r6, r8, r9}\n\t"
                         "subs %[n], %[n], #1\n\t"
                         "bne 1b"
                         : [p] "+r"(p), [o] "+r"(o), [n] "+r"(passes)
                         : [m] "r"(0xF0F0F0F0u)
                         : "r2", "r3", "r4", "r5", "r6", "r8", "r9", "cc", "memory");
        g = 4 * (groups / 4);
    }
#endif
    for (; g < groups; ++g)
    {
        uint32_t w;
        uint32_t lo;
        uint32_t hi;
        memcpy(&w, packed + 4 * g, sizeof w);
        lo = (w << 4) & 0xF0F0F0F0u;
        hi = w & 0xF0F0F0F0u;
        memcpy(out + 8 * g, &lo, sizeof lo);
        memcpy(out + 8 * g + 4, &hi, sizeof hi);
    }
}

/* Refer to header file for details. */
void rnn_kron_unpack_s4(const int8_t *packed, int32_t groups, int8_t *out)
{
    unpack_groups(packed, groups, out);
}

/* Refer to header file for details. */
void rnn_mat_vec_kron_s4_s16(int8_t *ctx, const rnn_kron_s8 *m, const int8_t *x, int16_t *y)
{
    const int32_t gb = (m->m2 * RNN_S8_STRIDE(m->n2) + 7) / 8;
    const int32_t ga = (m->m1 * m->n1 + 7) / 8;
    int8_t *b = ctx + ((4 - ((uintptr_t)ctx & 3)) & 3); /* word-aligned, as the int8 B */
    int8_t *a = b + 8 * gb;
    rnn_kron_s8 q = *m;
    unpack_groups(m->b, gb, b);
    unpack_groups(m->a, ga, a);
    q.a = a;
    q.b = b;
    rnn_mat_vec_kron_s8_s16(a + 8 * ga, &q, x, y);
}
