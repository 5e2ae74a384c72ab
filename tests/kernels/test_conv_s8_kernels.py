"""rnn_conv_s8's paths (issue 11's fast int8 convolution) and the int8 pooling / reduction
kernels, compiled for each board and run where it runs, bit for bit against direct int64
NumPy models written here (not quant.conv_s8): the two-channel x two-position column kernel
(Helium on cortex-m55, the SMLAD path on cortex-m4 / m7, NEON on cortex-a73: four int8
columns x four filters, or for windows of at most 16 values eight positions in the lanes;
plain C on the host)
on windows of every size modulo 4 and 8, odd position and channel counts (the last single
position / channel), groups and depthwise, stride, dilation, padding on both sides, a window
of 565 values (DeepConvLSTM's first layer: 113 channels x 5), extreme values and zero
points, the requantization's shift at the bounds of its fast path, the Helium path's tails
(1 to 3 positions left, windows not a multiple of 16, kernel rows longer than 16, every window
padded, windows of at most 16 values gathered or, spanning more than 256 input bytes,
copied); the small-window paths (at most 16 values: cortex-m4 / m7's int16 windows of 32
positions and its 3x3 single-channel assembly, cortex-m55's gathered windows, edge windows
by predicate and its assembly channel loop, which run only when every channel's shift is on
the fast path: the ALL_FAST shapes; its pairs of windows for an even number of output
columns, passes across output rows, the last one partial, rows longer than the ring) with
chunk tails, padding on every side, the word reads
at the input's end; the scratch exactly as large as the contract says; the int8 MaxPool
with padding that never wins; the int8 AveragePool's and ReduceMean's rounding (ties),
ReduceMax."""

from __future__ import annotations

import numpy as np
import pytest

from rnngen import quant
from tests.kernels.harness import c_array, run_on_board

I64 = np.int64
BOARDS = ["host", "cortex-a73", "cortex-m4", "cortex-m7", "cortex-m55"]

# (in_c, in_h, in_w, out_c, k_h, k_w, stride (h, w), pad (h, w), dilation (h, w), groups)
SHAPES = [
    (1, 9, 10, 8, 3, 3, (1, 2), (1, 1), (1, 1), 1),    # the CRNN's conv, small
    (8, 1, 12, 16, 1, 3, (1, 1), (0, 1), (1, 1), 1),   # 1-D, window 24
    (3, 1, 11, 5, 1, 5, (1, 1), (0, 2), (1, 1), 1),    # window 15, odd channels
    (4, 5, 7, 6, 2, 3, (2, 1), (1, 0), (1, 2), 2),     # groups, dilation, odd positions
    (6, 6, 6, 6, 3, 3, (1, 1), (1, 1), (1, 1), 6),     # depthwise: window 9
    (2, 4, 4, 3, 1, 1, (1, 1), (0, 0), (1, 1), 1),     # 1x1: window 2
    (1, 3, 3, 1, 3, 3, (1, 1), (2, 2), (1, 1), 1),     # padding larger than the kernel
    (32, 1, 9, 4, 1, 4, (1, 3), (0, 1), (1, 1), 1),    # window 128
    (113, 1, 8, 5, 1, 5, (1, 1), (0, 2), (1, 1), 1),   # window 565 (DeepConvLSTM's first)
    (7, 1, 13, 9, 1, 1, (1, 2), (0, 0), (1, 1), 1),    # window 7
    # the Helium path's four positions and 16-lane passes, the DSP path's word tails:
    (1, 6, 41, 8, 3, 3, (1, 2), (1, 1), (1, 1), 1),    # the CRNN's conv: 1 channel, 6 x 21
    (3, 1, 30, 7, 1, 20, (1, 1), (0, 3), (1, 1), 1),   # rows of 20 (> 16), padded, 7 filters
    (1, 1, 40, 3, 1, 17, (1, 1), (0, 0), (1, 1), 1),   # whole rows of 17, window 17
    (64, 1, 8, 5, 1, 5, (1, 1), (0, 0), (1, 1), 1),    # window 320 (20 x 16), 4 positions
    (5, 2, 9, 3, 2, 3, (1, 1), (0, 0), (1, 1), 1),     # window 30, 7 positions (4 + 3)
    (1, 1, 6, 2, 1, 1, (1, 1), (0, 0), (1, 1), 1),     # window 1, 6 positions (4 + 2)
    (16, 1, 7, 4, 1, 1, (1, 1), (0, 0), (1, 1), 1),    # window 16, one pass, 7 positions
    (2, 1, 20, 3, 1, 3, (1, 1), (0, 0), (1, 3), 1),    # dilated rows inside the input
    (3, 4, 4, 5, 3, 3, (2, 2), (2, 2), (1, 1), 1),     # every window padded, window 27
    (4, 10, 10, 3, 2, 2, (2, 2), (0, 0), (1, 1), 1),   # window 16 spanning 311 input bytes
    # the NEON path's column copies and tails: kernel rows of 8 to 15 bytes and of 16 or more
    # (overlapping copies), short rows near the input's end (copied in pieces), the last
    # channels' last pass from a copy of their weights (up to 15 of them: window 1), channel
    # blocks of 4 with 1 to 3 left
    (3, 1, 40, 9, 1, 12, (1, 1), (0, 0), (1, 1), 1),   # rows of 12, 9 filters, 29 positions
    (2, 1, 50, 6, 1, 21, (1, 1), (0, 0), (1, 1), 1),   # rows of 21: window 42
    (5, 3, 7, 3, 1, 3, (1, 1), (0, 0), (1, 1), 1),     # window 15, the last filter's copy
    (1, 1, 9, 20, 1, 1, (1, 1), (0, 0), (1, 1), 1),    # window 1: 15 filters' copies
    (6, 2, 9, 10, 2, 3, (1, 2), (0, 1), (1, 1), 2),    # groups of 5 filters (4 + 1)
    # the NEON lanes path (windows of at most 16 values, 8 positions a pass): stride 3
    # (lane loads), 5 filters (4 + 1); and the CRNN's conv at full width (stride 2)
    (2, 3, 40, 5, 2, 2, (1, 3), (0, 1), (1, 1), 1),
    (1, 5, 40, 8, 3, 3, (1, 2), (1, 1), (1, 1), 1),
    # the small-window path (window <= 16): 3x3 single channel with its word reads at the
    # input's end, chunks of 32 positions and their tails, padding on all sides, strides,
    # dilation; rows of three over channels; windows of every odd / even size
    (1, 7, 9, 5, 3, 3, (1, 1), (1, 1), (1, 1), 1),     # 63 positions (32 + 31), 5 filters
    (1, 8, 11, 3, 3, 3, (2, 3), (2, 1), (1, 1), 1),    # strides, padding 2 above / below
    (1, 9, 12, 4, 3, 3, (1, 2), (0, 2), (2, 1), 1),    # dilated rows, padding left / right
    (1, 5, 4, 7, 3, 3, (1, 1), (0, 0), (1, 1), 1),     # every window ends at a row's end
    (2, 4, 6, 3, 1, 3, (1, 1), (0, 1), (1, 1), 1),     # rows of three over 2 channels
    (5, 1, 9, 3, 1, 3, (1, 2), (0, 1), (1, 1), 1),     # 5 rows of three, window 15
    (3, 5, 5, 6, 1, 3, (2, 1), (0, 0), (1, 1), 3),     # groups of 1 channel x 1x3
    (2, 6, 6, 5, 2, 2, (1, 1), (1, 0), (1, 2), 1),     # window 8, dilation across
    (1, 2, 40, 9, 1, 5, (1, 1), (0, 2), (1, 1), 1),    # window 5 (odd), 80 positions
    (13, 1, 7, 4, 1, 1, (1, 1), (0, 0), (1, 1), 1),    # window 13, 1x1
    (4, 6, 6, 8, 3, 3, (1, 1), (1, 1), (1, 1), 4),     # groups of 1 channel, 3x3, 2 filters each
    # cortex-m55's pairs of windows, rows longer than its ring (36 pairs): a row in two parts
    (1, 3, 100, 4, 3, 3, (1, 1), (1, 1), (1, 1), 1),   # 50 pairs a row, edges left and right
    # every channel's requantization on the fast path (ALL_FAST below): the 3x3 single-channel
    # assembly of cortex-m4 / m7 for whole groups, odd and even position counts
    (1, 7, 9, 5, 3, 3, (1, 2), (1, 1), (1, 1), 1),     # 35 positions (32 + 3)
    (1, 11, 10, 4, 3, 3, (1, 1), (1, 0), (1, 1), 1),    # 88 positions, right edge inside
    (2, 6, 7, 6, 3, 3, (2, 1), (1, 1), (1, 1), 2),     # two groups of one channel
    # cortex-m55's pairs of windows (even out_w; its assembly channel loop on the fast path):
    # passes of 8 positions running on into the next output row, the last one partial, edges
    # left, top and bottom; groups; dilated columns with padding on the right
    (1, 7, 40, 8, 3, 3, (1, 2), (1, 1), (1, 1), 1),    # the CRNN's conv, 140 positions
    (2, 5, 12, 4, 3, 3, (1, 2), (1, 1), (1, 1), 2),    # groups: 30 positions each (3 x 8 + 6)
    (1, 6, 14, 3, 2, 3, (2, 1), (0, 2), (1, 2), 1),    # 6 columns x 2 rows a pair, 42 positions
    (1, 4, 100, 8, 3, 3, (1, 1), (1, 1), (1, 1), 1),   # rows of 50 pairs (ring: 36), 4 rows
]
ALL_FAST = set(range(len(SHAPES) - 7, len(SHAPES)))


def _scratch(window, out_c):
    """int16 values of the kernel's scratch (rnn_nnfunctions.h; plan_memory.conv_s8_scratch)."""
    if window <= 16:
        return 28 * out_c + 32 * (window + (window & 1)) + 2
    return 2 * (-(-window // 16) * 16) + 2 * out_c


def _out(n, k, s, p, d):
    return (n + 2 * p - d * (k - 1) - 1) // s + 1


def _want(x, w, bias, mult, shift, xzp, yzp, shape):
    """Direct convolution: padding is the real value 0 (adds nothing), int64 sums."""
    in_c, in_h, in_w, out_c, k_h, k_w, (sh, sw), (ph, pw), (dh, dw), g = shape
    oh_n, ow_n = _out(in_h, k_h, sh, ph, dh), _out(in_w, k_w, sw, pw, dw)
    cg, mg = in_c // g, out_c // g
    acc = np.zeros((out_c, oh_n, ow_n), I64)
    for m in range(out_c):
        for oh in range(oh_n):
            for ow in range(ow_n):
                s = int(bias[m])
                for c in range(cg):
                    for kh in range(k_h):
                        for kw in range(k_w):
                            ih, iw = oh * sh - ph + kh * dh, ow * sw - pw + kw * dw
                            if 0 <= ih < in_h and 0 <= iw < in_w:
                                s += int(w[m, c, kh, kw]) * (
                                    int(x[(m // mg) * cg + c, ih, iw]) - xzp)
                acc[m, oh, ow] = s
    y = quant.rq(acc, mult.reshape(-1, 1, 1), shift.reshape(-1, 1, 1)) + yzp
    return np.clip(y, -128, 127).reshape(-1)


@pytest.mark.parametrize("board", [pytest.param(b, marks=[] if b == "host" else
                                                [pytest.mark.qemu]) for b in BOARDS])
def test_conv_s8_paths(tmp_path, board):
    rng = np.random.default_rng(111)
    decls, body, want = [], [], {}
    for k, shape in enumerate(SHAPES):
        in_c, in_h, in_w, out_c, k_h, k_w, (sh, sw), (ph, pw), (dh, dw), g = shape
        oh_n, ow_n = _out(in_h, k_h, sh, ph, dh), _out(in_w, k_w, sw, pw, dw)
        x = rng.integers(-128, 128, (in_c, in_h, in_w)).astype(np.int8)
        w = rng.integers(-127, 128, (out_c, in_c // g, k_h, k_w)).astype(np.int8)
        xzp, yzp = [(-128, 127), (127, -128), (0, 0), (-3, 5)][k % 4]
        if k % 3 == 0:  # the largest products
            x[:] = -128
            w[0] = 127
        bias = rng.integers(-30000, 30000, out_c)
        mult = rng.integers(1 << 30, (1 << 31) - 1, out_c)
        shift = rng.integers(-14, -4, out_c)
        if k in ALL_FAST:  # the bounds of the DSP small-window path's fast requantization
            shift[0], shift[1] = -2, -23
        else:
            shift[0] = 0  # requantization saturating
            # the fast path's bounds (shift <= -2: s = -1 - shift in [1, 30]) and the general
            for i, v in zip(range(1, out_c), (-1, -2, -31)):
                shift[i] = v
        n_out = out_c * oh_n * ow_n
        prm = ", ".join(str(v) for v in (in_c, in_h, in_w, out_c, oh_n, ow_n, k_h, k_w, sh, sw,
                                         ph, pw, dh, dw, g))
        decls += [c_array("const int8_t", f"x{k}", x.reshape(-1)),
                  c_array("const int8_t", f"w{k}", w.reshape(-1)),
                  c_array("const int32_t", f"b{k}", bias), c_array("const int32_t", f"m{k}", mult),
                  c_array("const int32_t", f"s{k}", shift),
                  f"static const rnn_window_params p{k} = {{{prm}}};",
                  f"static int8_t y{k}[{n_out}];", f"static int32_t t{k}[{n_out}];",
                  # the scratch the kernel's contract asks for, exactly (ASan would see more)
                  f"static int16_t c{k}[{_scratch(in_c // g * k_h * k_w, out_c)}];"]
        body.append(f"{{ int i; rnn_conv_s8(&p{k}, x{k}, {xzp}, w{k}, b{k}, m{k}, s{k}, {yzp}, "
                    f"y{k}, c{k}); for (i = 0; i < {n_out}; ++i) t{k}[i] = y{k}[i]; "
                    f"PI(\"T{k}\", t{k}, {n_out}); }}")
        want[f"T{k}"] = _want(x, w, bias, mult, shift, xzp, yzp, shape)
    got = run_on_board(board, tmp_path, ["ConvolutionFunctions/rnn_conv_s8.c"],
                       "\n".join(decls), "\n".join(body))
    assert set(got) == set(want)
    for tag, v in want.items():
        assert np.array_equal(got[tag], v), (board, tag, got[tag], v)


# (in_c, in_h, in_w, k_h, k_w, stride (h, w), pad (h, w), dilation (h, w))
POOL_SHAPES = [(3, 5, 6, 2, 2, (2, 2), (1, 0), (1, 1)), (4, 1, 11, 1, 3, (1, 2), (0, 1), (1, 2)),
               (2, 3, 3, 3, 3, (1, 1), (1, 1), (1, 1)), (1, 1, 4, 1, 2, (1, 2), (0, 1), (1, 1))]


@pytest.mark.parametrize("board", [pytest.param(b, marks=[] if b == "host" else
                                                [pytest.mark.qemu]) for b in BOARDS])
def test_max_pool_s8(tmp_path, board):
    """rnn_max_pool_s8 against a direct NumPy maximum over the positions inside the input."""
    rng = np.random.default_rng(112)
    decls, body, want = [], [], {}
    for k, (in_c, in_h, in_w, k_h, k_w, (sh, sw), (ph, pw), (dh, dw)) in enumerate(POOL_SHAPES):
        oh_n, ow_n = _out(in_h, k_h, sh, ph, dh), _out(in_w, k_w, sw, pw, dw)
        x = rng.integers(-128, 128, (in_c, in_h, in_w)).astype(np.int8)
        x[0] = -128  # the smallest value still beats the padding
        zp = [5, -128, 127, 0][k]
        y = np.empty((in_c, oh_n, ow_n), I64)
        for c in range(in_c):
            for oh in range(oh_n):
                for ow in range(ow_n):
                    v = [int(x[c, oh * sh - ph + a * dh, ow * sw - pw + b * dw])
                         for a in range(k_h) for b in range(k_w)
                         if 0 <= oh * sh - ph + a * dh < in_h and 0 <= ow * sw - pw + b * dw < in_w]
                    y[c, oh, ow] = max(v) if v else zp
        n_out = y.size
        prm = ", ".join(str(v) for v in (in_c, in_h, in_w, in_c, oh_n, ow_n, k_h, k_w, sh, sw,
                                         ph, pw, dh, dw, 1))
        decls += [c_array("const int8_t", f"x{k}", x.reshape(-1)),
                  f"static const rnn_window_params p{k} = {{{prm}}};",
                  f"static int8_t y{k}[{n_out}];", f"static int32_t t{k}[{n_out}];"]
        body.append(f"{{ int i; rnn_max_pool_s8(&p{k}, {zp}, x{k}, y{k}); for (i = 0; i < "
                    f"{n_out}; ++i) t{k}[i] = y{k}[i]; PI(\"T{k}\", t{k}, {n_out}); }}")
        want[f"T{k}"] = y.reshape(-1)
    got = run_on_board(board, tmp_path, ["PoolingFunctions/rnn_max_pool_s8.c"],
                       "\n".join(decls), "\n".join(body))
    assert set(got) == set(want)
    for tag, v in want.items():
        assert np.array_equal(got[tag], v), (board, tag, got[tag], v)


def _avg_want(x, k_h, k_w, sh, sw, ph, pw, dh, dw, include_pad, zp):
    """Sum over count, half away from zero (CMSIS-NN avgpool_s8), in Python integers."""
    in_c, in_h, in_w = x.shape
    oh_n, ow_n = _out(in_h, k_h, sh, ph, dh), _out(in_w, k_w, sw, pw, dw)
    y = np.empty((in_c, oh_n, ow_n), I64)
    for c in range(in_c):
        for oh in range(oh_n):
            for ow in range(ow_n):
                v = [int(x[c, oh * sh - ph + a * dh, ow * sw - pw + b * dw])
                     for a in range(k_h) for b in range(k_w)
                     if 0 <= oh * sh - ph + a * dh < in_h and 0 <= ow * sw - pw + b * dw < in_w]
                s, n = sum(v), len(v)
                if include_pad:
                    s, n = s + (k_h * k_w - n) * zp, k_h * k_w
                if n == 0:
                    y[c, oh, ow] = zp
                else:
                    q = (abs(s) + n // 2) // n  # half away from zero
                    y[c, oh, ow] = q if s >= 0 else -q
    return y.reshape(-1)


@pytest.mark.parametrize("board", [pytest.param(b, marks=[] if b == "host" else
                                                [pytest.mark.qemu]) for b in BOARDS])
def test_avg_pool_s8(tmp_path, board):
    """rnn_avg_pool_s8 (both count modes) against the rounding written here, ties included."""
    rng = np.random.default_rng(113)
    decls, body, want = [], [], {}
    k = 0
    for shape in POOL_SHAPES:
        for include_pad in (0, 1):
            in_c, in_h, in_w, k_h, k_w, (sh, sw), (ph, pw), (dh, dw) = shape
            oh_n, ow_n = _out(in_h, k_h, sh, ph, dh), _out(in_w, k_w, sw, pw, dw)
            x = rng.integers(-128, 128, (in_c, in_h, in_w)).astype(np.int8)
            if k % 2 == 0:  # many ties: sums of odd values over even counts
                x = (rng.integers(-3, 3, x.shape) * 2 + 1).astype(np.int8)
            zp = [5, -128, 127, 0, -7, 3, 1, -1][k]
            n_out = in_c * oh_n * ow_n
            prm = ", ".join(str(v) for v in (in_c, in_h, in_w, in_c, oh_n, ow_n, k_h, k_w, sh, sw,
                                             ph, pw, dh, dw, 1))
            decls += [c_array("const int8_t", f"x{k}", x.reshape(-1)),
                      f"static const rnn_window_params p{k} = {{{prm}}};",
                      f"static int8_t y{k}[{n_out}];", f"static int32_t t{k}[{n_out}];"]
            body.append(f"{{ int i; rnn_avg_pool_s8(&p{k}, {include_pad}, {zp}, x{k}, y{k}); "
                        f"for (i = 0; i < {n_out}; ++i) t{k}[i] = y{k}[i]; "
                        f"PI(\"T{k}\", t{k}, {n_out}); }}")
            want[f"T{k}"] = _avg_want(x, k_h, k_w, sh, sw, ph, pw, dh, dw, include_pad, zp)
            k += 1
    got = run_on_board(board, tmp_path, ["PoolingFunctions/rnn_avg_pool_s8.c"],
                       "\n".join(decls), "\n".join(body))
    assert set(got) == set(want)
    for tag, v in want.items():
        assert np.array_equal(got[tag], v), (board, tag, got[tag], v)


@pytest.mark.parametrize("board", [pytest.param(b, marks=[] if b == "host" else
                                                [pytest.mark.qemu]) for b in BOARDS])
def test_reduce_s8(tmp_path, board):
    """rnn_reduce_s8 max and mean (ties: odd values over even counts) against Python."""
    rng = np.random.default_rng(114)
    decls, body, want = [], [], {}
    for k, (outer, n, inner, kind) in enumerate([(2, 4, 3, "MEAN"), (1, 6, 5, "MEAN"),
                                                 (3, 1, 2, "MEAN"), (2, 5, 3, "MAX"),
                                                 (1, 7, 1, "MAX"), (4, 2, 1, "MEAN")]):
        x = rng.integers(-128, 128, (outer, n, inner)).astype(np.int8)
        if k % 2 == 0:
            x = (rng.integers(-64, 64, x.shape) * 2 + 1).astype(np.int8)
        x[0, :, 0] = -128
        if kind == "MAX":
            y = x.astype(I64).max(axis=1)
        else:
            s = x.astype(I64).sum(axis=1)
            y = np.sign(s) * ((np.abs(s) + n // 2) // n)
        decls += [c_array("const int8_t", f"x{k}", x.reshape(-1)),
                  f"static int8_t y{k}[{y.size}];", f"static int32_t t{k}[{y.size}];"]
        body.append(f"{{ int i; rnn_reduce_s8(RNN_REDUCE_{kind}, {outer}, {n}, {inner}, x{k}, "
                    f"y{k}); for (i = 0; i < {y.size}; ++i) t{k}[i] = y{k}[i]; "
                    f"PI(\"T{k}\", t{k}, {y.size}); }}")
        want[f"T{k}"] = y.reshape(-1)
    got = run_on_board(board, tmp_path, ["BasicMathFunctions/rnn_reduce_s8.c"],
                       "\n".join(decls), "\n".join(body))
    assert set(got) == set(want)
    for tag, v in want.items():
        assert np.array_equal(got[tag], v), (board, tag, got[tag], v)
