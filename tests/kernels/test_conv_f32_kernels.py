"""rnn_conv_f32 compiled for each board and run where it runs, bit for bit against a direct
model of its summation written here: each output is bias (or 0), then channel by channel,
kernel row by row, tap by tap over the taps inside the input (zero padding skipped), in
float32, one rounding per multiply-add where the kernel fuses them (the NEON path of
AArch64, cortex-a73: FMLA by lane over four output positions, fmaf at the edges) and two
elsewhere (the plain loop: -std=c99 never contracts a * b + c). Every board's results are
also checked within the float rounding of the exact sum (at most two roundings per tap, each
of at most half an ulp of a value no larger than sum |terms|: |error| <= n 2^-23 sum |terms|,
n the taps inside), so the fused results stay within float rounding of the plain loop's.

Shapes cover the NEON path's blocks and tails: the window path (taps four at a time across
kernel rows, up to 1024 taps) and the row path (rows cut by the padding along h, larger
windows), stride 1 (LD1), stride 2 with dilation 1 (one
LD2 for two taps; the last row of the last channel, where LD2 would read past the input,
gathered instead), other strides and dilations (four lane loads), kernel rows of 1 to 9 taps
(four, two and one at a time), channel blocks of 8, 4 and 1 (13 = 8 + 4 + 1, 7 = 4 + 1 + 1 +
1), groups and depthwise, rows of fewer than four positions, the last block of a row
overlapping the one before it, padding on both sides (rows restricted, edge positions one at
a time), no bias."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from tests.kernels.harness import c_array, run_on_board
from tests.kernels.test_kernels import _round32

F32 = np.float32
BOARDS = ["host", "cortex-a73", "cortex-m4", "cortex-m55"]

# (in_c, in_h, in_w, out_c, k_h, k_w, stride (h, w), pad (h, w), dilation (h, w), groups, bias)
SHAPES = [
    (1, 9, 14, 8, 3, 3, (1, 2), (1, 1), (1, 1), 1, True),    # the CRNN's conv: LD2, 8 channels
    (5, 1, 12, 13, 1, 5, (1, 1), (0, 0), (1, 1), 1, True),   # DeepConvLSTM-like: LD1, 8 + 4 + 1
    (3, 1, 11, 7, 1, 4, (1, 1), (0, 2), (1, 1), 1, False),   # 4 + 1 + 1 + 1, padded, no bias
    (2, 4, 19, 4, 2, 6, (1, 2), (1, 2), (1, 1), 1, True),    # rows of 6 (4 + 2), LD2 padded
    (4, 5, 13, 6, 2, 3, (2, 1), (1, 0), (1, 2), 2, True),    # groups, dilated along w
    (6, 6, 9, 6, 3, 3, (1, 1), (1, 1), (1, 1), 6, True),     # depthwise: one channel a block
    (2, 3, 17, 9, 1, 7, (1, 3), (0, 1), (1, 1), 1, True),    # stride 3: gathered, rows of 7
    (3, 2, 21, 4, 2, 2, (1, 2), (0, 0), (1, 2), 1, True),    # stride 2, dilation 2: gathered
    (2, 3, 5, 8, 2, 2, (1, 1), (1, 1), (1, 1), 1, True),     # rows of 6 positions (4 + overlap)
    (1, 2, 3, 5, 1, 3, (1, 1), (0, 1), (1, 1), 1, True),     # rows of 3 positions: one at a time
    (2, 1, 30, 8, 1, 9, (1, 2), (0, 4), (1, 1), 1, True),    # rows of 9 (4 + 4 + 1), LD2
    (3, 1, 10, 4, 1, 1, (1, 1), (0, 0), (1, 1), 1, True),    # 1x1
    (1, 3, 3, 2, 3, 3, (1, 1), (2, 2), (1, 1), 1, True),     # padding larger than the kernel
    (1, 4, 12, 1, 2, 3, (1, 1), (1, 0), (1, 1), 1, True),    # one channel: tail taps one by one
    (1, 3, 8, 1, 1, 3, (1, 1), (0, 0), (1, 1), 1, True),     # window of 3, one channel
    (130, 1, 11, 5, 1, 8, (1, 1), (0, 1), (1, 1), 1, True),  # window 1040: the row path
]


def _out(n, k, s, p, d):
    return (n + 2 * p - d * (k - 1) - 1) // s + 1


def _model(x, w, b, shape, fused):
    """The kernel's sums in its order, float32, fused or not; and each output's bound on the
    rounding error against the exact sum, with the exact sum (Fractions)."""
    in_c, in_h, in_w, out_c, k_h, k_w, (sh, sw), (ph, pw), (dh, dw), g, _ = shape
    oh_n, ow_n = _out(in_h, k_h, sh, ph, dh), _out(in_w, k_w, sw, pw, dw)
    cg, mg = in_c // g, out_c // g
    y = np.empty((out_c, oh_n, ow_n), F32)
    exact = np.empty(y.shape, np.float64)
    bound = np.empty(y.shape, np.float64)
    for m in range(out_c):
        for oh in range(oh_n):
            for ow in range(ow_n):
                acc = F32(0.0) if b is None else F32(b[m])
                q = Fraction(float(acc))
                mag = abs(q)
                taps = 0
                for c in range(cg):
                    for kh in range(k_h):
                        for kw in range(k_w):
                            ih, iw = oh * sh - ph + kh * dh, ow * sw - pw + kw * dw
                            if not (0 <= ih < in_h and 0 <= iw < in_w):
                                continue
                            wv, xv = w[m, c, kh, kw], x[(m // mg) * cg + c, ih, iw]
                            t = Fraction(float(wv)) * Fraction(float(xv))
                            if fused:
                                acc = _round32(Fraction(float(acc)) + t)
                            else:
                                acc = F32(acc + F32(wv * xv))
                            q += t
                            mag += abs(t)
                            taps += 1
                y[m, oh, ow] = acc
                exact[m, oh, ow] = float(q)
                bound[m, oh, ow] = float(mag) * max(taps, 1) * 2.0 ** -23
    return y.reshape(-1), exact.reshape(-1), bound.reshape(-1)


@pytest.mark.parametrize("board", [pytest.param(b, marks=[] if b == "host" else
                                                [pytest.mark.qemu]) for b in BOARDS])
def test_conv_f32_paths(tmp_path, board):
    rng = np.random.default_rng(121)
    decls = []
    body = ["{ int32_t f = 0;\n#if defined(__ARM_NEON) && defined(__aarch64__)\nf = 1;\n#endif\n"
            "PI(\"Tfused\", &f, 1); }"]
    cases = []
    for k, shape in enumerate(SHAPES):
        in_c, in_h, in_w, out_c, k_h, k_w, (sh, sw), (ph, pw), (dh, dw), g, has_b = shape
        oh_n, ow_n = _out(in_h, k_h, sh, ph, dh), _out(in_w, k_w, sw, pw, dw)
        x = rng.standard_normal((in_c, in_h, in_w)).astype(F32)
        w = rng.standard_normal((out_c, in_c // g, k_h, k_w)).astype(F32)
        b = rng.standard_normal(out_c).astype(F32) if has_b else None
        n_out = out_c * oh_n * ow_n
        prm = ", ".join(str(v) for v in (in_c, in_h, in_w, out_c, oh_n, ow_n, k_h, k_w, sh, sw,
                                         ph, pw, dh, dw, g))
        decls += [c_array("const float", f"x{k}", x), c_array("const float", f"w{k}", w),
                  f"static const rnn_window_params p{k} = {{{prm}}};",
                  f"static float y{k}[{n_out}];"]
        if has_b:
            decls.append(c_array("const float", f"b{k}", b))
        body.append(f"rnn_conv_f32(&p{k}, x{k}, w{k}, {f'b{k}' if has_b else 'NULL'}, y{k}); "
                    f"PF(\"T{k}\", y{k}, {n_out});")
        cases.append((x, w, b, shape))
    got = run_on_board(board, tmp_path, ["ConvolutionFunctions/rnn_conv_f32.c"],
                       "\n".join(decls), "\n".join(body))
    fused = bool(got["Tfused"][0])
    for k, (x, w, b, shape) in enumerate(cases):
        want, exact, bound = _model(x, w, b, shape, fused)
        bits = got[f"T{k}"]
        assert np.array_equal(bits, want.view(np.uint32).astype(np.int64)), (board, k)
        y = bits.astype(np.uint32).view(F32).astype(np.float64)
        assert np.all(np.abs(y - exact) <= bound), (board, k)
