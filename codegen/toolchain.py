"""Run make for a board, run the result (natively or under QEMU), parse the result line."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .boards import Board
from .errors import RnngenError

RESULT_RE = re.compile(r"^RNNGEN_RESULT (.*)$", re.M)


@dataclass(frozen=True)
class RunResult:
    returncode: int
    output: str
    fields: dict[str, str]

    @property
    def passed(self) -> bool:
        return self.returncode == 0 and self.fields.get("passed") == "1"


def require(board: Board, run: bool = False) -> None:
    """Fail early, naming the Debian package, when a tool the board needs is missing."""
    if shutil.which("make") is None:
        raise RnngenError("make not found: install it with apt-get install make")
    if shutil.which(board.cc) is None:
        raise RnngenError(f"{board.cc} (the {board.name} compiler) not found: install it with "
                          f"apt-get install {board.apt_package}")
    if run and board.run and shutil.which(board.run[0]) is None:
        pkg = board.qemu_apt_package or board.run[0]
        raise RnngenError(f"{board.run[0]} (to run {board.name} code) not found: install it "
                          f"with apt-get install {pkg}")


def have_compiler(board: Board) -> bool:
    return shutil.which(board.cc) is not None and shutil.which("make") is not None


def _make(folder: Path, target: str, timeout: float) -> subprocess.CompletedProcess[str]:
    try:
        proc = subprocess.Popen(["make", "-s", "--no-print-directory", target], cwd=folder,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                start_new_session=True)
    except OSError as e:
        raise RnngenError(f"cannot run make: {e}") from None
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise RnngenError(f"'make {target}' in {folder} did not finish within {timeout:g} s and "
                          "was stopped (a hung program under QEMU?)") from None
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, "")


def build(folder: Path, target: str = "all", timeout: float = 600.0) -> None:
    res = _make(folder, target, timeout)
    if res.returncode != 0:
        tail = "\n".join(res.stdout.strip().splitlines()[-15:])
        raise RnngenError(f"building {folder} failed (make {target}):\n{tail}")


def run(folder: Path, timeout: float = 120.0) -> RunResult:
    res = _make(folder, "run", timeout)
    m = RESULT_RE.findall(res.stdout)
    if not m:
        tail = "\n".join(res.stdout.strip().splitlines()[-15:])
        raise RnngenError(f"the test program in {folder} printed no result line "
                          f"(exit code {res.returncode}):\n{tail}")
    fields = dict(kv.split("=", 1) for kv in m[-1].split() if "=" in kv)
    return RunResult(res.returncode, res.stdout, fields)


def measure(folder: Path, board: Board, model_objs: list[str], state_bytes: int
            ) -> tuple[int, int, dict[str, int]]:
    """Flash and RAM bytes of the model from its built objects (text+data, data+bss+state)."""
    objs = [str(folder / o) for o in model_objs]
    try:
        res = subprocess.run([board.size, *objs], capture_output=True, text=True, timeout=60)
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
