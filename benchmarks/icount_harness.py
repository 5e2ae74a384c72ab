"""Exact instruction counts of rnngen code on the emulated boards, for the benchmarks.

    python benchmarks/icount_harness.py MODEL --target cortex-m4 [--dtype int8] [--steps 4]

The counting is rnngen's own (codegen/icount.py and its QEMU plugin codegen/icount_plugin/,
built on first use with the host's gcc; `rnngen validate` counts with the same plugin): the
instructions executed (1) inside named functions (from `nm -S` of the ELF: a function's own
instructions, callees excluded, and how many times it was entered) and (2) in windows
between two marker functions, icount_start() and icount_stop(): everything executed in
between, callees included (plus the call's own argument setup, a few instructions).
Counts are instructions, not cycles; they are the same on every run (checked by `repeat`).
What it needs is what `make install` installs (Debian's cross compilers and QEMU, gcc).

Python API:
    build_project(model, target, out, steps=..., run=False, **build_options) -> ELF: an
        rnngen project whose test program is replaced by a harness that calls <name>_step
        once per golden step between the markers (run=True: <name>_run once over the golden
        sequence instead);
    build_program(target, out, sources, main_c) -> ELF: any C (the runtime kernels, a
        benchmark's own code) compiled with the board's compiler, flags, startup code and
        linker script (those of an rnngen project for the board);
    run(elf, target, functions=()) -> Counts: windows (per-call inclusive counts) and per-
        function (insns, calls);
    count_steps(model, target, ...) -> (per-step window counts, per-function Counts).
Boards: cortex-a73 / cortex-a53 (qemu-aarch64; A73 code on -cpu cortex-a72) and cortex-m4 /
cortex-m7 / cortex-m55 (qemu-system-arm), as rnngen's board files run them.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from rnngen import boards, driver
from rnngen import icount as rnngen_icount
from rnngen.resources import data_dir

HERE = Path(__file__).resolve().parent

MARKERS_C = rnngen_icount.MARKERS_C  # the same markers rnngen validate counts between

SEMIHOSTING_C = r"""
#ifdef RNNGEN_SEMIHOSTING
extern void initialise_monitor_handles(void);
#define ICOUNT_IO_INIT() initialise_monitor_handles()
#else
#define ICOUNT_IO_INIT() ((void)0)
#endif
"""

STEP_HARNESS = r"""/* icount harness: NAME_step once per golden step, each between the markers. */
#include <stdio.h>
#include "NAME.h"
#include "golden.h"
MARKERS
SEMIHOSTING
static NAME_state_t state;
static NAME_out_t y[UPPER_STEP_OUTPUT_SIZE];
int main(void)
{
    int t;
    ICOUNT_IO_INIT();
    NAME_reset(&state);
    for (t = 0; t < STEPS; ++t)
    {
        icount_start();
        NAME_step(&state, golden_x + (long)t * UPPER_INPUT_STEP_SIZE, y);
        icount_stop();
    }
    printf("icount harness done: y[0] = %g\n", (double)y[0]);
    return 0;
}
"""


RUN_HARNESS = r"""/* icount harness: NAME_run once over STEPS golden steps, between the markers. */
#include <stdio.h>
#include "NAME.h"
#include "golden.h"
MARKERS
SEMIHOSTING
static NAME_state_t state;
static NAME_out_t y[UPPER_OUTPUT_SIZE(STEPS)];
int main(void)
{
    int rc;
    ICOUNT_IO_INIT();
    NAME_reset(&state);
    icount_start();
    rc = NAME_run(&state, golden_x, STEPS, y);
    icount_stop();
    printf("icount harness done: rc = %d, y[0] = %g\n", rc, (double)y[0]);
    return rc;
}
"""


def board(target: str) -> boards.Board:
    return boards.get(target)


def tool(b: boards.Board, name: str) -> str:
    """The binutils `name` (nm, objdump) matching the board's compiler."""
    return rnngen_icount.tool(b, name)


Counts = rnngen_icount.Counts


def run(elf: Path, target: str, functions: tuple[str, ...] | list[str] = (),
        timeout: float = 1200.0) -> Counts:
    """Run the ELF under the board's QEMU with rnngen's counter. functions: names to count
    (regular expressions, matched in full against the ELF's function symbols). The program
    must contain the markers (MARKERS) and exit with 0."""
    b = board(target)
    if b.kind == "host":
        raise ValueError("icount counts under QEMU; use callgrind on the host")
    c = rnngen_icount.run(b, elf, cwd=elf.parent, timeout=timeout, functions=functions)
    if c.returncode != 0:
        raise RuntimeError(f"{elf}: exit {c.returncode}\n{c.output}")
    return c


def per_call(c: Counts, name: str) -> float:
    insns, calls = c.functions[name]
    return insns / calls if calls else 0.0


def _make(folder: Path, *args: str) -> None:
    res = subprocess.run(["make", "-s", "-C", str(folder), *args], capture_output=True,
                         text=True)
    if res.returncode != 0:
        raise RuntimeError(f"make in {folder} failed:\n{res.stdout}{res.stderr}")


def _elf(folder: Path) -> Path:
    elfs = sorted((folder / "build").glob("*_test*"))
    elfs = [e for e in elfs if e.suffix in ("", ".elf")]
    if not elfs:
        raise RuntimeError(f"no program built in {folder}")
    return elfs[0]


def rodata_elsewhere(folder: Path, origin: int, length: int) -> None:
    """Bare metal: move read-only data (the weights) out of the FLASH region into a region of
    its own at `origin` in the project's board/linker.ld. For models larger than the QEMU
    board's code memory (mps3-an547's ITCM is 512 KiB): QEMU loads the ELF's segments
    wherever there is memory, and instruction counts do not depend on where data lies."""
    ld = folder / "board" / "linker.ld"
    text = ld.read_text()
    text = text.replace("        *(.rodata .rodata.*)\n", "", 1)
    text = text.replace("    RAM (rwx)", f"    RODATA (r) : ORIGIN = {origin:#x}, LENGTH = "
                        f"{length:#x}\n    RAM (rwx)", 1)
    text = text.replace("    .ARM.extab :", "    .rodata :\n    {\n        *(.rodata .rodata.*)"
                        "\n        . = ALIGN(4);\n    } > RODATA\n\n    .ARM.extab :", 1)
    ld.write_text(text)


def build_project(model: str | Path, target: str, out: str | Path, steps: int | None = None,
                  name: str = "m", rodata: tuple[int, int] | None = None,
                  whole_run: bool = False, **build_options) -> Path:
    """rnngen build MODEL for the board (BuildOptions fields as keywords, e.g. dtype="int8"),
    with test/main.c replaced by the step harness (STEPS = steps, default the golden
    sequence's length), or with whole_run by the run harness (one <name>_run over STEPS
    steps). rodata: (origin, length) to place read-only data outside FLASH (see
    rodata_elsewhere). Returns the ELF. The step harness needs a streaming model."""
    out = Path(out)
    build_options.setdefault("flash_budget", 0)
    build_options.setdefault("ram_budget", 0)
    driver.build(model, out, driver.BuildOptions(target=target, name=name, force=True,
                                                 **build_options))
    if rodata:
        rodata_elsewhere(out, *rodata)
    header = (out / "include" / f"{name}.h").read_text()
    if not whole_run and f"{name}_step(" not in header:
        raise ValueError(f"{model}: not a streaming model (no {name}_step)")
    golden = (out / "test" / "golden.h").read_text()
    total = int(re.search(r"#define GOLDEN_STEPS (\d+)", golden).group(1))
    steps = total if steps is None else min(steps, total)
    src = ((RUN_HARNESS if whole_run else STEP_HARNESS)
           .replace("MARKERS", MARKERS_C).replace("SEMIHOSTING", SEMIHOSTING_C)
           .replace("NAME", name).replace("UPPER", name.upper()).replace("STEPS", str(steps)))
    (out / "test" / "main.c").write_text(src)
    _make(out)
    return _elf(out)


def count_steps(model: str | Path, target: str, steps: int | None = None,
                functions: tuple[str, ...] = (r"rnn_.*", r"m_step"), work: str | Path | None = None,
                rodata: tuple[int, int] | None = None, **build_options
                ) -> tuple[list[int], Counts]:
    """Instructions of each <name>_step call (callees included), and per-function counts
    over all the calls. `work`: where the project goes (a temporary folder if None)."""
    with tempfile.TemporaryDirectory() as d:
        out = Path(work) if work else Path(d) / "proj"
        elf = build_project(model, target, out, steps=steps, rodata=rodata, **build_options)
        c = run(elf, target, functions)
    return c.windows, c


def _skeleton(target: str, out: Path) -> None:
    """An rnngen project for the board (a 1x1 Linear model): its Makefile, board/ startup and
    linker script are what build_program compiles with."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    g = helper.make_graph(
        [helper.make_node("MatMul", ["x", "W"], ["y"])], "skeleton",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1])],
        [numpy_helper.from_array(np.ones((1, 1), np.float32), "W")])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    out.mkdir(parents=True, exist_ok=True)
    onnx.save(m, out / "skeleton.onnx")
    driver.build(out / "skeleton.onnx", out / "proj", driver.BuildOptions(
        target=target, name="m", force=True))


def build_program(target: str, out: str | Path, sources: dict[str, str], main_c: str,
                  kernels: list[str] = ()) -> Path:
    """Compile main_c (which may use MARKERS / SEMIHOSTING placeholders) with extra C sources
    {file name: text} and runtime kernels (paths under runtime_c/Source) for the board, with
    the board's flags, startup and linker script. Returns the ELF."""
    out = Path(out)
    _skeleton(target, out)
    proj = out / "proj"
    for f in (proj / "src").glob("*.c"):
        f.unlink()
    rt = data_dir("runtime_c")
    for h in (rt / "Include").glob("*.h"):
        shutil.copy(h, proj / "include" / h.name)
    objs = []
    for k in kernels:
        src = rt / "Source" / k
        shutil.copy(src, proj / "src" / src.name)
        objs.append(f"build/{src.stem}.o")
    for fname, text in sources.items():
        (proj / "src" / fname).write_text(text)
        objs.append(f"build/{Path(fname).stem}.o")
    (proj / "test" / "main.c").write_text(
        main_c.replace("MARKERS", MARKERS_C).replace("SEMIHOSTING", SEMIHOSTING_C))
    _make(proj, f"MODEL_OBJS={' '.join(objs)}")
    return _elf(proj)


def repeat_check(elf: Path, target: str, functions: tuple[str, ...] = ()) -> bool:
    """Two runs give the same counts."""
    a, b = run(elf, target, functions), run(elf, target, functions)
    return a.functions == b.functions and a.windows == b.windows and a.total == b.total


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model")
    ap.add_argument("--target", required=True)
    ap.add_argument("--dtype", default="float32")
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--keep", default=None, help="keep the project in this folder")
    a = ap.parse_args(argv)
    opts = {"dtype": a.dtype} if a.dtype != "float32" else {}
    windows, c = count_steps(a.model, a.target, a.steps, work=a.keep, **opts)
    print(f"{a.target}: instructions per step call: {windows}")
    for n, (insns, calls) in sorted(c.functions.items(), key=lambda kv: -kv[1][0]):
        print(f"  {n:32s} {insns:12,d} instructions in {calls:6d} calls "
              f"({insns / max(calls, 1):,.1f} per call)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
