/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_nn_support.h
 * Description: Integer helpers shared by the int8 kernels: requantization, rounding shifts,
 *              saturation. Each mirrors a function of codegen/quant.py exactly.
 */

#ifndef RNN_NN_SUPPORT_H
#define RNN_NN_SUPPORT_H

#include <stdint.h>
#if defined(__ARM_FEATURE_DSP) && defined(__ARM_FEATURE_SIMD32) && !defined(__aarch64__)
#include <arm_acle.h>
#include <string.h>
#endif

/**
 * @brief round(acc * mult * 2^(shift - 31)), half up, saturated to int32 (quant.rq).
 *        mult in [2^30, 2^31), shift in [-31, 30]. The product is exact in 64 bits and
 *        shifted once; `>>` of a negative int64 is arithmetic on every compiler rnngen uses.
 */
static inline int32_t rnn_requantize(int32_t acc, int32_t mult, int32_t shift)
{
    const int32_t right = 31 - shift;
    const int64_t p = (int64_t)acc * (int64_t)mult;
    const int64_t r = (p + ((int64_t)1 << (right - 1))) >> right;
    return r > INT32_MAX ? INT32_MAX : (r < INT32_MIN ? INT32_MIN : (int32_t)r);
}

/** @brief Arithmetic right shift by n >= 0, rounding half up (quant.rshift_round). */
static inline int32_t rnn_rshift_round(int32_t v, int32_t n)
{
    return n == 0 ? v : (int32_t)(((int64_t)v + ((int64_t)1 << (n - 1))) >> n);
}

/** @brief Saturate to int16. */
static inline int32_t rnn_sat16(int32_t v)
{
    return v > 32767 ? 32767 : (v < -32768 ? -32768 : v);
}

/** @brief Saturate to int8. */
static inline int32_t rnn_sat8(int32_t v)
{
    return v > 127 ? 127 : (v < -128 ? -128 : v);
}

/** @brief Interpolated table lookup of a Q3.12 value (quant.lut): 513-entry int16 table
 *         over [-8, 8] in steps of 2^-5; the result is Q0.15. */
static inline int32_t rnn_lut_q12(const int16_t *table, int32_t x)
{
    const int32_t u = x + 32768;
    const int32_t i = u >> 7;
    const int32_t f = u & 127;
#if defined(__ARM_FEATURE_DSP) && defined(__ARM_FEATURE_SIMD32) && !defined(__aarch64__)
    /* Cortex-M4/M7: t0 + ((t1 - t0) f + 64) >> 7 = (t0 (128 - f) + t1 f + 64) >> 7 exactly
     * (t0 128 is a multiple of 128), one SMLAD over the entries read as one word (t0 low,
     * t1 high; unaligned word loads are allowed) and the weights (128 - f, f) */
    int32_t pair;
    memcpy(&pair, table + i, sizeof pair);
    return __smlad(pair, (int32_t)(((uint32_t)f << 16) | (uint32_t)(128 - f)), 64) >> 7;
#else
    return table[i] + (((table[i + 1] - table[i]) * f + 64) >> 7);
#endif
}

/** @brief Offsets of the current row of two strided views: sum over the outer dimensions
 *         d < last of idx[d] * strides[d] (the walk of rnn_copy_strided_* and
 *         rnn_elementwise_f32). */
static inline void rnn_row_offsets(int32_t last, const int32_t *idx, const int32_t *sa,
                                   const int32_t *sb, int32_t *oa, int32_t *ob)
{
    int32_t d;
    *oa = 0;
    *ob = 0;
    for (d = 0; d < last; ++d)
    {
        *oa += idx[d] * sa[d];
        *ob += idx[d] * sb[d];
    }
}

/** @brief Advance the index of the outer dimensions d < last to the next row (the last
 *         dimension runs fastest); 0 when every row has been visited. */
static inline int32_t rnn_next_row(int32_t last, const int32_t *shape, int32_t *idx)
{
    int32_t d;
    for (d = last - 1; d >= 0; --d)
    {
        if (++idx[d] < shape[d])
        {
            return 1;
        }
        idx[d] = 0;
    }
    return 0;
}

#endif /* RNN_NN_SUPPORT_H */
