/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_lstm_cell_a16.c
 * Description: LSTM cell update with an int16 hidden state (w8a16 activations: symmetric,
 *              zero point 0): rnn_lstm_cell_s16's arithmetic (gates in Q3.12, tables,
 *              int16 cell state with scale 2^-cell_exp) with h = sat16(rq(o tanh(c)))
 *              instead of sat8(zp + rq(...)). Mirrors cells/lstm.py step_s8.
 *
 * Plain C on every core: the common cell (no peepholes, no clip, cell_exp in 1..29) with
 * 32-bit rounding shifts and the high-word requantization where they are exact (as the
 * int8 cell's plain loop), every other cell by the general loop.
 */

#include "rnn_nnfunctions.h"
#include "rnn_nn_support.h"

#if defined(__ARM_FEATURE_SAT) && defined(__GNUC__) && !defined(__clang__)
/* SSAT (as rnn_lstm_cell_s16.c: the builtin, cast back to signed) */
#define SAT16(v) ((int32_t)__builtin_arm_ssat((v), 16))
#elif defined(__ARM_FEATURE_SAT)
#include <arm_acle.h>
#define SAT16(v) __ssat((v), 16)
#else
#define SAT16(v) rnn_sat16(v)
#endif

static int32_t clip_gate(int32_t v, int32_t clip)
{
    return clip == 0 ? v : (v < -clip ? -clip : (v > clip ? clip : v));
}

/* rnn_rshift_round(v, n) for n in 1..30 and |v| <= 2^30: no 64-bit arithmetic needed */
static inline int32_t rshift_round32(int32_t v, int32_t n)
{
    return (v + (1 << (n - 1))) >> n;
}

/* rnn_requantize(acc, mult, shift): for shift <= -2 from the high word of the product
 * (rnn_mat_vec_s8_s16.c states the identity), else the general form */
static inline int32_t requant(int32_t acc, int32_t mult, int32_t shift)
{
    if (shift <= -2)
    {
        const int32_t hi = (int32_t)(((int64_t)acc * (int64_t)mult) >> 32);
        return ((hi >> (-2 - shift)) + 1) >> 1;
    }
    return rnn_requantize(acc, mult, shift);
}

/* the common cell */
static void lstm_plain_a16(const rnn_lstm_params_s16 *p, const int16_t *gx, const int16_t *gh,
                           int16_t *c, int16_t *h)
{
    const int32_t H = p->hidden;
    const int32_t k = p->cell_exp;
    const int16_t *bias = p->bias;
    const int16_t *lut0 = p->lut0;
    const int16_t *lut1 = p->lut1;
    const int16_t *lut2 = p->lut2;
    const int32_t ifg = p->input_forget;
    const int32_t om = p->out_mult;
    const int32_t os = p->out_shift;
    int32_t u;

    for (u = 0; u < H; ++u)
    {
        const int32_t gi = SAT16(gx[u] + gh[u] + bias[u]);
        const int32_t go = SAT16(gx[H + u] + gh[H + u] + bias[H + u]);
        const int32_t gf = SAT16(gx[2 * H + u] + gh[2 * H + u] + bias[2 * H + u]);
        const int32_t gc = SAT16(gx[3 * H + u] + gh[3 * H + u] + bias[3 * H + u]);
        const int32_t i = rnn_lut_q12(lut0, gi);
        const int32_t f = ifg ? SAT16(32768 - i) : rnn_lut_q12(lut0, gf);
        const int32_t g = rnn_lut_q12(lut1, gc);
        const int32_t cn = SAT16(rshift_round32(f * c[u], 15) + rshift_round32(i * g, 30 - k));
        const int32_t o = rnn_lut_q12(lut0, go);
        const int32_t c12 = k > 12 ? rshift_round32(cn, k - 12) : SAT16(cn * (1 << (12 - k)));
        const int32_t th = rnn_lut_q12(lut2, c12);
        c[u] = (int16_t)cn;
        h[u] = (int16_t)SAT16(requant(o * th, om, os));
    }
}

/* Refer to header file for details. */
void rnn_lstm_cell_a16(const rnn_lstm_params_s16 *p, const int16_t *gx, const int16_t *gh,
                       int16_t *c, int16_t *h)
{
    const int32_t H = p->hidden;
    const int32_t k = p->cell_exp;
    int32_t u;

    if (!p->peephole && p->clip == 0 && k >= 1 && k <= 29)
    {
        lstm_plain_a16(p, gx, gh, c, h);
        return;
    }
    for (u = 0; u < H; ++u)
    {
        int32_t gi = rnn_sat16(gx[u] + gh[u] + p->bias[u]);
        int32_t go = rnn_sat16(gx[H + u] + gh[H + u] + p->bias[H + u]);
        int32_t gf = rnn_sat16(gx[2 * H + u] + gh[2 * H + u] + p->bias[2 * H + u]);
        int32_t gc = rnn_sat16(gx[3 * H + u] + gh[3 * H + u] + p->bias[3 * H + u]);
        int32_t i, f, g, o, cn, c12, th;
        if (p->peephole)
        {
            gi = rnn_sat16(gi + rnn_sat16(rnn_requantize((int32_t)p->peephole[u] * c[u],
                                                         p->peep_mult, p->peep_shift)));
            gf = rnn_sat16(gf + rnn_sat16(rnn_requantize((int32_t)p->peephole[2 * H + u] * c[u],
                                                         p->peep_mult, p->peep_shift)));
        }
        gi = clip_gate(gi, p->clip);
        gf = clip_gate(gf, p->clip);
        gc = clip_gate(gc, p->clip);
        i = rnn_lut_q12(p->lut0, gi);
        f = p->input_forget ? rnn_sat16(32768 - i) : rnn_lut_q12(p->lut0, gf);
        g = rnn_lut_q12(p->lut1, gc);
        cn = rnn_sat16(rnn_rshift_round(f * c[u], 15) + rnn_rshift_round(i * g, 30 - k));
        c[u] = (int16_t)cn;
        if (p->peephole)
        {
            go = rnn_sat16(go + rnn_sat16(rnn_requantize((int32_t)p->peephole[H + u] * cn,
                                                         p->peep_mult, p->peep_shift)));
        }
        o = rnn_lut_q12(p->lut0, clip_gate(go, p->clip));
        c12 = k >= 12 ? rnn_rshift_round(cn, k - 12) : rnn_sat16(cn * (1 << (12 - k)));
        th = rnn_lut_q12(p->lut2, c12);
        h[u] = (int16_t)rnn_sat16(rnn_requantize(o * th, p->out_mult, p->out_shift));
    }
}
