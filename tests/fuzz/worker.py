"""One fuzzing worker: reads cases (JSON lines) on stdin, runs each through rnngen front to
back as `rnngen build` does (without the C compile), and prints one JSON result line each.

Started by tests/fuzz/pool.py as `python -m tests.fuzz.worker MEM_MB`; its address space is
limited to MEM_MB (RLIMIT_AS), so a case that allocates without bound ends in MemoryError,
which counts as an internal error. Results:

    named     RnngenError: one line that names the model (or board) file
    unnamed   RnngenError whose message does not name the file, or is not one line
    built     a project was written; for ONNX models onnxruntime accepts, rnngen's reference
              equals onnxruntime's outputs on the golden input
    wrong     built, but the reference differs from onnxruntime: a silently wrong model
    refused   built, but onnxruntime calls the model invalid (it should have been refused)
    internal  any other exception: a bug in rnngen
    leftover  the case left a folder or file behind (output, temporary or staging folder)
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import sys
import tempfile
import traceback
from pathlib import Path


def _ort_outputs(model: str, g, x):  # type: ignore[no-untyped-def]
    """onnxruntime's outputs (a list, graph output order), or a string: why it refused."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.log_severity_level = 4
    try:
        sess = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
        feeds = {sess.get_inputs()[0].name: x.reshape(g.shapes[g.input])}
        return sess.run(None, feeds)
    except Exception as e:  # noqa: BLE001 - onnxruntime's verdict, kept as text
        return f"{type(e).__name__}: {str(e).strip().splitlines()[0][:300] if str(e) else ''}"


# onnxruntime refuses these valid ONNX models for its own reasons (rnngen reads them)
ORT_OWN_LIMITS = ("layout", "batchwise", "not implemented", "NOT_IMPLEMENTED")


def _check_build(case: dict, res) -> dict:  # type: ignore[no-untyped-def]
    import numpy as np
    from rnngen import reference

    out = Path(case["out"])
    if not (out / "manifest.json").is_file() or not (out / "src").is_dir():
        return {"status": "internal", "msg": "build returned but wrote no project"}
    if not case.get("oracle"):
        return {"status": "built"}
    g = res.graph
    x = reference.golden_input(g)
    mine = reference.run(g, x)
    theirs = _ort_outputs(case["model"], g, x)
    if isinstance(theirs, str):
        if any(k in theirs for k in ORT_OWN_LIMITS):
            return {"status": "built", "msg": "onnxruntime: " + theirs}
        return {"status": "refused", "msg": "onnxruntime: " + theirs}
    if len(theirs) != len(g.outputs):
        return {"status": "wrong", "msg": f"{len(g.outputs)} outputs, onnxruntime has "
                                          f"{len(theirs)}"}
    for o, want in zip(g.outputs, theirs):
        got = mine[o]
        want = np.asarray(want)
        if want.dtype.kind != "f":
            return {"status": "refused", "msg": f"output '{o}' is {want.dtype} in onnxruntime"}
        if got.size != want.size or not np.allclose(got.reshape(want.shape), want,
                                                     atol=1e-4, rtol=1e-3, equal_nan=True):
            return {"status": "wrong", "msg": f"output '{o}' differs from onnxruntime "
                                              f"(shapes {got.shape} / {want.shape})"}
    return {"status": "built"}


def run_case(case: dict) -> dict:
    from rnngen import driver
    from rnngen.errors import RnngenError

    out = Path(case["out"])
    named = case.get("names") or Path(case["model"]).name
    opts = driver.BuildOptions(board_file=case.get("board_file"), seq_len=case.get("seq_len"),
                               measure=False, dtype=case.get("dtype", "float32"))
    try:
        res = driver.build(case["model"], out, opts)
    except RnngenError as e:
        msg = str(e)
        if "\n" in msg or named not in msg:
            return {"status": "unnamed", "msg": msg[:500]}
        return {"status": "named", "msg": msg[:300]}
    except BaseException as e:  # noqa: BLE001 - the point of the fuzzer
        tb = traceback.extract_tb(e.__traceback__)
        at = f"{Path(tb[-1].filename).name}:{tb[-1].lineno}" if tb else "?"
        return {"status": "internal", "msg": f"{type(e).__name__}: {str(e)[:300]} at {at}"}
    try:
        return _check_build(case, res)
    except BaseException as e:  # noqa: BLE001
        return {"status": "internal", "msg": f"checking the build: {type(e).__name__}: {e}"}


def _leftovers(case: dict, status: str, before: set[str]) -> list[str]:
    """What the case left beside its output folder and in the temporary folder (`before`:
    what was there when the worker started, e.g. onnxruntime's .ses marker)."""
    out = Path(case["out"])
    left = [p.name for p in out.parent.iterdir() if p != out or status not in ("built",
                                                                           "wrong", "refused")]
    left += [f"$TMPDIR/{p.name}" for p in Path(tempfile.gettempdir()).iterdir()
             if p.name not in before]
    return left


def main() -> None:
    mem_mb = int(sys.argv[1])
    # results go to the original stdout; anything a library prints goes to stderr
    results = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    import numpy  # noqa: F401 - import what every case needs before the limit applies
    import onnx  # noqa: F401
    import onnxruntime  # noqa: F401
    from rnngen import driver  # noqa: F401

    resource.setrlimit(resource.RLIMIT_AS, (mem_mb << 20, mem_mb << 20))
    tmp = Path(tempfile.gettempdir())
    before = {p.name for p in tmp.iterdir()}
    for line in sys.stdin:
        case = json.loads(line)
        Path(case["out"]).parent.mkdir(parents=True, exist_ok=True)
        r = run_case(case)
        left = _leftovers(case, r["status"], before)
        if left:
            r = {"status": "leftover", "msg": f"{r['status']}, left {left[:5]}: "
                                              f"{r.get('msg', '')}"}
        shutil.rmtree(Path(case["out"]).parent, ignore_errors=True)
        for p in tmp.iterdir():
            if p.name not in before:
                shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink()
        r["id"] = case["id"]
        results.write(json.dumps(r) + "\n")
        results.flush()


if __name__ == "__main__":
    main()
