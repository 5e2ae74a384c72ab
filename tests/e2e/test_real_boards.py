"""Real boards: `make flash` runs the board file's probe command (checked as the exact command
`make -n flash` prints, on two part board files); the test program's cycle counter says
"not_modelled" under QEMU instead of a number; the CI recipe's rnngen commands run."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from rnngen import boards, driver
from rnngen.errors import RnngenError

ROOT = Path(__file__).resolve().parents[2]
EX = ROOT / "examples" / "lstm_classifier" / "model.onnx"
PARTS = ROOT / "examples" / "boards"


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "rnngen.cli", *args], capture_output=True,
                          text=True, check=False, cwd=cwd)


@pytest.mark.parametrize("board_file,cfg,origin", [
    ("stm32f407-discovery.toml", "target/stm32f4x.cfg", 0x08000000),
    ("nucleo-f767zi.toml", "target/stm32f7x.cfg", 0x08000000),
])
def test_make_flash_runs_the_probe_command(tmp_path: Path, board_file: str, cfg: str,
                                           origin: int) -> None:
    out = tmp_path / "p"
    driver.build(EX, out, driver.BuildOptions(board_file=str(PARTS / board_file),
                                              measure=False))
    subprocess.run(["make", "-s", "all"], cwd=out, check=True, capture_output=True)
    r = subprocess.run(["make", "-s", "-n", "flash"], cwd=out, check=True, capture_output=True,
                       text=True)
    assert r.stdout.strip() == (f"openocd -f interface/stlink.cfg -f {cfg} -c 'program "
                                "build/model_test.elf verify reset exit'")
    # the image is linked for the part: the vector table first in its flash
    nm = subprocess.run(["arm-none-eabi-nm", str(out / "build/model_test.elf")], check=True,
                        capture_output=True, text=True).stdout
    assert re.search(rf"^{origin:08x} [TR] rnngen_vectors$", nm, re.MULTILINE)


def test_pyocd_flash_command_from_a_board_file(tmp_path: Path) -> None:
    text = (PARTS / "nucleo-f767zi.toml").read_text()
    text = text.replace('flash_tool = "openocd"\nflash_interface = "interface/stlink.cfg"\n'
                        'flash_target = "target/stm32f7x.cfg"',
                        'flash_tool = "pyocd"\nflash_target = "stm32f767zitx"')
    (tmp_path / "b.toml").write_text(text)
    driver.build(EX, tmp_path / "p", driver.BuildOptions(board_file=str(tmp_path / "b.toml"),
                                                         measure=False))
    r = subprocess.run(["make", "-s", "-n", "flash"], cwd=tmp_path / "p", check=True,
                       capture_output=True, text=True)
    assert r.stdout.strip().splitlines()[-1] == "pyocd flash -t stm32f767zitx " \
        "build/model_test.elf"


def test_qemu_board_has_no_flash_tool(tmp_path: Path) -> None:
    driver.build(EX, tmp_path / "p", driver.BuildOptions(target="cortex-m4", measure=False))
    r = subprocess.run(["make", "-s", "flash"], cwd=tmp_path / "p", capture_output=True,
                       text=True, check=False)
    assert r.returncode != 0
    assert "cortex-m4: the board file names no flash tool" in r.stderr


@pytest.mark.parametrize("edit,needle", [
    ('flash_tool = "jlink"', "key 'flash_tool' must be one of openocd, pyocd"),
    ('flash_interface = "interface/stlink.cfg"\n', "flash_tool 'openocd' needs key "
     "'flash_interface'"),
    ('flash_target = "target/x.cfg; rm -rf /"', "key 'flash_target' must be a name"),
])
def test_bad_flash_keys(tmp_path: Path, edit: str, needle: str) -> None:
    text = (PARTS / "stm32f407-discovery.toml").read_text()
    if edit.startswith("flash_tool"):
        text = text.replace('flash_tool = "openocd"', edit)
    elif edit.startswith("flash_interface"):
        text = text.replace(edit, "")
    else:
        text = text.replace('flash_target = "target/stm32f4x.cfg"', edit)
    (tmp_path / "b.toml").write_text(text)
    with pytest.raises(RnngenError, match=re.escape(needle)):
        boards.parse(tmp_path / "b.toml")


@pytest.mark.qemu
@pytest.mark.parametrize("target,want", [("cortex-m4", "not_modelled"),
                                         ("cortex-m55", "not_modelled"),
                                         ("cortex-a73", "unavailable")])
def test_cycles_not_modelled_under_qemu(tmp_path: Path, target: str, want: str) -> None:
    out = tmp_path / "p"
    driver.build(EX, out, driver.BuildOptions(target=target, measure=False))
    r = subprocess.run(["make", "-s", "run"], cwd=out, capture_output=True, text=True,
                       check=False)
    line = next(x for x in r.stdout.splitlines() if x.startswith("RNNGEN_RESULT"))
    assert line.endswith(f" cycles={want}") and "passed=1" in line
    js = json.loads(cli("verify", str(EX), "--target", target, "--json").stdout)
    assert js["cycles"] == want


def test_cycles_on_the_host_are_a_count_or_unavailable() -> None:
    js = json.loads(cli("verify", str(EX), "--json").stdout)
    assert js["cycles"] == "unavailable" or (isinstance(js["cycles"], int) and
                                             js["cycles"] > 1000)


@pytest.mark.qemu
def test_ci_recipe_commands_run(tmp_path: Path) -> None:
    text = (ROOT / "examples" / "ci" / "github-actions.yml").read_text()
    cmds = [ln.strip() for ln in text.splitlines() if ln.strip().startswith("rnngen ")]
    assert len(cmds) == 4
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}"
               f"{os.environ.get('PATH', '')}")
    for cmd in cmds:
        r = subprocess.run(["bash", "-c", cmd], cwd=tmp_path, env=env, capture_output=True,
                           text=True, check=False)
        assert r.returncode == 0, f"{cmd}: {r.stdout}{r.stderr}"
    assert "Instructions on the board" in (tmp_path / "rnngen-report.md").read_text()
