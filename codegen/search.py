"""`rnngen search`: a multi-objective genetic search (NSGA-II, pymoo) over per-layer
compression and the model's number type, against a board's cost model (docs/search.md).

The genome is a vector of integer genes with names: one `layer:<name>:format` gene per
recurrent layer (an index into `choices`: dense, or a compression method at a factor), then
one `dtype` gene (float32 or int8); with more than one --precisions, a
`layer:<name>:precision` gene per recurrent and Linear layer (w8a8, w4a8, w8a16, w4a16, or
float32: that layer in float inside the int8 model), used by int8 candidates.

A candidate is evaluated exactly as `rnngen build --plan` would build it: the plan is applied
(`rnngen compress` layer by layer, rnngen.plan.apply), the model compiled for the board and
number type, and then
- error: the classification error (%) of rnngen's reference in that number type (the float
  reference, or the bit-exact integer reference for int8) on the --eval data;
- instructions: predicted by the board's cost model (rnngen.cost, boards/<board>.cost.json),
  one inference of the eval sequence length;
- flash (and RAM, reported): measured as `rnngen build` measures them (rnngen.cost.Footprint);
- weights: the bytes of the model's constants in flash (the build's weights_bytes: weights,
  biases, sparse indices, int8 requantization arrays and tables; no kernel code), MOHAQ's
  memory objective.
Candidates are memoised by genome; the whole search is deterministic for a seed. A
generation's new candidates are evaluated concurrently by local processes (--jobs) or
on a Dask cluster (--scheduler), with the serial result (`evaluate` is pure; the
Evaluator decides what to evaluate, and records it, in population order).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import os
import shutil
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__
from . import compress as algo
from . import cost, ir, plan as plans
from .errors import RnngenError

OBJECTIVES = ("error", "instructions", "flash", "weights")
DEFAULT_OBJECTIVES = ("error", "instructions", "flash")
DTYPES = ("float32", "int8")
FACTORS = (2.0, 10 / 3, 5.0, 8.0)
# searched per layer of int8 candidates where the layer's format and cell have it
# (docs/int8.md: which cells and formats have which; a combination rnngen refuses is an
# infeasible candidate). float32: the layer in float inside the int8 model, MOHAQ's top
# precision (docs/search.md: why it is in the default)
PRECISIONS = ("w8a8", "w4a8", "w8a16", "float32")
INFEASIBLE = 1e30


def require_pymoo() -> None:
    try:
        import pymoo  # noqa: F401
    except ImportError:
        raise RnngenError("rnngen search needs pymoo, which is not installed: pip install "
                          "'rnngen[search]' (pymoo==0.6.2)") from None


@dataclass(frozen=True)
class Layer:
    index: int
    name: str
    cell: str


@dataclass
class Candidate:
    genome: tuple[int, ...]
    layers: tuple[plans.LayerChoice, ...]
    dtype: str
    error: float = INFEASIBLE
    instructions: float = INFEASIBLE
    flash: int = 0
    ram: int = 0
    weights: int = 0  # constants' bytes as built (the build's weights_bytes)
    failed: str = ""
    # the precision of other layers with weights (Linear) when not w8a8: (node name, name)
    heads: tuple[tuple[str, str], ...] = ()

    def objective(self, name: str) -> float:
        return {"error": self.error, "instructions": self.instructions,
                "flash": float(self.flash) if not self.failed else INFEASIBLE,
                "weights": float(self.weights) if not self.failed else INFEASIBLE}[name]

    def as_dict(self) -> dict[str, Any]:
        return dict(genome=list(self.genome), dtype=self.dtype,
                    layers=[c.as_dict() for c in self.layers], error=self.error,
                    instructions=self.instructions, flash_bytes=self.flash,
                    ram_bytes=self.ram, weights_bytes=self.weights, failed=self.failed,
                    **({"precision": dict(self.heads)} if self.heads else {}))

    def describe(self) -> str:
        return " ".join(f"{c.name}={c.method}" + (f"@{c.factor:.3g}x" if c.method != "dense"
                                                  else "")
                        + (f"/{c.precision}" if c.precision else "") for c in self.layers) \
            + "".join(f" {k}/{v}" for k, v in self.heads)


@dataclass
class Options:
    model: str
    target: str
    eval: str
    out: str
    calibrate: str | None = None
    objectives: tuple[str, ...] = DEFAULT_OBJECTIVES
    max_flash: int | None = None
    budget: int = 60
    seed: int = 0
    force: bool = False
    board_file: str | None = None
    factors: tuple[float, ...] = FACTORS
    precisions: tuple[str, ...] = PRECISIONS  # per layer with weights of int8 candidates
    jobs: int = 1  # local processes evaluating candidates (0: every core; 1: serial)
    scheduler: str | None = None  # a Dask scheduler's address, or "local"
    finetune: str | None = None  # labelled training data: the beacon step (needs torch)
    val: str | None = None  # its validation split (early stopping), as compress --val
    beacons: int = 3  # front points fine-tuned
    epochs: int = 30  # at most, per fine-tuned layer (compress --epochs)
    finetune_progress: bool = False  # the fine-tuning's own progress bar (stderr)


def parse_objectives(text: str) -> tuple[str, ...]:
    names = tuple(t.strip() for t in text.split(",") if t.strip())
    bad = [n for n in names if n not in OBJECTIVES]
    if bad:
        raise RnngenError(f"--objectives {text}: unknown objective '{bad[0]}' (expected "
                          f"{', '.join(OBJECTIVES)})")
    if len(set(names)) != len(names) or len(names) < 2:
        raise RnngenError(f"--objectives {text}: give at least two different objectives of "
                          f"{', '.join(OBJECTIVES)}")
    return names


class Space:
    """The genes: per recurrent layer a format choice; with more than one precision, per
    recurrent layer its precision (docs/int8.md: weight and activation bits); then the
    dtype. A layer's precision applies to int8 candidates where the layer's format has it
    (its weight and activation widths: compress.supports, from the formats' registry):
    elsewhere the gene is ignored, and `canonical` sets it to 0 so that such genomes are one
    candidate. `heads`: the other layers with weights (Linear,
    by node name), which get a precision gene only (they are not compressed)."""

    def __init__(self, layers: list[Layer], factors: tuple[float, ...],
                 precisions: tuple[str, ...] = ("w8a8",), heads: tuple[str, ...] = ()):
        self.layers = layers
        self.heads = tuple(heads)
        self.choices: list[tuple[str, float]] = [("dense", 1.0)] + [
            (m, float(f)) for m in algo.METHODS for f in factors]
        self.precisions = precisions
        self.dtypes = DTYPES

    @property
    def _prec_genes(self) -> int:
        return len(self.layers) + len(self.heads) if len(self.precisions) > 1 else 0

    @property
    def names(self) -> list[str]:
        return [f"layer:{ly.name}:format" for ly in self.layers] + \
            [f"layer:{n}:precision" for n in [ly.name for ly in self.layers] + list(self.heads)
             ][:self._prec_genes] + ["dtype"]

    @property
    def upper(self) -> np.ndarray:
        return np.array([len(self.choices) - 1] * len(self.layers)
                        + [len(self.precisions) - 1] * self._prec_genes
                        + [len(self.dtypes) - 1])

    def _split(self, genome: tuple[int, ...]) -> tuple[tuple[int, ...], tuple[int, ...], int]:
        k, p = len(self.layers), self._prec_genes
        return genome[:k], genome[k:k + p] if p else (0,) * (k + len(self.heads)), \
            genome[k + p]

    def _has(self, f: int, q: int, cell: str) -> bool:
        """Format choice f has precision q (compress.supports: its formats' registry), and
        so does the layer's cell (the cells' registry: int16 activations, Cell.a16; float32,
        the cell's float step, Cell.step_f32)."""
        from . import cells, precision

        name = self.precisions[q]
        if not algo.supports(self.choices[f][0], name):
            return False
        p = precision.PRECISIONS[name]
        if p.name == precision.FLOAT:  # a float layer inside the int8 model
            return cells.of(cell).step_f32 is not None
        return p.act_bits == 8 or cells.of(cell).a16

    def canonical(self, genome: tuple[int, ...]) -> tuple[int, ...]:
        fmt, prec, dt = self._split(genome)
        if not self._prec_genes:
            return tuple(genome)
        int8 = self.dtypes[dt] == "int8"
        k = len(self.layers)
        prec = tuple(q if int8 and self._has(f, q, ly.cell) else 0
                     for f, q, ly in zip(fmt, prec, self.layers)) \
            + tuple(q if int8 else 0 for q in prec[k:])
        return (*fmt, *prec, dt)

    def decode_heads(self, genome: tuple[int, ...]) -> tuple[tuple[str, str], ...]:
        """The heads' precisions other than w8a8, of an int8 candidate."""
        _, prec, dt = self._split(genome)
        if self.dtypes[dt] != "int8":
            return ()
        names = [self.precisions[q] for q in prec[len(self.layers):]]
        return tuple((h, n) for h, n in zip(self.heads, names) if n != "w8a8")

    def decode(self, genome: tuple[int, ...]) -> tuple[tuple[plans.LayerChoice, ...], str]:
        fmt, prec, dt = self._split(genome)
        dtype = self.dtypes[dt]

        def precision(f: int, q: int, cell: str) -> str | None:
            name = self.precisions[q]
            if dtype != "int8" or not self._has(f, q, cell) or name == "w8a8":
                return None
            return name
        layers = tuple(plans.LayerChoice(ly.index, ly.name, *self.choices[f],
                                         precision(f, q, ly.cell))
                       for ly, f, q in zip(self.layers, fmt, prec))
        return layers, dtype

    def baselines(self) -> list[tuple[int, ...]]:
        """All dense, in each number type, and in int8 all dense in each searched integer
        precision (the single-precision builds, MOHAQ's starting points): always in the
        first population, so the front is never worse than them and their neighbours (one
        layer in another precision) are a mutation away. float32 is not one of them: an int8
        model with every layer in float is the float32 number type's baseline with
        quantized tensors between the layers (docs/search.md)."""
        from . import precision

        k, p = len(self.layers), self._prec_genes
        out = [tuple([0] * (k + p) + [d]) for d in range(len(self.dtypes))]
        if p and "int8" in self.dtypes:
            d = self.dtypes.index("int8")
            out += [self.canonical(tuple([0] * k + [q] * p + [d]))
                    for q in range(1, len(self.precisions))
                    if self.precisions[q] != precision.FLOAT]
        return list(dict.fromkeys(out))


def parse_precisions(text: str) -> tuple[str, ...]:
    """--precisions: the precisions searched per layer (available ones, docs/int8.md)."""
    from . import precision

    names = tuple(t.strip() for t in text.split(",") if t.strip())
    if not names or len(set(names)) != len(names):
        raise RnngenError(f"--precisions {text}: give one or more different precisions, e.g. "
                          "w8a8,w4a8")
    for n in names:
        precision.get(n, f"--precisions {text}")
    # w8a8 (the int8 default) first: a gene a layer's format or cell lacks is ignored by
    # setting it to its first value (Space.canonical), which must then mean w8a8
    if precision.DEFAULT in names:
        names = (precision.DEFAULT, *(n for n in names if n != precision.DEFAULT))
    return names


def weighted_heads(model: str, seq_len: int) -> tuple[str, ...]:
    """The node names of the model's Linear layers (precision genes)."""
    from . import frontends

    g = frontends.load(Path(model), seq_len)
    return tuple(n.name for n in g.nodes if isinstance(n, ir.Linear))


def recurrent_layers(model: str, seq_len: int) -> list[Layer]:
    from . import frontends

    g = frontends.load(Path(model), seq_len)
    out = [Layer(k, n.name, n.cell) for k, n in
           enumerate(n for n in g.nodes if isinstance(n, ir.Recurrent))]
    if not out:
        raise RnngenError(f"{model}: no recurrent layer to search over")
    return out


@dataclass(frozen=True)
class Job:
    """What evaluating a candidate needs, whatever the process or machine: the search's
    options, the genes, the eval data, and the bytes of the model and calibration files (a
    worker that does not see them at the same path, with the same sha256, writes them into
    the candidate's own temporary folder under the same name). Shipped once per worker."""

    o: Options
    space: Space
    x: np.ndarray
    y: np.ndarray
    work: str  # the search's folder: kernel objects are cached there when a worker sees it
    model_sha256: str
    model_bytes: bytes
    calibrate_sha256: str | None = None
    calibrate_bytes: bytes | None = None


def make_job(o: Options, space: Space, x: np.ndarray, y: np.ndarray, work: Path) -> Job:
    cal = Path(o.calibrate) if o.calibrate else None
    cal_bytes = cal.read_bytes() if cal is not None and cal.is_file() else None
    model = Path(o.model).read_bytes()
    return Job(o, space, x, y, str(work), hashlib.sha256(model).hexdigest(), model,
               hashlib.sha256(cal_bytes).hexdigest() if cal_bytes is not None else None,
               cal_bytes)


_SEEN: dict[tuple[str, str], bool] = {}  # (path, sha256) -> this process sees that file
_LOCAL = threading.local()  # this thread's cost.Footprint per (board, search folder)


def _here(path: str, digest: str | None, data: bytes | None, d: Path) -> str:
    """`path` if this process sees that file with that sha256; else its bytes written into
    `d` under the same name (the C names and banners only use the file's name)."""
    if data is None or digest is None:
        return path
    key = (path, digest)
    if key not in _SEEN:
        _SEEN[key] = Path(path).is_file() and plans.sha256(path) == digest
    if _SEEN[key]:
        return path
    dst = d / "inputs" / Path(path).name
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_bytes(data)
    return str(dst)


def _footprint(job: Job, board: Any, d: Path) -> cost.Footprint:
    """This thread's Footprint when the search's folder is on this machine, its kernel
    objects shared with the search's other processes there; else one for this candidate."""
    work = Path(job.work)
    if not work.is_dir():
        return cost.Footprint(board, d / "footprint")
    cache = getattr(_LOCAL, "fp", None)
    if cache is None:
        cache = _LOCAL.fp = {}
    key = (board.name, job.work)
    if key not in cache:
        cache[key] = cost.Footprint(
            board, work / f"footprint-{os.getpid()}-{threading.get_ident()}",
            kernels=work / f"kernels-{board.name}")
    return cache[key]


def evaluate(job: Job, genome: tuple[int, ...],
             footprint: cost.Footprint | None = None, model_file: str | None = None
             ) -> Candidate:
    """One candidate, evaluated in its own temporary folder: a pure function of the job and
    the genome (the same result in any process, thread or order). `model_file`: that model
    (a beacon's fine-tuned one) instead of the plan applied to the job's model."""
    from . import boards, driver

    genome = tuple(int(v) for v in genome)
    layers, dtype = job.space.decode(genome)
    c = Candidate(genome, layers, dtype, heads=job.space.decode_heads(genome))
    o = job.o
    d = Path(tempfile.mkdtemp(prefix="cand-", dir=job.work if Path(job.work).is_dir()
                              else None))
    try:
        board = boards.get(o.target, o.board_file)
        fp = footprint if footprint is not None else _footprint(job, board, d)
        model = _here(o.model, job.model_sha256, job.model_bytes, d)
        calibrate = (_here(o.calibrate, job.calibrate_sha256, job.calibrate_bytes, d)
                     if o.calibrate and dtype == "int8" else None)
        path = Path(model_file) if model_file is not None else \
            plans.apply(model, c.layers, d / "model")
        T = int(job.x.shape[1])
        prec = precision_of(c)
        g = driver.compile_graph(path, driver.BuildOptions(
            target=board.name, board_file=o.board_file, seq_len=T, dtype=c.dtype,
            calibrate=calibrate, precision=prec))
        c.error = 100.0 * (1.0 - accuracy(g, c.dtype, job.x, job.y, o.eval))
        c.instructions = cost.load(board.name).instructions(g, c.dtype)
        c.flash, c.ram, c.weights = fp.measure(g, path)
    except RnngenError as e:
        c.failed = str(e).splitlines()[0][:300]
        c.error = c.instructions = INFEASIBLE
        c.flash = c.ram = c.weights = 0
    finally:
        shutil.rmtree(d, ignore_errors=True)
    return c


class Evaluator:
    """Memoised evaluation of populations. Which genomes are evaluated, and in which order
    they are recorded, is decided here in population order, exactly as one at a time would
    (first occurrence, until --budget); only the computing is spread over `pool`."""

    def __init__(self, job: Job, progress: Callable[[], None] | None = None,
                 pool: Any = None):
        from . import boards

        o = job.o
        self.o = o
        self.space = job.space
        self.job = job
        work = Path(job.work)
        self.board = boards.get(o.target, o.board_file)
        self.footprint = cost.Footprint(self.board, work / "footprint",
                                        kernels=work / f"kernels-{self.board.name}")
        self.memo: dict[tuple[int, ...], Candidate] = {}
        self.order: list[tuple[int, ...]] = []
        self.progress = progress
        self.pool = pool

    def __call__(self, genome: tuple[int, ...]) -> Candidate:
        return self.batch([genome])[0]

    def batch(self, genomes: list[tuple[int, ...]]) -> list[Candidate]:
        genomes = [self.space.canonical(tuple(int(v) for v in g)) for g in genomes]
        todo: list[tuple[int, ...]] = []
        for g in genomes:
            # pymoo stops between generations: the budget's last generation may ask for
            # more; those are not evaluated (infeasible)
            if g not in self.memo and g not in todo and \
                    len(self.order) + len(todo) < self.o.budget:
                todo.append(g)
        done: dict[tuple[int, ...], Candidate] = {}
        if self.pool is None or (len(todo) == 1 and getattr(self.pool, "single_here", False)):
            # serial; or, with local processes, one genome (the first baseline: nothing to
            # share out, the workers start meanwhile)
            for g in todo:
                done[g] = evaluate(self.job, g, self.footprint)
                if self.progress is not None:
                    self.progress()
        else:
            for g, c in self.pool.evaluate(self.job, todo):  # as they arrive
                done[g] = c
                if self.progress is not None:
                    self.progress()
        for g in todo:  # recorded in population order, whatever the order of arrival
            self.memo[g] = done[g]
            self.order.append(g)
        out = []
        for g in genomes:
            if g in self.memo:
                out.append(self.memo[g])
            else:
                layers, dtype = self.space.decode(g)
                out.append(Candidate(g, layers, dtype,
                                     failed="not evaluated: --budget spent"))
        return out


def _worker_init() -> None:
    from . import boards, driver, reference  # noqa: F401  (imported while the pool starts)
    from .emit import project  # noqa: F401


def _worker_ready() -> int:
    return os.getpid()


def _worker_evaluate(job: Job, genome: tuple[int, ...]) -> Candidate:
    return evaluate(job, genome)  # the worker's own `evaluate`, by name


class LocalPool:
    """`--jobs N`: candidates evaluated by N local processes (concurrent.futures), started
    at once so that they boot while the search loads the model and data."""

    single_here = True  # a batch of one genome is evaluated in the search's process

    def __init__(self, jobs: int):
        import concurrent.futures as cf
        import multiprocessing as mp

        self.cf = cf
        ctx = mp.get_context("forkserver")  # not fork: the caller may have threads
        # the fork server imports rnngen once; each worker is a fork of it
        ctx.set_forkserver_preload(["rnngen.search", "rnngen.driver", "rnngen.reference",
                                    "rnngen.emit.project"])
        self.ex = cf.ProcessPoolExecutor(jobs, mp_context=ctx, initializer=_worker_init)
        for _ in range(jobs):  # processes are started on demand: demand them now
            self.ex.submit(_worker_ready)

    def evaluate(self, job: Job, genomes: list[tuple[int, ...]]):
        futs = {self.ex.submit(_worker_evaluate, job, g): g for g in genomes}
        for f in self.cf.as_completed(futs):
            yield futs[f], f.result()

    def close(self) -> None:
        self.ex.shutdown(wait=True, cancel_futures=True)


class DaskPool:
    """`--scheduler ADDRESS`: candidates evaluated on a Dask cluster (dask.distributed);
    `local` starts a LocalCluster of `workers` processes on this machine."""

    def __init__(self, address: str, workers: int):
        try:
            import distributed
        except ImportError:
            raise RnngenError(f"--scheduler {address}: needs dask.distributed, which is not "
                              "installed: pip install 'rnngen[dask]' (distributed==2026.8.0)"
                              ) from None
        self.distributed = distributed
        self.cluster = None
        self.job: Any = None
        try:
            if address == "local":
                self.cluster = distributed.LocalCluster(
                    n_workers=workers, threads_per_worker=1, processes=True,
                    dashboard_address=None, silence_logs=logging.ERROR)
                self.client = distributed.Client(self.cluster)
            else:
                self.client = distributed.Client(address, timeout=DASK_TIMEOUT)
        except Exception as e:  # unreachable, refused, malformed: all one line
            if self.cluster is not None:
                self.cluster.close()
            why = (str(e).splitlines() or [""])[0][:200] or type(e).__name__
            raise RnngenError(f"--scheduler {address}: cannot reach the Dask scheduler "
                              f"({why})") from None

    def evaluate(self, job: Job, genomes: list[tuple[int, ...]]):
        if self.job is None:
            self.job = self.client.scatter(job, broadcast=True)
        futs = [self.client.submit(evaluate, self.job, g, pure=False) for g in genomes]
        which = {f.key: g for f, g in zip(futs, genomes)}
        for f in self.distributed.as_completed(futs):
            yield which[f.key], f.result()

    def close(self) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


DASK_TIMEOUT = "10s"


def make_pool(jobs: int, scheduler: str | None) -> Any:
    """None (serial: --jobs 1), a LocalPool (--jobs N, 0 = every core) or a DaskPool
    (--scheduler ADDRESS; `local` with --jobs workers, every core if --jobs is 0 or 1)."""
    cores = os.cpu_count() or 1
    if scheduler is not None:
        return DaskPool(scheduler, jobs if jobs > 1 else cores)
    n = cores if jobs == 0 else jobs
    return None if n <= 1 else LocalPool(n)


def accuracy(g: ir.Graph, dtype: str, x: np.ndarray, y: np.ndarray, where: str) -> float:
    """Share of sequences whose argmax of the last score vector of the first output equals
    the label (as `rnngen compress --eval` counts), with the reference in `dtype`."""
    from . import reference

    shape = tuple(g.shapes[g.input])
    out = g.outputs[0]
    C = int(g.shapes[out][-1]) if g.shapes[out] else 1
    if int(y.max()) >= C:
        raise RnngenError(f"{where}: label {int(y.max())} but output '{out}' has {C} scores")
    ex = reference.Executor(g, dtype=dtype)
    hits = 0
    for xk, yk in zip(x, y):
        ex.reset()
        res = ex.run(xk.reshape(shape))[out]
        hits += int(np.argmax(res.reshape(-1, C)[-1]) == yk)
    return hits / len(y)


def pareto(cands: list[Candidate], objectives: tuple[str, ...],
           max_flash: int | None) -> list[Candidate]:
    """The non-dominated feasible candidates, by the objectives, sorted by instructions,
    then error, then flash (duplicates in objective space: the first evaluated kept)."""
    ok = [c for c in cands if not c.failed and (max_flash is None or c.flash <= max_flash)]
    F = np.array([[c.objective(n) for n in objectives] for c in ok])
    front: list[Candidate] = []
    seen: set[tuple[float, ...]] = set()
    for i, c in enumerate(ok):
        dominated = np.any(np.all(F <= F[i], axis=1) & np.any(F < F[i], axis=1))
        key = tuple(F[i])
        if not dominated and key not in seen:
            seen.add(key)
            front.append(c)
    return sorted(front, key=lambda c: (c.instructions, c.error, c.flash))


def knee(front: list[Candidate], objectives: tuple[str, ...]) -> Candidate:
    """The point nearest the ideal point (each objective's best on the front), objectives
    scaled to [0, 1] over the front."""
    F = np.array([[c.objective(n) for n in objectives] for c in front])
    lo, hi = F.min(axis=0), F.max(axis=0)
    N = (F - lo) / np.where(hi > lo, hi - lo, 1.0)
    return front[int(np.argmin(np.sqrt((N ** 2).sum(axis=1))))]


# --------------------------------------------------------------------------- beacons

def all_dense(c: Candidate) -> bool:
    return all(ly.method == plans.DENSE for ly in c.layers)


def choose_beacons(front: list[Candidate], k: int) -> list[int]:
    """Indices (in the front, sorted by instructions) of the k beacons: spread evenly by
    instructions over the front points that have a compressed layer (an all-dense point has
    no factors to fine-tune). For target j of k, lo + j (hi - lo) / (k - 1) (the middle for
    k = 1), the unchosen point nearest in instructions (ties: the cheaper one)."""
    pool = [i for i, c in enumerate(front) if not all_dense(c)]
    if len(pool) <= k:
        return pool
    lo = front[pool[0]].instructions
    hi = front[pool[-1]].instructions
    chosen: list[int] = []
    for j in range(k):
        t = (lo + hi) / 2 if k == 1 else lo + j * (hi - lo) / (k - 1)
        i = min((i for i in pool if i not in chosen),
                key=lambda i: (abs(front[i].instructions - t), i))
        chosen.append(i)
    return sorted(chosen)


@dataclass
class Correction:
    """A front point's error: the search's estimate (post-training compression), the
    corrected one, and the beacon (front index) that corrected it."""

    estimate: float
    corrected: float
    beacon: int | None  # None: all dense, nothing to correct
    finetuned: bool = False  # a beacon: `corrected` is its measured fine-tuned error
    report: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return dict(error_estimate=self.estimate, error_corrected=self.corrected,
                    beacon=self.beacon, finetuned=self.finetuned)


def correct(front: list[Candidate], tuned: dict[int, float],
            objectives: tuple[str, ...]) -> list[Correction]:
    """MOHAQ's beacon correction (docs/search.md): a beacon's corrected error is its measured
    fine-tuned error; every other point with a compressed layer takes its nearest beacon's
    shift, corrected = estimate + (beacon fine-tuned - beacon estimate), clipped to
    [0, 100]. Nearest: Euclidean in the search's objectives (the estimates), each scaled to
    [0, 1] over the front as for the knee, among the beacons of the point's number type when
    there are any, else among all; ties go to the cheaper beacon. All-dense points are left
    as they are (their error is the model's own)."""
    F = np.array([[c.objective(n) for n in objectives] for c in front])
    lo, hi = F.min(axis=0), F.max(axis=0)
    N = (F - lo) / np.where(hi > lo, hi - lo, 1.0)
    out = []
    for i, c in enumerate(front):
        if i in tuned:
            out.append(Correction(c.error, tuned[i], i, True))
            continue
        if all_dense(c) or not tuned:
            out.append(Correction(c.error, c.error, None))
            continue
        same = [b for b in tuned if front[b].dtype == c.dtype] or list(tuned)
        b = min(same, key=lambda b: (float(np.sqrt(((N[b] - N[i]) ** 2).sum())), b))
        shift = tuned[b] - front[b].error
        out.append(Correction(c.error, float(min(100.0, max(0.0, c.error + shift))), b))
    return out


def precision_of(c: Candidate) -> Any:
    """The candidate's number types per layer as a precision.Plan (None: w8a8 throughout)."""
    return plans.Plan(model="", model_sha256="", dtype=c.dtype, layers=c.layers,
                      other_precision=c.heads).precision_plan()


def finetune_options(o: Options, c: Candidate) -> Any:
    from .compress_model import Finetune

    # int8 beacons train through rnngen's integer arithmetic in their own number types
    # (compress --finetune --qat --precision: MOHAQ's beacons are retrained as they run)
    return Finetune(o.finetune, o.val, epochs=o.epochs, seed=o.seed,
                    progress=o.finetune_progress, qat=c.dtype == "int8",
                    precision=precision_of(c) if c.dtype == "int8" else None)


def check_finetune(o: Options, x: np.ndarray) -> None:
    """--finetune's options and data, before any work: torch installed, the data readable
    and of the eval data's sequence shape."""
    from .compress_eval import _load_eval_data

    if o.finetune is None:
        if o.val is not None:
            raise RnngenError("--val goes with --finetune TRAIN.npz")
        return
    from .torch import require_torch  # one line without PyTorch

    require_torch()
    if o.beacons < 1:
        raise RnngenError(f"--beacons {o.beacons}: expected at least 1")
    if o.epochs < 1:
        raise RnngenError(f"--epochs {o.epochs}: expected at least 1")
    for path, opt in ((o.finetune, "--finetune"), (o.val, "--val")):
        if path is None:
            continue
        xt, _ = _load_eval_data(Path(path), opt)
        if xt.shape[2] != x.shape[2]:
            raise RnngenError(f"{path}: {opt} x has {xt.shape[2]} features per step, the "
                              f"--eval data {o.eval} {x.shape[2]}")


def run_beacons(job: Job, front: list[Candidate], work: Path,
                progress: Callable[[str], None] | None = None
                ) -> tuple[list[Correction], dict[int, Path]]:
    """Fine-tune the beacons (one after the other, in this process), measure their error as
    the search does, and correct the other front points. Returns the corrections and each
    beacon's fine-tuned model file."""
    o = job.o
    chosen = choose_beacons(front, o.beacons)
    tuned: dict[int, float] = {}
    files: dict[int, Path] = {}
    reports: dict[int, dict[str, Any]] = {}
    for n, i in enumerate(chosen):
        c = front[i]
        if progress is not None:
            progress(f"beacon {n + 1}/{len(chosen)}: point {i:02d} ({c.dtype} "
                     f"{c.describe()})")
        d = work / f"beacon-{i:02d}"
        d.mkdir()
        try:
            path = plans.apply(o.model, c.layers, d, finetune_options(o, c))
            got = evaluate(job, c.genome, model_file=str(path))
        except RnngenError as e:
            raise RnngenError(f"beacon point {i:02d} ({c.describe()}): "
                              f"{str(e).splitlines()[0]}") from None
        if got.failed:
            raise RnngenError(f"beacon point {i:02d} ({c.describe()}): {got.failed}")
        tuned[i] = got.error
        files[i] = path
        reports[i] = dict(flash_bytes=got.flash, ram_bytes=got.ram, weights_bytes=got.weights,
                          instructions=got.instructions)
    cors = correct(front, tuned, o.objectives)
    for i, r in reports.items():
        cors[i].report = r
    return cors, files


@dataclass
class Result:
    front: list[Candidate]
    knee: Candidate
    evaluated: list[Candidate]
    out: Path
    table: str
    plot: str  # what happened to the PNG
    files: list[str] = field(default_factory=list)
    corrections: list[Correction] | None = None  # with --finetune, one per front point


def run(o: Options, progress_factory: Callable[[int], Any] | None = None,
        log: Callable[[str], None] | None = None) -> Result:
    """The search; writes the plan folder `o.out` atomically. `log`: a line per beacon."""
    from . import boards, outputs
    from .compress_eval import _load_eval_data

    require_pymoo()
    from pymoo.algorithms.moo.nsga2 import NSGA2
    from pymoo.core.problem import Problem as PymooProblem
    from pymoo.operators.crossover.sbx import SBX
    from pymoo.operators.mutation.pm import PM
    from pymoo.operators.repair.rounding import RoundingRepair
    from pymoo.optimize import minimize

    out = Path(o.out)
    inputs = (Path(o.model), Path(o.eval), o.calibrate, o.board_file, o.finetune, o.val)
    outputs.check_folder_dest(out, o.force, inputs)
    board = boards.get(o.target, o.board_file)
    cost.load(board.name)  # a board without a cost model fails before any work
    if o.budget < 2:
        raise RnngenError(f"--budget {o.budget}: give at least 2 evaluations")
    if o.max_flash is not None and o.max_flash <= 0:
        raise RnngenError(f"--max-flash {o.max_flash}: expected a positive number of bytes")
    if not Path(o.model).exists():
        raise RnngenError(f"{o.model}: no such file")
    if o.jobs < 0:
        raise RnngenError(f"--jobs {o.jobs}: expected 0 (every core) or more")
    bar = None
    pool = make_pool(o.jobs, o.scheduler)  # local workers boot while the model loads
    work = Path(tempfile.mkdtemp(prefix="rnngen-search-"))
    try:
        x, y = _load_eval_data(Path(o.eval))
        check_finetune(o, x)  # before any work
        T = int(x.shape[1])
        space = Space(recurrent_layers(o.model, T), o.factors, o.precisions,
                      weighted_heads(o.model, T))
        job = make_job(o, space, x, y, work)
        bar = progress_factory(o.budget) if progress_factory else None
        ev = Evaluator(job, (lambda: bar.update(1)) if bar else None, pool)
        # a bad model, eval file or calibration fails here, in one line, before the search
        first = ev(space.baselines()[0])
        if first.failed:
            raise RnngenError(first.failed)
        objs = o.objectives

        class Problem(PymooProblem):
            """A whole population at once: its new genomes are evaluated concurrently."""

            def __init__(self) -> None:
                super().__init__(n_var=len(space.names), n_obj=len(objs), n_ieq_constr=1,
                                 xl=np.zeros(len(space.names)), xu=space.upper, vtype=int,
                                 elementwise=False)

            def _evaluate(self, X: np.ndarray, res: dict, *args: Any, **kw: Any) -> None:
                cs = ev.batch([tuple(int(round(v)) for v in xg) for xg in X])
                res["F"] = np.array([[c.objective(n) for n in objs] for c in cs], dtype=float)
                res["G"] = np.array([[1e12] if c.failed else
                                     [c.flash - o.max_flash if o.max_flash is not None
                                      else -1.0] for c in cs], dtype=float)

        init = [list(g) for g in space.baselines()]
        pop = int(max(min(16, max(4, o.budget // 4)), len(init) + 2))  # some random too
        rng = np.random.default_rng(o.seed)
        while len(init) < pop:
            init.append([int(rng.integers(0, u + 1)) for u in space.upper])
        algo_ = NSGA2(pop_size=pop, sampling=np.array(init, dtype=float),
                      crossover=SBX(prob=0.9, eta=15, vtype=float, repair=RoundingRepair()),
                      mutation=PM(eta=20, vtype=float, repair=RoundingRepair()),
                      eliminate_duplicates=True)
        minimize(Problem(), algo_, ("n_eval", o.budget), seed=o.seed, verbose=False)
        cands = [ev.memo[g] for g in ev.order]
        front = pareto(cands, objs, o.max_flash)
        if not front:
            ok = [c for c in cands if not c.failed]
            small = min((c.flash for c in ok), default=None)
            if o.max_flash is not None and small is not None:
                raise RnngenError(f"--max-flash {o.max_flash}: no candidate fits (the "
                                  f"smallest of {len(ok)} evaluated takes {small} bytes)")
            raise RnngenError(f"{o.model}: no candidate could be built "
                              f"({cands[0].failed if cands else 'none evaluated'})")
        k = knee(front, objs)
        if bar is not None:
            bar.finish() if hasattr(bar, "finish") else None
            bar = None
        cors, tuned = (run_beacons(job, front, work, log) if o.finetune is not None
                       else (None, {}))
        with outputs.staging(out) as stage:
            files, plot = _write(stage.path, o, board.name, T, front, k, cands, cors, tuned,
                                 space.names)
            outputs.check_folder_dest(out, o.force, inputs)
            stage.commit(o.force)
    finally:
        if bar is not None:
            bar.finish() if hasattr(bar, "finish") else None
        if pool is not None:
            pool.close()
        shutil.rmtree(work, ignore_errors=True)
    return Result(front, k, cands, out, table(front, k, cors), plot, files, cors)


def _plan(o: Options, board: str, T: int, c: Candidate, cor: Correction | None = None,
          tuned: tuple[str, str] | None = None) -> plans.Plan:
    """The plan of a front point; with --finetune its corrected error, and for a beacon
    its fine-tuned model (path relative to the plan's folder, sha256), whose measured error
    is then the plan's error_percent (the model it builds)."""
    predicted = dict(error_percent=round(c.error, 4), instructions=round(c.instructions),
                     flash_bytes=c.flash, ram_bytes=c.ram, weights_bytes=c.weights,
                     eval=str(o.eval))
    if cor is not None:
        predicted.update(error_estimate_percent=round(cor.estimate, 4),
                         error_corrected_percent=round(cor.corrected, 4),
                         beacon=None if cor.beacon is None else f"point-{cor.beacon:02d}")
        if cor.finetuned:
            predicted.update(error_percent=round(cor.corrected, 4),
                             finetune=dict(train=str(o.finetune), val=o.val and str(o.val),
                                           epochs=o.epochs, seed=o.seed,
                                           qat=c.dtype == "int8"))
    return plans.Plan(
        model=str(Path(o.model).resolve()), model_sha256=plans.sha256(o.model), dtype=c.dtype,
        layers=c.layers, calibrate=str(Path(o.calibrate).resolve()) if
        (o.calibrate and c.dtype == "int8") else None, seq_len=T, target=board,
        predicted=predicted, finetuned=None if tuned is None else
        dict(model=tuned[0], sha256=tuned[1]), other_precision=c.heads)


def table(front: list[Candidate], k: Candidate, cors: list[Correction] | None = None) -> str:
    if cors is None:
        lines = ["| point | dtype | layers | error (%) | instructions (predicted) | "
                 "flash (B) | weights (B) | RAM (B) |",
                 "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |"]
    else:
        lines = ["| point | dtype | layers | error (%) estimate | corrected | by beacon | "
                 "instructions (predicted) | flash (B) | weights (B) | RAM (B) |",
                 "| --- | --- | --- | ---: | ---: | --- | ---: | ---: | ---: | ---: |"]
    for i, c in enumerate(front):
        tag = f"{i:02d}" + (" (knee)" if c is k else "")
        err = f"{c.error:.2f}"
        if cors is not None:
            r = cors[i]
            by = "-" if r.beacon is None else ("fine-tuned" if r.finetuned
                                               else f"{r.beacon:02d}")
            err += f" | {r.corrected:.2f} | {by}"
        lines.append(f"| {tag} | {c.dtype} | {c.describe()} | {err} | "
                     f"{c.instructions:,.0f} | {c.flash:,} | {c.weights:,} | {c.ram:,} |")
    return "\n".join(lines)


def _write(dst: Path, o: Options, board: str, T: int, front: list[Candidate], k: Candidate,
           cands: list[Candidate], cors: list[Correction] | None = None,
           tuned: dict[int, Path] | None = None, genes: list[str] | None = None
           ) -> tuple[list[str], str]:
    files = []
    tuned = tuned or {}
    (dst / "plans").mkdir()
    where: dict[int, tuple[Path, str]] = {}  # beacon -> (its file in dst, sha256)
    for i, src in sorted(tuned.items()):
        f = dst / "finetuned" / f"point-{i:02d}" / Path(o.model).name  # same C names
        f.parent.mkdir(parents=True)
        shutil.copyfile(src, f)
        where[i] = (f, plans.sha256(f))
        files.append(str(f.relative_to(dst)))

    def plan_of(i: int, folder: Path) -> dict[str, Any]:
        t = where.get(i)
        rel = None if t is None else (os.path.relpath(t[0], folder), t[1])
        return _plan(o, board, T, front[i], None if cors is None else cors[i],
                     None if rel is None else (Path(rel[0]).as_posix(), rel[1])).as_dict()

    for i, c in enumerate(front):
        p = dst / "plans" / f"point-{i:02d}.json"
        p.write_text(json.dumps(plan_of(i, p.parent), indent=1, sort_keys=True) + "\n")
        files.append(str(p.relative_to(dst)))
    (dst / "knee.json").write_text(json.dumps(plan_of(front.index(k), dst), indent=1,
                                              sort_keys=True) + "\n")
    head = (f"# rnngen search: {Path(o.model).name} on {board}\n\n"
            f"Objectives {', '.join(o.objectives)}; budget {o.budget} evaluations, seed "
            f"{o.seed}; {len(cands)} distinct candidates evaluated; precisions per layer of "
            f"int8 candidates: {', '.join(o.precisions)}"
            + (f"; flash at most {o.max_flash} B" if o.max_flash is not None else "")
            + f". Error: classification error (%) of rnngen's reference on {Path(o.eval).name}"
            f" ({T} steps); instructions per inference predicted by boards/{board}.cost.json; "
            "flash and RAM measured as `rnngen build` does. Knee: nearest the ideal point "
            "(knee.json).\n\n")
    if cors is not None:
        head += (f"Beacons: {len(tuned)} front points fine-tuned on {Path(str(o.finetune)).name}"
                 f" (at most {o.epochs} epochs per layer, seed {o.seed}; int8 ones "
                 "quantization-aware), their error measured as the search's; every other "
                 "compressed point corrected by its nearest beacon: estimate + (beacon "
                 "fine-tuned - beacon estimate). The front and knee are those of the "
                 "estimates.\n\n")
    (dst / "front.md").write_text(head + table(front, k, cors) + "\n")
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    extra = ["error_corrected_percent", "beacon", "finetuned"] if cors is not None else []
    w.writerow(["point", "knee", "dtype", "layers", "error_percent", *extra, "instructions",
                "flash_bytes", "weights_bytes", "ram_bytes", "plan"])
    for i, c in enumerate(front):
        more = []
        if cors is not None:
            r = cors[i]
            more = [f"{r.corrected:.4f}", "" if r.beacon is None else r.beacon,
                    int(r.finetuned)]
        w.writerow([i, int(c is k), c.dtype, c.describe(), f"{c.error:.4f}", *more,
                    f"{c.instructions:.0f}", c.flash, c.weights, c.ram,
                    f"plans/point-{i:02d}.json"])
    (dst / "front.csv").write_text(buf.getvalue())
    (dst / "search.json").write_text(json.dumps(dict(
        model=str(o.model), target=board, eval=str(o.eval), objectives=list(o.objectives),
        budget=o.budget, seed=o.seed, max_flash=o.max_flash,
        genes=genes, precisions=list(o.precisions),
        candidates=[c.as_dict() for c in cands],
        **({} if cors is None else dict(
            finetune=dict(train=str(o.finetune), val=o.val and str(o.val), epochs=o.epochs,
                          beacons=o.beacons, seed=o.seed),
            front=[dict(point=i, genome=list(c.genome), **cors[i].as_dict(),
                        **({"finetuned_model": where[i][0].relative_to(dst).as_posix(),
                            "finetuned_sha256": where[i][1], **cors[i].report}
                           if i in where else {}))
                   for i, c in enumerate(front)]))), indent=1) + "\n")
    plot = _plot(dst / "front.png", front, k, cands, board)
    # marks the folder as rnngen's own, so that `--force` may replace it (outputs.is_project)
    (dst / "manifest.json").write_text(json.dumps(dict(
        rnngen=__version__, name=Path(o.model).stem, kind="search", target=board),
        indent=1, sort_keys=True) + "\n")
    files += ["front.md", "front.csv", "search.json", "knee.json", "manifest.json"]
    if plot.startswith("wrote"):
        files.append("front.png")
    return files, plot


def _plot(path: Path, front: list[Candidate], k: Candidate, cands: list[Candidate],
          board: str) -> str:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "no plot: matplotlib is not installed (pip install 'rnngen[bench]')"
    ok = [c for c in cands if not c.failed]
    smax = max(c.flash for c in ok) or 1
    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=100)
    ax.scatter([c.instructions for c in ok], [c.error for c in ok],
               s=[10 + 120 * c.flash / smax for c in ok], c="lightgray", label="evaluated")
    ax.scatter([c.instructions for c in front], [c.error for c in front],
               s=[10 + 120 * c.flash / smax for c in front], c="tab:blue", label="Pareto front")
    ax.scatter([k.instructions], [k.error], s=[10 + 120 * k.flash / smax], c="tab:red",
               label="knee")
    ax.set_xlabel(f"instructions per inference on {board} (predicted)")
    ax.set_ylabel("error (%)")
    ax.set_title("rnngen search (point size: flash)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    plt.close(fig)
    path.write_bytes(buf.getvalue())
    return f"wrote {path.name}"
