/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_mat_vec_csr_s4_s16.c
 * Description: Sparse (CSR) matrix with int4 values (--precision w4a8) times int8 vector,
 *              rows requantized to int16:
 *              y[r] = sat16(rq(offset[r] + sum_k values[k] x[col_idx[k]])).
 *
 * Storage (docs/int8.md, "int4 in the compressed formats"): the values, in [-7, 7], two per
 * byte in entry order: byte k / 2 holds entry k (k even) in its low nibble and entry k + 1 in
 * its high nibble, both in two's complement. The column indices and row pointers are the
 * int8 kernel's (rnn_mat_vec_csr_s8_s16): every row padded at build time to a multiple of
 * RNN_CSR_GROUP (4) entries, so a row starts on a whole byte and a group of four entries is
 * two bytes. The integer arithmetic is the int8 kernel's (an int4 value is an int8 value in
 * [-7, 7]), so the results equal QCsr.forward bit for bit.
 * Plain C99 on every target (no ISA path yet).
 */

#include "rnn_nnfunctions.h"
#include "rnn_nn_support.h"

/* the signed value of a nibble (0..15, two's complement) */
static inline int32_t nibble(uint32_t u)
{
    return (int32_t)(u ^ 8u) - 8;
}

/* sum_k v[k] x[c[k]] over n4 groups of four entries, v packed (two values a byte) */
static int32_t row_sum(uint32_t n4, const uint8_t *v, const uint16_t *c, const int8_t *x)
{
    int32_t a0 = 0;
    int32_t a1 = 0;
    for (; n4 > 0; --n4)
    {
        const uint32_t b0 = v[0];
        const uint32_t b1 = v[1];
        a0 += nibble(b0 & 15u) * (int32_t)x[c[0]];
        a1 += nibble(b0 >> 4) * (int32_t)x[c[1]];
        a0 += nibble(b1 & 15u) * (int32_t)x[c[2]];
        a1 += nibble(b1 >> 4) * (int32_t)x[c[3]];
        v += RNN_CSR_GROUP / 2;
        c += RNN_CSR_GROUP;
    }
    return a0 + a1;
}

/* Refer to header file for details. */
void rnn_mat_vec_csr_s4_s16(int32_t rows, const int8_t *values, const uint16_t *col_idx,
                            const int32_t *row_ptr, const int32_t *offset, const int32_t *mult,
                            const int32_t *shift, const int8_t *x, int16_t *y)
{
    const uint8_t *v = (const uint8_t *)values;
    int32_t r;

    for (r = 0; r < rows; ++r)
    {
        const int32_t lo = row_ptr[r];
        const uint32_t n4 = (uint32_t)(row_ptr[r + 1] - lo) / RNN_CSR_GROUP;
        const int32_t acc = offset[r] + row_sum(n4, v + lo / 2, col_idx + lo, x);
        y[r] = (int16_t)rnn_sat16(rnn_requantize(acc, mult[r], shift[r]));
    }
}
