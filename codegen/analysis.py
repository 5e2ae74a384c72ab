"""The per-layer table of `rnngen inspect` (and of the validate report): for each layer of the
compiled program, its op, shapes, MACs per step and per sequence (two columns, never mixed),
parameters, the bytes of its constants in flash as the C declares them (sparse indices and
int8 requantization arrays included), and the RAM it owns in the state struct (recurrent
state) or writes (activations, in the shared arena). Totals are the figures `rnngen build`
prints and writes to manifest.json: weights_bytes, state_bytes (the RAM of a model without
globals) and macs_per_step.

The constants are attributed from the emitted declarations themselves: the emitter names the
arrays of node k of the program `n<k>_...` and a node's initial state `<node>_d<d>_h0/c0`;
int32 index arrays of broadcasts and transposes (`_shape`, `_astr`, `_bstr`, `_src`, `_dst`)
are not weights, as the emitter counts them. Anything not attributed to a node is listed as
its own row, so the total always equals the build's.
"""

from __future__ import annotations

import math
import re
from typing import Any

from . import cgen, ir
from .emit import c as cemit

_CTYPE_BYTES = {"float": 4, "int8_t": 1, "uint8_t": 1, "int16_t": 2, "uint16_t": 2,
                "int32_t": 4, "uint32_t": 4, "int64_t": 8}
_DECL = re.compile(r"static const (\w+) (\w+)\[(\d+)\]")
_NOT_WEIGHTS = ("_shape", "_astr", "_bstr", "_src", "_dst")
_MOVES = (ir.View, ir.Transpose, ir.Slice, ir.Concat)


def context(g: ir.Graph, name: str) -> dict[str, Any]:
    """The emitter's context for g (what model.c is rendered from)."""
    return cemit.build_context(g, name)


def _node_macs(g: ir.Graph, n: ir.Node) -> int:
    """MACs of node n in one evaluation of g (as ir.macs counts them)."""
    if isinstance(n, ir.Recurrent):
        return sum(d.W.macs + d.R.macs for d in n.directions) * n.valid_len
    if isinstance(n, ir.Linear):
        return n.W.macs * math.prod(g.shapes[n.inputs[0]][:-1])
    if isinstance(n, ir.Conv):
        return ir.conv_macs(n, g.shapes[n.outputs[0]])
    return 0


def _params(n: ir.Node) -> int:
    if isinstance(n, ir.Recurrent):
        mats = sum(cd.W.params + cd.R.params for cd in n.directions)
        vec = sum(cd.wb.size + cd.rb.size + (0 if cd.p is None else cd.p.size)
                  for cd in n.directions)
        return int(mats + vec)
    if isinstance(n, ir.Linear):
        return int(n.W.params + (0 if n.b is None else n.b.size))
    if isinstance(n, ir.Conv):
        return int(n.W.size + (0 if n.b is None else n.b.size))
    if isinstance(n, ir.LayerNorm):
        return int(n.scale.size + n.bias.size)
    if isinstance(n, ir.ChannelAffine):
        return int(n.scale.size + n.shift.size)
    if isinstance(n, ir.Embedding):
        return int(n.table.size)
    return 0


def _op(n: ir.Node) -> str:
    if isinstance(n, ir.Recurrent):
        return n.cell
    if isinstance(n, ir.Unary):
        return n.act.name
    if isinstance(n, ir.Binary):
        return n.fn
    if isinstance(n, ir.Pool):
        return "MaxPool" if n.kind == "max" else "AveragePool"
    if isinstance(n, ir.Reduce):
        return f"Reduce{n.fn.capitalize()}"
    if isinstance(n, ir.ChannelAffine):
        return "BatchNorm"
    if isinstance(n, ir.AttentionPool):
        return "AttentionPool"
    return n.op


def _elem_bytes(g: ir.Graph, t: str) -> int:
    if g.quant is None:
        return 4
    from . import quant

    p = g.quant.tensors.get(t)
    return 1 if isinstance(p, quant.QParams) else 2  # QState16: int16


def table(g: ir.Graph, name: str | None = None) -> dict[str, Any]:
    """Rows (one per layer of the compiled program) and totals; see the module docstring."""
    name = name or g.name
    ctx = context(g, name)
    prog = g.step if g.step is not None else g
    mem = prog.memory
    assert mem is not None
    # constants: symbol -> owner
    owners = {f"n{k}": n.name for k, n in enumerate(prog.nodes)}
    by_ident = {cgen.c_ident(n.name): n.name for n in prog.nodes}
    consts: dict[str, str] = {}  # graph constants are emitted as c_<name>: their first user
    for n in prog.nodes:
        for i in n.inputs:
            if i in prog.constants:
                consts.setdefault(cgen.c_ident(f"c_{i}"), n.name)
    flash: dict[str, int] = {}
    for decl in ctx["decls"]:
        m = _DECL.search(decl)
        if m is None:
            continue
        ctype, sym, count = m.group(1), m.group(2), int(m.group(3))
        if ctype == "int32_t" and sym.endswith(_NOT_WEIGHTS):
            continue
        head = sym.split("_", 1)[0]
        owner = owners.get(re.sub(r"d\d+$", "", head)) or consts.get(re.sub(r"_\d+$", "", sym))
        if owner is None:
            owner = next((o for ident, o in by_ident.items()
                          if re.fullmatch(re.escape(ident) + r"_d\d+_(h0|c0)(_\d+)?", sym)),
                         "(other constants)")
        flash[owner] = flash.get(owner, 0) + _CTYPE_BYTES[ctype] * count
    whole = {n.name: n for n in g.nodes}
    rows = []
    for n in prog.nodes:
        own_flash = flash.pop(n.name, 0)
        if isinstance(n, _MOVES) and not own_flash:
            continue  # data movement: no row
        state = 0
        if isinstance(n, ir.Recurrent):
            for d in range(n.num_directions):
                h_off, c_off = mem.state_slots[(n.name, d)]
                qn = None if g.quant is None else g.quant.nodes[n.name]
                fl = qn is None or n.name in mem.floats  # float (a float32 layer in int8)
                hb = 4 if fl else 2 if qn.h.dtype == "int16" else 1  # w8a16
                cb = 4 if fl else 2
                state += (n.hidden * hb if h_off >= 0 else 0) + (n.hidden * cb if c_off >= 0
                                                                 else 0)
        elif isinstance(n, ir.RunningReduce):  # running values (float or int32) + count
            state = 4 * (math.prod(prog.shapes[n.outputs[0]]) + 1)
        elif isinstance(n, ir.RunningAttentionPool):  # m, l per score, a per output + count
            o, _, i, i_s = n.layout(prog.shapes[n.inputs[0]], prog.shapes[n.inputs[1]])
            # int8: the weights' shift x per score too
            state = 4 * (o * ((3 if g.quant is not None else 2) * i_s + i) + 1)
        elif isinstance(n, ir.FrameWindow):  # the frames (float or int8) + count and flag
            state = math.prod(prog.shapes[n.outputs[0]]) * _elem_bytes(g, n.inputs[0]) + 8
        acts = sum(math.prod(prog.shapes[o]) * _elem_bytes(g, o) for o in n.outputs
                   if o and mem.place.get(o, ("", 0))[0] == "arena")
        if not isinstance(n, ir.FrameWindow):  # a held output (kept in the state)
            state += sum(math.prod(prog.shapes[o]) * _elem_bytes(g, o) for o in n.outputs
                         if o and mem.place.get(o, ("", 0))[0] == "state")
        per_seq = _node_macs(g, whole[n.name]) if n.name in whole else 0
        per_step = _node_macs(prog, n) if g.step is not None else None
        src = whole.get(n.name, n)  # the whole sequence's shapes (a Conv reads its window)
        shapes = g.shapes if n.name in whole else prog.shapes
        rows.append({
            "node": n.name,
            "op": _op(n),
            "input_shape": list(shapes[src.inputs[0]]) if n.inputs else [],
            "output_shape": list(shapes[n.outputs[0]]) if n.outputs and n.outputs[0] else [],
            "macs_per_step": per_step, "macs_per_sequence": per_seq, "params": _params(n),
            "flash_bytes": own_flash, "state_bytes": state, "activation_bytes": acts})
    for owner, b in sorted(flash.items()):  # constants no node of the program claims
        rows.append({"node": owner, "op": "", "input_shape": [], "output_shape": [],
                     "macs_per_step": None, "macs_per_sequence": 0, "params": 0,
                     "flash_bytes": b, "state_bytes": 0, "activation_bytes": 0})
    total = {"macs_per_step": ir.macs_per_step(g), "macs_per_sequence": ir.macs(g),
             "params": sum(r["params"] for r in rows),
             "flash_bytes": int(ctx["weight_bytes"]), "ram_bytes": int(ctx["state_bytes"])}
    return {"rows": rows, "total": total, "streaming": g.streaming, "seq_len": g.seq_len,
            "dtype": "int8" if g.quant is not None else "float32"}


def _shape(s: list[int]) -> str:
    return "[" + ",".join(str(d) for d in s) + "]"


def format_table(t: dict[str, Any]) -> list[str]:
    """The table as aligned text lines (columns as wide as their longest entry)."""
    head = ["layer", "op", "input -> output", "MACs/step", "MACs/seq", "params",
            "flash B", "state B", "activ. B"]
    body = []
    for r in t["rows"]:
        io = f"{_shape(r['input_shape'])} -> {_shape(r['output_shape'])}" \
            if r["input_shape"] else ""
        step = "" if r["macs_per_step"] is None else f"{r['macs_per_step']:,}"
        body.append([r["node"], r["op"], io, step, f"{r['macs_per_sequence']:,}",
                     f"{r['params']:,}", f"{r['flash_bytes']:,}", f"{r['state_bytes']:,}",
                     f"{r['activation_bytes']:,}"])
    tot = t["total"]
    body.append(["total", "", "", f"{tot['macs_per_step']:,}", f"{tot['macs_per_sequence']:,}",
                 f"{tot['params']:,}", f"{tot['flash_bytes']:,}",
                 f"RAM {tot['ram_bytes']:,}", ""])
    widths = [max(len(row[i]) for row in [head, *body]) for i in range(len(head))]
    left = {0, 1, 2}

    def fmt(row: list[str]) -> str:
        return "  ".join(c.ljust(w) if i in left else c.rjust(w)
                         for i, (c, w) in enumerate(zip(row, widths))).rstrip()

    lines = [fmt(head), "  ".join("-" * w for w in widths)]
    lines += [fmt(r) for r in body[:-1]]
    lines += ["  ".join("-" * w for w in widths), fmt(body[-1])]
    note = ("MACs/step: the one-step program (streaming)" if t["streaming"] else
            "MACs/step: whole-sequence model, total only (MACs/seq / T, rounded up)")
    lines.append(f"({t['dtype']}; {note}; flash B: constants as compiled, sparse indices "
                 "included, = build's weights; RAM: the state struct = build's RAM; state B: "
                 "recurrent state; activ. B: outputs in the shared arena)")
    return lines
