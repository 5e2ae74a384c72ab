"""`rnngen compress` on model files: read a dense .onnx or .npz model, compress the W and R
matrices of its recurrent layers (rnngen.compress), write the compressed model in the
conventions of docs/compression.md, report factors and errors, and optionally evaluate the
accuracy before and after with rnngen's NumPy reference.

    from rnngen.compress_model import compress_file
    res = compress_file("har.onnx", "har_hmd.onnx", "hmd", 2.0, eval_data="test.npz")
    print(res.text())

Files are written atomically (a temporary file in the output's folder, then a rename);
nothing is written when anything fails.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import compress as algo
from . import formats, ir, outputs
from .compress_eval import _load_eval_data, evaluate
from .compress_fit import MatrixResult, _replacements, _rkey, _select
from .compress_npz import _compress_npz
from .compress_onnx import _compress_onnx
from .errors import RnngenError

# --------------------------------------------------------------------------- results

@dataclass
class Result:
    model: str
    out: str
    method: str
    factor: float
    matrices: list[MatrixResult]
    skipped: list[str] = field(default_factory=list)  # recurrent layers left dense
    eval: dict[str, Any] | None = None
    finetune: dict[str, Any] | None = None

    def totals(self) -> dict[str, Any]:
        dp = sum(r.dense_params for r in self.matrices)
        p = sum(r.matrix.params for r in self.matrices)
        macs = sum(r.matrix.macs for r in self.matrices)
        num = sum(float(np.sum((r.dense.astype(np.float64) -
                                r.matrix.to_dense().astype(np.float64)) ** 2))
                  for r in self.matrices)
        den = sum(float(np.sum(r.dense.astype(np.float64) ** 2)) for r in self.matrices)
        return dict(matrices=len(self.matrices), dense_params=dp, params=p,
                    bytes=sum(r.matrix.nbytes for r in self.matrices), dense_bytes=4 * dp,
                    storage_factor=dp / p, dense_macs=dp, macs=macs, mac_factor=dp / macs,
                    byte_factor=4 * dp / sum(r.matrix.nbytes for r in self.matrices),
                    rel_error=math.sqrt(num / den) if den > 0 else math.sqrt(num))

    def as_dict(self) -> dict[str, Any]:
        return dict(model=self.model, output=self.out, method=self.method, factor=self.factor,
                    tolerance=algo.TOLERANCE, matrices=[r.as_dict() for r in self.matrices],
                    totals=self.totals(), skipped=self.skipped, eval=self.eval,
                    finetune=self.finetune)

    def text(self) -> str:
        rows = [("layer", "matrix", "shape", "format", "params", "storage", "MACs",
                 "rel.error")]
        for r in self.matrices:
            d = r.as_dict()
            role = f"{r.direction} {r.role}" if r.direction else r.role
            rows.append((f"{r.index} {r.layer}", role, f"{r.shape[0]}x{r.shape[1]}", d["format"],
                         f"{d['dense_params']}->{d['params']}", f"{d['storage_factor']:.3f}x",
                         f"{d['mac_factor']:.3f}x", f"{d['rel_error']:.4f}"))
        widths = [max(len(row[k]) for row in rows) for k in range(len(rows[0]))]
        lines = [(f"{self.model} -> {self.out}: {self.method} at {self.factor:g}x "
                  "(gate blocks compressed separately)")]
        for row in rows:
            lines.append("  " + "  ".join(c.ljust(w) if k < 4 else c.rjust(w)
                                          for k, (c, w) in enumerate(zip(row, widths))).rstrip())
        t = self.totals()
        lines.append(f"total: {t['dense_params']} -> {t['params']} params "
                     f"({t['dense_bytes']} -> {t['bytes']} B, {t['byte_factor']:.3f}x in bytes"
                     f"{' with indices' if self.method == 'csr' else ''}), storage "
                     f"{t['storage_factor']:.3f}x,"
                     f" MACs {t['dense_macs']} -> {t['macs']} ({t['mac_factor']:.3f}x), "
                     f"rel.error {t['rel_error']:.4f}")
        for r in self.matrices:
            if _ratio_off(r.plan.factor, self.factor):
                role = f"{r.direction} {r.role}" if r.direction else r.role
                lines.append(f"--nearest: {r.index} {r.layer} {role} at {r.plan.factor:.3f}x "
                             f"({self.factor:g}x is not reachable on its gate blocks)")
        for s in self.skipped:
            lines.append(f"left dense: {s}")
        if self.finetune is not None:
            f = self.finetune
            lines.append(
                f"fine-tuned on {f['train']} ({f['train_examples']} sequences"
                f"{', distilled' if f['distill'] else ''}): {f['epochs_run']} of {f['epochs']} "
                f"epochs{_aware(f)}, kept epoch "
                f"{f['best_epoch']}; {f['split']} accuracy dense "
                f"{100 * f['accuracy_dense']:.2f}%, projection "
                f"{100 * f['accuracy_projection']:.2f}%, fine-tuned "
                f"{100 * f['accuracy_finetuned']:.2f}%")
        if self.eval is not None:
            e = self.eval
            lines.append(f"eval {e['data']}: {e['examples']} sequences of {e['seq_len']} steps, "
                         f"accuracy {100 * e['accuracy_before']:.2f}% -> "
                         f"{100 * e['accuracy_after']:.2f}% (argmax of output '{e['output']}'"
                         f"{', last step' if e['last_step'] else ''})")
        return "\n".join(lines)


# --------------------------------------------------------------------------- entry point

def _aware(f: dict[str, Any]) -> str:
    """' (int8-aware)' or ' (int8-aware, w4a8 (every layer))' of a fine-tuning report."""
    if not f.get("qat"):
        return ""
    p = f.get("precision")
    if not p:
        return " (int8-aware)"
    from . import precision

    return f" (int8-aware, {precision.from_mapping(p, 'finetune.precision').describe()})"


@dataclass
class Finetune:
    """`rnngen compress --finetune`: labelled training sequences (the --eval format), an
    optional validation split, and the training settings (docs/training.md)."""

    train: str
    val: str | None = None
    epochs: int = 30
    lr: float = 2e-3
    batch: int = 32
    distill: bool = False
    seed: int = 0
    patience: int = 5
    progress: bool = True
    qat: bool = False  # train through rnngen's int8 arithmetic (rnngen.torch.qat)
    # with qat: the number types per layer trained through (a precision.Plan, e.g. w4a8;
    # None: w8a8), as `rnngen build --precision` would build them
    precision: Any = None


def compress_file(model: str | os.PathLike[str], out: str | os.PathLike[str], method: str,
                  factor: float, layers: Iterable[str] = (), force: bool = False,
                  eval_data: str | os.PathLike[str] | None = None,
                  finetune: Finetune | None = None, nearest: bool = False) -> Result:
    """Compress `model` (.onnx or .npz) into `out` (same kind). `layers`: recurrent layers by
    node/layer name or by index among the recurrent layers (default: all). `finetune`:
    train the projected factors in PyTorch before writing them (needs rnngen[torch]).
    `nearest`: a factor a matrix cannot reach within algo.TOLERANCE takes the closest
    reachable one (reported per matrix) instead of failing. A layer whose matrices are already
    compressed is refused: compressing the product again compounds the error."""
    if finetune is not None:
        from .torch import require_torch  # RnngenError without PyTorch

        require_torch()
    src, dst = Path(model), Path(out)
    if method not in algo.METHODS:
        raise RnngenError(f"--method '{method}': expected one of {', '.join(algo.METHODS)}")
    if not (isinstance(factor, (int, float)) and math.isfinite(factor) and factor > 1):
        raise RnngenError(f"--factor {factor}: expected a finite number greater than 1")
    if not src.exists():
        raise RnngenError(f"{src}: no such file")
    if src.is_dir():
        raise RnngenError(f"{src}: is a folder, not a model file")
    is_npz = src.suffix.lower() == ".npz"
    if (dst.suffix.lower() == ".npz") != is_npz:
        want = ".npz" if is_npz else ".onnx (not .npz)"
        raise RnngenError(f"{dst}: the output of a {'.npz' if is_npz else 'ONNX'} model must "
                          f"be {want}, like its input")
    inputs = (src, eval_data) + ((finetune.train, finetune.val) if finetune else ())
    outputs.check_file_dest(dst, force, inputs)
    tokens = [t.strip() for item in layers for t in str(item).split(",") if t.strip()]
    _refuse_compressed(src, tokens)
    if eval_data is not None:
        x, y = _load_eval_data(Path(eval_data))  # bad data fails before any work
    tune = None
    report: dict[str, Any] = {}
    if finetune is not None:
        tune = _finetuner(src, finetune, report)
    if is_npz:
        payload, results, skipped = _compress_npz(src, method, factor, tokens, tune, nearest)
    else:
        payload, results, skipped = _compress_onnx(src, method, factor, tokens, tune, nearest)
    res = Result(str(src), str(dst), method, float(factor), results, skipped)
    if finetune is not None:
        res.finetune = report
    if eval_data is not None:
        res.eval = evaluate(src, Path(eval_data), x, y, _replacements(results))
    _write_atomic(dst, payload)
    return res


def _finetuner(src: Path, opts: Finetune, report: dict[str, Any]
               ) -> Callable[[list[MatrixResult]], None]:
    """The fine-tuning step run between projection and writing; the data is read and
    checked here, before any work."""
    x, y = _load_eval_data(Path(opts.train), "--finetune")
    xv, yv = (None, None) if opts.val is None else _load_eval_data(Path(opts.val), "--val")
    if xv is not None and xv.shape[1:] != x.shape[1:]:
        raise RnngenError(f"{opts.val}: x has sequences of shape {tuple(xv.shape[1:])}, the "
                          f"training data {opts.train} {tuple(x.shape[1:])}")

    def tune(results: list[MatrixResult]) -> None:
        from . import pipeline
        from .torch import finetune as ft

        g = pipeline.compile_model(src, pipeline.Options(seq_len=int(x.shape[1])))
        ft.check_data(g, opts.train, x, y)
        if xv is not None and yv is not None:
            ft.check_data(g, str(opts.val), xv, yv)
        report.update(ft.finetune(g, results, x, y, xv, yv, opts))

    return tune


def _ratio_off(got: float, want: float) -> bool:
    """True when a plan's factor is outside algo.TOLERANCE of the asked factor (--nearest)."""
    return abs(math.log(got / want)) > math.log1p(algo.TOLERANCE)


def _refuse_compressed(src: Path, tokens: list[str]) -> None:
    """Refuse a model whose chosen recurrent layers already hold compressed matrices (factor
    subgraphs, sparse initializers, npz factor entries): the tool would compress the product
    of the factors again. One line naming the layer, the matrix and its format."""
    from . import frontends
    from .driver import format_name

    try:
        g = frontends.load(src, None)
    except RnngenError as e:
        if "--seq-len" not in str(e):
            return  # the compressor reports its own, more specific, error
        g = frontends.load(src, 1)
    recs = [n for n in g.nodes if isinstance(n, ir.Recurrent)]
    chosen = _select([n.name for n in recs], tokens, src) if tokens else range(len(recs))
    for k in chosen:
        n = recs[k]
        for cd in n.directions:
            for role, m in (("W", cd.W), (_rkey(n.cell), cd.R)):
                if any(b.fmt != "dense" for b in formats.blocks(m)):
                    raise RnngenError(
                        f"{src}: {n.cell} '{n.name}' {role} is already compressed "
                        f"({format_name(m)}); compressing it again would compress the product "
                        "of its factors: compress the dense original instead")


def _write_atomic(dst: Path, payload: Callable[[Any], None]) -> None:
    outputs.write_file(dst, payload)
