"""int16 activations (w8a16, w4a16) in the low-rank format against w8a8 and w4a8: a whole
inference's instructions, flash, weight bytes and RAM, per board.

    python benchmarks/a16_lowrank.py   # writes benchmarks/results/a16_lowrank.md

Model: benchmarks/precision_formats.py's (one LSTM layer, input 32, hidden 64, T = 8, seeded
uniform(-1/8, 1/8) weights) compressed 2x by rnngen's own compressor with lmf (what `rnngen
compress -m lmf -f 2 --nearest` runs), built by `rnngen build --target BOARD --precision P`
(random calibration) with the run harness of benchmarks/icount_harness.py: one `<name>_run`
over the T steps between rnngen's counting markers, exact QEMU instruction counts
(codegen/icount.py; instructions, not cycles), each counted twice and required equal. Flash
(code + constants, by the board's size tool), weights' bytes and RAM are the build's
manifest figures. No target was set.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import icount_harness as icount
from kernels import commit
from precision_formats import H, I, T, model

HERE = Path(__file__).resolve().parent
BOARDS = ["cortex-m4", "cortex-m55"]
PRECS = ["w8a8", "w8a16", "w4a8", "w4a16"]


def measure(boards: list[str], work: Path) -> dict[tuple[str, str], dict]:
    from rnngen import precision
    from rnngen.compress_model import compress_file

    dense, lmf = work / "lstm.onnx", work / "lstm_lmf.onnx"
    model(dense)
    compress_file(dense, lmf, "lmf", 2.0, force=True, nearest=True)
    out: dict[tuple[str, str], dict] = {}
    for b in boards:
        for p in PRECS:
            proj = work / f"{b}-{p}"
            elf = icount.build_project(lmf, b, proj, whole_run=True, dtype="int8",
                                       precision=precision.parse(p))
            c, again = icount.run(elf, b), icount.run(elf, b)
            if len(c.windows) != 1 or again.windows != c.windows:
                raise RuntimeError(f"{b} {p}: counts {c.windows} then {again.windows}")
            man = json.loads((proj / "manifest.json").read_text())
            out[(b, p)] = dict(instructions=int(c.windows[0]), **{
                k: man[k] for k in ("flash_bytes", "weights_bytes", "ram_bytes")})
            print(b, p, out[(b, p)], file=sys.stderr)
    return out


def report(res: dict[tuple[str, str], dict], cmd: str) -> str:
    lines = ["# int16 activations in the low-rank format (lmf)", "",
             (f"Made by `{cmd}` at commit {commit()}. One LSTM {I} -> {H}, T = {T}, compressed "
              "2x with lmf (benchmarks/a16_lowrank.py says how); per board a whole `_run`'s "
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
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--boards", default=",".join(BOARDS))
    ap.add_argument("--out", default=str(HERE / "results" / "a16_lowrank.md"))
    a = ap.parse_args(argv)
    boards = [b for b in a.boards.split(",") if b]
    with tempfile.TemporaryDirectory() as d:
        res = measure(boards, Path(d))
    cmd = "python benchmarks/a16_lowrank.py" + ("" if boards == BOARDS else
                                               f" --boards {','.join(boards)}")
    text = report(res, cmd)
    Path(a.out).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
