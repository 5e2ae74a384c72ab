"""int4 weights (w4a8) in the compressed formats against int8 (w8a8): a whole inference's
instructions, flash, weight bytes and RAM, per compress method and board.

    python benchmarks/precision_formats.py   # writes benchmarks/results/precision_formats.md

Model: one LSTM layer, input 32, hidden 64, T = 8 (seeded uniform(-1/8, 1/8) weights: trained
values do not change the work of any kernel), compressed by rnngen's own compressor
(rnngen.compress_model.compress_file, what `rnngen compress -m METHOD -f 2 --nearest` runs)
with each method, then built by `rnngen build --target BOARD --precision w8a8|w4a8` (random
calibration) with the run harness of benchmarks/icount_harness.py: one `<name>_run` over the
T steps between rnngen's counting markers, exact QEMU instruction counts
(codegen/icount.py; instructions, not cycles). Flash (code + constants, by the board's size
tool), the weights' bytes and RAM are the build's manifest figures. Dense is the
uncompressed layer, for reference.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

import icount_harness as icount
from kernels import commit

HERE = Path(__file__).resolve().parent
BOARDS = ["cortex-m4", "cortex-m55", "cortex-a73"]
METHODS = ["dense", "lmf", "hmd", "csr", "kron", "hkp"]
I, H, T = 32, 64, 8


def model(path: Path) -> None:
    rng = np.random.default_rng(0)

    def arr(name: str, *shape: int) -> TensorProto:
        return numpy_helper.from_array(rng.uniform(-1 / 8, 1 / 8, shape).astype(np.float32),
                                       name)

    node = helper.make_node("LSTM", ["x", "W", "R", "B"], ["Y"], hidden_size=H, name="lstm")
    g = helper.make_graph([node], "lstm", [helper.make_tensor_value_info(
        "x", TensorProto.FLOAT, [T, 1, I])], [helper.make_tensor_value_info(
            "Y", TensorProto.FLOAT, [T, 1, 1, H])],
        [arr("W", 1, 4 * H, I), arr("R", 1, 4 * H, H), arr("B", 1, 8 * H)])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 14)]), path)


def measure(boards: list[str], work: Path) -> dict[tuple[str, str, str], dict]:
    from rnngen import precision
    from rnngen.compress_model import compress_file

    dense = work / "lstm.onnx"
    model(dense)
    paths = {"dense": dense}
    for m in METHODS[1:]:
        paths[m] = work / f"lstm_{m}.onnx"
        compress_file(dense, paths[m], m, 2.0, force=True, nearest=True)
    out: dict[tuple[str, str, str], dict] = {}
    for b in boards:
        for m in METHODS:
            for p in ("w8a8", "w4a8"):
                proj = work / f"{b}-{m}-{p}"
                elf = icount.build_project(paths[m], b, proj, whole_run=True, dtype="int8",
                                           precision=precision.parse(p))
                c, again = icount.run(elf, b), icount.run(elf, b)
                if len(c.windows) != 1 or again.windows != c.windows:
                    raise RuntimeError(f"{b} {m} {p}: counts {c.windows} then {again.windows}")
                man = json.loads((proj / "manifest.json").read_text())
                out[(b, m, p)] = dict(instructions=int(c.windows[0]), **{
                    k: man[k] for k in ("flash_bytes", "weights_bytes", "ram_bytes")})
                print(b, m, p, out[(b, m, p)], file=sys.stderr)
    return out


def report(res: dict[tuple[str, str, str], dict], cmd: str) -> str:
    lines = ["# int4 weights in the compressed formats (w4a8) against int8 (w8a8)", "",
             (f"Made by `{cmd}` at commit {commit()}. One LSTM 32 -> 64, T = {T}, compressed "
              "2x by each method (benchmarks/precision_formats.py says how); per board a whole "
              "`_run`'s exact QEMU instruction count (instructions, not cycles) and the "
              "build's flash, weight bytes and RAM."), "",
             ("| board | method | instructions w8a8 -> w4a8 (ratio) | flash B | weights B "
              "| RAM B |"), "|---|---|---|---|---|---|"]
    for b in sorted({k[0] for k in res}, key=BOARDS.index):
        for m in METHODS:
            a, z = res[(b, m, "w8a8")], res[(b, m, "w4a8")]
            lines.append(
                f"| {b} | {m} | {a['instructions']:,} -> {z['instructions']:,} "
                f"({z['instructions'] / a['instructions']:.2f}) | {a['flash_bytes']:,} -> "
                f"{z['flash_bytes']:,} | {a['weights_bytes']:,} -> {z['weights_bytes']:,} | "
                f"{a['ram_bytes']:,} -> {z['ram_bytes']:,} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--boards", default=",".join(BOARDS))
    ap.add_argument("--out", default=str(HERE / "results" / "precision_formats.md"))
    a = ap.parse_args(argv)
    boards = [b for b in a.boards.split(",") if b]
    with tempfile.TemporaryDirectory() as d:
        res = measure(boards, Path(d))
    cmd = "python benchmarks/precision_formats.py" + ("" if boards == BOARDS else
                                                     f" --boards {','.join(boards)}")
    text = report(res, cmd)
    Path(a.out).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
