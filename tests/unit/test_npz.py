"""The .npz format: writer (rnngen.npz) and frontend (rnngen.frontends.numpy).

- round trips: what save writes is what load reads;
- every error path of the frontend and the writer gives a one-line RnngenError naming the
  file, layer and field (bad files never give a traceback);
- the IR built from an npz, run by rnngen.reference, matches PyTorch's own modules
  (LSTM/GRU/RNN, 1-2 layers, bidirectional, Linear+Softmax heads, outputs "sequence" and
  "last") within atol 1e-5, and onnxruntime for what PyTorch cannot express (ONNX GRU with
  linear_before_reset=0).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rnngen.npz as rn
import torch
from rnngen import ir, pipeline, reference
from rnngen.errors import RnngenError, UnsupportedModel
from rnngen.frontends import load
from rnngen.frontends import numpy as npz_frontend

ATOL = 1e-5


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def _w(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return rng.uniform(-0.5, 0.5, size=shape).astype(np.float32)


def _run(path: Path, x: np.ndarray, seq_len: int | None = None) -> np.ndarray:
    g = load(path, seq_len)
    ir.verify(g)
    return reference.run(g, x)["output"]


# ============================================================ round trips

def test_save_writes_manifest_and_named_float32_arrays(tmp_path):
    rng = _rng()
    W, R = rng.normal(size=(16, 3)), rng.normal(size=(16, 4))  # float64 on purpose
    p = rn.save(tmp_path / "m.npz", [
        rn.lstm(W, R, np.ones(16), np.zeros(16), gate_order="pytorch", name="enc"),
        rn.dense(_w(rng, 2, 4), _w(rng, 2), activation="tanh"),
        rn.softmax(),
    ], seq_len=6, output="last", name="My Model")
    assert p == tmp_path / "m.npz"
    z = np.load(p, allow_pickle=False)
    m = json.loads(str(z["__rnngen__"]))
    assert m == {
        "format_version": 1, "name": "My Model", "input_size": 3, "seq_len": 6,
        "output": "last",
        "layers": [
            {"type": "lstm", "input_size": 3, "hidden_size": 4, "direction": "forward",
             "gate_order": "pytorch", "name": "enc",
             "directions": [{"W": {"format": "dense", "w": "layer0.W"},
                             "R": {"format": "dense", "w": "layer0.R"},
                             "b_ih": "layer0.b_ih", "b_hh": "layer0.b_hh"}]},
            {"type": "dense", "W": {"format": "dense", "w": "layer1.W"}, "b": "layer1.b",
             "activation": "tanh"},
            {"type": "softmax"},
        ]}
    assert sorted(z.files) == sorted(["__rnngen__", "layer0.W", "layer0.R", "layer0.b_ih",
                                      "layer0.b_hh", "layer1.W", "layer1.b"])
    assert all(z[k].dtype == np.float32 for k in z.files if k != "__rnngen__")
    np.testing.assert_array_equal(z["layer0.W"], W.astype(np.float32))
    g = load(p)
    assert g.name == "my_model"
    assert g.input == "input" and g.outputs == ("output",)
    assert g.shapes["input"] == (6, 1, 3) and g.shapes["output"] == (1, 2)
    assert g.input_time_axis == 0 and g.seq_len == 6
    rec = g.nodes[0]
    assert isinstance(rec, ir.Recurrent) and rec.name == "enc" and rec.layout == 0
    # i,f,g,o -> i,o,f,c; b_ih/b_hh -> the W and R halves of ONNX's B
    Wf = W.astype(np.float32)
    np.testing.assert_array_equal(rec.directions[0].W.w,
                                  np.concatenate([Wf[0:4], Wf[12:16], Wf[4:8], Wf[8:12]]))
    np.testing.assert_array_equal(rec.directions[0].wb, np.ones(16, np.float32))
    np.testing.assert_array_equal(rec.directions[0].rb, np.zeros(16, np.float32))
    np.testing.assert_array_equal(rec.directions[0].c0, np.zeros(4, np.float32))


def test_name_defaults_to_file_stem_and_extra_arrays_are_ignored(tmp_path):
    rng = _rng()
    layers = [rn.rnn(_w(rng, 5, 2), _w(rng, 5, 5))]
    manifest, arrays = rn.manifest_and_arrays(layers, seq_len=3)
    p = tmp_path / "3-Axis HAR.npz"
    np.savez(p, __rnngen__=np.array(json.dumps(manifest)), extra_stats=np.arange(4), **arrays)
    g = load(p)
    assert g.name == "m_3_axis_har"
    assert g.shapes["output"] == (3, 1, 5)


def test_seq_len_from_manifest_or_option(tmp_path):
    rng = _rng()
    layers = [rn.gru(_w(rng, 9, 2), _w(rng, 9, 3), gate_order="onnx",
                     linear_before_reset=False)]
    p = rn.save(tmp_path / "a.npz", layers, seq_len=4)
    assert load(p).seq_len == 4
    assert load(p, 11).shapes["input"] == (11, 1, 2)  # --seq-len overrides
    q = rn.save(tmp_path / "b.npz", layers)  # no default: --seq-len supplies it
    assert load(q, 7).seq_len == 7
    with pytest.raises(RnngenError, match=r"b\.npz: manifest: no sequence length .*--seq-len"):
        load(q)


def test_bidirectional_pair_and_leading_axis_forms_are_the_same(tmp_path):
    rng = _rng(3)
    W, R, b = _w(rng, 2, 12, 3), _w(rng, 2, 12, 4), _w(rng, 2, 12)
    a = rn.save(tmp_path / "a.npz", [rn.gru(W, R, b, b, gate_order="pytorch",
                                            linear_before_reset=True,
                                            direction="bidirectional")], seq_len=5)
    c = rn.save(tmp_path / "c.npz", [rn.gru((W[0], W[1]), [R[0], R[1]], (b[0], b[1]),
                                            (b[0], b[1]), gate_order="pytorch",
                                            linear_before_reset=True,
                                            direction="bidirectional")], seq_len=5)
    assert "layer0.bwd.R" in np.load(a).files
    x = _w(rng, 5, 1, 3)
    np.testing.assert_array_equal(_run(a, x), _run(c, x))
    g = load(a)
    assert [d.reverse for d in g.nodes[0].directions] == [False, True]
    assert [type(n).__name__ for n in g.nodes] == ["Recurrent", "Transpose", "View"]
    assert g.nodes[1].perm == (0, 2, 1, 3)
    assert g.shapes["output"] == (5, 1, 8)


def test_torch_tensors_are_accepted_by_helpers(tmp_path):
    torch.manual_seed(0)
    fc = torch.nn.Linear(3, 2)  # parameters require grad
    p = rn.save(tmp_path / "d.npz", [rn.dense(fc.weight, fc.bias, activation="sigmoid")],
                seq_len=2)
    x = _w(_rng(), 2, 1, 3)
    with torch.no_grad():
        want = torch.sigmoid(fc(torch.from_numpy(x))).numpy()
    np.testing.assert_allclose(_run(p, x), want, atol=ATOL)


def test_save_refuses_bad_models_and_writes_nothing(tmp_path):
    rng = _rng()
    bad = [rn.lstm(_w(rng, 8, 3), _w(rng, 8, 2), gate_order="pytorch"),  # H=2: W needs 8 rows
           rn.dense(_w(rng, 4, 3))]  # the LSTM gives 2 features, not 3
    with pytest.raises(RnngenError, match=r"m\.npz: layer 1 \(dense\) W\.w: array 'layer1\.W' "
                                          r"has shape \(4, 3\), expected \(\?, 2\)"):
        rn.save(tmp_path / "m.npz", bad, seq_len=3)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(RnngenError, match=r"x\.onnx: the file name must end in \.npz"):
        rn.save(tmp_path / "x.onnx", bad[:1])
    with pytest.raises(RnngenError, match="output' is 'all'"):
        rn.save(tmp_path / "m.npz", bad[:1], seq_len=3, output="all")
    with pytest.raises(RnngenError, match="wrap it in"):
        rn.save(tmp_path / "m.npz", bad[0], seq_len=3)
    with pytest.raises(RnngenError, match="layer 1 is a str"):
        rn.save(tmp_path / "m.npz", [bad[0], "relu"], seq_len=3)
    with pytest.raises(RnngenError, match=r"manifest: field 'seq_len' must be a positive "):
        rn.save(tmp_path / "m.npz", bad[:1], seq_len=0)
    assert list(tmp_path.iterdir()) == []


def test_save_accepts_numpy_integers(tmp_path):
    x = np.zeros((7, 1, 3))
    rng = _rng()
    p = rn.save(tmp_path / "m.npz", [rn.rnn(_w(rng, 2, 3), _w(rng, 2, 2))],
                input_size=np.int64(3), seq_len=x.shape[0] * np.int32(1))
    assert load(p).seq_len == 7


def test_writer_helper_errors():
    rng = _rng()
    W, R = _w(rng, 8, 3), _w(rng, 8, 2)
    with pytest.raises(RnngenError, match="direction='sideways'"):
        rn.lstm(W, R, gate_order="onnx", direction="sideways")
    with pytest.raises(RnngenError, match=r"lstm W has shape \(8, 3\), expected \[2, \.\.\.\]"):
        rn.lstm(W, R, gate_order="onnx", direction="bidirectional")
    with pytest.raises(RnngenError, match="got 3 per-direction values, expected 2"):
        rn.lstm([W, W, W], [R, R], gate_order="onnx", direction="bidirectional")
    with pytest.raises(RnngenError, match="dtype <U1, expected numbers"):
        rn.dense(np.array([["a"]]))
    with pytest.raises(TypeError):
        rn.lstm(W, R)  # gate_order has no default on purpose


def test_compressed_matrix_entries_pass_through_the_writer(tmp_path):
    """The writer stores any {"format": ...} entry's arrays; the reader names a format it
    does not know."""
    rng = _rng()
    entry = {"format": "lowrank", "u": _w(rng, 8, 1), "v": _w(rng, 1, 3)}
    manifest, arrays = rn.manifest_and_arrays(
        [rn.rnn(entry, _w(rng, 8, 8), input_size=3, hidden_size=8)], seq_len=2)
    assert manifest["layers"][0]["directions"][0]["W"] == {
        "format": "lowrank", "u": "layer0.W.u", "v": "layer0.W.v"}
    assert set(arrays) == {"layer0.W.u", "layer0.W.v", "layer0.R"}
    csr = {"format": "csr", "values": _w(rng, 3), "indices": np.array([0, 2, 1]),
           "indptr": np.array([0, 1, 3], np.int32)}
    _, arrays = rn.manifest_and_arrays([rn.dense(csr)])
    assert arrays["layer0.W.values"].dtype == np.float32
    assert arrays["layer0.W.indices"].dtype == np.int64  # index arrays stay integers
    assert arrays["layer0.W.indptr"].dtype == np.int32
    rn.save(tmp_path / "m.npz", [rn.rnn(entry, _w(rng, 8, 8))], seq_len=2)  # sizes inferred
    unknown = {"format": "circulant", "c": _w(rng, 8)}
    with pytest.raises(UnsupportedModel, match=r"m\.npz: layer 0 \(rnn\) directions\[0\]\.W: "
                                               r"matrix format 'circulant' is not supported"):
        rn.save(tmp_path / "m.npz", [rn.rnn(unknown, _w(rng, 8, 8), input_size=3,
                                            hidden_size=8)], seq_len=2)


# ============================================================ reference vs PyTorch

def _torch_cell(cell: str, I: int, H: int, layers: int, bidir: bool, bias: bool = True):
    if cell.startswith("rnn"):
        return torch.nn.RNN(I, H, num_layers=layers, bidirectional=bidir, bias=bias,
                            nonlinearity=cell.split("_")[1])
    cls = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell]
    return cls(I, H, num_layers=layers, bidirectional=bidir, bias=bias)


CELLS = ["lstm", "gru", "rnn_tanh", "rnn_relu"]


@pytest.mark.parametrize("output", ["sequence", "last"])
@pytest.mark.parametrize("bidir", [False, True], ids=["uni", "bidir"])
@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("cell", CELLS)
def test_reference_matches_pytorch(tmp_path, cell, layers, bidir, output):
    torch.manual_seed(layers * 10 + bidir)
    I, H, T, C = 5, 7, 9, 4
    rnn = _torch_cell(cell, I, H, layers, bidir).eval()
    fc = torch.nn.Linear(H * (2 if bidir else 1), C)
    p = rn.save(tmp_path / "m.npz", rn.from_torch(rnn, fc, torch.nn.Softmax(dim=-1)),
                input_size=I, seq_len=T, output=output)
    x = torch.randn(T, 1, I)
    with torch.no_grad():
        y, _ = rnn(x)
        want = torch.softmax(fc(y if output == "sequence" else y[-1]), dim=-1).numpy()
    got = _run(p, x.numpy())
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, atol=ATOL, rtol=0)
    # the hidden states themselves, without the squashing softmax
    q = rn.save(tmp_path / "h.npz", rn.from_torch(rnn), seq_len=T, output=output)
    np.testing.assert_allclose(_run(q, x.numpy()),
                               (y if output == "sequence" else y[-1]).numpy(), atol=ATOL,
                               rtol=0)


@pytest.mark.parametrize("cell", CELLS)
def test_reference_matches_pytorch_without_bias_and_with_mlp_head(tmp_path, cell):
    torch.manual_seed(5)
    rnn = _torch_cell(cell, 4, 6, 1, False, bias=False).eval()
    head = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.ReLU(), torch.nn.Dropout(0.5),
                               torch.nn.Linear(8, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3),
                               torch.nn.Sigmoid(), torch.nn.Linear(3, 3),
                               torch.nn.LogSoftmax(dim=2)).eval()
    layers = rn.from_torch(rnn, head)
    assert [lay["type"] for lay in layers] == ["rnn" if cell.startswith("rnn") else cell,
                                               "dense", "relu", "dense", "tanh", "dense",
                                               "sigmoid", "dense", "log_softmax"]
    assert "b_ih" not in layers[0]["directions"][0]
    p = rn.save(tmp_path / "m.npz", layers, seq_len=6)
    x = torch.randn(6, 1, 4)
    with torch.no_grad():
        want = head(rnn(x)[0]).numpy()
    np.testing.assert_allclose(_run(p, x.numpy()), want, atol=ATOL, rtol=0)


def test_initial_states_and_onnx_gate_order_match_pytorch(tmp_path):
    torch.manual_seed(1)
    H, I, T = 5, 3, 8
    lstm = torch.nn.LSTM(I, H).eval()
    h0, c0 = torch.randn(1, 1, H), torch.randn(1, 1, H)
    x = torch.randn(T, 1, I)
    with torch.no_grad():
        want = lstm(x, (h0, c0))[0].numpy()
    W, R = lstm.weight_ih_l0.detach().numpy(), lstm.weight_hh_l0.detach().numpy()
    b_ih, b_hh = lstm.bias_ih_l0.detach().numpy(), lstm.bias_hh_l0.detach().numpy()
    onnx_rows = np.concatenate([np.arange(0, H), np.arange(3 * H, 4 * H),
                                np.arange(H, 2 * H), np.arange(2 * H, 3 * H)])  # i,o,f,c
    for order, rows in (("pytorch", slice(None)), ("onnx", onnx_rows)):
        p = rn.save(tmp_path / f"{order}.npz",
                    [rn.lstm(W[rows], R[rows], b_ih[rows], b_hh[rows], gate_order=order,
                             h0=h0.reshape(H), c0=c0.reshape(H).numpy())], seq_len=T)
        np.testing.assert_allclose(_run(p, x.numpy()), want, atol=ATOL, rtol=0)

    gru = torch.nn.GRU(I, H).eval()
    with torch.no_grad():
        want = gru(x, h0)[0].numpy()
    W, R = gru.weight_ih_l0.detach().numpy(), gru.weight_hh_l0.detach().numpy()
    b_ih, b_hh = gru.bias_ih_l0.detach().numpy(), gru.bias_hh_l0.detach().numpy()
    zrh = np.concatenate([np.arange(H, 2 * H), np.arange(0, H), np.arange(2 * H, 3 * H)])
    p = rn.save(tmp_path / "gru.npz", [rn.gru(W[zrh], R[zrh], b_ih[zrh], b_hh[zrh],
                                              gate_order="onnx", linear_before_reset=True,
                                              h0=h0.reshape(H))], seq_len=T)
    np.testing.assert_allclose(_run(p, x.numpy()), want, atol=ATOL, rtol=0)


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn_tanh"])
def test_reverse_direction_matches_pytorch_on_flipped_input(tmp_path, cell):
    """PyTorch has no reverse-only layer: a reverse layer on x is a forward one on flip(x)."""
    torch.manual_seed(2)
    rnn = _torch_cell(cell, 3, 4, 1, False).eval()
    layers = rn.from_torch(rnn)
    layers[0]["direction"] = "reverse"
    p = rn.save(tmp_path / "m.npz", layers, seq_len=7)
    x = torch.randn(7, 1, 3)
    with torch.no_grad():
        want = rnn(torch.flip(x, [0]))[0].flip(0).numpy()
    np.testing.assert_allclose(_run(p, x.numpy()), want, atol=ATOL, rtol=0)


def test_gru_without_linear_before_reset_matches_onnxruntime(tmp_path):
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    rng = _rng(4)
    I, H, T = 3, 5, 6
    W, R, b_ih, b_hh = _w(rng, 3 * H, I), _w(rng, 3 * H, H), _w(rng, 3 * H), _w(rng, 3 * H)
    x = _w(rng, T, 1, I)
    node = helper.make_node("GRU", ["X", "W", "R", "B"], ["Y"], hidden_size=H,
                            linear_before_reset=0)
    graph = helper.make_graph(
        [node], "g", [helper.make_tensor_value_info("X", TensorProto.FLOAT, [T, 1, I])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [T, 1, 1, H])],
        [numpy_helper.from_array(W[None], "W"), numpy_helper.from_array(R[None], "R"),
         numpy_helper.from_array(np.concatenate([b_ih, b_hh])[None], "B")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    want = sess.run(None, {"X": x})[0].reshape(T, 1, H)
    p = rn.save(tmp_path / "m.npz", [rn.gru(W, R, b_ih, b_hh, gate_order="onnx",
                                            linear_before_reset=False)], seq_len=T)
    np.testing.assert_allclose(_run(p, x), want, atol=ATOL, rtol=0)
    # PyTorch gate order r,z,n of the same weights gives the same model
    rzn = np.concatenate([np.arange(H, 2 * H), np.arange(0, H), np.arange(2 * H, 3 * H)])
    q = rn.save(tmp_path / "q.npz", [rn.gru(W[rzn], R[rzn], b_ih[rzn], b_hh[rzn],
                                            gate_order="pytorch",
                                            linear_before_reset=False)], seq_len=T)
    np.testing.assert_allclose(_run(q, x), want, atol=ATOL, rtol=0)


def test_dense_first_layer_and_last_output_without_recurrent_layers(tmp_path):
    torch.manual_seed(3)
    proj, gru, fc = torch.nn.Linear(6, 4), torch.nn.GRU(4, 5), torch.nn.Linear(5, 2)
    p = rn.save(tmp_path / "m.npz", rn.from_torch(proj, torch.nn.ReLU(), gru, fc),
                seq_len=5, output="last")
    x = torch.randn(5, 1, 6)
    with torch.no_grad():
        want = fc(gru(torch.relu(proj(x)))[0][-1]).numpy()
    np.testing.assert_allclose(_run(p, x.numpy()), want, atol=ATOL, rtol=0)
    q = rn.save(tmp_path / "q.npz", rn.from_torch(proj), seq_len=5, output="last")
    with torch.no_grad():
        want = proj(x[-1]).numpy()
    assert load(q).shapes["output"] == (1, 4)
    np.testing.assert_allclose(_run(q, x.numpy()), want, atol=ATOL, rtol=0)


@pytest.mark.parametrize("bidir,output,streaming", [
    (False, "sequence", True), (False, "last", True), (True, "last", False),
])
def test_pipeline_streaming(tmp_path, bidir, output, streaming):
    torch.manual_seed(0)
    lstm, fc = torch.nn.LSTM(3, 4, num_layers=2, bidirectional=bidir), torch.nn.Linear(
        8 if bidir else 4, 2)
    p = rn.save(tmp_path / "m.npz", rn.from_torch(lstm, fc, torch.nn.Softmax(-1)), seq_len=6,
                output=output)
    g = pipeline.compile_model(p, pipeline.Options())
    assert g.streaming is streaming, g.not_streaming_why
    if streaming:
        # the one-step graph, fed step by step, gives the whole-sequence result
        x = _w(_rng(), 6, 1, 3)
        whole = reference.run(g, x)["output"]
        ex = reference.Executor(g.step)
        steps = [ex.run(x[t])["output"] for t in range(6)]
        if output == "sequence":
            np.testing.assert_allclose(np.concatenate(steps), whole, atol=1e-6)
        else:
            np.testing.assert_allclose(steps[-1], whole, atol=1e-6)
    else:
        assert "bidirectional" in g.not_streaming_why


# ============================================================ from_torch refusals

def test_from_torch_refusals():
    with pytest.raises(RnngenError, match="proj_size=2"):
        rn.from_torch(torch.nn.LSTM(3, 4, proj_size=2))
    with pytest.raises(RnngenError, match=r"Softmax\(dim=None\) .* use Softmax\(dim=-1\)"):
        rn.from_torch(torch.nn.Softmax())
    with pytest.raises(RnngenError, match=r"LogSoftmax\(dim=0\)"):
        rn.from_torch(torch.nn.LogSoftmax(dim=0))
    with pytest.raises(RnngenError, match="Conv1d is not a layer rnngen converts"):
        rn.from_torch(torch.nn.Linear(2, 2), torch.nn.Conv1d(2, 2, 1))

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = torch.nn.LSTM(2, 2)

    with pytest.raises(RnngenError, match="Net is not a layer .* in order"):
        rn.from_torch(Net())
    with pytest.raises(RnngenError, match="LSTMCell is not a layer"):
        rn.from_torch(torch.nn.LSTMCell(2, 2))


def test_from_torch_dropout_and_batch_first_do_not_matter(tmp_path):
    torch.manual_seed(4)
    a = torch.nn.GRU(3, 4, num_layers=2, dropout=0.3, batch_first=True).eval()
    layers = rn.from_torch(a)
    assert len(layers) == 2 and layers[1]["input_size"] == 4
    p = rn.save(tmp_path / "m.npz", layers, seq_len=5)
    x = torch.randn(1, 5, 3)
    with torch.no_grad():
        want = a(x)[0].numpy().reshape(5, 1, 4)
    np.testing.assert_allclose(_run(p, x.numpy()), want, atol=ATOL, rtol=0)


# ============================================================ frontend errors

def _good() -> tuple[dict, dict[str, np.ndarray]]:
    """A valid manifest (bidirectional GRU -> LSTM -> dense -> softmax) and its arrays."""
    rng = _rng(9)
    layers = [
        rn.gru(_w(rng, 2, 12, 3), _w(rng, 2, 12, 4), _w(rng, 2, 12), _w(rng, 2, 12),
               gate_order="pytorch", linear_before_reset=True, direction="bidirectional",
               h0=_w(rng, 2, 4)),
        rn.lstm(_w(rng, 20, 8), _w(rng, 20, 5), _w(rng, 20), gate_order="pytorch",
                c0=_w(rng, 5)),
        rn.dense(_w(rng, 2, 5), _w(rng, 2), activation="relu"),
        rn.softmax(),
    ]
    return rn.manifest_and_arrays(layers, seq_len=4)


def _write(path: Path, manifest, arrays) -> Path:
    text = manifest if isinstance(manifest, str) else json.dumps(manifest)
    np.savez(path, __rnngen__=np.array(text), **arrays)
    return path


def test_good_fixture_loads(tmp_path):
    g = load(_write(tmp_path / "m.npz", *_good()))
    assert g.shapes["output"] == (4, 1, 2)


def _set(path: list, value):
    def edit(m, a):
        obj = m
        for k in path[:-1]:
            obj = obj[k]
        if value is _DEL:
            del obj[path[-1]]
        else:
            obj[path[-1]] = value
    return edit


_DEL = object()
L0D0 = ["layers", 0, "directions", 0]


def _arr(name: str, value):
    def edit(m, a):
        if value is _DEL:
            del a[name]
        else:
            a[name] = value
    return edit


MANIFEST_ERRORS = [
    # (id, edit, expected message after "<path>: ")
    ("version-missing", _set(["format_version"], _DEL), ("manifest: missing field "
                                                        "'format_version'")),
    ("version-newer", _set(["format_version"], 2), ("manifest: format_version 2 is newer than "
                                                   "this rnngen reads (1); upgrade rnngen")),
    ("version-str", _set(["format_version"], "1"), ("manifest: field 'format_version' must be "
                                                   "a positive integer, got '1'")),
    ("unknown-top", _set(["layer"], []), ("manifest: unknown field 'layer' (format version 1 "
                                         "has: format_version, input_size, layers, name, "
                                         "output, seq_len)")),
    ("input-size-missing", _set(["input_size"], _DEL), ("manifest: missing field "
                                                       "'input_size'")),
    ("input-size-zero", _set(["input_size"], 0), ("manifest: field 'input_size' must be a "
                                                 "positive integer, got 0")),
    ("input-size-bool", _set(["input_size"], True), ("manifest: field 'input_size' must be a "
                                                    "positive integer, got True")),
    ("seq-len-float", _set(["seq_len"], 2.5), ("manifest: field 'seq_len' must be a positive "
                                              "integer, got 2.5")),
    ("output-bad", _set(["output"], "all"), ("manifest: field 'output' is 'all', expected one "
                                            "of 'sequence', 'last'")),
    ("name-empty", _set(["name"], " "), ("manifest: field 'name' must be a non-empty string, "
                                       "got ' '")),
    ("layers-empty", _set(["layers"], []), ("manifest: field 'layers' must be a non-empty list "
                                           "of layers")),
    ("layers-object", _set(["layers"], {}), ("manifest: field 'layers' must be a non-empty "
                                            "list of layers")),
    ("layer-not-object", _set(["layers", 3], "softmax"), ("layer 3: expected a JSON object, "
                                                         "got a string")),
    ("type-missing", _set(["layers", 3, "type"], _DEL), "layer 3: missing field 'type'"),
    ("type-unknown", _set(["layers", 3, "type"], "conv1d"),
     ("layer 3: unknown layer type 'conv1d' (known: lstm, gru, rnn, fastrnn, fastgrnn, sru, "
     "dense, relu, tanh, sigmoid, softmax, log_softmax)")),
    ("layer-name-dup", lambda m, a: (m["layers"][2].update(name="x"),
                                     m["layers"][3].update(name="x")),
     "layer 3 (softmax): layer name 'x' is used twice"),
    ("softmax-extra", _set(["layers", 3, "axis"], 1), ("layer 3 (softmax): unknown field "
                                                      "'axis' (format version 1 has: name, "
                                                      "type)")),
    ("hidden-missing", _set(["layers", 1, "hidden_size"], _DEL),
     "layer 1 (lstm): missing field 'hidden_size'"),
    ("gate-order-missing", _set(["layers", 1, "gate_order"], _DEL),
     "layer 1 (lstm): missing field 'gate_order'"),
    ("gate-order-bad", _set(["layers", 1, "gate_order"], "keras"),
     "layer 1 (lstm): field 'gate_order' is 'keras', expected one of 'onnx', 'pytorch'"),
    ("lbr-missing", _set(["layers", 0, "linear_before_reset"], _DEL),
     "layer 0 (gru): missing field 'linear_before_reset'"),
    ("lbr-int", _set(["layers", 0, "linear_before_reset"], 1),
     "layer 0 (gru): field 'linear_before_reset' must be true or false, got 1"),
    ("nonlinearity-on-lstm", _set(["layers", 1, "nonlinearity"], "relu"),
     ("layer 1 (lstm): unknown field 'nonlinearity' (format version 1 has: direction, "
     "directions, gate_order, hidden_size, input_size, name, type)")),
    ("direction-bad", _set(["layers", 1, "direction"], "both"),
     ("layer 1 (lstm): field 'direction' is 'both', expected one of 'forward', 'reverse', "
     "'bidirectional'")),
    ("directions-count", _set(["layers", 0, "direction"], "forward"),
     ("layer 0 (gru): field 'directions' must be a list of 1 entry for direction 'forward', "
     "got 2")),
    ("directions-count-bidir", _set(["layers", 1, "direction"], "bidirectional"),
     ("layer 1 (lstm): field 'directions' must be a list of 2 entries for direction "
     "'bidirectional' (forward, then backward), got 1")),
    ("input-size-chain", _set(["layers", 1, "input_size"], 4),
     "layer 1 (lstm): input_size is 4 but its input has 8 features (from the layer before)"),
    ("input-size-first", _set(["input_size"], 5),
     ("layer 0 (gru): input_size is 3 but its input has 5 features (from the model's "
     "input_size)")),
    ("direction-entry-extra", _set(L0D0 + ["c0"], "layer1.c0"),
     ("layer 0 (gru) directions[0]: unknown field 'c0' (format version 1 has: R, W, b_hh, "
     "b_ih, h0)")),
    ("W-missing", _set(["layers", 1, "directions", 0, "W"], _DEL),
     "layer 1 (lstm) directions[0]: missing field 'W'"),
    ("matrix-string", _set(L0D0 + ["W"], "layer0.fwd.W"),
     ("layer 0 (gru) directions[0].W: expected a matrix entry like {\"format\": \"dense\", "
     "\"w\": \"array name\"}, got a string")),
    ("matrix-format-missing", _set(L0D0 + ["W", "format"], _DEL),
     "layer 0 (gru) directions[0].W: missing field 'format'"),
    ("matrix-format-unknown", _set(L0D0 + ["R", "format"], "circulant"),
     ("layer 0 (gru) directions[0].R: matrix format 'circulant' is not supported (this rnngen "
     "reads 'dense', 'hmd', 'csr', 'lowrank', 'kron', 'stack')")),
    ("matrix-extra", _set(L0D0 + ["R", "scale"], 2),
     ("layer 0 (gru) directions[0].R: unknown field 'scale' (format version 1 has: format, "
     "w)")),
    ("matrix-w-missing", _set(L0D0 + ["R", "w"], _DEL),
     "layer 0 (gru) directions[0].R: missing field 'w'"),
    ("array-name-number", _set(L0D0 + ["b_ih"], 3),
     ("layer 0 (gru) directions[0].b_ih: expected the name of an array (a string), got a "
     "number")),
    ("array-name-manifest", _set(L0D0 + ["b_ih"], "__rnngen__"),
     "layer 0 (gru) directions[0].b_ih: '__rnngen__' is the manifest, not a weight array"),
    ("array-missing", _arr("layer1.R", _DEL),
     "layer 1 (lstm) directions[0].R.w: array 'layer1.R' is not in the archive"),
    ("array-shape", _arr("layer0.bwd.R", np.zeros((12, 3), np.float32)),
     ("layer 0 (gru) directions[1].R.w: array 'layer0.bwd.R' has shape (12, 3), expected "
     "(12, 4) = [3*hidden_size, hidden_size]")),
    ("array-rank", _arr("layer1.b_ih", np.zeros((1, 20), np.float32)),
     ("layer 1 (lstm) directions[0].b_ih: array 'layer1.b_ih' has shape (1, 20), expected "
     "(20,) = [4*hidden_size]")),
    ("h0-shape", _arr("layer0.bwd.h0", np.zeros(5, np.float32)),
     ("layer 0 (gru) directions[1].h0: array 'layer0.bwd.h0' has shape (5,), expected (4,) = "
     "[hidden_size]")),
    ("array-int", _arr("layer1.c0", np.zeros(5, np.int32)),
     ("layer 1 (lstm) directions[0].c0: array 'layer1.c0' has dtype int32, expected floating "
     "point")),
    ("array-pickled", _arr("layer2.b", np.array([{"a": 1}, None], dtype=object)),
     ("array 'layer2.b' cannot be read (Object arrays cannot be loaded when "
     "allow_pickle=False)")),
    ("dense-W-cols", _arr("layer2.W", np.zeros((2, 4), np.float32)),
     ("layer 2 (dense) W.w: array 'layer2.W' has shape (2, 4), expected (?, 5) = "
     "[out_features, in_features]")),
    ("dense-b", _arr("layer2.b", np.zeros(3, np.float32)),
     "layer 2 (dense) b: array 'layer2.b' has shape (3,), expected (2,) = [out_features]"),
    ("dense-activation", _set(["layers", 2, "activation"], "gelu"),
     ("layer 2 (dense): field 'activation' is 'gelu', expected one of 'relu', 'tanh', "
     "'sigmoid'")),
    ("dense-W-empty", _arr("layer2.W", np.zeros((0, 5), np.float32)),
     "layer 2 (dense) W.w: array 'layer2.W' is empty (shape (0, 5))"),
    ("layer-name-empty", _set(["layers", 2, "name"], ""),
     "layer 2 (dense): field 'name' must be a non-empty string, got ''"),
    ("dense-W-missing", _set(["layers", 2, "W"], _DEL), "layer 2 (dense): missing field 'W'"),
]


@pytest.mark.parametrize("edit,message", [c[1:] for c in MANIFEST_ERRORS],
                         ids=[c[0] for c in MANIFEST_ERRORS])
def test_frontend_error(tmp_path, edit, message):
    m, a = _good()
    edit(m, a)
    p = _write(tmp_path / "m.npz", m, a)
    with pytest.raises(RnngenError) as e:
        load(p)
    msg = str(e.value)
    assert "\n" not in msg
    assert msg == f"{p}: {message}", msg


def test_format_errors_are_unsupported_model(tmp_path):
    m, a = _good()
    m["layers"][1]["directions"][0]["W"]["format"] = "circulant"
    with pytest.raises(UnsupportedModel):
        load(_write(tmp_path / "m.npz", m, a))


def _npy_bytes(arr: np.ndarray) -> bytes:
    import io

    buf = io.BytesIO()
    np.save(buf, arr)
    return buf.getvalue()


FILE_ERRORS = [
    ("not-zip", lambda p: p.write_bytes(b"hello, not a zip file at all"),
     "not a readable .npz archive"),
    ("empty", lambda p: p.write_bytes(b""), "not a readable .npz archive"),
    ("npy", lambda p: p.write_bytes(_npy_bytes(np.zeros(3))),
     "not an .npz archive (a single .npy array); write rnngen models with rnngen.npz.save"),
    ("plain-npz", lambda p: np.savez(p, W=np.zeros(3)),
     ("not an rnngen .npz (no '__rnngen__' manifest array; write models with "
     "rnngen.npz.save, see docs/npz-format.md)")),
    ("manifest-float", lambda p: np.savez(p, __rnngen__=np.zeros(2)),
     ("manifest '__rnngen__' must be one string (np.array(json_text)), got an array of "
     "float64 with shape (2,)")),
    ("manifest-pickled", lambda p: np.savez(p, __rnngen__=np.array({"a": 1})),
     ("manifest '__rnngen__' cannot be read (Object arrays cannot be loaded when "
     "allow_pickle=False)")),
    ("manifest-bad-json", lambda p: _write(p, '{"format_version": 1,', {}),
     ("manifest '__rnngen__' is not valid JSON (Expecting property name enclosed in double "
     "quotes: line 1 column 22 (char 21))")),
    ("manifest-list", lambda p: _write(p, "[1, 2]", {}),
     "manifest '__rnngen__' must be a JSON object, got a list"),
    ("manifest-bytes-bad-utf8", lambda p: np.savez(p, __rnngen__=np.array(b"\xff\xfe")),
     "manifest '__rnngen__' is not UTF-8 text"),
]


@pytest.mark.parametrize("make,message", [c[1:] for c in FILE_ERRORS],
                         ids=[c[0] for c in FILE_ERRORS])
def test_file_error(tmp_path, make, message):
    p = tmp_path / "m.npz"
    make(p)
    with pytest.raises(RnngenError) as e:
        load(p)
    msg = str(e.value)
    assert "\n" not in msg
    assert msg.startswith(f"{p}: {message}"), msg


def test_manifest_as_bytes_is_read(tmp_path):
    m, a = _good()
    p = tmp_path / "m.npz"
    np.savez(p, __rnngen__=np.array(json.dumps(m).encode()), **a)
    assert load(p).shapes["output"] == (4, 1, 2)


def test_nan_weights_are_refused_by_validate(tmp_path):
    m, a = _good()
    a["layer1.R"][3, 1] = np.nan
    p = _write(tmp_path / "m.npz", m, a)
    load(p)  # the frontend only parses
    with pytest.raises(RnngenError, match=r"m\.npz: LSTM node 'lstm1' R contains 1 NaN or Inf"):
        pipeline.compile_model(p, pipeline.Options())


def test_bad_seq_len_option(tmp_path):
    p = _write(tmp_path / "m.npz", *_good())
    with pytest.raises(RnngenError, match="--seq-len 0 must be a positive integer"):
        load(p, 0)


def test_damaged_archives_never_give_a_traceback(tmp_path):
    """Truncated or bit-flipped files: loading either works or raises RnngenError."""
    good = _write(tmp_path / "good.npz", *_good()).read_bytes()
    rng = _rng(11)
    variants = [good[:n] for n in rng.integers(1, len(good), 40)]
    for pos in rng.integers(0, len(good), 60):
        b = bytearray(good)
        b[pos] ^= 0xFF
        variants.append(bytes(b))
    errors = 0
    for k, data in enumerate(variants):
        p = tmp_path / f"v{k}.npz"
        p.write_bytes(data)
        try:
            g = load(p)
            ir.verify(g)
        except RnngenError as e:
            assert "\n" not in str(e)
            errors += 1
    assert errors >= 40  # every truncation fails; most flips are caught by CRC or parsing


def test_parse_reports_the_source_it_is_given():
    m, a = _good()
    del a["layer2.b"]
    with pytest.raises(RnngenError, match=r"^model\.npz: layer 2 \(dense\) b: array 'layer2\.b' "
                                          r"is not in the archive$"):
        npz_frontend.parse(m, a, "model.npz")


def test_null_optional_fields_mean_absent(tmp_path):
    m, a = _good()
    m.update(name=None, output=None)
    m["layers"][2].update(b=None, activation=None, name=None)
    m["layers"][1]["directions"][0]["c0"] = None
    g = load(_write(tmp_path / "m.npz", m, a))
    lin = next(n for n in g.nodes if isinstance(n, ir.Linear))
    assert lin.name == "dense2" and lin.b is None
    assert not any(isinstance(n, ir.Unary) for n in g.nodes)
    assert g.shapes["output"] == (4, 1, 2) and g.name == "m"


def test_node_names_are_unique_whatever_the_layer_names(tmp_path):
    m, a = _good()
    for lay, name in zip(m["layers"], ["lstm1_flatten", "lstm1", "gru0_transpose",
                                       "lstm1_flatten_1"]):
        lay["name"] = name
    m["output"] = "last"
    g = load(_write(tmp_path / "m.npz", m, a))
    names = [n.name for n in g.nodes]
    assert len(set(names)) == len(names), names
    assert [n.name for n in g.nodes if isinstance(n, ir.Recurrent)] == ["lstm1_flatten", "lstm1"]
    ir.verify(g)
