/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_lstm_cell_f32.c
 * Description: LSTM cell update (ONNX LSTM: gates i, o, f, c; peepholes; clip; input_forget).
 */

#include "rnn_nnfunctions.h"

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
    for (k = 0; k < H; ++k)
    {
        c[k] = gf[k] * c[k] + gi[k] * gc[k];
    }
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
    /* h = o * h_act(c): the activation runs on a copy of c in the input-gate slot */
    for (k = 0; k < H; ++k)
    {
        gi[k] = c[k];
    }
    rnn_activation_f32(&p->h, gi, H);
    for (k = 0; k < H; ++k)
    {
        h[k] = go[k] * gi[k];
    }
}
