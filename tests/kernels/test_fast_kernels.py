"""Issue 9's fast kernel paths, compiled for each board and run where it runs (the host,
qemu-aarch64, qemu-system-arm), bit for bit against quant.py's integer arithmetic:

- rnn_mat_vec_s8_s16 NEON (cortex-a73 / a53: eight rows per pass, then four, then one;
  SMULL + SMLAL2 + SADALP, the last 16 columns as an overlapping pass, vector
  requantization): every row remainder of 8 and 4, column counts below, at and around 16,
  32 and HAR1's 77 / 179, weights at the kernels' contract bounds [-127, 127] with x = -128
  (the largest pair sums in int16), and both requantization paths. The other boards run
  the same cases on their own paths (a cross-check of the contract);
- rnn_mat_vec_s8_s16 Helium (cortex-m55): the same cases, the last 16 columns as an
  overlapping pass when cols >= 16, predicated below;
- rnn_mat_vec_s8 (int8 out, a Linear layer) through rnn_mat_vec_s8_sums, the same paths'
  sums in blocks of 64 rows: row counts across blocks, output zero points, saturation;
- rnn_lstm_cell_s16 NEON and Helium (four units per pass, the last H mod 4 in C): hidden
  sizes 1..9 and 179, cell exponents either side of 12, input_forget, output shifts on the
  vector path (<= -2) and off it, saturating gate sums.
"""

from __future__ import annotations

import numpy as np
import pytest
from rnngen import quant

from tests.kernels.harness import c_array as _c_array
from tests.kernels.harness import run_on_board
from tests.kernels.test_board_kernels import (_cell_want, _marks, check_mat_vec_s8_s16,
                                              lstm_cell_call, s8_weights)

BOARDS = ["host", "cortex-a73", "cortex-a53", "cortex-m4", "cortex-m55"]

# rows: remainders 0..7 of 8 and 0..3 of 4 after blocks of 8; cols: 16, 17, 31, 32, 33, 77,
# 179, 255, and narrow (< 16: one load per row into the next rows, the last
# ceil(16 / stride) - 1 rows plain C) at every stride 4, 8, 12, 16, around the block edges
NEON_SHAPES = [(1, 16), (2, 17), (3, 15), (4, 31), (5, 32), (7, 33), (8, 16), (9, 77),
               (11, 179), (12, 18), (13, 47), (15, 64), (16, 65), (17, 255), (20, 1),
               (23, 100), (6, 8), (9, 3), (16, 4), (13, 7), (12, 8), (25, 5), (11, 10),
               (17, 12), (19, 13), (8, 14), (33, 6), (4, 2), (5, 9)]


def _case(rng: np.random.Generator, rows: int, cols: int, k: int):
    w = rng.integers(-127, 128, (rows, cols)).astype(np.int8)
    x = rng.integers(-128, 128, cols).astype(np.int8)
    if k % 3 == 0:  # the extremes: every product pair at its largest, both signs
        x[:] = -128
        w[0] = -127
        if rows > 1:
            w[1] = 127
        if rows > 2:
            w[2, ::2] = 127
            w[2, 1::2] = -127
    offset = rng.integers(-20000, 20000, rows)
    mult = rng.integers(1 << 30, (1 << 31) - 1, rows)
    shift = rng.integers(-31, -1, rows)  # quant.multiplier: shift in [-31, 30]
    if k % 4 == 2:
        shift[rng.random(rows) < 0.3] = rng.choice([-1, 0, 1])  # the general path
    if k % 4 == 1:
        shift[:] = -12
    if k % 5 == 3:  # shifts >= -1: acc 2^(shift + 1) exact (one product) or not (the general
        shift[:] = rng.integers(-1, 31, rows)  # path), both in one matrix
    return w, x, offset, mult, shift


@pytest.mark.parametrize("board", [pytest.param(b, marks=_marks(b)) for b in BOARDS])
def test_mat_vec_s8_s16_neon_shapes(tmp_path, board):
    check_mat_vec_s8_s16(board, tmp_path, NEON_SHAPES, _case, 91)


# (hidden, cell_exp, input_forget, out_shift)
CELL_CASES = [(1, 11, 0, -9), (3, 13, 0, -5), (4, 12, 0, -2), (5, 20, 1, -12), (7, 1, 0, -31),
              (8, 29, 0, -3), (9, 2, 1, -7), (179, 14, 0, -10), (6, 9, 0, -1), (12, 15, 0, 0)]


@pytest.mark.parametrize("board", [pytest.param(b, marks=_marks(b))
                                   for b in ["host", "cortex-a73", "cortex-a53", "cortex-m55"]])
def test_lstm_cell_s16_neon_units(tmp_path, board):
    rng = np.random.default_rng(92)
    lf = quant.lut_table(lambda v: 1 / (1 + np.exp(-v)))
    lg = quant.lut_table(np.tanh)
    lh = quant.lut_table(lambda v: np.tanh(0.9 * v))
    decls = [_c_array("const int16_t", "lf", lf), _c_array("const int16_t", "lg", lg),
             _c_array("const int16_t", "lh", lh)]
    body, want = [], {}
    for k, (H, cexp, ifg, osh) in enumerate(CELL_CASES):
        gx = rng.integers(-32768, 32768, 4 * H)
        gh = rng.integers(-32768, 32768, 4 * H)
        gx[rng.random(4 * H) < 0.3] //= 8  # gates inside the tables' range too
        gh[rng.random(4 * H) < 0.3] //= 8
        bias = rng.integers(-4000, 4000, 4 * H)
        gx[::5], gh[::5] = 32767, 32000  # saturating sums
        gx[1::7], gh[1::7] = -32768, -32000
        c = rng.integers(-32768, 32768, H)
        om = int(rng.integers(1 << 30, (1 << 31) - 1))
        zp = int(rng.integers(-128, 128))
        d, call = lstm_cell_call(k, H, cexp, ifg, osh, gx, gh, bias, c, om, zp, "lh")
        decls += d
        body.append(call)
        cn, h = _cell_want(gx, gh, bias, c, lf, lg, lh, cexp, zp, om, osh, ifg)
        want[f"T{k}c"], want[f"T{k}h"] = cn, h
    got = run_on_board(board, tmp_path, ["RecurrentFunctions/rnn_lstm_cell_s16.c"],
                       "\n".join(decls), "\n".join(body))
    assert set(got) == set(want)
    for tag, v in want.items():
        assert np.array_equal(got[tag], v), (board, tag, got[tag], v)


FC_SHAPES = [(1, 16), (3, 7), (6, 358), (10, 179), (64, 77), (65, 33), (70, 300), (129, 20),
             (20, 5), (9, 12), (12, 15)]


@pytest.mark.parametrize("board", [pytest.param(b, marks=_marks(b)) for b in BOARDS])
def test_mat_vec_s8_int8_out(tmp_path, board):
    rng = np.random.default_rng(93)
    decls, body, want = [], [], {}
    for k, (rows, cols) in enumerate(FC_SHAPES):
        w, x, off, mu, sh = _case(rng, rows, cols, k)
        zp = int(rng.integers(-128, 128))
        if k in (1, 3):  # requantization saturated to INT32_MAX / MIN, the zero point added
            sh[:] = 30
            zp = 127 if k == 1 else -128
        decls += [s8_weights(f"w{k}", w, k), _c_array("const int8_t", f"x{k}", x),
                  _c_array("const int32_t", f"o{k}", off), _c_array("const int32_t", f"m{k}", mu),
                  _c_array("const int32_t", f"s{k}", sh), f"static int8_t y{k}[{rows}];",
                  f"static int32_t a{k}[{rows}];"]
        body.append(f"{{ int32_t t[{rows}]; int i; rnn_mat_vec_s8({rows}, {cols}, w{k}, o{k}, "
                    f"m{k}, s{k}, {zp}, x{k}, y{k}); for (i = 0; i < {rows}; ++i) t[i] = y{k}[i];"
                    f" PI(\"T{k}\", t, {rows});"
                    f" rnn_mat_vec_s8_sums({rows}, {cols}, w{k}, o{k}, x{k}, a{k});"
                    f" PI(\"T{k}sums\", a{k}, {rows}); }}")
        acc = w.astype(np.int64) @ x.astype(np.int64) + off
        want[f"T{k}"] = quant.sat8(zp + quant.rq(acc, mu, sh))
        want[f"T{k}sums"] = acc
    got = run_on_board(board, tmp_path, ["MatVecFunctions/rnn_mat_vec_s8.c",
                                         "MatVecFunctions/rnn_mat_vec_s8_s16.c"],
                       "\n".join(decls), "\n".join(body))
    assert set(got) == set(want)
    for tag, v in want.items():
        assert np.array_equal(got[tag], v), (board, tag, got[tag], v)
