/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_mat_vec_kron_f32.c
 * Description: Matrix-vector product with a Kronecker product W = A (x) B, never expanded.
 *
 * Row-major identity: with X = x as [n1, n2], (A (x) B) x = vec(A X B^T) [m1, m2]. The
 * product may be zero-padded (m1 m2 >= rows, n1 n2 >= cols): x is read as zero past cols and
 * only the first `rows` outputs are written. `ax_first` picks the cheaper association:
 * T = A X (m1 n2 (n1 + m2) multiply-adds) or T = X B^T (n1 m2 (n2 + m1)).
 *
 * Both associations split into the same two kinds of work:
 * - B applied to several vectors: Y[i] = B T[i] (ax_first) or T[j] = B X[j]. B is packed at
 *   build time in the row tiles of rnn_mat_vec_f32 (rnngen's pack_dense), and this stage is
 *   rnn_mat_vec_f32 / rnn_mat_mul_f32, the fast dense kernels of every target.
 * - rows combined with A's scalars: T[i] = sum_j A[i][j] X[j] (ax_first) or
 *   Y[i] = bias + sum_j A[i][j] T[j]: `comb` below, vectorised across the row (NEON on
 *   AArch64, Helium on the M55, VLDM + VMLA assembly on Cortex-M4/M7, plain C elsewhere).
 * x's last partial row of n2 (the zero padding) is copied once into a zero-filled buffer in
 * the scratch; rows of X wholly past cols are skipped (they are zero).
 *
 * Rounding: every output of either stage is summed in a fixed order, start (the bias, or
 * 0.0f), then term 0, 1, 2, ..., one multiply-add per term, fused where RNN_MAT_VEC_FUSED is
 * 1 (as in rnn_mat_vec_f32), else a rounded product then a rounded sum (VMLA on Cortex-M is
 * not fused). tests/kernels/test_format_kernels.py models this order exactly.
 *
 * Scratch (floats): the intermediate (m1 n2 or n1 m2), then n2 (x's padded last row), then
 * RNN_MAT_VEC_TILE (the last, partial tile of a padded output block).
 */

#include <math.h>
#include <string.h>

#include "rnn_nnfunctions.h"

#if defined(__ARM_NEON) && defined(__aarch64__)
#include <arm_neon.h>
#define RNN_KRON_NEON 1
#elif defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 2)
#include <arm_mve.h>
#define RNN_KRON_MVE 1
#elif defined(__GNUC__) && defined(__thumb2__) && defined(__ARM_FP) && (__ARM_FP & 4) &&   \
    !defined(__ARM_FEATURE_MVE)
#define RNN_KRON_VMLA 1
#endif


/* out[k] = init[k] (or 0) + sum_{j < count} c[j] r[j stride + k] for k < n, in the order
 * j = 0, 1, ..., one multiply-add per term. init may alias out. */
#if defined(RNN_KRON_NEON)
static void comb(int32_t n, int32_t count, const float *c, const float *r, int32_t stride,
                 const float *init, float *out)
{
    int32_t k = 0;
    int32_t j;
    if (n >= 4)
    {
        /* the last four outputs, done last as one overlapping vector; init read now, before
         * the vectors before it may overwrite it (init aliasing out) */
        const float32x4_t tail0 = init ? vld1q_f32(init + n - 4) : vdupq_n_f32(0.0f);
        for (; k + 8 <= n; k += 8)
        {
            float32x4_t a0 = init ? vld1q_f32(init + k) : vdupq_n_f32(0.0f);
            float32x4_t a1 = init ? vld1q_f32(init + k + 4) : vdupq_n_f32(0.0f);
            const float *rk = r + k;
            for (j = 0; j < count; ++j)
            {
                a0 = vfmaq_n_f32(a0, vld1q_f32(rk), c[j]);
                a1 = vfmaq_n_f32(a1, vld1q_f32(rk + 4), c[j]);
                rk += stride;
            }
            vst1q_f32(out + k, a0);
            vst1q_f32(out + k + 4, a1);
        }
        if (k + 4 <= n)
        {
            float32x4_t a0 = init ? vld1q_f32(init + k) : vdupq_n_f32(0.0f);
            const float *rk = r + k;
            for (j = 0; j < count; ++j)
            {
                a0 = vfmaq_n_f32(a0, vld1q_f32(rk), c[j]);
                rk += stride;
            }
            vst1q_f32(out + k, a0);
            k += 4;
        }
        if (k < n)
        {
            float32x4_t a0 = tail0;
            const float *rk = r + n - 4;
            for (j = 0; j < count; ++j)
            {
                a0 = vfmaq_n_f32(a0, vld1q_f32(rk), c[j]);
                rk += stride;
            }
            vst1q_f32(out + n - 4, a0);
        }
        return;
    }
    for (; k < n; ++k)
    {
        float a0 = init ? init[k] : 0.0f;
        for (j = 0; j < count; ++j)
        {
            a0 = fmaf(c[j], r[j * stride + k], a0);
        }
        out[k] = a0;
    }
}
#elif defined(RNN_KRON_MVE)
/* Helium: four outputs per vector, the last 1..4 predicated; VFMA (fused, one rounding, as
 * rnn_mat_vec_f32 on this target: RNN_MAT_VEC_FUSED) */
static void comb(int32_t n, int32_t count, const float *c, const float *r, int32_t stride,
                 const float *init, float *out)
{
    int32_t k = 0;
    int32_t j;
    for (; k + 8 <= n; k += 8)
    {
        float32x4_t a0 = init ? vldrwq_f32(init + k) : vdupq_n_f32(0.0f);
        float32x4_t a1 = init ? vldrwq_f32(init + k + 4) : vdupq_n_f32(0.0f);
        const float *rk = r + k;
        for (j = 0; j < count; ++j)
        {
            a0 = vfmaq_n_f32(a0, vldrwq_f32(rk), c[j]);
            a1 = vfmaq_n_f32(a1, vldrwq_f32(rk + 4), c[j]);
            rk += stride;
        }
        vstrwq_f32(out + k, a0);
        vstrwq_f32(out + k + 4, a1);
    }
    for (; k < n; k += 4)
    {
        const mve_pred16_t p = vctp32q((uint32_t)(n - k));
        float32x4_t a0 = init ? vldrwq_z_f32(init + k, p) : vdupq_n_f32(0.0f);
        const float *rk = r + k;
        for (j = 0; j < count; ++j)
        {
            a0 = vfmaq_n_f32(a0, vldrwq_z_f32(rk, p), c[j]);
            rk += stride;
        }
        vstrwq_p_f32(out + k, a0, p);
    }
}
#else
#if defined(RNN_KRON_VMLA)
/* Cortex-M4/M7: eight outputs in s0-s7, eight values of a row per VLDM (s8-s15), VMLA by
 * c[j] (s16): not fused, so bit for bit the plain C sum (see rnn_mat_vec_f32). */
static const float rnn_kron_zeros8[8];

static void comb8(int32_t count, const float *c, const float *r, int32_t stride,
                  const float *init, float *out)
{
    const float *b = init ? init : rnn_kron_zeros8;
    const int32_t step = stride * (int32_t)sizeof(float);
    __asm__ volatile(
        "vldmia %[b], {s0-s7}\n\t"
        "cmp %[n], #0\n\t"
        "beq 2f\n"
        "1:\n\t"
        "vldmia %[c]!, {s16}\n\t"
        "vldmia %[r], {s8-s15}\n\t"
        "add %[r], %[r], %[st]\n\t"
        "vmla.f32 s0, s8, s16\n\t"
        "vmla.f32 s1, s9, s16\n\t"
        "vmla.f32 s2, s10, s16\n\t"
        "vmla.f32 s3, s11, s16\n\t"
        "vmla.f32 s4, s12, s16\n\t"
        "vmla.f32 s5, s13, s16\n\t"
        "vmla.f32 s6, s14, s16\n\t"
        "vmla.f32 s7, s15, s16\n\t"
        "subs %[n], %[n], #1\n\t"
        "bne 1b\n"
        "2:\n\t"
        "vstmia %[o], {s0-s7}\n\t"
        : [c] "+r"(c), [r] "+r"(r), [n] "+r"(count)
        : [b] "r"(b), [o] "r"(out), [st] "r"(step)
        : "s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "s12",
          "s13", "s14", "s15", "s16", "cc", "memory");
}
#endif

static void comb(int32_t n, int32_t count, const float *c, const float *r, int32_t stride,
                 const float *init, float *out)
{
    int32_t k = 0;
    int32_t j;
#if defined(RNN_KRON_VMLA)
    if (n >= 8)
    {
        /* the last eight outputs as one overlapping block, done last from init saved now
         * (init may alias out) */
        float tail[8];
        if (init)
        {
            memcpy(tail, init + n - 8, sizeof tail);
        }
        for (; k + 8 <= n; k += 8)
        {
            comb8(count, c, r + k, stride, init ? init + k : 0, out + k);
        }
        if (k < n)
        {
            comb8(count, c, r + n - 8, stride, init ? tail : 0, out + n - 8);
        }
        return;
    }
#endif
    for (; k + 4 <= n; k += 4)
    {
        float a0 = init ? init[k] : 0.0f;
        float a1 = init ? init[k + 1] : 0.0f;
        float a2 = init ? init[k + 2] : 0.0f;
        float a3 = init ? init[k + 3] : 0.0f;
        const float *rk = r + k;
        for (j = 0; j < count; ++j)
        {
            const float cj = c[j];
            a0 = RNN_MADD_F32(a0, cj, rk[0]);
            a1 = RNN_MADD_F32(a1, cj, rk[1]);
            a2 = RNN_MADD_F32(a2, cj, rk[2]);
            a3 = RNN_MADD_F32(a3, cj, rk[3]);
            rk += stride;
        }
        out[k] = a0;
        out[k + 1] = a1;
        out[k + 2] = a2;
        out[k + 3] = a3;
    }
    for (; k < n; ++k)
    {
        float a0 = init ? init[k] : 0.0f;
        for (j = 0; j < count; ++j)
        {
            a0 = RNN_MADD_F32(a0, c[j], r[j * stride + k]);
        }
        out[k] = a0;
    }
}
#endif

/* y[0 .. n) = bias + B t for the first n <= m2 rows of the packed B (rows past the last
 * full tile go through a tile's worth of scratch `tmp`) */
static void b_rows(int32_t n, int32_t m2, int32_t n2, const float *b, const float *bias,
                   const float *t, float *tmp, float *y)
{
    const int32_t full = n - n % RNN_MAT_VEC_TILE;
    if (n == m2)
    {
        rnn_mat_vec_f32(m2, n2, b, bias, t, y);
        return;
    }
    if (full > 0)
    {
        rnn_mat_vec_f32(full, n2, b, bias, t, y); /* whole tiles: a prefix of the packing */
    }
    if (full < n)
    {
        /* the tile (or last rows) holding rows full .. n - 1, computed whole into tmp */
        const int32_t left = m2 - full < RNN_MAT_VEC_TILE ? m2 - full : RNN_MAT_VEC_TILE;
        int32_t k;
        for (k = 0; k < left; ++k)
        {
            tmp[k] = bias && k < n - full ? bias[full + k] : 0.0f;
        }
        rnn_mat_vec_f32(left, n2, b + (int32_t)full * n2, bias ? tmp : 0, t, tmp);
        for (k = 0; k < n - full; ++k)
        {
            y[full + k] = tmp[k];
        }
    }
}

/* Refer to header file for details. */
void rnn_mat_vec_kron_f32(float *ctx, int32_t rows, int32_t cols, int32_t m1, int32_t n1,
                          int32_t m2, int32_t n2, int32_t ax_first, const float *a,
                          const float *b, const float *bias, const float *x, float *y)
{
    /* rows of X: `full` whole ones in x, then one partial (zero-padded) if cols % n2 */
    const int32_t full = cols / n2;
    const int32_t part = cols - full * n2;
    float *t = ctx;
    float *last = ctx + (ax_first ? m1 * n2 : n1 * m2);
    float *tmp = last + n2;
    int32_t i;

    if (part)
    {
        memcpy(last, x + (int32_t)full * n2, (size_t)part * sizeof(float));
        memset(last + part, 0, (size_t)(n2 - part) * sizeof(float));
    }
    if (ax_first)
    {
        /* T[i] = sum_j A[i][j] X[j], then Y[i] = bias + B T[i]; only blocks with outputs */
        for (i = 0; i < m1 && i * m2 < rows; ++i)
        {
            const float *ai = a + (int32_t)i * n1;
            float *ti = t + (int32_t)i * n2;
            const int32_t n = rows - i * m2 < m2 ? rows - i * m2 : m2;
            if (full > 0)
            {
                comb(n2, full, ai, x, n2, 0, ti);
            }
            if (part)
            {
                comb(n2, 1, ai + full, last, n2, full > 0 ? ti : 0, ti);
            }
            b_rows(n, m2, n2, b, bias ? bias + (int32_t)i * m2 : 0, ti, tmp,
                   y + (int32_t)i * m2);
        }
    }
    else
    {
        /* T[j] = B X[j] for the rows of X inside cols, then Y[i] = bias + sum_j A[i][j] T[j] */
        const int32_t nj = full + (part ? 1 : 0);
        if (full > 0)
        {
            rnn_mat_mul_f32(m2, n2, b, 0, full, x, t);
        }
        if (part)
        {
            rnn_mat_vec_f32(m2, n2, b, 0, last, t + (int32_t)full * m2);
        }
        for (i = 0; i < m1 && i * m2 < rows; ++i)
        {
            const int32_t n = rows - i * m2 < m2 ? rows - i * m2 : m2;
            comb(n, nj, a + (int32_t)i * n1, t, m2, bias ? bias + (int32_t)i * m2 : 0,
                 y + (int32_t)i * m2);
        }
    }
}
