"""Flash and RAM of the bundled example on every board, against its bare weight bytes.

    python benchmarks/board_sizes.py            # writes benchmarks/board_sizes.md

For each board: `rnngen build` (which compiles the model objects with the board's compiler
and measures them), then `make` and `make size` for the whole test program.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from rnngen import boards, driver

HERE = Path(__file__).resolve().parent
MODEL = HERE.parent / "examples" / "lstm_classifier" / "model.onnx"


def main() -> int:
    rows = []
    with tempfile.TemporaryDirectory() as d:
        for name in boards.available():
            out = Path(d) / name
            res = driver.build(MODEL, out, driver.BuildOptions(target=name))
            m = res.manifest
            subprocess.run(["make", "-s", "-C", str(out)], check=True, capture_output=True)
            size = subprocess.run(["make", "-s", "-C", str(out), "size"], check=True,
                                  capture_output=True, text=True).stdout.strip().splitlines()
            text, data = (int(v) for v in size[-1].split()[:2])
            rows.append((name, m["flash_bytes"], m["weights_bytes"], m["ram_bytes"],
                         m["state_bytes"], text + data))
    lines = ["# Flash and RAM of the bundled example per board", "",
             "Made by `python benchmarks/board_sizes.py`. Model: `examples/lstm_classifier/"
             "model.onnx` (LSTM 8->32, Linear 32->10, Softmax). *Flash* is text + data of the "
             "model's objects (generated model and kernels), *RAM* is their data + bss plus the "
             "caller's state struct (recurrent state and scratch); the floor is the bare float32 "
             "weight bytes.", "",
             "| board | model flash (B) | weights (B) | flash / weights | model RAM (B) | "
             "state struct (B) | whole test program, text + data (B) |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for name, flash, weights, ram, state, prog in rows:
        lines.append(f"| {name} | {flash:,} | {weights:,} | {flash / weights:.2f} | {ram:,} | "
                     f"{state:,} | {prog:,} |")
    report = "\n".join(lines) + "\n"
    (HERE / "board_sizes.md").write_text(report)
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
