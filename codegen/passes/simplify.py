"""simplify: remove data movement that does nothing, fuse bias adds, drop dead nodes.

- a Transpose that only moves axes of size 1, or a Slice that keeps everything, is a View;
- a View of a View reads the first source directly;
- Add of a constant row vector after a Linear becomes the Linear's bias;
- a zero Pad of the spatial axes read only by a Conv becomes the Conv's padding (so that a
  causal conv written as F.pad(x, (k - 1, 0)) then Conv streams along time);
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
    nodes, shapes = _fuse_pad(g, nodes)
    g = g.replace(shapes=shapes)
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


def _fuse_pad(g: ir.Graph, nodes: list[ir.Node]) -> tuple[list[ir.Node], dict[str, ir.Shape]]:
    """A zero Pad read (through Views that add or drop axes of size 1, and Transposes, each
    read only by the next) by a Conv, padding only axes that reach the Conv's spatial axes,
    becomes the Conv's padding: the Pad is dropped and the tensors between lose the padding
    (tf2onnx writes Keras's padding="causal" as Pad, ExpandDims, Transpose, Conv)."""
    users: dict[str, list[ir.Node]] = {}
    for n in nodes:
        for i in n.inputs:
            users.setdefault(i, []).append(n)
    shapes = dict(g.shapes)
    drop: set[str] = set()
    change: dict[str, ir.Node] = {}
    for n in nodes:
        if not isinstance(n, ir.Pad) or n.value != 0.0 or np.signbit(n.value):
            continue
        r = len(g.shapes[n.inputs[0]])
        pads = [(n.pads[i], n.pads[r + i]) for i in range(r)]
        chain: list[ir.Node] = []
        t = n.outputs[0]
        while True:
            us = users.get(t, [])
            if t in g.outputs or len(us) != 1:
                break
            u = us[0]
            if isinstance(u, ir.Transpose):
                pads = [pads[p] for p in u.perm]
            elif isinstance(u, ir.View):
                pads = _view_pads(g.shapes[t], u.shape, pads)
                if pads is None:
                    break
            else:
                break
            chain.append(u)
            t = u.outputs[0]
        conv = users.get(t, [None])[0] if len(users.get(t, [])) == 1 else None
        if not isinstance(conv, ir.Conv) or conv.inputs[0] != t or t in g.outputs or \
                any(p != (0, 0) for p in pads[:2]) or len(pads) != len(conv.kernel) + 2:
            continue
        nd = len(conv.kernel)
        cp = tuple(conv.pads[i] + pads[2 + i][0] for i in range(nd)) + \
            tuple(conv.pads[nd + i] + pads[2 + i][1] for i in range(nd))
        drop.add(n.name)
        src = n.inputs[0]
        for u in chain:  # the same nodes on the unpadded tensors
            shp = shapes[u.outputs[0]] = u.out_shapes([shapes[src]])[0] \
                if isinstance(u, ir.Transpose) else _unpad(shapes[src], u.shape)
            change[u.name] = replace(u, inputs=(src,)) if isinstance(u, ir.Transpose) else \
                replace(u, inputs=(src,), shape=shp)
            src = u.outputs[0]
        change[conv.name] = replace(conv, inputs=(src,) + conv.inputs[1:], pads=cp)
    out = [change.get(n.name, n) for n in nodes if n.name not in drop]
    return out, shapes


def _unit_free(s: ir.Shape) -> list[int]:
    return [i for i, d in enumerate(s) if d != 1]


def _view_pads(src: ir.Shape, dst: ir.Shape, pads: list[tuple[int, int]]
               ) -> list[tuple[int, int]] | None:
    """The padding of a View's output when the View only adds or drops axes of size 1 (the
    other axes in order), else None."""
    a, b = _unit_free(src), _unit_free(tuple(dst))
    if [src[i] for i in a] != [dst[i] for i in b]:
        return None
    if any(p != (0, 0) for i, p in enumerate(pads) if i not in a):
        return None
    out = [(0, 0)] * len(dst)
    for i, j in zip(a, b):
        out[j] = pads[i]
    return out


def _unpad(src: ir.Shape, dst: ir.Shape) -> ir.Shape:
    """A View's shape `dst` for the unpadded input `src` (the axes not of size 1 in order)."""
    it = iter(d for d in src if d != 1)
    out = tuple(next(it) if d != 1 else 1 for d in dst)
    return out


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
