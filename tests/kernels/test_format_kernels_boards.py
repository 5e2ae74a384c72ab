"""Every matrix format's kernels, float32 and int8, on the Arm boards under QEMU (and on the
host through ctypes): the calls and constant tables are written by the formats' own emitters
(formats/*.py emit_f32 / emit_s8), as in generated code; float32 against the IR's NumPy
product (within 1e-5), int8 bit for bit against the format's `forward`."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from rnngen import formats, quant
from rnngen.emit.c import _Ctx, _Program
from rnngen.emit.c_int8 import QProgram
from rnngen.passes.quantize import _Builder
from tests.kernels.harness import Case, HostLib, run_cases
from tests.unit.test_formats import MATS

F32 = np.float32
TRIALS = 3


class _FProg(_Program):
    def __init__(self, ctx: _Ctx, scratch: str):
        self.ctx, self._scratch = ctx, scratch

    @property
    def scratch(self) -> str:
        return self._scratch


class _QProg(QProgram):
    def __init__(self, ctx: _Ctx):
        self.ctx = ctx


def _ident(name: str) -> str:
    return "m_" + re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def _builder() -> _Builder:
    b = _Builder.__new__(_Builder)
    b.where = "test"
    return b


def _cases() -> list[tuple[Case, object, str]]:
    """(case, matrix or quantized matrix, kind) for every format sample."""
    out = []
    for label, m in MATS.items():
        rows, cols = m.shape
        c = _ident(label)
        ctx = _Ctx()
        lines = _FProg(ctx, f"f{c}_scratch").matvec(f"f{c}_M", m, f"f{c}_b", f"f{c}_x",
                                                    f"f{c}_y")
        out.append((Case(f"f{c}", set(ctx.kernels), {
            "x": np.zeros(cols, F32), "b": np.zeros(rows, F32), "y": np.zeros(rows, F32),
            "scratch": np.zeros(max(1, formats.scratch(m)), F32)}, lines, ["y"],
            decls=ctx.decls), m, "f32"))
        rng = np.random.default_rng(7)
        qm = _builder().matrix(m, quant.QParams(2.0 / 255, -37), 2.0 ** -12,
                               rng.uniform(-1, 1, (20, cols)), label)
        ctx = _Ctx()
        lines = _QProg(ctx).matvec(f"q{c}_M", qm, f"q{c}_x", f"q{c}_y", f"q{c}_scratch")
        out.append((Case(f"q{c}", set(ctx.kernels), {
            "x": np.zeros(cols, np.int8), "y": np.zeros(rows, np.int16),
            "scratch": np.zeros(max(16, formats.scratch_s8(qm)), np.int8)}, lines, ["y"],
            decls=ctx.decls), qm, "s8"))
    return out


def _inputs(case: Case, rng: np.random.Generator) -> dict[str, np.ndarray]:
    x = case.arrays["x"]
    if x.dtype == np.int8:
        return {"x": rng.integers(-128, 128, x.size).astype(np.int8)}
    return {"x": rng.standard_normal(x.size).astype(F32),
            "b": rng.standard_normal(case.arrays["b"].size).astype(F32)}


def _check(m: object, kind: str, a: dict[str, np.ndarray], got: np.ndarray, what: str) -> None:
    if kind == "s8":
        want = quant.sat16(m.forward(a["x"].astype(np.int64)))  # type: ignore[attr-defined]
        assert np.array_equal(got.astype(np.int64), want), what
    else:
        want = m.to_dense().astype(np.float64) @ a["x"] + a["b"]  # type: ignore[attr-defined]
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5, err_msg=what)


def test_every_format_on_the_host_through_ctypes(tmp_path):
    cases = _cases()
    lib = HostLib([c for c, _, _ in cases], tmp_path)
    rng = np.random.default_rng(3)
    for case, m, kind in cases:
        for t in range(TRIALS):
            a = _inputs(case, rng)
            _check(m, kind, a, lib.call(case.name, **a)["y"], f"{case.name} trial {t}")


@pytest.mark.qemu
@pytest.mark.parametrize("board", ["cortex-a73", "cortex-m4", "cortex-m55"])
def test_every_format_on_the_board(board, tmp_path):
    runs = []
    for case, m, kind in _cases():
        rng = np.random.default_rng(math.prod(map(ord, case.name + board)) % 2**32)
        for t in range(TRIALS):
            runs.append((case.copy(f"_t{t}", _inputs(case, rng)), m, kind))
    got = run_cases(board, [c for c, _, _ in runs], tmp_path)
    for case, m, kind in runs:
        _check(m, kind, case.arrays, got[case.name]["y"], f"{board} {case.name}")


def _kron_cases() -> list[tuple[Case, tuple]]:
    """rnn_mat_vec_kron_f32 on every shape of KRON_SHAPES, both associations, with a bias,
    accumulating into y (bias = y) and without a bias: (case, (shape, order, bias mode))."""
    from tests.kernels.test_format_kernels import KRON_SHAPES, kron_case, kron_scratch

    out = []
    for k, shape in enumerate(KRON_SHAPES):
        m1, n1, m2, n2, rows, cols = shape
        a, b, x, bias = kron_case(shape, 40 + k)
        for ax in (True, False):
            for mode in ("bias", "accumulate", "none"):
                name = f"kron{k}_{'ax' if ax else 'xb'}_{mode}"
                arg = {"bias": f"{name}_b", "accumulate": f"{name}_y", "none": "NULL"}[mode]
                y0 = np.random.default_rng(k).standard_normal(rows).astype(F32)
                call = (f"rnn_mat_vec_kron_f32({name}_s, {rows}, {cols}, {m1}, {n1}, {m2}, "
                        f"{n2}, {int(ax)}, {name}_A, {name}_B, {arg}, {name}_x, {name}_y);")
                out.append((Case(name, {"rnn_mat_vec_kron_f32"}, {
                    "A": a, "B": formats.dense.pack_dense(b), "x": x, "b": bias, "y": y0,
                    "s": np.full(kron_scratch(shape, ax), 3e38, F32)}, [call], ["y"]),
                    (a, b, rows, cols, ax, x,
                     {"bias": bias, "accumulate": y0, "none": None}[mode])))
    return out


@pytest.mark.parametrize("board", ["host", pytest.param("cortex-a73", marks=pytest.mark.qemu),
                                   pytest.param("cortex-m4", marks=pytest.mark.qemu),
                                   pytest.param("cortex-m7", marks=pytest.mark.qemu),
                                   pytest.param("cortex-m55", marks=pytest.mark.qemu)])
def test_kron_f32_exact_order_on_the_board(board, tmp_path):
    """The Kronecker float kernel's every path (NEON on cortex-a73, VLDM + VMLA assembly on
    cortex-m4/m7, Helium on cortex-m55, plain C on the host), both associations: bit for bit
    the operation-order model of test_format_kernels (fused multiply-add on AArch64 and
    Helium)."""
    import platform

    from tests.kernels.test_format_kernels import kron_f32_model

    fused = board in ("cortex-a73", "cortex-a53", "cortex-m55") or (board == "host"
                                                      and platform.machine() == "aarch64")
    cases = _kron_cases()
    got = run_cases(board, [c for c, _ in cases], tmp_path)
    for case, (a, b, rows, cols, ax, x, bias) in cases:
        want = kron_f32_model(a, b, rows, cols, ax, x, bias, fused)
        y = got[case.name]["y"]
        assert np.array_equal(y, want), (board, case.name, np.max(np.abs(y - want)))


def _kron_s8_cases() -> list[tuple[Case, object]]:
    """rnn_mat_vec_kron_s8_s16 (called as kron.py's emitter writes it) on every shape of
    KRON_SHAPES, both associations, x's zero point -37, 0 and 5, the common requantization
    (shift <= -2) and the general one for the output, and the edges of the vector / SMMLA
    requantization's domain [-31, -2] (intermediate -1 and -2, output -2 and -32, outside
    it: the scalar fallbacks): (case, QKron)."""
    from rnngen.formats.kron import QKron
    from tests.kernels.test_format_kernels import KRON_SHAPES

    out = []
    for k, shape in enumerate(KRON_SHAPES):
        m1, n1, m2, n2, rows, cols = shape
        rng = np.random.default_rng(70 + k)
        a = rng.integers(-127, 128, (m1, n1)).astype(np.int8)
        b = rng.integers(-127, 128, (m2, n2)).astype(np.int8)
        for ax in (True, False):
            for zx, st, sy in ((-37, -8, -3), (0, -8, -1), (5, -1, -2), (0, -2, -32)):
                qm = QKron(a, b, rows, cols, ax, zx, 1518500250, st, 1518500250, sy)
                name = f"qkron{k}_{'ax' if ax else 'xb'}_{zx + 40}_{-st}_{-sy}"
                ctx = _Ctx()
                lines = _QProg(ctx).matvec(f"{name}_M", qm, f"{name}_x", f"{name}_y",
                                           f"{name}_scratch")
                out.append((Case(name, set(ctx.kernels), {
                    "x": rng.integers(-128, 128, cols).astype(np.int8),
                    "y": np.zeros(rows, np.int16),
                    "scratch": np.full(formats.scratch_s8(qm), 99, np.int8)}, lines, ["y"],
                    decls=ctx.decls), qm))
    # int16 saturation in the fused requantization (SSAT, VQMOVN, the Helium clamp): A and x
    # all 127 saturate T to 127, rows of B of +-127 take B T past both int16 limits
    for k in (1, 5, 10, 11):
        m1, n1, m2, n2, rows, cols = KRON_SHAPES[k]
        a = np.full((m1, n1), 127, np.int8)
        b = np.where((np.arange(m2) % 3 == 1)[:, None], -127, 127).astype(np.int8)
        b = np.repeat(b, n2, axis=1)
        qm = QKron(a, b, rows, cols, True, 0, 1518500250, -1, 2147483647, -2)
        name = f"qkron{k}_sat"
        ctx = _Ctx()
        lines = _QProg(ctx).matvec(f"{name}_M", qm, f"{name}_x", f"{name}_y", f"{name}_scratch")
        out.append((Case(name, set(ctx.kernels), {
            "x": np.full(cols, 127, np.int8), "y": np.zeros(rows, np.int16),
            "scratch": np.full(formats.scratch_s8(qm), 99, np.int8)}, lines, ["y"],
            decls=ctx.decls), qm))
    return out


@pytest.mark.parametrize("board", ["host", pytest.param("cortex-a73", marks=pytest.mark.qemu),
                                   pytest.param("cortex-m4", marks=pytest.mark.qemu),
                                   pytest.param("cortex-m7", marks=pytest.mark.qemu),
                                   pytest.param("cortex-m55", marks=pytest.mark.qemu)])
def test_kron_s8_every_path_on_the_board(board, tmp_path):
    """The int8 Kronecker kernel's paths (B stage on rnn_mat_vec_s8_sums: DSP, Helium, NEON;
    the AArch64 16-lane rows for n2 <= 16 and their plain-C last rows; x's zero point as row
    offsets with X B^T first), both associations: bit for bit QKron.forward."""
    cases = _kron_s8_cases()
    got = run_cases(board, [c for c, _ in cases], tmp_path)
    for case, qm in cases:
        want = quant.sat16(qm.forward(case.arrays["x"].astype(np.int64)))
        assert np.array_equal(got[case.name]["y"].astype(np.int64), want), (board, case.name)


# --------------------------------------------------------------------------- CSR kernels

def _csr_cases() -> list[tuple[Case, object, str]]:
    """The CSR kernels on rows of every length 0..9, 12, a full row and empty rows (padded by
    the emitters to groups of four), float32 and int8, at two widths."""
    from tests.kernels.test_format_kernels import csr_rows_matrix

    out = []
    for cols in (23, 300):
        m = csr_rows_matrix(cols)
        rows = m.shape[0]
        ctx = _Ctx()
        lines = _FProg(ctx, "fcsr_scratch").matvec(f"fcsr{cols}_M", m, f"fcsr{cols}_b",
                                                   f"fcsr{cols}_x", f"fcsr{cols}_y")
        out.append((Case(f"fcsr{cols}", set(ctx.kernels), {
            "x": np.zeros(cols, F32), "b": np.zeros(rows, F32), "y": np.zeros(rows, F32)},
            lines, ["y"], decls=ctx.decls), m, "f32"))
        rng = np.random.default_rng(cols)
        qm = _builder().matrix(m, quant.QParams(2.0 / 255, -37), 2.0 ** -12,
                               rng.uniform(-1, 1, (20, cols)), f"csr {cols}")
        ctx = _Ctx()
        lines = _QProg(ctx).matvec(f"qcsr{cols}_M", qm, f"qcsr{cols}_x", f"qcsr{cols}_y",
                                   f"qcsr{cols}_scratch")
        out.append((Case(f"qcsr{cols}", set(ctx.kernels), {
            "x": np.zeros(cols, np.int8), "y": np.zeros(rows, np.int16),
            "scratch": np.zeros(16, np.int8)}, lines, ["y"], decls=ctx.decls), qm, "s8"))
    return out


def _csr_check(m: object, kind: str, a: dict[str, np.ndarray], got: np.ndarray, fused,
               what: str) -> None:
    from tests.kernels.test_format_kernels import assert_csr_f32

    if kind == "s8":  # bit for bit against QCsr.forward
        _check(m, kind, a, got, what)
    else:  # bit for bit in the kernel's stated order
        assert_csr_f32(got, m, a["x"], a["b"], fused, what)


def _csr_inputs(case: Case, rng: np.random.Generator, t: int) -> dict[str, np.ndarray]:
    a = _inputs(case, rng)
    if t == 0 and a["x"].dtype == np.int8:  # the extremes of int8 x (values reach +-127)
        a["x"] = np.where(np.arange(a["x"].size) % 2 == 0, -128, 127).astype(np.int8)
    return a


def test_csr_kernels_on_the_host(tmp_path):
    cases = _csr_cases()
    lib = HostLib([c for c, _, _ in cases], tmp_path)
    rng = np.random.default_rng(4)
    for case, m, kind in cases:
        for t in range(TRIALS):
            a = _csr_inputs(case, rng, t)
            # the host's gcc (-O2, no -march) may not have a one-instruction fmaf: either
            _csr_check(m, kind, a, lib.call(case.name, **a)["y"], None, f"{case.name} {t}")


@pytest.mark.qemu
@pytest.mark.parametrize("board", ["cortex-a73", "cortex-m4", "cortex-m7", "cortex-m55"])
def test_csr_kernels_on_the_board(board, tmp_path):
    runs = []
    for case, m, kind in _csr_cases():
        rng = np.random.default_rng(math.prod(map(ord, case.name + board)) % 2**32)
        for t in range(TRIALS):
            runs.append((case.copy(f"_t{t}", _csr_inputs(case, rng, t)), m, kind))
    got = run_cases(board, [c for c, _, _ in runs], tmp_path)
    for case, m, kind in runs:
        # every Arm board here has a one-instruction fmaf (VFMA / FMADD): fused steps
        _csr_check(m, kind, case.arrays, got[case.name]["y"], True, f"{board} {case.name}")
