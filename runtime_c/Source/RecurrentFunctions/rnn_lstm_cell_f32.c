/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_lstm_cell_f32.c
 * Description: LSTM cell update (ONNX LSTM: gates i, o, f, c; peepholes; clip; input_forget).
 *
 * The cell state update and h = o * h_act(c) are elementwise loops: plain C, or on Cortex-M55
 * Helium 4 units per pass (last pass predicated). Both round the same way (f c and i g each
 * rounded, then their sum: no fused multiply-add), so every target gives the same bits for
 * the same activations.
 */

#include "rnn_nnfunctions.h"

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 2)
#include <arm_mve.h>

/* c = f c + i g, written to c and to t (t may be i: each unit is read before it is written) */
static void cell_update(int32_t H, const float *gi, const float *gf, const float *gc, float *c,
                        float *t)
{
    int32_t k;
    for (k = 0; k < H; k += 4)
    {
        const mve_pred16_t m = vctp32q((uint32_t)(H - k));
        const float32x4_t cn = vaddq_f32(
            vmulq_f32(vldrwq_z_f32(gf + k, m), vldrwq_z_f32(c + k, m)),
            vmulq_f32(vldrwq_z_f32(gi + k, m), vldrwq_z_f32(gc + k, m)));
        vstrwq_p_f32(c + k, cn, m);
        vstrwq_p_f32(t + k, cn, m);
    }
}

/* y = a b */
static void mul_f32(int32_t H, const float *a, const float *b, float *y)
{
    int32_t k;
    for (k = 0; k < H; k += 4)
    {
        const mve_pred16_t m = vctp32q((uint32_t)(H - k));
        vstrwq_p_f32(y + k, vmulq_f32(vldrwq_z_f32(a + k, m), vldrwq_z_f32(b + k, m)), m);
    }
}
#else
static void cell_update(int32_t H, const float *gi, const float *gf, const float *gc, float *c,
                        float *t)
{
    int32_t k;
    for (k = 0; k < H; ++k)
    {
        const float cn = gf[k] * c[k] + gi[k] * gc[k];
        c[k] = cn;
        t[k] = cn;
    }
}

static void mul_f32(int32_t H, const float *a, const float *b, float *y)
{
    int32_t k;
    for (k = 0; k < H; ++k)
    {
        y[k] = a[k] * b[k];
    }
}
#endif

static void clip_f32(float *v, int32_t n, float clip)
{
    int32_t k;
    for (k = 0; k < n; ++k)
    {
        v[k] = v[k] < -clip ? -clip : (v[k] > clip ? clip : v[k]);
    }
}

/* Refer to header file for details. */
void rnn_lstm_cell_f32(const rnn_lstm_params_f32 *p, float *gates, float *c, float *h)
{
    const int32_t H = p->hidden;
    float *gi = gates;
    float *go = gates + H;
    float *gf = gates + 2 * H;
    float *gc = gates + 3 * H;
    int32_t k;

    if (!p->peephole && !p->input_forget)
    {
        /* the usual cell: i, o and f are adjacent and take the same activation, so one call
         * over 3H (fewer calls and vector tails; elementwise, so the same values) */
        if (p->clip > 0.0f)
        {
            clip_f32(gates, 4 * H, p->clip);
        }
        rnn_activation_f32(&p->f, gates, 3 * H);
        rnn_activation_f32(&p->g, gc, H);
        cell_update(H, gi, gf, gc, c, gi);
        rnn_activation_f32(&p->h, gi, H);
        mul_f32(H, go, gi, h);
        return;
    }
    if (p->peephole)
    {
        for (k = 0; k < H; ++k)
        {
            gi[k] += p->peephole[k] * c[k];
            gf[k] += p->peephole[2 * H + k] * c[k];
        }
    }
    if (p->clip > 0.0f)
    {
        clip_f32(gi, H, p->clip);
        clip_f32(gf, H, p->clip);
        clip_f32(gc, H, p->clip);
    }
    rnn_activation_f32(&p->f, gi, H);
    if (p->input_forget)
    {
        for (k = 0; k < H; ++k)
        {
            gf[k] = 1.0f - gi[k];
        }
    }
    else
    {
        rnn_activation_f32(&p->f, gf, H);
    }
    rnn_activation_f32(&p->g, gc, H);
    /* the new c, and a copy of it in the input-gate slot for h_act(c) */
    cell_update(H, gi, gf, gc, c, gi);
    if (p->peephole)
    {
        for (k = 0; k < H; ++k)
        {
            go[k] += p->peephole[H + k] * c[k];
        }
    }
    if (p->clip > 0.0f)
    {
        clip_f32(go, H, p->clip);
    }
    rnn_activation_f32(&p->f, go, H);
    rnn_activation_f32(&p->h, gi, H);
    mul_f32(H, go, gi, h);
}
