"""rnngen validate: a data set through rnngen's reference and the compiled C, with metrics.

    from rnngen import driver, validate
    rep = validate.validate("model.onnx", validate.Options(data="test.npz", on="c",
                            build=driver.BuildOptions(target="cortex-m4", dtype="int8")))
    validate.write_report("report.md", rep)

Data: an .npz with x [N, T, I] (or [N, T, 1, I]) and optional integer labels y [N] (the
`--eval` format), or an .npy holding x alone. aeon/sktime's [N, C, T] layout is detected
(the model takes T steps of C features) and named in the report.

What is compared, per output over the whole set (metrics()): the build's reference (float32:
rnngen's NumPy reference; int8: the integer reference, which the C equals bit for bit) and,
with on="c", the C run on the board (natively on the host, under QEMU otherwise: all N
sequences in one program run), against the float model; the C against the build's reference;
and, with labels, the accuracy of each. Under QEMU rnngen's instruction counter
(icount.py) counts the instructions of every `<name>_run` call; with the board file's
clock_hz and cpi the report adds a latency estimate (labelled as such).
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from . import (
    __version__,
    analysis,
    boards,
    driver,
    icount,
    ir,
    npyio,
    outputs,
    quant,
    reference,
    reference_int,
    toolchain,
)
from .emit.board_files import exe_name
from .errors import RnngenError

ONS = ("reference", "c")
Progress = Callable[[str, int, int], None]  # (what, done, total)


@dataclass(frozen=True)
class Options:
    data: str
    on: str = "reference"  # "reference" or "c"
    build: driver.BuildOptions = field(default_factory=driver.BuildOptions)
    timeout: float = 600.0  # seconds for building and for the run on the board


@dataclass
class Data:
    x: np.ndarray  # [N, T, I] float32
    y: np.ndarray | None  # [N] int64
    layout: str  # how x was read


# ---------------------------------------------------------------------------------------------
# data


def load_data(path: str | Path) -> tuple[np.ndarray, np.ndarray | None]:
    """x (float32, [N, A, B] as stored) and y ([N] int64 or None), checked for rank, size,
    type, finiteness and matching N; the layout is settled against the model by fit_data."""
    where = f"{path}"
    data = npyio.load(path, "--data")
    if isinstance(data, np.ndarray):
        x, y = data, None
    else:
        if "x" not in data:
            raise RnngenError(f"{where}: no array 'x' (--data needs x [N, T, I] inputs and "
                              f"optional y [N] integer labels; has {', '.join(data) or 'none'})")
        x, y = data["x"], data.get("y")
    if x.dtype.kind not in "fiu":
        raise RnngenError(f"{where}: x has dtype {x.dtype}; expected numbers")
    if x.ndim == 4 and x.shape[2] == 1:
        x = x.reshape(x.shape[0], x.shape[1], x.shape[3])
    if x.ndim != 3:
        raise RnngenError(f"{where}: x has rank {x.ndim} (shape {x.shape}); expected "
                          "[N, T, I] (or [N, T, 1, I], or aeon's [N, C, T])")
    if x.shape[0] == 0 or x.shape[1] == 0 or x.shape[2] == 0:
        raise RnngenError(f"{where}: x holds no sequences (shape {x.shape})")
    x = x.astype(np.float32)
    if not np.all(np.isfinite(x)):
        bad = int(np.argmax(~np.all(np.isfinite(x.reshape(len(x), -1)), axis=1)))
        raise RnngenError(f"{where}: x contains NaN or Inf (sequence {bad})")
    if y is not None:
        if y.dtype.kind not in "iu" or y.ndim != 1:
            raise RnngenError(f"{where}: y has shape {y.shape} and dtype {y.dtype}; expected "
                              f"{x.shape[0]} integer labels, shape [{x.shape[0]}]")
        if y.shape[0] != x.shape[0]:
            raise RnngenError(f"{where}: y has {y.shape[0]} labels but x has {x.shape[0]} "
                              "sequences")
        if np.any(y < 0):
            raise RnngenError(f"{where}: y has a negative label ({int(y.min())})")
        y = y.astype(np.int64)
    return x, y


def fit_data(path: str | Path, x: np.ndarray, y: np.ndarray | None, g: ir.Graph) -> Data:
    """x as [N, T, I] for the model's input; aeon/sktime's [N, C, T] transposed and named.
    Labels checked against the first output's number of scores."""
    shape = tuple(g.shapes[g.input])
    T = g.seq_len
    feats = math.prod(shape) // T
    layout = "[N, T, I]"
    if x.shape[1:] == (T, feats):
        pass
    elif x.shape[1:] == (feats, T):
        x = np.ascontiguousarray(x.transpose(0, 2, 1))
        layout = "[N, C, T] (aeon/sktime layout), transposed to [N, T, C]"
    else:
        raise RnngenError(f"{path}: x has sequences of shape {tuple(x.shape[1:])}; the model's "
                          f"input '{g.input}' {list(shape)} takes T={T} steps of {feats} "
                          f"features ([N, {T}, {feats}], or aeon's [N, {feats}, {T}])")
    if y is not None:
        out = g.outputs[0]
        C = classes(g)
        if int(y.max()) >= C:
            raise RnngenError(f"{path}: label {int(y.max())} is out of range: output '{out}' "
                              f"has {C} scores (labels 0..{C - 1})")
    return Data(x=x, y=y, layout=layout)


def classes(g: ir.Graph) -> int:
    out = g.outputs[0]
    return int(g.shapes[out][-1]) if g.shapes[out] else 1


def predictions(g: ir.Graph, out: np.ndarray) -> np.ndarray:
    """Top-1 class per sequence from the first output [N, ...]: the argmax of its last score
    vector (the last time step, or the only row), as `compress --eval` reads it."""
    C = classes(g)
    return np.argmax(out.reshape(out.shape[0], -1, C)[:, -1, :], axis=1)


# ---------------------------------------------------------------------------------------------
# metrics


def metrics(got: np.ndarray, want: np.ndarray) -> dict[str, float]:
    """got against want, over all values: max_abs_err, mae, rmse, l2r (||got - want|| /
    ||want||, the relative L2 error), cosine (cosine similarity of the two as vectors)."""
    a = np.asarray(got, np.float64).reshape(-1)
    b = np.asarray(want, np.float64).reshape(-1)
    d = a - b
    nb, na = float(np.linalg.norm(b)), float(np.linalg.norm(a))
    nd = float(np.linalg.norm(d))
    if na == 0.0 or nb == 0.0:
        cos = 1.0 if na == nb else 0.0
    else:
        cos = float(np.dot(a, b) / (na * nb))
    return {"max_abs_err": float(np.max(np.abs(d))) if d.size else 0.0,
            "mae": float(np.mean(np.abs(d))) if d.size else 0.0,
            "rmse": float(math.sqrt(float(np.mean(d * d)))) if d.size else 0.0,
            "l2r": nd / nb if nb else (0.0 if nd == 0.0 else math.inf),
            "cosine": cos}


# ---------------------------------------------------------------------------------------------
# the reference


def _compile(model: str | Path, o: driver.BuildOptions, T: int | None) -> ir.Graph:
    return driver.compile_graph(model, replace(o, seq_len=T))


def compile_for(model: str | Path, o: driver.BuildOptions, x: np.ndarray) -> ir.Graph:
    """The build's graph; a dynamic time axis takes the data's length (axis 1 of x, or axis
    2 when the model reads the data as [N, C, T])."""
    if o.seq_len is not None:
        return _compile(model, o, o.seq_len)
    try:
        return _compile(model, o, None)
    except RnngenError as e:
        if "--seq-len" not in str(e):
            raise
    g = _compile(model, o, int(x.shape[1]))
    feats = math.prod(g.shapes[g.input]) // g.seq_len
    if int(x.shape[2]) != feats and int(x.shape[1]) == feats:  # [N, C, T]
        g = _compile(model, o, int(x.shape[2]))
    return g


def run_reference(g: ir.Graph, x: np.ndarray, progress: Progress | None = None,
                  what: str = "reference") -> dict[str, np.ndarray]:
    """Every sequence through g's reference (the integer one for an int8 graph, with float
    input and dequantized outputs as the C API with --io float gives them): {output: [N, ...]}."""
    shape = tuple(g.shapes[g.input])
    outs: dict[str, list[np.ndarray]] = {o: [] for o in g.outputs}
    ex_int = reference.Executor(g, dtype="int8") if g.quant is not None else None
    for k in range(len(x)):
        xk = x[k].reshape(shape)
        if ex_int is not None:
            ex_int.reset()
            res = ex_int.run(xk)
        else:
            res = reference.run(g, xk)
        for o in g.outputs:
            outs[o].append(np.asarray(res[o], np.float32))
        if progress is not None:
            progress(what, k + 1, len(x))
    return {o: np.stack(v) for o, v in outs.items()}


# ---------------------------------------------------------------------------------------------
# the C on the board

HARNESS = r"""/*
 * rnngen validate: runs N_SEQ sequences from validate_x.bin through NAME_run (each from the
 * initial state, between the instruction counter's markers) and writes every output to
 * validate_y.bin; prints RNNGEN_PROGRESS lines and one RNNGEN_VALIDATE line at the end.
 */
#include <stdio.h>

#include "NAME.h"

#ifdef RNNGEN_SEMIHOSTING
extern void initialise_monitor_handles(void);
#endif
MARKERS
#define N_SEQ (NSEQL)
#define STEPS (UPPER_SEQ_LEN)
#define IN_SIZE (UPPER_INPUT_SIZE)
#define OUT_SIZE (UPPER_OUTPUT_SIZE(STEPS))

static NAME_state_t state;
static NAME_in_t x[IN_SIZE];
static NAME_out_t y[OUT_SIZE];

int main(void)
{
    FILE *fx;
    FILE *fy;
    long k;
    const long every = N_SEQ >= 50 ? N_SEQ / 50 : 1;

#ifdef RNNGEN_SEMIHOSTING
    initialise_monitor_handles();
#endif
    fx = fopen("validate_x.bin", "rb");
    fy = fopen("validate_y.bin", "wb");
    if (fx == NULL || fy == NULL)
    {
        printf("RNNGEN_VALIDATE error=cannot_open_files\n");
        return 2;
    }
    for (k = 0; k < N_SEQ; ++k)
    {
        int rc;
        if (fread(x, sizeof(x[0]), (size_t)IN_SIZE, fx) != (size_t)IN_SIZE)
        {
            printf("RNNGEN_VALIDATE error=short_input sequence=%ld\n", k);
            return 2;
        }
        NAME_reset(&state);
        icount_start();
        rc = NAME_run(&state, x, STEPS, y);
        icount_stop();
        if (rc != 0)
        {
            printf("RNNGEN_VALIDATE error=run_failed sequence=%ld\n", k);
            return 1;
        }
        if (fwrite(y, sizeof(y[0]), (size_t)OUT_SIZE, fy) != (size_t)OUT_SIZE)
        {
            printf("RNNGEN_VALIDATE error=short_write sequence=%ld\n", k);
            return 2;
        }
        if ((k + 1) % every == 0)
        {
            printf("RNNGEN_PROGRESS %ld\n", k + 1);
        }
    }
    fclose(fx);
    if (fclose(fy) != 0)
    {
        printf("RNNGEN_VALIDATE error=short_write sequence=%ld\n", k);
        return 2;
    }
    printf("RNNGEN_VALIDATE done=%ld\n", k);
    return 0;
}
"""


def harness(name: str, n: int) -> str:
    return (HARNESS.replace("MARKERS", icount.MARKERS_C).replace("UPPER", name.upper())
            .replace("NAME", name).replace("NSEQL", f"{n}L"))


def run_c(model: str | Path, g: ir.Graph, x: np.ndarray, o: driver.BuildOptions,
          timeout: float, progress: Progress | None = None
          ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Build the model for the board, run all sequences through the C in one program run
    (under the instruction counter on QEMU boards). Returns {output: [N, ...]} (dequantized
    for int8 outputs) and facts about the run (flash, RAM, instructions)."""
    board = boards.get(o.target, o.board_file)
    toolchain.require(board, run=True)
    count = icount.counts_here(board)
    tmp = Path(tempfile.mkdtemp(prefix="rnngen-validate-"))
    try:
        out = tmp / "project"
        res = driver.build(model, out, replace(o, force=False, no_main=False,
                                               seq_len=g.seq_len))
        m = res.manifest
        name = m["name"]
        (out / "test" / "main.c").write_text(harness(name, len(x)))
        toolchain.build(out, "all", timeout=timeout)
        int8_io = g.quant is not None and g.quant.io == "int8"
        xs = quant.quantize_input(x, g.quant.input) if int8_io else x.astype(np.float32)
        (out / "validate_x.bin").write_bytes(np.ascontiguousarray(xs).tobytes())

        def line(s: str) -> None:
            if progress is not None and s.startswith("RNNGEN_PROGRESS "):
                progress("C on " + board.name, int(s.split()[1]), len(x))

        c = icount.run(board, out / exe_name(board, name), cwd=out, timeout=timeout,
                       count=count, on_line=line)
        if c.returncode != 0 or "RNNGEN_VALIDATE done=" not in c.output:
            tail = "\n".join(c.output.strip().splitlines()[-5:])
            raise toolchain.RunFailed(f"the validation program for {board.name} failed "
                                      f"(exit code {c.returncode}):\n{tail}")
        raw = (out / "validate_y.bin").read_bytes()
        outs = _split_outputs(g, raw, len(x), int8_io)
        facts: dict[str, Any] = {"flash_bytes": m.get("flash_bytes"),
                                 "ram_bytes": m.get("ram_bytes"), "kernels": m["kernels"],
                                 "warnings": res.warnings}
        if count:
            if len(c.windows) != len(x):
                raise RnngenError(f"the instruction counter saw {len(c.windows)} runs of "
                                  f"{len(x)}")
            facts["instructions"] = instructions(board, c.windows, g.seq_len)
        else:
            facts["instructions"] = None
            how = f"with {board.run[0]}" if board.run else "natively"
            facts["instructions_why"] = (f"not counted: {board.name} runs programs {how} "
                                         "(rnngen counts instructions under QEMU)")
        return outs, facts
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _split_outputs(g: ir.Graph, raw: bytes, n: int, int8_io: bool) -> dict[str, np.ndarray]:
    """The C's run outputs, outputs concatenated per sequence (as golden_vector orders them)."""
    dtype = np.int8 if int8_io else np.float32
    sizes = [math.prod(g.shapes[o]) for o in g.outputs]
    flat = np.frombuffer(raw, dtype=dtype)
    if flat.size != n * sum(sizes):
        raise RnngenError(f"the validation program wrote {flat.size} values, expected "
                          f"{n * sum(sizes)}")
    flat = flat.reshape(n, sum(sizes))
    outs: dict[str, np.ndarray] = {}
    off = 0
    for o, s in zip(g.outputs, sizes):
        v = flat[:, off:off + s].reshape(n, *g.shapes[o])
        if int8_io:
            assert g.quant is not None
            v = reference_int.dequantize_output(g.quant, o, v)
        outs[o] = np.asarray(v, np.float32)
        off += s
    return outs


def instructions(board: boards.Board, windows: list[int], T: int) -> dict[str, Any]:
    w = np.asarray(windows, np.int64)
    mean = float(w.mean())
    rep: dict[str, Any] = {
        "per_inference": {"min": int(w.min()), "mean": mean, "max": int(w.max())},
        "per_step": mean / T,
        "what": ("instructions executed by each <name>_run call of T steps (callees "
                 "included, plus the call's argument setup), exact, under QEMU"),
        "counter": f"rnngen icount plugin, {icount.qemu_version(board)}",
    }
    if board.clock_hz and board.cpi:
        rep["latency_estimate"] = {
            "per_inference_ms": mean * board.cpi / board.clock_hz * 1e3,
            "per_step_us": mean / T * board.cpi / board.clock_hz * 1e6,
            "clock_hz": board.clock_hz, "cpi": board.cpi,
            "note": ("an estimate: instructions x cpi / clock_hz with the board file's "
                     "assumed cycles per instruction, not a measurement"),
        }
    return rep


# ---------------------------------------------------------------------------------------------
# the command


def validate(model: str | Path, opts: Options, progress: Progress | None = None
             ) -> dict[str, Any]:
    """Runs the data set and returns the report (a JSON-ready dict). Checks everything it
    can (options, data, model, labels) before the long work starts."""
    if opts.on not in ONS:
        raise RnngenError(f"--on must be one of {', '.join(ONS)}, got '{opts.on}'")
    o = opts.build
    board = boards.get(o.target, o.board_file)
    if opts.on == "c":
        toolchain.require(board, run=True)
    x_raw, y = load_data(opts.data)
    g = compile_for(model, o, x_raw)
    gf = g if g.quant is None else _compile(
        model, replace(o, dtype="float32", calibrate=None, io="float", precision=None), g.seq_len)
    data = fit_data(opts.data, x_raw, y, g)
    x = data.x
    warnings = list(g.quant.warnings) if g.quant is not None else []

    float_out = run_reference(gf, x, progress, "float reference")
    ref_out = float_out if g.quant is None else run_reference(g, x, progress, "int8 reference")
    rep: dict[str, Any] = {
        "rnngen": __version__, "model": str(model), "data": str(opts.data),
        "layout": data.layout, "sequences": len(x), "seq_len": g.seq_len,
        "input_size": int(x.shape[2]), "target": board.name, "dtype": o.dtype,
        "io": o.io if o.dtype == "int8" else "float", "on": opts.on,
        "outputs": [{"name": n, "shape": list(g.shapes[n])} for n in g.outputs],
        "labels": data.y is not None,
    }
    if g.quant is not None:
        rep["calibration"] = g.quant.calibration
    compare: dict[str, dict[str, dict[str, float]]] = {}
    if g.quant is not None:
        compare["reference_vs_float"] = {n: metrics(ref_out[n], float_out[n]) for n in g.outputs}
    runs = {"float": float_out}
    if g.quant is not None:
        runs["reference"] = ref_out
    if opts.on == "c":
        c_out, facts = run_c(model, g, x, o, opts.timeout, progress)
        warnings += [w for w in facts.pop("warnings") if w not in warnings]
        runs["c"] = c_out
        compare["c_vs_float"] = {n: metrics(c_out[n], float_out[n]) for n in g.outputs}
        if g.quant is not None:  # float32: the build's reference is the float model
            compare["c_vs_reference"] = {n: metrics(c_out[n], ref_out[n]) for n in g.outputs}
            rep["c_equals_reference"] = all(np.array_equal(c_out[n], ref_out[n])
                                            for n in g.outputs)
            if driver.float_layers(g):  # docs/int8.md, "float32 layers": the rule
                tols = float32_tolerances(g, x, ref_out)
                rep["c_within_float32_rule"] = all(
                    float(np.max(np.abs(c_out[n][k].astype(np.float64) - ref_out[n][k])))
                    <= tols[k] for k in range(len(x)) for n in g.outputs)
        rep.update(facts)
    rep["metrics"] = compare
    first = g.outputs[0]
    preds = {k: predictions(g, v[first]) for k, v in runs.items()}
    rep["top1_agreement_with_float"] = {k: float(np.mean(p == preds["float"]))
                                        for k, p in preds.items() if k != "float"}
    if data.y is not None:
        rep["accuracy"] = {k: float(np.mean(p == data.y)) for k, p in preds.items()}
        rep["correct"] = {k: int(np.sum(p == data.y)) for k, p in preds.items()}
    rep["layers"] = analysis.table(g)
    rep["warnings"] = warnings
    return rep


# ---------------------------------------------------------------------------------------------
# the report


def report_format(path: str | Path) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in (".md", ".json"):
        raise RnngenError(f"--report {path}: give a .md or .json file name")
    return suffix[1:]


def write_report(path: str | Path, rep: dict[str, Any]) -> None:
    """The report as Markdown (.md) or JSON (.json), written whole or not at all
    (codegen/outputs.py: a temporary file beside it, then renamed; umask permissions)."""
    p = Path(path)
    text = (json.dumps(rep, indent=2, sort_keys=True) + "\n" if report_format(p) == "json"
            else markdown(rep))
    if p.parent and not p.parent.is_dir():
        raise RnngenError(f"--report {path}: folder {p.parent} does not exist")
    outputs.write_text(p, text)


def _g(v: float) -> str:
    return f"{v:.4g}"


def _pct(v: float) -> str:
    return f"{100 * v:.2f}%"


_RUN_NAMES = {"float": "float model (rnngen reference)", "reference": "int8 reference",
              "c": "C on the board"}
_CMP_NAMES = {"reference_vs_float": "int8 reference vs float model",
              "c_vs_float": "C vs float model", "c_vs_reference": "C vs int8 reference"}


def summary(rep: dict[str, Any]) -> list[str]:
    """The lines `rnngen validate` prints (also the head of the Markdown report)."""
    lines = [(f"{rep['sequences']} sequences x {rep['seq_len']} steps from {rep['data']} "
             f"({rep['layout']}); {rep['target']}, {rep['dtype']}, on {rep['on']}")]
    if "accuracy" in rep:
        acc = rep["accuracy"]
        lines.append("accuracy: " + ", ".join(
            f"{k} {_pct(v)} ({rep['correct'][k]}/{rep['sequences']})" for k, v in acc.items()))
    agree = rep["top1_agreement_with_float"]
    if agree:
        lines.append("top-1 agreement with the float model: "
                     + ", ".join(f"{k} {_pct(v)}" for k, v in agree.items()))
    for key, per in rep["metrics"].items():
        for out, m in per.items():
            lines.append(f"{_CMP_NAMES[key]} '{out}': max_abs_err {_g(m['max_abs_err'])}, "
                         f"mae {_g(m['mae'])}, rmse {_g(m['rmse'])}, l2r {_g(m['l2r'])}, "
                         f"cosine {m['cosine']:.6f}")
    if "c_equals_reference" in rep:
        lines.append("C outputs equal the int8 reference's bit for bit: "
                     + ("yes" if rep["c_equals_reference"] else "no"))
    if "c_within_float32_rule" in rep:
        lines.append("C outputs equal it but for float32 layers' values near a rounding "
                     "boundary (docs/int8.md): "
                     + ("yes" if rep["c_within_float32_rule"] else "no"))
    ins = rep.get("instructions")
    if ins:
        pi = ins["per_inference"]
        lines.append(f"instructions per inference: {pi['mean']:,.0f} (min {pi['min']:,}, max "
                     f"{pi['max']:,}); per step {ins['per_step']:,.1f} (exact, QEMU)")
        est = ins.get("latency_estimate")
        if est:
            lines.append(f"estimated latency (an estimate, not a measurement): "
                         f"{est['per_inference_ms']:.3f} ms per inference at "
                         f"{est['clock_hz'] / 1e6:g} MHz and an assumed {est['cpi']:g} cycles "
                         "per instruction")
    elif rep["on"] == "c":
        lines.append(f"instructions: {rep.get('instructions_why', 'not counted')}")
    if rep.get("flash_bytes") is not None:
        lines.append(f"flash {rep['flash_bytes']} B, RAM {rep['ram_bytes']} B")
    return lines


def markdown(rep: dict[str, Any]) -> str:
    out = [f"# rnngen validate: {Path(rep['model']).name} on {rep['target']}", "",
           (f"rnngen {rep['rnngen']}; model `{rep['model']}`; data `{rep['data']}`: "
           f"{rep['sequences']} sequences of {rep['seq_len']} steps x {rep['input_size']} "
           f"features, read as {rep['layout']}; dtype {rep['dtype']} (I/O {rep['io']}); "
           f"run on: {rep['on']}."), ""]
    if "calibration" in rep:
        out += [f"int8 calibration: {rep['calibration']}.", ""]
    if "accuracy" in rep:
        out += ["## Accuracy against the labels", "", "| run | accuracy | correct |",
                "| --- | ---: | ---: |"]
        for k, v in rep["accuracy"].items():
            out.append(f"| {_RUN_NAMES[k]} | {_pct(v)} | {rep['correct'][k]} / "
                       f"{rep['sequences']} |")
        out.append("")
    if rep["top1_agreement_with_float"]:
        out += ["## Top-1 agreement with the float model", "", "| run | agreement |",
                "| --- | ---: |"]
        for k, v in rep["top1_agreement_with_float"].items():
            out.append(f"| {_RUN_NAMES[k]} | {_pct(v)} |")
        out.append("")
    out += ["## Output metrics", "",
            ("Over every value of the output, all sequences: l2r = ||a - b|| / ||b||, cosine "
            "similarity of a and b as vectors."), "",
            "| comparison (a vs b) | output | max abs err | mae | rmse | l2r | cosine |",
            "| --- | --- | ---: | ---: | ---: | ---: | ---: |"]
    for key, per in rep["metrics"].items():
        for o, m in per.items():
            out.append(f"| {_CMP_NAMES[key]} | {o} | {_g(m['max_abs_err'])} | {_g(m['mae'])} | "
                       f"{_g(m['rmse'])} | {_g(m['l2r'])} | {m['cosine']:.6f} |")
    out.append("")
    if "c_equals_reference" in rep:
        out += [(f"C outputs equal the int8 reference's bit for bit: "
                f"{'yes' if rep['c_equals_reference'] else 'no'}."), ""]
    if "c_within_float32_rule" in rep:
        out += [("C outputs equal it but for float32 layers' values near a rounding boundary "
                 f"(docs/int8.md): {'yes' if rep['c_within_float32_rule'] else 'no'}."), ""]
    ins = rep.get("instructions")
    if ins:
        pi = ins["per_inference"]
        out += ["## Instructions on the board", "", f"{ins['what']}; {ins['counter']}.", "",
                "| | instructions |", "| --- | ---: |",
                f"| per inference, mean | {pi['mean']:,.1f} |",
                f"| per inference, min | {pi['min']:,} |",
                f"| per inference, max | {pi['max']:,} |",
                f"| per step (mean / T) | {ins['per_step']:,.1f} |", ""]
        est = ins.get("latency_estimate")
        if est:
            out += ["### Latency (estimate)", "",
                    (f"{est['note']}: {est['clock_hz'] / 1e6:g} MHz, {est['cpi']:g} cycles per "
                    "instruction."), "", "| | estimate |", "| --- | ---: |",
                    f"| per inference | {est['per_inference_ms']:.3f} ms |",
                    f"| per step | {est['per_step_us']:.2f} us |", ""]
    elif rep["on"] == "c":
        out += [f"Instructions: {rep.get('instructions_why', 'not counted')}.", ""]
    if rep.get("flash_bytes") is not None:
        out += [(f"Model flash {rep['flash_bytes']} B, RAM {rep['ram_bytes']} B "
                f"(kernels: {', '.join(rep['kernels'])})."), ""]
    if "layers" in rep:
        out += ["## Layers (as compiled)", "", "```"] + analysis.format_table(rep["layers"]) + \
            ["```", ""]
    if rep["warnings"]:
        out += ["## Warnings", ""] + [f"- {w}" for w in rep["warnings"]] + [""]
    return "\n".join(out)


# ---------------------------------------------------------------------------------------------
# verify with several sequences, and the int8 tolerance against float outputs


def _squeeze(shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(d for d in shape if d != 1)


def input_sequences(g: ir.Graph, path: str) -> np.ndarray | None:
    """--input as [N, *input shape] when it holds N > 1 sequences of the model's input
    (leading axis N, the rest the model's shape up to axes of size 1); None for one."""
    arr = npyio.load(path, "input")
    if not isinstance(arr, np.ndarray) or arr.ndim < 1 or arr.dtype.kind not in "fiu":
        return None  # driver.golden_input names the problem
    shape = tuple(g.shapes[g.input])
    if arr.shape[0] <= 1 or _squeeze(arr.shape[1:]) != _squeeze(shape):
        return None
    x = arr.astype(np.float32).reshape(arr.shape[0], *shape)
    if not np.all(np.isfinite(x)):
        raise RnngenError(f"{path}: input contains NaN or Inf")
    return x


def expected_sequences(g: ir.Graph, path: str, n: int) -> dict[str, np.ndarray]:
    """--expect for n sequences: each output [n, *shape] (an .npy for one output, else an .npz
    keyed by output name)."""
    outs = driver.expected_outputs(g, path)
    res = {}
    for o, v in outs.items():
        shape = tuple(g.shapes[o])
        if v.shape[:1] != (n,) or _squeeze(v.shape[1:]) != _squeeze(shape):
            raise RnngenError(f"{path}: output '{o}' has shape {v.shape}; for the {n} input "
                              f"sequences it must be [{n}, {', '.join(map(str, shape))}]")
        res[o] = np.asarray(v, np.float32).reshape(n, *shape)
    return res


def int8_tolerance(g: ir.Graph, xs: np.ndarray,
                   state: dict[str, np.ndarray] | None = None) -> tuple[float, str]:
    """The absolute tolerance for comparing an int8 build with float outputs of the original
    framework: the int8 reference's own largest error against rnngen's float reference on these
    inputs, in whole steps of the output's quantization scale, plus one step. The C equals the
    int8 reference bit for bit, so this holds exactly when the framework's outputs equal the
    float model's (to within less than one step); a wrong model or conversion exceeds it."""
    assert g.quant is not None
    gf = driver.compile_graph(g.source, driver.BuildOptions(seq_len=g.seq_len))
    if g.state_inputs and state:  # one sequence from the given state inputs
        q1, _ = driver.reference_outputs(g, xs[0], state, "int8")
        f1, _ = driver.reference_outputs(gf, xs[0], state)
        q = {o: v[None] for o, v in q1.items()}
        f = {o: v[None] for o, v in f1.items()}
    else:
        q = run_reference(g, xs)
        f = run_reference(gf, xs)
    atol, parts = 0.0, []
    for o in g.outputs:
        p = g.quant.tensors[o]
        scale = float(p.scale)
        err = float(np.max(np.abs(q[o].astype(np.float64) - f[o])))
        steps = math.ceil(err / scale - 1e-9) + 1
        atol = max(atol, steps * scale)
        parts.append(f"'{o}' {steps} x scale {scale:.4g} = {steps * scale:.4g} (int8 reference "
                     f"vs float: {err:.3g})")
    return atol, ("int8 against float outputs: atol derived from the quantization, the int8 "
                  "model's own error on this input in output steps + 1: " + "; ".join(parts))


def float32_tolerances(g: ir.Graph, x: np.ndarray, want: dict[str, np.ndarray]
                       ) -> list[float]:
    """Per sequence, the largest output difference when the float32 layers' values near a
    rounding boundary are rounded the other way (0: none near; run_reference's outputs)."""
    shape = tuple(g.shapes[g.input])
    tols = []
    for k in range(len(x)):
        ex = reference.Executor(g, dtype="int8")
        ex.nudge = True
        alt = ex.run(x[k].reshape(shape))
        tols.append(0.0 if not sum(ex.near.values()) else max(
            float(np.max(np.abs(np.asarray(alt[o], np.float64) - want[o][k])))
            for o in g.outputs))
    return tols


def verify_sequences(model: str | Path, o: driver.BuildOptions, x: np.ndarray,
                     keep: str | Path | None, timeout: float) -> driver.VerifyResult:
    """rnngen verify with N > 1 input sequences: the golden test (with its streaming checks) on
    the first sequence, then all N through the C in one run, each compared with --expect (or
    the reference) within atol + rtol * |expected|."""
    g = driver.compile_graph(model, o)
    n = len(x)
    want = expected_sequences(g, o.expect, n) if o.expect else run_reference(g, x)
    tmp = Path(tempfile.mkdtemp(prefix="rnngen-verify-"))
    try:
        np.save(tmp / "x0.npy", x[0])
        np.savez(tmp / "y0.npz", **{k: v[0] for k, v in want.items()})
        exact = g.quant is not None and not o.expect  # the int8 reference: bit for bit
        first = driver.verify(model, replace(o, input=str(tmp / "x0.npy"), expect=str(
            tmp / "y0.npz") if o.expect else None), keep, timeout)
        got, facts = run_c(model, g, x, replace(o, input=None, expect=None), timeout)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    atol, rtol = (0.0, 0.0) if exact else (o.atol, o.rtol)
    # float32 layers inside the int8 model: exact but for their values near a rounding
    # boundary (docs/int8.md, "float32 layers"): per sequence, the difference of rounding
    # those the other way
    tols = float32_tolerances(g, x, want) if exact and driver.float_layers(g) else [0.0] * n
    failed, max_abs, max_rel, mism, values = [], 0.0, 0.0, 0, 0
    for k in range(n):
        bad = 0
        for name in g.outputs:
            c, r = got[name][k].astype(np.float64), want[name][k].astype(np.float64)
            e = np.abs(c - r)
            max_abs = max(max_abs, float(np.max(e)))
            max_rel = max(max_rel, float(np.max(e / np.maximum(np.abs(r), 1e-30))))
            bad += int(np.sum(~(e <= max(atol, tols[k]) + rtol * np.abs(r))))
            values += c.size
        mism += bad
        if bad:
            failed.append(k)
    rep = dict(first.report)
    passed = first.passed and not failed
    rep.update(passed=passed, sequences=n, failed_sequences=failed[:20],
               failed_count=len(failed), max_abs_err=max(max_abs, rep["max_abs_err"]),
               max_rel_err=max(max_rel, rep["max_rel_err"]), mismatches=mism, values=values,
               atol=atol, rtol=rtol, instructions=facts.get("instructions"))
    rep["warnings"] = sorted(set(rep.get("warnings", [])) | set(facts["warnings"]))
    return driver.VerifyResult(passed, rep, first.output)


def verify_tolerance(model: str | Path, o: driver.BuildOptions) -> tuple[float, str]:
    """int8_tolerance for `rnngen verify --dtype int8 --expect` on its input (--input: one or
    N sequences; else the golden input)."""
    g = driver.compile_graph(model, o)
    xs = input_sequences(g, o.input) if o.input else None
    state = None
    if xs is None:
        x, state, _ = driver.golden_inputs(g, o.input)
        xs = x[None]
    return int8_tolerance(g, xs, state)
