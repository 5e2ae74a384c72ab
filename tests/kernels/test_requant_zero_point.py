"""The zero point added after a saturating requantization: with an output shift of 17 or
more, rnn_requantize saturates to INT32_MAX / INT32_MIN, and adding the output's zero point
to that overflowed int32 (undefined behaviour; in practice a wrap to the other sign, so a
silently wrong int8). The kernels saturate to int16 first, which gives the same int8 as the
reference's sat8(zp + rq) in int64 (|zp| <= 128). Compiled for the host with
UndefinedBehaviorSanitizer (any overflow aborts the program, failing the test), and checked
against the exact values that arithmetic gives."""

from __future__ import annotations

import subprocess
from pathlib import Path

from rnngen.boards import STRICT_CFLAGS
from rnngen.resources import data_dir

KERNELS = ["RecurrentFunctions/rnn_rnn_cell_s16.c", "BasicMathFunctions/rnn_reduce_sum_s8.c",
           "NormalizationFunctions/rnn_scale_shift_s8.c"]

# out_mult 2^30 (0.5 in Q31) with shift 20: rq(v) = v 2^19, INT32_MAX for v >= 4096
MAIN = r"""
#include <stdio.h>
#include <string.h>
#include "rnn_nnfunctions.h"
static void P8(const int8_t *v, int n) { int i; for (i = 0; i < n; ++i) printf("%d ", v[i]);
printf("\n"); }
int main(void) {
    /* ReLU RNN cell: v = max(gx + gh + b, 0) */
    static const int16_t gx[5] = {32767, 4096, 100, 0, -50};
    static const int16_t gh[5] = {0, 0, 0, 0, 0};
    static const int16_t b[5] = {0, 0, 0, 0, 0};
    int8_t h[5];
    rnn_rnn_params_s16 p;
    memset(&p, 0, sizeof p);
    p.hidden = 5; p.bias = b; p.lut0 = NULL; p.h_zero_point = 50;
    p.out_mult = 1 << 30; p.out_shift = 20;
    rnn_rnn_cell_s16(&p, gx, gh, h); P8(h, 5);
    p.h_zero_point = -128;
    rnn_rnn_cell_s16(&p, gx, gh, h); P8(h, 5);
    {
        /* sums 254, 0, -256 (zero point in 0): rq = sum 2^19, saturated but for 0 */
        static const int8_t x[6] = {127, 127, 0, 0, -128, -128};
        int8_t y[3];
        rnn_reduce_sum_s8(3, 2, 1, 0, 1 << 30, 20, 100, x, y); P8(y, 3);
        rnn_reduce_sum_s8(3, 2, 1, 0, 1 << 30, 20, -100, x, y); P8(y, 3);
    }
    {
        /* (x - zp_in) w + bias with w = 1, bias 0: rq = (x - 0) 2^19 */
        static const int8_t w[1] = {1};
        static const int32_t bias[1] = {0};
        static const int32_t mult[1] = {1 << 30};
        static const int32_t shift[1] = {20};
        static const int8_t x[3] = {127, 0, -128};
        int8_t y[3];
        rnn_scale_shift_s8(1, 1, 3, w, bias, mult, shift, 0, 120, x, y); P8(y, 3);
        rnn_scale_shift_s8(1, 1, 3, w, bias, mult, shift, 0, -120, x, y); P8(y, 3);
    }
    return 0;
}
"""


def test_zero_point_after_a_saturated_requantization(tmp_path: Path) -> None:
    rt = data_dir("runtime_c")
    (tmp_path / "t.c").write_text(MAIN)
    exe = tmp_path / "t"
    subprocess.run(["gcc", *STRICT_CFLAGS, "-O1", "-fsanitize=undefined",
                    "-fno-sanitize-recover=all", "-I", str(rt / "Include"), "-o", str(exe),
                    str(tmp_path / "t.c"), *[str(rt / "Source" / k) for k in KERNELS], "-lm"],
                   check=True, capture_output=True)
    out = subprocess.run([str(exe)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr  # UBSan: no signed overflow
    rows = [[int(v) for v in line.split()] for line in out.stdout.splitlines()]
    # sat8(zp + rq): rq(32767), rq(4096) saturate high; rq(100) = 52,428,800; rq(0) = 0
    assert rows[0] == [127, 127, 127, 50, 50]
    assert rows[1] == [127, 127, 127, -128, -128]
    assert rows[2] == [127, 100, -128]
    assert rows[3] == [127, -100, -128]
    assert rows[4] == [127, 120, -128]
    assert rows[5] == [127, -120, -128]
