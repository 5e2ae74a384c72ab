"""simplify: remove data movement that does nothing, fuse bias adds, drop dead nodes.

- a Transpose that only moves axes of size 1, or a Slice that keeps everything, is a View;
- a View of a View reads the first source directly;
- Add of a constant row vector after a Linear becomes the Linear's bias;
- Softmax over an axis, Mul by values, ReduceSum over the same axis (attention pooling)
  becomes one AttentionPool node (which streams over time as an online softmax);
- nodes whose outputs nobody reads are removed (unused LSTM outputs become "");
- a graph output that is a View of the graph input (the input itself listed as an output,
  or Identity/Reshape of it) becomes a copy (an identity Transpose): outputs live in the
  state, where `<name>_run` reads them after each step, never in the caller's input.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from .. import ir


def _noop_transpose(shape: ir.Shape, perm: tuple[int, ...]) -> bool:
    moved = [p for p in perm if shape[p] != 1]
    return moved == sorted(moved)


def run(g: ir.Graph, opts: object = None) -> ir.Graph:
    nodes: list[ir.Node] = []
    for n in g.nodes:
        if isinstance(n, ir.Transpose) and n.inputs[0] not in g.constants and \
                _noop_transpose(g.shapes[n.inputs[0]], n.perm):
            n = ir.View(n.name, n.inputs, n.outputs, g.shapes[n.outputs[0]])
        elif isinstance(n, ir.Slice) and all(
                s == 0 and st == 1 and c == d for s, st, c, d in
                zip(n.starts, n.steps, n.counts, g.shapes[n.inputs[0]])):
            n = ir.View(n.name, n.inputs, n.outputs, g.shapes[n.outputs[0]])
        nodes.append(n)

    # View of View -> View of the first source
    src: dict[str, str] = {}
    out: list[ir.Node] = []
    for n in nodes:
        if isinstance(n, ir.View):
            n = replace(n, inputs=(src.get(n.inputs[0], n.inputs[0]),))
            src[n.outputs[0]] = n.inputs[0]
        out.append(n)
    nodes = out

    nodes = _fuse_bias(g, nodes)
    nodes = _fuse_attention(g, nodes)
    g = _copy_input_outputs(g, nodes)
    return _dead_code(g)


def _copy_input_outputs(g: ir.Graph, nodes: list[ir.Node]) -> ir.Graph:
    shapes = dict(g.shapes)
    out: list[ir.Node] = []
    for n in nodes:
        if isinstance(n, ir.View) and n.inputs[0] == g.input and n.outputs[0] in g.outputs:
            ident = tuple(range(len(shapes[g.input])))
            if tuple(n.shape) == tuple(shapes[g.input]):
                n = ir.Transpose(n.name, n.inputs, n.outputs, ident)
            else:
                t, k = f"{n.outputs[0]}_copy", 1
                while t in shapes:
                    t, k = f"{n.outputs[0]}_copy{k}", k + 1
                shapes[t] = tuple(shapes[g.input])
                out.append(ir.Transpose(n.name + "_copy", n.inputs, (t,), ident))
                n = replace(n, inputs=(t,))
        out.append(n)
    return g.replace(nodes=tuple(out), shapes=shapes)


def _fuse_bias(g: ir.Graph, nodes: list[ir.Node]) -> list[ir.Node]:
    users: dict[str, int] = {}
    for n in nodes:
        for i in n.inputs:
            users[i] = users.get(i, 0) + 1
    by_out = {n.outputs[0]: k for k, n in enumerate(nodes) if n.outputs}
    drop: set[int] = set()
    for k, n in enumerate(nodes):
        if not (isinstance(n, ir.Binary) and n.fn == "Add"):
            continue
        for lin_in, c_in in ((n.inputs[0], n.inputs[1]), (n.inputs[1], n.inputs[0])):
            j = by_out.get(lin_in)
            if j is None or c_in not in g.constants or users.get(lin_in) != 1 or \
                    lin_in in g.outputs:
                continue
            lin = nodes[j]
            if not isinstance(lin, ir.Linear):
                continue
            c = g.constants[c_in]
            N = lin.W.shape[0]
            if c.size != N or c.shape[-1] != N or g.shapes[n.outputs[0]] != g.shapes[lin_in]:
                continue
            b = c.reshape(N) if lin.b is None else (lin.b + c.reshape(N))
            nodes[j] = replace(lin, outputs=n.outputs, b=np.ascontiguousarray(b, np.float32))
            drop.add(k)
            break
    return [n for k, n in enumerate(nodes) if k not in drop]


def _fuse_attention(g: ir.Graph, nodes: list[ir.Node]) -> list[ir.Node]:
    """Softmax(s, axis a) -> Mul with v -> ReduceSum over axis a alone: AttentionPool(s, v),
    where the softmax and the product are read by nothing else."""
    users: dict[str, int] = {}
    for n in nodes:
        for i in n.inputs:
            users[i] = users.get(i, 0) + 1
    made = {o: n for n in nodes for o in n.outputs if o}
    replaced: dict[int, ir.Node] = {}
    drop: set[int] = set()
    index = {id(n): k for k, n in enumerate(nodes)}
    for k, red in enumerate(nodes):
        if not (isinstance(red, ir.Reduce) and red.fn == "sum" and red.first == red.last):
            continue
        mul = made.get(red.inputs[0])
        if not (isinstance(mul, ir.Binary) and mul.fn == "Mul") or \
                users.get(mul.outputs[0]) != 1 or mul.outputs[0] in g.outputs:
            continue
        a = red.first
        for w, v in ((mul.inputs[0], mul.inputs[1]), (mul.inputs[1], mul.inputs[0])):
            sm = made.get(w)
            if not (isinstance(sm, ir.Softmax) and not sm.log) or users.get(w) != 1 or \
                    w in g.outputs or v in g.constants:
                continue
            ws, vs = g.shapes[w], g.shapes[v]
            if len(ws) != len(vs) or sm.axis % len(ws) != a or ws[a] != vs[a] or \
                    tuple(g.shapes[mul.outputs[0]]) != tuple(vs) or \
                    tuple(ws[:a]) != tuple(vs[:a]) or not (
                        all(x == 1 for x in ws[a + 1:]) or tuple(ws[a + 1:]) == tuple(vs[a + 1:])):
                continue  # the kernels' layouts: one score per step, or one per value
            replaced[k] = ir.AttentionPool(red.name, (sm.inputs[0], v), red.outputs, axis=a)
            drop.update({index[id(sm)], index[id(mul)]})
            break
    return [replaced.get(k, n) for k, n in enumerate(nodes) if k not in drop]


def _dead_code(g: ir.Graph) -> ir.Graph:
    live = set(g.outputs)
    keep: list[ir.Node] = []
    for n in reversed(g.nodes):
        if not any(o in live for o in n.outputs if o):
            continue
        if isinstance(n, ir.Recurrent):
            n = replace(n, outputs=tuple(o if o in live else "" for o in n.outputs))
        live.update(n.inputs)
        keep.append(n)
    keep.reverse()
    used = {i for n in keep for i in n.inputs}
    consts = {k: v for k, v in g.constants.items() if k in used}
    defined = {g.input} | set(consts) | {o for n in keep for o in n.outputs if o}
    shapes = {k: v for k, v in g.shapes.items() if k in defined}
    return g.replace(nodes=tuple(keep), constants=consts, shapes=shapes)
