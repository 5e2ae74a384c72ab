"""The C API's streaming contract, checked by our own C program against the reference:
T calls of <name>_step equal one <name>_run of T steps; <name>_reset restores the start;
the state persists between calls (a sequence fed in chunks of any size gives the same
outputs as in one piece). Also: byte-identical output for the same model and options."""

from __future__ import annotations

import filecmp
import json
import subprocess
from pathlib import Path

import numpy as np
import onnx
import pytest

from rnngen import driver, reference
from rnngen.boards import STRICT_CFLAGS
from tests import models

PROGRAM = r"""
#include <stdio.h>
#include "m.h"
static m_state_t s;
static float x[%(T)d * M_INPUT_STEP_SIZE];
static float y[M_OUTPUT_SIZE(%(T)d)];
static void dump(const char *tag, const float *v, int n)
{
    int i;
    printf("%%s", tag);
    for (i = 0; i < n; ++i) printf(" %%.9g", v[i]);
    printf("\n");
}
int main(void)
{
    int i, t = 0;
    static const int chunks[] = {%(chunks)s};
    for (i = 0; i < %(T)d * M_INPUT_STEP_SIZE; ++i)
        if (scanf("%%f", &x[i]) != 1) return 2;
    /* the sequence in chunks, one run call per chunk */
    m_reset(&s);
    for (i = 0; i < (int)(sizeof(chunks) / sizeof(chunks[0])); ++i)
    {
        if (m_run(&s, x + t * M_INPUT_STEP_SIZE, chunks[i], y) != 0) return 3;
        dump("chunk", y, M_OUTPUT_SIZE(chunks[i]));
        t += chunks[i];
    }
    /* one step at a time after a reset */
    m_reset(&s);
    for (t = 0; t < %(T)d; ++t)
    {
        m_step(&s, x + t * M_INPUT_STEP_SIZE, y);
        dump("step", y, M_STEP_OUTPUT_SIZE);
    }
    /* bad argument */
    printf("zero %%d\n", m_run(&s, x, 0, y));
    return 0;
}
"""


def _project(tmp_path: Path, spec: models.Spec, seed: int = 0) -> tuple[Path, Path]:
    p = tmp_path / "m.onnx"
    onnx.save(models.make_model(spec, seed), p)
    out = tmp_path / "proj"
    driver.build(p, out, driver.BuildOptions(name="m"))
    return p, out


def _run_program(out: Path, T: int, chunks: list[int], x: np.ndarray) -> list[str]:
    (out / "stream.c").write_text(PROGRAM % dict(T=T, chunks=", ".join(map(str, chunks))))
    srcs = [str(p) for p in sorted((out / "src").glob("*.c"))]
    exe = out / "stream"
    subprocess.run(["gcc", *STRICT_CFLAGS, "-O2", "-Iinclude", "-o", str(exe), "stream.c", *srcs,
                    "-lm"], cwd=out, check=True)
    res = subprocess.run([str(exe)], input=" ".join(f"{v:.9g}" for v in x.reshape(-1)),
                         capture_output=True, text=True, check=True)
    return res.stdout.splitlines()


def _vals(line: str) -> np.ndarray:
    return np.array([float(v) for v in line.split()[1:]], np.float32)


@pytest.mark.parametrize("cell", ["LSTM", "GRU", "RNN"])
def test_chunks_steps_and_reset(tmp_path, cell):
    T, spec = 11, models.Spec(cell, "forward", 5, 9, 11, 2, initial_state=True)
    p, out = _project(tmp_path, spec)
    g = driver.compile_graph(p, driver.BuildOptions())
    assert g.streaming
    x = np.random.default_rng(3).uniform(-1, 1, (T, 1, 5)).astype(np.float32)
    chunks = [3, 1, 5, 2]
    lines = _run_program(out, T, chunks, x)
    ex = reference.Executor(g)
    full = ex.run(x)  # Y [T,1,1,H], Y_h [1,1,H] (, Y_c)
    names = list(g.outputs)
    H = spec.hidden
    # chunked runs: each chunk's per-step outputs are the matching slice of the full Y,
    # its final outputs are the state after the chunk's last step
    t = 0
    chunk_lines = [ln for ln in lines if ln.startswith("chunk")]
    for n, ln in zip(chunks, chunk_lines):
        v = _vals(ln)
        np.testing.assert_allclose(v[: n * H], full[names[0]][t:t + n].reshape(-1), atol=1e-5)
        np.testing.assert_allclose(v[n * H: n * H + H], full[names[0]][t + n - 1].reshape(-1),
                                   atol=1e-5)
        t += n
    step_lines = [ln for ln in lines if ln.startswith("step")]
    assert len(step_lines) == T
    for t, ln in enumerate(step_lines):
        np.testing.assert_allclose(_vals(ln)[:H], full[names[0]][t].reshape(-1), atol=1e-5)
    # the step outputs after reset equal the chunked ones bit for bit
    chunk_y = np.concatenate([_vals(ln)[: n * H] for n, ln in zip(chunks, chunk_lines)])
    step_y = np.concatenate([_vals(ln)[:H] for ln in step_lines])
    assert np.array_equal(chunk_y, step_y)
    assert lines[-1] == "zero -1"


def test_bidirectional_is_whole_sequence(tmp_path):
    spec = models.Spec("LSTM", "bidirectional", 4, 6, 7, 1)
    p, out = _project(tmp_path, spec)
    h = (out / "include" / "m.h").read_text()
    assert "#define M_STREAMING 0" in h and "m_step" not in h
    assert "bidirectional" in h
    m = json.loads((out / "manifest.json").read_text())
    assert m["streaming"] is False


def test_same_model_same_bytes(tmp_path):
    spec = models.Spec("GRU", "forward", 6, 10, 8, 2, lbr=1)
    p = tmp_path / "m.onnx"
    onnx.save(models.make_model(spec, 1), p)
    a, b = tmp_path / "a", tmp_path / "sub" / "b"
    driver.build(p, a, driver.BuildOptions(name="m"))
    driver.build(p, b, driver.BuildOptions(name="m"))
    files_a = sorted(q.relative_to(a) for q in a.rglob("*") if q.is_file())
    files_b = sorted(q.relative_to(b) for q in b.rglob("*") if q.is_file())
    assert files_a == files_b and len(files_a) >= 8
    match, mismatch, errors = filecmp.cmpfiles(a, b, [str(f) for f in files_a], shallow=False)
    assert not mismatch and not errors
