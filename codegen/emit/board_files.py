"""The board-specific files of an emitted project: the Makefile and, for bare-metal boards,
board/startup.c and board/linker.ld. Everything else is byte-identical across boards: the
model, the kernels, test/golden.h and test/main.c (whose semihosting set-up is switched on by
RNNGEN_SEMIHOSTING, which only the bare-metal Makefile defines).

Library mode (`rnngen build --no-main`) replaces all of these with CMakeLists.txt and
rnngen.mk, for dropping the model into an existing firmware project.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import jinja2

from ..boards import STRICT_CFLAGS, Board, human_bytes

# System exceptions 0-15 of ARMv7-M / ARMv8-M (7 is reserved on ARMv7-M).
EXCEPTION_NAMES = ("Thread", "Reset", "NMI", "HardFault", "MemManage", "BusFault",
                   "UsageFault", "SecureFault (ARMv8-M)", "Reserved", "Reserved", "Reserved",
                   "SVCall", "DebugMonitor", "Reserved", "PendSV", "SysTick")
IRQ_VECTORS = 32  # interrupt entries in the table; the test program enables none
STACK_RESERVE = 8 * 1024  # RAM the linker script keeps free for stack and heap (bytes)

# C literals for board/startup.c: System Control Block registers (ARMv7-M/ARMv8-M), the
# CPACR bits that enable the FPU, and semihosting (Arm "Semihosting for AArch32 and AArch64")
# operation numbers with the SYS_EXIT reason that QEMU turns into exit code 1.
_C_CONSTANTS = dict(
    cpacr="0xE000ED88u", cfsr="0xE000ED28u", hfsr="0xE000ED2Cu",
    cpacr_fpu="(0xFu << 20)",  # CP10 and CP11: full access
    sys_write0="0x04u", sys_exit="0x18u",
    exit_reason="0x20023u", exit_reason_name="ADP_Stopped_RunTimeErrorUnknown")


def exe_name(board: Board, name: str) -> str:
    return f"build/{name}_test" + (".elf" if board.kind == "baremetal" else "")


def board_command(board: Board, command: str, no_main: bool = False) -> str:
    """The build command with the board (and --no-main): the model's C files carry the
    command without them, since they are the same for every board and in library mode."""
    if board.builtin:
        command += f" --target {board.name}"
    else:
        command += f" --board-file {Path(board.source).name}"
    return command + (" --no-main" if no_main else "")


def _banner(board: Board, banner: dict[str, Any]) -> dict[str, Any]:
    return dict(banner, command=board_command(board, banner["command"]))


def _run_line(board: Board) -> str:
    exe = "$(EXE)" if board.kind == "baremetal" else "./$(EXE)"
    return " ".join(a if a == exe else shlex.quote(a) for a in board.run_command(exe))


def render(env: jinja2.Environment, board: Board, name: str, banner: dict[str, Any],
           model_srcs: list[str]) -> dict[str, str]:
    """Makefile, and board/startup.c + board/linker.ld on bare metal."""
    exe = exe_name(board, name)
    banner = _banner(board, banner)
    objs = " ".join(f"$(BUILD)/{Path(s).stem}.o" for s in model_srcs)
    ctx: dict[str, Any] = dict(banner=banner, board=board, name=name, exe=exe, model_objs=objs,
                               strict_cflags=" ".join(STRICT_CFLAGS),
                               cflags=" ".join(board.cflags), ldflags=" ".join(board.ldflags),
                               ldlibs=" ".join(board.ldlibs), run=_run_line(board))
    if board.kind != "baremetal":
        return {"Makefile": env.get_template("Makefile.j2").render(ctx)}
    stem = exe[:-len(".elf")]
    files = {"Makefile": env.get_template("Makefile.baremetal.j2").render(
        ctx, bin=f"{stem}.bin", hex=f"{stem}.hex", **flash_rule(board))}
    files["board/startup.c"] = env.get_template(board.startup).render(startup_context(board,
                                                                                      banner))
    files["board/linker.ld"] = env.get_template(board.linker).render(linker_context(board,
                                                                                    banner))
    return files


def flash_command(board: Board, elf: str) -> list[str] | None:
    """The command `make flash` runs for the board file's probe (flash_tool, flash_target,
    flash_interface), or None when the board file names no flash tool."""
    if board.flash_tool == "openocd":
        return ["openocd", "-f", board.flash_interface, "-f", board.flash_target, "-c",
                f"program {elf} verify reset exit"]
    if board.flash_tool == "pyocd":
        return ["pyocd", "flash", "-t", board.flash_target, elf]
    return None


def flash_rule(board: Board) -> dict[str, str]:
    """flash_cmd (the Makefile recipe line) and flash_what (its comment)."""
    cmd = flash_command(board, "$(EXE)")
    if cmd is None:
        return dict(flash_what="none given in the board file",
                    flash_cmd=f"@echo \"rnngen: {board.name}: the board file names no flash "
                              "tool (keys flash_tool, flash_target: docs/boards.md)\" >&2; "
                              "exit 2")
    line = " ".join(a if a == "$(EXE)" else shlex.quote(a) for a in cmd)
    return dict(flash_what=f"{board.flash_tool}, target {board.flash_target}", flash_cmd=line)


def startup_context(board: Board, banner: dict[str, Any]) -> dict[str, Any]:
    vectors = [dict(handler="rnngen_reset_handler", comment="1: Reset")]
    vectors += [dict(handler="rnngen_default_handler", comment=f"{k}: {EXCEPTION_NAMES[k]}")
                for k in range(2, 16)]
    vectors += [dict(handler="rnngen_default_handler", comment=f"{16 + k}: IRQ {k}")
                for k in range(IRQ_VECTORS)]
    # "rnngen: <board>: <exception> (exception N) at pc 0x..., CFSR 0x..., HFSR 0x...; ..."
    prefix = f"rnngen: {board.name}: "  # boards.parse allows only [A-Za-z0-9_.+-] in names
    fixed = " (exception 511) at pc 0x00000000, CFSR 0x00000000, HFSR 0x00000000; " \
            "stopped with exit code 1\n"
    longest = max(max(len(n) for n in EXCEPTION_NAMES), len("interrupt 495"))
    return dict(banner=banner, board=board, vectors=vectors, vector_count=1 + len(vectors),
                exception_names=EXCEPTION_NAMES, c=_C_CONSTANTS, fault_prefix=f'"{prefix}"',
                fault_msg_size=len(prefix) + longest + len(fixed) + 1)


def linker_context(board: Board, banner: dict[str, Any]) -> dict[str, Any]:
    attrs = {"FLASH": "rx", "RAM": "rwx"}
    regions = [dict(name=r.name, attrs=attrs[r.name], origin=f"0x{r.origin:08X}",
                    length=f"0x{r.length:08X}") for r in board.memory]
    source = (f"the memory map of QEMU's {board.machine}" if board.builtin
              else f"the memory map of {Path(board.source).name}")
    return dict(banner=banner, board=board, regions=regions, map_source=source,
                stack_reserve=f"0x{STACK_RESERVE:X}",
                stack_reserve_text=human_bytes(STACK_RESERVE))


def test_io(board: Board) -> dict[str, str]:
    """Lines test/main.c needs for its output. They are the same on every board (main.c is
    byte-identical across boards): newlib's semihosting I/O is set up only when the
    bare-metal Makefile defines RNNGEN_SEMIHOSTING."""
    del board
    return dict(
        io_hooks=("#ifdef RNNGEN_SEMIHOSTING\n"
                  "/* bare metal: printf and exit go to the debugger (QEMU) by semihosting */\n"
                  "extern void initialise_monitor_handles(void);\n"
                  "#endif\n"),
        io_init=("#ifdef RNNGEN_SEMIHOSTING\n"
                 "    initialise_monitor_handles();\n"
                 "    #endif"),
        io_exit="")


# ---- library mode ---------------------------------------------------------------------

def library(env: jinja2.Environment, board: Board, name: str, manifest: dict[str, Any],
            passes: list[str], files: dict[str, str]) -> dict[str, str]:
    """The model and its kernels, with CMakeLists.txt and rnngen.mk instead of the Makefile,
    the test program and board/. manifest: project.render's, with the full command."""
    banner = dict(version=manifest["rnngen"], command=manifest["command"],
                  model=manifest["model"], sha256=manifest["model_sha256"],
                  passes=", ".join(passes))
    keep = {k: v for k, v in files.items() if k.startswith(("src/", "include/"))}
    model = f"src/{name}.c"
    srcs = [model] + sorted(k for k in keep if k.startswith("src/") and k != model)
    bare = board.kind == "baremetal"
    ctx = dict(banner=banner, board=board, name=name, srcs=srcs,
               strict_cflags=" ".join(STRICT_CFLAGS), cflags=" ".join(board.cflags),
               ldflags=" ".join(board.ldflags), ldlibs=" ".join(board.ldlibs), cc=board.cc,
               bare_metal=bare)
    keep["CMakeLists.txt"] = env.get_template("CMakeLists.txt.j2").render(ctx)
    keep["rnngen.mk"] = env.get_template("rnngen.mk.j2").render(ctx)
    if bare:  # what a bare-metal firmware needs to run the model: startup, linker script,
        # and a CMake toolchain file with the board's compiler and flags
        keep["board/startup.c"] = env.get_template(board.startup).render(
            startup_context(board, banner))
        keep["board/linker.ld"] = env.get_template(board.linker).render(
            linker_context(board, banner))
        keep[f"cmake/{board.name}.cmake"] = env.get_template("toolchain.cmake.j2").render(ctx)
    return keep
