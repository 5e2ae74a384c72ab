"""The shared part of the int16-activation benchmarks of the compressed formats
(benchmarks/a16_lowrank.py, a16_hmd.py, a16_csr.py, a16_kron.py; each one's docstring says
what it measures): the counted builds, the accuracy model and the report.

    res = measure("kron", ["cortex-m4"], work)        # (board, precision) -> counts, bytes
    err, paths = accuracy_model("kron", work)         # err(path, spec) -> (mean, max)
    main("kron", "a16_kron", "the Kronecker format (kron)", extra, argv)

Counts: benchmarks/precision_formats.py's model (one LSTM layer, input 32, hidden 64, T = 8)
compressed 2x by rnngen's own compressor (`rnngen compress -m METHOD -f 2 --nearest`), built
by `rnngen build --target BOARD --precision P` (random calibration) with the run harness of
benchmarks/icount_harness.py: one `<name>_run` over the T steps between rnngen's counting
markers, exact QEMU instruction counts (codegen/icount.py; instructions, not cycles), each
counted twice and required equal; flash, weight bytes and RAM from the build's manifest.
Accuracy: a two-layer LSTM 16 -> 32 -> 32, T = 12 (tests/models.py's seeded weights), dense
and compressed 2x, calibrated on 32 seeded uniform(-1, 1) sequences; on 16 others the integer
reference's outputs (which the C equals bit for bit) against onnxruntime's float outputs of
the same model: mean and max |error| of Y.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

import icount_harness as icount
from kernels import commit
from precision_formats import H, I, T, model

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BOARDS = ["cortex-m4", "cortex-m55"]
PRECS = ["w8a8", "w8a16", "w4a8", "w4a16"]

Errors = dict[tuple[str, str], tuple[float, float]]


def measure(method: str, boards: list[str], work: Path) -> dict[tuple[str, str], dict]:
    from rnngen import precision
    from rnngen.compress_model import compress_file

    dense, comp = work / "lstm.onnx", work / f"lstm_{method}.onnx"
    model(dense)
    compress_file(dense, comp, method, 2.0, force=True, nearest=True)
    out: dict[tuple[str, str], dict] = {}
    for b in boards:
        for p in PRECS:
            proj = work / f"{b}-{p}"
            elf = icount.build_project(comp, b, proj, whole_run=True, dtype="int8",
                                       precision=precision.parse(p))
            c, again = icount.run(elf, b), icount.run(elf, b)
            if len(c.windows) != 1 or again.windows != c.windows:
                raise RuntimeError(f"{b} {p}: counts {c.windows} then {again.windows}")
            man = json.loads((proj / "manifest.json").read_text())
            out[(b, p)] = dict(instructions=int(c.windows[0]), **{
                k: man[k] for k in ("flash_bytes", "weights_bytes", "ram_bytes")})
            print(b, p, out[(b, p)], file=sys.stderr)
    return out


def accuracy_model(method: str, work: Path
                   ) -> tuple[Callable[[Path, str], tuple[float, float]], tuple[Path, Path]]:
    """err(path, spec): mean and max |error| of the last layer's Y of that model file built in
    that precision; and the (dense, compressed) accuracy models' files."""
    import onnx
    import onnxruntime as ort

    from rnngen import driver, precision
    from rnngen.compress_model import compress_file

    sys.path.insert(0, str(ROOT))
    from tests import models

    dense, comp = work / "acc.onnx", work / f"acc_{method}.onnx"
    onnx.save(models.make_model(models.Spec("LSTM", "forward", 16, 32, 12, 2), 3), dense)
    compress_file(dense, comp, method, 2.0, force=True, nearest=True)
    rng = np.random.default_rng(1)
    cal = rng.uniform(-1, 1, (32, 12, 1, 16)).astype(np.float32)
    xs = rng.uniform(-1, 1, (16, 12, 1, 16)).astype(np.float32)
    np.save(work / "cal.npy", cal)

    def err(path: Path, spec: str) -> tuple[float, float]:
        sess = ort.InferenceSession(str(path))
        g = driver.compile_graph(path, driver.BuildOptions(
            dtype="int8", precision=precision.parse(spec), calibrate=str(work / "cal.npy")))
        d = []
        for x in xs:
            want = sess.run(["l1_Y"], {sess.get_inputs()[0].name: x})[0]
            got = driver.reference_outputs(g, x, {}, dtype="int8")[0]["l1_Y"]
            d.append(np.abs(got - want))
        return float(np.mean(d)), float(np.max(d))

    return err, (dense, comp)


def report(script: str, method: str, title: str, res: dict[tuple[str, str], dict],
           acc: Errors, cmd: str) -> str:
    lines = [f"# int16 activations in {title}", "",
             (f"Made by `{cmd}` at commit {commit()}. One LSTM {I} -> {H}, T = {T}, compressed "
              f"2x with {method} (benchmarks/{script}.py says how); per board a whole `_run`'s "
              "exact QEMU instruction count (instructions, not cycles) and the build's flash, "
              "weight bytes and RAM; the ratio is against the same weights with int8 "
              "activations (w8a16 / w8a8, w4a16 / w4a8). No target was set."), "",
             "| board | precision | instructions | ratio | flash B | weights B | RAM B |",
             "|---|---|---|---|---|---|---|"]
    for b in sorted({k[0] for k in res}, key=BOARDS.index):
        for p in PRECS:
            r = res[(b, p)]
            base = res.get((b, p.replace("a16", "a8")))
            ratio = f"{r['instructions'] / base['instructions']:.2f}" \
                if p.endswith("a16") and base else ""
            lines.append(f"| {b} | {p} | {r['instructions']:,} | {ratio} | "
                         f"{r['flash_bytes']:,} | {r['weights_bytes']:,} | "
                         f"{r['ram_bytes']:,} |")
    lines += ["", ("Accuracy (the docstring says how): |error| of the last layer's Y against "
                   "the float model's, mean and max over 16 sequences."), "",
              "| model | precision | mean | max |", "|---|---|---|---|"]
    for (m, p), (mean, mx) in acc.items():
        lines.append(f"| {m} | {p} | {mean:.5f} | {mx:.5f} |")
    return "\n".join(lines) + "\n"


def main(method: str, script: str, title: str, doc: str,
         accuracy: Callable[[Path], Errors], argv: list[str] | None = None) -> int:
    """A benchmark script's command line: --boards, --out (results/<script>.md)."""
    ap = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    ap.add_argument("--boards", default=",".join(BOARDS))
    ap.add_argument("--out", default=str(HERE / "results" / f"{script}.md"))
    a = ap.parse_args(argv)
    boards = [b for b in a.boards.split(",") if b]
    with tempfile.TemporaryDirectory() as d:
        res = measure(method, boards, Path(d))
        acc = accuracy(Path(d))
    cmd = f"python benchmarks/{script}.py" + ("" if boards == BOARDS else
                                              f" --boards {','.join(boards)}")
    text = report(script, method, title, res, acc, cmd)
    Path(a.out).write_text(text)
    print(text)
    return 0
