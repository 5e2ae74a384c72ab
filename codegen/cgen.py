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
    return _literal(str(f))


def _literal(s: str) -> str:
    """A float32 literal from NumPy's text of the value (its shortest round-trip decimal)."""
    return s + "f" if "e" in s or "." in s else s + ".0f"


def c_int(v: int) -> str:
    return str(int(v))


def c_struct(fields: Sequence[tuple[str, object]]) -> str:
    """A C99 designated initializer: c_struct([("hidden", 8), ("clip", "0.0f")]) ->
    '{.hidden = 8, .clip = 0.0f}'. Every params struct in generated code is written this
    way, so a reordered or added field cannot silently shift the values."""
    return "{" + ", ".join(f".{k} = {v}" for k, v in fields) + "}"


def c_ident(s: str, limit: int = 48) -> str:
    """An ASCII C identifier from any text (callers make it unique); at most `limit` chars."""
    out = "".join(c if c.isascii() and c.isalnum() else "_" for c in s)
    while "__" in out:
        out = out.replace("__", "_")
    out = out.strip("_")[:limit].rstrip("_") or "x"
    out = ("_" + out) if out[0].isdigit() else out
    return out + "_" if out in C_KEYWORDS else out


def c_comment(s: str, limit: int = 400) -> str:
    r"""Any text, safe inside /* ... */ and after # in a Makefile, CMake file or linker script:
    printable ASCII only (anything else, newlines and bidirectional controls included, becomes
    <U+XXXX>), no comment delimiters, no backslash (a line continuation), no trigraph; cut
    after `limit` characters.

    >>> c_comment("a */ b\n#include <x>")
    'a * / b<U+000A>#include <x>'
    """
    out = []
    for c in s:
        if c == "\\" or not (" " <= c <= "~"):
            out.append(f"<U+{ord(c):04X}>")
        else:
            out.append(c)
    text = "".join(out)
    if len(text) > limit:
        text = text[:limit] + "..."
    while "*/" in text or "/*" in text or "??" in text:
        text = text.replace("*/", "* /").replace("/*", "/ *").replace("??", "? ?")
    return text


C_KEYWORDS = frozenset("""auto break case char const continue default do double else enum
    extern float for goto if inline int long register restrict return short signed sizeof
    static struct switch typedef union unsigned void volatile while _Bool _Complex
    _Imaginary _Alignas _Alignof _Atomic _Generic _Noreturn _Static_assert _Thread_local
    bool true false asm typeof""".split())

# headers a project includes with <...> that -Iinclude would shadow with include/<name>.h
_STD_HEADERS = frozenset("""assert complex ctype errno fenv float inttypes iso646 limits
    locale math setjmp signal stdalign stdarg stdatomic stdbool stddef stdint stdio stdlib
    stdnoreturn string tgmath threads time uchar wchar wctype arm_acle arm_neon arm_mve
    arm_math arm_fp16 cmsis_compiler unistd malloc alloca""".split())
# the project's own files besides the model (test/main.c, test/golden.h, board/startup.c,
# board/linker.ld) and rnngen's own C prefix
_PROJECT_STEMS = frozenset({"main", "golden", "startup", "linker", "board", "test", "rnngen"})
NAME_LIMIT = 48


def _runtime_identifiers() -> frozenset[str]:
    """The external names of runtime_c and the board startup (file stems, rnn_*/RNN_*
    kernels, types and macros, rnngen_* handlers), lower case. Other identifiers there are
    locals or file-scope statics, which no model name can clash with."""
    import re

    from .resources import data_dir

    words: set[str] = set()
    files = [p for p in sorted(data_dir("runtime_c").rglob("*")) if p.suffix in (".c", ".h")]
    files += sorted(data_dir("templates").glob("startup*.j2"))
    for p in files:
        words.add(p.name.split(".")[0].lower())
        words.update(w.lower() for w in re.findall(r"\b(?:rnn|RNN|rnngen)[A-Za-z0-9_]*",
                                                  p.read_text(encoding="utf-8")))
    return frozenset(words)


_RUNTIME: frozenset[str] | None = None


def name_conflict(name: str) -> str | None:
    """Why `name` cannot be a model's C prefix (file stem, {name}_* symbols, {NAME}_* macros),
    or None. Conservative: a clash with anything the project defines or includes."""
    global _RUNTIME
    low = name.lower()
    if name in C_KEYWORDS or low in C_KEYWORDS:
        return "a C keyword"
    if low in _STD_HEADERS:
        return f"include/{name}.h would hide the standard header <{low}.h>"
    if low in _PROJECT_STEMS:
        return "the name of one of the project's own files or symbols"
    if _RUNTIME is None:
        _RUNTIME = _runtime_identifiers()
    for w in sorted(_RUNTIME):
        if w == low or w.startswith(low + "_"):
            return f"it clashes with rnngen's runtime ('{w}')"
    return None


def default_name(stem: str) -> str:
    """A model's C prefix from any file (or manifest) name: ASCII, lower case, at most
    NAME_LIMIT characters, never clashing with the project's files and symbols."""
    base = "".join(c if c.isascii() and c.isalnum() else "_" for c in stem).lower()
    while "__" in base:
        base = base.replace("__", "_")
    base = base.strip("_")[:NAME_LIMIT].rstrip("_") or "model"
    if base[0].isdigit():
        base = "m_" + base
    while name_conflict(base) is not None:
        base += "_model"
    return base


def check_name(name: str) -> None:
    """--name: a C identifier the project can use, or a RnngenError saying why not."""
    from .errors import RnngenError

    shown = name if name.isprintable() and len(name) <= 80 else repr(name[:80])
    if not name or not name.isascii() or not (name[0].isalpha()) \
            or any(not (c.isalnum() or c == "_") for c in name):
        raise RnngenError(f"--name {shown}: not a C identifier (ASCII letters, digits and _, "
                          "starting with a letter)")
    if len(name) > NAME_LIMIT:
        raise RnngenError(f"--name {shown}: longer than {NAME_LIMIT} characters")
    why = name_conflict(name)
    if why is not None:
        raise RnngenError(f"--name {shown}: {why}; choose another name")


def c_floats(values: Iterable[float] | np.ndarray) -> list[str]:
    """c_float of every value, for a whole array at once (the same text, about 5x faster: a
    PTB-size model has 4.7 million constants)."""
    with np.errstate(over="ignore"):
        a = np.asarray(values, dtype=np.float32).reshape(-1)
    bad = ~np.isfinite(a)
    if bad.any():
        raise ValueError(f"non-finite constant {a[bad][0]}")
    return [_literal(s) for s in map(str, a)]


def array_declare(ctype: str, name: str, values: Iterable[float] | np.ndarray,
                  per_line: int = 8, static: bool = True, const: bool = True,
                  attr: str = "") -> str:
    if ctype == "float":
        items = c_floats(values)
    else:
        vals = values if isinstance(values, list) else np.asarray(values).reshape(-1).tolist()
        items = [c_int(v) for v in vals]
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
