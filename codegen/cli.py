"""The rnngen command line: build, verify, validate, inspect, compress, boards.

Errors in the user's input print one line and exit with code 2; a failed verification
exits with 1. Nothing is written when a command fails.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import sys
from pathlib import Path
import traceback
from collections.abc import Iterator
from typing import Any

import click

from . import __version__
from . import compress as compress_methods
from .errors import RnngenError
from .outputs import Terminated, install_signal_handlers

_CONTEXT = dict(help_option_names=["-h", "--help"], max_content_width=100)


def _fail(msg: str, code: int = 2) -> None:
    click.echo(f"rnngen: error: {msg}", err=True)
    sys.exit(code)


class _OneLineUsage(click.Command):
    """Bad options print one line (rnngen: error: ...) and exit 2, like bad input."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as e:
            _fail(" ".join(e.format_message().split()))
            raise  # unreachable


class _Group(click.Group):
    command_class = _OneLineUsage

    def resolve_command(self, ctx: click.Context, args: list[str]) -> Any:
        try:
            return super().resolve_command(ctx, args)
        except click.UsageError as e:  # an unknown command
            _fail(" ".join(e.format_message().split()))
            raise  # unreachable

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except RnngenError as e:
            _fail(str(e), e.exit_code)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException,
                SystemExit):
            raise
        except KeyboardInterrupt:
            _fail("interrupted", 130)
        except Terminated as e:
            _fail(f"terminated by signal {e.signum}", 128 + e.signum)
        except BrokenPipeError:  # output piped into `head`: stop quietly
            try:
                sys.stdout = open(os.devnull, "w")
            finally:
                os._exit(141)
        except OSError as e:  # the file system or the machine, not the input's structure
            where = f"{e.filename}: " if e.filename else ""
            _fail(f"{where}{e.strerror or type(e).__name__}")
        except Exception as e:  # a bug in rnngen: say so in one line
            if os.environ.get("RNNGEN_DEBUG"):
                traceback.print_exc()
            _fail(f"internal error: {type(e).__name__}: {e} (set RNNGEN_DEBUG=1 for details; "
                  "please report it)", 3)


@click.group(cls=_Group, context_settings=_CONTEXT)
@click.version_option(__version__, "--version", prog_name="rnngen")
def main() -> None:
    """rnngen: compile a trained (and compressed) recurrent network into a standalone C99
    project for a board, with a golden test that runs under QEMU."""
    install_signal_handlers()


def _plan_option(f: Any) -> Any:
    return click.option("--plan", type=click.Path(dir_okay=False),
                        help="A plan of `rnngen search` (JSON): per-layer compression and the "
                             "number type; MODEL defaults to the plan's.")(f)


def _precision(dtype: str, spec: str | None) -> tuple[str, Any]:
    """(dtype, precision plan) of --dtype and --precision: a precision means an integer build
    (--dtype int8 implied; --dtype float32 given with it is an error)."""
    if spec is None:
        return dtype, None
    from click.core import ParameterSource

    from . import precision

    p = precision.parse(spec)
    ctx = click.get_current_context()
    if ctx.get_parameter_source("dtype") == ParameterSource.COMMANDLINE and dtype != "int8":
        raise RnngenError(f"--precision {spec}: an integer build; it cannot go with --dtype "
                          f"{dtype} (leave --dtype out)")
    return "int8", p


@contextlib.contextmanager
def _planned(model: str | None, plan: str | None, dtype: str, calibrate: str | None,
             seq_len: int | None, prec: Any = None
             ) -> Iterator[tuple[str, str, str | None, int | None, Any]]:
    """(model, dtype, calibrate, seq_len, precision) to build: as given, or the plan's
    compressed model (a temporary file) with the plan's number type, per-layer precision,
    calibration and sequence length."""
    if plan is None:
        if model is None:
            raise RnngenError("give a MODEL (or --plan PLAN.json)")
        yield model, dtype, calibrate, seq_len, prec
        return
    from . import plan as plans

    p = plans.load(plan)
    if dtype != "float32" and dtype != p.dtype and prec is None:
        raise RnngenError(f"--dtype {dtype}: the plan {plan} says {p.dtype} (leave --dtype "
                          "out with --plan)")
    if prec is not None:
        raise RnngenError(f"--precision {prec.source}: the plan {plan} sets the precision of "
                          "its layers (leave --precision out with --plan)")
    with plans.materialized(plan, model) as (path, p):
        cal = calibrate if calibrate is not None else p.calibrate
        yield str(path), p.dtype, cal if p.dtype == "int8" else None, \
            seq_len if seq_len is not None else p.seq_len, p.precision_plan()


def _target_options(f: Any) -> Any:
    f = click.option("--board-file", type=click.Path(dir_okay=False),
                     help="Your own board description (TOML), instead of --target.")(f)
    f = click.option("--target", "-t", default="host", show_default=True,
                     help="Board to build for (`rnngen boards` lists them).")(f)
    return f


def _sparse_option(f: Any) -> Any:
    return click.option("--sparse-threshold", type=click.FloatRange(0, 1, min_open=True),
                        help="Store a dense recurrent matrix (or block) with at least this "
                             "fraction of zeros as CSR (default: off).")(f)


def _dtype_options(f: Any) -> Any:
    f = click.option("--io", type=click.Choice(["float", "int8"]), default="float",
                     show_default=True, help="int8 models: type of the C API's input and "
                     "outputs.")(f)
    f = click.option("--calibrate", type=click.Path(dir_okay=False),
                     help="int8: representative inputs (.npy, [N, ...] for N sequences); "
                          "default: seeded random sequences, with a warning.")(f)
    f = click.option("--dtype", type=click.Choice(["float32", "int8"]), default="float32",
                     show_default=True, help="Arithmetic of the generated C.")(f)
    f = _precision_option(f)
    return f


def _precision_option(f: Any) -> Any:
    return click.option("--precision", "precision_spec", metavar="SPEC",
                        help="Integer build with these number types per layer (implies "
                        "--dtype int8): w8a8, w4a8, w8a16 or w4a16 (every layer), LAYER=w4a8,... "
                        "(names as "
                        "`rnngen inspect` prints them; others w8a8), or a .toml/.json plan "
                        "file (docs/int8.md).")(f)


def _model_options(f: Any) -> Any:
    f = _dtype_options(f)
    f = _sparse_option(f)
    f = click.option("--seq-len", type=click.IntRange(min=1),
                     help="Sequence length, for models whose time axis is dynamic.")(f)
    f = click.option("--name", help="C prefix of the API (default: from the model file name).")(f)
    f = click.option("--input", "input_", type=click.Path(dir_okay=False),
                     help="Golden input (.npy); default: seeded random values.")(f)
    return f


@main.command(context_settings=_CONTEXT)
@click.argument("model", type=click.Path(dir_okay=False), required=False)
@_target_options
@click.option("-o", "--output", "out", type=click.Path(file_okay=False),
              help="Output folder (default: ./<name>_<target>).")
@_plan_option
@_model_options
@click.option("--force", is_flag=True, help="Replace the output folder if it exists.")
@click.option("--dump-ir", is_flag=True, help="Print the IR after every pass.")
@click.option("--atol", type=float, default=1e-5, show_default=True,
              help="Absolute tolerance of the golden test.")
@click.option("--rtol", type=float, default=1e-4, show_default=True,
              help="Relative tolerance of the golden test.")
@click.option("--flash-budget", type=click.IntRange(min=0), help="Override the board's flash "
              "budget (bytes; 0: none).")
@click.option("--ram-budget", type=click.IntRange(min=0), help="Override the board's RAM "
              "budget (bytes; 0: none).")
@click.option("--whole-sequence", is_flag=True, help="Compile for whole sequences of exactly T "
              "steps even where the model could stream (a convolution along time then runs "
              "over the whole sequence at once: a faster _run, no _step).")
@click.option("--no-main", is_flag=True, help="Library mode: only the model and its kernels, "
              "with CMakeLists.txt and rnngen.mk for an existing firmware project (no test "
              "program, Makefile or startup).")
def build(model: str, target: str, board_file: str | None, out: str | None, seq_len: int | None,
          name: str | None, input_: str | None, sparse_threshold: float | None, dtype: str,
          calibrate: str | None, io: str, force: bool,
          dump_ir: bool, atol: float, rtol: float, flash_budget: int | None,
          ram_budget: int | None, no_main: bool, plan: str | None,
          whole_sequence: bool, precision_spec: str | None) -> None:
    """Compile MODEL (.onnx or .npz) into a C project for a board; with --plan, the model
    compressed and typed as a plan of `rnngen search` says (MODEL: the plan's by default)."""
    dtype, prec = _precision(dtype, precision_spec)
    with _planned(model, plan, dtype, calibrate, seq_len, prec) as (
            model, dtype, calibrate, seq_len, prec):
        _build(model, target, board_file, out, seq_len, name, input_, sparse_threshold, dtype,
               calibrate, io, force, dump_ir, atol, rtol, flash_budget, ram_budget, no_main,
               whole_sequence, prec)


def _build(model: str, target: str, board_file: str | None, out: str | None,
           seq_len: int | None, name: str | None, input_: str | None,
           sparse_threshold: float | None, dtype: str, calibrate: str | None, io: str,
           force: bool, dump_ir: bool, atol: float, rtol: float, flash_budget: int | None,
           ram_budget: int | None, no_main: bool, whole_sequence: bool = False,
           prec: Any = None) -> None:
    from . import driver
    from .cgen import default_name

    if out is None:
        stem = name or default_name(Path(model).stem)
        out = f"{stem}_{target}"
    opts = driver.BuildOptions(target=target, board_file=board_file, name=name,
                               seq_len=seq_len, input=input_, atol=atol, rtol=rtol,
                               force=force, flash_budget=flash_budget, ram_budget=ram_budget,
                               no_main=no_main, sparse_threshold=sparse_threshold,
                               dtype=dtype, calibrate=calibrate, io=io,
                               whole_sequence=whole_sequence, precision=prec)
    res = driver.build(model, out, opts, dump=sys.stdout if dump_ir else None)
    m = res.manifest
    for w in res.warnings:
        click.echo(f"rnngen: warning: {w}", err=True)
    size = ""
    if m.get("flash_bytes") is not None:
        size = f", flash {m['flash_bytes']} B, RAM {m['ram_bytes']} B"
    mode = "streaming" if m["streaming"] else f"whole sequences: {m['not_streaming_why']}"
    if m["streaming"] and m.get("delay_frames"):
        mode += f", outputs {m['delay_frames']} frames behind the input"
    if m["streaming"]:
        mode += (f", _run in blocks of {m['run_block']} steps" if m["run_block"] > 1 else
                 ", _run step by step")
    prec_note = f", precision {m['precision']}" if m.get("precision") else ""
    click.echo(f"wrote {out} ({m['target']}, {mode}, {m['macs_per_step']} MACs/step, "
               f"weights {m['weights_bytes']} B{size}{prec_note})")
    if no_main:
        click.echo(f"next: add_subdirectory({out}) in CMake, or include {out}/rnngen.mk")
    else:
        click.echo(f"next: make -C {out} run")


@main.command(context_settings=_CONTEXT)
@click.argument("model", type=click.Path(dir_okay=False), required=False)
@_target_options
@_model_options
@_plan_option
@click.option("--expect", type=click.Path(dir_okay=False),
              help="Expected outputs: .npy (one output) or .npz keyed by output name. "
                   "Default: rnngen's reference.")
@click.option("--atol", type=float, help="Absolute tolerance. Default 1e-05; with --dtype int8 "
              "and --expect, derived from the quantization scales (and stated).")
@click.option("--rtol", type=float, help="Relative tolerance. Default 0.0001; 0 when the "
              "tolerance is derived.")
@click.option("--keep", type=click.Path(file_okay=False),
              help="Keep the built project in this folder.")
@click.option("--timeout", type=float, default=300.0, show_default=True,
              help="Seconds allowed for building and for running.")
@click.option("--flash-budget", type=click.IntRange(min=0), help="Override the board's flash "
              "budget (bytes; 0: none).")
@click.option("--ram-budget", type=click.IntRange(min=0), help="Override the board's RAM "
              "budget (bytes; 0: none).")
@click.option("--whole-sequence", is_flag=True, help="Compile for whole sequences of exactly T "
              "steps even where the model could stream (a convolution along time then runs "
              "over the whole sequence at once: a faster _run, no _step).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def verify(model: str, target: str, board_file: str | None, seq_len: int | None,
           name: str | None, input_: str | None, sparse_threshold: float | None, dtype: str,
           calibrate: str | None, io: str,
           expect: str | None, atol: float | None, rtol: float | None,
           keep: str | None, timeout: float, flash_budget: int | None, ram_budget: int | None,
           as_json: bool, plan: str | None, whole_sequence: bool,
           precision_spec: str | None) -> None:
    """Build MODEL, compile and run it, and compare with the reference (or --expect).
    --input may hold N sequences ([N, ...], with --expect [N, ...] per output): each is
    checked, all through one run of the C. --plan: the model as a plan of `rnngen search`
    says.

    Exit code 0: outputs match; 1: they do not; 2: bad input."""
    dtype, prec = _precision(dtype, precision_spec)
    with _planned(model, plan, dtype, calibrate, seq_len, prec) as (
            model, dtype, calibrate, seq_len, prec):
        _verify(model, target, board_file, seq_len, name, input_, sparse_threshold, dtype,
                calibrate, io, expect, atol, rtol, keep, timeout, flash_budget, ram_budget,
                as_json, whole_sequence, prec)


def _verify(model: str, target: str, board_file: str | None, seq_len: int | None,
            name: str | None, input_: str | None, sparse_threshold: float | None, dtype: str,
            calibrate: str | None, io: str, expect: str | None, atol: float | None,
            rtol: float | None, keep: str | None, timeout: float, flash_budget: int | None,
            ram_budget: int | None, as_json: bool, whole_sequence: bool = False,
            prec: Any = None) -> None:
    from . import driver

    tolerance = None
    if atol is None and rtol is None and dtype == "int8" and expect is not None:
        from .validate import verify_tolerance

        atol, tolerance = verify_tolerance(model, driver.BuildOptions(
            target=target, board_file=board_file, seq_len=seq_len, input=input_,
            sparse_threshold=sparse_threshold, dtype=dtype, calibrate=calibrate, io=io,
            precision=prec))
        rtol = 0.0
    atol = 1e-5 if atol is None else atol
    rtol = 1e-4 if rtol is None else rtol
    opts = driver.BuildOptions(target=target, board_file=board_file, name=name,
                               seq_len=seq_len, input=input_, expect=expect, atol=atol,
                               rtol=rtol, flash_budget=flash_budget, ram_budget=ram_budget,
                               sparse_threshold=sparse_threshold, dtype=dtype,
                               calibrate=calibrate, io=io, whole_sequence=whole_sequence,
                               precision=prec)
    res = driver.verify(model, opts, keep=keep, timeout=timeout)
    r = res.report
    if tolerance:
        r["tolerance"] = tolerance
    for w in r.get("warnings", []):
        click.echo(f"rnngen: warning: {w}", err=True)
    if as_json:
        click.echo(json.dumps(r, sort_keys=True))
    else:
        if tolerance:
            click.echo(tolerance)
        if r.get("sequences"):
            click.echo(f"{r['sequences']} sequences: {r['sequences'] - r['failed_count']} "
                       "passed" + (f", failed: {', '.join(map(str, r['failed_sequences']))}"
                                   + (" ..." if r["failed_count"] > 20 else "")
                                   if r["failed_count"] else ""))
        verdict = "PASS" if res.passed else "FAIL"
        if r["stream_errors"]:
            stream = "FAILED"
        else:
            stream = "ok" if r["streaming"] else "n/a (whole sequences)"
        click.echo(f"{verdict} {r['target']}: max_abs_err {r['max_abs_err']:.3g}, max_rel_err "
                   f"{r['max_rel_err']:.3g}, {r['mismatches']} of {r['values']} values outside "
                   f"atol {r['atol']:g} / rtol {r['rtol']:g} against the {r['reference']}; "
                   f"streaming checks: {stream}; "
                   f"flash {r['flash_bytes']} B, RAM {r['ram_bytes']} B"
                   + (f"; int8 vs float: max_abs_err {r['int8_vs_float_max_abs_err']:.3g}"
                      if "int8_vs_float_max_abs_err" in r else ""))
    sys.exit(0 if res.passed else 1)


@main.command(context_settings=_CONTEXT)
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("--seq-len", type=click.IntRange(min=1))
@_sparse_option
@click.option("--dtype", type=click.Choice(["float32", "int8"]), default="float32",
              show_default=True, help="int8: also each tensor's scale and zero point and each "
              "layer's quantization error on the calibration data.")
@click.option("--calibrate", type=click.Path(dir_okay=False),
              help="int8: representative inputs (.npy).")
@_precision_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def inspect(model: str, seq_len: int | None, sparse_threshold: float | None, dtype: str,
            calibrate: str | None, as_json: bool, precision_spec: str | None) -> None:
    """Show MODEL's layers, weight matrices (format, shape, bytes, compression factor and
    MAC reduction against dense), parameters and MACs."""
    from . import driver
    from .analysis import format_table, table
    from .errors import RnngenError

    dtype, prec = _precision(dtype, precision_spec)
    if calibrate is not None and dtype != "int8":  # as build does: a flag that means nothing
        raise RnngenError("--calibrate needs --dtype int8 (calibration data sets the int8 "
                          "scales)")
    info = driver.inspect(model, seq_len, sparse_threshold)
    if dtype == "int8":
        info["int8"] = driver.inspect_int8(model, seq_len, calibrate, prec)
    g = driver.compile_graph(model, driver.BuildOptions(
        seq_len=seq_len, sparse_threshold=sparse_threshold, dtype=dtype, calibrate=calibrate,
        precision=prec))
    info["table"] = table(g)
    if dtype == "int8":  # each layer's number types (--precision; w8a8 otherwise)
        from . import precision

        pp = prec or precision.Plan()
        info["precision"] = pp.to_json()
        for lay in info["layers"]:
            if lay.get("matrices") or "kernel" in lay:
                p = pp.of(lay["node"])
                lay["precision"] = p.name
                lay["weight_bits"] = p.weight_bits
                # the stored weight values at their width: a dense matrix's rows (or int4
                # row pairs) padded to words; a compressed one's stored values (factors,
                # nonzeros) at weight_bits each, without indices or scales (MOHAQ's measure)
                rows_per = 2 if p.weight_bits == 4 else 1  # int4: row pairs share bytes
                lay["weight_bytes"] = sum(
                    -(-m["shape"][0] // rows_per) * -(-m["shape"][1] // 4) * 4
                    if m["format"] == "dense" else -(-m["params"] * p.weight_bits // 8)
                    for m in lay.get("matrices", []))
                if p.name == precision.FLOAT:  # float32 layer: 4 bytes a weight, no padding
                    lay["weight_bytes"] = sum(4 * m["params"] for m in lay.get("matrices", []))
                if "kernel" in lay:  # a Conv's filters: out_c rows of in_c / group x kernel
                    # (int4: each row's values packed two per byte, rows byte-aligned)
                    n = lay["channels"][0] // lay["group"] * math.prod(lay["kernel"])
                    lay["weight_bytes"] = lay["channels"][1] * (
                        4 * n if p.name == precision.FLOAT else -(-n * p.weight_bits // 8))
    if as_json:
        click.echo(json.dumps(info, sort_keys=True))
        return
    ids = " (int32 token ids)" if info["input"]["type"] != "float32" else ""
    click.echo(f"{info['model']}: input '{info['input']['name']}' {info['input']['shape']}{ids}, "
               + (f"T={info['seq_len']}, " if info["time_axis"] is not None else "")
               + ("streaming" + (f" (outputs {info['delay_frames']} frames behind the input)"
                                 if info.get("delay_frames") else "") if info["streaming"] else
                  f"whole sequences ({info['not_streaming_why']})"))
    for si in info.get("state_inputs", []):
        held = ", ".join(f"{h['state']} of {h['node']}" + (f" (direction {h['direction']})"
                                                          if h["direction"] else "")
                         for h in si["holds"])
        click.echo(f"  state input '{si['name']}' {si['shape']}: {held} "
                   "(<name>_set_state / <name>_get_state; zero at <name>_reset)")
    for note in info["notes"]:  # what the frontend rewrote, or why it did not
        click.echo(f"  note: {note}")
    for lay in info["layers"]:
        line = f"  {lay['op']:<10} {lay['node']}"
        if "hidden_size" in lay:
            line += (f"  {lay['direction']} {lay['input_size']}->{lay['hidden_size']}, "
                     f"{lay['params']} params, {lay['macs_per_step']} MACs/step")
        elif "kernel" in lay:
            line += (f"  {lay['channels'][0]}->{lay['channels'][1]} channels, kernel "
                     f"{'x'.join(map(str, lay['kernel']))}, stride "
                     f"{'x'.join(map(str, lay['strides']))}, pads {lay['pads']}, dilation "
                     f"{'x'.join(map(str, lay['dilations']))}, group {lay['group']}, "
                     f"{lay['params']} params, {lay['macs']} MACs per run; float direct (no "
                     f"scratch), int8 {lay['scratch_s8']} B scratch")
        elif "vocabulary" in lay:
            line += (f"  {lay['vocabulary']} token ids -> {lay['dim']} values, {lay['params']} "
                     "params (the table in flash: float32, or int8 with --dtype int8); ids "
                     "int32 at the C API, out of range clamped")
        elif "params" in lay:
            line += f"  {lay['params']} params, {lay['macs']} MACs per run"
        if "precision" in lay:
            line += f", precision {lay['precision']}"
            if lay.get("weight_bytes"):
                line += (f" (weights {lay['weight_bytes']} B as "
                         + ("float32)" if lay["precision"] == "float32" else
                            f"int{lay['weight_bits']})"))
        click.echo(line)
        for m in lay.get("matrices", []):
            click.echo(f"      {m['role']:<6} {m['format']:<8} {m['shape'][0]}x{m['shape'][1]}"
                       f"  {m['params']} params  {m['bytes']} B  {m['macs']} MACs"
                       f"  compression {m['compression']:g}x"
                       f"  MAC reduction {m['mac_reduction']:g}x")
    for o in info["outputs"]:
        click.echo(f"  output '{o['name']}' {o['shape']}")
    tot = info["table"]["total"]
    wtype = info["table"]["dtype"]
    if any(lay.get("precision") == "float32" for lay in info["layers"]):
        wtype += " and float32"  # float32 layers inside the int8 model
    click.echo(f"total: {info['params']} params, {tot['flash_bytes']} B of {wtype}"
               f" weights as compiled (sparse indices included), {info['macs_per_step']} MACs "
               f"per step, RAM {tot['ram_bytes']} B (the figures `rnngen build` reports)")
    click.echo("per layer, as compiled:")
    for line in format_table(info["table"]):
        click.echo("  " + line)
    if "int8" in info:
        q = info["int8"]
        for w in q["warnings"]:
            click.echo(f"rnngen: warning: {w}", err=True)
        click.echo(f"int8, calibrated on {q['calibration']}:")
        for t in q["tensors"]:
            err = "" if t["max_abs_err"] is None else \
                f"  max error {t['max_abs_err']:.3g} (of |x| <= {t['max_abs']:.3g})"
            click.echo(f"  {t['dtype']:<5} {t['tensor']}: scale {t['scale']:.6g}, zero point "
                       f"{t['zero_point']}{err}")
        for lay in q["layers"]:
            if lay["max_abs_err"] is not None:
                click.echo(f"  layer {lay['op']} {lay['node']}: quantization error "
                           f"{lay['max_abs_err']:.3g}")


@main.command(context_settings=_CONTEXT)
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("--method", "-m", required=True,
              type=click.Choice(list(compress_methods.METHODS)),
              help="hmd (hybrid matrix decomposition), lmf (low rank), csr (pruning), kron "
                   "(Kronecker product), hkp (dense rows over a Kronecker product).")
@click.option("--factor", "-f", required=True, type=click.FloatRange(min=1, min_open=True),
              help="Target storage factor (dense / stored parameters) of every matrix.")
@click.option("--layers", multiple=True, help="Recurrent layers to compress, by node (ONNX) or "
              "layer (.npz) name or by index among the recurrent layers; comma-separated or "
              "repeated. Default: all.")
@click.option("-o", "--output", "out", required=True, type=click.Path(dir_okay=False),
              help="The compressed model (.onnx for an ONNX model, .npz for an .npz one).")
@click.option("--force", is_flag=True, help="Replace the output file if it exists.")
@click.option("--nearest", is_flag=True, help="A matrix that cannot reach --factor (within "
              "10%) takes the closest reachable factor instead of failing (each one is named).")
@click.option("--eval", "eval_data", type=click.Path(dir_okay=False),
              help="Labelled sequences (.npz: x [N, T, I], y [N]): accuracy before and after.")
@click.option("--finetune", "finetune", type=click.Path(dir_okay=False),
              help="Labelled training sequences (.npz like --eval): fine-tune the projected "
                   "factors in PyTorch (needs rnngen[torch]; docs/training.md).")
@click.option("--val", type=click.Path(dir_okay=False),
              help="--finetune: validation split (.npz) for early stopping and the kept epoch.")
@click.option("--epochs", type=click.IntRange(min=1), default=30, show_default=True,
              help="--finetune: at most this many epochs.")
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=2e-3,
              show_default=True, help="--finetune: Adam learning rate.")
@click.option("--batch-size", type=click.IntRange(min=1), default=32, show_default=True,
              help="--finetune: sequences per step.")
@click.option("--patience", type=click.IntRange(min=1), default=5, show_default=True,
              help="--finetune: stop after this many epochs without a better accuracy.")
@click.option("--distill", is_flag=True,
              help="--finetune: half of the loss from the dense model's predictions.")
@click.option("--qat", is_flag=True,
              help="--finetune: quantization-aware, through rnngen's int8 arithmetic (the "
                   "kept epoch is the best int8 accuracy; build with --dtype int8).")
@click.option("--precision", "precision_spec", metavar="SPEC",
              help="--qat: train through these number types per layer (w4a8, or "
                   "LAYER=w4a8,LAYER=w8a16,...; docs/int8.md), as `rnngen build --precision "
                   "SPEC` builds them. Default: w8a8.")
@click.option("--seed", type=int, default=0, show_default=True,
              help="--finetune: seed of the batch order (same seed, same result).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def compress(model: str, method: str, factor: float, layers: tuple[str, ...], out: str,
             force: bool, eval_data: str | None, finetune: str | None, val: str | None,
             epochs: int, lr: float, batch_size: int, patience: int, distill: bool, qat: bool,
             precision_spec: str | None, seed: int, nearest: bool, as_json: bool) -> None:
    """Compress the recurrent layers of a dense MODEL (.onnx or .npz) into OUT; report
    storage and MAC factors and reconstruction errors (docs/compression.md); with
    --finetune, train the factors on labelled data before writing them."""
    from .compress_model import Finetune, compress_file
    from .errors import RnngenError

    from . import precision

    if precision_spec is not None and not qat:
        raise RnngenError(f"--precision {precision_spec}: goes with --qat (the number types "
                          "quantization-aware fine-tuning trains through)")
    ft = None
    if finetune is not None:
        prec = precision.parse(precision_spec) if precision_spec is not None else None
        ft = Finetune(finetune, val, epochs, lr, batch_size, distill, seed, patience,
                      progress=True, qat=qat, precision=prec)
    elif val is not None or distill or qat:
        raise RnngenError("--val, --distill and --qat go with --finetune TRAIN.npz")
    res = compress_file(model, out, method, factor, layers, force, eval_data, ft, nearest)
    click.echo(json.dumps(res.as_dict(), sort_keys=True) if as_json else res.text())


@main.command(context_settings=_CONTEXT)
@click.argument("model", type=click.Path(dir_okay=False))
@_target_options
@click.option("--data", required=True, type=click.Path(dir_okay=False),
              help="Sequences (.npz: x [N, T, I], optional integer labels y [N], the --eval "
                   "format; aeon's [N, C, T] is detected; or an .npy of x).")
@click.option("--on", type=click.Choice(["reference", "c"]), default="reference",
              show_default=True, help="reference: rnngen's reference only; c: also the "
              "compiled C on the board (under QEMU, with exact instruction counts).")
@click.option("--report", type=click.Path(dir_okay=False),
              help="Write the report to this .md or .json file.")
@click.option("--seq-len", type=click.IntRange(min=1),
              help="Sequence length, for models whose time axis is dynamic (default: the "
                   "data's).")
@_sparse_option
@_dtype_options
@click.option("--timeout", type=float, default=600.0, show_default=True,
              help="Seconds allowed for building and for the run on the board.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
def validate(model: str, target: str, board_file: str | None, data: str, on: str,
             report: str | None, seq_len: int | None, sparse_threshold: float | None,
             dtype: str, calibrate: str | None, io: str, timeout: float,
             as_json: bool, precision_spec: str | None) -> None:
    """Run a data set through MODEL's reference and (--on c) the compiled C on the board;
    report accuracy, l2r, rmse, mae, max error and cosine similarity against the float model
    and the labels, and exact instructions per inference (docs/validate.md)."""
    from . import driver
    from . import validate as val

    if report is not None:
        val.report_format(report)  # a bad name fails before any work
    dtype, prec = _precision(dtype, precision_spec)
    opts = val.Options(data=data, on=on, timeout=timeout, build=driver.BuildOptions(
        target=target, board_file=board_file, seq_len=seq_len,
        sparse_threshold=sparse_threshold, dtype=dtype, calibrate=calibrate, io=io,
        precision=prec))
    rep = val.validate(model, opts, progress=_progress_bar())
    for w in rep["warnings"]:
        click.echo(f"rnngen: warning: {w}", err=True)
    if report is not None:
        val.write_report(report, rep)
    if as_json:
        click.echo(json.dumps(rep, sort_keys=True))
    else:
        for line in val.summary(rep):
            click.echo(line)
        if report is not None:
            click.echo(f"wrote {report}")


@main.command(context_settings=_CONTEXT)
@click.argument("model", type=click.Path(dir_okay=False))
@_target_options
@click.option("--eval", "eval_data", required=True, type=click.Path(dir_okay=False),
              help="Labelled sequences (.npz: x [N, T, I], y [N]) the error is measured on.")
@click.option("--calibrate", type=click.Path(dir_okay=False),
              help="int8 candidates: representative inputs (.npy), as build --calibrate.")
@click.option("--objectives", default="error,instructions,flash", show_default=True,
              help="What to minimise: two or three of error, instructions, flash, weights "
              "(the model's constants in flash: MOHAQ's memory objective).")
@click.option("--max-flash", type=click.IntRange(min=1), help="Only candidates whose flash "
              "(bytes) is at most this.")
@click.option("--budget", type=click.IntRange(min=2), default=60, show_default=True,
              help="Candidates to evaluate (the genetic search's evaluations).")
@click.option("--precisions", "precisions", default="w8a8,w4a8,w8a16,float32",
              show_default=True,
              help="Precisions searched per recurrent and Linear layer of int8 candidates "
              "where the layer's format and cell have them (docs/int8.md; float32: that "
              "layer in float, inside the int8 model); one name: that precision for every "
              "such layer.")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seed of the search (same seed, same result).")
@click.option("--jobs", type=click.IntRange(min=0), default=1, show_default=True,
              help="Local processes evaluating a generation's candidates (0: every core; "
              "1: one at a time). Same result whatever the number.")
@click.option("--scheduler", metavar="ADDRESS", help="Evaluate candidates on the Dask "
              "cluster of this scheduler (tcp://host:8786), or `local` for a LocalCluster "
              "(--jobs workers); needs 'rnngen[dask]'. Same result as serial.")
@click.option("--finetune", type=click.Path(dir_okay=False), help="The beacon step: "
              "labelled training sequences (.npz, as --eval) to fine-tune --beacons front "
              "points on, correcting the others' error; needs 'rnngen[torch]'.")
@click.option("--val", type=click.Path(dir_okay=False),
              help="--finetune: validation split (.npz) for early stopping.")
@click.option("--beacons", type=int, default=3, show_default=True,
              help="--finetune: front points fine-tuned (spread along the front).")
@click.option("--epochs", type=int, default=30, show_default=True,
              help="--finetune: at most this many epochs per fine-tuned layer.")
@click.option("-o", "--output", "out", required=True, type=click.Path(file_okay=False),
              help="Plan folder: front.md, front.csv, front.png, plans/, knee.json.")
@click.option("--force", is_flag=True, help="Replace the plan folder if rnngen made it.")
def search(model: str, target: str, board_file: str | None, eval_data: str,
           calibrate: str | None, objectives: str, max_flash: int | None, budget: int,
           precisions: str, seed: int, jobs: int, scheduler: str | None, finetune: str | None,
           val: str | None, beacons: int, epochs: int, out: str, force: bool) -> None:
    """Search per-layer compression (format and factor), per-layer precision and the number
    type of MODEL for a board: NSGA-II (pymoo) against the error on --eval, the board's cost
    model and the flash; writes the Pareto front and one plan per point (`rnngen build --plan`)."""
    from . import search as srch

    srch.require_pymoo()
    if board_file is not None:
        raise RnngenError("--board-file: rnngen search needs a board with a cost model "
                          "(boards/<board>.cost.json); use --target")
    o = srch.Options(model=model, target=target, eval=eval_data, out=out,
                     calibrate=calibrate, objectives=srch.parse_objectives(objectives),
                     max_flash=max_flash, budget=budget, seed=seed, force=force, jobs=jobs,
                     precisions=srch.parse_precisions(precisions),
                     scheduler=scheduler, finetune=finetune, val=val, beacons=beacons,
                     epochs=epochs, finetune_progress=sys.stderr.isatty())
    if finetune is None and (beacons != 3 or epochs != 30):
        raise RnngenError("--beacons and --epochs go with --finetune TRAIN.npz")

    def bar(total: int) -> Any:
        b = click.progressbar(length=total, label="search", file=sys.stderr)
        b.__enter__()

        class Bar:
            def update(self, n: int) -> None:
                b.update(n)

            def finish(self) -> None:
                b.__exit__(None, None, None)
        return Bar()

    # a bar on a terminal only: logs and pipes (and errors) get no progress lines
    res = srch.run(o, bar if sys.stderr.isatty() else None,
                   (lambda s: click.echo(s, err=True)) if sys.stderr.isatty() else None)
    click.echo(res.table)
    k = res.front.index(res.knee)
    click.echo(f"knee: point {k:02d} ({res.knee.dtype} {res.knee.describe()}); "
               f"{len(res.evaluated)} candidates evaluated, {len(res.front)} on the front")
    if res.corrections is not None:
        tuned = [i for i, c in enumerate(res.corrections) if c.finetuned]
        click.echo("beacons (fine-tuned): " + (", ".join(
            f"point {i:02d} {res.corrections[i].estimate:.2f}% -> "
            f"{res.corrections[i].corrected:.2f}%" for i in tuned) or
            "none (every front point is all dense)"))
    click.echo(res.plot)
    click.echo(f"wrote {out}: {', '.join(res.files[-4:])}, plans/point-00.json .. "
               f"point-{len(res.front) - 1:02d}.json")
    click.echo(f"next: rnngen build --plan {Path(out) / 'knee.json'} --target {target}")


def _progress_bar() -> Any:
    from .progress import bar

    return bar()


@main.command(context_settings=_CONTEXT)
@click.option("--json", "as_json", is_flag=True)
def boards(as_json: bool) -> None:
    """List the boards rnngen builds for, with their flash and RAM budgets."""
    from . import boards as boards_mod

    items = [boards_mod.parse(p) for p in boards_mod.available().values()]
    if as_json:
        click.echo(json.dumps([dict(name=b.name, description=b.description, part=b.part,
                                    flash_budget=b.flash_budget, ram_budget=b.ram_budget,
                                    cc=b.cc, variant=b.variant) for b in items]))
        return
    for b in items:
        click.echo(f"{b.name:<11} {b.description}; {boards_mod.describe_budget(b)} ({b.part})")


if __name__ == "__main__":  # pragma: no cover
    main()
