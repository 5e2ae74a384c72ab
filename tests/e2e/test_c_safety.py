"""Checked C: the generated projects under AddressSanitizer + UndefinedBehaviorSanitizer,
valgrind's memcheck and cppcheck on the host, for every cell x matrix format x dtype and for
every ONNX operator; and a 100,000-step streaming run through the C API in constant memory.

Cases are grouped to keep the tier cheap. One .npz model per cell and dtype holds four
recurrent layers whose W and R matrices together use every format (dense, HMD, CSR, low
rank, Kronecker, HKP, and a per-gate stack of mixed formats), then a dense layer and a
softmax: five cells x two dtypes are ten projects. The float models run forward only
(streaming: the golden test also checks <name>_step against <name>_run); the int8 models end
with a bidirectional layer (the whole-sequence path), and those of GRU and FastRNN take
`--io int8`. One ONNX model per dtype holds the operator cases of test_ops.py (those int8
supports, for int8) as separate outputs of one LSTM; one more float model holds every layer
of issue 11 (convolution, pooling, reductions, normalizations, Pad, Clip, HardSwish) as
separate outputs of one input. For each project:

- sanitizers: the project built with -O1 -g -fsanitize=address,undefined
  -fno-sanitize-recover=all (and the strict flags) runs its golden test: exit code 0, the
  result line passed=1, nothing on stderr (a sanitizer report is an error: exit code != 0);
- valgrind: the normal -O3 build (-march=x86-64-v3 in place of the host board's
  -march=native, since valgrind 3.19 cannot execute AVX-512) runs its golden test under
  memcheck: passed, no error, no leak of any kind (--error-exitcode, --leak-check=full);
- cppcheck: src/, include/ and test/ report nothing (--enable=warning,style,performance,
  portability --error-exitcode=1); board/ too for a bare-metal build of the operator model.
  Suppressions are only inline, each with its reason.

Stateful models (state inputs: <name>_set_state / <name>_get_state) get the same three checks:
a DTLN-style float model (one state tensor, strided copies) and an int8 LSTM with h0/c0.

The 100,000-step run (LSTM, float32 and int8) uses a library-mode project (`--no-main`)
driven by our own C program: <name>_reset once, then <name>_step 100,000 times on inputs in
[-1, 1) from a linear congruential generator. Its first outputs equal rnngen's reference on
the same inputs (float within the golden tolerance, int8 exactly); every output is finite;
the hidden state stays in [-1, 1] and the cell state within 1 + exp(P), where P bounds the
forget gate's pre-activation (computed here from the weights: |c_t| <= f |c_t-1| + 1 with
f <= sigmoid(P)); the program's peak resident set after 1,000 steps equals its peak after
100,000; under valgrind the whole run makes no heap allocation at all ("total heap usage: 0
allocs"); and the model objects have no .data or .bss, so the caller's state struct is the
model's only RAM.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import onnx
import pytest
import rnngen.npz as rn
from onnx import TensorProto, helper
from rnngen import driver, formats, ir, reference
from rnngen.boards import STRICT_CFLAGS

from tests.e2e import test_ops
from tests.e2e.test_compressed_models import GATES, matrix_blocks, npz_matrix

F32 = np.float32
T = 5  # golden sequence length
I_SIZE, H_SIZE = 5, 7
CELLS = ("LSTM", "GRU", "RNN", "FastRNN", "FastGRNN")
# (W format, R format) of the four recurrent layers: every format at least once
LAYER_FORMATS = (("dense", "hmd"), ("csr", "lowrank"), ("kron", "hkp"), ("stack", "dense"))
INT8_IO = {"GRU", "FastRNN"}  # int8 projects built with --io int8
# operator cases int8 refuses (LogSoftmax; Concat with a constant; elementwise tensor ops)
INT8_NO = {"logsoftmax", "concat_with_const", "binary_broadcast",
           "two_outputs_from_dynamic_add"}

SANITIZE = ("-O1", "-g", "-fno-omit-frame-pointer", "-fsanitize=address,undefined",
            "-fno-sanitize-recover=all")
OPTIMIZED = ("-O3", "-march=x86-64-v3")  # the host board's -O3; AVX2 + FMA, no AVX-512
VALGRIND = ("--tool=memcheck", "--error-exitcode=97", "--leak-check=full",
            "--errors-for-leak-kinds=all", "--show-leak-kinds=all")
CPPCHECK = ("--std=c99", "--language=c", "--enable=warning,style,performance,portability",
            "--inline-suppr", "--error-exitcode=1", "--quiet",
            "--template={file}:{line}: {severity} ({id}): {message}")


def _tool(name: str) -> str:
    path = shutil.which(name)
    # no skip: a missing tool fails the tier, naming the Debian package (the top-level
    # Makefile's APT_PACKAGES installs it)
    assert path, f"{name} not found: apt-get install {name}"
    return path


def _run(cmd: list[str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          check=False)


# ---------------------------------------------------------------------- models

def _u(rng, *shape, scale=0.5):
    return rng.uniform(-scale, scale, size=shape).astype(F32)


def _matrix(cell: str, fmt: str, role: str, cols: int, rng):
    if fmt == "dense":
        return _u(rng, GATES[cell] * H_SIZE, cols)
    return npz_matrix(matrix_blocks(cell, fmt, role, H_SIZE, cols, rng))


def _layer(cell: str, fmts: tuple[str, str], n_in: int, rng, k: int, direction: str):
    G = GATES[cell]
    D = 2 if direction == "bidirectional" else 1

    def per_dir(make):
        vals = [make() for _ in range(D)]
        return vals[0] if D == 1 else tuple(vals)

    W = per_dir(lambda: _matrix(cell, fmts[0], "W", n_in, rng))
    R = per_dir(lambda: _matrix(cell, fmts[1], "R", H_SIZE, rng))
    b1 = per_dir(lambda: _u(rng, G * H_SIZE))
    b2 = per_dir(lambda: _u(rng, G * H_SIZE))
    if cell == "LSTM":
        return rn.lstm(W, R, b1, b2, gate_order="onnx", direction=direction)
    if cell == "GRU":  # both GRU variants
        return rn.gru(W, R, b1, b2, gate_order="onnx", linear_before_reset=bool(k % 2),
                      direction=direction)
    if cell == "RNN":
        return rn.rnn(W, R, b1, b2, direction=direction)
    if cell == "FastRNN":  # alpha, beta (zeta, nu): before the sigmoid, as EdgeML keeps them
        return rn.fastrnn(W, R, b1, alpha=per_dir(lambda: -1.5), beta=per_dir(lambda: 2.0),
                          direction=direction)
    return rn.fastgrnn(W, R, b1, b2, zeta=per_dir(lambda: 1.0), nu=per_dir(lambda: -2.0),
                       direction=direction)


def stacked_model(folder: Path, cell: str, whole_sequence: bool) -> Path:
    """Four recurrent layers of `cell` that use every matrix format, a dense layer and a
    softmax; the last recurrent layer is bidirectional when whole_sequence."""
    rng = np.random.default_rng(sum(map(ord, cell)) + int(whole_sequence))
    layers, n_in = [], I_SIZE
    for k, fmts in enumerate(LAYER_FORMATS):
        last = k == len(LAYER_FORMATS) - 1
        direction = "bidirectional" if whole_sequence and last else "forward"
        layers.append(_layer(cell, fmts, n_in, rng, k, direction))
        n_in = H_SIZE * (2 if direction == "bidirectional" else 1)
    layers += [rn.dense(_u(rng, 3, n_in), _u(rng, 3)), rn.softmax()]
    return rn.save(folder / f"{cell.lower()}.npz", layers, input_size=I_SIZE, seq_len=T)


def operators_model(folder: Path, names: list[str]) -> Path:
    """test_ops.py's opset-17 cases side by side after one LSTM, one graph output each."""
    nodes, inits, outs = [], [], []
    for k, name in enumerate(names):
        case_nodes, case_inits, opset = test_ops.CASES[name]
        assert opset == 17, name
        renamed: dict[str, str] = {}

        def r(t: str, k: int = k, renamed: dict[str, str] = renamed) -> str:
            return t if t in ("", "x", "Y") else renamed.setdefault(t, f"c{k}_{t}")

        for n in case_nodes:
            node = helper.make_node(n.op_type, [r(t) for t in n.input],
                                    [r(t) for t in n.output], name=f"c{k}_{n.op_type}")
            node.attribute.extend(n.attribute)
            nodes.append(node)
        for init in case_inits:
            t = onnx.TensorProto()
            t.CopyFrom(init)
            t.name = r(init.name)
            inits.append(t)
        outs.append(r("out"))
    model = test_ops._graph(nodes, inits, 17, out=outs[0])
    del model.graph.output[:]
    model.graph.output.extend(helper.make_tensor_value_info(o, TensorProto.FLOAT, None)
                              for o in outs)
    path = folder / "ops.onnx"
    onnx.save(model, path)
    return path


# ---------------------------------------------------------------------- the three checks

def _make(proj: Path, build: str, cflags: tuple[str, ...]) -> Path:
    """The project's test program built by its own Makefile into `build`, with the strict
    flags and `cflags` in place of the board's."""
    exe = f"{build}/m_test"
    flags = " ".join((*STRICT_CFLAGS, *cflags, "-Iinclude"))
    r = _run(["make", "-s", f"BUILD={build}", f"EXE={exe}", f"CFLAGS={flags}", exe], proj)
    assert r.returncode == 0, r.stdout + r.stderr
    return proj / exe


def _passed(r: subprocess.CompletedProcess) -> bool:
    found = re.search(r"^RNNGEN_RESULT passed=1 ", r.stdout, re.MULTILINE)
    return r.returncode == 0 and found is not None


def cppcheck(proj: Path, folders: tuple[str, ...]) -> None:
    r = _run([_tool("cppcheck"), *CPPCHECK, "-I", "include", *folders], proj)
    assert r.returncode == 0 and (r.stdout + r.stderr).strip() == "", r.stdout + r.stderr


def check_project(proj: Path) -> None:
    # 1. AddressSanitizer + UndefinedBehaviorSanitizer
    exe = _make(proj, "build-san", SANITIZE)
    r = _run([str(exe)], proj)
    assert _passed(r) and r.stderr == "", r.stdout + r.stderr
    # 2. valgrind memcheck on the optimized build
    exe = _make(proj, "build-opt", OPTIMIZED)
    r = _run([_tool("valgrind"), *VALGRIND, str(exe)], proj)
    assert _passed(r), r.stdout + r.stderr
    assert "ERROR SUMMARY: 0 errors from 0 contexts" in r.stderr, r.stderr
    assert "All heap blocks were freed -- no leaks are possible" in r.stderr, r.stderr
    # 3. cppcheck
    cppcheck(proj, ("src", "include", "test"))


CASES = [(c, d) for d in ("float32", "int8") for c in CELLS]


@pytest.mark.parametrize("cell,dtype", CASES, ids=[f"{c}-{d}" for c, d in CASES])
def test_every_cell_and_format(tmp_path, cell, dtype):
    int8 = dtype == "int8"
    model = stacked_model(tmp_path, cell, whole_sequence=int8)
    io = "int8" if int8 and cell in INT8_IO else "float"
    proj = tmp_path / "proj"
    res = driver.build(model, proj, driver.BuildOptions(name="m", dtype=dtype, io=io,
                                                        measure=False))
    # the model is what the tier claims to cover: every format, both paths
    rec = [n for n in res.graph.nodes if isinstance(n, ir.Recurrent)]
    assert len(rec) == 4 and {n.cell for n in rec} == {cell}
    fmts = {b.fmt for n in rec for cd in n.directions for m in (cd.W, cd.R)
            for b in (m.blocks if isinstance(m, formats.RowStack) else [m])}
    assert fmts == {"dense", "hmd", "csr", "lowrank", "kron"}, fmts
    assert res.graph.streaming is not int8
    assert ("const int8_t *x" in (proj / "include" / "m.h").read_text()) is (io == "int8")
    check_project(proj)


def test_every_format_int4_weights(tmp_path):
    """The int4 kernels of every matrix format (w4a8) under the same three checks: a stack
    of LSTM layers over every format. (The int16-input kernels have theirs in
    test_w4a16.py and test_a16_lowrank.py.)"""
    from rnngen import precision

    model = stacked_model(tmp_path, "LSTM", whole_sequence=True)
    proj = tmp_path / "proj"
    driver.build(model, proj, driver.BuildOptions(name="m", dtype="int8", measure=False,
                                                  precision=precision.parse("w4a8")))
    src = {p.name for p in (proj / "src").glob("rnn_mat_vec_*.c")}
    assert {"rnn_mat_vec_s4_s16.c", "rnn_mat_vec_csr_s4_s16.c", "rnn_mat_vec_kron_s4_s16.c",
            "rnn_mat_vec_lowrank_s4_s16.c"} <= src, src
    check_project(proj)


@pytest.mark.parametrize("dtype", ["float32", "int8"])
def test_every_operator(tmp_path, dtype):
    names = [n for n, c in test_ops.CASES.items()
             if c[2] == 17 and (dtype == "float32" or n not in INT8_NO)]
    model = operators_model(tmp_path, names)
    proj = tmp_path / "proj"
    res = driver.build(model, proj, driver.BuildOptions(name="m", dtype=dtype, measure=False))
    assert len(res.graph.outputs) == len(names) >= 8
    check_project(proj)
    # the bare-metal startup code (board/) too: the same model for the Cortex-M4
    m4 = tmp_path / "m4"
    driver.build(model, m4, driver.BuildOptions(name="m", dtype=dtype, target="cortex-m4",
                                                measure=False))
    cppcheck(m4, ("src", "include", "test", "board"))


@pytest.mark.parametrize("dtype", ["int8"])
def test_embedding_with_out_of_range_ids(tmp_path, dtype):
    """An embedding language model (int32 token ids, the table in flash) whose golden ids
    include negative and too large ones: the lookup clamps them, and the sanitizers,
    valgrind and cppcheck find nothing. (One kernel, rnn_gather_rows, copies the rows of
    either table as bytes: the int8 build covers it.)"""
    from tests.e2e import test_embedding

    path = test_embedding._export(tmp_path, False)
    ids = np.load(tmp_path / "ids.npy")
    ids[0, :4] = [-1, -test_embedding.V - 3, test_embedding.V, 2 ** 20]
    np.save(tmp_path / "oob.npy", ids)
    proj = tmp_path / "proj"
    res = driver.build(path, proj, driver.BuildOptions(name="m", dtype=dtype, measure=False,
                                                        input=str(tmp_path / "oob.npy")))
    assert res.graph.input_ids
    assert "const int32_t *x" in (proj / "include" / "m.h").read_text()
    check_project(proj)


@pytest.mark.parametrize("kind,dtype", [("mean", "float32"), ("sum", "int8"),
                                        ("attention", "float32"), ("attention", "int8")])
def test_pooling_over_time_streams_safely(tmp_path, kind, dtype):
    """Running pooling over time (rnn_running_reduce_*, rnn_running_attention_pool_*:
    running values and count in the state struct) in the step and block programs, and the
    golden test's streaming checks."""
    import torch
    from tests.e2e import test_streaming_layers as tsl
    from tests.torch_export import export

    torch.manual_seed(5)
    net = {"mean": tsl.MeanOverTime, "max": tsl.MaxOverTime, "sum": tsl.SumOverTime,
           "attention": tsl.AttentionOverTime}[kind]().eval()
    path = export(net, torch.randn(1, 11, 6), tmp_path / "pool.onnx")
    proj = tmp_path / "proj"
    res = driver.build(path, proj, driver.BuildOptions(name="m", dtype=dtype, measure=False))
    assert res.graph.streaming and res.graph.block is not None
    assert any(isinstance(n, (ir.RunningReduce, ir.RunningAttentionPool))
               for n in res.graph.step.nodes)
    check_project(proj)


@pytest.mark.parametrize("dtype", ["float32", "int8"])
def test_convolution_over_time_streams_safely(tmp_path, dtype):
    """A conv and pools along time in the step program (rnn_frame_push: the windows of
    frames, their counts and flags in the state struct; the layers after them run only on
    the steps their windows fire; the held outputs in the state) and the golden test's
    streaming checks."""
    import torch
    from tests.e2e import test_streaming_conv as tsc
    from tests.torch_export import export

    torch.manual_seed(5)
    net = tsc.ValidConvPool().eval()
    path = export(net, torch.randn(1, 11, 6), tmp_path / "conv.onnx")
    proj = tmp_path / "proj"
    res = driver.build(path, proj, driver.BuildOptions(name="m", dtype=dtype, measure=False))
    assert res.graph.streaming and res.graph.step.delay == 5 and res.graph.step.held
    # the convs and the max pool (the average pool of one frame keeps none)
    assert sum(isinstance(n, ir.FrameWindow) for n in res.graph.step.nodes) == 3
    check_project(proj)


@pytest.mark.parametrize("kind,dtype", [("dtln", "float32"), ("lstm", "int8")])
def test_stateful_models(tmp_path, kind, dtype):
    """<name>_set_state / <name>_get_state (strided copies for the DTLN-style state tensor;
    quantize/dequantize calls for int8) and the golden test's state checks."""
    from tests.e2e import test_stateful

    path, ins, outs, pairs = test_stateful._export(tmp_path, kind, False)
    proj = tmp_path / "proj"
    res = driver.build(path, proj, driver.BuildOptions(name="m", dtype=dtype, measure=False,
                                                       input=str(tmp_path / "in.npz")))
    assert res.graph.state_inputs and res.graph.streaming
    assert "m_get_state" in (proj / "include" / "m.h").read_text()
    check_project(proj)


def layers_model(folder: Path, conv: bool = True) -> Path:
    """Every layer of issue 11 on one input [1, 6, 12], one graph output each: 1-D and 2-D
    convolutions (strides, padding, dilation, groups, depthwise, auto_pad), pooling,
    reductions, normalizations (standalone and folded), Pad, Clip and HardSwish. conv False:
    the same without the convolutions."""
    rng = np.random.default_rng(111)

    def c(name, arr):
        return onnx.numpy_helper.from_array(np.asarray(arr), name)

    def w(*shape):
        return (rng.standard_normal(shape) * 0.5).astype(F32)

    N = helper.make_node
    nodes = [
        N("Conv", ["x", "W1", "B1"], ["o_conv1d"], strides=[2], pads=[2, 1], dilations=[2]),
        N("Conv", ["x", "W2"], ["o_groups"], group=3),
        N("Reshape", ["x", "s4"], ["x4"]),
        N("Conv", ["x4", "W3", "B3"], ["o_depthwise"], group=6, auto_pad="SAME_UPPER",
          strides=[2, 1]),
        N("MaxPool", ["x4"], ["o_maxpool"], kernel_shape=[2, 2], pads=[1, 0, 0, 1]),
        N("AveragePool", ["x"], ["o_avg_in"], kernel_shape=[4], strides=[3], pads=[2, 2],
          count_include_pad=1),
        N("AveragePool", ["x"], ["o_avg_ex"], kernel_shape=[3], pads=[1, 1]),
        N("GlobalAveragePool", ["x4"], ["o_gap"]),
        N("ReduceMean", ["x"], ["o_mean"], axes=[1], keepdims=0),
        N("ReduceMax", ["x"], ["o_max"], axes=[2]),
        N("ReduceSum", ["x", "ax"], ["o_sum"], keepdims=0),
        N("LayerNormalization", ["x", "S", "LB"], ["o_ln"]),
        N("BatchNormalization", ["x", "g", "b", "m", "v"], ["o_bn"]),
        N("InstanceNormalization", ["x", "g", "b"], ["o_in"]),
        N("Conv", ["x", "W4"], ["cbn"], pads=[1, 1]),
        N("BatchNormalization", ["cbn", "g", "b", "m", "v"], ["o_conv_bn"]),
        N("Pad", ["x", "p", "pv"], ["o_pad"]),
        N("Clip", ["x", "lo", "hi"], ["cl"]),
        N("HardSwish", ["cl"], ["o_clip_hswish"]),
    ]
    inits = [c("W1", w(4, 6, 3)), c("B1", w(4)), c("W2", w(6, 2, 4)), c("s4", [1, 6, 3, 4]),
             c("W3", w(6, 1, 3, 2)), c("B3", w(6)), c("ax", np.array([1, 2])),
             c("S", w(12) + 1), c("LB", w(12)), c("g", w(6) + 1), c("b", w(6)), c("m", w(6)),
             c("v", rng.uniform(0.5, 2, 6).astype(F32)), c("W4", w(6, 6, 3)),
             c("p", np.array([0, 1, 2, 0, 0, 3])), c("pv", np.array(0.25, F32)),
             c("lo", np.array(-0.5, F32)), c("hi", np.array(0.75, F32))]
    if not conv:
        nodes = [n for n in nodes if n.op_type != "Conv" and n.input[0] != "cbn"]
        used = {i for n in nodes for i in n.input}
        inits = [t for t in inits if t.name in used]
    outs = [n.output[0] for n in nodes if n.output[0].startswith("o_")]
    g = helper.make_graph(nodes, "layers",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 6, 12])],
                          [helper.make_tensor_value_info(o, TensorProto.FLOAT, None)
                           for o in outs], inits)
    path = folder / "layers.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


@pytest.mark.parametrize("dtype", ["float32", "int8"])
def test_every_layer_around_rnns(tmp_path, dtype):
    """Every layer has an int8 kernel too: the int8 project is checked the same way (without
    the convolutions, which cppcheck's style checks flag in rnn_conv_s8.c: the conv kernel's
    own tier, tests/kernels/test_conv_s8_kernels.py, covers it)."""
    model = layers_model(tmp_path, conv=dtype == "float32")
    proj = tmp_path / "proj"
    res = driver.build(model, proj, driver.BuildOptions(name="m", dtype=dtype, measure=False))
    kernels = set(res.manifest["kernels"])
    if dtype == "int8":
        want = {"rnn_max_pool_s8", "rnn_avg_pool_s8", "rnn_reduce_s8",
                "rnn_reduce_sum_s8", "rnn_layer_norm_s8", "rnn_scale_shift_s8", "rnn_lut_s8"}
    else:
        want = {"rnn_conv_f32", "rnn_pool_f32", "rnn_reduce_f32", "rnn_layer_norm_f32",
                "rnn_scale_shift_f32", "rnn_activation_f32"}
    assert want <= kernels, kernels
    check_project(proj)


# ---------------------------------------------------------------------- 100,000 steps

STEPS = 100_000
PREFIX = 64  # steps whose outputs are compared with the reference
I_STREAM, H_STREAM = 4, 8

STREAM_PROGRAM = r"""
#define _POSIX_C_SOURCE 200809L /* getrusage */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/resource.h>

#include "m.h"

#define STEPS %(steps)dL
#define PREFIX %(prefix)dL
#define H %(hidden)d

static m_state_t state; /* the model's only memory */
static m_in_t x[M_INPUT_STEP_SIZE];
static m_out_t y[M_STEP_OUTPUT_SIZE];
static char out_buf[1 << 16]; /* stdout's buffer: not from the heap */
static const double c_bound[H] = {%(c_bound)s};

/* inputs in [-1, 1): a 32-bit linear congruential generator, top 24 bits */
static uint32_t lcg = 12345u;
static float next_input(void)
{
    lcg = lcg * 1664525u + 1013904223u;
    return (float)(lcg >> 8) * (1.0f / 8388608.0f) - 1.0f;
}

static long peak_rss_kb(void)
{
    struct rusage u;
    if (getrusage(RUSAGE_SELF, &u) != 0)
    {
        return -1;
    }
    return u.ru_maxrss;
}

int main(void)
{
    long t;
    long bad_outputs = 0;
    long bad_state = 0;
    long rss_1000 = -1;
    double max_h = 0.0;
    double max_c = 0.0;
    int i;

    if (setvbuf(stdout, out_buf, _IOFBF, sizeof out_buf) != 0)
    {
        return 2;
    }
    m_reset(&state);
    for (t = 1; t <= STEPS; ++t)
    {
        for (i = 0; i < M_INPUT_STEP_SIZE; ++i)
        {
            x[i] = next_input();
        }
        m_step(&state, x, y);
        if (t <= PREFIX)
        {
            printf("y");
            for (i = 0; i < M_STEP_OUTPUT_SIZE; ++i)
            {
                printf(" %%.9g", (double)y[i]);
            }
            printf("\n");
        }
        for (i = 0; i < M_STEP_OUTPUT_SIZE; ++i)
        {
            if (!isfinite((double)y[i]))
            {
                ++bad_outputs;
            }
        }
        for (i = 0; i < H; ++i)
        {
            const double h = %(h_value)s;
            const double c = %(c_value)s;
            if (!(fabs(h) <= 1.0 && fabs(c) <= c_bound[i]))
            {
                ++bad_state; /* also NaN */
            }
            max_h = fabs(h) > max_h ? fabs(h) : max_h;
            max_c = fabs(c) > max_c ? fabs(c) : max_c;
        }
        if (t == 1000)
        {
            rss_1000 = peak_rss_kb();
        }
    }
    printf("steps=%%ld bad_outputs=%%ld bad_state=%%ld max_h=%%.9g max_c=%%.9g "
           "rss_1000=%%ld rss_end=%%ld state_bytes=%%lu\n",
           t - 1, bad_outputs, bad_state, max_h, max_c, rss_1000, peak_rss_kb(),
           (unsigned long)sizeof(state));
    return 0;
}
"""


def _lcg_inputs(n: int) -> np.ndarray:
    """The C program's first n input values, in the same float32 arithmetic (exact)."""
    out, s = np.empty(n, F32), 12345
    for k in range(n):
        s = (s * 1664525 + 1013904223) & 0xFFFFFFFF
        out[k] = F32(s >> 8) * F32(1.0 / 8388608.0) - F32(1.0)
    return out


def _stream_model(folder: Path) -> tuple[Path, np.ndarray]:
    """A dense LSTM (its output is h) and the bound 1 + exp(P) on |c| per unit, with P >=
    |forget gate pre-activation| for |x| <= 1, |h| <= 1 (ONNX gate order i, o, f, c)."""
    rng = np.random.default_rng(2024)
    H, I = H_STREAM, I_STREAM
    W, R = _u(rng, 4 * H, I), _u(rng, 4 * H, H)
    b_ih, b_hh = _u(rng, 4 * H), _u(rng, 4 * H)
    f = slice(2 * H, 3 * H)
    P = (np.abs(b_ih[f].astype(np.float64) + b_hh[f]) + np.abs(W[f]).sum(1)
         + np.abs(R[f]).sum(1))
    path = rn.save(folder / "stream.npz", [rn.lstm(W, R, b_ih, b_hh, gate_order="onnx")],
                   input_size=I, seq_len=PREFIX)
    return path, 1.0 + np.exp(P)


@pytest.mark.parametrize("dtype", ["float32", "int8"])
def test_100000_steps_finite_bounded_constant_memory(tmp_path, dtype):
    int8 = dtype == "int8"
    model, c_bound = _stream_model(tmp_path)
    proj = tmp_path / "lib"
    res = driver.build(model, proj, driver.BuildOptions(name="m", dtype=dtype, no_main=True))
    g = res.graph
    assert g.streaming and (proj / "rnngen.mk").exists() and not (proj / "test").exists()
    pg = g.step if g.step is not None else g
    assert pg.memory is not None
    h_off, c_off = pg.memory.state_slots[("lstm0", 0)]
    if int8:
        q = (pg.quant or g.quant).nodes["lstm0"]
        # int8 h (zero point, scale); int16 c with scale 2^-cell_exp. The quantized weights
        # move P by far less than 0.5: the bound gets that margin.
        h_value = f"((double)state.state[{h_off} + i] - {q.h.zero_point}) * {q.h.scale!r}"
        c_value = f"ldexp((double)state.state16[{c_off} + i], -{q.cell_exp})"
        c_bound = 1.0 + (c_bound - 1.0) * np.exp(0.5)
    else:
        h_value = f"(double)state.state[{h_off} + i]"
        c_value = f"(double)state.state[{c_off} + i]"
    (proj / "stream.c").write_text(STREAM_PROGRAM % {
        "steps": STEPS, "prefix": PREFIX, "hidden": H_STREAM, "h_value": h_value,
        "c_value": c_value, "c_bound": ", ".join(repr(float(b)) for b in c_bound)})
    srcs = sorted(str(p.relative_to(proj)) for p in (proj / "src").glob("*.c"))
    objs = []
    for src in srcs:
        objs.append(f"{Path(src).stem}.o")
        r = _run(["gcc", *STRICT_CFLAGS, *OPTIMIZED, "-Iinclude", "-c", src, "-o", objs[-1]],
                 proj)
        assert r.returncode == 0, r.stdout + r.stderr
    exe = proj / "stream"
    r = _run(["gcc", *STRICT_CFLAGS, *OPTIMIZED, "-Iinclude", "-o", str(exe), "stream.c",
              *objs, "-lm"], proj)
    assert r.returncode == 0, r.stdout + r.stderr
    # the model and its kernels have no writable static data (.data, .bss; .data.rel.ro
    # holds the constant parameter structs that point at tables, read-only once relocated),
    # so the caller's state struct is all the RAM they use
    r = _run(["objdump", "-h", *objs], proj)
    assert r.returncode == 0, r.stderr
    sections = re.findall(r"^\s*\d+\s+(\S+)\s+([0-9a-f]+)\s", r.stdout, re.MULTILINE)
    writable = [(n, s) for n, s in sections if n.startswith((".data", ".bss"))
                and not n.startswith(".data.rel.ro") and int(s, 16)]
    assert sections and not writable, writable

    r = _run([str(exe)], proj)
    assert r.returncode == 0 and r.stderr == "", r.stdout + r.stderr
    lines = r.stdout.splitlines()
    summary = dict(kv.split("=") for kv in lines[-1].split())
    assert summary["steps"] == str(STEPS)
    assert summary["bad_outputs"] == "0" and summary["bad_state"] == "0", summary
    assert 0 < float(summary["max_h"]) <= 1 and 0 < float(summary["max_c"]), summary
    # constant memory: no page was touched for the first time after step 1,000
    assert int(summary["rss_1000"]) > 0 and summary["rss_1000"] == summary["rss_end"], summary
    assert int(summary["state_bytes"]) == res.manifest["state_bytes"] == \
        json.loads((proj / "manifest.json").read_text())["size"]["state"]

    # the first PREFIX outputs are the model's: rnngen's reference on the same inputs
    x = _lcg_inputs(PREFIX * I_STREAM).reshape(PREFIX, 1, I_STREAM)
    got = np.array([[float(v) for v in ln.split()[1:]] for ln in lines[:PREFIX]], F32)
    if int8:
        want = reference.Executor(g, dtype="int8").run(x)["output"].reshape(PREFIX, -1)
        assert np.array_equal(got, want)
    else:
        want = reference.run(g, x)["output"].reshape(PREFIX, -1)
        np.testing.assert_allclose(got, want, atol=1e-5, rtol=1e-4)

    # no heap at all, over the whole run (stdio included: its buffer is static)
    r = _run([_tool("valgrind"), *VALGRIND, str(exe)], proj, timeout=600)
    same = ("steps", "bad_outputs", "bad_state", "max_h", "max_c", "state_bytes")
    got_vg = dict(kv.split("=") for kv in r.stdout.splitlines()[-1].split())
    assert r.returncode == 0 and all(got_vg[k] == summary[k] for k in same), r.stderr
    assert "total heap usage: 0 allocs, 0 frees, 0 bytes allocated" in r.stderr, r.stderr
    assert "ERROR SUMMARY: 0 errors from 0 contexts" in r.stderr, r.stderr
