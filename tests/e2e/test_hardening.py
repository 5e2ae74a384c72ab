"""Regression tests for the hardening issue's reading-side defects (issue 13: silently wrong
models, the exit-2 promise, resource amplification). Each ran into the defect before the
fix (an exit-0 build of a wrong or invalid model, an internal error with exit 3, or gigabytes
allocated); now each is one line naming the file (and node, array or attribute) with exit 2,
or, for a graph input that is also an output, a build that equals onnxruntime.

The resource cases run the CLI with its address space limited to 1.5 GiB, so allocating what
the file declares would end in MemoryError (an internal error) instead of passing."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import zipfile

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from tests import models
from tests.e2e.test_bad_input import assert_one_line_error, build_writes_nothing
from tests.fuzz.mutate import npy_bytes


def rnngen(*args):
    # a time limit: before the fix, reading a pipe as a model waited forever
    return subprocess.run([sys.executable, "-m", "rnngen.cli", *args], capture_output=True,
                          text=True, timeout=120)



def _lstm(tmp_path, name="m.onnx", seq=5, edit=None):
    m = models.make_model(models.Spec("LSTM", "forward", 3, 4, seq, 1), 0)
    if edit is not None:
        edit(m)
    p = tmp_path / name
    onnx.save(m, p)
    return p


def _init(m, name):
    return next(t for t in m.graph.initializer if t.name == name)


def _limited(*args):
    """The CLI with a 1.5 GiB address space (a 10^9-element allocation fails)."""
    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (3 << 29, 3 << 29))
    return subprocess.run([sys.executable, "-m", "rnngen.cli", *args], capture_output=True,
                          text=True, preexec_fn=limit, timeout=120)


# ---------------------------------------------------------------------- silently wrong

def test_graph_input_that_is_also_an_output_equals_onnxruntime(tmp_path):
    """Before: the C copied step 0 of the input into that output at every step (passed=0)."""
    import onnxruntime as ort

    m = models.make_model(models.Spec("GRU", "forward", 3, 4, 5, 1), 0)
    m.graph.output.insert(0, helper.make_tensor_value_info("x", TensorProto.FLOAT, [5, 1, 3]))
    p = tmp_path / "io.onnx"
    onnx.save(m, p)
    x = np.random.default_rng(1).uniform(-1, 1, (5, 1, 3)).astype(np.float32)
    want = ort.InferenceSession(str(p), providers=["CPUExecutionProvider"]).run(None, {"x": x})
    info = json.loads(rnngen("inspect", str(p), "--json").stdout)
    names = [o["name"] for o in info["outputs"]]  # rnngen calls the copy of 'x' 'x_out'
    np.savez(tmp_path / "want.npz", **dict(zip(names, want)))
    np.save(tmp_path / "x.npy", x)
    r = rnngen("verify", str(p), "--input", str(tmp_path / "x.npy"), "--expect",
               str(tmp_path / "want.npz"), "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    rep = json.loads(r.stdout)
    assert rep["passed"] and rep["mismatches"] == 0 and rep["stream_errors"] == 0


def test_int32_type_over_float_bytes(tmp_path):
    """Before: the float bytes were read as int32 weights (garbage) and the build passed."""
    p = _lstm(tmp_path, edit=lambda m: setattr(_init(m, "l0_W"), "data_type",
                                               TensorProto.INT32))
    build_writes_nothing(tmp_path, p, needles=("m.onnx", "LSTM node 'l0_LSTM'", "W",
                                               "int32"))


@pytest.mark.parametrize("dtype", [np.float64, np.float16, np.int32, np.int64, np.bool_])
def test_weights_of_another_element_type(tmp_path, dtype):
    def edit(m):
        for n in ("l0_W", "l0_R"):
            t = _init(m, n)
            t.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(t).astype(dtype), n))
    p = _lstm(tmp_path, edit=edit)
    build_writes_nothing(tmp_path, p, needles=("m.onnx", "LSTM node 'l0_LSTM'"))


def test_negative_dims(tmp_path):
    def init_dim(m):
        del _init(m, "l0_B").dims[:]
        _init(m, "l0_B").dims.extend([-1, 32])
    build_writes_nothing(tmp_path, _lstm(tmp_path, "init.onnx", edit=init_dim),
                         needles=("init.onnx", "initializer 'l0_B'", "negative"))

    def input_dim(m):
        m.graph.input[0].type.tensor_type.shape.dim[1].dim_value = -1
    build_writes_nothing(tmp_path, _lstm(tmp_path, "input.onnx", edit=input_dim),
                         needles=("input.onnx", "input 'x'", "-1", "axis 1"))


@pytest.mark.parametrize("opset", [0, 1, 99, 10**9])
def test_opset_outside_the_range(tmp_path, opset):
    p = _lstm(tmp_path, edit=lambda m: setattr(m.opset_import[0], "version", opset))
    build_writes_nothing(tmp_path, p, needles=("m.onnx", f"opset {opset}", "7 to"))


def test_raw_data_shorter_than_dims(tmp_path):
    def edit(m):
        t = _init(m, "l0_R")
        t.raw_data = t.raw_data[:-4]
    build_writes_nothing(tmp_path, _lstm(tmp_path, edit=edit),
                         needles=("m.onnx", "initializer 'l0_R'", "raw_data"))


# ---------------------------------------------------------------------- exit code 2

def test_string_where_an_int_attribute_belongs(tmp_path):
    """Before: ValueError from int('four'), an internal error."""
    def edit(m):
        a = next(a for a in m.graph.node[0].attribute if a.name == "hidden_size")
        a.CopyFrom(helper.make_attribute("hidden_size", "four"))
    build_writes_nothing(tmp_path, _lstm(tmp_path, edit=edit),
                         needles=("m.onnx", "LSTM node 'l0_LSTM'", "hidden_size"))


def test_bytes_attribute_not_utf8(tmp_path):
    """Before: UnicodeDecodeError, an internal error."""
    def edit(m):
        a = next(a for a in m.graph.node[0].attribute if a.name == "direction")
        a.s = b"\xff\xfeward"
    build_writes_nothing(tmp_path, _lstm(tmp_path, edit=edit),
                         needles=("m.onnx", "LSTM node 'l0_LSTM'", "direction"))


def test_rank_2_input_to_a_recurrent_node(tmp_path):
    """Before: IndexError (the time-axis trace applied the rank-3 Transpose perm of a
    batch-first export to a rank-2 input), an internal error."""
    def edit(m):
        g = m.graph
        g.node.insert(0, helper.make_node("Transpose", ["xin"], ["x"], perm=[1, 0, 2],
                                          name="tr"))
        g.input[0].name = "xin"
        del g.input[0].type.tensor_type.shape.dim[0]  # [1, 3]: rank 2
    build_writes_nothing(tmp_path, _lstm(tmp_path, edit=edit),
                         needles=("m.onnx", "Transpose node 'tr'", "perm"))


def _npz(tmp_path, name, manifest_text, arrays=(), raw=()):
    p = tmp_path / name
    with zipfile.ZipFile(p, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("__rnngen__.npy", npy_bytes(np.array(manifest_text)))
        for k, a in arrays:
            z.writestr(k + ".npy", npy_bytes(a))
        for k, b in raw:
            z.writestr(k, b)
    return p


def test_deep_manifest(tmp_path):
    """Before: RecursionError, an internal error."""
    text = '{"format_version": 1, "input_size": 3, "seq_len": 2, "layers": ' + \
        "[" * 100000 + "]" * 100000 + "}"
    build_writes_nothing(tmp_path, _npz(tmp_path, "deep.npz", text),
                         needles=("deep.npz", "manifest", "nest"))


def _lstm_npz(tmp_path, name="m.npz", seq_len=5):
    import rnngen.npz as rn

    rng = np.random.default_rng(0)
    lay = rn.lstm(rng.uniform(-1, 1, (16, 3)), rng.uniform(-1, 1, (16, 4)), gate_order="onnx")
    return rn.save(tmp_path / name, [lay], seq_len=seq_len)


def test_billion_step_time_axis(tmp_path):
    """Before: MemoryError 'Unable to allocate 59.6 GiB' (an internal error)."""
    r = _limited("build", str(_lstm_npz(tmp_path)), "-o", str(tmp_path / "o"),
                 "--seq-len", str(10**9))
    assert_one_line_error(r, "m.npz", "sequence length 1000000000", "limit")
    m = models.make_model(models.Spec("LSTM", "forward", 3, 4, 5, 1), 0)
    m.graph.input[0].type.tensor_type.shape.dim[0].dim_param = "T"
    onnx.save(m, tmp_path / "dyn.onnx")
    r = _limited("build", str(tmp_path / "dyn.onnx"), "-o", str(tmp_path / "o"),
                 "--seq-len", str(10**9))
    assert_one_line_error(r, "dyn.onnx", "input 'x'", "sequence length 1000000000")
    assert not (tmp_path / "o").exists()


def test_million_step_golden_input_is_refused(tmp_path):
    """Before: a 97 MB test/golden.h was written."""
    r = _limited("build", str(_lstm_npz(tmp_path)), "-o", str(tmp_path / "o"),
                 "--seq-len", str(10**6))
    assert_one_line_error(r, "m.npz", "limit")
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("kind", ["folder", "broken-link", "fifo", "below-a-file"])
def test_unreadable_paths(tmp_path, kind):
    p = tmp_path / "model.onnx"
    if kind == "folder":
        p.mkdir()
    elif kind == "broken-link":
        p.symlink_to(tmp_path / "gone.onnx")
    elif kind == "fifo":
        os.mkfifo(p)
    else:
        (tmp_path / "file").write_text("x")
        p = tmp_path / "file" / "model.onnx"
    build_writes_nothing(tmp_path, p, needles=(str(p),))
    r = rnngen("inspect", str(p))
    assert_one_line_error(r, str(p))


@pytest.mark.parametrize("option", ["--input", "--calibrate", "--board-file"])
@pytest.mark.parametrize("kind", ["folder", "broken-link", "fifo"])
def test_unreadable_option_files(tmp_path, option, kind):
    model = _lstm(tmp_path)
    p = tmp_path / ("b.toml" if option == "--board-file" else "x.npy")
    if kind == "folder":
        p.mkdir()
    elif kind == "broken-link":
        p.symlink_to(tmp_path / "gone")
    else:
        os.mkfifo(p)
    extra = ("--dtype", "int8") if option == "--calibrate" else ()
    r = rnngen("build", str(model), "-o", str(tmp_path / "o"), option, str(p), *extra)
    assert_one_line_error(r, p.name)
    assert not (tmp_path / "o").exists()


def test_manifest_not_utf8(tmp_path):
    p = tmp_path / "bad.npz"
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("__rnngen__.npy", npy_bytes(np.array(b"{\xff\xfe}")))
    build_writes_nothing(tmp_path, p, needles=("bad.npz", "UTF-8"))


# ---------------------------------------------------------------------- resources

def test_folding_a_huge_constant_is_refused_before_allocating(tmp_path):
    """Before: ConstantOfShape [10^6, 1000] was evaluated (3.9 GB)."""
    def edit(m):
        m.graph.initializer.append(numpy_helper.from_array(np.array([10**6, 1000], np.int64),
                                                           "big_shape"))
        m.graph.node.append(helper.make_node("ConstantOfShape", ["big_shape"], ["big"],
                                             name="cos"))
        m.graph.node.append(helper.make_node("Shape", ["big"], ["big_dims"], name="shape"))
    r = _limited("build", str(_lstm(tmp_path, edit=edit)), "-o", str(tmp_path / "o"))
    assert_one_line_error(r, "m.onnx", "ConstantOfShape node 'cos'", "1000000000", "limit")


def test_npz_array_header_is_checked_before_decompressing(tmp_path):
    """Before: a small file's array was decompressed (1.08 GB) before its shape was
    checked."""
    good = _lstm_npz(tmp_path, "good.npz")
    with zipfile.ZipFile(good) as z:
        members = {n: z.read(n) for n in z.namelist()}
    big = np.zeros(1, np.float32)  # the header claims 2^28 floats (1 GiB): a few bytes stored
    members["layer0.W.npy"] = npy_bytes(big, header_shape=(1 << 28,))
    p = tmp_path / "bomb.npz"
    with zipfile.ZipFile(p, "w", zipfile.ZIP_DEFLATED) as z:
        for n, b in members.items():
            z.writestr(n, b)
    r = _limited("build", str(p), "-o", str(tmp_path / "o"))
    assert_one_line_error(r, "bomb.npz", "layer0.W", "268435456")


def test_npz_object_array_is_never_unpickled(tmp_path):
    good = _lstm_npz(tmp_path, "good.npz")
    with zipfile.ZipFile(good) as z:
        members = {n: z.read(n) for n in z.namelist()}
    import io

    buf = io.BytesIO()
    np.save(buf, np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    members["layer0.R.npy"] = buf.getvalue()
    p = tmp_path / "pickled.npz"
    with zipfile.ZipFile(p, "w") as z:
        for n, b in members.items():
            z.writestr(n, b)
    build_writes_nothing(tmp_path, p, needles=("pickled.npz", "array 'layer0.R'",
                                               "allow_pickle=False"))
