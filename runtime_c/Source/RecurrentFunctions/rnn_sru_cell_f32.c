/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_sru_cell_f32.c
 * Description: SRU cell update (Lei et al. 2018) after the input projection W x:
 *              f = sigmoid(W_f x + v_f c + b_f), r = sigmoid(W_r x + v_r c + b_r),
 *              c = f c + (1 - f) W x, h = r c + (1 - r) x' (x' = x, or W_p x).
 *
 * The elementwise loops: plain C, or on Cortex-M55 Helium four units a pass (the last pass
 * predicated). Each product and sum is rounded on its own in the C's order (no fused
 * multiply-add), so every path gives the same bits for the same activations.
 */


#include "rnn_nnfunctions.h"

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 2)
#include <arm_mve.h>
#define RNN_SRU_MVE 1
#endif

/* Refer to header file for details. */
void rnn_sru_cell_f32(const rnn_sru_params_f32 *p, float *gates, const float *x, float *c,
                      float *h)
{
    const int32_t H = p->hidden;
    const float *hw = p->projection ? gates + 3 * H : x;
    const float *vf = p->v;
    const float *vr = p->v + H;
    float *gf = gates + H;
    float *gr = gates + 2 * H;
    int32_t u;

#if defined(RNN_SRU_MVE)
    for (u = 0; u < H; u += 4)
    {
        const mve_pred16_t m = vctp32q((uint32_t)(H - u));
        const float32x4_t cu = vldrwq_z_f32(c + u, m);
        vstrwq_p_f32(gf + u, vaddq_f32(vldrwq_z_f32(gf + u, m),
                                       vmulq_f32(vldrwq_z_f32(vf + u, m), cu)), m);
        vstrwq_p_f32(gr + u, vaddq_f32(vldrwq_z_f32(gr + u, m),
                                       vmulq_f32(vldrwq_z_f32(vr + u, m), cu)), m);
    }
#else
    for (u = 0; u < H; ++u)
    {
        gf[u] += vf[u] * c[u];
        gr[u] += vr[u] * c[u];
    }
#endif
    rnn_activation_f32(&p->gate, gf, 2 * H);
#if defined(RNN_SRU_MVE)
    for (u = 0; u < H; u += 4)
    {
        const mve_pred16_t m = vctp32q((uint32_t)(H - u));
        const float32x4_t one = vdupq_n_f32(1.0f);
        const float32x4_t f = vldrwq_z_f32(gf + u, m);
        const float32x4_t r = vldrwq_z_f32(gr + u, m);
        const float32x4_t cn = vaddq_f32(vmulq_f32(f, vldrwq_z_f32(c + u, m)),
                                         vmulq_f32(vsubq_f32(one, f), vldrwq_z_f32(gates + u, m)));
        vstrwq_p_f32(c + u, cn, m);
        vstrwq_p_f32(h + u, vaddq_f32(vmulq_f32(r, cn),
                                      vmulq_f32(vsubq_f32(one, r), vldrwq_z_f32(hw + u, m))), m);
    }
#else
    for (u = 0; u < H; ++u)
    {
        const float f = gf[u];
        const float r = gr[u];
        const float cn = f * c[u] + (1.0f - f) * gates[u];
        c[u] = cn;
        h[u] = r * cn + (1.0f - r) * hw[u];
    }
#endif
}
