"""`rnngen compress --eval`: accuracy of a model, dense or with compressed matrices
substituted, with rnngen's NumPy reference on labelled sequences."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from . import ir
from .errors import RnngenError

F32 = np.float32


def _load_eval_data(path: Path, option: str = "--eval") -> tuple[np.ndarray, np.ndarray]:
    """--eval (and --finetune, --val) data: an .npz with x [N, T, I] (or [N, T, 1, I]) float
    and y [N] integer labels."""
    from . import npyio

    data = npyio.load(path, f"{option} data")
    if not isinstance(data, dict):
        raise RnngenError(f"{path}: {option} needs an .npz archive with arrays 'x' and 'y'")
    missing = [k for k in ("x", "y") if k not in data]
    if missing:
        raise RnngenError(f"{path}: no array '{missing[0]}' ({option} needs x [N, T, I] "
                          f"inputs and y [N] integer labels; has {', '.join(data)})")
    x, y = data["x"], data["y"]
    if x.dtype.kind not in "fiu" or x.ndim not in (3, 4) or (x.ndim == 4 and x.shape[2] != 1):
        raise RnngenError(f"{path}: x has shape {x.shape} and dtype {x.dtype}; expected numbers "
                          "of shape [N, T, I] or [N, T, 1, I]")
    if y.dtype.kind not in "iu" or y.shape != (x.shape[0],):
        raise RnngenError(f"{path}: y has shape {y.shape} and dtype {y.dtype}; expected "
                          f"{x.shape[0]} integer labels, shape [{x.shape[0]}]")
    if x.shape[0] < 1 or x.shape[1] < 1:
        raise RnngenError(f"{path}: x holds no sequences (shape {x.shape})")
    if np.any(y < 0):
        raise RnngenError(f"{path}: y has negative labels")
    x = x.astype(F32)
    if not np.all(np.isfinite(x)):
        raise RnngenError(f"{path}: x contains NaN or Inf")
    return x.reshape(x.shape[0], x.shape[1], x.shape[-1]), y.astype(np.int64)


def _substitute(g: ir.Graph, rep: dict[str, dict[tuple[int, str], ir.Matrix]]) -> ir.Graph:
    nodes = []
    found = set()
    for n in g.nodes:
        if isinstance(n, ir.Recurrent) and n.name in rep:
            r = rep[n.name]
            found.add(n.name)
            dirs = tuple(replace(cd, W=r.get((d, "W"), cd.W), R=r.get((d, "R"), cd.R))
                         for d, cd in enumerate(n.directions))
            n = replace(n, directions=dirs)
        nodes.append(n)
    if found != set(rep):
        raise RnngenError(f"internal error: recurrent layers {sorted(set(rep) - found)} not "
                          "found in the compiled graph")
    return g.replace(nodes=tuple(nodes), step=None)


def accuracy(g: ir.Graph, x: np.ndarray, y: np.ndarray, where: str,
             what: str = "") -> float:
    """Share of sequences whose argmax of the last score vector of the first output (the
    output read as [-1, C]: the last time step, or the only row) equals the label."""
    from . import reference

    shape = g.shapes[g.input]
    out = g.outputs[0]
    C = int(g.shapes[out][-1]) if g.shapes[out] else 1
    if int(y.max()) >= C:
        raise RnngenError(f"{where}: label {int(y.max())} but output '{out}' has {C} scores")
    from .progress import bar

    show = bar()  # a progress bar on a terminal: evaluating a large model takes a while
    hits = 0
    for k, (xk, yk) in enumerate(zip(x, y)):
        res = reference.run(g, xk.reshape(shape))[out]
        hits += int(np.argmax(res.reshape(-1, C)[-1]) == yk)
        if show is not None:
            show(f"eval {what}", k + 1, len(y))
    return hits / len(y)


def evaluate(model: Path, data: Path, x: np.ndarray, y: np.ndarray,
             rep: dict[str, dict[tuple[int, str], ir.Matrix]]) -> dict[str, Any]:
    """Accuracy of rnngen's reference on the model before and after compression (the
    compressed matrices replace the dense ones in the compiled graph)."""
    from . import pipeline

    T = int(x.shape[1])
    g = pipeline.compile_model(model, pipeline.Options(seq_len=T))
    shape = tuple(g.shapes[g.input])
    if tuple(d for d in shape if d != 1) != tuple(d for d in x.shape[1:] if d != 1):
        raise RnngenError(f"{data}: x has sequences of shape {tuple(x.shape[1:])} (T, I); the "
                          f"model's input '{g.input}' is {shape}")
    out = g.outputs[0]
    before = accuracy(g, x, y, str(data), "before")
    after = accuracy(_substitute(g, rep), x, y, str(data), "after")
    return dict(data=str(data), examples=len(y), seq_len=T, output=out,
                last_step=bool(math.prod(g.shapes[out][:-1]) > 1),
                accuracy_before=before, accuracy_after=after)
