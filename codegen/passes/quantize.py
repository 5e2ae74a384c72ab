"""quantize: with --dtype int8, calibrate the float model and build its integer version.

Runs the float reference on the calibration sequences (--calibrate X.npy, or 16 seeded
random sequences with a warning), records every tensor's range and the ranges inside the
recurrent cells (cell state, the intermediates of low-rank, HMD and Kronecker matrices), and
produces a quant.QuantPlan: int8 parameters for every tensor, and for every node its
quantized weights, requantization multipliers and activation tables. docs/int8.md has the
arithmetic; quant.py implements it once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import cells, formats, ir, npyio, precision, quant, reference
from ..errors import RnngenError
from ..quant import QParams

if TYPE_CHECKING:
    from ..pipeline import Options

GATE_SCALE = 2.0 ** -quant.GATE_FRAC
WEIGHTED = (ir.Recurrent, ir.Linear, ir.Conv)  # the layers --precision names
DEFAULT_SEQUENCES = 16


def run(g: ir.Graph, opts: Options) -> ir.Graph:
    if opts.dtype != "int8":
        return g
    prec = opts.precision or precision.Plan()
    precision.check_layers(prec, {n.name: type(n).__name__ for n in g.nodes
                                  if isinstance(n, WEIGHTED)}, g.source or g.name)
    xs, states, source, warnings = calibration_data(g, opts.calibrate)
    stats = _calibrate(g, xs, states)
    plan = _Builder(g, stats, opts.io, source, warnings, prec).build()
    if g.step is not None:  # a window of frames holds its input's values
        readers = g.step.consumers()
        for n in g.step.nodes:
            if isinstance(n, ir.FrameWindow):
                p = plan.tensors[n.inputs[0]]
                if p.dtype == "int16":  # rnn_frame_push keeps int8 frames
                    r = readers.get(n.outputs[0], [n])[0]
                    raise RnngenError(
                        f"{g.source or g.name}: {_onnx_op(r)} node '{r.name}': its int16 "
                        f"input '{n.inputs[0]}' (w8a16 / w4a16) cannot stream along time "
                        "(the window of frames holds int8); build with --whole-sequence, or "
                        f"give it w8a8 (--precision ...,{r.name}=w8a8)")
                plan.tensors[n.outputs[0]] = p
    step = g.step.replace(quant=plan) if g.step is not None else None
    return g.replace(quant=plan, step=step)


def _onnx_op(n: ir.Node) -> str:
    """The ONNX operator a layer node came from, for messages."""
    if isinstance(n, ir.Pool):
        return "MaxPool" if n.kind == "max" else "AveragePool"
    if isinstance(n, ir.Reduce):
        return f"Reduce{n.fn.capitalize()}"
    if isinstance(n, ir.LayerNorm):
        return n.source_op  # LayerNormalization or InstanceNormalization
    if isinstance(n, ir.Unary):
        return n.act.name
    return {"LayerNorm": "LayerNormalization",
            "ChannelAffine": "BatchNormalization"}.get(n.op, n.op)


# --------------------------------------------------------------------------- data

def calibration_inputs(g: ir.Graph, path: str | None) -> tuple[list[np.ndarray], str,
                                                                tuple[str, ...]]:
    xs, _, source, warnings = calibration_data(g, path)
    return xs, source, warnings


State = dict[str, np.ndarray]


def calibration_data(g: ir.Graph, path: str | None
                     ) -> tuple[list[np.ndarray], list[State] | None, str, tuple[str, ...]]:
    """The calibration sequences and, for a stateful model, the state each starts from: from
    --calibrate (an .npy of sequences; for a stateful model an .npz keyed by input name, each
    array [N, ...]) or seeded random values in [-1, 1)."""
    shape = tuple(g.shapes[g.input])
    if path is None:
        rng = np.random.default_rng(0)
        if g.input_ids:  # token ids: uniform over the table's rows
            top = reference.id_range(g)
            xs = [rng.integers(0, top, shape).astype(np.float32)
                  for _ in range(DEFAULT_SEQUENCES)]
        else:
            xs = [rng.uniform(-1.0, 1.0, shape).astype(np.float32)
                  for _ in range(DEFAULT_SEQUENCES)]
        states = None
        if g.state_inputs:
            srng = np.random.default_rng(1)
            defaults = _state_defaults(g)
            states = [{si.name: defaults[si.name] if si.default else
                       srng.uniform(-1.0, 1.0, si.shape).astype(np.float32)
                       for si in g.state_inputs} for _ in xs]
        what = "sequences" + (" and states" if states else "")
        what += " of token ids over the table" if g.input_ids else " in [-1, 1)"
        return xs, states, f"{DEFAULT_SEQUENCES} seeded random {what}", (
            f"no --calibrate data: int8 ranges come from 16 seeded random {what}; "
            "give representative inputs with --calibrate X.npy" +
            (" (an .npz keyed by input name)" if states else ""),)
    p = Path(path)
    arr = npyio.load(p, "calibration data")  # the header is checked before the data is read
    if isinstance(arr, dict) and g.state_inputs:
        return _calibration_npz(g, p, arr)
    if not isinstance(arr, np.ndarray):
        raise RnngenError(f"{p}: calibration data must be one .npy array, not an archive")
    if g.state_inputs and all(si.default for si in g.state_inputs):
        seqs = _sequences(g, p, arr, shape)
        d = _state_defaults(g)
        return [np.asarray(s, np.float32) for s in seqs], [dict(d) for _ in seqs], \
            f"{len(seqs)} sequence(s) from {p.name}, from the state inputs' initializers", ()
    if g.state_inputs:
        raise RnngenError(f"{p}: the model has state inputs ("
                          + ", ".join(f"'{si.name}'" for si in g.state_inputs)
                          + "); give calibration data as an .npz keyed by input name")
    seqs = _sequences(g, p, arr, shape)
    return [np.asarray(s, np.float32) for s in seqs], None, \
        f"{len(seqs)} sequence(s) from {p.name}", ()


def _calibration_npz(g: ir.Graph, p: Path, data: dict[str, np.ndarray]
                     ) -> tuple[list[np.ndarray], list[State], str, tuple[str, ...]]:
    want = [g.input] + [si.name for si in g.state_inputs]
    defaults = _state_defaults(g)
    missing = [n for n in want if n not in data and n not in defaults]
    if missing:
        raise RnngenError(f"{p}: calibration data has no array for input(s) "
                          f"{', '.join(missing)} (has {', '.join(data) or 'none'})")
    seqs = _sequences(g, p, data[g.input], tuple(g.shapes[g.input]))
    n = len(seqs)
    states: list[State] = [{} for _ in range(n)]
    for si in g.state_inputs:
        if si.name not in data:  # its initializer, for every sequence
            for k in range(n):
                states[k][si.name] = defaults[si.name]
            continue
        a = data[si.name]
        core = tuple(d for d in si.shape if d != 1)
        if a.dtype.kind != "f" or a.size != n * si.size or \
                tuple(d for d in a.shape[1:] if d != 1) != core and n > 1:
            raise RnngenError(f"{p}: calibration state '{si.name}' has shape {a.shape} "
                              f"({a.dtype}); expected [{n}, {', '.join(map(str, si.shape))}] "
                              "float, one per sequence")
        a = np.asarray(a, np.float32).reshape(n, *si.shape)
        if not np.all(np.isfinite(a)):
            raise RnngenError(f"{p}: calibration state '{si.name}' contains NaN or Inf")
        for k in range(n):
            states[k][si.name] = a[k]
    return [np.asarray(s, np.float32) for s in seqs], states, \
        f"{n} sequence(s) with their states from {p.name}", ()


def _state_defaults(g: ir.Graph) -> State:
    """The initializers of the state inputs that have one (what _reset gives)."""
    if not any(si.default for si in g.state_inputs):
        return {}
    st = reference.Executor(g).get_state()
    return {si.name: st[si.name] for si in g.state_inputs if si.default}


def _sequences(g: ir.Graph, p: Path, arr: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    if g.input_ids:
        if arr.dtype.kind not in "iu":
            raise RnngenError(f"{p}: calibration data has type {arr.dtype}; the model's input "
                              f"'{g.input}' is token ids: expected integers")
        arr = arr.astype(np.float32)
    elif arr.dtype.kind != "f":
        raise RnngenError(f"{p}: calibration data has type {arr.dtype}; expected float")
    if arr.size == 0:
        raise RnngenError(f"{p}: calibration data is empty")
    core = tuple(d for d in shape if d != 1)
    if tuple(d for d in arr.shape if d != 1) == core:
        seqs = arr.reshape(1, *shape)
    elif arr.ndim >= 1 and tuple(d for d in arr.shape[1:] if d != 1) == core:
        seqs = arr.reshape(arr.shape[0], *shape)
    else:
        raise RnngenError(f"{p}: calibration data has shape {arr.shape}; the model takes "
                          f"{shape} per sequence (give [N, ...] for N sequences)")
    if not np.all(np.isfinite(seqs)):
        raise RnngenError(f"{p}: calibration data contains NaN or Inf")
    if float(seqs.max()) == float(seqs.min()):
        raise RnngenError(f"{p}: calibration data is constant ({float(seqs.max())}); give "
                          "inputs that exercise the model")
    return seqs


@dataclass
class _Stats:
    lo: dict[str, float] = field(default_factory=dict)
    hi: dict[str, float] = field(default_factory=dict)
    c_max: dict[str, float] = field(default_factory=dict)  # node -> max |c|
    x_in: dict[tuple[str, int], list[np.ndarray]] = field(default_factory=dict)
    h_in: dict[tuple[str, int], list[np.ndarray]] = field(default_factory=dict)

    def see(self, name: str, v: np.ndarray) -> None:
        if v.size:
            self.lo[name] = min(self.lo.get(name, math.inf), float(v.min()))
            self.hi[name] = max(self.hi.get(name, -math.inf), float(v.max()))


def _calibrate(g: ir.Graph, xs: list[np.ndarray], states: list[State] | None = None
               ) -> _Stats:
    st = _Stats()
    recurrent = {n.name: n for n in g.nodes if isinstance(n, ir.Recurrent)}

    def observer(n: ir.Recurrent, d: int, x: np.ndarray, h0: np.ndarray, h: np.ndarray,
                 c: np.ndarray | None) -> None:
        st.x_in.setdefault((n.name, d), []).append(x.copy())
        st.h_in.setdefault((n.name, d), []).append(h0.copy())
        if c is not None:
            st.c_max[n.name] = max(st.c_max.get(n.name, 0.0), float(np.max(np.abs(c))))

    for k, x in enumerate(xs):
        ex = reference.Executor(g, observer=observer)
        if states is not None and g.state_inputs:
            # a run from a set state: its h and c are values the layer's scales must hold
            ex.set_state(states[k])
            for (node, d), (h, c) in ex.state.items():
                n = recurrent[node]
                st.see(n.outputs[0] or n.outputs[1] or node, h)
                if c is not None:
                    st.c_max[node] = max(st.c_max.get(node, 0.0), float(np.max(np.abs(c))))
        env = ex.run_all(x)
        st.see(g.input, env[g.input])
        for n in g.nodes:
            for o in n.outputs:
                if o:
                    st.see(o, env[o])
    return st


# --------------------------------------------------------------------------- building

# ReLU RNN: the calibrated pre-activation range gets this headroom in int16
RELU_HEADROOM = 1.25


def relu_gate_scale(n: ir.Recurrent, st: Any, where: str) -> float:
    """The int16 scale of a ReLU RNN's pre-activations W x + R h + b (unbounded, so not
    Q3.12): their largest magnitude over the calibration steps of every direction, times
    RELU_HEADROOM, is 32767 (a clip bound, when smaller, caps it)."""
    amax = 0.0
    for d, cd in enumerate(n.directions):
        xin = np.array(st.x_in.get((n.name, d), []), np.float64).reshape(-1, n.input_size)
        hin = np.array(st.h_in.get((n.name, d), []), np.float64).reshape(-1, n.hidden)
        if len(xin):
            pre = (xin @ cd.W.to_dense().astype(np.float64).T
                   + hin @ cd.R.to_dense().astype(np.float64).T + (cd.wb + cd.rb))
            amax = max(amax, float(np.max(np.abs(pre))))
    if n.clip is not None:
        amax = min(amax, float(n.clip)) if amax > 0 else float(n.clip)
    if not amax > 0 or not math.isfinite(amax):
        raise RnngenError(f"{where}: the calibration data gives no ReLU pre-activation "
                          "range (all zero); give inputs that exercise the model (--calibrate)")
    return amax * RELU_HEADROOM / 32767.0


class _Builder:
    bits = 8  # weight bits of the node being quantized (build() sets it per node)

    def __init__(self, g: ir.Graph, st: _Stats, io: str, source: str,
                 warnings: tuple[str, ...], prec: precision.Plan | None = None):
        self.g, self.st, self.io, self.source, self.warnings = g, st, io, source, warnings
        self.prec = prec or precision.Plan()
        self.where = g.source or g.name
        self.parent: dict[str, str] = {}
        self.fixed: dict[str, QParams] = {}

    # union-find over tensors that share int8 parameters ------------------------------
    def find(self, t: str) -> str:
        while self.parent.get(t, t) != t:
            t = self.parent[t]
        return t

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[rb] = ra

    def build(self) -> quant.QuantPlan:
        g = self.g
        int16: dict[str, int] = {}
        for n in g.nodes:
            if isinstance(n, (ir.View, ir.Transpose, ir.Slice)):
                self.union(n.inputs[0], n.outputs[0])
            elif isinstance(n, ir.Concat):
                for i in n.inputs:
                    if i in g.constants:
                        raise RnngenError(f"{self.where}: Concat node '{n.name}': constant "
                                          "inputs are not supported with --dtype int8")
                    self.union(n.outputs[0], i)
            elif isinstance(n, ir.Recurrent):
                if n.outputs[0] and n.outputs[1]:
                    self.union(n.outputs[0], n.outputs[1])
                if n.outputs[2]:
                    int16[n.outputs[2]] = -1  # cell state output: int16, set below
            elif isinstance(n, ir.Binary):
                raise RnngenError(f"{self.where}: {n.fn} node '{n.name}': elementwise "
                                  f"{n.fn} of tensors is not supported with --dtype int8")
            elif isinstance(n, ir.Pool) or (isinstance(n, ir.Reduce) and n.fn != "sum"):
                # the output keeps the input's scale and zero point (max: exact; average:
                # the division rounds, as CMSIS-NN)
                self.union(n.inputs[0], n.outputs[0])
            elif isinstance(n, ir.Pad):
                self.union(n.inputs[0], n.outputs[0])  # padded with the value's integer
            elif isinstance(n, ir.Embedding):  # the whole table's range: any id is exact
                self.fixed[n.outputs[0]] = quant.choose_qparams(
                    float(n.table.min()), float(n.table.max()),
                    f"Gather node '{n.name}' table")
            elif isinstance(n, ir.Softmax):
                if n.log:
                    raise RnngenError(f"{self.where}: LogSoftmax node '{n.name}' is not "
                                      "supported with --dtype int8 (Softmax is)")
                self.fixed[n.outputs[0]] = QParams(1.0 / 256.0, -128)
        readers = g.consumers()
        for t in int16:  # the int16 cell state has no int8 tensor type to flow on in
            if t in readers:
                raise RnngenError(
                    f"{self.where}: node '{readers[t][0].name}' reads '{t}', an LSTM cell "
                    "state output (int16 with --dtype int8); int8 builds take it only as a "
                    "model output of its own (a state tensor that joins h and c is read with "
                    "<name>_get_state instead; or build float32)")
        roots16 = self.int16_classes(readers)
        # class ranges
        lo: dict[str, float] = {}
        hi: dict[str, float] = {}
        for t in list(self.st.lo):
            if t in int16:
                continue
            r = self.find(t)
            lo[r] = min(lo.get(r, math.inf), self.st.lo[t])
            hi[r] = max(hi.get(r, -math.inf), self.st.hi[t])
        for n in g.nodes:  # a Pad's value must be representable in its tensor's range
            if isinstance(n, ir.Pad) and self.find(n.inputs[0]) in lo:
                r = self.find(n.inputs[0])
                lo[r], hi[r] = min(lo[r], n.value), max(hi[r], n.value)
        for n in g.nodes:  # initial states must be representable
            if isinstance(n, ir.Recurrent) and n.outputs[0]:
                r = self.find(n.outputs[0])
                for cd in n.directions:
                    lo[r] = min(lo.get(r, math.inf), float(cd.h0.min()))
                    hi[r] = max(hi.get(r, -math.inf), float(cd.h0.max()))
        # QDQ models: the user's own parameters (frontends/onnx_qdq.py), where no fixed
        # parameters (Softmax's) hold; one set per class of tensors that share parameters
        user_roots: dict[str, QParams] = {}
        for t, (scale, zp) in sorted(g.user_qparams.items()):
            if t not in g.shapes or t in int16:
                continue
            r = self.find(t)
            if r in roots16:  # int16 activations: symmetric, calibrated (no int8 QDQ pair)
                continue
            p = QParams(float(scale), int(zp))
            if r in user_roots and user_roots[r] != p:
                self.warnings = self.warnings + (
                    f"QDQ: tensor '{t}' has scale {scale:.6g} / zero point {zp}, a tensor it "
                    f"shares int8 parameters with (through layout operators) has "
                    f"{user_roots[r].scale:.6g} / {user_roots[r].zero_point}; the latter is "
                    "used",)
                continue
            user_roots[r] = p
        fixed_here = {self.find(t) for t in self.fixed}
        for r, p in user_roots.items():
            if r not in fixed_here:
                self.fixed[r] = p
        if user_roots:
            self.source += (f"; the model's own QDQ scales and zero points on "
                            f"{len(user_roots)} tensor(s)")
        fixed_roots = {self.find(t): p for t, p in self.fixed.items()}
        params: dict[str, object] = {}
        for t in g.shapes:
            if t in g.constants or t in int16 or (g.input_ids and t == g.input):
                continue
            r = self.find(t)
            if r in roots16 and r in lo:
                params[t] = quant.choose_qparams16(lo[r], hi[r], f"tensor '{t}'")
            elif r in fixed_roots:
                params[t] = fixed_roots[r]
            elif r in lo:
                params[t] = quant.choose_qparams(lo[r], hi[r], f"tensor '{t}'")
        self.params = params
        nodes: dict[str, object] = {}
        for n in g.nodes:
            self.bits = self.prec.weight_bits(n.name)
            if isinstance(n, WEIGHTED) and self.prec.is_float(n.name):
                nodes[n.name] = q_f = self.float_layer(n)
                if isinstance(n, ir.Recurrent) and n.outputs[2]:
                    params[n.outputs[2]] = quant.QState16(q_f.cell_exp)
                continue
            if isinstance(n, ir.Recurrent):
                q = self.recurrent(n)
                nodes[n.name] = q
                if n.outputs[2]:
                    params[n.outputs[2]] = quant.QState16(q.cell_exp)
            elif isinstance(n, ir.Linear):
                nodes[n.name] = self.linear(n)
            elif isinstance(n, ir.Conv):
                nodes[n.name] = quant.quantize_conv(
                    n.W, n.b, self.qp(n.inputs[0]), self.qp(n.outputs[0]),
                    f"{self.where}: Conv node '{n.name}'", bits=self.bits)
            elif isinstance(n, ir.Softmax):
                nodes[n.name] = self.softmax(n)
            elif isinstance(n, ir.Unary):
                nodes[n.name] = self.unary(n)
            elif isinstance(n, ir.Reduce) and n.fn == "sum":
                x, out = self.qp(n.inputs[0]), self.qp(n.outputs[0])
                m, sh = quant.multiplier(x.scale / out.scale,
                                         f"{self.where}: ReduceSum node '{n.name}'")
                nodes[n.name] = quant.QReduceSum(m, sh, x, out)
            elif isinstance(n, ir.ChannelAffine):  # a depthwise 1x1 convolution
                nodes[n.name] = quant.quantize_conv(
                    n.scale.reshape(-1, 1), n.shift, self.qp(n.inputs[0]),
                    self.qp(n.outputs[0]), f"{self.where}: BatchNormalization node '{n.name}'")
            elif isinstance(n, ir.LayerNorm):  # its output: calibrated as any tensor
                nodes[n.name] = quant.quantize_layer_norm(
                    n.scale, n.bias, n.epsilon, self.qp(n.inputs[0]), self.qp(n.outputs[0]),
                    f"{self.where}: {_onnx_op(n)} node '{n.name}'")
            elif isinstance(n, ir.AttentionPool):
                nodes[n.name] = self.attention_pool(n)
            elif isinstance(n, ir.Pad):
                nodes[n.name] = int(quant.quantize_input(np.array([n.value], np.float32),
                                                         self.qp(n.outputs[0]))[0])
            elif isinstance(n, ir.Embedding):
                out = self.qp(n.outputs[0])
                nodes[n.name] = quant.QEmbedding(quant.quantize_input(n.table, out), out)
        if self.io == "int8":
            for o in g.outputs:
                if not isinstance(params.get(o), QParams):
                    raise RnngenError(f"{self.where}: output '{o}' is the int16 cell state; "
                                      "with --io int8 every output must be int8 (use --io "
                                      "float)")
        return quant.QuantPlan(tensors=params, nodes=nodes,
                               input=None if g.input_ids else params[g.input], io=self.io,
                               calibration=self.source, warnings=self.warnings,
                               precisions={n.name: self.prec.of(n.name).name
                                           for n in g.nodes if isinstance(n, WEIGHTED)
                                           and self.prec.of(n.name).name != precision.DEFAULT})

    # int16 activations (w8a16) ------------------------------------------------------
    def act16(self, n: ir.Node) -> bool:
        return self.prec.of(n.name).act_bits == 16

    def int16_classes(self, readers: dict[str, list[ir.Node]]) -> set[str]:
        """The classes of tensors (sharing parameters through layout operators) that hold
        int16 activations: the outputs Y and Y_h of a w8a16 recurrent layer (whose readers
        must take int16: recurrent and Linear layers, w8a16 / w4a16 Conv layers, layout
        operators, a model output with --io float; anything else is refused naming both
        nodes), the output of a w8a16 Linear layer when every reader takes int16 (else that
        output is int8: the Linear layer requantizes to int8 at the boundary), the same for a
        w8a16 Conv layer that reads int16, and the model's input when every layer reading it
        is w8a16 (float API only)."""
        g = self.g
        producer = g.producer()
        members: dict[str, list[str]] = {}
        for t in g.shapes:
            members.setdefault(self.find(t), []).append(t)
        layout = (ir.View, ir.Transpose, ir.Slice, ir.Concat)

        def bad_use(r: str, input_ok: bool = False) -> tuple[str, ir.Node | None]:
            """(tensor, node) of the first use of class r that cannot take int16."""
            for t in members.get(r, [r]):
                if t == g.input and not input_ok:
                    return t, None
                if t in g.outputs and self.io != "float":
                    return t, None
                p = producer.get(t)
                if p is not None and not isinstance(p, layout) and not (
                        isinstance(p, (ir.Recurrent, ir.Linear, ir.Conv)) and self.act16(p)):
                    return t, p
                for c in readers.get(t, []):
                    if isinstance(c, layout) or (isinstance(c, (ir.Recurrent, ir.Linear))
                                                 and c.inputs[0] == t):
                        continue
                    if isinstance(c, ir.Conv) and (self.act16(c) or self.prec.is_float(c.name)):
                        continue  # rnn_conv_a16; a float32 Conv: rnn_dequantize_s16
                    return t, c
            return "", None

        roots: set[str] = set()
        for n in g.nodes:
            if isinstance(n, ir.Recurrent) and self.act16(n):
                where = f"{self.where}: {n.cell} node '{n.name}'"
                if not cells.of(n.cell).a16:
                    have = ", ".join(c.name for c in cells.CELLS.values() if c.a16)
                    raise RnngenError(f"{where}: int16 activations "
                                      f"({self.prec.of(n.name).name}) are not available "
                                      f"for {n.cell} layers yet (they are for {have}); give "
                                      f"it w8a8 (--precision ...,{n.name}=w8a8)")
                for o in n.outputs[:2]:
                    if not o:
                        continue
                    r = self.find(o)
                    t, c = bad_use(r)
                    if t:
                        what = f"node '{c.name}' ({_onnx_op(c)})" if c is not None else \
                            ("the model's input (int8)" if t == g.input else
                             "a model output with --io int8")
                        raise RnngenError(
                            f"{where}: its int16 output '{t}' (w8a16) meets {what}, which "
                            "takes int8 only (int16 activations flow into recurrent and "
                            "Linear layers, w8a16 / w4a16 / float32 Conv layers, layout "
                            "operators and --io float outputs); give "
                            f"it w8a8 (--precision ...,{n.name}=w8a8)")
                    roots.add(r)
        # the model's input is int16 (quantized so on entry) when every layer reading it is
        # a w8a16 recurrent, Linear or Conv layer (float API only); else int8
        r = self.find(g.input)
        readers_in = [c for t in members.get(r, [r]) for c in readers.get(t, [])
                      if not isinstance(c, layout)]
        if self.io == "float" and not g.input_ids and readers_in and \
                not bad_use(r, input_ok=True)[0] and all(
                    isinstance(c, (ir.Recurrent, ir.Linear, ir.Conv)) and self.act16(c)
                    and (not isinstance(c, ir.Recurrent) or cells.of(c.cell).a16)
                    for c in readers_in):
            roots.add(r)
        # (in node order: a Conv's input class is decided before its output's) a w8a16 /
        # w4a16 Conv writes int16 when it reads int16 (rnn_conv_a16; reading int8 it is the
        # int8 Conv, int8 out) and every reader takes int16
        for n in g.nodes:
            if isinstance(n, ir.Conv) and self.act16(n) and self.find(n.inputs[0]) not in roots:
                continue
            if isinstance(n, (ir.Linear, ir.Conv)) and self.act16(n):
                r = self.find(n.outputs[0])
                if not bad_use(r)[0]:
                    roots.add(r)
        return roots

    def qp(self, t: str) -> QParams:
        p = self.params.get(t)
        if isinstance(p, quant.QParams16):
            return p  # type: ignore[return-value]  # w8a16: the layers that take int16
        if not isinstance(p, QParams):
            raise RnngenError(f"{self.where}: tensor '{t}' has no int8 range (never computed "
                              "during calibration)")
        return p

    # matrices -------------------------------------------------------------------------
    def matrix(self, m: ir.Matrix, x: QParams, out_scale: float, inputs: np.ndarray,
               what: str) -> formats.QMatrix:
        """Quantize m for an int8 input x; outputs in units of out_scale (int32, unsaturated).
        `inputs` [N, n] are float input vectors seen in calibration (for intermediates)."""
        return formats.quantize(m, x, out_scale, inputs, what, bits=self.bits)

    # nodes ----------------------------------------------------------------------------
    def recurrent(self, n: ir.Recurrent) -> quant.QRecurrent:  # noqa: C901
        where = f"{self.where}: {n.cell} node '{n.name}'"
        H = n.hidden
        x = self.qp(n.inputs[0])
        hname = n.outputs[0] or n.outputs[1]
        if not hname:
            raise RnngenError(f"{where}: neither Y nor Y_h is used")
        h = self.qp(hname)
        cell_exp = self.cell_exp(n)
        cell = cells.of(n.cell)
        if cell.reads_x(n) and x.dtype != h.dtype:
            raise RnngenError(f"{where}: its step reads its input x itself (an {n.cell} "
                              f"highway), an {x.dtype} tensor, but its own output is "
                              f"{h.dtype}: give it the precision of the layer before it "
                              f"(int16 activations: w8a16; int8: w8a8 or w4a8)")
        relu = cell.relu_s8 and n.directions[0].activations[0].name == "Relu"
        gate = relu_gate_scale(n, self.st, where) if relu else GATE_SCALE
        dirs = []
        for d, cd in enumerate(n.directions):
            tag = f"{where} direction {d}"
            xin = np.array(self.st.x_in.get((n.name, d), []), np.float64).reshape(-1, n.input_size)
            hin = np.array(self.st.h_in.get((n.name, d), []), np.float64).reshape(-1, H)
            W = self.matrix(cd.W, x, gate, xin, f"{tag} W")
            Rh = None
            if cell.split_recurrent(n):
                R = self.matrix(cd.R.row_slice(0, 2 * H), h, GATE_SCALE, hin, f"{tag} R")
                Rh = self.matrix(cd.R.row_slice(2 * H, 3 * H), h, GATE_SCALE, hin, f"{tag} R_h")
            else:
                R = self.matrix(cd.R, h, gate, hin, f"{tag} R")
            bias, bias2 = cell.quant_biases(n, cd)
            if relu:  # the pre-activations in their calibrated scale, ReLU without a table
                bias = quant.sat16(np.round((cd.wb + cd.rb).astype(np.float64) / gate)
                                   ).astype(np.int16)
                luts: tuple[Any, ...] = (None,)
            else:
                luts = tuple(quant.lut_table(quant.act_fn(a.name, a.alpha, a.beta))
                             for a in cd.activations)
            peep, pm, ps = None, 0, 0
            if cd.p is not None and cell.peepholes:
                amax = float(np.max(np.abs(cd.p)))
                s_p = amax / 32767.0 if amax > 0 else 1.0
                peep = np.clip(np.round(cd.p / s_p), -32767, 32767).astype(np.int16)
                pm, ps = quant.multiplier(s_p * 2.0 ** (quant.GATE_FRAC - cell_exp),
                                          f"{tag} peepholes")
            h0 = quant.sat_act(np.round(cd.h0 / h.scale) + h.zero_point, h).astype(
                np.int16 if h.dtype == "int16" else np.int8)
            c0 = None
            if cd.c0 is not None:
                c0 = quant.sat16(np.round(cd.c0 * 2.0 ** cell_exp)).astype(np.int16)
            fast = (0, 0)
            if cd.scalars:
                fast = tuple(quant.q15(1.0 / (1.0 + math.exp(-v))) for v in cd.scalars)
            dirs.append(quant.QDirection(W, R, Rh, bias, bias2, peep, pm, ps, h0, c0, luts,
                                         fast))
        out_frac = cell.out_frac
        om, os_ = quant.multiplier((gate if relu else 2.0 ** -out_frac) / h.scale,
                                   f"{where} output")
        hm, hs = quant.multiplier(h.scale * 2.0 ** 15, f"{where} state")
        clip = 0 if n.clip is None else int(min(32767, round(n.clip / gate)))
        return quant.QRecurrent(n.cell, H, x, h, cell_exp, clip, n.input_forget,
                                n.linear_before_reset, om, os_, hm, hs, tuple(dirs))

    def cell_exp(self, n: ir.Recurrent) -> int:
        """The power of two of the int16 cell state (LSTM): the calibrated largest |c| (and
        the initial states') with 10% headroom below 32767."""
        c_max = max([self.st.c_max.get(n.name, 0.0)] +
                    [float(np.max(np.abs(cd.c0))) for cd in n.directions if cd.c0 is not None])
        return 11 if c_max <= 0 else int(max(0, min(15, math.floor(
            math.log2(32767.0 / (c_max * 1.1))))))

    def float_layer(self, n: ir.Node) -> quant.QFloatLayer:
        """A layer in float32 (--precision LAYER=float32): the parameters it dequantizes its
        input with and quantizes its outputs with (docs/int8.md, "float32 layers")."""
        x = self.qp(n.inputs[0])
        if isinstance(n, (ir.Linear, ir.Conv)):
            return quant.QFloatLayer(x, (self.qp(n.outputs[0]),))
        assert isinstance(n, ir.Recurrent)
        if not (n.outputs[0] or n.outputs[1]):
            raise RnngenError(f"{self.where}: {n.cell} node '{n.name}': neither Y nor Y_h "
                              "is used")
        e = self.cell_exp(n) if n.outputs[2] else 0
        outs = tuple(self.qp(o) if o and k < 2 else (quant.QState16(e) if o else None)
                     for k, o in enumerate(n.outputs[:3]))
        return quant.QFloatLayer(x, outs, e)

    def linear(self, n: ir.Linear) -> quant.QLinear:
        what = f"{self.where}: node '{n.name}'"
        f = formats.of(n.W)
        if f.quantize_out is None:
            raise RnngenError(f"{what}: a {n.W.fmt} matrix in a Linear layer is not supported "
                              "with --dtype int8")
        x, out = self.qp(n.inputs[0]), self.qp(n.outputs[0])
        formats.check_act_bits(n.W, x, what)
        b = None if n.b is None else n.b.astype(np.float64)
        rows = self.g.weight_scales.get(n.name)  # QDQ: the user's weight scales
        if self.bits != 8:
            if self.bits not in f.weight_bits:
                raise RnngenError(f"{what}: int4 weights ({self.prec.of(n.name).name}) are not "
                                  f"available for a {n.W.fmt} matrix in a Linear layer yet; "
                                  f"give it w8a8 (--precision ...,{n.name}=w8a8)")
            w = f.quantize_out(n.W, x, out.scale, what, b, bits=self.bits)
        elif rows is not None:
            w = f.quantize_out(n.W, x, out.scale, what, b, scales=rows)
        else:
            w = f.quantize_out(n.W, x, out.scale, what, b)
        return quant.QLinear(w, x, out)

    def softmax(self, n: ir.Softmax) -> quant.QSoftmax:
        return quant.QSoftmax(quant.exp_table(self.qp(n.inputs[0]).scale),
                              self.fixed[n.outputs[0]])

    def attention_pool(self, n: ir.AttentionPool) -> quant.QAttentionPool:
        """The softmax's table for the scores; the weighted mean of the values (Q16) to the
        output's calibrated scale."""
        s, v, out = self.qp(n.inputs[0]), self.qp(n.inputs[1]), self.qp(n.outputs[0])
        m, sh = quant.multiplier(v.scale / out.scale / 65536.0,
                                 f"{self.where}: attention pooling '{n.name}'")
        return quant.QAttentionPool(quant.exp_table(s.scale), s, v, out, m, sh)

    def unary(self, n: ir.Unary) -> quant.QLut8:
        x, out = self.qp(n.inputs[0]), self.qp(n.outputs[0])
        vals = (np.arange(-128, 128) - x.zero_point) * x.scale
        f = reference.activation(n.act, vals.astype(np.float32)).astype(np.float64)
        table = quant.sat8(np.round(f / out.scale) + out.zero_point).astype(np.int8)
        return quant.QLut8(table, out)
