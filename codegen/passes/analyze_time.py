"""analyze_time: is the model causal, and if so, build its one-step graph.

A model is *streaming* when every output at step t depends only on inputs 0..t: every
recurrent layer runs forward over the whole sequence, and every other node treats time
steps independently (or takes the last step, like Y_h or `out[:, -1]`). Then the emitted
`<name>_step` evaluates the one-step graph built here (time axis of size 1, recurrent state
kept between calls) and `<name>_run` is a loop of steps. Otherwise (bidirectional or
reverse layers, sequence_lens shorter than the input, ops that mix time steps) the model is
compiled for whole sequences of exactly T steps.

Each tensor gets a TimeInfo: ("seq", axis) if it has one slice per step along `axis`,
("final") for a value after the last step. Constants have none.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import replace

from .. import ir

TI = ir.TimeInfo
FINAL = TI("final")


class _NotCausal(Exception):
    pass


def run(g: ir.Graph, opts: object = None) -> ir.Graph:
    if getattr(opts, "whole_sequence", False):
        return g.replace(time={}, step=None,
                         not_streaming_why="built with --whole-sequence")
    try:
        tags = _tags(g)
        step = _step_graph(g, tags)
    except _NotCausal as e:
        return g.replace(time={}, step=None, not_streaming_why=str(e))
    return g.replace(time=tags, step=step.replace(time=tags), not_streaming_why="")


def _tags(g: ir.Graph) -> dict[str, ir.TimeInfo]:
    T = g.seq_len
    ax = g.input_time_axis
    if ax is None:
        raise _NotCausal("the input has no time axis rnngen can identify")
    xs = g.shapes[g.input]
    if math.prod(xs[:ax]) != 1:
        raise _NotCausal("the input's time axis is not its outermost axis")
    tags: dict[str, ir.TimeInfo] = {g.input: TI("seq", ax)}
    for n in g.nodes:
        ins = [tags.get(i) for i in n.inputs]
        outs = _rule(g, n, ins)
        # a value is produced on the calls on which every window before it fires
        clock = tuple(dict.fromkeys(c for t in ins if t is not None for c in t.clock))
        w = window_of(g, n, ins[0] if ins else None)
        if w is not None and w.gating:
            clock += (w.name,)
        for o, t in zip(n.outputs, outs):
            if o:
                tags[o] = replace(t, clock=clock)
    for o in g.outputs:
        t = tags[o]
        if t.kind == "seq" and math.prod(g.shapes[o][:t.axis]) != 1:
            raise _NotCausal(f"output '{o}' is not laid out step by step")
        if t.kind == "seq" and t.clock:
            raise _NotCausal(f"output '{o}' has one value per output frame of "
                             f"{_window_op(t.clock[-1])}, which some calls do not produce "
                             "(a delay or a stride along time); streaming models with such a "
                             "window give values after the last step only")
    if T < 1:
        raise _NotCausal("empty sequence")
    return tags


def _rule(g: ir.Graph, n: ir.Node, ins: list[ir.TimeInfo | None]) -> list[ir.TimeInfo]:
    T = g.seq_len
    x = ins[0] if ins else None
    if isinstance(n, ir.Recurrent):
        want = 0 if n.layout == 0 else 1
        if x is None or x.kind != "seq" or x.axis != want:
            raise _NotCausal(f"{n.cell} '{n.name}' does not read the sequence step by step")
        if any(d.reverse for d in n.directions):
            raise _NotCausal(f"{n.cell} '{n.name}' runs backwards in time "
                             f"({'bidirectional' if n.num_directions == 2 else 'reverse'})")
        if n.valid_len != n.seq_len:
            raise _NotCausal(f"{n.cell} '{n.name}' has sequence_lens shorter than the input")
        return [TI("seq", want), FINAL, FINAL]
    if isinstance(n, (ir.Linear, ir.Unary)):
        if isinstance(n, ir.Linear) and x is not None and x.kind == "seq" and \
                x.axis == len(g.shapes[n.inputs[0]]) - 1:
            raise _NotCausal(f"'{n.name}' multiplies along the time axis")
        return [_need(n, x)]
    if isinstance(n, ir.Softmax):
        t = _need(n, x)
        if t.kind == "seq" and t.axis == n.axis:
            raise _NotCausal(f"Softmax '{n.name}' normalizes over time")
        return [t]
    if isinstance(n, ir.Binary):
        out_rank = len(g.shapes[n.outputs[0]])
        placed = []
        for name, t in zip(n.inputs, ins):
            r = len(g.shapes[name])
            if t is None:
                continue
            placed.append(t if t.kind == "final" else TI("seq", t.axis + out_rank - r))
        if not placed:
            raise _NotCausal(f"'{n.name}' has no run-time input")
        if len(set(placed)) != 1:
            raise _NotCausal(f"{n.fn} '{n.name}' combines tensors of different time steps")
        t = placed[0]
        if t.kind == "seq":
            for name, ti in zip(n.inputs, ins):
                if ti is None:  # a constant must not vary along time
                    s = g.shapes[name]
                    k = t.axis - (out_rank - len(s))
                    if k >= 0 and s[k] != 1:
                        raise _NotCausal(f"{n.fn} '{n.name}' adds a constant that varies in "
                                         "time")
        return [t]
    if isinstance(n, ir.Transpose):
        t = _need(n, x)
        return [t if t.kind == "final" else TI("seq", n.perm.index(t.axis))]
    if isinstance(n, ir.Slice):
        t = _need(n, x)
        if t.kind == "final":
            return [t]
        a = t.axis
        T = g.shapes[n.inputs[0]][a]  # (after a window along time: its output frames)
        s, st, c = n.starts[a], n.steps[a], n.counts[a]
        if (s, st, c) == (0, 1, T):
            return [t]
        if c == 1 and s == T - 1:
            return [FINAL]
        if st == -1 and c == T:
            raise _NotCausal(f"'{n.name}' reverses the time axis (go_backwards, "
                             "ReverseSequence)")
        raise _NotCausal(f"'{n.name}' selects time steps other than the last")
    if isinstance(n, ir.Concat):
        if any(t is None for t in ins):
            raise _NotCausal(f"Concat '{n.name}' joins a constant to a sequence")
        if len(set(ins)) != 1:
            raise _NotCausal(f"Concat '{n.name}' joins tensors of different time steps")
        t = ins[0]
        assert t is not None
        if t.kind == "seq" and t.axis == n.axis:
            raise _NotCausal(f"Concat '{n.name}' joins along time")
        return [t]
    if isinstance(n, ir.View):
        t = _need(n, x)
        if t.kind == "final":
            return [t]
        s, o = g.shapes[n.inputs[0]], n.shape
        T = s[t.axis]
        before = math.prod(s[:t.axis])
        for b in range(len(o)):
            if o[b] == T and math.prod(o[:b]) == before:
                return [TI("seq", b)]
        raise _NotCausal(f"'{n.name}' reshapes the time axis away")
    if isinstance(n, (ir.Conv, ir.Pool)):
        t = _need(n, x)
        if t.kind == "final":
            return [t]
        if t.axis < 2:
            raise _NotCausal(f"{_op(n)} '{n.name}' "
                             f"{'convolves' if isinstance(n, ir.Conv) else 'pools'} across "
                             "the time axis")
        window_of(g, n, t)  # along time: a FrameWindow in the step graph, or the reason not
        return [t]
    if isinstance(n, ir.Reduce):
        t = _need(n, x)
        if t.kind == "seq" and n.first <= t.axis <= n.last:
            if t.axis != n.first:
                raise _NotCausal(f"Reduce{n.fn.capitalize()} '{n.name}' reduces over time "
                                 "and an axis outside it")
            return [FINAL]  # pooling over time: a running value (ir.RunningReduce)
        return [t]
    if isinstance(n, ir.LayerNorm):
        t = _need(n, x)
        if t.kind == "seq" and t.axis >= n.axis:
            raise _NotCausal(f"LayerNormalization '{n.name}' normalizes over time")
        return [t]
    if isinstance(n, ir.ChannelAffine):
        t = _need(n, x)
        if t.kind == "seq" and t.axis == n.axis:
            raise _NotCausal(f"BatchNormalization '{n.name}' has its channels on the time axis")
        return [t]
    if isinstance(n, ir.AttentionPool):
        ts, tv = ins
        if ts is None or tv is None or ts != tv:
            raise _NotCausal(f"attention pooling '{n.name}' combines tensors of different "
                             "time steps")
        if ts.kind == "seq" and ts.axis == n.axis:
            return [FINAL]  # over time: an online softmax (ir.RunningAttentionPool)
        if ts.kind == "seq" and ts.axis < n.axis:
            return [ts]  # over features: step by step
        raise _NotCausal(f"attention pooling '{n.name}' mixes time steps")
    if isinstance(n, ir.Embedding):  # one row per id: the ids' axes stay in place
        return [_need(n, x)]
    if isinstance(n, ir.Pad):
        t = _need(n, x)
        r = len(g.shapes[n.inputs[0]])
        if t.kind == "seq" and (n.pads[t.axis] or n.pads[r + t.axis]):
            raise _NotCausal(f"Pad '{n.name}' pads the time axis")
        return [t]
    raise _NotCausal(f"'{n.name}' ({n.op}) is not known to be step-wise")


def _op(n: ir.Node) -> str:
    if isinstance(n, ir.Pool):
        return "MaxPool" if n.kind == "max" else "AveragePool"
    return "Conv"


WINDOW_SUFFIX = "__frames"


def _window_op(window: str) -> str:
    return f"'{window[:-len(WINDOW_SUFFIX)]}'"


def window_of(g: ir.Graph, n: ir.Node, t: ir.TimeInfo | None) -> ir.FrameWindow | None:
    """The FrameWindow in front of a Conv / Pool along the time axis (None for other nodes,
    and for a window of one frame with stride 1, which reads each step's frame as it is),
    or _NotCausal naming the node and attribute when its window cannot stream: a stream has no
    end, so no padding after the last frame; at the start, the buffer's initial frames are the
    zero padding (the Conv's, and an AveragePool's that counts it)."""
    if not isinstance(n, (ir.Conv, ir.Pool)) or t is None or t.kind != "seq" or t.axis < 2:
        return None
    nd = len(n.kernel)
    j = t.axis - 2
    k, s, dil = n.kernel[j], n.strides[j], n.dilations[j]
    pb, pe = n.pads[j], n.pads[nd + j]
    frames = (k - 1) * dil + 1
    op = _op(n)
    if pe:
        raise _NotCausal(f"{op} '{n.name}' pads the end of the time axis (pads: {pe} "
                         "after the last step): its output at a step reads later steps. "
                         "Streaming needs padding at the start only (causal: "
                         f"{frames - 1} frames before, none after)")
    if pb > frames - 1:
        raise _NotCausal(f"{op} '{n.name}' pads the start of the time axis by {pb} frames, "
                         f"more than its window of {frames} frames less one")
    if pb and isinstance(n, ir.Pool) and (n.kind == "max" or not n.count_include_pad):
        raise _NotCausal(f"{op} '{n.name}' pads the start of the time axis ({pb} frames) "
                         "with values that are not zeros (MaxPool: -inf; AveragePool "
                         "without count_include_pad: left out of the count)")
    if frames == 1 and s == 1:
        return None  # one frame in, one out (a pointwise conv along time): no window
    return ir.FrameWindow(n.name + WINDOW_SUFFIX, (n.inputs[0],),
                          (n.name + WINDOW_SUFFIX,), axis=t.axis, frames=frames,
                          start=frames - pb, stride=s)


def _need(n: ir.Node, t: ir.TimeInfo | None) -> ir.TimeInfo:
    if t is None:
        raise _NotCausal(f"'{n.name}' has no run-time input")
    return t


def _step_graph(g: ir.Graph, tags: dict[str, ir.TimeInfo]) -> ir.Graph:
    """The same nodes with the time axis of every "seq" tensor set to 1."""
    return steps_graph(g, tags, 1)


def steps_graph(g: ir.Graph, tags: Mapping[str, ir.TimeInfo], k: int) -> ir.Graph:
    """The same nodes for k consecutive steps of a streaming model: the time axis of every
    "seq" tensor set to k, recurrent layers over k steps (their state carried in from the
    previous call), a slice of the last step taking step k - 1. k = 1: the one-step graph
    of `<name>_step`; k > 1: the block graph of `<name>_run` (plan_memory.plan_block)."""

    def sized(name: str) -> ir.Shape:
        s = list(g.shapes[name])
        t = tags.get(name)
        if t is not None and t.kind == "seq":
            s[t.axis] = k
        return tuple(s)

    shapes = {name: sized(name) for name in g.shapes}
    nodes: list[ir.Node] = []
    gates: dict[str, tuple[str, ...]] = {}
    for n in g.nodes:
        clock = tuple(dict.fromkeys(c for i in n.inputs if i in tags for c in tags[i].clock))
        w = window_of(g, n, tags.get(n.inputs[0]) if n.inputs else None)
        if w is not None:  # a Conv / Pool along time reads the window of its last frames
            if k != 1:
                raise AssertionError("a FrameWindow in a graph of more than one step")
            nodes.append(w)
            shapes[w.outputs[0]] = w.out_shapes([shapes[w.inputs[0]]])[0]
            if clock:
                gates[w.name] = clock
            if w.gating:
                clock += (w.name,)
            j, nd = w.axis - 2, len(n.kernel)
            pads = list(n.pads)
            pads[j] = pads[nd + j] = 0
            n = replace(n, inputs=(w.outputs[0],) + n.inputs[1:], pads=tuple(pads))
        if clock:
            gates[n.name] = clock
        if isinstance(n, ir.Recurrent):
            n = replace(n, seq_len=k, valid_len=k)
        elif isinstance(n, ir.Slice):
            t = tags[n.inputs[0]]
            if t.kind == "seq":
                a = t.axis
                starts, counts = list(n.starts), list(n.counts)
                last = tags[n.outputs[0]].kind == "final"  # the last step, else all of them
                starts[a], counts[a] = (k - 1, 1) if last else (0, k)
                n = replace(n, starts=tuple(starts), counts=tuple(counts))
        elif isinstance(n, ir.View):
            n = replace(n, shape=shapes[n.outputs[0]])
        elif isinstance(n, ir.Reduce) and tags.get(n.inputs[0], FINAL).kind == "seq" and \
                tags[n.outputs[0]].kind == "final":
            n = ir.RunningReduce(n.name, n.inputs, n.outputs, n.fn, n.first, n.last)
        elif isinstance(n, ir.AttentionPool) and tags[n.outputs[0]].kind == "final" and \
                tags.get(n.inputs[1], FINAL).kind == "seq":
            n = ir.RunningAttentionPool(n.name, n.inputs, n.outputs, n.axis)
        nodes.append(n)
    held = tuple(o for o in g.outputs if tags[o].clock)
    out = g.replace(nodes=tuple(nodes), shapes=shapes, seq_len=k, step=None, gates=gates,
                    held=held, delay=delay(g, tags))
    ir.verify(out)
    return out


def windows(g: ir.Graph, tags: Mapping[str, ir.TimeInfo]) -> list[ir.FrameWindow]:
    """The FrameWindows of a streaming model's step graph, in node order."""
    out = []
    for n in g.nodes:
        w = window_of(g, n, tags.get(n.inputs[0]) if n.inputs else None)
        if w is not None:
            out.append(w)
    return out


def delay(g: ir.Graph, tags: Mapping[str, ir.TimeInfo]) -> int:
    """The calls after `_reset` before a streaming model's outputs are first produced (its
    windows' warm-up): a window fires first on its input's `start`-th frame, then every
    `stride`-th; a chain of windows multiplies the periods."""
    first: dict[str, tuple[int, int]] = {}  # window -> (first call, period), 1-based
    for w in windows(g, tags):
        f, period = 1, 1
        for c in tags[w.inputs[0]].clock:
            f, period = first[c]
        first[w.name] = (f + (w.start - 1) * period, period * w.stride)
    lag = 0
    for o in g.outputs:
        if tags[o].clock:
            lag = max(lag, first[tags[o].clock[-1]][0] - 1)
    return lag
