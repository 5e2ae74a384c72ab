"""`rnngen compress` on .npz models: manifest entries of compressed matrices (each format's
.npz writer in formats/) and an independent decoder for the self-check."""

from __future__ import annotations

import copy
import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from . import cells, formats, ir
from .compress_fit import MatrixResult, _compress_direction_mats, _rkey, _select
from .errors import RnngenError

F32 = np.float32



_NOT_ARRAY_KEYS = {"type", "name", "format", "direction", "gate_order", "nonlinearity",
                   "activation", "output", "shape"}


def _refs(obj: Any, arrays: set[str], out: Counter | None = None) -> Counter:
    """How often each array name is referenced inside a manifest subtree."""
    out = Counter() if out is None else out
    if isinstance(obj, dict):
        for k, v in obj.items():
            if isinstance(v, str):
                if k not in _NOT_ARRAY_KEYS and v in arrays:
                    out[v] += 1
            else:
                _refs(v, arrays, out)
    elif isinstance(obj, list):
        for v in obj:
            _refs(v, arrays, out)
    return out


def npz_entry(m: ir.Matrix, path: str, put: Callable[[str, np.ndarray], str]) -> dict[str, Any]:
    """The manifest matrix entry of docs/compression.md ("In .npz") for m; put(name, array)
    stores an array and returns the name it is stored under."""
    return formats.npz_entry(m, path, put)


def npz_dense(entry: dict[str, Any], arrays: Any) -> np.ndarray:
    """The dense matrix a manifest matrix entry stands for, read by the conventions of
    docs/compression.md (a decoder independent of the frontend, for checks)."""
    return formats.npz_decode(entry, arrays, _NOT_ARRAY_KEYS)


def _compress_npz(src: Path, method: str, factor: float, tokens: list[str],
                  tune: Callable[[list[MatrixResult]], None] | None = None,
                  nearest: bool = False
                  ) -> tuple[Callable[[Any], None], list[MatrixResult], list[str]]:
    from .frontends import numpy as npzf
    from .npyio import NpzReader

    with NpzReader(src) as archive:  # every header checked before its data is read
        manifest = npzf.read_manifest(archive, src)
        arrays: dict[str, np.ndarray] = {k: archive.read(k) for k in archive.names
                                         if k != npzf.MANIFEST}
    # the frontend's checks, and the IR (gates in ONNX order); the sequence length does
    # not matter here
    g = npzf.parse(manifest, arrays, src, None if manifest.get("seq_len") else 1)
    layers = manifest["layers"]
    recs = [(i, lay) for i, lay in enumerate(layers) if lay.get("type") in npzf.CELLS]
    if not recs:
        raise RnngenError(f"{src}: no recurrent layer to compress")
    names = [lay.get("name") if lay.get("name") is not None else f"{lay['type']}{i}"
             for i, lay in recs]
    chosen = _select(names, tokens, src)
    irnodes = {n.name: n for n in g.nodes if isinstance(n, ir.Recurrent)}
    new = copy.deepcopy(manifest)
    names_before = set(arrays)
    total_refs = _refs(manifest, names_before)
    freed_refs: Counter = Counter()
    plans: list[tuple[int, dict[str, Any], ir.Recurrent, list[MatrixResult], bool]] = []
    results: list[MatrixResult] = []
    for k in chosen:
        i, lay = recs[k]
        node = irnodes[names[k]]
        per_dir = [(cd.W.to_dense(), cd.R.to_dense()) for cd in node.directions]
        res = _compress_direction_mats(src, node.cell, names[k], k, "layer", per_dir, method,
                                       factor, nearest)
        results += res
        reorder = cells.of(node.cell).gates > 1 and lay.get("gate_order", "onnx") != "onnx"
        for ent in lay["directions"]:
            _refs({key: ent[key] for key in ("W", _rkey(node.cell)) if key in ent}, names_before,
                  freed_refs)
            if reorder:
                _refs({key: ent.get(key) for key in ("b_ih", "b_hh")}, names_before, freed_refs)
        plans.append((i, lay, node, res, reorder))
    if tune is not None:
        tune(results)  # fine-tuning replaces the matrices of `results`
    freed = {n for n, c in freed_refs.items() if c == total_refs[n]}
    kept = {k: v for k, v in arrays.items() if k not in freed}
    added: dict[str, np.ndarray] = {}

    def put(name: str, arr: np.ndarray) -> str:
        base, j = name, 1
        while name in kept or name in added or name == npzf.MANIFEST:
            name, j = f"{base}_{j}", j + 1
        added[name] = np.ascontiguousarray(arr)
        return name

    for i, lay, node, res, reorder in plans:
        ent = new["layers"][i]
        D = node.num_directions
        for d, cd in enumerate(node.directions):
            prefix = f"layer{i}" + (f".{('fwd', 'bwd')[d]}" if D == 2 else "")
            dent = ent["directions"][d]
            for r in res:
                if r.direction == (("fwd", "bwd")[d] if D == 2 else ""):
                    dent[r.role] = npz_entry(r.matrix, f"{prefix}.{r.role}", put)
            if reorder:  # compressed matrices are stored in ONNX gate order, so the biases too
                for key, vec in (("b_ih", cd.wb), ("b_hh", cd.rb)):
                    if dent.get(key) is not None:
                        dent[key] = put(f"{prefix}.{key}", vec)
        if reorder:
            ent["gate_order"] = "onnx"
    out_arrays = {**kept, **added}
    # self-check: the entries decode to the compressed matrices
    for i, lay, node, res, reorder in plans:
        for r in res:
            d = 1 if r.direction == "bwd" else 0
            got = npz_dense(new["layers"][i]["directions"][d][r.role], out_arrays)
            if not np.allclose(got, r.matrix.to_dense(), rtol=1e-6, atol=1e-7):
                raise RnngenError(f"internal error: the .npz entry of {r.layer} {r.role} does "
                                  "not decode to the compressed matrix (please report it)")
    text = json.dumps(new)
    from .frontends.numpy import MANIFEST

    def payload(f: Any) -> None:
        np.savez(f, **{MANIFEST: np.array(text)}, **out_arrays)

    skipped = [names[k] for k in range(len(names)) if k not in chosen]
    return payload, results, skipped


# --------------------------------------------------------------------------- evaluation
