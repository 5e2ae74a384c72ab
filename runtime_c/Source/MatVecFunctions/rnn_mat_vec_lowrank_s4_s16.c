/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_mat_vec_lowrank_s4_s16.c
 * Description: Low-rank product y = U (V x) with int4 factors (--precision w4a8): the
 *              intermediate t = V x is requantized to int8 (symmetric, zero point 0) by
 *              rnn_mat_vec_s4, then U t to int16 by rnn_mat_vec_s4_s16. Both factors are
 *              stored as the dense int4 kernels read them (rows in nibble pairs, pack_s4);
 *              the integer arithmetic is the int8 kernel's (rnn_mat_vec_lowrank_s8_s16), so
 *              the results equal the integer reference bit for bit on every ISA path of the
 *              dense int4 kernels.
 */

#include "rnn_nnfunctions.h"

/* Refer to header file for details. */
void rnn_mat_vec_lowrank_s4_s16(int8_t *ctx, int32_t rows, int32_t cols, int32_t rank,
                                const int8_t *v, const int32_t *v_offset,
                                const int32_t *v_mult, const int32_t *v_shift, const int8_t *u,
                                const int32_t *u_offset, const int32_t *u_mult,
                                const int32_t *u_shift, const int8_t *x, int16_t *y)
{
    rnn_mat_vec_s4(rank, cols, v, v_offset, v_mult, v_shift, 0, x, ctx);
    rnn_mat_vec_s4_s16(rows, rank, u, u_offset, u_mult, u_shift, ctx, y);
}
