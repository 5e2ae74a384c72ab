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
 *  or AVX-512, AArch64): each step of a row's sum then rounds once instead of twice. */
#if (defined(__AVX__) && defined(__FMA__)) || defined(__AVX512F__) ||     (defined(__ARM_NEON) && defined(__aarch64__))
#define RNN_MAT_VEC_FUSED 1
#else
#define RNN_MAT_VEC_FUSED 0
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
    RNN_ACT_SOFTPLUS = 10         /**< log(1 + e^x) */
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

#endif /* RNN_NN_TYPES_H */
