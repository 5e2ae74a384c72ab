"""Compile a small C program against runtime_c on the host and read back what it prints."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np

from rnngen import cgen
from rnngen.boards import STRICT_CFLAGS
from rnngen.emit.c import KERNELS, kernel_closure
from rnngen.resources import data_dir


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
