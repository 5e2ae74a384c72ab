"""float32 layers inside an int8 model (`--precision LAYER=float32`, docs/int8.md "float32
layers"): how often a float layer's output lies near a rounding boundary, whether the C
rounds those as the NumPy reference does, and the cost model's prediction against QEMU's
exact instruction count. Writes benchmarks/results/float_layers.md.

    python benchmarks/float_layers.py

1. Rounding: the LSTM -> Linear model of tests/e2e/test_float_layers.py (T 6, I 5, H 8, 4
   logits; outputs the logits and the LSTM's Y) with the LSTM in float, calibrated on 256
   seeded sequences uniform in [-1, 1); the integer reference counts the float values near a
   boundary (reference_int.NEAR); the C runs the same 256 sequences (verify --input/--expect
   at atol 0) on each board and the mismatching outputs are counted.
2. Instructions: the example classifier with each layer in float in turn, and all-int8 and
   all-float for comparison, one `_run` over its 8 steps counted exactly under QEMU
   (rnngen's plugin), next to the cost model's prediction.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import icount_harness as icount  # noqa: E402
from rnngen import cost, driver, precision, reference  # noqa: E402

from tests.e2e.test_float_layers import lstm_fc  # noqa: E402

BOARDS = ("host", "cortex-a73", "cortex-m4", "cortex-m55")
N = 256


def rounding(work: Path) -> list[str]:
    p = lstm_fc(work / "m.onnx")
    xs = np.random.default_rng(7).uniform(-1, 1, (N, 6, 1, 5)).astype(np.float32)
    np.save(work / "xs.npy", xs)
    kw = dict(dtype="int8", calibrate=str(work / "xs.npy"),
              precision=precision.parse("lstm=float32"))
    g = driver.compile_graph(p, driver.BuildOptions(**kw))
    want: dict[str, list[np.ndarray]] = {o: [] for o in g.outputs}
    near = quantized = 0
    for x in xs:
        ex = reference.Executor(g, dtype="int8")
        out = ex.run(x)
        for o in g.outputs:
            want[o].append(out[o])
        near += sum(ex.near.values())
        quantized += sum(v.size for v in ex.floats.values())
    np.savez(work / "want.npz", **{o: np.stack(v) for o, v in want.items()})
    lines = [(f"{N} sequences; {quantized:,} float values quantized (Y and Y_h), {near} of "
              f"them near a rounding boundary ({near / quantized:.2%})."), "",
             "| board | outputs compared | mismatches at atol 0 | max abs error |",
             "|---|---|---|---|"]
    for b in BOARDS:
        res = driver.verify(p, driver.BuildOptions(**kw, target=b, input=str(work / "xs.npy"),
                                                   expect=str(work / "want.npz"), atol=0.0,
                                                   rtol=0.0))
        r = res.report
        lines.append(f"| {b} | {r['values']:,} | {r['mismatches']} | {r['max_abs_err']:g} |")
        print(lines[-1], flush=True)
    return lines


def instructions(work: Path) -> list[str]:
    ex = ROOT / "examples" / "lstm_classifier" / "model.onnx"
    lines = ["| build | board | instructions (QEMU, exact) | predicted | error |",
             "|---|---|---|---|---|"]
    for label, spec in (("int8 (w8a8)", "w8a8"), ("LSTM float32, Linear int8",
                                                  "/lstm/LSTM=float32"),
                        ("LSTM int8, Linear float32", "/fc/Gemm=float32"),
                        ("float32 build", None)):
        for b in ("cortex-a73", "cortex-m4", "cortex-m55"):
            opts: dict = {"dtype": "int8", "precision": precision.parse(spec)} if spec else {}
            dtype = "int8" if spec else "float32"
            with tempfile.TemporaryDirectory(dir=work) as d:
                elf = icount.build_project(ex, b, Path(d) / "p", whole_run=True,
                                           measure=False, **opts)
                n = icount.run(elf, b).windows[0]
            g = driver.compile_graph(ex, driver.BuildOptions(target=b, **opts))
            pred = cost.load(b).instructions(g, dtype)
            lines.append(f"| {label} | {b} | {n:,} | {pred:,.0f} | {(pred - n) / n:+.1%} |")
            print(lines[-1], flush=True)
    return lines


def main() -> None:
    with tempfile.TemporaryDirectory() as d:
        work = Path(d)
        out = ["# float32 layers inside an int8 model", "",
               ("Made by `python benchmarks/float_layers.py` (the script's docstring has "
                "the method)."), "", "## Rounding at the float layer's output", ""]
        out += rounding(work)
        out += ["", "## Instructions of one `_run` (examples/lstm_classifier, 8 steps)", ""]
        out += instructions(work)
    dst = ROOT / "benchmarks" / "results" / "float_layers.md"
    dst.write_text("\n".join(out) + "\n")
    print(f"wrote {dst}")


if __name__ == "__main__":
    main()
