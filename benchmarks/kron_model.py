"""Whole-model speed of a Kronecker-compressed LSTM against the dense one (issue 9).

    python benchmarks/kron_model.py        # writes benchmarks/results/kron_model.md

Model: one direction of HAR1's LSTM layer (input 77, hidden 179; benchmarks/int8.py's
har1_forward: seeded uniform weights), 8 steps, and the same model compressed 16x with
`rnngen compress --method kron --factor 16` (rnngen.compress_model.compress_file, what the
command runs: per gate block, W 179 x 77 as A 2x9 (x) B 90x9 (padded 180 x 81), R 179 x 179
as A 1x17 (x) B 179x11 (padded 179 x 187)). rnngen builds each for each board, float32 and
--dtype int8 (calibrated on 16 seeded random sequences; float I/O at the C API). A harness
calls `<name>_run` once over the 8 golden steps between rnngen's counting markers
(benchmarks/icount_harness.py, whole_run=True; the same build as benchmarks/kernels.py).

Measured: instructions executed under QEMU by rnngen's own counter (codegen/icount.py and
its plugin), exact: the whole `_run` call (callees included) and the mat-vec kernels' own
instructions (every function of the rnn_mat_vec_* and rnn_mat_mul_* object files, static
helpers included; callees such as memcpy excluded). Every count
is checked to repeat on a second run. Speed-up = dense instructions / Kronecker instructions.
Instructions are not cycles.
"""

from __future__ import annotations

import argparse
import re
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

import icount_harness as icount
import numpy as np
import onnx
from int8 import RODATA, har1_forward

from rnngen.compress_model import compress_file

HERE = Path(__file__).resolve().parent
T, I, H = 8, 77, 179
FACTOR = 16.0
BOARDS = ["cortex-a73", "cortex-m4"]
DTYPES = ["float32", "int8"]
TARGETS = {"cortex-a73": 3.0, "cortex-m4": 7.0}  # issue 9: Kronecker at 16x, float32
# The Kronecker run before issue 9's Kronecker kernels (this script at commit BEFORE_COMMIT's
# kernels: scalar dot products, B unpacked), instructions of the whole run
BEFORE_COMMIT = "e376b86"
BEFORE = {("cortex-a73", "float32"): 1_152_913, ("cortex-a73", "int8"): 1_051_305,
          ("cortex-m4", "float32"): 1_424_200, ("cortex-m4", "int8"): 1_570_060}
# the mat-vec kernels' object files (rnn_hmd_rows_s16: the HMD kernels' shared lower rows)
MATVEC = ("rnn_mat_vec_", "rnn_mat_mul_", "rnn_hmd_rows_")


def matvec_functions(elf: Path, target: str) -> set[str]:
    """Every function defined in the mat-vec kernels' objects (their static helpers too,
    which the per-function counts list under their own names when not inlined)."""
    nm = icount.tool(icount.board(target), "nm")
    out: set[str] = set()
    for obj in sorted((elf.parent).glob("*.o")):
        if obj.stem.startswith(MATVEC):
            res = subprocess.run([nm, str(obj)], capture_output=True, text=True, check=True)
            out |= {ln.split()[-1] for ln in res.stdout.splitlines()
                    if len(ln.split()) == 3 and ln.split()[1] in "tT"}
    return out


def count_run(elf: Path, target: str, fns: tuple[str, ...], what: str
              ) -> tuple[int, int, dict[str, tuple[int, int]]]:
    """(whole run, the mat-vec kernels' own instructions, per function) of one counted
    `_run`, each count checked to repeat on a second run."""
    mvf = matvec_functions(elf, target)
    names = fns + tuple(re.escape(f) for f in sorted(mvf))
    c = icount.run(elf, target, names)
    again = icount.run(elf, target, names)
    if (again.windows, again.functions) != (c.windows, c.functions):
        raise RuntimeError(f"{what}: counts differ between two runs")
    mv = sum(n for f, (n, _) in c.functions.items() if f in mvf)
    return c.windows[0], mv, dict(c.functions)


def measure(boards: list[str], dtypes: list[str], keep: Path | None = None
            ) -> dict[tuple[str, str, str], tuple[int, int, dict[str, tuple[int, int]]]]:
    """(board, dtype, "dense"|"kron") -> (whole run, mat-vec kernels, per function)."""
    out = {}
    with tempfile.TemporaryDirectory() as d:
        work = keep or Path(d)
        work.mkdir(parents=True, exist_ok=True)
        dense = work / "har1_fwd.onnx"
        onnx.save(har1_forward(), dense)
        kron = work / "har1_fwd_kron16.onnx"
        res = compress_file(dense, kron, "kron", FACTOR, force=True)
        print("compressed: " + "; ".join(
            f"{r.role} {r.plan.describe()} {r.dense_params / r.matrix.params:.2f}x"
            for r in res.matrices), file=sys.stderr)
        calib = work / "calib.npy"
        np.save(calib, np.random.default_rng(2).uniform(-1, 1, (16, T, 1, I)).astype(np.float32))
        opts = {"float32": {}, "int8": {"dtype": "int8", "calibrate": str(calib)}}
        # the activations' and kernels' static helpers too (sigmoid_f32, tanh_f32, comb8, ...)
        fns = (r"rnn_.*", r"m_run", r"m_step", r"forward.*", r"sigmoid.*", r"tanh.*",
               r"comb.*")
        for b in boards:
            for dt in dtypes:
                for name, model in (("dense", dense), ("kron", kron)):
                    elf = icount.build_project(model, b, work / f"{b}-{dt}-{name}",
                                               whole_run=True, rodata=RODATA.get(b), **opts[dt])
                    out[(b, dt, name)] = count_run(elf, b, fns, f"{b} {dt} {name}")
                    print(f"{b} {dt} {name}: {out[(b, dt, name)][0]:,} instructions, "
                          f"mat-vecs {out[(b, dt, name)][1]:,}", file=sys.stderr)
    return out


def report(res, command: str) -> str:
    boards = sorted({b for b, _, _ in res}, key=lambda b: (BOARDS + [b]).index(b))
    dtypes = sorted({d for _, d, _ in res}, key=DTYPES.index)
    lines = ["# Kronecker at 16x against dense: one HAR1 LSTM direction, whole `_run`", "",
             f"Made by `{command}` (the script's docstring has the method).", "",
             "Instructions of one `<name>_run` over 8 steps (exact, QEMU); mat-vecs: the "
             "mat-vec kernels' own instructions over the run. Speed-up = dense / Kronecker. "
             "Bound: the speed-up if the Kronecker mat-vecs cost nothing (dense run / the rest "
             "of the Kronecker run: cell, activations, libm, quantization). Before: the "
             f"Kronecker run with the kernels of commit {BEFORE_COMMIT}.",
             "",
             "| board | dtype | dense run | Kronecker run (before) | speed-up (run) | target | "
             "bound | dense mat-vecs | Kronecker mat-vecs | speed-up (mat-vecs) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for b in boards:
        for dt in dtypes:
            (dw, dm, _), (kw, km, _) = res[(b, dt, "dense")], res[(b, dt, "kron")]
            tgt = TARGETS.get(b) if dt == "float32" else None
            verdict = "—" if tgt is None else (f">= {tgt:g} " + ("met" if dw / kw >= tgt
                                                                  else "**not met**"))
            before = BEFORE.get((b, dt))
            was = f" ({before:,}: {dw / before:.2f}x)" if before else ""
            lines.append(f"| {b} | {dt} | {dw:,} | {kw:,}{was} | {dw / kw:.2f} | {verdict} | "
                         f"{dw / (kw - km):.2f} | {dm:,} | {km:,} | {dm / km:.2f} |")
    lines += ["", "Per function in the Kronecker build (own instructions over the run):", ""]
    for b in boards:
        for dt in dtypes:
            fn = res[(b, dt, "kron")][2]
            lines.append(f"- {b} {dt}: " + ", ".join(
                f"`{n}` {v[0]:,} ({v[1]} calls)" for n, v in
                sorted(fn.items(), key=lambda kv: -kv[1][0]) if v[0]))
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--boards", default=",".join(BOARDS))
    ap.add_argument("--dtypes", default=",".join(DTYPES))
    ap.add_argument("--out", default=str(HERE / "results" / "kron_model.md"))
    ap.add_argument("--keep", default=None, help="keep the projects in this folder")
    a = ap.parse_args(argv)
    command = "python benchmarks/kron_model.py" + (
        " " + " ".join(shlex.quote(v) for v in sys.argv[1:]) if argv is None and sys.argv[1:]
        else "")
    res = measure([b for b in a.boards.split(",") if b], [d for d in a.dtypes.split(",") if d],
                  Path(a.keep) if a.keep else None)
    md = report(res, command)
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
