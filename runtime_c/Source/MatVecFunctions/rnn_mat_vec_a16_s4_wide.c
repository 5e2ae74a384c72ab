/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_mat_vec_a16_s4_wide.c
 * Description: int4 matrix (two weights per byte, pack_s4's row pairs) times int16 vector
 *              with int64 accumulation, for the w4a16 matrices whose int32 sum could
 *              overflow (a row with sum |W[r]| * 32768 + |offset[r]| >= 2^31: more than
 *              about 9,300 columns of full-scale int4 weights, or a large Linear bias):
 *              acc[r] = W[r] . x + offset[r] exact in int64, requantized as CMSIS-NN's
 *              arm_nn_requantize_s64 (rnn_requantize_s64, quant.rq64).
 *              rnn_mat_vec_a16_s4_wide: y = sat16(rq64(acc)); rnn_mat_vec_a16_s4_wide_s8:
 *              y = sat8(zp + sat16(rq64(acc))).
 *
 * Per row pair S = sum B x and H = sum (B >> 4) x (B the stored byte as int8, as
 * rnn_mat_vec_a16_s4_s16.c), row 2p + 1 = H, row 2p = S - 16 H - 8 sum(x), all in int64.
 * Helium (Cortex-M55): VLDRB.S16, VSHR and two VMLALDAVA.S16 per 8 columns of a pair, the
 * last 1..7 predicated. Elsewhere plain C99 (this is the fallback: the int32 kernels take
 * every matrix whose bound fits).
 */

#include <stddef.h>

#include "rnn_nnfunctions.h"
#include "rnn_nn_support.h"

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
#include <arm_mve.h>
#define RNN_A16S4W_MVE 1
#endif

/* the int64 sums of one row pair (lo: row 2p, hi: row 2p + 1) */
static void pair64(const int8_t *w, const int16_t *x, int32_t n, int64_t sx, int64_t *lo,
                   int64_t *hi)
{
#if defined(RNN_A16S4W_MVE)
    int64_t s = 0, h = 0;
    int32_t j = 0;
    for (; j + 8 <= n; j += 8)
    {
        const int16x8_t b = vldrbq_s16(w + j);
        const int16x8_t xv = vldrhq_s16(x + j);
        s = vmlaldavaq_s16(s, b, xv);
        h = vmlaldavaq_s16(h, vshrq_n_s16(b, 4), xv);
    }
    if (j < n)
    {
        const mve_pred16_t p = vctp16q((uint32_t)(n - j));
        const int16x8_t b = vldrbq_z_s16(w + j, p);
        const int16x8_t xv = vldrhq_z_s16(x + j, p);
        s = vmlaldavaq_s16(s, b, xv);
        h = vmlaldavaq_s16(h, vshrq_n_s16(b, 4), xv);
    }
    *lo = s - 16 * h - 8 * sx;
    *hi = h;
#else
    int64_t a = 0, b = 0;
    int32_t j;
    (void)sx;
    for (j = 0; j < n; ++j)
    {
        const int32_t v = (int32_t)w[j];
        const int32_t u = v & 15;
        a += (int64_t)((u - 8) * (int32_t)x[j]);
        b += (int64_t)(((v - u) / 16) * (int32_t)x[j]);
    }
    *lo = a;
    *hi = b;
#endif
}

/* both outputs' work: y16 (int16) or y8 (int8 with the zero point) */
static void wide_rows(int32_t rows, int32_t cols, const int8_t *w, const int32_t *offset,
                      const int32_t *mult, const int32_t *shift, int32_t zp, const int16_t *x,
                      int16_t *y16, int8_t *y8)
{
    const int32_t ld = RNN_S4_STRIDE(cols);
    int64_t sx = 0;
    int32_t r, j;
    for (j = 0; j < cols; ++j)
    {
        sx += x[j];
    }
    for (r = 0; r < rows; r += 2)
    {
        int64_t acc[2];
        int32_t k;
        pair64(w, x, cols, sx, &acc[0], &acc[1]);
        for (k = 0; k < 2 && r + k < rows; ++k)
        {
            const int32_t v = rnn_sat16(rnn_requantize_s64(acc[k] + offset[r + k], mult[r + k],
                                                           shift[r + k]));
            if (y16 != NULL)
            {
                y16[r + k] = (int16_t)v;
            }
            else
            {
                y8[r + k] = (int8_t)rnn_sat8(zp + v);
            }
        }
        w += ld;
    }
}

/* Refer to header file for details. */
void rnn_mat_vec_a16_s4_wide(int32_t rows, int32_t cols, const int8_t *w, const int32_t *offset,
                             const int32_t *mult, const int32_t *shift, const int16_t *x,
                             int16_t *y)
{
    wide_rows(rows, cols, w, offset, mult, shift, 0, x, y, NULL);
}

/* Refer to header file for details. */
void rnn_mat_vec_a16_s4_wide_s8(int32_t rows, int32_t cols, const int8_t *w,
                                const int32_t *offset, const int32_t *mult,
                                const int32_t *shift, int32_t out_zero_point, const int16_t *x,
                                int8_t *y)
{
    wide_rows(rows, cols, w, offset, mult, shift, out_zero_point, x, NULL, y);
}
