"""rnn_layer_norm_s8 (int8 LayerNormalization / InstanceNormalization, issue 11) compiled for
each board and run where it runs, bit for bit against an integer model written here in
Python integers from docs/int8.md's statement of the arithmetic (not quant.layer_norm_s8,
which must agree with both): the integer sum and sum of squares, the variance times n^2 plus
epsilon, the fixed-point Newton reciprocal square root, the Q16 normalized value, the folded
scale and bias. Cases: a constant block (the output is the bias, with and without epsilon),
one value per block, the largest variance (values at -128 and 127 with zero points at the
ends), the largest block (32768 values), a tiny variance under a large epsilon, zero and
the largest scales, the bias at int32's ends, one scale and bias for every value, rows
that alias their output; both of the kernel's paths (the normalized value's shift s at most
32, or more: large blocks, large epsilon)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rnngen import quant
from tests.kernels.harness import c_array, run_on_board

I64 = np.int64
BOARDS = ["host", "cortex-a73", "cortex-m4", "cortex-m55"]

SEEDS = [int(round(2**29 / math.sqrt((k + 0.5) / 16))) for k in range(4, 16)]


def _rsqrt(w: int) -> tuple[int, int]:
    """docs/int8.md: m = w by the even shift e that puts it in [2^28, 2^30) (here by steps
    of 2), seed at (m >> 26) - 4, three Newton steps, products floored."""
    e = 0
    while w >= 2**30:
        w, e = w // 4, e + 2
    while w < 2**28:
        w, e = w * 4, e - 2
    r = SEEDS[w // 2**26 - 4]
    for _ in range(3):
        r = r * (3 * 2**29 - (w * (r * r // 2**29)) // 2**30) // 2**30
    return r, e


def _want(x: np.ndarray, n: int, zp_in: int, eps: int, G, B, zp_out: int
          ) -> tuple[list[int], set[int]]:
    """The outputs of every block of n values, in Python integers (G and B of n values or
    one for all), and the shifts s the blocks took."""
    out, shifts = [], set()
    for row in np.asarray(x, np.int64).reshape(-1, n):
        d = [int(v) - zp_in for v in row]
        S, Q = sum(d), sum(v * v for v in d)
        r, e = _rsqrt(max(1, (n * Q - S * S) * 2**16 + eps))
        s = 20 + e // 2
        shifts.add(s)
        for i, v in enumerate(d):
            zq = ((n * v - S) * r + 2**(s - 1)) // 2**s
            j = i if len(G) > 1 else 0
            acc = zq * int(G[j]) + int(B[j]) * 2**16
            out.append(max(-128, min(127, (acc + 2**31) // 2**32 + zp_out)))
    return out, shifts


def _cases(rng):
    """(rows, n, zp_in, eps, G, B, zp_out, x)"""
    cases = []

    def add(rows, n, zp_in, eps, zp_out, x=None, G=None, B=None):
        if x is None:
            x = rng.integers(-128, 128, (rows, n))
        if G is None:  # scale / output scale up to 40: |z| <= 3 spans the int8 range
            G = rng.integers(-40 * 2**16, 40 * 2**16 + 1, n)
        if B is None:  # bias / output scale up to 30 steps
            B = rng.integers(-30 * 2**16, 30 * 2**16, len(G))
        cases.append((rows, n, zp_in, eps, np.asarray(G, I64), np.asarray(B, I64), zp_out,
                      np.asarray(x, np.int8)))

    add(3, 12, -5, 3000, 7)  # LayerNorm(12) on 3 steps
    # a constant block: the output is the bias (epsilon 0 included: W = 1)
    add(2, 9, 3, 0, -4, x=np.full((2, 9), 17))
    add(1, 9, 3, 5000, -4, x=np.full((1, 9), -128))
    add(2, 1, 0, 77, 0)  # one value per block: n d - S = 0
    # the largest variance: values at both ends, zero points at the ends
    add(2, 16, 127, 1, -128, x=np.where(np.arange(32) % 2, 127, -128).reshape(2, 16),
        G=rng.integers(-2**22, 2**22, 16))
    add(1, 8, -128, 0, 127, x=[[-128, 127, -128, -128, -128, -128, -128, -128]],
        G=np.full(8, 2**31 - 1), B=np.zeros(8))
    # a tiny variance under an epsilon that dominates it (s > 32)
    add(1, 10, 0, 2**61, 0, x=[[0, 1, 0, 1, 1, 0, 0, 0, 1, 0]], G=np.full(10, 2**30))
    # zero and extreme scales, the bias at int32's ends
    add(2, 6, 10, 12345, 3, G=[0, -2**31 + 1, 2**31 - 1, -1, 1, 0],
        B=[2**31 - 1, -2**31, 0, 5, -5, 2**20])
    add(4, 33, -1, 2**40, 1)  # a long odd row
    # one scale and bias for every value (InstanceNormalization's unit scale, zero bias)
    add(3, 20, 4, 999, -2, G=[40 * 2**16], B=[0])
    add(1, 7, -9, 2**60, 5, G=[-3 * 2**16], B=[7 * 2**16])  # the same, s > 32
    # the largest block: 32768 values (sums at their int32 bounds; s > 32)
    x = rng.integers(-128, 128, (1, 32768))
    x[0, ::3] = 127
    add(1, 32768, -128, 987654321, 0, x=x)
    add(1, 4096, 0, 0, 0, x=np.where(np.arange(4096) % 2, 127, -128).reshape(1, 4096))
    return cases


CHUNK = 1024  # outputs printed per line (the largest block: 32 lines)


@pytest.mark.parametrize("board", [pytest.param(b, marks=[] if b == "host" else
                                                [pytest.mark.qemu]) for b in BOARDS])
def test_layer_norm_s8(tmp_path, board):
    cases = _cases(np.random.default_rng(121))
    decls, body, want = [f"static int32_t tb[{CHUNK}];"], [], {}
    paths = set()
    for k, (rows, n, zp_in, eps, G, B, zp_out, x) in enumerate(cases):
        size = rows * n
        K = B * 2**16 + 2**31 + zp_out * 2**32
        decls += [c_array("const int8_t", f"x{k}", x.reshape(-1)),
                  c_array("const int32_t", f"g{k}", G), c_array("const int64_t", f"k{k}", K),
                  f"static const rnn_layer_norm_s8_params p{k} = {{{n}, {zp_in}, "
                  f"INT64_C({eps}), g{k}, k{k}, {int(G.size > 1)}}};",
                  f"static int8_t y{k}[{size}];"]
        if k % 2:  # in place (y aliases x), as the float kernel allows
            call = f"memcpy(y{k}, x{k}, {size}); rnn_layer_norm_s8(&p{k}, {rows}, y{k}, y{k});"
        else:
            call = f"rnn_layer_norm_s8(&p{k}, {rows}, x{k}, y{k});"
        body.append(f"{{ int i, j; char tag[16]; {call} for (j = 0; j * {CHUNK} < {size}; ++j) "
                    f"{{ int m = {size} - j * {CHUNK} < {CHUNK} ? {size} - j * {CHUNK} : "
                    f"{CHUNK}; for (i = 0; i < m; ++i) tb[i] = y{k}[j * {CHUNK} + i]; "
                    f"sprintf(tag, \"T{k}c%d\", j); PI(tag, tb, m); }} }}")
        w, shifts = _want(x, n, zp_in, eps, G, B, zp_out)
        w = np.array(w, I64)
        paths |= {(s > 32, G.size > 1) for s in shifts}
        for j in range(0, size, CHUNK):
            want[f"T{k}c{j // CHUNK}"] = w[j:j + CHUNK]
        # quant.py's integer reference agrees with the model written here
        q = quant.QLayerNorm(n, eps, G, K, quant.QParams(1.0, zp_in), quant.QParams(1.0, zp_out))
        assert np.array_equal(quant.layer_norm_s8(q, x).reshape(-1), w), k
        if k in (1, 2):  # constant blocks give the bias: round(B 2^-16) + zp_out
            assert np.array_equal(w.reshape(-1, n)[0],
                                  np.clip((B + 2**15) // 2**16 + zp_out, -128, 127)), k
    # every path of the kernel: s <= 32 or not, per-value or one scale and bias for all
    assert paths == {(a, b) for a in (False, True) for b in (False, True)}, paths
    got = run_on_board(board, tmp_path, ["NormalizationFunctions/rnn_layer_norm_s8.c"],
                       "\n".join(decls), "\n".join(body))
    assert set(got) == set(want)
    for tag, v in want.items():
        assert np.array_equal(got[tag], v), (board, tag, np.flatnonzero(got[tag] != v)[:10])


def test_rsqrt_q29_accuracy():
    """The reciprocal square root over the whole range of W (1 to 2^63 - 1): within 3e-9 of
    1 / sqrt(W), and equal to the model written here."""
    rng = np.random.default_rng(5)
    ws = [1, 2, 3, 2**28 - 1, 2**28, 2**30 - 1, 2**30, 2**62, 2**63 - 1]
    ws += [int(v) for v in rng.integers(1, 2**62, 3000)] + \
        [int(v) for v in rng.integers(1, 2**20, 3000)]
    for w in ws:
        r, e = quant.rsqrt_q29(w)
        assert (r, e) == _rsqrt(w)
        assert abs(r * 2.0 ** -(44 + e / 2) * math.sqrt(w) - 1) < 3e-9, w
