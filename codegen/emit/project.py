"""Write the emitted project: sources, kernels, golden test, Makefile, manifest.json.

Everything is rendered in memory and written into a staging folder (codegen/outputs.py) that
is renamed into place at the end, so a failure never leaves a half-written output folder.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import numpy as np

from .. import __version__, cgen, ir, outputs
from ..boards import Board
from ..errors import RnngenError
from ..resources import data_dir
from . import c as cemit


@dataclass(frozen=True)
class Golden:
    x: np.ndarray  # the input tensor
    outputs: dict[str, np.ndarray]  # expected output tensors, by graph output name
    source: str  # what the expected values are, for the file header
    atol: float
    rtol: float
    state: np.ndarray | None = None  # stateful models: the state inputs' values, flat
    state_out: np.ndarray | None = None  # and the state after the run (get_state)
    state0: np.ndarray | None = None  # the state after _reset (zeros or initializers)
    # the tolerance of the state after the run (None: atol / rtol); an int8 model whose
    # float32 layers keep float state: a float build's (docs/int8.md, "float32 layers")
    state_tol: tuple[float, float] | None = None


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(data_dir("templates")), str(data_dir("boards"))]),
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined, autoescape=False)
    # text that came from an input (file, node and board names): safe in C, Makefile, CMake
    # and linker-script comments (cgen.c_comment)
    env.filters["comment"] = cgen.c_comment
    return env


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def golden_vector(g: ir.Graph, golden: Golden) -> np.ndarray:
    """Expected outputs in the order name_run writes them (outputs concatenated)."""
    parts = []
    for o in g.outputs:
        if o not in golden.outputs:
            raise RnngenError(f"expected outputs have no '{o}'")
        arr = np.asarray(golden.outputs[o])
        arr = arr if arr.dtype == np.int8 else arr.astype(np.float32)
        if arr.size != math.prod(g.shapes[o]):
            raise RnngenError(f"expected output '{o}' has shape {arr.shape}, the model gives "
                              f"{tuple(g.shapes[o])}")
        parts.append(arr.reshape(-1))
    return np.concatenate(parts) if len({p.dtype for p in parts}) == 1 else \
        np.concatenate([p.astype(np.float32) for p in parts])


def render(g: ir.Graph, board: Board, name: str, model_path: Path, golden: Golden,
           command: str, passes: list[str]) -> tuple[dict[str, str], dict[str, Any]]:
    """All files of the project as {relative path: text}, and the manifest (unmeasured)."""
    env = environment()
    ctx = cemit.build_context(g, name)
    sources = cemit.KERNELS
    if g.quant is not None:
        from . import c_int8
        sources = {**cemit.KERNELS, **c_int8.INT8_KERNELS}
    digest = sha256(model_path)
    banner = dict(version=__version__, command=command, model=model_path.name, sha256=digest,
                  passes=", ".join(passes))
    files: dict[str, str] = {}
    common = dict(ctx, banner=banner)
    files[f"include/{name}.h"] = env.get_template("model.h.j2").render(common)
    files[f"src/{name}.c"] = env.get_template("model.c.j2").render(common)

    # golden vector and the test program
    x = np.asarray(golden.x).reshape(-1)
    y = golden_vector(g, golden)
    if ctx["out_t"] == "int8_t":
        y = y.astype(np.int8)
    T = g.seq_len
    split = T // 2 if g.streaming and T >= 2 else 0
    def out_size(steps: int) -> int:
        return ctx["seq_out"] * steps + ctx["fin_out"]

    y2_size = max(y.size, out_size(split) + out_size(T - split)) if split else y.size
    segments = []
    for o in ctx["outputs"]:
        def off(steps: int, o: dict[str, Any] = o) -> int:
            return o["seq_before"] * steps + o["fin_before"]
        segments.append(dict(seq=int(o["seq"]), size=o["size"], step_off=o["step_off"],
                             off_all=off(T), off_first=off(split) if split else 0,
                             off_rest=off(T - split) if split else 0))
    files["test/golden.h"] = env.get_template("golden.h.j2").render(
        banner=banner, golden_source=golden.source, steps=T, x_size=x.size, y_size=y.size,
        atol=repr(float(golden.atol)), rtol=repr(float(golden.rtol)),
        state_atol=repr(float((golden.state_tol or (golden.atol, golden.rtol))[0])),
        state_rtol=repr(float((golden.state_tol or (golden.atol, golden.rtol))[1])),
        x_decl=cgen.array_declare(ctx["in_t"], "golden_x", x),
        y_decl=cgen.array_declare(ctx["out_t"], "golden_y", y),
        state_decls=[] if golden.state is None else [
            cgen.array_declare("float", "golden_state", np.asarray(golden.state, np.float32)),
            cgen.array_declare("float", "golden_state_out",
                               np.asarray(golden.state_out, np.float32)),
            cgen.array_declare("float", "golden_state0", np.asarray(
                np.zeros(golden.state.size) if golden.state0 is None else golden.state0,
                np.float32))])
    io = board_io(board)
    files["test/main.c"] = env.get_template("main.c.j2").render(
        common, split=split, segments=segments, y2_size=y2_size, **io)

    # kernels, headers
    rt = data_dir("runtime_c")
    headers = ["rnn_nnfunctions.h", "rnn_nn_types.h"]
    kernel_files = {f"src/{Path(sources[k][0]).name}": (rt / "Source" / sources[k][0]).read_text()
                    for k in ctx["kernels"]}
    # the shared helpers (saturation, requantization, strided walks): every int8 model, and a
    # float model whose kernels include them (copy_strided, elementwise)
    if g.quant is not None or any('#include "rnn_nn_support.h"' in text
                                  for text in kernel_files.values()):
        headers.append("rnn_nn_support.h")
    # and any other runtime header a kernel includes (rnn_cell_support.h: the int8 cells')
    for text in kernel_files.values():
        for h in re.findall(r'#include "(rnn_[a-z0-9_]+\.h)"', text):
            if h not in headers:
                headers.append(h)
    for h in headers:
        files[f"include/{h}"] = (rt / "Include" / h).read_text()
    files.update(kernel_files)

    model_srcs = [f"src/{name}.c"] + [f"src/{Path(sources[k][0]).name}"
                                      for k in ctx["kernels"]]
    from . import board_files
    files.update(board_files.render(env, board, name, banner, model_srcs))

    manifest = {
        "rnngen": __version__,
        "name": name,
        "model": model_path.name,
        "model_sha256": digest,
        "target": board.name,
        "board_part": board.part,
        "command": command,
        "seq_len": T,
        "streaming": g.streaming,
        "not_streaming_why": g.not_streaming_why,
        "delay_frames": g.step.delay if g.step is not None else 0,
        # streaming models: <name>_run's block of steps on this board (1: step by step), and
        # why not more
        "run_block": (ctx["block"] if not board.m_profile else 1) if g.streaming else None,
        "run_block_why": ("" if not g.streaming else
                          "Cortex-M: the block would cost RAM and save nothing (model.h, "
                          "_RUN_BLOCK)" if board.m_profile and ctx["block"] > 1 else g.block_why),
        "input": {"name": g.input, "shape": list(g.shapes[g.input])},
        "outputs": [{"name": o["name"], "shape": o["shape"], "per_step": o["seq"]}
                    for o in ctx["outputs"]],
        "macs_per_step": ir.macs_per_step(g),
        "dtype": "int8" if g.quant is not None else "float32",
        "io": g.quant.io if g.quant is not None else "float",
        "calibration": g.quant.calibration if g.quant is not None else None,
        "weights_bytes": ctx["weight_bytes"],
        "state_bytes": ctx["state_bytes"] if board.m_profile else ctx["state_bytes_block"],
        "kernels": ctx["kernels"],
        # of those, the ones only <name>_run's block calls (compiled out on Cortex-M)
        "block_kernels": ctx["block_kernels"],
        "golden": {"source": golden.source, "atol": golden.atol, "rtol": golden.rtol,
                   "values": int(y.size)},
        "flash_bytes": None,
        "ram_bytes": None,
    }
    if g.quant is not None:  # what an --io int8 caller needs to (de)quantize
        def qp(p: Any) -> dict[str, Any]:
            if p is None:  # token ids: int32 as they are
                return {"dtype": "int32"}
            return {"dtype": p.dtype, "scale": p.scale, "zero_point": p.zero_point}
        manifest["quantization"] = {"input": qp(g.quant.input),
                                    "outputs": {o: qp(g.quant.tensors[o]) for o in g.outputs}}
    return files, manifest


def board_io(board: Board) -> dict[str, str]:
    from . import board_files
    return board_files.test_io(board)


def manifest_text(manifest: dict[str, Any]) -> str:
    return json.dumps(manifest, indent=2, sort_keys=True) + "\n"


def write_manifest(path: Path, manifest: dict[str, Any]) -> None:
    outputs.write_text(path, manifest_text(manifest))


def write_tree(folder: Path, files: dict[str, str], manifest: dict[str, Any]) -> None:
    """The project's files and manifest.json into `folder` (a fresh staging folder)."""
    outputs.write_tree(folder, {**files, "manifest.json": manifest_text(manifest)})
