/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_elementwise_f32.c
 * Description: Elementwise add, subtract, multiply and divide with broadcasting (strides 0).
 */

#include "rnn_nnfunctions.h"

static float apply(rnn_binary_op op, float a, float b)
{
    switch (op)
    {
    case RNN_OP_ADD:
        return a + b;
    case RNN_OP_SUB:
        return a - b;
    case RNN_OP_MUL:
        return a * b;
    default:
        return a / b;
    }
}

/* Refer to header file for details. */
void rnn_elementwise_f32(rnn_binary_op op, int32_t ndim, const int32_t *shape, const float *a,
                         const int32_t *a_strides, const float *b, const int32_t *b_strides,
                         float *y)
{
    int32_t idx[RNN_MAX_DIMS] = {0}; /* index of the current row in the outer dimensions */
    const int32_t last = ndim - 1;
    const int32_t n = shape[last];
    const int32_t sa = a_strides[last];
    const int32_t sb = b_strides[last];
    int32_t d;

    for (;;)
    {
        int32_t oa = 0;
        int32_t ob = 0;
        int32_t k;
        for (d = 0; d < last; ++d)
        {
            oa += idx[d] * a_strides[d];
            ob += idx[d] * b_strides[d];
        }
        for (k = 0; k < n; ++k)
        {
            *y++ = apply(op, a[oa + k * sa], b[ob + k * sb]);
        }
        /* next row of the outer dimensions */
        for (d = last - 1; d >= 0; --d)
        {
            if (++idx[d] < shape[d])
            {
                break;
            }
            idx[d] = 0;
        }
        if (d < 0)
        {
            return;
        }
    }
}
