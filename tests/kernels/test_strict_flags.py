"""Every kernel in runtime_c/ compiles without a warning under boards.STRICT_CFLAGS with each
board's compiler and flags, so each ISA path (NEON on the Cortex-A boards, DSP on the M4
and M7, Helium on the M55, plain C on the host) is checked even where no test model uses
that kernel. A model only pulls in the kernels it calls, so the end-to-end builds alone
would leave some kernel/board pairs uncompiled."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from rnngen import boards
from rnngen.resources import data_dir

BOARDS = ["host", "cortex-a73", "cortex-a53", "cortex-m4", "cortex-m7", "cortex-m55"]


@pytest.mark.parametrize("board", BOARDS)
def test_every_kernel_compiles_warning_free(tmp_path: Path, board: str) -> None:
    b = boards.get(board)
    rt = data_dir("runtime_c")
    srcs = sorted(str(p) for p in (rt / "Source").glob("*/*.c"))
    assert len(srcs) >= 30
    # no skip: a missing cross compiler fails here with the error of subprocess
    r = subprocess.run([b.cc, *boards.STRICT_CFLAGS, *b.cflags, "-I", str(rt / "Include"),
                        "-c", *srcs], cwd=tmp_path, capture_output=True, text=True,
                       timeout=300, check=False)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    assert len(list(tmp_path.glob("*.o"))) == len(srcs)
