"""--precision (issue 14 item 1, first part): int4 weights (w4a8) per layer or for every layer.
The C equals the integer reference exactly (atol 0) for LSTM, GRU (both reset placements),
RNN and a Linear head, whole-model and mixed per layer, on the host and a seeded sample on
cortex-a73, cortex-m4 and cortex-m55; the weights really are int4 (values, kernels, bytes);
plan files and search plans; inspect; bad specs in one line with exit code 2."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import onnx
import pytest

from rnngen import driver, pipeline, plan, precision
from tests import models
from tests.e2e.test_bad_input import assert_one_line_error, build_writes_nothing, rnngen

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "lstm_classifier" / "model.onnx"  # LSTM /lstm/LSTM, Linear /fc/Gemm

SPECS = {
    "lstm_2layer_h0": models.Spec("LSTM", "forward", 6, 12, 9, 2, initial_state=True),
    "lstm_bi_peep_clip": models.Spec("LSTM", "bidirectional", 5, 9, 7, 1, peepholes=True,
                                     clip=1.5, input_forget=False),
    "gru_lbr0": models.Spec("GRU", "forward", 6, 10, 8, 1, lbr=0),
    "gru_bi_lbr1": models.Spec("GRU", "bidirectional", 6, 10, 8, 2, lbr=1),
    "rnn_2layer": models.Spec("RNN", "forward", 5, 8, 9, 2, activations=["Tanh"],
                              alphas=[0.0], betas=[0.0]),
}


def _model(tmp_path: Path, key: str) -> Path:
    p = tmp_path / f"{key}.onnx"
    onnx.save(models.make_model(SPECS[key], 5), p)
    return p


def _exact(model: Path, spec: str, target: str = "host") -> driver.BuildResult:
    res = driver.verify(model, driver.BuildOptions(dtype="int8", target=target,
                                                   precision=precision.parse(spec)))
    r = res.report
    assert res.passed and r["mismatches"] == 0 and r["max_abs_err"] == 0.0, res.output
    assert r["atol"] == 0.0 and r["rtol"] == 0.0
    return res


def _kernels(tmp_path: Path, model: Path, spec: str | None) -> tuple[str, int, object]:
    out = tmp_path / f"proj_{abs(hash(spec))}"
    res = driver.build(model, out, driver.BuildOptions(
        dtype="int8", name="m", force=True,
        precision=precision.parse(spec) if spec else None))
    return (out / "src" / "m.c").read_text(), res.manifest["weights_bytes"], res


@pytest.mark.parametrize("key", list(SPECS))
def test_w4a8_every_cell_exact_on_host(tmp_path, key):
    p = _model(tmp_path, key)
    _exact(p, "w4a8")
    c, nbytes, res = _kernels(tmp_path, p, "w4a8")
    c8, nbytes8, _ = _kernels(tmp_path, p, None)
    assert "rnn_mat_vec_s4_s16(" in c and "rnn_mat_vec_s8_s16(" not in c
    assert "rnn_mat_vec_s8_s16(" in c8 and "rnn_mat_vec_s4_s16(" not in c8
    assert nbytes < nbytes8
    # every recurrent matrix of the plan holds int4 values
    for q in res.graph.quant.nodes.values():
        for d in getattr(q, "directions", ()):
            for m in (d.W, d.R) + ((d.Rh,) if d.Rh is not None else ()):
                for b in getattr(m, "blocks", (m,)):
                    assert b.bits == 4 and np.abs(b.w).max() <= 7


@pytest.mark.parametrize("spec,s4,s8", [
    ("w4a8", ("rnn_mat_vec_s4_s16(", "rnn_mat_vec_s4("),
     ("rnn_mat_vec_s8_s16(", "rnn_mat_vec_s8(")),
    ("/lstm/LSTM=w4a8", ("rnn_mat_vec_s4_s16(", "rnn_mat_vec_s8("), ("rnn_mat_vec_s4(",)),
    ("w4a8,/fc/Gemm=w8a8", ("rnn_mat_vec_s4_s16(", "rnn_mat_vec_s8("), ("rnn_mat_vec_s4(",)),
    ("/fc/Gemm=w4a8", ("rnn_mat_vec_s8_s16(", "rnn_mat_vec_s4("), ("rnn_mat_vec_s4_s16(",)),
])
def test_linear_head_and_mixed_layers_exact_on_host(tmp_path, spec, s4, s8):
    _exact(EXAMPLE, spec)
    c, _, res = _kernels(tmp_path, EXAMPLE, spec)
    for k in s4:
        assert k in c, (spec, k)
    for k in s8:
        assert k not in c, (spec, k)
    assert res.manifest["precision"] == precision.parse(spec).describe()


@pytest.mark.qemu
@pytest.mark.parametrize("board", ["cortex-a73", "cortex-m4", "cortex-m55"])
def test_w4a8_exact_on_boards(tmp_path, board):
    """A seeded sample: a bidirectional two-layer GRU in w4a8, a two-layer LSTM with one layer
    w4a8 and one w8a8, the classifier (LSTM + Linear) in w4a8."""
    _exact(_model(tmp_path, "gru_bi_lbr1"), "w4a8", board)
    _exact(_model(tmp_path, "lstm_2layer_h0"), "l0_LSTM=w4a8", board)
    _exact(EXAMPLE, "w4a8", board)


def test_plan_files_and_spec_agree(tmp_path):
    (tmp_path / "p.toml").write_text('default = "w4a8"\n[layers]\n"/fc/Gemm" = "w8a8"\n')
    (tmp_path / "p.json").write_text(json.dumps({"default": "w4a8",
                                                 "layers": {"/fc/Gemm": "w8a8"}}))
    a = precision.parse("w4a8,/fc/Gemm=w8a8")
    for f in ("p.toml", "p.json"):
        b = precision.parse(str(tmp_path / f))
        assert (b.default, b.layers) == (a.default, a.layers)
    c1, _, _ = _kernels(tmp_path, EXAMPLE, str(tmp_path / "p.toml"))
    c2, _, _ = _kernels(tmp_path, EXAMPLE, "w4a8,/fc/Gemm=w8a8")
    body = re.compile(r"/\*.*?\*/", re.DOTALL)  # the banner names the spec
    assert body.sub("", c1) == body.sub("", c2)


def test_search_plan_precision_field(tmp_path):
    """A plan's optional per-layer "precision" is honoured by build --plan."""
    p = tmp_path / "plan.json"
    p.write_text(json.dumps({
        "rnngen_plan": 1, "model": str(EXAMPLE), "model_sha256": plan.sha256(EXAMPLE),
        "dtype": "int8", "seq_len": 8,
        "layers": [{"index": 0, "name": "/lstm/LSTM", "method": "dense", "factor": 1.0,
                    "precision": "w4a8"}]}))
    assert plan.load(p).layers[0].as_dict()["precision"] == "w4a8"
    out = tmp_path / "proj"
    r = rnngen("build", "--plan", str(p), "-o", str(out), "--name", "m")
    assert r.returncode == 0, r.stderr
    assert "precision /lstm/LSTM=w4a8, others w8a8" in r.stdout
    c = (out / "src" / "m.c").read_text()
    assert "rnn_mat_vec_s4_s16(" in c and "rnn_mat_vec_s8(" in c
    bad = json.loads(p.read_text())
    bad["layers"][0]["precision"] = "w4a4"
    p.write_text(json.dumps(bad))
    assert_one_line_error(rnngen("build", "--plan", str(p), "-o", str(tmp_path / "x")),
                          "layers[0].precision", "w4a4")


def test_inspect_shows_each_layer_precision():
    r = rnngen("inspect", str(EXAMPLE), "--precision", "/lstm/LSTM=w4a8")
    assert r.returncode == 0, r.stderr
    lstm = next(ln for ln in r.stdout.splitlines() if "/lstm/LSTM  forward" in ln)
    fc = next(ln for ln in r.stdout.splitlines() if ln.strip().startswith("Linear"))
    # W 128x8 and R 128x32 as int4: 128 * (4 + 16) bytes; the Linear 10x32 as int8: 320
    assert "precision w4a8 (weights 2560 B as int4)" in lstm, lstm
    assert "precision w8a8 (weights 320 B as int8)" in fc, fc
    j = json.loads(rnngen("inspect", str(EXAMPLE), "--precision", "w4a8", "--json").stdout)
    assert j["precision"] == {"default": "w4a8", "layers": {}}
    assert [lay.get("precision") for lay in j["layers"]] == ["w4a8", "w4a8", None]


def test_inspect_shows_int4_bytes_of_a_compressed_layer(tmp_path):
    # low rank 2x: per gate block W 32x8 as U 32x3 V 3x8, R 32x32 as U 32x8 V 8x32
    lmf = tmp_path / "lmf.onnx"
    r = rnngen("compress", str(EXAMPLE), "--method", "lmf", "--factor", "2", "-o", str(lmf))
    assert r.returncode == 0, r.stderr
    r = rnngen("inspect", str(lmf), "--precision", "w4a8", "--json")
    assert r.returncode == 0, r.stderr
    lstm = json.loads(r.stdout)["layers"][0]
    params = sum(m["params"] for m in lstm["matrices"])
    assert {m["format"] for m in lstm["matrices"]} == {"lowrank x4"}
    assert params == 4 * (32 * 3 + 3 * 8) + 4 * (32 * 8 + 8 * 32)
    assert lstm["weight_bytes"] == params // 2  # two int4 values a byte
    line = next(ln for ln in rnngen("inspect", str(lmf), "--precision", "w4a8").stdout
                .splitlines() if "/lstm/LSTM  forward" in ln)
    assert f"precision w4a8 (weights {params // 2} B as int4)" in line, line


@pytest.mark.parametrize("args,needles", [
    (["--precision", "w4a4"], ["unknown precision 'w4a4'", "w8a8, w4a8"]),
    (["--precision", "nosuch=w4a8"], ["layer 'nosuch'", "l0_LSTM"]),
    (["--precision", "l0_LSTM=w4a8,l0_LSTM=w8a8"], ["given twice"]),
    (["--precision", "l0_LSTM=,x"], ["'l0_LSTM=' is not LAYER=PRECISION"]),
    (["--precision", "w4a8,w8a8"], ["two defaults"]),
    (["--precision", "w4a8", "--dtype", "float32"], ["cannot go with --dtype float32"]),
    (["--precision", "missing.toml"], ["missing.toml: no such file"]),
])
def test_bad_precision_specs(tmp_path, args, needles):
    p = tmp_path / "m.onnx"
    onnx.save(models.make_model(models.Spec("LSTM", "forward", 3, 4, 5, 1), 0), p)
    build_writes_nothing(tmp_path, p, *args, needles=needles)


def test_bad_plan_files(tmp_path):
    p = tmp_path / "m.onnx"
    onnx.save(models.make_model(models.Spec("LSTM", "forward", 3, 4, 5, 1), 0), p)
    (tmp_path / "a.toml").write_text("default = \n")
    build_writes_nothing(tmp_path, p, "--precision", str(tmp_path / "a.toml"),
                         needles=["a.toml: not valid TOML"])
    (tmp_path / "b.json").write_text(json.dumps({"default": "w4a8", "layer": {}}))
    build_writes_nothing(tmp_path, p, "--precision", str(tmp_path / "b.json"),
                         needles=["b.json", "unknown key 'layer'"])
    (tmp_path / "c.json").write_text(json.dumps({"layers": {"l0_LSTM": 4}}))
    build_writes_nothing(tmp_path, p, "--precision", str(tmp_path / "c.json"),
                         needles=["c.json", "layer 'l0_LSTM'"])


def test_precision_needs_an_integer_build():
    with pytest.raises(Exception, match="integer build"):
        pipeline.Options(precision=precision.parse("w4a8"))
