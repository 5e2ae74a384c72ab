"""int16 activations (w8a16, w4a16) in the Kronecker format against w8a8 and w4a8: a whole
inference's instructions, flash, weight bytes and RAM, per board.

    python benchmarks/a16_kron.py   # writes benchmarks/results/a16_kron.md

Model: benchmarks/precision_formats.py's (one LSTM layer, input 32, hidden 64, T = 8, seeded
uniform(-1/8, 1/8) weights) compressed 2x by rnngen's own compressor with kron (what `rnngen
compress -m kron -f 2 --nearest` runs), built by `rnngen build --target BOARD --precision P`
(random calibration) with the run harness of benchmarks/icount_harness.py: one `<name>_run`
over the T steps between rnngen's counting markers, exact QEMU instruction counts
(codegen/icount.py; instructions, not cycles), each counted twice and required equal. Flash
(code + constants, by the board's size tool), weights' bytes and RAM are the build's
manifest figures. No target was set.

Accuracy: a two-layer LSTM 16 -> 32 -> 32, T = 12 (tests/models.py's seeded weights), dense
and compressed 2x with kron, calibrated on 32 seeded uniform(-1, 1) sequences; on 16 others,
the integer reference's outputs (which the C equals bit for bit) against onnxruntime's float
outputs of the same (dense or compressed) model: mean and max |error| of Y, w8a8 and w8a16;
and, for kron w8a16, the int64 first stage (rq64: its multiplier rounded to Q15) in every
matrix instead of only past the int32 bound (the int32 sums' rq, the full 31-bit
multiplier), evaluated in the integer reference.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

import icount_harness as icount
from kernels import commit
from precision_formats import H, I, T, model

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BOARDS = ["cortex-m4", "cortex-m55"]
PRECS = ["w8a8", "w8a16", "w4a8", "w4a16"]


def measure(boards: list[str], work: Path) -> dict[tuple[str, str], dict]:
    from rnngen import precision
    from rnngen.compress_model import compress_file

    dense, kr = work / "lstm.onnx", work / "lstm_kr.onnx"
    model(dense)
    compress_file(dense, kr, "kron", 2.0, force=True, nearest=True)
    out: dict[tuple[str, str], dict] = {}
    for b in boards:
        for p in PRECS:
            proj = work / f"{b}-{p}"
            elf = icount.build_project(kr, b, proj, whole_run=True, dtype="int8",
                                       precision=precision.parse(p))
            c, again = icount.run(elf, b), icount.run(elf, b)
            if len(c.windows) != 1 or again.windows != c.windows:
                raise RuntimeError(f"{b} {p}: counts {c.windows} then {again.windows}")
            man = json.loads((proj / "manifest.json").read_text())
            out[(b, p)] = dict(instructions=int(c.windows[0]), **{
                k: man[k] for k in ("flash_bytes", "weights_bytes", "ram_bytes")})
            print(b, p, out[(b, p)], file=sys.stderr)
    return out


def accuracy(work: Path) -> dict[tuple[str, str], tuple[float, float]]:
    import dataclasses

    import onnx
    import onnxruntime as ort

    from rnngen import driver, formats, precision
    from rnngen.compress_model import compress_file
    from rnngen.formats import kron

    sys.path.insert(0, str(ROOT))
    from tests import models

    dense, kr = work / "acc.onnx", work / "acc_kron.onnx"
    onnx.save(models.make_model(models.Spec("LSTM", "forward", 16, 32, 12, 2), 3), dense)
    compress_file(dense, kr, "kron", 2.0, force=True, nearest=True)
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

    out = {(m, p): err(path, p) for m, path in (("dense", dense), ("kron", kr))
           for p in ("w8a8", "w8a16")}

    # the alternative: int64 first-stage sums and rq64 wherever x is int16 (reference only)
    saved = formats.FORMATS["kron"]

    def quantize64(*args, **kw):  # type: ignore[no-untyped-def]
        q = kron._quantize(*args, **kw)
        return dataclasses.replace(q, acc64=True) if q.xbits == 16 else q

    try:
        formats.FORMATS["kron"] = dataclasses.replace(saved, quantize=quantize64)
        out[("kron, int64 first stage (rq64)", "w8a16")] = err(kr, "w8a16")
    finally:
        formats.FORMATS["kron"] = saved
    return out


def report(res: dict[tuple[str, str], dict], acc: dict[tuple[str, str], tuple[float, float]],
           cmd: str) -> str:
    lines = ["# int16 activations in the Kronecker format (kron)", "",
             (f"Made by `{cmd}` at commit {commit()}. One LSTM {I} -> {H}, T = {T}, compressed "
              "2x with kron (benchmarks/a16_kron.py says how); per board a whole `_run`'s "
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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--boards", default=",".join(BOARDS))
    ap.add_argument("--out", default=str(HERE / "results" / "a16_kron.md"))
    a = ap.parse_args(argv)
    boards = [b for b in a.boards.split(",") if b]
    with tempfile.TemporaryDirectory() as d:
        res = measure(boards, Path(d))
        acc = accuracy(Path(d))
    cmd = "python benchmarks/a16_kron.py" + ("" if boards == BOARDS else
                                               f" --boards {','.join(boards)}")
    text = report(res, acc, cmd)
    Path(a.out).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
