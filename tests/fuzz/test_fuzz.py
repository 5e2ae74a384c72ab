"""The fuzzing tier: mutated ONNX, .npz and board files and hypothesis-generated malformed
graphs, each run front to back through rnngen (tests/fuzz/worker.py) with a time and
memory limit. Every case must end in a named error (an RnngenError whose one line names
the file) or a correct build (for ONNX models that onnxruntime accepts: the reference
equals onnxruntime), with no internal error, time-out or leftover folder. Seeds are fixed;
cases that found bugs are kept in tests/fuzz/corpus/ and run every time.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path

import pytest

from tests.fuzz import mutate, seeds
from tests.fuzz.pool import Pool, failures, tally

CORPUS = Path(__file__).resolve().parent / "corpus"
ONNX_CHUNKS, ONNX_CASES = 6, 200
NPZ_CHUNKS, NPZ_CASES = 3, 200
BOARD_CASES = 150


def _finish(record_property, pool: Pool, results: list[tuple[str, dict]]) -> None:
    left = pool.close()
    counts = tally(results)
    if left:
        counts["leftover"] += len(left)
    record_property("fuzz", json.dumps(counts))
    bad = failures(results) + [f"left in the temporary folder: {left}"] * bool(left)
    assert not bad, f"{len(bad)} of {len(results)} cases failed:\n" + "\n".join(bad[:20])


@pytest.fixture
def pool(tmp_path):
    """A worker, stopped and its temporary folder removed even when a test fails early."""
    p = Pool(tmp_path / "work")
    yield p
    p.close()


@pytest.fixture(scope="module")
def seed_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("seeds")


@pytest.fixture(scope="module")
def onnx_seeds(seed_dir):
    return seeds.onnx_seeds(seed_dir / "onnx")


@pytest.fixture(scope="module")
def npz_seeds(seed_dir):
    return seeds.npz_seeds(seed_dir / "npz")


@pytest.mark.parametrize("chunk", range(ONNX_CHUNKS))
def test_mutated_onnx(tmp_path, onnx_seeds, record_property, pool, chunk):
    rng = random.Random(1000 + chunk)
    results = []
    blobs = {s["model"]: Path(s["model"]).read_bytes() for s in onnx_seeds}
    for k in range(ONNX_CASES):
        s = rng.choice(onnx_seeds)
        data, desc = mutate.mutate_onnx(rng, blobs[s["model"]])
        p = tmp_path / f"m{k}.onnx"
        p.write_bytes(data)
        r = pool.run(dict(model=str(p), seq_len=s["seq_len"], oracle=s["oracle"]))
        results.append((f"{Path(s['model']).name} chunk {chunk} case {k}: {desc}", r))
        p.unlink()
    _finish(record_property, pool, results)


@pytest.mark.parametrize("chunk", range(NPZ_CHUNKS))
def test_mutated_npz(tmp_path, npz_seeds, record_property, pool, chunk):
    rng = random.Random(2000 + chunk)
    results = []
    for k in range(NPZ_CASES):
        s = rng.choice(npz_seeds)
        data, desc = mutate.mutate_npz(rng, s["manifest"], s["arrays"])
        p = tmp_path / f"m{k}.npz"
        p.write_bytes(data)
        r = pool.run(dict(model=str(p)))
        results.append((f"{Path(s['model']).name} chunk {chunk} case {k}: {desc}", r))
        p.unlink()
    _finish(record_property, pool, results)


def test_mutated_board_files(tmp_path, npz_seeds, record_property, pool):
    rng = random.Random(3000)
    results = []
    boards = [(b.name, b.read_text()) for b in seeds.board_seeds()]
    model = npz_seeds[0]["model"]
    for k in range(BOARD_CASES):
        name, text = rng.choice(boards)
        data, desc = mutate.mutate_board(rng, text)
        p = tmp_path / f"b{k}.toml"
        p.write_bytes(data)
        r = pool.run(dict(model=model, board_file=str(p), names=p.name))
        results.append((f"{name} case {k}: {desc}", r))
        p.unlink()
    _finish(record_property, pool, results)


def _corpus_cases() -> list[Path]:
    return sorted(p for p in CORPUS.iterdir() if p.suffix in (".onnx", ".npz", ".toml"))


def test_corpus(tmp_path, npz_seeds, record_property, pool):
    """The cases that found bugs: each must now end in a named error or a correct build
    (corpus/expect.json says which; corpus/README.md what each was before)."""
    expect = json.loads((CORPUS / "expect.json").read_text())
    results = []
    cases = _corpus_cases()
    assert sorted(expect) == [p.name for p in cases], "corpus/expect.json lists every case"
    for p in cases:
        case = dict(model=str(p), oracle=p.suffix == ".onnx")
        if p.suffix == ".toml":
            case = dict(model=npz_seeds[0]["model"], board_file=str(p), names=p.name)
        r = pool.run(case)
        want = expect[p.name]
        if r["status"] in ("named", "built") and r["status"] != want:
            r = dict(r, status="unexpected", msg=f"expected {want}: {r.get('msg', '')}")
        results.append((p.name, r))
    counts: Counter = tally(results)
    assert counts["unexpected"] == 0, failures(results) + [
        f"{d}: {r['status']} {r.get('msg')}" for d, r in results if r["status"] == "unexpected"]
    _finish(record_property, pool, results)
