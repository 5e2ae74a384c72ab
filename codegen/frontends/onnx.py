"""ONNX frontend: an .onnx file -> ir.Graph.

Steps: load (with external data) -> pick the one run-time input and fix its static shape
(--seq-len for a dynamic time axis, batch 1) -> walk the nodes in order: a node whose inputs
are all known at compile time is folded (evaluated with onnx's own reference operators, so
shape arithmetic and gate-reordering subgraphs vanish); any other node is lowered to IR
nodes. Unsupported operators are collected and reported together.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .. import cells, cgen, formats, ir, limits
from ..errors import RnngenError, UnsupportedModel
from . import (onnx_check, onnx_compressed, onnx_index_wrap, onnx_proto, onnx_qdq,
               onnx_recurrence, onnx_unroll)

F32 = np.float32

# Ops evaluated at compile time never need a lowering; these may not be folded.
_NOT_FOLDABLE = {"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike",
                 "Multinomial", "Bernoulli"}


_short = onnx_proto.short
# Operators a state input may pass through on its way to initial_h / initial_c: they move
# elements without computing (folded on element ids, see _Converter._state_input)
_STATE_LAYOUT = ("Identity", "Reshape", "Squeeze", "Unsqueeze", "Flatten", "Transpose",
                 "Slice", "Gather", "Split", "Concat", "Cast")
_attrs = onnx_proto.attrs


def load(path: Path, seq_len: int | None = None) -> ir.Graph:
    model = onnx_proto.read_model(path)
    onnx_check.check_graph(model, path)  # node specs and order
    notes: list[str] = []
    if onnx_unroll.has_loops(model.graph):
        model, notes = onnx_unroll.unroll(model, path)
    if any(n.op_type == "Gather" for n in model.graph.node):
        model, more = onnx_index_wrap.rewrite(model)
        notes += more
    if _may_hold_cells(model.graph):
        try:
            model, more = onnx_recurrence.recognize(model, path)
        except RnngenError:
            raise
        except Exception as e:  # a graph the recognizer cannot read: left as it is, and said
            more = [f"unrolled recurrences not looked for ({_short(e)}); the graph is "
                    "compiled as written"]
        notes += more
    g = _Converter(model, path, seq_len).run()
    return g.replace(notes=tuple(notes)) if notes else g


def _may_hold_cells(graph: Any) -> bool:
    """Unrolled cells need activations and no recurrent operator reads them already."""
    ops = [n.op_type for n in graph.node]
    return ops.count("Sigmoid") + ops.count("Tanh") + ops.count("Relu") >= 1 and \
        any(op in ("Gather", "Split", "Slice") for op in ops)


# Ops the time-axis trace from the input to the first recurrent node passes through: they
# keep every axis in place (elementwise, per-step activations)
_TRACE_THROUGH = ("Identity", "Cast", "Dropout", "Relu", "LeakyRelu", "Sigmoid", "Tanh",
                  "HardSigmoid", "Elu", "Selu", "Softsign", "Softplus", "Clip", "Abs", "Neg",
                  # layers that keep every axis in place (a Conv changes the channel axis's
                  # size, a valid convolution or a pool the time axis's: the input's T stays)
                  "Conv", "MaxPool", "AveragePool", "BatchNormalization",
                  "LayerNormalization", "HardSwish", "Pad")


class _Converter:
    def __init__(self, model: Any, path: Path, seq_len: int | None):
        self.model = model
        self.path = path
        self.seq_len_opt = seq_len
        self.opset = 1
        for o in model.opset_import:
            if o.domain in ("", "ai.onnx"):
                self.opset = int(o.version)
        self.consts: dict[str, np.ndarray] = {}
        self.shapes: dict[str, ir.Shape] = {}  # run-time tensors
        self.nodes: list[ir.Node] = []
        self.ir_consts: dict[str, np.ndarray] = {}
        self.unsupported: list[str] = []
        self.unknown: set[str] = set()
        self.unknown_shape: set[str] = set()  # shapes of unknown tensors and what they feed
        self.names: set[str] = set()
        self.T = 1
        self.time_axis: int | None = None
        self.compressed = onnx_compressed.Recognized()
        self.inferred: dict[str, tuple[int, ...]] = {}  # static shapes from onnx's inference
        self.const_elements = 0  # of all folded constants (limits.MAX_MODEL_ELEMENTS)
        self.node_names: set[str] = set()
        # state inputs (stateful models): (name, shape, first element id); the tensors that
        # hold element ids of them; per recurrent node the ids of its initial_h / initial_c
        self.state_specs: list[tuple[str, tuple[int, ...], int]] = []
        self.state_tainted: set[str] = set()
        self.slot_records: list[tuple[str, np.ndarray, str]] = []
        self.state_reset = np.zeros(0, F32)  # by element id: the reset values
        self.state_defaults: set[str] = set()  # state inputs with an initializer
        self.qdq = onnx_qdq.Found()
        self.weight_scales: dict[str, np.ndarray] = {}  # Linear node -> user's row scales

    # ------------------------------------------------------------------ helpers
    def where(self, node: Any, idx: int) -> str:
        return f"{node.op_type} node '{node.name or f'{node.op_type}_{idx}'}'"

    def fresh(self, base: str) -> str:
        name, k = base, 1
        while name in self.names or name in self.consts or name in self.shapes:
            name, k = f"{base}_{k}", k + 1
        self.names.add(name)
        return name

    def const(self, name: str) -> np.ndarray | None:
        return self.consts.get(name)

    def is_const(self, name: str) -> bool:
        return name in self.consts

    def f32_const(self, name: str, what: str) -> str:
        """Make a compile-time tensor usable as an IR node input (float32)."""
        arr = self.consts[name]
        if arr.dtype.kind not in "fiub":
            raise RnngenError(f"{self.path}: {what}: constant '{name}' has type {arr.dtype}")
        if name not in self.ir_consts:
            self.ir_consts[name] = np.ascontiguousarray(arr, dtype=F32)
        return name

    def add(self, node: ir.Node, shapes: list[ir.Shape] | None = None) -> None:
        if node.name in self.node_names:  # ONNX node names need not be unique; IR's must be
            k = 1
            while f"{node.name}_{k}" in self.node_names:
                k += 1
            node = dataclasses.replace(node, name=f"{node.name}_{k}")
        self.node_names.add(node.name)
        ins = [self.shape_of(i) for i in node.inputs]
        outs = node.out_shapes(ins) if shapes is None else shapes
        for o, s in zip(node.outputs, outs):
            if o:
                self.shapes[o] = tuple(int(d) for d in s)
                self.names.add(o)
        self.nodes.append(node)

    def shape_of(self, name: str) -> ir.Shape:
        if name in self.shapes:
            return self.shapes[name]
        if name in self.ir_consts:
            return tuple(self.ir_consts[name].shape)
        raise KeyError(name)

    # ------------------------------------------------------------------ main
    def run(self) -> ir.Graph:
        from onnx import numpy_helper

        g = self.model.graph
        for t in g.initializer:
            try:
                self.consts[t.name] = numpy_helper.to_array(t)
            except Exception as e:
                raise RnngenError(f"{self.path}: initializer '{t.name}' cannot be read "
                                  f"({_short(e)})") from None
        # QDQ models: activation pairs removed (their parameters kept), before anything else
        self.qdq = onnx_qdq.strip(self.model, self.consts, self.path)
        # compressed W/R of recurrent nodes (docs/compression.md), before anything is folded
        self.compressed = onnx_compressed.recognize(g, self.consts, self.path)
        for t in g.sparse_initializer:
            self.consts[t.values.name] = onnx_compressed.sparse_to_dense(t, self.path)
        # element types per operator schema, shapes against attributes (after the
        # compressed blocks, whose own checks name the recurrent node and its factors)
        postponed = None
        try:
            self.inferred = onnx_check.infer_shapes(self.model, self.path)
        except onnx_check.InferenceFailure as e:
            # only in recognized compressed subgraphs: the recurrent node's own checks
            # name the block and its factors; if they pass, onnx's message stands
            if not e.nodes or "" in e.nodes or not e.nodes <= self.compressed.node_names:
                raise
            postponed = e
        inputs = [i for i in g.input if i.name not in self.consts]
        self._check_runtime_gathers(inputs)
        inp, states = self._pick_inputs(inputs)
        # a graph input with an initializer that only feeds initial states: a state input
        # whose reset value is the initializer (others with initializers stay constants)
        defaults = {i.name for i in g.input if i.name in self.consts and
                    self._only_feeds_state(i.name)}
        for si in g.input:
            if si.name in defaults or any(si is s for s in states):
                self._state_input(si, self.consts.get(si.name) if si.name in defaults
                                  else None)
        tt = inp.type.tensor_type
        if inp.name == self.ids_input:
            pass  # token ids (int32/int64): checked by _check_runtime_gathers
        elif tt.elem_type not in (1,):  # FLOAT
            raise UnsupportedModel(f"{self.path}: input '{inp.name}' has element type "
                                   f"{tt.elem_type}; rnngen compiles float32 inputs (and "
                                   "int32/int64 token ids of an embedding Gather)")
        self.shapes[inp.name] = self._input_shape(inp)
        self.names.add(inp.name)

        for idx, node in enumerate(g.node):
            self._visit(node, idx)

        if self.unsupported:
            # one entry per operator: an unrolled loop repeats the same node once per step
            by_op: dict[str, list[str]] = {}
            for u in self.unsupported:
                by_op.setdefault(u.split(" ", 1)[0], []).append(u)
            raise UnsupportedModel(f"{self.path}: unsupported: " + "; ".join(
                v[0] if len(v) == 1 else f"{v[0]} and {len(v) - 1} more {k} node"
                f"{'s' if len(v) > 2 else ''}" for k, v in by_op.items()))
        if postponed is not None:
            raise postponed

        outputs = []
        for o in g.output:
            if o.name in self.consts:
                raise UnsupportedModel(f"{self.path}: output '{o.name}' does not depend on the "
                                       "input (a constant); rnngen needs outputs computed from it")
            if o.name not in self.shapes:
                raise RnngenError(f"{self.path}: output '{o.name}' is not computed by any node")
            if o.name == inp.name:
                alias = self.fresh(o.name + "_out")
                self.add(ir.View("output_copy", (inp.name,), (alias,), self.shapes[inp.name]))
                outputs.append(alias)
            else:
                outputs.append(o.name)
        if not outputs:
            raise RnngenError(f"{self.path}: the model has no outputs")
        if len(set(outputs)) != len(outputs):
            raise UnsupportedModel(f"{self.path}: the same tensor is listed twice as an output")
        state_inputs = self._state_inputs()
        used = set(outputs) | {i for n in self.nodes for i in n.inputs}
        consts = {k: v for k, v in self.ir_consts.items() if k in used}
        shapes = dict(self.shapes)
        shapes.update({k: tuple(v.shape) for k, v in consts.items()})
        graph = ir.Graph(name=_c_name(self.path.stem), input=inp.name, outputs=tuple(outputs),
                         nodes=tuple(self.nodes), shapes=shapes, constants=consts,
                         seq_len=self.T, source=str(self.path),
                         input_time_axis=self.time_axis, state_inputs=state_inputs,
                         user_qparams={t: p for t, p in self.qdq.activations.items()
                                       if t in shapes},
                         weight_scales=self.weight_scales,
                         input_ids=inp.name == self.ids_input)
        return graph

    # ------------------------------------------------------------------ state inputs
    def _pick_inputs(self, inputs: list[Any]) -> tuple[Any, list[Any]]:
        """The sequence input (the one that reaches a recurrent layer's X) and the state
        inputs (the others: they may only feed initial_h / initial_c, checked as the nodes
        are visited)."""
        if len(inputs) == 1:
            return inputs[0], []
        names = ", ".join(f"'{i.name}'" for i in inputs) or "none"
        if not inputs:
            raise UnsupportedModel(f"{self.path}: the model has no run-time input; rnngen "
                                   "needs one, the sequence")
        seq = [i for i in inputs if self._reaches_x(i.name)]
        if len(seq) != 1:
            raise UnsupportedModel(
                f"{self.path}: the model has {len(inputs)} run-time inputs ({names}), "
                f"{len(seq)} of them feeding a recurrent layer's input X; rnngen compiles one "
                "sequence input plus inputs that are recurrent state (fed to LSTM/GRU/RNN "
                "initial_h / initial_c); make the others initializers")
        return seq[0], [i for i in inputs if i is not seq[0]]

    def _check_runtime_gathers(self, inputs: list[Any]) -> None:
        """A run-time input that is the indices of a Gather is token ids (an embedding
        lookup): checked here, before the input-count and element-type checks would give a
        message that names neither node nor input. The ids may pass through Cast to an
        integer type and must reach nothing but Gathers (axis 0) of a constant 2-D table.
        Sets self.ids_input. (Constant indices on run-time data are slices, lowered by
        _lower_gather.)"""
        given = {i.name: i.type.tensor_type.elem_type for i in inputs}
        self.ids_input: str | None = None
        self.ids_tensors: set[str] = set()
        self.ids_alias: dict[str, str] = {}  # a Cast's output -> the ids input
        nodes = list(self.model.graph.node)
        # Keras's Embedding takes a float32 input and casts it to integers (tf2onnx: Cast
        # to int32 / int64 in front of the Gather): that input is token ids too
        cast_of = {n.output[0]: n.input[0] for n in nodes
                   if n.op_type == "Cast" and n.input and n.output and n.input[0] in given
                   and given[n.input[0]] in (1, 6, 7) and int(_attrs(n).get("to", 0)) in (6, 7)}
        for idx, node in enumerate(nodes):
            if node.op_type != "Gather":
                continue
            where = f"{self.path}: {self.where(node, idx)}"
            data = node.input[0] if node.input else ""
            ind = node.input[1] if len(node.input) > 1 else ""
            if ind in cast_of:
                ind = cast_of[ind]
            elif ind not in given:
                continue
            if data in given:
                raise UnsupportedModel(
                    f"{where}: input data ('{data}') is a run-time input; the table of a "
                    "Gather on run-time indices must be an initializer (weights in flash)")
            if given[ind] not in (6, 7) and node.input[1] == ind:  # INT32, INT64
                raise UnsupportedModel(
                    f"{where}: input indices ('{ind}') has element type {given[ind]}; "
                    "Gather indices are int32 or int64")
            self.ids_input = ind
        if self.ids_input is None:
            return
        ids = self.ids_input
        reached = {ids}
        for idx, node in enumerate(nodes):
            at = [k for k, i in enumerate(node.input) if i in reached]
            if not at:
                continue
            where = f"{self.path}: {self.where(node, idx)}"
            a = _attrs(node)
            if node.op_type == "Cast" and int(a.get("to", 0)) in (6, 7):
                reached.update(o for o in node.output if o)
                continue
            if node.op_type in ("Shape", "Size"):
                continue
            if node.op_type != "Gather" or at != [1]:
                raise UnsupportedModel(
                    f"{where} reads the token ids input '{ids}'; rnngen reads token ids "
                    "only as the indices of an embedding Gather (a constant table, axis 0), "
                    "directly or through Cast to int32/int64")
            table = self.consts.get(node.input[0])
            axis = int(a.get("axis", 0))
            if table is None:
                raise UnsupportedModel(
                    f"{where}: input data ('{node.input[0]}') is computed at run time; the "
                    "table of an embedding Gather must be an initializer (weights in flash)")
            if table.ndim != 2 or axis not in (0, -2):
                raise UnsupportedModel(
                    f"{where}: attribute axis={axis} on a table of shape "
                    f"{list(table.shape)}; an embedding Gather reads rows (axis 0) of a "
                    "2-D table [vocabulary, dim]")
            if not np.issubdtype(table.dtype, np.floating):
                raise UnsupportedModel(
                    f"{where}: the table '{node.input[0]}' has type {table.dtype}; "
                    "embedding tables are float")
        self.ids_tensors = reached

    def _reaches_x(self, name: str) -> bool:
        reached = {name}
        for n in self.model.graph.node:
            ins = [i for i in n.input if i in reached]
            if not ins:
                continue
            if n.op_type in ("LSTM", "GRU", "RNN"):
                if n.input[0] in reached:
                    return True
                continue  # the state only: the outputs are not a sequence of this input
            if n.op_type in ("Shape", "Size"):
                continue
            reached.update(o for o in n.output if o)
        return False

    def _only_feeds_state(self, name: str) -> bool:
        """Whether `name` reaches recurrent layers only as initial_h / initial_c, through
        layout operators (and at least one)."""
        reached, hit = {name}, False
        for n in self.model.graph.node:
            at = [k for k, i in enumerate(n.input) if i in reached]
            if not at:
                continue
            if n.op_type in ("LSTM", "GRU", "RNN"):
                if not set(at) <= {5, 6}:
                    return False
                hit = True
            elif n.op_type in _STATE_LAYOUT:
                reached.update(o for o in n.output if o)
            elif n.op_type not in ("Shape", "Size"):
                return False
        return hit

    def _state_input(self, inp: Any, default: np.ndarray | None = None) -> None:
        """A state input enters as a constant of element ids (int64: the first id of this
        input plus the row-major index), so that the layout operators between it and the
        recurrent layers fold and say which element lands in which state slot. `default`:
        its initializer (the values _reset gives), else zeros."""
        tt = inp.type.tensor_type
        if tt.elem_type != 1:
            raise UnsupportedModel(f"{self.path}: state input '{inp.name}' has element type "
                                   f"{tt.elem_type}; rnngen compiles float32 inputs")
        dims = [int(d.dim_value) if d.HasField("dim_value") else 1 for d in tt.shape.dim]
        if default is not None:
            dims = [int(d) for d in np.shape(default)]
        if any(d < 1 for d in dims):
            raise RnngenError(f"{self.path}: state input '{inp.name}' has shape {dims}")
        n = limits.check_elements(f"{self.path}: state input '{inp.name}'", dims, "the input")
        first = sum(math.prod(s) for _, s, _ in self.state_specs)
        self.state_specs.append((inp.name, tuple(dims), first))
        if default is not None:
            self.state_defaults.add(inp.name)
        self.consts[inp.name] = (np.arange(n, dtype=np.int64) + first).reshape(dims)
        self.state_tainted.add(inp.name)
        reset = np.zeros(n, F32) if default is None else \
            np.asarray(default, F32).reshape(-1)
        if not np.all(np.isfinite(reset)):
            raise RnngenError(f"{self.path}: initializer of state input '{inp.name}' holds "
                              "NaN or Inf")
        self.state_reset = np.concatenate([self.state_reset, reset])

    def reset_values(self, ids: np.ndarray) -> np.ndarray:
        """The values _reset gives the state elements with these ids."""
        return self.state_reset[np.asarray(ids, np.int64)].astype(F32)

    def _state_owner(self, name: str) -> str:
        first = int(np.asarray(self.consts[name]).reshape(-1)[0]) if \
            np.asarray(self.consts[name]).size else 0
        for nm, s, off in self.state_specs:
            if off <= first < off + math.prod(s):
                return nm
        return self.state_specs[0][0]

    def _visit_state(self, node: Any, idx: int, tainted: list[str]) -> bool:
        """A node reading a state input (or a layout of one): fold a layout operator, let a
        recurrent layer take it as initial_h / initial_c, refuse anything else. True when
        handled here."""
        op = node.op_type
        where = self.where(node, idx)
        owner = self._state_owner(tainted[0])
        if op in ("Shape", "Size"):
            return False  # static shape: folds as usual
        if op in ("LSTM", "GRU", "RNN"):
            bad = [i for k, i in enumerate(node.input) if i in tainted and k not in (5, 6)]
            if not bad:
                return False  # _lower_recurrent maps the state slots
        elif op in _STATE_LAYOUT:
            data = [i for i in node.input[:1]] if op != "Concat" else [i for i in node.input if i]
            if all(i in self.state_tainted for i in data):
                if op == "Cast":
                    if int(_attrs(node).get("to", 1)) != 1:
                        raise UnsupportedModel(f"{self.path}: {where} casts state input "
                                               f"'{owner}' to another type than float")
                    self.consts[node.output[0]] = self.consts[node.input[0]]
                else:
                    self._fold(node, idx)
                self.state_tainted.update(o for o in node.output if o)
                return True
        raise UnsupportedModel(
            f"{self.path}: state input '{owner}' reaches {where}; rnngen takes a run-time input "
            "other than the sequence only as recurrent state: fed to LSTM/GRU/RNN initial_h / "
            "initial_c, directly or through layout operators (" + ", ".join(_STATE_LAYOUT) +
            "); make it an initializer otherwise")

    def _state_inputs(self) -> tuple[ir.StateInput, ...]:
        if not self.state_specs:
            return ()
        slots: dict[int, tuple[str, int, str, int]] = {}
        for node_name, ids, kind in self.slot_records:
            D, H = ids.shape
            for d in range(D):
                for j in range(H):
                    k = int(ids[d, j])
                    if k in slots:
                        raise UnsupportedModel(
                            f"{self.path}: state input '{self._id_owner(k)}': element "
                            f"{self._id_index(k)} starts two recurrent states; rnngen needs "
                            "each element to be one state value (get_state could not say which)")
                    slots[k] = (node_name, d, kind, j)
        out = []
        for nm, s, off in self.state_specs:
            n = math.prod(s)
            miss = [k for k in range(off, off + n) if k not in slots]
            if miss:
                raise UnsupportedModel(
                    f"{self.path}: state input '{nm}': element {miss[0] - off} (of {n}) is not "
                    "a recurrent layer's initial state; rnngen compiles state inputs whose "
                    "every element feeds initial_h / initial_c")
            out.append(ir.StateInput(nm, s, tuple(slots[k] for k in range(off, off + n)),
                                     default=nm in self.state_defaults))
        return tuple(out)

    def _id_owner(self, k: int) -> str:
        return next(nm for nm, s, off in self.state_specs if off <= k < off + math.prod(s))

    def _id_index(self, k: int) -> int:
        return next(k - off for nm, s, off in self.state_specs if off <= k < off + math.prod(s))

    # ------------------------------------------------------------------ input shape
    def _input_shape(self, inp: Any) -> ir.Shape:
        dims = []
        for k, d in enumerate(inp.type.tensor_type.shape.dim):
            if d.HasField("dim_value") and d.dim_value < 1:
                raise RnngenError(f"{self.path}: input '{inp.name}' has dimension "
                                  f"{d.dim_value} at axis {k}; dimensions are positive (a "
                                  "dynamic one has a name, dim_param)")
            dims.append(int(d.dim_value) if d.HasField("dim_value") else None)
        if not dims:
            raise UnsupportedModel(f"{self.path}: input '{inp.name}' has no shape")
        taxis = self._trace_time_axis(inp.name, len(dims), list(dims))
        dyn = [i for i, d in enumerate(dims) if d is None]
        for i in list(dyn):  # a dynamic axis the exporter named a batch is the batch: 1
            if i != taxis and "batch" in self._dim_name(inp, i).lower():
                dims[i] = 1
                dyn.remove(i)
        if dyn:
            traced = taxis is not None
            if taxis is None:
                if len(dyn) > 1:
                    raise RnngenError(
                        f"{self.path}: input '{inp.name}' has {len(dyn)} dynamic dimensions and "
                        "rnngen cannot tell which one is time; export with static shapes")
                taxis = dyn[0]
            if dims[taxis] is None:
                if self.seq_len_opt is None:
                    if traced:
                        raise RnngenError(
                            f"{self.path}: input '{inp.name}' has a dynamic time dimension "
                            f"(axis {taxis}, the time axis of the recurrent layer it feeds); "
                            "give the sequence length with --seq-len")
                    raise RnngenError(
                        f"{self.path}: input '{inp.name}' has a dynamic dimension (axis "
                        f"{taxis}, '{self._dim_name(inp, taxis)}') that rnngen could not trace to "
                        "a recurrent layer's time axis; if it is time, give the sequence length "
                        "with --seq-len; if it is the batch, export with a static batch of 1")
                dims[taxis] = self.seq_len_opt
            for i in dyn:
                if dims[i] is None:
                    dims[i] = 1  # batch
        elif self.seq_len_opt is not None and taxis is not None and \
                dims[taxis] != self.seq_len_opt:
            raise RnngenError(f"{self.path}: --seq-len {self.seq_len_opt} does not match the "
                              f"model's fixed time dimension {dims[taxis]} of input "
                              f"'{inp.name}'")
        self.time_axis = taxis
        if taxis is not None:
            self.T = int(dims[taxis])
        elif self.seq_len_opt is not None:
            self.T = self.seq_len_opt
        where = f"{self.path}: input '{inp.name}'"
        limits.check_seq_len(where, self.T)
        n = limits.check_elements(where, dims, "the input")  # type: ignore[arg-type]
        if n > limits.MAX_GOLDEN_VALUES:
            raise RnngenError(f"{where} of shape {dims} has {n} values, over rnngen's limit of "
                              f"{limits.MAX_GOLDEN_VALUES} for one sequence (docs/limits.md)")
        return tuple(int(d) for d in dims)  # type: ignore[arg-type]

    @staticmethod
    def _dim_name(inp: Any, k: int) -> str:
        return str(inp.type.tensor_type.shape.dim[k].dim_param)

    def _trace_time_axis(self, name: str, rank: int,
                         dims: list[int | None] | None = None) -> int | None:
        """Follow the input through layout ops to the first LSTM/GRU/RNN: its time axis."""
        perm: list[int | None] = list(range(rank))  # current axis i holds input axis perm[i]
        self._traced: dict[tuple[Any, ...], int | None] = {}
        readers: dict[str, list[Any]] = {}
        for n in self.model.graph.node:
            if n.op_type not in ("Shape", "Size"):
                for i in set(n.input):
                    readers.setdefault(i, []).append(n)
        start = list(dims) if dims is not None else [None] * rank
        return self._trace_from(name, perm, start, readers,
                                min(len(self.model.graph.node), 200))

    def _trace_from(self, cur: str, perm: list[int | None], dims: list[int | None],
                    readers: dict[str, list[Any]], budget: int) -> int | None:
        """The time axis along the paths from `cur`: where several readers lead to recurrent
        layers (Keras Bidirectional's two) they must agree; a path that ends elsewhere, like
        the input multiplied by a mask computed from it, says nothing. `dims`: the extents
        of `cur` where known."""
        key = (cur, tuple(perm), tuple(dims))
        if key in self._traced:  # each tensor once per layout: no blow-up on diamonds
            return self._traced[key]
        self._traced[key] = None
        users = readers.get(cur, [])
        if budget <= 0 or not users:
            return None
        found = {self._trace_via(n, cur, list(perm), list(dims), readers, budget - 1)
                 for n in users}
        found.discard(None)
        self._traced[key] = found.pop() if len(found) == 1 else None
        return self._traced[key]

    def _trace_via(self, n: Any, cur: str, perm: list[int | None],  # noqa: C901
                   dims: list[int | None], readers: dict[str, list[Any]],
                   budget: int) -> int | None:
        a = _attrs(n)
        if n.op_type in ("LSTM", "GRU", "RNN") and n.input[0] == cur:
            if len(perm) != 3:
                return None
            return perm[1 if a.get("layout", 0) == 1 else 0]  # None: not the input's
        if n.op_type == "Transpose":
            p = a.get("perm", list(reversed(range(len(perm)))))
            if sorted(int(v) for v in p) != list(range(len(perm))):
                return None
            perm = [perm[i] for i in p]
            dims = [dims[i] for i in p] if len(dims) == len(p) else [None] * len(p)
        elif n.op_type in ("MatMul", "Add", "Sub", "Mul", "Div"):
            # a per-step layer in front (a Linear: MatMul by a constant [F, N], a bias,
            # a scale) keeps every axis; MatMul changes only the last one's size
            other = [i for i in n.input if i != cur]
            c = self.consts.get(other[0]) if len(other) == 1 else None
            if c is None or (n.op_type == "MatMul" and (n.input[0] != cur or c.ndim != 2)):
                return None
            # an elementwise constant must not add axes or grow one (a per-channel bias
            # [1, C, 1] after a convolution is fine); whether it varies along time is
            # analyze_time's question, not the trace's
            if n.op_type != "MatMul" and (c.ndim > len(perm) or any(
                    k != 1 and d is not None and k != d
                    for k, d in zip(reversed(c.shape), reversed(dims)))):
                return None
            if n.op_type == "MatMul" and dims:
                dims[-1] = int(c.shape[-1])
        elif n.op_type in ("Unsqueeze", "Squeeze", "Reshape", "Flatten"):
            # axes of size 1 added or dropped (tf2onnx's Reshape of the batch axis), else
            # onnx's static shapes of both sides (a CRNN's Reshape of [C, T, F] features)
            moved = self._trace_view(n, a, cur, perm)
            unit = None if moved is not None or n.op_type == "Flatten" else \
                self._trace_unit_view(n, perm, dims)
            if unit is not None:
                perm, dims = unit
            elif moved is None:
                return None
            else:
                perm = moved
                o = self.inferred.get(n.output[0])
                dims = [d if isinstance(d, int) and d >= 0 else None for d in o] \
                    if o is not None and len(o) == len(perm) else [None] * len(perm)
        elif n.op_type == "ReverseSequence" and n.input[0] == cur:
            pass  # reverses time in place (go_backwards)
        elif n.op_type == "Gather" and list(n.input[1:2]) == [cur]:
            # an embedding lookup keeps the ids' axes and adds the table's row axis last
            table = self.consts.get(n.input[0])
            if table is None or table.ndim != 2 or int(a.get("axis", 0)) not in (0, -2):
                return None
            perm = perm + [None]
            dims = dims + [int(table.shape[1])]
        elif n.op_type not in _TRACE_THROUGH or not n.output:
            return None
        elif n.op_type == "Pad" and n.input[0] != cur:
            return None  # the pads or the value computed from the input
        elif n.op_type in ("Conv", "MaxPool", "AveragePool", "Pad"):  # extents change
            o = self.inferred.get(n.output[0])
            dims = [d if isinstance(d, int) and d >= 0 else None for d in o] \
                if o is not None and len(o) == len(perm) else [None] * len(perm)
        return self._trace_from(n.output[0], perm, dims, readers, budget)

    def _trace_unit_view(self, n: Any, perm: list[int | None], dims: list[int | None]
                         ) -> tuple[list[int | None], list[int | None]] | None:
        """A Reshape/Squeeze/Unsqueeze that only adds or drops axes of size 1 (tf2onnx writes
        a Reshape where PyTorch writes a Transpose of the batch axis), from the extents
        known along the trace: the new (perm, dims)."""
        target = self._view_target(n, dims)
        if target is None:
            return None
        src = [i for i, d in enumerate(dims) if d != 1]
        dst = [j for j, d in enumerate(target) if d != 1]
        if len(src) != len(dst) or any(
                dims[i] is not None and target[j] is not None and dims[i] != target[j]
                for i, j in zip(src, dst)):
            return None
        new_perm: list[int | None] = [None] * len(target)
        for i, j in zip(src, dst):
            new_perm[j] = perm[i]
        new_dims = list(target)
        for i, j in zip(src, dst):
            if new_dims[j] is None:
                new_dims[j] = dims[i]
        return new_perm, new_dims

    def _early_const(self, name: str) -> np.ndarray | None:
        """An initializer, or the value of a Constant node (before the nodes are visited)."""
        if name in self.consts:
            return self.consts[name]
        for n in self.model.graph.node:
            if n.op_type == "Constant" and n.output and n.output[0] == name:
                for at in n.attribute:
                    if at.name in ("value_ints", "value_int"):
                        return np.asarray(_attrs(n)[at.name])
                    if at.name == "value":
                        from onnx import numpy_helper
                        try:
                            return numpy_helper.to_array(at.t)
                        except Exception:  # noqa: BLE001 - checked when folded
                            return None
        return None

    def _trace_view(self, n: Any, a: dict[str, Any], cur: str, perm: list[int | None]
                    ) -> list[int | None] | None:
        """The axes after a view op (Unsqueeze, Squeeze, Reshape, Flatten) on the trace:
        perm[i] is the input axis at axis i (None: an axis the views made). Reshape and
        Flatten need onnx's static shapes of both sides; an input axis survives where the
        product of the axes before it and its size are unchanged."""
        if n.input[0] != cur or not n.output:
            return None
        if n.op_type in ("Unsqueeze", "Squeeze"):
            if "axes" in a:
                axes = [int(v) for v in a["axes"]]
            elif len(n.input) > 1 and self._early_const(n.input[1]) is not None:
                axes = [int(v) for v in
                        np.asarray(self._early_const(n.input[1])).reshape(-1)]
            else:
                return None
            if n.op_type == "Unsqueeze":
                r = len(perm) + len(axes)
                out = list(perm)
                for ax in sorted(v % r for v in axes):
                    out.insert(ax, None)
                return out
            r = len(perm)
            drop = {v % r for v in axes}
            return [p for i, p in enumerate(perm) if i not in drop]
        s, o = self.inferred.get(cur), self.inferred.get(n.output[0])
        if s is None or o is None or len(s) != len(perm):
            return None
        out: list[int | None] = [None] * len(o)
        for i, p in enumerate(perm):
            if p is None:
                continue
            for q in range(len(o)):
                if o[q] == s[i] and math.prod(o[:q]) == math.prod(s[:i]):
                    out[q] = p
                    break
        return out

    def _view_target(self, n: Any, dims: list[int | None]) -> list[int | None] | None:
        """The shape a Reshape/Squeeze/Unsqueeze gives `dims` (None: unknown extent)."""
        a = _attrs(n)
        r = len(dims)
        if n.op_type == "Reshape":
            t = self.consts.get(n.input[1]) if len(n.input) > 1 else None
            if t is None:
                return None
            out: list[int | None] = []
            for j, d in enumerate(int(v) for v in np.asarray(t).reshape(-1)):
                if d == 0 and not a.get("allowzero", 0):
                    if j >= r:
                        return None
                    out.append(dims[j])
                else:
                    out.append(None if d == -1 else d)
            return out
        if "axes" in a:
            axes = [int(v) for v in a["axes"]]
        elif len(n.input) > 1 and n.input[1] in self.consts:
            axes = [int(v) for v in np.asarray(self.consts[n.input[1]]).reshape(-1)]
        else:
            return None
        if n.op_type == "Squeeze":
            axes = [x % r for x in axes] if r else []
            if any(dims[x] not in (1, None) for x in axes):
                return None
            return [d for i, d in enumerate(dims) if i not in axes]
        rank = r + len(axes)
        out = list(dims)
        for x in sorted(v % rank for v in axes):
            out.insert(x, 1)
        return out

    # ------------------------------------------------------------------ nodes
    def _visit(self, node: Any, idx: int) -> None:
        if idx in self.compressed.skip:
            return  # a factor of a compressed W/R that only _lower_recurrent reads
        ins = list(node.input)
        present = [i for i in ins if i]
        if any(i in self.unknown for i in present):
            # downstream of an unsupported node: report it too if it is unsupported itself,
            # unless it only computes with that node's shape (Shape -> Gather -> Expand:
            # it would fold if the node were supported, a knock-on)
            shape_only = node.op_type in ("Shape", "Size") or all(
                i in self.unknown_shape for i in present if i in self.unknown)
            if node.op_type not in _LOWER and not shape_only:
                self.unsupported.append(f"{node.op_type} ({self.where(node, idx)})")
            self.unknown.update(o for o in node.output if o)
            if shape_only:
                self.unknown_shape.update(o for o in node.output if o)
            return
        if node.domain not in ("", "ai.onnx"):
            self.unsupported.append(f"{node.op_type} (domain '{node.domain}', "
                                    f"{self.where(node, idx)})")
            self.unknown.update(o for o in node.output if o)
            return
        tainted = [i for i in present if i in self.state_tainted]
        if tainted and self._visit_state(node, idx, tainted):
            return
        missing = [i for i in present if i not in self.consts and i not in self.shapes
                   and i not in self.compressed.deferred]
        if missing:
            raise RnngenError(f"{self.path}: {self.where(node, idx)} reads '{missing[0]}', "
                              "which nothing defines")
        if node.op_type in ("Shape", "Size") and present and present[0] in self.shapes:
            self._fold_shape(node, idx)
            return
        if all(i in self.consts for i in present) and node.op_type not in _NOT_FOLDABLE:
            self._fold(node, idx)
            return
        fn = _LOWER.get(node.op_type)
        if fn is None:
            self.unsupported.append(f"{node.op_type} ({self.where(node, idx)})")
            self.unknown.update(o for o in node.output if o)
            return
        fn(self, node, idx, _attrs(node))

    def _fold_shape(self, node: Any, idx: int) -> None:
        shape = self.shapes[node.input[0]]
        if node.op_type == "Size":
            self.consts[node.output[0]] = np.array(math.prod(shape), dtype=np.int64)
            return
        a = _attrs(node)
        r = len(shape)
        start = a.get("start", 0)
        end = a.get("end", r)
        start = min(max(start + r if start < 0 else start, 0), r)
        end = min(max(end + r if end < 0 else end, 0), r)
        self.consts[node.output[0]] = np.array(shape[start:end], dtype=np.int64)

    def _fold(self, node: Any, idx: int) -> None:
        where = f"{self.path}: {self.where(node, idx)}"
        outs = [o for o in node.output if o]
        for o in outs:  # from onnx's shape inference, before anything is evaluated
            if o in self.inferred:
                limits.check_elements(where, self.inferred[o], f"output '{o}'")
        try:
            res = onnx_proto.eval_node(node, self.consts, self.model.opset_import)
        except Exception as e:
            raise RnngenError(f"{where}: cannot evaluate at compile time ({_short(e)})") \
                from None
        if node.op_type == "DequantizeLinear" and outs:  # a QDQ model's weight
            x = np.asarray(self.consts[node.input[0]])
            sc = np.asarray(self.consts[node.input[1]])
            zp = np.asarray(self.consts[node.input[2]]) if len(node.input) > 2 and \
                node.input[2] else np.zeros(1, x.dtype)
            self.qdq.weights[outs[0]] = (sc, zp, int(_attrs(node).get("axis", 1)) % max(1, x.ndim),
                                         x.dtype.name)
        for o, v in zip(outs, res):
            v = np.asarray(v)
            self.const_elements += limits.check_elements(where, v.shape, f"output '{o}'")
            if self.const_elements > limits.MAX_MODEL_ELEMENTS:
                raise RnngenError(f"{where}: the folded constants hold {self.const_elements} "
                                  f"elements, over rnngen's limit of "
                                  f"{limits.MAX_MODEL_ELEMENTS} (docs/limits.md)")
            self.consts[o] = v

    # dynamic-input helpers -------------------------------------------------------
    def need_const(self, node: Any, idx: int, pos: int, what: str) -> np.ndarray | None:
        if pos >= len(node.input) or not node.input[pos]:
            return None
        name = node.input[pos]
        if name not in self.consts:
            raise UnsupportedModel(f"{self.path}: {self.where(node, idx)}: input {what} "
                                   f"('{name}') is computed at run time; rnngen needs it "
                                   "constant")
        return self.consts[name]

    def weight(self, node: Any, idx: int, pos: int, what: str) -> Any:
        """A recurrent node's W or R: a recognized compressed input (indexing it gives one
        direction's ir matrix), else the folded dense array."""
        rec = self.compressed.inputs.get((idx, pos))
        return rec if rec is not None else self.need_const(node, idx, pos, what)

    def operand(self, node: Any, idx: int, name: str) -> str:
        if name in self.consts:
            return self.f32_const(name, self.where(node, idx))
        return name


def _c_name(stem: str) -> str:
    return cgen.default_name(stem)


# ---------------------------------------------------------------------- lowerings

def _nm(cv: _Converter, node: Any, idx: int) -> str:
    return node.name or f"{node.op_type}_{idx}"


def _lower_recurrent(cv: _Converter, node: Any, idx: int, a: dict[str, Any]) -> None:
    cell = node.op_type
    where = f"{cv.path}: {cv.where(node, idx)}"
    x = node.input[0]
    if x in cv.consts:
        raise UnsupportedModel(f"{where}: input X is a constant")
    W = cv.weight(node, idx, 1, "W")
    R = cv.weight(node, idx, 2, "R")
    B = cv.need_const(node, idx, 3, "B")
    seq_lens = cv.need_const(node, idx, 4, "sequence_lens")
    h0 = cv.need_const(node, idx, 5, "initial_h")
    spec = cells.of(cell)
    c0 = cv.need_const(node, idx, 6, "initial_c") if spec.has_cell_state else None
    # initial states from a state input: element ids now, the reset values in the IR
    from_state = {k: node.input[k] for k in (5, 6)
                  if len(node.input) > k and node.input[k] in cv.state_tainted}
    if 6 in from_state and c0 is None:
        from_state.pop(6)
    ids = {k: np.asarray(cv.consts[v]) for k, v in from_state.items()}
    if 5 in ids:
        h0 = cv.reset_values(ids[5])
    if 6 in ids:
        c0 = cv.reset_values(ids[6])
    P = cv.need_const(node, idx, 7, "P") if spec.peepholes else None
    if W is None or R is None:
        raise RnngenError(f"{where}: inputs W and R are required")
    G = spec.gates
    layout = int(a.get("layout", 0))
    if layout not in (0, 1):
        raise RnngenError(f"{where}: attribute layout={layout} must be 0 or 1")
    xs = cv.shapes[x]
    if len(xs) != 3:
        raise RnngenError(f"{where}: input X has rank {len(xs)}, expected 3")
    T, batch, I = (xs[0], xs[1], xs[2]) if layout == 0 else (xs[1], xs[0], xs[2])
    if batch != 1:
        raise UnsupportedModel(f"{where}: batch size {batch}; rnngen compiles batch-1 models "
                               "(export with batch 1 or a dynamic batch)")
    direction = a.get("direction", "forward")
    if direction not in ("forward", "reverse", "bidirectional"):
        raise RnngenError(f"{where}: attribute direction='{direction}' is not forward, reverse "
                          "or bidirectional")
    D = 2 if direction == "bidirectional" else 1
    if "hidden_size" not in a:  # optional in the schema, required by onnxruntime
        raise RnngenError(f"{where}: attribute hidden_size is missing")
    H = int(a["hidden_size"])
    if H < 1:
        raise RnngenError(f"{where}: attribute hidden_size={H} must be positive")
    for M, cols in ((W, I), (R, H)):
        if isinstance(M, onnx_compressed.CompressedInput):
            M.check(D, G, H, cols)  # names the block and its factors
    if W.shape != (D, G * H, I):
        raise RnngenError(f"{where}: input W has shape {W.shape}, expected {(D, G * H, I)}")
    if R.shape != (D, G * H, H):
        raise RnngenError(f"{where}: input R has shape {R.shape}, expected {(D, G * H, H)}")
    if B is None:
        B = np.zeros((D, 2 * G * H), F32)
    if B.shape != (D, 2 * G * H):
        raise RnngenError(f"{where}: input B has shape {B.shape}, expected {(D, 2 * G * H)}")
    valid = T
    if seq_lens is not None:
        if seq_lens.size != 1:
            raise RnngenError(f"{where}: sequence_lens has {seq_lens.size} entries; batch is 1")
        valid = int(seq_lens.reshape(-1)[0])
        if not 1 <= valid <= T:
            raise RnngenError(f"{where}: sequence_lens={valid} is outside 1..{T}")
    hshape = (D, 1, H) if layout == 0 else (1, D, H)
    for nm, arr in (("initial_h", h0), ("initial_c", c0)):
        if arr is not None and tuple(arr.shape) != hshape:
            raise RnngenError(f"{where}: input {nm} has shape {arr.shape}, expected {hshape}")
    if P is not None and P.shape != (D, 3 * H):
        raise RnngenError(f"{where}: input P has shape {P.shape}, expected {(D, 3 * H)}")
    acts = _activations(cv, node, idx, a, cell, D)
    clip = a.get("clip")
    if clip is not None:
        clip = float(clip)
        if not clip > 0:
            raise RnngenError(f"{where}: attribute clip={clip} must be positive")
    input_forget = bool(a.get("input_forget", 0)) if "input_forget" in spec.options else False
    lbr = bool(a.get("linear_before_reset", 0)) if "linear_before_reset" in spec.options \
        else False
    dirs = []
    for d in range(D):
        reverse = direction == "reverse" or d == 1
        h = np.zeros(H, F32) if h0 is None else np.asarray(h0, F32).reshape(D, H)[d]
        c = None
        if spec.has_cell_state:
            c = np.zeros(H, F32) if c0 is None else np.asarray(c0, F32).reshape(D, H)[d]
        p = None if P is None else np.asarray(P[d], F32)
        dirs.append(ir.CellDirection(
            reverse=reverse, W=_direction_matrix(W, d), R=_direction_matrix(R, d),
            wb=np.asarray(B[d, :G * H], F32), rb=np.asarray(B[d, G * H:], F32), p=p,
            h0=np.ascontiguousarray(h), c0=None if c is None else np.ascontiguousarray(c),
            activations=acts[d]))
    outs = list(node.output) + [""] * 3
    nouts = 3 if spec.has_cell_state else 2
    outputs = tuple(outs[:nouts]) + ("",) * (3 - nouts)
    cv.add(ir.Recurrent(_nm(cv, node, idx), (x,), outputs, cell=cell, hidden=H, input_size=I,
                        seq_len=T, valid_len=valid, layout=layout, directions=tuple(dirs),
                        clip=clip, input_forget=input_forget, linear_before_reset=lbr))
    final = cv.nodes[-1].name
    for k, kind in ((5, "h"), (6, "c")):
        if k in ids:
            cv.slot_records.append((final, ids[k].reshape(D, H), kind))


def _direction_matrix(M: Any, d: int) -> ir.Matrix:
    if isinstance(M, onnx_compressed.CompressedInput):
        return M[d]
    return formats.as_matrix(M[d])


# Defaults of activation_alpha / activation_beta inside LSTM/GRU/RNN as onnxruntime applies
# them (checked against onnxruntime 1.32): values are consumed in order only by the
# activations that take them; when the list runs out, these apply.
_RNN_ACT_DEFAULTS = {"LeakyRelu": (0.01, 0.0), "HardSigmoid": (0.2, 0.5), "Elu": (1.0, 0.0)}
_ACT_NAMES = {k.lower(): k for k in ir.ACTIVATION_DEFAULTS}


def _activations(cv: _Converter, node: Any, idx: int, a: dict[str, Any], cell: str,
                 D: int) -> list[tuple[ir.Activation, ...]]:
    default = list(cells.of(cell).activations)
    per = len(default)
    names = a.get("activations")
    where = f"{cv.path}: {cv.where(node, idx)}"
    if names is None:
        names = default * D
    if len(names) != per * D:
        raise RnngenError(f"{where}: attribute activations has {len(names)} entries, expected "
                          f"{per * D}")
    alphas = list(a.get("activation_alpha", []))
    betas = list(a.get("activation_beta", []))
    acts = []
    for nm in names:
        canon = _ACT_NAMES.get(str(nm).lower())
        if canon is None:
            raise UnsupportedModel(f"{where}: attribute activations: '{nm}' is not an ONNX RNN "
                                   "activation")
        uses_a, uses_b = ir.ACTIVATION_PARAMS[canon]
        da, db = _RNN_ACT_DEFAULTS.get(canon, (0.0, 0.0))
        al = float(alphas.pop(0)) if uses_a and alphas else da
        be = float(betas.pop(0)) if uses_b and betas else db
        acts.append(ir.Activation(canon, al if uses_a else 0.0, be if uses_b else 0.0))
    return [tuple(acts[d * per:(d + 1) * per]) for d in range(D)]


def _lower_gemm(cv: _Converter, node: Any, idx: int, a: dict[str, Any]) -> None:
    where = f"{cv.path}: {cv.where(node, idx)}"
    A, Bn = node.input[0], node.input[1]
    if A in cv.consts or Bn not in cv.consts:
        raise UnsupportedModel(f"{where}: rnngen compiles Gemm with a run-time A and a "
                               "constant B")
    alpha, beta = float(a.get("alpha", 1.0)), float(a.get("beta", 1.0))
    Bm = np.asarray(cv.consts[Bn], F32)
    if Bm.ndim != 2:
        raise RnngenError(f"{where}: B has rank {Bm.ndim}, expected 2")
    W = Bm if a.get("transB", 0) else Bm.T  # [N, K]
    W = (alpha * W).astype(F32) if alpha != 1.0 else W
    name = _nm(cv, node, idx)
    rows = onnx_qdq.weight_rows(cv.qdq, Bn, 0 if a.get("transB", 0) else 1, W.shape[0])
    if rows is not None and alpha == 1.0:
        cv.weight_scales[name] = rows
    src = A
    if a.get("transA", 0):
        t = cv.fresh(name + "_At")
        cv.add(ir.Transpose(name + "_transA", (A,), (t,), (1, 0)))
        src = t
    N = W.shape[0]
    M = cv.shapes[src][0] if len(cv.shapes[src]) == 2 else 1
    if len(cv.shapes[src]) != 2:
        raise RnngenError(f"{where}: A has shape {cv.shapes[src]}, expected rank 2")
    bias = None
    add_c = None
    if len(node.input) > 2 and node.input[2]:
        C = node.input[2]
        if C in cv.consts:
            c = np.asarray(cv.consts[C], F32) * F32(beta)
            try:
                cb = np.broadcast_to(c, (M, N))
            except ValueError:
                raise RnngenError(f"{where}: C of shape {c.shape} does not broadcast to "
                                  f"{(M, N)}") from None
            if np.all(cb == cb[:1]):
                bias = np.ascontiguousarray(cb[0])
            else:
                add_c = cv.fresh(name + "_C")
                cv.ir_consts[add_c] = np.ascontiguousarray(cb)
        else:
            if beta != 1.0:
                raise UnsupportedModel(f"{where}: run-time C with beta={beta}")
            add_c = C
    out = node.output[0]
    lin_out = cv.fresh(out + "_mm") if add_c else out
    cv.add(ir.Linear(name, (src,), (lin_out,), W=formats.as_matrix(W), b=bias))
    if add_c:
        cv.add(ir.Binary(name + "_addC", (lin_out, add_c), (out,), fn="Add"))


def _lower_matmul(cv: _Converter, node: Any, idx: int, a: dict[str, Any]) -> None:
    where = f"{cv.path}: {cv.where(node, idx)}"
    A, Bn = node.input[0], node.input[1]
    if A in cv.consts or Bn not in cv.consts:
        what = "two run-time tensors" if Bn not in cv.consts else "a constant A and a run-time B"
        raise UnsupportedModel(f"{where}: MatMul of {what} (rnngen needs a constant right-hand "
                               "matrix)")
    Bm = np.asarray(cv.consts[Bn], F32)
    while Bm.ndim > 2 and Bm.shape[0] == 1:
        Bm = Bm[0]
    if Bm.ndim > 2:
        raise UnsupportedModel(f"{where}: batched MatMul with a constant of shape {Bm.shape}")
    name = _nm(cv, node, idx)
    ashape = cv.shapes[A]
    W = Bm[None, :] if Bm.ndim == 1 else Bm.T  # [N, K]
    if not ashape or ashape[-1] != W.shape[1]:
        raise RnngenError(f"{where}: shapes {ashape} and {cv.consts[Bn].shape} do not multiply")
    lin_shape = tuple(ashape[:-1]) + (W.shape[0],)
    want = tuple(ashape[:-1]) if Bm.ndim == 1 else lin_shape
    borig = cv.consts[Bn].ndim
    if borig > 2 and borig > len(ashape):  # broadcast batch axes of size 1
        want = (1,) * (borig - len(ashape)) + want
    out = node.output[0]
    Wd = formats.as_matrix(np.ascontiguousarray(W))
    rows = onnx_qdq.weight_rows(cv.qdq, Bn, cv.consts[Bn].ndim - 1, W.shape[0]) \
        if Bm.ndim == 2 else None
    if rows is not None:
        cv.weight_scales[name] = rows
    if want == lin_shape:
        cv.add(ir.Linear(name, (A,), (out,), W=Wd, b=None))
    else:
        t = cv.fresh(out + "_mm")
        cv.add(ir.Linear(name, (A,), (t,), W=Wd, b=None))
        cv.add(ir.View(name + "_view", (t,), (out,), want))


def _lower_binary(cv: _Converter, node: Any, idx: int, a: dict[str, Any]) -> None:
    x, y = (cv.operand(node, idx, n) for n in node.input[:2])
    cv.add(ir.Binary(_nm(cv, node, idx), (x, y), (node.output[0],), fn=node.op_type))


def _lower_unary(cv: _Converter, node: Any, idx: int, a: dict[str, Any]) -> None:
    canon = node.op_type
    da, db = ir.ACTIVATION_DEFAULTS[canon]
    act = ir.Activation(canon, float(a.get("alpha", da)), float(a.get("beta", db)))
    cv.add(ir.Unary(_nm(cv, node, idx), (node.input[0],), (node.output[0],), act=act))


def _lower_softmax(cv: _Converter, node: Any, idx: int, a: dict[str, Any]) -> None:
    x = node.input[0]
    s = cv.shapes[x]
    r = len(s)
    legacy = cv.opset < 13
    axis = int(a.get("axis", 1 if legacy else -1))
    if not -r <= axis < r:
        raise RnngenError(f"{cv.path}: {cv.where(node, idx)}: attribute axis={axis} is out of "
                          f"range for rank {r}")
    axis %= r
    name = _nm(cv, node, idx)
    log = node.op_type == "LogSoftmax"
    out = node.output[0]
    if legacy and math.prod(s[axis + 1:]) != 1:
        # opset < 13: softmax over the flattened block [axis:]
        flat = (math.prod(s[:axis]), math.prod(s[axis:]))
        t1, t2 = cv.fresh(out + "_2d"), cv.fresh(out + "_sm")
        cv.add(ir.View(name + "_flat", (x,), (t1,), flat))
        cv.add(ir.Softmax(name, (t1,), (t2,), axis=1, log=log))
        cv.add(ir.View(name + "_unflat", (t2,), (out,), s))
    else:
        cv.add(ir.Softmax(name, (x,), (out,), axis=axis, log=log))


def _lower_transpose(cv: _Converter, node: Any, idx: int, a: dict[str, Any]) -> None:
    x = cv.operand(node, idx, node.input[0])
    r = len(cv.shape_of(x))
    perm = tuple(int(p) for p in a.get("perm", list(reversed(range(r)))))
    if sorted(perm) != list(range(r)):
        raise RnngenError(f"{cv.path}: {cv.where(node, idx)}: attribute perm={list(perm)} is "
                          f"not a permutation of {r} axes")
    cv.add(ir.Transpose(_nm(cv, node, idx), (x,), (node.output[0],), perm))


def _view(cv: _Converter, node: Any, idx: int, shape: tuple[int, ...]) -> None:
    x = node.input[0]
    if math.prod(shape) != math.prod(cv.shapes[x]):
        raise RnngenError(f"{cv.path}: {cv.where(node, idx)}: cannot reshape {cv.shapes[x]} "
                          f"to {shape}")
    cv.add(ir.View(_nm(cv, node, idx), (x,), (node.output[0],), tuple(int(d) for d in shape)))


def _lower_reshape(cv: _Converter, node: Any, idx: int, a: dict[str, Any]) -> None:
    where = f"{cv.path}: {cv.where(node, idx)}"
    if cv.opset < 5:
        target = list(a.get("shape", []))
    else:
        t = cv.need_const(node, idx, 1, "shape")
        target = [int(v) for v in np.asarray(t).reshape(-1)]
    s = cv.shapes[node.input[0]]
    allowzero = int(a.get("allowzero", 0))
    out = []
    for i, d in enumerate(target):
        if d == 0 and not allowzero:
            if i >= len(s):
                raise RnngenError(f"{where}: shape entry 0 at axis {i} has no input axis")
            out.append(s[i])
        else:
            out.append(d)
    if out.count(-1) > 1:
        raise RnngenError(f"{where}: shape {target} has more than one -1")
    if -1 in out:
        known = math.prod(d for d in out if d != -1)
        if known == 0 or math.prod(s) % known:
            raise RnngenError(f"{where}: cannot reshape {s} to {target}")
        out[out.index(-1)] = math.prod(s) // known
    _view(cv, node, idx, tuple(out))


def _axes(cv: _Converter, node: Any, idx: int, a: dict[str, Any], rank: int) -> list[int] | None:
    if "axes" in a:
        axes = list(a["axes"])
    elif len(node.input) > 1 and node.input[1]:
        axes = [int(v) for v in np.asarray(cv.need_const(node, idx, 1, "axes")).reshape(-1)]
    else:
        return None
    bad = [int(x) for x in axes if not -rank <= int(x) < rank]
    if bad:
        raise RnngenError(f"{cv.path}: {cv.where(node, idx)}: axis {bad[0]} is out of range "
                          f"for rank {rank}")
    return [int(x) % rank for x in axes]


def _lower_squeeze(cv: _Converter, node: Any, idx: int, a: dict[str, Any]) -> None:
    s = cv.shapes[node.input[0]]
    axes = _axes(cv, node, idx, a, len(s))
    if axes is None:
        axes = [i for i, d in enumerate(s) if d == 1]
    for ax in axes:
        if s[ax] != 1:
            raise RnngenError(f"{cv.path}: {cv.where(node, idx)}: cannot squeeze axis {ax} of "
                              f"size {s[ax]}")
    _view(cv, node, idx, tuple(d for i, d in enumerate(s) if i not in axes))


def _lower_unsqueeze(cv: _Converter, node: Any, idx: int, a: dict[str, Any]) -> None:
    s = list(cv.shapes[node.input[0]])
    if "axes" in a:
        raw = [int(v) for v in a["axes"]]
    else:
        ax = cv.need_const(node, idx, 1, "axes")
        if ax is None:
            raise RnngenError(f"{cv.path}: {cv.where(node, idx)}: no axes given")
        raw = [int(v) for v in np.asarray(ax).reshape(-1)]
    rank = len(s) + len(raw)
    bad = [v for v in raw if not -rank <= v < rank]
    if bad or len({v % rank for v in raw}) != len(raw):
        raise RnngenError(f"{cv.path}: {cv.where(node, idx)}: axes {raw} are out of range or "
                          f"repeated for output rank {rank}")
    out = list(s)
    for ax in sorted(v % rank for v in raw):
        out.insert(ax, 1)
    _view(cv, node, idx, tuple(out))


def _lower_flatten(cv: _Converter, node: Any, idx: int, a: dict[str, Any]) -> None:
    s = cv.shapes[node.input[0]]
    axis = int(a.get("axis", 1)) % (len(s) + 1) if s else 0
    _view(cv, node, idx, (math.prod(s[:axis]), math.prod(s[axis:])))


def _lower_identity(cv: _Converter, node: Any, idx: int, a: dict[str, Any]) -> None:
    if node.op_type == "Cast" and node.input[0] in cv.ids_tensors:
        # token ids to another integer type: the same ids (no node; the lookup reads the
        # input itself)
        cv.ids_alias[node.output[0]] = cv.ids_alias.get(node.input[0], node.input[0])
        cv.shapes[node.output[0]] = cv.shapes[node.input[0]]
        return
    if node.op_type == "Cast" and int(a.get("to", 1)) != 1:
        raise UnsupportedModel(f"{cv.path}: {cv.where(node, idx)}: Cast of a run-time tensor to "
                               f"type {a.get('to')} (rnngen computes in float32)")
    if node.op_type == "Dropout" and len(node.output) > 1 and node.output[1]:
        raise UnsupportedModel(f"{cv.path}: {cv.where(node, idx)}: the Dropout mask output")
    _view(cv, node, idx, cv.shapes[node.input[0]])


def _lower_gather(cv: _Converter, node: Any, idx: int, a: dict[str, Any]) -> None:
    where = f"{cv.path}: {cv.where(node, idx)}"
    x = node.input[0]
    if len(node.input) > 1 and node.input[1] in cv.ids_tensors:  # an embedding lookup
        table = np.ascontiguousarray(cv.consts[x], dtype=np.float32)
        if not np.all(np.isfinite(table)):
            raise RnngenError(f"{where}: the table '{x}' contains NaN or Inf")
        ids = cv.ids_alias.get(node.input[1], node.input[1])
        cv.add(ir.Embedding(_nm(cv, node, idx), (ids,), (node.output[0],), table))
        return
    s = cv.shapes[x]
    ind = cv.need_const(node, idx, 1, "indices")
    axis = int(a.get("axis", 0))
    if not -len(s) <= axis < len(s):
        raise RnngenError(f"{where}: attribute axis={axis} out of range")
    axis %= len(s)
    flat = [int(v) for v in np.asarray(ind).reshape(-1)]
    flat = [v + s[axis] if v < 0 else v for v in flat]
    if any(not 0 <= v < s[axis] for v in flat):
        raise RnngenError(f"{where}: indices {np.asarray(ind).tolist()} out of range for axis "
                          f"{axis} of size {s[axis]}")
    out_shape = tuple(s[:axis]) + tuple(np.asarray(ind).shape) + tuple(s[axis + 1:])
    _gather_rows(cv, _nm(cv, node, idx), x, axis, flat, node.output[0], out_shape)


def _gather_rows(cv: _Converter, name: str, x: str, axis: int, rows: list[int], out: str,
                 out_shape: tuple[int, ...]) -> None:
    s = cv.shape_of(x)
    step = rows[1] - rows[0] if len(rows) > 1 else 1
    if len(rows) == 1 or (step != 0 and all(rows[i] == rows[0] + i * step
                                            for i in range(len(rows)))):
        starts = [0] * len(s)
        steps = [1] * len(s)
        counts = list(s)
        starts[axis], steps[axis], counts[axis] = rows[0], step, len(rows)
        sliced_shape = tuple(counts)
        target = out if sliced_shape == tuple(out_shape) else cv.fresh(out + "_slice")
        cv.add(ir.Slice(name, (x,), (target,), tuple(starts), tuple(steps), tuple(counts)))
        if target != out:
            cv.add(ir.View(name + "_view", (target,), (out,), tuple(out_shape)))
        return
    parts = []
    for k, r in enumerate(rows):
        p = cv.fresh(f"{out}_row{k}")
        starts = [0] * len(s)
        counts = list(s)
        starts[axis], counts[axis] = r, 1
        cv.add(ir.Slice(f"{name}_row{k}", (x,), (p,), tuple(starts), (1,) * len(s),
                        tuple(counts)))
        parts.append(p)
    cat = cv.fresh(out + "_cat")
    cv.add(ir.Concat(name + "_cat", tuple(parts), (cat,), axis=axis))
    if cv.shapes[cat] != tuple(out_shape):
        cv.add(ir.View(name + "_view", (cat,), (out,), tuple(out_shape)))
    else:
        cv.add(ir.View(name + "_id", (cat,), (out,), tuple(out_shape)))


def _lower_slice(cv: _Converter, node: Any, idx: int, a: dict[str, Any]) -> None:
    where = f"{cv.path}: {cv.where(node, idx)}"
    x = node.input[0]
    s = cv.shapes[x]
    r = len(s)
    if cv.opset < 10:
        starts, ends = list(a["starts"]), list(a["ends"])
        axes = list(a.get("axes", range(len(starts))))
        steps = [1] * len(starts)
    else:
        starts = [int(v) for v in np.asarray(cv.need_const(node, idx, 1, "starts")).reshape(-1)]
        ends = [int(v) for v in np.asarray(cv.need_const(node, idx, 2, "ends")).reshape(-1)]
        ax = cv.need_const(node, idx, 3, "axes")
        axes = list(range(len(starts))) if ax is None else [int(v) for v in
                                                             np.asarray(ax).reshape(-1)]
        st = cv.need_const(node, idx, 4, "steps")
        steps = [1] * len(starts) if st is None else [int(v) for v in np.asarray(st).reshape(-1)]
    o_starts, o_steps, o_counts = [0] * r, [1] * r, list(s)
    for st0, en, ax, step in zip(starts, ends, axes, steps):
        ax %= r
        dim = s[ax]
        if step == 0:
            raise RnngenError(f"{where}: step 0 on axis {ax}")
        if st0 < 0:
            st0 += dim
        if en < 0:
            en += dim
        if step > 0:
            st0, en = min(max(st0, 0), dim), min(max(en, 0), dim)
            count = max(0, -(-(en - st0) // step))
        else:
            st0, en = min(max(st0, 0), dim - 1), min(max(en, -1), dim - 1)
            count = max(0, -(-(st0 - en) // -step))
        if count == 0:
            raise UnsupportedModel(f"{where}: the slice on axis {ax} is empty")
        o_starts[ax], o_steps[ax], o_counts[ax] = st0, step, count
    cv.add(ir.Slice(_nm(cv, node, idx), (x,), (node.output[0],), tuple(o_starts),
                    tuple(o_steps), tuple(o_counts)))


def _lower_concat(cv: _Converter, node: Any, idx: int, a: dict[str, Any]) -> None:
    ins = tuple(cv.operand(node, idx, n) for n in node.input if n)
    r = len(cv.shape_of(ins[0]))
    axis = int(a.get("axis", 0))
    if not -r <= axis < r:
        raise RnngenError(f"{cv.path}: {cv.where(node, idx)}: attribute axis={axis} is out of "
                          f"range for rank {r}")
    axis %= r
    cv.add(ir.Concat(_nm(cv, node, idx), ins, (node.output[0],), axis=axis))


# ---------------------------------------------------------------------- layers around RNNs
# (issue 11): convolution, pooling, normalization, reductions, padding, Clip / HardSwish

_FLT_MAX = float(np.finfo(np.float32).max)


def _window(cv: _Converter, node: Any, idx: int, a: dict[str, Any], x: str,
            kernel: tuple[int, ...], pool: bool) -> tuple[tuple[int, ...], tuple[int, ...],
                                                          tuple[int, ...]]:
    """strides, pads (begin..., end...), dilations of a Conv or pooling node, with auto_pad
    resolved; every refusal names the node and the attribute."""
    where = f"{cv.path}: {cv.where(node, idx)}"
    xs = cv.shapes[x]
    k = len(kernel)
    if len(xs) != 2 + k:
        raise RnngenError(f"{where}: input has shape {xs}, expected [1, C] and {k} spatial "
                          f"axes for a kernel of shape {list(kernel)}")
    if xs[0] != 1:
        raise UnsupportedModel(f"{where}: batch size {xs[0]}; rnngen compiles batch-1 models")
    if k not in (1, 2):
        raise UnsupportedModel(f"{where}: {k}-D window (kernel_shape {list(kernel)}); rnngen "
                               "compiles 1-D and 2-D convolution and pooling")

    def ints(name: str, default: int, n: int) -> tuple[int, ...]:
        v = [int(t) for t in a.get(name, [default] * n)]
        if len(v) != n:
            raise RnngenError(f"{where}: attribute {name}={v} has {len(v)} entries, expected "
                              f"{n}")
        return tuple(v)

    strides = ints("strides", 1, k)
    dilations = ints("dilations", 1, k)
    if any(v < 1 for v in strides):
        raise RnngenError(f"{where}: attribute strides={list(strides)} must be positive")
    if any(v < 1 for v in dilations):
        raise RnngenError(f"{where}: attribute dilations={list(dilations)} must be positive")
    if any(v < 1 for v in kernel):
        raise RnngenError(f"{where}: kernel_shape {list(kernel)} must be positive")
    auto = a.get("auto_pad", "NOTSET")
    auto = auto.decode() if isinstance(auto, bytes) else str(auto)
    if auto in ("NOTSET", ""):
        pads = ints("pads", 0, 2 * k)
        if any(v < 0 for v in pads):
            raise UnsupportedModel(f"{where}: attribute pads={list(pads)} is negative")
    elif auto == "VALID":
        pads = (0,) * (2 * k)
    elif auto in ("SAME_UPPER", "SAME_LOWER"):
        begin, end = [], []
        for i in range(k):
            n_in = xs[2 + i]
            out = -(-n_in // strides[i])
            total = max(0, (out - 1) * strides[i] + (kernel[i] - 1) * dilations[i] + 1 - n_in)
            lo = total // 2 if auto == "SAME_UPPER" else total - total // 2
            begin.append(lo)
            end.append(total - lo)
        pads = tuple(begin + end)
    else:
        raise RnngenError(f"{where}: attribute auto_pad='{auto}' is not NOTSET, VALID, "
                          "SAME_UPPER or SAME_LOWER")
    if pool:
        for i in range(k):
            if max(pads[i], pads[k + i]) >= (kernel[i] - 1) * dilations[i] + 1:
                raise RnngenError(f"{where}: attribute pads={list(pads)}: padding as wide as "
                                  "the window on a spatial axis (a window of padding only)")
    return strides, pads, dilations


def _lower_conv(cv: _Converter, node: Any, idx: int, a: dict[str, Any]) -> None:
    where = f"{cv.path}: {cv.where(node, idx)}"
    x = node.input[0]
    if x in cv.consts:
        raise UnsupportedModel(f"{where}: input X is a constant")
    if len(node.input) < 2 or not node.input[1]:
        raise RnngenError(f"{where}: input W is missing")
    if node.input[1] not in cv.consts:
        raise UnsupportedModel(f"{where}: input W ('{node.input[1]}') is computed at run time "
                               "(a dynamic kernel); rnngen compiles convolutions with constant "
                               "weights")
    W = np.asarray(cv.consts[node.input[1]], F32)
    B = cv.need_const(node, idx, 2, "B")
    if W.ndim < 3:
        raise RnngenError(f"{where}: W has shape {W.shape}, expected [M, C/group, kernel...]")
    kernel = tuple(int(d) for d in W.shape[2:])
    if "kernel_shape" in a and tuple(int(v) for v in a["kernel_shape"]) != kernel:
        raise RnngenError(f"{where}: attribute kernel_shape={list(a['kernel_shape'])} does not "
                          f"match W of shape {list(W.shape)}")
    strides, pads, dil = _window(cv, node, idx, a, x, kernel, pool=False)
    group = int(a.get("group", 1))
    C, M = cv.shapes[x][1], W.shape[0]
    if group < 1 or C % group or M % group:
        raise RnngenError(f"{where}: attribute group={group} does not divide the {C} input "
                          f"channels and the {M} output channels")
    if W.shape[1] * group != C:
        raise RnngenError(f"{where}: W has shape {list(W.shape)}: {W.shape[1]} channels per "
                          f"group x group {group} != the input's {C} channels")
    b = None
    if B is not None:
        b = np.asarray(B, F32).reshape(-1)
        if b.size != M:
            raise RnngenError(f"{where}: B has {b.size} values, expected {M}")
    cv.add(ir.Conv(_nm(cv, node, idx), (x,), (node.output[0],), W=np.ascontiguousarray(W),
                   b=b, strides=strides, pads=pads, dilations=dil, group=group))


def _lower_pool(cv: _Converter, node: Any, idx: int, a: dict[str, Any]) -> None:
    where = f"{cv.path}: {cv.where(node, idx)}"
    x = node.input[0]
    if len(node.output) > 1 and node.output[1]:
        raise UnsupportedModel(f"{where}: the Indices output of MaxPool")
    if "kernel_shape" not in a:
        raise RnngenError(f"{where}: attribute kernel_shape is missing")
    kernel = tuple(int(v) for v in a["kernel_shape"])
    if int(a.get("storage_order", 0)) != 0:
        raise UnsupportedModel(f"{where}: attribute storage_order="
                               f"{a.get('storage_order')} (only used by the Indices output)")
    strides, pads, dil = _window(cv, node, idx, a, x, kernel, pool=True)
    xs = cv.shapes[x]
    if int(a.get("ceil_mode", 0)):
        k = len(kernel)
        for i in range(k):
            span = (kernel[i] - 1) * dil[i] + 1
            num = xs[2 + i] + pads[i] + pads[k + i] - span
            if num % strides[i]:
                raise UnsupportedModel(
                    f"{where}: attribute ceil_mode=1 adds a partial window on spatial axis {i}; "
                    "rnngen compiles floor mode (export with ceil_mode=False or pad the input)")
    kind = "max" if node.op_type == "MaxPool" else "avg"
    cip = bool(int(a.get("count_include_pad", 0))) if kind == "avg" else False
    cv.add(ir.Pool(_nm(cv, node, idx), (x,), (node.output[0],), kind=kind, kernel=kernel,
                   strides=strides, pads=pads, dilations=dil, count_include_pad=cip))


def _reduce_chain(cv: _Converter, name: str, fn: str, x: str, axes: list[int], keepdims: bool,
                  out: str) -> None:
    """Reduce over `axes`: one ir.Reduce per run of contiguous axes (kept as size 1), then a
    View without them unless keepdims."""
    s = cv.shape_of(x)
    runs: list[list[int]] = []
    for ax in sorted(set(axes)):
        if runs and runs[-1][-1] == ax - 1:
            runs[-1].append(ax)
        else:
            runs.append([ax])
    kept = tuple(1 if i in axes else d for i, d in enumerate(s))
    final = kept if keepdims else tuple(d for i, d in enumerate(s) if i not in axes)
    cur = x
    for k, run in enumerate(runs):
        last = k == len(runs) - 1
        dst = out if last and final == kept else cv.fresh(f"{out}_r{k}")
        cv.add(ir.Reduce(name if k == 0 else f"{name}_{k}", (cur,), (dst,), fn=fn,
                         first=run[0], last=run[-1]))
        cur = dst
    if cur != out:
        cv.add(ir.View(name + "_view", (cur,), (out,), final))


_REDUCE_FN = {"ReduceSum": "sum", "ReduceMean": "mean", "ReduceMax": "max"}


def _lower_reduce(cv: _Converter, node: Any, idx: int, a: dict[str, Any]) -> None:
    where = f"{cv.path}: {cv.where(node, idx)}"
    x = node.input[0]
    r = len(cv.shapes[x])
    keepdims = bool(int(a.get("keepdims", 1)))
    # axes: an attribute before opset 18 (ReduceSum: before 13), an input since
    if "axes" in a:
        raw = [int(v) for v in a["axes"]]
    elif len(node.input) > 1 and node.input[1]:
        raw = [int(v) for v in np.asarray(cv.need_const(node, idx, 1, "axes")).reshape(-1)]
    else:
        raw = []
    if not raw:
        if int(a.get("noop_with_empty_axes", 0)):
            _view(cv, node, idx, cv.shapes[x])
            return
        raw = list(range(r))
    bad = [v for v in raw if not -r <= v < r]
    if bad:
        raise RnngenError(f"{where}: axes {raw}: axis {bad[0]} is out of range for rank {r}")
    axes = sorted({v % r for v in raw})
    _reduce_chain(cv, _nm(cv, node, idx), _REDUCE_FN[node.op_type], x, axes, keepdims,
                  node.output[0])


def _lower_global_pool(cv: _Converter, node: Any, idx: int, a: dict[str, Any]) -> None:
    x = node.input[0]
    r = len(cv.shapes[x])
    if r < 3:
        raise RnngenError(f"{cv.path}: {cv.where(node, idx)}: input has shape {cv.shapes[x]}, "
                          "expected [1, C, spatial...]")
    fn = "mean" if node.op_type == "GlobalAveragePool" else "max"
    _reduce_chain(cv, _nm(cv, node, idx), fn, x, list(range(2, r)), True, node.output[0])


def _lower_batchnorm(cv: _Converter, node: Any, idx: int, a: dict[str, Any]) -> None:
    where = f"{cv.path}: {cv.where(node, idx)}"
    x = node.input[0]
    if int(a.get("training_mode", 0)) or (len(node.output) > 1 and any(node.output[1:])):
        raise UnsupportedModel(f"{where}: attribute training_mode=1 (running statistics "
                               "outputs); export the model in eval mode")
    s = cv.shapes[x]
    if len(s) < 2:
        raise RnngenError(f"{where}: input has shape {s}, expected [N, C, ...]")
    C = s[1]
    arrs = []
    for pos, what in ((1, "scale"), (2, "B"), (3, "input_mean"), (4, "input_var")):
        v = cv.need_const(node, idx, pos, what)
        if v is None:
            raise RnngenError(f"{where}: input {what} is missing")
        v = np.asarray(v, np.float64).reshape(-1)
        if v.size != C:
            raise RnngenError(f"{where}: input {what} has {v.size} values for {C} channels")
        arrs.append(v)
    gamma, beta, mean, var = arrs
    eps = float(a.get("epsilon", 1e-5))
    if np.any(var + eps <= 0):
        raise RnngenError(f"{where}: input_var + epsilon is not positive")
    scale = gamma / np.sqrt(var + eps)
    shift = beta - mean * scale
    cv.add(ir.ChannelAffine(_nm(cv, node, idx), (x,), (node.output[0],), axis=1,
                            scale=scale.astype(F32), shift=shift.astype(F32)))


def _lower_layernorm(cv: _Converter, node: Any, idx: int, a: dict[str, Any]) -> None:
    where = f"{cv.path}: {cv.where(node, idx)}"
    x = node.input[0]
    if len(node.output) > 1 and any(node.output[1:]):
        raise UnsupportedModel(f"{where}: the Mean / InvStdDev outputs")
    s = cv.shapes[x]
    r = len(s)
    axis = int(a.get("axis", -1))
    if not -r <= axis < r:
        raise RnngenError(f"{where}: attribute axis={axis} is out of range for rank {r}")
    axis %= r
    block = tuple(s[axis:])
    parts = []
    for pos, what, default in ((1, "Scale", 1.0), (2, "B", 0.0)):
        v = cv.need_const(node, idx, pos, what)
        if v is None:
            if pos == 1:
                raise RnngenError(f"{where}: input Scale is missing")
            v = np.full(block, default, F32)
        try:
            v = np.broadcast_to(np.asarray(v, F32), block)
        except ValueError:
            raise RnngenError(f"{where}: input {what} of shape {np.shape(v)} does not broadcast "
                              f"to the normalized shape {list(block)}") from None
        parts.append(np.ascontiguousarray(v).reshape(-1))
    cv.add(ir.LayerNorm(_nm(cv, node, idx), (x,), (node.output[0],), axis=axis,
                        epsilon=float(a.get("epsilon", 1e-5)), scale=parts[0], bias=parts[1]))


def _lower_instancenorm(cv: _Converter, node: Any, idx: int, a: dict[str, Any]) -> None:
    """InstanceNormalization: each channel normalized over the spatial axes, then times its
    scale plus its bias: a LayerNorm over axes 2.. (unit scale, zero bias) followed by the
    per-channel scale and shift."""
    where = f"{cv.path}: {cv.where(node, idx)}"
    x = node.input[0]
    s = cv.shapes[x]
    if len(s) < 3 or s[0] != 1:
        raise RnngenError(f"{where}: input has shape {s}, expected [1, C, spatial...]")
    C = s[1]
    vals = []
    for pos, what in ((1, "scale"), (2, "B")):
        v = cv.need_const(node, idx, pos, what)
        if v is None:
            raise RnngenError(f"{where}: input {what} is missing")
        v = np.asarray(v, F32).reshape(-1)
        if v.size != C:
            raise RnngenError(f"{where}: input {what} has {v.size} values for {C} channels")
        vals.append(v)
    n = math.prod(s[2:])
    name = _nm(cv, node, idx)
    t = cv.fresh(node.output[0] + "_norm")
    cv.add(ir.LayerNorm(name, (x,), (t,), axis=2, epsilon=float(a.get("epsilon", 1e-5)),
                        scale=np.ones(n, F32), bias=np.zeros(n, F32),
                        source_op="InstanceNormalization"))
    cv.add(ir.ChannelAffine(name + "_affine", (t,), (node.output[0],), axis=1,
                            scale=vals[0], shift=vals[1]))


def _lower_expand(cv: _Converter, node: Any, idx: int, a: dict[str, Any]) -> None:
    """Expand of a run-time tensor by a constant shape: NumPy broadcasting, lowered to an Add
    of zeros that have a size only along the axes the expansion makes (x + 0 is x exactly)."""
    where = f"{cv.path}: {cv.where(node, idx)}"
    x = node.input[0]
    target = [int(v) for v in np.asarray(cv.need_const(node, idx, 1, "shape")).reshape(-1)]
    s = cv.shapes[x]
    try:
        out = tuple(int(d) for d in np.broadcast_shapes(tuple(s), tuple(target)))
    except ValueError:
        raise RnngenError(f"{where}: input of shape {list(s)} does not broadcast to "
                          f"{target}") from None
    if out == tuple(s):
        _view(cv, node, idx, s)
        return
    limits.check_elements(where, out, "the output")
    xs = (1,) * (len(out) - len(s)) + tuple(s)
    zshape = tuple(o if d == 1 and o != 1 else 1 for d, o in zip(xs, out))
    z = cv.fresh(node.output[0] + "_zeros")
    cv.ir_consts[z] = np.zeros(zshape, F32)
    cv.add(ir.Binary(_nm(cv, node, idx), (x, z), (node.output[0],), fn="Add"))


def _lower_pad(cv: _Converter, node: Any, idx: int, a: dict[str, Any]) -> None:
    where = f"{cv.path}: {cv.where(node, idx)}"
    x = node.input[0]
    s = cv.shapes[x]
    r = len(s)
    mode = a.get("mode", "constant")
    mode = mode.decode() if isinstance(mode, bytes) else str(mode)
    if mode != "constant":
        raise UnsupportedModel(f"{where}: attribute mode='{mode}'; rnngen compiles Pad in "
                               "constant mode")
    if cv.opset < 11:
        raw = [int(v) for v in a.get("pads", [])]
        value = float(a.get("value", 0.0))
        axes = list(range(r))
    else:
        raw = [int(v) for v in np.asarray(cv.need_const(node, idx, 1, "pads")).reshape(-1)]
        cval = cv.need_const(node, idx, 2, "constant_value")
        value = (0.0 if cval is None or np.size(cval) == 0
                 else float(np.asarray(cval).reshape(-1)[0]))
        ax = cv.need_const(node, idx, 3, "axes")
        axes = list(range(r)) if ax is None else [int(v) % r for v in np.asarray(ax).reshape(-1)]
    if len(raw) != 2 * len(axes):
        raise RnngenError(f"{where}: pads {raw} has {len(raw)} entries for {len(axes)} axes")
    if any(v < 0 for v in raw):
        raise UnsupportedModel(f"{where}: negative pads {raw} (cropping)")
    pads = [0] * (2 * r)
    for i, ax in enumerate(axes):
        pads[ax], pads[r + ax] = raw[i], raw[len(axes) + i]
    if not np.isfinite(value):
        raise RnngenError(f"{where}: constant_value {value} is not finite")
    if not any(pads):
        _view(cv, node, idx, s)
        return
    cv.add(ir.Pad(_nm(cv, node, idx), (x,), (node.output[0],), pads=tuple(pads),
                  value=value))


def _lower_clip(cv: _Converter, node: Any, idx: int, a: dict[str, Any]) -> None:
    where = f"{cv.path}: {cv.where(node, idx)}"
    if cv.opset < 11:
        lo, hi = float(a.get("min", -_FLT_MAX)), float(a.get("max", _FLT_MAX))
    else:
        vals = []
        for pos, what, default in ((1, "min", -_FLT_MAX), (2, "max", _FLT_MAX)):
            v = cv.need_const(node, idx, pos, what)
            vals.append(default if v is None else float(np.asarray(v).reshape(-1)[0]))
        lo, hi = vals
    lo, hi = max(lo, -_FLT_MAX), min(hi, _FLT_MAX)
    if not lo <= hi:
        raise RnngenError(f"{where}: min {lo} is greater than max {hi}")
    cv.add(ir.Unary(_nm(cv, node, idx), (node.input[0],), (node.output[0],),
                    act=ir.Activation("Clip", lo, hi)))


def _lower_hardswish(cv: _Converter, node: Any, idx: int, a: dict[str, Any]) -> None:
    cv.add(ir.Unary(_nm(cv, node, idx), (node.input[0],), (node.output[0],),
                    act=ir.Activation("HardSwish")))
def _lower_reverse_sequence(cv: _Converter, node: Any, idx: int, a: dict[str, Any]) -> None:
    """ReverseSequence of the whole length (what go_backwards and Bidirectional export):
    a Slice with step -1 along the time axis."""
    where = f"{cv.path}: {cv.where(node, idx)}"
    x = node.input[0]
    s = cv.shapes[x]
    r = len(s)
    tax, bax = int(a.get("time_axis", 0)), int(a.get("batch_axis", 1))
    if not (-r <= tax < r and -r <= bax < r) or tax % r == bax % r:
        raise RnngenError(f"{where}: attributes time_axis={tax}, batch_axis={bax} do not name "
                          f"two axes of a rank-{r} input")
    tax %= r
    lens = np.asarray(cv.need_const(node, idx, 1, "sequence_lens")).reshape(-1)
    if lens.size != s[bax % r] or np.any(lens != s[tax]):
        raise UnsupportedModel(
            f"{where}: sequence_lens {lens.tolist()} reverse less than the whole sequence of "
            f"{s[tax]} steps; rnngen reverses whole sequences only (export without masking)")
    starts, steps, counts = [0] * r, [1] * r, list(s)
    starts[tax], steps[tax] = s[tax] - 1, -1
    cv.add(ir.Slice(_nm(cv, node, idx), (x,), (node.output[0],), tuple(starts), tuple(steps),
                    tuple(counts)))


def _lower_split(cv: _Converter, node: Any, idx: int, a: dict[str, Any]) -> None:
    """Split into pieces along one axis: one Slice per output."""
    where = f"{cv.path}: {cv.where(node, idx)}"
    x = node.input[0]
    s = cv.shapes[x]
    r = len(s)
    axis = int(a.get("axis", 0))
    if not -r <= axis < r:
        raise RnngenError(f"{where}: attribute axis={axis} is out of range for rank {r}")
    axis %= r
    k = len(node.output)
    if len(node.input) > 1 and node.input[1]:
        sizes = [int(v) for v in np.asarray(cv.need_const(node, idx, 1, "split")).reshape(-1)]
    elif "split" in a:
        sizes = [int(v) for v in a["split"]]
    else:
        n = int(a.get("num_outputs", k))
        step = -(-s[axis] // n)
        sizes = [min(step, s[axis] - i * step) for i in range(n)]
    if len(sizes) != k or any(v < 1 for v in sizes) or sum(sizes) != s[axis]:
        raise RnngenError(f"{where}: split sizes {sizes} do not cut axis {axis} of size "
                          f"{s[axis]} into {k} pieces")
    start = 0
    for j, (o, n) in enumerate(zip(node.output, sizes)):
        if o:
            starts, counts = [0] * r, list(s)
            starts[axis], counts[axis] = start, n
            cv.add(ir.Slice(f"{_nm(cv, node, idx)}_{j}", (x,), (o,), tuple(starts), (1,) * r,
                            tuple(counts)))
        start += n


_LOWER: dict[str, Callable[[_Converter, Any, int, dict[str, Any]], None]] = {
    "LSTM": _lower_recurrent, "GRU": _lower_recurrent, "RNN": _lower_recurrent,
    "Gemm": _lower_gemm, "MatMul": _lower_matmul,
    "Add": _lower_binary, "Sub": _lower_binary, "Mul": _lower_binary, "Div": _lower_binary,
    "Relu": _lower_unary, "Sigmoid": _lower_unary, "Tanh": _lower_unary,
    "LeakyRelu": _lower_unary, "Elu": _lower_unary, "HardSigmoid": _lower_unary,
    "Softsign": _lower_unary, "Softplus": _lower_unary,
    "Softmax": _lower_softmax, "LogSoftmax": _lower_softmax,
    "Transpose": _lower_transpose, "Reshape": _lower_reshape, "Squeeze": _lower_squeeze,
    "Unsqueeze": _lower_unsqueeze, "Flatten": _lower_flatten, "Identity": _lower_identity,
    "Dropout": _lower_identity, "Cast": _lower_identity, "Gather": _lower_gather,
    "Slice": _lower_slice, "Concat": _lower_concat,
    "Conv": _lower_conv, "MaxPool": _lower_pool, "AveragePool": _lower_pool,
    "GlobalAveragePool": _lower_global_pool, "GlobalMaxPool": _lower_global_pool,
    "ReduceSum": _lower_reduce, "ReduceMean": _lower_reduce, "ReduceMax": _lower_reduce,
    "BatchNormalization": _lower_batchnorm, "LayerNormalization": _lower_layernorm,
    "InstanceNormalization": _lower_instancenorm, "Expand": _lower_expand,
    "Pad": _lower_pad, "Clip": _lower_clip, "HardSwish": _lower_hardswish,
    "ReverseSequence": _lower_reverse_sequence,
    "Split": _lower_split,
}

SUPPORTED_OPS = sorted(_LOWER)
