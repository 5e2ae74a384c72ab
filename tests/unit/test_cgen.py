"""codegen/cgen.py: its doctests, and the whole-array float formatting (c_floats, what
array_declare uses) against c_float value by value: the same text for every finite float32
(random bit patterns, every exponent, the edges of NumPy's positional/scientific switch),
the same error for a non-finite constant."""

from __future__ import annotations

import doctest

import numpy as np
import pytest

from rnngen import cgen


def test_doctests():
    res = doctest.testmod(cgen)
    assert res.attempted >= 5 and res.failed == 0


def test_c_floats_is_c_float_value_by_value():
    rng = np.random.default_rng(7)
    bits = rng.integers(0, 2**32, 200_000, dtype=np.uint64).astype(np.uint32).view(np.float32)
    edges = np.array([0.0, -0.0, 1.0, -1.0, 0.1, 0.3, 1e-4, 9.999999e-5, 1e16, 9.999999e15,
                      16777216.0, 123456789.0, 1.4e-45, 1.17549435e-38, 3.4028235e38,
                      -3.4028235e38, 2.5e-7], np.float32)
    for values in (bits[np.isfinite(bits)], edges, rng.standard_normal(10_000)):
        got = cgen.c_floats(values)
        assert got == [cgen.c_float(v) for v in values]
        back = np.array([float(t[:-1]) for t in got], np.float32)  # the C compiler's reading
        assert back.tobytes() == np.asarray(values, np.float32).tobytes()
        assert cgen.c_floats(list(values[:100])) == [cgen.c_float(v) for v in values[:100]]
    decl = cgen.array_declare("float", "w", edges[:3], per_line=2)
    assert decl == "static const float w[3] = {\n    0.0f, -0.0f,\n    1.0f,\n};"


@pytest.mark.parametrize("bad", [[1.0, float("nan")], [float("inf")], [1e39]])
def test_non_finite_constants_are_refused(bad):
    with pytest.raises(ValueError, match="non-finite constant"):
        cgen.c_floats(bad)
