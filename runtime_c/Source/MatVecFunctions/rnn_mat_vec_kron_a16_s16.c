/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_mat_vec_kron_a16_s16.c
 * Description: Kronecker-product product (A (x) B) x with an int16 x (--precision w8a16 /
 *              w4a16 activations: symmetric, zero point 0) and int8 factors: the first stage
 *              (A X with ax_first, else X B^T) reads x as int16, each sum requantized to the
 *              int8 intermediate t; the second stage is the int8 kernel's own
 *              (rnn_mat_vec_kron_s8_t_s16: B T[i] or A T, int8 t, int32 sums, its ISA paths),
 *              so t keeps its int8 type and scale.
 *
 * int32 or int64 sums by dense w8a16's bound rule (docs/int8.md, "int16 activations in
 * kron"): the first stage's factor (A with ax_first, else B) proves sum |row| 32768 < 2^31
 * for every row (quant.a16_fits_int32 at build time; its values 16-fold for int4, as
 * rnn_mat_vec_kron_a16_s4_s16 passes them): int32 sums and rnn_requantize (the usual shift
 * through the high word, as the int8 kernel); else m->acc64 and int64 sums with
 * rnn_requantize_s64 (quant.rq64). The first stage's sums are short (n1 or n2 terms, about
 * the square root of cols), so every factorisation rnngen's compressor makes stays int32;
 * the int64 path is there for any factor a file may hold. quant's QKron.forward does the same
 * integer arithmetic, so the C equals it bit for bit. x past cols (the zero padding of the
 * product) is real zero, i.e. not read. Plain C, and on Helium (Cortex-M55) the int32 A X
 * first stage with the usual requantization (a_cols_mve: four columns of X a pass, widening
 * predicated loads of x and VMLA by A's scalars, VQDMULH + VRSHL + clamp, a predicated byte
 * store), on the DSP extension (Cortex-M4/M7) two columns a pass (a word of two int16 x,
 * SMLABB / SMLATB by A's scalars, SMMLA + ASR + SSAT: a_cols_dsp); the rest plain C.
 *
 * Scratch (bytes, see kron.py _scratch_s8): with ax_first the int8 t [m1 n2] first, then the
 * scratch of rnn_mat_vec_kron_s8_s16; else that scratch alone (t is its [n1 m2] intermediate).
 */

#include <stdint.h>

#include "rnn_nnfunctions.h"
#include "rnn_nn_support.h"

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
#include <arm_mve.h>
#define RNN_KRON_A16_MVE 1
#elif defined(__ARM_FEATURE_DSP) && defined(__ARM_FEATURE_SIMD32) && defined(__GNUC__)
#include <arm_acle.h>
#include <string.h>
#define RNN_KRON_A16_DSP 1
#endif

/* sat8(rnn_requantize(acc, mult, shift)), the usual shift (<= -2) through the high word of the
 * 64-bit product and one rounding shift (the identity rnn_mat_vec_s8_s16.c documents) */
static inline int8_t a16_rq8(int32_t acc, int32_t mult, int32_t shift)
{
    if (shift <= -2)
    {
        const int32_t hi = (int32_t)(((int64_t)acc * (int64_t)mult) >> 32);
        return (int8_t)rnn_sat8(((hi >> (-2 - shift)) + 1) >> 1);
    }
    return (int8_t)rnn_sat8(rnn_requantize(acc, mult, shift));
}

#if defined(RNN_KRON_A16_MVE)
/* t[k] = sat8(rq(a . X[:, k])) for k < n2 (X = x as rows of n2, x past cols not read), int32
 * sums, shift in [-31, -2]: there rq = VQDMULH then VRSHL by shift (the identity
 * rnn_mat_vec_kron_s8_s16.c's KRON_VEC_RQ documents; mult is in [2^30, 2^31)). Four columns
 * a pass: per whole row of X a predicated widening load (VLDRH.S32, lanes past n2 zero) and
 * a VMLA by a[j], the partial row's columns k < part likewise. */
static void a_cols_mve(const int8_t *a, int32_t n2, int32_t full, int32_t part,
                       const int16_t *x, int32_t mult, int32_t shift, int8_t *t)
{
    int32_t k0, j;
    for (k0 = 0; k0 < n2; k0 += 4)
    {
        const mve_pred16_t p = vctp32q((uint32_t)(n2 - k0));
        const int16_t *xk = x + k0;
        int32x4_t s = vdupq_n_s32(0);
        int32x4_t d;
        for (j = 0; j < full; ++j, xk += n2)
        {
            s = vmlaq_n_s32(s, vldrhq_z_s32(xk, p), (int32_t)a[j]);
        }
        if (part > k0)
        {
            s = vmlaq_n_s32(s, vldrhq_z_s32(xk, vctp32q((uint32_t)(part - k0))),
                            (int32_t)a[full]);
        }
        d = vrshlq_n_s32(vqdmulhq_n_s32(s, mult), shift);
        vstrbq_p_s32(t + k0, vmaxq_s32(vminq_s32(d, vdupq_n_s32(127)), vdupq_n_s32(-128)), p);
    }
}
#endif

#if defined(RNN_KRON_A16_DSP)
/* Ra + the high word of Rn Rm (SMMLA: floor((Ra 2^32 + Rn Rm) / 2^32), exact) */
static inline int32_t a16_smmla(int32_t a, int32_t b, int32_t c)
{
    int32_t r;
    __asm__("smmla %0, %1, %2, %3" : "=r"(r) : "r"(a), "r"(b), "r"(c));
    return r;
}

/* t[k] = sat8(rq(a . X[:, k])) for k < n2 as a_cols_mve, on the DSP extension (Cortex-M4/M7):
 * two columns a pass, per whole row of X one word load of x[k0], x[k0 + 1] (inside the row)
 * and SMLABB / SMLATB by a[j]; the partial row's columns k < part and an odd last column in
 * plain C; the usual requantization (shift in [-31, -2]) as SMMLA + ASR + SSAT: with
 * s = -2 - shift, ((hi >> s) + 1) >> 1 = (hi + 2^s) >> (s + 1), hi + 2^s one SMMLA (the
 * identity rnn_mat_vec_kron_s8_s16.c's KRON_DSP_RQ documents). */
static void a_cols_dsp(const int8_t *a, int32_t n2, int32_t full, int32_t part,
                       const int16_t *x, int32_t mult, int32_t shift, int8_t *t)
{
    const int32_t rnd = (int32_t)1 << (-2 - shift), sr = -1 - shift;
    int32_t k0, j;
    for (k0 = 0; k0 < n2; k0 += 2)
    {
        const int16_t *xk = x + k0;
        int32_t s0 = 0;
        if (k0 + 1 < n2)
        {
            int32_t s1 = 0;
            for (j = 0; j < full; ++j, xk += n2)
            {
                int32_t w;
                memcpy(&w, xk, sizeof w); /* one LDR: unaligned loads are allowed here */
                s0 = __smlabb(w, (int32_t)a[j], s0);
                s1 = __smlatb(w, (int32_t)a[j], s1);
            }
            if (k0 + 1 < part)
            {
                s1 += (int32_t)a[full] * (int32_t)xk[1];
            }
            t[k0 + 1] = (int8_t)(int32_t)__builtin_arm_ssat(a16_smmla(s1, mult, rnd) >> sr, 8);
        }
        else
        {
            for (j = 0; j < full; ++j, xk += n2)
            {
                s0 += (int32_t)a[j] * (int32_t)*xk;
            }
        }
        if (k0 < part)
        {
            s0 += (int32_t)a[full] * (int32_t)xk[0];
        }
        t[k0] = (int8_t)(int32_t)__builtin_arm_ssat(a16_smmla(s0, mult, rnd) >> sr, 8);
    }
}
#endif

/* Refer to header file for details. */
void rnn_mat_vec_kron_a16_s16(int8_t *ctx, const rnn_kron_s8 *m, const int16_t *x, int16_t *y)
{
    const int32_t m1 = m->m1, n1 = m->n1, m2 = m->m2, n2 = m->n2;
    const int32_t rows = m->rows, cols = m->cols;
    const int32_t full = cols / n2; /* whole rows of X inside x */
    const int32_t part = cols - full * n2;
    const int32_t tm = m->t_mult, ts = m->t_shift;
    int8_t *t = ctx;
    int32_t j, k;

    if (m->ax_first)
    {
        /* T[i][k] = sat8(rq(A[i] . X[:, k])) [m1, n2] for the rows whose outputs exist */
        int32_t i;
        for (i = 0; i < m1 && i * m2 < rows; ++i)
        {
            const int8_t *ai = m->a + i * n1;
#if defined(RNN_KRON_A16_MVE)
            if (!m->acc64 && ts <= -2 && ts >= -31)
            {
                a_cols_mve(ai, n2, full, part, x, tm, ts, t + i * n2);
                continue;
            }
#elif defined(RNN_KRON_A16_DSP)
            if (!m->acc64 && ts <= -2 && ts >= -31)
            {
                a_cols_dsp(ai, n2, full, part, x, tm, ts, t + i * n2);
                continue;
            }
#endif
            for (k = 0; k < n2; ++k)
            {
                const int32_t nj = k < part ? full + 1 : full;
                const int16_t *xk = x + k;
                if (m->acc64)
                {
                    int64_t s = 0;
                    for (j = 0; j < nj; ++j, xk += n2)
                    {
                        s += (int32_t)ai[j] * (int32_t)*xk; /* |product| < 2^22 */
                    }
                    t[i * n2 + k] = (int8_t)rnn_sat8(rnn_requantize_s64(s, tm, ts));
                }
                else
                {
                    int32_t s = 0;
                    for (j = 0; j < nj; ++j, xk += n2)
                    {
                        s += (int32_t)ai[j] * (int32_t)*xk;
                    }
                    t[i * n2 + k] = a16_rq8(s, tm, ts);
                }
            }
        }
        rnn_mat_vec_kron_s8_t_s16(ctx + m1 * n2, m, t, y);
    }
    else
    {
        /* T[j][l] = sat8(rq(B[l] . X[j])) [n1, m2] for the rows of X inside cols */
        const int32_t nj = full + (part ? 1 : 0);
        const int32_t ld = RNN_S8_STRIDE(n2);
        int32_t l;
        for (j = 0; j < nj; ++j)
        {
            const int32_t valid = j == full ? part : n2;
            const int16_t *xj = x + j * n2;
            for (l = 0; l < m2; ++l)
            {
                const int8_t *bl = m->b + l * ld;
                if (m->acc64)
                {
                    int64_t s = 0;
                    for (k = 0; k < valid; ++k)
                    {
                        s += (int32_t)bl[k] * (int32_t)xj[k];
                    }
                    t[j * m2 + l] = (int8_t)rnn_sat8(rnn_requantize_s64(s, tm, ts));
                }
                else
                {
                    int32_t s = 0;
                    for (k = 0; k < valid; ++k)
                    {
                        s += (int32_t)bl[k] * (int32_t)xj[k];
                    }
                    t[j * m2 + l] = a16_rq8(s, tm, ts);
                }
            }
        }
        rnn_mat_vec_kron_s8_t_s16(ctx, m, t, y);
    }
}
