/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_frame_push.c
 * Description: The window of a streaming convolution or pooling along time: this step's
 *              frame pushed into a shift buffer of the last frames (any element type: the
 *              frames are copied as bytes), and whether the window fires on this step.
 */

#include <string.h>

#include "rnn_nnfunctions.h"

/* Refer to header file for details. */
void rnn_frame_push(int32_t outer, int32_t frames, int32_t frame_bytes, const void *x,
                    void *buf, int32_t start, int32_t stride, int32_t *count)
{
    const unsigned char *src = (const unsigned char *)x;
    unsigned char *dst = (unsigned char *)buf;
    const size_t row = (size_t)frame_bytes;
    const size_t keep = (size_t)(frames - 1) * row;
    int32_t o;
    int32_t n;
    for (o = 0; o < outer; ++o)
    {
        unsigned char *b = dst + (size_t)o * (size_t)frames * row;
        if (keep)
        {
            memmove(b, b + row, keep); /* the oldest frame out */
        }
        memcpy(b + keep, src + (size_t)o * row, row);
    }
    n = count[0] + 1; /* frames since reset, kept below start + stride (no overflow) */
    if (n >= start + stride)
    {
        n -= stride;
    }
    count[0] = n;
    count[1] = n >= start && (n - start) % stride == 0;
}
