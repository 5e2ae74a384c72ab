"""float32 layers inside an integer model (issue 14 item 1, `--precision LAYER=float32`): the
named recurrent or Linear layer runs the float kernels with float weights and float state
between a dequantization of its int8 input and a quantization of its outputs, its neighbours
stay integer. The rule tested (docs/int8.md, "float32 layers"): the C equals the integer
reference (which runs that layer with the float NumPy reference between the same steps)
exactly, except that a float value lying within reference_int.NEAR of a rounding boundary may
round the other way — the golden's tolerance is then the output difference of rounding those
values the other way, and 0 when there are none. LSTM -> Linear with the LSTM in float and the
Linear in int8, and the reverse; GRU; a low-rank (compressed) layer in float; streaming,
whole-sequence and stateful models; host, cortex-a73, cortex-m4 and cortex-m55; no worse than
the all-int8 model against onnxruntime; inspect and the build show the layer as float32;
bad specs exit 2 naming the layer."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from rnngen import analysis, driver, precision, quant, reference, reference_int, validate

from tests import models
from tests.e2e.test_bad_input import build_writes_nothing, rnngen


def lstm_fc(path: Path, state: bool = False, T: int = 6, I: int = 5, H: int = 8,
            C: int = 4, seed: int = 3) -> Path:
    """LSTM 'lstm' -> Linear 'fc' on its last h; outputs the logits and the LSTM's Y (so the
    float layer's quantized output is compared too); with `state`, h0 and c0 are inputs."""
    rng = np.random.default_rng(seed)

    def f(*s: int) -> np.ndarray:
        return (rng.standard_normal(s) * 0.5).astype(np.float32)

    inits = [numpy_helper.from_array(f(1, 4 * H, I), "W"),
             numpy_helper.from_array(f(1, 4 * H, H), "R"),
             numpy_helper.from_array(f(1, 8 * H) * 0.6, "B"),
             numpy_helper.from_array(f(C, H), "Wf"), numpy_helper.from_array(f(C), "bf"),
             numpy_helper.from_array(np.array([1, H], np.int64), "shp")]
    ins = ["x", "W", "R", "B"] + (["", "h0", "c0"] if state else [])
    nodes = [helper.make_node("LSTM", ins, ["Y", "Yh"] + (["Yc"] if state else []),
                              hidden_size=H, name="lstm"),
             helper.make_node("Reshape", ["Yh", "shp"], ["hf"]),
             helper.make_node("Gemm", ["hf", "Wf", "bf"], ["logits"], transB=1, name="fc")]

    def vi(n: str, s: list[int] | None) -> onnx.ValueInfoProto:
        return helper.make_tensor_value_info(n, TensorProto.FLOAT, s)

    inputs = [vi("x", [T, 1, I])] + ([vi("h0", [1, 1, H]), vi("c0", [1, 1, H])] if state
                                     else [])
    outs = [vi("logits", None), vi("Y", None)] + ([vi("Yc", None)] if state else [])
    g = helper.make_graph(nodes, "lstm_fc", inputs, outs, inits)
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 22)]), path)
    return path


def _verify(model: Path, spec: str, target: str = "host", **kw) -> driver.VerifyResult:
    """verify passes under the rule: no mismatch at the golden's tolerance, which is 0 unless
    the reference saw a float value near a rounding boundary (then the difference of rounding
    those the other way)."""
    res = driver.verify(model, driver.BuildOptions(dtype="int8", target=target,
                                                   precision=precision.parse(spec), **kw))
    r = res.report
    assert res.passed and r["mismatches"] == 0, res.output
    assert r["rtol"] == 0.0
    g = driver.compile_graph(model, driver.BuildOptions(dtype="int8", target=target,
                                                        precision=precision.parse(spec), **kw))
    x, state, _ = driver.golden_inputs(g, kw.get("input"))
    ex = reference.Executor(g, dtype="int8")
    driver._int8_run(ex, g, x, state)
    if not sum(ex.near.values()):
        assert r["atol"] == 0.0  # exact
    return res


def _c(tmp_path: Path, model: Path, spec: str, **kw) -> tuple[str, driver.BuildResult]:
    out = tmp_path / f"proj_{abs(hash((str(model), spec)))}"
    res = driver.build(model, out, driver.BuildOptions(dtype="int8", name="m", force=True,
                                                       precision=precision.parse(spec), **kw))
    return (out / "src" / "m.c").read_text(), res


def test_lstm_float_linear_int8(tmp_path):
    p = lstm_fc(tmp_path / "m.onnx")
    for whole in (False, True):  # streaming (step by step and _run's blocks), whole sequence
        _verify(p, "lstm=float32", whole_sequence=whole)
    c, res = _c(tmp_path, p, "lstm=float32")
    q = res.graph.quant
    assert isinstance(q.nodes["lstm"], quant.QFloatLayer)
    assert isinstance(q.nodes["fc"], quant.QLinear)
    assert q.tensors["Y"].dtype == "int8"  # its output, quantized for its readers
    for k in ("rnn_dequantize_s8(", "rnn_lstm_cell_f32(", "rnn_mat_vec_f32(",
              "rnn_quantize_s8(", "rnn_mat_vec_s8("):
        assert k in c, k
    assert "rnn_lstm_cell_s16(" not in c
    assert res.manifest["precision"] == "lstm=float32, others w8a8"
    # the float weights in flash: 4 bytes a weight (W 32x5, R 32x8, bias 32)
    rows = {r["node"]: r for r in analysis.table(res.graph)["rows"]}
    assert rows["lstm"]["flash_bytes"] == 4 * (32 * 5 + 32 * 8 + 32)
    assert rows["lstm"]["state_bytes"] == 4 * 2 * 8  # float h and c
    assert rows["fc"]["flash_bytes"] < 4 * (4 * 8)  # int8 weights


def test_linear_float_lstm_int8(tmp_path):
    p = lstm_fc(tmp_path / "m.onnx")
    _verify(p, "fc=float32")
    _verify(p, "fc=float32", io="int8")  # int8 at the API too
    c, res = _c(tmp_path, p, "fc=float32")
    assert "rnn_lstm_cell_s16(" in c and "rnn_lstm_cell_f32(" not in c
    assert "rnn_mat_vec_f32(4, 8, " in c and "rnn_mat_vec_s8(" not in c
    assert isinstance(res.graph.quant.nodes["fc"], quant.QFloatLayer)


def test_gru_float_between_integer_layers(tmp_path):
    """A bidirectional two-layer GRU: the first layer in float reading the int8 input and
    feeding the int8 second layer; then the second in float reading the first's int8, and a
    w8a16 first layer (int16 into the float layer: rnn_dequantize_s16)."""
    p = tmp_path / "gru.onnx"
    onnx.save(models.make_model(models.Spec("GRU", "bidirectional", 6, 10, 8, 2, lbr=1), 5),
              p)
    _verify(p, "l0_GRU=float32")
    _verify(p, "l1_GRU=float32,l0_GRU=w8a16")
    c, _ = _c(tmp_path, p, "l0_GRU=w8a16,l1_GRU=float32")
    assert "rnn_gru_cell_f32(" in c and "rnn_gru_cell_a16(" in c
    assert "rnn_dequantize_s16(" in c


def _lowrank(tmp_path: Path) -> Path:
    src, out = tmp_path / "l.onnx", tmp_path / "l_lmf.onnx"
    onnx.save(models.make_model(models.Spec("LSTM", "forward", 6, 12, 9, 2,
                                            initial_state=True), 5), src)
    r = rnngen("compress", str(src), "-m", "lmf", "-f", "2", "--nearest", "-o", str(out))
    assert r.returncode == 0, r.stderr
    return out


def test_lowrank_layer_float_in_int8_model(tmp_path):
    p = _lowrank(tmp_path)
    _verify(p, "l0_LSTM=float32")
    c, _ = _c(tmp_path, p, "l0_LSTM=float32")
    assert "rnn_mat_vec_lowrank_f32(" in c  # the float layer's low-rank matrices
    assert "rnn_mat_vec_lowrank_s8_s16(" in c  # the int8 second layer's
    assert "rnn_lstm_cell_f32(" in c and "rnn_lstm_cell_s16(" in c


@pytest.mark.qemu
@pytest.mark.parametrize("board,cell", [("cortex-a73", "GRU"), ("cortex-m4", "FastGRNN"),
                                        ("cortex-m55", "RNN")])
def test_on_boards(tmp_path, board, cell):
    """A sample on the boards: LSTM float + Linear int8; a low-rank layer in float; and one
    cell per board (test_c_safety's stacked model: four layers over every matrix format)
    with layers 1 (CSR, low-rank) and 3 (a row stack, dense) and the head in float, 0 and 2
    (dense, HMD, Kronecker, HKP) in int8."""
    from tests.e2e.test_c_safety import stacked_model

    _verify(lstm_fc(tmp_path / "m.onnx"), "lstm=float32", board)
    _verify(_lowrank(tmp_path), "l0_LSTM=float32", board)
    c = cell.lower()
    _verify(stacked_model(tmp_path, cell, False), f"{c}1=float32,{c}3=float32,dense4=float32",
            board)


def test_rounding_rule_over_many_sequences(tmp_path):
    """32 sequences through the C (validate.run_c: its raw outputs): every output value
    equals the integer reference's, or the one it gives with the near-boundary values
    rounded the other way (the rule); few values are near (measured in
    benchmarks/results/float_layers.md); `verify --input` with the 32 passes."""
    p = lstm_fc(tmp_path / "m.onnx")
    xs = np.random.default_rng(7).uniform(-1, 1, (32, 6, 1, 5)).astype(np.float32)
    np.save(tmp_path / "xs.npy", xs)
    kw = dict(dtype="int8", calibrate=str(tmp_path / "xs.npy"),
              precision=precision.parse("lstm=float32"))
    g = driver.compile_graph(p, driver.BuildOptions(**kw))
    want: dict[str, list[np.ndarray]] = {o: [] for o in g.outputs}
    other: dict[str, list[np.ndarray]] = {o: [] for o in g.outputs}
    near = 0
    for x in xs:
        for d, nudge in ((want, False), (other, True)):
            ex = reference.Executor(g, dtype="int8")
            ex.nudge = nudge
            out = ex.run(x)
            for o in g.outputs:
                d[o].append(out[o])
        near += sum(ex.near.values())
    # few: a value falls within NEAR of a boundary with probability about 2 NEAR (Y and Y_h
    # quantized, 32 x (48 + 8) values; 7 here)
    assert 0 < near < 8 * reference_int.NEAR * 32 * (48 + 8)
    got, _ = validate.run_c(p, g, xs, driver.BuildOptions(**kw), timeout=120)
    moved = 0
    for o in g.outputs:
        w, a, c = np.stack(want[o]), np.stack(other[o]), got[o].reshape(32, *g.shapes[o])
        moved += int(np.sum(a != w))
        assert np.all((c == w) | (c == a)), o
    assert moved > 0  # rounding the other way does change outputs
    res = driver.verify(p, driver.BuildOptions(**kw, input=str(tmp_path / "xs.npy")))
    assert res.passed and res.report["sequences"] == 32 and res.report["mismatches"] == 0


def test_no_worse_than_int8_against_onnxruntime(tmp_path):
    """Against onnxruntime's float outputs, a float32 layer's model is within the int8
    model's error (the float layer removes its own quantization inside; its input and
    output keep theirs)."""
    import onnxruntime as ort

    p = lstm_fc(tmp_path / "m.onnx")
    xs = np.random.default_rng(7).uniform(-1, 1, (16, 6, 1, 5)).astype(np.float32)
    np.save(tmp_path / "xs.npy", xs)
    s = ort.InferenceSession(str(p))
    errs = {}
    for spec in ("w8a8", "lstm=float32", "fc=float32", "float32"):
        g = driver.compile_graph(p, driver.BuildOptions(
            dtype="int8", calibrate=str(tmp_path / "xs.npy"), precision=precision.parse(spec)))
        e = {"logits": 0.0, "Y": 0.0}
        for x in xs:
            got = reference.Executor(g, dtype="int8").run(x)
            ref = dict(zip(["logits", "Y"], s.run(None, {"x": x})))
            for k in e:
                e[k] = max(e[k], float(np.max(np.abs(got[k] - ref[k]))))
        errs[spec] = e
    for spec in ("lstm=float32", "fc=float32", "float32"):
        for k in ("logits", "Y"):
            assert errs[spec][k] <= errs["w8a8"][k] + 1e-6, (spec, k, errs)
    assert errs["lstm=float32"]["Y"] < errs["w8a8"]["Y"]
    assert errs["fc=float32"]["logits"] < errs["w8a8"]["logits"]


def test_stateful_float_layer(tmp_path):
    """h0 and c0 as inputs: <name>_set_state / _get_state move the float layer's float h
    and c (compared at a float build's tolerance), the outputs stay exact."""
    p = lstm_fc(tmp_path / "s.onnx", state=True)
    for whole in (False, True):
        res = _verify(p, "lstm=float32", whole_sequence=whole)
        assert res.report["streaming"] == (not whole)
    c, res = _c(tmp_path, p, "lstm=float32")
    assert "float statef[" in (res.out / "include" / "m.h").read_text()
    assert "rnn_quantize_s16(" in c  # Y_c: the float c to the int16 cell-state output


def test_inspect_shows_float32(tmp_path):
    p = lstm_fc(tmp_path / "m.onnx")
    r = rnngen("inspect", str(p), "--precision", "lstm=float32")
    assert r.returncode == 0, r.stderr
    lstm = next(ln for ln in r.stdout.splitlines() if ln.strip().startswith("LSTM"))
    assert "precision float32 (weights 1664 B as float32)" in lstm, lstm  # 4 (32x5+32x8)
    assert "B of int8 and float32 weights" in r.stdout
    j = json.loads(rnngen("inspect", str(p), "--precision", "lstm=float32", "--json").stdout)
    assert j["precision"] == {"default": "w8a8", "layers": {"lstm": "float32"}}


@pytest.mark.parametrize("args,needles", [
    (["--precision", "nosuch=float32"], ["layer 'nosuch'", "lstm"]),
    (["--precision", "lstm=float32", "--dtype", "float32"], ["cannot go with --dtype float32"]),
    (["--precision", "lstm=float64"], ["unknown precision 'float64'", "float32"]),
])
def test_bad_specs(tmp_path, args, needles):
    build_writes_nothing(tmp_path, lstm_fc(tmp_path / "m.onnx"), *args, needles=needles)


def test_conv_after_recurrent(tmp_path):
    """A Conv reading a recurrent layer's output, either of them in float32 (Conv front
    ends in float32 or w4a8: test_conv_precision.py)."""
    rng = np.random.default_rng(0)
    T, I, H = 5, 3, 4
    inits = [numpy_helper.from_array((rng.standard_normal((1, 4 * H, I)) * .5)
                                     .astype(np.float32), "W"),
             numpy_helper.from_array((rng.standard_normal((1, 4 * H, H)) * .5)
                                     .astype(np.float32), "R"),
             numpy_helper.from_array(np.array([1, T, H], np.int64), "shp"),
             numpy_helper.from_array((rng.standard_normal((2, H, 1)) * .5)
                                     .astype(np.float32), "K")]
    nodes = [helper.make_node("LSTM", ["x", "W", "R"], ["Y"], hidden_size=H, name="lstm"),
             helper.make_node("Reshape", ["Y", "shp"], ["y3"]),
             helper.make_node("Transpose", ["y3"], ["yt"], perm=[0, 2, 1]),
             helper.make_node("Conv", ["yt", "K"], ["out"], name="conv", kernel_shape=[1])]
    g = helper.make_graph(nodes, "c", [helper.make_tensor_value_info(
        "x", TensorProto.FLOAT, [T, 1, I])], [helper.make_tensor_value_info(
            "out", TensorProto.FLOAT, None)], inits)
    p = tmp_path / "c.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 22)]), p)
    _verify(p, "conv=float32")  # the float Conv after the int8 LSTM
    _verify(p, "lstm=float32")  # the recurrent layer in float before the int8 Conv


@pytest.mark.qemu
def test_cost_model_costs_the_float_layer(tmp_path):
    """The cost model counts a float32 layer's features apart (at the board's float32
    coefficients): the example classifier with its LSTM in float is predicted within 10% of
    QEMU's exact count on cortex-m4 (+5.4% measured, benchmarks/results/float_layers.md)."""
    import sys

    from rnngen import cost

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    import icount_harness as icount

    ex = Path(__file__).resolve().parents[2] / "examples" / "lstm_classifier" / "model.onnx"
    opts = dict(dtype="int8", precision=precision.parse("/lstm/LSTM=float32"))
    g = driver.compile_graph(ex, driver.BuildOptions(target="cortex-m4", **opts))
    f = cost.features(g)
    assert f["float32:cell.LSTM.units"] == 32 * 8 and "cell.LSTM.units" not in f
    elf = icount.build_project(ex, "cortex-m4", tmp_path / "p", whole_run=True,
                               measure=False, **opts)
    n = icount.run(elf, "cortex-m4").windows[0]
    pred = cost.load("cortex-m4").instructions(g, "int8")
    assert abs(pred - n) / n <= 0.10, (pred, n)


@pytest.mark.parametrize("cell,whole", [("LSTM", False), ("GRU", True)])
def test_checked_c(tmp_path, cell, whole):
    """test_c_safety's three checks (ASan + UBSan, valgrind memcheck, cppcheck) on int8
    models whose layers 1 and 3 (low-rank and CSR, HKP and dense matrices; the bidirectional
    one whole-sequence) and the dense head run in float32; and on the stateful model."""
    from tests.e2e.test_c_safety import check_project, stacked_model

    p = stacked_model(tmp_path, cell, whole)
    c = cell.lower()
    spec = f"{c}1=float32,{c}3=float32,dense4=float32"
    proj = tmp_path / "proj"
    driver.build(p, proj, driver.BuildOptions(name="m", dtype="int8", measure=False,
                                              whole_sequence=whole,
                                              precision=precision.parse(spec)))
    check_project(proj)
    if cell == "LSTM":
        proj = tmp_path / "proj_state"
        driver.build(lstm_fc(tmp_path / "s.onnx", state=True), proj, driver.BuildOptions(
            name="m", dtype="int8", measure=False, precision=precision.parse("lstm=float32")))
        check_project(proj)
