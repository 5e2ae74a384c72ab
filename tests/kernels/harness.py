"""The kernel tier's one harness: compile runtime_c kernels once and call them from Python.

- `run_c`: a small host program (main = the given statements) whose printed arrays come back.
- `run_on_board`: the same for any board: the program is built with the board's own rnngen
  Makefile, startup and linker script and run where the board runs (host, qemu-aarch64,
  qemu-system-arm with semihosting); printed lines come back by tag.
- `Case` + `HostLib` + `run_cases`: kernel calls described once (the C of a call, written by
  the emitters themselves where there is one, and global arrays for its inputs and outputs).
  On the host the cases are compiled once into a shared library and called through ctypes,
  as often as a test likes with new inputs; on a board all cases are compiled once into one
  program that runs them in turn under QEMU and prints every output exactly (floats as bits).
"""

from __future__ import annotations

import ctypes
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from rnngen import boards, cgen, driver, toolchain
from rnngen.boards import STRICT_CFLAGS
from rnngen.emit.c import KERNELS, kernel_closure
from rnngen.emit.c_int8 import INT8_KERNELS
from rnngen.resources import data_dir

F32 = np.float32
ALL_KERNELS = {**KERNELS, **INT8_KERNELS}


def arrays(**named: np.ndarray) -> str:
    out = []
    for k, v in named.items():
        v = np.asarray(v)
        ctype = "float" if v.dtype.kind == "f" else "int32_t"
        vals = v.reshape(-1) if v.size else np.zeros(1, v.dtype)
        out.append(cgen.array_declare(ctype, k, vals, static=False, const=False))
    return "\n".join(out)


def run_c(tmp: Path, kernels: set[str], body: str, decls: str = "", flags=("-O2",)) -> list[
        np.ndarray]:
    """body: statements of main(); print results with P(name, ptr, n). Returns the printed
    arrays in order."""
    rt = data_dir("runtime_c")
    src = f"""#include <stdio.h>
#include <stdint.h>
#include "rnn_nnfunctions.h"
static void P(const float *v, int n) {{ int i; for (i = 0; i < n; ++i) printf("%.9g ", v[i]);
printf("\\n"); }}
{decls}
int main(void) {{
{body}
return 0; }}
"""
    (tmp / "t.c").write_text(src)
    srcs = [str(rt / "Source" / KERNELS[k][0]) for k in kernel_closure(kernels)]
    exe = tmp / "t"
    subprocess.run(["gcc", *STRICT_CFLAGS, *flags, "-I", str(rt / "Include"), "-o", str(exe),
                    str(tmp / "t.c"), *srcs, "-lm"], check=True, capture_output=True)
    res = subprocess.run([str(exe)], capture_output=True, text=True, check=True)
    return [np.array([float(v) for v in ln.split()], np.float32)
            for ln in res.stdout.splitlines()]


def c_array(ctype: str, name: str, values) -> str:
    vals = np.asarray(values).reshape(-1)
    if vals.size == 0:
        vals = np.zeros(1, np.int64)
    if ctype.endswith("float"):  # C99 hexadecimal constants: exact
        body = ", ".join(f"{float(v).hex()}f" for v in np.asarray(vals, F32))
    else:
        body = ", ".join(str(int(v)) for v in vals)
    return f"static {ctype} {name}[{vals.size}] = {{{body}}};"


PRELUDE = r"""
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include "rnn_nnfunctions.h"
#ifdef RNNGEN_SEMIHOSTING
extern void initialise_monitor_handles(void);
#endif
typedef union { uint32_t u; float f; } f32_bits;
static void PI(const char *tag, const int32_t *v, int n)
{
    int i;
    printf("%s", tag);
    for (i = 0; i < n; ++i) printf(" %ld", (long)v[i]);
    printf("\n");
}
static void PF(const char *tag, const float *v, int n)
{
    int i;
    printf("%s", tag);
    for (i = 0; i < n; ++i)
    {
        f32_bits b;
        b.f = v[i];
        printf(" %lu", (unsigned long)b.u);
    }
    printf("\n");
}
"""


def _skeleton(board: str, work: Path) -> Path:
    """An rnngen project for the board (a 1x1 MatMul): its Makefile, startup and linker
    script build our own test program."""
    g = helper.make_graph(
        [helper.make_node("MatMul", ["x", "W"], ["y"])], "k",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1])],
        [numpy_helper.from_array(np.ones((1, 1), F32), "W")])
    p = work / "k.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), p)
    out = work / board
    driver.build(p, out, driver.BuildOptions(target=board, name="m", force=True))
    return out


def run_on_board(board: str, work: Path, kernels: list[str], decls: str, body: str
                 ) -> dict[str, np.ndarray]:
    """Compile decls + main(body) with the kernels (paths under runtime_c/Source) for the
    board, run it, and return the printed lines by tag (ints, or float bits as uint32)."""
    proj = _skeleton(board, work)
    for f in (proj / "src").glob("*.c"):
        f.unlink()
    rt = data_dir("runtime_c")
    for h in (rt / "Include").glob("*.h"):
        (proj / "include" / h.name).write_text(h.read_text())
    objs = []
    for k in kernels:
        src = rt / "Source" / k
        (proj / "src" / src.name).write_text(src.read_text())
        objs.append(f"build/{src.stem}.o")
    (proj / "test" / "main.c").write_text(
        PRELUDE + decls + "\nint main(void)\n{\n#ifdef RNNGEN_SEMIHOSTING\n"
        "initialise_monitor_handles();\n#endif\n(void)PI;\n(void)PF;\n" + body
        + "\nreturn 0;\n}\n")
    r = subprocess.run(["make", "-s", "-C", str(proj), f"MODEL_OBJS={' '.join(objs)}"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    exe = next(e for e in sorted((proj / "build").glob("m_test*")) if e.suffix in ("", ".elf"))
    b = boards.get(board)
    cmd = b.run_command(str(exe)) if b.kind != "host" else [str(exe)]
    # rnngen's own runner: output through files, not pipes (QEMU's semihosting console
    # drops what a full pipe does not take at once)
    res = toolchain._group(cmd, None, 300, False)
    assert res.returncode == 0, res.stdout + res.stderr
    out = {}
    for line in res.stdout.splitlines():
        parts = line.split()
        if parts and parts[0].startswith("T"):
            out[parts[0]] = np.array([int(v) for v in parts[1:]], np.int64)
    return out




# ------------------------------------------------------------------ cases: ctypes and QEMU

_CTYPES = {np.dtype(np.float32): ("float", ctypes.c_float),
           np.dtype(np.int8): ("int8_t", ctypes.c_int8),
           np.dtype(np.int16): ("int16_t", ctypes.c_int16),
           np.dtype(np.int32): ("int32_t", ctypes.c_int32)}


@dataclass
class Case:
    """One kernel call: `body` (C statements) reads and writes the global arrays
    `<name>_<array>` (their dtypes fix the C types; `arrays` holds initial values), with
    `decls` (constant tables and params structs) before it. `outputs` are read back."""

    name: str
    kernels: set[str]
    arrays: dict[str, np.ndarray]
    body: list[str]
    outputs: list[str]
    decls: list[str] = field(default_factory=list)

    def sym(self, array: str) -> str:
        return f"{self.name}_{array}"

    def copy(self, suffix: str, arrays: dict[str, np.ndarray]) -> Case:
        """The same call under the name <name><suffix> (every symbol of the case renamed)
        with other initial arrays: several inputs in one board program."""
        name = self.name + suffix

        def ren(text: str) -> str:
            return text.replace(f"{self.name}_", f"{name}_")

        return Case(name, self.kernels, {**self.arrays, **arrays}, [ren(b) for b in self.body],
                    self.outputs, [ren(d) for d in self.decls])

    def source(self) -> str:
        out = [f"/* case {self.name} */", *self.decls]
        for a, v in self.arrays.items():
            ctype = _CTYPES[np.asarray(v).dtype][0]
            vals = np.asarray(v).reshape(-1)
            out.append(cgen.array_declare(ctype, self.sym(a), vals if vals.size else
                                          np.zeros(1, vals.dtype), static=False, const=False))
        out.append(f"void {self.name}(void);")
        out.append(f"void {self.name}(void)\n{{")
        out += [f"    {line}" for line in self.body]
        out.append("}")
        return "\n".join(out)


def _source(cases: list[Case]) -> str:
    return ("#include <stdint.h>\n#include <string.h>\n#include \"rnn_nnfunctions.h\"\n"
            "#include \"rnn_nn_support.h\"\n\n" + "\n\n".join(c.source() for c in cases) + "\n")


def _kernel_sources(cases: list[Case]) -> list[str]:
    names: set[str] = set()
    for c in cases:
        names |= c.kernels
    return [ALL_KERNELS[k][0] for k in kernel_closure(names, ALL_KERNELS)]


class HostLib:
    """The cases compiled once into a shared library (strict flags, -O2), called by ctypes."""

    def __init__(self, cases: list[Case], work: Path):
        self.cases = {c.name: c for c in cases}
        rt = data_dir("runtime_c")
        work.mkdir(parents=True, exist_ok=True)
        (work / "cases.c").write_text(_source(cases))
        so = work / "libcases.so"
        subprocess.run(["gcc", *STRICT_CFLAGS, "-O2", "-fPIC", "-shared", "-I",
                        str(rt / "Include"), "-o", str(so), str(work / "cases.c"),
                        *[str(rt / "Source" / k) for k in _kernel_sources(cases)], "-lm"],
                       check=True, capture_output=True)
        self.lib = ctypes.CDLL(str(so))

    def view(self, case: str, array: str) -> np.ndarray:
        """The global array as a writable NumPy view of the library's memory."""
        c = self.cases[case]
        v = np.asarray(c.arrays[array])
        ct = _CTYPES[v.dtype][1] * max(1, v.size)
        return np.ctypeslib.as_array(ct.in_dll(self.lib, c.sym(array)))[:v.size]

    def call(self, case: str, **inputs: np.ndarray) -> dict[str, np.ndarray]:
        """Set the given arrays (the others keep their last values), run the case, and
        return copies of its outputs."""
        c = self.cases[case]
        for a, v in inputs.items():
            self.view(case, a)[:] = np.asarray(v).reshape(-1)
        getattr(self.lib, case)()
        return {o: self.view(case, o).copy().reshape(np.shape(c.arrays[o])) for o in c.outputs}


def run_cases(board: str, cases: list[Case], work: Path) -> dict[str, dict[str, np.ndarray]]:
    """Every case once with its initial arrays on the board: {case: {output: values}}."""
    if board == "host":
        lib = HostLib(cases, work / "host")
        return {c.name: lib.call(c.name) for c in cases}
    decls = _source(cases).split("\n", 4)[4]  # without the includes run_on_board adds
    body = []
    for c in cases:
        body.append(f"{c.name}();")
        for o in c.outputs:
            v = np.asarray(c.arrays[o])
            n = max(1, v.size)
            tag = f"T{c.name}.{o}"
            if v.dtype == np.float32:
                body.append(f"PF(\"{tag}\", {c.sym(o)}, {n});")
            else:
                body.append(f"{{ int32_t t_[{n}]; int i_; for (i_ = 0; i_ < {n}; ++i_) "
                            f"t_[i_] = {c.sym(o)}[i_]; PI(\"{tag}\", t_, {n}); }}")
    (work / board).mkdir(parents=True, exist_ok=True)
    got = run_on_board(board, work / board, _kernel_sources(cases),
                       "#include \"rnn_nn_support.h\"\n" + decls, "\n".join(body))
    out: dict[str, dict[str, np.ndarray]] = {}
    for c in cases:
        out[c.name] = {}
        for o in c.outputs:
            v = np.asarray(c.arrays[o])
            raw = got[f"T{c.name}.{o}"][:v.size]
            val = raw.astype(np.uint32).view(np.float32) if v.dtype == np.float32 else \
                raw.astype(v.dtype)
            out[c.name][o] = val.reshape(v.shape)
    return out
