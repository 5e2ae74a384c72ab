"""Every recurrent cell's kernel on the boards: instructions per hidden unit and step.

    python benchmarks/cells.py                      # writes benchmarks/results/cells.md/.csv/.png
    python benchmarks/cells.py --before c409251     # also counts that commit's cell kernels

One layer of each cell (LSTM, GRU, RNN, FastRNN, FastGRNN, SRU), input 32, hidden 64, seeded
normal weights (scale 0.3), written with rnngen.npz and built by `rnngen build` for each
board, float32 and --dtype int8 (calibrated on 16 seeded random sequences; float I/O at the
C API). A harness calls `<name>_run` once over 8 steps between rnngen's counting markers
(benchmarks/icount_harness.py, whole_run=True); counts are exact QEMU instruction counts,
checked to repeat on a second run. "cell" is the cell kernels' own instructions (rnn_*_cell_*
and rnn_gru_gates_*; in float32 also the activations they call: rnn_activation_f32 and its
sigmoid_f32/tanh_f32), "whole" the whole `_run`; both divided by hidden x steps (512).

--before REV: the same projects with the cell kernels' sources (src/rnn_*_cell_*.c,
src/rnn_gru_gates_*.c) replaced by commit REV's and rebuilt (headers as now), so the figure
is that commit's kernels in today's projects.
"""

from __future__ import annotations

import argparse
import csv
import re
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

import click
import icount_harness as icount
import numpy as np

from rnngen import npz

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
I, H, T = 32, 64, 8
CELLS = ["lstm", "gru", "rnn", "fastrnn", "fastgrnn", "sru"]
BOARDS = ["cortex-a73", "cortex-m4", "cortex-m7", "cortex-m55"]
DTYPES = ["int8", "float32"]
CELL_FNS = (r"rnn_.*_cell_.*", r"rnn_gru_gates_.*", r"rnn_activation_f32", r"sigmoid_f32",
            r"tanh_f32")


def layer(cell: str) -> npz.Layer:
    rng = np.random.default_rng(1 + CELLS.index(cell))

    def r(*s: int) -> np.ndarray:
        return (rng.standard_normal(s) * 0.3).astype(np.float32)

    if cell == "lstm":
        return npz.lstm(r(4 * H, I), r(4 * H, H), r(4 * H), r(4 * H), gate_order="pytorch")
    if cell == "gru":
        return npz.gru(r(3 * H, I), r(3 * H, H), r(3 * H), r(3 * H), gate_order="pytorch",
                       linear_before_reset=True)
    if cell == "rnn":
        return npz.rnn(r(H, I), r(H, H), r(H), r(H))
    if cell == "fastrnn":
        return npz.fastrnn(r(H, I), r(H, H), r(H), alpha=-1.5, beta=1.2)
    if cell == "fastgrnn":
        return npz.fastgrnn(r(H, I), r(H, H), r(H), r(H), zeta=1.0, nu=-3.0)
    return npz.sru(r(4 * H, I), r(H), r(H), r(H), r(H))  # I != H: with a projection


def cell_sources(project: Path) -> list[Path]:
    return sorted(p for p in (project / "src").glob("rnn_*.c")
                  if re.match(r"rnn_(.*_cell_.*|gru_gates_.*)\.c$", p.name))


def count(elf: Path, board: str, what: str) -> tuple[int, int]:
    """(whole run, the cell kernels' own instructions), checked to repeat."""
    c = icount.run(elf, board, CELL_FNS)
    again = icount.run(elf, board, CELL_FNS)
    if (again.windows, again.functions) != (c.windows, c.functions):
        raise RuntimeError(f"{what}: counts differ between two runs")
    return c.windows[0], sum(n for n, _ in c.functions.values())


def measure(cells: list[str], boards: list[str], dtypes: list[str], before: str | None,
            work: Path) -> list[dict]:
    rows = []
    calib = work / "calib.npy"
    np.save(calib, np.random.default_rng(2).uniform(-1, 1, (16, T, 1, I)).astype(np.float32))
    runs = [(c, b, d) for c in cells for b in boards for d in dtypes]
    with click.progressbar(runs, label="cells", file=sys.stderr,
                           item_show_func=lambda r: " ".join(r) if r else "") as bar:
        for cell, board, dt in bar:
            model = work / f"{cell}.npz"
            if not model.exists():
                npz.save(model, [layer(cell)], input_size=I, seq_len=T)
            opts = {} if dt == "float32" else {"dtype": "int8", "calibrate": str(calib)}
            proj = work / f"{cell}_{board}_{dt}"
            elf = icount.build_project(model, board, proj, whole_run=True, **opts)
            whole, cellk = count(elf, board, f"{cell} {board} {dt}")
            row = {"cell": cell, "board": board, "dtype": dt, "whole": whole, "cell_instr": cellk,
                   "whole_before": None, "cell_before": None}
            if before:
                for src in cell_sources(proj):
                    rel = f"runtime_c/Source/RecurrentFunctions/{src.name}"
                    src.write_text(subprocess.run(["git", "show", f"{before}:{rel}"], cwd=ROOT,
                                                  capture_output=True, text=True,
                                                  check=True).stdout)
                subprocess.run(["make", "-s", "-C", str(proj)], check=True,
                               capture_output=True)
                row["whole_before"], row["cell_before"] = count(
                    elf, board, f"{cell} {board} {dt} at {before}")
            rows.append(row)
    return rows


def per_unit(n: int | None) -> str:
    return "" if n is None else f"{n / (H * T):.1f}"


def report(rows: list[dict], command: str, commit: str, before: str | None) -> str:
    lines = ["# Every cell kernel on the boards", "",
             f"Made by `{command}` at commit {commit} (the script's docstring has the method).",
             "", f"One layer, input {I}, hidden {H}, {T} steps, one `_run`: exact QEMU "
             "instruction counts per hidden unit and step. \"cell\": the cell kernels' own "
             "instructions (float32: with the activations they call); \"whole\": the whole "
             "run." + (f" \"before\": the cell kernels of commit {before} in the same projects."
                      if before else ""), ""]
    for dt in DTYPES:
        sub = [r for r in rows if r["dtype"] == dt]
        if not sub:
            continue
        lines += [f"## {dt}", ""]
        if before:
            lines += ["| cell | board | cell before | cell now | whole before | whole now | "
                      "cell speed-up |", "|---|---|---|---|---|---|---|"]
            for r in sub:
                lines.append(f"| {r['cell']} | {r['board']} | {per_unit(r['cell_before'])} | "
                             f"{per_unit(r['cell_instr'])} | {per_unit(r['whole_before'])} | "
                             f"{per_unit(r['whole'])} | "
                             f"{r['cell_before'] / r['cell_instr']:.2f}x |")
        else:
            lines += ["| cell | board | cell | whole |", "|---|---|---|---|"]
            for r in sub:
                lines.append(f"| {r['cell']} | {r['board']} | {per_unit(r['cell_instr'])} | "
                             f"{per_unit(r['whole'])} |")
        lines.append("")
    lines += ["## int8 against float32, whole run", "",
              "| cell | board | float32 | int8 | int8 / float32 |", "|---|---|---|---|---|"]
    by = {(r["cell"], r["board"], r["dtype"]): r for r in rows}
    for (cell, board, dt), r in by.items():
        f = by.get((cell, board, "float32"))
        if dt == "int8" and f:
            lines.append(f"| {cell} | {board} | {per_unit(f['whole'])} | {per_unit(r['whole'])} "
                         f"| {r['whole'] / f['whole']:.2f} |")
    return "\n".join(lines) + "\n"


def plot(rows: list[dict], out: Path, before: str | None) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    dts = [d for d in DTYPES if any(r["dtype"] == d for r in rows)]
    boards = sorted({r["board"] for r in rows}, key=BOARDS.index)
    fig, axes = plt.subplots(len(dts), len(boards), figsize=(3.6 * len(boards), 3.2 * len(dts)),
                             squeeze=False)
    for i, dt in enumerate(dts):
        for ax, b in zip(axes[i], boards):
            rs = [r for r in rows if r["board"] == b and r["dtype"] == dt]
            x = np.arange(len(rs))
            if before:
                ax.bar(x - 0.2, [r["cell_before"] / (H * T) for r in rs], 0.4, label=before)
                ax.bar(x + 0.2, [r["cell_instr"] / (H * T) for r in rs], 0.4, label="now")
                ax.legend(fontsize=7)
            else:
                ax.bar(x, [r["cell_instr"] / (H * T) for r in rs], 0.6)
            ax.set_xticks(x, [r["cell"] for r in rs], rotation=45, fontsize=8)
            ax.set_title(f"{b}, {dt}", fontsize=9)
            ax.set_ylabel("cell instructions / unit-step", fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cells", default=",".join(CELLS))
    ap.add_argument("--boards", default=",".join(BOARDS))
    ap.add_argument("--dtypes", default=",".join(DTYPES))
    ap.add_argument("--before", default=None, help="also count this commit's cell kernels")
    ap.add_argument("--out", default=str(HERE / "results" / "cells.md"))
    ap.add_argument("--keep", default=None, help="keep the projects in this folder")
    a = ap.parse_args(argv)
    command = "python benchmarks/cells.py" + (
        " " + " ".join(shlex.quote(v) for v in sys.argv[1:]) if argv is None and sys.argv[1:]
        else "")
    for name, vals, allowed in (("--cells", a.cells, CELLS), ("--boards", a.boards, BOARDS),
                                ("--dtypes", a.dtypes, DTYPES)):
        bad = [v for v in vals.split(",") if v not in allowed]
        if bad:
            ap.error(f"{name}: unknown {', '.join(bad)} (one of {', '.join(allowed)})")
    with tempfile.TemporaryDirectory() as d:
        work = Path(a.keep) if a.keep else Path(d)
        work.mkdir(parents=True, exist_ok=True)
        rows = measure(a.cells.split(","), a.boards.split(","), a.dtypes.split(","), a.before,
                       work)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                            capture_output=True, text=True).stdout.strip()
    out = Path(a.out)
    out.write_text(report(rows, command, commit, a.before))
    with open(out.with_suffix(".csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    plot(rows, out.with_suffix(".png"), a.before)
    print(out.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
