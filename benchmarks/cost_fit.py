"""Fit the per-board cost model (codegen/cost.py) from exact QEMU instruction counts, and
check it on held-out configurations.

    python benchmarks/cost_fit.py                      # measure, fit, write everything
    python benchmarks/cost_fit.py --report-only benchmarks/results/cost_model.json
    python benchmarks/cost_fit.py --reuse benchmarks/results/cost_model.json  # new ones only

Configurations (seeded, --seed 14): N small models (--configs 144), each one recurrent layer
(LSTM, GRU with linear_before_reset 1, or RNN; input 4..64, hidden 8..96, T 4 or 8 steps,
seeded uniform weights) then Linear H -> 2..12 and Softmax, per step or (every third) of the
last step only (Gather, as classifiers export), written as ONNX; its
recurrent matrices left dense or compressed by `rnngen compress` (the same call:
rnngen.compress_model.compress_file, --nearest) with each method in turn (hmd, lmf, csr,
kron, hkp) at 2x, 3.33x or 5x. Then M more (--npz-configs 60, indexed from N, from their own
seeded generator so that the first N do not change) of the cells ONNX cannot carry, SRU (about
half), FastRNN and FastGRNN, written as rnngen .npz models (docs/npz-format.md: the layer,
a dense Linear and Softmax, output "sequence" or "last"), compressed in the same way (the
SRU's stacked W in blocks of H rows). Then W more (--w4-configs 48, from a third
generator) with int4 weights: dense ONNX LSTM / GRU / RNN configurations built with
`--precision w4a8` (every layer) or `rec=w4a8` (the recurrent layer only), in int8 only
(features w4.macs and w4.rows); then A more (--a16-configs 48, a fourth generator) with int16
activations, `--precision w8a16` or `rec=w8a16` (features a16.macs, a16.rows, a16.units).
Each is built (`rnngen build`, float32 and int8, the int8
calibrated on rnngen's default seeded input) for every board, its test program replaced by
the harness that calls `<name>_run` once over the T golden steps between rnngen's counting
markers (benchmarks/icount_harness.py), and counted exactly under QEMU with rnngen's own
plugin (codegen/icount.py). Every fourth run of six consecutive configurations ((index // 6)
% 4 == 3: one of each format) is held out: not used for fitting, only for checking the
prediction.

Fit: per board and number type, non-negative least squares of the instructions on the
features of codegen/cost.py (per role and format: MACs; per format: output rows and kernel
calls; per cell: hidden units and steps; Linear outputs; elementwise elements; a constant),
each row weighted by 1 / measured (relative error). Written to boards/<board>.cost.json with
this command, the configurations used, and the fit's and the held-out errors; the report
benchmarks/results/cost_model.md (+ .json: every measurement) gives predicted against
measured for every held-out configuration, per board.

--reuse OLD.json keeps the counts of OLD's configurations that are the same (same seed and
index) and measures only the others (new configurations, or boards): a full run takes about
46 minutes on a shared 2-core machine. Kept counts are as old as OLD's run (the generated C
may have changed since); the command recorded says --reuse.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import shlex
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import icount_harness as icount  # noqa: E402

F32 = np.float32
BOARDS = ["cortex-a73", "cortex-m4", "cortex-m55"]
DTYPES = ["float32", "int8"]
CELLS = ["LSTM", "GRU", "RNN"]
GATES = {"LSTM": 4, "GRU": 3, "RNN": 1}
# cells ONNX cannot carry: their configurations are written as rnngen .npz models
# (docs/npz-format.md), SRU twice as often as each of FastRNN and FastGRNN
NPZ_CELLS = ["SRU", "SRU", "FastRNN", "FastGRNN"]
NPZ_CONFIGS = 60
W4_CONFIGS = 48
PRECISIONS = ["w4a8", "rec=w4a8"]  # every layer int4; only the recurrent layer (node "rec")
A16_CONFIGS = 48
PRECISIONS16 = ["w8a16", "rec=w8a16"]  # int16 activations: every layer; the recurrent one
METHODS = ["dense", "hmd", "lmf", "csr", "kron", "hkp"]
FACTORS = [2.0, 10 / 3, 5.0]
COMMAND = "python benchmarks/cost_fit.py"
TARGET_ERR = 0.10


def held_out(k: int) -> bool:
    """Every fourth run of six consecutive configurations (one of each method, METHODS):
    each format is held out equally often."""
    return (k // len(METHODS)) % 4 == 3


def configs(n: int, seed: int, n_npz: int = 0, n_w4: int = 0, n_a16: int = 0) -> list[dict]:
    """n ONNX configurations, then n_npz .npz ones (SRU, FastRNN, FastGRNN) indexed from n,
    then n_w4 int4-weight ones (dense ONNX LSTM / GRU / RNN built with --precision w4a8 or
    rec=w4a8, int8 only), then n_a16 int16-activation ones (the same with w8a16 or
    rec=w8a16), each group drawn from its own generator: adding a group leaves the ones
    before it unchanged."""
    rng = np.random.default_rng(seed)
    out = []
    for k in range(n):
        cell = CELLS[int(rng.integers(len(CELLS)))]
        out.append(_config(k, cell, rng))
    rng = np.random.default_rng([seed, 1])
    for k in range(n, n + n_npz):
        cell = NPZ_CELLS[int(rng.integers(len(NPZ_CELLS)))]
        out.append(_config(k, cell, rng))
    rng = np.random.default_rng([seed, 2])
    for k in range(n + n_npz, n + n_npz + n_w4):
        cell = CELLS[int(rng.integers(len(CELLS)))]
        c = _config(k, cell, rng)
        c.update(method="dense", factor=1.0, precision=PRECISIONS[k % len(PRECISIONS)])
        out.append(c)
    rng = np.random.default_rng([seed, 3])
    first = n + n_npz + n_w4
    for k in range(first, first + n_a16):
        cell = CELLS[int(rng.integers(len(CELLS)))]
        c = _config(k, cell, rng)
        c.update(method="dense", factor=1.0, precision=PRECISIONS16[k % len(PRECISIONS16)])
        out.append(c)
    return out


def dtypes_of(c: dict) -> list[str]:
    """The number types a configuration is measured in (int4 weights: integer builds)."""
    return ["int8"] if c.get("precision") else DTYPES


def build_options(c: dict, dtype: str) -> dict:
    """BuildOptions fields of a configuration in a number type."""
    from rnngen import precision

    opts: dict = {"dtype": dtype} if dtype != "float32" else {}
    if c.get("precision"):
        opts["precision"] = precision.parse(c["precision"])
    return opts


def _config(k: int, cell: str, rng: np.random.Generator) -> dict:
    method = METHODS[k % len(METHODS)]
    return dict(index=k, cell=cell, input=int(rng.integers(4, 65)),
                hidden=int(rng.integers(8, 97)), steps=int(rng.choice([4, 8])),
                classes=int(rng.integers(2, 13)), method=method,
                head="last" if k % 3 == 1 else "all",
                factor=1.0 if method == "dense" else float(FACTORS[int(
                    rng.integers(len(FACTORS)))]),
                held_out=held_out(k))


def model(c: dict) -> onnx.ModelProto:
    rng = np.random.default_rng(1000 + c["index"])
    i, h, t, g, k = c["input"], c["hidden"], c["steps"], GATES[c["cell"]], c["classes"]
    s = 1 / math.sqrt(h)

    def arr(name: str, shape: tuple) -> onnx.TensorProto:
        return numpy_helper.from_array(rng.uniform(-s, s, shape).astype(F32), name)

    extra = {"linear_before_reset": 1} if c["cell"] == "GRU" else {}
    inits = [arr("W", (1, g * h, i)), arr("R", (1, g * h, h)), arr("B", (1, 2 * g * h)),
             arr("Wo", (h, k)), arr("bo", (k,)),
             numpy_helper.from_array(np.array([1], np.int64), "ax")]
    nodes = [helper.make_node(c["cell"], ["x", "W", "R", "B"], ["Y"], hidden_size=h,
                              name="rec", **extra),
             helper.make_node("Squeeze", ["Y", "ax"], ["hs"])]
    if c.get("head") == "last":  # a classifier of the last step (Gather, as exports write)
        inits.append(numpy_helper.from_array(np.array(t - 1, np.int64), "last"))
        nodes.append(helper.make_node("Gather", ["hs", "last"], ["hl"], axis=0))
    nodes += [helper.make_node("MatMul", ["hl" if c.get("head") == "last" else "hs", "Wo"],
                               ["l0"]),
             helper.make_node("Add", ["l0", "bo"], ["logits"]),
             helper.make_node("Softmax", ["logits"], ["probs"], axis=-1)]
    gr = helper.make_graph(nodes, f"cfg{c['index']}",
                           [helper.make_tensor_value_info("x", TensorProto.FLOAT, [t, 1, i])],
                           [helper.make_tensor_value_info("probs", TensorProto.FLOAT, None)],
                           inits)
    return helper.make_model(gr, opset_imports=[helper.make_opsetid("", 17)])


def npz_model(c: dict, path: Path) -> None:
    """An SRU, FastRNN or FastGRNN configuration as an rnngen .npz model: the recurrent layer
    (seeded uniform weights, as `model`), Linear H -> classes and Softmax, per step or of the
    last step (output "last")."""
    import rnngen.npz as nz

    rng = np.random.default_rng(1000 + c["index"])
    i, h, k = c["input"], c["hidden"], c["classes"]
    s = 1 / math.sqrt(h)

    def arr(*shape: int) -> np.ndarray:
        return rng.uniform(-s, s, shape).astype(F32)

    if c["cell"] == "SRU":
        rec = nz.sru(arr(3 * h if i == h else 4 * h, i), arr(h), arr(h), arr(h), arr(h))
    elif c["cell"] == "FastRNN":
        rec = nz.fastrnn(arr(h, i), arr(h, h), arr(h), alpha=-3.0, beta=3.0)
    else:
        rec = nz.fastgrnn(arr(h, i), arr(h, h), arr(h), arr(h), zeta=1.0, nu=-4.0)
    nz.save(path, [rec, nz.dense(arr(k, h), arr(k)), nz.softmax()], seq_len=c["steps"],
            output="last" if c.get("head") == "last" else "sequence", name=f"cfg{c['index']}")


def make_model(c: dict, work: Path) -> str:
    from rnngen.compress_model import compress_file

    ext = ".onnx" if c["cell"] in CELLS else ".npz"
    dense = work / f"cfg{c['index']}{ext}"
    if ext == ".npz":
        npz_model(c, dense)
    else:
        onnx.save(model(c), dense)
    if c["method"] == "dense":
        return str(dense)
    out = work / f"cfg{c['index']}-{c['method']}{ext}"
    compress_file(dense, out, c["method"], c["factor"], force=True, nearest=True)
    return str(out)


def measure(job: tuple[dict, str, str, str]) -> dict:
    """One configuration, board and number type: build, count one `_run`, features."""
    c, path, board, dtype = job
    from rnngen import cost, driver

    t0 = time.monotonic()
    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / "proj"
        opts = build_options(c, dtype)
        elf = icount.build_project(path, board, out, whole_run=True, measure=False, **opts)
        graph = driver.compile_graph(path, driver.BuildOptions(target=board, **opts))
        counts = icount.run(elf, board)
        if len(counts.windows) != 1:
            raise RuntimeError(f"{path} {board}: {len(counts.windows)} windows")
    return dict(config=c["index"], board=board, dtype=dtype, held_out=c["held_out"],
                instructions=int(counts.windows[0]), features=cost.features(graph, board),
                seconds=round(time.monotonic() - t0, 2))


def refeature(cfgs: list[dict], meas: list[dict]) -> None:
    """The features of every measurement recomputed from its configuration (the models are
    rebuilt from the seed; nothing is run)."""
    from rnngen import cost, driver

    work = Path(tempfile.mkdtemp(prefix="rnngen-costfit-"))
    try:
        feats = {}
        for c in cfgs:
            path = make_model(c, work)
            for dt in dtypes_of(c):
                for b in sorted({r["board"] for r in meas}):
                    opts = build_options(c, dt)
                    g = driver.compile_graph(path, driver.BuildOptions(target=b, **opts))
                    feats[(c["index"], b, dt)] = cost.features(g, b)
        for r in meas:
            r["features"] = feats[(r["config"], r["board"], r["dtype"])]
    finally:
        shutil.rmtree(work, ignore_errors=True)


def fit(rows: list[dict]) -> dict[str, float]:
    from scipy.optimize import nnls

    names = sorted({k for r in rows for k, v in r["features"].items() if v})
    A = np.array([[r["features"].get(k, 0.0) for k in names] for r in rows], np.float64)
    y = np.array([r["instructions"] for r in rows], np.float64)
    w = 1.0 / y
    scale = np.maximum(np.abs(A).max(axis=0), 1e-30)  # column scaling for conditioning
    coef, _ = nnls(A / scale * w[:, None], y * w, maxiter=50 * len(names))
    coef = coef / scale
    return {k: float(round(v, 6)) for k, v in zip(names, coef)}


def predict(coef: dict[str, float], feats: dict[str, float]) -> float | None:
    if any(v and k not in coef for k, v in feats.items()):
        return None
    return float(sum(coef.get(k, 0.0) * v for k, v in feats.items()))


def errors(rows: list[dict], coef: dict[str, float]) -> list[float]:
    out = []
    for r in rows:
        p = predict(coef, r["features"])
        r["predicted"] = None if p is None else round(p, 1)
        r["rel_error"] = None if p is None else (p - r["instructions"]) / r["instructions"]
        if p is not None:
            out.append(r["rel_error"])
    return out


def summary(errs: list[float]) -> dict:
    a = np.abs(np.array(errs)) if errs else np.zeros(0)
    return dict(n=len(errs), mean_abs=float(a.mean()) if errs else None,
                max_abs=float(a.max()) if errs else None,
                within_10pct=int(np.sum(a <= TARGET_ERR)))


def write(meas: list[dict], cfgs: list[dict], boards_: list[str], seed: int,
          args_line: str) -> dict:
    results: dict = {}
    for b in boards_:
        coefs: dict = {}
        fit_stats: dict = {}
        for dt in DTYPES:
            rows = [r for r in meas if r["board"] == b and r["dtype"] == dt]
            train = [r for r in rows if not r["held_out"]]
            test = [r for r in rows if r["held_out"]]
            if not train:
                continue
            coef = fit(train)
            coefs[dt] = coef
            fit_stats[dt] = dict(fit=summary(errors(train, coef)),
                                 held_out=summary(errors(test, coef)))
        data = dict(version=1, board=b, unit="instructions per inference (<name>_run over "
                    "the model's T steps), exact QEMU counts of rnngen's generated code",
                    command=args_line, seed=seed, configurations=len(cfgs),
                    held_out="configurations with (index // 6) % 4 == 3",
                    features="codegen/cost.py features()", coefficients=coefs,
                    errors=fit_stats)
        (ROOT / "boards" / f"{b}.cost.json").write_text(json.dumps(data, indent=1) + "\n")
        results[b] = fit_stats
    return results


def report(meas: list[dict], cfgs: list[dict], results: dict, args_line: str) -> None:
    res = HERE / "results"
    res.mkdir(exist_ok=True)
    (res / "cost_model.json").write_text(json.dumps(dict(
        command=args_line, configs=cfgs, measurements=meas, summary=results), indent=1) + "\n")
    byc = {c["index"]: c for c in cfgs}
    lines = ["# Cost model: predicted against measured instructions\n",
             f"Made by `{args_line}` (benchmarks/cost_fit.py: the method is in its docstring)."
             " Instructions of one `<name>_run` over the model's T steps, exact (QEMU, rnngen's"
             " counter); the prediction is `rnngen.cost` with the coefficients shipped in "
             "`boards/<board>.cost.json`, fitted on the other configurations. Held out: "
             "configurations with (index // 6) % 4 == 3 (six in a row: one of each format), never "
             "used for fitting. Target: within "
             f"{TARGET_ERR:.0%}.\n",
             *([] if "--reuse" not in args_line else [
                 "**Counts of different ages.** `--reuse` kept the counts an earlier run stored "
                 "and measured only the configurations (or boards) it did not have: the kept "
                 "counts are as old as that run, and the generated code may have changed since "
                 "(docs/search.md says which are which; by how much they moved: "
                 "[cost_recount.md](cost_recount.md)).\n"]),
             "| board | dtype | fit configs | fit mean abs err | held out | held-out mean abs "
             "err | held-out max abs err | held out within 10% |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for b, per in results.items():
        for dt, st in per.items():
            f, h = st["fit"], st["held_out"]
            lines.append(f"| {b} | {dt} | {f['n']} | {100 * f['mean_abs']:.1f}% | {h['n']} | "
                         + (f"{100 * h['mean_abs']:.1f}% | {100 * h['max_abs']:.1f}% | "
                            f"{h['within_10pct']}/{h['n']} |" if h["n"] else "- | - | - |"))
    def by(title: str, column: str, values: list[str], key, dtype: str | None = None) -> None:
        """One table of the held-out errors grouped by key(configuration) in values."""
        nonlocal lines
        lines += ["", f"## Held out, {title}", "",
                  f"| {column} | held out | mean abs err | max abs err | within 10% |",
                  "| --- | ---: | ---: | ---: | ---: |"]
        for v in values:
            errs = [abs(r["rel_error"]) for r in meas if r["held_out"] and
                    r.get("rel_error") is not None and key(byc[r["config"]]) == v
                    and dtype in (None, r["dtype"])]
            if errs:
                lines.append(f"| {v} | {len(errs)} | {100 * np.mean(errs):.1f}% | "
                             f"{100 * max(errs):.1f}% | {sum(e <= TARGET_ERR for e in errs)}/"
                             f"{len(errs)} |")

    by("by format (all boards and dtypes)", "format", METHODS, lambda c: c["method"])
    by("by cell (all boards and dtypes)", "cell", CELLS + sorted(set(NPZ_CELLS)),
       lambda c: c["cell"])
    by("int8, by precision (all boards)", "precision", ["w8a8"] + PRECISIONS + PRECISIONS16,
       lambda c: c.get("precision", "w8a8"), "int8")
    lines += ["", "## Held-out configurations", "",
              "| config | cell | I -> H | T | format | board | dtype | measured | predicted | "
              "error |", "| ---: | --- | --- | ---: | --- | --- | --- | ---: | ---: | ---: |"]
    for r in sorted((r for r in meas if r["held_out"]),
                    key=lambda r: (r["board"], r["dtype"], r["config"])):
        c = byc[r["config"]]
        fmt = "dense" if c["method"] == "dense" else f"{c['method']} {c['factor']:.3g}x"
        if c.get("precision"):
            fmt += f" {c['precision']}"
        p = r.get("predicted")
        lines.append(f"| {c['index']} | {c['cell']} | {c['input']} -> {c['hidden']} | "
                     f"{c['steps']} | {fmt} | {r['board']} | {r['dtype']} | "
                     f"{r['instructions']:,} | {'-' if p is None else f'{p:,.0f}'} | "
                     f"{'-' if p is None else format(100 * r['rel_error'], '+.1f') + '%'} |")
    (res / "cost_model.md").write_text("\n".join(lines) + "\n")


def _remeasure_rule(token: str) -> tuple[str, str, str]:
    """'kron/int8' -> ('kron', 'int8', '*'); '*/int8@cortex-m4' -> ('*', 'int8', 'cortex-m4');
    'SRU/int8' -> ('SRU', 'int8', '*') (a cell: every configuration of it)."""
    pair, _, board = token.partition("@")
    method, _, dtype = pair.partition("/")
    if not method or dtype not in DTYPES:
        raise SystemExit(f"--remeasure {token}: expected METHOD/DTYPE[@BOARD], DTYPE one of "
                         f"{', '.join(DTYPES)}")
    return method, dtype, board or "*"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--boards", default=",".join(BOARDS))
    ap.add_argument("--configs", type=int, default=144)
    ap.add_argument("--npz-configs", type=int, default=NPZ_CONFIGS,
                    help="SRU / FastRNN / FastGRNN configurations (.npz), after --configs")
    ap.add_argument("--w4-configs", type=int, default=W4_CONFIGS,
                    help="int4-weight configurations (--precision), after --npz-configs")
    ap.add_argument("--a16-configs", type=int, default=A16_CONFIGS,
                    help="int16-activation configurations (--precision), after --w4-configs")
    ap.add_argument("--seed", type=int, default=14)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--report-only", default=None, help="refit and rewrite from this JSON")
    ap.add_argument("--reuse", default=None, help="keep the counts of this JSON's "
                    "configurations that are the same (same seed), measure the rest")
    ap.add_argument("--remeasure", default="", help="with --reuse: measure these again "
                    "although stored, as METHOD/DTYPE pairs, e.g. kron/int8,hkp/int8 (counts "
                    "that moved with later kernel changes: benchmarks/cost_recount.py); "
                    "METHOD may be * or a cell (LSTM, GRU, RNN, SRU, FastRNN, FastGRNN: "
                    "every configuration of that cell), and @BOARD limits a pair to one "
                    "board: */int8@cortex-m4, SRU/int8")
    ap.add_argument("--refeature", action="store_true", help="with --report-only or --reuse: "
                    "recompute the features of every stored configuration (codegen/cost.py "
                    "changed; the counts do not depend on it)")
    a = ap.parse_args(argv)
    boards_ = [b for b in a.boards.split(",") if b]
    args_line = COMMAND + (f" --boards {a.boards}" if a.boards != ",".join(BOARDS) else "") \
        + (f" --configs {a.configs}" if a.configs != 144 else "") \
        + (f" --npz-configs {a.npz_configs}" if a.npz_configs != NPZ_CONFIGS else "") \
        + (f" --w4-configs {a.w4_configs}" if a.w4_configs != W4_CONFIGS else "") \
        + (f" --a16-configs {a.a16_configs}" if a.a16_configs != A16_CONFIGS else "") \
        + (f" --seed {a.seed}" if a.seed != 14 else "") \
        + (f" --reuse {a.reuse}" if a.reuse else "") \
        + (f" --remeasure {shlex.quote(a.remeasure)}" if a.reuse and a.remeasure else "") \
        + (" --refeature" if a.refeature and a.reuse else "")
    if a.report_only:
        data = json.loads(Path(a.report_only).read_text())
        cfgs, meas = data["configs"], data["measurements"]
        args_line = data["command"]
        for c in cfgs:  # the rule of this version of the script
            c["held_out"] = held_out(c["index"])
        for r in meas:
            r["held_out"] = held_out(r["config"])
        if a.refeature:
            refeature(cfgs, meas)
    else:
        cfgs = configs(a.configs, a.seed, a.npz_configs, a.w4_configs, a.a16_configs)
        work = Path(tempfile.mkdtemp(prefix="rnngen-costfit-"))
        try:
            paths = {c["index"]: make_model(c, work) for c in cfgs}
            meas = []
            done: set[tuple[int, str, str]] = set()
            if a.reuse:  # measurements of the same configurations (same seed) kept
                old = json.loads(Path(a.reuse).read_text())
                same = {c["index"]: c for c in old["configs"]}
                again = [_remeasure_rule(t) for t in a.remeasure.split(",") if t]
                meas = [r for r in old["measurements"] if r["board"] in boards_ and
                        r["config"] < len(cfgs) and same.get(r["config"]) == cfgs[r["config"]]
                        and not any(m in ("*", cfgs[r["config"]]["method"],
                                          cfgs[r["config"]]["cell"]) and d == r["dtype"]
                                    and b in ("*", r["board"]) for m, d, b in again)]
                done = {(r["config"], r["board"], r["dtype"]) for r in meas}
                if a.refeature:  # counts kept, features of this codegen/cost.py
                    refeature([c for c in cfgs if any(r["config"] == c["index"]
                                                      for r in meas)], meas)
            jobs = [(c, paths[c["index"]], b, dt) for c in cfgs for b in boards_
                    for dt in dtypes_of(c) if (c["index"], b, dt) not in done]
            t0 = time.monotonic()
            with mp.get_context("spawn").Pool(a.jobs) as pool:
                for k, r in enumerate(pool.imap_unordered(measure, jobs)):
                    meas.append(r)
                    print(f"[{k + 1}/{len(jobs)} {time.monotonic() - t0:.0f}s] config "
                          f"{r['config']} {r['board']} {r['dtype']}: {r['instructions']:,}",
                          flush=True)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        meas.sort(key=lambda r: (r["config"], r["board"], r["dtype"]))
    results = write(meas, cfgs, boards_, a.seed, args_line)
    report(meas, cfgs, results, args_line)
    for b, per in results.items():
        for dt, st in per.items():
            h = st["held_out"]
            print(f"{b} {dt}: held-out mean |err| {100 * (h['mean_abs'] or 0):.1f}%, max "
                  f"{100 * (h['max_abs'] or 0):.1f}% ({h['within_10pct']}/{h['n']} within 10%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
