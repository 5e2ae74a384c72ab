"""plan_memory: place every run-time tensor, for the whole-sequence graph and the step graph.

Views share their source's memory. Other tensors get an offset in one float arena (inside
the caller's state struct), reusing space once a tensor's last reader has run (first fit,
in node order). Recurrent state (h, and c for LSTM) gets its own slots, and the cell
scratch (`work`) is sized for the largest recurrent layer.
"""

from __future__ import annotations

import math

import numpy as np

from .. import cells, formats, ir
from ..errors import RnngenError


def run(g: ir.Graph, opts: object = None) -> ir.Graph:
    step = plan(g.step) if g.step is not None else None
    g = g.replace(memory=plan(g).memory, step=step)
    if step is not None:
        block, why = plan_block(g, getattr(opts, "ram_budget", None))
        g = g.replace(block=block, block_why=why)
    return g


# A streaming model's <name>_run evaluates blocks of up to this many steps layer by layer
# (the block graph), so that each recurrent layer computes the input projections W x of the
# block's steps at once; the rest of a call goes step by step.
RUN_BLOCK = HOIST_BLOCK = 8

# The block's memory must keep the model's RAM (its state struct) within this share of the
# RAM budget (the board's, or --ram-budget), leaving the rest to the stack and the application.
RUN_BLOCK_RAM_SHARE = 0.5


def ram_bytes(mems: list[ir.MemoryPlan], int8: bool) -> int:
    """Bytes of the state struct holding every plan of `mems` (field by field, the largest)."""
    def most(f: str) -> int:
        return max(getattr(m, f) for m in mems)

    if int8:
        return (most("arena") + 2 * most("arena16") + 2 * most("work") + most("work8")
                + most("state") + 2 * most("state16") + 4 * most("state32")
                + 4 * (most("statef") + most("workf")))
    return 4 * (most("arena") + most("work") + most("state") + most("state32"))


def plan_block(g: ir.Graph, ram_budget: int | None) -> tuple[ir.Graph | None, str]:
    """The block graph of a streaming model, planned, with the most steps (RUN_BLOCK at most,
    halving down to 2) whose memory fits the RAM budget; or None and the reason."""
    from .analyze_time import steps_graph

    assert g.step is not None and g.step.memory is not None and g.time is not None
    if not any(isinstance(n, ir.Recurrent) for n in g.nodes):
        return None, "no recurrent layer"
    w = next((n for n in g.nodes if isinstance(n, (ir.Conv, ir.Pool))
              and g.time.get(n.inputs[0], ir.TimeInfo("final")).kind == "seq"
              and g.time[n.inputs[0]].axis >= 2), None)
    if w is not None:  # (its window of frames, if any, is state of one step)
        return None, f"'{w.name}' along the time axis takes one frame per step"
    int8 = g.quant is not None
    k = min(RUN_BLOCK, g.seq_len)
    if k < 2:
        return None, f"the model was compiled for {g.seq_len} step"
    cap = int(ram_budget * RUN_BLOCK_RAM_SHARE) if ram_budget else 0
    base = ram_bytes([g.step.memory], int8)
    while k >= 2:
        block = plan(steps_graph(g, g.time, k))
        assert block.memory is not None
        if block.memory.state_slots != g.step.memory.state_slots or \
                block.memory.running != g.step.memory.running:
            raise AssertionError("the block graph's state slots differ from the step graph's")
        need = ram_bytes([g.step.memory, block.memory], int8)
        if not cap or need <= cap:
            return block, ""
        k //= 2
    return None, (f"a block of 2 steps needs {need} B of model RAM, more than "
                  f"{RUN_BLOCK_RAM_SHARE:.0%} of the {ram_budget} B RAM budget "
                  f"(one step: {base} B)")


# Whole-sequence layers compute the input projections W x of up to HOIST_BLOCK steps at once
# (one pass over W per block instead of per step); the block lives in `work`.


def hoist_steps(n: ir.Recurrent) -> int:
    """Steps per input-projection block (1: per step, as in the one-step graph)."""
    return min(HOIST_BLOCK, n.valid_len) if n.seq_len > 1 else 1


def cell_floats(n: ir.Recurrent) -> int:
    """The cell's work area of one step (gate pre-activations and intermediates)."""
    return cells.of(n.cell).work(n.hidden)


def w_rows(n: ir.Recurrent) -> int:
    """The rows of one step's input projection W x (G H; a cell's W may carry more)."""
    return n.directions[0].W.shape[0]


def work_floats(n: ir.Recurrent) -> int:
    k = hoist_steps(n)
    return cell_floats(n) + (k * w_rows(n) if k > 1 else 0)


def plan(g: ir.Graph) -> ir.Graph:
    if g.quant is not None:
        return plan_int8(g)
    held = _held(g)
    place, top = _arena(g, lambda t: math.prod(g.shapes[t]), input_in_arena=False,
                        skip=set(held))
    state_slots: dict[tuple[str, int], tuple[int, int]] = {}
    state = 0
    work = 0
    scratch = max([formats.scratch(m) for _, _, m in g.matrices()] + [0])
    places: dict[str, ir.CellPlan] = {}
    for n in g.nodes:
        if isinstance(n, ir.Recurrent):
            work = max(work, work_floats(n))
            places[n.name] = ir.CellPlan(hoist=hoist_steps(n), proj=cell_floats(n),
                                         work=cells.of(n.cell).work_slots(n.hidden), work8={})
            for d in range(n.num_directions):
                h_off = state
                state += n.hidden
                c_off = -1
                if cells.of(n.cell).has_cell_state:
                    c_off = state
                    state += n.hidden
                state_slots[(n.name, d)] = (h_off, c_off)
    running: dict[str, tuple[int, int]] = {}
    state32 = 0
    for n in g.nodes:  # pooling over time: the running values after the recurrent state
        if isinstance(n, ir.RunningReduce):
            running[n.name] = (state, state32)
            state += math.prod(g.shapes[n.outputs[0]])
            state32 += 1
        elif isinstance(n, ir.RunningAttentionPool):  # m, l per score, a per output
            running[n.name] = (state, state32)
            outer, _, inner, inner_s = n.layout(g.shapes[n.inputs[0]], g.shapes[n.inputs[1]])
            state += outer * (2 * inner_s + inner)
            state32 += 1
    state, state32 = _state_places(g, place, held, running, state, state32)
    mem = ir.MemoryPlan(place=place, arena=top, work=work + scratch, state=state,
                        state_slots=state_slots, scratch_off=work, cells=places,
                        running=running, state32=state32)
    return g.replace(memory=mem)


def plan_int8(g: ir.Graph) -> ir.Graph:
    """int8 tensors in a byte arena; int16 tensors (an LSTM cell-state output) in their own
    int16 region; work16 holds gate values, work8 r*h and matrix intermediates; the hidden
    state is int8 (h8), the LSTM cell state int16 (c16)."""
    qp = g.quant
    int16 = {t for t, p in qp.tensors.items() if p.dtype == "int16"}
    held = _held(g)
    if set(held) & int16:
        raise RnngenError(f"{g.source or g.name}: output '{sorted(set(held) & int16)[0]}' "
                          "(int16: an LSTM cell state or a w8a16 activation) comes after a "
                          "window along time that does not fire on every step; build float32, "
                          "give h only or give the layer w8a8")
    place, top = _arena(g, lambda t: math.prod(g.shapes[t]),
                        input_in_arena=qp.io == "float" and not g.input_ids
                        and g.input not in int16,  # an int16 input (w8a16): in arena16
                        skip=int16 | set(held))
    top16 = 0
    views = {n.outputs[0]: n.inputs[0] for n in g.nodes if isinstance(n, ir.View)}
    for t in sorted(int16):
        if t in g.shapes and t not in views:
            place[t] = ("arena16", top16)
            top16 += math.prod(g.shapes[t])
    for t in sorted(int16):  # views of int16 tensors (w8a16 outputs) share their places
        o = t
        while o in views:
            o = views[o]
        if t in views and o in place:
            place[t] = place[o]
    state_slots: dict[tuple[str, int], tuple[int, int]] = {}
    h8 = c16 = work16 = work8 = 0
    places: dict[str, ir.CellPlan] = {}
    statef, workf, floats = _float_layers(g, state_slots, places)
    for n in g.nodes:
        if n.name in floats:
            continue
        if isinstance(n, ir.Recurrent):
            GH = w_rows(n)
            k = hoist_steps(n)
            # int16: W x (of k steps), R h, then the gates (z, r) or the cell's results;
            # int8: r * h, then the matrix kernels' scratch
            q = qp.nodes[n.name]
            a16 = q.h.dtype == "int16"  # w8a16: h and r * h are int16
            # (rh16: r * h of a w8a16 GRU, after the gates)
            places[n.name] = ir.CellPlan(hoist=k, proj=0,
                                         work={"gx": 0, "gh": k * GH, "zr": (k + 1) * GH,
                                               "rh16": (k + 1) * GH + 2 * n.hidden},
                                         work8={"rh": 0, "scratch": n.hidden})
            work16 = max(work16, (k + 1) * GH + (3 if a16 else 2) * n.hidden)
            mats = [m for qd in q.directions for m in (qd.W, qd.R, qd.Rh) if m is not None]
            work8 = max(work8, n.hidden + max(int8_scratch(m) for m in mats))
            for d in range(n.num_directions):
                c_off = -1
                if cells.of(n.cell).has_cell_state:
                    c_off = c16
                    c16 += n.hidden
                if a16:  # an int16 h lives in state16 too
                    state_slots[(n.name, d)] = (c16, c_off)
                    c16 += n.hidden
                    continue
                state_slots[(n.name, d)] = (h8, c_off)
                h8 += n.hidden
        elif isinstance(n, ir.Conv):
            # rnn_conv_s8's scratch (im2col columns, or records and windows), in the int16
            # work area (free between the recurrent nodes that use it)
            q = qp.nodes[n.name]
            # (rnn_conv_s4 and rnn_conv_a16: one channel's weights unpacked)
            work16 = max(work16, conv_s4_scratch(n) if getattr(q, "bits", 8) == 4 or
                         q.x.dtype == "int16" else conv_s8_scratch(n))
    running: dict[str, tuple[int, int]] = {}
    state32 = 0
    for n in g.nodes:  # pooling over time: int32 running values, then the count
        if isinstance(n, ir.RunningReduce):
            size = math.prod(g.shapes[n.outputs[0]])
            running[n.name] = (state32, state32 + size)
            state32 += size + 1
        elif isinstance(n, ir.RunningAttentionPool):  # m, l, x per score; a per output
            outer, _, inner, inner_s = n.layout(g.shapes[n.inputs[0]], g.shapes[n.inputs[1]])
            size = outer * (3 * inner_s + inner)
            running[n.name] = (state32, state32 + size)
            state32 += size + 1
    h8, state32 = _state_places(g, place, held, running, h8, state32)
    mem = ir.MemoryPlan(place=place, arena=top, work=work16, state=h8,
                        state_slots=state_slots, scratch_off=0, work8=work8, state16=c16,
                        arena16=top16, cells=places, running=running, state32=state32,
                        statef=statef, workf=workf, floats=floats)
    return g.replace(memory=mem)


def _float_layers(g: ir.Graph, state_slots: dict[tuple[str, int], tuple[int, int]],
                  places: dict[str, ir.CellPlan]
                  ) -> tuple[int, int, dict[str, dict[str, int]]]:
    """The float32 layers of an int8 model (quant.QFloatLayer): their h and c in the float
    state `statef` (state_slots), and in the float work area `workf` (shared by them, sized
    for the largest) the dequantized input, the float outputs, the float cell's work area as
    a float build has it (CellPlan) and the matrix kernels' scratch. Returns (statef, workf,
    node -> places in workf)."""
    from .. import quant

    assert g.quant is not None
    statef = workf = 0
    floats: dict[str, dict[str, int]] = {}
    for n in g.nodes:
        if not isinstance(g.quant.nodes.get(n.name), quant.QFloatLayer):
            continue
        top = 0
        f: dict[str, int] = {}
        for k, t in zip(("x", "y", "yh", "yc"), [n.inputs[0], *n.outputs]):
            if t:
                f[k] = top
                top += math.prod(g.shapes[t])
        mats: list[ir.Matrix] = []
        if isinstance(n, ir.Recurrent):
            f["work"] = top
            places[n.name] = ir.CellPlan(hoist=hoist_steps(n), proj=cell_floats(n),
                                         work=cells.of(n.cell).work_slots(n.hidden), work8={})
            top += work_floats(n)
            for d, cd in enumerate(n.directions):
                c_off = -1
                if cells.of(n.cell).has_cell_state:
                    c_off = statef + n.hidden
                state_slots[(n.name, d)] = (statef, c_off)
                statef += n.hidden * (2 if c_off >= 0 else 1)
                mats += [cd.W, cd.R]
        elif isinstance(n, ir.Conv):  # rnn_conv_f32 needs no scratch; one window: W . x
            mats.append(formats.dense_matrix(np.asarray(n.W, np.float32).reshape(
                n.W.shape[0], -1)))
        else:
            assert isinstance(n, ir.Linear)
            mats.append(n.W)
        f["scratch"] = top
        top += max([formats.scratch(m) for m in mats] + [0])
        floats[n.name] = f
        workf = max(workf, top)
    return statef, workf, floats


def _held(g: ir.Graph) -> list[str]:
    """The tensors a step graph keeps in the state: its FrameWindows' buffers, and the
    tensors that own the memory of its held outputs (their values as of the last call that
    produced them)."""
    views = {n.outputs[0]: n.inputs[0] for n in g.nodes if isinstance(n, ir.View)}
    out = [n.outputs[0] for n in g.nodes if isinstance(n, ir.FrameWindow)]
    for o in g.held:
        while o in views:
            o = views[o]
        if o not in out:
            out.append(o)
    return out


def _state_places(g: ir.Graph, place: dict[str, tuple[str, int]], held: list[str],
                  running: dict[str, tuple[int, int]], state: int, state32: int
                  ) -> tuple[int, int]:
    """Places in the state (after the recurrent and running values) for the held tensors;
    each FrameWindow's frame count and fired flag in state32 (MemoryPlan.running: (the
    buffer's offset in the state, the count's in state32); the flag follows the count).
    Views of a held tensor share its place. Returns the state's and state32's new sizes."""
    for t in held:
        place[t] = ("state", state)
        state += math.prod(g.shapes[t])
    for n in g.nodes:
        if isinstance(n, ir.FrameWindow):
            running[n.name] = (place[n.outputs[0]][1], state32)
            state32 += 2
        elif isinstance(n, ir.View) and n.inputs[0] in place and \
                place[n.inputs[0]][0] == "state":
            place[n.outputs[0]] = place[n.inputs[0]]
    return state, state32


def conv_s8_scratch(n: ir.Conv) -> int:
    """int16 values of rnn_conv_s8's scratch (the kernel's contract, rnn_nnfunctions.h), w =
    C/group x kernel the window's values: 2 x ceil16(w) + 2 x out_c (the Helium path's four
    int8 columns of ceil16(w) bytes and an int32 offset per output channel; elsewhere two
    int16 columns of w), and for a window of at most 16 values 28 x out_c + 32 x ceil2(w) + 2
    (the small-window kernels: a record of at most 14 words per output channel, the Helium
    pairs path's 56 bytes, and the int16 windows of 32 output positions (DSP) or the ring of
    pairs of windows (Helium), word-aligned)."""
    window = int(n.W[0].size)
    out_c = int(n.W.shape[0])
    if window <= 16:
        return 28 * out_c + 32 * (window + (window & 1)) + 2
    return 2 * (-(-window // 16) * 16) + 2 * out_c


def conv_s4_scratch(n: ir.Conv) -> int:
    """int16 values of rnn_conv_s4's (and rnn_conv_a16's) scratch, n = C/group x kernel the
    window's values: one output channel's weights unpacked (n int16), then word-aligned the
    window's input offsets (n int32): 3 n + 2."""
    return 3 * int(n.W[0].size) + 2


def int8_scratch(m: object) -> int:
    """int8 scratch of a quantized matrix kernel (low-rank V x, Kronecker intermediate)."""
    return formats.scratch_s8(m)


def _arena(g: ir.Graph, size_of, input_in_arena: bool, skip: set[str] = frozenset()
           ) -> tuple[dict[str, tuple[str, int]], int]:
    """Offsets of the run-time tensors in one arena, reusing space after a tensor's last
    reader (first fit, node order). Views share their source's place."""
    root: dict[str, str] = {}  # view -> the tensor that owns the memory
    place: dict[str, tuple[str, int]] = {g.input: ("x", 0)}
    for c in g.constants:
        place[c] = (f"const:{c}", 0)

    def owner(t: str) -> str:
        while t in root:
            t = root[t]
        return t

    for n in g.nodes:
        if isinstance(n, ir.View):
            root[n.outputs[0]] = n.inputs[0]

    # last use of each owning buffer (graph outputs live to the end)
    end = len(g.nodes)
    last: dict[str, int] = {}
    for k, n in enumerate(g.nodes):
        for i in n.inputs:
            last[owner(i)] = k
    for o in g.outputs:
        last[owner(o)] = end

    free: list[tuple[int, int]] = []  # (offset, size) holes
    live: list[tuple[int, int, int]] = []  # (last_use, offset, size)
    top = 0

    def alloc(size: int) -> int:
        nonlocal top
        for j, (off, sz) in enumerate(free):
            if sz >= size:
                if sz == size:
                    free.pop(j)
                else:
                    free[j] = (off + size, sz - size)
                return off
        off = top
        top += size
        return off

    def release(k: int) -> None:
        keep = []
        for (lu, off, sz) in live:
            if lu < k:
                free.append((off, sz))
            else:
                keep.append((lu, off, sz))
        live[:] = keep
        free.sort()
        merged: list[tuple[int, int]] = []
        for off, sz in free:
            if merged and merged[-1][0] + merged[-1][1] == off:
                merged[-1] = (merged[-1][0], merged[-1][1] + sz)
            else:
                merged.append((off, sz))
        free[:] = merged

    if input_in_arena:  # the quantized copy of a float input
        size = size_of(g.input)
        place[g.input] = ("arena", alloc(size))
        live.append((last.get(g.input, -1), place[g.input][1], size))
    for k, n in enumerate(g.nodes):
        release(k)
        for o in n.outputs:
            if not o or isinstance(n, ir.View) or o in skip:
                continue
            size = size_of(o)
            off = alloc(size)
            place[o] = ("arena", off)
            live.append((last.get(o, k), off, size))
    for n in g.nodes:
        if isinstance(n, ir.View) and owner(n.outputs[0]) in place:  # (skipped: placed later)
            o = n.outputs[0]
            place[o] = place[owner(o)]
    return place, top
