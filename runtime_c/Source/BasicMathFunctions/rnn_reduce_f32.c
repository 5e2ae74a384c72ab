/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_reduce_f32.c
 * Description: Sum, mean or maximum along one axis (ONNX ReduceSum / ReduceMean / ReduceMax;
 *              several contiguous axes are one axis of their product).
 */

#include "rnn_nnfunctions.h"

/* Refer to header file for details. */
void rnn_reduce_f32(rnn_reduce_kind kind, int32_t outer, int32_t n, int32_t inner,
                    const float *x, float *y)
{
    int32_t o;
    for (o = 0; o < outer; ++o)
    {
        int32_t i;
        for (i = 0; i < inner; ++i)
        {
            const float *xv = x + o * n * inner + i;
            float acc = xv[0];
            int32_t k;
            if (kind == RNN_REDUCE_MAX)
            {
                for (k = 1; k < n; ++k)
                {
                    const float v = xv[k * inner];
                    acc = (v > acc || v != v) ? v : acc;
                }
            }
            else
            {
                for (k = 1; k < n; ++k)
                {
                    acc += xv[k * inner];
                }
                if (kind == RNN_REDUCE_MEAN)
                {
                    acc = acc / (float)n;
                }
            }
            y[o * inner + i] = acc;
        }
    }
}
