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
 * - Helium (Cortex-M55, __ARM_FEATURE_MVE): eight entries per step, as the int8 kernel:
 *   VLDRH.U16 (indices), a gather VLDRB.S16 [x, indices] of eight x values, and the four
 *   value bytes gathered as int16 lanes (offsets 0, 0, 1, 1, 2, 2, 3, 3; sign-extended), the
 *   even lanes' low nibble by VSHL #12 then arithmetic VSHL #-12, the odd lanes' high nibble
 *   by VSHL #-4 (one VSHL by a vector of lane shifts each); VMLADAVA.S16; a row of 8k + 4
 *   entries ends with one step predicated on four lanes.
 * - plain C99 elsewhere, four entries per step on two sums.
 */

#include "rnn_nnfunctions.h"
#include "rnn_nn_support.h"

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
#include <arm_mve.h>
#define RNN_CSR_S4_MVE 1
#endif

#if !defined(RNN_CSR_S4_MVE)
/* the signed value of a nibble (0..15, two's complement) */
static inline int32_t nibble(uint32_t u)
{
    return (int32_t)(u ^ 8u) - 8;
}
#endif

#if !defined(RNN_CSR_S4_MVE)
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
#endif

#if defined(RNN_CSR_S4_MVE)
static const uint16_t csr_s4_bytes[8] = {0, 0, 1, 1, 2, 2, 3, 3};
static const int16_t csr_s4_up[8] = {12, 0, 12, 0, 12, 0, 12, 0};
static const int16_t csr_s4_down[8] = {-12, -4, -12, -4, -12, -4, -12, -4};

/* row_sum on Helium (above) */
static int32_t row_sum_mve(uint32_t n4, const uint8_t *v, const uint16_t *c, const int8_t *x,
                           uint16x8_t bytes, int16x8_t up, int16x8_t down)
{
    int32_t a = 0;
    for (; n4 >= 2; n4 -= 2)
    {
        const int16x8_t xv = vldrbq_gather_offset_s16(x, vldrhq_u16(c));
        const int16x8_t b = vldrbq_gather_offset_s16((const int8_t *)v, bytes);
        a = vmladavaq_s16(a, vshlq_s16(vshlq_s16(b, up), down), xv);
        v += RNN_CSR_GROUP;
        c += 2 * RNN_CSR_GROUP;
    }
    if (n4 > 0)
    {
        const mve_pred16_t p = vctp16q(RNN_CSR_GROUP);
        const int16x8_t xv = vldrbq_gather_offset_z_s16(x, vldrhq_z_u16(c, p), p);
        const int16x8_t b = vldrbq_gather_offset_z_s16((const int8_t *)v, bytes, p);
        a = vmladavaq_p_s16(a, vshlq_s16(vshlq_s16(b, up), down), xv, p);
    }
    return a;
}
#endif

/* Refer to header file for details. */
void rnn_mat_vec_csr_s4_s16(int32_t rows, const int8_t *values, const uint16_t *col_idx,
                            const int32_t *row_ptr, const int32_t *offset, const int32_t *mult,
                            const int32_t *shift, const int8_t *x, int16_t *y)
{
    const uint8_t *v = (const uint8_t *)values;
    int32_t r;
#if defined(RNN_CSR_S4_MVE)
    const uint16x8_t bytes = vldrhq_u16(csr_s4_bytes);
    const int16x8_t up = vldrhq_s16(csr_s4_up);
    const int16x8_t down = vldrhq_s16(csr_s4_down);
#endif

    for (r = 0; r < rows; ++r)
    {
        const int32_t lo = row_ptr[r];
        const uint32_t n4 = (uint32_t)(row_ptr[r + 1] - lo) / RNN_CSR_GROUP;
#if defined(RNN_CSR_S4_MVE)
        const int32_t acc = offset[r] + row_sum_mve(n4, v + lo / 2, col_idx + lo, x, bytes, up,
                                                    down);
#else
        const int32_t acc = offset[r] + row_sum(n4, v + lo / 2, col_idx + lo, x);
#endif
        y[r] = (int16_t)rnn_sat16(rnn_requantize(acc, mult[r], shift[r]));
    }
}
