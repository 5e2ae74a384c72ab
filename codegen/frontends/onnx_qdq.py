"""QDQ models (onnxruntime's quantize_static with QuantFormat.QDQ): QuantizeLinear /
DequantizeLinear pairs around activations, DequantizeLinear of int8 weights.

Before the ONNX frontend walks the graph, `strip` rewrites it in place:
- a QuantizeLinear of a run-time tensor x whose every reader is a DequantizeLinear with the
  same scale and zero point is a quantization of x, not a computation: the pair is removed
  (its readers read x) and the tensor's parameters are kept for --dtype int8
  (`Found.activations`: x -> (scale, zero point as int8)). A float build computes the float
  model (the pairs' rounding is not simulated).
- a DequantizeLinear of a constant int8 weight folds to float with the rest of the constants;
  `Found.weights` keeps its scale and zero point, by the folded tensor's name, so that an int8
  Linear layer can use the user's weight scales (`weight_rows`).
Anything else of the kind (an int8 tensor read by another operator, a run-time
DequantizeLinear, QOperator-format ops like QLinearMatMul) is refused naming the node.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import UnsupportedModel
from . import onnx_proto

_QUANT_OPS = ("QuantizeLinear", "DequantizeLinear")
# QOperator-format and integer ops of onnxruntime's other quantization format
QOPERATOR = ("QLinearMatMul", "QLinearConv", "QLinearAdd", "QLinearMul", "MatMulInteger",
             "ConvInteger", "DynamicQuantizeLinear", "DynamicQuantizeLSTM", "QGemm",
             "QLinearSigmoid", "QLinearSoftmax", "QLinearLeakyRelu", "QLinearConcat")


@dataclass
class Found:
    activations: dict[str, tuple[float, int]] = field(default_factory=dict)
    # folded weight tensor -> (scale array, zero point array, axis, element type name)
    weights: dict[str, tuple[np.ndarray, np.ndarray, int, str]] = field(default_factory=dict)
    pairs: int = 0


def _where(n: Any, k: int) -> str:
    return f"{n.op_type} node '{n.name or f'{n.op_type}_{k}'}'"


_WHAT_TO_DO = ("rnngen reads QDQ models: QuantizeLinear directly followed by DequantizeLinear "
               "on activations, DequantizeLinear of constant weights (onnxruntime "
               "quantize_static with quant_format=QuantFormat.QDQ); quantize the float model "
               "that way, or give rnngen the float model and --dtype int8")


def strip(model: Any, consts: dict[str, np.ndarray], path: Path) -> Found:
    """Remove the activation QDQ pairs from model.graph (in place); see the module doc."""
    g = model.graph
    found = Found()
    if not any(n.op_type in _QUANT_OPS or n.op_type in QOPERATOR for n in g.node):
        return found
    for k, n in enumerate(g.node):
        if n.op_type in QOPERATOR:
            raise UnsupportedModel(f"{path}: {_where(n, k)}: a QOperator-format quantized "
                                   f"operator; {_WHAT_TO_DO}")
    const = set(consts)
    for n in g.node:  # constant-ness: every input constant (Constant has none)
        if all(i in const for i in n.input if i):
            const.update(o for o in n.output if o)
    readers: dict[str, list[int]] = {}
    for k, n in enumerate(g.node):
        for i in set(n.input):
            readers.setdefault(i, []).append(k)
    outputs = {o.name for o in g.output}
    drop: set[int] = set()
    rename: dict[str, str] = {}
    keep_as_output: list[tuple[str, str]] = []  # (x, dq output that is a graph output)
    for k, n in enumerate(g.node):
        if n.op_type == "DequantizeLinear" and n.input[0] not in const and k not in drop:
            src = next((g.node[j] for j in range(k) if n.input[0] in g.node[j].output), None)
            if src is None or src.op_type != "QuantizeLinear":
                raise UnsupportedModel(
                    f"{path}: {_where(n, k)} dequantizes '{n.input[0]}', an integer tensor "
                    f"computed at run time that no QuantizeLinear made; {_WHAT_TO_DO}")
        if n.op_type != "QuantizeLinear" or n.input[0] in const:
            continue
        scale, zp, kind = _params(n, k, consts, path)
        q_out = n.output[0]
        if q_out in outputs:
            raise UnsupportedModel(f"{path}: {_where(n, k)}: its integer output '{q_out}' is a "
                                   f"model output; rnngen's outputs are float ({_WHAT_TO_DO})")
        users = readers.get(q_out, [])
        for j in users:
            u = g.node[j]
            if u.op_type != "DequantizeLinear":
                raise UnsupportedModel(
                    f"{path}: {_where(n, k)}: its integer output '{q_out}' is read by "
                    f"{_where(u, j)}, not by a DequantizeLinear; {_WHAT_TO_DO}")
            s2, z2, _ = _params(u, j, consts, path)
            if s2 != scale or z2 != zp:
                raise UnsupportedModel(
                    f"{path}: {_where(u, j)} dequantizes '{q_out}' with scale {s2} / zero "
                    f"point {z2}, its QuantizeLinear used {scale} / {zp}; rnngen reads pairs "
                    "with the same parameters")
        x = n.input[0]
        found.activations[x] = (scale, zp if kind == "int8" else zp - 128)
        found.pairs += 1
        drop.add(k)
        for j in users:
            drop.add(j)
            d_out = g.node[j].output[0]
            if d_out in outputs:
                keep_as_output.append((x, d_out))
            else:
                rename[d_out] = x
    if not drop:
        return found
    nodes = []
    for k, n in enumerate(g.node):
        if k in drop:
            continue
        for i, name in enumerate(n.input):
            while name in rename:
                name = rename[name]
            n.input[i] = name
        nodes.append(n)
    import onnx.helper as oh

    for x, out in keep_as_output:
        params = found.activations[x]
        while x in rename:
            x = rename[x]
        nodes.append(oh.make_node("Identity", [x], [out], name=f"{out}_qdq"))
        found.activations[out] = params
    del g.node[:]
    g.node.extend(_toposort(nodes))
    return found


def _toposort(nodes: list[Any]) -> list[Any]:
    """The Identity nodes for outputs go right after their producer (order stays valid)."""
    out: list[Any] = []
    pending = [n for n in nodes if n.op_type == "Identity" and n.name.endswith("_qdq")]
    rest = [n for n in nodes if n not in pending]
    for n in rest:
        out.append(n)
        for p in list(pending):
            if p.input[0] in n.output:
                out.append(p)
                pending.remove(p)
    return out + pending  # an Identity of a graph input


def _params(n: Any, k: int, consts: dict[str, np.ndarray], path: Path
            ) -> tuple[float, int, str]:
    """(scale, zero point, "int8" | "uint8") of an activation Q/DQ node: per tensor."""
    where = f"{path}: {_where(n, k)}"
    if len(n.input) < 2 or n.input[1] not in consts:
        raise UnsupportedModel(f"{where}: its scale is not a constant; {_WHAT_TO_DO}")
    s = np.asarray(consts[n.input[1]], np.float64)
    z = np.asarray(consts[n.input[2]]) if len(n.input) > 2 and n.input[2] else \
        np.zeros((), np.uint8)
    if len(n.input) > 2 and n.input[2] and n.input[2] not in consts:
        raise UnsupportedModel(f"{where}: its zero point is not a constant; {_WHAT_TO_DO}")
    a = onnx_proto.attrs(n)
    if s.size != 1 or z.size != 1:
        raise UnsupportedModel(f"{where}: per-axis quantization of an activation (scale of "
                               f"shape {list(s.shape)}); rnngen's int8 activations have one "
                               "scale and zero point per tensor (quantize with per_channel "
                               "for weights only)")
    if a.get("output_dtype", 0) not in (0, 2, 3) or z.dtype not in (np.int8, np.uint8):
        raise UnsupportedModel(f"{where}: zero point of type {z.dtype}; rnngen's int8 "
                               "activations are int8 or uint8 (QuantType.QInt8 / QUInt8)")
    scale = float(s.reshape(-1)[0])
    if not scale > 0 or not np.isfinite(scale):
        raise UnsupportedModel(f"{where}: scale {scale} is not a positive number")
    return scale, int(z.reshape(-1)[0]), "int8" if z.dtype == np.int8 else "uint8"


def weight_rows(found: Found, name: str, rows_axis: int, rows: int) -> np.ndarray | None:
    """The user's per-row scales of a weight folded from DequantizeLinear of int8 values
    (`rows_axis`: the constant's axis that becomes W's rows), when rnngen's symmetric
    per-row int8 can hold them: int8 values, zero point 0. None: re-derived."""
    w = found.weights.get(name)
    if w is None:
        return None
    scale, zp, axis, kind = w
    if kind != "int8" or np.any(zp != 0):
        return None
    scale = np.asarray(scale, np.float64).reshape(-1)
    if scale.size == 1:
        return np.full(rows, float(scale[0]))
    if axis != rows_axis or scale.size != rows:
        return None
    return scale
