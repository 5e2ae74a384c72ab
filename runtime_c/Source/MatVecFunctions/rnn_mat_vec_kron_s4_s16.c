/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_mat_vec_kron_s4_s16.c
 * Description: Kronecker-product product (A (x) B) x with int4 factors (--precision w4a8):
 *              A and B unpacked into the scratch, then rnn_mat_vec_kron_s8_s16 on them.
 *
 * Storage (docs/int8.md, "int4 in the compressed formats"; kron.py pack_s4_groups): A
 * [m1, n1] row-major and B as the int8 kernel reads it (rows padded to RNN_S8_STRIDE(n2)
 * bytes with zeros), each as int4 values in [-7, 7] in groups of 8 values in 4 bytes: byte k
 * of a group holds value k in its low nibble and value k + 4 in its high nibble, two's
 * complement; the last group padded with zeros. An int4 value is an int8 value in [-7, 7],
 * so after unpacking the int8 kernel's integer arithmetic gives QKron.forward's results bit
 * for bit on every ISA path of that kernel.
 *
 * Unpacking a group is a few bitwise operations on one word (SWAR, byte lanes independent,
 * so the result does not depend on the byte order): lo = w & 0x0F0F0F0F and
 * hi = (w >> 4) & 0x0F0F0F0F hold nibbles u in 0..15 per byte; each byte's signed value
 * u - 16 [u >= 8] is ((u ^ 8) + 0x78) ^ 0x80 modulo 256 (u ^ 8 in 0..15, so the addition
 * carries into no other byte).
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

/* the bytes of v (nibbles 0..15) as signed int4 values, bytewise */
static inline uint32_t sext4x4(uint32_t v)
{
    return ((v ^ 0x08080808u) + 0x78787878u) ^ 0x80808080u;
}

/* out[0 .. 8 groups) = the values of `groups` packed groups */
static void unpack_groups(const int8_t *packed, int32_t groups, int8_t *out)
{
    int32_t g;
    for (g = 0; g < groups; ++g)
    {
        uint32_t w;
        uint32_t lo;
        uint32_t hi;
        memcpy(&w, packed + 4 * g, sizeof w);
        lo = sext4x4(w & 0x0F0F0F0Fu);
        hi = sext4x4((w >> 4) & 0x0F0F0F0Fu);
        memcpy(out + 8 * g, &lo, sizeof lo);
        memcpy(out + 8 * g + 4, &hi, sizeof hi);
    }
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
