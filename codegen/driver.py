"""The Python API behind the CLI: build, verify, inspect.

    from rnngen.driver import build, verify
    build("har.onnx", "out/har", target="cortex-a73")
    result = verify("har.onnx", target="host", expect="torch_outputs.npz")
"""

from __future__ import annotations

import math
import shlex
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from . import boards as boards_mod
from . import (cgen, formats, ir, npyio, outputs, pipeline, precision, quant, reference,
               reference_int, toolchain)
from .emit import board_files, project
from .emit.board_files import exe_name
from .errors import RnngenError
from .passes.plan_memory import conv_s8_scratch


@dataclass(frozen=True)
class BuildOptions:
    target: str = "host"
    board_file: str | None = None
    name: str | None = None
    seq_len: int | None = None
    input: str | None = None  # .npy golden input
    expect: str | None = None  # .npy / .npz expected outputs (instead of the reference)
    atol: float = 1e-5
    rtol: float = 1e-4
    force: bool = False
    flash_budget: int | None = None
    ram_budget: int | None = None
    whole_sequence: bool = False  # --whole-sequence: no streaming even where it could
    measure: bool = True
    no_main: bool = False  # library mode: model and kernels, CMakeLists.txt, rnngen.mk
    sparse_threshold: float | None = None  # CSR for recurrent matrices with >= this zero share
    dtype: str = "float32"  # or "int8"
    calibrate: str | None = None  # int8: .npy of representative inputs
    io: str = "float"  # int8: "float" or "int8" input/outputs at the C API
    precision: Any = None  # --precision: a precision.Plan (implies dtype int8)


@dataclass
class BuildResult:
    out: Path
    graph: ir.Graph
    manifest: dict[str, Any]
    warnings: list[str] = field(default_factory=list)


def _command(model: Path, o: BuildOptions, name: str) -> str:
    """The command line in the banner of the C files; without the board and --no-main, since
    they are the same for every board and in library mode (board_files.board_command adds
    those for the board's files and the manifest)."""
    q = shlex.quote  # file names as a shell would need them (the banner escapes the rest)
    parts = ["rnngen build", q(model.name)] + (["--name", name] if o.name else [])
    if o.seq_len is not None:
        parts += ["--seq-len", str(o.seq_len)]
    if o.sparse_threshold is not None:
        parts += ["--sparse-threshold", repr(o.sparse_threshold)]
    if o.precision is not None:
        parts += ["--precision", q(o.precision.source)]
    elif o.dtype != "float32":
        parts += ["--dtype", o.dtype]
        if o.io != BuildOptions.io:
            parts += ["--io", o.io]
        if o.calibrate:
            parts += ["--calibrate", q(Path(o.calibrate).name)]
    if o.input:
        parts += ["--input", q(Path(o.input).name)]
    if o.expect:
        parts += ["--expect", q(Path(o.expect).name)]
    # only what differs from the defaults: the line is a command to retype, not a settings dump
    if o.atol != BuildOptions.atol:
        parts += ["--atol", repr(o.atol)]
    if o.rtol != BuildOptions.rtol:
        parts += ["--rtol", repr(o.rtol)]
    return " ".join(parts)


def _load_npy(path: str, what: str) -> Any:
    return npyio.load(path, what)  # headers checked before data is read (docs/limits.md)


def golden_input(g: ir.Graph, path: str | None) -> tuple[np.ndarray, str]:
    x, _, src = golden_inputs(g, path)
    return x, src


def golden_inputs(g: ir.Graph, path: str | None
                  ) -> tuple[np.ndarray, dict[str, np.ndarray], str]:
    """The golden sequence, the state inputs' values (stateful models) and where they came
    from: --input is an .npy of the sequence, or an .npz keyed by input name (the sequence
    and every state input); without it, seeded random values."""
    shape = tuple(g.shapes[g.input])
    # a state input with an initializer defaults to it (the values _reset gives)
    defaults = reference.Executor(g).get_state() if any(si.default for si in g.state_inputs) \
        else {}
    defaults = {si.name: defaults[si.name] for si in g.state_inputs if si.default}
    if path is None:
        rng = np.random.default_rng(1)
        state = {si.name: rng.uniform(-1.0, 1.0, size=si.shape).astype(np.float32)
                 for si in g.state_inputs if not si.default}
        return (reference.golden_input(g), {**defaults, **state},
                "seeded random input (uniform [-1, 1), seed 0)" +
                ("; state inputs uniform [-1, 1), seed 1" if state else ""))
    data = _load_npy(path, "input")
    arrays: dict[str, Any] = {}
    if isinstance(data, np.ndarray):
        if any(not si.default for si in g.state_inputs):
            names = ", ".join(f"'{n}'" for n in [g.input] + [s.name for s in g.state_inputs])
            raise RnngenError(f"{path}: the model has several inputs ({names}); give an .npz "
                              "keyed by input name")
        arrays[g.input] = data
    else:
        want = [g.input] + [si.name for si in g.state_inputs]
        if len(want) == 1 and len(data) == 1:
            data = {g.input: next(iter(data.values()))}
        data = {**{k: v for k, v in defaults.items() if k not in data}, **data}
        missing = [n for n in want if n not in data]
        if missing:
            raise RnngenError(f"{path}: no array for input(s) {', '.join(missing)} (has "
                              f"{', '.join(data) or 'none'})")
        extra = [n for n in data if n not in want]
        if extra:
            raise RnngenError(f"{path}: array(s) {', '.join(extra)} are not inputs of the "
                              f"model (its inputs: {', '.join(want)})")
        arrays = {n: data[n] for n in want}
    shapes = {g.input: shape, **{si.name: tuple(si.shape) for si in g.state_inputs}}
    out = {}
    for n, arr in arrays.items():
        what = "input" if len(arrays) == 1 else f"input '{n}'"
        if arr.dtype.kind not in "fiu":
            raise RnngenError(f"{path}: {what} has type {arr.dtype}, expected float")
        squeeze = tuple(d for d in arr.shape if d != 1)
        if squeeze != tuple(d for d in shapes[n] if d != 1):
            raise RnngenError(f"{path}: {what} has shape {arr.shape}, the model takes "
                              f"{shapes[n]}")
        if n == g.input and g.input_ids:
            if arr.dtype.kind == "f" and not np.all(np.isfinite(arr) & (arr == np.rint(arr))):
                raise RnngenError(f"{path}: {what} holds token ids and has values that are "
                                  "not integers")
            if arr.size and np.max(np.abs(arr.astype(np.float64))) >= 2 ** 24:
                raise RnngenError(f"{path}: {what}: token ids of magnitude 2^24 or more")
        arr = arr.astype(np.float32).reshape(shapes[n])
        if not np.all(np.isfinite(arr)):
            raise RnngenError(f"{path}: {what} contains NaN or Inf")
        out[n] = arr
    for n, v in defaults.items():
        out.setdefault(n, v)
    x = out.pop(g.input)
    return x, out, f"input from {Path(path).name}"


def reset_state(g: ir.Graph, dtype: str = "float32") -> np.ndarray | None:
    """What <name>_get_state gives after <name>_reset (None: no state inputs)."""
    if not g.state_inputs:
        return None
    st = reference.Executor(g, dtype=dtype).get_state()
    return np.concatenate([st[si.name].reshape(-1) for si in g.state_inputs])


def reference_outputs(g: ir.Graph, x: np.ndarray, state: dict[str, np.ndarray],
                      dtype: str = "float32") -> tuple[dict[str, np.ndarray], np.ndarray | None]:
    """The reference's outputs for float input x from the given state inputs, and the state
    after the run as <name>_get_state gives it (None: no state inputs)."""
    ex = reference.Executor(g, dtype=dtype)
    if g.state_inputs:
        ex.set_state(state)
    outs = ex.run(x)
    if not g.state_inputs:
        return outs, None
    st = ex.get_state()
    return outs, np.concatenate([st[si.name].reshape(-1) for si in g.state_inputs])


def expected_outputs(g: ir.Graph, path: str) -> dict[str, np.ndarray]:
    data = _load_npy(path, "expected outputs")
    if isinstance(data, np.ndarray):
        if len(g.outputs) != 1:
            raise RnngenError(f"{path}: the model has {len(g.outputs)} outputs "
                              f"({', '.join(g.outputs)}); give an .npz keyed by output name")
        return {g.outputs[0]: data}
    keys = list(data.keys())
    if len(g.outputs) == 1 and len(keys) == 1:
        return {g.outputs[0]: data[keys[0]]}
    missing = [o for o in g.outputs if o not in keys]
    if missing:
        raise RnngenError(f"{path}: no array for output(s) {', '.join(missing)} "
                          f"(has {', '.join(keys)})")
    return {o: data[o] for o in g.outputs}


def compile_graph(model: str | Path, o: BuildOptions, dump: TextIO | None = None) -> ir.Graph:
    # _run's block of steps fits the RAM budget: --ram-budget, else the board's where the
    # block is compiled in (not on Cortex-M: there the budget would only change the C)
    board = boards_mod.get(o.target, o.board_file)
    budget = o.ram_budget if o.ram_budget is not None else \
        (board.ram_budget if not board.m_profile else None)
    return pipeline.compile_model(model, pipeline.Options(
        seq_len=o.seq_len, sparse_threshold=o.sparse_threshold, dtype=o.dtype,
        calibrate=o.calibrate, io=o.io, ram_budget=budget,
        whole_sequence=o.whole_sequence, precision=o.precision), dump)


def build(model: str | Path, out: str | Path, o: BuildOptions = BuildOptions(),
          dump: TextIO | None = None) -> BuildResult:
    model = Path(model)
    out = Path(out)
    if o.name is not None:
        cgen.check_name(o.name)
    for opt, v in (("--atol", o.atol), ("--rtol", o.rtol)):
        if not (isinstance(v, (int, float)) and math.isfinite(v) and v >= 0):
            raise RnngenError(f"{opt} {v}: expected a finite number >= 0")
    inputs = (model, o.input, o.expect, o.calibrate, o.board_file)
    outputs.check_folder_dest(out, o.force, inputs)
    board = boards_mod.get(o.target, o.board_file)
    g = compile_graph(model, o, dump)
    name = o.name or g.name
    x, state, src = golden_inputs(g, o.input)
    atol, rtol = o.atol, o.rtol
    # the state after the run (stateful models): rnngen's reference, float or integer
    _, state_out = reference_outputs(g, x, state, "int8" if g.quant is not None else "float32")
    if o.expect:
        expected = expected_outputs(g, o.expect)
        src += f"; expected outputs from {Path(o.expect).name}"
    elif g.quant is not None:
        expected = int8_outputs(g, x, state)
        src += "; expected outputs from rnngen's integer reference (exact)"
        atol = rtol = 0.0
        if float_layers(g):  # the C may round a float32 layer's near-boundary value otherwise
            atol = float32_atol(g, x, state, expected)
            if atol:
                src += (f" but for float32 layers' values near a rounding boundary (atol "
                        f"{atol:g}: those rounded the other way)")
    else:
        expected, _ = reference_outputs(g, x, state)
        src += "; expected outputs from rnngen's NumPy reference"
    if g.quant is not None and g.quant.io == "int8":
        x = quant.quantize_input(x, g.quant.input)
    golden = project.Golden(
        x=x, outputs=expected, source=src, atol=atol, rtol=rtol,
        state=np.concatenate([state[si.name].reshape(-1) for si in g.state_inputs])
        if g.state_inputs else None, state_out=state_out,
        state0=reset_state(g, "int8" if g.quant is not None else "float32"),
        # float32 layers' float state: compared as a float build's state
        state_tol=(BuildOptions.atol, BuildOptions.rtol) if float_state(g) else None)
    command = _command(model, o, name)
    files, manifest = project.render(g, board, name, model, golden, command,
                                     pipeline.pass_names())
    manifest["command"] = board_files.board_command(board, command, o.no_main)
    if g.quant is not None:  # the precision of every layer with weights (--precision)
        manifest["precision"] = (o.precision or precision.Plan()).describe()
    if o.no_main:
        files = board_files.library(project.environment(), board, name, manifest,
                                    pipeline.pass_names(), files)
        manifest.update(library=True, golden=None)
    warnings: list[str] = list(g.quant.warnings) if g.quant is not None else []
    with outputs.staging(out) as stage:
        project.write_tree(stage.path, files, manifest)
        if o.measure:
            if toolchain.have_compiler(board):
                _measure(stage.path, board, manifest, o)
                project.write_manifest(stage.path / "manifest.json", manifest)
            else:
                warnings.append(f"flash/RAM not measured: {toolchain.missing(board)}")
        outputs.check_folder_dest(out, o.force, inputs)
        stage.commit(o.force)
    return BuildResult(out=out, graph=g, manifest=manifest, warnings=warnings)


def int8_outputs(g: ir.Graph, x: np.ndarray, state: dict[str, np.ndarray] | None = None
                 ) -> dict[str, np.ndarray]:
    """What the int8 C returns for float input x (from the state inputs' values `state`):
    dequantized (float I/O) or int8 values."""
    ex = reference.Executor(g, dtype="int8")
    if g.state_inputs:
        ex.set_state(state or {})
    if g.quant.io == "float":
        return ex.run(x)
    return {o: v.astype(np.int8) for o, v in
            ex.run_int(quant.quantize_input(x, g.quant.input)).items()}


def float_layers(g: ir.Graph) -> list[str]:
    """The layers in float32 inside an int8 model (--precision LAYER=float32)."""
    if g.quant is None:
        return []
    return [k for k, v in g.quant.nodes.items() if isinstance(v, quant.QFloatLayer)]


def float_state(g: ir.Graph) -> bool:
    """A state input holds a float32 layer's h or c (float in the int8 model)."""
    fl = set(float_layers(g))
    return any(node in fl for si in g.state_inputs for node, _, _, _ in si.slots)


def float32_atol(g: ir.Graph, x: np.ndarray, state: dict[str, np.ndarray] | None,
                 expected: dict[str, np.ndarray]) -> float:
    """The golden's tolerance of an int8 model with float32 layers: 0 (exact) when none of
    their outputs lies near a rounding boundary (reference_int.NEAR) on this input; else the
    largest output difference when those values are rounded the other way (docs/int8.md,
    "float32 layers")."""
    ex = reference.Executor(g, dtype="int8")
    _int8_run(ex, g, x, state)  # counts the near values
    if not sum(ex.near.values()):
        return 0.0
    ex = reference.Executor(g, dtype="int8")
    ex.nudge = True
    other = _int8_run(ex, g, x, state)
    return max(float(np.max(np.abs(np.asarray(other[o], np.float64)
                                   - np.asarray(expected[o], np.float64))))
               for o in g.outputs)


def _int8_run(ex: reference.Executor, g: ir.Graph, x: np.ndarray,
              state: dict[str, np.ndarray] | None) -> dict[str, np.ndarray]:
    if g.state_inputs:
        ex.set_state(state or {})
    if g.quant.io == "float":
        return ex.run(x)
    return ex.run_int(quant.quantize_input(x, g.quant.input))


def int8_error(g: ir.Graph, x: np.ndarray, state: dict[str, np.ndarray] | None = None
               ) -> float:
    """Largest |int8 model - float model| over the outputs, for the same float input (and
    state inputs)."""
    want, _ = reference_outputs(g, x, state or {})
    got, _ = reference_outputs(g, x, state or {}, "int8")
    return max(float(np.max(np.abs(got[o] - want[o]))) for o in g.outputs)


def model_objects(manifest: dict[str, Any]) -> list[str]:
    """The objects of the model's flash: its own and its kernels' (without those only
    <name>_run's block calls, when the board runs step by step: the linker drops them)."""
    skip = set(manifest.get("block_kernels", ())) if manifest.get("run_block") == 1 else set()
    return [f"build/{manifest['name']}.o"] + [f"build/{k}.o" for k in manifest["kernels"]
                                              if k not in skip]


def _measure(folder: Path, board: boards_mod.Board, manifest: dict[str, Any],
             o: BuildOptions) -> None:
    if o.no_main:  # no Makefile: compile the sources as rnngen.mk lists them
        toolchain.compile_objects(folder, board, [f"src/{Path(obj).stem}.c"
                                                  for obj in model_objects(manifest)])
    else:
        toolchain.build(folder, "objs")
    flash, ram, parts = toolchain.measure(folder, board, model_objects(manifest),
                                          manifest["state_bytes"])
    shutil.rmtree(folder / "build", ignore_errors=True)
    manifest["flash_bytes"] = flash
    manifest["ram_bytes"] = ram
    manifest["size"] = parts
    check_budget(board, manifest, o)


def check_budget(board: boards_mod.Board, manifest: dict[str, Any], o: BuildOptions) -> None:
    """Refuse a model over the board's (or the user's) flash or RAM budget, naming both."""
    flash, ram = manifest["flash_bytes"], manifest["ram_bytes"]
    fb = board.flash_budget if o.flash_budget is None else o.flash_budget
    rb = board.ram_budget if o.ram_budget is None else o.ram_budget
    manifest["flash_budget"] = fb
    manifest["ram_budget"] = rb
    over = []
    if fb and flash > fb:
        over.append(f"flash {flash} bytes > budget {fb}")
    if rb and ram > rb:
        over.append(f"RAM {ram} bytes > budget {rb}")
    if over:
        raise RnngenError(f"the model does not fit {board.name} ({board.part}): "
                          f"{'; '.join(over)} (override with --flash-budget / --ram-budget)")


@dataclass
class VerifyResult:
    passed: bool
    report: dict[str, Any]
    output: str


def verify(model: str | Path, o: BuildOptions = BuildOptions(), keep: str | Path | None = None,
           timeout: float = 300.0) -> VerifyResult:
    board = boards_mod.get(o.target, o.board_file)
    toolchain.require(board, run=True)
    if o.input is not None:  # N > 1 sequences: each checked, through one program run
        from . import validate as val

        xs = val.input_sequences(compile_graph(model, o), o.input)
        if xs is not None:
            return val.verify_sequences(model, o, xs, keep, timeout)
    tmpdir = None
    if keep is not None:
        out = Path(keep)
        o = BuildOptions(**{**o.__dict__, "force": True})
    else:
        tmpdir = tempfile.mkdtemp(prefix="rnngen-verify-")
        out = Path(tmpdir) / "project"
    try:
        res = build(model, out, BuildOptions(**{**o.__dict__, "measure": False,
                                                "no_main": False}))
        toolchain.build(out, "all", timeout=timeout)
        m = res.manifest
        flash, ram, parts = toolchain.measure(out, board, model_objects(m), m["state_bytes"])
        m.update(flash_bytes=flash, ram_bytes=ram, size=parts)
        check_budget(board, m, o)
        project.write_manifest(out / "manifest.json", m)
        run = toolchain.run(out, timeout=timeout, board=board)
        f = run.fields
        report = {
            "passed": run.passed,
            "max_abs_err": float(f.get("max_abs_err", "nan")),
            "max_rel_err": float(f.get("max_rel_err", "nan")),
            "mismatches": int(f.get("mismatches", "-1")),
            "values": int(f.get("values", "0")),
            "target": board.name,
            "flash_bytes": flash,
            "ram_bytes": ram,
            "outputs": [x["name"] for x in m["outputs"]],
            "reference": "expected" if o.expect else "rnngen reference",
            "streaming": m["streaming"],
            "stream_errors": int(f.get("stream_errors", "0")),
            "atol": res.manifest["golden"]["atol"] if res.manifest.get("golden") else o.atol,
            "rtol": res.manifest["golden"]["rtol"] if res.manifest.get("golden") else o.rtol,
            "dtype": m.get("dtype", "float32"),
            "exe": str(out / exe_name(board, m["name"])) if keep else None,
            "warnings": list(res.warnings),
            # cycles of one run on silicon (DWT / PMU); "not_modelled" under QEMU (Cortex-M),
            # "unavailable" where the OS or emulator does not give the PMU
            "cycles": int(f["cycles"]) if f.get("cycles", "").isdigit() else
            f.get("cycles"),
        }
        if res.graph.quant is not None:
            x, state, _ = golden_inputs(res.graph, o.input)
            report["int8_vs_float_max_abs_err"] = int8_error(res.graph, x, state)
            report["calibration"] = res.graph.quant.calibration
        return VerifyResult(run.passed, report, run.output)
    finally:
        if tmpdir:
            shutil.rmtree(tmpdir, ignore_errors=True)


def inspect(model: str | Path, seq_len: int | None = None,
            sparse_threshold: float | None = None) -> dict[str, Any]:
    g = pipeline.compile_model(model, pipeline.Options(seq_len=seq_len,
                                                       sparse_threshold=sparse_threshold), None)
    layers = []
    total_params = 0
    total_bytes = 0  # matrices' storage (CSR index arrays included) + float32 vectors
    for n in g.nodes:
        if isinstance(n, ir.Recurrent):
            mats = []
            for d, cd in enumerate(n.directions):
                for role, m in (("W", cd.W), ("R", cd.R)):
                    tag = "bwd " if cd.reverse and n.num_directions == 2 else ""
                    if m.shape[0]:  # a cell without a recurrent matrix (SRU) has R [0, H]
                        mats.append(_matrix_info(tag + role, m))
            vectors = sum(cd.wb.size + cd.rb.size + (0 if cd.p is None else cd.p.size)
                          for cd in n.directions)
            params = sum(x["params"] for x in mats) + vectors
            total_params += params
            total_bytes += sum(x["bytes"] for x in mats) + 4 * vectors
            layers.append(dict(node=n.name, op=n.cell, direction=_direction(n),
                               input_size=n.input_size, hidden_size=n.hidden,
                               matrices=mats, params=int(params),
                               macs_per_step=sum(d.W.macs + d.R.macs for d in n.directions)))
        elif isinstance(n, ir.Linear):
            mats = [_matrix_info("W", n.W)]
            params = n.W.params + (0 if n.b is None else n.b.size)
            total_params += params
            total_bytes += n.W.nbytes + 4 * (0 if n.b is None else n.b.size)
            rows = math.prod(g.shapes[n.inputs[0]][:-1])
            layers.append(dict(node=n.name, op="Linear", matrices=mats, params=int(params),
                               macs=n.W.macs * rows))
        elif isinstance(n, (ir.Conv, ir.LayerNorm, ir.ChannelAffine, ir.Embedding)):
            from . import analysis

            params = analysis._params(n)
            total_params += params
            total_bytes += 4 * params
            lay = dict(node=n.name, op=analysis._op(n), params=int(params),
                       macs=analysis._node_macs(g, n))
            if isinstance(n, ir.Conv):
                lay.update(kernel=list(n.kernel), strides=list(n.strides), pads=list(n.pads),
                           dilations=list(n.dilations), group=n.group,
                           channels=[int(n.W.shape[1]) * n.group, int(n.W.shape[0])],
                           # float: direct, none; int8: rnn_conv_s8's scratch in the int16
                           # work area (plan_memory.conv_s8_scratch), bytes
                           scratch=0, scratch_s8=2 * conv_s8_scratch(n))
            if isinstance(n, ir.Embedding):  # token ids -> rows of the table in flash
                lay.update(vocabulary=int(n.table.shape[0]), dim=int(n.table.shape[1]))
            layers.append(lay)
        elif not isinstance(n, (ir.View, ir.Transpose, ir.Slice, ir.Concat)):
            # data movement (views, transposes, slices) is not listed as a layer
            from . import analysis

            layers.append(dict(node=n.name, op=analysis._op(n)))
    return dict(model=str(model), seq_len=g.seq_len, time_axis=g.input_time_axis,
                input=dict(name=g.input, shape=list(g.shapes[g.input]),
                           type="int32 token ids" if g.input_ids else "float32"),
                outputs=[dict(name=o, shape=list(g.shapes[o])) for o in g.outputs],
                streaming=g.streaming, not_streaming_why=g.not_streaming_why,
                delay_frames=g.step.delay if g.step is not None else 0,
                state_inputs=[_state_info(si) for si in g.state_inputs],
                notes=list(g.notes), layers=layers, params=int(total_params),
                macs_per_step=ir.macs_per_step(g),
                weight_bytes=int(total_bytes))


def _state_info(si: ir.StateInput) -> dict[str, Any]:
    """A state input for inspect: its shape and which recurrent states it holds."""
    holds: dict[tuple[str, int, str], int] = {}
    for node, d, kind, _ in si.slots:
        holds[(node, d, kind)] = holds.get((node, d, kind), 0) + 1
    return dict(name=si.name, shape=list(si.shape),
                holds=[dict(node=n, direction=d, state=k, units=c)
                       for (n, d, k), c in holds.items()])


def _direction(n: ir.Recurrent) -> str:
    if n.num_directions == 2:
        return "bidirectional"
    return "reverse" if n.directions[0].reverse else "forward"


def _matrix_info(role: str, m: ir.Matrix) -> dict[str, Any]:
    """format: the IR format, for a row stack its blocks' ("hmd x4", "(dense+kron) x4");
    compression: dense parameters / stored parameters; mac_reduction: dense MACs / MACs."""
    rows, cols = m.shape
    info = dict(role=role, format=format_name(m), shape=[rows, cols], params=m.params,
                bytes=m.nbytes, macs=m.macs,
                compression=round(rows * cols / max(1, m.params), 3),
                mac_reduction=round(rows * cols / max(1, m.macs), 3))
    if formats.is_stack(m):
        info["blocks"] = [b.fmt for b in formats.blocks(m)]
    return info


def format_name(m: ir.Matrix) -> str:
    """A matrix's format; a stack by its blocks, repeats counted: "hmd x4", "dense+kron",
    "(dense+kron) x4", "dense+hmd+csr+lowrank"."""
    if not formats.is_stack(m):
        return m.fmt
    fmts = [b.fmt for b in formats.blocks(m)]
    for period in range(1, len(fmts) // 2 + 1):
        if len(fmts) % period == 0 and fmts == fmts[:period] * (len(fmts) // period):
            unit = "+".join(fmts[:period])
            return f"{unit if period == 1 else f'({unit})'} x{len(fmts) // period}"
    return "+".join(fmts)


def inspect_int8(model: str | Path, seq_len: int | None = None, calibrate: str | None = None,
                 precision: Any = None) -> dict[str, Any]:
    """Each int8 tensor's scale and zero point, and each layer's quantization error on the
    calibration data (the int8 model against the float model, tensor by tensor)."""
    from .passes.quantize import calibration_inputs

    g = pipeline.compile_model(model, pipeline.Options(seq_len=seq_len, dtype="int8",
                                                       calibrate=calibrate,
                                                       precision=precision), None)
    plan = g.quant
    xs, _, _ = calibration_inputs(g, calibrate)
    err: dict[str, float] = {}
    span: dict[str, float] = {}
    for x in xs:
        f_env = reference.Executor(g).run_all(x)
        q_env = reference.Executor(g, dtype="int8").run_all(quant.quantize_input(x, plan.input))
        for t, v in q_env.items():
            if t not in plan.tensors:
                continue
            got = reference_int.dequantize_output(plan, t, v)
            err[t] = max(err.get(t, 0.0), float(np.max(np.abs(got - f_env[t]))))
            span[t] = max(span.get(t, 0.0), float(np.max(np.abs(f_env[t]))))
    tensors = []
    for t, p in plan.tensors.items():
        if t not in g.shapes:
            continue
        row: dict[str, Any] = {"tensor": t, "max_abs_err": err.get(t), "max_abs": span.get(t)}
        row.update(dtype=p.dtype, scale=p.scale, zero_point=p.zero_point)
        tensors.append(row)
    layers = []
    for n in g.nodes:
        if isinstance(n, (ir.Recurrent, ir.Linear, ir.Softmax, ir.Unary)):
            outs = [o for o in n.outputs if o and o in err]
            layers.append({"node": n.name, "op": n.cell if isinstance(n, ir.Recurrent) else n.op,
                           "max_abs_err": max((err[o] for o in outs), default=None),
                           "outputs": outs})
    return {"model": str(model), "calibration": plan.calibration, "warnings": list(plan.warnings),
            "tensors": tensors, "layers": layers}
