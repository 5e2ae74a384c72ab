"""Instructions per MAC of one HAR1 LSTM direction, float32 and int8, whole run and per kernel.

    python benchmarks/kernels.py          # writes benchmarks/results/kernels.{md,csv}

Model: one direction of HAR1's LSTM layer (input 77, hidden 179; benchmarks/int8.py builds
it: seeded uniform weights), 8 steps. rnngen builds it for each board twice: float32, and
--dtype int8 (calibrated on 16 seeded random sequences; float I/O at the C API, so the run
includes quantizing x and dequantizing h). A harness calls `<name>_run` once over the 8
golden steps between rnngen's counting markers.

Measured: instructions executed under QEMU by rnngen's own counter (codegen/icount.py and
its plugin), exact: the whole `_run` call (callees included) and each function's own
instructions (callees excluded) over the run. MACs: the LSTM's 4 * 179 * (77 + 179) =
183,296 per step, 1,466,368 per run; a mat-vec kernel's instructions per MAC are its own
instructions over the MACs of the matrices it multiplies (the same total here: every
multiply of the step is a mat-vec). Boards run with rnngen's board flags (cortex-a73:
aarch64 -O3, counted on QEMU's cortex-a72, the same ARMv8.0 instruction set; cortex-m4 and
cortex-m55: -O2). On the M55 the read-only data (weights) is linked at 0x60000000 (DDR)
since QEMU's ITCM (512 KiB) cannot hold the float weights; placement does not change
counts. Every count is checked to repeat on a second run. Instructions are not cycles.
"""

from __future__ import annotations

import argparse
import csv
import io
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

import icount_harness as icount
import numpy as np
import onnx
from int8 import RODATA, har1_forward

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
T, I, H = 8, 77, 179
MACS_STEP = 4 * H * (I + H)
MACS = T * MACS_STEP
BOARDS = ["cortex-a73", "cortex-m4", "cortex-m55"]
DTYPES = ["float32", "int8"]
# the targets of issue 9 (whole run, instructions per MAC)
TARGETS = {("cortex-a73", "float32"): 0.60, ("cortex-a73", "int8"): 0.45,
           ("cortex-m4", "float32"): 1.80, ("cortex-m4", "int8"): 1.60,
           ("cortex-m55", "int8"): 0.40}
# Before the fast kernels of issue 9: this script at commit BEFORE_COMMIT (whole run,
# instructions per MAC), the table.
BEFORE_COMMIT = "d43e415"
BEFORE = {("cortex-a73", "float32"): 0.674, ("cortex-a73", "int8"): 1.317,
          ("cortex-m4", "float32"): 3.586, ("cortex-m4", "int8"): 1.809,
          ("cortex-m55", "float32"): 1.384, ("cortex-m55", "int8"): 0.475}
MATVECS = ("rnn_mat_vec_",)


def commit() -> str:
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, cwd=ROOT, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "codegen", "runtime_c",
                                "templates", "boards", "benchmarks",
                                ":!benchmarks/results"], capture_output=True,
                               text=True, cwd=ROOT, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "?"
    return rev + (" (with uncommitted changes)" if dirty else "")


def measure(boards: list[str], dtypes: list[str]) -> dict[tuple[str, str], icount.Counts]:
    res: dict[tuple[str, str], icount.Counts] = {}
    with tempfile.TemporaryDirectory() as d:
        work = Path(d)
        model = work / "har1_fwd.onnx"
        onnx.save(har1_forward(), model)
        calib = work / "calib.npy"
        np.save(calib, np.random.default_rng(2).uniform(-1, 1, (16, T, 1, I)).astype(np.float32))
        opts = {"float32": {}, "int8": {"dtype": "int8", "calibrate": str(calib)}}
        fns = (r"rnn_.*", r"m_run", r"m_step", r"forward.*")  # what the run calls
        for b in boards:
            for dt in dtypes:
                elf = icount.build_project(model, b, work / f"{b}-{dt}", whole_run=True,
                                           rodata=RODATA.get(b), **opts[dt])
                c = icount.run(elf, b, fns)
                again = icount.run(elf, b, fns)
                if (again.windows, again.functions) != (c.windows, c.functions):
                    raise RuntimeError(f"{b} {dt}: counts differ between two runs")
                if len(c.windows) != 1:
                    raise RuntimeError(f"{b} {dt}: {len(c.windows)} counted runs, expected 1")
                res[(b, dt)] = c
                print(f"{b} {dt}: {c.windows[0]:,} instructions, "
                      f"{c.windows[0] / MACS:.3f}/MAC", file=sys.stderr)
    return res


def rows(res: dict[tuple[str, str], icount.Counts]) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for (b, dt), c in res.items():
        whole = c.windows[0]
        mv = sum(n for f, (n, _) in c.functions.items() if f.startswith(MATVECS))
        out.append({"board": b, "dtype": dt, "kernel": "whole run", "instructions": whole,
                    "per_mac": whole / MACS, "per_step": whole / T, "calls": 1})
        out.append({"board": b, "dtype": dt, "kernel": "all mat-vecs", "instructions": mv,
                    "per_mac": mv / MACS, "per_step": mv / T, "calls": ""})
        for f, (n, calls) in sorted(c.functions.items(), key=lambda kv: -kv[1][0]):
            if n:
                out.append({"board": b, "dtype": dt, "kernel": f, "instructions": n,
                            "per_mac": n / MACS, "per_step": n / T, "calls": calls})
    return out


def report(res: dict[tuple[str, str], icount.Counts], command: str) -> tuple[str, str]:
    boards = sorted({b for b, _ in res}, key=BOARDS.index)
    dtypes = sorted({d for _, d in res}, key=DTYPES.index)
    table = rows(res)
    lines = ["# Instructions per MAC: one HAR1 LSTM direction, whole `_run` and per kernel", "",
             f"Made by `{command}` at commit {commit()} (the script's docstring has the "
             "method). " + "; ".join(sorted({icount.rnngen_icount.qemu_version(
                 icount.board(b)) for b in boards})) + ".", "",
             f"HAR1 LSTM, one direction (input {I}, hidden {H}), one `<name>_run` of {T} "
             f"steps: {MACS_STEP:,} MACs a step, {MACS:,} a run. Instructions executed, "
             "exact, divided by the MACs.", "",
             "| board | dtype | before (" + BEFORE_COMMIT + ") | now | target | "
             "mat-vecs | rest of the run |", "|---|---|---|---|---|---|---|"]
    for b in boards:
        for dt in dtypes:
            if (b, dt) not in res:
                continue
            whole = next(r for r in table if (r["board"], r["dtype"], r["kernel"])
                         == (b, dt, "whole run"))
            mv = next(r for r in table if (r["board"], r["dtype"], r["kernel"])
                      == (b, dt, "all mat-vecs"))
            now = float(whole["per_mac"])
            tgt = TARGETS.get((b, dt))
            verdict = "—" if tgt is None else f"<= {tgt:.2f} " + ("met" if now <= tgt
                                                                   else "**not met**")
            before = BEFORE.get((b, dt))
            lines.append(f"| {b} | {dt} | {before:.3f} | {now:.3f} | {verdict} | "
                         f"{float(mv['per_mac']):.3f} | "
                         f"{now - float(mv['per_mac']):.3f} |" if before is not None else
                         f"| {b} | {dt} | — | {now:.3f} | {verdict} | "
                         f"{float(mv['per_mac']):.3f} | {now - float(mv['per_mac']):.3f} |")
    lines += ["", "Per kernel (a function's own instructions over the run, callees excluded; "
              "per MAC of the whole run):", ""]
    for b in boards:
        for dt in dtypes:
            if (b, dt) not in res:
                continue
            parts = [f"`{r['kernel']}` {int(r['instructions']) / T:,.0f}/step "
                     f"({float(r['per_mac']):.3f}/MAC)" for r in table
                     if (r["board"], r["dtype"]) == (b, dt)
                     and r["kernel"] not in ("whole run", "all mat-vecs")]
            lines.append(f"- {b} {dt}: " + ", ".join(parts))
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=["board", "dtype", "kernel", "instructions", "per_mac",
                                        "per_step", "calls", "commit", "command"],
                       lineterminator="\n")
    w.writeheader()
    for r in table:
        w.writerow({**r, "per_mac": f"{float(r['per_mac']):.4f}",
                    "per_step": f"{float(r['per_step']):.1f}", "commit": commit(),
                    "command": command})
    return "\n".join(lines) + "\n", buf.getvalue()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--boards", default=",".join(BOARDS))
    ap.add_argument("--dtypes", default=",".join(DTYPES))
    ap.add_argument("--out", default=str(HERE / "results" / "kernels"),
                    help="writes OUT.md and OUT.csv")
    a = ap.parse_args(argv)
    command = "python benchmarks/kernels.py" + (
        " " + " ".join(shlex.quote(v) for v in sys.argv[1:]) if argv is None and sys.argv[1:]
        else "")
    res = measure([b for b in a.boards.split(",") if b], [d for d in a.dtypes.split(",") if d])
    md, table = report(res, command)
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".md").write_text(md)
    out.with_suffix(".csv").write_text(table)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
