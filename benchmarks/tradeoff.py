"""Accuracy against speed-up and flash for every compressed format: the HMD paper's Figures 2
and 3 for rnngen's own kernels, on the bundled tasks (examples/tasks).

    pip install rnngen[bench,torch]      # once (the counter builds itself: codegen/icount.py)
    python benchmarks/tradeoff.py       # benchmarks/results/tradeoff.{md,png,json,csv}
    python benchmarks/tradeoff.py --verify           # and rnngen verify every model
    python benchmarks/tradeoff.py --tasks digits --epochs 20   # a smaller run
    python benchmarks/tradeoff.py --tasks digits --hidden 128 --methods kron,hkp \
        --min-factor 16                 # Kronecker at >= 15x needs larger gate blocks
    python benchmarks/tradeoff.py --tasks japanese_vowels --hidden 64   # a wider baseline

Per task: the dense baseline (examples/tasks/train.py's LSTM classifier, hidden 32) is
trained; then per method (hmd, lmf, csr, kron, hkp) and storage factor (2, 2.5, 3.33, 5 for
all; 8, 10, 16, 25 for kron and hkp, where rnngen's size rules reach them per gate block):
- projection: `rnngen compress` (compress_file) of the dense ONNX model, test accuracy;
- fine-tuned: the same with --finetune on the training split, --val on the validation split
  (rnngen compress's defaults but --lr 5e-3, --epochs FT_EPOCHS, --patience 8);
- from scratch: the network trained with the structure from random factors
  (rnngen.torch.structure(init="random"), examples/tasks/train.py, the same epochs as dense);
- int8: the fine-tuned model compiled with --dtype int8 (calibrated on up to 64 training
  sequences), accuracy of rnngen's integer reference (bit-exact with the C);
and a smaller dense baseline per factor: hidden size chosen so that its W + R hold no more
numbers than the dense model's / factor, trained like the dense one.
All accuracies are on the test split, computed with rnngen's references (what the C computes).
Speed: exact instructions per `<name>_step` (one time step, the whole network) under QEMU with
rnngen's counter (codegen/icount.py), cortex-a73 (-O3) and cortex-m4 (-O2), float32 and int8, of the
fine-tuned model; speed-up = dense float32 / model. Flash: the model's flash bytes (code +
weights) on cortex-m4 as `rnngen build` measures it. Results are cached in the JSON file:
a second run only computes what is missing (delete the file to start over).
"""

from __future__ import annotations

import argparse
import json
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "examples" / "tasks"))

import icount_harness as icount  # noqa: E402
import tasks as task_data  # noqa: E402
import train as trainer  # noqa: E402
from rnngen import pipeline, quant, reference, reference_int  # noqa: E402
from rnngen.compress_model import Finetune, compress_file  # noqa: E402
from rnngen.errors import RnngenError  # noqa: E402

F32 = np.float32
METHODS = ["hmd", "lmf", "csr", "kron", "hkp"]
LOW = [2.0, 2.5, 10 / 3, 5.0]
HIGH = [8.0, 10.0, 16.0, 25.0]
BOARDS = ["cortex-a73", "cortex-m4"]
LABEL = {"hmd": "HMD", "lmf": "low-rank", "csr": "CSR (pruning)", "kron": "Kronecker",
         "hkp": "HKP", "small": "smaller dense"}


def factors(method: str) -> list[float]:
    return LOW + (HIGH if method in ("kron", "hkp") else [])


def fkey(f: float) -> str:
    return f"{f:.2f}"


# --------------------------------------------------------------------------- measuring

def test_accuracy(model: Path, t: task_data.Task) -> float:
    g = pipeline.compile_model(model, pipeline.Options(seq_len=t.seq_len))
    out = g.outputs[0]
    shape = g.shapes[g.input]
    hits = sum(int(np.argmax(reference.run(g, x.reshape(shape))[out]) == y)
               for x, y in zip(t.x_test, t.y_test))
    return hits / len(t.y_test)


def int8_accuracy(model: Path, t: task_data.Task, calib: Path) -> float:
    g = pipeline.compile_model(model, pipeline.Options(seq_len=t.seq_len, dtype="int8",
                                                       calibrate=str(calib)))
    plan = g.quant
    out = g.outputs[0]
    shape = g.shapes[g.input]
    hits = 0
    for x, y in zip(t.x_test, t.y_test):
        q = reference.Executor(g, dtype="int8").run_int(
            quant.quantize_input(x.reshape(shape), plan.input))
        hits += int(np.argmax(reference_int.dequantize_output(plan, out, q[out])) == y)
    return hits / len(t.y_test)


def speed(model: Path, work: Path, calib: Path) -> dict[str, Any]:
    """Instructions per step (mean over the golden sequence) per board and dtype, and the
    cortex-m4 flash bytes, float32 and int8."""
    res: dict[str, Any] = {}
    for b in BOARDS:
        for dt, opts in (("float32", {}), ("int8", {"dtype": "int8", "calibrate": str(calib)})):
            w, _ = icount.count_steps(model, b, work=work / f"{b}-{dt}", steps=4, **opts)
            res[f"{b}/{dt}"] = float(np.mean(w))
            if b == "cortex-m4":
                man = json.loads((work / f"{b}-{dt}" / "manifest.json").read_text())
                res[f"flash/{dt}"] = int(man["flash_bytes"])
    return res


def verify_all(model: Path, t: task_data.Task, folder: Path, calib: Path) -> dict[str, bool]:
    """rnngen verify of the model (a test sequence as golden input) on the host, cortex-a73
    and cortex-m4, float32 and int8: the C against rnngen's reference (int8: exactly)."""
    from rnngen import driver

    x = folder / "verify_input.npy"
    np.save(x, t.x_test[0].reshape(t.seq_len, 1, t.features))
    out = {}
    for b in ("host", *BOARDS):
        for dt, opts in (("float32", {}), ("int8", {"dtype": "int8", "calibrate": str(calib)})):
            try:
                res = driver.verify(model, driver.BuildOptions(target=b, input=str(x), **opts))
                out[f"{b}/{dt}"] = bool(res.passed)
            except RnngenError as e:
                out[f"{b}/{dt}"] = False
                print(f"verify {model} {b} {dt}: {e}", file=sys.stderr)
    return out


def small_hidden(I: int, H: int, f: float) -> int:
    """The largest hidden size whose LSTM W + R hold at most 4 H (I + H) / f numbers."""
    budget = 4 * H * (I + H) / f
    h = 1
    while 4 * (h + 1) * (I + h + 1) <= budget:
        h += 1
    return h


# --------------------------------------------------------------------------- one task

def run_task(name: str, a: argparse.Namespace, cache: dict[str, Any], save: Any) -> None:
    t = task_data.load(name)
    H = a.hidden or trainer.HIDDEN[name]
    if a.hidden:
        name = f"{name}-h{H}"  # a wider model: larger gate blocks reach larger factors
    root = Path(a.work) / name
    root.mkdir(parents=True, exist_ok=True)
    t.save(root)
    calib = root / "calib.npy"
    nc = min(64, len(t.x_train))
    np.save(calib, t.x_train[:nc].reshape(nc, t.seq_len, 1, t.features))
    res = cache.setdefault(name, {})

    def log(msg: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {name}: {msg}", file=sys.stderr, flush=True)

    dense = root / "dense" / "model.onnx"
    if "dense" not in res or not dense.exists():
        net, rep = trainer.train(t, H, a.epochs, seed=a.seed)
        trainer.export(net, t, dense.parent)
        rep["test_accuracy_rnngen"] = test_accuracy(dense, t)
        rep["int8_accuracy"] = int8_accuracy(dense, t, calib)
        rep.update(speed(dense, root / "dense" / "icount", calib))
        rep["task"] = dict(train=len(t.y_train), val=len(t.y_val), test=len(t.y_test),
                           seq_len=t.seq_len, features=t.features, classes=t.classes)
        res["dense"] = rep
        save()
        log(f"dense {rep['test_accuracy_rnngen']:.4f}")
    for method in [m for m in a.methods.split(",") if m]:
        for f in [f for f in factors(method) if a.min_factor <= f <= a.max_factor]:
            key = f"{method}@{fkey(f)}"
            if key in res:
                continue
            row: dict[str, Any] = {"method": method, "factor": f}
            folder = root / key
            folder.mkdir(parents=True, exist_ok=True)
            try:
                proj = compress_file(dense, folder / "projection.onnx", method, f, force=True)
            except RnngenError as e:
                row["refused"] = str(e).split(": ", 1)[-1]
                res[key] = row
                save()
                log(f"{key} refused")
                continue
            tot = proj.totals()
            row.update(storage=tot["storage_factor"], mac_factor=tot["mac_factor"],
                       rel_error=tot["rel_error"], params=tot["params"],
                       dense_params=tot["dense_params"],
                       plans=sorted({m.format() for m in proj.matrices}))
            row["projection"] = test_accuracy(folder / "projection.onnx", t)
            ft = compress_file(dense, folder / "finetuned.onnx", method, f, force=True,
                               finetune=Finetune(str(root / "train.npz"), str(root / "val.npz"),
                                                 epochs=a.ft_epochs, lr=5e-3, patience=8,
                                                 seed=a.seed, progress=False))
            row["finetune_report"] = {k: v for k, v in (ft.finetune or {}).items()
                                      if k != "history"}
            row["finetuned"] = test_accuracy(folder / "finetuned.onnx", t)
            net, rep = trainer.train(t, H, a.epochs, method=method, factor=f, seed=a.seed)
            trainer.export(net, t, folder / "scratch")
            row["scratch"] = test_accuracy(folder / "scratch" / "model.onnx", t)
            row["int8"] = int8_accuracy(folder / "finetuned.onnx", t, calib)
            row.update(speed(folder / "finetuned.onnx", folder / "icount", calib))
            res[key] = row
            save()
            log(f"{key}: projection {row['projection']:.3f} finetuned {row['finetuned']:.3f} "
                f"scratch {row['scratch']:.3f} int8 {row['int8']:.3f}")
    if a.verify:
        for key, row in res.items():
            if key == "dense" or "refused" in row or "verified" in row or \
                    row["method"] == "small":
                continue
            model = root / key / "finetuned.onnx"
            row["verified"] = verify_all(model, t, root / key, calib)
            save()
            log(f"{key}: verified {sum(row['verified'].values())}/{len(row['verified'])}")
    for f in sorted(f for f in {*LOW, *HIGH} if a.min_factor <= f <= a.max_factor):
        key = f"small@{fkey(f)}"
        if key in res:
            continue
        h = small_hidden(t.features, H, f)
        net, rep = trainer.train(t, h, a.epochs, seed=a.seed)
        folder = root / key
        trainer.export(net, t, folder)
        row = {"method": "small", "factor": f, "hidden": h,
               "storage": 4 * H * (t.features + H) / (4 * h * (t.features + h)),
               "scratch": test_accuracy(folder / "model.onnx", t),
               "int8": int8_accuracy(folder / "model.onnx", t, calib)}
        row.update(speed(folder / "model.onnx", folder / "icount", calib))
        res[key] = row
        save()
        log(f"{key}: hidden {h} accuracy {row['scratch']:.3f}")


# --------------------------------------------------------------------------- report

def ff(f: float) -> str:
    return f"{f:.3g}"


def pct(v: float | None) -> str:
    return "—" if v is None else f"{100 * v:.1f}"


def _closest(refusal: str) -> str:
    """The part of rnngen compress's refusal that names the closest reachable factor."""
    parts = [p for p in refusal.split("; ") if "closest" in p]
    return parts[-1] if parts else refusal.split("; ")[-1]


def report(cache: dict[str, Any], command: str, out: Path) -> str:
    lines = ["# Accuracy against speed-up: every compressed format, projection, fine-tuning, "
             "training from scratch", "",
             "Made by " + ", then ".join(f"`{c}`" for c in cache.get("_runs", [command])) +
             f" (the script's docstring has the method; results cached between runs), "
             f"report at commit {_commit()}.",
             f"Host: {platform.machine()} {platform.system()}; QEMU instruction counts "
             "(rnngen's counter, codegen/icount.py), exact and repeatable; instructions are "
             "not cycles.", ""]
    claims: list[str] = []
    for name, res in cache.items():
        if name.startswith("_") or "dense" not in res:
            continue
        d = res["dense"]
        tk = d["task"]
        lines += [f"## {name}", "",
                  f"{tk['train']} training, {tk['val']} validation, {tk['test']} test sequences "
                  f"of {tk['seq_len']} steps x {tk['features']} features, {tk['classes']} "
                  f"classes. Dense LSTM {tk['features']}->{d['hidden']} + Linear + softmax: "
                  f"test accuracy {pct(d['test_accuracy_rnngen'])}% (int8 "
                  f"{pct(d['int8_accuracy'])}%), {d['cortex-m4/float32']:,.0f} instructions per "
                  f"step on cortex-m4, {d['cortex-a73/float32']:,.0f} on cortex-a73, flash "
                  f"{d['flash/float32']:,} B (int8 {d['flash/int8']:,} B) on cortex-m4.", "",
                  "Accuracy (%) on the test split; speed-up = dense float32 instructions per "
                  "step / the model's; flash on cortex-m4.", "",
                  "| method | factor | storage | projection | fine-tuned | from scratch | "
                  "int8 (fine-tuned) | speed-up A73 | speed-up M4 | int8 speed-up M4 | "
                  "flash B | int8 flash B |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|"]
        base = d["test_accuracy_rnngen"]
        for method in [*METHODS, "small"]:
            keys = sorted((k for k in res if k.startswith(method + "@")),
                          key=lambda k: res[k]["factor"])
            for k in keys:
                r = res[k]
                if "refused" in r:
                    lines.append(f"| {LABEL[method]} | {ff(r['factor'])} | refused: "
                                 f"{_closest(r['refused'])} |" + " |" * 9)
                    continue
                sa = d["cortex-a73/float32"] / r["cortex-a73/float32"]
                sm = d["cortex-m4/float32"] / r["cortex-m4/float32"]
                si = d["cortex-m4/float32"] / r["cortex-m4/int8"]
                stor = f"{r['storage']:.2f}x" + (f" (hidden {r['hidden']})" if "hidden" in r
                                                 else "")
                lines.append(f"| {LABEL[method]} | {ff(r['factor'])} | {stor} | "
                             f"{pct(r.get('projection'))} | {pct(r.get('finetuned'))} | "
                             f"{pct(r.get('scratch'))} | {pct(r.get('int8'))} | {sa:.2f} | "
                             f"{sm:.2f} | {si:.2f} | {r['flash/float32']:,} | "
                             f"{r['flash/int8']:,} |")
        lines.append("")
        ver = [r["verified"] for r in res.values() if isinstance(r, dict) and "verified" in r]
        if ver:
            n_ok = sum(all(v.values()) for v in ver)
            lines += [f"`rnngen verify` (the generated C against rnngen's reference; int8 "
                      f"exactly) on host, cortex-a73 and cortex-m4, float32 and int8: {n_ok} of "
                      f"{len(ver)} models pass on all six." + ("" if n_ok == len(ver) else
                      " Failing: " + ", ".join(k for k, r in res.items() if "verified" in r
                                               and not all(r["verified"].values()))), ""]
        for method, f, tol in [("hmd", 2.0, 1), ("lmf", 2.0, 1), ("csr", 2.0, 1),
                               ("hmd", 10 / 3, 2), ("lmf", 10 / 3, 2), ("csr", 10 / 3, 2)]:
            r = res.get(f"{method}@{fkey(f)}", {})
            if "finetuned" in r:
                drop = 100 * (base - r["finetuned"])
                ok = "met" if drop <= tol else "NOT met"
                claims.append(f"- {name}, {LABEL[method]} {ff(f)}x: fine-tuned "
                              f"{pct(r['finetuned'])}% (from scratch {pct(r['scratch'])}%) "
                              f"against dense {pct(base)}% ({0.0 - drop:+.1f} points, target "
                              f">= -{tol}): {ok}")
        high = [res[k] for k in res if k.split("@")[0] in ("kron", "hkp") and
                res[k]["factor"] >= 15 and "finetuned" in res[k]]
        if high:
            r = max(high, key=lambda r: r["finetuned"])
            drop = 100 * (base - r["finetuned"])
            claims.append(f"- {name}, Kronecker/HKP >= 15x: best {LABEL[r['method']]} "
                          f"{ff(r['factor'])}x fine-tuned {pct(r['finetuned'])}% (from scratch "
                          f"{pct(r['scratch'])}%) ({-drop:+.1f} points, target >= -3): "
                          f"{'met' if drop <= 3 else 'NOT met'}")
        else:
            reached = [r["factor"] for k, r in res.items() if k.split("@")[0] in ("kron", "hkp")
                       and "finetuned" in r]
            claims.append(f"- {name}, Kronecker/HKP >= 15x: not reachable on this model's gate "
                          f"blocks per gate (largest reached: {ff(max(reached, default=0))}x; "
                          "see the refusals above)")
        slow = [f"{LABEL[r['method']]} {ff(r['factor'])}x"
                for k, r in res.items() if k != "dense" and "refused" not in r and
                r["method"] != "small" and r["cortex-a73/float32"] > d["cortex-a73/float32"]]
        slow_m4 = [f"{LABEL[r['method']]} {ff(r['factor'])}x"
                   for k, r in res.items() if k != "dense" and "refused" not in r and
                   r["method"] != "small" and r["cortex-m4/float32"] > d["cortex-m4/float32"]]
        if slow or slow_m4:
            claims.append(f"- {name}: slower than dense (more instructions per step) on "
                          f"cortex-a73: {', '.join(slow) or 'none'}; on cortex-m4: "
                          f"{', '.join(slow_m4) or 'none'}")
    lines += ["## The issue's targets", "",
              "Fine-tuned accuracy within 1 point of the dense model at 2x and 2 points at "
              "3.33x for HMD, low-rank and CSR; Kronecker or HKP at >= 15x within 3 points. "
              "A factor the method refuses on the task's gate blocks (rnngen compress's size "
              "rules, 10% tolerance) has no line. basic_motions has 40 test sequences (one is "
              "2.5 points) and 6 validation sequences: its figures are noise-dominated.", "",
              *claims, "",
              f"![accuracy against speed-up]({out.stem}.png)", ""]
    return "\n".join(lines)


def plot(cache: dict[str, Any], png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [n for n in cache if not n.startswith("_") and "dense" in cache[n]]
    fig, axes = plt.subplots(len(names), 2, figsize=(12, 4.2 * len(names)), squeeze=False)
    marks = {"hmd": "o", "lmf": "s", "csr": "^", "kron": "D", "hkp": "P", "small": "x"}
    colors = {"hmd": "C0", "lmf": "C1", "csr": "C2", "kron": "C3", "hkp": "C4", "small": "C5"}
    for row, name in zip(axes, names):
        res = cache[name]
        d = res["dense"]
        for ax, b in zip(row, BOARDS):
            for method in [*METHODS, "small"]:
                pts = [(d[f"{b}/float32"] / r[f"{b}/float32"],
                        100 * r.get("finetuned", r.get("scratch", 0.0)), r["factor"])
                       for k, r in res.items() if k.startswith(method + "@") and
                       "refused" not in r]
                if not pts:
                    continue
                pts.sort()
                ax.plot([p[0] for p in pts], [p[1] for p in pts], marker=marks[method],
                        color=colors[method],
                        linestyle="none", label=LABEL[method] + (" (fine-tuned)"
                                                              if method != "small" else ""))
                for x, y, f in pts:
                    ax.annotate(f"{ff(f)}x", (x, y), fontsize=6, xytext=(2, 2),
                                textcoords="offset points")
            ax.axhline(100 * d["test_accuracy_rnngen"], color="k", linewidth=0.8,
                       linestyle="--", label="dense")
            ax.set_xscale("log")
            ax.set_xlabel(f"speed-up on {b} (dense instructions / model's, per step)")
            ax.set_ylabel("test accuracy (%)")
            ax.set_title(f"{name}: {b}")
            ax.grid(True, which="both", linewidth=0.3)
        row[0].legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    fig.savefig(png, dpi=110)


def csv_rows(cache: dict[str, Any], path: Path) -> None:
    cols = ["task", "method", "factor", "storage", "projection", "finetuned", "scratch",
            "int8", "cortex-a73/float32", "cortex-a73/int8", "cortex-m4/float32",
            "cortex-m4/int8", "flash/float32", "flash/int8", "refused"]
    out = [",".join(cols)]
    for name, res in cache.items():
        if name.startswith("_"):
            continue
        for k, r in res.items():
            if k == "dense":
                r = {**r, "method": "dense", "factor": 1.0, "storage": 1.0,
                     "scratch": r["test_accuracy_rnngen"], "int8": r["int8_accuracy"]}
            out.append(",".join(json.dumps(name if c == "task" else r.get(c, ""))
                                for c in cols))
    path.write_text("\n".join(out) + "\n")


def _commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, cwd=ROOT).stdout.strip() or "?"
    except OSError:
        return "?"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tasks", default=",".join(task_data.TASKS))
    ap.add_argument("--epochs", type=int, default=60, help="dense, small dense and scratch")
    ap.add_argument("--ft-epochs", type=int, default=40, help="--finetune epochs")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--methods", default=",".join(METHODS), help="a subset, for a quick run")
    ap.add_argument("--max-factor", type=float, default=100.0, help="skip larger factors")
    ap.add_argument("--min-factor", type=float, default=1.0, help="skip smaller factors")
    ap.add_argument("--hidden", type=int, help="hidden size instead of train.py's (the task "
                    "is then reported as <task>-h<hidden>)")
    ap.add_argument("--verify", action="store_true", help="also rnngen verify every "
                    "fine-tuned model on host, cortex-a73, cortex-m4, float32 and int8")
    ap.add_argument("--out", default=str(HERE / "results" / "tradeoff"))
    ap.add_argument("--work", default=str(Path(tempfile.gettempdir()) / "rnngen-tradeoff"))
    a = ap.parse_args(argv)
    command = "python benchmarks/tradeoff.py" + (
        " " + " ".join(shlex.quote(v) for v in sys.argv[1:]) if argv is None and sys.argv[1:]
        else "")
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    jpath = out.with_suffix(".json")
    cache: dict[str, Any] = json.loads(jpath.read_text()) if jpath.exists() else {}

    def save() -> None:
        jpath.write_text(json.dumps(cache, indent=1, sort_keys=True))

    runs = cache.setdefault("_runs", [])
    if command not in runs:
        runs.append(command)
    for name in [n for n in a.tasks.split(",") if n]:
        run_task(name, a, cache, save)
    text = report(cache, command, out)
    out.with_suffix(".md").write_text(text)
    csv_rows(cache, out.with_suffix(".csv"))
    plot(cache, out.with_suffix(".png"))
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
