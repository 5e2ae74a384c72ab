"""Plans: what `rnngen search` chose for a model, as a JSON file `rnngen build --plan` (and
`rnngen verify --plan`) compiles.

A plan names the model (its path and sha256), the number type, the calibration data of an
int8 build, the sequence length it was evaluated at, and per recurrent layer (by its index
among the model's recurrent layers, and its name) the compression method and factor
(`dense` for none). Applying a plan runs `rnngen compress` layer by layer (the same call,
rnngen.compress_model.compress_file with --layers INDEX and --nearest) into a temporary
model file, which is then built like any model. A layer entry of an int8 plan may carry a
"precision" ("w4a8", "w8a16", "float32": the layer in float inside the int8 model...;
precision.py), and a top-level "precision" object the Linear layers' by node name, which
`build --plan` honours (layers without one take w8a8).

    {"rnngen_plan": 1, "model": "/abs/model.onnx", "model_sha256": "...",
     "dtype": "int8", "calibrate": "/abs/x.npy", "seq_len": 8,
     "layers": [{"index": 0, "name": "lstm", "method": "hmd", "factor": 2.0}],
     "target": "cortex-m4", "predicted": {...}}

A beacon of `rnngen search --finetune` also names its fine-tuned model, which the search
wrote beside the plan, by a path relative to the plan file's folder and its sha256:

     "finetuned": {"model": "../finetuned/point-03/model.onnx", "sha256": "..."}

Such a plan builds that file (the layers say how it was compressed before the fine-tuning);
the original model must still be given, or found, with its sha256.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import RnngenError

VERSION = 1
DENSE = "dense"


@dataclass(frozen=True)
class LayerChoice:
    index: int  # among the model's recurrent layers
    name: str
    method: str  # "dense" or a compress method
    factor: float = 1.0
    precision: str | None = None  # optional: "w4a8", "float32"... (int8 plans; docs/int8.md)

    def as_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = dict(index=self.index, name=self.name, method=self.method,
                                 factor=self.factor)
        if self.precision is not None:
            d["precision"] = self.precision
        return d


@dataclass(frozen=True)
class Plan:
    model: str
    model_sha256: str
    dtype: str
    layers: tuple[LayerChoice, ...]
    calibrate: str | None = None
    seq_len: int | None = None
    target: str | None = None
    predicted: dict[str, Any] = field(default_factory=dict)
    # a beacon's fine-tuned model: {"model": path relative to the plan's folder, "sha256"}
    finetuned: dict[str, str] | None = None
    # optional: the precision of other layers with weights (Linear), by node name; in JSON
    # "precision": {"fc": "w4a8"} (int8 plans; layers not named are w8a8)
    other_precision: tuple[tuple[str, str], ...] = ()

    def as_dict(self) -> dict[str, Any]:
        d = dict(rnngen_plan=VERSION, model=self.model, model_sha256=self.model_sha256,
                 dtype=self.dtype, calibrate=self.calibrate, seq_len=self.seq_len,
                 target=self.target, layers=[c.as_dict() for c in self.layers],
                 predicted=self.predicted)
        if self.finetuned is not None:
            d["finetuned"] = dict(self.finetuned)
        if self.other_precision:
            d["precision"] = dict(self.other_precision)
        return d

    def describe(self) -> str:
        parts = [f"{c.name}={c.method}" + (f"@{c.factor:g}x" if c.method != DENSE else "")
                 + (f":{c.precision}" if c.precision else "") for c in self.layers]
        parts += [f"{k}:{v}" for k, v in self.other_precision]
        return f"{self.dtype} " + " ".join(parts)

    def precision_plan(self) -> Any:
        """The layers' precisions as a precision.Plan (None: no layer has one)."""
        from . import precision

        named = tuple((c.name, c.precision) for c in self.layers if c.precision) + \
            self.other_precision
        if not named:
            return None
        return precision.Plan(precision.DEFAULT, named,
                              ",".join(f"{k}={v}" for k, v in named))


def sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write(path: str | Path, plan: Plan) -> None:
    from . import outputs

    outputs.write_text(Path(path), json.dumps(plan.as_dict(), indent=1, sort_keys=True) + "\n")


def load(path: str | Path) -> Plan:
    """A plan file, every field checked; RnngenError naming the file and the field."""
    from . import compress as algo
    from . import pipeline

    p = Path(path)
    try:
        data = json.loads(p.read_text())
    except FileNotFoundError:
        raise RnngenError(f"{p}: no such plan file") from None
    except (OSError, ValueError) as e:
        raise RnngenError(f"{p}: not a readable plan (JSON): {e}") from None
    if not isinstance(data, dict) or data.get("rnngen_plan") != VERSION:
        raise RnngenError(f"{p}: not an rnngen plan of version {VERSION} (field rnngen_plan)")

    def need(key: str, kind: type | tuple[type, ...]) -> Any:
        v = data.get(key)
        if not isinstance(v, kind):
            raise RnngenError(f"{p}: field '{key}' missing or of the wrong type")
        return v

    dtype = need("dtype", str)
    if dtype not in pipeline.DTYPES:
        raise RnngenError(f"{p}: dtype '{dtype}': expected one of {', '.join(pipeline.DTYPES)}")
    seq_len = data.get("seq_len")
    if seq_len is not None and (not isinstance(seq_len, int) or seq_len < 1):
        raise RnngenError(f"{p}: seq_len {seq_len!r}: expected an integer >= 1")
    calibrate = data.get("calibrate")
    if calibrate is not None and not isinstance(calibrate, str):
        raise RnngenError(f"{p}: calibrate: expected a file path")
    layers = []
    for k, e in enumerate(need("layers", list)):
        if not isinstance(e, dict) or not isinstance(e.get("index"), int) or \
                not isinstance(e.get("method"), str):
            raise RnngenError(f"{p}: layers[{k}]: expected index (int), name, method, factor")
        method = e["method"]
        factor = e.get("factor", 1.0)
        if method != DENSE and method not in algo.METHODS:
            raise RnngenError(f"{p}: layers[{k}].method '{method}': expected dense or one of "
                              f"{', '.join(algo.METHODS)}")
        if not isinstance(factor, (int, float)) or not math.isfinite(factor) or \
                (method != DENSE and factor <= 1):
            raise RnngenError(f"{p}: layers[{k}].factor {factor!r}: expected a number > 1")
        prec = e.get("precision")
        if prec is not None:
            from . import precision

            if not isinstance(prec, str):
                raise RnngenError(f"{p}: layers[{k}].precision: expected a precision name")
            precision.get(prec, f"{p}: layers[{k}].precision")
            if dtype != "int8":
                raise RnngenError(f"{p}: layers[{k}].precision {prec}: needs dtype int8")
        layers.append(LayerChoice(e["index"], str(e.get("name", e["index"])), method,
                                  float(factor), prec))
    tuned = data.get("finetuned")
    if tuned is not None:
        if not isinstance(tuned, dict) or not isinstance(tuned.get("model"), str) or \
                not isinstance(tuned.get("sha256"), str):
            raise RnngenError(f"{p}: finetuned: expected {{\"model\": path, \"sha256\": "
                              "hex}")
        # resolved against the plan file's folder
        tuned = dict(model=str((p.resolve().parent / tuned["model"]).resolve()),
                     sha256=tuned["sha256"])
    other = data.get("precision", {})
    if not isinstance(other, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                              for k, v in other.items()):
        raise RnngenError(f"{p}: precision: expected {{\"layer name\": \"w4a8\", ...}}")
    if other:
        from . import precision

        for k, v in other.items():
            precision.get(v, f"{p}: precision.{k}")
        if dtype != "int8":
            raise RnngenError(f"{p}: precision: needs dtype int8")
    return Plan(model=need("model", str), model_sha256=need("model_sha256", str), dtype=dtype,
                layers=tuple(layers), calibrate=calibrate, seq_len=seq_len,
                target=data.get("target") if isinstance(data.get("target"), str) else None,
                predicted=data.get("predicted") if isinstance(data.get("predicted"), dict)
                else {}, finetuned=tuned, other_precision=tuple(sorted(other.items())))


def check_model(plan: Plan, model: str | Path, where: str) -> None:
    if sha256(model) != plan.model_sha256:
        raise RnngenError(f"{where}: the plan was made for a model with sha256 "
                          f"{plan.model_sha256[:16]}..., {model} differs (search again)")


def apply(model: str | Path, layers: tuple[LayerChoice, ...], work: Path,
          finetune: Any = None) -> Path:
    """The model with each layer compressed as chosen, written into `work` (same file type
    and stem as the model, so the C names do not change); the model itself when all dense.
    `finetune` (compress_model.Finetune): each layer's factors are fine-tuned as
    `rnngen compress --finetune` does, right after that layer is compressed (the layers
    compressed before it keep their fine-tuned factors)."""
    from .compress_model import compress_file

    src = Path(model)
    todo = [c for c in layers if c.method != DENSE]
    if not todo:
        return src
    cur = src
    for k, c in enumerate(todo):
        step = work / f"step{k}"
        step.mkdir(parents=True, exist_ok=True)
        dst = step / src.name
        compress_file(cur, dst, c.method, c.factor, layers=[str(c.index)], force=True,
                      nearest=True, finetune=finetune)
        cur = dst
    return cur


@contextlib.contextmanager
def materialized(plan_path: str | Path, model: str | Path | None = None) -> Iterator[
        tuple[Path, Plan]]:
    """(compressed model file, plan) for the duration of the block; the file lives in a
    temporary folder removed afterwards. `model` overrides the plan's model path (its
    sha256 must match)."""
    plan = load(plan_path)
    m = Path(model) if model is not None else Path(plan.model)
    if not m.exists():
        raise RnngenError(f"{plan_path}: model {m} not found (give it as MODEL)")
    check_model(plan, m, str(plan_path))
    if plan.finetuned is not None:  # a beacon: its fine-tuned model, as the search wrote it
        tuned = Path(plan.finetuned["model"])
        if not tuned.is_file():
            raise RnngenError(f"{plan_path}: finetuned.model {tuned} not found (keep the "
                              "search's folder together)")
        if sha256(tuned) != plan.finetuned["sha256"]:
            raise RnngenError(f"{plan_path}: finetuned.model {tuned} differs from the plan's "
                              "sha256")
        yield tuned, plan
        return
    work = Path(tempfile.mkdtemp(prefix="rnngen-plan-"))
    try:
        yield apply(m, plan.layers, work), plan
    finally:
        shutil.rmtree(work, ignore_errors=True)
