"""The MOHAQ paper's claim in rnngen's terms: what post-training mixed precision (and
compression), found by `rnngen search` against the board's cost model, saves against float32
at a bounded error increase, and whether the search finds points that dominate the best
single-precision int8 build.

    python benchmarks/mohaq.py [--target cortex-m4] [--budget 150] [--seed 0] [--jobs 2]

Task: the bundled digit classifier (examples/lstm_classifier/model.onnx: an LSTM 8 -> 32 over
the 8 rows of scikit-learn's 8x8 digits, then Linear 32 -> 10), its 360 test sequences
(examples/lstm_classifier/test.npz) as the evaluation set, calibrated on its digit.npy. Post-
training only: nothing is retrained. Steps:

1. The float32 build (`rnngen build`): its weight bytes (the constants in flash as the build's
   manifest counts them: weights, biases, int8 requantization arrays) and its error on the
   test set with rnngen's reference (the search's own evaluation).
2. `rnngen search` with objectives error, instructions and weights (MOHAQ's three: error,
   speed, memory; weights = the bytes of the model's constants in flash); the genes: per
   recurrent layer its format and factor (dense, HMD, LMF, CSR, Kronecker, HKP at 2/3.33/5/8x)
   and its precision (w8a8, w4a8, w8a16), the Linear layer's precision, the number type (float32,
   int8). A combination rnngen refuses (a w4a8 layer reading a w8a16 one's int16 output) is an
   infeasible candidate.
   Timed: the whole search's wall time on this machine (--jobs processes).
3. Every front point built with `rnngen build --plan` (its weight bytes from the manifest).
4. The best single-precision int8 build: the all-dense int8 builds in one precision for every
   layer, w8a8 and w4a8 (each evaluated and built the same way); the lower-error one is the
   baseline (w8a8 when they tie) and the front points that dominate it (no worse in every
   objective, better in one) are listed: in the three objectives, and in error and memory
   (MOHAQ's first experiment), memory both as weight matrices and as constants built.

Writes benchmarks/results/mohaq.md (+ .json): the table of front points (error, its change
against float32, weight bytes, size reduction against float32, predicted instructions,
flash), the largest reduction within +0.5 and within +1.5 points of error, the baseline and
the points that dominate it, and the search's wall time.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
EX = ROOT / "examples" / "lstm_classifier"
MODEL, EVAL, CALIB = EX / "model.onnx", EX / "test.npz", EX / "digit.npy"
# the integer precisions of MOHAQ's comparison (results/mohaq.md was made with these; the
# search's default also has float32 per layer since, docs/search.md)
PRECISIONS = ("w8a8", "w4a8", "w8a16")


def cli(*args: str) -> str:
    r = subprocess.run([sys.executable, "-m", "rnngen.cli", *map(str, args)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"rnngen {' '.join(map(str, args))} failed:\n{r.stderr}")
    return r.stdout


def weight_bytes(project: Path) -> int:
    return int(json.loads((project / "manifest.json").read_text())["weights_bytes"])


def nominal_bytes(c, model: str, work: Path) -> float:
    """MOHAQ's measure: the weight matrices' stored values at their widths (float32 32 bits,
    int8 8, int4 4; compressed formats: their stored values), without biases, indices or
    requantization arrays."""
    from rnngen import formats, frontends, ir, plan as plans, precision

    path = plans.apply(model, c.layers, work / "nominal")
    g = frontends.load(Path(path), 8)
    prec = dict((ly.name, ly.precision) for ly in c.layers if ly.precision)
    prec.update(dict(c.heads))
    total = 0.0
    for n in g.nodes:
        mats = [m for cd in n.directions for m in (cd.W, cd.R)] if isinstance(
            n, ir.Recurrent) else [n.W] if isinstance(n, ir.Linear) else []
        # a layer's weight width from its precision (w4a8, w4a16: 4; float32 layer: 32)
        bits = 32 if c.dtype == "float32" else \
            precision.PRECISIONS[prec.get(n.name) or precision.DEFAULT].weight_bits
        total += sum(b.params for m in mats for b in formats.blocks(m)) * bits / 8
    shutil.rmtree(work / "nominal", ignore_errors=True)
    return total


def dominates(a: dict, b: dict, objs: tuple[str, ...]) -> bool:
    return all(a[k] <= b[k] for k in objs) and any(a[k] < b[k] for k in objs)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--target", default="cortex-m4")
    ap.add_argument("--budget", type=int, default=150)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--jobs", type=int, default=2)
    a = ap.parse_args(argv)
    from rnngen import plan as plans, search

    command = "python benchmarks/mohaq.py" + "".join(
        f" --{k} {v}" for k, v, d in (("target", a.target, "cortex-m4"),
                                     ("budget", a.budget, 150), ("seed", a.seed, 0),
                                     ("jobs", a.jobs, 2)) if v != d)
    work = Path(tempfile.mkdtemp(prefix="rnngen-mohaq-"))
    try:
        o = search.Options(model=str(MODEL), target=a.target, eval=str(EVAL),
                           out=str(work / "search"), calibrate=str(CALIB), budget=a.budget,
                           seed=a.seed, jobs=a.jobs, precisions=PRECISIONS,
                           objectives=("error", "instructions", "weights"))
        t0 = time.monotonic()
        res = search.run(o)
        wall = time.monotonic() - t0
        # float32 and the single-precision int8 builds, evaluated as the search does
        space = search.Space(search.recurrent_layers(o.model, 8), o.factors, o.precisions,
                             search.weighted_heads(o.model, 8))
        job = search.make_job(o, space, *_eval_data(), work)
        k = len(job.space.layers) + len(job.space.heads)
        f32 = search.evaluate(job, tuple([0] * len(job.space.layers) + [0] * k + [0]))
        singles = {p: search.evaluate(job, tuple([0] * len(job.space.layers) + [q] * k + [1]))
                   for q, p in enumerate(o.precisions)}
        rows = []

        def build(c: search.Candidate, tag: str) -> dict:
            plan = search._plan(o, a.target, 8, c)
            pf = work / f"{tag}.json"
            plans.write(pf, plan)
            proj = work / f"proj-{tag}"
            cli("build", "--plan", pf, "--target", a.target, "-o", proj, "--force")
            if weight_bytes(proj) != c.weights or json.loads(
                    (proj / "manifest.json").read_text())["flash_bytes"] != c.flash:
                raise SystemExit(f"{tag}: the search's weights/flash differ from the build's")
            return dict(tag=tag, dtype=c.dtype, layers=c.describe(), error=c.error,
                        instructions=c.instructions, flash=c.flash,
                        weight_bytes=weight_bytes(proj),
                        nominal=nominal_bytes(c, o.model, work))

        base_f32 = build(f32, "float32")
        for i, c in enumerate(res.front):
            rows.append(build(c, f"point-{i:02d}"))
        single_rows = {p: build(c, f"int8-{p}") for p, c in singles.items()}
        for r in rows + list(single_rows.values()) + [base_f32]:
            r["delta"] = r["error"] - base_f32["error"]
            r["reduction"] = base_f32["weight_bytes"] / r["weight_bytes"]
            r["nominal_reduction"] = base_f32["nominal"] / r["nominal"]
        best_single = min(single_rows.values(),
                          key=lambda r: (r["error"], r["tag"] != "int8-w8a8"))
        checks = {"error, instructions, weights": ("error", "instructions", "weight_bytes"),
                  "error, weight matrices": ("error", "nominal"),
                  "error, constants as built": ("error", "weight_bytes"),
                  "error, flash": ("error", "flash")}
        dom = {k: [r for r in rows if dominates(r, best_single, v)] for k, v in checks.items()}
        within = {(b, key): max((r for r in rows if r["delta"] <= b + 1e-9),
                                key=lambda r: r[key], default=None)
                  for b in (0.5, 1.5) for key in ("nominal_reduction", "reduction")}
    finally:
        shutil.rmtree(work, ignore_errors=True)

    data = dict(command=command, target=a.target, budget=a.budget, seed=a.seed,
                jobs=a.jobs, cores=os.cpu_count(), search_seconds=round(wall, 1),
                evaluated=len(res.evaluated), float32=base_f32, singles=single_rows,
                front=rows, baseline=best_single["tag"],
                dominating={k: [r["tag"] for r in v] for k, v in dom.items()},
                within={f"{b} {key}": (r and r["tag"]) for (b, key), r in within.items()})
    res_dir = HERE / "results"
    (res_dir / "mohaq.json").write_text(json.dumps(data, indent=1) + "\n")

    def line(r: dict) -> str:
        return (f"| {r['tag']} | {r['dtype']} | {r['layers']} | {r['error']:.2f} | "
                f"{r['delta']:+.2f} | {r['nominal']:,.0f} | {r['nominal_reduction']:.2f}x | "
                f"{r['weight_bytes']:,} | {r['reduction']:.2f}x | "
                f"{r['instructions']:,.0f} | {r['flash']:,} |")
    head = ["| point | dtype | layers | error (%) | vs float32 | weight matrices (B) | "
            "reduction | constants as built (B) | reduction | instructions (predicted) | "
            "flash (B) |",
            "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    md = [f"# MOHAQ's claim in rnngen's terms: post-training mixed precision on {a.target}",
          "", f"Made by `{command}` (the method is in its docstring). The digit classifier "
          "(LSTM 8 -> 32, Linear 32 -> 10), error on its 360 test sequences with rnngen's "
          f"reference; `rnngen search` with budget {a.budget}, seed {a.seed}: "
          f"{len(res.evaluated)} candidates evaluated in {wall / 60:.1f} minutes wall time "
          f"with --jobs {a.jobs} on this {os.cpu_count()}-core machine. Weight matrices: "
          "MOHAQ's measure, the matrices' stored values at their widths (32, 8 or 4 bits), "
          "no biases, indices or requantization arrays; constants as built: everything "
          "`rnngen build` puts in flash for the model (its manifest's weights_bytes: biases, "
          "per-row requantization arrays and tables included, which on a model this small "
          "are a large part); reduction = float32's / the point's.", "",
          "## Reference builds", "", *head, line(base_f32),
          *[line(r) for r in single_rows.values()], "",
          "## The search's front (post-training)", "", *head, *[line(r) for r in rows], "",
          "## The claim", ""]
    for (b, key), r in within.items():
        what = "weight matrices" if key == "nominal_reduction" else "constants as built"
        md.append(f"- Within +{b} points of float32's error, {what}: " + (
            f"{r[key]:.2f}x smaller ({r['tag']}: {r['layers']}, "
            f"{r['dtype']}, error {r['error']:.2f}%, {r['delta']:+.2f})" if r else "none"))
    md.append(f"- The best single-precision int8 build: {best_single['tag']} (error "
              f"{best_single['error']:.2f}%, {best_single['instructions']:,.0f} instructions, "
              f"weight matrices {best_single['nominal']:,.0f} B, constants "
              f"{best_single['weight_bytes']:,} B, flash {best_single['flash']:,} B). Front "
              "points that dominate it:")
    for k, v in dom.items():
        md.append(f"  - in {k}: " + (", ".join(f"{r['tag']} ({r['layers']})" for r in v)
                                     or "none"))
    (res_dir / "mohaq.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))
    return 0


def _eval_data():
    import numpy as np

    d = np.load(EVAL)
    return d["x"], d["y"]


if __name__ == "__main__":
    sys.exit(main())
