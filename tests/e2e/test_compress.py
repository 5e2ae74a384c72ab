"""rnngen compress end to end: every method on LSTM, GRU and RNN ONNX models (the written
file runs in onnxruntime and equals rnngen's reference on the compressed matrices), layer
selection, opsets, PyTorch exports, .npz models, --eval, and bad options (one line, exit 2,
nothing written)."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import onnx
import pytest
from rnngen import compress as algo
from rnngen import frontends, reference
from rnngen.compress_eval import _substitute
from rnngen.compress_fit import _replacements
from rnngen.compress_model import compress_file
from rnngen.compress_npz import npz_dense

from tests import models

F32 = np.float32
ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "lstm_classifier" / "model.onnx"
TOL = algo.TOLERANCE

# small models whose gate blocks (24x20, 24x24, 24x48) reach 2x with every method
SPECS = {
    "LSTM": models.Spec("LSTM", "bidirectional", 20, 24, 6, 2),
    "GRU": models.Spec("GRU", "forward", 20, 24, 6, 2, lbr=1),
    "RNN": models.Spec("RNN", "reverse", 20, 24, 6, 2),
}


def rnngen(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "rnngen.cli", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd)


def assert_one_line_error(r, *needles):
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("rnngen: error: "), r.stderr
    assert "Traceback" not in r.stderr
    for n in needles:
        assert n in lines[0], (n, lines[0])


def save_model(tmp_path, cell, opset=None, name=None):
    m = models.make_model(SPECS[cell], seed=1)
    if opset is not None:
        m.opset_import[0].version = opset
    p = tmp_path / (name or f"{cell.lower()}.onnx")
    onnx.save(m, p)
    return p


def ort_run(path, feeds):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    model = onnx.load(str(path))
    sess = ort.InferenceSession(model.SerializeToString(), so,
                                providers=["CPUExecutionProvider"])
    names = [o.name for o in model.graph.output]
    return dict(zip(names, sess.run(names, feeds)))


def compressed_reference(src, res, x, seq_len=None):
    """rnngen's reference on the model with the compressed matrices in place of W and R."""
    g = _substitute(frontends.load(src, seq_len), _replacements(res.matrices))
    return reference.run(g, x)


def assert_close_outputs(got, want, atol=2e-5):
    for k in want:
        np.testing.assert_allclose(got[k].reshape(want[k].shape), want[k], atol=atol,
                                   rtol=1e-4, err_msg=k)


# --------------------------------------------------------------------------- ONNX

@pytest.mark.parametrize("method", algo.METHODS)
@pytest.mark.parametrize("cell", list(SPECS))
def test_onnx_method_runs_in_onnxruntime_and_matches_reference(tmp_path, cell, method):
    src = save_model(tmp_path, cell)
    out = tmp_path / "out.onnx"
    res = compress_file(src, out, method, 2.0)
    s = SPECS[cell]
    D = 2 if s.direction == "bidirectional" else 1
    assert len(res.matrices) == 2 * 2 * D  # 2 layers x (W, R) x directions
    for r in res.matrices:
        d = r.as_dict()
        assert abs(np.log(d["storage_factor"] / 2.0)) <= np.log1p(TOL), d
        assert d["rel_error"] < 1.0
        assert d["mac_factor"] > 1.5
    x = np.random.default_rng(0).uniform(-1, 1, (s.seq, 1, s.input_size)).astype(F32)
    got = ort_run(out, {"x": x})
    want = compressed_reference(src, res, x)
    assert_close_outputs(got, want)
    # what the compression changed is visible: the dense model differs
    dense = ort_run(src, {"x": x})
    assert any(np.max(np.abs(dense[k] - got[k])) > 1e-3 for k in dense)


def test_error_falls_and_factor_rises_on_a_model(tmp_path):
    src = save_model(tmp_path, "LSTM")
    errs, facs = [], []
    for F in (5, 3.33, 2.5, 2):
        t = compress_file(src, tmp_path / f"o{F}.onnx", "hmd", F).totals()
        errs.append(t["rel_error"])
        facs.append(t["storage_factor"])
    assert errs == sorted(errs, reverse=True) and len(set(errs)) == 4
    assert facs == sorted(facs, reverse=True)


def test_cli_json_and_text_report(tmp_path):
    src = save_model(tmp_path, "GRU")
    out = tmp_path / "gru_lmf.onnx"
    r = rnngen("compress", src, "--method", "lmf", "--factor", "2", "-o", out, "--json")
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    assert rep["method"] == "lmf" and rep["factor"] == 2.0 and rep["eval"] is None
    assert rep["tolerance"] == TOL
    mats = rep["matrices"]
    assert [(m["layer"], m["role"]) for m in mats] == [
        ("l0_GRU", "W"), ("l0_GRU", "R"), ("l1_GRU", "W"), ("l1_GRU", "R")]
    for m in mats:
        assert m["format"].startswith("3 x lowrank d=")
        assert m["storage_factor"] == pytest.approx(m["dense_params"] / m["params"])
        assert m["mac_factor"] == pytest.approx(m["dense_macs"] / m["macs"])
        assert m["plan"]["d"] * (24 + m["shape"][1]) * 3 == m["params"]
    t = rep["totals"]
    assert t["dense_params"] == sum(m["dense_params"] for m in mats)
    assert t["storage_factor"] == pytest.approx(t["dense_params"] / t["params"])
    # the same numbers as the Python API, and the text report
    api = compress_file(src, tmp_path / "again.onnx", "lmf", 2.0).as_dict()
    assert [m["rel_error"] for m in api["matrices"]] == [m["rel_error"] for m in mats]
    r = rnngen("compress", src, "-m", "lmf", "-f", "2", "-o", out, "--force")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert "lmf at 2x" in lines[0]
    assert any("l1_GRU" in ln and "3 x lowrank d=" in ln for ln in lines)
    assert lines[-1].startswith("total: ")


def test_layers_by_name_and_index(tmp_path):
    src = save_model(tmp_path, "LSTM")
    orig = onnx.load(str(src))
    out = tmp_path / "one.onnx"
    res = compress_file(src, out, "hmd", 2.0, layers=["l1_LSTM"])
    assert {r.layer for r in res.matrices} == {"l1_LSTM"} and res.skipped == ["l0_LSTM"]
    m = onnx.load(str(out))
    lstm = {n.name: n for n in m.graph.node if n.op_type == "LSTM"}
    assert list(lstm["l0_LSTM"].input[1:3]) == ["l0_W", "l0_R"]  # untouched
    inits = {t.name: t for t in m.graph.initializer}
    for name in ("l0_W", "l0_R", "l0_B", "l1_B"):
        assert inits[name] == {t.name: t for t in orig.graph.initializer}[name]
    assert "l1_W" not in inits and "l1_R" not in inits  # replaced and dropped
    assert "left dense: l0_LSTM" in res.text()
    res = compress_file(src, tmp_path / "idx.onnx", "lmf", 2.0, layers=["0"])
    assert {r.layer for r in res.matrices} == {"l0_LSTM"}
    res = compress_file(src, tmp_path / "both.onnx", "csr", 2.0, layers=["1,l0_LSTM"])
    assert {r.layer for r in res.matrices} == {"l0_LSTM", "l1_LSTM"} and not res.skipped


@pytest.mark.parametrize("opset", [9, 11, 13, 22])
def test_opsets_and_padded_kronecker(tmp_path, opset):
    """13 and 7 are prime: the Kronecker factors are padded, so the subgraph ends in Slice.
    Unsqueeze takes axes as an attribute before opset 13, Slice its bounds before 10."""
    spec = models.Spec("LSTM", "forward", 7, 13, 5, 1)
    m = models.make_model(spec, seed=2)
    m.opset_import[0].version = opset
    src = tmp_path / "prime.onnx"
    onnx.save(m, src)
    x = np.random.default_rng(1).uniform(-1, 1, (5, 1, 7)).astype(F32)
    for method in ("kron", "hkp", "hmd"):
        out = tmp_path / f"{method}.onnx"
        res = compress_file(src, out, method, 3.0 if method == "kron" else 2.0)
        if method != "hmd":
            assert all(any(r.plan.padding) for r in res.matrices), [r.format() for r in
                                                                    res.matrices]
        cm = onnx.load(str(out))
        assert cm.opset_import[0].version == opset
        ops = {n.op_type: n for n in cm.graph.node}
        unsq = ops["Unsqueeze"]
        assert (len(unsq.input) == 2) == (opset >= 13)
        assert any(a.name == "axes" for a in unsq.attribute) == (opset < 13)
        if method != "hmd":
            assert (len(ops["Slice"].input) == 3) == (opset >= 10)
        assert_close_outputs(ort_run(out, {"x": x}), compressed_reference(src, res, x))


@pytest.mark.parametrize("dynamo", [False, True], ids=["torchscript", "dynamo"])
def test_pytorch_export(tmp_path, dynamo):
    """Exporters reorder gates with subgraphs (TorchScript) or store weights as external
    data (dynamo); the old weights disappear, the output holds all its data."""
    import torch
    torch.manual_seed(0)

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = torch.nn.LSTM(10, 16, num_layers=2, bidirectional=True)
            self.fc = torch.nn.Linear(32, 4)

        def forward(self, x):
            y, _ = self.rnn(x)
            return self.fc(y[-1])

    net = Net().eval()
    x = torch.randn(5, 1, 10)
    src = tmp_path / "net.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net, (x,), str(src), dynamo=dynamo, input_names=["x"],
                          output_names=["y"])
    out = tmp_path / "sub" / "net_hkp.onnx"  # missing folders are made
    res = compress_file(src, out, "hkp", 2.0)
    assert len(res.matrices) == 8
    cm = onnx.load(str(out), load_external_data=False)
    assert not [t for t in cm.graph.initializer if t.data_location == 1]  # no external data
    inputs = {i for n in cm.graph.node for i in n.input}
    assert all(t.name in inputs for t in cm.graph.initializer)  # nothing left over
    got = ort_run(out, {"x": x.numpy()})
    want = compressed_reference(src, res, x.numpy())
    np.testing.assert_allclose(got["y"], want[next(iter(want))].reshape(got["y"].shape),
                               atol=2e-5, rtol=1e-4)


# --------------------------------------------------------------------------- .npz

def npz_model(path):
    import rnngen.npz as rz

    rng = np.random.default_rng(0)

    def f(*s):
        return (rng.standard_normal(s) * 0.3).astype(F32)

    H, I = 24, 20
    layers = [
        rz.lstm([f(4 * H, I), f(4 * H, I)], [f(4 * H, H), f(4 * H, H)], [f(4 * H), f(4 * H)],
                [f(4 * H), f(4 * H)], gate_order="pytorch", direction="bidirectional"),
        rz.gru(f(3 * H, 2 * H), f(3 * H, H), f(3 * H), None, gate_order="pytorch",
               linear_before_reset=True, name="gru"),
        rz.rnn(f(H, H), f(H, H), f(H), f(H)),
        rz.dense(f(5, H), f(5)),
    ]
    rz.save(path, layers, seq_len=6, output="last")
    return path


@pytest.mark.parametrize("method", algo.METHODS)
def test_npz_model(tmp_path, method):
    import rnngen.npz as rz

    src = npz_model(tmp_path / "m.npz")
    out = tmp_path / "c.npz"
    res = compress_file(src, out, method, 2.0)
    assert [r.layer for r in res.matrices][::4] == ["lstm0", "gru"]
    z = np.load(out, allow_pickle=False)
    man = json.loads(str(z["__rnngen__"]))
    old = json.loads(str(np.load(src)["__rnngen__"]))
    lstm, gru, rnn, dense = man["layers"]
    assert lstm["gate_order"] == "onnx" and gru["gate_order"] == "onnx"  # rewritten
    assert dense == old["layers"][3]  # untouched
    top = "csr" if method == "csr" else "stack"
    for lay, G in ((lstm, 4), (gru, 3)):
        for ent in lay["directions"]:
            for role in ("W", "R"):
                assert ent[role]["format"] == top
                if top == "stack":
                    assert len(ent[role]["blocks"]) == G
    assert rnn["directions"][0]["W"]["format"] == {"csr": "csr", "hmd": "hmd", "lmf": "lowrank",
                                                   "kron": "kron", "hkp": "stack"}[method]
    assert "b_hh" not in gru["directions"][0]  # absent stays absent
    # arrays: the old W/R and reordered biases are gone, nothing unreferenced is left
    assert "layer0.fwd.W" not in z.files and "layer0.fwd.b_ih" in z.files
    assert "layer3.W" in z.files
    # the entries decode (by the conventions, independently of the frontend) to the
    # compressed matrices; biases were reordered into ONNX gate order with them
    g = frontends.load(src)
    irn = {n.name: n for n in g.nodes if hasattr(n, "directions")}
    reps = _replacements(res.matrices)
    for i, lay in enumerate((lstm, gru, rnn)):
        node = irn[("lstm0", "gru", "rnn2")[i]]
        for d, ent in enumerate(lay["directions"]):
            for role in ("W", "R"):
                np.testing.assert_allclose(npz_dense(ent[role], z),
                                           reps[node.name][(d, role)].to_dense(), atol=1e-7)
            np.testing.assert_array_equal(z[ent["b_ih"]], node.directions[d].wb)
    # the same model with those matrices dense, through the .npz frontend, equals the
    # reference on the compressed matrices
    dense_layers = [
        rz.lstm([npz_dense(e["W"], z) for e in lstm["directions"]],
                [npz_dense(e["R"], z) for e in lstm["directions"]],
                [z[e["b_ih"]] for e in lstm["directions"]],
                [z[e["b_hh"]] for e in lstm["directions"]], gate_order="onnx",
                direction="bidirectional"),
        rz.gru(npz_dense(gru["directions"][0]["W"], z), npz_dense(gru["directions"][0]["R"], z),
               z[gru["directions"][0]["b_ih"]], None, gate_order="onnx",
               linear_before_reset=True, name="gru"),
        rz.rnn(npz_dense(rnn["directions"][0]["W"], z), npz_dense(rnn["directions"][0]["R"], z),
               z[rnn["directions"][0]["b_ih"]], z[rnn["directions"][0]["b_hh"]]),
        rz.dense(z["layer3.W"], z["layer3.b"]),
    ]
    rz.save(tmp_path / "expanded.npz", dense_layers, seq_len=6, output="last")
    x = np.random.default_rng(2).uniform(-1, 1, (6, 1, 20)).astype(F32)
    want = compressed_reference(src, res, x)["output"]
    got = reference.run(frontends.load(tmp_path / "expanded.npz"), x)["output"]
    np.testing.assert_allclose(got, want, atol=1e-5, rtol=1e-4)


def test_npz_fast_cells(tmp_path):
    """FastRNN / FastGRNN (.npz only): their W and U are compressed like an RNN's W and R."""
    import rnngen.npz as rz

    rng = np.random.default_rng(0)

    def f(*s):
        return (rng.standard_normal(s) * 0.3).astype(F32)

    H, I = 24, 20
    rz.save(tmp_path / "fast.npz", [
        rz.fastrnn(f(H, I), f(H, H), f(H), alpha=-3.0, beta=3.0),
        rz.fastgrnn(f(H, H), f(H, H), f(H), f(H), zeta=1.0, nu=-4.0),
        rz.dense(f(3, H))], seq_len=5, output="last")
    x = rng.uniform(-1, 1, (5, 1, I)).astype(F32)
    for method in algo.METHODS:
        out = tmp_path / f"fast_{method}.npz"
        res = compress_file(tmp_path / "fast.npz", out, method, 2.0)
        assert [(r.layer, r.role) for r in res.matrices] == [
            ("fastrnn0", "W"), ("fastrnn0", "U"), ("fastgrnn1", "W"), ("fastgrnn1", "U")]
        man = json.loads(str(np.load(out)["__rnngen__"]))
        assert man["layers"][0]["directions"][0]["U"]["format"] != "dense"
        want = compressed_reference(tmp_path / "fast.npz", res, x)["output"]
        got = reference.run(frontends.load(out), x)["output"]
        np.testing.assert_allclose(got, want, atol=1e-6)


# --------------------------------------------------------------------------- --eval

def digits(tmp_path, n=120, four_d=False):
    from sklearn.datasets import load_digits

    d = load_digits()
    x = (d.images / 16.0).astype(F32)[-n:]  # [N, 8 rows, 8 pixels], read row by row
    y = d.target.astype(np.int64)[-n:]
    if four_d:
        x = x[:, :, None, :]  # [N, T, 1, I]
    p = tmp_path / "digits.npz"
    np.savez(p, x=x, y=y)
    return p


@pytest.mark.parametrize("method", ["hmd", "csr"])
def test_eval_reports_accuracy_before_and_after(tmp_path, method):
    data = digits(tmp_path, four_d=method == "csr")
    out = tmp_path / f"digits_{method}.onnx"
    r = rnngen("compress", EXAMPLE, "-m", method, "-f", "2", "-o", out, "--eval", data,
               "--json")
    assert r.returncode == 0, r.stderr
    ev = json.loads(r.stdout)["eval"]
    assert ev["examples"] == 120 and ev["seq_len"] == 8 and ev["output"] == "probabilities"
    assert ev["accuracy_before"] > 0.9  # the bundled model is ~98% accurate
    assert 0.0 <= ev["accuracy_after"] <= 1.0
    if method == "csr":  # pruning to half keeps most of it
        assert ev["accuracy_after"] > 0.7
    # the "after" accuracy is that of the written model
    from rnngen import pipeline
    from rnngen.compress_eval import _load_eval_data, accuracy

    x, y = _load_eval_data(data)
    g = pipeline.compile_model(out, pipeline.Options(seq_len=8))
    assert accuracy(g, x, y, "d") == ev["accuracy_after"]
    r = rnngen("compress", EXAMPLE, "-m", method, "-f", "2", "-o", out, "--eval", data,
               "--force")
    assert r.returncode == 0, r.stderr
    assert f"accuracy {100 * ev['accuracy_before']:.2f}% -> " \
           f"{100 * ev['accuracy_after']:.2f}%" in r.stdout


def test_inspect_shows_compressed_formats(tmp_path):
    """`rnngen inspect` of compress's output recognizes the factor subgraphs (the reader of
    docs/compression.md) instead of showing dense matrices."""
    src = save_model(tmp_path, "LSTM")
    x = np.random.default_rng(0).uniform(-1, 1, (6, 1, 20)).astype(F32)
    for method, fmt in (("hmd", "hmd"), ("lmf", "lowrank"), ("csr", "csr"), ("kron", "kron"),
                        ("hkp", "kron")):
        out = tmp_path / f"{method}.onnx"
        res = compress_file(src, out, method, 2.0)
        r = rnngen("inspect", out, "--json")
        assert r.returncode == 0, r.stderr
        info = json.loads(r.stdout)
        mats = [m for lay in info["layers"] if lay["op"] == "LSTM" for m in lay["matrices"]]
        assert len(mats) == 8
        for m in mats:
            assert fmt in m["format"], (method, m)
            assert m["compression"] == pytest.approx(
                m["shape"][0] * m["shape"][1] / m["params"], rel=1e-3)
        by_params = sorted(r.matrix.params for r in res.matrices)
        assert sorted(m["params"] for m in mats) == by_params
        got = reference.run(frontends.load(out), x)
        assert_close_outputs(got, compressed_reference(src, res, x), atol=1e-5)


def test_inspect_shows_compressed_formats_npz(tmp_path):
    src = npz_model(tmp_path / "m.npz")
    x = np.random.default_rng(0).uniform(-1, 1, (6, 1, 20)).astype(F32)
    for method, fmt in (("hmd", "hmd"), ("lmf", "lowrank"), ("csr", "csr"), ("kron", "kron"),
                        ("hkp", "kron")):
        out = tmp_path / f"{method}.npz"
        res = compress_file(src, out, method, 2.0)
        r = rnngen("inspect", out, "--json")
        assert r.returncode == 0, r.stderr
        mats = [m for lay in json.loads(r.stdout)["layers"] if lay["op"] in ("LSTM", "GRU", "RNN")
                for m in lay["matrices"]]
        assert len(mats) == len(res.matrices) == 8
        assert all(fmt in m["format"] for m in mats), (method, [m["format"] for m in mats])
        got = reference.run(frontends.load(out), x)["output"]
        want = compressed_reference(src, res, x)["output"]
        np.testing.assert_allclose(got, want, atol=1e-6)


# --------------------------------------------------------------------------- bad input

def bad_cases(tmp_path):
    src = save_model(tmp_path, "LSTM")
    npz = npz_model(tmp_path / "m.npz")
    exists = tmp_path / "exists.onnx"
    exists.write_bytes(b"keep me")
    junk = tmp_path / "junk.onnx"
    junk.write_text("not a model\n")
    nolabels = tmp_path / "nolabels.npz"
    np.savez(nolabels, x=np.zeros((3, 6, 20), F32))
    out = tmp_path / "out.onnx"
    base = ["compress", src, "-o", out]
    return [
        (base + ["-m", "svd", "-f", "2"], ("--method", "svd")),
        (base + ["-m", "hmd", "-f", "1"], ("--factor",)),
        (base + ["-m", "hmd", "-f", "two"], ("--factor",)),
        (base + ["-m", "hmd", "-f", "nan"], ("--factor",)),
        (base + ["-m", "hmd"], ("--factor",)),
        (["compress", src, "-m", "hmd", "-f", "2"], ("--output",)),
        (base + ["-m", "hmd", "-f", "2", "--bogus"], ("--bogus",)),
        (base + ["-m", "hmd", "-f", "100"], ("LSTM node 'l0_LSTM' fwd W", "hmd cannot reach",
                                             "closest reachable factor is 7.059x (r=0)")),
        (base + ["-m", "kron", "-f", "2.5"], ("kron cannot reach 2.5x",
                                              "closest reachable factor")),
        (base + ["-m", "hmd", "-f", "2", "--layers", "l7"], ("--layers 'l7'", "0 'l0_LSTM'")),
        (base + ["-m", "hmd", "-f", "2", "--layers", "2"], ("--layers '2'",)),
        (["compress", src, "-m", "hmd", "-f", "2", "-o", exists], ("already exists",
                                                                   "--force")),
        (["compress", src, "-m", "hmd", "-f", "2", "-o", tmp_path / "o.npz"], ("o.npz",)),
        (["compress", npz, "-m", "hmd", "-f", "2", "-o", out], ("out.onnx", ".npz")),
        (["compress", junk, "-m", "hmd", "-f", "2", "-o", out], ("junk.onnx",
                                                                  "not a readable ONNX")),
        (["compress", tmp_path / "none.onnx", "-m", "hmd", "-f", "2", "-o", out],
         ("none.onnx", "no such file")),
        (base + ["-m", "hmd", "-f", "2", "--eval", nolabels], ("nolabels.npz", "'y'")),
        (base + ["-m", "hmd", "-f", "2", "--eval", tmp_path / "nodata.npz"], ("nodata.npz",)),
    ]


def test_bad_options_and_input_one_line_exit_2_nothing_written(tmp_path):
    cases = bad_cases(tmp_path)
    before = {p.name for p in tmp_path.iterdir()}
    for args, needles in cases:
        r = rnngen(*args)
        assert_one_line_error(r, *needles)
        assert r.stdout == "", args
    assert {p.name for p in tmp_path.iterdir()} == before  # no output, no temporary file
    assert (tmp_path / "exists.onnx").read_bytes() == b"keep me"


def test_eval_data_that_does_not_fit_the_model(tmp_path):
    src = save_model(tmp_path, "LSTM")
    wrong = tmp_path / "wrong.npz"
    np.savez(wrong, x=np.zeros((3, 6, 8), F32), y=np.zeros(3, np.int64))
    r = rnngen("compress", src, "-m", "hmd", "-f", "2", "-o", tmp_path / "o.onnx",
               "--eval", wrong)
    assert_one_line_error(r, "wrong.npz", "(6, 8)")
    labels = tmp_path / "labels.npz"
    np.savez(labels, x=np.zeros((3, 6, 20), F32), y=np.array([0, 1, 99]))
    r = rnngen("compress", src, "-m", "hmd", "-f", "2", "-o", tmp_path / "o.onnx",
               "--eval", labels)
    assert_one_line_error(r, "label 99")
    assert not (tmp_path / "o.onnx").exists()


def test_force_replaces(tmp_path):
    src = save_model(tmp_path, "RNN")
    out = tmp_path / "o.onnx"
    out.write_bytes(b"old")
    r = rnngen("compress", src, "-m", "csr", "-f", "4", "-o", out, "--force")
    assert r.returncode == 0, r.stderr
    m = onnx.load(str(out))
    assert len(m.graph.sparse_initializer) == 4 and m.ir_version >= 6
