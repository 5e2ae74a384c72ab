/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_elementwise_f32.c
 * Description: Elementwise add, subtract, multiply and divide with broadcasting (strides 0).
 */

#include "rnn_nnfunctions.h"
#include "rnn_nn_support.h"

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

    do
    {
        int32_t oa;
        int32_t ob;
        int32_t k;
        rnn_row_offsets(last, idx, a_strides, b_strides, &oa, &ob);
        for (k = 0; k < n; ++k)
        {
            *y++ = apply(op, a[oa + k * sa], b[ob + k * sb]);
        }
    } while (rnn_next_row(last, shape, idx));
}
