"""The compiler pipeline: one ordered list of named passes; the IR is verified after each."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, TextIO

from . import ir
from .errors import RnngenError
from .frontends import load
from .passes import (analyze_time, fold_batchnorm, plan_memory, quantize, simplify, sparsify,
                     validate)

DTYPES = ("float32", "int8")
IO_TYPES = ("float", "int8")


@dataclass(frozen=True)
class Options:
    """What the user chose, checked once here; passes read the fields (no defaults of their
    own). A flag that means nothing in its context is an error, not silently ignored."""

    seq_len: int | None = None
    sparse_threshold: float | None = None  # --sparse-threshold: CSR from this zero fraction
    dtype: str = "float32"  # "float32" or "int8"
    calibrate: str | None = None  # .npy of representative inputs (int8)
    io: str = "float"  # int8 models: "float" or "int8" input and outputs at the C API
    ram_budget: int | None = None  # bytes (0/None: none): bounds <name>_run's block of steps
    whole_sequence: bool = False  # --whole-sequence: compile for whole sequences regardless
    precision: Any = None  # --precision: a precision.Plan (integer builds only)

    def __post_init__(self) -> None:
        if self.seq_len is not None and self.seq_len < 1:
            raise RnngenError(f"--seq-len {self.seq_len} must be at least 1")
        if self.sparse_threshold is not None and not 0 < self.sparse_threshold <= 1:
            raise RnngenError(f"--sparse-threshold {self.sparse_threshold} must be in (0, 1]: "
                              "the fraction of zeros from which a matrix is stored as CSR")
        if self.dtype not in DTYPES:
            raise RnngenError(f"--dtype {self.dtype}: expected one of {', '.join(DTYPES)}")
        if self.io not in IO_TYPES:
            raise RnngenError(f"--io {self.io}: expected one of {', '.join(IO_TYPES)}")
        if self.dtype != "int8":
            if self.precision is not None:
                raise RnngenError(f"--precision {self.precision.source}: an integer build; "
                                  f"it cannot go with --dtype {self.dtype} (leave --dtype out)")
            if self.io != "float":
                raise RnngenError(f"--io {self.io} needs --dtype int8 (a float32 model's C API "
                                  "is float)")
            if self.calibrate is not None:
                raise RnngenError("--calibrate needs --dtype int8 (calibration data sets the "
                                  "int8 ranges)")


PASSES: tuple[tuple[str, Callable[[ir.Graph, Options], ir.Graph]], ...] = (
    # refuse NaN/Inf weights and empty layers before anything else looks at them
    ("validate", validate.run),
    # --sparse-threshold F: dense recurrent matrices (or blocks) with >= F zeros become CSR
    ("sparsify", sparsify.run),
    # drop no-op transposes/slices and view chains, fuse bias adds, remove dead nodes
    ("simplify", simplify.run),
    # a BatchNormalization after a Conv or a plain Linear goes into its weights and bias
    ("fold_batchnorm", fold_batchnorm.run),
    # causal model? then build the one-step graph used by <name>_step
    ("analyze_time", analyze_time.run),
    # --dtype int8: calibrate, then int8 weights, requantization and activation tables
    ("quantize", quantize.run),
    # offsets of every tensor in the arena, recurrent state slots, cell scratch
    ("plan_memory", plan_memory.run),
)


def compile_model(path: str | Path, opts: Options, dump: TextIO | None = None) -> ir.Graph:
    g = load(path, opts.seq_len)
    ir.verify(g)
    if dump is not None:
        print(f"== frontend ({Path(path).name})\n{g.dump()}", file=dump)
    for name, fn in PASSES:
        g = fn(g, opts)
        ir.verify(g)
        if dump is not None:
            print(f"== after {name}\n{g.dump()}", file=dump)
            if name == "analyze_time":
                if g.step is not None:
                    print(f"-- one-step graph\n{g.step.dump()}", file=dump)
                else:
                    print(f"-- not streaming: {g.not_streaming_why}", file=dump)
    return g


def pass_names() -> list[str]:
    return [name for name, _ in PASSES]
