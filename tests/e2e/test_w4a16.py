"""--precision w4a16 (issue 14 item 1: int4 weights read by int16 activations, w4a8's packing
and scales with w8a16's activations): the C equals the integer reference exactly (atol 0)
for LSTM (peepholes, clip, initial states, two directions, sequence_lens), GRU (both reset
placements, batch-first), RNN, FastRNN, FastGRNN and a Linear head, whole model and mixed
per layer with w8a8, w4a8 and w8a16 neighbours, on the host and a seeded sample on
cortex-a73, cortex-m4 and cortex-m55; the weights really are int4 and the activations int16
(plan, kernels); a matrix past the int32 bound takes the int64 kernel; a compressed format
with w4a16 is refused in one line (exit code 2)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from rnngen import compress, driver, precision, quant, search
from tests import models
from tests.e2e.test_bad_input import rnngen
from tests.e2e.test_w8a16 import EXAMPLE, SPECS, _c, _exact, _fast_npz, _model


@pytest.mark.parametrize("key", list(SPECS))
def test_w4a16_every_cell_exact_on_host(tmp_path, key):
    p = _model(tmp_path, key)
    _exact(p, "w4a16")
    c, res = _c(tmp_path, p, "w4a16")
    cell = SPECS[key].cell.lower()
    assert "rnn_mat_vec_a16_s4_s16(" in c  # R (and W: the input is int16 too) read int16
    assert "rnn_quantize_s16(" in c  # the model's input: its readers are w4a16 layers
    assert "rnn_mat_vec_a16_s16(" not in c and "rnn_mat_vec_s8_s16(" not in c
    assert f"rnn_{cell}_cell_a16(" in c and f"rnn_{cell}_cell_s16(" not in c
    q = res.graph.quant
    for name, node in q.nodes.items():
        if hasattr(node, "directions"):
            assert isinstance(node.h, quant.QParams16), name
            for d in node.directions:
                assert d.R.xbits == 16 and d.R.bits == 4 and d.W.bits == 4
                assert int(np.abs(d.R.w).max()) <= 7 and d.h0.dtype == np.int16
    assert res.manifest["precision"] == "w4a16 (every layer)"


@pytest.mark.parametrize("spec,has,hasnot", [
    # int4 LSTM with int16 h; the Linear (int4) reads int16, its output goes to Softmax: int8
    ("w4a16", ("rnn_lstm_cell_a16(", "rnn_mat_vec_a16_s4_s16(", "rnn_mat_vec_a16_s4_s8("),
     ("rnn_mat_vec_s8(", "rnn_lstm_cell_s16(", "rnn_mat_vec_a16_s16(")),
    # a w4a8 Linear reading a w8a16 LSTM's int16 h (int4 weights, int16 input)
    ("/lstm/LSTM=w8a16,/fc/Gemm=w4a8", ("rnn_mat_vec_a16_s16(", "rnn_mat_vec_a16_s4_s8("),
     ("rnn_mat_vec_s4(",)),
    # a w4a16 LSTM, a w8a8 Linear reading its int16 h
    ("/lstm/LSTM=w4a16", ("rnn_mat_vec_a16_s4_s16(", "rnn_mat_vec_a16_s8("),
     ("rnn_mat_vec_s8(",)),
    # a w4a16 Linear reading int8: int4 weights, int8 in and out
    ("/fc/Gemm=w4a16", ("rnn_lstm_cell_s16(", "rnn_mat_vec_s4("), ("_a16",)),
    ("/lstm/LSTM=w4a16,/fc/Gemm=w8a16", ("rnn_mat_vec_a16_s4_s16(", "rnn_mat_vec_a16_s8("),
     ("rnn_mat_vec_s4(",)),
])
def test_classifier_whole_and_mixed_exact_on_host(tmp_path, spec, has, hasnot):
    _exact(EXAMPLE, spec)
    c, res = _c(tmp_path, EXAMPLE, spec)
    for k in has:
        assert k in c, (spec, k)
    for k in hasnot:
        assert k not in c, (spec, k)
    assert res.manifest["precision"] == precision.parse(spec).describe()


@pytest.mark.parametrize("spec", ["l0_LSTM=w4a16,l1_LSTM=w8a16", "l0_LSTM=w8a16,l1_LSTM=w4a16",
                                  "l0_LSTM=w4a8,l1_LSTM=w4a16", "l0_LSTM=w4a16"])
def test_mixed_layers_exact_on_host(tmp_path, spec):
    """Two-layer stacks: int16 from one int16 layer into the other (int4 or int8 weights),
    int8 (w4a8) into a w4a16 layer, int16 into a w8a8 layer."""
    _exact(_model(tmp_path, "lstm_2layer_h0"), spec)


def test_fast_cells_w4a16_exact_on_host(tmp_path):
    p = _fast_npz(tmp_path)
    _exact(p, "w4a16")
    c, res = _c(tmp_path, p, "w4a16")
    assert "rnn_fastrnn_cell_a16(" in c and "rnn_fastgrnn_cell_a16(" in c
    assert "rnn_mat_vec_a16_s4_s16(" in c and "rnn_mat_vec_a16_s16(" not in c
    names = [n for n, q in res.graph.quant.nodes.items() if hasattr(q, "directions")]
    _exact(p, f"{names[0]}=w4a16,{names[1]}=w8a16")


def _wide(tmp_path: Path) -> Path:
    """An LSTM reading 9,400 inputs, W of full-scale int4 weights (+-c): its rows' int32
    bound with int16 x, 7 * 9400 * 32768, passes 2^31 (R stays within)."""
    m = models.make_model(models.Spec("LSTM", "forward", 9400, 3, 2, 1), 2)
    lstm = next(n for n in m.graph.node if n.op_type == "LSTM")
    init = next(i for i in m.graph.initializer if i.name == lstm.input[1])
    w = numpy_helper.to_array(init)
    init.CopyFrom(numpy_helper.from_array(
        (np.where(w >= 0, 1.0, -1.0) * 0.01).astype(np.float32), init.name))
    p = tmp_path / "wide4.onnx"
    onnx.save(m, p)
    return p


def test_wide_matrix_takes_the_int64_kernel(tmp_path):
    p = _wide(tmp_path)
    _exact(p, "w4a16")
    c, res = _c(tmp_path, p, "w4a16")
    assert "rnn_mat_vec_a16_s4_wide(" in c and "rnn_mat_vec_a16_s4_s16(" in c  # W; R
    q = next(iter(res.graph.quant.nodes.values()))
    assert q.directions[0].W.acc64 and not q.directions[0].R.acc64


@pytest.mark.qemu
@pytest.mark.parametrize("board", ["cortex-a73", "cortex-m4", "cortex-m55"])
def test_w4a16_exact_on_boards(tmp_path, board):
    """A seeded sample: a bidirectional two-layer GRU in w4a16, a two-layer LSTM with layer 1
    w4a16 and layer 2 w8a16, an RNN stack, the classifier (LSTM + Linear) in w4a16 and mixed
    with a w8a16 head, FastRNN + FastGRNN + Linear, the int64 kernel."""
    _exact(_model(tmp_path, "gru_bi_lbr1"), "w4a16", board)
    _exact(_model(tmp_path, "lstm_2layer_h0"), "l0_LSTM=w4a16,l1_LSTM=w8a16", board)
    _exact(_model(tmp_path, "rnn_2layer"), "w4a16", board)
    _exact(EXAMPLE, "w4a16", board)
    _exact(EXAMPLE, "/lstm/LSTM=w8a16,/fc/Gemm=w4a8", board)
    _exact(_fast_npz(tmp_path), "w4a16", board)
    _exact(_wide(tmp_path), "w4a16", board)


def test_search_genes_take_w4a16_where_formats_have_it(monkeypatch):
    """compress.supports (the search's precision genes): w4a16 for dense matrices and every
    compress method (each format has int16-input kernels with int4 weights); a format record
    without them (monkeypatched) makes w4a16 on its layer the w8a8 candidate."""
    import dataclasses

    from rnngen import formats

    assert compress.supports("dense", "w4a16")
    for method in compress.METHODS:
        assert compress.supports(method, "w4a16"), method
    space = search.Space([search.Layer(0, "l0", "LSTM"), search.Layer(1, "s", "SRU")],
                         (2.0,), ("w8a8", "w4a16"))
    assert space.choices[1][0] == "hmd"
    # dense LSTM and dense SRU (its int16-h cell), and an hmd LSTM: w4a16
    assert [c.precision for c in space.decode((0, 0, 1, 1, 1))[0]] == ["w4a16", "w4a16"]
    assert space.canonical((0, 0, 1, 1, 1)) == (0, 0, 1, 1, 1)
    assert [c.precision for c in space.decode((1, 0, 1, 0, 1))[0]] == ["w4a16", None]
    assert space.canonical((1, 0, 1, 0, 1)) == (1, 0, 1, 0, 1)
    monkeypatch.setitem(formats.FORMATS, "hmd",
                        dataclasses.replace(formats.FORMATS["hmd"], act_bits=(8,)))
    assert not compress.supports("hmd", "w4a16") and compress.supports("lmf", "w4a16")
    assert [c.precision for c in space.decode((1, 0, 1, 0, 1))[0]] == [None, None]
    assert space.canonical((1, 0, 1, 0, 1)) == (1, 0, 0, 0, 1)
    assert search.parse_precisions("w8a8,w4a16") == ("w8a8", "w4a16")


def test_inspect_shows_w4a16():
    r = rnngen("inspect", str(EXAMPLE), "--precision", "/lstm/LSTM=w4a16", "--json")
    assert r.returncode == 0, r.stderr
    j = json.loads(r.stdout)
    assert [lay.get("precision") for lay in j["layers"]] == ["w4a16", "w8a8", None]
    r = rnngen("inspect", str(EXAMPLE), "--precision", "/lstm/LSTM=w4a16")
    lstm = next(ln for ln in r.stdout.splitlines() if "/lstm/LSTM  forward" in ln)
    assert "precision w4a16 (weights 2560 B as int4)" in lstm, lstm


def test_row_stack_of_dense_blocks_w4a16_exact_on_host(tmp_path):
    """An .npz LSTM whose W and R are row stacks of dense blocks (per-gate matrices): w4a16
    takes them through the dense kernels, exact."""
    import rnngen.npz as rz

    rng = np.random.default_rng(4)
    f = (lambda *s: (rng.standard_normal(s) * 0.3).astype(np.float32))
    p = tmp_path / "stack.npz"
    rz.save(p, [rz.lstm(rz.stack(f(16, 5), f(16, 5)), rz.stack(*[f(8, 8) for _ in range(4)]),
                        f(32), f(32), gate_order="onnx"), rz.dense(f(3, 8), f(3))],
            seq_len=6, output="last")
    _exact(p, "w4a16")
    c, _ = _c(tmp_path, p, "w4a16")
    assert "rnn_mat_vec_a16_s4_s16(" in c and "rnn_mat_vec_a16_s16(" not in c


def test_w4a16_projects_pass_the_c_safety_checks(tmp_path):
    """The w4a16 kernels in generated projects under AddressSanitizer + UBSan (no signed
    overflow: the plain C path sums each row exactly), valgrind memcheck and cppcheck
    (tests/e2e/test_c_safety.py's checks): the classifier (int32 kernels, int16 -> int8
    Linear), and the wide LSTM (the int64 kernel; cppcheck on the kernels' sources only:
    its 9,400-column constants take cppcheck minutes)."""
    from tests.e2e import test_c_safety as cs

    proj = tmp_path / "proj"
    driver.build(EXAMPLE, proj, driver.BuildOptions(name="m", dtype="int8", measure=False,
                                                    precision=precision.parse("w4a16")))
    assert (proj / "src" / "rnn_mat_vec_a16_s4_s8.c").exists()
    cs.check_project(proj)
    wide = tmp_path / "wide"
    driver.build(_wide(tmp_path), wide, driver.BuildOptions(
        name="m", dtype="int8", measure=False, precision=precision.parse("w4a16")))
    exe = cs._make(wide, "build-san", cs.SANITIZE)
    r = cs._run([str(exe)], wide)
    assert cs._passed(r) and r.stderr == "", r.stdout + r.stderr
    exe = cs._make(wide, "build-opt", cs.OPTIMIZED)
    r = cs._run([cs._tool("valgrind"), *cs.VALGRIND, str(exe)], wide)
    assert cs._passed(r) and "ERROR SUMMARY: 0 errors from 0 contexts" in r.stderr, r.stderr
    cs.cppcheck(wide, tuple(f"src/{k}.c" for k in ("rnn_mat_vec_a16_s4_wide",
                                                   "rnn_mat_vec_a16_s4_s16",
                                                   "rnn_mat_vec_s4_s16")))


def test_search_plan_with_w4a16(tmp_path):
    """A plan's "precision" fields (a recurrent layer's and the Linear heads') may say w4a16:
    build --plan honours them and verify --plan is exact."""
    from rnngen import plan

    p = tmp_path / "plan.json"
    p.write_text(json.dumps({
        "rnngen_plan": 1, "model": str(EXAMPLE), "model_sha256": plan.sha256(EXAMPLE),
        "dtype": "int8", "seq_len": 8,
        "layers": [{"index": 0, "name": "/lstm/LSTM", "method": "dense", "factor": 1.0,
                    "precision": "w4a16"}], "precision": {"/fc/Gemm": "w4a16"}}))
    out = tmp_path / "proj"
    r = rnngen("build", "--plan", str(p), "-o", str(out), "--name", "m")
    assert r.returncode == 0, r.stderr
    assert "precision /lstm/LSTM=w4a16, /fc/Gemm=w4a16, others w8a8" in r.stdout
    c = (out / "src" / "m.c").read_text()
    assert "rnn_mat_vec_a16_s4_s16(" in c and "rnn_mat_vec_a16_s4_s8(" in c
    r = rnngen("verify", "--plan", str(p))
    assert r.returncode == 0 and "max_abs_err 0," in r.stdout, r.stdout + r.stderr
