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

#include "rnn_nn_types.h"
#if defined(__ARM_FEATURE_DSP) && defined(__ARM_FEATURE_SIMD32) && !defined(__aarch64__)
#include <arm_acle.h>
#include <string.h>
#endif

/**
 * @brief round(acc * mult * 2^(shift - 31)), half up, saturated to int32 (quant.rq).
 *        mult in [2^30, 2^31), shift in [-31, 30]. The product is exact in 64 bits and
 *        shifted once; `>>` of a negative int64 is arithmetic on every compiler rnngen uses.
 *        On 32-bit cores, a right shift of 33 or more (every multiplier below 1/4) starts
 *        from the product's high word: t = floor(p / 2^(right-1)) = hi >> (right - 33), and
 *        floor((p + 2^(right-1)) / 2^right) = (t + 1) >> 1: the same value in 3 word
 *        instructions instead of a 64-bit add, a variable 64-bit shift and a saturation
 *        (|p| < 2^62, so |t| < 2^30: nothing to saturate there).
 */
static inline int32_t rnn_requantize(int32_t acc, int32_t mult, int32_t shift)
{
    const int32_t right = 31 - shift;
    const int64_t p = (int64_t)acc * (int64_t)mult;
#if !defined(__aarch64__) && !defined(__x86_64__)
    /* cppcheck-suppress knownConditionTrueFalse ; depends on the caller's shift */
    if (right > 32)
    {
        const int32_t t = (int32_t)(p >> 32) >> (right - 33);
        return (t + 1) >> 1;
    }
#endif
    {
        const int64_t r = (p + ((int64_t)1 << (right - 1))) >> right;
        return r > INT32_MAX ? INT32_MAX : (r < INT32_MIN ? INT32_MIN : (int32_t)r);
    }
}

/**
 * @brief CMSIS-NN's arm_nn_requantize_s64 (quant.rq64), for the int64 sums of the
 *        int16-activation kernels (|acc| < 2^47): the multiplier reduced to Q15,
 *        m15 = (mult + 2^15) >> 16, then round(acc * m15 * 2^(shift - 15)) half up,
 *        saturated to int32 (the product below 2^62: exact in 64 bits).
 */
static inline int32_t rnn_requantize_s64(int64_t acc, int32_t mult, int32_t shift)
{
    const int64_t m15 = ((int64_t)mult + (1 << 15)) >> 16;
    const int64_t p = acc * m15;
    const int32_t right = 15 - shift;
    int64_t r;
    if (right > 0)
    {
        r = (p + ((int64_t)1 << (right - 1))) >> right;
    }
    else
    {
        const int64_t lo = -(((int64_t)1 << 31) >> -right); /* INT32_MIN >> -right (exact) */
        const int64_t hi = (int64_t)INT32_MAX >> -right;
        r = p > hi ? INT32_MAX : (p < lo ? INT32_MIN : p * ((int64_t)1 << -right));
    }
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

#if defined(__ARM_FEATURE_DSP) && defined(__ARM_FEATURE_SIMD32) && !defined(__aarch64__)
/* ------------------------------------------------------------ int16 inputs on DSP ---- */
/**
 * @brief x (int16) split into SMLAD pairs, once per call of the int16-input kernels
 *        (rnn_mat_vec_a16_s16, rnn_mat_vec_a16_s4_s16): per 4 columns the words
 *        (x0 | x2 << 16), (x1 | x3 << 16) (PKHBT, PKHTB), matching the int8 kernels' weight
 *        pairs; the last partial word padded with zero columns. xw: 2 ceil(cols / 4) words.
 */
static inline void rnn_split_pairs_s16(int32_t cols, const int16_t *x, int32_t *xw)
{
    int32_t k;
    for (k = cols >> 2; k > 0; --k)
    {
        uint32_t lo, hi;
        memcpy(&lo, x, 4);     /* (x0, x1) */
        memcpy(&hi, x + 2, 4); /* (x2, x3) */
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

/* ---------------------------------------------------------------------------- SRU ---- */
/**
 * @brief One SRU unit u after W x (rnn_sru_cell_s16 and its int16-h variant
 *        rnn_sru_cell_a16 share it; cells/sru.py step_s8): gates in Q3.12, sigmoid by table,
 *        c[u] updated (int16, 2^-cell_exp), and h' = r c' + (1 - r) x' summed in Q.15 and
 *        requantized: returns zp + rq(h'), not yet saturated. xv: this unit's input minus its
 *        zero point (the highway; unused with a projection, which takes W_p x from gx).
 */
static inline int32_t rnn_sru_unit(const rnn_sru_params_s16 *p, const int16_t *gx, int32_t xv,
                                   int16_t *c, int32_t u)
{
    const int32_t H = p->hidden;
    const int32_t k = p->cell_exp;
    const int16_t *b = p->bias;
    const int16_t *v = p->v;
    const int32_t cp = c[u];
    const int32_t wx = rnn_sat16(gx[u] + b[u]);
    const int32_t gf = rnn_sat16(rnn_sat16(gx[H + u] + b[H + u]) + rnn_sat16(
        rnn_requantize((int32_t)v[u] * cp, p->v_mult, p->v_shift)));
    const int32_t gr = rnn_sat16(rnn_sat16(gx[2 * H + u] + b[2 * H + u]) + rnn_sat16(
        rnn_requantize((int32_t)v[H + u] * cp, p->v_mult, p->v_shift)));
    const int32_t f = rnn_lut_q12(p->lut0, gf);
    const int32_t r = rnn_lut_q12(p->lut0, gr);
    const int32_t cn = rnn_sat16(rnn_rshift_round(f * cp, 15) +
                                 rnn_rshift_round((32768 - f) * wx, 27 - k));
    const int64_t hw15 = p->projection ? (int64_t)rnn_sat16(gx[3 * H + u] + b[3 * H + u]) * 8
                                       : (int64_t)rnn_requantize(xv, p->x15_mult, p->x15_shift);
    /* quant.rshift_round of the 64-bit (1 - r) x' by 15 */
    int64_t total = (int64_t)rnn_rshift_round(r * cn, k) +
                    (((32768 - r) * hw15 + ((int64_t)1 << 14)) >> 15);
    total = total > INT32_MAX ? INT32_MAX : (total < INT32_MIN ? INT32_MIN : total);
    c[u] = (int16_t)cn;
    /* sat16 first: the caller's sat8 gives the same int8, and no int32 overflow */
    return p->h_zero_point + rnn_sat16(rnn_requantize((int32_t)total, p->out_mult, p->out_shift));
}

/* ---------------------------------------------------------------- convolution ---------- */

/** @brief The taps [lo, hi) of one output position o of a convolution that fall inside the
 *         input (stride s, padding pad, dilation d, k_n taps, n input positions): the first
 *         k with 0 <= o s - pad + k d, and one past the last with o s - pad + k d < n
 *         (shared by rnn_conv_f32, rnn_conv_s8, rnn_conv_s4 and rnn_conv_a16). */
static inline void rnn_conv_taps(int32_t o, int32_t s, int32_t pad, int32_t d, int32_t k_n,
                                 int32_t n, int32_t *lo, int32_t *hi)
{
    const int32_t start = o * s - pad;
    int32_t a = 0;
    int32_t b = k_n;
    if (start < 0)
    {
        a = (-start + d - 1) / d;
    }
    if (start + (k_n - 1) * d >= n)
    {
        b = n - 1 - start < 0 ? 0 : (n - 1 - start) / d + 1;
    }
    *lo = a;
    *hi = b > a ? b : a;
}

/* ---------------------------------------------------------------- attention pooling ---- */
/* The integer online softmax of quant.QAttentionPool (rnn_attention_pool_s8 and
 * rnn_running_attention_pool_s8 share these, so `_step` T times equals `_run` exactly). */

/** @brief l and a are halved (x + 1, up to RNN_ATT_X_MAX) when l reaches this
 *         (quant.ATT_L_MAX). */
#define RNN_ATT_L_MAX ((int32_t)1 << 22)
#define RNN_ATT_X_MAX 16

/** @brief v * c / 2^16 rounded half up: the rescale by a Q16 table entry c in [0, 2^16]. */
static inline int32_t rnn_att_rescale(int32_t v, int32_t c)
{
    return (int32_t)(((int64_t)v * (int64_t)c + 32768) >> 16);
}

/**
 * @brief Fold one step into one score's m, l, x and its outputs' sums a[0 .. count-1]
 *        (values v[0 .. count-1], zero point zp_v): quant.QAttentionPool.steps.
 */
static inline void rnn_att_step(const int32_t *tab, int32_t s, const int8_t *v, int32_t zp_v,
                                int32_t count, int32_t *m, int32_t *l, int32_t *x, int32_t *a)
{
    int32_t i;
    int32_t e;
    if (s > *m)
    {
        const int32_t c = tab[s - *m];
        *l = rnn_att_rescale(*l, c);
        for (i = 0; i < count; ++i)
        {
            a[i] = rnn_att_rescale(a[i], c);
        }
        *m = s;
    }
    e = tab[*m - s];
    if (*x > 0)
    {
        e = (e + ((int32_t)1 << (*x - 1))) >> *x;
    }
    *l += e;
    for (i = 0; i < count; ++i)
    {
        a[i] += e * ((int32_t)v[i] - zp_v);
    }
    if (*l >= RNN_ATT_L_MAX)
    {
        *l = (*l + 1) >> 1;
        for (i = 0; i < count; ++i)
        {
            a[i] = (a[i] + 1) >> 1;
        }
        *x = *x < RNN_ATT_X_MAX ? *x + 1 : *x;
    }
}

/**
 * @brief The int8 output of the weighted sum a over the normalizer l > 0
 *        (quant.QAttentionPool.finish): r = |a| 2^16 / l rounded half up, with a's sign,
 *        in three 32-bit divisions (l < 2^23: exact), then sat8(zp_out + rq(r, mult, shift)).
 */
static inline int8_t rnn_att_output(int32_t a, int32_t l, int32_t mult, int32_t shift,
                                    int32_t zp_out)
{
    const uint32_t u = a < 0 ? (uint32_t)0 - (uint32_t)a : (uint32_t)a;
    const uint32_t d = (uint32_t)l;
    const uint32_t q = u / d;
    const uint32_t r0 = (u - q * d) << 8;
    const uint32_t f1 = r0 / d;
    const uint32_t f2 = (((r0 - f1 * d) << 8) + d / 2) / d;
    const int32_t r = (int32_t)((q << 16) + (f1 << 8) + f2);
    const int32_t y = rnn_requantize(a < 0 ? -r : r, mult, shift);
    const int64_t o = (int64_t)zp_out + y;
    return (int8_t)(o > 127 ? 127 : (o < -128 ? -128 : o));
}

#endif /* RNN_NN_SUPPORT_H */
