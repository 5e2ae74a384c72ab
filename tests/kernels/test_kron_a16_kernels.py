"""The Kronecker format's int16-input kernels (rnn_mat_vec_kron_a16_s16, int8 factors;
rnn_mat_vec_kron_a16_s4_s16, int4 factors) bit for bit against the integer reference
(QKron.forward with xbits 16), called as kron.py's emitter writes them, on the host,
cortex-a73, cortex-m4, cortex-m7 (the DSP path of A X first) and cortex-m55 (the Helium
one). Shapes: both orders, zero-padded products (cols and
rows short of n1 n2 and m1 m2), n2 up to 16 and past it (the second stage's ISA paths);
values: random and extreme (factors +-127 / +-7, x -32768 / 32767); shifts of the usual and
the general requantization; int32 first-stage sums (every other case) and int64 ones
(acc64): one case per kind of factor has first-stage sums past int32 (A [1, 600] of +127
against x of 32767: 600 127 32767 > 2^31), where an int32 sum would wrap and the int8 t flip
sign: the int64 sums are needed there, and kron.py's bound rule picks them."""

from __future__ import annotations

import numpy as np
import pytest

from rnngen import formats, quant
from rnngen.emit.c import _Ctx
from tests.kernels.harness import Case, run_cases

I8, I16 = np.int8, np.int16


def _w(rng: np.random.Generator, shape: tuple[int, ...], mode: str, bits: int) -> np.ndarray:
    top = 127 if bits == 8 else 7
    if mode == "extreme":
        return np.where(rng.random(shape) < 0.5, -top, top).astype(I8)
    return rng.integers(-top, top + 1, shape).astype(I8)


def _x(rng: np.random.Generator, n: int, mode: str) -> np.ndarray:
    if mode == "extreme":
        return np.where(rng.random(n) < 0.5, -32768, 32767).astype(I16)
    return rng.integers(-32768, 32768, n).astype(I16)


def _kron(rng, mode, bits, shape, rows, cols, ax_first):
    m1, n1, m2, n2 = shape
    mt, my = (int(v) for v in rng.integers(2**30, 2**31, 2))
    # the first stage sums int16 x: shifts about 8 lower than int8's
    st = int(rng.integers(-20, -12)) if mode != "general" else int(rng.integers(-1, 4))
    sy = int(rng.integers(-9, -4)) if mode != "general" else int(rng.integers(-1, 4))
    return formats.kron.QKron(_w(rng, (m1, n1), mode, bits), _w(rng, (m2, n2), mode, bits),
                              rows, cols, ax_first, 0, mt, st, my, sy, bits=bits, xbits=16)


def _wide(bits: int):
    """A [1, 600] all +127 (or +7), B [16, 2]: A X first sums 600 terms of 127 x 32767,
    past 2^31 (t's shift puts the true sum at about 74, an int32 wrap at about -53)."""
    top = 127 if bits == 8 else 7
    a = np.full((1, 600), top, I8)
    b = np.random.default_rng(5).integers(-top, top + 1, (16, 2)).astype(I8)
    st = -24 if bits == 8 else -20
    return formats.kron.QKron(a, b, 16, 1200, True, 0, 2**30, st, 2**30, -10, bits=bits,
                              xbits=16, acc64=True)


def _cases(seed: int) -> list[tuple[Case, object, np.ndarray]]:
    rng = np.random.default_rng(seed)
    mats = []
    for bits in (8, 4):
        for mode in ("random", "extreme", "general"):
            for k, (shape, rows, cols) in enumerate([((3, 5, 4, 3), 12, 15),
                                                     ((3, 3, 5, 7), 14, 20),
                                                     ((2, 3, 6, 16), 12, 45),
                                                     ((3, 2, 5, 21), 15, 40)]):
                for ax in (True, False):
                    mats.append((f"k{bits}_{k}{int(ax)}_{mode}",
                                 _kron(rng, mode, bits, shape, rows, cols, ax), mode))
        mats.append((f"k{bits}_wide", _wide(bits), "wide"))
    out = []
    for name, qm, mode in mats:
        rows, cols = qm.shape
        ctx = _Ctx()
        prog = type("P", (), {"ctx": ctx})()
        lines = formats.of(qm).emit_s8(qm, prog, f"{name}_M", f"{name}_x", f"{name}_y",
                                       f"{name}_s")
        x = np.full(cols, 32767, I16) if mode == "wide" else _x(rng, cols, mode)
        arrays = {"x": x, "y": np.zeros(rows, np.int16),
                  "s": np.zeros(max(1, formats.scratch_s8(qm)), I8)}
        out.append((Case(name, set(ctx.kernels), arrays, lines, ["y"], decls=ctx.decls), qm,
                    x))
    return out


def test_cases_use_the_int16_input_kernels():
    ks = set().union(*(c.kernels for c, _, _ in _cases(3)))
    assert ks == {"rnn_mat_vec_kron_a16_s16", "rnn_mat_vec_kron_a16_s4_s16"}


def test_the_bound_rule_picks_int64_for_the_wide_factor():
    """kron._quantize's choice: the wide A (600 columns) past the int32 bound, 16-fold
    for int4 (8,000 columns of 7s: 16 7 8000 32768 > 2^31 though 7 8000 32768 is not)."""
    from rnngen.formats.kron import Kron, _quantize

    x = quant.QParams16(1e-4)
    rng = np.random.default_rng(0)
    for n1, bits, wide in ((600, 8, True), (500, 8, False), (8000, 4, True),
                           (500, 4, False)):
        m = Kron(np.full((1, n1), 0.5, np.float32), rng.uniform(-1, 1, (16, 2)), 16,
                 2 * n1)
        assert m.order == "AX"
        inputs = rng.uniform(-1, 1, (4, 2 * n1))
        q = _quantize(m, None, x, 1e-2, inputs, "w", bits=bits)
        assert q.xbits == 16 and q.acc64 is wide, (n1, bits)


def test_the_wide_case_needs_int64_sums():
    """The reference's t differs from what an int32 sum (wrapped) would give: a kernel
    summing in int32 fails the board test below (int4: the C's sums are 16-fold, with the
    shift 4 lower)."""
    for bits, fold in ((8, 1), (4, 16)):
        q = _wide(bits)
        x = np.full(q.cols, 32767, np.int64).reshape(600, 2)
        acc = fold * (q.a.astype(np.int64) @ x)
        assert int(np.abs(acc).max()) >= 2**31
        wrapped = ((acc + 2**31) % 2**32) - 2**31
        shift = q.st - (4 if bits == 4 else 0)
        t = quant.sat8(quant.rq64(acc, q.mt, shift))
        tw = quant.sat8(quant.rq64(wrapped, q.mt, shift))
        assert np.array_equal(t, quant.sat8(quant.rq64(acc // fold, q.mt, q.st)))
        assert not np.array_equal(t, tw) and int(t.min()) > 0 > int(tw.max())


@pytest.mark.parametrize("board", ["host", pytest.param("cortex-a73", marks=pytest.mark.qemu),
                                   pytest.param("cortex-m4", marks=pytest.mark.qemu),
                                   pytest.param("cortex-m7", marks=pytest.mark.qemu),
                                   pytest.param("cortex-m55", marks=pytest.mark.qemu)])
def test_kron_a16_kernels_exact_on_the_board(board, tmp_path):
    cases = _cases(17)
    got = run_cases(board, [c for c, _, _ in cases], tmp_path)
    for case, qm, x in cases:
        want = quant.sat16(qm.forward(x.astype(np.int64)))
        y = got[case.name]["y"].astype(np.int64)
        assert np.array_equal(y, want), (board, case.name, y, want)
