/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_nnfunctions.h
 * Description: Public API of the rnngen runtime kernels. One public function per source file;
 *              no heap, no I/O, no global state. All float kernels are plain C99.
 */

#ifndef RNN_NNFUNCTIONS_H
#define RNN_NNFUNCTIONS_H

#include "rnn_nn_types.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * @brief Dense matrix times vector, float: y = bias + W x.
 *
 * @param[in]  rows  m, rows of W
 * @param[in]  cols  n, columns of W
 * @param[in]  w     W packed in row tiles: for each full tile of RNN_MAT_VEC_TILE rows,
 *                   Format: [cols, RNN_MAT_VEC_TILE] (column j of the tile is contiguous);
 *                   then the remaining rows r, Format: [cols, r]. rnngen packs at compile time.
 * @param[in]  bias  [rows] added to the product, or NULL. May alias y (accumulate: y += W x).
 * @param[in]  x     [cols] input vector; must not alias y
 * @param[out] y     [rows] result
 */
void rnn_mat_vec_f32(int32_t rows, int32_t cols, const float *w, const float *bias,
                     const float *x, float *y);

/**
 * @brief The same packed matrix applied to `count` vectors: y[k] = bias + W x[k].
 *
 * @param[in]  rows   m, rows of W
 * @param[in]  cols   n, columns of W
 * @param[in]  w      W packed as for rnn_mat_vec_f32
 * @param[in]  bias   [rows] or NULL
 * @param[in]  count  number of vectors
 * @param[in]  x      Format: [count, cols]
 * @param[out] y      Format: [count, rows]; must not overlap x
 */
void rnn_mat_mul_f32(int32_t rows, int32_t cols, const float *w, const float *bias,
                     int32_t count, const float *x, float *y);

/**
 * @brief HMD (variant D1) matrix times vector: y = bias + W x, W = [A' ; [B C | D E]].
 *
 * @param[in]  rows  m
 * @param[in]  cols  n
 * @param[in]  r     dense rows at the top (0..m)
 * @param[in]  a     A', Format: [r, cols], packed as for rnn_mat_vec_f32
 * @param[in]  b     B [rows - r]
 * @param[in]  c     C [ceil(cols / 2)], multiplies x[0 : ceil(cols / 2)]
 * @param[in]  d     D [rows - r]
 * @param[in]  e     E [floor(cols / 2)], multiplies the rest of x
 * @param[in]  bias  [rows] or NULL; may alias y
 * @param[in]  x     [cols]
 * @param[out] y     [rows]
 */
void rnn_mat_vec_hmd_f32(int32_t rows, int32_t cols, int32_t r, const float *a, const float *b,
                         const float *c, const float *d, const float *e, const float *bias,
                         const float *x, float *y);

/** Entries per step of the CSR kernels: every row of their matrices holds a multiple of this
 *  many entries (rnngen pads rows with zero values at build time, csr.py pad_rows). */
#define RNN_CSR_GROUP 4

/**
 * @brief Sparse (CSR) matrix times vector: y = bias + W x.
 *        Row sums: four partial sums (entry k of a row to sum k mod 4), then
 *        bias + ((a0 + a1) + (a2 + a3)); fused multiply-adds where fmaf is one instruction.
 *
 * @param[in]  rows     m
 * @param[in]  values   [nnz] the kept weights, row by row, each row padded with zero values
 *                      to a multiple of RNN_CSR_GROUP entries
 * @param[in]  col_idx  [nnz] their columns, ascending within a row (< 65536; a padding
 *                      entry repeats the row's last column)
 * @param[in]  row_ptr  [rows + 1] row i holds entries row_ptr[i] .. row_ptr[i + 1] - 1;
 *                      every difference a multiple of RNN_CSR_GROUP
 * @param[in]  bias     [rows] or NULL; may alias y
 * @param[in]  x        input vector
 * @param[out] y        [rows]
 */
void rnn_mat_vec_csr_f32(int32_t rows, const float *values, const uint16_t *col_idx,
                         const int32_t *row_ptr, const float *bias, const float *x, float *y);

/**
 * @brief Low-rank matrix times vector: y = bias + U (V x).
 *
 * @param[in]  ctx   scratch [rank]
 * @param[in]  rows  m
 * @param[in]  cols  n
 * @param[in]  rank  d
 * @param[in]  u     U, Format: [rows, rank], packed as for rnn_mat_vec_f32
 * @param[in]  v     V, Format: [rank, cols], packed as for rnn_mat_vec_f32
 * @param[in]  bias  [rows] or NULL; may alias y
 * @param[in]  x     [cols]; must not alias y
 * @param[out] y     [rows]
 */
void rnn_mat_vec_lowrank_f32(float *ctx, int32_t rows, int32_t cols, int32_t rank,
                             const float *u, const float *v, const float *bias, const float *x,
                             float *y);

/**
 * @brief Kronecker-product matrix times vector: y = bias + (A (x) B)[:rows, :cols] x.
 *
 * @param[in]  ctx       scratch [m1 * n2 + n2 + RNN_MAT_VEC_TILE] (ax_first) or
 *                       [n1 * m2 + n2 + RNN_MAT_VEC_TILE]
 * @param[in]  rows      m <= m1 * m2
 * @param[in]  cols      n <= n1 * n2 (x is read as zero past cols)
 * @param[in]  m1, n1    shape of A
 * @param[in]  m2, n2    shape of B
 * @param[in]  ax_first  1: compute A X first; 0: X B^T first (pick the cheaper)
 * @param[in]  a         A, Format: [m1, n1] row-major
 * @param[in]  b         B, Format: [m2, n2], packed as for rnn_mat_vec_f32
 * @param[in]  bias      [rows] or NULL; may alias y
 * @param[in]  x         [cols]; must not alias y
 * @param[out] y         [rows]
 */
void rnn_mat_vec_kron_f32(float *ctx, int32_t rows, int32_t cols, int32_t m1, int32_t n1,
                          int32_t m2, int32_t n2, int32_t ax_first, const float *a,
                          const float *b, const float *bias, const float *x, float *y);

/**
 * @brief Apply an activation function in place.
 *
 * @param[in]     act   the function and its alpha / beta
 * @param[in,out] data  [n] values
 * @param[in]     n     number of values
 */
void rnn_activation_f32(const rnn_activation *act, float *data, int32_t n);

/**
 * @brief One LSTM cell update from the gate pre-activations.
 *
 * @param[in]     p      cell parameters
 * @param[in,out] gates  [4H] pre-activations W x + R h + b, gates i, o, f, c; overwritten
 * @param[in,out] c      [H] cell state, updated
 * @param[out]    h      [H] new hidden state
 */
void rnn_lstm_cell_f32(const rnn_lstm_params_f32 *p, float *gates, float *c, float *h);

/**
 * @brief GRU update and reset gates: z, r = f(gx + gh) into gx[0:2H]; optionally r * h.
 *
 * @param[in]     p   cell parameters
 * @param[in,out] gx  [3H] W x + biases (z, r, h); z and r replaced by their activations
 * @param[in]     gh  [2H] recurrent part R_zr h for z and r
 * @param[in]     h   [H] previous hidden state
 * @param[out]    rh  [H] r * h (needed when linear_before_reset is 0), or NULL
 */
void rnn_gru_gates_f32(const rnn_gru_params_f32 *p, float *gx, const float *gh, const float *h,
                       float *rh);

/**
 * @brief GRU hidden state update after rnn_gru_gates_f32.
 *
 * @param[in]     p   cell parameters
 * @param[in]     gx  [3H] activated z, r, then W_h x + bias
 * @param[in]     gh  [3H] gh[2H:3H] is R_h h + Rb_h (linear_before_reset 1) or
 *                    R_h (r * h) (linear_before_reset 0)
 * @param[in,out] h   [H] hidden state, updated
 */
void rnn_gru_cell_f32(const rnn_gru_params_f32 *p, const float *gx, const float *gh, float *h);

/**
 * @brief Simple RNN update: h = f(clip(pre)).
 *
 * @param[in]  p    cell parameters
 * @param[in]  pre  [H] W x + R h + b
 * @param[out] h    [H] new hidden state
 */
void rnn_rnn_cell_f32(const rnn_rnn_params_f32 *p, const float *pre, float *h);

/**
 * @brief FastRNN update: h = s2 h + s1 act(pre).
 *
 * @param[in]     p    parameters (s1 = sigmoid(alpha), s2 = sigmoid(beta))
 * @param[in,out] pre  [H] W x + U h + b; overwritten
 * @param[in,out] h    [H] hidden state, updated
 */
void rnn_fastrnn_cell_f32(const rnn_fast_params_f32 *p, float *pre, float *h);

/**
 * @brief FastGRNN update: z = gate(pre + b_g), h~ = act(pre + b_h),
 *        h = z h + (s1 (1 - z) + s2) h~.
 *
 * @param[in]     p    parameters (s1 = sigmoid(zeta), s2 = sigmoid(nu), biases)
 * @param[in,out] pre  [H] W x + U h (no bias); overwritten
 * @param[out]    z    [H] scratch
 * @param[in,out] h    [H] hidden state, updated
 */
void rnn_fastgrnn_cell_f32(const rnn_fast_params_f32 *p, float *pre, float *z, float *h);

/**
 * @brief SRU update: f, r = sigmoid(gates + v c), c = f c + (1 - f) W x,
 *        h = r c + (1 - r) x' (x' = x, or W_p x with a projection).
 *
 * @param[in]     p      parameters
 * @param[in,out] gates  [3H] (or [4H] with a projection) W x, W_f x + b_f, W_r x + b_r,
 *                       W_p x; overwritten
 * @param[in]     x      [H] this step's input (the highway term without a projection)
 * @param[in,out] c      [H] cell state, updated
 * @param[out]    h      [H] new hidden state
 */
void rnn_sru_cell_f32(const rnn_sru_params_f32 *p, float *gates, const float *x, float *c,
                      float *h);

/**
 * @brief Elementwise binary operation with broadcasting: y = a (op) b.
 *
 * Strides are in elements; a stride of 0 repeats a value (broadcast). y is contiguous.
 *
 * @param[in]  op         operation
 * @param[in]  ndim       rank, 1..RNN_MAX_DIMS
 * @param[in]  shape      [ndim] output shape
 * @param[in]  a          first operand
 * @param[in]  a_strides  [ndim]
 * @param[in]  b          second operand
 * @param[in]  b_strides  [ndim]
 * @param[out] y          result, contiguous
 */
void rnn_elementwise_f32(rnn_binary_op op, int32_t ndim, const int32_t *shape, const float *a,
                         const int32_t *a_strides, const float *b, const int32_t *b_strides,
                         float *y);

/**
 * @brief Softmax or log-softmax along one axis of a tensor viewed as [outer, n, inner].
 *
 * @param[in]  outer  product of the dimensions before the axis
 * @param[in]  n      size of the axis
 * @param[in]  inner  product of the dimensions after the axis
 * @param[in]  log    0: softmax, 1: log-softmax
 * @param[in]  x      input
 * @param[out] y      output (may alias x)
 */
void rnn_softmax_f32(int32_t outer, int32_t n, int32_t inner, int32_t log, const float *x,
                     float *y);

/**
 * @brief Copy a strided view: dst[i] = src[i] for every index i of shape.
 *
 * Serves Transpose, Slice, Gather and Concat. Strides are in elements.
 *
 * @param[in]  ndim         rank, 1..RNN_MAX_DIMS
 * @param[in]  shape        [ndim]
 * @param[in]  src          source, at its first element
 * @param[in]  src_strides  [ndim]
 * @param[out] dst          destination, at its first element
 * @param[in]  dst_strides  [ndim]
 */
void rnn_copy_strided_f32(int32_t ndim, const int32_t *shape, const float *src,
                          const int32_t *src_strides, float *dst, const int32_t *dst_strides);

/**
 * @brief Convolution (ONNX Conv, batch 1, 1-D or 2-D, groups), direct: no im2col, no
 *        scratch. y[m, oh, ow] = bias[m] + sum over c, kh, kw (in that order) of
 *        w[m, c, kh, kw] x[g C/G + c, oh sh - ph + kh dh, ow sw - pw + kw dw], taps outside
 *        the input skipped (zero padding).
 *
 * @param[in]  p     sizes, strides, padding, dilation and groups
 * @param[in]  x     input, Format: [in_c, in_h, in_w]
 * @param[in]  w     weights, Format: [out_c, in_c / groups, k_h, k_w]
 * @param[in]  bias  [out_c], or NULL
 * @param[out] y     output, Format: [out_c, out_h, out_w]; must not alias x
 */
void rnn_conv_f32(const rnn_window_params *p, const float *x, const float *w, const float *bias,
                  float *y);

/**
 * @brief MaxPool or AveragePool (batch 1, 1-D or 2-D) over each channel.
 *
 * @param[in]  p     sizes (out_c = in_c), strides, padding, dilation
 * @param[in]  kind  RNN_POOL_MAX, RNN_POOL_AVG or RNN_POOL_AVG_WITH_PAD
 * @param[in]  x     input, Format: [in_c, in_h, in_w]
 * @param[out] y     output, Format: [in_c, out_h, out_w]; must not alias x
 */
void rnn_pool_f32(const rnn_window_params *p, rnn_pool_kind kind, const float *x, float *y);

/**
 * @brief Sum, mean or maximum along one axis of a tensor viewed as [outer, n, inner]:
 *        y[o, i] = reduce over k of x[o, k, i].
 *
 * @param[out] y  [outer, inner]; must not alias x
 */
void rnn_reduce_f32(rnn_reduce_kind kind, int32_t outer, int32_t n, int32_t inner,
                    const float *x, float *y);

/**
 * @brief Pooling over time in a streaming model (the step / block program of a Reduce over
 *        the time axis): x viewed as [outer, n, inner] holds this call's n values per output
 *        (its steps along the reduced axes, time outermost); acc [outer, inner] and *count
 *        (values seen since _reset, 0 after it) live in the state struct. Each value is
 *        folded in order (a sum or a maximum; the first after _reset starts it), and y gets
 *        the pooled value so far: acc, or acc / count for the mean.
 *
 * @param[out] y  [outer, inner]; must not alias x or acc
 */
void rnn_running_reduce_f32(rnn_reduce_kind kind, int32_t outer, int32_t n, int32_t inner,
                            const float *x, float *acc, int32_t *count, float *y);

/**
 * @brief Attention pooling over a whole sequence: y[o, i] = sum over k of
 *        softmax_k(scores[o, k, j]) * values[o, k, i], values viewed as [outer, n, inner] and
 *        scores as [outer, n, inner_s] with inner_s 1 (one score per step, j = 0) or inner
 *        (j = i). The softmax subtracts the maximum over k first.
 */
void rnn_attention_pool_f32(int32_t outer, int32_t n, int32_t inner, int32_t inner_s,
                            const float *scores, const float *values, float *y);

/**
 * @brief Attention pooling over time in a streaming model, as an online softmax: for each of
 *        this call's n steps, in order, the running maximum m and normalizer l (per score)
 *        and weighted sum a (per output) are rescaled by exp(m_old - m_new) and the step
 *        added with weight exp(s - m_new); the first step after _reset (*count 0) starts
 *        them. y = a / l, the pooling of the steps so far; after T steps it equals
 *        rnn_attention_pool_f32 over the sequence within float rounding.
 *
 * @param m, l  [outer, inner_s] and a [outer, inner] in the state struct
 */
void rnn_running_attention_pool_f32(int32_t outer, int32_t n, int32_t inner, int32_t inner_s,
                                    const float *scores, const float *values, float *m,
                                    float *l, float *a, int32_t *count, float *y);

/**
 * @brief Layer normalization of each row of [rows, n]: (x - mean) / sqrt(var + eps) * scale
 *        + bias, mean and (biased) variance over the row.
 *
 * @param[out] y  [rows, n] (may alias x)
 */
void rnn_layer_norm_f32(int32_t rows, int32_t n, float eps, const float *scale,
                        const float *bias, const float *x, float *y);

/**
 * @brief y[o, c, i] = x[o, c, i] * scale[c] + shift[c] (a batch normalization at inference)
 *        over a tensor viewed as [outer, channels, inner].
 *
 * @param[out] y  (may alias x)
 */
void rnn_scale_shift_f32(int32_t outer, int32_t channels, int32_t inner, const float *scale,
                         const float *shift, const float *x, float *y);

/**
 * @brief The window of a convolution or pooling along the time axis of a streaming model:
 *        for each of `outer` rows, the buffer buf [outer, frames, frame_bytes] drops its
 *        oldest frame and takes this step's frame x [outer, frame_bytes] as its newest (any
 *        element type: frames are copied as bytes; zero / the zero point at reset are the
 *        padding before the first frame). count[0] counts the frames since reset (kept below
 *        start + stride), count[1] is set to 1 when the window fires on this step (the
 *        start-th frame and every stride-th after it), else 0.
 */
void rnn_frame_push(int32_t outer, int32_t frames, int32_t frame_bytes, const void *x,
                    void *buf, int32_t start, int32_t stride, int32_t *count);

/**
 * @brief Embedding lookup: row i of y = row ids[i] of the table [rows, row_bytes] in flash,
 *        for `count` token ids, any element type (float32 or the int8 table: rows are copied
 *        as bytes). An id in [-rows, -1] counts from the end (ONNX Gather); an id outside
 *        [-rows, rows - 1] is clamped to the nearest row (0 or rows - 1) rather than read out
 *        of bounds (docs/limits.md).
 */
void rnn_gather_rows(int32_t count, const int32_t *ids, int32_t rows, int32_t row_bytes,
                     const void *table, void *y);

/* ---------------------------------------------------------------------------- int8 ---- */
/* The integer kernels mirror codegen/quant.py and codegen/reference_int.py bit for bit;
 * docs/int8.md states the arithmetic. Requantization: rnn_requantize in rnn_nn_support.h. */

/**
 * @brief int8 convolution (CMSIS-NN style; quant.conv_s8 bit for bit): for each output
 *        acc = bias[m] + sum over the taps inside the input (channel, row, tap order) of
 *        w[m, c, kh, kw] * (x - x_zero_point), then
 *        y = sat8(rnn_requantize(acc, mult[m], shift[m]) + y_zero_point).
 *
 * @param[in]  p             sizes, strides, padding (the real value 0), dilation, groups
 * @param[in]  x             input, Format: [in_c, in_h, in_w]
 * @param[in]  x_zero_point  the input's zero point
 * @param[in]  w             per-output-channel symmetric weights [out_c, in_c / groups, k_h, k_w]
 * @param[in]  bias          [out_c] int32, in units of the channel's weight scale x input scale
 * @param[in]  mult          [out_c] Q31 multipliers
 * @param[in]  shift         [out_c] shifts
 * @param[in]  y_zero_point  the output's zero point
 * @param[out] y             output, Format: [out_c, out_h, out_w]; must not alias x
 * @param[out] cols          scratch, n = (in_c / groups) x k_h x k_w the window's values:
 *                           n <= 16: 28 x out_c + 32 x ceil2(n) + 2 int16 (small windows: a
 *                           record of at most 14 words per output channel and the windows,
 *                           int16 of 32 output positions (DSP) or a ring of pairs (Helium),
 *                           word-aligned in it);
 *                           n > 16: 2 x ceil16(n) + 2 x out_c int16 (Helium: four int8
 *                           im2col columns of ceil16(n) bytes and an int32 per output
 *                           channel; elsewhere two int16 columns); any alignment
 */
void rnn_conv_s8(const rnn_window_params *p, const int8_t *x, int32_t x_zero_point,
                 const int8_t *w, const int32_t *bias, const int32_t *mult,
                 const int32_t *shift, int32_t y_zero_point, int8_t *y, int16_t *cols);

/**
 * @brief int8 convolution with int4 weights (w4a8; quant.conv_s8 bit for bit): as
 *        rnn_conv_s8, each output channel's weights in [-7, 7] stored packed.
 *
 * @param[in]  w     [out_c] rows of ceil(n / 2) bytes, n = (in_c / groups) x k_h x k_w the
 *                   window's values in rnn_conv_s8's order: value 2j of a row in the low
 *                   nibble of its byte j, value 2j + 1 in the high nibble (two's complement;
 *                   an odd row's last high nibble is 0)
 * @param[out] wrow  scratch: 3 n + 2 int16 (one output channel's weights unpacked, then
 *                   word-aligned the window's n int32 input offsets); any alignment
 * The other parameters as rnn_conv_s8's.
 */
void rnn_conv_s4(const rnn_window_params *p, const int8_t *x, int32_t x_zero_point,
                 const int8_t *w, const int32_t *bias, const int32_t *mult,
                 const int32_t *shift, int32_t y_zero_point, int8_t *y, int16_t *wrow);

/**
 * @brief Convolution reading int16 activations (w8a16 / w4a16; quant.conv_a16 bit for bit,
 *        CMSIS-NN's convolve_s16 arithmetic): for each output acc = bias[m] + the sum over
 *        the taps inside the input of w[m, c, kh, kw] * x (int64; zero point 0), then
 *        r = rnn_requantize_s64(acc, mult[m], shift[m]) and y16 = sat16(r), or
 *        y8 = sat8(r + y_zero_point).
 *
 * @param[in]  x       input, Format: [in_c, in_h, in_w], int16, symmetric
 * @param[in]  w       w_bits 8: [out_c, in_c / groups, k_h, k_w] int8; w_bits 4: rows of
 *                     ceil(n / 2) bytes as rnn_conv_s4 reads them
 * @param[in]  bias    [out_c] int64 (the caller guarantees |acc| < 2^47)
 * @param[out] y8      int8 output [out_c, out_h, out_w] (y16 NULL), or NULL
 * @param[out] y16     int16 output (y8 NULL), or NULL
 * @param[out] wrow    scratch: 3 n + 2 int16, n = (in_c / groups) x k_h x k_w (as
 *                     rnn_conv_s4's)
 * p, mult, shift and y_zero_point as rnn_conv_s8's.
 */
void rnn_conv_a16(const rnn_window_params *p, const int16_t *x, const int8_t *w, int32_t w_bits,
                  const int64_t *bias, const int32_t *mult, const int32_t *shift,
                  int32_t y_zero_point, int8_t *y8, int16_t *y16, int16_t *wrow);

/**
 * @brief int8 MaxPool (batch 1, 1-D or 2-D): the output keeps the input's scale and zero
 *        point; y = the largest x of the window inside the input (zero_point if none).
 *
 * @param[in]  p           sizes (out_c = in_c), strides, padding, dilation
 * @param[in]  zero_point  the input's (and output's) zero point
 * @param[in]  x           input, Format: [in_c, in_h, in_w]
 * @param[out] y           output, Format: [in_c, out_h, out_w]; must not alias x
 */
void rnn_max_pool_s8(const rnn_window_params *p, int32_t zero_point, const int8_t *x, int8_t *y);

/**
 * @brief int8 AveragePool (batch 1, 1-D or 2-D): the output keeps the input's scale and zero
 *        point; y = the window's sum over its count, rounded half away from zero (CMSIS-NN
 *        avgpool_s8); count_include_pad adds the zero point for each padded position.
 *
 * @param[in]  p            sizes (out_c = in_c), strides, padding, dilation
 * @param[in]  include_pad  1: divide by the whole window (ONNX count_include_pad = 1)
 * @param[in]  zero_point   the input's (and output's) zero point
 * @param[in]  x            input, Format: [in_c, in_h, in_w]
 * @param[out] y            output, Format: [in_c, out_h, out_w]; must not alias x
 */
void rnn_avg_pool_s8(const rnn_window_params *p, int32_t include_pad, int32_t zero_point,
                     const int8_t *x, int8_t *y);

/**
 * @brief int8 maximum or mean along one axis of [outer, n, inner] (n >= 1), the output
 *        keeping the input's scale and zero point: y[o, i] = max over k of x[o, k, i], or
 *        the sum over n rounded half away from zero (as rnn_avg_pool_s8).
 *
 * @param[in]  kind  RNN_REDUCE_MAX or RNN_REDUCE_MEAN (RNN_REDUCE_SUM: float32 only)
 * @param[out] y     [outer, inner]; must not alias x
 */
void rnn_reduce_s8(rnn_reduce_kind kind, int32_t outer, int32_t n, int32_t inner,
                   const int8_t *x, int8_t *y);

/** @brief The requantization of an int8 sum to the output's own scale (ReduceSum). */
typedef struct
{
    int32_t zp_in;
    int32_t mult;
    int32_t shift;
    int32_t zp_out;
} rnn_reduce_sum_params;

/**
 * @brief int8 ReduceSum along one axis of [outer, n, inner]: y = sat8(zp_out +
 *        rq(sum of (x - zp_in), mult, shift)), the output in its own calibrated scale.
 */
void rnn_reduce_sum_s8(int32_t outer, int32_t n, int32_t inner, int32_t zp_in, int32_t mult,
                       int32_t shift, int32_t zp_out, const int8_t *x, int8_t *y);

/**
 * @brief int8 pooling over time in a streaming model, as rnn_running_reduce_f32 with an
 *        int32 running sum (raw int8 values) or maximum: y is the maximum so far, the sum
 *        divided by *count rounded half away from zero (rnn_reduce_s8's mean), or the sum
 *        without the zero points requantized with `sum` (rnn_reduce_sum_s8's; `sum` is read
 *        for RNN_REDUCE_SUM only), so after T steps it equals the whole-sequence int8
 *        reduction bit for bit.
 */
void rnn_running_reduce_s8(rnn_reduce_kind kind, int32_t outer, int32_t n, int32_t inner,
                           const rnn_reduce_sum_params *sum, const int8_t *x, int32_t *acc,
                           int32_t *count, int8_t *y);

/** @brief The build-time constants of an int8 layer normalization (quant.QLayerNorm). */
typedef struct
{
    int32_t n;              /**< values per block (at most 32768) */
    int32_t zp_in;          /**< the input's zero point */
    int64_t eps;            /**< E = round(n^2 eps 2^16 / x.scale^2), below 2^62 */
    const int32_t *gamma;   /**< G = round(scale / y.scale 2^16) */
    const int64_t *bias;    /**< K = B 2^16 + 2^31 + zp_out 2^32, B = round(bias / y.scale 2^16) */
    int32_t per_value;      /**< 1: gamma and bias hold n values; 0: one for all */
} rnn_layer_norm_s8_params;

/**
 * @brief int8 layer normalization of each row of [rows, n] (LayerNormalization, and
 *        InstanceNormalization's normalization): with d = x - zp_in, S = sum d, Q = sum d^2,
 *        W = (n Q - S^2) 2^16 + eps, r 2^-(44 + e/2) = 1/sqrt(W) (fixed-point Newton,
 *        quant.rsqrt_q29), zq = round((n d - S) r 2^-(20 + e/2)) (Q16, rounded half up),
 *        y = sat8((zq G + K) >> 32) (quant.layer_norm_s8 bit for bit; docs/int8.md).
 *
 * @param[out] y  [rows, n] (may alias x)
 */
void rnn_layer_norm_s8(const rnn_layer_norm_s8_params *p, int32_t rows, const int8_t *x,
                       int8_t *y);
/** @brief int8 attention pooling's numbers (quant.QAttentionPool). */
typedef struct
{
    const int32_t *exp_table; /**< [256] round(e^(-k * scores scale) * 2^16): the softmax's */
    int32_t zp_v;             /**< the values' zero point */
    int32_t mult;             /**< the weighted mean (Q16) to the output's scale */
    int32_t shift;
    int32_t zp_out;
} rnn_attention_params;

/**
 * @brief int8 attention pooling over a whole sequence, values viewed as [outer, n, inner],
 *        scores as [outer, n, inner_s] (inner_s 1: one score per step; inner: one per
 *        value): for each output the integer online softmax of quant.QAttentionPool over
 *        k = 0 .. n-1 in order (rnn_att_step: running maximum m, normalizer l and weighted
 *        sum a of exp_table[m - s] (v - zp_v), rescaled by exp_table[s - m] when m grows,
 *        halved with the weights' shift x + 1 when l reaches 2^22; all int32), then
 *        y = sat8(zp_out + rq(round(a 2^16 / l))) (rnn_att_output).
 *
 * @param[out] y  [outer, inner]; must not alias scores or values
 */
void rnn_attention_pool_s8(int32_t outer, int32_t n, int32_t inner, int32_t inner_s,
                           const rnn_attention_params *p, const int8_t *scores,
                           const int8_t *values, int8_t *y);

/**
 * @brief int8 attention pooling over time in a streaming model: rnn_attention_pool_s8's
 *        online softmax continued over calls (n steps per call). state (int32, in the state
 *        struct): m, l and x [outer, inner_s] each, then a [outer, inner]; *count is the
 *        steps since _reset (0: the first step starts them). y is the pooling of the steps
 *        so far; after T steps it equals rnn_attention_pool_s8 over the sequence bit for bit.
 */
void rnn_running_attention_pool_s8(int32_t outer, int32_t n, int32_t inner, int32_t inner_s,
                                   const rnn_attention_params *p, const int8_t *scores,
                                   const int8_t *values, int32_t *state, int32_t *count,
                                   int8_t *y);

/**
 * @brief int8 per-channel scale and shift over [outer, channels, inner] (a batch
 *        normalization that is not folded into a Conv or Linear): y = sat8(zp_out +
 *        rq((x - zp_in) * w[c] + bias[c], mult[c], shift[c])), the arithmetic of a depthwise
 *        1x1 rnn_conv_s8 (quant.quantize_conv / quant.conv_s8 bit for bit).
 *
 * @param[out] y  (may alias x)
 */
void rnn_scale_shift_s8(int32_t outer, int32_t channels, int32_t inner, const int8_t *w,
                        const int32_t *bias, const int32_t *mult, const int32_t *shift,
                        int32_t zp_in, int32_t zp_out, const int8_t *x, int8_t *y);

/**
 * @brief int8 matrix times int8 vector, each row requantized to int16 (Q3.12 gate values):
 *        y[r] = sat16(rq(W[r] . x + offset[r], mult[r], shift[r])).
 *
 * @param[in]  rows, cols  shape of W
 * @param[in]  w       Format: [rows, cols] row-major, each row stored in RNN_S8_STRIDE(cols)
 *                     bytes (zero weights after the last column), per-row symmetric scales,
 *                     values in [-127, 127] (rnngen never makes -128; the NEON path relies
 *                     on it); word-aligned for the fastest Cortex-M4/M7 path (RNN_ALIGN4)
 * @param[in]  offset  [rows] -x zero point * row sum (int32)
 * @param[in]  mult    [rows] Q31 multipliers
 * @param[in]  shift   [rows] shifts
 * @param[in]  x       [cols]
 * @param[out] y       [rows]
 */
void rnn_mat_vec_s8_s16(int32_t rows, int32_t cols, const int8_t *w, const int32_t *offset,
                        const int32_t *mult, const int32_t *shift, const int8_t *x, int16_t *y);

/**
 * @brief The int32 sums of rnn_mat_vec_s8_s16 before requantization:
 *        acc[r] = W[r] . x + offset[r] (same arguments and weight contract).
 */
void rnn_mat_vec_s8_sums(int32_t rows, int32_t cols, const int8_t *w, const int32_t *offset,
                         const int8_t *x, int32_t *acc);

/**
 * @brief The int32 sums of rnn_mat_vec_s8_sums with x given split into int16 pairs: for
 *        each 4 columns the words (x0 | x2 << 16), (x1 | x3 << 16) (int16 lanes, the last
 *        partial word padded with zero columns; RNN_S8_STRIDE(cols) / 2 words). The
 *        Cortex-M4/M7 int8 kernel's inner loop, shared with the int16-activation kernel;
 *        compiled only where the DSP extension is the kernels' path (__ARM_FEATURE_DSP
 *        without Helium). The caller guarantees the int32 sums cannot overflow.
 */
void rnn_mat_vec_s8_sums_split(int32_t rows, int32_t cols, const int8_t *w,
                               const int32_t *offset, const int32_t *xw, int32_t *acc);

/**
 * @brief int8 matrix times int16 vector (int16 activations, w8a16), int32 sums:
 *        acc[r] = W[r] . x + offset[r]. Weights as rnn_mat_vec_s8_s16 (pack_s8 rows);
 *        sum |W[r]| * 32768 + |offset[r]| must stay below 2^31 (rnngen proves it at build
 *        time), so the sums are exact. Compiled where Helium is not the kernels' path
 *        (there: rnn_mat_vec_a16_sums_split).
 */
void rnn_mat_vec_a16_sums(int32_t rows, int32_t cols, const int8_t *w, const int32_t *offset,
                          const int16_t *x, int32_t *acc);

/**
 * @brief The sums of rnn_mat_vec_a16_sums from offset_split[r] = offset[r] + 128 * (the sum
 *        of W[r]'s weights): x split into bytes, x = 256 hi + lo' + 128 with hi and lo'
 *        int8, two VMLADAVA.S8 per 16 weights. Compiled only where Helium is the kernels'
 *        path (__ARM_FEATURE_MVE). Same bound as rnn_mat_vec_a16_sums.
 */
void rnn_mat_vec_a16_sums_split(int32_t rows, int32_t cols, const int8_t *w,
                                const int32_t *offset_split, const int16_t *x, int32_t *acc);

/**
 * @brief int8 matrix times int16 vector to int16: y[r] = sat16(rq(W[r] . x + offset[r])).
 *        Contract as rnn_mat_vec_a16_sums, except that on Helium builds (RNN_A16_SPLIT)
 *        the offsets given are offset[r] + 128 * (the sum of W[r]'s weights), as
 *        rnn_mat_vec_a16_sums_split reads them: pass RNN_A16_OFFSETS(offsets, split ones).
 */
void rnn_mat_vec_a16_s16(int32_t rows, int32_t cols, const int8_t *w, const int32_t *offset,
                         const int32_t *mult, const int32_t *shift, const int16_t *x,
                         int16_t *y);

/**
 * @brief int8 matrix times int16 vector to int8: y[r] = sat8(zp + rq(W[r] . x + offset[r])).
 *        Contract as rnn_mat_vec_a16_s16 (on Helium builds the split offsets).
 */
void rnn_mat_vec_a16_s8(int32_t rows, int32_t cols, const int8_t *w, const int32_t *offset,
                        const int32_t *mult, const int32_t *shift, int32_t out_zero_point,
                        const int16_t *x, int8_t *y);

/**
 * @brief int8 matrix times int16 vector with int64 sums (w8a16 matrices whose int32 sum
 *        could overflow): y[r] = sat16(rq64(W[r] . x + offset[r])), rq64 CMSIS-NN's s64
 *        requantization (the multiplier reduced to Q15). cols <= 65536.
 */
void rnn_mat_vec_a16_wide(int32_t rows, int32_t cols, const int8_t *w,
                              const int32_t *offset, const int32_t *mult, const int32_t *shift,
                              const int16_t *x, int16_t *y);

/** @brief As rnn_mat_vec_a16_wide, to int8: y[r] = sat8(zp + rq64(W[r] . x + offset[r])). */
void rnn_mat_vec_a16_wide_s8(int32_t rows, int32_t cols, const int8_t *w,
                             const int32_t *offset, const int32_t *mult, const int32_t *shift,
                             int32_t out_zero_point, const int16_t *x, int8_t *y);

/**
 * @brief int8 matrix times int8 vector to int8: y[r] = sat8(zp + rq(W[r] . x + offset[r])).
 *        Same arguments as rnn_mat_vec_s8_s16, plus the output zero point.
 */
void rnn_mat_vec_s8(int32_t rows, int32_t cols, const int8_t *w, const int32_t *offset,
                    const int32_t *mult, const int32_t *shift, int32_t out_zero_point,
                    const int8_t *x, int8_t *y);

/**
 * @brief int4 matrix times int8 vector, each row requantized to int16 (Q3.12 gate values):
 *        y[r] = sat16(rq(W[r] . x + offset[r], mult[r], shift[r])); as rnn_mat_vec_s8_s16
 *        with int4 weights.
 *
 * @param[in]  w  Format: weights in [-7, 7], rows in pairs, two weights per byte: byte j of
 *                pair p holds column j of row 2p in its low nibble (as w + 8) and column j
 *                of row 2p + 1 in its high nibble (two's complement), i.e. the int8
 *                16 w[2p+1][j] + w[2p][j] + 8; each pair stored in RNN_S4_STRIDE(cols)
 *                bytes (byte 0x08 after the last column, and as the missing row of an odd
 *                last row); word-aligned for the Cortex-M4/M7 path (RNN_ALIGN4)
 * Other parameters as rnn_mat_vec_s8_s16.
 */
void rnn_mat_vec_s4_s16(int32_t rows, int32_t cols, const int8_t *w, const int32_t *offset,
                        const int32_t *mult, const int32_t *shift, const int8_t *x, int16_t *y);

/**
 * @brief The int32 sums of rnn_mat_vec_s4_s16 before requantization:
 *        acc[r] = W[r] . x + offset[r] (same arguments and weight contract).
 */
void rnn_mat_vec_s4_sums(int32_t rows, int32_t cols, const int8_t *w, const int32_t *offset,
                         const int8_t *x, int32_t *acc);

/**
 * @brief The work of the int4 kernels: x prepared once, then the rows in blocks, each block's
 *        sums W[r] . x + offset[r] stored to `sums` (when not NULL), or requantized to
 *        int16 into y16 (rnn_mat_vec_s4_s16) or to int8 with the zero point into y8
 *        (rnn_mat_vec_s4); the other outputs NULL. Arguments as rnn_mat_vec_s4_s16.
 */
void rnn_mat_vec_s4_rows(int32_t rows, int32_t cols, const int8_t *w, const int32_t *offset,
                         const int32_t *mult, const int32_t *shift, int32_t out_zero_point,
                         const int8_t *x, int32_t *sums, int16_t *y16, int8_t *y8);

/**
 * @brief int4 matrix times int8 vector to int8 (a Linear layer with int4 weights):
 *        y[r] = sat8(zp + rq(W[r] . x + offset[r])). Arguments as rnn_mat_vec_s4_s16, plus
 *        the output zero point.
 */
void rnn_mat_vec_s4(int32_t rows, int32_t cols, const int8_t *w, const int32_t *offset,
                    const int32_t *mult, const int32_t *shift, int32_t out_zero_point,
                    const int8_t *x, int8_t *y);

/**
 * @brief The Cortex-M4/M7 pair loop of the int4 kernels on x given split into int16 pairs
 *        (as rnn_mat_vec_s8_sums_split: per 4 columns (x0 | x2 << 16), (x1 | x3 << 16),
 *        RNN_S4_STRIDE(cols) / 2 words, zero columns after the last): for each of `pairs`
 *        row pairs (RNN_S4_STRIDE(cols) bytes apart from w, word-aligned)
 *        out[2p] = sum_j B x_j (modulo 2^32) and out[2p + 1] = 16 sum_j (B >> 4) x_j (B the
 *        stored byte as int8; the caller guarantees the latter fits int32). Compiled only where the DSP extension is
 *        the kernels' path (__ARM_FEATURE_DSP without Helium); shared by rnn_mat_vec_s4_s16
 *        and the int16-activation rnn_mat_vec_a16_s4_s16.
 */
void rnn_mat_vec_s4_pairs_split(int32_t cols, int32_t pairs, const int8_t *w, const int32_t *xw,
                                int32_t *out);

/**
 * @brief int4 matrix times int16 vector (w4a16: int16 activations, int4 weights) to int16:
 *        y[r] = sat16(rq(W[r] . x + offset[r])). Weights as rnn_mat_vec_s4_s16 (pack_s4's row
 *        pairs, word-aligned); sum |W[r]| * 32768 + |offset[r]| must stay below 2^31 (rnngen
 *        proves it at build time; otherwise rnn_mat_vec_a16_s4_wide), so the sums are exact.
 */
void rnn_mat_vec_a16_s4_s16(int32_t rows, int32_t cols, const int8_t *w, const int32_t *offset,
                            const int32_t *mult, const int32_t *shift, const int16_t *x,
                            int16_t *y);

/**
 * @brief The work of the w4a16 kernels: x prepared once, then the rows in blocks of 64, each
 *        block's sums W[r] . x + offset[r] stored to `sums` (when not NULL), or requantized
 *        to int16 into y16 or to int8 with the zero point into y8; the other outputs NULL.
 *        Contract as rnn_mat_vec_a16_s4_s16.
 */
void rnn_mat_vec_a16_s4_rows(int32_t rows, int32_t cols, const int8_t *w, const int32_t *offset,
                             const int32_t *mult, const int32_t *shift, int32_t out_zero_point,
                             const int16_t *x, int32_t *sums, int16_t *y16, int8_t *y8);

/**
 * @brief int4 matrix times int16 vector to int8: y[r] = sat8(zp + rq(W[r] . x + offset[r])).
 *        Contract as rnn_mat_vec_a16_s4_s16.
 */
void rnn_mat_vec_a16_s4_s8(int32_t rows, int32_t cols, const int8_t *w, const int32_t *offset,
                           const int32_t *mult, const int32_t *shift, int32_t out_zero_point,
                           const int16_t *x, int8_t *y);

/**
 * @brief int4 matrix times int16 vector with int64 sums (w4a16 matrices whose int32 sum could
 *        overflow): y[r] = sat16(rq64(W[r] . x + offset[r])) (rnn_requantize_s64).
 *        Weights as rnn_mat_vec_s4_s16; cols <= 65536.
 */
void rnn_mat_vec_a16_s4_wide(int32_t rows, int32_t cols, const int8_t *w, const int32_t *offset,
                             const int32_t *mult, const int32_t *shift, const int16_t *x,
                             int16_t *y);

/** @brief As rnn_mat_vec_a16_s4_wide, to int8: y[r] = sat8(zp + rq64(W[r] . x + offset[r])). */
void rnn_mat_vec_a16_s4_wide_s8(int32_t rows, int32_t cols, const int8_t *w,
                                const int32_t *offset, const int32_t *mult,
                                const int32_t *shift, int32_t out_zero_point, const int16_t *x,
                                int8_t *y);

/**
 * @brief Sparse (CSR) int8 matrix times int8 vector, rows requantized to int16:
 *        y[r] = sat16(rq(offset[r] + sum_k values[k] x[col_idx[k]], mult[r], shift[r])).
 *        values / col_idx / row_ptr as rnn_mat_vec_csr_f32 (rows padded with zero values to
 *        a multiple of RNN_CSR_GROUP entries); offset, mult, shift per row.
 */
void rnn_mat_vec_csr_s8_s16(int32_t rows, const int8_t *values, const uint16_t *col_idx,
                            const int32_t *row_ptr, const int32_t *offset, const int32_t *mult,
                            const int32_t *shift, const int8_t *x, int16_t *y);

/**
 * @brief Sparse (CSR) matrix with int4 values times int8 vector, rows requantized to int16:
 *        as rnn_mat_vec_csr_s8_s16, the values (in [-7, 7]) packed two per byte in entry
 *        order (entry 2j in the low nibble of byte j, 2j + 1 in the high one, two's
 *        complement); col_idx and row_ptr (in entries) unchanged.
 */
void rnn_mat_vec_csr_s4_s16(int32_t rows, const int8_t *values, const uint16_t *col_idx,
                            const int32_t *row_ptr, const int32_t *offset, const int32_t *mult,
                            const int32_t *shift, const int8_t *x, int16_t *y);

/**
 * @brief Sparse (CSR) int8 matrix times int16 vector (int16 activations, w8a16), rows
 *        requantized to int16 with int64 sums:
 *        y[r] = sat16(rq64(offset[r] + sum_k values[k] x[col_idx[k]], mult[r], shift[r])),
 *        rq64 CMSIS-NN's s64 requantization (rnn_requantize_s64). Storage as
 *        rnn_mat_vec_csr_s8_s16.
 */
void rnn_mat_vec_csr_a16_s16(int32_t rows, const int8_t *values, const uint16_t *col_idx,
                             const int32_t *row_ptr, const int32_t *offset, const int32_t *mult,
                             const int32_t *shift, const int16_t *x, int16_t *y);

/**
 * @brief Sparse (CSR) matrix with int4 values times int16 vector (w4a16): as
 *        rnn_mat_vec_csr_a16_s16 (int64 sums, rq64), the values stored as
 *        rnn_mat_vec_csr_s4_s16 reads them.
 */
void rnn_mat_vec_csr_a16_s4_s16(int32_t rows, const int8_t *values, const uint16_t *col_idx,
                                const int32_t *row_ptr, const int32_t *offset,
                                const int32_t *mult, const int32_t *shift, const int16_t *x,
                                int16_t *y);

/**
 * @brief Low-rank int8 product: t = sat8(rq(V x)) (int8, zero point 0), y = sat16(rq(U t)).
 *
 * @param[in] ctx  scratch [rank] int8
 */
void rnn_mat_vec_lowrank_s8_s16(int8_t *ctx, int32_t rows, int32_t cols, int32_t rank,
                                const int8_t *v, const int32_t *v_offset,
                                const int32_t *v_mult, const int32_t *v_shift, const int8_t *u,
                                const int32_t *u_offset, const int32_t *u_mult,
                                const int32_t *u_shift, const int8_t *x, int16_t *y);

/**
 * @brief Low-rank product with int4 factors: as rnn_mat_vec_lowrank_s8_s16, U and V stored
 *        as rnn_mat_vec_s4_s16 reads them (weights in [-7, 7], rows in nibble pairs).
 *
 * @param[in] ctx  scratch [rank] int8
 */
void rnn_mat_vec_lowrank_s4_s16(int8_t *ctx, int32_t rows, int32_t cols, int32_t rank,
                                const int8_t *v, const int32_t *v_offset,
                                const int32_t *v_mult, const int32_t *v_shift, const int8_t *u,
                                const int32_t *u_offset, const int32_t *u_mult,
                                const int32_t *u_shift, const int8_t *x, int16_t *y);

/**
 * @brief HMD lower rows, shared by both HMD kernels: y[i] = sat16(rq(b[i] s1, b_mult,
 *        b_shift) + rq(d[i] s2, d_mult, d_shift)) for i < n (s1, s2: the half-row sums,
 *        requantized to int16).
 */
void rnn_hmd_rows_s16(int32_t n, const int8_t *b, const int8_t *d, int32_t s1, int32_t s2,
                      int32_t b_mult, int32_t b_shift, int32_t d_mult, int32_t d_shift,
                      int16_t *y);

/** @brief HMD int8 product (see rnn_hmd_s8). */
void rnn_mat_vec_hmd_s8_s16(const rnn_hmd_s8 *m, const int8_t *x, int16_t *y);

/**
 * @brief HMD lower rows for an int16 x (w8a16, w4a16; see rnn_hmd_a16): s1 = C . x[0:h],
 *        s2 = E . x[h:cols] (int32 sums, or int64 where c_wide / e_wide) requantized to
 *        int16, y[r + i] = sat16(rq(B[i] s1) + rq(D[i] s2)) for i < rows - r. y[0:r] (A' x)
 *        is the caller's (the dense int16-input kernels).
 */
void rnn_mat_vec_hmd_a16_s16(const rnn_hmd_a16 *m, const int16_t *x, int16_t *y);

/**
 * @brief Kronecker int8 product (see rnn_kron_s8).
 *
 * @param[in] ctx  scratch int8: (ax_first ? 0 : n1 * m2) + 2 * max(n2, 16) + 3
 *                 + 4 * max(m2, n2) bytes (int32 sums inside)
 */
void rnn_mat_vec_kron_s8_s16(int8_t *ctx, const rnn_kron_s8 *m, const int8_t *x, int16_t *y);

/**
 * @brief Kronecker product with int4 factors (see rnn_kron_s8): m->a and m->b hold int4
 *        values in groups of 8 in 4 bytes (byte k: value k in the low nibble, value k + 4 in
 *        the high one, two's complement), A [m1, n1] row-major and B with rows padded to
 *        RNN_S8_STRIDE(n2) values; unpacked into ctx, then rnn_mat_vec_kron_s8_s16.
 *
 * @param[in] ctx  scratch int8: 3 + 8 ceil(m2 RNN_S8_STRIDE(n2) / 8) + 8 ceil(m1 n1 / 8)
 *                 bytes, then the scratch of rnn_mat_vec_kron_s8_s16
 */
void rnn_mat_vec_kron_s4_s16(int8_t *ctx, const rnn_kron_s8 *m, const int8_t *x, int16_t *y);

/**
 * @brief The int4 Kronecker factors' unpacking of rnn_mat_vec_kron_s4_s16: out[0 .. 8 groups)
 *        = 16 times the values of `groups` packed groups (out word-aligned).
 */
void rnn_kron_unpack_s4(const int8_t *packed, int32_t groups, int8_t *out);

/**
 * @brief The second stage of rnn_mat_vec_kron_s8_s16 from an int8 intermediate t: with
 *        ax_first t is [m1, n2] (row i of T = A X, for the rows whose outputs exist) and
 *        y[i m2 + l] = sat16(rq(B[l] . T[i])); else t is [ceil(cols / n2), m2] (T = X B^T)
 *        and Y[i] = sat16(rq(sum_j A[i][j] T[j])). The first stage of the int16-input
 *        kernels (rnn_mat_vec_kron_a16_s16).
 *
 * @param[in] ctx  the scratch of rnn_mat_vec_kron_s8_s16; without ax_first t may be ctx
 *                 itself (its intermediate's place), else t must not overlap ctx
 */
void rnn_mat_vec_kron_s8_t_s16(int8_t *ctx, const rnn_kron_s8 *m, const int8_t *t, int16_t *y);

/**
 * @brief Kronecker product (see rnn_kron_s8) of an int16 x (w8a16: symmetric, zero point 0,
 *        m->x_zero_point unused): the first stage (A X or X B^T) sums in int32 and
 *        requantizes by rnn_requantize (m->acc64: in int64, by rnn_requantize_s64) to an
 *        int8 t, then rnn_mat_vec_kron_s8_t_s16. The int32 sums are exact when every row of
 *        the first stage's factor has sum |row| 32768 < 2^31 (the build proves it, else sets
 *        acc64).
 *
 * @param[in] ctx  scratch int8: (ax_first ? m1 * n2 : 0) bytes of t, then the scratch of
 *                 rnn_mat_vec_kron_s8_s16
 */
void rnn_mat_vec_kron_a16_s16(int8_t *ctx, const rnn_kron_s8 *m, const int16_t *x, int16_t *y);

/**
 * @brief rnn_mat_vec_kron_a16_s16 with int4 factors, stored as for rnn_mat_vec_kron_s4_s16
 *        (unpacked 16-fold into ctx; the emitter passes both shifts 4 lower).
 *
 * @param[in] ctx  scratch int8: 3 + 8 ceil(m2 RNN_S8_STRIDE(n2) / 8) + 8 ceil(m1 n1 / 8)
 *                 bytes, then the scratch of rnn_mat_vec_kron_a16_s16
 */
void rnn_mat_vec_kron_a16_s4_s16(int8_t *ctx, const rnn_kron_s8 *m, const int16_t *x,
                                 int16_t *y);

/**
 * @brief int8 LSTM cell: gates = gx + gh + bias (Q3.12), tables for the activations, c
 *        (int16, scale 2^-cell_exp) and h (int8) updated in place.
 *
 * @param[in]     p   cell parameters
 * @param[in]     gx  [4H] W x (Q3.12), gates i, o, f, c
 * @param[in]     gh  [4H] R h (Q3.12)
 * @param[in,out] c   [H] cell state
 * @param[in,out] h   [H] hidden state
 */
void rnn_lstm_cell_s16(const rnn_lstm_params_s16 *p, const int16_t *gx, const int16_t *gh,
                       int16_t *c, int8_t *h);

/**
 * @brief rnn_lstm_cell_s16 with an int16 hidden state (w8a16 activations: symmetric, zero
 *        point 0): h = sat16(rq(o tanh(c))).
 */
void rnn_lstm_cell_a16(const rnn_lstm_params_s16 *p, const int16_t *gx, const int16_t *gh,
                       int16_t *c, int16_t *h);

/**
 * @brief int8 GRU gates: zr = (z, r) in Q0.15 from gx[0:2H] + gh[0:2H] + bias; with
 *        linear_before_reset 0 (rh != NULL) also rh = r * h as int8.
 */
void rnn_gru_gates_s16(const rnn_gru_params_s16 *p, const int16_t *gx, const int16_t *gh,
                       const int8_t *h, int16_t *zr, int8_t *rh);

/** @brief rnn_gru_gates_s16 with int16 h and r * h (w8a16: zero point 0). */
void rnn_gru_gates_a16(const rnn_gru_params_s16 *p, const int16_t *gx, const int16_t *gh,
                       const int16_t *h, int16_t *zr, int16_t *rh);

/**
 * @brief int8 GRU update after rnn_gru_gates_s16; gh[2H:3H] is R_h h (lbr 1) or R_h (r h)
 *        (lbr 0). h updated in place.
 */
void rnn_gru_cell_s16(const rnn_gru_params_s16 *p, const int16_t *gx, const int16_t *gh,
                      const int16_t *zr, int8_t *h);

/** @brief rnn_gru_cell_s16 with an int16 h (w8a16: zero point 0). */
void rnn_gru_cell_a16(const rnn_gru_params_s16 *p, const int16_t *gx, const int16_t *gh,
                      const int16_t *zr, int16_t *h);

/** @brief int8 simple RNN update; h updated in place. */
void rnn_rnn_cell_s16(const rnn_rnn_params_s16 *p, const int16_t *gx, const int16_t *gh,
                      int8_t *h);

/** @brief rnn_rnn_cell_s16 with an int16 h (w8a16: zero point 0). */
void rnn_rnn_cell_a16(const rnn_rnn_params_s16 *p, const int16_t *gx, const int16_t *gh,
                      int16_t *h);

/** @brief int8 FastRNN update; h updated in place. */
void rnn_fastrnn_cell_s16(const rnn_fast_params_s16 *p, const int16_t *gx, const int16_t *gh,
                          int8_t *h);

/** @brief rnn_fastrnn_cell_s16 with an int16 h (w8a16: zero point 0). */
void rnn_fastrnn_cell_a16(const rnn_fast_params_s16 *p, const int16_t *gx, const int16_t *gh,
                          int16_t *h);

/** @brief int8 FastGRNN update; h updated in place. */
void rnn_fastgrnn_cell_s16(const rnn_fast_params_s16 *p, const int16_t *gx, const int16_t *gh,
                           int8_t *h);

/** @brief rnn_fastgrnn_cell_s16 with an int16 h (w8a16: zero point 0). */
void rnn_fastgrnn_cell_a16(const rnn_fast_params_s16 *p, const int16_t *gx, const int16_t *gh,
                           int16_t *h);

/**
 * @brief int8 SRU update after the W x product; c (int16, scale 2^-cell_exp) and h (int8)
 *        updated in place.
 *
 * @param[in]     p   cell parameters (bias, v = v_f v_r, lut0 = sigmoid, cell_exp, highway)
 * @param[in]     gx  [3H] or [4H] W x (Q3.12): W, W_f, W_r (, W_p)
 * @param[in]     x   [H] this step's int8 input (the highway term without a projection)
 * @param[in,out] c   [H] cell state
 * @param[in,out] h   [H] hidden state
 */
void rnn_sru_cell_s16(const rnn_sru_params_s16 *p, const int16_t *gx, const int8_t *x,
                      int16_t *c, int8_t *h);

/** @brief rnn_sru_cell_s16 with an int16 input x and hidden state h (w8a16 activations:
 *         symmetric, zero point 0; h saturated to int16). */
void rnn_sru_cell_a16(const rnn_sru_params_s16 *p, const int16_t *gx, const int16_t *x,
                      int16_t *c, int16_t *h);

/**
 * @brief Integer softmax of int8 values along an axis ([outer, n, inner]); output scale
 *        1/256, zero point -128. exp_table[k] = round(e^(-k * input scale) * 2^16).
 */
void rnn_softmax_s8(int32_t outer, int32_t n, int32_t inner, const int32_t *exp_table,
                    const int8_t *x, int8_t *y);

/** @brief y[i] = table[x[i] + 128]: any elementwise function of int8 values. */
void rnn_lut_s8(const int8_t *table, const int8_t *x, int32_t n, int8_t *y);

/** @brief float -> int8: sat8(lrintf(x * inv_scale) + zero_point). */
void rnn_quantize_s8(const float *x, int32_t n, float inv_scale, int32_t zero_point, int8_t *y);

/** @brief int8 -> float: (q - zero_point) * scale. */
void rnn_dequantize_s8(const int8_t *x, int32_t n, float scale, int32_t zero_point, float *y);

/** @brief float -> int16 (an LSTM cell state, scale 2^-exp): sat16(lrintf(x * inv_scale)),
 * inv_scale = 2^exp. */
void rnn_quantize_s16(const float *x, int32_t n, float inv_scale, int16_t *y);

/** @brief int16 -> float: q * scale. */
void rnn_dequantize_s16(const int16_t *x, int32_t n, float scale, float *y);

/** @brief rnn_copy_strided_f32 for int8 tensors. */
void rnn_copy_strided_s8(int32_t ndim, const int32_t *shape, const int8_t *src,
                         const int32_t *src_strides, int8_t *dst, const int32_t *dst_strides);

#ifdef __cplusplus
}
#endif

#endif /* RNN_NNFUNCTIONS_H */
