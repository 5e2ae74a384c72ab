/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_mat_vec_kron_a16_s4_s16.c
 * Description: Kronecker-product product (A (x) B) x with int4 factors and an int16 x
 *              (--precision w4a16): A and B unpacked into the scratch as
 *              rnn_mat_vec_kron_s4_s16 does (rnn_kron_unpack_s4: 16 times each value, the
 *              same storage, kron.py pack_s4_groups), then rnn_mat_vec_kron_a16_s16 on them.
 *
 * Both stages' sums come 16-fold, and the emitter (kron.py _emit_s8) gives the struct
 * t_shift - 4 and y_shift - 4: rnn_requantize_s64(16 acc, mult, shift - 4) =
 * rnn_requantize_s64(acc, mult, shift) and rnn_requantize likewise (the same rational number
 * rounded), so the C equals QKron.forward bit for bit. The int32 bound of the first stage
 * (m->acc64 otherwise) is proven on the 16-fold values (kron.py _quantize).
 *
 * Scratch (bytes, kron.py _scratch_s8): 3 + 8 ceil(m2 RNN_S8_STRIDE(n2) / 8)
 * + 8 ceil(m1 n1 / 8), then the scratch of rnn_mat_vec_kron_a16_s16.
 */

#include <stdint.h>

#include "rnn_nnfunctions.h"

/* Refer to header file for details. */
void rnn_mat_vec_kron_a16_s4_s16(int8_t *ctx, const rnn_kron_s8 *m, const int16_t *x,
                                 int16_t *y)
{
    const int32_t gb = (m->m2 * RNN_S8_STRIDE(m->n2) + 7) / 8;
    const int32_t ga = (m->m1 * m->n1 + 7) / 8;
    int8_t *b = ctx + ((4 - ((uintptr_t)ctx & 3)) & 3); /* word-aligned, as the int8 B */
    int8_t *a = b + 8 * gb;
    rnn_kron_s8 q = *m;
    rnn_kron_unpack_s4(m->b, gb, b);
    rnn_kron_unpack_s4(m->a, ga, a);
    q.a = a;
    q.b = b;
    rnn_mat_vec_kron_a16_s16(a + 8 * ga, &q, x, y);
}
