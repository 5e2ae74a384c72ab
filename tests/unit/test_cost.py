"""The cost model's features (codegen/cost.py) at exactly known values, its loader's errors,
the shipped cost models' provenance, and the search's pure parts (objectives, Pareto front,
knee, genome) on stated values."""

from __future__ import annotations

import dataclasses

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from rnngen import cost, driver, plan as plans, search
from rnngen.errors import RnngenError

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "examples" / "lstm_classifier" / "model.onnx"
SHIPPED = ["cortex-a73", "cortex-m4", "cortex-m55"]


def test_features_of_the_example_exactly() -> None:
    # LSTM 8 -> 32 over T = 8 steps, the last step through Gemm 32 -> 10, Softmax
    g = driver.compile_graph(MODEL, driver.BuildOptions(target="cortex-m4"))
    f = cost.features(g)
    T, I, H, C = 8, 8, 32, 10
    assert f["W.dense.macs"] == 4 * H * I * T
    assert f["R.dense.macs"] == 4 * H * H * T
    assert f["L.dense.macs"] == C * H
    assert f["dense.rows"] == 2 * 4 * H * T + C
    assert f["dense.calls"] == 2 * T + 1
    assert f["cell.LSTM.units"] == H * T and f["cell.steps"] == T
    assert f["cell.tail4"] == 0  # 32 units: whole groups of 4
    # ragged edges: W 128 x 8, R 128 x 32 (rows in whole tiles), the Linear 10 x 32
    assert f["dense.tail16"] == 10 * 32 and f["dense.tail4"] == 2 * 32
    assert f["dense.coltail"] == 4 * H * 8 * T  # W's 8 columns; R's 32 are whole groups
    assert f["io.inputs"] == T * I
    assert f["linear.outputs"] == C and f["const"] == 1
    assert f["copy"] == H and f["copy.nodes"] == 1  # the last step's slice
    assert f["elementwise"] == C and f["elementwise.nodes"] == 1  # the softmax


def test_features_of_int4_layers_exactly() -> None:
    # --precision: the int4 layer's MACs and rows again as w4.macs / w4.rows, nothing else
    from rnngen import precision

    calib = ROOT / "examples" / "lstm_classifier" / "digit.npy"
    T, I, H, C = 8, 8, 32, 10
    base = cost.features(driver.compile_graph(MODEL, driver.BuildOptions(
        target="cortex-m4", dtype="int8", calibrate=str(calib))))
    assert "w4.macs" not in base
    g = driver.compile_graph(MODEL, driver.BuildOptions(
        target="cortex-m4", dtype="int8", calibrate=str(calib),
        precision=precision.parse("/lstm/LSTM=w4a8")))
    f = cost.features(g)
    assert f["w4.macs"] == 4 * H * (I + H) * T and f["w4.rows"] == 2 * 4 * H * T
    assert {k: v for k, v in f.items() if not k.startswith("w4.")} == base
    f = cost.features(driver.compile_graph(MODEL, driver.BuildOptions(
        target="cortex-m4", dtype="int8", calibrate=str(calib),
        precision=precision.parse("w4a8"))))
    assert f["w4.macs"] == 4 * H * (I + H) * T + C * H
    assert f["w4.rows"] == 2 * 4 * H * T + C
    # int16 activations: the layer's MACs, rows and units again as a16.*
    f = cost.features(driver.compile_graph(MODEL, driver.BuildOptions(
        target="cortex-m4", dtype="int8", calibrate=str(calib),
        precision=precision.parse("/lstm/LSTM=w8a16"))))
    assert f["a16.macs"] == 4 * H * (I + H) * T and f["a16.rows"] == 2 * 4 * H * T
    assert f["a16.units"] == H * T and "w4.macs" not in f


def test_features_count_blocks_of_a_stack(tmp_path: Path) -> None:
    from rnngen.compress_model import compress_file

    out = tmp_path / "m.onnx"
    compress_file(MODEL, out, "lmf", 2.0, force=True)
    g = driver.compile_graph(out, driver.BuildOptions(target="cortex-m4"))
    f = cost.features(g)
    assert f["lowrank.calls"] == 2 * 4 * 8  # W and R, 4 gate blocks, 8 steps
    assert f["lowrank.rows"] == 2 * 4 * 32 * 8
    want = sum(b.macs for n in g.nodes if hasattr(n, "directions") for d in n.directions
               for b in d.R.blocks) * 8
    assert f["R.lowrank.macs"] == want and "R.dense.macs" not in f


@pytest.mark.parametrize("board", SHIPPED)
def test_shipped_cost_models(board: str) -> None:
    m = cost.load(board)
    assert m.dtypes() == ["float32", "int8"]
    assert m.data["command"].startswith("python benchmarks/cost_fit.py")
    for dt in m.dtypes():
        held = m.data["errors"][dt]["held_out"]
        assert held["n"] >= 10  # validated on configurations not used in the fit
        assert all(v >= 0 for v in m.coef[dt].values())
    g = driver.compile_graph(MODEL, driver.BuildOptions(target=board))
    assert m.instructions(g, "float32") > 0


def test_cost_model_errors(tmp_path: Path) -> None:
    with pytest.raises(RnngenError, match="no cost model for board 'host'"):
        cost.load("host")
    p = tmp_path / "x.cost.json"
    p.write_text("{")
    with pytest.raises(RnngenError, match="not a readable cost model"):
        cost.load("cortex-m4", p)
    p.write_text(json.dumps({"version": 1, "board": "cortex-m4",
                             "coefficients": {"int8": {"const": "a"}}}))
    with pytest.raises(RnngenError, match="coefficients.int8"):
        cost.load("cortex-m4", p)
    p.write_text(json.dumps({"version": 1, "board": "cortex-m7",
                             "coefficients": {"int8": {"const": 1}}}))
    with pytest.raises(RnngenError, match="for board 'cortex-m7'"):
        cost.load("cortex-m4", p)
    p.write_text(json.dumps({"version": 1, "board": "cortex-m4",
                             "coefficients": {"int8": {"const": 1}}}))
    m = cost.load("cortex-m4", p)
    g = driver.compile_graph(MODEL, driver.BuildOptions(target="cortex-m4"))
    with pytest.raises(RnngenError, match="no coefficient for .*R.dense.macs"):
        m.instructions(g, "int8")
    with pytest.raises(RnngenError, match="no cost model for dtype float32"):
        m.instructions(g, "float32")


def _cand(err: float, ins: float, flash: int) -> search.Candidate:
    return search.Candidate((0,), (), "float32", err, ins, flash)


def test_pareto_and_knee_on_stated_points() -> None:
    a, b, c, d = _cand(1, 100, 50), _cand(5, 10, 50), _cand(5, 20, 60), _cand(2, 50, 40)
    dup = _cand(1, 100, 50)
    failed = _cand(0, 0, 0)
    failed.failed = "x"
    objs = ("error", "instructions", "flash")
    front = search.pareto([a, b, c, d, dup, failed], objs, None)
    assert front == [b, d, a]  # c is dominated by b; dup repeats a; failed never counts
    assert search.pareto([a, b, c, d], objs, 45) == [d]
    # normalised over the front: b (1, 0, .5), d (.25, .444, 0), a (0, 1, 1): d is nearest 0
    assert search.knee(front, objs) is d
    assert search.pareto([a, b, c, d], ("error", "instructions"), None) == [b, d, a]


def test_objectives_and_genome(monkeypatch: pytest.MonkeyPatch) -> None:
    assert search.parse_objectives("error, flash") == ("error", "flash")
    for bad in ("error", "error,error", "error,speed", ""):
        with pytest.raises(RnngenError):
            search.parse_objectives(bad)
    space = search.Space([search.Layer(0, "l0", "LSTM"), search.Layer(1, "l1", "GRU")],
                         (2.0, 4.0))
    assert space.names == ["layer:l0:format", "layer:l1:format", "dtype"]
    assert len(space.choices) == 1 + 5 * 2 and space.choices[0] == ("dense", 1.0)
    assert list(space.upper) == [10, 10, 1]
    layers, dtype = space.decode((0, 3, 1))
    assert dtype == "int8" and layers[0].method == "dense"
    assert (layers[1].method, layers[1].factor) == space.choices[3]
    assert space.baselines() == [(0, 0, 0), (0, 0, 1)]
    # precision genes: per layer, used by int8 candidates where the layer's format has int4
    # weights: every format today; a format record without int4 (kron, so kron and hkp
    # here) makes the gene ignored
    from rnngen import compress, formats

    assert all(4 in compress.weight_bits(m) for m in ("dense", *compress.METHODS))
    monkeypatch.setitem(formats.FORMATS, "kron",
                        dataclasses.replace(formats.FORMATS["kron"], weight_bits=(8,)))
    assert compress.weight_bits("hkp") == (8,) and compress.weight_bits("lmf") == (8, 4)
    space = search.Space([search.Layer(0, "l0", "LSTM"), search.Layer(1, "l1", "GRU")],
                         (2.0, 4.0), ("w8a8", "w4a8"))
    assert space.names == ["layer:l0:format", "layer:l1:format", "layer:l0:precision",
                           "layer:l1:precision", "dtype"]
    assert list(space.upper) == [10, 10, 1, 1, 1]
    # all dense in float32 and in int8, and in int8 all dense in w4a8 (the single-precision
    # builds): dtype 1 is int8
    assert space.dtypes[1] == "int8"
    assert space.baselines() == [(0, 0, 0, 0, 0), (0, 0, 0, 0, 1), (0, 0, 1, 1, 1)]
    assert [m for m, _ in space.choices[1::2]] == ["hmd", "lmf", "csr", "kron", "hkp"]
    for f, int4 in ((1, True), (3, True), (5, True), (7, False), (9, False)):
        layers, dtype = space.decode((0, f, 1, 1, 1))
        assert dtype == "int8" and layers[0].precision == "w4a8"
        assert layers[1].method == space.choices[f][0]
        assert layers[1].precision == ("w4a8" if int4 else None), f
        assert space.canonical((0, f, 1, 1, 1)) == (0, f, 1, 1 if int4 else 0, 1)
    assert space.canonical((0, 3, 1, 1, 0)) == (0, 3, 0, 0, 0)  # float32: no precision
    layers, dtype = space.decode((0, 0, 0, 1, 1))
    assert [c.precision for c in layers] == [None, "w4a8"]  # w8a8 is the default: None
    # int16 activations: every format has them (the formats' act_bits); a format record
    # without them (csr here, monkeypatched) makes w8a16 on its layer the w8a8 candidate
    assert [compress.supports(m, "w8a16") for m in ("dense", *compress.METHODS)] == \
        [True] * 6
    from rnngen import formats

    monkeypatch.setitem(formats.FORMATS, "csr",
                        dataclasses.replace(formats.FORMATS["csr"], act_bits=(8,)))
    space = search.Space([search.Layer(0, "l0", "LSTM")], (2.0, 4.0),
                         ("w8a8", "w4a8", "w8a16"))
    assert [c.precision for c in space.decode((0, 2, 1))[0]] == ["w8a16"]
    assert [c.precision for c in space.decode((1, 2, 1))[0]] == ["w8a16"]  # hmd
    assert [c.precision for c in space.decode((5, 2, 1))[0]] == [None]  # csr
    assert space.canonical((5, 2, 1)) == (5, 0, 1) and space.canonical((5, 1, 1)) == (5, 1, 1)
    # ... and only in cells that have it (Cell.a16; every cell has an int16-h variant today,
    # so a cell record without one stands in): the w8a8 candidate
    from rnngen import cells

    space = search.Space([search.Layer(0, "s", "SRU")], (2.0,), ("w8a8", "w4a8", "w8a16"))
    assert space.canonical((0, 2, 1)) == (0, 2, 1) and space.canonical((0, 1, 1)) == (0, 1, 1)
    monkeypatch.setitem(cells.CELLS, "SRU", dataclasses.replace(cells.CELLS["SRU"], a16=False))
    assert space.canonical((0, 2, 1)) == (0, 0, 1) and space.canonical((0, 1, 1)) == (0, 1, 1)
    # float32 (the layer in float inside the int8 model): every format and cell has float
    # kernels (Format.emit_f32, Cell.step_f32), so the gene counts in every int8 candidate,
    # compressed layers and the Linear head included, and is ignored in float32 ones
    monkeypatch.undo()
    assert all(compress.supports(m, "float32") for m in ("dense", *compress.METHODS))
    space = search.Space([search.Layer(0, "l0", "LSTM"), search.Layer(1, "s", "SRU")],
                         (2.0, 4.0), ("w8a8", "w4a8", "float32"), heads=("fc",))
    assert space.names == ["layer:l0:format", "layer:s:format", "layer:l0:precision",
                           "layer:s:precision", "layer:fc:precision", "dtype"]
    assert list(space.upper) == [10, 10, 2, 2, 2, 1]
    for f in range(len(space.choices)):  # dense and every method at every factor
        g = (f, 0, 2, 1, 2, 1)
        assert space.canonical(g) == g
        layers, dtype = space.decode(g)
        assert dtype == "int8" and [c.precision for c in layers] == ["float32", "w4a8"]
        assert (layers[0].method, layers[0].factor) == space.choices[f]
        assert space.decode_heads(g) == (("fc", "float32"),)
    assert space.canonical((3, 5, 2, 1, 2, 0)) == (3, 5, 0, 0, 0, 0)  # a float32 candidate
    assert [c.precision for c in space.decode((3, 5, 2, 1, 2, 0))[0]] == [None, None]
    assert space.decode_heads((3, 5, 2, 1, 2, 0)) == ()
    # the int8 single-precision baselines: w8a8 and w4a8; every layer in float is not one
    assert space.baselines() == [(0, 0, 0, 0, 0, 0), (0, 0, 0, 0, 0, 1), (0, 0, 1, 1, 1, 1)]
    # a cell record without a float step stands in for a cell without float kernels
    monkeypatch.setitem(cells.CELLS, "SRU", dataclasses.replace(cells.CELLS["SRU"],
                                                               step_f32=None))
    assert space.canonical((0, 0, 2, 2, 2, 1)) == (0, 0, 2, 0, 2, 1)
    assert search.parse_precisions("w8a8,float32") == ("w8a8", "float32")
    assert search.parse_precisions("w8a8, w4a8") == ("w8a8", "w4a8")
    # w8a8 first, so that an ignored gene (its first value) means w8a8, not w4a8
    assert search.parse_precisions("w4a8,w8a16,w8a8") == ("w8a8", "w4a8", "w8a16")
    space = search.Space([search.Layer(0, "l0", "LSTM")], (2.0,),
                         search.parse_precisions("w4a8,w8a16,w8a8"))
    csr = next(i for i, ch in enumerate(space.choices) if ch[0] == "csr")
    monkeypatch.setitem(formats.FORMATS, "csr",  # a csr record without int16 inputs
                        dataclasses.replace(formats.FORMATS["csr"], act_bits=(8,)))
    layers, _ = space.decode(space.canonical((csr, 2, 1)))  # w8a16 on csr: ignored
    assert layers[0].precision is None  # w8a8
    for bad in ("", "w8a8,w8a8", "w3a8", "w8a4", "float32,float32", "float64"):
        with pytest.raises(RnngenError):
            search.parse_precisions(bad)


def test_plan_round_trip(tmp_path: Path) -> None:
    p = plans.Plan(model=str(MODEL), model_sha256=plans.sha256(MODEL), dtype="int8",
                   layers=(plans.LayerChoice(0, "/lstm/LSTM", "hmd", 2.0),), seq_len=8,
                   calibrate=None, target="cortex-m4", predicted={"flash_bytes": 1})
    plans.write(tmp_path / "p.json", p)
    assert plans.load(tmp_path / "p.json") == p


def test_plot_without_matplotlib(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    a = _cand(1, 100, 50)
    msg = search._plot(tmp_path / "f.png", [a], a, [a], "cortex-m4")
    assert msg.startswith("no plot: matplotlib is not installed")
    assert not (tmp_path / "f.png").exists()
    assert np.isfinite(a.objective("flash"))
