/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_layer_norm_s8.c
 * Description: int8 layer normalization of each row: the integer sum and sum of squares of
 *              the values without their zero point, the variance times n^2 plus epsilon in
 *              the input's integer units, its reciprocal square root by fixed-point Newton
 *              steps, then per value the normalized Q16 value times the folded scale plus
 *              the folded bias, requantized to the output (quant.layer_norm_s8 bit for bit).
 *              Where the normalized value's shift s is at most 32 (blocks up to about 4096
 *              values), (n d - S) 2^(32 - s) fits 27 bits and the rounding shift is the
 *              high word of one 32 x 32 product (SMMULR on cores with the DSP extension),
 *              the output the high word of one 64-bit multiply-add (SMLAL); larger shifts
 *              take a 64-bit shift. With the DSP extension (cortex-m4/m7/m55) the sums take
 *              four values a word (SXTB16, SSUB16, SMLAD). Plain C otherwise.
 */

#include "rnn_nnfunctions.h"
#include "rnn_nn_support.h"

#if defined(__ARM_FEATURE_DSP) && defined(__ARM_FEATURE_SIMD32) && !defined(__aarch64__)
#include <arm_acle.h>
#include <string.h>
#define RNN_LN_S8_DSP 1
#endif

#if defined(__ARM_FEATURE_SAT) && defined(__GNUC__) && !defined(__clang__)
#include <arm_acle.h>
/* SSAT (as rnn_mat_vec_s8_s16.c: GCC 12 types __ssat's result unsigned) */
#define RNN_LN_SAT8(v) ((int32_t)__builtin_arm_ssat((v), 8))
#elif defined(__ARM_FEATURE_SAT)
#include <arm_acle.h>
#define RNN_LN_SAT8(v) __ssat((v), 8)
#else
#define RNN_LN_SAT8(v) rnn_sat8(v)
#endif

/* (a b + 2^31) >> 32: the high word of a product rounded half up */
#if defined(__ARM_FEATURE_DSP) && !defined(__aarch64__) && defined(__GNUC__)
static inline int32_t rnn_layer_norm_s8_mulhr(int32_t a, int32_t b)
{
    int32_t r;
    __asm__("smmulr %0, %1, %2" : "=r"(r) : "r"(a), "r"(b));
    return r;
}
#else
static inline int32_t rnn_layer_norm_s8_mulhr(int32_t a, int32_t b)
{
    return (int32_t)(((int64_t)a * b + ((int64_t)1 << 31)) >> 32);
}
#endif

/* Q29 seeds of 1/sqrt(a), a = m / 2^30, at the middles of a's sixteenths 4..15
 * (quant.LN_RSQRT_SEED) */
static const int32_t rnn_layer_norm_s8_seed[12] = {
    1012333500, 915690104, 842312387, 784150157, 736580814, 696735698,
    662727842, 633258380, 607400100, 584471019, 563956835, 545461392};

/* r <= 2^30 with 1/sqrt(w) ~= r 2^-(44 + *e / 2), 1 <= w < 2^63 (quant.rsqrt_q29): w shifted
 * by the even *e that puts m in [2^28, 2^30), three Newton steps r <- r (3 - a r^2) / 2,
 * every product floored to its Q-format */
static int32_t rnn_layer_norm_s8_rsqrt(int64_t w, int32_t *e)
{
    int32_t bits;
    int32_t sh;
    uint32_t m;
    uint32_t r;
    int32_t k;
#if defined(__GNUC__)
    bits = 64 - __builtin_clzll((unsigned long long)w);
#else
    {
        uint64_t v = (uint64_t)w;
        bits = 0;
        while (v != 0)
        {
            v >>= 1;
            ++bits;
        }
    }
#endif
    sh = bits - 30;
    if (sh % 2 != 0)
    {
        sh += 1;
    }
    m = (uint32_t)(sh >= 0 ? (w >> sh) : (w << -sh));
    r = (uint32_t)rnn_layer_norm_s8_seed[(m >> 26) - 4];
    /* every value non-negative and below 2^32: r <= 2^30, r2 <= 2^31, a r^2 < 3 */
    for (k = 0; k < 3; ++k)
    {
        const uint32_t r2 = (uint32_t)(((uint64_t)r * r) >> 29);
        const uint32_t ar2 = (uint32_t)(((uint64_t)m * r2) >> 30);
        r = (uint32_t)(((uint64_t)r * (((uint32_t)3 << 29) - ar2)) >> 30);
    }
    *e = sh;
    return (int32_t)r;
}

/* The sum and the sum of squares of the n values x - zp (each in [-255, 255]) */
static void rnn_layer_norm_s8_sums(const int8_t *x, int32_t n, int32_t zp, int32_t *sum, int32_t *sq)
{
    int32_t s = 0;
    int32_t q = 0;
    int32_t i = 0;
#if defined(RNN_LN_S8_DSP)
    /* four values a word: SXTB16 of the word and of its 8-bit rotation, minus the zero point
     * in both halves (SSUB16; the differences fit int16), then SMLAD by (1, 1) and by
     * themselves */
    const int32_t zp2 = (int32_t)(((uint32_t)(uint16_t)zp << 16) | (uint16_t)zp);
    for (; i + 4 <= n; i += 4)
    {
        int32_t v;
        int32_t a;
        int32_t b;
        memcpy(&v, x + i, sizeof v);
        a = (int32_t)__ssub16(__sxtb16(v), zp2);
        b = (int32_t)__ssub16(__sxtb16((int32_t)(((uint32_t)v >> 8) | ((uint32_t)v << 24))), zp2);
        s = __smlad(a, 0x00010001, __smlad(b, 0x00010001, s));
        q = __smlad(a, a, __smlad(b, b, q));
    }
#endif
    for (; i < n; ++i)
    {
        const int32_t d = x[i] - zp;
        s += d;
        q += d * d;
    }
    *sum = s;
    *sq = q;
}

/* The outputs of one row from u = n x - s_zp: zq = (u r + 2^(s-1)) >> s, the high word of
 * zq G + K saturated; g and k advance by step (0: one value for all) */
static void rnn_layer_norm_s8_any(const int8_t *xr, int32_t n, int32_t s_zp, int32_t r,
                                  int32_t s, const int32_t *g, const int64_t *k, int32_t step,
                                  int8_t *yr)
{
    const int64_t half_s = (int64_t)1 << (s - 1);
    int32_t i;
    for (i = 0; i < n; ++i)
    {
        const int32_t u = n * xr[i] - s_zp;
        const int32_t zq = (int32_t)(((int64_t)u * r + half_s) >> s);
        const int64_t acc = (int64_t)zq * g[i * step] + k[i * step];
        yr[i] = (int8_t)RNN_LN_SAT8((int32_t)(acc >> 32));
    }
}

/* Refer to header file for details. */
void rnn_layer_norm_s8(const rnn_layer_norm_s8_params *p, int32_t rows, const int8_t *x,
                       int8_t *y)
{
    const int32_t n = p->n;
    const int32_t zp = p->zp_in;
    const int32_t *g = p->gamma;
    const int64_t *k = p->bias;
    int32_t row;
    for (row = 0; row < rows; ++row)
    {
        const int8_t *xr = x + row * n;
        int8_t *yr = y + row * n;
        int32_t sum;
        int32_t sq;
        int32_t s_zp;
        int64_t w;
        int32_t r;
        int32_t e;
        int32_t s;
        rnn_layer_norm_s8_sums(xr, n, zp, &sum, &sq);
        w = (((int64_t)n * sq - (int64_t)sum * sum) << 16) + p->eps;
        if (w < 1)
        {
            w = 1; /* a constant block and no epsilon: every n d - S is 0 */
        }
        r = rnn_layer_norm_s8_rsqrt(w, &e);
        s = 20 + e / 2;
        s_zp = sum + n * zp; /* n d - S = n x - (S + n zp) */
        if (s > 32)
        {
            rnn_layer_norm_s8_any(xr, n, s_zp, r, s, g, k, p->per_value ? 1 : 0, yr);
            continue;
        }
        /* |zq| < 2^24 and r >= 2^29 give |n d - S| < 2^(s - 5): scaled by 2^(32 - s) it
         * fits 27 bits, and (u r + 2^(s-1)) >> s = (u 2^(32-s) r + 2^31) >> 32 */
        {
            const int32_t up = (int32_t)1 << (32 - s);
            int32_t i;
            if (p->per_value)
            {
                for (i = 0; i < n; ++i)
                {
                    const int32_t zq = rnn_layer_norm_s8_mulhr((n * xr[i] - s_zp) * up, r);
                    const int64_t acc = (int64_t)zq * g[i] + k[i];
                    yr[i] = (int8_t)RNN_LN_SAT8((int32_t)(acc >> 32));
                }
            }
            else
            {
                const int32_t g0 = g[0];
                const int64_t k0 = k[0];
                for (i = 0; i < n; ++i)
                {
                    const int32_t zq = rnn_layer_norm_s8_mulhr((n * xr[i] - s_zp) * up, r);
                    const int64_t acc = (int64_t)zq * g0 + k0;
                    yr[i] = (int8_t)RNN_LN_SAT8((int32_t)(acc >> 32));
                }
            }
        }
    }
}
