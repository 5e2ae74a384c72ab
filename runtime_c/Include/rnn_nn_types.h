/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_nn_types.h
 * Description: Types shared by the rnngen runtime kernels.
 */

#ifndef RNN_NN_TYPES_H
#define RNN_NN_TYPES_H

#include <stdint.h>

/** Rows per tile of a packed dense matrix (see rnn_mat_vec_f32). */
#define RNN_MAT_VEC_TILE 16

/** 1 when the vector paths of rnn_mat_vec_f32 use fused multiply-add on this target (x86 FMA3
 *  or AVX-512, AArch64 NEON, Cortex-M55 Helium VFMA): each step of a row's sum then rounds
 *  once instead of twice. */
#if (defined(__AVX__) && defined(__FMA__)) || defined(__AVX512F__) ||                         \
    (defined(__ARM_NEON) && defined(__aarch64__)) ||                                           \
    (defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 2))
#define RNN_MAT_VEC_FUSED 1
#else
#define RNN_MAT_VEC_FUSED 0
#endif

/** acc + w x rounded as the float kernels' sums round on this target: once (fmaf, the caller
 *  includes <math.h>) where RNN_MAT_VEC_FUSED, else the product, then the sum. */
#if RNN_MAT_VEC_FUSED
#define RNN_MADD_F32(acc, w, x) fmaf(w, x, acc)
#else
#define RNN_MADD_F32(acc, w, x) ((acc) + (w) * (x))
#endif

/** Rows per slice in rnn_mat_mul_f32: a multiple of the tile, small enough for L1. */
#define RNN_MAT_MUL_SLICE (4 * RNN_MAT_VEC_TILE)

/** Placed on packed weight arrays so that every tile column starts a cache line (a tile
 *  column is 64 bytes). Alignment only: without it the kernels are still correct. */
#if defined(__GNUC__)
#define RNN_ALIGN64 __attribute__((aligned(64)))
#else
#define RNN_ALIGN64
#endif

/** Placed on int8 weight arrays of the int8 dense kernels (rnn_mat_vec_s8_s16 and its
 *  callers): the Cortex-M4/M7 path reads two weight words at once (LDRD), which needs word
 *  alignment; on other arrays it takes the one-word path. */
#if defined(__GNUC__)
#define RNN_ALIGN4 __attribute__((aligned(4)))
#else
#define RNN_ALIGN4
#endif

/** Bytes per stored row of an int8 dense weight matrix with `cols` columns: rows are padded
 *  with zero weights to a multiple of 4 bytes, so every row starts a word. */
#define RNN_S8_STRIDE(cols) (((cols) + 3) & ~3)

/* w8a16: the int32 int16-input kernels (rnn_mat_vec_a16_s16 / _s8) on Helium split x into
 * bytes and read offset + 128 row sum instead of the offsets; the model's C declares those
 * under #if RNN_A16_SPLIT and passes RNN_A16_OFFSETS(offsets, split offsets), so the other
 * boards neither store nor read them (and Helium builds need not keep the plain ones). */
#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
#define RNN_A16_SPLIT 1
#define RNN_A16_OFFSETS(offset, split) ((void)(offset), (split))
#else
#define RNN_A16_SPLIT 0
#define RNN_A16_OFFSETS(offset, split) (offset)
#endif

/** Bytes per stored pair of rows of an int4 dense weight matrix with `cols` columns (two
 *  rows share each byte, one nibble each): padded with zero weights (byte 0x08) to a
 *  multiple of 4 bytes. A matrix of R rows takes ((R + 1) / 2) RNN_S4_STRIDE(cols) bytes. */
#define RNN_S4_STRIDE(cols) (((cols) + 3) & ~3)

/** Largest tensor rank the strided kernels accept. */
#define RNN_MAX_DIMS 8

/** Activation functions, as the ONNX LSTM/GRU/RNN operators define them. */
typedef enum
{
    RNN_ACT_SIGMOID = 0,          /**< 1 / (1 + e^-x) */
    RNN_ACT_TANH = 1,             /**< tanh(x) */
    RNN_ACT_RELU = 2,             /**< max(0, x) */
    RNN_ACT_AFFINE = 3,           /**< alpha * x + beta */
    RNN_ACT_LEAKY_RELU = 4,       /**< x >= 0 ? x : alpha * x */
    RNN_ACT_THRESHOLDED_RELU = 5, /**< x > alpha ? x : 0 */
    RNN_ACT_SCALED_TANH = 6,      /**< alpha * tanh(beta * x) */
    RNN_ACT_HARD_SIGMOID = 7,     /**< min(max(alpha * x + beta, 0), 1) */
    RNN_ACT_ELU = 8,              /**< x >= 0 ? x : alpha * (e^x - 1) */
    RNN_ACT_SOFTSIGN = 9,         /**< x / (1 + |x|) */
    RNN_ACT_SOFTPLUS = 10,        /**< log(1 + e^x) */
    RNN_ACT_CLIP = 11,            /**< min(max(x, alpha), beta) (ONNX Clip, Relu6) */
    RNN_ACT_HARD_SWISH = 12       /**< x * min(max(x / 6 + 1 / 2, 0), 1) */
} rnn_activation_kind;

/** An activation function and its parameters. */
typedef struct
{
    rnn_activation_kind kind;
    float alpha;
    float beta;
} rnn_activation;

/** Elementwise binary operations. */
typedef enum
{
    RNN_OP_ADD = 0,
    RNN_OP_SUB = 1,
    RNN_OP_MUL = 2,
    RNN_OP_DIV = 3
} rnn_binary_op;

/** A 1-D or 2-D convolution or pooling window over [channels, h, w] (1-D: h = 1, k_h = 1,
 *  stride_h = 1, pad_h = 0, dil_h = 1). Padding: pad_h rows above and pad_w columns left;
 *  the output size fixes how far the window runs past the other side. */
typedef struct
{
    int32_t in_c;     /**< input channels */
    int32_t in_h;     /**< input height (1 for 1-D) */
    int32_t in_w;     /**< input width (the 1-D axis) */
    int32_t out_c;    /**< output channels (pooling: = in_c) */
    int32_t out_h;    /**< output height */
    int32_t out_w;    /**< output width */
    int32_t k_h;      /**< kernel height */
    int32_t k_w;      /**< kernel width */
    int32_t stride_h; /**< vertical stride */
    int32_t stride_w; /**< horizontal stride */
    int32_t pad_h;    /**< zero rows above the input (pooling: rows outside the window) */
    int32_t pad_w;    /**< zero columns left of the input */
    int32_t dil_h;    /**< vertical dilation */
    int32_t dil_w;    /**< horizontal dilation */
    int32_t groups;   /**< convolution groups (depthwise: groups = in_c); pooling: unused */
} rnn_window_params;

/** Pooling kinds. */
typedef enum
{
    RNN_POOL_MAX = 0,         /**< the largest value in the window */
    RNN_POOL_AVG = 1,         /**< the mean over the window's positions inside the input */
    RNN_POOL_AVG_WITH_PAD = 2 /**< the sum over the window divided by its whole size */
} rnn_pool_kind;

/** Reductions along one axis. */
typedef enum
{
    RNN_REDUCE_SUM = 0,
    RNN_REDUCE_MEAN = 1,
    RNN_REDUCE_MAX = 2
} rnn_reduce_kind;

/** LSTM cell parameters (ONNX semantics, gates i, o, f, c). */
typedef struct
{
    int32_t hidden;        /**< H */
    float clip;            /**< clip gate pre-activations to [-clip, clip]; 0: no clip */
    int32_t input_forget;  /**< 1: couple the forget gate to the input gate (f = 1 - i) */
    const float *peephole; /**< [3H] peepholes in order i, o, f, or NULL */
    rnn_activation f;      /**< gate activation (default sigmoid) */
    rnn_activation g;      /**< cell input activation (default tanh) */
    rnn_activation h;      /**< cell output activation (default tanh) */
} rnn_lstm_params_f32;

/** GRU cell parameters (ONNX semantics, gates z, r, h). */
typedef struct
{
    int32_t hidden;              /**< H */
    float clip;                  /**< 0: no clip */
    int32_t linear_before_reset; /**< 1: r multiplies (R_h h + Rb_h), 0: R_h multiplies (r h) */
    rnn_activation f;            /**< gate activation (default sigmoid) */
    rnn_activation g;            /**< hidden activation (default tanh) */
} rnn_gru_params_f32;

/** Simple RNN cell parameters. */
typedef struct
{
    int32_t hidden;   /**< H */
    float clip;       /**< 0: no clip */
    rnn_activation f; /**< activation (default tanh) */
} rnn_rnn_params_f32;

/** FastRNN / FastGRNN cell parameters. The scalar gates are sigmoids of trained values,
 *  computed at compile time: FastRNN s1 = sigmoid(alpha), s2 = sigmoid(beta);
 *  FastGRNN s1 = sigmoid(zeta), s2 = sigmoid(nu). */
typedef struct
{
    int32_t hidden;           /**< H */
    rnn_activation gate;      /**< FastGRNN gate activation (default sigmoid) */
    rnn_activation update;    /**< update activation (default tanh) */
    const float *bias_gate;   /**< FastGRNN [H] gate bias */
    const float *bias_update; /**< FastGRNN [H] update bias */
    float s1;
    float s2;
} rnn_fast_params_f32;

/** SRU cell parameters (Lei et al. 2018). The gates block holds W x, W_f x + b_f,
 *  W_r x + b_r and, with a projection, W_p x. */
typedef struct
{
    int32_t hidden;      /**< H */
    int32_t projection;  /**< 1: the highway term is W_p x (gates[3H:4H]); 0: x itself */
    const float *v;      /**< [2H] elementwise weights on the cell state: v_f, v_r */
    rnn_activation gate; /**< f and r activation (sigmoid) */
} rnn_sru_params_f32;

/** An int8 HMD matrix (see rnn_mat_vec_hmd_s8_s16). */
typedef struct
{
    int32_t rows;
    int32_t cols;
    int32_t r;                /**< dense rows at the top */
    const int8_t *a;          /**< A' [r, cols] row-major; NULL: int4 A', done by the caller */
    const int32_t *a_offset;  /**< [r] */
    const int32_t *a_mult;    /**< [r] */
    const int32_t *a_shift;   /**< [r] */
    const int8_t *c;          /**< C [ceil(cols / 2)] */
    const int8_t *e;          /**< E [floor(cols / 2)] */
    int32_t off_c;            /**< -x zero point * sum(C) */
    int32_t off_e;
    int32_t c_mult, c_shift;  /**< C . x -> int16 s1 */
    int32_t e_mult, e_shift;  /**< E . x -> int16 s2 */
    const int8_t *b;          /**< B [rows - r] */
    const int8_t *d;          /**< D [rows - r] */
    int32_t b_mult, b_shift;  /**< B s1 -> output */
    int32_t d_mult, d_shift;  /**< D s2 -> output */
} rnn_hmd_s8;

/** The lower rows of an HMD matrix for an int16 x (see rnn_mat_vec_hmd_a16_s16; its top
 *  rows A' go through the dense int16-input kernels, called by the model's C). */
typedef struct
{
    int32_t rows;
    int32_t cols;
    int32_t r;                /**< dense rows at the top (written by the caller) */
    const int8_t *c;          /**< C [ceil(cols / 2)] */
    const int8_t *e;          /**< E [floor(cols / 2)] */
    int32_t c_mult, c_shift;  /**< C . x -> int16 s1 */
    int32_t c_wide;           /**< 1: C . x summed in int64, rnn_requantize_s64 */
    int32_t e_mult, e_shift;  /**< E . x -> int16 s2 */
    int32_t e_wide;           /**< 1: E . x summed in int64, rnn_requantize_s64 */
    const int8_t *b;          /**< B [rows - r] */
    const int8_t *d;          /**< D [rows - r] */
    int32_t b_mult, b_shift;  /**< B s1 -> output */
    int32_t d_mult, d_shift;  /**< D s2 -> output */
} rnn_hmd_a16;

/** Rows per rnn_mat_vec_s8_sums call in rnn_mat_vec_kron_s8_s16 (its zero offsets). */
#define RNN_KRON_MAX_ROW 64

/** An int8 Kronecker-product matrix (see rnn_mat_vec_kron_s8_s16). */
typedef struct
{
    int32_t rows, cols;       /**< the matrix: top-left rows x cols of the product */
    int32_t m1, n1, m2, n2;   /**< A [m1, n1], B [m2, n2] */
    int32_t ax_first;         /**< 1: A X first; 0: X B^T first */
    const int8_t *a;
    const int8_t *b;
    int32_t x_zero_point;
    int32_t t_mult, t_shift;  /**< intermediate -> int8 */
    int32_t y_mult, y_shift;  /**< result -> output */
    int32_t acc64;            /**< int16 x (rnn_mat_vec_kron_a16_*) only: 1: the first stage's
                                   sums in int64 and rnn_requantize_s64 (past the int32 bound) */
    const int32_t *b_offset;  /**< int8 x with X B^T first and x_zero_point != 0: [m2]
                                   -x_zero_point * (sum of row l of B), made at build time;
                                   else unused (0) */
} rnn_kron_s8;

/* The int8 cells' parameters, one struct per cell kind (designated initializers in the
 * generated code). Gate pre-activations are int16 Q3.12; activations come from 513-entry
 * int16 tables (Q3.12 in, Q0.15 out); the hidden state is int8 with zero point
 * h_zero_point; a cell state is int16 with scale 2^-cell_exp; out_mult/out_shift take the
 * activation product (LSTM Q0.30, others Q0.15) to int8 h; h15_mult/h15_shift take int8 h
 * to Q0.15. See docs/int8.md. */

/** rnn_lstm_cell_s16 */
typedef struct
{
    int32_t hidden;           /**< H */
    int32_t clip;             /**< Q3.12 bound on gate pre-activations; 0: none */
    int32_t input_forget;     /**< f = 1 - i */
    int32_t cell_exp;         /**< cell state scale 2^-cell_exp */
    const int16_t *bias;      /**< [4H] Q3.12, gates i, o, f, c */
    const int16_t *peephole;  /**< [3H] (i, o, f) or NULL */
    int32_t peep_mult;        /**< peephole * c -> Q3.12 */
    int32_t peep_shift;
    const int16_t *lut0;      /**< f */
    const int16_t *lut1;      /**< g */
    const int16_t *lut2;      /**< h */
    int32_t h_zero_point;
    int32_t out_mult;         /**< Q0.30 -> int8 h */
    int32_t out_shift;
} rnn_lstm_params_s16;

/** rnn_gru_gates_s16 and rnn_gru_cell_s16 */
typedef struct
{
    int32_t hidden;
    int32_t clip;
    int32_t linear_before_reset;
    const int16_t *bias;      /**< [3H] Q3.12 */
    const int16_t *bias2;     /**< linear_before_reset 1: Rb_h [H]; else NULL */
    const int16_t *lut0;      /**< f (z, r) */
    const int16_t *lut1;      /**< g (n) */
    int32_t h_zero_point;
    int32_t h15_mult;
    int32_t h15_shift;
    int32_t out_mult;         /**< Q0.15 -> int8 h */
    int32_t out_shift;
} rnn_gru_params_s16;

/** rnn_rnn_cell_s16 */
typedef struct
{
    int32_t hidden;
    int32_t clip;             /**< in the pre-activation's units (0: none) */
    const int16_t *bias;      /**< [H] Q3.12; ReLU: in the calibrated pre-activation scale */
    const int16_t *lut0;      /**< f by table (Q0.15 out); NULL: ReLU, max(pre, 0) */
    int32_t h_zero_point;
    int32_t out_mult;         /**< f's output (Q0.15, or ReLU: the pre-activation) -> int8 h */
    int32_t out_shift;
} rnn_rnn_params_s16;

/** rnn_fastrnn_cell_s16 and rnn_fastgrnn_cell_s16 */
typedef struct
{
    int32_t hidden;
    const int16_t *bias;      /**< FastRNN: [H] Q3.12; FastGRNN: NULL */
    const int16_t *bias2;     /**< FastGRNN: [bias_gate; bias_update]; FastRNN: NULL */
    const int16_t *lut0;      /**< FastRNN update, FastGRNN gate */
    const int16_t *lut1;      /**< FastGRNN update; FastRNN: NULL */
    int32_t s1;               /**< FastRNN sigmoid(alpha), FastGRNN sigmoid(zeta), Q0.15 */
    int32_t s2;               /**< FastRNN sigmoid(beta), FastGRNN sigmoid(nu), Q0.15 */
    int32_t h_zero_point;
    int32_t h15_mult;
    int32_t h15_shift;
    int32_t out_mult;
    int32_t out_shift;
} rnn_fast_params_s16;

/** rnn_sru_cell_s16. See docs/int8.md, "SRU". */
typedef struct
{
    int32_t hidden;
    int32_t cell_exp;         /**< cell state scale 2^-cell_exp */
    const int16_t *bias;      /**< [3H] or [4H] Q3.12: W x, f, r (, W_p x) */
    const int16_t *v;         /**< [2H] v_f, v_r */
    int32_t v_mult;           /**< v * c -> Q3.12 */
    int32_t v_shift;
    const int16_t *lut0;      /**< sigmoid */
    int32_t h_zero_point;
    int32_t out_mult;         /**< Q.15 -> int8 h */
    int32_t out_shift;
    int32_t projection;       /**< 1: the highway x' is W_p x (gx[3H:4H], Q3.12); 0: x */
    int32_t x_zero_point;     /**< zero point of the int8 input x */
    int32_t x15_mult;         /**< int8 x - x_zero_point -> Q.15 */
    int32_t x15_shift;
} rnn_sru_params_s16;

#endif /* RNN_NN_TYPES_H */
