"""The integer arithmetic of rnngen's int8 path, defined once in Python.

The C kernels (runtime_c, *_s8 / *_s16) implement exactly these functions, and reference_int.py
runs the model with them, so the C output equals the reference bit for bit. The scheme is the
8x8_16 one CMSIS-NN and TFLM use for LSTM: int8 weights with per-row symmetric scales, int8
activations with zero points, int32 accumulation, requantization by a Q31 multiplier and a
shift, gate pre-activations in int16 Q3.12, sigmoid/tanh in int16 (Q3.12 in, Q0.15 out), an
int16 cell state with a power-of-two scale. docs/int8.md states it in full.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

import numpy as np

from .errors import RnngenError

I64 = np.int64
GATE_FRAC = 12  # gate pre-activations: int16 Q3.12, real = q / 4096
ACT_FRAC = 15  # activation outputs: int16 Q0.15, real = q / 32768
LUT_SIZE = 513  # entries over [-8, 8] at steps of 2^-5


# --------------------------------------------------------------------------- scalars

@dataclass(frozen=True)
class QParams:
    """Affine int8 quantization of a tensor: real = scale * (q - zero_point)."""

    scale: float
    zero_point: int
    dtype = "int8"  # the C element type's name (class constant, not a field)


@dataclass(frozen=True)
class QState16:
    """An int16 tensor with a power-of-two scale and no zero point: the LSTM cell state
    (Y_c), real = q * 2^-exp."""

    exp: int
    dtype = "int16"
    zero_point = 0

    @property
    def scale(self) -> float:
        return 2.0 ** -self.exp


@dataclass(frozen=True)
class QParams16:
    """int16 activations (w8a16, the CMSIS-NN s16 scheme): symmetric, zero point 0,
    real = scale * q, scale = the calibrated largest magnitude / 32767."""

    scale: float
    dtype = "int16"
    zero_point = 0


def choose_qparams16(lo: float, hi: float, what: str) -> QParams16:
    """Symmetric int16 parameters covering [lo, hi] (and 0)."""
    amax = max(abs(lo), abs(hi))
    if not math.isfinite(amax):
        raise RnngenError(f"int8: {what}: the calibration range is not finite")
    if not amax > 0:
        raise RnngenError(f"int8: {what}: the calibration data gives a constant zero value; "
                          "give inputs that exercise the model (--calibrate)")
    return QParams16(float(np.float32(amax / 32767.0)))


def sat_act(v: np.ndarray, p: QParams | QParams16) -> np.ndarray:
    """Saturate to an activation tensor's type: int8, or int16 (w8a16)."""
    return sat16(v) if p.dtype == "int16" else sat8(v)


TensorQ = QParams | QParams16 | QState16  # what QuantPlan.tensors maps a tensor name to


def multiplier(real: float, what: str) -> tuple[int, int]:
    """(mult, shift) with real = mult * 2^(shift - 31), mult in [2^30, 2^31), shift in
    [-31, 30]; RnngenError naming `what` when the value is out of that range."""
    if not real > 0 or not math.isfinite(real):
        raise RnngenError(f"int8: {what}: requantization scale {real!r} is not positive")
    mant, exp = math.frexp(real)
    m = int(round(mant * (1 << 31)))
    if m == 1 << 31:
        m //= 2
        exp += 1
    if exp < -31:
        raise RnngenError(f"int8: {what}: requantization scale {real:.3g} underflows (below "
                          "2^-32); the weights or the calibration range are degenerate")
    if exp > 30:
        raise RnngenError(f"int8: {what}: requantization scale {real:.3g} overflows (above "
                          "2^30)")
    return m, exp


def rq(acc: np.ndarray | int, mult: np.ndarray | int, shift: np.ndarray | int) -> np.ndarray:
    """Requantize: round(acc * mult * 2^(shift - 31)), half up, saturated to int32.
    C: rnn_requantize() in rnn_nn_support.h (64-bit product, one rounding shift)."""
    acc = np.asarray(acc, I64)
    p = acc * np.asarray(mult, I64)
    right = 31 - np.asarray(shift, I64)
    r = (p + (np.left_shift(I64(1), right - 1))) >> right
    return np.clip(r, -2**31, 2**31 - 1).astype(I64)


def rshift_round(v: np.ndarray, n: int) -> np.ndarray:
    """Arithmetic right shift by n >= 0 with rounding half up. C: rnn_rshift_round()."""
    v = np.asarray(v, I64)
    if n == 0:
        return v
    return (v + (I64(1) << I64(n - 1))) >> I64(n)


def sat(v: np.ndarray, bits: int) -> np.ndarray:
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return np.clip(np.asarray(v, I64), lo, hi)


def sat8(v: np.ndarray) -> np.ndarray:
    return sat(v, 8)


def sat16(v: np.ndarray) -> np.ndarray:
    return sat(v, 16)


def q15(v: float) -> int:
    """A constant in [0, 1] as Q0.15 (1.0 saturates to 32767)."""
    return int(min(32767, max(-32768, round(v * 32768))))


# --------------------------------------------------------------------------- activations

def lut_table(fn: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """int16 table of fn over [-8, 8] at steps of 2^-5, output Q0.15 (fn must map into
    [-1, 1])."""
    x = -8.0 + np.arange(LUT_SIZE, dtype=np.float64) / 32.0
    return sat16(np.round(fn(x) * 32768.0)).astype(np.int16)


def lut(table: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Interpolated lookup of a Q3.12 int16 input. C: rnn_lut_s16()."""
    u = np.asarray(x, I64) + 32768
    idx = u >> 7
    frac = u & 127
    t = table.astype(I64)
    return t[idx] + (((t[idx + 1] - t[idx]) * frac + 64) >> 7)


def act_fn(name: str, alpha: float, beta: float) -> Callable[[np.ndarray], np.ndarray]:
    """The real function of an activation, float64, for tables (int8 supports those whose
    values lie in [-1, 1])."""
    fns: dict[str, Callable[[np.ndarray], np.ndarray]] = {
        "Sigmoid": lambda x: 1.0 / (1.0 + np.exp(-x)),
        "Tanh": np.tanh,
        "HardSigmoid": lambda x: np.clip(alpha * x + beta, 0.0, 1.0),
        "Softsign": lambda x: x / (1.0 + np.abs(x)),
        "ScaledTanh": lambda x: alpha * np.tanh(beta * x),
    }
    if name not in fns or (name == "ScaledTanh" and abs(alpha) > 1.0):
        raise RnngenError(f"int8: activation {name} has values outside [-1, 1]; int8 supports "
                          "Sigmoid, Tanh, HardSigmoid, Softsign and ScaledTanh with |alpha| <= 1 "
                          "(and Relu in an RNN cell)")
    return fns[name]


# --------------------------------------------------------------------------- tensors

def choose_qparams(lo: float, hi: float, what: str) -> QParams:
    """Asymmetric int8 parameters covering [lo, hi] and 0."""
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise RnngenError(f"int8: {what}: the calibration range is not finite")
    if hi - lo <= 0:
        raise RnngenError(f"int8: {what}: the calibration data gives a constant zero value; "
                          "give inputs that exercise the model (--calibrate)")
    scale = (hi - lo) / 255.0
    zp = int(round(-128 - lo / scale))
    return QParams(float(np.float32(scale)), int(max(-128, min(127, zp))))


def symmetric_scale(amax: float, levels: int, what: str) -> float:
    if not amax > 0 or not math.isfinite(amax):
        raise RnngenError(f"int8: {what}: the calibration range is empty (all zero)")
    return float(amax / levels)


def quantize_rows(w: np.ndarray, what: str, levels: int = 127
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Per-row symmetric int8: (w_q [m, n] int8, scale [m] float64), values in [-levels,
    levels] (127: int8 weights; 7: int4 weights, stored as int8 here). An all-zero row gets
    scale 1."""
    amax = np.max(np.abs(w.astype(np.float64)), axis=1) if w.size else np.zeros(w.shape[0])
    scale = np.where(amax > 0, amax / float(levels), 1.0)
    q = np.clip(np.round(w / scale[:, None]), -levels, levels).astype(np.int8)
    return q, scale


W4_LEVELS = 7  # int4 weights: symmetric, in [-7, 7] (-8 is never made)


def check_accumulator_s4(w_q: np.ndarray, what: str) -> None:
    """Prove that the int4 kernels' Cortex-M4/M7 sum, 16 (W x) + 128 (sum of x's even
    columns), fits int32 for every int8 x (rnn_mat_vec_s4_s16.c)."""
    n = w_q.shape[1] if w_q.ndim == 2 else 0
    bound = 16 * np.sum(np.abs(w_q.astype(I64)), axis=1) * 128 + 128 * 128 * ((n + 1) // 2)
    if bound.size and int(bound.max()) >= 2**31:
        raise RnngenError(f"int8: {what}: int4 weights: the int32 accumulator could overflow "
                          f"(bound {int(bound.max())}); the matrix is too wide for int4")


def a16_fits_int32(w_q: np.ndarray, corr: np.ndarray) -> bool:
    """Whether sum_j w[r, j] x[j] + corr[r] fits int32 for every int16 x and every row (the
    int16-activation kernels rnn_mat_vec_a16_* then accumulate in int32; otherwise the
    matrix takes the int64 ones, rnn_mat_vec_a16_wide and its _s8 variant, and rq64)."""
    bound = np.sum(np.abs(w_q.astype(I64)), axis=1) * 32768 + np.abs(corr.astype(I64))
    return not (bound.size and int(bound.max()) >= 2**31)


def check_accumulator_a16(w_q: np.ndarray, corr: np.ndarray, what: str) -> None:
    """Prove that sum_j w[r, j] x[j] + corr[r] fits int32 for every int16 x (the int32
    kernels' contract)."""
    if not a16_fits_int32(w_q, corr):
        raise RnngenError(f"int8: {what}: int16 activations: the int32 accumulator could "
                          "overflow (a row's bound reaches 2^31); the int64 kernels "
                          "(rnn_mat_vec_a16_wide) take this matrix")


A16_WIDE_COLS = 1 << 16  # the int64 kernels: |sum| < 127 * 32768 * 2^16 + 2^31 < 2^47


def rq64(acc: np.ndarray | int, mult: np.ndarray | int, shift: np.ndarray | int
         ) -> np.ndarray:
    """Requantize an int64 sum (|acc| < 2^47; the int64 int16-activation kernels), as
    CMSIS-NN's arm_nn_requantize_s64: the multiplier reduced to Q15, m15 = (mult + 2^15) >>
    16, then round(acc * m15 * 2^(shift - 15)) half up, saturated to int32 (the product
    below 2^62: exact in 64 bits). C: rnn_nn_support.h's rnn_requantize_s64."""
    acc = np.asarray(acc, I64)
    m15 = (np.asarray(mult, I64) + (1 << 15)) >> 16
    p = acc * m15
    right = 15 - np.asarray(shift, I64)
    pos = np.maximum(right, 1)
    down = (p + (np.left_shift(I64(1), pos - 1))) >> pos
    k = np.maximum(-right, 0)
    lo, hi = np.right_shift(I64(-2**31), k), np.right_shift(I64(2**31 - 1), k)
    up = np.where(p > hi, 2**31 - 1, np.where(p < lo, -2**31, np.clip(p, lo, hi) << k))
    r = np.where(right > 0, down, up)
    return np.clip(r, -2**31, 2**31 - 1).astype(I64)


def quantize_tensor(w: np.ndarray) -> tuple[np.ndarray, float]:
    """Per-tensor symmetric int8."""
    amax = float(np.max(np.abs(w.astype(np.float64)))) if w.size else 0.0
    scale = amax / 127.0 if amax > 0 else 1.0
    return np.clip(np.round(w / scale), -127, 127).astype(np.int8), scale


def quantize_input(x: np.ndarray, p: QParams | QParams16 | None) -> np.ndarray:
    """float -> int8 as the C does it: v = x * (1/scale) in float32, rounded half to even
    (lrintf), plus the zero point, saturated. C: rnn_quantize_s8(). p None: the input is
    token ids, int32 at the C API whatever --io is. A QParams16 (an int16 input, w8a16):
    the same without zero point, saturated to int16 (rnn_quantize_s16())."""
    if p is None:
        return np.rint(np.asarray(x, np.float64)).astype(np.int32)
    if p.dtype == "int16":  # w8a16: C rnn_quantize_s16(), symmetric
        inv = np.float32(1.0 / p.scale)
        v = np.clip(np.asarray(x, np.float32) * inv, np.float32(-65536), np.float32(65536))
        return sat16(np.rint(v).astype(I64)).astype(np.int16)
    inv = np.float32(1.0 / p.scale)
    v = np.clip(np.asarray(x, np.float32) * inv, np.float32(-1e6), np.float32(1e6))
    return sat8(np.rint(v).astype(I64) + p.zero_point).astype(np.int8)


def quantize_state16(x: np.ndarray, p: QState16) -> np.ndarray:
    """float -> int16 cell state as the C does it: x * 2^exp in float32 (exact), rounded half
    to even, saturated. C: rnn_quantize_s16() (<name>_set_state)."""
    v = np.clip(np.asarray(x, np.float32) * np.float32(2.0 ** p.exp), np.float32(-65536),
                np.float32(65536))
    return sat16(np.rint(v).astype(I64)).astype(np.int16)


def dequantize(q: np.ndarray, p: QParams | QState16) -> np.ndarray:
    """Integers -> float as the C does it: (q - zero_point) * scale in float32.
    C: rnn_dequantize_s8() (int8), rnn_dequantize_s16() (int16, zero point 0)."""
    return (np.asarray(q, np.int64) - p.zero_point).astype(np.float32) * np.float32(p.scale)


def check_accumulator(w_q: np.ndarray, corr: np.ndarray, what: str) -> None:
    """Prove that sum_j w[r, j] x[j] - corr[r] fits int32 for every int8 x."""
    bound = np.sum(np.abs(w_q.astype(I64)), axis=1) * 128 + np.abs(corr.astype(I64))
    if bound.size and int(bound.max()) >= 2**31:
        raise RnngenError(f"int8: {what}: the int32 accumulator could overflow (row sum bound "
                          f"{int(bound.max())}); the matrix is too wide for one int32 sum")


# --------------------------------------------------------------------------- matrices
#
# A quantized matrix maps an int8 input vector (with the input's zero point folded into an
# int32 offset per row) to int32 values already requantized to the consumer's domain (int16
# Q3.12 for gate pre-activations, or an int8 output before its zero point); the consumer
# saturates. Each format (formats/) defines its int8 matrix, its quantization and its kernel.

if TYPE_CHECKING:
    from .formats import QMatrix


# --------------------------------------------------------------------------- nodes

@dataclass(frozen=True, eq=False)
class QDirection:
    W: QMatrix  # -> Q3.12
    R: QMatrix  # -> Q3.12 (GRU with linear_before_reset 0: the z and r rows only)
    Rh: QMatrix | None  # GRU with linear_before_reset 0: the h rows, applied to r * h
    bias: np.ndarray  # int16 [G H] Q3.12, added to every gate
    bias2: np.ndarray | None  # GRU lbr 1: Rb_h [H]; FastGRNN: [bias_gate; bias_update]
    peephole: np.ndarray | None  # int16 [3H] (i, o, f), symmetric per tensor
    pm: int  # peephole * c -> Q3.12
    ps: int
    h0: np.ndarray  # int8 [H]
    c0: np.ndarray | None  # int16 [H] (LSTM), scale 2^-cell_exp
    luts: tuple[np.ndarray, ...]  # one int16 table per activation, in the cell's order
    fast: tuple[int, int]  # FastRNN (sigmoid(alpha), sigmoid(beta)), FastGRNN (zeta, nu): Q0.15


@dataclass(frozen=True, eq=False)
class QRecurrent:
    cell: str
    hidden: int
    x: QParams  # input
    h: QParams  # hidden state and Y / Y_h
    cell_exp: int  # LSTM: the cell state is int16 with scale 2^-cell_exp
    clip: int  # Q3.12 clip bound (0: none)
    input_forget: bool
    lbr: bool
    out_mult: int  # activation product (LSTM Q0.30, others Q0.15) -> int8 h
    out_shift: int
    h15_mult: int  # int8 h -> Q0.15 (GRU and the Fast cells)
    h15_shift: int
    directions: tuple[QDirection, ...]


@dataclass(frozen=True, eq=False)
class QLinear:
    w: QMatrix  # offset includes the bias; result + out.zero_point, saturated to int8
    x: QParams
    out: QParams


@dataclass(frozen=True, eq=False)
class QFloatLayer:
    """A recurrent, Linear or Conv layer in float32 inside an integer model (--precision
    LAYER=float32): its weights, state and arithmetic stay float (the float kernels); its
    int8 / int16 input is dequantized with `x` on entry and each output is quantized with
    its own tensor's parameters on exit (`outs`, None where unused: Y and Y_h with the
    calibrated hidden-state parameters, an LSTM's Y_c as the int16 cell state with scale
    2^-cell_exp). docs/int8.md, "float32 layers"."""

    x: QParams | QParams16
    outs: tuple[TensorQ | None, ...]
    cell_exp: int = 0


@dataclass(frozen=True, eq=False)
class QConv:
    """An int8 convolution, CMSIS-NN style: per-output-channel symmetric int8 weights, the
    input's zero point subtracted tap by tap (padding is the real value 0, so it adds
    nothing), an int32 bias in units of w_scale[m] * x.scale, Q31 requantization per output
    channel, the output's zero point, saturation to int8 (conv_s8)."""

    w: np.ndarray  # int8 [M, C/group, *kernel]
    bias: np.ndarray  # int32 [M] (int16 input: int64)
    mult: np.ndarray  # int32 [M]
    shift: np.ndarray  # int32 [M]
    x: QParams  # or QParams16: an int16 input (w8a16 / w4a16 Conv, conv_a16)
    out: QParams  # or QParams16: an int16 output (w8a16 / w4a16 Conv whose readers take it)
    bits: int = 8  # 4: int4 weights (w4a8), values in [-7, 7], stored packed (rnn_conv_s4)


def quantize_conv(W: np.ndarray, b: np.ndarray | None, x: QParams, out: QParams,
                  what: str, bits: int = 8) -> QConv:
    """Per-output-channel int8 weights and requantization of a Conv; bits=4: int4 weights,
    per output channel symmetric in [-W4_LEVELS, W4_LEVELS] (as quantize_rows for a w4a8
    matrix), the same integer arithmetic (conv_s8)."""
    M = W.shape[0]
    wq, sw = quantize_rows(W.reshape(M, -1).astype(np.float64), what,
                           W4_LEVELS if bits == 4 else 127)
    if bits == 4:  # a one-window Conv runs the int4 matrix kernel (rnn_mat_vec_s4)
        check_accumulator_s4(wq, what)
    bias = np.zeros(M, I64) if b is None else \
        np.round(b.astype(np.float64) / (sw * x.scale)).astype(I64)
    # int8 x: |x - zero point| <= 255, the sum of one output must fit int32 (int4 weights:
    # 256, rnn_conv_s4 sums w x and the zero point's term apart); int16 x (conv_a16):
    # |x| <= 32768, the int64 sum must stay below 2^47 (rq64's exactness)
    a16 = x.dtype == "int16"
    bound = np.sum(np.abs(wq.astype(I64)), axis=1) * (32768 if a16 else
                                                      256 if bits == 4 else 255) + np.abs(bias)
    if bound.size and int(bound.max()) >= (2**47 if a16 else 2**31):
        raise RnngenError(f"int8: {what}: the {'int64' if a16 else 'int32'} accumulator "
                          f"could overflow (bound {int(bound.max())})")
    ms = [multiplier(float(r), what) for r in sw * x.scale / out.scale]
    return QConv(wq.reshape(W.shape), bias,
                 np.array([m for m, _ in ms], I64), np.array([s for _, s in ms], I64), x, out,
                 bits)


def conv_s8(q: QConv, windows: np.ndarray, group: int) -> np.ndarray:
    """The int8 outputs [M, *out] of one Conv from the input's windows [C, *kernel, *out]
    (quantized input values, the input's zero point in the padding). C: rnn_conv_s8()."""
    M, cg = q.w.shape[0], q.w.shape[1]
    mg = M // group
    k = q.w.ndim - 2
    out_sp = windows.shape[1 + k:]
    d = windows.astype(I64) - q.x.zero_point
    acc = np.empty((M,) + tuple(out_sp), I64)
    for g in range(group):
        wg = q.w[g * mg:(g + 1) * mg].reshape(mg, -1).astype(I64)
        xg = d[g * cg:(g + 1) * cg].reshape(wg.shape[1], -1)
        acc[g * mg:(g + 1) * mg] = (wg @ xg).reshape((mg,) + tuple(out_sp))
    shp = (M,) + (1,) * k
    acc = acc + q.bias.reshape(shp)
    y = rq(acc, q.mult.reshape(shp), q.shift.reshape(shp)) + q.out.zero_point
    return sat8(y)


def conv_a16(q: QConv, windows: np.ndarray, group: int) -> np.ndarray:
    """The outputs [M, *out] of a Conv reading int16 (w8a16 / w4a16; CMSIS-NN's
    convolve_s16): windows [C, *kernel, *out] of int16 values (0 in the padding, zero point
    0), acc = bias + sum w x exact in int64, requantized by rq64; int16 output
    sat16(rq64(acc)), int8 output sat8(rq64(acc) + zero point). C: rnn_conv_a16()."""
    M, cg = q.w.shape[0], q.w.shape[1]
    mg = M // group
    k = q.w.ndim - 2
    out_sp = windows.shape[1 + k:]
    d = windows.astype(I64)
    acc = np.empty((M,) + tuple(out_sp), I64)
    for g in range(group):
        wg = q.w[g * mg:(g + 1) * mg].reshape(mg, -1).astype(I64)
        xg = d[g * cg:(g + 1) * cg].reshape(wg.shape[1], -1)
        acc[g * mg:(g + 1) * mg] = (wg @ xg).reshape((mg,) + tuple(out_sp))
    shp = (M,) + (1,) * k
    y = rq64(acc + q.bias.reshape(shp), q.mult.reshape(shp), q.shift.reshape(shp))
    return sat16(y) if q.out.dtype == "int16" else sat8(y + q.out.zero_point)


def exp_table(scale: float) -> np.ndarray:
    """The fixed-point e^x of the int8 softmax and attention pooling: int64 [256],
    round(e^(-k * scale) * 2^16) for k = max - x in [0, 255] (entry 0 is EXP_ONE)."""
    return np.round(np.exp(-np.arange(256) * float(scale)) * 65536.0).astype(I64)


EXP_ONE = 65536  # exp_table[0]: e^0 in Q16
ATT_L_MAX = 1 << 22  # attention: l and a are halved (x + 1) when l reaches this
ATT_X_MAX = 16  # the weights' shift x stops here (e = EXP_ONE >> x >= 1)


@dataclass(frozen=True, eq=False)
class QSoftmax:
    exp_table: np.ndarray  # int32 [256]: round(exp(-k * input scale) * 2^16)
    out: QParams  # scale 1/256, zero point -128


@dataclass(frozen=True, eq=False)
class QLut8:
    table: np.ndarray  # int8 [256]: the activation of every int8 input value
    out: QParams


@dataclass(frozen=True, eq=False)
class QReduceSum:
    """An int8 sum requantized to its output's scale: M = x.scale / out.scale."""
    mult: int
    shift: int
    x: QParams
    out: QParams

    def finish(self, total: np.ndarray, count: int) -> np.ndarray:
        """The int8 output of raw int8 values summing to `total` over `count` values.
        C: rnn_reduce_sum_s8(), rnn_running_reduce_s8()."""
        d = np.clip(np.asarray(total, I64) - count * self.x.zero_point, -2**31, 2**31 - 1)
        return sat8(rq(d, self.mult, self.shift) + self.out.zero_point)


# --------------------------------------------------------------------------- LayerNorm
#
# int8 LayerNormalization (and InstanceNormalization, lowered to it): per block of n int8
# values with d = x - zp_in, S = sum d, Q = sum d^2 (int32), V = n Q - S^2 = n^2 var(d)
# (int64, exact); W = V 2^16 + E with E = round(n^2 eps 2^16 / x.scale^2) (epsilon in the
# input's integer units, build time); 1/sqrt(W) by LN_RSQRT_ITERS fixed-point Newton steps
# from a 12-entry seed; the normalized value in Q16 zq = round_half_up((n d - S) r 2^-s);
# then y = sat8((zq G + K) >> 32), the high word of one 64-bit multiply-add: G the scale
# over the output's scale in Q16, K = B 2^16 + 2^31 + zp_out 2^32 with B the bias over the
# output's scale in Q16 (the rounding half up and the zero point folded in; build time).
# C: rnn_layer_norm_s8(). docs/int8.md states it in full.

LN_EPS_FRAC = 16  # W = V 2^16 + E: epsilon resolved to 2^-16 of V's unit
LN_Z_FRAC = 16  # the normalized value zq: Q16 (|z| <= sqrt(n - 1) < 2^8)
LN_MAX_N = 32768  # Q = sum d^2 <= 65025 n stays below 2^31; |n d - S| below 2^24
LN_RSQRT_ITERS = 3
# the Q29 seeds of rsqrt(a), a = m / 2^30 in [0.25, 1), at the middles of a's sixteenths 4..15
LN_RSQRT_SEED = tuple(int(round(2**29 / math.sqrt((k + 0.5) / 16))) for k in range(4, 16))


def rsqrt_q29(w: int) -> tuple[int, int]:
    """(r, e) with 1/sqrt(w) ~= r 2^-(44 + e/2) for an integer 1 <= w < 2^63: w normalized
    by the even shift e that puts m in [2^28, 2^30) (m = w >> e, truncating, or w << -e),
    r the Q29 reciprocal square root of m / 2^30 by LN_RSQRT_ITERS Newton steps
    r <- r (3 - a r^2) / 2 (every product floored to its Q-format; r <= 2^30). Relative
    error below 3e-9. C: rnn_layer_norm_s8.c's rnn_layer_norm_s8_rsqrt."""
    e = int(w).bit_length() - 30
    e += e & 1  # even
    m = int(w) >> e if e >= 0 else int(w) << -e
    r = LN_RSQRT_SEED[(m >> 26) - 4]
    for _ in range(LN_RSQRT_ITERS):
        r2 = (r * r) >> 29
        ar2 = (m * r2) >> 30
        r = (r * (3 * (1 << 29) - ar2)) >> 30
    return r, e


@dataclass(frozen=True, eq=False)
class QLayerNorm:
    """An int8 layer normalization of blocks of n values (layer_norm_s8). gamma and bias
    hold n values, or one for every value (InstanceNormalization's unit scale, zero bias)."""

    n: int
    eps: int  # E = round(n^2 eps 2^16 / x.scale^2), int64 below 2^62
    gamma: np.ndarray  # int32 [n] or [1]: G = round(scale / out.scale 2^16)
    bias: np.ndarray  # int64 [n] or [1]: K = B 2^16 + 2^31 + out.zero_point 2^32, with
    #                   B = round(bias / out.scale 2^16) saturated to int32
    x: QParams
    out: QParams


def quantize_layer_norm(scale: np.ndarray, bias: np.ndarray, eps: float, x: QParams,
                        out: QParams, what: str) -> QLayerNorm:
    n = int(scale.size)
    if n > LN_MAX_N:
        raise RnngenError(f"int8: {what}: blocks of {n} values; int8 normalizes at most "
                          f"{LN_MAX_N} values per block (the int32 sum of squares)")
    e = round(n * n * float(eps) * 2.0**LN_EPS_FRAC / (x.scale * x.scale))
    if not e < 2**62:
        raise RnngenError(f"int8: {what}: epsilon {eps:.3g} is too large for the input's "
                          f"scale {x.scale:.3g} (n^2 epsilon / scale^2 reaches 2^46): it "
                          "would drown every variance the input can have")
    g = np.round(scale.astype(np.float64) / out.scale * 2.0**LN_Z_FRAC)
    if g.size and float(np.max(np.abs(g))) > 2**31 - 1:
        raise RnngenError(f"int8: {what}: scale / output scale "
                          f"{float(np.max(np.abs(g))) / 2**LN_Z_FRAC:.3g} overflows (2^15)")
    B = np.clip(np.round(bias.astype(np.float64) / out.scale * 2.0**LN_Z_FRAC),
                -2**31, 2**31 - 1).astype(I64)
    G = g.astype(I64)
    K = B * 2**16 + 2**31 + out.zero_point * 2**32
    if G.size and np.all(G == G[0]) and np.all(K == K[0]):
        G, K = G[:1], K[:1]  # one value for all
    return QLayerNorm(n, int(e), G, K, x, out)


def layer_norm_s8(q: QLayerNorm, x: np.ndarray) -> np.ndarray:
    """The int8 outputs of blocks x [rows, n] (int8 values). C: rnn_layer_norm_s8()."""
    d = np.asarray(x, I64).reshape(-1, q.n) - q.x.zero_point
    out = np.empty_like(d)
    for i, row in enumerate(d):
        S, Q = int(row.sum()), int((row * row).sum())
        w = max(1, ((q.n * Q - S * S) << LN_EPS_FRAC) + q.eps)
        r, e = rsqrt_q29(w)
        s = 20 + e // 2  # 44 + e/2 - 8 (the 2^8 of W's 2^16) - 16 (zq's Q16)
        zq = (((q.n * row - S) * r) + (I64(1) << I64(s - 1))) >> I64(s)
        out[i] = sat8((zq * q.gamma + q.bias) >> I64(32))
    return out


@dataclass(frozen=True, eq=False)
class QAttentionPool:
    """int8 attention pooling, an integer online softmax over the pooled axis (whole sequences
    and streaming alike, so `_step` T times equals `_run` bit for bit). Per score: the running
    maximum m (int8), the normalizer l (int32) and the weights' shift x; per output the
    weighted sum a (int32). The steps are folded in order: a score above m first rescales l
    and a by c = exp_table[s - m] ((l c + 2^15) >> 16, the same for a) and becomes m; then
    e = exp_table[m - s] >> x (rounded half up), l += e, a += e (v - v.zero_point); when l
    reaches ATT_L_MAX, l and a are halved (rounded half up) and x grows by one (up to
    ATT_X_MAX), so every weight keeps its place relative to the others and everything fits
    int32 (|a| <= 255 l + 255 * 129). Output: r = |a| 2^16 / l rounded half up, with a's sign
    (the weighted mean of v - zp in Q16), y = sat8(zp_out + rq(r, mult, shift)), mult / shift
    the multiplier of v.scale / out.scale / 2^16.
    C: rnn_attention_pool_s8(), rnn_running_attention_pool_s8()."""

    exp_table: np.ndarray  # int64 [256]: exp_table(s.scale), the softmax's
    s: QParams  # scores
    v: QParams  # values
    out: QParams
    mult: int
    shift: int

    def steps(self, state: tuple[np.ndarray, ...] | None, s: np.ndarray, v: np.ndarray
              ) -> tuple[np.ndarray, ...]:
        """Fold steps s [n, ...], v [n, ...] (int8 values of the same shape, in order) into
        the state (m, l, x, a: arrays of the shape of one step; None: nothing seen yet)."""
        t = self.exp_table
        s, v = np.asarray(s, I64), np.asarray(v, I64)
        if state is None:  # the first step starts at its own score with nothing summed
            z = np.zeros_like(s[0])
            m, l, x, a = s[0].copy(), z, z, z
        else:
            m, l, x, a = (np.asarray(w, I64).copy() for w in state)
        for k in range(s.shape[0]):
            sk = s[k]
            grow = sk > m
            c = np.where(grow, t[np.clip(sk - m, 0, 255)], EXP_ONE)
            l = np.where(grow, (l * c + (1 << 15)) >> 16, l)
            a = np.where(grow, (a * c + (1 << 15)) >> 16, a)
            m = np.maximum(m, sk)
            e = t[m - sk]
            e = np.where(x > 0, (e + (I64(1) << np.maximum(x - 1, 0))) >> x, e)
            l = l + e
            a = a + e * (v[k] - self.v.zero_point)
            big = l >= ATT_L_MAX
            l = np.where(big, (l + 1) >> 1, l)
            a = np.where(big, (a + 1) >> 1, a)
            x = np.where(big, np.minimum(x + 1, ATT_X_MAX), x)
        return m, l, x, a

    def finish(self, l: np.ndarray, a: np.ndarray) -> np.ndarray:
        """The int8 outputs of the state's l and a (the same shape)."""
        l, a = np.asarray(l, I64), np.asarray(a, I64)
        r = (np.abs(a) * 65536 + l // 2) // l
        return sat8(rq(np.where(a < 0, -r, r), self.mult, self.shift) + self.out.zero_point)


@dataclass(frozen=True, eq=False)
class QEmbedding:
    table: np.ndarray  # int8 [rows, dim], quantized with the output's parameters
    out: QParams


@dataclass(frozen=True, eq=False)
class QuantPlan:
    tensors: dict[str, TensorQ]  # tensor name -> QParams (int8), QState16 (Y_c)
    # node name -> QRecurrent | QLinear | QSoftmax | QLut8 | QEmbedding | QConv (Conv,
    # BatchNormalization) | QReduceSum | QLayerNorm | QAttentionPool | int (a Pad's fill value)
    nodes: dict
    input: QParams | None  # None: token ids (int32 as they are)
    io: str  # "float": float input/outputs at the API; "int8": int8
    calibration: str  # what the ranges came from
    warnings: tuple[str, ...] = ()
    # node name -> precision name (codegen/precision.py) of the layers with weights whose
    # precision is not the default w8a8 (--precision); the cost model reads it (cost.py)
    precisions: dict = field(default_factory=dict)
