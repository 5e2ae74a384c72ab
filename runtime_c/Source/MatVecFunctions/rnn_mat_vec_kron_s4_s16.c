/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_mat_vec_kron_s4_s16.c
 * Description: Kronecker-product product (A (x) B) x with int4 factors (--precision w4a8):
 *              A and B unpacked into the scratch, then rnn_mat_vec_kron_s8_s16 on them.
 *
 * Storage (docs/int8.md, "int4 in the compressed formats"): A [m1, n1] row-major and B as
 * the int8 kernel reads it (rows padded to RNN_S8_STRIDE(n2) bytes with zeros), each as
 * int4 values in [-7, 7] two per byte: value 2j in the low nibble of byte j, 2j + 1 in the
 * high nibble, two's complement (an odd count ends with a zero nibble). An int4 value is an
 * int8 value in [-7, 7], so after unpacking the int8 kernel's integer arithmetic gives
 * QKron.forward's results bit for bit on every ISA path of that kernel.
 *
 * The Kronecker factors are small (m1 n1 + m2 n2 values for an m1 m2 x n1 n2 matrix), so
 * unpacking them each call costs little next to the product's MACs; the price is RAM: the
 * scratch holds B (m2 RNN_S8_STRIDE(n2) bytes, word-aligned) and A (m1 n1) in front of the
 * int8 kernel's own scratch (kron.py _scratch_s8).
 */

#include <stdint.h>

#include "rnn_nnfunctions.h"

/* out[k] = the k-th int4 value of packed (two per byte, low nibble first), k < n */
static void unpack4(const int8_t *packed, int32_t n, int8_t *out)
{
    int32_t k;
    for (k = 0; k + 1 < n; k += 2)
    {
        const uint32_t b = (uint8_t)packed[k >> 1];
        out[k] = (int8_t)((int32_t)((b & 15u) ^ 8u) - 8);
        out[k + 1] = (int8_t)((int32_t)((b >> 4) ^ 8u) - 8);
    }
    if (k < n)
    {
        out[k] = (int8_t)((int32_t)(((uint8_t)packed[k >> 1] & 15u) ^ 8u) - 8);
    }
}

/* Refer to header file for details. */
void rnn_mat_vec_kron_s4_s16(int8_t *ctx, const rnn_kron_s8 *m, const int8_t *x, int16_t *y)
{
    const int32_t nb = m->m2 * RNN_S8_STRIDE(m->n2);
    const int32_t na = m->m1 * m->n1;
    int8_t *b = ctx + ((4 - ((uintptr_t)ctx & 3)) & 3); /* word-aligned, as the int8 B */
    int8_t *a = b + nb;
    rnn_kron_s8 q = *m;
    unpack4(m->b, nb, b);
    unpack4(m->a, na, a);
    q.a = a;
    q.b = b;
    rnn_mat_vec_kron_s8_s16(a + na, &q, x, y);
}
