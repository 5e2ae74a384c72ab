"""Small helpers that turn Python values into C text. Templates never format numbers.

>>> c_float(1.0)
'1.0f'
>>> c_float(-2.5e-07)
'-2.5e-07f'
>>> c_ident("/lstm/LSTM_0")
'lstm_LSTM_0'
>>> array_declare("float", "w", [1.0, 2.0, 3.0], per_line=2)
'static const float w[3] = {\\n    1.0f, 2.0f,\\n    3.0f,\\n};'
>>> c_struct([("hidden", 8), ("clip", "0.0f")])
'{.hidden = 8, .clip = 0.0f}'
>>> collapse((2, 1, 3, 4), [(12, 12, 4, 1), (1, 0, 9, 2)])
((2, 3, 4), [(12, 4, 1), (1, 9, 2)])
>>> collapse((2, 3), [(3, 1), (3, 1)])
((6,), [(1,), (1,)])
"""

from __future__ import annotations

import math
from typing import Iterable, Sequence

import numpy as np


def c_float(v: float) -> str:
    """The shortest float32 literal that round-trips exactly."""
    f = np.float32(v)
    if not np.isfinite(f):
        raise ValueError(f"non-finite constant {f}")
    s = str(f)  # NumPy prints the shortest round-trip decimal of a float32
    if "e" not in s and "." not in s:
        s += ".0"
    return s + "f"


def c_int(v: int) -> str:
    return str(int(v))


def c_struct(fields: Sequence[tuple[str, object]]) -> str:
    """A C99 designated initializer: c_struct([("hidden", 8), ("clip", "0.0f")]) ->
    '{.hidden = 8, .clip = 0.0f}'. Every params struct in generated code is written this
    way, so a reordered or added field cannot silently shift the values."""
    return "{" + ", ".join(f".{k} = {v}" for k, v in fields) + "}"


def c_ident(s: str) -> str:
    out = "".join(c if c.isalnum() else "_" for c in s)
    while "__" in out:
        out = out.replace("__", "_")
    out = out.strip("_") or "x"
    return ("_" + out) if out[0].isdigit() else out


def c_comment(s: str) -> str:
    """Text safe inside /* ... */."""
    return s.replace("*/", "* /").replace("/*", "/ *").replace("\n", " ")


def array_declare(ctype: str, name: str, values: Iterable[float] | np.ndarray,
                  per_line: int = 8, static: bool = True, const: bool = True,
                  attr: str = "") -> str:
    vals = list(np.asarray(values).reshape(-1)) if not isinstance(values, list) else values
    fmt = c_float if ctype == "float" else c_int
    items = [fmt(v) for v in vals]
    if not items:
        raise ValueError(f"empty array {name}")
    lines = []
    for i in range(0, len(items), per_line):
        lines.append("    " + ", ".join(items[i:i + per_line]) + ",")
    qual = ("static " if static else "") + ("const " if const else "")
    suffix = f" {attr}" if attr else ""
    return (f"{qual}{ctype} {name}[{len(items)}]{suffix} = {{\n" + "\n".join(lines)
            + "\n};")


def strides(shape: Sequence[int]) -> tuple[int, ...]:
    """Row-major strides in elements."""
    out = []
    acc = 1
    for d in reversed(shape):
        out.append(acc)
        acc *= int(d)
    return tuple(reversed(out))


def collapse(shape: Sequence[int], stride_sets: list[Sequence[int]]
             ) -> tuple[tuple[int, ...], list[tuple[int, ...]]]:
    """Drop axes of size 1 and merge neighbours that are contiguous in every stride set."""
    keep = [i for i, d in enumerate(shape) if d != 1]
    if not keep:
        return (1,), [(1,) for _ in stride_sets]
    shp = [int(shape[i]) for i in keep]
    sts = [[int(s[i]) for i in keep] for s in stride_sets]
    i = len(shp) - 2
    while i >= 0:
        if all(st[i] == st[i + 1] * shp[i + 1] for st in sts):
            shp[i] *= shp[i + 1]
            for st in sts:
                st[i] = st[i + 1]
                del st[i + 1]
            del shp[i + 1]
        i -= 1
    return tuple(shp), [tuple(st) for st in sts]


def prod(xs: Iterable[int]) -> int:
    return math.prod(int(x) for x in xs)
