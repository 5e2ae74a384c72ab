"""codegen/outputs.py in-process: an interrupt between the two renames of a --force commit puts
the previous output back; the staging folder and created parents go whatever happens."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

import pytest

from rnngen import outputs
from rnngen.errors import RnngenError


def _project(folder: Path, text: str) -> None:
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text(json.dumps({"rnngen": "0", "name": "m"}))
    (folder / "model.c").write_text(text)


def test_interrupt_between_the_renames_restores_the_previous_output(tmp_path, monkeypatch):
    dest = tmp_path / "out"
    _project(dest, "old")
    real = Path.rename
    calls = []

    def rename(self, target):
        calls.append(self)
        if len(calls) == 2:  # staging -> dest: as if SIGINT's handler ran here
            raise KeyboardInterrupt
        return real(self, target)

    with pytest.raises(KeyboardInterrupt):
        with outputs.staging(dest) as stage:
            (stage.path / "model.c").write_text("new")
            monkeypatch.setattr(Path, "rename", rename)
            stage.commit(force=True)
    monkeypatch.undo()
    assert (dest / "model.c").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_a_failure_removes_staging_and_created_parents(tmp_path):
    dest = tmp_path / "a" / "b" / "out"
    with pytest.raises(RuntimeError):
        with outputs.staging(dest) as stage:
            (stage.path / "x").write_text("x")
            raise RuntimeError("compiler failed")
    assert list(tmp_path.iterdir()) == []


def test_force_rules(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    model = tmp_path / "in" / "m.onnx"
    model.parent.mkdir()
    model.write_text("x")
    _project(tmp_path / "made", "old")
    outputs.check_folder_dest(tmp_path / "made", True, [model])  # rnngen's own: allowed
    for dest, force, why in ((tmp_path, True, "working folder"),
                             (tmp_path / "in", True, "holds an input"),
                             (tmp_path / "made", False, "already exists")):
        with pytest.raises(RnngenError, match=why):
            outputs.check_folder_dest(dest, force, [model])
    with pytest.raises(RnngenError, match="one of the inputs"):
        outputs.check_file_dest(model, True, [model])


def _commit_many(dest: Path, n: int) -> list[str]:
    fails = []
    for i in range(n):
        try:
            with outputs.staging(dest) as stage:
                (stage.path / "manifest.json").write_text(json.dumps({"rnngen": "0",
                                                                      "name": str(i)}))
                stage.commit(force=True)
        except RnngenError as e:
            fails.append(str(e))
    return fails


def test_concurrent_force_commits_all_succeed(tmp_path):
    """Runs that replace one folder at once: each rename may find the folder moved away or
    placed by another run; every commit succeeds, the last one stays, nothing is left over
    (CI once saw 'cannot replace (No such file or directory)' here)."""
    dest = tmp_path / "out"
    with multiprocessing.get_context("fork").Pool(4) as pool:
        fails = pool.starmap(_commit_many, [(dest, 60)] * 4)
    assert [f for fs in fails for f in fs] == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    assert outputs.is_project(dest)


def test_a_folder_placed_meanwhile_is_not_replaced(tmp_path):
    """A folder rnngen did not make, put at the destination after the checks: --force moves it
    back and stops with a named error."""
    dest = tmp_path / "out"
    _project(dest, "old")
    outputs.check_folder_dest(dest, True)
    with pytest.raises(RnngenError, match="rnngen did not make"):
        with outputs.staging(dest) as stage:
            (stage.path / "model.c").write_text("new")
            (dest / "manifest.json").unlink()  # the user's folder now
            stage.commit(force=True)
    assert (dest / "model.c").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
