"""`rnngen search` (codegen/search.py) and `rnngen build/verify --plan` (codegen/plan.py):
a tiny search on the bundled digit classifier, its knee point built and verified under QEMU,
plans reloaded, determinism for a seed, and bad input with exit code 2."""

from __future__ import annotations

import csv
import dataclasses
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from rnngen import cli, plan as plans

ROOT = Path(__file__).resolve().parents[2]
EX = ROOT / "examples" / "lstm_classifier"
MODEL = EX / "model.onnx"
CALIB = EX / "digit.npy"


def run_cli(*args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(cli.main, [str(a) for a in args])
    return r.exit_code, r.stdout, r.stderr


@pytest.fixture(scope="module")
def eval_npz(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = np.load(EX / "test.npz")
    p = tmp_path_factory.mktemp("eval") / "eval.npz"
    np.savez(p, x=d["x"][:30], y=d["y"][:30])
    return p


@pytest.fixture(scope="module")
def searched(tmp_path_factory: pytest.TempPathFactory, eval_npz: Path) -> Path:
    out = tmp_path_factory.mktemp("search") / "plans"
    code, so, se = run_cli("search", MODEL, "--target", "cortex-m4", "--eval", eval_npz,
                           "--calibrate", CALIB, "--budget", "10", "--seed", "3", "-o", out)
    assert code == 0, se
    assert "knee: point" in so
    return out


@pytest.mark.qemu
def test_search_writes_front_and_plans(searched: Path, eval_npz: Path) -> None:
    rows = list(csv.DictReader((searched / "front.csv").open()))
    assert rows and sum(int(r["knee"]) for r in rows) == 1
    assert (searched / "front.md").read_text().count("\n| ") == len(rows) + 2  # + head, rule
    assert (searched / "front.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    data = json.loads((searched / "search.json").read_text())
    cands = data["candidates"]
    assert 2 <= len(cands) <= 10  # the budget bounds the evaluations
    # the all-dense baselines are always evaluated; their error is the reference's, exactly
    x, y = np.load(eval_npz)["x"], np.load(eval_npz)["y"]
    dense = [c for c in cands if all(ly["method"] == "dense" for ly in c["layers"])]
    assert {c["dtype"] for c in dense} == {"float32", "int8"}
    from rnngen import driver, reference
    g = driver.compile_graph(MODEL, driver.BuildOptions(target="cortex-m4", seq_len=8))
    out = g.outputs[0]
    hits = sum(int(np.argmax(reference.run(g, xk.reshape(g.shapes[g.input]))[out]
                             .reshape(-1, 10)[-1]) == yk) for xk, yk in zip(x, y))
    f32 = next(c for c in dense if c["dtype"] == "float32")
    assert f32["error"] == pytest.approx(100 * (1 - hits / len(y)))
    # every front point is a non-dominated, evaluated candidate; each plan reloads
    for r in rows:
        p = plans.load(searched / r["plan"])
        assert p.dtype == r["dtype"] and p.seq_len == 8
        assert p.predicted["flash_bytes"] == int(r["flash_bytes"])
        plans.check_model(p, MODEL, "test")
    F = [(float(r["error_percent"]), float(r["instructions"]), int(r["flash_bytes"]))
         for r in rows]
    for a in F:
        assert not any(all(bi <= ai for ai, bi in zip(a, b)) and b != a for b in F)


@pytest.mark.qemu
@pytest.mark.parametrize("target", ["host", "cortex-m4"])
def test_knee_builds_and_verifies(searched: Path, target: str, tmp_path: Path) -> None:
    knee = searched / "knee.json"
    code, so, se = run_cli("verify", "--plan", knee, "--target", target, "--json")
    assert code == 0, se + so
    r = json.loads(so.strip().splitlines()[-1])
    assert r["passed"] and r["dtype"] == plans.load(knee).dtype
    if target == "cortex-m4":  # the search's flash and RAM are the build's, exactly
        pred = plans.load(knee).predicted
        assert (r["flash_bytes"], r["ram_bytes"]) == (pred["flash_bytes"], pred["ram_bytes"])
    code, so, se = run_cli("build", "--plan", knee, "--target", target, "-o", tmp_path / "b")
    assert code == 0, se
    man = json.loads((tmp_path / "b" / "manifest.json").read_text())
    assert man["dtype"] == plans.load(knee).dtype


@pytest.mark.qemu
def test_precision_in_candidates_and_plans(tmp_path: Path, eval_npz: Path) -> None:
    # one --precisions name: every layer of an int8 candidate in it (every format has int4), no
    # genes
    out = tmp_path / "p"
    code, _, se = run_cli("search", MODEL, "--target", "cortex-m4", "--eval", eval_npz,
                          "--calibrate", CALIB, "--precisions", "w4a8", "--objectives",
                          "error,flash", "--budget", "3", "--seed", "0", "-o", out)
    assert code == 0, se
    data = json.loads((out / "search.json").read_text())
    assert data["precisions"] == ["w4a8"]
    assert data["genes"] == ["layer:/lstm/LSTM:format", "dtype"]
    c = next(c for c in data["candidates"] if c["dtype"] == "int8"
             and c["layers"][0]["method"] == "dense")  # the int8 baseline
    assert c["layers"][0]["precision"] == "w4a8" and c["precision"] == {"/fc/Gemm": "w4a8"}
    # its error is the integer reference's with int4 weights, computed here independently
    from rnngen import driver, precision, reference
    x, y = np.load(eval_npz)["x"], np.load(eval_npz)["y"]
    g = driver.compile_graph(MODEL, driver.BuildOptions(
        target="cortex-m4", seq_len=8, dtype="int8", calibrate=str(CALIB),
        precision=precision.parse("w4a8")))
    hits = sum(int(np.argmax(reference.Executor(g, dtype="int8").run(
        xk.reshape(g.shapes[g.input]))[g.outputs[0]].reshape(-1, 10)[-1]) == yk)
        for xk, yk in zip(x, y))
    assert c["error"] == pytest.approx(100 * (1 - hits / len(y)))
    # a plan with both places of a precision builds it: C equals the reference on the board
    p = plans.Plan(model=str(MODEL), model_sha256=plans.sha256(MODEL), dtype="int8",
                   layers=(plans.LayerChoice(0, "/lstm/LSTM", "dense", 1.0, "w4a8"),),
                   calibrate=str(CALIB), seq_len=8, target="cortex-m4",
                   other_precision=(("/fc/Gemm", "w4a8"),))
    plans.write(tmp_path / "w4.json", p)
    assert plans.load(tmp_path / "w4.json") == p
    code, so, se = run_cli("verify", "--plan", tmp_path / "w4.json", "--target", "cortex-m4",
                           "--json")
    assert code == 0, se + so
    r = json.loads(so.strip().splitlines()[-1])
    assert r["passed"] and r["flash_bytes"] == c["flash_bytes"]


@pytest.mark.qemu
def test_float32_layer_gene(tmp_path: Path) -> None:
    """--precisions w8a8,float32: a float32 value of the per-layer precision genes. The
    search's candidates include int8 models with one layer in float and the other integer;
    such a candidate's error is the integer reference's with that layer in float and its
    instructions the cost model's (recomputed here independently), and its plan builds it:
    `verify --plan` on cortex-m4 passes with the search's flash."""
    from rnngen import cost, driver, precision, reference

    # sequences the model gets wrong among them, so that the error is not 0
    d = np.load(EX / "test.npz")
    pick = list(range(24)) + [36, 96, 98, 123, 124, 264]
    ev = tmp_path / "eval.npz"
    np.savez(ev, x=d["x"][pick], y=d["y"][pick])
    out = tmp_path / "p"
    code, _, se = run_cli("search", MODEL, "--target", "cortex-m4", "--eval", ev,
                          "--calibrate", CALIB, "--precisions", "w8a8,float32", "--budget",
                          "12", "--seed", "1", "-o", out)
    assert code == 0, se
    data = json.loads((out / "search.json").read_text())
    assert data["precisions"] == ["w8a8", "float32"]
    assert data["genes"] == ["layer:/lstm/LSTM:format", "layer:/lstm/LSTM:precision",
                             "layer:/fc/Gemm:precision", "dtype"]
    cands = [c for c in data["candidates"] if not c["failed"]]
    # float32 candidates carry no precision (the gene counts in int8 candidates only)
    assert all("precision" not in ly and "precision" not in c for c in cands
               if c["dtype"] == "float32" for ly in c["layers"])
    # mixed: the LSTM in float (here compressed), the Linear int8 (seed 1 evaluates one, and
    # one with the Linear in float and the LSTM int8)
    mixed = [c for c in cands if c["dtype"] == "int8" and
             c["layers"][0].get("precision") == "float32" and "precision" not in c]
    assert mixed and mixed[0]["layers"][0]["method"] != "dense", data["candidates"]
    assert any(c["dtype"] == "int8" and "precision" not in c["layers"][0] and
               c.get("precision") == {"/fc/Gemm": "float32"} for c in cands)
    c = mixed[0]
    ly = c["layers"][0]
    # independently: the model compressed by `rnngen compress`, built with the LSTM in
    # float32, run by the integer reference
    small = tmp_path / "small.onnx"
    code, _, se = run_cli("compress", MODEL, "--method", ly["method"], "--factor",
                          str(ly["factor"]), "--nearest", "-o", small)
    assert code == 0, se
    x, y = np.load(ev)["x"], np.load(ev)["y"]

    def error(spec: str) -> tuple[float, object]:
        g = driver.compile_graph(small, driver.BuildOptions(
            target="cortex-m4", seq_len=8, dtype="int8", calibrate=str(CALIB),
            precision=precision.parse(spec)))
        ex = reference.Executor(g, dtype="int8")
        hits = 0
        for xk, yk in zip(x, y):
            ex.reset()
            hits += int(np.argmax(ex.run(xk.reshape(g.shapes[g.input]))[g.outputs[0]]
                                  .reshape(-1, 10)[-1]) == yk)
        return 100 * (1 - hits / len(y)), g

    err, g = error("/lstm/LSTM=float32")
    assert c["error"] == pytest.approx(err) and 0 < err < 100
    # the data tells the float LSTM from the int8 one (sequence 124 is picked for that)
    assert error("w8a8")[0] != pytest.approx(err)
    assert c["instructions"] == pytest.approx(cost.load("cortex-m4").instructions(g, "int8"))
    # its plan (the search's own fields) builds that model: C equals the rule on the board
    p = plans.Plan(model=str(MODEL), model_sha256=plans.sha256(MODEL), dtype="int8",
                   layers=(plans.LayerChoice(0, "/lstm/LSTM", ly["method"], ly["factor"],
                                             "float32"),),
                   calibrate=str(CALIB), seq_len=8, target="cortex-m4")
    plans.write(tmp_path / "f32.json", p)
    assert plans.load(tmp_path / "f32.json") == p
    code, so, se = run_cli("verify", "--plan", tmp_path / "f32.json", "--target", "cortex-m4",
                           "--json")
    assert code == 0, se + so
    r = json.loads(so.strip().splitlines()[-1])
    assert r["passed"] and r["dtype"] == "int8" and r["flash_bytes"] == c["flash_bytes"]
    # the front's plans carry float32 where a point has it, in both places, and build
    f32 = [f for f in sorted((out / "plans").iterdir())
           if "float32" in json.dumps(json.loads(f.read_text())["layers"])
           or "float32" in json.loads(f.read_text()).get("precision", {}).values()]
    assert f32
    code, so, se = run_cli("verify", "--plan", f32[0], "--target", "cortex-m4", "--json")
    assert code == 0, se + so
    r = json.loads(so.strip().splitlines()[-1])
    assert r["passed"] and r["flash_bytes"] == plans.load(f32[0]).predicted["flash_bytes"]


@pytest.mark.qemu
def test_same_seed_same_result(tmp_path: Path, eval_npz: Path) -> None:
    outs = []
    for k in range(2):
        out = tmp_path / f"o{k}"
        code, _, se = run_cli("search", MODEL, "--target", "cortex-m55", "--eval", eval_npz,
                              "--objectives", "error,instructions", "--budget", "4",
                              "--seed", "1", "-o", out)
        assert code == 0, se
        outs.append(out)
    for f in ("front.csv", "front.md", "knee.json", "search.json", "front.png"):
        assert (outs[0] / f).read_bytes() == (outs[1] / f).read_bytes(), f
    # a search's own folder: refused without --force, replaced with it (same bytes again)
    again = ("search", MODEL, "--target", "cortex-m55", "--eval", eval_npz, "--objectives",
             "error,instructions", "--budget", "4", "--seed", "1", "-o", outs[0])
    code, _, se = run_cli(*again)
    assert code == 2 and str(outs[0]) in se and "--force" in se, se
    (outs[0] / "front.md").write_text("stale")
    code, _, se = run_cli(*again, "--force")
    assert code == 0, se
    for f in ("front.csv", "front.md", "knee.json", "search.json", "front.png"):
        assert (outs[0] / f).read_bytes() == (outs[1] / f).read_bytes(), f


OUTPUTS = ("front.csv", "front.md", "knee.json", "search.json", "front.png")


def same_outputs(a: Path, b: Path) -> None:
    for f in OUTPUTS:
        assert (a / f).read_bytes() == (b / f).read_bytes(), f
    pa = sorted(p.name for p in (a / "plans").iterdir())
    assert pa == sorted(p.name for p in (b / "plans").iterdir())
    for name in pa:
        assert (a / "plans" / name).read_bytes() == (b / "plans" / name).read_bytes(), name


@pytest.mark.qemu
def test_parallel_same_as_serial(searched: Path, eval_npz: Path, tmp_path: Path,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """--jobs 2 (local processes), a Dask LocalCluster of 2 worker processes given by its
    address, and --scheduler local: the same candidates, recorded in the same order, the
    same front, plans and plot as the serial `searched` (same options and seed)."""
    import logging

    from distributed import LocalCluster  # the dask extra: installed by `make test`

    from rnngen import search

    here = []  # candidates evaluated in this process (the workers do not see this patch)
    real = search.evaluate
    monkeypatch.setattr(search, "evaluate", lambda *a, **k: here.append(a[1]) or real(*a, **k))
    args = [MODEL, "--target", "cortex-m4", "--eval", eval_npz, "--calibrate", CALIB,
            "--budget", "10", "--seed", "3"]
    code, so, se = run_cli("search", *args, "--jobs", "2", "-o", tmp_path / "jobs2")
    assert code == 0, se
    # only the first baseline (alone in its batch, while the workers start) in this process
    assert here == [(0, 0, 0, 0)]  # format, two precisions (LSTM, Linear), dtype
    monkeypatch.undo()  # Dask would pickle the patch and run it on the workers
    same_outputs(searched, tmp_path / "jobs2")
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None, silence_logs=logging.ERROR) as cluster:
        code, so, se = run_cli("search", *args, "--scheduler", cluster.scheduler_address,
                               "-o", tmp_path / "dask")
        assert code == 0, se
        # every candidate was computed by the cluster's workers, none in this process
        n = len(json.loads((searched / "search.json").read_text())["candidates"])
        assert cluster.scheduler.task_prefixes["evaluate"].state_counts["memory"] == n
    same_outputs(searched, tmp_path / "dask")
    code, so, se = run_cli("search", *args, "--scheduler", "local", "--jobs", "2",
                           "-o", tmp_path / "local")
    assert code == 0, se
    same_outputs(searched, tmp_path / "local")


@pytest.mark.qemu
def test_worker_elsewhere_same_candidate(tmp_path: Path, eval_npz: Path) -> None:
    """A Dask worker on another machine sees neither the model, the calibration file nor
    the search's folder: it writes the shipped bytes under the same names and compiles its
    own kernel objects, and evaluates each candidate exactly as here."""
    from rnngen import search
    from rnngen.compress_eval import _load_eval_data

    o = search.Options(model=str(MODEL), target="cortex-m4", eval=str(eval_npz),
                       out=str(tmp_path / "o"), calibrate=str(CALIB))
    x, y = _load_eval_data(eval_npz)
    space = search.Space(search.recurrent_layers(o.model, 8), o.factors)
    (tmp_path / "work").mkdir()
    here = search.make_job(o, space, x, y, tmp_path / "work")
    gone = tmp_path / "gone"  # paths this "worker" does not have
    away = dataclasses.replace(
        here, work=str(gone / "work"),
        o=dataclasses.replace(o, model=str(gone / MODEL.name), calibrate=str(gone / CALIB.name)))
    for genome in [(0, 1), (3, 1)]:  # dense and compressed, int8 (the calibration used)
        a, b = search.evaluate(here, genome), search.evaluate(away, genome)
        assert not a.failed and a == b, (a, b)
    assert not gone.exists()


def test_scheduler_errors_exit_2(tmp_path: Path, eval_npz: Path,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from rnngen import search

    monkeypatch.setattr(search, "DASK_TIMEOUT", "1s")
    base = [MODEL, "--target", "cortex-m4", "--eval", eval_npz, "--budget", "4",
            "-o", tmp_path / "o"]
    for addr in ("tcp://127.0.0.1:9", "nosuchproto://x"):  # nothing listens on port 9
        code, _, se = run_cli("search", *base, "--scheduler", addr)
        assert code == 2 and f"--scheduler {addr}: cannot reach the Dask scheduler" in se, se
        assert len(se.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if dask were not installed
    code, _, se = run_cli("search", *base, "--scheduler", "tcp://127.0.0.1:9")
    assert code == 2 and "needs dask.distributed" in se and "rnngen[dask]" in se
    assert len(se.strip().splitlines()) == 1
    code, _, se = run_cli("search", *base, "--jobs", "-1")
    assert code == 2 and "--jobs" in se
    assert not (tmp_path / "o").exists()


def test_bad_input_exit_2(tmp_path: Path, eval_npz: Path, monkeypatch: pytest.MonkeyPatch
                          ) -> None:
    base = [MODEL, "--eval", eval_npz, "--budget", "4", "-o", tmp_path / "o"]
    code, _, se = run_cli("search", *base, "--target", "nosuch")
    assert code == 2 and "nosuch" in se and len(se.strip().splitlines()) == 1
    code, _, se = run_cli("search", *base, "--target", "cortex-a53")
    assert code == 2 and "no cost model" in se and len(se.strip().splitlines()) == 1
    code, _, se = run_cli("search", *base, "--target", "cortex-m4", "--objectives", "error,x")
    assert code == 2 and "unknown objective 'x'" in se
    code, _, se = run_cli("search", *base, "--target", "cortex-m4", "--objectives", "error")
    assert code == 2 and "at least two" in se
    for bad, why in (("w8a8,w3a8", "unknown precision 'w3a8'"),
                     ("float32,w8a8,float32", "different precisions")):
        code, _, se = run_cli("search", *base, "--target", "cortex-m4", "--precisions", bad)
        assert code == 2 and why in se and len(se.strip().splitlines()) == 1, se
    assert not (tmp_path / "o").exists()
    monkeypatch.setitem(sys.modules, "pymoo", None)  # as if pymoo were not installed
    code, _, se = run_cli("search", *base, "--target", "cortex-m4")
    assert code == 2 and "needs pymoo" in se and len(se.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


@pytest.mark.qemu
def test_max_flash_nothing_fits(tmp_path: Path, eval_npz: Path) -> None:
    code, _, se = run_cli("search", MODEL, "--target", "cortex-m4", "--eval", eval_npz,
                          "--budget", "4", "--max-flash", "1000", "-o", tmp_path / "o")
    assert code == 2 and "--max-flash 1000: no candidate fits" in se
    assert len(se.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_bad_plans_exit_2(tmp_path: Path) -> None:
    good = dict(rnngen_plan=1, model=str(MODEL), model_sha256=plans.sha256(MODEL),
                dtype="float32", seq_len=8,
                layers=[dict(index=0, name="l", method="hmd", factor=2.0)])
    cases = {
        "version": ({**good, "rnngen_plan": 7}, "not an rnngen plan"),
        "method": ({**good, "layers": [dict(index=0, method="zip", factor=2)]},
                   "layers[0].method 'zip'"),
        "factor": ({**good, "layers": [dict(index=0, method="hmd", factor=0.5)]},
                   "layers[0].factor 0.5"),
        "dtype": ({**good, "dtype": "int3"}, "dtype 'int3'"),
        "sha": ({**good, "model_sha256": "0" * 64}, "differs"),
        "precision-float": ({**good, "precision": {"/fc/Gemm": "w4a8"}},
                            "precision: needs dtype int8"),
        "precision-name": ({**good, "dtype": "int8", "precision": {"/fc/Gemm": "w3a8"}},
                           "precision./fc/Gemm: unknown precision 'w3a8'"),
        "precision-type": ({**good, "precision": ["w4a8"]}, "precision: expected"),
        "precision-layer": ({**good, "dtype": "int8", "layers": [dict(
            index=0, name="l", method="dense", factor=1.0)], "precision": {"nope": "w4a8"}},
            "names layer 'nope'"),
    }
    for name, (data, msg) in cases.items():
        p = tmp_path / f"{name}.json"
        p.write_text(json.dumps(data))
        code, _, se = run_cli("build", "--plan", p, "--target", "host", "-o", tmp_path / name)
        assert code == 2 and msg in se, (name, se)
        assert len(se.strip().splitlines()) == 1
        assert not (tmp_path / name).exists()
    (tmp_path / "bad.json").write_text("{")
    code, _, se = run_cli("build", "--plan", tmp_path / "bad.json", "-o", tmp_path / "x")
    assert code == 2 and "not a readable plan" in se
    code, _, se = run_cli("build", "--target", "host")
    assert code == 2 and "give a MODEL" in se
    p = tmp_path / "ok.json"
    p.write_text(json.dumps(good))
    code, _, se = run_cli("build", "--plan", p, "--dtype", "int8", "-o", tmp_path / "y")
    assert code == 2 and "leave --dtype out" in se


# ------------------------------------------------------------------------- SRU (issue 14)

@pytest.fixture(scope="module")
def sru_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny SRU classifier (.npz: ONNX has no SRU), seeded weights: 8 -> 16 -> 10."""
    import rnngen.npz as nz

    rng = np.random.default_rng(5)
    I, H, C = 8, 16, 10

    def u(*shape: int) -> np.ndarray:
        return rng.uniform(-0.5, 0.5, shape).astype(np.float32)

    p = tmp_path_factory.mktemp("sru") / "sru.npz"
    nz.save(p, [nz.sru(u(4 * H, I), u(H), u(H), u(H), u(H), name="sru"),
                nz.dense(u(C, H), u(C)), nz.softmax()], seq_len=8, output="last")
    return p


@pytest.mark.qemu
def test_sru_search_end_to_end(sru_model: Path, eval_npz: Path, tmp_path: Path) -> None:
    """A search over an SRU model: one format gene for the SRU layer (its W compressed in
    blocks, as rnngen compress does), the error of rnngen's reference, instructions from the
    SRU coefficients of the board's cost model; the knee verifies on cortex-m4 with the
    search's flash, and a compressed front point builds."""
    from rnngen import cost, driver, reference

    out = tmp_path / "plans"
    code, so, se = run_cli("search", sru_model, "--target", "cortex-m4", "--eval", eval_npz,
                           "--calibrate", CALIB, "--budget", "8", "--seed", "2", "-o", out)
    assert code == 0, se
    data = json.loads((out / "search.json").read_text())
    assert data["genes"] == ["layer:sru:format", "layer:sru:precision",
                             "layer:dense1:precision", "dtype"]
    cands = data["candidates"]
    assert not any(c["failed"] for c in cands)
    x, y = np.load(eval_npz)["x"], np.load(eval_npz)["y"]
    g = driver.compile_graph(sru_model, driver.BuildOptions(target="cortex-m4", seq_len=8))
    assert [n.cell for n in g.nodes if hasattr(n, "cell")] == ["SRU"]
    hits = sum(int(np.argmax(reference.run(g, xk.reshape(g.shapes[g.input]))[g.outputs[0]]
                             .reshape(-1)) == yk) for xk, yk in zip(x, y))
    f32 = next(c for c in cands if c["dtype"] == "float32" and
               all(ly["method"] == "dense" for ly in c["layers"]))
    assert f32["error"] == pytest.approx(100 * (1 - hits / len(y)))
    coef = cost.load("cortex-m4").coef["float32"]
    assert coef.get("cell.SRU.units", 0) > 0 or coef.get("cell.SRU.steps", 0) > 0
    assert f32["instructions"] == pytest.approx(
        sum(coef.get(k, 0.0) * v for k, v in cost.features(g, "cortex-m4").items()))
    assert any(ly["method"] != "dense" for c in cands for ly in c["layers"])
    code, so, se = run_cli("verify", "--plan", out / "knee.json", "--target", "cortex-m4",
                           "--json")
    assert code == 0, se + so
    r = json.loads(so.strip().splitlines()[-1])
    pred = plans.load(out / "knee.json").predicted
    assert r["passed"] and (r["flash_bytes"], r["ram_bytes"]) == (pred["flash_bytes"],
                                                                   pred["ram_bytes"])
    rows = list(csv.DictReader((out / "front.csv").open()))
    comp = next((r for r in rows if "dense" not in r["layers"]), None)
    assert comp is not None, rows  # a compressed SRU on the front
    code, so, se = run_cli("build", "--plan", out / comp["plan"], "--target", "cortex-m4",
                           "-o", tmp_path / "b")
    assert code == 0, se


# --------------------------------------------------------------------- beacons (issue 14)

@pytest.fixture(scope="module")
def train_npz(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = np.load(EX / "test.npz")  # sequences 30.. (the eval data is the first 30)
    p = tmp_path_factory.mktemp("train") / "train.npz"
    np.savez(p, x=d["x"][30:190], y=d["y"][30:190])
    return p


# a front of three compressed float32 points (and the dense ones): two beacons, one neighbour
# (int8 in w8a8 only: the genes of the search these seeds were chosen for)
BEACON_ARGS = ["--target", "cortex-m4", "--calibrate", CALIB, "--budget", "12", "--seed",
               "2", "--beacons", "2", "--epochs", "2", "--precisions", "w8a8"]
# a front with an int8 compressed point (error and flash only): an int8 beacon, --qat
INT8_BEACON_ARGS = ["--target", "cortex-m4", "--calibrate", CALIB, "--budget", "8", "--seed",
                    "3", "--objectives", "error,flash", "--beacons", "1", "--epochs", "2"]


@pytest.fixture(scope="module")
def beaconed(tmp_path_factory: pytest.TempPathFactory, eval_npz: Path, train_npz: Path
             ) -> Path:
    out = tmp_path_factory.mktemp("beacons") / "plans"
    code, so, se = run_cli("search", MODEL, "--eval", eval_npz, *BEACON_ARGS, "--finetune",
                           train_npz, "-o", out)
    assert code == 0, se
    assert "beacons (fine-tuned): point" in so
    return out


def _reference_error(model: Path, dtype: str, eval_npz: Path, plan: plans.Plan | None = None
                     ) -> float:
    """The classification error (%) of rnngen's reference in `dtype` (the float reference,
    or the integer one: bit-exact with the int8 C) on the eval data; int8 with the plan's
    per-layer precisions (w4a8, float32...) when it has any."""
    from rnngen import driver, reference

    x, y = np.load(eval_npz)["x"], np.load(eval_npz)["y"]
    g = driver.compile_graph(model, driver.BuildOptions(
        target="cortex-m4", seq_len=8, dtype=dtype,
        calibrate=str(CALIB) if dtype == "int8" else None,
        precision=plan.precision_plan() if plan is not None else None))
    hits = 0
    for xk, yk in zip(x, y):
        xs = xk.reshape(g.shapes[g.input])
        out = reference.run(g, xs) if dtype == "float32" else driver.int8_outputs(g, xs)
        hits += int(np.argmax(np.asarray(out[g.outputs[0]]).reshape(-1, 10)[-1]) == yk)
    return 100.0 * (1 - hits / len(y))


@pytest.mark.qemu
def test_beacons_corrected_by_the_documented_rule(beaconed: Path, eval_npz: Path,
                                                  tmp_path: Path) -> None:
    data = json.loads((beaconed / "search.json").read_text())
    front = data["front"]
    rows = list(csv.DictReader((beaconed / "front.csv").open()))
    assert len(rows) == len(front)
    cands = {tuple(c["genome"]): c for c in data["candidates"]}
    pts = [cands[tuple(f["genome"])] for f in front]
    dense = [all(ly["method"] == "dense" for ly in c["layers"]) for c in pts]
    beacons = [f["point"] for f in front if f["finetuned"]]
    assert len(beacons) == 2 and not any(dense[b] for b in beacons)
    # the rule below is exercised: a compressed point that is not a beacon
    assert any(not dense[i] and i not in beacons for i in range(len(front)))
    for b in beacons:  # the beacon's error is its fine-tuned model's, measured again here
        f = front[b]
        model = beaconed / f["finetuned_model"]
        assert plans.sha256(model) == f["finetuned_sha256"]
        plan = plans.load(beaconed / "plans" / f"point-{b:02d}.json")
        measured = _reference_error(model, pts[b]["dtype"], eval_npz, plan)
        assert f["error_corrected"] == pytest.approx(measured, abs=1e-9)
        assert f["error_estimate"] == pts[b]["error"]
        assert plan.finetuned is not None and Path(plan.finetuned["model"]) == model.resolve()
        assert plan.predicted["error_percent"] == pytest.approx(measured, abs=1e-4)
        assert plan.predicted["error_estimate_percent"] == pytest.approx(pts[b]["error"],
                                                                         abs=1e-4)
    # every other point: its nearest beacon's shift (objectives scaled over the front;
    # beacons of its own dtype first); all-dense points are left alone
    F = np.array([[c["error"], c["instructions"], c["flash_bytes"]] for c in pts])
    lo, hi = F.min(axis=0), F.max(axis=0)
    N = (F - lo) / np.where(hi > lo, hi - lo, 1.0)
    for i, f in enumerate(front):
        if i in beacons:
            continue
        if dense[i]:
            assert f["beacon"] is None and f["error_corrected"] == f["error_estimate"]
            continue
        same = [b for b in beacons if pts[b]["dtype"] == pts[i]["dtype"]] or beacons
        b = min(same, key=lambda b: (float(np.linalg.norm(N[b] - N[i])), b))
        assert f["beacon"] == b
        want = pts[i]["error"] + front[b]["error_corrected"] - front[b]["error_estimate"]
        assert f["error_corrected"] == pytest.approx(min(100.0, max(0.0, want)), abs=1e-12)
        assert rows[i]["beacon"] == str(b)


@pytest.mark.qemu
def test_beacon_plan_builds_its_finetuned_model(beaconed: Path, eval_npz: Path,
                                                tmp_path: Path) -> None:
    data = json.loads((beaconed / "search.json").read_text())
    b = next(f for f in data["front"] if f["finetuned"])
    plan = beaconed / "plans" / f"point-{b['point']:02d}.json"
    code, so, se = run_cli("verify", "--plan", plan, "--target", "cortex-m4", "--json")
    assert code == 0, se + so
    assert json.loads(so.strip().splitlines()[-1])["passed"]
    code, so, se = run_cli("build", "--plan", plan, "--target", "host", "-o", tmp_path / "b")
    assert code == 0, se
    # the build is the fine-tuned model's, not the plan applied to the original again
    man = json.loads((tmp_path / "b" / "manifest.json").read_text())
    assert man["model_sha256"] == b["finetuned_sha256"]
    assert Path(man["model"]).name == MODEL.name  # the same C names
    # a fine-tuned file that was changed is refused, in one line
    f = beaconed / b["finetuned_model"]
    bad = tmp_path / "bad"
    import shutil
    shutil.copytree(beaconed, bad)
    (bad / b["finetuned_model"]).write_bytes(f.read_bytes() + b"x")
    code, _, se = run_cli("build", "--plan", bad / "plans" / plan.name, "--target", "host",
                          "-o", tmp_path / "c")
    assert code == 2 and "differs from the plan's sha256" in se
    assert len(se.strip().splitlines()) == 1 and not (tmp_path / "c").exists()


@pytest.mark.qemu
def test_int8_beacon_same_seed_same_bytes(eval_npz: Path, train_npz: Path,
                                          tmp_path: Path) -> None:
    """An int8 beacon (fine-tuned through the int8 arithmetic, --qat): its error is its
    model's under the bit-exact integer reference; two runs give the same bytes."""
    outs = [tmp_path / "a", tmp_path / "b"]
    for out in outs:
        code, _, se = run_cli("search", MODEL, "--eval", eval_npz, *INT8_BEACON_ARGS,
                              "--finetune", train_npz, "-o", out)
        assert code == 0, se
    data = json.loads((outs[0] / "search.json").read_text())
    b = next(f for f in data["front"] if f["finetuned"])
    plan = plans.load(outs[0] / "plans" / f"point-{b['point']:02d}.json")
    assert plan.dtype == "int8" and plan.predicted["finetune"]["qat"]
    assert b["error_corrected"] == pytest.approx(
        _reference_error(outs[0] / b["finetuned_model"], "int8", eval_npz, plan), abs=1e-9)
    a = sorted(p.relative_to(outs[0]) for p in outs[0].rglob("*") if p.is_file())
    assert a == sorted(p.relative_to(outs[1]) for p in outs[1].rglob("*") if p.is_file())
    assert any(str(p).startswith("finetuned") for p in a)
    for rel in a:
        assert (outs[0] / rel).read_bytes() == (outs[1] / rel).read_bytes(), rel


def test_finetune_bad_input_exit_2(tmp_path: Path, eval_npz: Path, train_npz: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    base = [MODEL, "--target", "cortex-m4", "--budget", "4", "-o", tmp_path / "o"]
    nolabels = tmp_path / "nolabels.npz"
    np.savez(nolabels, x=np.load(eval_npz)["x"])
    cases = [
        (["--eval", nolabels, "--finetune", train_npz], "no array 'y'"),
        (["--eval", eval_npz, "--finetune", tmp_path / "nosuch.npz"], "nosuch.npz"),
        (["--eval", eval_npz, "--finetune", nolabels], "--finetune needs x"),
        (["--eval", eval_npz, "--finetune", train_npz, "--beacons", "0"], "--beacons 0"),
        (["--eval", eval_npz, "--beacons", "2"], "go with --finetune"),
        (["--eval", eval_npz, "--val", train_npz], "--val goes with --finetune"),
    ]
    for args, msg in cases:
        code, _, se = run_cli("search", *base, *args)
        assert code == 2 and msg in se, (args, se)
        assert len(se.strip().splitlines()) == 1, se
        assert not (tmp_path / "o").exists()
    monkeypatch.setitem(sys.modules, "torch", None)  # as if PyTorch were not installed
    code, _, se = run_cli("search", *base, "--eval", eval_npz, "--finetune", train_npz)
    assert code == 2 and "PyTorch is not installed" in se, se
    assert len(se.strip().splitlines()) == 1 and not (tmp_path / "o").exists()
