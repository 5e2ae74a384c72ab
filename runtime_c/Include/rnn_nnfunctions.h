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

/**
 * @brief Sparse (CSR) matrix times vector: y = bias + W x.
 *
 * @param[in]  rows     m
 * @param[in]  values   [nnz] the kept weights, row by row
 * @param[in]  col_idx  [nnz] their columns, ascending within a row (< 65536)
 * @param[in]  row_ptr  [rows + 1] row i holds entries row_ptr[i] .. row_ptr[i + 1] - 1
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
 * @param[in]  ctx       scratch [m1 * n2] (ax_first) or [n1 * m2]
 * @param[in]  rows      m <= m1 * m2
 * @param[in]  cols      n <= n1 * n2 (x is read as zero past cols)
 * @param[in]  m1, n1    shape of A
 * @param[in]  m2, n2    shape of B
 * @param[in]  ax_first  1: compute A X first; 0: X B^T first (pick the cheaper)
 * @param[in]  a         A, Format: [m1, n1] row-major
 * @param[in]  b         B, Format: [m2, n2] row-major
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

#ifdef __cplusplus
}
#endif

#endif /* RNN_NNFUNCTIONS_H */
