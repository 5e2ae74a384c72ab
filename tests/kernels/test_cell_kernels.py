"""Every cell kernel (float32 and int16, every cell — SRU with and without projection — and
cell option), the integer softmax,
the int8 activation table, (de)quantization and the int8 strided copy: called alone, on the
host through ctypes (a shared library compiled once, many random inputs) and under QEMU on
the Arm boards (one program of all cases per board), against rnngen's NumPy reference.

A cell kernel is called with the C its cell module emits (cells/*.py: params struct and
call), from a real model's parameters (quantization included); the recurrent products are
replaced by a known function, y = given + x (x repeated over the rows), in the C and in the
reference step alike, so every gate value, saturation and clip the inputs reach is checked.
float32: within 1e-5 (the C's own exp/tanh against NumPy's); int16: bit for bit.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import onnx
import pytest

from rnngen import cells, cgen, ir, npz, pipeline, quant
from rnngen.emit.c import _Ctx, _Program
from rnngen.emit.c_int8 import QProgram
from rnngen.formats.dense import pack_dense
from tests import models
from tests.kernels.harness import Case, HostLib, run_cases

F32 = np.float32
I64 = np.int64
TRIALS = 25  # random inputs per case on the host (one compile)


# ------------------------------------------------------------------ models of every cell

def _onnx(tmp: Path, key: str, spec: models.Spec) -> Path:
    p = tmp / f"{key}.onnx"
    onnx.save(models.make_model(spec, 3), p)
    return p


def _npz(tmp: Path, key: str) -> Path:
    rng = np.random.default_rng(11)
    I, H = 5, 6

    def r(*s: int) -> np.ndarray:
        return (rng.standard_normal(s) * 0.4).astype(F32)

    if key == "fastrnn":
        layer = npz.fastrnn(r(H, I), r(H, H), r(H), alpha=-1.5, beta=1.2)
    elif key == "sru":  # I != H: a projection W_p
        layer = npz.sru(r(4 * H, I), r(H), r(H), r(H), r(H))
    elif key == "sru_highway":  # I == H: x itself
        I = H
        layer = npz.sru(r(3 * H, I), r(H), r(H), r(H), r(H))
    else:
        layer = npz.fastgrnn(r(H, I), r(H, H), r(H), r(H), zeta=1.0, nu=-3.0)
    p = tmp / f"{key}.npz"
    npz.save(p, [layer], input_size=I, seq_len=4)
    return p


VARIANTS: dict[str, Callable[[Path], Path]] = {
    "lstm": lambda t: _onnx(t, "lstm", models.Spec("LSTM", "forward", 5, 6, 4, 1)),
    "lstm_peep_clip": lambda t: _onnx(t, "lstm_peep_clip", models.Spec(
        "LSTM", "forward", 5, 6, 4, 1, peepholes=True, clip=1.5)),
    "lstm_ifg": lambda t: _onnx(t, "lstm_ifg", models.Spec("LSTM", "forward", 5, 6, 4, 1,
                                                           input_forget=True)),
    "gru_lbr0": lambda t: _onnx(t, "gru_lbr0", models.Spec("GRU", "forward", 5, 6, 4, 1, lbr=0)),
    "gru_lbr1_clip": lambda t: _onnx(t, "gru_lbr1_clip", models.Spec(
        "GRU", "forward", 5, 6, 4, 1, lbr=1, clip=2.0)),
    "rnn": lambda t: _onnx(t, "rnn", models.Spec("RNN", "forward", 5, 6, 4, 1,
                                                 activations=["Tanh"], alphas=[0.0],
                                                 betas=[0.0])),
    "fastrnn": lambda t: _npz(t, "fastrnn"),
    "fastgrnn": lambda t: _npz(t, "fastgrnn"),
    "sru": lambda t: _npz(t, "sru"),
    "sru_highway": lambda t: _npz(t, "sru_highway"),
}


# ------------------------------------------------------------------ the known products

@dataclass(frozen=True)
class _FakeF:
    """A float recurrent product y = given[off:off+rows] + x repeated over the rows."""

    given: np.ndarray
    sym: str
    cols: int
    off: int = 0

    @property
    def shape(self) -> tuple[int, int]:
        return (self.given.size, self.cols)

    def matvec(self, v: np.ndarray) -> np.ndarray:
        return (self.given + np.resize(np.asarray(v, F32), self.given.size)).astype(F32)

    def row_slice(self, a: int, b: int) -> _FakeF:
        return _FakeF(self.given[a:b], self.sym, self.cols, self.off + a)


@dataclass(frozen=True)
class _FakeQ:
    """The int8 counterpart: forward(x) = given + x repeated (int32; the consumer saturates)."""

    given: np.ndarray
    sym: str
    cols: int
    off: int = 0

    def forward(self, v: np.ndarray) -> np.ndarray:
        return self.given.astype(I64) + np.resize(np.asarray(v, I64), self.given.size)


def _loop(m: Any, y: str, value: str) -> list[str]:
    rows = m.given.size
    return ["{", "    int32_t i_;", f"    for (i_ = 0; i_ < {rows}; ++i_)",
            f"        {y}[i_] = {value};", "}"]


class _FProg(_Program):
    def __init__(self, ctx: _Ctx):  # only the cell's emission is used
        self.ctx = ctx

    def matvec(self, base: str, m: Any, bias: str, x: str, y: str) -> list[str]:
        b = "" if bias == "NULL" else f"({bias})[i_] + "
        return _loop(m, f"({y})", f"{b}{m.sym}[{m.off} + i_] + ({x})[i_ % {m.cols}]")


class _QProg(QProgram):
    def __init__(self, ctx: _Ctx):
        self.ctx = ctx

    def matvec(self, base: str, m: Any, x: str, y: str, scratch: str) -> list[str]:
        return _loop(m, f"({y})", f"(int16_t)rnn_sat16({m.sym}[{m.off} + i_] + "
                                  f"({x})[i_ % {m.cols}])")


# ------------------------------------------------------------------ cases

@dataclass
class _Check:
    case: Case
    inputs: Callable[[np.random.Generator], dict[str, np.ndarray]]
    oracle: Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]]
    exact: bool


def _cell_f32(key: str, g: ir.Graph) -> _Check:
    n = next(x for x in g.nodes if isinstance(x, ir.Recurrent))
    cd, cell, H = n.directions[0], cells.of(n.cell), n.hidden
    GH, I = cd.W.shape[0], n.input_size  # the rows of W x (SRU: 3H or 4H)
    name = f"f32_{key}"
    ctx = _Ctx()
    rows = cd.R.shape[0]
    fake = _FakeF(np.zeros(rows, F32), f"{name}_given", H)
    prog = _FProg(ctx)
    work = cell.work(H)
    slots = SimpleNamespace(slot=lambda k: f"{name}_work + {cell.work_slots(H)[k]}",
                            prefix=name, clip=cgen.c_float(n.clip or 0.0),
                            acts=[prog.act(a) for a in cd.activations], xt=f"{name}_x")
    bias, steps = cell.emit_f32(prog, n, dataclasses.replace(cd, R=fake), slots)
    bsym = ctx.array(f"{name}_bias", bias) if bias is not None else None
    body = [f"float *g = {name}_g;", f"float *h = {name}_h;", f"float *c = {name}_c;",
            "(void)c;", *_loop(SimpleNamespace(given=np.zeros(GH)), "g",
                               f"{name}_gx[i_]" + (f" + {bsym}[i_]" if bsym else "")), *steps]
    case = Case(name, set(ctx.kernels), {
        "gx": np.zeros(GH, F32), "g": np.zeros(GH, F32), "h": np.zeros(H, F32),
        "x": np.zeros(I, F32),
        "c": np.zeros(H, F32), "given": np.zeros(rows, F32),
        "work": np.zeros(max(1, work), F32)}, body, ["h", "c"], decls=ctx.decls)

    def inputs(rng: np.random.Generator) -> dict[str, np.ndarray]:
        return {"gx": rng.uniform(-4, 4, GH).astype(F32), "h": rng.uniform(-1, 1, H).astype(F32),
                "x": rng.uniform(-2, 2, I).astype(F32),
                "c": rng.uniform(-3, 3, H).astype(F32),
                "given": rng.uniform(-3, 3, rows).astype(F32)}

    def oracle(a: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        # W x is gx (a cell that recomputes W x from x, FastGRNN, gets it from W)
        cdf = dataclasses.replace(cd, R=_FakeF(a["given"], "", H),
                                  W=_FakeF(a["gx"] - np.resize(a["x"], GH), "", I))
        c0 = a["c"] if cell.has_cell_state else None
        h, c = cell.step_f32(n, cdf, a["x"], a["gx"] + cd.wb, a["h"], c0)
        return {"h": h} if c is None else {"h": h, "c": c}

    return _Check(case, inputs, oracle, exact=False)


def _cell_s16(key: str, g: ir.Graph) -> _Check:
    n = next(x for x in g.nodes if isinstance(x, ir.Recurrent))
    q: quant.QRecurrent = g.quant.nodes[n.name]
    qd, cell, H = q.directions[0], cells.of(n.cell), n.hidden
    GH, I = n.directions[0].W.shape[0], n.input_size  # the rows of W x (SRU: 3H or 4H)
    name = f"s16_{key}"
    ctx = _Ctx()
    prog = _QProg(ctx)
    r_rows = GH - (H if qd.Rh is not None else 0)
    fakes = dict(R=_FakeQ(np.zeros(r_rows, I64), f"{name}_given", H))
    if qd.Rh is not None:
        fakes["Rh"] = _FakeQ(np.zeros(H, I64), f"{name}_given", H, r_rows)
    prm = prog.cell_params(n, q, qd, name)
    slots = SimpleNamespace(gx=f"{name}_gx", gh=f"{name}_gh", zr=f"{name}_zr",
                            rh=f"{name}_rh", scratch=f"{name}_scratch", prefix=name,
                            params=prm, xt=f"{name}_x")
    steps = cell.emit_s8(prog, n, q, dataclasses.replace(qd, **fakes), slots)
    body = [f"int8_t *h = {name}_h;", f"int16_t *c = {name}_c;", "(void)c;", *steps]
    case = Case(name, set(ctx.kernels), {
        "gx": np.zeros(GH, np.int16), "gh": np.zeros(GH, np.int16),
        "zr": np.zeros(GH, np.int16), "rh": np.zeros(H, np.int8),
        "scratch": np.zeros(16, np.int8), "h": np.zeros(H, np.int8),
        "c": np.zeros(H, np.int16), "given": np.zeros(GH, np.int32),
        "x": np.zeros(I, np.int8)},
        body, ["h", "c"], decls=ctx.decls)

    def inputs(rng: np.random.Generator) -> dict[str, np.ndarray]:
        wide = rng.random() < 0.3  # now and then saturating values
        lim = 32767 if wide else 12000
        return {"gx": rng.integers(-lim, lim + 1, GH).astype(np.int16),
                "h": rng.integers(-128, 128, H).astype(np.int8),
                "x": rng.integers(-128, 128, I).astype(np.int8),
                "c": rng.integers(-32768 if wide else -8000, 32768 if wide else 8000,
                                  H).astype(np.int16),
                "given": rng.integers(-3 * lim, 3 * lim, GH).astype(np.int32)}

    def oracle(a: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        given = a["given"].astype(I64)
        f = dict(R=_FakeQ(given[:r_rows], "", H))
        if qd.Rh is not None:
            f["Rh"] = _FakeQ(given[r_rows:r_rows + H], "", H)
        c0 = a["c"].astype(I64) if cell.has_cell_state else None
        h, c = cell.step_s8(q, dataclasses.replace(qd, **f), a["x"].astype(I64),
                            a["gx"].astype(I64), a["h"].astype(I64), c0)
        return {"h": h} if c is None else {"h": h, "c": c}

    return _Check(case, inputs, oracle, exact=True)


def _softmax_s8() -> _Check:
    outer, n, inner = 3, 7, 2
    scale = 0.07
    table = np.round(np.exp(-np.arange(256) * scale) * 65536).astype(np.int32)
    case = Case("softmax_s8", {"rnn_softmax_s8"}, {
        "x": np.zeros(outer * n * inner, np.int8), "y": np.zeros(outer * n * inner, np.int8),
        "t": table}, [f"rnn_softmax_s8({outer}, {n}, {inner}, softmax_s8_t, softmax_s8_x, "
                      "softmax_s8_y);"], ["y"])

    def oracle(a: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        x = a["x"].astype(I64).reshape(outer, n, inner)
        m = x.max(axis=1, keepdims=True)
        e = table.astype(I64)[m - x]
        s = e.sum(axis=1, keepdims=True)
        return {"y": quant.sat8((e * 512 + s) // (2 * s) - 128).reshape(-1)}

    return _Check(case, lambda rng: {"x": rng.integers(-128, 128, outer * n * inner)
                                     .astype(np.int8)}, oracle, exact=True)


def _lut_s8() -> _Check:
    table = quant.sat8(np.round(np.tanh(np.linspace(-4, 4, 256)) * 127)).astype(np.int8)
    case = Case("lut_s8", {"rnn_lut_s8"}, {"x": np.zeros(300, np.int8),
                                          "y": np.zeros(300, np.int8), "t": table},
                ["rnn_lut_s8(lut_s8_t, lut_s8_x, 300, lut_s8_y);"], ["y"])
    return _Check(case, lambda rng: {"x": rng.integers(-128, 128, 300).astype(np.int8)},
                  lambda a: {"y": table.astype(I64)[a["x"].astype(I64) + 128]}, exact=True)


def _dequantize() -> list[_Check]:
    p8 = quant.QParams(0.0123, -17)
    p16 = quant.QState16(11)
    c8 = Case("deq_s8", {"rnn_dequantize_s8"}, {"x": np.zeros(40, np.int8),
                                               "y": np.zeros(40, F32)},
              [f"rnn_dequantize_s8(deq_s8_x, 40, {cgen.c_float(p8.scale)}, {p8.zero_point}, "
               "deq_s8_y);"], ["y"])
    c16 = Case("deq_s16", {"rnn_dequantize_s16"}, {"x": np.zeros(40, np.int16),
                                                   "y": np.zeros(40, F32)},
               [f"rnn_dequantize_s16(deq_s16_x, 40, {cgen.c_float(p16.scale)}, deq_s16_y);"],
               ["y"])
    return [
        _Check(c8, lambda rng: {"x": rng.integers(-128, 128, 40).astype(np.int8)},
               lambda a: {"y": quant.dequantize(a["x"], p8)}, exact=True),
        _Check(c16, lambda rng: {"x": rng.integers(-32768, 32768, 40).astype(np.int16)},
               lambda a: {"y": quant.dequantize(a["x"], p16)}, exact=True)]


def _copy_strided_s8() -> _Check:
    shape, perm = (3, 4, 5), (2, 0, 1)
    out = tuple(shape[p] for p in perm)
    ist = cgen.strides(shape)
    case = Case("copy_s8", {"rnn_copy_strided_s8"}, {
        "x": np.zeros(60, np.int8), "y": np.zeros(60, np.int8),
        "shape": np.array(out, np.int32), "ss": np.array([ist[p] for p in perm], np.int32),
        "ds": np.array(cgen.strides(out), np.int32)},
        ["rnn_copy_strided_s8(3, copy_s8_shape, copy_s8_x, copy_s8_ss, copy_s8_y, copy_s8_ds);"],
        ["y"])
    return _Check(case, lambda rng: {"x": rng.integers(-128, 128, 60).astype(np.int8)},
                  lambda a: {"y": np.transpose(a["x"].reshape(shape), perm).reshape(-1)},
                  exact=True)


def _float_kernels() -> list[_Check]:
    """The float32 kernels of other nodes: softmax, activations, broadcast arithmetic,
    strided copy, the batched mat-vec; and float -> int8 quantization."""
    out = []
    case = Case("softmax_f32", {"rnn_softmax_f32"}, {"x": np.zeros(42, F32),
                                                     "y": np.zeros(42, F32)},
                ["rnn_softmax_f32(3, 7, 2, 0, softmax_f32_x, softmax_f32_y);"], ["y"])

    def softmax(a: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        x = a["x"].astype(np.float64).reshape(3, 7, 2)
        e = np.exp(x - x.max(axis=1, keepdims=True))
        return {"y": (e / e.sum(axis=1, keepdims=True)).reshape(-1)}

    out.append(_Check(case, lambda rng: {"x": (rng.standard_normal(42) * 4).astype(F32)},
                      softmax, exact=False))
    for act in ("Sigmoid", "Tanh"):
        name = f"act_{act.lower()}"
        a_ = ir.Activation(act, *ir.ACTIVATION_DEFAULTS[act])
        case = Case(name, {"rnn_activation_f32"}, {"y": np.zeros(64, F32)}, [
            f"static const rnn_activation a_ = {_FProg(_Ctx()).act(a_)};",
            f"rnn_activation_f32(&a_, {name}_y, 64);"], ["y"])
        fn = {"Sigmoid": lambda v: 1 / (1 + np.exp(-v)), "Tanh": np.tanh}[act]
        out.append(_Check(case, lambda rng: {"y": (rng.standard_normal(64) * 5).astype(F32)},
                          lambda a, fn=fn: {"y": fn(a["y"].astype(np.float64))}, exact=False))
    case = Case("add_f32", {"rnn_elementwise_f32"}, {
        "a": np.zeros(12, F32), "b": np.zeros(4, F32), "y": np.zeros(12, F32),
        "shape": np.array([3, 4], np.int32), "sa": np.array([4, 1], np.int32),
        "sb": np.array([0, 1], np.int32)},
        ["rnn_elementwise_f32(RNN_OP_ADD, 2, add_f32_shape, add_f32_a, add_f32_sa, add_f32_b, "
         "add_f32_sb, add_f32_y);"], ["y"])
    out.append(_Check(case, lambda rng: {"a": rng.standard_normal(12).astype(F32),
                                         "b": rng.standard_normal(4).astype(F32)},
                      lambda a: {"y": (a["a"].reshape(3, 4) + a["b"]).reshape(-1)}, exact=True))
    shape, perm = (3, 4, 5), (1, 2, 0)
    dst = tuple(shape[q] for q in perm)
    ist = cgen.strides(shape)
    case = Case("copy_f32", {"rnn_copy_strided_f32"}, {
        "x": np.zeros(60, F32), "y": np.zeros(60, F32), "shape": np.array(dst, np.int32),
        "ss": np.array([ist[q] for q in perm], np.int32),
        "ds": np.array(cgen.strides(dst), np.int32)},
        ["rnn_copy_strided_f32(3, copy_f32_shape, copy_f32_x, copy_f32_ss, copy_f32_y, "
         "copy_f32_ds);"], ["y"])
    out.append(_Check(case, lambda rng: {"x": rng.standard_normal(60).astype(F32)},
                      lambda a: {"y": np.transpose(a["x"].reshape(shape), perm).reshape(-1)},
                      exact=True))
    w = np.random.default_rng(5).standard_normal((13, 9)).astype(F32)
    case = Case("matmul_f32", {"rnn_mat_mul_f32"}, {
        "w": pack_dense(w), "b": np.zeros(13, F32), "x": np.zeros(27, F32),
        "y": np.zeros(39, F32)},
        ["rnn_mat_mul_f32(13, 9, matmul_f32_w, matmul_f32_b, 3, matmul_f32_x, matmul_f32_y);"],
        ["y"])
    out.append(_Check(case, lambda rng: {"x": rng.standard_normal(27).astype(F32),
                                         "b": rng.standard_normal(13).astype(F32)},
                      lambda a: {"y": (a["x"].reshape(3, 9).astype(np.float64) @ w.T
                                       + a["b"]).reshape(-1)}, exact=False))
    p8 = quant.QParams(0.031, 5)
    case = Case("quant_s8", {"rnn_quantize_s8"}, {"x": np.zeros(50, F32),
                                                 "y": np.zeros(50, np.int8)},
                [f"rnn_quantize_s8(quant_s8_x, 50, {cgen.c_float(1.0 / p8.scale)}, "
                 f"{p8.zero_point}, quant_s8_y);"], ["y"])
    out.append(_Check(case, lambda rng: {"x": (rng.standard_normal(50) * 3).astype(F32)},
                      lambda a: {"y": quant.quantize_input(a["x"], p8)}, exact=True))
    return out


def compile_int8(model: Path, **options: Any) -> ir.Graph:
    """model (ONNX or npz) compiled for int8 (more pipeline.Options in options)."""
    return pipeline.compile_model(model, pipeline.Options(dtype="int8", **options))


def with_first_inputs(checks: dict[str, _Check]) -> dict[str, _Check]:
    """checks, each case's initial arrays set to its first random inputs (default_rng(0))."""
    for c in checks.values():
        c.case.arrays.update(c.inputs(np.random.default_rng(0)))
    return checks


@pytest.fixture(scope="module")
def checks(tmp_path_factory) -> dict[str, _Check]:
    tmp = tmp_path_factory.mktemp("cells")
    out: dict[str, _Check] = {}
    for key, make in VARIANTS.items():
        g = compile_int8(make(tmp))
        for c in (_cell_f32(key, g), _cell_s16(key, g)):
            out[c.case.name] = c
    for c in (_softmax_s8(), _lut_s8(), *_dequantize(), _copy_strided_s8(), *_float_kernels()):
        out[c.case.name] = c
    return with_first_inputs(out)


NAMES = [f"{d}_{k}" for k in VARIANTS for d in ("f32", "s16")] + [
    "softmax_s8", "lut_s8", "deq_s8", "deq_s16", "copy_s8", "softmax_f32", "act_sigmoid",
    "act_tanh", "add_f32", "copy_f32", "matmul_f32", "quant_s8"]


def _compare(chk: _Check, got: dict[str, np.ndarray], arrays: dict[str, np.ndarray],
             what: str) -> None:
    want = chk.oracle(arrays)
    for o, w in want.items():
        g = np.asarray(got[o]).reshape(-1)
        w = np.asarray(w).reshape(-1)
        if chk.exact:
            assert np.array_equal(g.astype(np.float64), w.astype(np.float64)), \
                f"{chk.case.name}.{o} ({what}): got {g}, want {w}"
        else:
            np.testing.assert_allclose(g, w, atol=1e-5, rtol=1e-5,
                                       err_msg=f"{chk.case.name}.{o} ({what})")


def check_on_host(checks: dict[str, _Check], lib: HostLib | Path, trials: int) -> None:
    """Each check against its oracle on the host through ctypes, with `trials` random inputs
    (seeded by its name): in lib, or in a shared library of all the checks built in the
    folder lib."""
    if not isinstance(lib, HostLib):
        lib = HostLib([c.case for c in checks.values()], lib)
    for name, chk in checks.items():
        rng = np.random.default_rng(math.prod(map(ord, name)) % 2**32)
        for trial in range(trials):
            a = {k: np.array(v) for k, v in chk.case.arrays.items()}
            a.update(chk.inputs(rng))
            _compare(chk, lib.call(name, **a), a, f"host, trial {trial}")


def check_on_board(checks: dict[str, _Check], board: str, work: Path, trials: int) -> set[str]:
    """Every check with `trials` random inputs (seeded by its name and the board), in one
    program for the board (under QEMU), against its oracle; returns the case names run."""
    runs = []
    for name, chk in checks.items():
        rng = np.random.default_rng(math.prod(map(ord, name + board)) % 2**32)
        for k in range(trials):
            runs.append((chk, chk.case.copy(f"_t{k}", chk.inputs(rng))))
    got = run_cases(board, [c for _, c in runs], work)
    for chk, case in runs:
        _compare(chk, got[case.name], case.arrays, f"{board}, {case.name}")
    return {chk.case.name for chk, _ in runs}


@pytest.fixture(scope="module")
def host_lib(checks, tmp_path_factory) -> HostLib:
    return HostLib([c.case for c in checks.values()], tmp_path_factory.mktemp("lib"))


@pytest.mark.parametrize("name", NAMES)
def test_kernel_on_host_through_ctypes(host_lib, checks, name):
    check_on_host({name: checks[name]}, host_lib, TRIALS)


BOARD_TRIALS = 8


@pytest.mark.qemu
@pytest.mark.parametrize("board", ["cortex-a73", "cortex-m4", "cortex-m55"])
def test_every_kernel_on_the_board(checks, board, tmp_path):
    """All cases, each with BOARD_TRIALS random inputs, in one program per board under
    QEMU, against the same oracles."""
    assert check_on_board(checks, board, tmp_path, BOARD_TRIALS) == set(NAMES)
