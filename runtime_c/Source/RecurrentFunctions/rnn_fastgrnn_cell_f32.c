/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_fastgrnn_cell_f32.c
 * Description: FastGRNN update (Kusupati et al., Microsoft EdgeML): with p = W x + U h,
 *              z = gate(p + b_g), h~ = act(p + b_h),
 *              h = z h + (sigmoid(zeta) (1 - z) + sigmoid(nu)) h~.
 *
 * The two elementwise loops: plain C with the parameters read into locals once (h and pre
 * are floats, so a store through them could alias p->s1 and p->s2: GCC reloaded them every
 * unit), or on Cortex-M55 Helium four units a pass (the last pass predicated). Each product
 * and sum is rounded on its own in the C's order (no fused multiply-add), so every path
 * gives the same bits for the same activations.
 */

#include "rnn_nnfunctions.h"

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 2)
#include <arm_mve.h>
#define RNN_FASTGRNN_MVE 1
#endif

/* Refer to header file for details. */
void rnn_fastgrnn_cell_f32(const rnn_fast_params_f32 *p, float *pre, float *z, float *h)
{
    const int32_t H = p->hidden;
    const float *bg = p->bias_gate;
    const float *bu = p->bias_update;
    const float s1 = p->s1;
    const float s2 = p->s2;
    int32_t k;

#if defined(RNN_FASTGRNN_MVE)
    for (k = 0; k < H; k += 4)
    {
        const mve_pred16_t m = vctp32q((uint32_t)(H - k));
        const float32x4_t v = vldrwq_z_f32(pre + k, m);
        vstrwq_p_f32(z + k, vaddq_f32(v, vldrwq_z_f32(bg + k, m)), m);
        vstrwq_p_f32(pre + k, vaddq_f32(v, vldrwq_z_f32(bu + k, m)), m);
    }
#else
    for (k = 0; k < H; ++k)
    {
        z[k] = pre[k] + bg[k];
        pre[k] = pre[k] + bu[k];
    }
#endif
    rnn_activation_f32(&p->gate, z, H);
    rnn_activation_f32(&p->update, pre, H);
#if defined(RNN_FASTGRNN_MVE)
    for (k = 0; k < H; k += 4)
    {
        const mve_pred16_t m = vctp32q((uint32_t)(H - k));
        const float32x4_t zk = vldrwq_z_f32(z + k, m);
        /* s1 (1 - z) + s2, then times h~ */
        const float32x4_t w = vmulq_f32(
            vaddq_n_f32(vmulq_n_f32(vsubq_f32(vdupq_n_f32(1.0f), zk), s1), s2),
            vldrwq_z_f32(pre + k, m));
        vstrwq_p_f32(h + k, vaddq_f32(vmulq_f32(zk, vldrwq_z_f32(h + k, m)), w), m);
    }
#else
    for (k = 0; k < H; ++k)
    {
        h[k] = z[k] * h[k] + (s1 * (1.0f - z[k]) + s2) * pre[k];
    }
#endif
}
