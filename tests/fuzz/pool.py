"""A fuzzing worker process (tests/fuzz/worker.py) with a time and memory limit per case.

The worker is reused across cases (imports cost more than most cases); a case that exceeds
the time limit kills it and counts as a time-out, one that kills it (memory limit, crash) as
an internal error; the next case starts a fresh worker.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CASE_SECONDS = 30.0  # per case; a typical case takes 10-60 ms
MEMORY_MB = 2048  # address space of a worker (RLIMIT_AS)
FAILURES = ("unnamed", "wrong", "refused", "internal", "leftover", "timeout", "unexpected")


class Pool:
    def __init__(self, work: Path, timeout: float = CASE_SECONDS, mem_mb: int = MEMORY_MB):
        self.work = Path(work)
        self.timeout = timeout
        self.mem_mb = mem_mb
        self.proc: subprocess.Popen | None = None
        self.n = 0
        self.tmp = Path(tempfile.mkdtemp(prefix="rnngen-fuzz-tmp-"))

    def _start(self) -> subprocess.Popen:
        path = os.pathsep.join(p for p in (os.environ.get("PYTHONPATH"), str(ROOT)) if p)
        env = dict(os.environ, TMPDIR=str(self.tmp), PYTHONPATH=path,
                   OMP_NUM_THREADS="1")
        return subprocess.Popen([sys.executable, "-m", "tests.fuzz.worker", str(self.mem_mb)],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, text=True, cwd=ROOT, env=env)

    def _stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def run(self, case: dict) -> dict:
        """case: model (path), optional board_file, seq_len, oracle, names (the file name the
        error must name). Returns the worker's result with `id`."""
        self.n += 1
        case = dict(case, id=self.n, out=str(self.work / f"case{self.n}" / "out"))
        if self.proc is None or self.proc.poll() is not None:
            self.proc = self._start()
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(case) + "\n")
        self.proc.stdin.flush()
        ready, _, _ = select.select([self.proc.stdout], [], [], self.timeout)
        if not ready:
            self._stop()
            res = {"status": "timeout", "msg": f"over {self.timeout:g} s"}
        else:
            line = self.proc.stdout.readline()
            if not line:
                code = self.proc.wait()
                self.proc = None
                res = {"status": "internal", "msg": f"the worker died (exit code {code})"}
            else:
                res = json.loads(line)
        shutil.rmtree(self.work / f"case{self.n}", ignore_errors=True)
        return res

    def close(self) -> list[str]:
        """Stop the worker; the files left in its temporary folder (should be none)."""
        self._stop()
        if not self.tmp.exists():  # closed before
            return []
        # onnxruntime writes a .ses marker into $TMPDIR when the worker imports it
        left = sorted(p.name for p in self.tmp.iterdir() if p.name != ".ses")
        shutil.rmtree(self.tmp, ignore_errors=True)
        return left


def tally(results: list[tuple[str, dict]]) -> Counter:
    return Counter(r["status"] for _, r in results)


def failures(results: list[tuple[str, dict]]) -> list[str]:
    return [f"{desc}: {r['status']}: {r.get('msg', '')}" for desc, r in results
            if r["status"] in FAILURES]
