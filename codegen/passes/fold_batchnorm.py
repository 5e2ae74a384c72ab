"""fold_batchnorm: fold an inference BatchNormalization into the layer in front of it.

A BatchNormalization is lowered to ir.ChannelAffine (y = x * scale[c] + shift[c] along the
channel axis). When its input is the output of a Conv (channels on axis 1) or of a Linear
with a plain (uncompressed) weight matrix (channels on the last axis), that nobody else
reads and that is not a graph output, the scale goes into the weights and the shift into the
bias, exactly as PyTorch's fuse_conv_bn_eval does:

    W'[m] = W[m] * scale[m],   b'[m] = b[m] * scale[m] + shift[m]

and the node disappears. Any other BatchNormalization stays a ChannelAffine node
(rnn_scale_shift_f32). The products are computed in float64 and rounded once to float32.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from .. import formats, ir

F32 = np.float32


def run(g: ir.Graph, opts: object = None) -> ir.Graph:
    readers: dict[str, int] = {}
    for n in g.nodes:
        for i in n.inputs:
            readers[i] = readers.get(i, 0) + 1
    by_out = {n.outputs[0]: k for k, n in enumerate(g.nodes) if n.outputs and n.outputs[0]}
    nodes = list(g.nodes)
    drop: set[int] = set()
    for k, n in enumerate(nodes):
        if not isinstance(n, ir.ChannelAffine):
            continue
        src = n.inputs[0]
        j = by_out.get(src)
        if j is None or readers.get(src) != 1 or src in g.outputs:
            continue
        prev = nodes[j]
        folded = _fold(g, prev, n)
        if folded is None:
            continue
        nodes[j] = replace(folded, outputs=(n.outputs[0],) + folded.outputs[1:])
        drop.add(k)
    if not drop:
        return g
    keep = tuple(n for k, n in enumerate(nodes) if k not in drop)
    live = {o for n in keep for o in n.outputs if o} | {g.input} | set(g.constants)
    shapes = {t: s for t, s in g.shapes.items() if t in live}
    return g.replace(nodes=keep, shapes=shapes)


def _fold(g: ir.Graph, prev: ir.Node, bn: ir.ChannelAffine) -> ir.Node | None:
    scale = bn.scale.astype(np.float64)
    shift = bn.shift.astype(np.float64)
    if isinstance(prev, ir.Conv) and bn.axis == 1:
        shp = (-1,) + (1,) * (prev.W.ndim - 1)
        W = (prev.W.astype(np.float64) * scale.reshape(shp)).astype(F32)
        b0 = np.zeros(scale.size) if prev.b is None else prev.b.astype(np.float64)
        return replace(prev, W=np.ascontiguousarray(W), b=(b0 * scale + shift).astype(F32))
    if isinstance(prev, ir.Linear) and bn.axis == len(g.shapes[bn.inputs[0]]) - 1 and \
            formats.is_plain(prev.W):
        W = (prev.W.to_dense().astype(np.float64) * scale[:, None]).astype(F32)
        b0 = np.zeros(scale.size) if prev.b is None else prev.b.astype(np.float64)
        return replace(prev, W=formats.as_matrix(np.ascontiguousarray(W)),
                       b=(b0 * scale + shift).astype(F32))
    return None
