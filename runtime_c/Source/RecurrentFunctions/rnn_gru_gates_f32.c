/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_gru_gates_f32.c
 * Description: GRU update and reset gates (ONNX GRU, gates z, r, h).
 *
 * The sums gx + gh (without clip) and r h run 4 values per pass on Cortex-M55 Helium (the
 * same roundings as the plain C); the clip has a loop of its own.
 */

#include "rnn_nnfunctions.h"

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 2)
#include <arm_mve.h>
#define GRU_GATES_MVE 1
#endif

/* Refer to header file for details. */
void rnn_gru_gates_f32(const rnn_gru_params_f32 *p, float *gx, const float *gh, const float *h,
                       float *rh)
{
    const int32_t n = 2 * p->hidden;
    int32_t k;

    if (p->clip > 0.0f)
    {
        for (k = 0; k < n; ++k)
        {
            const float v = gx[k] + gh[k];
            gx[k] = v < -p->clip ? -p->clip : (v > p->clip ? p->clip : v);
        }
    }
    else
    {
#if defined(GRU_GATES_MVE)
        for (k = 0; k < n; k += 4)
        {
            const mve_pred16_t q = vctp32q((uint32_t)(n - k));
            vstrwq_p_f32(gx + k, vaddq_f32(vldrwq_z_f32(gx + k, q), vldrwq_z_f32(gh + k, q)), q);
        }
#else
        for (k = 0; k < n; ++k)
        {
            gx[k] = gx[k] + gh[k];
        }
#endif
    }
    rnn_activation_f32(&p->f, gx, n);
    if (rh)
    {
        const float *r = gx + p->hidden;
#if defined(GRU_GATES_MVE)
        for (k = 0; k < p->hidden; k += 4)
        {
            const mve_pred16_t q = vctp32q((uint32_t)(p->hidden - k));
            vstrwq_p_f32(rh + k, vmulq_f32(vldrwq_z_f32(r + k, q), vldrwq_z_f32(h + k, q)), q);
        }
#else
        for (k = 0; k < p->hidden; ++k)
        {
            rh[k] = r[k] * h[k];
        }
#endif
    }
}
