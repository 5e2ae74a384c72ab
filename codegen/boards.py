"""Board files (boards/*.toml): the compiler, flags, how to run, and a real part's budget."""

from __future__ import annotations

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
    run: tuple[str, ...]  # command prefix that runs the program ({elf} is replaced)
    variant: str
    part: str
    flash_budget: int
    ram_budget: int
    source: str = ""
    qemu_apt_package: str = ""
    objcopy: str = ""
    machine: str = ""  # QEMU machine (bare metal)
    linker: str = ""  # linker script template name (bare metal)
    memory: tuple[tuple[str, str, int], ...] = ()  # (region, origin, length) for the linker


_REQUIRED = {"name": str, "description": str, "kind": str, "cc": str, "apt_package": str,
             "cflags": list, "ldflags": list, "ldlibs": list, "size": str, "run": list,
             "variant": str, "part": str, "flash_budget": int, "ram_budget": int}
_OPTIONAL = {"qemu_apt_package": str, "objcopy": str, "machine": str, "linker": str,
             "memory": list}


def parse(path: Path) -> Board:
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
            raise RnngenError(f"{path}: key '{key}' must be a {typ.__name__}, got "
                              f"{type(data[key]).__name__}")
    for key, typ in _OPTIONAL.items():
        if key in data and not isinstance(data[key], typ):
            raise RnngenError(f"{path}: key '{key}' must be a {typ.__name__}")
    unknown = set(data) - set(_REQUIRED) - set(_OPTIONAL)
    if unknown:
        raise RnngenError(f"{path}: unknown key '{sorted(unknown)[0]}' in board file")
    if data["kind"] not in KINDS:
        raise RnngenError(f"{path}: key 'kind' must be one of {', '.join(KINDS)}")
    if data["variant"] not in VARIANTS:
        raise RnngenError(f"{path}: key 'variant' must be one of {', '.join(VARIANTS)}")
    for key in ("cflags", "ldflags", "ldlibs", "run"):
        if not all(isinstance(v, str) for v in data[key]):
            raise RnngenError(f"{path}: key '{key}' must be a list of strings")
    for key in ("flash_budget", "ram_budget"):
        if data[key] < 0:
            raise RnngenError(f"{path}: key '{key}' must be >= 0")
    memory = []
    for i, m in enumerate(data.get("memory", [])):
        if not (isinstance(m, dict) and isinstance(m.get("name"), str)
                and isinstance(m.get("origin"), str) and isinstance(m.get("length"), int)):
            raise RnngenError(f"{path}: key 'memory' entry {i} needs name, origin (string) and "
                              "length (int)")
        memory.append((m["name"], m["origin"], m["length"]))
    if data["kind"] == "baremetal":
        for key in ("objcopy", "machine", "linker"):
            if not data.get(key):
                raise RnngenError(f"{path}: bare-metal board needs key '{key}'")
    return Board(name=data["name"], description=data["description"], kind=data["kind"],
                 cc=data["cc"], apt_package=data["apt_package"], cflags=tuple(data["cflags"]),
                 ldflags=tuple(data["ldflags"]), ldlibs=tuple(data["ldlibs"]),
                 size=data["size"], run=tuple(data["run"]), variant=data["variant"],
                 part=data["part"], flash_budget=data["flash_budget"],
                 ram_budget=data["ram_budget"], source=str(path),
                 qemu_apt_package=data.get("qemu_apt_package", ""),
                 objcopy=data.get("objcopy", ""), machine=data.get("machine", ""),
                 linker=data.get("linker", ""), memory=tuple(memory))


def available() -> dict[str, Path]:
    return {p.stem: p for p in sorted(data_dir("boards").glob("*.toml"))}


def get(target: str, board_file: str | None = None) -> Board:
    if board_file:
        p = Path(board_file)
        if not p.exists():
            raise RnngenError(f"{p}: no such board file")
        return parse(p)
    boards = available()
    if target not in boards:
        raise RnngenError(f"unknown target '{target}'; valid targets: {', '.join(boards)}")
    return parse(boards[target])
