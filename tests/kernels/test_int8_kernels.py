"""The int8 matrix kernels (every format) against quant.py's forward, bit for bit, with the
calls and constant tables written by the int8 emitter itself."""

from __future__ import annotations

import numpy as np
import pytest

from rnngen import quant
from rnngen.boards import STRICT_CFLAGS
from rnngen.emit.c import _Ctx
from rnngen.emit.c import kernel_closure
from rnngen.emit.c_int8 import INT8_KERNELS, QProgram
from rnngen.passes.quantize import _Builder
from tests.kernels.harness import arrays
from tests.unit.test_formats import MATS

import subprocess

from rnngen.resources import data_dir


class _FakeProgram(QProgram):
    def __init__(self, ctx):  # only the matrix emission is used
        self.ctx = ctx


def _builder():
    b = _Builder.__new__(_Builder)
    b.where = "test"
    return b


def run_c(tmp, kernels, body, decls):
    rt = data_dir("runtime_c")
    src = ("#include <stdio.h>\n#include <stdint.h>\n#include \"rnn_nnfunctions.h\"\n"
           f"{decls}\nint main(void) {{\n{body}\nreturn 0; }}\n")
    (tmp / "t.c").write_text(src)
    srcs = [str(rt / "Source" / INT8_KERNELS[k][0]) for k in kernel_closure(kernels, INT8_KERNELS)]
    subprocess.run(["gcc", *STRICT_CFLAGS, "-O2", "-I", str(rt / "Include"), "-o",
                    str(tmp / "t"), str(tmp / "t.c"), *srcs],
                   check=True, capture_output=True)
    out = subprocess.run([str(tmp / "t")], capture_output=True, text=True, check=True).stdout
    return [np.array([int(v) for v in ln.split()]) for ln in out.splitlines()]


@pytest.mark.parametrize("name", list(MATS))
@pytest.mark.parametrize("zx", [0, -37])
def test_int8_matrix_kernel_is_exact(tmp_path, name, zx):
    m = MATS[name]
    rng = np.random.default_rng(7)
    rows, cols = m.shape
    calib = rng.uniform(-1, 1, (20, cols))
    x = quant.QParams(2.0 / 255, zx)
    qm = _builder().matrix(m, x, 2.0 ** -12, calib, name)
    xq = rng.integers(-128, 128, cols).astype(np.int8)
    ctx = _Ctx()
    lines = _FakeProgram(ctx).matvec("m", qm, "xq", "y", "scratch")
    decls = "\n".join(ctx.decls) + "\n" + arrays(xq=xq.astype(np.int64)).replace(
        "int32_t xq", "int8_t xq") + f"\nint16_t y[{rows}];\nint8_t scratch[4096];\n"
    body = "\n".join(lines) + f"\n{{ int i; for (i = 0; i < {rows}; ++i) printf(\"%d \", y[i]);" \
        " printf(\"\\n\"); }"
    got = run_c(tmp_path, ctx.kernels, body, decls)[0]
    want = quant.sat16(qm.forward(xq))
    assert np.array_equal(got, want)
