"""Bad input gives one line on stderr naming what is wrong, exit code 2, no traceback, and
writes nothing."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from tests import models


def rnngen(*args, cwd=None):
    # a time limit: reading a pipe as a model once waited forever (tests/e2e/test_hardening.py)
    return subprocess.run([sys.executable, "-m", "rnngen.cli", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=300)


def assert_one_line_error(r, *needles):
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("rnngen: error: "), r.stderr
    assert "Traceback" not in r.stderr
    for n in needles:
        assert n in lines[0], (n, lines[0])


def small(tmp_path, **kw):
    p = tmp_path / "m.onnx"
    onnx.save(models.make_model(models.Spec("LSTM", "forward", 3, 4, 5, 1), 0), p)
    return p


def build_writes_nothing(tmp_path, model, *extra, needles=()):
    out = tmp_path / "out"
    r = rnngen("build", str(model), "-o", str(out), *extra)
    assert_one_line_error(r, *needles)
    assert not out.exists()
    assert not any(p.name.startswith(".out") for p in tmp_path.iterdir())
    return r


def test_not_onnx(tmp_path):
    p = tmp_path / "notes.onnx"
    p.write_text("this is not a model\n" * 10)
    build_writes_nothing(tmp_path, p, needles=("notes.onnx", "not a readable ONNX model"))


def test_truncated_file(tmp_path):
    good = small(tmp_path).read_bytes()
    p = tmp_path / "cut.onnx"
    p.write_bytes(good[: len(good) * 2 // 3])
    build_writes_nothing(tmp_path, p, needles=("cut.onnx",))


def test_missing_file(tmp_path):
    build_writes_nothing(tmp_path, tmp_path / "nope.onnx", needles=("nope.onnx",))


def test_unsupported_ops_all_named(tmp_path):
    W = numpy_helper.from_array(np.ones((1, 8, 3), np.float32), "W")
    R = numpy_helper.from_array(np.ones((1, 8, 2), np.float32), "R")
    nodes = [
        helper.make_node("LSTM", ["x", "W", "R"], ["y"], hidden_size=2, name="lstm"),
        helper.make_node("Erf", ["y"], ["e"], name="erf1"),
        helper.make_node("Sin", ["e"], ["s"], name="sin1"),
        helper.make_node("Cos", ["y"], ["c"], name="cos1"),
        helper.make_node("Add", ["s", "c"], ["out"], name="add"),
    ]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                                     [4, 1, 3])],
                          [helper.make_tensor_value_info("out", TensorProto.FLOAT, None)], [W, R])
    p = tmp_path / "ops.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), p)
    # Sin reads Erf's output: it is named too
    r = build_writes_nothing(tmp_path, p, needles=("Erf", "erf1", "Sin", "sin1", "Cos", "cos1"))
    assert "unsupported" in r.stderr


def test_dynamic_time_without_seq_len(tmp_path):
    m = models.make_model(models.Spec("GRU", "forward", 3, 4, 5, 1), 0)
    m.graph.input[0].type.tensor_type.shape.dim[0].dim_param = "T"
    p = tmp_path / "dyn.onnx"
    onnx.save(m, p)
    build_writes_nothing(tmp_path, p, needles=("--seq-len", "dynamic"))
    out = tmp_path / "ok"
    r = rnngen("build", str(p), "-o", str(out), "--seq-len", "7")
    assert r.returncode == 0, r.stderr
    assert (out / "manifest.json").exists()


def test_batch_greater_than_one(tmp_path):
    m = models.make_model(models.Spec("RNN", "forward", 3, 4, 5, 1), 0)
    m.graph.input[0].type.tensor_type.shape.dim[1].dim_value = 3
    p = tmp_path / "batch.onnx"
    onnx.save(m, p)
    build_writes_nothing(tmp_path, p, needles=("batch size 3", "batch-1"))


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_weights(tmp_path, bad):
    m = models.make_model(models.Spec("LSTM", "forward", 3, 4, 5, 1), 0)
    for init in m.graph.initializer:
        if init.name == "l0_R":
            arr = numpy_helper.to_array(init).copy()
            arr[0, 5, 1] = bad
            init.CopyFrom(numpy_helper.from_array(arr, "l0_R"))
    p = tmp_path / "nan.onnx"
    onnx.save(m, p)
    build_writes_nothing(tmp_path, p, needles=("l0_LSTM", "R", "NaN or Inf"))


def test_existing_output_without_force(tmp_path):
    p = small(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    r = rnngen("build", str(p), "-o", str(out))
    assert_one_line_error(r, "already exists", "--force")
    assert [f.name for f in out.iterdir()] == ["keep.txt"]
    # --force replaces only a folder rnngen made (issue 13: it deleted the user's files)
    r = rnngen("build", str(p), "-o", str(out), "--force")
    assert_one_line_error(r, "not made by rnngen", "--force")
    assert [f.name for f in out.iterdir()] == ["keep.txt"]
    (out / "keep.txt").unlink()
    out.rmdir()
    assert rnngen("build", str(p), "-o", str(out)).returncode == 0
    r = rnngen("build", str(p), "-o", str(out), "--force")
    assert r.returncode == 0, r.stderr
    assert (out / "manifest.json").exists()


def test_bad_golden_input_shape(tmp_path):
    p = small(tmp_path)
    np.save(tmp_path / "x.npy", np.zeros((4, 3), np.float32))
    build_writes_nothing(tmp_path, p, "--input", str(tmp_path / "x.npy"),
                         needles=("x.npy", "shape"))


def test_verify_mismatch_exit_code_and_expect_errors(tmp_path):
    p = small(tmp_path)
    np.save(tmp_path / "bad.npy", np.zeros(3, np.float32))
    r = rnngen("verify", str(p), "--expect", str(tmp_path / "bad.npy"))
    assert_one_line_error(r, "outputs")


@pytest.mark.parametrize("extra, needle", [
    (("--io", "int8"), "--io int8 needs --dtype int8"),
    (("--calibrate", "x.npy"), "--calibrate needs --dtype int8"),
])
def test_int8_flags_without_int8_are_errors(tmp_path, extra, needle):
    """A flag that means nothing without --dtype int8 is refused, not silently ignored."""
    np.save(tmp_path / "x.npy", np.zeros((2, 5, 1, 3), np.float32))
    extra = tuple(str(tmp_path / e) if e.endswith(".npy") else e for e in extra)
    build_writes_nothing(tmp_path, small(tmp_path), *extra, needles=(needle,))
    r = rnngen("verify", str(small(tmp_path)), *extra)
    assert_one_line_error(r, needle)
    if extra[0] == "--calibrate":  # inspect too (it ignored the flag)
        assert_one_line_error(rnngen("inspect", str(small(tmp_path)), *extra), needle)
