"""Rough edges from the first-hour trial (issue 15): compressing a compressed model is
refused; --nearest takes the closest reachable factor; CSR's factor in bytes; the banner's
Command: line lists only what differs from the defaults; CSR's fast reference matvec."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rnngen import driver, formats

ROOT = Path(__file__).resolve().parents[2]
EX = ROOT / "examples" / "lstm_classifier" / "model.onnx"


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "rnngen.cli", *args], capture_output=True,
                          text=True, check=False)


@pytest.mark.parametrize("method", ["csr", "hmd"])
def test_compressing_a_compressed_model_is_refused(tmp_path: Path, method: str) -> None:
    first = tmp_path / "c.onnx"
    assert cli("compress", str(EX), "-m", method, "-f", "2", "-o", str(first)).returncode == 0
    r = cli("compress", str(first), "-m", "lmf", "-f", "2", "-o", str(tmp_path / "cc.onnx"))
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "W is already compressed" in lines[0] and str(first) in lines[0]
    assert not (tmp_path / "cc.onnx").exists()


def test_compressing_a_compressed_npz_is_refused(tmp_path: Path) -> None:
    from rnngen import npz

    import torch
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(16, 32)
    npz.save(tmp_path / "m.npz", npz.from_torch(lstm), input_size=16, seq_len=4)
    assert cli("compress", str(tmp_path / "m.npz"), "-m", "lmf", "-f", "2", "-o",
               str(tmp_path / "c.npz")).returncode == 0
    r = cli("compress", str(tmp_path / "c.npz"), "-m", "csr", "-f", "2", "-o",
            str(tmp_path / "cc.npz"))
    assert r.returncode == 2 and "already compressed" in r.stderr


def test_nearest_takes_the_closest_reachable_factor(tmp_path: Path) -> None:
    out = tmp_path / "n.onnx"
    r = cli("compress", str(EX), "-m", "hmd", "-f", "50", "-o", str(out))
    assert r.returncode == 2 and "closest reachable factor is 3.556x" in r.stderr
    assert "--nearest takes it" in r.stderr
    r = cli("compress", str(EX), "-m", "hmd", "-f", "50", "-o", str(out), "--nearest", "--json")
    assert r.returncode == 0, r.stderr
    mats = json.loads(r.stdout)["matrices"]
    assert [round(m["storage_factor"], 3) for m in mats] == [3.556, 10.667]
    text = cli("compress", str(EX), "-m", "hmd", "-f", "50", "-o", str(out), "--nearest",
               "--force").stdout
    assert "--nearest: 0 /lstm/LSTM W at 3.556x (50x is not reachable" in text
    # the written model is the one reported: rnngen reads the factors back
    info = json.loads(cli("inspect", str(out), "--json").stdout)
    assert [m["compression"] for m in info["layers"][0]["matrices"]] == [3.556, 10.667]


def test_csr_factor_in_bytes_counts_the_indices(tmp_path: Path) -> None:
    r = cli("compress", str(EX), "-m", "csr", "-f", "2", "-o", str(tmp_path / "c.onnx"),
            "--json")
    t = json.loads(r.stdout)["totals"]
    # 2560 values stored as compiled: rows padded with zeros to multiples of 4 entries, 2956
    # entries of a float32 value (4 B) and a uint16 column index each + 2 x 129 int32 row
    # pointers
    assert t["bytes"] == 2956 * 4 + 2956 * 2 + 2 * 129 * 4 == 18768
    assert t["byte_factor"] == pytest.approx(20480 / 18768)
    assert t["storage_factor"] == 2.0
    text = cli("compress", str(EX), "-m", "csr", "-f", "2", "-o", str(tmp_path / "c.onnx"),
               "--force").stdout
    assert "(20480 -> 18768 B, 1.091x in bytes with indices)" in text


def test_command_line_lists_only_what_was_given(tmp_path: Path) -> None:
    driver.build(EX, tmp_path / "a", driver.BuildOptions(measure=False))
    assert " * Command: rnngen build model.onnx\n" in (tmp_path / "a/src/model.c").read_text()
    assert "# Command: rnngen build model.onnx --target host\n" in \
        (tmp_path / "a/Makefile").read_text()
    driver.build(EX, tmp_path / "b", driver.BuildOptions(
        measure=False, name="kws", atol=1e-3, dtype="int8", io="int8"))
    line = next(x for x in (tmp_path / "b/src/kws.c").read_text().splitlines()
                if "Command:" in x)
    assert line == " * Command: rnngen build model.onnx --name kws --dtype int8 --io int8 " \
        "--atol 0.001"


def test_csr_matvec_against_the_dense_product() -> None:
    rng = np.random.default_rng(0)
    for trial in range(100):
        m, n = (int(v) for v in rng.integers(1, 40, 2))
        w = (rng.standard_normal((m, n)) * (rng.random((m, n)) < rng.random())).astype(
            np.float32)
        if trial % 10 == 0:
            w[: m // 2] = 0  # empty rows, first and in a run
        ptr, cols, vals = [0], [], []
        for i in range(m):
            nz = np.nonzero(w[i])[0]
            cols += nz.tolist()
            vals += w[i, nz].tolist()
            ptr.append(len(cols))
        c = formats.Csr(np.array(vals, np.float32), np.array(cols, np.int32),
                   np.array(ptr, np.int32), n)
        x = rng.standard_normal(n).astype(np.float32)
        want = w.astype(np.float64) @ x.astype(np.float64)
        np.testing.assert_allclose(c.matvec(x), want, rtol=1e-5, atol=1e-5)
