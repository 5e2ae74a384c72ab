"""rnn_fastgrnn_cell_s16 and rnn_fastrnn_cell_s16 on every path, bit for bit against the
NumPy reference (codegen/cells/fastgrnn.py and fastrnn.py step_s8): the plain C on the host,
NEON on cortex-a73, Helium on cortex-m55 (four units a pass, the last H mod 4 in C) and the
DSP path on cortex-m4 / cortex-m7 (FastGRNN two units a pass, then an odd last one).

The cells come from small models of several hidden sizes (13 and 9: vector passes and a
tail; 4: one pass, no tail; 7), weight scales and constants (zeta / nu, alpha / beta, a
tanh gate whose outputs reach -32768), plus the quantization parameters of one model
replaced by the edges of each path's condition (the C and the reference read the same
replaced parameters): h15_shift -1 and 20 (the DSP bounds) and 21 (none), out_shift -2 and
-23 (the DSP bounds), -24, -1 and 13 (NEON / Helium only), 14 (none), the zero points -128
and 127, (s1, s2) = (-32768, 32767), (32767, 0) and (200, 50), and output scales near 1
(see EDGES). The recurrent product is the known function of test_cell_kernels.py (given +
h), so the inputs reach every saturation. The test asserts which path each case's
parameters take, and that the fast paths run at all.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rnngen import ir, npz
from tests.kernels.test_cell_kernels import (
    _cell_s16,
    _Check,
    check_on_board,
    check_on_host,
    compile_int8,
    with_first_inputs,
)

F32 = np.float32
HOST_TRIALS = 100
BOARD_TRIALS = 6
BOARDS = ["cortex-a73", "cortex-m4", "cortex-m7", "cortex-m55"]

# key: (cell, hidden, input, weight scale, constants and nonlinearities)
MODELS: dict[str, tuple[str, int, int, float, dict[str, Any]]] = {
    "g13": ("fastgrnn", 13, 5, 0.4, dict(zeta=1.0, nu=-3.0)),
    "g4t": ("fastgrnn", 4, 3, 0.9, dict(zeta=3.0, nu=0.5, gate_nonlinearity="tanh")),
    "g9": ("fastgrnn", 9, 6, 0.15, dict(zeta=-2.0, nu=1.5)),
    "r13": ("fastrnn", 13, 5, 0.4, dict(alpha=-1.5, beta=1.2)),
    "r4": ("fastrnn", 4, 3, 0.9, dict(alpha=2.0, beta=-2.0, update_nonlinearity="sigmoid")),
    "r7": ("fastrnn", 7, 6, 0.15, dict(alpha=0.0, beta=3.0)),
}

# replaced quantization parameters: (model, name, QRecurrent fields, QDirection.fast).
# "fine": an output scale of 1/4 (out_shift -2, the largest multiplier), h15 about
# (h - zp) / 3, biases and inputs within +-30 (see _fine), so that the int8 output sees
# nearly every unit of the Q0.15 sum: a rounding off by one in any term shows (elsewhere the
# output keeps one in 2^8 of them). "fine1": the same with out_shift -1 (scale 1/2).
# "coef": the same output scale with s1 = 200, s2 = 50 and any inputs: the candidates reach
# +-32767, so the terms s1 (1 - z) + s2 and s1 h~ show their rounding too.
EDGES: list[tuple[str, str, dict[str, Any], tuple[int, int] | None]] = [
    (m, name, f, fast)
    for m in ("g13", "r13")
    for name, f, fast in [
        ("lo", dict(h15_shift=-1, out_shift=-2, zp=-128), None),
        ("hi", dict(h15_shift=20, out_shift=-23, zp=127), None),
        ("deep", dict(out_shift=-24), None),
        ("top", dict(h15_shift=3, out_shift=13), None),
        ("off", dict(h15_shift=21, out_shift=14), None),
        ("s", {}, (-32768, 32767)),
        ("fine", dict(h15_shift=-1, out_shift=-2, out_mult=2**31 - 1, small_bias=True), None),
        ("fine1", dict(h15_shift=0, out_shift=-1, out_mult=2**31 - 1, small_bias=True), None),
        ("coef", dict(h15_shift=-1, out_shift=-2, out_mult=2**31 - 1), (200, 50)),
    ]
] + [("g4t", "s", {}, (-32768, 32767)), ("g4t", "s0", {}, (32767, 0))]


def _rq_fast(shift: int, b: int) -> bool:
    """RNN_RQ_FAST(shift, b) of rnn_cell_support.h"""
    return -31 <= shift <= 28 - b


def _paths(q: Any) -> tuple[bool, bool]:
    """(NEON / Helium, DSP): whether the kernels' fast paths take these parameters (the
    conditions in rnn_fastgrnn_cell_s16 and rnn_fastrnn_cell_s16)."""
    vec = _rq_fast(q.h15_shift, 8) and _rq_fast(q.out_shift, 15)
    dsp = -1 <= q.h15_shift <= 20 and -23 <= q.out_shift <= -2
    return vec, dsp


def _graph(tmp: Path, key: str) -> ir.Graph:
    cell, H, I, scale, kw = MODELS[key]
    rng = np.random.default_rng(sum(map(ord, key)))

    def r(*s: int) -> np.ndarray:
        return (rng.standard_normal(s) * scale).astype(F32)

    if cell == "fastgrnn":
        layer = npz.fastgrnn(r(H, I), r(H, H), r(H), r(H), **kw)
    else:
        layer = npz.fastrnn(r(H, I), r(H, H), r(H), **kw)
    p = tmp / f"{key}.npz"
    npz.save(p, [layer], input_size=I, seq_len=4)
    return compile_int8(p)


def _q(g: ir.Graph) -> Any:
    """the quantization (quant.QRecurrent) of g's recurrent layer"""
    return g.quant.nodes[next(x for x in g.nodes if isinstance(x, ir.Recurrent)).name]


def _edge(g: ir.Graph, fields: dict[str, Any], fast: tuple[int, int] | None) -> None:
    """g's recurrent quantization with the given fields (zp: the hidden state's zero
    point; small_bias: the biases clipped to +-30) and fast constants (s1, s2)."""
    n = next(x for x in g.nodes if isinstance(x, ir.Recurrent))
    q = g.quant.nodes[n.name]
    f = dict(fields)
    if "zp" in f:
        f["h"] = dataclasses.replace(q.h, zero_point=f.pop("zp"))
    if fast is not None:
        f["directions"] = tuple(dataclasses.replace(d, fast=fast) for d in q.directions)
    if f.pop("small_bias", False):  # the biases within +-30 (Q3.12), of the same dtype
        f["directions"] = tuple(dataclasses.replace(
            d, **{b: np.clip(getattr(d, b), -30, 30).astype(getattr(d, b).dtype)
                  for b in ("bias", "bias2") if getattr(d, b) is not None})
            for d in q.directions)
    g.quant.nodes[n.name] = dataclasses.replace(q, **f)


def _fine(chk: _Check) -> _Check:
    """chk with small pre-activations: gx, the recurrent product's given term and h (its x
    term) within +-30."""
    def inputs(rng: np.random.Generator) -> dict[str, np.ndarray]:
        a = chk.inputs(rng)
        for k in ("gx", "given", "h"):
            a[k] = rng.integers(-30, 31, a[k].size).astype(a[k].dtype)
        return a

    return dataclasses.replace(chk, inputs=inputs)


@pytest.fixture(scope="module")
def checks(tmp_path_factory) -> dict[str, tuple[_Check, int, bool, bool]]:
    """{case: (check, H, NEON / Helium path, DSP path)}"""
    tmp = tmp_path_factory.mktemp("fast")
    out = {}
    graphs = {k: _graph(tmp, k) for k in MODELS}
    for key, g in graphs.items():
        out[f"s16_{key}"] = (_cell_s16(key, g), MODELS[key][1], *_paths(_q(g)))
    for key, name, fields, fast in EDGES:
        g = _graph(tmp, key)  # its own copy: _cell_s16 reads g.quant now
        _edge(g, fields, fast)
        q = _q(g)
        chk = _cell_s16(f"{key}_{name}", g)
        out[f"s16_{key}_{name}"] = (_fine(chk) if name.startswith("fine") else chk,
                                    MODELS[key][1], *_paths(q))
    with_first_inputs(_plain(out))
    return out


def _plain(checks: dict[str, tuple[_Check, int, bool, bool]]) -> dict[str, _Check]:
    """{case: check}"""
    return {name: chk for name, (chk, *_) in checks.items()}


def test_the_fast_paths_are_exercised(checks):
    """Each cell has cases on the NEON / Helium path with a vector pass and a tail, one
    without a tail, and cases on the DSP path with an even and an odd hidden size; and the
    edges take the paths intended."""
    for cell in ("fastgrnn", "fastrnn"):
        mine = [(H, vec, dsp) for chk, H, vec, dsp in checks.values()
                if f"rnn_{cell}_cell_s16" in chk.case.kernels]
        assert len(mine) > 5, cell
        assert any(vec and H > 4 and H % 4 for H, vec, _ in mine), cell
        assert any(vec and H % 4 == 0 for H, vec, _ in mine), cell
        assert any(dsp and H % 2 for H, _, dsp in mine), cell
        assert any(dsp and H % 2 == 0 for H, _, dsp in mine), cell
    want = {"lo": (True, True), "hi": (True, True), "deep": (True, False),
            "top": (True, False), "off": (False, False), "s": (True, True),
            "fine": (True, True), "fine1": (True, False), "coef": (True, True)}
    for key, name, _, _ in EDGES:
        _, _, vec, dsp = checks[f"s16_{key}_{name}"]
        assert (vec, dsp) == want.get(name, (True, True)), (key, name)


def test_fast_cells_on_host_through_ctypes(checks, tmp_path):
    check_on_host(_plain(checks), tmp_path, HOST_TRIALS)


@pytest.mark.qemu
@pytest.mark.parametrize("board", BOARDS)
def test_fast_cells_on_the_board(checks, board, tmp_path):
    """Every case with BOARD_TRIALS random inputs, in one program per board under QEMU."""
    check_on_board(_plain(checks), board, tmp_path, BOARD_TRIALS)
