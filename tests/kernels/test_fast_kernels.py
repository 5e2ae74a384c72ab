"""Issue 9's fast kernel paths, compiled for each board and run where it runs (the host,
qemu-aarch64, qemu-system-arm), bit for bit against quant.py's integer arithmetic:

- rnn_mat_vec_s8_s16 NEON (cortex-a73 / a53: eight rows per pass, then four, then one;
  SMULL + SMLAL2 + SADALP, the last 16 columns as an overlapping pass, vector
  requantization): every row remainder of 8 and 4, column counts below, at and around 16,
  32 and HAR1's 77 / 179, weights at the kernels' contract bounds [-127, 127] with x = -128
  (the largest pair sums in int16), and both requantization paths. The other boards run
  the same cases on their own paths (a cross-check of the contract).
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.kernels.test_board_kernels import _c_array, _marks, _s8_want, run_on_board

BOARDS = ["host", "cortex-a73", "cortex-a53", "cortex-m4", "cortex-m55"]

# rows: remainders 0..7 of 8 and 0..3 of 4 after blocks of 8; cols: < 16 (plain C), 16,
# 17, 31, 32, 33, 77, 179, 255
NEON_SHAPES = [(1, 16), (2, 17), (3, 15), (4, 31), (5, 32), (7, 33), (8, 16), (9, 77),
               (11, 179), (12, 18), (13, 47), (15, 64), (16, 65), (17, 255), (20, 1),
               (23, 100), (6, 8)]


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
    return w, x, offset, mult, shift


@pytest.mark.parametrize("board", [pytest.param(b, marks=_marks(b)) for b in BOARDS])
def test_mat_vec_s8_s16_neon_shapes(tmp_path, board):
    rng = np.random.default_rng(91)
    decls, body, want = [], [], {}
    for k, (rows, cols) in enumerate(NEON_SHAPES):
        w, x, off, mu, sh = _case(rng, rows, cols, k)
        decls += [_c_array("const int8_t", f"w{k}", w), _c_array("const int8_t", f"x{k}", x),
                  _c_array("const int32_t", f"o{k}", off), _c_array("const int32_t", f"m{k}", mu),
                  _c_array("const int32_t", f"s{k}", sh), f"static int16_t y{k}[{rows}];"]
        body.append(f"{{ int32_t t[{rows}]; int i; rnn_mat_vec_s8_s16({rows}, {cols}, w{k}, "
                    f"o{k}, m{k}, s{k}, x{k}, y{k}); for (i = 0; i < {rows}; ++i) t[i] = y{k}[i];"
                    f" PI(\"T{k}\", t, {rows}); }}")
        want[f"T{k}"] = _s8_want(w, x, off, mu, sh)
    got = run_on_board(board, tmp_path, ["MatVecFunctions/rnn_mat_vec_s8_s16.c"],
                       "\n".join(decls), "\n".join(body))
    assert set(got) == set(want)
    for tag, v in want.items():
        assert np.array_equal(got[tag], v), (board, tag, got[tag], v)
