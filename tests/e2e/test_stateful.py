"""Stateful models (issue 12, item 2): run-time inputs that are recurrent state.

A PyTorch LSTM called as `model(x, (h0, c0))` with hn/cn outputs, a GRU with h0, and a
DTLN-style model whose one state tensor is sliced into two LSTMs' h/c and stacked back into a
state output, exported by both exporters. Checked the way a user does it: `rnngen verify
model.onnx --input in.npz --expect out.npz` with the inputs keyed by name and PyTorch's own
outputs as the oracle (set_state then run == the framework given those state inputs). The
generated test program checks the streaming contract from the set state (T `_step` calls ==
one `_run`, `_reset` + `_set_state` restores the start, the state carries over between
calls), that `_reset` gives the zero state, and that `_get_state` after the run equals the
reference's final state; here the reference's final state is checked against PyTorch's
hn/cn (and the DTLN state output), so get_state after a run == the model's state outputs.
"""

from __future__ import annotations

import json
import subprocess
import sys
import warnings

import numpy as np
import onnx
import onnx.helper as oh
import pytest

import torch

from rnngen import driver, pipeline, reference
from rnngen.errors import RnngenError


class LstmH0C0(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = torch.nn.LSTM(6, 12, batch_first=True)
        self.fc = torch.nn.Linear(12, 3)

    def forward(self, x, h0, c0):
        y, (h, c) = self.lstm(x, (h0, c0))
        return self.fc(y), h, c


class GruH0(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = torch.nn.GRU(6, 10)  # time first

    def forward(self, x, h0):
        y, h = self.gru(x, h0)
        return torch.tanh(y), h


class DtlnStyle(torch.nn.Module):
    """Two LSTMs whose states travel in one tensor [1, 2, H, 2] (layer, unit, h/c), as DTLN's
    ONNX export has them; the output is a mask (times the input with `times_input`)."""

    def __init__(self, times_input: bool = False):
        super().__init__()
        self.l1 = torch.nn.LSTM(6, 10, batch_first=True)
        self.l2 = torch.nn.LSTM(10, 10, batch_first=True)
        self.fc = torch.nn.Linear(10, 6)
        self.times_input = times_input

    def forward(self, x, state):
        h1, c1 = state[:, 0, :, 0].unsqueeze(0), state[:, 0, :, 1].unsqueeze(0)
        h2, c2 = state[:, 1, :, 0].unsqueeze(0), state[:, 1, :, 1].unsqueeze(0)
        y1, (h1n, c1n) = self.l1(x, (h1, c1))
        y2, (h2n, c2n) = self.l2(y1, (h2, c2))
        m = torch.sigmoid(self.fc(y2))
        st = torch.stack([torch.stack([h1n[0], c1n[0]], -1),
                          torch.stack([h2n[0], c2n[0]], -1)], 1)
        return (x * m if self.times_input else m), st


T = 7


def _case(kind: str):
    """(module, {input name: tensor}, output names, {state input: state output})"""
    g = torch.Generator().manual_seed(5)
    if kind == "lstm":
        # h in (-1, 1), as a tanh-bounded hidden state is (int8 cells need it there)
        ins = dict(x=torch.randn(1, T, 6, generator=g),
                   h0=torch.tanh(torch.randn(1, 1, 12, generator=g)),
                   c0=torch.randn(1, 1, 12, generator=g))
        return LstmH0C0(), ins, ["y", "hn", "cn"], {"h0": "hn", "c0": "cn"}
    if kind == "gru":
        ins = dict(x=torch.randn(T, 1, 6, generator=g),
                   h0=torch.tanh(torch.randn(1, 1, 10, generator=g)))
        return GruH0(), ins, ["y", "hn"], {"h0": "hn"}
    ins = dict(x=torch.randn(1, T, 6, generator=g),
               state=0.5 * torch.randn(1, 2, 10, 2, generator=g))
    return DtlnStyle(kind == "dtln_times_x"), ins, ["y", "state_out"], {"state": "state_out"}


def _export(tmp_path, kind: str, dynamo: bool):
    torch.manual_seed(11)
    m, ins, outs, pairs = _case(kind)
    m = m.eval()
    path = tmp_path / f"{kind}.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(m, tuple(ins.values()), str(path), dynamo=dynamo,
                          input_names=list(ins), output_names=outs)
    with torch.no_grad():
        got = m(*ins.values())
    np.savez(tmp_path / "in.npz", **{k: v.numpy() for k, v in ins.items()})
    np.savez(tmp_path / "out.npz", **{k: v.numpy() for k, v in zip(outs, got)})
    return path, {k: v.numpy() for k, v in ins.items()}, \
        {k: v.numpy() for k, v in zip(outs, got)}, pairs


def _verify(*args):
    return subprocess.run([sys.executable, "-m", "rnngen.cli", "verify", *args, "--json"],
                          capture_output=True, text=True)


def _check_reference_state(path, ins, outs, pairs, dtype="float32"):
    """The reference from the given state inputs: outputs and get_state after the run equal
    PyTorch's (float); the state the C's get_state is compared with is this one."""
    g = pipeline.compile_model(path, pipeline.Options())
    assert [s.name for s in g.state_inputs] == list(pairs)
    assert g.streaming, g.not_streaming_why
    state = {k: v for k, v in ins.items() if k != "x"}
    ex = reference.Executor(g)
    ex.set_state(state)
    res = ex.run(ins["x"])
    for o in outs:
        np.testing.assert_allclose(res[o], outs[o].reshape(res[o].shape), atol=2e-6)
    st = ex.get_state()
    for si, so in pairs.items():
        np.testing.assert_allclose(st[si].reshape(-1), outs[so].reshape(-1), atol=2e-6)
    ex.reset()  # _reset: zeros
    assert all(not np.any(v) for v in ex.get_state().values())


# every model from both exporters on the host, from the TorchScript exporter on the boards
# (the C does not depend on the exporter once the graph is the same; the suite's time budget)
CASES = [pytest.param(k, d, b, id=f"{k}-{'dynamo' if d else 'torchscript'}-{b}",
                      marks=() if b == "host" else (pytest.mark.qemu,))
         for k in ("lstm", "gru", "dtln") for d in (False, True)
         for b in ("host", "cortex-a73", "cortex-m4") if not (d and b != "host")]


@pytest.mark.parametrize("kind,dynamo,board", CASES)
def test_state_inputs_match_pytorch(tmp_path, kind, dynamo, board):
    path, ins, outs, pairs = _export(tmp_path, kind, dynamo)
    _check_reference_state(path, ins, outs, pairs)
    r = _verify(str(path), "--target", board, "--input", str(tmp_path / "in.npz"), "--expect",
                str(tmp_path / "out.npz"))
    assert r.returncode == 0, r.stdout + r.stderr
    rep = json.loads(r.stdout)
    assert rep["passed"] and rep["streaming"] and rep["stream_errors"] == 0, rep


@pytest.mark.parametrize("board", ["host", pytest.param("cortex-m4", marks=pytest.mark.qemu)])
@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_state_inputs_int8(tmp_path, kind, board):
    """int8: the C equals the integer reference bit for bit from the set state (outputs and
    get_state), and against PyTorch it is within the derived quantization tolerance."""
    path, ins, outs, pairs = _export(tmp_path, kind, False)
    # calibration: 16 sequences, each with its own state, drawn like the test's inputs
    rng = np.random.default_rng(9)
    draw = {"x": lambda s: rng.standard_normal(s), "h0": lambda s: np.tanh(rng.standard_normal(s)),
            "c0": lambda s: rng.standard_normal(s)}
    np.savez(tmp_path / "cal.npz", **{k: draw[k]((16, *v.shape)).astype(np.float32)
                                      for k, v in ins.items()})
    cal = ["--calibrate", str(tmp_path / "cal.npz")]
    r = _verify(str(path), "--target", board, "--dtype", "int8", "--input",
                str(tmp_path / "in.npz"), *cal)
    assert r.returncode == 0, r.stdout + r.stderr
    rep = json.loads(r.stdout)
    assert rep["passed"] and rep["streaming"] and rep["atol"] == 0.0, rep
    r = _verify(str(path), "--target", board, "--dtype", "int8", "--input",
                str(tmp_path / "in.npz"), "--expect", str(tmp_path / "out.npz"), *cal)
    assert r.returncode == 0, r.stdout + r.stderr
    rep = json.loads(r.stdout)
    assert rep["passed"] and 0 < rep["atol"] < 0.25, rep


def test_state_set_and_get_in_int8_reference(tmp_path):
    """int8 set_state/get_state: values on the hidden state's grid round-trip exactly; a cell
    state on its power-of-two grid too."""
    path, ins, outs, pairs = _export(tmp_path, "lstm", False)
    g = pipeline.compile_model(path, pipeline.Options(dtype="int8"))
    ex = reference.Executor(g, dtype="int8")
    q = g.quant.nodes[g.state_inputs[0].slots[0][0]]
    h = (np.arange(12) - 6 - q.h.zero_point).astype(np.float32) * np.float32(q.h.scale)
    c = (np.arange(12) - 6).astype(np.float32) * np.float32(2.0 ** -q.cell_exp)
    ex.set_state({"h0": h.reshape(1, 1, 12), "c0": c.reshape(1, 1, 12)})
    st = ex.get_state()
    np.testing.assert_array_equal(st["h0"].reshape(-1), h)
    np.testing.assert_array_equal(st["c0"].reshape(-1), c)


def test_int8_joined_state_output_is_refused(tmp_path):
    """DTLN's state output joins h and c; with --dtype int8 the cell state is int16 and cannot
    flow through the join: refused with the node and the way out named."""
    path, ins, outs, pairs = _export(tmp_path, "dtln", False)
    with pytest.raises(RnngenError, match=r"reads '.*', an LSTM cell state output .*"
                                          r"<name>_get_state"):
        pipeline.compile_model(path, pipeline.Options(dtype="int8"))


def test_input_times_mask_streams(tmp_path):
    """The sequence input read twice (into the LSTM and multiplied by the mask at the end, as
    DTLN does): the time axis is traced along the reader that reaches the LSTM; streaming."""
    path, ins, outs, pairs = _export(tmp_path, "dtln_times_x", False)
    _check_reference_state(path, ins, outs, pairs)
    r = _verify(str(path), "--input", str(tmp_path / "in.npz"), "--expect",
                str(tmp_path / "out.npz"))
    assert r.returncode == 0, r.stdout + r.stderr
    assert json.loads(r.stdout)["streaming"]


def test_onnx_initial_state_inputs_match_onnxruntime(tmp_path):
    """A bidirectional ONNX LSTM with initial_h/initial_c graph inputs (not streaming): _run
    starts from the set state, as onnxruntime does from the state inputs."""
    import onnxruntime as ort

    rng = np.random.default_rng(2)
    H, I = 5, 3
    W = rng.standard_normal((2, 4 * H, I)).astype(np.float32) * 0.5
    R = rng.standard_normal((2, 4 * H, H)).astype(np.float32) * 0.5
    node = oh.make_node("LSTM", ["x", "W", "R", "", "", "h0", "c0"], ["Y", "Yh", "Yc"],
                        hidden_size=H, direction="bidirectional")
    f = onnx.TensorProto.FLOAT
    graph = oh.make_graph(
        [node], "bi", [oh.make_tensor_value_info("x", f, [T, 1, I]),
                       oh.make_tensor_value_info("h0", f, [2, 1, H]),
                       oh.make_tensor_value_info("c0", f, [2, 1, H])],
        [oh.make_tensor_value_info(n, f, None) for n in ("Y", "Yh", "Yc")],
        [onnx.numpy_helper.from_array(W, "W"), onnx.numpy_helper.from_array(R, "R")])
    model = oh.make_model(graph, opset_imports=[oh.make_opsetid("", 14)])
    path = tmp_path / "bi.onnx"
    onnx.save(model, str(path))
    ins = dict(x=rng.standard_normal((T, 1, I)).astype(np.float32),
               h0=rng.standard_normal((2, 1, H)).astype(np.float32),
               c0=rng.standard_normal((2, 1, H)).astype(np.float32))
    Y, Yh, Yc = ort.InferenceSession(str(path)).run(None, ins)
    np.savez(tmp_path / "in.npz", **ins)
    np.savez(tmp_path / "out.npz", Y=Y, Yh=Yh, Yc=Yc)
    r = _verify(str(path), "--input", str(tmp_path / "in.npz"), "--expect",
                str(tmp_path / "out.npz"))
    assert r.returncode == 0, r.stdout + r.stderr
    rep = json.loads(r.stdout)
    assert rep["passed"] and not rep["streaming"], rep
    g = pipeline.compile_model(path, pipeline.Options())
    ex = reference.Executor(g)
    ex.set_state({"h0": ins["h0"], "c0": ins["c0"]})
    ex.run(ins["x"])
    # bidirectional: each direction's last state is Y_h / Y_c
    np.testing.assert_allclose(ex.get_state()["h0"], Yh, atol=2e-6)
    np.testing.assert_allclose(ex.get_state()["c0"], Yc, atol=2e-6)


# ------------------------------------------------------------------ refusals

def _lstm_model(tmp_path, extra_nodes, h0_src="h0s", inputs=("h0",)):
    rng = np.random.default_rng(0)
    H, I = 4, 3
    f = onnx.TensorProto.FLOAT
    nodes = list(extra_nodes) + [oh.make_node("LSTM", ["x", "W", "R", "", "", h0_src],
                                              ["Y", "Yh"], hidden_size=H)]
    graph = oh.make_graph(
        nodes, "m", [oh.make_tensor_value_info("x", f, [T, 1, I])] +
        [oh.make_tensor_value_info(n, f, [1, 1, H]) for n in inputs],
        [oh.make_tensor_value_info("Y", f, None)],
        [onnx.numpy_helper.from_array(rng.standard_normal((1, 4 * H, I)).astype(np.float32),
                                      "W"),
         onnx.numpy_helper.from_array(rng.standard_normal((1, 4 * H, H)).astype(np.float32),
                                      "R"),
         onnx.numpy_helper.from_array(np.full((1, 1, 4), 2.0, np.float32), "two")])
    path = tmp_path / "m.onnx"
    onnx.save(oh.make_model(graph, opset_imports=[oh.make_opsetid("", 14)]), str(path))
    return path


def test_state_input_through_arithmetic_is_refused(tmp_path):
    path = _lstm_model(tmp_path, [oh.make_node("Mul", ["h0", "two"], ["h0s"], name="scale")])
    with pytest.raises(RnngenError, match=r"state input 'h0' reaches Mul node 'scale'.*"
                                          r"initial_h / initial_c"):
        pipeline.compile_model(path, pipeline.Options())


def test_state_element_used_twice_is_refused(tmp_path):
    path = _lstm_model(tmp_path, [oh.make_node("Gather", ["h0", "idx"], ["h0s"], axis=2)])
    m = onnx.load(str(path))
    m.graph.initializer.append(onnx.numpy_helper.from_array(np.array([0, 2, 2, 3], np.int64),
                                                            "idx"))
    onnx.save(m, str(path))
    with pytest.raises(RnngenError, match=r"state input 'h0': element 2 starts two recurrent"):
        pipeline.compile_model(path, pipeline.Options())


def test_two_sequences_are_refused(tmp_path):
    path = _lstm_model(tmp_path, [oh.make_node("Identity", ["h0"], ["h0s"])])
    m = onnx.load(str(path))
    m.graph.input.append(oh.make_tensor_value_info("x_b", onnx.TensorProto.FLOAT, [T, 1, 3]))
    m.graph.node.insert(0, oh.make_node("Add", ["x", "x_b"], ["x2"]))
    m.graph.node[-1].input[0] = "x2"
    onnx.save(m, str(path))
    with pytest.raises(RnngenError, match=r"3 run-time inputs \('x', 'h0', 'x_b'\), 2 of them "
                                          r"feeding a recurrent layer's input X"):
        pipeline.compile_model(path, pipeline.Options())


def test_state_input_to_an_output_is_refused(tmp_path):
    path = _lstm_model(tmp_path, [oh.make_node("Identity", ["h0"], ["h0s"]),
                                  oh.make_node("Relu", ["h0"], ["r"], name="act")])
    with pytest.raises(RnngenError, match=r"state input 'h0' reaches Relu node 'act'"):
        pipeline.compile_model(path, pipeline.Options())


def test_input_file_must_name_every_input(tmp_path):
    path, ins, outs, pairs = _export(tmp_path, "lstm", False)
    g = pipeline.compile_model(path, pipeline.Options())
    np.save(tmp_path / "x.npy", ins["x"])
    with pytest.raises(RnngenError, match=r"several inputs \('x', 'h0', 'c0'\); give an .npz"):
        driver.golden_inputs(g, str(tmp_path / "x.npy"))
    np.savez(tmp_path / "part.npz", x=ins["x"], h0=ins["h0"])
    with pytest.raises(RnngenError, match=r"no array for input\(s\) c0"):
        driver.golden_inputs(g, str(tmp_path / "part.npz"))
    np.savez(tmp_path / "bad.npz", x=ins["x"], h0=ins["h0"], c0=np.zeros((1, 1, 5), np.float32))
    with pytest.raises(RnngenError, match=r"input 'c0' has shape \(1, 1, 5\)"):
        driver.golden_inputs(g, str(tmp_path / "bad.npz"))
    r = subprocess.run([sys.executable, "-m", "rnngen.cli", "build", str(path), "-o",
                        str(tmp_path / "out"), "--input", str(tmp_path / "x.npy")],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert not (tmp_path / "out").exists()


def test_inspect_lists_state_inputs(tmp_path):
    path, ins, outs, pairs = _export(tmp_path, "dtln", False)
    info = driver.inspect(path)
    (si,) = info["state_inputs"]
    assert si["name"] == "state" and si["shape"] == [1, 2, 10, 2]
    assert sorted((h["state"], h["units"]) for h in si["holds"]) == [("c", 10), ("c", 10),
                                                                      ("h", 10), ("h", 10)]
    r = subprocess.run([sys.executable, "-m", "rnngen.cli", "inspect", str(path)],
                       capture_output=True, text=True)
    assert r.returncode == 0 and "state input 'state' [1, 2, 10, 2]: h of" in r.stdout, r.stdout


@pytest.mark.parametrize("dtype", ["float32", "int8"])
def test_state_input_with_initializer(tmp_path, dtype):
    """A graph input with an initializer that feeds initial_h / initial_c: a state input whose
    _reset value is the initializer (the golden test checks _get_state after _reset against
    it); an .npy or .npz without it uses it, as onnxruntime does; given, it is set."""
    import onnxruntime as ort

    rng = np.random.default_rng(4)
    H, I = 5, 3
    f = onnx.TensorProto.FLOAT
    W = (0.5 * rng.standard_normal((1, 4 * H, I))).astype(np.float32)
    R = (0.5 * rng.standard_normal((1, 4 * H, H))).astype(np.float32)
    h0 = np.tanh(rng.standard_normal((1, 1, H))).astype(np.float32)
    c0 = rng.standard_normal((1, 1, H)).astype(np.float32)
    graph = oh.make_graph(
        [oh.make_node("LSTM", ["x", "W", "R", "", "", "h0", "c0"], ["Y", "Yh", "Yc"],
                      hidden_size=H)], "d",
        [oh.make_tensor_value_info("x", f, [T, 1, I]),
         oh.make_tensor_value_info("h0", f, [1, 1, H]),
         oh.make_tensor_value_info("c0", f, [1, 1, H])],
        [oh.make_tensor_value_info("Y", f, None), oh.make_tensor_value_info("Yh", f, None)],
        [onnx.numpy_helper.from_array(a, n) for a, n in ((W, "W"), (R, "R"), (h0, "h0"),
                                                        (c0, "c0"))])
    path = tmp_path / "d.onnx"
    onnx.save(oh.make_model(graph, opset_imports=[oh.make_opsetid("", 14)]), str(path))
    g = pipeline.compile_model(path, pipeline.Options())
    assert [(s.name, s.default) for s in g.state_inputs] == [("h0", True), ("c0", True)]
    ex = reference.Executor(g)
    np.testing.assert_array_equal(ex.get_state()["h0"], h0)  # _reset: the initializer
    np.testing.assert_array_equal(ex.get_state()["c0"], c0)
    sess = ort.InferenceSession(str(path))
    x = rng.standard_normal((T, 1, I)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    dt = ["--dtype", "int8"] if dtype == "int8" else []
    # the initializers (onnxruntime's defaults): from an .npy of the sequence alone
    Y, Yh = sess.run(None, {"x": x})
    np.savez(tmp_path / "y.npz", Y=Y, Yh=Yh)
    r = _verify(str(path), "--input", str(tmp_path / "x.npy"), *dt,
                *([] if dt else ["--expect", str(tmp_path / "y.npz")]))
    assert r.returncode == 0, r.stdout + r.stderr
    # given state values: set
    h1 = np.tanh(rng.standard_normal((1, 1, H))).astype(np.float32)
    Y, Yh = sess.run(None, {"x": x, "h0": h1})
    np.savez(tmp_path / "in.npz", x=x, h0=h1)
    np.savez(tmp_path / "y1.npz", Y=Y, Yh=Yh)
    r = _verify(str(path), "--input", str(tmp_path / "in.npz"), *dt,
                *([] if dt else ["--expect", str(tmp_path / "y1.npz")]))
    assert r.returncode == 0, r.stdout + r.stderr
    assert json.loads(r.stdout)["streaming"]
