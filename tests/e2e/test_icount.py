"""rnngen's instruction counter (codegen/icount.py and its QEMU plugin) against programs
whose instruction counts are known exactly: a hand-written loop between the markers runs
2n + 1 instructions (n times subs + branch, then the call of the stop marker)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rnngen import boards, driver, icount, toolchain
from rnngen.emit.board_files import exe_name

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "examples" / "lstm_classifier" / "model.onnx"

# counted(n): the markers around a loop of n iterations of two instructions.
LOOP_ASM = {
    "cortex-m4": r"""
__asm__(".syntax unified\n.thumb\n.text\n.global counted\n.type counted, %function\n"
        ".thumb_func\ncounted:\n push {r4, lr}\n mov r4, r0\n bl icount_start\n"
        "1: subs r4, r4, #1\n bne 1b\n bl icount_stop\n pop {r4, pc}\n"
        ".size counted, .-counted\n");
""",
    "cortex-a73": r"""
__asm__(".text\n.global counted\n.type counted, %function\ncounted:\n"
        " stp x19, x30, [sp, #-16]!\n mov x19, x0\n bl icount_start\n"
        "1: subs x19, x19, #1\n b.ne 1b\n bl icount_stop\n ldp x19, x30, [sp], #16\n ret\n"
        ".size counted, .-counted\n");
""",
}

MAIN = r"""
#include <stdio.h>
MARKERS
void counted(long n);
ASM
#ifdef RNNGEN_SEMIHOSTING
extern void initialise_monitor_handles(void);
#endif
int main(void)
{
#ifdef RNNGEN_SEMIHOSTING
    initialise_monitor_handles();
#endif
    counted(100);
    counted(1000);
    counted(7);
    printf("done\n");
    return 0;
}
"""


@pytest.mark.qemu
@pytest.mark.parametrize("target", ["cortex-m4", "cortex-a73"])
def test_counts_a_known_loop_exactly(tmp_path: Path, target: str) -> None:
    out = tmp_path / "p"
    driver.build(MODEL, out, driver.BuildOptions(target=target, measure=False))
    (out / "test" / "main.c").write_text(
        MAIN.replace("MARKERS", icount.MARKERS_C).replace("ASM", LOOP_ASM[target]))
    toolchain.build(out, "all")
    board = boards.get(target)
    elf = out / exe_name(board, "model")
    c = icount.run(board, elf, cwd=out)
    assert c.returncode == 0 and "done" in c.output
    assert c.windows == [201, 2001, 15]
    assert c.total > 2217
    again = icount.run(board, elf, cwd=out)
    assert (again.windows, again.total) == (c.windows, c.total)


# counted(n)'s own instructions: the loop's 2n plus 5 (M4: push, mov, bl, bl, pop) or
# 6 (A73: stp, mov, bl, bl, ldp, ret)
OWN = {"cortex-m4": 5, "cortex-a73": 6}


@pytest.mark.qemu
@pytest.mark.parametrize("target", ["cortex-m4", "cortex-a73"])
def test_counts_functions_exactly(tmp_path: Path, target: str) -> None:
    out = tmp_path / "p"
    driver.build(MODEL, out, driver.BuildOptions(target=target, measure=False))
    (out / "test" / "main.c").write_text(
        MAIN.replace("MARKERS", icount.MARKERS_C).replace("ASM", LOOP_ASM[target]))
    toolchain.build(out, "all")
    board = boards.get(target)
    c = icount.run(board, out / exe_name(board, "model"), cwd=out,
                   functions=[r"counted", r"icount_st.*", r"no_such_function"])
    assert c.returncode == 0
    assert c.windows == [201, 2001, 15]  # ranges do not change the windows
    assert c.functions["counted"] == (2 * (100 + 1000 + 7) + 3 * OWN[target], 3)
    assert c.functions["icount_start"][1] == 3 and c.functions["icount_stop"][1] == 3
    assert set(c.functions) == {"counted", "icount_start", "icount_stop"}


def test_counting_needs_qemu() -> None:
    from rnngen.errors import RnngenError

    with pytest.raises(RnngenError, match="counted under QEMU only"):
        icount.run(boards.get("host"), Path("/bin/true"), cwd=Path("."))
