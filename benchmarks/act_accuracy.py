"""Largest errors of rnn_activation_f32's sigmoid and tanh against float64, over every float32
input (or every STEP-th bit pattern), on the host.

    python benchmarks/act_accuracy.py              # writes benchmarks/results/act_accuracy.md
    python benchmarks/act_accuracy.py --step 4099  # a quick subsample

Two builds of runtime_c/Source/ActivationFunctions/rnn_activation_f32.c with the host's gcc:
the plain C path as is, and the Cortex-M4/M7 FPU path compiled for x86 with FMA
(-mfma -D__ARM_FP=4 -D__ARM_FEATURE_FMA=1: the same IEEE single-precision operations, fused
multiply-adds included, as on the boards). A small C harness includes the kernel's source,
runs sigmoid_f32 / tanh_f32 on every non-NaN input in chunks and compares with
1 / (1 + exp(-x)) and tanh(x) in double; the FPU build also measures its e^-x on [-87, 87].
Relative error of sigmoid only where its value is a normal float (x >= -87). NaN inputs are
left out here (tests/kernels/test_board_kernels.py checks them on the boards).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SRC = ROOT / "runtime_c" / "Source" / "ActivationFunctions"
INC = ROOT / "runtime_c" / "Include"

HARNESS = r"""
#include "rnn_activation_f32.c"
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#define CH 4096
int main(int argc, char **argv)
{
    const uint64_t step = (uint64_t)strtoull(argv[1], 0, 10);
    double sa = 0, sr = 0, ta = 0, er = 0;
    static float xs[CH], a[CH], b[CH];
    uint64_t u = 0;
    while (u < 0x100000000ull)
    {
        int n = 0, i;
        for (; n < CH && u < 0x100000000ull; u += step)
        {
            const uint32_t bits = (uint32_t)u;
            float x;
            memcpy(&x, &bits, 4);
            if (x == x)
            {
                xs[n++] = x;
            }
        }
        memcpy(a, xs, sizeof(float) * (size_t)n);
        memcpy(b, xs, sizeof(float) * (size_t)n);
        sigmoid_f32(a, n);
        tanh_f32(b, n);
        for (i = 0; i < n; ++i)
        {
            const double x = xs[i];
            const double ws = 1.0 / (1.0 + exp(-x));
            double e = fabs(a[i] - ws);
            sa = e > sa ? e : sa;
            if (x >= -87 && e / ws > sr)
            {
                sr = e / ws;
            }
            e = fabs(b[i] - tanh(x));
            ta = e > ta ? e : ta;
#if defined(RNN_ACT_FPU)
            if (fabs(x) <= 87)
            {
                const double w = exp(-x);
                e = fabs((double)exp_fpu(xs[i], -1.0f) - w) / w;
                er = e > er ? e : er;
            }
#endif
        }
    }
    printf("%.3g %.3g %.3g %.3g\n", sa, sr, ta, er);
    return 0;
}
"""

BUILDS = {"plain C (host)": [],
          "Cortex-M4/M7 FPU (x86 FMA)": ["-mfma", "-D__ARM_FP=4", "-D__ARM_FEATURE_FMA=1"]}


def measure(step: int) -> dict[str, list[str]]:
    out = {}
    with tempfile.TemporaryDirectory() as d:
        c = Path(d) / "acc.c"
        c.write_text(HARNESS)
        for name, flags in BUILDS.items():
            exe = Path(d) / "acc"
            subprocess.run(["gcc", "-std=gnu99", "-O2", *flags, f"-I{INC}", f"-I{SRC}", str(c),
                            "-o", str(exe), "-lm"], check=True)
            res = subprocess.run([str(exe), str(step)], capture_output=True, text=True,
                                 check=True)
            out[name] = res.stdout.split()
            print(name, out[name], file=sys.stderr)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--step", type=int, default=1, help="every STEP-th bit pattern")
    ap.add_argument("--out", default=str(HERE / "results" / "act_accuracy.md"))
    a = ap.parse_args(argv)
    res = measure(a.step)
    what = "every float32 input" if a.step == 1 else f"every {a.step}th bit pattern"
    cmd = "python benchmarks/act_accuracy.py" + ("" if a.step == 1 else f" --step {a.step}")
    lines = ["# sigmoid / tanh accuracy of rnn_activation_f32 against float64 (host)", "",
             f"Made by `{cmd}` (the script's docstring has the method); {what}, NaN excluded.",
             "", "| build | sigmoid, absolute | sigmoid, relative (x >= -87) | tanh, absolute "
             "| e^-x, relative on [-87, 87] |", "|---|---|---|---|---|"]
    for name, (sa, sr, ta, er) in res.items():
        lines.append(f"| {name} | {sa} | {sr} | {ta} | {er if name != 'plain C (host)' else '-'} |")
    md = "\n".join(lines) + "\n"
    Path(a.out).write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
