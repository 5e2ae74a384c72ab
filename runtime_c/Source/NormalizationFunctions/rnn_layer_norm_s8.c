/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_layer_norm_s8.c
 * Description: int8 layer normalization of each row: the integer sum and sum of squares of
 *              the values without their zero point, the variance times n^2 plus epsilon in
 *              the input's integer units, its reciprocal square root by fixed-point Newton
 *              steps, then per value the normalized Q16 value times the folded scale plus
 *              the folded bias, requantized to the output (quant.layer_norm_s8 bit for bit).
 */

#include "rnn_nnfunctions.h"
#include "rnn_nn_support.h"

/* Q29 seeds of 1/sqrt(a), a = m / 2^30, at the middles of a's sixteenths 4..15
 * (quant.LN_RSQRT_SEED) */
static const int32_t rnn_rsqrt_seed[12] = {
    1012333500, 915690104, 842312387, 784150157, 736580814, 696735698,
    662727842, 633258380, 607400100, 584471019, 563956835, 545461392};

/* r with 1/sqrt(w) ~= r 2^-(44 + *e / 2), 1 <= w < 2^63 (quant.rsqrt_q29): w normalized by
 * an even shift to m in [2^28, 2^30), three Newton steps r <- r (3 - a r^2) / 2, every
 * product floored to its Q-format */
static int64_t rnn_rsqrt_q29(int64_t w, int32_t *e)
{
    int64_t m = w;
    int64_t r;
    int32_t k;
    int32_t sh = 0;
    while (m >= ((int64_t)1 << 30))
    {
        m >>= 2;
        sh += 2;
    }
    while (m < ((int64_t)1 << 28))
    {
        m <<= 2;
        sh -= 2;
    }
    r = rnn_rsqrt_seed[(m >> 26) - 4];
    for (k = 0; k < 3; ++k)
    {
        const int64_t r2 = (r * r) >> 29;
        const int64_t ar2 = (m * r2) >> 30;
        r = (r * (((int64_t)3 << 29) - ar2)) >> 30;
    }
    *e = sh;
    return r;
}

/* Refer to header file for details. */
void rnn_layer_norm_s8(const rnn_layer_norm_s8_params *p, int32_t rows, const int8_t *x,
                       int8_t *y)
{
    const int32_t n = p->n;
    const int32_t zp = p->zp_in;
    const int32_t gs = p->gamma_shift;
    const int32_t k = 16 + gs;
    const int64_t scale_b = (int64_t)1 << gs; /* B << gs as a product: B may be negative */
    const int64_t half_k = (int64_t)1 << (k - 1);
    int32_t row;
    for (row = 0; row < rows; ++row)
    {
        const int8_t *xr = x + row * n;
        int8_t *yr = y + row * n;
        int32_t sum = 0;
        int32_t sq = 0;
        int64_t w;
        int64_t r;
        int64_t half_s;
        int32_t e;
        int32_t s;
        int32_t i;
        for (i = 0; i < n; ++i)
        {
            const int32_t d = xr[i] - zp;
            sum += d;
            sq += d * d;
        }
        w = (((int64_t)n * sq - (int64_t)sum * sum) << 16) + p->eps;
        if (w < 1)
        {
            w = 1; /* a constant block and no epsilon: every n d - S is 0 */
        }
        r = rnn_rsqrt_q29(w, &e);
        s = 20 + e / 2;
        half_s = (int64_t)1 << (s - 1);
        for (i = 0; i < n; ++i)
        {
            const int32_t u = n * (xr[i] - zp) - sum;
            const int64_t zq = ((int64_t)u * r + half_s) >> s;
            const int64_t acc = zq * p->gamma[i] + (int64_t)p->beta[i] * scale_b;
            int64_t v = ((acc + half_k) >> k) + p->zp_out;
            v = v > 127 ? 127 : (v < -128 ? -128 : v);
            yr[i] = (int8_t)v;
        }
    }
}
