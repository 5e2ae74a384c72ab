/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_copy_strided_f32.c
 * Description: Copy between strided views (Transpose, Slice, Gather, Concat).
 */

#include "rnn_nnfunctions.h"
#include "rnn_nn_support.h"

/* Refer to header file for details. */
void rnn_copy_strided_f32(int32_t ndim, const int32_t *shape, const float *src,
                          const int32_t *src_strides, float *dst, const int32_t *dst_strides)
{
    int32_t idx[RNN_MAX_DIMS] = {0}; /* index of the current row in the outer dimensions */
    const int32_t last = ndim - 1;
    const int32_t n = shape[last];
    const int32_t ss = src_strides[last];
    const int32_t ds = dst_strides[last];

    do
    {
        int32_t os;
        int32_t od;
        int32_t k;
        rnn_row_offsets(last, idx, src_strides, dst_strides, &os, &od);
        for (k = 0; k < n; ++k)
        {
            dst[od + k * ds] = src[os + k * ss];
        }
    } while (rnn_next_row(last, shape, idx));
}
