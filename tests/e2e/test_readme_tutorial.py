"""The README's five-minute tutorial, walked as written: every ```python and ```sh block of
the section runs in order in a fresh folder (with the repository's examples/ beside it, as in
a checkout), and the sample output written under each command (`# ...` lines) must be what
the command prints: each line's text, with "..." standing for any text, in order."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SECTION = "## Five-minute tutorial"


def tutorial_blocks() -> list[tuple[str, str]]:
    text = (ROOT / "README.md").read_text()
    start = text.index(SECTION)
    end = text.index("\n## ", start + len(SECTION))
    return re.findall(r"```(\w+)\n(.*?)```", text[start:end], re.DOTALL)


def commands(block: str) -> list[tuple[str, list[str]]]:
    """(command, expected output lines) for each command of an sh block: a command is a line
    not starting with '#', with its backslash continuations; the '#' lines after it are its
    output, a line starting with '#   ' continuing the one before."""
    out: list[tuple[str, list[str]]] = []
    lines = block.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if not line.strip():
            continue
        if line.startswith("#"):
            text = line[1:].strip()
            exp = out[-1][1]
            if line.startswith("#   ") and exp:
                exp[-1] += " " + text
            else:
                exp.append(text)
            continue
        cmd = line
        while cmd.endswith("\\"):
            cmd = cmd[:-1] + " " + lines[i].strip()
            i += 1
        out.append((cmd, []))
    return out


def matches(expected: list[str], printed: str) -> None:
    """Each expected line (pieces between '...' in order) appears in a printed line, the
    expected lines in order."""
    got = [" ".join(x.split()) for x in printed.splitlines()]
    k = 0
    for exp in expected:
        if exp == "...":
            continue
        pieces = [p.strip() for p in exp.split("...") if p.strip(" ,")]
        pieces = [p.strip(" ,") for p in pieces]
        while k < len(got) and not _line_has(got[k], pieces):
            k += 1
        assert k < len(got), f"README says {exp!r}; the command printed:\n{printed}"
        k += 1


def _line_has(line: str, pieces: list[str]) -> bool:
    pos = 0
    for p in pieces:
        j = line.find(p, pos)
        if j < 0:
            return False
        pos = j + len(p)
    return True


def test_parser_reads_the_tutorial() -> None:
    kinds = [k for k, _ in tutorial_blocks()]
    assert kinds.count("python") == 1 and kinds.count("sh") >= 3
    sh = [c for k, b in tutorial_blocks() if k == "sh" for c in commands(b)]
    assert any(c.startswith("rnngen validate") and exp for c, exp in sh)


@pytest.mark.qemu
def test_readme_tutorial_as_written(tmp_path: Path) -> None:
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}"
               f"{os.environ.get('PATH', '')}")
    ran = 0
    for kind, block in tutorial_blocks():
        if kind == "python":
            r = subprocess.run([sys.executable, "-c", block], cwd=tmp_path, env=env,
                               capture_output=True, text=True, check=False)
            assert r.returncode == 0, r.stderr
            ran += 1
        elif kind == "sh":
            for cmd, expected in commands(block):
                r = subprocess.run(["bash", "-c", cmd], cwd=tmp_path, env=env,
                                   capture_output=True, text=True, check=False)
                assert r.returncode == 0, f"{cmd}: {r.stdout}{r.stderr}"
                matches(expected, r.stdout)
                ran += 1
    assert ran >= 8
    assert (tmp_path / "report.md").exists()
