"""rnn_conv_a16 (w8a16 / w4a16 Conv: int16 activations, int8 or packed int4 weights, int64
sums, CMSIS-NN's s64 requantization), compiled for each board and run where it runs, bit for
bit against a direct int64 NumPy convolution written here with the s64 requantization
written here too (m15 = (mult + 2^15) >> 16, round(acc m15 2^(shift - 15)) half up, not
quant.rq64): int8 and int16 outputs, int8 and int4 weights (packed by test_conv_s4_kernels'
own loop), 1-D and 2-D, groups, depthwise, stride, dilation, padding, odd windows, inputs
at -32768 / 32767 with full-scale weights (sums past 2^31: the int64 accumulator), shifts
that saturate and that shift left; the scratch exactly as the contract says."""

from __future__ import annotations

import numpy as np
import pytest

from tests.kernels.harness import c_array, run_on_board
from tests.kernels.test_conv_s4_kernels import pack
from tests.kernels.test_conv_s8_kernels import SHAPES, _out

BOARDS = ["host", "cortex-a73", "cortex-m4", "cortex-m55"]
PICK = [0, 1, 2, 3, 4, 6, 8, 17, 18, 23]


def _rq64(acc: int, mult: int, shift: int) -> int:
    m15 = (mult + (1 << 15)) >> 16
    p = acc * m15
    right = 15 - shift
    r = (p + (1 << (right - 1))) >> right if right > 0 else p << -right
    return max(-2**31, min(2**31 - 1, r))


def _want(x, w, bias, mult, shift, yzp, out16, shape):
    in_c, in_h, in_w, out_c, k_h, k_w, (sh, sw), (ph, pw), (dh, dw), g = shape
    oh_n, ow_n = _out(in_h, k_h, sh, ph, dh), _out(in_w, k_w, sw, pw, dw)
    cg, mg = in_c // g, out_c // g
    y = []
    for m in range(out_c):
        for oh in range(oh_n):
            for ow in range(ow_n):
                s = int(bias[m])
                for c in range(cg):
                    for kh in range(k_h):
                        for kw in range(k_w):
                            ih, iw = oh * sh - ph + kh * dh, ow * sw - pw + kw * dw
                            if 0 <= ih < in_h and 0 <= iw < in_w:
                                s += int(w[m, c, kh, kw]) * int(x[(m // mg) * cg + c, ih, iw])
                r = _rq64(s, int(mult[m]), int(shift[m]))
                y.append(max(-32768, min(32767, r)) if out16 else max(-128, min(127, r + yzp)))
    return np.array(y, np.int64)


@pytest.mark.parametrize("board", [pytest.param(b, marks=[] if b == "host" else
                                                [pytest.mark.qemu]) for b in BOARDS])
def test_conv_a16(tmp_path, board):
    rng = np.random.default_rng(116)
    decls, body, want = [], [], {}
    for k, i in enumerate(PICK):
        shape = SHAPES[i]
        in_c, in_h, in_w, out_c, k_h, k_w, (sh, sw), (ph, pw), (dh, dw), g = shape
        oh_n, ow_n = _out(in_h, k_h, sh, ph, dh), _out(in_w, k_w, sw, pw, dw)
        bits, out16 = (8, 4)[k % 2], k % 3 != 0
        lim = 127 if bits == 8 else 7
        x = rng.integers(-32768, 32768, (in_c, in_h, in_w)).astype(np.int16)
        w = rng.integers(-lim, lim + 1, (out_c, in_c // g, k_h, k_w)).astype(np.int8)
        if k % 4 == 0:  # the largest sums: past 2^31 for wide windows
            x[:] = -32768
            w[0] = lim
        yzp = (-128, 127, 0, 5)[k % 4]
        bias = rng.integers(-2**40, 2**40, out_c)
        mult = rng.integers(1 << 30, (1 << 31) - 1, out_c)
        shift = rng.integers(-30, -12, out_c)
        shift[0] = 0  # saturating
        if out_c > 2:
            shift[1] = 17  # right < 0: the left shift with its bounds
        n_out = out_c * oh_n * ow_n
        n = in_c // g * k_h * k_w
        yt, ydecl = ("int16_t", "NULL, y{k}") if out16 else ("int8_t", "y{k}, NULL")
        prm = ", ".join(str(v) for v in (in_c, in_h, in_w, out_c, oh_n, ow_n, k_h, k_w, sh, sw,
                                         ph, pw, dh, dw, g))
        decls += [c_array("const int16_t", f"x{k}", x.reshape(-1)),
                  c_array("const int8_t", f"w{k}", pack(w) if bits == 4 else w.reshape(-1)),
                  c_array("const int64_t", f"b{k}", bias),
                  c_array("const int32_t", f"m{k}", mult),
                  c_array("const int32_t", f"s{k}", shift),
                  f"static const rnn_window_params p{k} = {{{prm}}};",
                  f"static {yt} y{k}[{n_out}];", f"static int32_t t{k}[{n_out}];",
                  f"static int16_t c{k}[{3 * n + 2}];"]  # the contract's scratch, exactly
        body.append(f"{{ int i; rnn_conv_a16(&p{k}, x{k}, w{k}, {bits}, b{k}, m{k}, s{k}, "
                    f"{yzp}, {ydecl.format(k=k)}, c{k}); for (i = 0; i < {n_out}; ++i) "
                    f"t{k}[i] = y{k}[i]; PI(\"T{k}\", t{k}, {n_out}); }}")
        want[f"T{k}"] = _want(x, w, bias, mult, shift, yzp, out16, shape)
    got = run_on_board(board, tmp_path, ["ConvolutionFunctions/rnn_conv_a16.c"],
                       "\n".join(decls), "\n".join(body))
    assert set(got) == set(want)
    for tag, v in want.items():
        bad = np.flatnonzero(got[tag] != v)
        assert not bad.size, (board, tag, bad[:5], got[tag][bad[:5]], v[bad[:5]], v.size)
