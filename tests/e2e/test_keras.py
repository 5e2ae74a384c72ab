"""Exports as users make them (issue 12): Keras 3 and tf_keras models through
`tf2onnx.convert.from_keras` (LSTM, GRU and SimpleRNN become ONNX `Loop`s, Bidirectional and
go_backwards add ReverseSequence, `unroll=True` writes the cell once per step) and PyTorch
`nn.LSTMCell`/`nn.GRUCell` called in a Python loop (both exporters).

Each is checked against the framework's own outputs with `rnngen verify --expect`, and the
recurrences must be recognized: the model compiles to the same recurrent kernels as the
native ONNX LSTM/GRU/RNN (the manifest's kernel list) and, when it runs forward in time, is
streaming with `_step` honouring the streaming contract (chunks = steps, bit for bit)."""

from __future__ import annotations

import functools
import json
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from rnngen import driver, ir
from tests import models
from tests.e2e.test_streaming import _run_program, _vals

ROOT = Path(__file__).resolve().parents[2]
T, F, H = 6, 3, 5  # tests/keras_export.py

KERAS3 = ["lstm", "gru", "gru_reset_before", "simplernn", "bilstm", "stacked", "lstm_unroll",
          "lstm_dense", "lstm_relu", "gru_softsign", "lstm_hard_sigmoid", "conv1d_pool_lstm",
          "conv1d_causal_lstm", "embedding_lstm"]
TF_KERAS = ["lstm_go_backwards", "gru_reset_before", "simplernn", "embedding_lstm"]
# the recurrent operator each model's layers become (None: kept as a generic graph)
CELL = {"lstm": "LSTM", "gru": "GRU", "gru_reset_before": "GRU", "simplernn": "RNN",
        "bilstm": "LSTM", "stacked": "LSTM", "lstm_unroll": "LSTM", "lstm_dense": "LSTM",
        "lstm_relu": "LSTM", "gru_softsign": "GRU", "lstm_hard_sigmoid": None,
        "lstm_go_backwards": "LSTM", "conv1d_pool_lstm": "LSTM", "conv1d_causal_lstm": "LSTM",
        "embedding_lstm": "LSTM"}
# activations other than the operators' defaults, as the recognized layer must carry them
ACTIVATIONS = {"lstm_relu": ("Sigmoid", "Relu", "Relu"), "gru_softsign": ("Sigmoid", "Softsign")}
BACKWARDS = {"bilstm", "lstm_go_backwards"}
# whole sequences because a layer mixes time steps: the reason names that node's operator
MIXES_TIME = {"conv1d_pool_lstm": "Conv"}
# streaming through a conv and a pool along time (their windows of frames are state)
WINDOWED = {"conv1d_causal_lstm"}
# tf2onnx writes tf_keras's LSTM as an ONNX LSTM itself
NATIVE = {("tf_keras", "lstm_go_backwards"), ("tf_keras", "embedding_lstm")}


@pytest.fixture(scope="session")
def keras_models(tmp_path_factory, worker_id):
    """Every Keras model exported once per test session (TensorFlow imports slowly), shared
    by the xdist workers through a lock; a subprocess per flavour (tf_keras needs
    TF_USE_LEGACY_KERAS before the import)."""
    from filelock import FileLock

    base = tmp_path_factory.getbasetemp()
    if worker_id != "master":
        base = base.parent
    out = {}
    for flavour in ("keras3", "tf_keras"):
        d = base / f"keras_models_{flavour}"
        with FileLock(str(d) + ".lock"):
            if not (d / "done").exists():
                d.mkdir(exist_ok=True)
                r = subprocess.run([sys.executable, str(ROOT / "tests" / "keras_export.py"),
                                    str(d), flavour], capture_output=True, text=True)
                assert r.returncode == 0, r.stderr[-3000:]
                (d / "done").write_text("")
        out[flavour] = d
    return out


def _verify(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rnngen.cli", "verify", *args, "--json"],
                          capture_output=True, text=True)


@functools.lru_cache(maxsize=None)
def _native_kernels(cell: str, lbr: int = 0) -> tuple[str, ...]:
    """The recurrent kernels the native ONNX operator compiles to (same sizes)."""
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        m = models.make_model(models.Spec(cell, "forward", F, H, T, 1, lbr=lbr), 0)
        path = Path(tmp) / "native.onnx"
        onnx.save(m, path)
        driver.build(path, Path(tmp) / "proj", driver.BuildOptions(name="m"))
        man = json.loads((Path(tmp) / "proj" / "manifest.json").read_text())
    return tuple(man["kernels"])


def _kernels(path: Path, out: Path) -> list[str]:
    driver.build(path, out, driver.BuildOptions(name="m"))
    return json.loads((out / "manifest.json").read_text())["kernels"]


def _case(keras_models, flavour: str, name: str) -> tuple[Path, Path, Path]:
    d = keras_models[flavour]
    return d / f"{name}.onnx", d / f"{name}_x.npy", d / f"{name}_y.npy"


KERAS_CASES = [("keras3", n) for n in KERAS3] + [("tf_keras", n) for n in TF_KERAS]


@pytest.mark.parametrize("flavour,name", KERAS_CASES, ids=[f"{f}-{n}" for f, n in KERAS_CASES])
def test_keras_export_matches_keras_on_host(keras_models, tmp_path, flavour, name):
    path, x, y = _case(keras_models, flavour, name)
    r = _verify(str(path), "--input", str(x), "--expect", str(y), "--atol", "1e-5",
                "--rtol", "1e-4")
    assert r.returncode == 0, r.stdout + r.stderr
    rep = json.loads(r.stdout)
    assert rep["passed"] and rep["mismatches"] == 0 and rep["reference"] == "expected"
    assert rep["values"] == np.load(y).size
    info = driver.inspect(path)
    if name == "embedding_lstm":  # Keras's float32 input cast to integers: token ids
        assert info["input"]["type"] == "int32 token ids", info["input"]
        wrap = [n for n in info["notes"] if "negative-index wrap" in n]
        assert len(wrap) == (flavour == "keras3"), info["notes"]  # Keras 3's Less/Add/select
    ops = [lay["op"] for lay in info["layers"]]
    cell = CELL[name]
    if cell is None:  # not recognized: a generic graph, and inspect says why
        assert not {"LSTM", "GRU", "RNN"} & set(ops)
        assert any("not a recurrent layer" in n and "steps chain" in n for n in info["notes"])
        return
    assert cell in ops, info
    if (flavour, name) not in NATIVE:
        assert any(f"recognized as an ONNX {cell}" in n for n in info["notes"]), info["notes"]
    if name in ACTIVATIONS:
        g = driver.compile_graph(path, driver.BuildOptions())
        layer = next(n for n in g.nodes if isinstance(n, ir.Recurrent))
        assert tuple(a.name for a in layer.directions[0].activations) == ACTIVATIONS[name]
    kernels = _kernels(path, tmp_path / "proj")
    lbr = 0 if name == "gru_reset_before" else 1 if cell == "GRU" else 0
    want = set(_native_kernels(cell, lbr))
    if name in WINDOWED:  # _run goes step by step after a window along time: no W x block
        want.discard("rnn_mat_mul_f32")
    assert want <= set(kernels)
    if name in BACKWARDS:
        why = info["not_streaming_why"]
        assert not info["streaming"] and ("backwards" in why or "reverses" in why), why
    elif name in MIXES_TIME:
        why = info["not_streaming_why"]
        assert not info["streaming"] and why.startswith(f"{MIXES_TIME[name]} '"), why
        assert "pads the end of the time axis" in why, why  # padding="same"
    else:
        assert info["streaming"], info["not_streaming_why"]


STREAMING = [("keras3", "lstm"), ("keras3", "gru"), ("keras3", "simplernn"),
             ("keras3", "stacked"), ("keras3", "lstm_relu"), ("tf_keras", "gru_reset_before")]


def _streaming_contract(path: Path, x: np.ndarray, y: np.ndarray, out: Path) -> None:
    """chunks of any size through <name>_run equal one <name>_step per step, bit for bit,
    and both equal the framework's outputs."""
    driver.build(path, out, driver.BuildOptions(name="m"))
    g = driver.compile_graph(path, driver.BuildOptions())
    assert g.streaming and g.step is not None
    chunks = [2, 1, 3]
    lines = _run_program(out, T, chunks, x)
    chunk_v = [_vals(ln) for ln in lines if ln.startswith("chunk")]
    step_v = [_vals(ln) for ln in lines if ln.startswith("step")]
    assert len(step_v) == T
    if y.ndim == 3 and y.shape[1] == T:  # per-step outputs: chunks = steps, bit for bit
        assert np.array_equal(np.concatenate(chunk_v), np.concatenate(step_v))
        np.testing.assert_allclose(np.stack(step_v).reshape(y.shape), y, atol=1e-5, rtol=1e-4)
    else:  # the value after the last step: each chunk's is the step's at its end
        ends = np.cumsum(chunks) - 1
        for v, e in zip(chunk_v, ends):
            assert np.array_equal(v, step_v[e])
        np.testing.assert_allclose(step_v[-1], y.reshape(-1), atol=1e-5, rtol=1e-4)
    assert lines[-1] == "zero -1"


@pytest.mark.parametrize("flavour,name", STREAMING, ids=[f"{f}-{n}" for f, n in STREAMING])
def test_keras_streaming_contract(keras_models, tmp_path, flavour, name):
    path, x, y = _case(keras_models, flavour, name)
    _streaming_contract(path, np.load(x), np.load(y), tmp_path / "proj")


BOARD_CASES = [("cortex-a73", "keras3", "lstm"), ("cortex-m4", "keras3", "gru_softsign"),
               ("cortex-m4", "tf_keras", "lstm_go_backwards"),
               ("cortex-a73", "keras3", "bilstm"), ("cortex-m4", "keras3", "conv1d_pool_lstm"),
               ("cortex-m4", "keras3", "conv1d_causal_lstm"),
               ("cortex-m4", "keras3", "embedding_lstm")]


@pytest.mark.qemu
@pytest.mark.parametrize("board,flavour,name", BOARD_CASES,
                         ids=[f"{b}-{f}-{n}" for b, f, n in BOARD_CASES])
def test_keras_export_matches_keras_on_boards(keras_models, board, flavour, name):
    path, x, y = _case(keras_models, flavour, name)
    r = _verify(str(path), "--target", board, "--input", str(x), "--expect", str(y),
                "--atol", "1e-5", "--rtol", "1e-4")
    assert r.returncode == 0, r.stdout + r.stderr
    rep = json.loads(r.stdout)
    assert rep["passed"] and rep["mismatches"] == 0 and rep["target"] == board


# --------------------------------------------------------------------------- PyTorch cell loops

def _torch_loop(tmp_path: Path, cell: str, dynamo: bool) -> tuple[Path, Path, Path]:
    import torch

    class Loop(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.cell = (torch.nn.LSTMCell if cell == "lstm" else torch.nn.GRUCell)(F, H)
            self.fc = torch.nn.Linear(H, 2)

        def forward(self, x):
            h = torch.zeros(1, H)
            c = torch.zeros(1, H)
            outs = []
            for t in range(x.shape[1]):
                if cell == "lstm":
                    h, c = self.cell(x[:, t], (h, c))
                else:
                    h = self.cell(x[:, t], h)
                outs.append(h)
            return self.fc(torch.stack(outs, 1))

    torch.manual_seed(3)
    net = Loop().eval()
    x = torch.randn(1, T, F)
    path = tmp_path / f"{cell}.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net, (x,), str(path), dynamo=dynamo, input_names=["x"],
                          output_names=["y"])
    with torch.no_grad():
        y = net(x).numpy()
    np.save(tmp_path / "x.npy", x.numpy())
    np.save(tmp_path / "y.npy", y)
    return path, tmp_path / "x.npy", tmp_path / "y.npy"


TORCH_CASES = [(c, d) for c in ("lstm", "gru") for d in (False, True)]


@pytest.fixture(scope="module")
def torch_loops(tmp_path_factory):
    cache = {}

    def get(cell, dynamo):
        if (cell, dynamo) not in cache:
            d = tmp_path_factory.mktemp(f"{cell}_{'dynamo' if dynamo else 'ts'}")
            cache[(cell, dynamo)] = _torch_loop(d, cell, dynamo)
        return cache[(cell, dynamo)]
    return get


@pytest.mark.parametrize("cell,dynamo", TORCH_CASES,
                         ids=[f"{c}cell-{'dynamo' if d else 'torchscript'}"
                              for c, d in TORCH_CASES])
def test_torch_cell_loop_is_a_recurrent_layer(torch_loops, tmp_path, cell, dynamo):
    path, x, y = torch_loops(cell, dynamo)
    r = _verify(str(path), "--input", str(x), "--expect", str(y), "--atol", "1e-5",
                "--rtol", "1e-4")
    assert r.returncode == 0, r.stdout + r.stderr
    info = driver.inspect(path)
    op = cell.upper()
    assert [lay["op"] for lay in info["layers"]].count(op) == 1, info["layers"]
    assert info["streaming"], info["not_streaming_why"]
    assert set(_native_kernels(op, 1 if op == "GRU" else 0)) <= \
        set(_kernels(path, tmp_path / "proj"))


@pytest.mark.parametrize("cell,dynamo", [("lstm", False), ("gru", True)])
def test_torch_cell_loop_streaming_contract(torch_loops, tmp_path, cell, dynamo):
    path, x, y = torch_loops(cell, dynamo)
    _streaming_contract(path, np.load(x), np.load(y), tmp_path / "stream")


TORCH_BOARDS = [("cortex-a73", "gru", False), ("cortex-m4", "lstm", True)]


@pytest.mark.qemu
@pytest.mark.parametrize("board,cell,dynamo", TORCH_BOARDS,
                         ids=[f"{b}-{c}-{'dynamo' if d else 'ts'}" for b, c, d in TORCH_BOARDS])
def test_torch_cell_loop_on_boards(torch_loops, board, cell, dynamo):
    path, x, y = torch_loops(cell, dynamo)
    r = _verify(str(path), "--target", board, "--input", str(x), "--expect", str(y),
                "--atol", "1e-5", "--rtol", "1e-4")
    assert r.returncode == 0, r.stdout + r.stderr


def test_recognized_loop_compresses_and_quantizes(torch_loops, tmp_path):
    """What the recognition is for: the recognized layer takes --dtype int8 (verified
    against rnngen's own int8 reference, bit for bit, by verify)."""
    path, x, _ = torch_loops("lstm", False)
    r = _verify(str(path), "--dtype", "int8", "--input", str(x))
    assert r.returncode == 0, r.stdout + r.stderr


# --------------------------------------------------------------------------- Loop refusals

def _loop_model(tmp_path: Path, trip: str, runtime_trip: bool = False) -> Path:
    """y = x + 1 + 1 + ... (a Loop that is not a cell: a generic graph once unrolled)."""
    one = numpy_helper.from_array(np.ones((1, 4), np.float32), "one")
    body = helper.make_graph(
        [helper.make_node("Add", ["acc_in", "one"], ["acc_out"], name="add"),
         helper.make_node("Identity", ["cond_in"], ["cond_out"], name="id")],
        "body",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []),
         helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
         helper.make_tensor_value_info("acc_in", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("acc_out", TensorProto.FLOAT, [1, 4])])
    inits = [one, numpy_helper.from_array(np.array(True), "cond")]
    nodes = []
    if runtime_trip:
        nodes += [helper.make_node("ReduceMax", ["x"], ["mx"], keepdims=0, name="max"),
                  helper.make_node("Cast", ["mx"], [trip], to=TensorProto.INT64, name="cast")]
    else:
        inits.append(numpy_helper.from_array(np.array(3, np.int64), trip))
    nodes.append(helper.make_node("Loop", [trip, "cond", "x"], ["y"], body=body,
                                  name="the_loop"))
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                                     [1, 4])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])], inits)
    p = tmp_path / "loop.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), p)
    return p


def test_loop_that_is_no_cell_unrolls_to_a_generic_graph(tmp_path):
    p = _loop_model(tmp_path, "M")
    x = np.arange(4, dtype=np.float32).reshape(1, 4)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", x + 3)
    r = _verify(str(p), "--input", str(tmp_path / "x.npy"), "--expect", str(tmp_path / "y.npy"))
    assert r.returncode == 0, r.stdout + r.stderr
    assert any("the_loop" in n and "3 iterations" in n for n in driver.inspect(p)["notes"])


def test_loop_with_a_run_time_trip_count_is_refused_with_why(tmp_path):
    p = _loop_model(tmp_path, "M", runtime_trip=True)
    r = subprocess.run([sys.executable, "-m", "rnngen.cli", "build", str(p), "-o",
                        str(tmp_path / "out")], capture_output=True, text=True)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "Loop node 'the_loop'" in r.stderr and "trip count" in r.stderr
    assert "run time" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def _if_model(tmp_path: Path, cond: bool | None) -> Path:
    """y = Relu(x * 2) if cond else Sigmoid(x) (tf2onnx writes Ifs on values it knows); cond None:
    the condition is computed from x at run time."""
    two = numpy_helper.from_array(np.array(2.0, np.float32), "two")
    then_g = helper.make_graph(
        [helper.make_node("Mul", ["x", "two"], ["m"], name="mul"),
         helper.make_node("Relu", ["m"], ["a"], name="relu")], "then", [],
        [helper.make_tensor_value_info("a", TensorProto.FLOAT, [1, 4])], [two])
    else_g = helper.make_graph([helper.make_node("Sigmoid", ["x"], ["b"], name="sig")], "else", [],
                               [helper.make_tensor_value_info("b", TensorProto.FLOAT, [1, 4])])
    nodes, inits = [], []
    if cond is None:
        inits.append(numpy_helper.from_array(np.array(0.0, np.float32), "zero"))
        nodes += [helper.make_node("ReduceSum", ["x"], ["s"], keepdims=0, name="sum"),
                  helper.make_node("Greater", ["s", "zero"], ["c"], name="gt")]
    else:
        inits.append(numpy_helper.from_array(np.array(cond), "c"))
    nodes.append(helper.make_node("If", ["c"], ["y"], then_branch=then_g, else_branch=else_g,
                                  name="the_if"))
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                                     [1, 4])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])], inits)
    p = tmp_path / "if.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), p)
    return p


@pytest.mark.parametrize("cond", [True, False])
def test_if_with_a_compile_time_condition_is_its_branch(tmp_path, cond):
    import onnxruntime as ort

    p = _if_model(tmp_path, cond)
    x = np.array([[-1.5, 0.25, 2.0, -0.5]], np.float32)
    y = ort.InferenceSession(str(p), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    r = _verify(str(p), "--input", str(tmp_path / "x.npy"), "--expect", str(tmp_path / "y.npy"))
    assert r.returncode == 0, r.stdout + r.stderr
    which = "then_branch" if cond else "else_branch"
    assert any("the_if" in n and which in n for n in driver.inspect(p)["notes"])


def test_if_with_a_run_time_condition_is_refused_with_why(tmp_path):
    p = _if_model(tmp_path, None)
    r = subprocess.run([sys.executable, "-m", "rnngen.cli", "build", str(p), "-o",
                        str(tmp_path / "out")], capture_output=True, text=True)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "If node 'the_if'" in r.stderr and "condition 'c'" in r.stderr
    assert "run time" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert "Greater" not in r.stderr  # the knock-on op is not listed
    assert not (tmp_path / "out").exists()
