/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_gru_cell_f32.c
 * Description: GRU hidden state update, after rnn_gru_gates_f32.
 *
 * Elementwise loops: plain C, or on Cortex-M55 Helium 4 units per pass (last pass
 * predicated). Both round the same way (every product and sum rounded on its own: no fused
 * multiply-add), so every target gives the same bits for the same activations.
 */

#include "rnn_nnfunctions.h"

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 2)
#include <arm_mve.h>

/* n = xh + r hh (linear_before_reset) or xh + hh */
static void candidate(int32_t m, int32_t lbr, const float *xh, const float *r, const float *hh,
                      float *n)
{
    int32_t k;
    for (k = 0; k < m; k += 4)
    {
        const mve_pred16_t q = vctp32q((uint32_t)(m - k));
        float32x4_t v = vldrwq_z_f32(hh + k, q);
        if (lbr)
        {
            v = vmulq_f32(vldrwq_z_f32(r + k, q), v);
        }
        vstrwq_p_f32(n + k, vaddq_f32(vldrwq_z_f32(xh + k, q), v), q);
    }
}

/* h = (1 - z) n + z h */
static void blend(int32_t m, const float *z, const float *n, float *h)
{
    int32_t k;
    for (k = 0; k < m; k += 4)
    {
        const mve_pred16_t q = vctp32q((uint32_t)(m - k));
        const float32x4_t zk = vldrwq_z_f32(z + k, q);
        const float32x4_t a = vmulq_f32(vsubq_f32(vdupq_n_f32(1.0f), zk), vldrwq_z_f32(n + k, q));
        vstrwq_p_f32(h + k, vaddq_f32(a, vmulq_f32(zk, vldrwq_z_f32(h + k, q))), q);
    }
}
#else
static void candidate(int32_t m, int32_t lbr, const float *xh, const float *r, const float *hh,
                      float *n)
{
    int32_t k;
    if (lbr)
    {
        for (k = 0; k < m; ++k)
        {
            n[k] = xh[k] + r[k] * hh[k];
        }
    }
    else
    {
        for (k = 0; k < m; ++k)
        {
            n[k] = xh[k] + hh[k];
        }
    }
}

static void blend(int32_t m, const float *z, const float *n, float *h)
{
    int32_t k;
    for (k = 0; k < m; ++k)
    {
        h[k] = (1.0f - z[k]) * n[k] + z[k] * h[k];
    }
}
#endif

/* Refer to header file for details. */
void rnn_gru_cell_f32(const rnn_gru_params_f32 *p, const float *gx, const float *gh, float *h)
{
    const int32_t H = p->hidden;
    const float *z = gx;
    const float *r = gx + H;
    const float *xh = gx + 2 * H;
    const float *hh = gh + 2 * H;
    float n[RNN_MAT_VEC_TILE];
    int32_t k0;
    int32_t k;

    /* candidate state in chunks, so the scratch stays a few registers wide */
    for (k0 = 0; k0 < H; k0 += RNN_MAT_VEC_TILE)
    {
        const int32_t m = (H - k0) < RNN_MAT_VEC_TILE ? (H - k0) : RNN_MAT_VEC_TILE;
        candidate(m, p->linear_before_reset, xh + k0, r + k0, hh + k0, n);
        if (p->clip > 0.0f)
        {
            for (k = 0; k < m; ++k)
            {
                n[k] = n[k] < -p->clip ? -p->clip : (n[k] > p->clip ? p->clip : n[k]);
            }
        }
        rnn_activation_f32(&p->g, n, m);
        blend(m, z + k0, n, h + k0);
    }
}
