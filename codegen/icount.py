"""Exact instruction counts of a program run under the board's QEMU.

rnngen's own QEMU TCG plugin (icount_plugin/icount.c) counts every guest instruction QEMU
executes and splits the count into windows between two marker functions, icount_start() and
icount_stop() (MARKERS_C below, compiled into the counted program): a window holds everything
executed after icount_start() returned and before icount_stop() was called, callees included.
The plugin is built on first use with the host's C compiler into rnngen's cache folder
($RNNGEN_CACHE, else $XDG_CACHE_HOME/rnngen, else ~/.cache/rnngen); it needs no QEMU source
or header (icount_plugin/qemu_plugin_api.h declares the part of the plugin API it calls).

With `functions` (regular expressions matched in full against the ELF's function symbols)
it also counts each matching function's own instructions (callees excluded) and its calls,
over the whole run (Counts.functions). Counts are instructions, not cycles; they are the
same on every run.

    counts = icount.run(board, elf, cwd=folder)      # Counts(windows=[...], total=...)
    counts = icount.run(board, elf, cwd=folder, functions=[r"rnn_.*"])
    counts.functions["rnn_mat_vec_f32"]              # (instructions, calls)
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .boards import Board
from .errors import RnngenError
from .resources import data_dir

# The markers: distinct bodies so that identical-code folding cannot merge them, never
# inlined, never analysed across calls (noipa), so a call is a call at every -O level.
MARKERS_C = r"""
volatile int icount_mark;
#if defined(__GNUC__)
#define ICOUNT_MARKER __attribute__((noinline, noipa))
#else
#define ICOUNT_MARKER
#endif
void icount_start(void);
void icount_stop(void);
ICOUNT_MARKER void icount_start(void) { icount_mark = 1; }
ICOUNT_MARKER void icount_stop(void) { icount_mark = 2; }
"""

_SOURCES = ("icount.c", "qemu_plugin_api.h")


def counts_here(board: Board) -> bool:
    """True when the board's programs run under QEMU (the only place rnngen counts)."""
    return bool(board.run) and Path(board.run[0]).name.startswith("qemu-")


def cache_dir() -> Path:
    env = os.environ.get("RNNGEN_CACHE")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "rnngen"


def plugin() -> Path:
    """The plugin's shared library, built (once per source version) when missing."""
    src = data_dir("icount_plugin")
    h = hashlib.sha256()
    for name in _SOURCES:
        h.update((src / name).read_bytes())
    lib = cache_dir() / f"icount-{h.hexdigest()[:16]}" / "libicount.so"
    if lib.exists():
        return lib
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        raise RnngenError("counting instructions needs the host C compiler to build rnngen's "
                          "QEMU plugin: install it with apt-get install gcc")
    try:
        lib.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(suffix=".so", dir=lib.parent)
        os.close(fd)
    except OSError as e:
        raise RnngenError(f"{lib.parent}: cannot create the instruction counter's folder "
                          f"({e.strerror}); set RNNGEN_CACHE to a writable folder") from None
    cmd = [cc, "-std=c99", "-O2", "-fPIC", "-shared", "-Wall", "-Wextra", "-Werror",
           f"-I{src}", "-o", tmp, str(src / "icount.c")]
    res = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if res.returncode != 0:
        os.unlink(tmp)
        raise RnngenError(f"building rnngen's instruction counter failed: "
                          f"{(res.stderr or res.stdout).strip().splitlines()[0]}")
    os.replace(tmp, lib)  # atomic: a concurrent run sees the whole library or none
    return lib


def tool(board: Board, name: str) -> str:
    """The binutils program `name` (nm, objdump) that matches the board's compiler."""
    return board.cc[: -len("gcc")] + name if board.cc.endswith("gcc") else name


def symbols(elf: Path, board: Board) -> dict[str, int]:
    """Function symbols of the ELF: name -> first instruction's address (Thumb bit cleared)."""
    nm = tool(board, "nm")
    try:
        res = subprocess.run([nm, "--defined-only", str(elf)], capture_output=True, text=True,
                             check=False, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise RnngenError(f"cannot run {nm}: {e}") from None
    if res.returncode != 0:
        raise RnngenError(f"{nm} {elf} failed: {res.stderr.strip()[:200]}")
    syms: dict[str, int] = {}
    for line in res.stdout.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in "tTwW":
            syms[parts[2]] = int(parts[0], 16) & ~1
    return syms


def function_ranges(elf: Path, board: Board) -> dict[str, tuple[int, int]]:
    """Function symbols of the ELF with a size: name -> (start, end), Thumb bit cleared."""
    nm = tool(board, "nm")
    try:
        res = subprocess.run([nm, "-S", "--defined-only", str(elf)], capture_output=True,
                             text=True, check=False, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise RnngenError(f"cannot run {nm}: {e}") from None
    if res.returncode != 0:
        raise RnngenError(f"{nm} {elf} failed: {res.stderr.strip()[:200]}")
    out: dict[str, tuple[int, int]] = {}
    for line in res.stdout.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[2] in "tTwW":
            start, size = int(parts[0], 16) & ~1, int(parts[1], 16)
            if size:
                out[parts[3]] = (start, start + size)
    return out


MAX_RANGES = 512  # RNN_ICOUNT_MAX_RANGES in icount_plugin/icount.c


@dataclass
class Counts:
    windows: list[int] = field(default_factory=list)  # instructions in each marker window
    total: int = 0  # every instruction the program executed
    returncode: int = 0
    output: str = ""
    # name: (instructions inside the function, callees excluded; calls), over the whole run
    functions: dict[str, tuple[int, int]] = field(default_factory=dict)


def run(board: Board, elf: Path, cwd: Path, timeout: float = 600.0, count: bool = True,
        on_line: Callable[[str], None] | None = None,
        functions: Sequence[str] = ()) -> Counts:
    """Run `elf` as the board runs programs (natively on the host, else under its QEMU),
    in `cwd`; with count (QEMU boards only), under the instruction counter. on_line sees each
    line the program prints, as it prints it. functions: regular expressions naming the
    functions whose own instructions are counted too (Counts.functions; with count only).
    Raises when the program does not finish within `timeout` seconds; a nonzero exit code is
    returned, not raised."""
    cmd = board.run_command(str(elf))
    with tempfile.TemporaryDirectory(prefix="rnngen-icount-") as d:
        out = Path(d) / "counts.txt"
        if count:
            if not counts_here(board):
                raise RnngenError(f"{board.name}: instructions are counted under QEMU only "
                                  f"(the board runs programs with {cmd[0]})")
            syms = symbols(elf, board)
            missing = [m for m in ("icount_start", "icount_stop") if m not in syms]
            if missing:
                raise RnngenError(f"{elf}: no {missing[0]} marker function")
            args = (f"{plugin()},start={syms['icount_start']:#x},stop={syms['icount_stop']:#x}"
                    f",out={out}")
            if functions:
                fr = function_ranges(elf, board)
                chosen = sorted({n for pat in functions for n in fr if re.fullmatch(pat, n)})
                if len(chosen) > MAX_RANGES:
                    raise RnngenError(f"{elf}: {len(chosen)} functions to count, at most "
                                      f"{MAX_RANGES}")
                rfile = Path(d) / "ranges.txt"
                rfile.write_text("".join(f"{n} {fr[n][0]:#x} {fr[n][1]:#x}\n"
                                         for n in chosen))
                args += f",ranges={rfile}"
            cmd = [cmd[0], "-plugin", args, *cmd[1:]]
        try:
            proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, text=True,
                                    start_new_session=True)
        except OSError as e:
            raise RnngenError(f"cannot run {cmd[0]}: {e.strerror}") from None
        lines: list[str] = []
        timer = _Killer(proc, timeout)
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                lines.append(line)
                if on_line is not None:
                    on_line(line)
            proc.wait()
        finally:
            timer.cancel()
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        if timer.fired:
            raise RnngenError(f"{elf} did not finish within {timeout:g} s under {cmd[0]} and "
                              "was stopped (raise --timeout if it is only slow)")
        c = Counts(returncode=proc.returncode, output="".join(lines))
        if count and proc.returncode == 0:
            c.windows, c.total, c.functions = _parse(out, elf)
    return c


def _parse(out: Path, elf: Path) -> tuple[list[int], int, dict[str, tuple[int, int]]]:
    if not out.exists():
        raise RnngenError(f"{elf}: the instruction counter wrote no counts")
    windows: list[int] = []
    funcs: dict[str, tuple[int, int]] = {}
    total = -1
    for line in out.read_text().splitlines():
        p = line.split()
        if p[0] == "window":
            windows.append(int(p[1]))
        elif p[0] == "range":
            funcs[p[1]] = (int(p[2]), int(p[3]))
        elif p[0] == "total":
            total = int(p[1])
        elif p[0] == "error":
            raise RnngenError(f"{elf}: the instruction counter failed ({p[1]})")
    if total < 0:
        raise RnngenError(f"{elf}: the instruction counter's output is incomplete")
    return windows, total, funcs


class _Killer:
    """Kills a process group after `timeout` seconds unless cancelled."""

    def __init__(self, proc: subprocess.Popen[str], timeout: float):
        import threading

        self.fired = False
        self._proc = proc
        self._t = threading.Timer(timeout, self._fire)
        self._t.daemon = True
        self._t.start()

    def _fire(self) -> None:
        self.fired = True
        try:
            os.killpg(self._proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def cancel(self) -> None:
        self._t.cancel()


def qemu_version(board: Board) -> str:
    """`qemu-... --version`'s first line, for reports."""
    try:
        res = subprocess.run([board.run[0], "--version"], capture_output=True, text=True,
                             timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return board.run[0]
    first = res.stdout.strip().splitlines()
    return re.sub(r"\s+", " ", first[0]) if first else board.run[0]
