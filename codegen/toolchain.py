"""Run make for a board, run the result (natively or under QEMU), parse the result line."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .boards import STRICT_CFLAGS, Board
from .errors import RnngenError

RESULT_RE = re.compile(r"^RNNGEN_RESULT (.*)$", re.MULTILINE)


class RunFailed(RnngenError):
    """The test program built but crashed, faulted or hung: a failed verification (exit
    code 1, like a mismatch), not bad input."""

    exit_code = 1


@dataclass(frozen=True)
class RunResult:
    returncode: int
    output: str
    fields: dict[str, str]

    @property
    def passed(self) -> bool:
        return self.returncode == 0 and self.fields.get("passed") == "1"


def _tools(board: Board, run: bool) -> list[tuple[str, str, str]]:
    """(program, what it is for, Debian package) for everything the board needs."""
    tools = [("make", "to build", "make"),
             (board.cc, f"the {board.name} compiler", board.apt_package),
             (board.size, "to measure flash and RAM", board.apt_package)]
    if board.kind == "baremetal":
        tools.append((board.objcopy, "to write the .bin and .hex", board.apt_package))
    if run and board.run:
        tools.append((board.run[0], f"to run {board.name} code",
                      board.qemu_apt_package or board.run[0]))
    return tools


def require(board: Board, run: bool = False) -> None:
    """Fail early, naming the Debian package, when a tool the board needs is missing."""
    for prog, what, pkg in _tools(board, run):
        if shutil.which(prog) is None:
            raise RnngenError(f"{prog} ({what}) not found: install it with "
                              f"apt-get install {pkg}")


def missing(board: Board) -> str | None:
    """The first build tool that is missing, as 'prog (apt-get install pkg)', or None."""
    for prog, _, pkg in _tools(board, run=False):
        if shutil.which(prog) is None:
            return f"{prog} not found (apt-get install {pkg})"
    return None


def have_compiler(board: Board) -> bool:
    return missing(board) is None


def _group(cmd: list[str], cwd: Path | None, timeout: float, merge: bool
           ) -> subprocess.CompletedProcess[str]:
    """Run cmd in its own process group; on a timeout, an interrupt or any other exception,
    kill the whole group (a compiler's cc1 and as, make's children, QEMU), so nothing keeps
    writing into a folder rnngen is about to remove.
    Output goes to temporary files, not pipes: QEMU's semihosting console drops what a
    pipe does not take at once (values lost from long outputs on a loaded machine)."""
    with tempfile.TemporaryFile("w+b") as fo, tempfile.TemporaryFile("w+b") as fe:
        proc = subprocess.Popen(cmd, cwd=cwd, stdin=subprocess.DEVNULL, stdout=fo,
                                stderr=subprocess.STDOUT if merge else fe,
                                start_new_session=True)
        try:
            proc.wait(timeout=timeout)
        except BaseException:
            with contextlib.suppress(OSError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise
        out, err = (_text(f) for f in (fo, fe))
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def _text(f: Any) -> str:
    f.seek(0)
    return f.read().decode("utf-8", errors="replace")


def _make(folder: Path, target: str, timeout: float, on_timeout: RnngenError
          ) -> subprocess.CompletedProcess[str]:
    """make -s TARGET in folder; on timeout, kill make and everything it started (QEMU
    included: it runs in make's process group) and raise on_timeout."""
    try:
        return _group(["make", "-s", "--no-print-directory", target], folder, timeout, True)
    except OSError as e:
        raise RnngenError(f"cannot run make: {e}") from None
    except subprocess.TimeoutExpired:
        raise on_timeout from None


def build(folder: Path, target: str = "all", timeout: float = 600.0) -> None:
    res = _make(folder, target, timeout, RnngenError(
        f"'make {target}' in {folder} did not finish within {timeout:g} s and was stopped "
        "(raise --timeout if the build is only slow)"))
    if res.returncode != 0:
        tail = "\n".join(res.stdout.strip().splitlines()[-15:])
        raise RnngenError(f"building {folder} failed (make {target}):\n{tail}")


def run(folder: Path, timeout: float = 120.0, board: Board | None = None) -> RunResult:
    how = f" under {board.run[0]}" if board is not None and board.run else ""
    res = _make(folder, "run", timeout, RunFailed(
        f"the test program in {folder} did not finish within {timeout:g} s{how} and was "
        "stopped: it hangs (an endless loop?) or is slower than --timeout allows"))
    m = RESULT_RE.findall(res.stdout)
    if not m:
        tail = "\n".join(res.stdout.strip().splitlines()[-15:])
        raise RunFailed(f"the test program in {folder} printed no result line ('make run' "
                        f"exited with code {res.returncode}):\n{tail}")
    fields = dict(kv.split("=", 1) for kv in m[-1].split() if "=" in kv)
    return RunResult(res.returncode, res.stdout, fields)


def compile_objects(folder: Path, board: Board, srcs: list[str], timeout: float = 600.0
                    ) -> list[str]:
    """Compile srcs (relative to folder) into folder/build/ with the board's compiler and
    flags, as the emitted Makefile would; for projects without one (library mode)."""
    (folder / "build").mkdir(exist_ok=True)
    objs = []
    for src in srcs:
        obj = f"build/{Path(src).stem}.o"
        cmd = [board.cc, *STRICT_CFLAGS, *board.cflags, "-Iinclude", "-c", src, "-o", obj]
        try:
            res = _group(cmd, folder, timeout, False)
        except subprocess.TimeoutExpired:
            raise RnngenError(f"compiling {src} did not finish within {timeout:g} s") from None
        except OSError as e:
            raise RnngenError(f"cannot run {board.cc}: {e}") from None
        if res.returncode != 0:
            tail = "\n".join((res.stdout + res.stderr).strip().splitlines()[-15:])
            raise RnngenError(f"compiling {src} for {board.name} failed:\n{tail}")
        objs.append(obj)
    return objs


def measure(folder: Path, board: Board, model_objs: list[str], state_bytes: int
            ) -> tuple[int, int, dict[str, int]]:
    """Flash and RAM bytes of the model from its built objects (text+data, data+bss+state)."""
    objs = [str(folder / o) for o in model_objs]
    try:
        res = _group([board.size, *objs], None, 60, False)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise RnngenError(f"cannot run {board.size}: {e}") from None
    if res.returncode != 0:
        raise RnngenError(f"{board.size} failed: {res.stderr.strip()[:300]}")
    text = data = bss = 0
    for line in res.stdout.splitlines()[1:]:
        parts = line.split()
        if len(parts) >= 3 and parts[0].isdigit():
            text += int(parts[0])
            data += int(parts[1])
            bss += int(parts[2])
    flash = text + data
    ram = data + bss + state_bytes
    return flash, ram, {"text": text, "data": data, "bss": bss, "state": state_bytes}
