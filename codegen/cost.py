"""The per-board cost model: instructions of one inference (`<name>_run` over the model's
T steps), predicted from the compiled graph without building or running it.

The model is linear in features read from the IR (`features`): for each matrix, by the
role it plays (a recurrent layer's input matrix W, its recurrent matrix R, a Linear layer's
weight) and by its format (a row stack counts block by block), its multiply-accumulates;
by format, its output rows, input columns, stored values, intermediate (scratch) values and
kernel calls, and the MACs of its ragged edges (rows beyond whole groups of 16 and of 4, and
columns beyond whole groups of 16: the vector paths take rows and columns in such groups,
the scalar tails cost more per MAC); for each recurrent cell, its hidden units, and for
every cell alike its steps and the units beyond whole groups of 4 (the vector cells' scalar
tail); the input's elements (quantized on entry in an int8 build); the elements and the
number of the data-movement nodes (transpose, slice, concat) and of the other nodes (views
cost nothing); and one constant. Every feature counts one whole
inference (a recurrent layer's per-step figures times the steps it runs). The coefficients
are fitted per board and per number type from exact QEMU instruction counts of rnngen's own
generated code by `benchmarks/cost_fit.py`, and shipped as data beside the board file:
`boards/<board>.cost.json`. Consumers never name a format or a cell: features take their
names from the IR. Layers with int4 weights (`--precision w4a8`, read from the quantization
plan) add their MACs and rows to two more features, `w4.macs` and `w4.rows`; layers with int16
activations (w8a16) to `a16.macs`, `a16.rows` and, recurrent ones, their units to `a16.units`.
A float32 layer inside an int8 model (`--precision LAYER=float32`) gives its features under
`float32:` and they are costed at the board's float32 coefficients; its input's
dequantization and its outputs' quantization count as int8 elementwise work.

    model = cost.load("cortex-m4")          # CostModel, or RnngenError naming the board
    model.instructions(graph, "int8")       # predicted instructions per inference

Flash and RAM are not modelled: `footprint` measures them exactly as `rnngen build` does
(the board's compiler and size tool on the model's object and its kernels' objects).
"""

from __future__ import annotations

import json
import math
import os
import threading
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import formats, ir, precision
from .errors import RnngenError
from .resources import data_dir

VERSION = 1


def _matrix(f: dict[str, float], role: str, m: Any, times: int, prec: Any = None) -> None:
    for b in formats.blocks(m):
        rows, cols = b.shape
        if rows == 0:
            continue
        f[f"{role}.{b.fmt}.macs"] += b.macs * times
        if prec is not None and prec.weight_bits == 4:  # int4 weights: the unpacking
            f["w4.macs"] += b.macs * times
            f["w4.rows"] += rows * times
        if prec is not None and prec.act_bits == 16:  # int16 inputs: their products
            f["a16.macs"] += b.macs * times
            f["a16.rows"] += rows * times
        f[f"{b.fmt}.rows"] += rows * times  # dot products of the (last) stage
        f[f"{b.fmt}.tail16"] += (rows % 16) * cols * times
        f[f"{b.fmt}.tail4"] += (rows % 4) * cols * times
        f[f"{b.fmt}.coltail"] += rows * (cols % 16) * times
        f[f"{b.fmt}.cols"] += cols * times  # inputs read
        f[f"{b.fmt}.params"] += b.params * times  # stored values read
        f[f"{b.fmt}.scratch"] += formats.scratch(b) * times  # intermediate values
        f[f"{b.fmt}.calls"] += times


def features(g: ir.Graph, board: str | None = None) -> dict[str, float]:
    """The cost model's features of one inference of the compiled graph (float or int8: the
    IR's float matrices name the format and sizes either way), as `_run` runs it on `board`
    (model.h.j2's <NAME>_RUN_BLOCK): a streaming model runs its one-step program T times on
    a Cortex-M board (every node of the step, a last-step head's Linear and Softmax too:
    T times the step graph's features), its block program ceil(T / K) times elsewhere (the
    block graph's features times T / K); other models, or no board given, the whole
    graph."""
    prog, times = g, 1.0
    if board is not None and g.step is not None:
        from . import boards

        if boards.get(board).m_profile:
            prog, times = g.step, float(g.seq_len)
        elif g.block is not None:
            prog, times = g.block, g.seq_len / g.block.seq_len
    f = _features(prog, g.quant)
    if times != 1.0:
        f = {k: v * times for k, v in f.items()}
        f["const"] = 1.0
    return f


def _features(g: ir.Graph, quant: Any) -> dict[str, float]:
    f: dict[str, float] = defaultdict(float)
    f["const"] = 1.0
    precs = quant.precisions if quant is not None else {}
    f["io.inputs"] += math.prod(g.shapes[g.input])
    for n in g.nodes:
        p = precision.PRECISIONS[precs[n.name]] if n.name in precs else None
        if p is not None and p.name == precision.FLOAT:
            # a float32 layer inside the int8 model: its features under FLOAT_PREFIX (costed
            # with the board's float32 coefficients); the dequantization of its input and
            # the quantization of its outputs cost what the model input's quantization costs
            # per element (io.inputs: rnn_quantize_s8 / rnn_dequantize_s8 alike)
            sub: dict[str, float] = defaultdict(float)
            _node(sub, g, n, None)
            for k, v in sub.items():
                f[FLOAT_PREFIX + k] += v
            f["io.inputs"] += sum(math.prod(g.shapes[t]) for t in (n.inputs[0], *n.outputs)
                                  if t)
            continue
        _node(f, g, n, p)
    return dict(f)


# features of a float32 layer inside an int8 model (--precision LAYER=float32)
FLOAT_PREFIX = "float32:"


def _node(f: dict[str, float], g: ir.Graph, n: ir.Node, p: Any) -> None:
    """Add one node's features to f (p: its precision, None for w8a8 or float)."""
    if isinstance(n, ir.Recurrent):
        steps = n.seq_len
        for cd in n.directions:
            _matrix(f, "W", cd.W, steps, p)
            _matrix(f, "R", cd.R, steps, p)
            f[f"cell.{n.cell}.units"] += n.hidden * steps
            if p is not None and p.act_bits == 16:  # the int16-h cells (plain C)
                f["a16.units"] += n.hidden * steps
            f["cell.steps"] += steps
            f["cell.tail4"] += (n.hidden % 4) * steps
    elif isinstance(n, ir.Linear):
        rows = math.prod(g.shapes[n.inputs[0]][:-1])
        _matrix(f, "L", n.W, rows, p)
        f["linear.outputs"] += n.W.shape[0] * rows
    elif isinstance(n, ir.View):
        return  # a view of its input: no code
    else:
        size = sum(math.prod(g.shapes[o]) for o in n.outputs if o)
        kind = "copy" if isinstance(n, (ir.Transpose, ir.Slice, ir.Concat)) else \
            "elementwise"
        f[kind] += size
        f[f"{kind}.nodes"] += 1


@dataclass(frozen=True)
class CostModel:
    board: str
    coef: dict[str, dict[str, float]]  # dtype -> feature -> instructions per unit
    data: dict[str, Any]  # the whole file: provenance, fit and validation figures
    path: Path

    def dtypes(self) -> list[str]:
        return sorted(self.coef)

    def instructions(self, g: ir.Graph, dtype: str) -> float:
        """Predicted instructions of one inference (`_run` over the graph's T steps)."""
        c = self.coef.get(dtype)
        if c is None:
            raise RnngenError(f"{self.path}: no cost model for dtype {dtype} (it has "
                              f"{', '.join(self.dtypes())})")
        feats = features(g, self.board)
        # float32 layers inside an int8 model: their features at the float32 coefficients
        split = {dtype: {k: v for k, v in feats.items() if not k.startswith(FLOAT_PREFIX)}}
        fl = {k[len(FLOAT_PREFIX):]: v for k, v in feats.items()
              if k.startswith(FLOAT_PREFIX)}
        if fl:
            if "float32" not in self.coef:
                raise RnngenError(f"{self.path}: no float32 cost model for the float32 "
                                  "layers (it has " + ", ".join(self.dtypes()) + ")")
            split.setdefault("float32", {})
            for k, v in fl.items():
                split["float32"][k] = split["float32"].get(k, 0.0) + v
        total = 0.0
        for dt, fs in split.items():
            cc = self.coef[dt]
            unknown = sorted(k for k, v in fs.items() if v and k not in cc)
            if unknown:
                raise RnngenError(f"{self.path}: the cost model has no coefficient for "
                                  f"{', '.join(unknown)} (a format or cell it was not fitted "
                                  "on; refit with python benchmarks/cost_fit.py)")
            total += float(sum(cc.get(k, 0.0) * v for k, v in fs.items()))
        return total


def path_for(board: str) -> Path:
    return data_dir("boards") / f"{board}.cost.json"


def available() -> list[str]:
    return sorted(p.name[: -len(".cost.json")] for p in data_dir("boards").glob("*.cost.json"))


def load(board: str, path: str | Path | None = None) -> CostModel:
    """The board's cost model (boards/<board>.cost.json, or `path`)."""
    p = Path(path) if path is not None else path_for(board)
    if not p.exists():
        have = ", ".join(available()) or "none"
        raise RnngenError(f"{p}: no cost model for board '{board}' (cost models exist for "
                          f"{have}; fit one with python benchmarks/cost_fit.py --boards "
                          f"{board})")
    try:
        data = json.loads(p.read_text())
    except (OSError, ValueError) as e:
        raise RnngenError(f"{p}: not a readable cost model ({e})") from None
    if not isinstance(data, dict) or data.get("version") != VERSION or \
            not isinstance(data.get("coefficients"), dict):
        raise RnngenError(f"{p}: not a cost model of version {VERSION} (no 'coefficients')")
    coef: dict[str, dict[str, float]] = {}
    for dtype, table in data["coefficients"].items():
        if not isinstance(table, dict) or not all(
                isinstance(v, (int, float)) and math.isfinite(v) for v in table.values()):
            raise RnngenError(f"{p}: coefficients.{dtype}: expected numbers by feature")
        coef[str(dtype)] = {str(k): float(v) for k, v in table.items()}
    if data.get("board") != board:
        raise RnngenError(f"{p}: the cost model is for board '{data.get('board')}', not "
                          f"'{board}'")
    return CostModel(board, coef, data, p)


class Footprint:
    """Flash and RAM of a compiled graph on a board, exactly as `rnngen build` measures them
    (driver.model_objects, toolchain.measure: the board's compiler and size tool on the
    model's object and its kernels' objects), without writing a project: the model C is
    rendered and compiled in `work`; each kernel object is compiled once and reused, also
    across processes sharing `kernels` (objects named by their source's digest, written
    atomically)."""

    def __init__(self, board: Any, work: Path, kernels: Path | None = None):
        self.board = board
        self.work = Path(work)
        self.kernel_dir = Path(kernels) if kernels is not None else self.work / "kernels"
        self.kernels: dict[str, Path] = {}  # kernel source digest -> object
        self.n = 0

    def measure(self, g: ir.Graph, model_path: Path, name: str = "m") -> tuple[int, int, int]:
        """(flash, RAM, weights): the build's figures; weights = the bytes of the model's
        constants (manifest weights_bytes)."""
        import hashlib
        import shutil

        from . import driver, pipeline, reference, toolchain
        from .emit import project

        toolchain.require(self.board, run=False)
        x = reference.golden_input(g)
        expected = driver.int8_outputs(g, x) if g.quant is not None else reference.run(g, x)
        golden = project.Golden(x=x, outputs=expected, source="footprint", atol=0.0, rtol=0.0)
        files, manifest = project.render(g, self.board, name, Path(model_path), golden,
                                         "rnngen search", pipeline.pass_names())
        self.n += 1
        d = self.work / f"m{self.n}"
        try:
            for rel, text in files.items():
                if rel.startswith(("src/", "include/")):
                    (d / rel).parent.mkdir(parents=True, exist_ok=True)
                    (d / rel).write_text(text)
            objs = driver.model_objects(manifest)
            toolchain.compile_objects(d, self.board, [f"src/{name}.c"])
            paths = [d / objs[0]]
            for obj in objs[1:]:
                src = f"src/{Path(obj).stem}.c"
                key = hashlib.sha256(files[src].encode()).hexdigest()[:20] + Path(obj).name
                if key not in self.kernels:
                    keep = self.kernel_dir / key
                    if not keep.is_file():
                        toolchain.compile_objects(d, self.board, [src])
                        keep.parent.mkdir(parents=True, exist_ok=True)
                        tmp = keep.with_name(f"{key}.{os.getpid()}-{threading.get_ident()}")
                        shutil.copy(d / obj, tmp)
                        os.replace(tmp, keep)
                    self.kernels[key] = keep
                paths.append(self.kernels[key])
            flash, ram, _ = toolchain.measure(d, self.board, [str(p) for p in paths],
                                              manifest["state_bytes"])
        finally:
            shutil.rmtree(d, ignore_errors=True)
        return flash, ram, int(manifest["weights_bytes"])
