"""The board-specific files of an emitted project: the Makefile (and, for bare-metal boards,
startup code and linker script). Everything else is identical across boards."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import jinja2

from ..boards import Board


def exe_name(board: Board, name: str) -> str:
    return f"build/{name}_test" + (".elf" if board.kind == "baremetal" else "")


def render(env: jinja2.Environment, board: Board, name: str, banner: dict[str, Any],
           model_srcs: list[str]) -> dict[str, str]:
    exe = exe_name(board, name)
    objs = " ".join(f"$(BUILD)/{Path(s).stem}.o" for s in model_srcs)
    run = " ".join(shlex.quote(a) for a in board.run)
    run_line = (run + " " if run else "") + "./$(EXE)"
    ctx = dict(banner=banner, board=board, name=name, exe=exe, model_objs=objs,
               cflags=" ".join(board.cflags), ldflags=" ".join(board.ldflags),
               ldlibs=" ".join(board.ldlibs), run=run_line)
    template = "Makefile.j2" if board.kind != "baremetal" else "Makefile.baremetal.j2"
    files = {"Makefile": env.get_template(template).render(ctx)}
    return files


def test_io(board: Board) -> dict[str, str]:
    """Lines the test program needs on this board (semihosting set-up on bare metal)."""
    return dict(io_hooks="", io_init="", io_exit="")
