"""CSR against dense: instructions of the sparse mat-vec at densities 2% .. 50%, against the
dense kernel, on every emulated board, float32 and int8; the break-even density; HMD against
CSR at equal compression.

    pip install matplotlib                         # once (the plot)
    python benchmarks/csr_density.py               # writes benchmarks/results/csr_density.*
    python benchmarks/csr_density.py --before e376b86   # also counts that commit's CSR
                                                   # kernels (unpadded rows) on a73 and m4

Matrices: HAR1's LSTM stack, as benchmarks/compressed.py builds it (seeded uniform weights,
W 716 x 77 and U 716 x 179, four gates stacked). CSR: rnngen's own compressor
(rnngen.compress.compress_gates, what `rnngen compress -m csr` runs) at factor 1 / density,
i.e. magnitude pruning keeping round(179 n d) weights per gate block; HMD likewise at 2x,
3.33x and 5x. int8: each matrix quantized by rnngen's quantize pass (passes/quantize.py:
per-row int8 weights, x with scale 2/255 and zero point -37, outputs in 2^-12) and called as
rnngen's int8 emitter writes it (rnn_mat_vec_s8_s16 for dense, rnn_mat_vec_csr_s8_s16,
rnn_mat_vec_hmd_s8_s16).

Measured per board: instructions executed by one call of the stack (the statements rnngen's
emitters write for it, W with a bias and U accumulating into the same outputs for float32),
exactly, under QEMU with rnngen's counter (codegen/icount.py), each call twice (the counts
must agree). Boards: cortex-a73 (aarch64 -O3, on -cpu cortex-a72), cortex-m4 (-O2, FPv4-SP,
DSP), cortex-m7 (-O2, FPv5, DSP), cortex-m55 (-O2, Helium; read-only data linked at
0x60000000, DDR, as benchmarks/int8.py does: the stacks do not fit the 512 KiB ITCM). Host:
time of the same C (-O3 -march=native), median of repeats: indicative only on a shared machine.

Break-even density: where CSR's instructions (W + U) equal dense's, by linear interpolation
between the two measured densities around it (the counts are close to linear in the
number of padded entries); outside the measured range it is given as a bound.
"""

from __future__ import annotations

import argparse
import csv
import math
import shlex
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

import icount_harness as icount  # noqa: E402

from rnngen import compress, formats, quant  # noqa: E402
from rnngen.emit.c import KERNELS, _Ctx, _Program, kernel_closure  # noqa: E402
from rnngen.emit.c_int8 import INT8_KERNELS, QProgram  # noqa: E402
from rnngen.passes.quantize import _Builder  # noqa: E402
from rnngen.resources import data_dir  # noqa: E402

F32 = np.float32
I, H, G = 77, 179, 4
DENSITIES = [0.02, 0.05, 0.10, 0.20, 0.30, 0.50]
HMD_FACTORS = [2.0, 10 / 3, 5.0]
BOARDS = ["cortex-a73", "cortex-m4", "cortex-m7", "cortex-m55"]
HMD_BOARDS = ["cortex-a73", "cortex-m4", "cortex-m7", "cortex-m55"]
BEFORE_BOARDS = ["cortex-a73", "cortex-m4"]  # --before: the old CSR kernels counted here
DTYPES = ["float32", "int8"]
RODATA = {"cortex-m55": (0x60000000, 0x01000000)}
XQ = quant.QParams(2.0 / 255, -37)  # the int8 input's scale and zero point
OUT_SCALE = 2.0 ** -12  # gate pre-activations in Q3.12


@dataclass
class Case:
    dtype: str
    fmt: str  # dense, csr, hmd, csr_before
    level: float  # density (csr) or factor (hmd); 1 for dense
    which: str  # W or U
    m: object  # the float matrix (ir.Matrix)
    q: object = None  # the int8 matrix

    @property
    def key(self) -> str:
        return (f"{self.dtype[0]}_{self.fmt}_{self.level:.4f}_{self.which}"
                .replace(".", "p"))

    @property
    def group(self) -> str:
        return f"{self.dtype}-{self.fmt}-{self.level:.4f}".replace(".", "p")


def weights() -> dict[str, np.ndarray]:
    """benchmarks/compressed.py's HAR1 stack (the same seed)."""
    rng = np.random.default_rng(1)
    s = 1 / math.sqrt(H)
    return {"W": rng.uniform(-s, s, (G * H, I)).astype(F32),
            "U": rng.uniform(-s, s, (G * H, H)).astype(F32)}


def _quantized(m: object, which: str) -> object:
    b = _Builder.__new__(_Builder)
    b.where = "csr_density"
    n = I if which == "W" else H
    inputs = np.random.default_rng(3).uniform(-1, 1, (32, n))
    return b.matrix(m, XQ, OUT_SCALE, inputs, f"HAR1 {which}")


def make_cases(before: bool) -> list[Case]:
    ws = weights()
    out = []
    for which, w in ws.items():
        mats = [("dense", 1.0, formats.as_matrix(w))]
        for d in DENSITIES:
            mats.append(("csr", d, compress.compress_gates(w, G, "csr", 1 / d, which)[0]))
        for f in HMD_FACTORS:
            mats.append(("hmd", f, compress.compress_gates(w, G, "hmd", f, which)[0]))
        if before:
            for d in DENSITIES:
                mats.append(("csr_before", d, next(m for k, dd, m in mats
                                                   if k == "csr" and dd == d)))
        for dt in DTYPES:
            for fmt, level, m in mats:
                q = _quantized(m, which) if dt == "int8" else None
                out.append(Case(dt, fmt, level, which, m, q))
    return out


# --------------------------------------------------------------------------- C

class _QProg(QProgram):
    def __init__(self, ctx: _Ctx):
        self.ctx = ctx


def _old_csr_call(c: Case, ctx: _Ctx, bias: str, x: str, y: str) -> list[str]:
    """The call as emitted before the padded layout (unpadded rows, the old kernels)."""
    base = f"{c.key}_m"
    m = c.q if c.dtype == "int8" else c.m
    rows = m.shape[0]
    idx = ctx.array(f"{base}_col", np.asarray(m.col_idx), ctype="uint16_t")
    ptr = ctx.array(f"{base}_ptr", np.asarray(m.row_ptr), ctype="int32_t")
    if c.dtype == "float32":
        vals = ctx.array(f"{base}_val", m.values)
        ctx.kernels.add("rnn_mat_vec_csr_f32")
        return [f"rnn_mat_vec_csr_f32({rows}, {vals}, {idx}, {ptr}, {bias}, {x}, {y});"]
    vals = ctx.array(f"{base}_val", np.asarray(m.values), ctype="int8_t")
    off = ctx.array(f"{base}_off", np.asarray(m.offset), ctype="int32_t")
    mu = ctx.array(f"{base}_mult", np.asarray(m.mult), ctype="int32_t")
    sh = ctx.array(f"{base}_shift", np.asarray(m.shift), ctype="int32_t")
    ctx.kernels.add("rnn_mat_vec_csr_s8_s16")
    return [f"rnn_mat_vec_csr_s8_s16({rows}, {vals}, {idx}, {ptr}, {off}, {mu}, {sh}, {x}, {y});"]


def emit(c: Case) -> tuple[str, str, set[str]]:
    """(declarations, definition of bench_<key>(), kernels): the stack's mat-vec as rnngen's
    emitters write it."""
    ctx = _Ctx()
    if c.dtype == "float32":
        bias = "bias" if c.which == "W" else "y"
        x = "xw" if c.which == "W" else "xu"
        if c.fmt == "csr_before":
            lines = _old_csr_call(c, ctx, bias, x, "y")
        else:
            prog = _Program.__new__(_Program)
            prog.ctx = ctx
            prog.mem = type("Mem", (), {"scratch_off": 0})()
            lines = prog.matvec(f"{c.key}_m", c.m, bias, x, "y")
    else:
        x = "x8w" if c.which == "W" else "x8u"
        if c.fmt == "csr_before":
            lines = _old_csr_call(c, ctx, "", x, "y16")
        else:
            lines = _QProg(ctx).matvec(f"{c.key}_m", c.q, x, "y16", "scratch8")
    body = "\n".join("    " + ln.replace("s->work", "scratch") for ln in lines)
    fn = f"void bench_{c.key}(void);\nvoid bench_{c.key}(void)\n{{\n{body}\n}}\n"
    return "\n".join(ctx.decls), fn, ctx.kernels


def bench_source(cases: list[Case]) -> tuple[str, list[str]]:
    decls, fns, kernels = [], [], set()
    for c in cases:
        d, f, k = emit(c)
        decls.append(d)
        fns.append(f)
        kernels |= k
    table = {**KERNELS, **INT8_KERNELS}
    src = ("#include <stddef.h>\n#include <stdint.h>\n#include \"rnn_nnfunctions.h\"\n"
           f"float xw[{I}], xu[{H}], bias[{G * H}], y[{G * H}], scratch[{G * H}];\n"
           f"int8_t x8w[{I}], x8u[{H}], scratch8[{G * H}];\nint16_t y16[{G * H}];\n"
           + "\n".join(decls) + "\n" + "\n".join(fns))
    return src, sorted(table[k][0] for k in kernel_closure(kernels, table))


INIT_C = r"""
#include <stdint.h>
extern float xw[], xu[], bias[];
extern int8_t x8w[], x8u[];
static void init(void)
{
    int i;
    for (i = 0; i < IN; ++i) xw[i] = (float)((i * 37) % 101) / 101.0f - 0.5f;
    for (i = 0; i < HID; ++i) xu[i] = (float)((i * 53) % 97) / 97.0f - 0.5f;
    for (i = 0; i < ROWS; ++i) bias[i] = (float)((i * 29) % 89) / 890.0f;
    for (i = 0; i < IN; ++i) x8w[i] = (int8_t)((i * 37) % 255 - 127);
    for (i = 0; i < HID; ++i) x8u[i] = (int8_t)((i * 53) % 255 - 127);
}
""".replace("IN", str(I)).replace("HID", str(H)).replace("ROWS", str(G * H))


def board_main(cases: list[Case]) -> str:
    protos = "".join(f"void bench_{c.key}(void);\n" for c in cases)
    calls = "".join(f"    icount_start(); bench_{c.key}(); icount_stop();\n" * 2 for c in cases)
    return ("#include <stdio.h>\nMARKERS\nSEMIHOSTING\n" + protos + INIT_C
            + "int main(void)\n{\n    ICOUNT_IO_INIT();\n    init();\n" + calls
            + "    return 0;\n}\n")


def runtime_tree(work: Path, before: str | None) -> Path:
    """runtime_c as installed, or with the CSR kernels of commit `before`."""
    rt = data_dir("runtime_c")
    if not before:
        return rt
    dst = work / f"runtime_{before}"
    if not dst.exists():
        shutil.copytree(rt, dst)
        for k in ("rnn_mat_vec_csr_f32.c", "rnn_mat_vec_csr_s8_s16.c"):
            src = subprocess.run(["git", "-C", str(ROOT), "show",
                                  f"{before}:runtime_c/Source/MatVecFunctions/{k}"],
                                 capture_output=True, text=True, check=True).stdout
            (dst / "Source" / "MatVecFunctions" / k).write_text(src)
    return dst


def build_program(target: str, out: Path, src: str, main_c: str, kernels: list[str],
                  rt: Path) -> Path:
    """icount_harness.build_program, with read-only data moved out of FLASH where RODATA
    says so and the kernels taken from `rt`."""
    icount._skeleton(target, out)
    proj = out / "proj"
    for f in (proj / "src").glob("*.c"):
        f.unlink()
    for h in (rt / "Include").glob("*.h"):
        shutil.copy(h, proj / "include" / h.name)
    objs = []
    for k in kernels:
        s = rt / "Source" / k
        shutil.copy(s, proj / "src" / s.name)
        objs.append(f"build/{s.stem}.o")
    (proj / "src" / "bench.c").write_text(src)
    objs.append("build/bench.o")
    (proj / "test" / "main.c").write_text(
        main_c.replace("MARKERS", icount.MARKERS_C).replace("SEMIHOSTING", icount.SEMIHOSTING_C))
    if target in RODATA:
        icount.rodata_elsewhere(proj, *RODATA[target])
    icount._make(proj, f"MODEL_OBJS={' '.join(objs)}")
    return icount._elf(proj)


def count_board(target: str, cases: list[Case], work: Path, before: str | None
                ) -> dict[str, int]:
    out: dict[str, int] = {}
    groups: dict[str, list[Case]] = {}
    for c in cases:
        if c.fmt == "hmd" and target not in HMD_BOARDS:
            continue
        if c.fmt == "csr_before" and target not in BEFORE_BOARDS:
            continue
        groups.setdefault(c.group, []).append(c)
    for g, cs in groups.items():
        src, kernels = bench_source(cs)
        rt = runtime_tree(work, before if cs[0].fmt == "csr_before" else None)
        elf = build_program(target, work / f"{target}-{g}", src, board_main(cs), kernels, rt)
        res = icount.run(elf, target)
        assert len(res.windows) == 2 * len(cs), res.windows
        for k, c in enumerate(cs):
            a, b = res.windows[2 * k], res.windows[2 * k + 1]
            if a != b:
                raise RuntimeError(f"{target} {c.key}: counts differ between calls: {a} {b}")
            out[c.key] = a
        shutil.rmtree(work / f"{target}-{g}", ignore_errors=True)
    return out


HOST_MAIN = r"""
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
PROTOS
INIT
static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}
static int cmp(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}
static double median_time(void (*f)(void))
{
    double t[REPEATS], t0;
    long n = 1, i;
    int r;
    for (;;)
    {
        t0 = now();
        for (i = 0; i < n; ++i) f();
        if (now() - t0 > 0.005) break;
        n *= 2;
    }
    for (r = 0; r < REPEATS; ++r)
    {
        t0 = now();
        for (i = 0; i < n; ++i) f();
        t[r] = (now() - t0) / (double)n;
    }
    qsort(t, REPEATS, sizeof t[0], cmp);
    return t[REPEATS / 2];
}
int main(void)
{
    init();
CALLS
    return 0;
}
"""


def host_times(cases: list[Case], work: Path, repeats: int) -> dict[str, float]:
    cases = [c for c in cases if c.fmt != "csr_before"]
    src, kernels = bench_source(cases)
    rt = data_dir("runtime_c")
    (work / "bench.c").write_text(src)
    protos = "".join(f"void bench_{c.key}(void);\n" for c in cases)
    calls = "".join(f"    printf(\"{c.key} %.6e\\n\", median_time(bench_{c.key}));\n"
                    for c in cases)
    main = (HOST_MAIN.replace("PROTOS", protos).replace("CALLS", calls)
            .replace("REPEATS", str(repeats)).replace("INIT", INIT_C))
    (work / "main.c").write_text(main)
    b = icount.board("host")
    exe = work / "bench_host"
    subprocess.run([b.cc, "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", *b.cflags,
                    "-I", str(rt / "Include"), "-o", str(exe), str(work / "main.c"),
                    str(work / "bench.c"), *[str(rt / "Source" / k) for k in kernels],
                    *b.ldlibs], check=True)
    out = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout
    return {k: float(v) for k, v in (ln.split() for ln in out.splitlines())}


# --------------------------------------------------------------------------- report

def versions() -> list[str]:
    def first(cmd: list[str]) -> str:
        try:
            return subprocess.run(cmd, capture_output=True, text=True).stdout.splitlines()[0]
        except (OSError, IndexError):
            return "?"
    rev = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                         capture_output=True, text=True).stdout.strip() or "?"
    return [f"rnngen commit {rev} (kernels as committed there; uncommitted changes not "
            "recorded).",
            f"Compilers: {first(['gcc', '--version'])}; "
            f"{first(['aarch64-linux-gnu-gcc', '--version'])}; "
            f"{first(['arm-none-eabi-gcc', '--version'])}.",
            f"Emulators: {first(['qemu-aarch64', '--version'])}; "
            f"{first(['qemu-system-arm', '--version'])}; rnngen's icount plugin."]


def _find(cases: list[Case], dtype: str, fmt: str, level: float, which: str) -> Case:
    return next(c for c in cases if c.dtype == dtype and c.fmt == fmt and
                abs(c.level - level) < 1e-9 and c.which == which)


def both(counts: dict[str, float], cases: list[Case], dtype: str, fmt: str,
         level: float) -> float:
    return sum(counts[_find(cases, dtype, fmt, level, w).key] for w in ("W", "U"))


def nnz(cases: list[Case], level: float, padded: bool) -> int:
    ms = [_find(cases, "float32", "csr", level, w).m for w in ("W", "U")]
    return sum(m.nnz_padded if padded else m.nnz for m in ms)  # type: ignore[attr-defined]


def break_even(dens: list[float], csr: list[float], dense: float) -> tuple[float | None, str]:
    """The density where CSR's count meets dense's, interpolated linearly; (None, text) when
    it lies outside the measured range."""
    for k in range(len(dens) - 1):
        a, b = csr[k] - dense, csr[k + 1] - dense
        if a <= 0 <= b:
            d = dens[k] + (dens[k + 1] - dens[k]) * (-a) / (b - a) if b != a else dens[k]
            return d, f"{100 * d:.1f}%"
    if csr[0] > dense:
        return None, f"< {100 * dens[0]:.0f}% (CSR slower at every density measured)"
    return None, f"> {100 * dens[-1]:.0f}% (CSR faster at every density measured)"


def write_report(cases: list[Case], counts: dict[str, dict[str, float]], boards: list[str],
                 out: Path, command: str, before: str | None) -> None:
    cols = boards + (["host"] if "host" in counts else [])
    lines = ["# CSR against dense: the break-even density (HAR1 stack)", "",
             f"Made by `{command}` (the script's docstring has the method).", *versions(), "",
             "One call of each HAR1 LSTM stack, W (716 x 77) + U (716 x 179), four gates "
             "stacked; CSR pruned by magnitude per gate block to the density given. "
             "Instructions executed, exact (QEMU plugin); host: time per call, median of "
             "repeats (indicative only: a shared 2-core machine). CSR rows are padded to "
             "multiples of 4 entries with zero values (the kernels' layout): the padded "
             "entries are stored and executed.", ""]
    rows_csv = []
    # padding
    lines += ["## Padding (stored entries)", "",
              "| density | nnz W + U | stored (padded) | padding | CSR bytes float32 | CSR bytes "
              "int8 | dense bytes float32 / int8 |", "|---|---|---|---|---|---|---|"]
    for d in DENSITIES:
        k, kp = nnz(cases, d, False), nnz(cases, d, True)
        rows_ptr = 2 * (G * H + 1) * 4
        lines.append(f"| {100 * d:g}% | {k:,} | {kp:,} | {100 * (kp - k) / k:.0f}% | "
                     f"{6 * kp + rows_ptr:,} | {3 * kp + rows_ptr + 2 * G * H * 12:,} | "
                     f"{4 * G * H * (I + H):,} / {G * H * (I + H) + 2 * G * H * 12:,} |")
    lines += ["", "(float32: 4-byte values + 2-byte column indices per stored entry, int32 "
              "row pointers; int8: 1-byte values + 2-byte indices, and per row an int32 "
              "offset, multiplier and shift, as dense int8 has.)", ""]
    summary: dict[tuple[str, str], str] = {}
    for dt in DTYPES:
        lines += [f"## {dt}: instructions per call (W + U)", "",
                  "| density | factor | " + " | ".join(f"{c} CSR" for c in cols)
                  + " | " + " | ".join(f"{c} CSR / dense" for c in cols) + " |",
                  "|---|---|" + "---|" * (2 * len(cols))]
        dense = {c: both(counts[c], cases, dt, "dense", 1.0) for c in cols}
        lines.append("| dense | 1 | " + " | ".join(_fmt(dense[c], c) for c in cols) + " | "
                     + " | ".join("1.00" for _ in cols) + " |")
        for d in DENSITIES:
            v = {c: both(counts[c], cases, dt, "csr", d) for c in cols}
            lines.append(f"| {100 * d:g}% | {1 / d:.3g} | "
                         + " | ".join(_fmt(v[c], c) for c in cols) + " | "
                         + " | ".join(f"{v[c] / dense[c]:.2f}" for c in cols) + " |")
            for c in cols:
                rows_csv.append({"board": c, "dtype": dt, "format": "csr", "density": d,
                                 "factor": 1 / d, "nnz": nnz(cases, d, False),
                                 "stored": nnz(cases, d, True),
                                 "unit": "seconds" if c == "host" else "instructions",
                                 "W": counts[c][_find(cases, dt, "csr", d, "W").key],
                                 "U": counts[c][_find(cases, dt, "csr", d, "U").key],
                                 "total": v[c], "dense_total": dense[c]})
        for c in cols:
            rows_csv.append({"board": c, "dtype": dt, "format": "dense", "density": 1.0,
                             "factor": 1.0, "nnz": G * H * (I + H), "stored": G * H * (I + H),
                             "unit": "seconds" if c == "host" else "instructions",
                             "W": counts[c][_find(cases, dt, "dense", 1.0, "W").key],
                             "U": counts[c][_find(cases, dt, "dense", 1.0, "U").key],
                             "total": dense[c], "dense_total": dense[c]})
        lines += ["", f"Instructions per stored (padded) entry / per nonzero, W + U "
                  f"({dt}):", "", "| density | " + " | ".join(boards) + " |",
                  "|---|" + "---|" * len(boards)]
        for d in DENSITIES:
            lines.append(f"| {100 * d:g}% | " + " | ".join(
                f"{both(counts[c], cases, dt, 'csr', d) / nnz(cases, d, True):.2f} / "
                f"{both(counts[c], cases, dt, 'csr', d) / nnz(cases, d, False):.2f}"
                for c in boards) + " |")
        lines += ["", f"Dense, instructions per MAC ({dt}): " + ", ".join(
            f"{c} {dense[c] / (G * H * (I + H)):.3f}" for c in boards) + ".", ""]
        for c in cols:
            summary[(c, dt)] = break_even(
                DENSITIES, [both(counts[c], cases, dt, "csr", d) for d in DENSITIES],
                dense[c])[1]
    lines += ["## Break-even density (CSR faster than dense below it)", "",
              "| board | float32 | int8 |", "|---|---|---|"]
    for c in cols:
        lines.append(f"| {c}{' (time)' if c == 'host' else ''} | {summary[(c, 'float32')]} | "
                     f"{summary[(c, 'int8')]} |")
    # HMD against CSR
    hb = [b for b in HMD_BOARDS if b in boards]
    if hb:
        lines += ["", "## HMD against CSR at equal compression (W + U instructions)", "",
                  "The issue's target: HMD at least 2x faster than CSR (CSR / HMD >= 2).", "",
                  "| dtype | factor | " + " | ".join(f"{b} HMD | {b} CSR | {b} CSR / HMD"
                                                      for b in hb) + " |",
                  "|---|---|" + "---|---|---|" * len(hb)]
        for dt in DTYPES:
            for f in HMD_FACTORS:
                d = min(DENSITIES, key=lambda q: abs(q - 1 / f))
                cells = []
                for b in hb:
                    h = both(counts[b], cases, dt, "hmd", f)
                    s = both(counts[b], cases, dt, "csr", d)
                    r = s / h
                    cells.append(f"{h:,.0f} | {s:,.0f} | {r:.2f}{'' if r >= 2 else ' (missed)'}")
                    rows_csv.append({"board": b, "dtype": dt, "format": "hmd", "density": "",
                                     "factor": f, "nnz": "", "stored": "",
                                     "unit": "instructions",
                                     "W": counts[b][_find(cases, dt, "hmd", f, "W").key],
                                     "U": counts[b][_find(cases, dt, "hmd", f, "U").key],
                                     "total": h, "dense_total": both(counts[b], cases, dt,
                                                                     "dense", 1.0)})
                lines.append(f"| {dt} | {f:.3g} (CSR {100 * d:g}%) | " + " | ".join(cells)
                             + " |")
    bb = [b for b in BEFORE_BOARDS if b in boards]
    if before and bb:
        lines += ["", f"## Before: the CSR kernels of commit {before} (unpadded rows)", "",
                  "| dtype | density | " + " | ".join(
                      f"{b} before | {b} now | {b} instr./nonzero before -> now" for b in bb)
                  + " |", "|---|---|" + "---|---|---|" * len(bb)]
        for dt in DTYPES:
            for d in DENSITIES:
                cells = []
                for b in bb:
                    o = both(counts[b], cases, dt, "csr_before", d)
                    n = both(counts[b], cases, dt, "csr", d)
                    k = nnz(cases, d, False)
                    cells.append(f"{o:,.0f} | {n:,.0f} | {o / k:.2f} -> {n / k:.2f}")
                    rows_csv.append({"board": b, "dtype": dt, "format": "csr_before",
                                     "density": d, "factor": 1 / d, "nnz": k,
                                     "stored": k, "unit": "instructions",
                                     "W": counts[b][_find(cases, dt, "csr_before", d, "W").key],
                                     "U": counts[b][_find(cases, dt, "csr_before", d, "U").key],
                                     "total": o, "dense_total": both(counts[b], cases, dt,
                                                                     "dense", 1.0)})
                lines.append(f"| {dt} | {100 * d:g}% | " + " | ".join(cells) + " |")
    png = out.with_suffix(".png")
    plot(cases, counts, boards, png)
    lines += ["", f"![instructions against density]({png.name})", ""]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines))
    with open(out.with_suffix(".csv"), "w", newline="") as fh:
        wr = csv.DictWriter(fh, fieldnames=list(rows_csv[0]))
        wr.writeheader()
        wr.writerows(rows_csv)
    print("\n".join(lines))


def _fmt(v: float, col: str) -> str:
    return f"{v * 1e6:.2f} µs" if col == "host" else f"{v:,.0f}"


def plot(cases: list[Case], counts: dict[str, dict[str, float]], boards: list[str],
         png: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, len(boards), figsize=(4.2 * len(boards), 4.0))
    for ax, b in zip(np.atleast_1d(axes), boards):
        for dt, color in (("float32", "tab:blue"), ("int8", "tab:orange")):
            xs = [100 * d for d in DENSITIES]
            ys = [both(counts[b], cases, dt, "csr", d) for d in DENSITIES]
            dense = both(counts[b], cases, dt, "dense", 1.0)
            ax.plot(xs, ys, marker="o", color=color, label=f"CSR {dt}")
            ax.axhline(dense, color=color, ls="--", lw=1, label=f"dense {dt}")
            d, _ = break_even(DENSITIES, ys, dense)
            if d is not None:
                ax.axvline(100 * d, color=color, ls=":", lw=0.8)
        ax.set_title(f"{b}")
        ax.set_xlabel("density (% of weights kept)")
        ax.grid(alpha=0.3)
    np.atleast_1d(axes)[0].set_ylabel("instructions per call (W + U)")
    np.atleast_1d(axes)[0].legend(fontsize=8)
    fig.suptitle("HAR1 LSTM stack (716x77 + 716x179): CSR mat-vec against dense "
                 "(dotted: break-even)")
    fig.tight_layout()
    fig.savefig(png, dpi=110)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--boards", default=",".join(BOARDS))
    ap.add_argument("--no-host", action="store_true", help="skip the host timing")
    ap.add_argument("--repeats", type=int, default=11, help="host timing repeats")
    ap.add_argument("--before", default=None,
                    help="a commit whose CSR kernels to count too (unpadded rows)")
    ap.add_argument("--out", default=str(HERE / "results" / "csr_density.md"))
    a = ap.parse_args(argv)
    command = "python benchmarks/csr_density.py" + (
        " " + " ".join(shlex.quote(v) for v in sys.argv[1:])
        if argv is None and sys.argv[1:] else "")
    cases = make_cases(bool(a.before))
    boards = [b for b in a.boards.split(",") if b]
    counts: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as d:
        work = Path(d)
        for b in boards:
            counts[b] = count_board(b, cases, work, a.before)
            print(f"{b}: counted", file=sys.stderr)
        if not a.no_host:
            counts["host"] = host_times(cases, work, a.repeats)
    write_report(cases, counts, boards, Path(a.out), command, a.before)
    return 0


if __name__ == "__main__":
    sys.exit(main())
