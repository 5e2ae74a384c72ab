"""rnngen verify with N input sequences and --expect for each (onnxruntime's outputs as the
oracle), the int8 tolerance derived from the quantization against float outputs, and the
warnings build prints."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
EX = ROOT / "examples" / "lstm_classifier"
MODEL = EX / "model.onnx"


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "rnngen.cli", *args], capture_output=True,
                          text=True, cwd=cwd, check=False)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import onnxruntime as ort

    d = tmp_path_factory.mktemp("seqs")
    x = np.load(EX / "test.npz")["x"][:20].reshape(20, 8, 1, 8)
    s = ort.InferenceSession(str(MODEL))
    y = np.stack([s.run(None, {"digit_rows": xi})[0] for xi in x])  # [20, 1, 10]
    np.save(d / "xs.npy", x)
    np.save(d / "ys.npy", y)
    bad = y.copy()
    bad[7, 0, 3] += 0.5
    np.save(d / "ys_bad.npy", bad)
    np.save(d / "ys_short.npy", y[:19])
    return d


@pytest.mark.qemu
def test_each_sequence_against_onnxruntime(data: Path) -> None:
    r = cli("verify", str(MODEL), "--target", "cortex-m4", "--input", "xs.npy", "--expect",
            "ys.npy", "--json", cwd=data)
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    assert rep["sequences"] == 20 and rep["failed_count"] == 0 and rep["values"] == 200
    assert rep["max_abs_err"] < 1e-5 and rep["stream_errors"] == 0


@pytest.mark.qemu
def test_a_wrong_expected_sequence_is_named(data: Path) -> None:
    r = cli("verify", str(MODEL), "--target", "cortex-m4", "--input", "xs.npy", "--expect",
            "ys_bad.npy", cwd=data)
    assert r.returncode == 1
    assert "20 sequences: 19 passed, failed: 7" in r.stdout
    assert "1 of 200 values outside" in r.stdout


@pytest.mark.qemu
def test_int8_against_float_outputs_derives_and_states_the_tolerance(data: Path) -> None:
    r = cli("verify", str(MODEL), "--target", "cortex-m4", "--input", "xs.npy", "--expect",
            "ys.npy", "--dtype", "int8", "--calibrate", str(EX / "digit.npy"), "--json",
            cwd=data)
    assert r.returncode == 0, r.stdout + r.stderr
    rep = json.loads(r.stdout)
    assert "atol derived from the quantization" in rep["tolerance"]
    steps = rep["atol"] * 256  # the output 'probabilities' has scale 1/256
    assert steps == int(steps) and steps >= 2 and rep["rtol"] == 0
    assert rep["max_abs_err"] <= rep["atol"]
    # the same check at the old default tolerance fails: the derivation is what passes it
    strict = cli("verify", str(MODEL), "--target", "cortex-m4", "--input", "xs.npy",
                 "--expect", "ys.npy", "--dtype", "int8", "--calibrate", str(EX / "digit.npy"),
                 "--atol", "1e-5", cwd=data)
    assert strict.returncode == 1


def test_warnings_build_prints_are_printed(data: Path) -> None:
    r = cli("verify", str(MODEL), "--target", "host", "--dtype", "int8", cwd=data)
    assert r.returncode == 0, r.stderr
    assert "rnngen: warning: no --calibrate data" in r.stderr


def test_expect_for_the_wrong_number_of_sequences(data: Path) -> None:
    r = cli("verify", str(MODEL), "--target", "host", "--input", "xs.npy", "--expect",
            "ys_short.npy", cwd=data)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "for the 20 input sequences it must be [20, 1, 10]" in lines[0]
