"""Fine-tuning of projected factors: what `rnngen compress --finetune` runs after the
projection. The model (any graph rnngen reads) runs in PyTorch through TorchGraph with the
compressed recurrent matrices as trainable blocks; everything else stays as it is.

Loss: cross entropy of the last score vector of the model's first output (as --eval reads
it: softmax outputs are probabilities, log-softmax outputs log-probabilities, anything
else logits). With distill, half of it is replaced by the KL divergence from the dense
model's predictions (Hinton et al. 2015, temperature 1). Adam, mini-batches of `batch`
sequences in a seeded order, one thread: the same seed gives the same factors. After
every epoch the accuracy on the validation split (the training data without one), ties
broken by the lower cross entropy there, decides early stopping (`patience` epochs without
improvement) and which epoch's factors are kept: small validation splits saturate (every
sequence right), and the first epoch to reach that is rarely the best one.
CSR is pruned gradually (Zhu & Gupta 2017) from the dense weights over the first half of
the epochs, then trained with its final mask; only epochs after that count as candidates.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from .. import ir
from ..compress_model import Finetune
from ..errors import RnngenError
from .blocks import from_ir
from .graph import TorchGraph, matrix_key
from .structure import GradualPruning

# the settings of `compress --finetune`, defined beside the command (no torch needed there)
Options = Finetune


def _score_kind(g: ir.Graph) -> str:
    out = g.outputs[0]
    prod = {o: n for n in g.nodes for o in n.outputs if o}
    n = prod.get(out)
    while isinstance(n, ir.View) or (isinstance(n, (ir.Transpose, ir.Slice)) and n.inputs):
        n = prod.get(n.inputs[0])
    if isinstance(n, ir.Softmax):
        return "logprob" if n.log else "prob"
    return "logits"


def _log_probs(g: ir.Graph, out: torch.Tensor, kind: str) -> torch.Tensor:
    C = int(g.shapes[g.outputs[0]][-1])
    s = out.reshape(out.shape[0], -1, C)[:, -1]
    if kind == "prob":
        return torch.log(torch.clamp(s, min=1e-12))
    if kind == "logprob":
        return s
    return torch.log_softmax(s, dim=-1)


def check_data(g: ir.Graph, path: str, x: np.ndarray, y: np.ndarray) -> None:
    """Labelled sequences must fit the model: one sequence of the input's shape each, labels
    below the number of scores."""
    shape = tuple(g.shapes[g.input])
    if tuple(d for d in shape if d != 1) != tuple(d for d in x.shape[1:] if d != 1):
        raise RnngenError(f"{path}: x has sequences of shape {tuple(x.shape[1:])} (T, I); the "
                          f"model's input '{g.input}' is {shape}")
    out = g.outputs[0]
    C = int(g.shapes[out][-1]) if g.shapes[out] else 1
    if int(y.max()) >= C:
        raise RnngenError(f"{path}: label {int(y.max())} is out of range: output '{out}' has "
                          f"{C} scores (labels 0..{C - 1})")


def accuracy(tg: Any, x: torch.Tensor, y: torch.Tensor, g: ir.Graph | None = None,
             batch: int = 256) -> float:
    """Share of argmax hits of `tg` (a TorchGraph, or QuantAware with its graph `g`)."""
    return evaluate(tg, x, y, g, batch)[0]


def evaluate(tg: Any, x: torch.Tensor, y: torch.Tensor, g: ir.Graph | None = None,
             batch: int = 256, kind: str = "logits") -> tuple[float, float]:
    """(share of argmax hits, mean cross entropy) of `tg` on (x, y)."""
    g = tg.g if g is None else g
    hits, loss = 0, 0.0
    with torch.no_grad():
        for k in range(0, x.shape[0], batch):
            lp = _log_probs(g, tg(x[k:k + batch])[g.outputs[0]], kind)
            hits += int((lp.argmax(-1) == y[k:k + batch]).sum())
            loss += float(torch.nn.functional.nll_loss(lp, y[k:k + batch], reduction="sum"))
    n = max(1, x.shape[0])
    return hits / n, loss / n


def finetune(g: ir.Graph, results: list[Any], x: np.ndarray, y: np.ndarray,
             xv: np.ndarray | None, yv: np.ndarray | None, opts: Options,
             log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Train the matrices of `results` (compress_fit.MatrixResult, projected) on (x, y);
    replace each result's matrix by the trained one. Returns the report."""
    tty = sys.stderr.isatty()
    if log is None:
        def log(s: str) -> None:
            if opts.progress and (tty or not s.startswith("\r")):
                sys.stderr.write(s if tty else s.lstrip(" ").replace("\n", "") + "\n")
                sys.stderr.flush()

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _train(g, results, x, y, xv, yv, opts, log, tty)
    finally:
        torch.set_num_threads(threads)


def _train(g: ir.Graph, results: list[Any], x: np.ndarray, y: np.ndarray,
           xv: np.ndarray | None, yv: np.ndarray | None, opts: Options,
           log: Callable[[str], None], tty: bool) -> dict[str, Any]:
    torch.manual_seed(opts.seed)
    shape = tuple(g.shapes[g.input])
    X = torch.from_numpy(x.reshape((len(x),) + shape))
    Y = torch.from_numpy(y)
    has_val = xv is not None and yv is not None
    Xv = torch.from_numpy(xv.reshape((len(xv),) + shape)) if has_val else X
    Yv = torch.from_numpy(yv) if has_val else Y
    blocks = {}
    for r in results:
        d = 1 if r.direction == "bwd" else 0
        role = "W" if r.role == "W" else "R"
        blocks[matrix_key(r.layer, d, role)] = from_ir(
            r.matrix, r.gates, r.plan.nnz if r.plan.method == "csr" else None, r.dense)
    dense = TorchGraph(g)
    model = TorchGraph(g, blocks)
    kind = _score_kind(g)
    acc_dense = accuracy(dense, Xv, Yv)
    acc_proj = accuracy(model, Xv, Yv)
    run: Any = model
    if opts.qat:  # forward through the int8 reference, gradients of the float model
        from .qat import QuantAware

        run = QuantAware(model, x[:64].reshape((min(64, len(x)),) + shape), opts.precision)
    teacher = None
    if opts.distill:
        with torch.no_grad():
            teacher = torch.cat([_log_probs(g, dense(X[k:k + 256])[g.outputs[0]], kind)
                                 for k in range(0, len(X), 256)])
    params = [p for p in model.parameters() if p.requires_grad]
    optim = torch.optim.Adam(params, lr=opts.lr)
    steps_per_epoch = math.ceil(len(X) / opts.batch)
    pruning = None
    prune_epochs = 0
    if any(r.plan.method == "csr" for r in results):
        prune_epochs = max(1, opts.epochs // 2)
        pruning = GradualPruning(model, 0, prune_epochs * steps_per_epoch,
                                 frequency=max(1, steps_per_epoch // 4))
    gen = torch.Generator().manual_seed(opts.seed)
    best: tuple[float, int, tuple[float, float]] = (-1.0, -1, (-1.0, -math.inf))
    best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    history = []
    stale = 0
    epoch = 0
    for epoch in range(1, opts.epochs + 1):
        order = torch.randperm(len(X), generator=gen)
        total = 0.0
        model.train()
        for s in range(steps_per_epoch):
            idx = order[s * opts.batch:(s + 1) * opts.batch]
            lp = _log_probs(g, run(X[idx])[g.outputs[0]], kind)
            loss = torch.nn.functional.nll_loss(lp, Y[idx])
            if teacher is not None:
                t = teacher[idx]
                kl = torch.sum(torch.exp(t) * (t - lp), dim=-1).mean()
                loss = 0.5 * loss + 0.5 * kl
            optim.zero_grad()
            loss.backward()
            optim.step()
            if pruning is not None:
                pruning.step()
            total += float(loss.detach()) * len(idx)
            if opts.progress:
                done = (epoch - 1) * steps_per_epoch + s + 1
                width = 30
                fill = int(width * done / (opts.epochs * steps_per_epoch))
                log(f"\rfine-tuning [{'#' * fill}{'.' * (width - fill)}] epoch {epoch}/"
                    f"{opts.epochs}")
        if opts.qat:
            run.recalibrate()
        acc, vloss = evaluate(run, Xv, Yv, g, kind=kind)
        score = (acc, -vloss)  # accuracy first; the loss tells equal accuracies apart
        history.append(dict(epoch=epoch, loss=total / len(X), accuracy=acc, val_loss=vloss))
        if opts.progress:
            log(("" if tty else f"fine-tuning epoch {epoch}/{opts.epochs}:") +
                f" loss {total / len(X):.4f} {'val' if has_val else 'train'} "
                f"{100 * acc:.2f}%")
        if pruning is not None and not pruning.done:
            continue  # masks still shrinking: no candidate yet
        if score > best[2]:
            best = (acc, epoch, score)
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            stale = 0
        else:
            stale += 1
            if stale >= opts.patience:
                break
    if opts.progress and tty:
        log("\n")
    model.load_state_dict(best_state)
    for r in results:
        d = 1 if r.direction == "bwd" else 0
        role = "W" if r.role == "W" else "R"
        r.matrix = model.mats[matrix_key(r.layer, d, role)].to_ir()
    return dict(train=opts.train, val=opts.val, train_examples=len(X),
                val_examples=len(Xv) if has_val else 0, epochs=opts.epochs, epochs_run=epoch,
                best_epoch=best[1], lr=opts.lr, batch=opts.batch, distill=opts.distill,
                seed=opts.seed, patience=opts.patience, prune_epochs=prune_epochs,
                qat=opts.qat,
                **({"precision": opts.precision.to_json()} if opts.precision else {}),
                split="val" if has_val else "train", accuracy_dense=acc_dense,
                accuracy_projection=acc_proj, accuracy_finetuned=best[0], history=history)


def load_labelled(path: str) -> tuple[np.ndarray, np.ndarray]:
    from ..compress_eval import _load_eval_data

    return _load_eval_data(Path(path))
