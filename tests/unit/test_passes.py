"""Unit tests of every pass of the pipeline (codegen/passes/), each run alone on a small IR
graph built here with the rnngen.ir constructors.

Every expectation is stated independently of the pass: outputs are compared with the float
reference before/after the pass, live ranges and state slots are recomputed here, calibrated
ranges are recomputed from the reference's tensors, and CSR matrices are compared with the
dense matrix they came from. Host only, no C compilation.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import replace

import numpy as np
import pytest
from rnngen import cells, formats, ir, pipeline, quant, reference
from rnngen.errors import RnngenError
from rnngen.passes import (analyze_time, fold_batchnorm, plan_memory, quantize, simplify,
                           sparsify, validate)

F32 = np.float32
T, I, H = 5, 3, 4  # time steps, input size, hidden size of the test graphs


# --------------------------------------------------------------------------- builders

def _rand(rng: np.random.Generator, *shape: int, scale: float = 0.5) -> np.ndarray:
    return rng.uniform(-scale, scale, shape).astype(F32)


def _direction(cell: str, hidden: int, inp: int, rng: np.random.Generator,
               reverse: bool = False, W: ir.Matrix | None = None,
               R: ir.Matrix | None = None) -> ir.CellDirection:
    c = cells.of(cell)
    GH = c.gates * hidden
    return ir.CellDirection(
        reverse=reverse,
        W=W if W is not None else formats.as_matrix(_rand(rng, GH, inp)),
        R=R if R is not None else formats.as_matrix(_rand(rng, GH, hidden)),
        wb=_rand(rng, GH, scale=0.1), rb=_rand(rng, GH, scale=0.1), p=None,
        h0=_rand(rng, hidden, scale=0.2),
        c0=_rand(rng, hidden, scale=0.2) if c.has_cell_state else None,
        activations=tuple(ir.Activation.default(a) for a in c.activations))


def _recurrent(name: str, x: str, outs: tuple[str, str, str], cell: str, hidden: int,
               inp: int, dirs: tuple[ir.CellDirection, ...], seq_len: int = T,
               valid_len: int | None = None) -> ir.Recurrent:
    return ir.Recurrent(name, (x,), outs, cell=cell, hidden=hidden, input_size=inp,
                        seq_len=seq_len, valid_len=seq_len if valid_len is None else valid_len,
                        layout=0, directions=dirs, clip=None, input_forget=False,
                        linear_before_reset=False)


def _rec_shapes(outs: tuple[str, str, str], D: int, hidden: int) -> dict[str, ir.Shape]:
    y, yh, yc = outs
    shapes = {y: (T, D, 1, hidden), yh: (D, 1, hidden), yc: (D, 1, hidden)}
    return {k: v for k, v in shapes.items() if k}


def _graph(nodes: list[ir.Node], shapes: dict[str, ir.Shape], outputs: tuple[str, ...],
           constants: dict[str, np.ndarray] | None = None, x_shape: ir.Shape = (T, 1, I),
           time_axis: int | None = 0) -> ir.Graph:
    consts = constants or {}
    all_shapes = {"x": x_shape, **{k: tuple(v.shape) for k, v in consts.items()}, **shapes}
    g = ir.Graph(name="m", input="x", outputs=outputs, nodes=tuple(nodes), shapes=all_shapes,
                 constants=consts, seq_len=T, source="m.onnx", input_time_axis=time_axis)
    ir.verify(g)
    return g


def _x(g: ir.Graph, seed: int = 1) -> np.ndarray:
    return reference.golden_input(g, seed)


def _same_outputs(a: ir.Graph, b: ir.Graph, x: np.ndarray, exact: bool = False) -> None:
    ra, rb = reference.run(a, x), reference.run(b, x)
    assert set(ra) == set(rb) == set(a.outputs)
    for o in a.outputs:
        assert ra[o].shape == rb[o].shape
        if exact:
            np.testing.assert_array_equal(ra[o], rb[o])
        else:
            np.testing.assert_allclose(ra[o], rb[o], rtol=1e-6, atol=1e-6)


def _lstm_head(rng: np.random.Generator) -> ir.Graph:
    """x [T,1,I] -> LSTM (Y, Y_h, Y_c) -> View Y [T,H] -> Linear [T,2]; outputs z, Y_h, Y_c."""
    outs = ("Y", "Y_h", "Y_c")
    lstm = _recurrent("lstm", "x", outs, "LSTM", H, I, (_direction("LSTM", H, I, rng),))
    nodes: list[ir.Node] = [
        lstm,
        ir.View("flat", ("Y",), ("Yf",), (T, H)),
        ir.Linear("fc", ("Yf",), ("z",), W=formats.as_matrix(_rand(rng, 2, H)),
                  b=_rand(rng, 2, scale=0.1)),
    ]
    shapes = {**_rec_shapes(outs, 1, H), "Yf": (T, H), "z": (T, 2)}
    return _graph(nodes, shapes, ("z", "Y_h", "Y_c"))


OPTS = pipeline.Options()


# The passes this file tests, in the pipeline's order (README "Pass list"): a pass added to
# pipeline.PASSES without unit tests here makes this test fail.
TESTED = ("validate", "sparsify", "simplify", "fold_batchnorm", "analyze_time", "quantize",
          "plan_memory")


def test_every_pass_of_the_pipeline_is_tested_here() -> None:
    assert tuple(pipeline.pass_names()) == TESTED
    mods = {"validate": validate, "sparsify": sparsify, "simplify": simplify,
            "fold_batchnorm": fold_batchnorm, "analyze_time": analyze_time, "quantize": quantize,
            "plan_memory": plan_memory}
    assert all(fn is mods[name].run for name, fn in pipeline.PASSES)


# --------------------------------------------------------------------------- validate

def test_validate_passes_a_finite_graph_through_unchanged() -> None:
    g = _lstm_head(np.random.default_rng(0))
    assert validate.run(g, OPTS) is g


@pytest.mark.parametrize("where, want", [
    ("W", "LSTM node 'lstm' W contains 1 NaN or Inf"),
    ("R", "LSTM node 'lstm' R contains 1 NaN or Inf"),
    ("wb", "LSTM node 'lstm' B (W part) contains 1 NaN or Inf"),
    ("c0", "LSTM node 'lstm' initial_c contains 1 NaN or Inf"),
    ("fc_W", "Linear node 'fc' weight contains 1 NaN or Inf"),
    ("fc_b", "node 'fc' bias contains 1 NaN or Inf"),
])
def test_validate_names_the_node_and_attribute_of_a_nan(where: str, want: str) -> None:
    g = _lstm_head(np.random.default_rng(0))
    lstm, view, fc = g.nodes
    assert isinstance(lstm, ir.Recurrent) and isinstance(fc, ir.Linear)
    cd = lstm.directions[0]
    if where in ("W", "R"):
        w = getattr(cd, where).to_dense().copy()
        w[1, 2] = np.nan
        cd = replace(cd, **{where: formats.as_matrix(w)})
    elif where in ("wb", "c0"):
        v = getattr(cd, where).copy()
        v[0] = np.inf
        cd = replace(cd, **{where: v})
    elif where == "fc_W":
        w = fc.W.to_dense().copy()
        w[0, 0] = -np.inf
        fc = ir.Linear(fc.name, fc.inputs, fc.outputs, W=formats.as_matrix(w), b=fc.b)
    else:
        b = fc.b.copy()
        b[1] = np.nan
        fc = ir.Linear(fc.name, fc.inputs, fc.outputs, W=fc.W, b=b)
    lstm = _recurrent(lstm.name, "x", lstm.outputs, "LSTM", H, I, (cd,))
    bad = g.replace(nodes=(lstm, view, fc))
    with pytest.raises(RnngenError) as e:
        validate.run(bad, OPTS)
    assert str(e.value) == f"m.onnx: {want} value(s)"


def test_validate_names_the_direction_and_factor_of_a_compressed_matrix() -> None:
    rng = np.random.default_rng(0)
    dense = _pruned(rng, 3 * H, H, zeros=30)
    vals = formats.sparsify(formats.as_matrix(dense), 0.5)
    assert formats.of(vals) is formats.FORMATS["csr"]
    vals.values[0] = np.nan
    dirs = (_direction("GRU", H, I, rng), _direction("GRU", H, I, rng, reverse=True, R=vals))
    outs = ("Y", "Y_h", "")
    g = _graph([_recurrent("gru", "x", outs, "GRU", H, I, dirs)], _rec_shapes(outs, 2, H),
               ("Y",))
    with pytest.raises(RnngenError, match=r"^m\.onnx: GRU node 'gru' direction 1 R\.values "
                                          r"contains 1 NaN or Inf value\(s\)$"):
        validate.run(g, OPTS)


def test_validate_names_a_bad_constant() -> None:
    rng = np.random.default_rng(0)
    c = _rand(rng, I)
    c[2] = np.inf
    g = _graph([ir.Binary("add", ("x", "k"), ("y",), "Add")], {"y": (T, 1, I)}, ("y",),
               constants={"k": c})
    with pytest.raises(RnngenError) as e:
        validate.run(g, OPTS)
    assert str(e.value) == ("m.onnx: constant 'k' (input of Add node 'add') contains 1 NaN "
                            "or Inf value(s)")


# --------------------------------------------------------------------------- simplify

def test_simplify_fuses_a_bias_add_into_the_linear() -> None:
    rng = np.random.default_rng(2)
    W, b0, bias = _rand(rng, 6, I), _rand(rng, 6), _rand(rng, 6)
    for first_bias in (None, b0):
        g = _graph([ir.Linear("mm", ("x",), ("p",), W=formats.as_matrix(W), b=first_bias),
                    ir.Binary("add", ("bias", "p"), ("y",), "Add")],
                   {"p": (T, 1, 6), "y": (T, 1, 6)}, ("y",), constants={"bias": bias})
        s = simplify.run(g, OPTS)
        ir.verify(s)
        assert len(s.nodes) == 1
        (lin,) = s.nodes
        assert isinstance(lin, ir.Linear) and lin.outputs == ("y",)
        want = bias if first_bias is None else (b0 + bias)
        np.testing.assert_array_equal(lin.b, want)
        np.testing.assert_array_equal(lin.W.to_dense(), W)
        assert "bias" not in s.constants and "p" not in s.shapes
        _same_outputs(g, s, _x(g))


def test_simplify_keeps_an_add_whose_linear_result_is_read_elsewhere() -> None:
    rng = np.random.default_rng(2)
    g = _graph([ir.Linear("mm", ("x",), ("p",), W=formats.as_matrix(_rand(rng, 6, I)), b=None),
                ir.Binary("add", ("p", "bias"), ("y",), "Add"),
                ir.Unary("act", ("p",), ("q",), ir.TANH)],
               {"p": (T, 1, 6), "y": (T, 1, 6), "q": (T, 1, 6)}, ("y", "q"),
               constants={"bias": _rand(rng, 6)})
    s = simplify.run(g, OPTS)
    assert [n.op for n in s.nodes] == ["Linear", "Binary", "Unary"]
    assert s.nodes[0].b is None
    _same_outputs(g, s, _x(g), exact=True)
    # nor when the Linear's result is itself a graph output
    g2 = g.replace(nodes=g.nodes[:2], outputs=("y", "p"),
                   shapes={k: v for k, v in g.shapes.items() if k != "q"})
    s2 = simplify.run(g2, OPTS)
    assert [n.op for n in s2.nodes] == ["Linear", "Binary"]
    _same_outputs(g2, s2, _x(g2), exact=True)


def test_simplify_removes_dead_nodes_constants_and_unused_recurrent_outputs() -> None:
    rng = np.random.default_rng(3)
    outs = ("Y", "Y_h", "Y_c")
    nodes: list[ir.Node] = [
        _recurrent("lstm", "x", outs, "LSTM", H, I, (_direction("LSTM", H, I, rng),)),
        ir.Binary("dead_mul", ("Y_c", "k"), ("dc",), "Mul"),  # read by nobody
        ir.Unary("dead_act", ("dc",), ("dd",), ir.TANH),
        ir.Unary("act", ("Y_h",), ("out",), ir.TANH),
    ]
    shapes = {**_rec_shapes(outs, 1, H), "dc": (1, 1, H), "dd": (1, 1, H), "out": (1, 1, H)}
    g = _graph(nodes, shapes, ("out",), constants={"k": _rand(rng, H)})
    s = simplify.run(g, OPTS)
    ir.verify(s)
    assert [n.name for n in s.nodes] == ["lstm", "act"]
    assert s.nodes[0].outputs == ("", "Y_h", "")  # Y and Y_c are read by nobody alive
    assert s.constants == {}
    assert set(s.shapes) == {"x", "Y_h", "out"}
    _same_outputs(g, s, _x(g), exact=True)


def test_simplify_turns_noop_data_movement_into_views_of_the_first_source() -> None:
    g = _graph([
        ir.Transpose("tr", ("x",), ("a",), (1, 0, 2)),  # moves only the axis of size 1
        ir.Slice("all", ("a",), ("b",), (0, 0, 0), (1, 1, 1), (1, T, I)),  # keeps everything
        ir.View("v", ("b",), ("c",), (T, I)),
        ir.Unary("act", ("c",), ("y",), ir.TANH),
        ir.Transpose("real", ("y",), ("z",), (1, 0)),  # a real transpose stays
    ], {"a": (1, T, I), "b": (1, T, I), "c": (T, I), "y": (T, I), "z": (I, T)}, ("z",))
    s = simplify.run(g, OPTS)
    ir.verify(s)
    # tr and all became Views, the View chain reads x directly, so tr and all are dead
    assert [n.name for n in s.nodes] == ["v", "act", "real"]
    v, _, real = s.nodes
    assert isinstance(v, ir.View) and v.inputs == ("x",) and v.shape == (T, I)
    assert isinstance(real, ir.Transpose) and real.perm == (1, 0)
    assert set(s.shapes) == {"x", "c", "y", "z"}
    _same_outputs(g, s, _x(g), exact=True)


def test_simplify_makes_a_size_one_transpose_and_a_full_slice_views() -> None:
    g = _graph([
        ir.Transpose("tr", ("x",), ("a",), (1, 0, 2)),  # moves only the axis of size 1
        ir.Unary("act", ("a",), ("b",), ir.TANH),
        ir.Slice("all", ("b",), ("c",), (0, 0, 0), (1, 1, 1), (1, T, I)),
        ir.Unary("act2", ("c",), ("y",), ir.TANH),
        ir.Slice("part", ("y",), ("z",), (0, 1, 0), (1, 1, 1), (1, T - 1, I)),  # stays
    ], {"a": (1, T, I), "b": (1, T, I), "c": (1, T, I), "y": (1, T, I), "z": (1, T - 1, I)},
        ("z",))
    s = simplify.run(g, OPTS)
    ir.verify(s)
    assert [n.op for n in s.nodes] == ["View", "Unary", "View", "Unary", "Slice"]
    assert s.nodes[0].shape == (1, T, I) and s.nodes[2].shape == (1, T, I)
    _same_outputs(g, s, _x(g), exact=True)


def test_simplify_copies_a_graph_input_that_is_also_an_output() -> None:
    rng = np.random.default_rng(4)
    g = _graph([
        ir.View("ident", ("x",), ("x_out",), (T, 1, I)),  # Identity of the input
        ir.View("flat", ("x",), ("x_flat",), (T, I)),  # Reshape of the input
        ir.Linear("fc", ("x",), ("y",), W=formats.as_matrix(_rand(rng, 2, I)), b=None),
    ], {"x_out": (T, 1, I), "x_flat": (T, I), "y": (T, 1, 2)}, ("y", "x_out", "x_flat"))
    s = simplify.run(g, OPTS)
    ir.verify(s)
    prod = s.producer()
    # the same-shape output is an identity Transpose (a copy) of x
    ident = prod["x_out"]
    assert isinstance(ident, ir.Transpose) and ident.perm == (0, 1, 2)
    assert ident.inputs == ("x",)
    # the reshaped output is a View of a copy of x, not of x itself
    flat = prod["x_flat"]
    assert isinstance(flat, ir.View) and flat.inputs[0] != "x"
    copy = prod[flat.inputs[0]]
    assert isinstance(copy, ir.Transpose) and copy.inputs == ("x",)
    assert s.shapes[flat.inputs[0]] == (T, 1, I)
    # no output shares the caller's input memory once memory is planned
    mem = plan_memory.run(s, OPTS).memory
    assert mem is not None
    for o in s.outputs:
        assert mem.place[o][0] == "arena"
    _same_outputs(g, s, _x(g), exact=True)


# --------------------------------------------------------------------------- analyze_time

def _run_steps(g: ir.Graph, x: np.ndarray) -> list[dict[str, np.ndarray]]:
    assert g.step is not None
    ex = reference.Executor(g.step)
    return [ex.run(x[t:t + 1]) for t in range(T)]


def test_analyze_time_builds_a_one_step_graph_equal_to_the_whole_run() -> None:
    rng = np.random.default_rng(5)
    outs = ("Y", "Y_h", "")
    nodes: list[ir.Node] = [
        _recurrent("gru", "x", outs, "GRU", H, I, (_direction("GRU", H, I, rng),)),
        ir.View("flat", ("Y",), ("Yf",), (T, H)),
        ir.Linear("fc", ("Yf",), ("z",), W=formats.as_matrix(_rand(rng, 3, H)), b=None),
        ir.Softmax("sm", ("z",), ("p",), axis=1, log=False),  # over features: step-wise
        ir.Slice("last", ("z",), ("zl",), (T - 1, 0), (1, 1), (1, 3)),  # the last step
    ]
    shapes = {**_rec_shapes(outs, 1, H), "Yf": (T, H), "z": (T, 3), "p": (T, 3),
              "zl": (1, 3)}
    g = _graph(nodes, shapes, ("p", "Y_h", "zl"))
    a = analyze_time.run(g, OPTS)
    assert a.streaming and a.not_streaming_why == ""
    assert a.time is not None
    assert a.time["x"] == ir.TimeInfo("seq", 0) and a.time["p"] == ir.TimeInfo("seq", 0)
    assert a.time["Y_h"].kind == "final" and a.time["zl"].kind == "final"
    step = a.step
    assert step is not None and step.seq_len == 1
    assert step.shapes["x"] == (1, 1, I) and step.shapes["p"] == (1, 3)
    assert step.shapes["Y_h"] == (1, 1, H) and step.shapes["zl"] == (1, 3)
    assert all(n.seq_len == 1 for n in step.nodes if isinstance(n, ir.Recurrent))

    x = _x(g)
    whole = reference.run(g, x)
    steps = _run_steps(a, x)  # state carried by the executor from call to call
    np.testing.assert_allclose(np.concatenate([s["p"] for s in steps]), whole["p"],
                               rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(steps[-1]["Y_h"], whole["Y_h"], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(steps[-1]["zl"], whole["zl"], rtol=1e-6, atol=1e-7)
    # the state really is carried: a fresh executor's first step differs from step T
    assert not np.allclose(steps[0]["Y_h"], steps[-1]["Y_h"])


def _not_streaming_cases() -> list[tuple[str, ir.Graph, str]]:
    rng = np.random.default_rng(6)
    cases = []
    g = _graph([ir.Softmax("sm", ("x",), ("y",), axis=0, log=False)], {"y": (T, 1, I)}, ("y",))
    cases.append(("softmax", g, "Softmax 'sm' normalizes over time"))
    g = _graph([ir.Transpose("tr", ("x",), ("xt",), (1, 2, 0)),
                ir.Linear("mix", ("xt",), ("y",), W=formats.as_matrix(_rand(rng, 2, T)),
                          b=None)],
               {"xt": (1, I, T), "y": (1, I, 2)}, ("y",))
    cases.append(("linear over time", g, "'mix' multiplies along the time axis"))
    outs = ("Y", "", "")
    dirs = (_direction("LSTM", H, I, rng), _direction("LSTM", H, I, rng, reverse=True))
    g = _graph([_recurrent("bi", "x", outs, "LSTM", H, I, dirs)], _rec_shapes(outs, 2, H),
               ("Y",))
    cases.append(("bidirectional", g, "LSTM 'bi' runs backwards in time (bidirectional)"))
    g = _graph([_recurrent("short", "x", outs, "RNN", H, I, (_direction("RNN", H, I, rng),),
                           valid_len=T - 2)], _rec_shapes(outs, 1, H), ("Y",))
    cases.append(("sequence_lens", g, "RNN 'short' has sequence_lens shorter than the input"))
    g = _graph([ir.Slice("first", ("x",), ("y",), (0, 0, 0), (1, 1, 1), (1, 1, I))],
               {"y": (1, 1, I)}, ("y",))
    cases.append(("first step", g, "'first' selects time steps other than the last"))
    g = _graph([ir.Unary("act", ("x",), ("y",), ir.TANH)], {"y": (T, 1, I)}, ("y",),
               time_axis=None)
    cases.append(("no time axis", g, "the input has no time axis rnngen can identify"))
    # issue 11's layers: x [T, 1, I] transposed to [1, I, T] puts time on a spatial axis
    xt = {"xt": (1, I, T)}
    tr = ir.Transpose("tr", ("x",), ("xt",), (1, 2, 0))
    g = _graph([tr, ir.Conv("conv", ("xt",), ("y",), W=_rand(rng, 2, I, 3), b=None,
                            strides=(1,), pads=(1, 1), dilations=(1,), group=1)],
               {**xt, "y": (1, 2, T)}, ("y",))
    cases.append(("centered conv over time", g, "Conv 'conv' pads the end of the time axis "
                  "(pads: 1 after the last step): its output at a step reads later steps. "
                  "Streaming needs padding at the start only (causal: 2 frames before, none "
                  "after)"))
    g = _graph([tr, ir.Conv("conv", ("xt",), ("yt",), W=_rand(rng, 2, I, 3), b=None,
                            strides=(1,), pads=(0, 0), dilations=(1,), group=1),
                ir.Transpose("back", ("yt",), ("y",), (2, 0, 1))],
               {**xt, "yt": (1, 2, T - 2), "y": (T - 2, 1, 2)}, ("y",))
    cases.append(("per-step output of a delayed conv", g, "output 'y' has one value per "
                  "output frame of 'conv', which some calls do not produce (a delay or a "
                  "stride along time); streaming models with such a window give values after "
                  "the last step only"))
    g = _graph([tr, ir.Pool("pool", ("xt",), ("y",), kind="max", kernel=(2,), strides=(2,),
                            pads=(1, 0), dilations=(1,), count_include_pad=False)],
               {**xt, "y": (1, I, T // 2 + 1)}, ("y",))
    cases.append(("padded max pool over time", g, "MaxPool 'pool' pads the start of the time "
                  "axis (1 frames) with values that are not zeros (MaxPool: -inf; AveragePool "
                  "without count_include_pad: left out of the count)"))
    g = _graph([tr, ir.Reduce("mean", ("xt",), ("y",), fn="mean", first=1, last=2)],
               {**xt, "y": (1, 1, 1)}, ("y",))
    cases.append(("mean over time and features", g, "ReduceMean 'mean' reduces over time and "
                  "an axis outside it"))
    g = _graph([ir.LayerNorm("ln", ("x",), ("y",), axis=0, epsilon=1e-5,
                             scale=np.ones(T * I, F32), bias=np.zeros(T * I, F32))],
               {"y": (T, 1, I)}, ("y",))
    cases.append(("layernorm over time", g, "LayerNormalization 'ln' normalizes over time"))
    return cases


def test_analyze_time_streams_per_step_normalization() -> None:
    rng = np.random.default_rng(9)
    g = _graph([ir.LayerNorm("ln", ("x",), ("a",), axis=2, epsilon=1e-5,
                             scale=_rand(rng, I) + 1, bias=_rand(rng, I)),
                ir.ChannelAffine("bn", ("a",), ("b",), axis=2, scale=_rand(rng, I) + 1,
                                 shift=_rand(rng, I)),
                ir.Reduce("sum", ("b",), ("y",), fn="sum", first=2, last=2)],
               {"a": (T, 1, I), "b": (T, 1, I), "y": (T, 1, 1)}, ("y",))
    a = analyze_time.run(g, OPTS)
    assert a.streaming, a.not_streaming_why
    x = _x(g)
    steps = _run_steps(a, x)
    np.testing.assert_allclose(np.concatenate([s["y"] for s in steps]),
                               reference.run(g, x)["y"], rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("fn", ["mean", "max", "sum"])
def test_analyze_time_streams_pooling_over_time_as_a_running_value(fn: str) -> None:
    """A Reduce over the time axis is the pooled value so far in the step and block graphs
    (ir.RunningReduce, its running values and count in the state): after T steps, or T / k
    blocks, it equals the whole-sequence Reduce; every step gives the pooling of the steps so
    far (the oracle: NumPy over the prefix)."""
    rng = np.random.default_rng(21)
    outs = ("Y", "", "")
    nodes: list[ir.Node] = [
        _recurrent("rnn", "x", outs, "RNN", H, I, (_direction("RNN", H, I, rng),)),
        ir.Reduce("pool", ("Y",), ("p",), fn=fn, first=0, last=0),
        ir.Linear("fc", ("p",), ("z",), W=formats.as_matrix(_rand(rng, 3, H)), b=None),
    ]
    shapes = {**_rec_shapes(outs, 1, H), "p": (1, 1, 1, H), "z": (1, 1, 1, 3)}
    g = analyze_time.run(_graph(nodes, shapes, ("z", "Y")), OPTS)
    assert g.streaming, g.not_streaming_why
    assert g.time is not None and g.time["p"].kind == "final"
    assert g.step is not None
    run = [n for n in g.step.nodes if isinstance(n, ir.RunningReduce)]
    assert [n.name for n in run] == ["pool"]
    x = _x(g)
    whole = reference.run(g, x)
    steps = _run_steps(g, x)
    ys = np.concatenate([st["Y"] for st in steps])
    np.testing.assert_allclose(ys, whole["Y"], rtol=1e-6, atol=1e-7)
    f = {"mean": np.mean, "max": np.max, "sum": np.sum}[fn]
    W = nodes[2].W.to_dense().astype(np.float64)
    for t, st in enumerate(steps):  # the pooled value of the steps so far
        want = f(ys[:t + 1].astype(np.float64).reshape(t + 1, H), axis=0) @ W.T
        np.testing.assert_allclose(st["z"].reshape(3), want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(steps[-1]["z"], whole["z"], rtol=1e-6, atol=1e-6)
    # the block graph carries the same running state; _reset (a new executor) starts over
    k = 2
    b = analyze_time.steps_graph(g, g.time, k)
    ex = reference.Executor(b)
    for b0 in range(0, T - T % k, k):
        got = ex.run(x[b0:b0 + k])
        np.testing.assert_allclose(got["z"], steps[b0 + k - 1]["z"], rtol=1e-6, atol=1e-7)
    # memory: the running values after the recurrent state, one count each
    planned = plan_memory.run(g, OPTS)
    mem = planned.step.memory
    assert mem.running == {"pool": (H, 0)} and mem.state == 2 * H and mem.state32 == 1


@pytest.mark.parametrize("per_unit", [False, True])
def test_attention_pooling_is_fused_and_streams_as_an_online_softmax(per_unit: bool) -> None:
    """simplify fuses Softmax over time -> Mul -> ReduceSum over time into AttentionPool
    (the same values as the three nodes); analyze_time streams it as RunningAttentionPool,
    whose every step is the attention pooling of the steps so far (NumPy over the prefix,
    in float64, is the oracle) in the step and the block graphs."""
    rng = np.random.default_rng(22)
    outs = ("Y", "", "")
    S = H if per_unit else 1
    nodes: list[ir.Node] = [
        _recurrent("rnn", "x", outs, "RNN", H, I, (_direction("RNN", H, I, rng),)),
        ir.Linear("att", ("Y",), ("s",), W=formats.as_matrix(_rand(rng, S, H) * 3), b=None),
        ir.Softmax("sm", ("s",), ("w",), axis=0, log=False),
        ir.Binary("mul", ("w", "Y"), ("wy",), "Mul"),
        ir.Reduce("pool", ("wy",), ("p",), fn="sum", first=0, last=0),
    ]
    shapes = {**_rec_shapes(outs, 1, H), "s": (T, 1, 1, S), "w": (T, 1, 1, S),
              "wy": (T, 1, 1, H), "p": (1, 1, 1, H)}
    g = _graph(nodes, shapes, ("p", "Y"))
    x = _x(g)
    before = reference.run(g, x)
    fused = simplify.run(g, OPTS)
    assert [type(n).__name__ for n in fused.nodes] == ["Recurrent", "Linear", "AttentionPool"]
    np.testing.assert_array_equal(reference.run(fused, x)["p"], before["p"])
    a = analyze_time.run(fused, OPTS)
    assert a.streaming, a.not_streaming_why
    assert any(isinstance(n, ir.RunningAttentionPool) for n in a.step.nodes)
    steps = _run_steps(a, x)
    ys = np.concatenate([st["Y"] for st in steps]).astype(np.float64).reshape(T, H)
    W = nodes[1].W.to_dense().astype(np.float64)
    for t, st in enumerate(steps):
        sc = ys[:t + 1] @ W.T  # [t + 1, S]
        e = np.exp(sc - sc.max(axis=0))
        want = np.sum(e / e.sum(axis=0) * ys[:t + 1], axis=0)
        np.testing.assert_allclose(st["p"].reshape(H), want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(steps[-1]["p"], before["p"], rtol=1e-5, atol=1e-6)
    k = 2
    b = analyze_time.steps_graph(a, a.time, k)
    ex = reference.Executor(b)
    for b0 in range(0, T - T % k, k):
        np.testing.assert_allclose(ex.run(x[b0:b0 + k])["p"], steps[b0 + k - 1]["p"],
                                   rtol=1e-6, atol=1e-7)
    mem = plan_memory.run(a, OPTS).step.memory
    assert mem.running == {"pool": (H, 0)} and mem.state == H + 2 * S + H


@pytest.mark.parametrize("case", _not_streaming_cases(), ids=lambda c: c[0])
def test_analyze_time_says_why_a_model_is_not_streaming(case: tuple[str, ir.Graph, str]
                                                        ) -> None:
    _, g, why = case
    a = analyze_time.run(g, OPTS)
    assert not a.streaming and a.step is None
    assert a.not_streaming_why == why
    assert a.time == {}
    # the whole-sequence graph itself is untouched
    assert a.nodes == g.nodes and a.shapes == g.shapes


# --------------------------------------------------------------------------- plan_memory

def _root(g: ir.Graph, t: str) -> str:
    prod = g.producer()
    while t in prod and isinstance(prod[t], ir.View):
        t = prod[t].inputs[0]
    return t


def _live_ranges(g: ir.Graph) -> dict[str, tuple[int, int]]:
    """[first, last] node index during which each non-view node output holds data: from its
    producer to its last reader (a reader of a view reads the view's source); graph outputs
    live to the end."""
    rng: dict[str, tuple[int, int]] = {}
    for k, n in enumerate(g.nodes):
        if isinstance(n, ir.View):
            continue
        for o in n.outputs:
            if o:
                rng[o] = (k, k)
    for k, n in enumerate(g.nodes):
        for i in n.inputs:
            r = _root(g, i)
            if r in rng:
                rng[r] = (rng[r][0], max(rng[r][1], k))
    for o in g.outputs:
        r = _root(g, o)
        if r in rng:
            rng[r] = (rng[r][0], len(g.nodes))
    return rng


def _disjoint(spans: list[tuple[int, int, object]]) -> None:
    spans = sorted(spans, key=lambda v: (v[0], v[1]))
    for (_, e0, k0), (s1, _, k1) in itertools.pairwise(spans):
        assert e0 <= s1, (k0, k1)


def _check_plan(g: ir.Graph) -> ir.MemoryPlan:
    """The memory plan's contract, recomputed here. int8 graphs (g.quant set): the float
    input is quantized into the arena (it lives from before the first node), int16 tensors
    (a cell-state output) have their own region, and the cell state its own int16 slots."""
    mem = g.memory
    assert mem is not None
    q = g.quant
    size = {t: math.prod(s) for t, s in g.shapes.items()}
    int16 = set() if q is None else {t for t, p in q.tensors.items() if p.dtype == "int16"}
    # every tensor has a place; views share their source's
    for t in g.shapes:
        assert t in mem.place, t
    for c in g.constants:
        assert mem.place[c] == (f"const:{c}", 0)
    for n in g.nodes:
        if isinstance(n, ir.View):
            assert mem.place[n.outputs[0]] == mem.place[_root(g, n.inputs[0])]
    # tensors alive at the same time never overlap, and all fit in the arena
    live = {t: r for t, r in _live_ranges(g).items() if t not in int16}
    if q is not None and q.io == "float":
        readers = [k for k, n in enumerate(g.nodes) for i in n.inputs if _root(g, i) == "x"]
        live["x"] = (-1, max(readers))
    else:
        assert mem.place["x"] == ("x", 0)
    for t, (a0, a1) in live.items():
        region, off = mem.place[t]
        assert region == "arena" and 0 <= off and off + size[t] <= mem.arena, t
    names = sorted(live)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            (a0, a1), (b0, b1) = live[a], live[b]
            if a0 <= b1 and b0 <= a1:
                oa, ob = mem.place[a][1], mem.place[b][1]
                assert oa + size[a] <= ob or ob + size[b] <= oa, (a, b)
    assert mem.arena <= sum(size[t] for t in live)
    spans16 = []
    for t in int16:
        region, off = mem.place[t]
        assert region == "arena16" and 0 <= off and off + size[t] <= mem.arena16, t
        spans16.append((off, off + size[t], t))
    _disjoint(spans16)
    # recurrent state: distinct slots, a c slot exactly for cells with a cell state (in the
    # int16 state of an int8 model, beside the h slots otherwise)
    h_used: list[tuple[int, int, object]] = []
    c_used: list[tuple[int, int, object]] = []
    for n in g.nodes:
        if not isinstance(n, ir.Recurrent):
            continue
        for d in range(n.num_directions):
            h_off, c_off = mem.state_slots[(n.name, d)]
            h_used.append((h_off, h_off + n.hidden, (n.name, d, "h")))
            if cells.of(n.cell).has_cell_state:
                assert c_off >= 0
                c_used.append((c_off, c_off + n.hidden, (n.name, d, "c")))
            else:
                assert c_off == -1
    if q is None:
        h_used += c_used
        c_used = []
    _disjoint(h_used)
    _disjoint(c_used)
    assert all(0 <= s and e <= mem.state for s, e, _ in h_used)
    assert mem.state == sum(e - s for s, e, _ in h_used)  # no slot wasted
    assert all(0 <= s and e <= mem.state16 for s, e, _ in c_used)
    assert mem.state16 == sum(e - s for s, e, _ in c_used)
    return mem


def _mixed_graph(rng: np.random.Generator) -> ir.Graph:
    """A bidirectional LSTM and a GRU stacked, then per-step layers and a final step."""
    o1 = ("Y1", "Y1_h", "Y1_c")
    o2 = ("Y2", "Y2_h", "")
    lstm_dirs = (_direction("LSTM", H, I, rng), _direction("LSTM", H, I, rng, reverse=True))
    nodes: list[ir.Node] = [
        _recurrent("lstm", "x", o1, "LSTM", H, I, lstm_dirs),
        ir.View("v1", ("Y1",), ("Y1f",), (T, 1, 2 * H)),
        _recurrent("gru", "Y1f", o2, "GRU", 3, 2 * H, (_direction("GRU", 3, 2 * H, rng),)),
        ir.View("v2", ("Y2",), ("Y2f",), (T, 3)),
        ir.Linear("fc", ("Y2f",), ("z",), W=formats.as_matrix(_rand(rng, 6, 3)), b=None),
        ir.Unary("act", ("z",), ("a",), ir.TANH),
        ir.Linear("fc2", ("a",), ("b",), W=formats.as_matrix(_rand(rng, 2, 6)), b=None),
        ir.Binary("add", ("b", "k"), ("y",), "Add"),
    ]
    shapes = {**_rec_shapes(o1, 2, H), "Y1f": (T, 1, 2 * H), **_rec_shapes(o2, 1, 3),
              "Y2f": (T, 3), "z": (T, 6), "a": (T, 6), "b": (T, 2), "y": (T, 2)}
    return _graph(nodes, shapes, ("y", "Y1_c"), constants={"k": _rand(rng, 2)})


def test_plan_memory_places_every_tensor_without_overlap() -> None:
    g = _mixed_graph(np.random.default_rng(7))
    p = plan_memory.run(g, OPTS)
    mem = _check_plan(p)
    assert mem.state_slots.keys() == {("lstm", 0), ("lstm", 1), ("gru", 0)}
    # the LSTM's Y (40 floats) is dead once the GRU has read it: later tensors reuse it
    size = {t: math.prod(s) for t, s in g.shapes.items()}
    assert mem.arena < sum(size[t] for t in _live_ranges(g))
    # work: the largest cell's scratch, the cells' own named offsets
    assert mem.cells["gru"].work == cells.of("GRU").work_slots(3)
    assert mem.work >= max(cells.of("LSTM").work(H), cells.of("GRU").work(3))


def test_plan_memory_reuses_the_arena_along_a_chain() -> None:
    names = ["x"] + [f"t{k}" for k in range(6)]
    nodes = [ir.Unary(f"u{k}", (names[k],), (names[k + 1],), ir.TANH) for k in range(6)]
    g = _graph(nodes, {t: (T, 1, I) for t in names[1:]}, (names[-1],))
    mem = _check_plan(plan_memory.run(g, OPTS))
    # at most two tensors (a node's input and output) are alive at once: exactly 2 T I floats
    assert mem.arena == 2 * T * I
    assert mem.state == 0 and mem.state_slots == {}


def test_plan_memory_plans_the_step_graph_too() -> None:
    rng = np.random.default_rng(8)
    g = analyze_time.run(_lstm_head(rng), OPTS)
    assert g.step is not None
    p = plan_memory.run(g, OPTS)
    assert p.step is not None
    whole, step = _check_plan(p), _check_plan(p.step)
    assert step.state_slots == whole.state_slots
    assert step.arena < whole.arena  # one step's tensors, not T steps'
    assert step.cells["lstm"].hoist == 1
    assert whole.cells["lstm"].hoist == min(plan_memory.HOIST_BLOCK, T)


def test_block_graph_of_k_steps_equals_k_single_steps() -> None:
    """The block graph of `_run` (analyze_time.steps_graph with k steps): run block after
    block with the state carried, it gives the one-step graph's outputs of the same steps;
    the last-step slice takes step k - 1 of each block."""
    rng = np.random.default_rng(15)
    outs = ("Y", "Y_h", "")
    nodes: list[ir.Node] = [
        _recurrent("gru", "x", outs, "GRU", H, I, (_direction("GRU", H, I, rng),)),
        ir.View("flat", ("Y",), ("Yf",), (T, H)),
        ir.Linear("fc", ("Yf",), ("z",), W=formats.as_matrix(_rand(rng, 3, H)), b=None),
        ir.Slice("last", ("z",), ("zl",), (T - 1, 0), (1, 1), (1, 3)),
    ]
    shapes = {**_rec_shapes(outs, 1, H), "Yf": (T, H), "z": (T, 3), "zl": (1, 3)}
    g = analyze_time.run(_graph(nodes, shapes, ("z", "Y_h", "zl")), OPTS)
    assert g.time is not None
    k = 2
    b = analyze_time.steps_graph(g, g.time, k)
    assert b.seq_len == k and b.shapes["x"] == (k, 1, I) and b.shapes["z"] == (k, 3)
    sl = next(n for n in b.nodes if isinstance(n, ir.Slice))
    assert sl.starts[0] == k - 1 and sl.counts[0] == 1
    x = _x(g)
    steps = _run_steps(g, x)
    ex = reference.Executor(b)
    for b0 in range(0, T - T % k, k):
        got = ex.run(x[b0:b0 + k])
        np.testing.assert_allclose(got["z"], np.concatenate([s["z"] for s in steps[b0:b0 + k]]),
                                   rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(got["zl"], steps[b0 + k - 1]["zl"], rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(got["Y_h"], steps[b0 + k - 1]["Y_h"], rtol=1e-6, atol=1e-7)


def test_plan_block_takes_the_largest_block_the_ram_budget_allows() -> None:
    rng = np.random.default_rng(16)
    g = analyze_time.run(_lstm_head(rng), OPTS)
    p = plan_memory.run(g, OPTS)  # no budget: min(RUN_BLOCK, T) steps
    assert p.block is not None and p.block.seq_len == min(plan_memory.RUN_BLOCK, T)
    assert p.block.memory is not None and p.step is not None and p.step.memory is not None
    assert p.block.memory.state_slots == p.step.memory.state_slots
    assert p.block.memory.cells["lstm"].hoist == p.block.seq_len  # W x of the block at once
    need = {k: plan_memory.ram_bytes([p.step.memory, plan_memory.plan(
        analyze_time.steps_graph(g, g.time, k)).memory], False) for k in (2, 4)}
    assert need[2] < need[4]
    # a budget whose half holds 2 steps but not 4: 2 steps
    budget = 2 * need[2] + (need[4] - need[2])  # half = need[2] + (need[4] - need[2]) / 2
    b2 = plan_memory.run(g, replace(OPTS, ram_budget=budget))
    assert b2.block is not None and b2.block.seq_len == 2 and b2.block_why == ""
    # too small for 2 steps: step by step, and the reason names the budget
    none = plan_memory.run(g, replace(OPTS, ram_budget=2 * need[2] - 2))
    assert none.block is None and str(2 * need[2] - 2) in none.block_why


@pytest.mark.parametrize("cell", sorted(cells.CELLS))
def test_plan_memory_gives_a_c_slot_to_cells_with_a_cell_state(cell: str) -> None:
    rng = np.random.default_rng(9)
    c = cells.of(cell)
    dirs = (_direction(cell, H, I, rng),)
    if cell in ("FastRNN", "FastGRNN"):  # their two scalars (docs: CellDirection)
        dirs = (replace(dirs[0], scalars=(0.3, -0.2)),)
    outs = ("Y", "Y_h", "")
    g = _graph([_recurrent("r", "x", outs, cell, H, I, dirs)], _rec_shapes(outs, 1, H),
               ("Y",))
    mem = _check_plan(plan_memory.run(g, OPTS))
    _, c_off = mem.state_slots[("r", 0)]
    assert (c_off >= 0) == c.has_cell_state
    assert mem.state == (2 if c.has_cell_state else 1) * H


# --------------------------------------------------------------------------- quantize

def _int8_opts(tmp_path, data: np.ndarray, io: str = "float") -> pipeline.Options:
    path = tmp_path / "calib.npy"
    np.save(path, data)
    return pipeline.Options(dtype="int8", calibrate=str(path), io=io)


def _covers(p: quant.QParams, lo: float, hi: float) -> bool:
    """The int8 grid of p reaches [lo, hi] to within half a step."""
    q_lo = (-128 - p.zero_point) * p.scale
    q_hi = (127 - p.zero_point) * p.scale
    return q_lo <= lo + p.scale / 2 and q_hi >= hi - p.scale / 2


def test_quantize_covers_every_calibrated_range(tmp_path) -> None:
    rng = np.random.default_rng(10)
    g = analyze_time.run(_lstm_head(rng), OPTS)
    data = rng.uniform(-2.0, 2.0, (3, T, 1, I)).astype(F32)
    q = quantize.run(g, _int8_opts(tmp_path, data))
    plan = q.quant
    assert plan is not None and q.step is not None and q.step.quant is plan
    assert plan.calibration == "3 sequence(s) from calib.npy" and plan.warnings == ()
    # independent ranges: the float reference's every tensor over the three sequences
    lo: dict[str, float] = {}
    hi: dict[str, float] = {}
    c_max = 0.0
    for s in data:
        env = reference.Executor(g).run_all(s)
        for t, v in env.items():
            if t not in g.constants:
                lo[t] = min(lo.get(t, math.inf), float(v.min()))
                hi[t] = max(hi.get(t, -math.inf), float(v.max()))
        c_max = max(c_max, float(np.abs(env["Y_c"]).max()))
    for t in g.shapes:
        if t in g.constants:
            assert t not in plan.tensors
            continue
        p = plan.tensors[t]
        if t == "Y_c":
            assert isinstance(p, quant.QState16)
            assert 32767 * 2.0 ** -p.exp >= c_max
            continue
        assert isinstance(p, quant.QParams), t
        assert -128 <= p.zero_point <= 127 and p.scale > 0
        assert _covers(p, lo[t], hi[t]), (t, p, lo[t], hi[t])
    assert plan.input == plan.tensors["x"]
    assert set(plan.nodes) == {"lstm", "fc"}  # Views need no parameters
    # the input's range is the calibration data's own
    assert _covers(plan.input, float(data.min()), float(data.max()))


def test_quantize_does_nothing_for_float32() -> None:
    g = _lstm_head(np.random.default_rng(11))
    assert quantize.run(g, OPTS) is g


def test_quantize_refuses_an_int16_output_with_int8_io(tmp_path) -> None:
    rng = np.random.default_rng(12)
    g = _lstm_head(rng)
    data = rng.uniform(-1, 1, (2, T, 1, I)).astype(F32)
    with pytest.raises(RnngenError, match=r"^m\.onnx: output 'Y_c' is the int16 cell state; "
                                          r"with --io int8 every output must be int8"):
        quantize.run(g, _int8_opts(tmp_path, data, io="int8"))
    # without the cell-state output, --io int8 quantizes
    ok = simplify.run(g.replace(outputs=("z", "Y_h")), OPTS)
    q = quantize.run(ok, _int8_opts(tmp_path, data, io="int8"))
    assert q.quant.io == "int8" and "Y_c" not in q.quant.tensors


@pytest.mark.parametrize("shape", [(2, T, 1, I + 1), (T + 1, I), (7,)])
def test_quantize_refuses_calibration_data_of_the_wrong_shape(tmp_path, shape) -> None:
    g = _lstm_head(np.random.default_rng(13))
    data = np.random.default_rng(0).uniform(-1, 1, shape).astype(F32)
    with pytest.raises(RnngenError, match=r"calib\.npy: calibration data has shape .* the "
                                          r"model takes \(5, 1, 3\) per sequence"):
        quantize.run(g, _int8_opts(tmp_path, data))


def test_quantize_accepts_calibration_data_without_unit_axes(tmp_path) -> None:
    rng = np.random.default_rng(14)
    g = _lstm_head(rng)
    data = rng.uniform(-1, 1, (2, T, I)).astype(F32)  # [N, T, I] for a [T, 1, I] input
    a = quantize.run(g, _int8_opts(tmp_path, data)).quant
    b = quantize.run(g, _int8_opts(tmp_path, data.reshape(2, T, 1, I))).quant
    assert a.tensors == b.tensors


@pytest.mark.parametrize("bad, why", [
    (np.full((2, T, 1, I), np.nan, F32), "contains NaN or Inf"),
    (np.ones((2, T, 1, I), F32), "is constant"),
    (np.zeros((2, T, 1, I), np.int32), "has type int32; expected float"),
])
def test_quantize_refuses_unusable_calibration_data(tmp_path, bad, why) -> None:
    g = _lstm_head(np.random.default_rng(15))
    with pytest.raises(RnngenError, match=f"calib\\.npy: calibration data {why}"):
        quantize.run(g, _int8_opts(tmp_path, bad))


# --------------------------------------------------------------------------- sparsify

def _pruned(rng: np.random.Generator, m: int, n: int, zeros: int) -> np.ndarray:
    """An [m, n] matrix with exactly `zeros` zero entries (the others in [0.1, 0.6))."""
    w = rng.uniform(0.1, 0.6, m * n).astype(F32)
    w[rng.permutation(m * n)[:zeros]] = 0.0
    return w.reshape(m, n)


def _sparse_graph(rng: np.random.Generator, W: ir.Matrix, R: ir.Matrix,
                  lin: np.ndarray) -> ir.Graph:
    outs = ("Y", "Y_h", "")
    dirs = (_direction("RNN", H, I, rng, W=W, R=R),)
    return _graph([_recurrent("rnn", "x", outs, "RNN", H, I, dirs),
                   ir.Linear("fc", ("Y_h",), ("z",), W=formats.as_matrix(lin), b=None)],
                  {**_rec_shapes(outs, 1, H), "z": (1, 1, lin.shape[0])}, ("Y", "z"))


def test_sparsify_stores_a_mostly_zero_matrix_as_csr() -> None:
    rng = np.random.default_rng(16)
    w = _pruned(rng, H, I, zeros=9)  # 9 of 12 zero
    r = _pruned(rng, H, H, zeros=2)  # 2 of 16 zero
    lin = _pruned(rng, 2, H, zeros=7)  # Linear layers stay dense
    g = _sparse_graph(rng, formats.as_matrix(w), formats.as_matrix(r), lin)
    s = sparsify.run(g, pipeline.Options(sparse_threshold=0.5))
    ir.verify(s)
    cd = s.nodes[0].directions[0]
    assert formats.of(cd.W) is formats.FORMATS["csr"]
    assert cd.W.nnz == 3 and cd.W.shape == (H, I)
    np.testing.assert_array_equal(cd.W.to_dense(), w)
    assert formats.of(cd.R) is formats.FORMATS["dense"]
    np.testing.assert_array_equal(cd.R.to_dense(), r)
    assert formats.of(s.nodes[1].W) is formats.FORMATS["dense"]
    _same_outputs(g, s, _x(g))


def test_sparsify_threshold_is_inclusive_and_off_by_default() -> None:
    rng = np.random.default_rng(17)
    w = _pruned(rng, H, I, zeros=6)  # exactly half zero
    g = _sparse_graph(rng, formats.as_matrix(w), formats.as_matrix(_rand(rng, H, H)),
                      _rand(rng, 2, H))
    assert sparsify.run(g, OPTS) is g
    at = sparsify.run(g, pipeline.Options(sparse_threshold=0.5)).nodes[0].directions[0].W
    above = sparsify.run(g, pipeline.Options(sparse_threshold=0.51)).nodes[0].directions[0].W
    assert formats.of(at) is formats.FORMATS["csr"]
    assert formats.of(above) is formats.FORMATS["dense"]


def test_sparsify_converts_only_the_sparse_blocks_of_a_row_stack() -> None:
    rng = np.random.default_rng(18)
    sparse_block = _pruned(rng, H, H, zeros=14)
    dense_block = _pruned(rng, H, H, zeros=1)
    lr = formats.LowRank(_rand(rng, H, 2), _rand(rng, 2, H))
    R = formats.RowStack((formats.as_matrix(sparse_block), lr, formats.as_matrix(dense_block)))
    outs = ("Y", "Y_h", "")
    dirs = (_direction("GRU", H, I, rng, R=R),)
    g = _graph([_recurrent("gru", "x", outs, "GRU", H, I, dirs)], _rec_shapes(outs, 1, H),
               ("Y",))
    s = sparsify.run(g, pipeline.Options(sparse_threshold=0.8))
    ir.verify(s)
    new_R = s.nodes[0].directions[0].R
    assert formats.is_stack(new_R)
    b0, b1, b2 = formats.blocks(new_R)
    assert formats.of(b0) is formats.FORMATS["csr"]  # 14 of 16 zero
    assert b1 is lr  # low-rank has no sparse form
    assert formats.of(b2) is formats.FORMATS["dense"]  # 1 of 16 zero
    np.testing.assert_array_equal(new_R.to_dense(), R.to_dense())
    _same_outputs(g, s, _x(g))


def test_plan_memory_of_an_int8_model(tmp_path) -> None:
    rng = np.random.default_rng(19)
    m = _mixed_graph(rng)  # without its Add (int8 has no elementwise Add of tensors)
    g = simplify.run(m.replace(nodes=m.nodes[:-1], outputs=("b", "Y1_c")), OPTS)
    data = rng.uniform(-1, 1, (2, T, 1, I)).astype(F32)
    q = quantize.run(analyze_time.run(g, OPTS), _int8_opts(tmp_path, data))
    p = plan_memory.run(q, OPTS)
    mem = _check_plan(p)
    assert mem.place["x"][0] == "arena"  # --io float: the quantized copy of the input
    assert mem.place["Y1_c"] == ("arena16", 0) and mem.arena16 == 2 * H
    assert mem.state == 2 * H + 3 and mem.state16 == 2 * H  # h8: LSTM fwd, bwd, GRU


def test_plan_memory_keeps_the_quantized_input_until_its_last_reader(tmp_path) -> None:
    rng = np.random.default_rng(20)
    g = _graph([ir.Unary("act", ("x",), ("y",), ir.TANH),
                ir.Linear("fc", ("y",), ("z",), W=formats.as_matrix(_rand(rng, 2, I)), b=None)],
               {"y": (T, 1, I), "z": (T, 1, 2)}, ("z",))
    data = rng.uniform(-1, 1, (2, T, 1, I)).astype(F32)
    p = plan_memory.run(quantize.run(g, _int8_opts(tmp_path, data)), OPTS)
    mem = _check_plan(p)  # x (read by act) and y (written by act) must not share bytes
    assert mem.place["x"] == ("arena", 0) and mem.place["y"] == ("arena", T * I)
    assert mem.place["z"] == ("arena", 0)  # x's bytes are free once act has read them
    assert mem.arena == 2 * T * I


# --------------------------------------------------------------------------- fold_batchnorm

def _bn(rng: np.random.Generator, name: str, x: str, y: str, C: int, axis: int
        ) -> ir.ChannelAffine:
    return ir.ChannelAffine(name, (x,), (y,), axis=axis, scale=_rand(rng, C) + F32(1),
                            shift=_rand(rng, C))


def _conv_bn_graph(rng: np.random.Generator, bias: bool, extra_reader: bool) -> ir.Graph:
    """x [1, 3, 9] -> Conv (4 filters of 3, stride 2, padded) -> BatchNorm -> out."""
    conv = ir.Conv("conv", ("x",), ("c",), W=_rand(rng, 4, 3, 3),
                   b=_rand(rng, 4) if bias else None, strides=(2,), pads=(1, 1),
                   dilations=(1,), group=1)
    nodes = [conv, _bn(rng, "bn", "c", "out", 4, 1)]
    shapes = {"x": (1, 3, 9), "c": (1, 4, 5), "out": (1, 4, 5)}
    outs = ("out",)
    if extra_reader:
        nodes.append(ir.Unary("relu", ("c",), ("r",), act=ir.Activation("Relu")))
        shapes["r"] = (1, 4, 5)
        outs = ("out", "r")
    return ir.Graph(name="m", input="x", outputs=outs, nodes=tuple(nodes), shapes=shapes,
                    constants={}, seq_len=1)


@pytest.mark.parametrize("bias", [True, False])
def test_fold_batchnorm_into_a_conv_keeps_the_outputs(bias: bool) -> None:
    rng = np.random.default_rng(21)
    g = _conv_bn_graph(rng, bias, extra_reader=False)
    ir.verify(g)
    out = fold_batchnorm.run(g, OPTS)
    ir.verify(out)
    assert [n.op for n in out.nodes] == ["Conv"] and out.nodes[0].outputs == ("out",)
    x = _rand(rng, 1, 3, 9, scale=2.0)
    np.testing.assert_allclose(reference.run(out, x)["out"], reference.run(g, x)["out"],
                               rtol=1e-5, atol=1e-6)


def test_fold_batchnorm_into_a_plain_linear_only() -> None:
    rng = np.random.default_rng(22)
    W = _rand(rng, 6, 5)
    lin = ir.Linear("fc", ("x",), ("y",), W=formats.as_matrix(W), b=None)
    g = ir.Graph(name="m", input="x", outputs=("out",),
                 nodes=(lin, _bn(rng, "bn", "y", "out", 6, 1)),
                 shapes={"x": (1, 5), "y": (1, 6), "out": (1, 6)}, constants={}, seq_len=1)
    out = fold_batchnorm.run(g, OPTS)
    assert [n.op for n in out.nodes] == ["Linear"]
    x = _rand(rng, 1, 5)
    np.testing.assert_allclose(reference.run(out, x)["out"], reference.run(g, x)["out"],
                               rtol=1e-5, atol=1e-6)
    # a compressed (not plain) weight matrix is left alone: the BatchNorm stays a node
    lowrank = formats.LowRank(_rand(rng, 6, 2), _rand(rng, 2, 5))
    g2 = g.replace(nodes=(replace(lin, W=lowrank),) + g.nodes[1:])
    assert [n.op for n in fold_batchnorm.run(g2, OPTS).nodes] == ["Linear", "ChannelAffine"]


def test_fold_batchnorm_leaves_a_shared_or_output_tensor_alone() -> None:
    rng = np.random.default_rng(23)
    g = _conv_bn_graph(rng, True, extra_reader=True)  # the Conv's output has two readers
    assert fold_batchnorm.run(g, OPTS) is g
    g = _conv_bn_graph(rng, True, extra_reader=False)
    g = g.replace(outputs=("out", "c"))  # the Conv's output is a graph output
    assert fold_batchnorm.run(g, OPTS) is g
