"""unroll: ONNX `Loop` nodes whose trip count is known at compile time become flat nodes.

What TensorFlow's exporter (tf2onnx) writes for every Keras LSTM, GRU and SimpleRNN is a
`Loop` over the time steps whose body is one step of the cell. rnngen unrolls it before
anything else: the body is copied once per iteration, its tensors renamed, the iteration
number and the condition made constants; loop-carried values are wired from one copy to the
next and each scan output becomes Unsqueeze + Concat along a new first axis. The flat graph
that results is then read like any other; `onnx_recurrence` recognizes the repeated cell in
it (so it compiles to the LSTM/GRU/RNN kernels), and what is not a cell stays a generic graph.

A Loop is unrolled when its trip count M is a constant, its initial condition is a constant
(or absent) and the condition each copy computes folds to a constant (tf2onnx's `i < T and
counter < M` does). Otherwise the refusal says which of these fails. Nested loops are
unrolled from the outside in.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from .. import limits
from ..errors import UnsupportedModel
from . import onnx_proto

# node budget of an unrolled graph (iterations x body nodes, all loops together)
MAX_UNROLLED_NODES = 200_000


def has_loops(graph: Any) -> bool:
    """Loops to unroll or Ifs to inline."""
    return any(n.op_type in ("Loop", "If") and n.domain in ("", "ai.onnx") for n in graph.node)


class ConstFolder:
    """Compile-time values of a node list: initializers, Constant nodes and every node whose
    inputs are all known (a few ops in NumPy, the rest by onnx's reference operators)."""

    def __init__(self, consts: dict[str, np.ndarray], opset_import: Any,
                 shapes: dict[str, tuple[int, ...]] | None = None):
        self.consts = consts
        self.opset_import = opset_import
        self.shapes = shapes or {}  # static shapes of run-time tensors (Shape folds)

    def visit(self, node: Any) -> bool:
        """Fold `node` if its inputs are known; True when its outputs are now constants."""
        if node.op_type in ("Loop", "If", "Scan") or node.op_type.startswith("Random") or \
                node.op_type in ("Multinomial", "Bernoulli"):
            return False
        ins = [i for i in node.input if i]
        if node.op_type == "Shape" and ins and ins[0] not in self.consts and \
                ins[0] in self.shapes and not any(a.name in ("start", "end")
                                                  for a in node.attribute):
            self.consts[node.output[0]] = np.array(self.shapes[ins[0]], dtype=np.int64)
            return True
        if any(i not in self.consts for i in ins):
            return False
        outs = [o for o in node.output if o]
        if _too_big(node, [self.consts[i] for i in ins]):
            return False  # the frontend checks it against rnngen's limits and says so
        try:
            vals = _fast(node, [self.consts[i] for i in ins])
            if vals is None:
                vals = onnx_proto.eval_node(node, self.consts, self.opset_import)
        except Exception:
            return False  # the frontend reports the node when it folds it itself
        for o, v in zip(outs, vals):
            self.consts[o] = np.asarray(v)
        return True


def _too_big(node: Any, ins: list[np.ndarray]) -> bool:
    """Would folding this node make a tensor over rnngen's element limit? (Only the ops that
    make large tensors from small inputs; the frontend's own fold names the node.)"""
    cap = limits.MAX_MODEL_ELEMENTS
    if any(a.size > cap for a in ins):
        return True
    try:
        op = node.op_type
        if op == "ConstantOfShape" and ins:
            return math.prod(int(v) for v in ins[0].reshape(-1)) > cap
        if op == "Expand" and len(ins) == 2:
            shp = np.broadcast_shapes(ins[0].shape, tuple(int(v) for v in ins[1].reshape(-1)))
            return math.prod(shp) > cap
        if op == "Tile" and len(ins) == 2:
            return ins[0].size * math.prod(int(v) for v in ins[1].reshape(-1)) > cap
        if op == "Range" and len(ins) == 3:
            n = (float(ins[1].reshape(-1)[0]) - float(ins[0].reshape(-1)[0])) / \
                float(ins[2].reshape(-1)[0])
            return not math.isfinite(n) or n > cap
        if op in ("Pad", "Resize", "Upsample", "OneHot", "EyeLike"):
            return True  # left to the frontend
    except Exception:
        return True
    return False


def _fast(node: Any, ins: list[np.ndarray]) -> list[np.ndarray] | None:
    """The small integer/boolean ops of loop conditions and counters, without building an
    onnx model per node."""
    op = node.op_type
    if op == "Constant":
        return None
    if op in ("Add", "Sub", "Mul") and len(ins) == 2 and all(
            a.dtype.kind in "iu" for a in ins) and ins[0].dtype == ins[1].dtype:
        f = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply}[op]
        return [f(ins[0], ins[1]).astype(ins[0].dtype)]
    if op in ("Less", "Greater", "LessOrEqual", "GreaterOrEqual", "Equal") and len(ins) == 2:
        f = {"Less": np.less, "Greater": np.greater, "LessOrEqual": np.less_equal,
             "GreaterOrEqual": np.greater_equal, "Equal": np.equal}[op]
        return [np.asarray(f(ins[0], ins[1]))]
    if op in ("And", "Or") and len(ins) == 2 and all(a.dtype == np.bool_ for a in ins):
        return [np.asarray((np.logical_and if op == "And" else np.logical_or)(*ins))]
    if op == "Not" and ins[0].dtype == np.bool_:
        return [np.asarray(np.logical_not(ins[0]))]
    if op == "Identity":
        return [ins[0]]
    return None


def unroll(model: Any, path: Path) -> tuple[Any, list[str]]:
    """The model with its Loops unrolled (a copy), and one note per Loop for `inspect`."""
    from onnx import helper, numpy_helper

    m = type(model)()
    m.CopyFrom(model)
    g = m.graph
    consts: dict[str, np.ndarray] = {}
    for t in g.initializer:
        try:
            consts[t.name] = numpy_helper.to_array(t)
        except Exception:
            pass  # the frontend names the initializer
    folder = ConstFolder(consts, m.opset_import)
    used = {t.name for t in g.initializer} | {i.name for i in g.input} | \
        {o for n in g.node for o in n.output}
    notes: list[str] = []
    new_inits: dict[str, np.ndarray] = {}
    budget = [MAX_UNROLLED_NODES]

    def fresh(base: str) -> str:
        name, k = base, 1
        while name in used:
            name, k = f"{base}_{k}", k + 1
        used.add(name)
        return name

    def expand(nodes: list[Any]) -> list[Any]:
        out: list[Any] = []
        for node in nodes:
            if node.op_type == "Loop" and node.domain in ("", "ai.onnx"):
                out.extend(expand(_unroll_one(node)))
            elif node.op_type == "If" and node.domain in ("", "ai.onnx"):
                out.extend(expand(_inline_if(node)))
            else:
                folder.visit(node)
                out.append(node)
        return out

    def _inline_if(node: Any) -> list[Any]:
        """An If whose condition is known at compile time is the branch it takes."""
        name = node.name or "If"
        where = f"{path}: If node '{name}'"
        cond_name = node.input[0] if node.input else ""
        if cond_name not in consts:
            raise UnsupportedModel(
                f"{where}: its condition '{cond_name}' is computed at run time; rnngen compiles "
                "one data flow (a branch chosen at compile time): export with the condition "
                "fixed, or move the choice out of the model")
        take = bool(np.asarray(consts[cond_name]).reshape(-1)[0])
        which = "then_branch" if take else "else_branch"
        br = next((a.g for a in node.attribute if a.name == which), None)
        if br is None:
            raise UnsupportedModel(f"{where} has no {which}")
        if len(br.output) != len(node.output):
            raise UnsupportedModel(f"{where}: its {which} has {len(br.output)} outputs for "
                                   f"{len(node.output)}")
        ren: dict[str, str] = {}
        for t in br.initializer:
            nm = fresh(f"{name}/{t.name}")
            ren[t.name] = nm
            consts[nm] = numpy_helper.to_array(t)
            new_inits[nm] = consts[nm]
        out_nodes: list[Any] = []
        for bn in br.node:
            c = helper.make_node(bn.op_type, [], [], name=fresh(f"{bn.name or bn.op_type}"
                                                              f"@{name}"), domain=bn.domain)
            c.attribute.extend(bn.attribute)
            c.input.extend(ren.get(i, i) if i else "" for i in bn.input)
            for o in bn.output:
                if o:
                    ren[o] = fresh(f"{o}@{name}")
                c.output.append(ren[o] if o else "")
            out_nodes.append(c)
        for bo, o in zip(br.output, node.output):
            if o:
                out_nodes.append(helper.make_node("Identity", [ren.get(bo.name, bo.name)], [o],
                                                  name=fresh(f"{name}/out")))
        notes.append(f"If '{name}': condition '{cond_name}' is {take} at compile time, its "
                     f"{which} inlined")
        return out_nodes

    def _unroll_one(node: Any) -> list[Any]:
        name = node.name or "Loop"
        where = f"{path}: Loop node '{name}'"
        body = next((a.g for a in node.attribute if a.name == "body"), None)
        if body is None:
            raise UnsupportedModel(f"{where} has no body")
        ins = list(node.input)
        M_name = ins[0] if ins else ""
        cond_name = ins[1] if len(ins) > 1 else ""
        carried_in = ins[2:]
        if not M_name and not cond_name:
            raise UnsupportedModel(
                f"{where} has neither a trip count nor a condition (it never ends)")
        if M_name and M_name not in consts:
            raise UnsupportedModel(
                f"{where}: its trip count '{M_name}' is computed at run time; rnngen unrolls "
                "loops whose trip count is known at compile time: export with a static "
                "sequence length (a fixed input shape)")
        # no trip count: a while loop, unrolled as long as its condition folds to true
        M = int(np.asarray(consts[M_name]).reshape(-1)[0]) if M_name else \
            limits.MAX_SEQ_LEN + 1
        cond = True
        if cond_name:
            if cond_name not in consts:
                raise UnsupportedModel(
                    f"{where}: its condition '{cond_name}' is computed at run time; rnngen "
                    "unrolls loops that stop after a number of steps known at compile time")
            cond = bool(np.asarray(consts[cond_name]).reshape(-1)[0])
        b_in = [i.name for i in body.input]
        b_out = [o.name for o in body.output]
        K = len(carried_in)
        if len(b_in) != K + 2 or len(b_out) < K + 1:
            raise UnsupportedModel(f"{where}: its body has {len(b_in)} inputs and "
                                   f"{len(b_out)} outputs for {K} loop-carried values")
        n_scan = len(b_out) - 1 - K
        steps = 0 if not cond else max(M, 0)
        if M_name and steps * max(1, len(body.node)) > budget[0]:
            raise UnsupportedModel(
                f"{where}: unrolling {M} iterations of a {len(body.node)}-node body exceeds "
                f"rnngen's limit of {MAX_UNROLLED_NODES} nodes")
        if M_name:
            limits.check_seq_len(where, max(steps, 1))
        # body initializers: constants shared by every copy
        local_consts: dict[str, str] = {}
        for t in body.initializer:
            nm = fresh(f"{name}/{t.name}")
            local_consts[t.name] = nm
            arr = numpy_helper.to_array(t)
            consts[nm] = arr
            new_inits[nm] = arr
        body_local = set(b_in) | {o for n in body.node for o in n.output if o}
        carried = list(carried_in)  # current value names
        scans: list[list[str]] = [[] for _ in range(n_scan)]
        out_nodes: list[Any] = []
        done = 0
        for k in range(steps):
            if k >= limits.MAX_SEQ_LEN or budget[0] < len(body.node):
                raise UnsupportedModel(
                    f"{where}: still running after {k} iterations; rnngen unrolls at most "
                    f"{limits.MAX_SEQ_LEN} iterations and {MAX_UNROLLED_NODES} nodes")
            ren: dict[str, str] = dict(local_consts)
            it = fresh(f"{name}/iter{k}")
            consts[it] = np.array(k, dtype=np.int64)
            new_inits[it] = consts[it]
            cin = fresh(f"{name}/cond{k}")
            consts[cin] = np.array(True)
            new_inits[cin] = consts[cin]
            ren[b_in[0]], ren[b_in[1]] = it, cin
            for j, v in enumerate(carried):
                ren[b_in[2 + j]] = v
            for bn in body.node:
                c = helper.make_node(bn.op_type, [], [], name=fresh(f"{bn.name or bn.op_type}"
                                                                  f"@{name}[{k}]"),
                                     domain=bn.domain)
                c.attribute.extend(bn.attribute)
                for i in bn.input:
                    c.input.append(ren.get(i, i) if i else "")
                for o in bn.output:
                    if o:
                        ren[o] = fresh(f"{o}@{k}")
                    c.output.append(ren[o] if o else "")
                out_nodes.append(c)
                budget[0] -= 1
            # the copy's values: fold what can be folded to know the condition
            copy = out_nodes[len(out_nodes) - len(body.node):]
            expanded = expand(copy)
            del out_nodes[len(out_nodes) - len(body.node):]
            out_nodes.extend(expanded)
            outs = [ren.get(o, o) for o in b_out]
            bad = [o for o in b_out if o in body_local and o not in ren]
            if bad:
                raise UnsupportedModel(f"{where}: body output '{bad[0]}' is not computed")
            carried = outs[1:1 + K]
            for j in range(n_scan):
                scans[j].append(outs[1 + K + j])
            done = k + 1
            c_out = outs[0]
            if c_out not in consts:
                raise UnsupportedModel(
                    f"{where}: the condition its body computes ('{b_out[0]}') depends on "
                    f"run-time values (iteration {k}); rnngen unrolls loops that stop after a "
                    "number of steps known at compile time")
            if not bool(np.asarray(consts[c_out]).reshape(-1)[0]):
                break
        outs_loop = list(node.output)
        for j in range(K):
            o = outs_loop[j] if j < len(outs_loop) else ""
            if o:
                out_nodes.append(helper.make_node("Identity", [carried[j]], [o],
                                                  name=fresh(f"{name}/final{j}")))
        for j in range(n_scan):
            o = outs_loop[K + j] if K + j < len(outs_loop) else ""
            if not o:
                continue
            if not scans[j]:
                raise UnsupportedModel(f"{where}: runs no iteration; its scan output '{o}' "
                                       "would be empty")
            ax = fresh(f"{name}/axis0")
            consts[ax] = np.array([0], dtype=np.int64)
            new_inits[ax] = consts[ax]
            parts = []
            for k, s in enumerate(scans[j]):
                u = fresh(f"{o}@{k}_unsq")
                out_nodes.append(helper.make_node("Unsqueeze", [s, ax], [u],
                                                  name=fresh(f"{name}/scan{j}_{k}")))
                parts.append(u)
            out_nodes.append(helper.make_node("Concat", parts, [o], axis=0,
                                              name=fresh(f"{name}/scan{j}")))
        notes.append(f"Loop '{name}': unrolled at compile time ({done} iterations)")
        return out_nodes

    nodes = expand(list(g.node))
    del g.node[:]
    g.node.extend(nodes)
    for nm, arr in new_inits.items():
        g.initializer.append(numpy_helper.from_array(np.asarray(arr), nm))
    return m, notes
