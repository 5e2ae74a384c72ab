"""Board files (boards/*.toml): the compiler, flags, how to run, and a real part's budget.

A board file is data only. Keys (see boards/*.toml and docs/boards.md for examples):

    name, description         what `rnngen boards` shows
    kind                      host | linux (aarch64 user space, qemu-aarch64) | baremetal
    cc, apt_package           the C compiler, and the Debian package(s) that provide it
    cflags, ldflags, ldlibs   lists of strings: compile flags (CPU, FPU, optimization), link
                              flags, libraries
    size                      the binutils `size` that matches cc (measures flash and RAM)
    run                       the command that runs the test program: a prefix the program is
                              appended to, or a list with "{elf}" where the program goes
    qemu_apt_package          the Debian package that provides run[0] (when it is an emulator)
    variant                   the kernel variant the board prefers: generic | neon | dsp | mve
    part, flash_budget,       the real part whose budget the board carries (bytes; 0: none)
    ram_budget
    objcopy, machine, memory  bare metal only: objcopy (writes .bin/.hex), the QEMU machine
                              (-M in run), and the memory map the linker script places the
                              program in: regions named FLASH (vector table, code, constants,
                              .data image) and RAM (.data, .bss, heap, stack)
    linker, startup           bare metal, optional: the templates of board/linker.ld and
                              board/startup.c (default linker.ld.j2, startup.c.j2)
    flash_tool, flash_target, bare metal, optional: `make flash` programs the part with a probe:
    flash_interface           openocd -f <flash_interface> -f <flash_target>, or pyocd flash
                              -t <flash_target>
    clock_hz, cpi             optional: the part's core clock (Hz) and an average number of
                              cycles per instruction; with both, `rnngen validate` estimates
                              latency from exact instruction counts (labelled an estimate)
"""

from __future__ import annotations

import math
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from .errors import RnngenError
from .resources import data_dir

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

KINDS = ("host", "linux", "baremetal")
VARIANTS = ("generic", "neon", "dsp", "mve")
# Every emitted C file compiles warning-free with these on every board (DESIGN.md): the one
# place they are written; the Makefile, rnngen.mk, `make objs` and the tests' own C programs
# all take them from here. -Wconversion (in C also -Wsign-conversion and -Wfloat-conversion)
# makes every narrowing explicit, -Wshadow forbids a name hiding another, -Wcast-qual a cast
# dropping const.
STRICT_CFLAGS = ("-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-Wconversion",
                 "-Wshadow", "-Wcast-qual")
# Memory regions a bare-metal board file must give, in the order the linker script uses them.
REGIONS = ("FLASH", "RAM")
ELF = "{elf}"  # where the program goes in `run`


@dataclass(frozen=True)
class Region:
    name: str
    origin: int  # bytes
    length: int  # bytes


@dataclass(frozen=True)
class Board:
    name: str
    description: str
    kind: str
    cc: str
    apt_package: str
    cflags: tuple[str, ...]
    ldflags: tuple[str, ...]
    ldlibs: tuple[str, ...]
    size: str
    run: tuple[str, ...]  # command that runs the program ({elf} is replaced, else appended)
    variant: str
    part: str
    flash_budget: int
    ram_budget: int
    source: str = ""
    qemu_apt_package: str = ""
    objcopy: str = ""
    machine: str = ""  # QEMU machine (bare metal)
    linker: str = "linker.ld.j2"  # template of board/linker.ld (bare metal)
    startup: str = "startup.c.j2"  # template of board/startup.c (bare metal)
    memory: tuple[Region, ...] = ()  # bare metal: FLASH and RAM as QEMU (or the part) has them
    flash_tool: str = ""  # bare metal: "openocd" or "pyocd" for `make flash`; "": none
    flash_target: str = ""  # pyOCD target name, or OpenOCD target config (target/stm32f4x.cfg)
    flash_interface: str = ""  # OpenOCD: the probe's config (interface/stlink.cfg)
    clock_hz: int = 0  # the part's core clock; 0: not given
    cpi: float = 0.0  # assumed average cycles per instruction; 0: not given

    @property
    def m_profile(self) -> bool:
        """A Cortex-M core (-mcpu=cortex-m*): the generated C sees __ARM_ARCH_PROFILE 'M'."""
        return any(f.startswith("-mcpu=cortex-m") for f in self.cflags)

    @property
    def builtin(self) -> bool:
        """True for the boards shipped in boards/ (chosen with --target)."""
        return bool(self.source) and Path(self.source).resolve().parent == \
            data_dir("boards").resolve()

    def region(self, name: str) -> Region:
        for r in self.memory:
            if r.name == name:
                return r
        raise KeyError(name)

    def run_command(self, exe: str) -> list[str]:
        """The command that runs the program `exe`."""
        if ELF in self.run:
            return [exe if a == ELF else a for a in self.run]
        return [*self.run, exe]


_REQUIRED = {"name": str, "description": str, "kind": str, "cc": str, "apt_package": str,
             "cflags": list, "ldflags": list, "ldlibs": list, "size": str, "run": list,
             "variant": str, "part": str, "flash_budget": int, "ram_budget": int}
_OPTIONAL = {"qemu_apt_package": str, "objcopy": str, "machine": str, "linker": str,
             "startup": str, "memory": list, "clock_hz": int, "cpi": (int, float),
             "flash_tool": str, "flash_target": str, "flash_interface": str}
_BAREMETAL = ("objcopy", "machine", "memory")
_TYPE_NAMES = {str: "a string", int: "an integer", list: "a list", (int, float): "a number"}


_WORD = re.compile(r"[A-Za-z0-9_.,+\-=/:@%{}]+")


def _templates(key: str) -> list[str]:
    from .resources import data_dir

    stem = "linker" if key == "linker" else "startup"
    return sorted(p.name for p in data_dir("templates").glob(f"{stem}*.j2"))


def _int(text: str) -> int | None:
    try:
        return int(text, 0)
    except ValueError:
        return None


def _memory(path: Path, entries: list[object]) -> tuple[Region, ...]:
    out: list[Region] = []
    for i, m in enumerate(entries):
        where = f"{path}: key 'memory' entry {i + 1}"
        if not (isinstance(m, dict) and isinstance(m.get("name"), str)
                and isinstance(m.get("origin"), str) and isinstance(m.get("length"), int)
                and not isinstance(m.get("length"), bool)):
            raise RnngenError(f"{where} needs name (string), origin (string, e.g. "
                              "\"0x20000000\") and length (int, bytes)")
        extra = sorted(set(m) - {"name", "origin", "length"})
        if extra:
            raise RnngenError(f"{where} has unknown key '{extra[0]}'")
        origin = _int(m["origin"])
        if origin is None or origin < 0 or origin >= 1 << 32:
            raise RnngenError(f"{where}: origin '{m['origin']}' is not a 32-bit address")
        if m["length"] <= 0 or origin + m["length"] > 1 << 32:
            raise RnngenError(f"{where}: length {m['length']} must be > 0 and end below 4 GiB")
        if any(r.name == m["name"] for r in out):
            raise RnngenError(f"{where}: region '{m['name']}' is given twice")
        out.append(Region(m["name"], origin, m["length"]))
    names = [r.name for r in out]
    for need in REGIONS:
        if need not in names:
            raise RnngenError(f"{path}: key 'memory' needs a region named '{need}' "
                              f"(has {', '.join(names) or 'none'})")
    unknown = [n for n in names if n not in REGIONS]
    if unknown:
        raise RnngenError(f"{path}: key 'memory' has region '{unknown[0]}'; the linker script "
                          f"uses only {' and '.join(REGIONS)}")
    return tuple(out)


def parse(path: Path) -> Board:
    """Read and check one board file; every problem is one line naming the key at fault."""
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, UnicodeDecodeError) as e:
        raise RnngenError(f"{path}: cannot read board file ({e})") from None
    except tomllib.TOMLDecodeError as e:
        raise RnngenError(f"{path}: not valid TOML ({e})") from None
    for key, typ in _REQUIRED.items():
        if key not in data:
            raise RnngenError(f"{path}: board file is missing key '{key}'")
        if not isinstance(data[key], typ) or (typ is int and isinstance(data[key], bool)):
            raise RnngenError(f"{path}: key '{key}' must be {_TYPE_NAMES[typ]}, got "
                              f"{data[key]!r}")
    for key, typ in _OPTIONAL.items():
        if key in data and not isinstance(data[key], typ):
            raise RnngenError(f"{path}: key '{key}' must be {_TYPE_NAMES[typ]}, got "
                              f"{data[key]!r}")
    unknown = set(data) - set(_REQUIRED) - set(_OPTIONAL)
    if unknown:
        raise RnngenError(f"{path}: unknown key '{min(unknown)}' in board file")
    for key in ("name", "cc", "size"):
        if not data[key].strip():
            raise RnngenError(f"{path}: key '{key}' must not be empty")
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.+-]*", data["name"]):
        raise RnngenError(f"{path}: key 'name' must be letters, digits and _.+- "
                          f"(got {data['name']!r})")
    for key in ("description", "part"):  # they go into C comments and Makefile comments
        if not data[key].isprintable() or "*/" in data[key]:
            raise RnngenError(f"{path}: key '{key}' must be one line of printable text "
                              "without '*/'")
    if data["kind"] not in KINDS:
        raise RnngenError(f"{path}: key 'kind' must be one of {', '.join(KINDS)}")
    if data["variant"] not in VARIANTS:
        raise RnngenError(f"{path}: key 'variant' must be one of {', '.join(VARIANTS)}")
    for key in ("cflags", "ldflags", "ldlibs", "run"):
        if not all(isinstance(v, str) for v in data[key]):
            raise RnngenError(f"{path}: key '{key}' must be a list of strings")
    # values that become Makefile text and command words: one word each, no quoting, no
    # variable or command substitution, no comment or line continuation
    for key in ("cc", "size", "objcopy", "machine", "cflags", "ldflags", "ldlibs", "run"):
        for v in data.get(key, []) if isinstance(data.get(key), list) else [data.get(key)]:
            if v is not None and v != "" and not _WORD.fullmatch(v):
                raise RnngenError(f"{path}: key '{key}' has {v!r}: each value must be one "
                                  "word of letters, digits and _.,+-=/:@%{} (no spaces, "
                                  "quotes, $, #, ; or backslashes)")
    if not re.fullmatch(r"[a-z0-9.+\- ]*", data["apt_package"]):
        raise RnngenError(f"{path}: key 'apt_package' must be Debian package names")
    if not re.fullmatch(r"[a-z0-9.+\- ]*", data.get("qemu_apt_package", "")):
        raise RnngenError(f"{path}: key 'qemu_apt_package' must be Debian package names")
    for key in ("linker", "startup"):
        if key in data and data[key] not in _templates(key):
            raise RnngenError(f"{path}: key '{key}' must be one of rnngen's templates "
                              f"({', '.join(_templates(key))}), got {data[key]!r}")
    for key in ("flash_budget", "ram_budget"):
        if data[key] < 0:
            raise RnngenError(f"{path}: key '{key}' must be >= 0")
    _flash_keys(path, data)
    for key in ("clock_hz", "cpi"):
        v = data.get(key, 1)
        if isinstance(v, bool) or not (v > 0 and math.isfinite(v)):
            raise RnngenError(f"{path}: key '{key}' must be a number > 0, got {v!r}")
    run = data["run"]
    if data["kind"] == "host" and ELF in run:
        raise RnngenError(f"{path}: key 'run' may not use {ELF} on a host board")
    if run.count(ELF) > 1:
        raise RnngenError(f"{path}: key 'run' has {ELF} more than once")
    if data["kind"] != "host" and not run:
        raise RnngenError(f"{path}: key 'run' must name the emulator for a {data['kind']} board")
    memory: tuple[Region, ...] = ()
    if data["kind"] == "baremetal":
        for key in _BAREMETAL:
            if not data.get(key):
                raise RnngenError(f"{path}: bare-metal board needs key '{key}'")
        memory = _memory(path, data["memory"])
        machine = data["machine"]
        given = [run[i + 1] for i, a in enumerate(run[:-1]) if a in ("-M", "-machine")]
        if given != [machine]:
            raise RnngenError(f"{path}: key 'run' must select the QEMU machine of key "
                              f"'machine' with -M {machine}")
        if ELF not in run:
            raise RnngenError(f"{path}: key 'run' must give the program as \"-kernel\", "
                              f"\"{ELF}\"")
    else:
        for key in _BAREMETAL + ("linker", "startup", "flash_tool", "flash_target",
                                 "flash_interface"):
            if key in data:
                raise RnngenError(f"{path}: key '{key}' is for bare-metal boards only "
                                  f"(kind is '{data['kind']}')")
    return Board(name=data["name"], description=data["description"], kind=data["kind"],
                 cc=data["cc"], apt_package=data["apt_package"], cflags=tuple(data["cflags"]),
                 ldflags=tuple(data["ldflags"]), ldlibs=tuple(data["ldlibs"]),
                 size=data["size"], run=tuple(run), variant=data["variant"],
                 part=data["part"], flash_budget=data["flash_budget"],
                 ram_budget=data["ram_budget"], source=str(path),
                 qemu_apt_package=data.get("qemu_apt_package", ""),
                 objcopy=data.get("objcopy", ""), machine=data.get("machine", ""),
                 linker=data.get("linker", "linker.ld.j2"),
                 startup=data.get("startup", "startup.c.j2"), memory=memory,
                 clock_hz=data.get("clock_hz", 0), cpi=float(data.get("cpi", 0.0)),
                 flash_tool=data.get("flash_tool", ""), flash_target=data.get("flash_target", ""),
                 flash_interface=data.get("flash_interface", ""))


FLASH_TOOLS = ("openocd", "pyocd")


def _flash_keys(path: Path, data: dict[str, object]) -> None:
    """flash_tool openocd (needs flash_interface and flash_target configs) or pyocd (needs
    flash_target); the values go into a Makefile recipe, so only plain names and paths."""
    tool = data.get("flash_tool")
    if tool is None:
        for key in ("flash_target", "flash_interface"):
            if key in data:
                raise RnngenError(f"{path}: key '{key}' needs key 'flash_tool'")
        return
    if tool not in FLASH_TOOLS:
        raise RnngenError(f"{path}: key 'flash_tool' must be one of {', '.join(FLASH_TOOLS)}")
    need = ("flash_target", "flash_interface") if tool == "openocd" else ("flash_target",)
    for key in need:
        if not data.get(key):
            raise RnngenError(f"{path}: flash_tool '{tool}' needs key '{key}'")
    if tool == "pyocd" and "flash_interface" in data:
        raise RnngenError(f"{path}: key 'flash_interface' is for flash_tool 'openocd'")
    for key in ("flash_target", "flash_interface"):
        v = data.get(key)
        if v is not None and not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_./+-]*", str(v)):
            raise RnngenError(f"{path}: key '{key}' must be a name or relative path (letters, "
                              f"digits and _./+-), got {v!r}")


def available() -> dict[str, Path]:
    return {p.stem: p for p in sorted(data_dir("boards").glob("*.toml"))}


def get(target: str, board_file: str | None = None) -> Board:
    if board_file:
        p = Path(board_file)
        if not p.exists():
            broken = " (a broken symbolic link)" if p.is_symlink() else ""
            raise RnngenError(f"{p}: no such board file{broken}")
        if not p.is_file():  # a folder, a pipe (reading it would wait forever), a device
            raise RnngenError(f"{p}: the board file is not a regular file")
        return parse(p)
    boards = available()
    if target not in boards:
        raise RnngenError(f"unknown target '{target}'; valid targets: {', '.join(boards)}")
    return parse(boards[target])


def describe_budget(b: Board) -> str:
    """'flash 1 MiB, RAM 192 KiB' (or 'no budget'), for listings."""
    if not (b.flash_budget or b.ram_budget):
        return "no budget"
    return f"flash {human_bytes(b.flash_budget)}, RAM {human_bytes(b.ram_budget)}"


def human_bytes(n: int) -> str:
    """1048576 -> '1 MiB', 196608 -> '192 KiB', 5767168 -> '5.5 MiB', 0 -> 'no limit'."""
    if n == 0:
        return "no limit"
    for unit, scale in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale:
            v = n / scale
            return f"{v:g} {unit}" if v * 10 == int(v * 10) else f"{n} B"
    return f"{n} B"
