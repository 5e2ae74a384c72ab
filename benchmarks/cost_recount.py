"""How stale are the stored counts of the cost fit? Re-count some of the configurations
stored in benchmarks/results/cost_model.json with today's generated code, exactly as
benchmarks/cost_fit.py counts them, and compare.

    python benchmarks/cost_recount.py [--configs 24] [--jobs 2]

`cost_fit.py --reuse` keeps the counts of configurations measured before (a full run takes
about 46 minutes on a shared 2-core machine); the kernels may have changed since. This
re-counts --configs of the stored ONNX configurations, index 6 j + (j mod 6) for j = 0, 1, ...
(each format in turn, spread over the whole set), on every board and number type, and writes
benchmarks/results/cost_recount.md: stored against today's count, per configuration and per
board, dtype and format.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import cost_fit  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--configs", type=int, default=24)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--stored", default=str(HERE / "results" / "cost_model.json"))
    a = ap.parse_args(argv)
    data = json.loads(Path(a.stored).read_text())
    cfgs = {c["index"]: c for c in data["configs"]}
    onnx_n = sum(1 for c in cfgs.values() if c["cell"] in cost_fit.CELLS)
    pick = [6 * j + (j % 6) for j in range(a.configs) if 6 * j + (j % 6) < onnx_n]
    stored = {(r["config"], r["board"], r["dtype"]): r["instructions"]
              for r in data["measurements"]}
    boards = sorted({r["board"] for r in data["measurements"]})
    work = Path(tempfile.mkdtemp(prefix="rnngen-recount-"))
    try:
        jobs = [(cfgs[k], cost_fit.make_model(cfgs[k], work), b, dt) for k in pick
                for b in boards for dt in cost_fit.DTYPES]
        with mp.get_context("spawn").Pool(a.jobs) as pool:
            rows = pool.map(cost_fit.measure, jobs)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    cmd = "python benchmarks/cost_recount.py" + \
        (f" --configs {a.configs}" if a.configs != 24 else "")
    lines = ["# Stored cost-fit counts against today's\n",
             f"Made by `{cmd}`: {len(pick)} of the ONNX configurations stored in "
             "benchmarks/results/cost_model.json (made by `" + data["command"] + "`), counted "
             "again exactly as benchmarks/cost_fit.py counts them, with this version's "
             "generated code. Relative change = (today - stored) / stored.\n",
             "## By board, dtype and format\n",
             "| board | dtype | format | configs | mean change | largest change |",
             "| --- | --- | --- | ---: | ---: | ---: |"]
    rel = {}
    for r in rows:
        s = stored[(r["config"], r["board"], r["dtype"])]
        rel[(r["config"], r["board"], r["dtype"])] = (s, r["instructions"],
                                                      (r["instructions"] - s) / s)
    for b in boards:
        for dt in cost_fit.DTYPES:
            for m in cost_fit.METHODS:
                v = [rel[(k, b, dt)][2] for k in pick if cfgs[k]["method"] == m]
                if v:
                    big = max(v, key=abs)
                    lines.append(f"| {b} | {dt} | {m} | {len(v)} | {100 * np.mean(v):+.1f}% | "
                                 f"{100 * big:+.1f}% |")
    lines += ["", "## Every count", "",
              "| config | cell | format | board | dtype | stored | today | change |",
              "| ---: | --- | --- | --- | --- | ---: | ---: | ---: |"]
    for (k, b, dt), (s, t, e) in sorted(rel.items()):
        c = cfgs[k]
        fmt = "dense" if c["method"] == "dense" else f"{c['method']} {c['factor']:.3g}x"
        lines.append(f"| {k} | {c['cell']} | {fmt} | {b} | {dt} | {s:,} | {t:,} | "
                     f"{100 * e:+.1f}% |")
    out = HERE / "results" / "cost_recount.md"
    out.write_text("\n".join(lines) + "\n")
    worst = max(rel.items(), key=lambda kv: abs(kv[1][2]))
    print(f"wrote {out}: {len(rows)} counts; largest change {100 * worst[1][2]:+.1f}% "
          f"(config {worst[0][0]} {worst[0][1]} {worst[0][2]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
