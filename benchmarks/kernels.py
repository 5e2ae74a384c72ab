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

Also the int8 fully connected kernel alone (rnn_mat_vec_s8: int8 in, int8 out, a Linear
layer) on three shapes: a program of its own (rnngen's board flags, startup and linker
script) calls it twice per shape between the markers, the smaller count is kept (the two
call sites' argument setup differs by a few instructions, which the count includes); a
second run must give the same counts.

Also (issue 9's keyword spotting GRU) the KWS GRU, int8: benchmarks/grid.py's `kws_gru`
network (its builder, reused: GRU 10 -> 154 with linear_before_reset 1, Linear 154 -> 12,
Softmax), one `_run` of 8 steps, calibrated on 16 seeded random sequences, on cortex-a73,
cortex-m4 and cortex-m55; the whole run and each kernel's own instructions, per MAC of the
run (3 * 154 * (10 + 154) + 154 * 12 = 77,616 MACs a step). Before: the GRU cell kernels
as plain C: rnn_gru_gates_s16.c and rnn_gru_cell_s16.c at commit a7b8126, counted by this
section (BEFORE_GRU; the whole run then also had the other kernels of that commit).

    python benchmarks/kernels.py --gru    # the KWS GRU table alone
    python benchmarks/kernels.py --no-gru # everything but
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

import grid
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
# int8 fully connected (rows, cols): HAR1's classifier on the BiLSTM's 358 features, a
# 64-unit hidden Linear, a square 256
FC_SHAPES = [(6, 358), (64, 179), (256, 256)]
FC_TARGETS = {"cortex-m4": 2.0, "cortex-m55": 0.5}
# rnn_mat_vec_s8 as plain C (commit BEFORE_COMMIT), this script's FC section on that file
BEFORE_FC = {("cortex-a73", 6, 358): 0.934, ("cortex-a73", 64, 179): 1.037,
             ("cortex-a73", 256, 256): 0.833, ("cortex-m4", 6, 358): 5.140,
             ("cortex-m4", 64, 179): 5.259, ("cortex-m4", 256, 256): 5.180,
             ("cortex-m55", 6, 358): 4.126, ("cortex-m55", 64, 179): 4.231,
             ("cortex-m55", 256, 256): 4.161}
# the KWS GRU (benchmarks/grid.py's kws_gru): GRU 10 -> 154 and the Linear 154 -> 12 a step
GRU_I, GRU_H, GRU_CLASSES = 10, 154, 12
GRU_MACS_STEP = 3 * GRU_H * (GRU_I + GRU_H) + GRU_H * GRU_CLASSES
GRU_MACS = T * GRU_MACS_STEP
GRU_CELLS = ("rnn_gru_gates_s16", "rnn_gru_cell_s16")
# the GRU cell kernels as plain C (this script's GRU section at BEFORE_GRU_COMMIT): whole run
# and the two cell kernels' own instructions over the run
BEFORE_GRU_COMMIT = "a7b8126"
BEFORE_GRU: dict[str, dict[str, int]] = {
    "cortex-a73": {"whole": 447_369, "rnn_gru_gates_s16": 56_792, "rnn_gru_cell_s16": 108_672},
    "cortex-m4": {"whole": 1_217_627, "rnn_gru_gates_s16": 61_848, "rnn_gru_cell_s16": 167_752},
    "cortex-m55": {"whole": 473_123, "rnn_gru_gates_s16": 64_336, "rnn_gru_cell_s16": 160_392}}
FC_KERNELS = ["MatVecFunctions/rnn_mat_vec_s8.c", "MatVecFunctions/rnn_mat_vec_s8_s16.c"]
FC_MAIN = r"""
#include <stdio.h>
#include <stdint.h>
#include "rnn_nnfunctions.h"
MARKERS
SEMIHOSTING
static int8_t w[ROWS * RNN_S8_STRIDE(COLS)] RNN_ALIGN4;
static int8_t x[COLS];
static int32_t off[ROWS], mu[ROWS], sh[ROWS];
static int8_t y[ROWS];
int main(void)
{
    long i;
    ICOUNT_IO_INIT();
    for (i = 0; i < (long)ROWS * COLS; ++i)
        w[i / COLS * RNN_S8_STRIDE(COLS) + i % COLS] = (int8_t)((i * 37) % 255 - 127);
    for (i = 0; i < COLS; ++i) x[i] = (int8_t)((i * 53) % 256 - 128);
    for (i = 0; i < ROWS; ++i)
    {
        off[i] = (int32_t)(i * 11 - 300);
        mu[i] = 1518500250;
        sh[i] = -12;
    }
    icount_start();
    rnn_mat_vec_s8(ROWS, COLS, w, off, mu, sh, -3, x, y);
    icount_stop();
    icount_start();
    rnn_mat_vec_s8(ROWS, COLS, w, off, mu, sh, -3, x, y);
    icount_stop();
    printf("y[0] %d\n", (int)y[0]);
    return 0;
}
"""


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


def measure_fc(boards: list[str]) -> dict[tuple[str, int, int], int]:
    out: dict[tuple[str, int, int], int] = {}
    with tempfile.TemporaryDirectory() as d:
        for b in boards:
            for rows_, cols in FC_SHAPES:
                main_c = FC_MAIN.replace("ROWS", str(rows_)).replace("COLS", str(cols))
                elf = icount.build_program(b, Path(d) / f"{b}-{rows_}x{cols}", {}, main_c,
                                           FC_KERNELS)
                c = icount.run(elf, b)
                again = icount.run(elf, b)
                if len(c.windows) != 2 or again.windows != c.windows:
                    raise RuntimeError(f"{b} FC {rows_}x{cols}: counts {c.windows} "
                                       f"then {again.windows}")
                out[(b, rows_, cols)] = min(c.windows)
                print(f"{b} FC {rows_}x{cols}: {min(c.windows) / (rows_ * cols):.3f}/MAC",
                      file=sys.stderr)
    return out


def measure_gru(boards: list[str]) -> dict[str, icount.Counts]:
    res: dict[str, icount.Counts] = {}
    with tempfile.TemporaryDirectory() as d:
        work = Path(d)
        model = work / "kws_gru.onnx"
        onnx.save(grid.network("kws_gru"), model)
        if grid.T != T or grid.input_size("kws_gru") != GRU_I:
            raise RuntimeError("benchmarks/grid.py's kws_gru is not the network this script "
                               "counts MACs for")
        calib = work / "calib.npy"
        np.save(calib, np.random.default_rng(3).uniform(-1, 1, (16, T, 1, GRU_I))
                .astype(np.float32))
        fns = (r"rnn_.*", r"m_run", r"m_step", r"forward.*")
        for b in boards:
            elf = icount.build_project(model, b, work / f"gru-{b}", whole_run=True,
                                       rodata=RODATA.get(b), dtype="int8",
                                       calibrate=str(calib))
            c = icount.run(elf, b, fns)
            again = icount.run(elf, b, fns)
            if (again.windows, again.functions) != (c.windows, c.functions):
                raise RuntimeError(f"{b} KWS GRU: counts differ between two runs")
            if len(c.windows) != 1:
                raise RuntimeError(f"{b} KWS GRU: {len(c.windows)} counted runs, expected 1")
            res[b] = c
            print(f"{b} KWS GRU int8: {c.windows[0]:,} instructions, "
                  f"{c.windows[0] / GRU_MACS:.3f}/MAC", file=sys.stderr)
    return res


def report_gru(res: dict[str, icount.Counts]) -> list[str]:
    lines = ["", "## KWS GRU, int8: whole `_run` and per kernel", "",
             f"benchmarks/grid.py's kws_gru (GRU {GRU_I} -> {GRU_H}, linear_before_reset 1; "
             f"Linear {GRU_H} -> {GRU_CLASSES}; Softmax), one `<name>_run` of {T} steps: "
             f"{GRU_MACS_STEP:,} MACs a step, {GRU_MACS:,} a run. Instructions per MAC of the "
             "run; the cell kernels' own instructions per step. Before: the GRU cell kernels "
             f"as plain C ({BEFORE_GRU_COMMIT}).", "",
             "| board | whole run /MAC: before | now | " + " | ".join(
                 f"`{k}` /step: before | now" for k in GRU_CELLS) + " |",
             "|---|---|---|" + "---|---|" * len(GRU_CELLS)]
    for b in sorted(res, key=BOARDS.index):
        c = res[b]
        was = BEFORE_GRU.get(b, {})
        cells = ["—" if "whole" not in was else f"{was['whole'] / GRU_MACS:.3f}",
                 f"{c.windows[0] / GRU_MACS:.3f}"]
        for k in GRU_CELLS:
            cells.append("—" if k not in was else f"{was[k] / T:,.0f}")
            cells.append(f"{c.functions.get(k, (0, 0))[0] / T:,.0f}")
        lines.append(f"| {b} | " + " | ".join(cells) + " |")
    lines += ["", "Per kernel (own instructions over the run, per step and per MAC of the run; "
              "functions named rnn_*, the model's own and forward*: static helpers such as the "
              "Cortex-M4 mat-vec's pairs_dsp count in the whole run only):", ""]
    for b in sorted(res, key=BOARDS.index):
        parts = [f"`{f}` {n / T:,.0f}/step ({n / GRU_MACS:.3f}/MAC)" for f, (n, _) in
                 sorted(res[b].functions.items(), key=lambda kv: -kv[1][0]) if n]
        lines.append(f"- {b}: " + ", ".join(parts))
    return lines


def gru_rows(res: dict[str, icount.Counts]) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for b, c in res.items():
        out.append({"board": b, "dtype": "int8", "kernel": "kws_gru whole run",
                    "instructions": c.windows[0], "per_mac": c.windows[0] / GRU_MACS,
                    "per_step": c.windows[0] / T, "calls": 1})
        for f, (n, calls) in sorted(c.functions.items(), key=lambda kv: -kv[1][0]):
            if n:
                out.append({"board": b, "dtype": "int8", "kernel": f"kws_gru {f}",
                            "instructions": n, "per_mac": n / GRU_MACS, "per_step": n / T,
                            "calls": calls})
    return out


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


def report_fc(fc: dict[tuple[str, int, int], int]) -> list[str]:
    lines = ["", "## int8 fully connected: `rnn_mat_vec_s8` alone", "",
             "Instructions per MAC of one call (rows x cols MACs), before (plain C, "
             f"{BEFORE_COMMIT}) and now:", "",
             "| board | " + " | ".join(f"{r} x {c}" for r, c in FC_SHAPES) + " | target |",
             "|---" * (len(FC_SHAPES) + 2) + "|"]
    for b in sorted({b for b, _, _ in fc}, key=BOARDS.index):
        cells = []
        worst = 0.0
        for r, c in FC_SHAPES:
            now = fc[(b, r, c)] / (r * c)
            worst = max(worst, now)
            before = BEFORE_FC.get((b, r, c))
            cells.append((f"{before:.2f} -> " if before is not None else "") + f"{now:.2f}")
        tgt = FC_TARGETS.get(b)
        verdict = "—" if tgt is None else (f"<= {tgt:.1f} " + ("met" if worst <= tgt
                                                                else "**not met**"))
        lines.append(f"| {b} | " + " | ".join(cells) + f" | {verdict} |")
    return lines


def report(res: dict[tuple[str, str], icount.Counts], command: str,
           fc: dict[tuple[str, int, int], int] | None = None,
           gru: dict[str, icount.Counts] | None = None) -> tuple[str, str]:
    boards = sorted({b for b, _ in res}, key=BOARDS.index)
    dtypes = sorted({d for _, d in res}, key=DTYPES.index)
    table = rows(res)
    every = set(boards) | set(gru or {}) | {b for b, _, _ in fc or {}}
    lines = ["# Instructions per MAC: " + ("one HAR1 LSTM direction, whole `_run` and per "
                                           "kernel" if res else "int8 kernels"), "",
             f"Made by `{command}` at commit {commit()} (the script's docstring has the "
             "method). " + "; ".join(sorted({icount.rnngen_icount.qemu_version(
                 icount.board(b)) for b in every})) + ".", ""]
    if res:
        lines += [
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
            was = "—" if before is None else f"{before:.3f}"
            per_mv = float(mv["per_mac"])
            lines.append(f"| {b} | {dt} | {was} | {now:.3f} | {verdict} | {per_mv:.3f} | "
                         f"{now - per_mv:.3f} |")
    if res:
        lines += ["", "Per kernel (a function's own instructions over the run, callees "
                  "excluded; per MAC of the whole run):", ""]
    for b in boards:
        for dt in dtypes:
            if (b, dt) not in res:
                continue
            parts = [f"`{r['kernel']}` {int(r['instructions']) / T:,.0f}/step "
                     f"({float(r['per_mac']):.3f}/MAC)" for r in table
                     if (r["board"], r["dtype"]) == (b, dt)
                     and r["kernel"] not in ("whole run", "all mat-vecs")]
            lines.append(f"- {b} {dt}: " + ", ".join(parts))
    if fc:
        lines += report_fc(fc)
    if gru:
        lines += report_gru(gru)
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=["board", "dtype", "kernel", "instructions", "per_mac",
                                        "per_step", "calls", "commit", "command"],
                       lineterminator="\n")
    w.writeheader()
    for r in table + gru_rows(gru or {}):
        w.writerow({**r, "per_mac": f"{float(r['per_mac']):.4f}",
                    "per_step": f"{float(r['per_step']):.1f}", "commit": commit(),
                    "command": command})
    for (b, rows_, cols), n in (fc or {}).items():
        w.writerow({"board": b, "dtype": "int8", "kernel": f"rnn_mat_vec_s8 {rows_}x{cols}",
                    "instructions": n, "per_mac": f"{n / (rows_ * cols):.4f}", "per_step": "",
                    "calls": 1, "commit": commit(), "command": command})
    return "\n".join(lines) + "\n", buf.getvalue()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--boards", default=",".join(BOARDS))
    ap.add_argument("--dtypes", default=",".join(DTYPES))
    ap.add_argument("--out", default=str(HERE / "results" / "kernels"),
                    help="writes OUT.md and OUT.csv")
    ap.add_argument("--no-fc", action="store_true", help="skip the fully connected kernel")
    ap.add_argument("--gru", action="store_true", help="only the KWS GRU table")
    ap.add_argument("--no-gru", action="store_true", help="skip the KWS GRU table")
    a = ap.parse_args(argv)
    command = "python benchmarks/kernels.py" + (
        " " + " ".join(shlex.quote(v) for v in sys.argv[1:]) if argv is None and sys.argv[1:]
        else "")
    boards = [b for b in a.boards.split(",") if b]
    res = {} if a.gru else measure(boards, [d for d in a.dtypes.split(",") if d])
    fc = measure_fc(boards) if not (a.no_fc or a.gru) else None
    gru = measure_gru(boards) if not a.no_gru else None
    md, table = report(res, command, fc, gru)
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".md").write_text(md)
    out.with_suffix(".csv").write_text(table)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
