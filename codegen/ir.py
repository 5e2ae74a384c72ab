"""The intermediate representation: small frozen dataclasses, the only module every layer imports.

A :class:`Graph` is a list of nodes in execution order over named float32 tensors with
static shapes (batch 1). One tensor is the dynamic input (the sequence); the others are
node outputs or constants. Weight matrices are :class:`Matrix` objects that know their own
shape, storage bytes, MACs, ``to_dense()`` and NumPy ``matvec``.

Shapes are ONNX shapes (batch dimensions of size 1 included), so a graph read from ONNX
keeps the exact output layout the ONNX model defines. Memory layout is row-major.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace
from typing import Any, Mapping

import numpy as np

from . import formats
from .errors import RnngenError

Shape = tuple[int, ...]
F32 = np.float32


# --------------------------------------------------------------------------- matrices
#
# Weight matrices are the formats of formats/ (one module per format, one registry): each
# knows its shape, parameters, storage bytes, MACs per matvec, to_dense() and matvec(x).

Matrix = formats.Matrix
MATRIX_TYPES = formats.MATRIX_TYPES


# --------------------------------------------------------------------------- activations

# ONNX activation functions usable inside LSTM/GRU/RNN and as standalone nodes,
# with their default (alpha, beta) from the ONNX operator definitions.
ACTIVATION_DEFAULTS: dict[str, tuple[float, float]] = {
    "Sigmoid": (0.0, 0.0),
    "Tanh": (0.0, 0.0),
    "Relu": (0.0, 0.0),
    "Affine": (1.0, 0.0),
    "LeakyRelu": (0.01, 0.0),
    "ThresholdedRelu": (1.0, 0.0),
    "ScaledTanh": (1.0, 1.0),
    "HardSigmoid": (0.2, 0.5),
    "Elu": (1.0, 0.0),
    "Softsign": (0.0, 0.0),
    "Softplus": (0.0, 0.0),
}
# Which of (alpha, beta) each activation reads.
ACTIVATION_PARAMS: dict[str, tuple[bool, bool]] = {
    "Sigmoid": (False, False),
    "Tanh": (False, False),
    "Relu": (False, False),
    "Affine": (True, True),
    "LeakyRelu": (True, False),
    "ThresholdedRelu": (True, False),
    "ScaledTanh": (True, True),
    "HardSigmoid": (True, True),
    "Elu": (True, False),
    "Softsign": (False, False),
    "Softplus": (False, False),
}


@dataclass(frozen=True)
class Activation:
    name: str
    alpha: float = 0.0
    beta: float = 0.0

    @staticmethod
    def default(name: str) -> "Activation":
        a, b = ACTIVATION_DEFAULTS[name]
        return Activation(name, a, b)


SIGMOID = Activation("Sigmoid")
TANH = Activation("Tanh")


# --------------------------------------------------------------------------- nodes

@dataclass(frozen=True, eq=False)
class Node:
    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]  # "" marks an output the model does not use

    @property
    def op(self) -> str:
        return type(self).__name__

    def out_shapes(self, ins: list[Shape]) -> list[Shape]:  # pragma: no cover - abstract
        raise NotImplementedError

    def describe(self) -> str:
        """One line for --dump-ir."""
        extra = []
        for f in fields(self):
            if f.name in ("name", "inputs", "outputs"):
                continue
            v = getattr(self, f.name)
            if isinstance(v, np.ndarray):
                v = f"array{tuple(v.shape)}"
            elif isinstance(v, tuple) and v and isinstance(v[0], CellDirection):
                v = "[" + "; ".join(f"{'bwd' if d.reverse else 'fwd'} W={formats.describe(d.W)} "
                                    f"R={formats.describe(d.R)}" for d in v) + "]"
            elif isinstance(v, MATRIX_TYPES):
                v = f"{formats.describe(v)}"
            extra.append(f"{f.name}={v}")
        return (f"{self.op} '{self.name}' ({', '.join(self.inputs)}) -> "
                f"({', '.join(o or '_' for o in self.outputs)}) {' '.join(extra)}")


@dataclass(frozen=True, eq=False)
class CellDirection:
    """One direction of a recurrent layer. Gates are stacked in ONNX order:
    LSTM i,o,f,c; GRU z,r,h; RNN i.

    FastRNN and FastGRNN (Microsoft EdgeML, PAPERS.md section 5) have one W [H, I] and one
    R (their U) [H, H]:
      FastRNN:  h~ = act(W x + U h + wb);  h = sigmoid(beta) h + sigmoid(alpha) h~
                (rb is zero; scalars = (alpha, beta), stored before the sigmoid)
      FastGRNN: p = W x + U h;  z = gate(p + wb);  h~ = act(p + rb);
                h = z h + (sigmoid(zeta) (1 - z) + sigmoid(nu)) h~
                (wb is the gate bias, rb the update bias; scalars = (zeta, nu))
    activations: FastRNN (update,); FastGRNN (gate, update).
    """

    reverse: bool
    W: Matrix  # [G*H, I]
    R: Matrix  # [G*H, H]
    wb: np.ndarray  # [G*H]
    rb: np.ndarray  # [G*H]
    p: np.ndarray | None  # LSTM peepholes [3H] in order i, o, f; None: no peepholes
    h0: np.ndarray  # [H] initial hidden state
    c0: np.ndarray | None  # [H] initial cell state (LSTM)
    activations: tuple[Activation, ...]  # LSTM (f, g, h); GRU (f, g); RNN (f)
    scalars: tuple[float, ...] = ()  # FastRNN (alpha, beta); FastGRNN (zeta, nu)




@dataclass(frozen=True, eq=False)
class Recurrent(Node):
    """ONNX LSTM / GRU / RNN with batch 1.

    inputs: (x,) with x [T,1,I] (layout 0) or [1,T,I] (layout 1): both are [T][I] in memory.
    outputs: (Y, Y_h, Y_c), "" when unused. Y [T,D,1,H] or [1,T,D,H] ([T][D][H] in memory),
    Y_h / Y_c [D,1,H] or [1,D,H] ([D][H] in memory).
    """

    cell: str  # a cell of the registry codegen/cells/ (cells.of(cell))
    hidden: int
    input_size: int
    seq_len: int  # T, the time steps the tensors hold
    valid_len: int  # sequence_lens[0] (<= T); steps past it give zeros in Y
    layout: int
    directions: tuple[CellDirection, ...]
    clip: float | None
    input_forget: bool
    linear_before_reset: bool

    @property
    def num_directions(self) -> int:
        return len(self.directions)

    def out_shapes(self, ins: list[Shape]) -> list[Shape]:
        T, D, H = self.seq_len, self.num_directions, self.hidden
        x = ins[0]
        want = (T, 1, self.input_size) if self.layout == 0 else (1, T, self.input_size)
        if tuple(x) != want:
            raise RnngenError(f"{self.cell} node '{self.name}': input X has shape {x}, "
                              f"expected {want}")
        if self.layout == 0:
            return [(T, D, 1, H), (D, 1, H), (D, 1, H)]
        return [(1, T, D, H), (1, D, H), (1, D, H)]


@dataclass(frozen=True, eq=False)
class Linear(Node):
    """y[..., N] = x[..., K] @ W^T + b, W [N, K] constant."""

    W: Matrix
    b: np.ndarray | None  # [N]

    def out_shapes(self, ins: list[Shape]) -> list[Shape]:
        n, k = self.W.shape
        if not ins[0] or ins[0][-1] != k:
            raise RnngenError(f"node '{self.name}': input shape {ins[0]} does not end in {k}")
        return [tuple(ins[0][:-1]) + (n,)]


BINARY_OPS = ("Add", "Sub", "Mul", "Div")


@dataclass(frozen=True, eq=False)
class Binary(Node):
    """Elementwise a (op) b with NumPy broadcasting; either input may be a constant."""

    fn: str  # one of BINARY_OPS

    def out_shapes(self, ins: list[Shape]) -> list[Shape]:
        try:
            return [tuple(int(d) for d in np.broadcast_shapes(ins[0], ins[1]))]
        except ValueError:
            raise RnngenError(f"{self.fn} node '{self.name}': shapes {ins[0]} and {ins[1]} "
                              "do not broadcast") from None


@dataclass(frozen=True, eq=False)
class Unary(Node):
    """Elementwise activation."""

    act: Activation

    def out_shapes(self, ins: list[Shape]) -> list[Shape]:
        return [ins[0]]


@dataclass(frozen=True, eq=False)
class Softmax(Node):
    """Softmax (or LogSoftmax) along one axis (non-negative)."""

    axis: int
    log: bool

    def out_shapes(self, ins: list[Shape]) -> list[Shape]:
        return [ins[0]]


@dataclass(frozen=True, eq=False)
class Transpose(Node):
    perm: tuple[int, ...]

    def out_shapes(self, ins: list[Shape]) -> list[Shape]:
        return [tuple(ins[0][p] for p in self.perm)]


@dataclass(frozen=True, eq=False)
class Slice(Node):
    """y[..., i, ...] = x[..., start + i*step, ...] on each axis: per-axis (start, step, count).

    Gather with constant indices lowers to Slice (+ View)."""

    starts: tuple[int, ...]
    steps: tuple[int, ...]
    counts: tuple[int, ...]

    def out_shapes(self, ins: list[Shape]) -> list[Shape]:
        x = ins[0]
        for ax, (s, st, c) in enumerate(zip(self.starts, self.steps, self.counts)):
            last = s + (c - 1) * st
            if c < 1 or not (0 <= s < x[ax]) or not (0 <= last < x[ax]):
                raise RnngenError(f"node '{self.name}': slice out of range on axis {ax}")
        return [tuple(self.counts)]


@dataclass(frozen=True, eq=False)
class Concat(Node):
    axis: int

    def out_shapes(self, ins: list[Shape]) -> list[Shape]:
        first = list(ins[0])
        total = 0
        for s in ins:
            if len(s) != len(first) or any(
                    a != b for i, (a, b) in enumerate(zip(s, first)) if i != self.axis):
                raise RnngenError(f"Concat node '{self.name}': shapes {ins} do not match")
            total += s[self.axis]
        first[self.axis] = total
        return [tuple(first)]


@dataclass(frozen=True, eq=False)
class View(Node):
    """Same data, new shape (Reshape, Squeeze, Unsqueeze, Flatten, Identity)."""

    shape: Shape

    def out_shapes(self, ins: list[Shape]) -> list[Shape]:
        if math.prod(ins[0]) != math.prod(self.shape):
            raise RnngenError(f"node '{self.name}': cannot view {ins[0]} as {self.shape}")
        return [tuple(self.shape)]


# --------------------------------------------------------------------------- layers around RNNs
#
# Convolution, pooling, normalization and reduction (issue 11). Tensors are ONNX's: a Conv or
# a pool reads [1, C, *spatial] (one or two spatial axes: 1-D and 2-D), row-major.


def _spatial_out(n: Node, x: Shape, kernel: tuple[int, ...], strides: tuple[int, ...],
                 pads: tuple[int, ...], dilations: tuple[int, ...]) -> tuple[int, ...]:
    k = len(kernel)
    if len(x) != 2 + k or x[0] != 1:
        raise RnngenError(f"{n.op} node '{n.name}': input shape {x}, expected [1, C] and "
                          f"{k} spatial axes")
    out = []
    for i in range(k):
        span = (kernel[i] - 1) * dilations[i] + 1
        o = (x[2 + i] + pads[i] + pads[k + i] - span) // strides[i] + 1
        if o < 1:
            raise RnngenError(f"{n.op} node '{n.name}': the kernel ({span} wide with its "
                              f"dilation) is larger than spatial axis {i} of the input "
                              f"({x[2 + i]} with padding)")
        out.append(o)
    return tuple(out)


@dataclass(frozen=True, eq=False)
class Conv(Node):
    """ONNX Conv, batch 1, 1-D or 2-D: y[m, o] = b[m] + sum over the group's channels c and
    kernel taps k of W[m, c, k] x[g*C/G + c, o*stride - pad_begin + k*dilation] (zero outside).

    W [M, C/group, *kernel]; pads (begin per axis..., end per axis...)."""

    W: np.ndarray
    b: np.ndarray | None  # [M]
    strides: tuple[int, ...]
    pads: tuple[int, ...]
    dilations: tuple[int, ...]
    group: int

    def out_shapes(self, ins: list[Shape]) -> list[Shape]:
        x = ins[0]
        M, cg = int(self.W.shape[0]), int(self.W.shape[1])
        if len(x) >= 2 and x[1] != cg * self.group:
            raise RnngenError(f"Conv node '{self.name}': input has {x[1]} channels, W expects "
                              f"{cg} x group {self.group}")
        sp = _spatial_out(self, x, tuple(self.W.shape[2:]), self.strides, self.pads,
                          self.dilations)
        return [(1, M) + sp]

    @property
    def kernel(self) -> tuple[int, ...]:
        return tuple(int(k) for k in self.W.shape[2:])


@dataclass(frozen=True, eq=False)
class Pool(Node):
    """MaxPool / AveragePool, batch 1, 1-D or 2-D (floor mode). Padding counts as -inf for
    max; for the average, as zeros divided by the whole window when count_include_pad, else
    left out of the count."""

    kind: str  # "max" or "avg"
    kernel: tuple[int, ...]
    strides: tuple[int, ...]
    pads: tuple[int, ...]
    dilations: tuple[int, ...]
    count_include_pad: bool

    def out_shapes(self, ins: list[Shape]) -> list[Shape]:
        x = ins[0]
        sp = _spatial_out(self, x, self.kernel, self.strides, self.pads, self.dilations)
        return [(1, x[1]) + sp]


REDUCE_OPS = ("sum", "mean", "max")


@dataclass(frozen=True, eq=False)
class Reduce(Node):
    """ReduceSum / ReduceMean / ReduceMax over the contiguous axes first..last (kept as
    size 1: the frontend adds a View to drop them)."""

    fn: str  # one of REDUCE_OPS
    first: int
    last: int

    def out_shapes(self, ins: list[Shape]) -> list[Shape]:
        x = ins[0]
        if not 0 <= self.first <= self.last < len(x):
            raise RnngenError(f"node '{self.name}': axes {self.first}..{self.last} out of "
                              f"range for {x}")
        return [tuple(1 if self.first <= i <= self.last else d for i, d in enumerate(x))]


@dataclass(frozen=True, eq=False)
class FrameWindow(Node):
    """In the step graph of a streaming model, in front of a Conv or Pool along the time axis
    (analyze_time): this call's frame (the input, time axis `axis` of size 1) is pushed into
    a shift buffer of the last `frames` frames, kept in the state (zero at reset, or the
    int8 zero point: the left padding), and the output is that buffer (time axis of size
    `frames`), which the Conv / Pool reads with no padding along time. The window *fires* (the
    nodes after it run on this call) from the `start`-th frame after reset, then on every
    `stride`-th."""

    axis: int
    frames: int
    start: int
    stride: int

    @property
    def gating(self) -> bool:
        """Whether some calls do not fire (a delay or a stride along time)."""
        return self.start > 1 or self.stride > 1

    def out_shapes(self, ins: list[Shape]) -> list[Shape]:
        x = ins[0]
        return [x[:self.axis] + (self.frames,) + x[self.axis + 1:]]


@dataclass(frozen=True, eq=False)
class RunningReduce(Reduce):
    """A Reduce over the time axis (axis `first`, the outermost reduced one) in the step or
    block graph of a streaming model: the sum / maximum so far is state (MemoryPlan.running),
    and the output is the pooled value after this call's last step."""


@dataclass(frozen=True, eq=False)
class AttentionPool(Node):
    """Attention pooling: sum over `axis` of softmax(scores, axis) * values (the ONNX
    Softmax -> Mul -> ReduceSum a model writes, fused by simplify). inputs (scores, values)
    of the same rank; the scores' other axes equal the values' or are 1 (broadcast); the
    output is the values' shape with `axis` of size 1."""

    axis: int

    def layout(self, s: Shape, v: Shape) -> tuple[int, int, int, int]:
        """(outer, n, inner, inner_s) of the C kernels for scores s and values v."""
        a = self.axis
        return (math.prod(v[:a]), int(v[a]), math.prod(v[a + 1:]), math.prod(s[a + 1:]))

    def out_shapes(self, ins: list[Shape]) -> list[Shape]:
        s, v = ins
        if len(s) != len(v) or s[self.axis] != v[self.axis] or any(
                a != b and a != 1 for a, b in zip(s, v)):
            raise RnngenError(f"node '{self.name}': scores {s} do not broadcast to values {v}")
        return [tuple(1 if i == self.axis else d for i, d in enumerate(v))]


@dataclass(frozen=True, eq=False)
class RunningAttentionPool(AttentionPool):
    """Attention pooling over the time axis in the step or block graph of a streaming model:
    an online softmax (running maximum m and normalizer l per score, running weighted sum a
    per output, MemoryPlan.running) whose output is a / l after this call's last step."""


@dataclass(frozen=True, eq=False)
class LayerNorm(Node):
    """ONNX LayerNormalization: each block of the axes axis.. normalized to mean 0 and
    variance 1 (biased, + epsilon), then times scale plus bias (both of the block's shape)."""

    axis: int  # non-negative
    epsilon: float
    scale: np.ndarray  # [n], n = prod(shape[axis:])
    bias: np.ndarray  # [n]
    source_op: str = "LayerNormalization"  # the ONNX operator it came from, for messages

    def out_shapes(self, ins: list[Shape]) -> list[Shape]:
        x = ins[0]
        if not 0 <= self.axis < len(x) or math.prod(x[self.axis:]) != self.scale.size:
            raise RnngenError(f"{self.source_op} node '{self.name}': scale has "
                              f"{self.scale.size} values for input {x} at axis {self.axis}")
        return [x]


@dataclass(frozen=True, eq=False)
class ChannelAffine(Node):
    """y = x * scale[c] + shift[c] along one axis: an inference BatchNormalization
    (scale = gamma / sqrt(var + eps), shift = beta - mean * scale) that the fold_batchnorm
    pass could not fold into the Conv or Linear in front of it."""

    axis: int
    scale: np.ndarray  # [C]
    shift: np.ndarray  # [C]

    def out_shapes(self, ins: list[Shape]) -> list[Shape]:
        x = ins[0]
        if not 0 <= self.axis < len(x) or x[self.axis] != self.scale.size:
            raise RnngenError(f"BatchNormalization node '{self.name}': {self.scale.size} "
                              f"channels for input {x} on axis {self.axis}")
        return [x]


@dataclass(frozen=True, eq=False)
class Pad(Node):
    """ONNX Pad, constant mode: pads (begin per axis..., end per axis...), all >= 0."""

    pads: tuple[int, ...]
    value: float

    def out_shapes(self, ins: list[Shape]) -> list[Shape]:
        x = ins[0]
        r = len(x)
        return [tuple(d + self.pads[i] + self.pads[r + i] for i, d in enumerate(x))]


@dataclass(frozen=True, eq=False)
class Embedding(Node):
    """ONNX Gather of a constant table [rows, dim] by run-time token ids (axis 0): the output
    is the ids' shape + (dim,). The ids are the graph's input (int32 at the C API; held as
    exact integers in float32 by the reference); an id in [-rows, -1] counts from the end,
    one outside [-rows, rows - 1] is clamped to the nearest row (docs/limits.md)."""

    table: np.ndarray  # [rows, dim] float32

    def out_shapes(self, ins: list[Shape]) -> list[Shape]:
        return [tuple(ins[0]) + (int(self.table.shape[1]),)]

    def rows(self, ids: np.ndarray) -> np.ndarray:
        """The table rows the C reads for `ids` (wrapped, then clamped), as int64."""
        v = np.rint(np.asarray(ids, np.float64)).astype(np.int64)
        n = int(self.table.shape[0])
        v = np.where(v < 0, v + n, v)
        return np.clip(v, 0, n - 1)


# --------------------------------------------------------------------------- graph

@dataclass(frozen=True)
class TimeInfo:
    """Where the time axis of a tensor is, from the analyze_time pass.

    kind "seq": the tensor has the time axis `axis` (one slice per step);
    kind "final": the tensor is a value after the last step (Y_h, the last step of Y).
    """

    kind: str
    axis: int = -1
    # the FrameWindow nodes (by name) that must fire on a call for this value to be produced
    # on it: a Conv / Pool along time with a delay or a stride outputs a frame on some calls
    # only (empty: every call)
    clock: tuple[str, ...] = ()


@dataclass(frozen=True)
class CellPlan:
    """The named places of one recurrent layer's step (plan_memory), so that the emitters
    never re-derive them: `hoist` steps of input projections W x per block (1: per step),
    `proj` where that block starts in the work area, `work` the cell's own named offsets in
    the work area (float: the cell's intermediates; int8: gx, gh, zr in the int16 work
    area) and `work8` in the int8 work area (int8: rh, scratch)."""

    hoist: int
    proj: int
    work: Mapping[str, int]
    work8: Mapping[str, int]


@dataclass(frozen=True)
class MemoryPlan:
    """Where each run-time tensor lives (plan_memory).

    place[t] = (region, offset in floats): region "x" is the caller's input, "arena" the
    scratch arena in the state struct, "const:<name>" a constant. Recurrent state (h, c per
    node and direction) lives in region "state" at state_slots[(node, d)] = (h_off, c_off).
    `work` floats of per-cell scratch (gate pre-activations) are shared by all recurrent nodes.
    """

    place: Mapping[str, tuple[str, int]]
    arena: int
    work: int
    state: int
    state_slots: Mapping[tuple[str, int], tuple[int, int]]
    scratch_off: int = 0  # where the matrix kernels' scratch starts inside `work`
    work8: int = 0  # int8 models: `work` is int16 gate values; work8 int8 scratch
    state16: int = 0  # int8 models: `state` is the int8 hidden state, state16 the cell state
    arena16: int = 0  # int8 models: int16 tensors (a cell-state output)
    cells: Mapping[str, CellPlan] = field(default_factory=dict)  # recurrent node -> places
    # pooling over time in a streaming model: RunningReduce node -> (offset of its running
    # values, offset of its count in state32); the values are in `state` (float32) or in
    # state32 (int8: int32 sums)
    running: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    state32: int = 0
    # int8 models with float32 layers (--precision LAYER=float32): their float state (h, c:
    # state_slots index it) and float work area, and per such layer its places in `workf`:
    # "x" the dequantized input, "y" / "yh" / "yc" the float outputs, "work" the float cell
    # work area (the cell's slots, then the input projections), "scratch" the matrix kernels'
    statef: int = 0
    workf: int = 0
    floats: Mapping[str, Mapping[str, int]] = field(default_factory=dict)


@dataclass(frozen=True)
class StateInput:
    """A run-time input of the model that is recurrent state (ONNX initial_h / initial_c fed
    by a graph input, or one state tensor sliced into them, DTLN / Silero-VAD style).

    It is not an input of the graph's nodes: the recurrent layers start from zeros (or the
    input's initializer) at `_reset`, and `<name>_set_state` / `<name>_get_state` write / read
    the state in this tensor's layout. `slots[k]` says where element k (row-major in `shape`) lives:
    (recurrent node, direction, "h" or "c", unit)."""

    name: str
    shape: Shape
    slots: tuple[tuple[str, int, str, int], ...]
    # the input has an initializer: the values _reset gives (in the layers' h0 / c0), and
    # what a golden input without this array uses; else _reset gives zeros
    default: bool = False

    @property
    def size(self) -> int:
        return len(self.slots)


@dataclass(frozen=True, eq=False)
class Graph:
    name: str
    input: str  # the dynamic input: the sequence
    outputs: tuple[str, ...]
    nodes: tuple[Node, ...]
    shapes: Mapping[str, Shape]  # every tensor, constants included
    constants: Mapping[str, np.ndarray]  # float32 constants used as node inputs
    seq_len: int  # T the graph was compiled for
    source: str = ""  # file it came from (for messages)
    input_time_axis: int | None = None  # the input's time axis, when the frontend knows it
    time: Mapping[str, TimeInfo] | None = None  # set by analyze_time
    step: "Graph | None" = None  # the one-step graph of a streamable model (analyze_time)
    # a streaming model's graph of `block.seq_len` steps, which <name>_run evaluates block by
    # block (plan_memory.plan_block; None: _run is a loop of steps), and why not
    block: "Graph | None" = None
    block_why: str = ""
    not_streaming_why: str = ""  # set by analyze_time when step is None
    # step graphs with a FrameWindow that does not fire on every call: node -> the windows
    # that must fire for it to run, and the outputs kept in the state (their value as of the
    # last call that produced them; zero before)
    gates: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    held: tuple[str, ...] = ()
    # the frames a streaming model's outputs lag its input (the delay of its windows)
    delay: int = 0
    memory: "MemoryPlan | None" = None  # set by plan_memory
    quant: Any = None  # quant.QuantPlan, set by quantize with --dtype int8
    # run-time inputs that are recurrent state (stateful models), in the model's input order
    state_inputs: tuple[StateInput, ...] = ()
    # QDQ models: the user's int8 parameters, honoured by --dtype int8 where they still
    # name a tensor (frontends/onnx_qdq.py): tensor -> (scale, int8 zero point), and a
    # Linear node's per-row weight scales
    user_qparams: Mapping[str, tuple[float, int]] = field(default_factory=dict)
    weight_scales: Mapping[str, np.ndarray] = field(default_factory=dict)
    # what the frontend rewrote (Loops unrolled, unrolled cells recognized) or why not
    notes: tuple[str, ...] = ()
    # the input is token ids (an embedding lookup's indices): int32 at the C API, exact
    # integers in the reference's float32 arrays
    input_ids: bool = False

    @property
    def streaming(self) -> bool:
        return self.step is not None

    def replace(self, **kw) -> "Graph":
        return replace(self, **kw)

    def producer(self) -> dict[str, Node]:
        return {o: n for n in self.nodes for o in n.outputs if o}

    def consumers(self) -> dict[str, list[Node]]:
        out: dict[str, list[Node]] = {}
        for n in self.nodes:
            for i in n.inputs:
                out.setdefault(i, []).append(n)
        return out

    def matrices(self) -> list[tuple[str, str, Matrix]]:
        """(node name, role, matrix) for every weight matrix."""
        out = []
        for n in self.nodes:
            if isinstance(n, Recurrent):
                for d, cd in enumerate(n.directions):
                    tag = "" if n.num_directions == 1 else ("fwd " if d == 0 else "bwd ")
                    out.append((n.name, f"{tag}W", cd.W))
                    out.append((n.name, f"{tag}R", cd.R))
            elif isinstance(n, Linear):
                out.append((n.name, "W", n.W))
        return out

    def dump(self) -> str:
        lines = [f"graph '{self.name}' T={self.seq_len} input {self.input}"
                 f"{self.shapes[self.input]}"]
        for n in self.nodes:
            outs = ", ".join(f"{o}{self.shapes[o]}" for o in n.outputs if o)
            lines.append(f"  {n.describe()}  => {outs}")
        lines.append(f"  outputs: {', '.join(f'{o}{self.shapes[o]}' for o in self.outputs)}")
        if self.time is not None:
            lines.append(f"  streaming: {'yes' if self.streaming else 'no'}")
        return "\n".join(lines)


def verify(g: Graph) -> None:
    """Check the IR invariants; raises RnngenError (an internal bug if a pass broke them)."""
    defined = {g.input} | set(g.constants)
    for name, arr in g.constants.items():
        if arr.dtype != F32:
            raise RnngenError(f"IR: constant '{name}' is {arr.dtype}, not float32")
        if tuple(arr.shape) != tuple(g.shapes[name]):
            raise RnngenError(f"IR: constant '{name}' shape {arr.shape} != {g.shapes[name]}")
    seen: set[str] = set()
    for n in g.nodes:
        if n.name in seen:  # state, quantization and C symbols are keyed by node name
            raise RnngenError(f"IR: two nodes are named '{n.name}'")
        seen.add(n.name)
        for i in n.inputs:
            if i not in defined:
                raise RnngenError(f"IR: node '{n.name}' reads '{i}' before it is defined")
        want = n.out_shapes([tuple(g.shapes[i]) for i in n.inputs])
        for o, s in zip(n.outputs, want):
            if not o:
                continue
            if o in defined:
                raise RnngenError(f"IR: tensor '{o}' is defined twice")
            if tuple(g.shapes.get(o, ())) != tuple(s) and o in g.shapes:
                raise RnngenError(f"IR: node '{n.name}' output '{o}' has shape "
                                  f"{g.shapes[o]}, inferred {s}")
            if o not in g.shapes:
                raise RnngenError(f"IR: node '{n.name}' output '{o}' has no shape")
            defined.add(o)
    for o in g.outputs:
        if o not in defined:
            raise RnngenError(f"IR: output '{o}' is never computed")
    rec = {n.name: n for n in g.nodes if isinstance(n, Recurrent)}
    for si in g.state_inputs:
        for node, d, kind, j in si.slots:
            n = rec.get(node)
            if n is None or not 0 <= d < n.num_directions or not 0 <= j < n.hidden or \
                    (kind == "c" and n.directions[d].c0 is None) or kind not in ("h", "c"):
                raise RnngenError(f"IR: state input '{si.name}' maps to a missing state slot")
    if g.step is not None:
        verify(g.step)


def macs(g: Graph) -> int:
    """Multiply-accumulates of the weight matrices in one evaluation of the graph."""
    total = 0
    for n in g.nodes:
        if isinstance(n, Recurrent):
            total += sum(d.W.macs + d.R.macs for d in n.directions) * n.valid_len
        elif isinstance(n, Linear):
            total += n.W.macs * math.prod(g.shapes[n.inputs[0]][:-1])
        elif isinstance(n, Conv):
            total += conv_macs(n, g.shapes[n.outputs[0]])
    return total


def conv_macs(n: Conv, out: Shape) -> int:
    """Multiply-accumulates of one Conv: each output value sums C/group x kernel products."""
    return math.prod(out) * int(math.prod(n.W.shape[1:]))


def macs_per_step(g: Graph) -> int:
    """MACs per time step: of the one-step graph when streaming, else the average."""
    if g.step is not None:
        return macs(g.step)
    return -(-macs(g) // max(1, g.seq_len))

