"""How good is the beacon correction of `rnngen search --finetune`? Search with beacons, then
fine-tune every other compressed front point too (the same settings) and compare its
corrected error with its measured fine-tuned error.

    python benchmarks/beacons.py [--budget 40] [--beacons 3] [--epochs 10] [--seed 0]

Task: the bundled digit classifier (examples/lstm_classifier/model.onnx, an LSTM of 32 on
scikit-learn's 8x8 digits read row by row) with examples/tasks' digits split (train 1,221,
val 216, test 360: the model's own split), on cortex-m4, --calibrate its digit.npy. Writes
benchmarks/results/beacons.md: per front point the post-training estimate, the corrected
error (from its nearest beacon) and the error measured after fine-tuning it, on the test
split, with rnngen's reference (the search's own evaluation).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "examples" / "tasks"))

from tasks import load  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--budget", type=int, default=40)
    ap.add_argument("--beacons", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    from rnngen import search
    from rnngen.compress_eval import _load_eval_data

    ex = ROOT / "examples" / "lstm_classifier"
    work = Path(tempfile.mkdtemp(prefix="rnngen-beacons-"))
    try:
        load("digits").save(work)
        o = search.Options(model=str(ex / "model.onnx"), target="cortex-m4",
                           eval=str(work / "test.npz"), out=str(work / "plans"),
                           calibrate=str(ex / "digit.npy"), budget=a.budget, seed=a.seed,
                           finetune=str(work / "train.npz"), val=str(work / "val.npz"),
                           beacons=a.beacons, epochs=a.epochs)
        res = search.run(o)
        x, y = _load_eval_data(work / "test.npz")
        space = search.Space(search.recurrent_layers(o.model, int(x.shape[1])), o.factors)
        (work / "job").mkdir()
        job = search.make_job(o, space, x, y, work / "job")
        rows = []
        for i, (c, r) in enumerate(zip(res.front, res.corrections)):
            measured = None
            if r.finetuned:
                measured = r.corrected
            elif not search.all_dense(c):  # fine-tuned here, exactly as a beacon is
                d = work / f"ft-{i:02d}"
                d.mkdir()
                from rnngen import plan as plans
                path = plans.apply(o.model, c.layers, d, search.finetune_options(o, c))
                got = search.evaluate(job, c.genome, model_file=str(path))
                measured = got.error
            rows.append((i, c, r, measured))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    cmd = "python benchmarks/beacons.py" + "".join(
        f" --{k} {v}" for k, v in (("budget", a.budget), ("beacons", a.beacons),
                                   ("epochs", a.epochs), ("seed", a.seed))
        if v != {"budget": 40, "beacons": 3, "epochs": 10, "seed": 0}[k])
    lines = ["# Beacon correction against fine-tuning every point\n",
             f"Made by `{cmd}` (the method is in its docstring): the digit classifier on "
             "cortex-m4, error (%) on the 360 test sequences with rnngen's reference, "
             f"{len(res.evaluated)} candidates evaluated, {a.beacons} beacons fine-tuned "
             f"(at most {a.epochs} epochs, early stopping on val, seed {a.seed}); every other "
             "compressed front point then fine-tuned with the same settings and measured.\n",
             "| point | dtype | layers | estimate | corrected (beacon) | fine-tuned, measured "
             "| corrected - measured | estimate - measured |",
             "| --- | --- | --- | ---: | --- | ---: | ---: | ---: |"]
    gaps, raw = [], []
    for i, c, r, m in rows:
        by = "beacon" if r.finetuned else ("-" if r.beacon is None else f"{r.beacon:02d}")
        if m is None:
            lines.append(f"| {i:02d} | {c.dtype} | {c.describe()} | {r.estimate:.2f} | "
                         f"{r.corrected:.2f} ({by}) | - | - | - |")
            continue
        if not r.finetuned:
            gaps.append(r.corrected - m)
            raw.append(r.estimate - m)
        lines.append(f"| {i:02d} | {c.dtype} | {c.describe()} | {r.estimate:.2f} | "
                     f"{r.corrected:.2f} ({by}) | {m:.2f} | "
                     f"{'-' if r.finetuned else f'{r.corrected - m:+.2f}'} | "
                     f"{'-' if r.finetuned else f'{r.estimate - m:+.2f}'} |")
    if gaps:
        lines += ["", f"Non-beacon compressed points: {len(gaps)}; mean absolute error of the "
                  f"corrected error {np.mean(np.abs(gaps)):.2f} points (max "
                  f"{np.max(np.abs(gaps)):.2f}), of the uncorrected estimate "
                  f"{np.mean(np.abs(raw)):.2f} points (max {np.max(np.abs(raw)):.2f})."]
    out = HERE / "results" / "beacons.md"
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(json.dumps(dict(wrote=str(out))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
