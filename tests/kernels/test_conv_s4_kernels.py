"""rnn_conv_s4 (w4a8 Conv: int4 weights packed two per byte, int8 activations), compiled for
each board and run where it runs, bit for bit against the direct int64 NumPy convolution of
test_conv_s8_kernels (not quant.conv_s8), the weights packed here by a loop of their own
(value 2j of an output channel's window in the low nibble of its byte j, 2j + 1 in the high
one): windows of odd and even sizes (an odd window's last byte half empty), groups and
depthwise, stride, dilation, padding on every side, 1-D and 2-D, weights at -7 and 7 with
the extreme inputs and zero points, saturating requantization; the scratch exactly as large
as the contract says (one channel's window, int16)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.kernels.harness import c_array, run_on_board
from tests.kernels.test_conv_s8_kernels import SHAPES, _out, _want

BOARDS = ["host", "cortex-a73", "cortex-m4", "cortex-m55"]
# a spread of rnn_conv_s8's shapes: 2-D, 1-D, odd windows, groups, depthwise, dilation,
# padding larger than the kernel, a window of 565 values
PICK = [0, 1, 2, 3, 4, 5, 6, 8, 9, 17, 18, 23, 30]


def pack(w: np.ndarray) -> np.ndarray:
    """[M, ...] values in [-7, 7] -> M rows of ceil(n / 2) bytes."""
    rows = []
    for r in np.asarray(w, np.int64).reshape(w.shape[0], -1):
        b = []
        for j in range(0, len(r), 2):
            lo = int(r[j]) & 0xF
            hi = (int(r[j + 1]) & 0xF) if j + 1 < len(r) else 0
            b.append(lo | (hi << 4))
        rows += b
    return np.array(rows, np.uint8).view(np.int8)


@pytest.mark.parametrize("board", [pytest.param(b, marks=[] if b == "host" else
                                                [pytest.mark.qemu]) for b in BOARDS])
def test_conv_s4(tmp_path, board):
    rng = np.random.default_rng(114)
    decls, body, want = [], [], {}
    for k, i in enumerate(PICK):
        shape = SHAPES[i]
        in_c, in_h, in_w, out_c, k_h, k_w, (sh, sw), (ph, pw), (dh, dw), g = shape
        oh_n, ow_n = _out(in_h, k_h, sh, ph, dh), _out(in_w, k_w, sw, pw, dw)
        x = rng.integers(-128, 128, (in_c, in_h, in_w)).astype(np.int8)
        w = rng.integers(-7, 8, (out_c, in_c // g, k_h, k_w)).astype(np.int8)
        xzp, yzp = [(-128, 127), (127, -128), (0, 0), (-3, 5)][k % 4]
        if k % 3 == 0:  # the largest products
            x[:] = -128
            w[0] = 7
            w[-1] = -7
        bias = rng.integers(-3000, 3000, out_c)
        mult = rng.integers(1 << 30, (1 << 31) - 1, out_c)
        shift = rng.integers(-10, -2, out_c)
        shift[0] = 0  # requantization saturating
        if out_c > 1:  # saturating to int32 (then the zero point must not overflow)
            shift[1] = 30
        n_out = out_c * oh_n * ow_n
        n = in_c // g * k_h * k_w
        prm = ", ".join(str(v) for v in (in_c, in_h, in_w, out_c, oh_n, ow_n, k_h, k_w, sh, sw,
                                         ph, pw, dh, dw, g))
        decls += [c_array("const int8_t", f"x{k}", x.reshape(-1)),
                  c_array("const int8_t", f"w{k}", pack(w)),
                  c_array("const int32_t", f"b{k}", bias), c_array("const int32_t", f"m{k}", mult),
                  c_array("const int32_t", f"s{k}", shift),
                  f"static const rnn_window_params p{k} = {{{prm}}};",
                  f"static int8_t y{k}[{n_out}];", f"static int32_t t{k}[{n_out}];",
                  f"static int16_t c{k}[{3 * n + 2}];"]  # the contract's scratch, exactly
        body.append(f"{{ int i; rnn_conv_s4(&p{k}, x{k}, {xzp}, w{k}, b{k}, m{k}, s{k}, {yzp}, "
                    f"y{k}, c{k}); for (i = 0; i < {n_out}; ++i) t{k}[i] = y{k}[i]; "
                    f"PI(\"T{k}\", t{k}, {n_out}); }}")
        want[f"T{k}"] = _want(x, w, bias, mult, shift, xzp, yzp, shape)
    got = run_on_board(board, tmp_path, ["ConvolutionFunctions/rnn_conv_s4.c"],
                       "\n".join(decls), "\n".join(body))
    assert set(got) == set(want)
    for tag, v in want.items():
        assert np.array_equal(got[tag], v), (board, tag, got[tag], v)
    # the saturating channel and the extremes did occur
    assert any(np.any(np.abs(v) == 128) or np.any(v == 127) for v in want.values())
