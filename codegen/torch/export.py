"""rnngen.torch.export: a model with structured recurrent weights to an ONNX or .npz file
that holds the factors, not their dense product, in the conventions of
docs/compression.md (written by the same code as `rnngen compress`).

ONNX: the model goes through torch.onnx.export (TorchScript exporter) with the dense
products, then each exported LSTM / GRU / RNN node whose W or R is structured gets the
factor subgraphs in place of the exporter's weights (nodes are matched to the torch layers
by their values). The file runs in onnxruntime; `rnngen build` compiles the factors.

.npz: `model` is what rnngen.npz.from_torch takes (an nn.Sequential or a list of the
layers forward() applies, in order), and may hold FastRNN / FastGRNN / SRU.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
import torch
from torch import nn

from .. import cells, formats, ir
from ..errors import RnngenError
from .structure import ONNX_FROM_TORCH, StructuredMatrix, _cell, structured_layers, weight_names

F32 = np.float32


def _onnx_dense(m: nn.Module, cell: str, pname: str) -> np.ndarray:
    """A torch recurrent weight in ONNX gate order."""
    w = getattr(m, pname).detach().cpu().numpy().astype(F32)
    if cell not in ONNX_FROM_TORCH:
        return w
    H = w.shape[0] // cells.of(cell).gates
    return np.concatenate([w[g * H:(g + 1) * H] for g in ONNX_FROM_TORCH[cell]], axis=0)


def _onnx_vec(v: torch.Tensor | None, cell: str) -> np.ndarray | None:
    if v is None:
        return None
    a = v.detach().cpu().numpy().astype(F32)
    if cell not in ONNX_FROM_TORCH:
        return a
    H = a.shape[0] // cells.of(cell).gates
    return np.concatenate([a[g * H:(g + 1) * H] for g in ONNX_FROM_TORCH[cell]])


def structured_matrices(model: nn.Module) -> list[dict[str, Any]]:
    """Every structured recurrent weight: module name, cell, layer, direction, role (W or R)
    and the trained matrix as rnngen's IR (ONNX gate order)."""
    return [dict(module=name, cell=cell, layer=layer, direction=tag, role=role,
                 matrix=sm.to_ir(), plan=sm.plan)
            for name, _, cell, layer, tag, role, sm in structured_layers(model)]


def _layer_mats(m: nn.Module, cell: str, layer: int) -> dict[str, list[ir.Matrix]]:
    """Per role, the matrices of each direction of one layer: factors where structured."""
    from torch.nn.utils import parametrize

    out: dict[str, list[ir.Matrix]] = {"W": [], "R": []}
    for pname, k, tag, role in weight_names(m):
        if k != layer:
            continue
        if parametrize.is_parametrized(m, pname):
            sm = m.parametrizations[pname][0]
            assert isinstance(sm, StructuredMatrix)
            out[role].append(sm.to_ir())
        else:
            out[role].append(formats.as_matrix(_onnx_dense(m, cell, pname)))
    return out


@contextmanager
def dense_weights(model: nn.Module) -> Iterator[nn.Module]:
    """Within the block, every structured weight of `model` is a plain tensor holding the
    product (for torch.onnx.export), in eval mode; afterwards the same factors are back."""
    from torch.nn.utils import parametrize

    done = []
    training = model.training
    try:
        for _, m, _, _, _, _, sm in structured_layers(model):
            for pname, *_ in weight_names(m):
                if parametrize.is_parametrized(m, pname) and \
                        m.parametrizations[pname][0] is sm:
                    parametrize.remove_parametrizations(m, pname, leave_parametrized=True)
                    done.append((m, pname, sm))
        model.eval()
        yield model
    finally:
        for m, pname, sm in done:
            parametrize.register_parametrization(m, pname, sm, unsafe=True)
        model.train(training)


def _write_atomic(dst: Path, write: Any) -> None:
    from ..outputs import write_file

    write_file(dst, write)


def export(model: nn.Module | Sequence[nn.Module], example: torch.Tensor,
           path: str | os.PathLike[str], *, input_names: Sequence[str] = ("x",),
           output_names: Sequence[str] | None = None, opset_version: int | None = None,
           output: str = "sequence") -> Path:
    """Write `model` with its structured weights as factors to `path` (.onnx or .npz).

    example: one input batch (batch 1) as the model takes it. ONNX: input_names,
    output_names and opset_version go to torch.onnx.export. .npz: `model` is a
    Sequential or list of layers (rnngen.npz.from_torch), `output` "sequence" or "last"
    (rnngen.npz.save)."""
    p = Path(path)
    if p.suffix.lower() == ".npz":
        return _export_npz(model, example, p, output)
    if p.suffix.lower() != ".onnx":
        raise RnngenError(f"{p}: expected a .onnx or .npz file name")
    if not isinstance(model, nn.Module):
        model = nn.Sequential(*model)
    return _export_onnx(model, example, p, input_names, output_names, opset_version)


def _export_onnx(model: nn.Module, example: torch.Tensor, p: Path, input_names: Sequence[str],
                 output_names: Sequence[str] | None, opset: int | None) -> Path:
    import onnx

    from ..compress_onnx import _ConstEval, recurrent_inputs, write_factor_subgraphs

    groups: list[tuple[nn.Module, str, int, str]] = []  # module, cell, layer, label
    seen: set[tuple[int, int]] = set()
    for name, m, cell, layer, _, _, _ in structured_layers(model):
        if cell not in ("LSTM", "GRU", "RNN"):
            raise RnngenError(f"{p}: {cell} '{name}' has no ONNX operator; export to .npz")
        if (id(m), layer) not in seen:
            seen.add((id(m), layer))
            groups.append((m, cell, layer, f"{type(m).__name__} '{name}' layer {layer}"))
    with tempfile.TemporaryDirectory() as tmp, dense_weights(model):
        f = Path(tmp) / "dense.onnx"
        kwargs: dict[str, Any] = dict(dynamo=False, input_names=list(input_names))
        if output_names is not None:
            kwargs["output_names"] = list(output_names)
        if opset is not None:
            kwargs["opset_version"] = opset
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(model, (example,), str(f), **kwargs)
        om = onnx.load(str(f))
    ev = _ConstEval(om, p)
    edits = []
    todo = list(groups)
    for idx, node in enumerate(om.graph.node):
        if node.op_type not in ("LSTM", "GRU", "RNN") or not todo:
            continue
        where = f"{p}: {node.op_type} node '{node.name}'"
        W, R, D = recurrent_inputs(ev, node, where)
        for k, (m, cell, layer, label) in enumerate(todo):
            mats = _layer_mats(m, cell, layer)
            if cell != node.op_type or len(mats["W"]) != D:
                continue
            if all(_close(W[d], mats["W"][d]) and _close(R[d], mats["R"][d])
                   for d in range(D)):
                edits.append((idx, node.name or f"{cell}_{idx}", mats))
                del todo[k]
                break
    if todo:
        raise RnngenError(f"{p}: the ONNX export has no recurrent node for "
                          f"{todo[0][3]} (is it used in forward()?)")
    write_factor_subgraphs(om, p, edits)
    data = om.SerializeToString()
    _write_atomic(p, lambda fh: fh.write(data))
    return p


def _close(got: np.ndarray, m: ir.Matrix) -> bool:
    want = m.to_dense()
    return got.shape == want.shape and bool(np.allclose(got, want, rtol=1e-4, atol=1e-6))


def _flatten(model: Any) -> list[nn.Module]:
    if isinstance(model, (list, tuple)) or type(model).__name__ in ("Sequential", "ModuleList"):
        return [x for sub in model for x in _flatten(sub)]
    return [model]


def _export_npz(model: Any, example: torch.Tensor, p: Path, output: str) -> Path:
    from .. import npz
    from ..compress_npz import npz_entry

    def entry(mat: ir.Matrix) -> Any:
        return npz_entry(mat, "m", lambda name, arr: arr)

    layers: list[dict[str, Any]] = []
    for m in _flatten(model):
        cell = _cell(m)
        if cell is None:
            layers.extend(npz.from_torch(m))
            continue
        if hasattr(m, "npz_layer"):  # rnngen.torch's own modules: FastRNN, FastGRNN, SRU
            mats = _layer_mats(m, cell, 0)
            layers.append(m.npz_layer(*(entry(v[0]) for v in mats.values() if v)))
            continue
        if int(getattr(m, "proj_size", 0) or 0) > 0:
            raise RnngenError(f"{p}: {type(m).__name__} with proj_size is not supported")
        bidir = bool(m.bidirectional)
        direction = "bidirectional" if bidir else "forward"
        for k in range(int(m.num_layers)):
            mats = _layer_mats(m, cell, k)
            sfx = [f"_l{k}", f"_l{k}_reverse"] if bidir else [f"_l{k}"]
            b = {key: ([_onnx_vec(getattr(m, f"{key}{s}"), cell) for s in sfx]
                       if m.bias else None) for key in ("bias_ih", "bias_hh")}
            W = [entry(x) for x in mats["W"]]
            R = [entry(x) for x in mats["R"]]
            if cell == "LSTM":
                layers.append(npz.lstm(W, R, b["bias_ih"], b["bias_hh"], gate_order="onnx",
                                       direction=direction))
            elif cell == "GRU":
                layers.append(npz.gru(W, R, b["bias_ih"], b["bias_hh"], gate_order="onnx",
                                      linear_before_reset=True, direction=direction))
            else:
                layers.append(npz.rnn(W, R, b["bias_ih"], b["bias_hh"], direction=direction,
                                      nonlinearity="relu" if m.mode == "RNN_RELU" else "tanh"))
    x = example.detach().cpu().numpy()
    T = int(x.shape[0]) if x.ndim >= 2 else 1
    return npz.save(p, layers, input_size=int(x.shape[-1]), seq_len=T, output=output)
