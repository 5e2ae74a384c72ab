/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_copy_strided_s8.c
 * Description: Copy between strided views of int8 tensors (Transpose, Slice, Gather, Concat).
 */

#include "rnn_nnfunctions.h"
#include "rnn_nn_support.h"

/* Refer to header file for details. */
void rnn_copy_strided_s8(int32_t ndim, const int32_t *shape, const int8_t *src,
                         const int32_t *src_strides, int8_t *dst, const int32_t *dst_strides)
{
    int32_t idx[RNN_MAX_DIMS] = {0}; /* index of the current row in the outer dimensions */
    const int32_t last = ndim - 1;

    do
    {
        int32_t os;
        int32_t od;
        int32_t k;
        rnn_row_offsets(last, idx, src_strides, dst_strides, &os, &od);
        for (k = 0; k < shape[last]; ++k)
        {
            dst[od + k * dst_strides[last]] = src[os + k * src_strides[last]];
        }
    } while (rnn_next_row(last, shape, idx));
}
