""".npz models through the real C path, checked against PyTorch's own outputs, and the CLI.

Each verify builds the project, compiles it with the host gcc and runs the golden test
(about a second each), so the cases are few: one per cell type, covering stacked and
bidirectional layers, both output modes, streaming and whole-sequence models.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import rnngen.npz as rn
import torch
from rnngen import driver

ROOT = Path(__file__).resolve().parents[2]


def _lstm_softmax_sequence():
    lstm, fc = torch.nn.LSTM(6, 12, num_layers=2), torch.nn.Linear(12, 5)
    return (lstm, fc, torch.nn.Softmax(dim=-1)), lambda x: torch.softmax(fc(lstm(x)[0]), -1)


def _bigru_last():
    gru, fc = torch.nn.GRU(6, 10, bidirectional=True), torch.nn.Linear(20, 4)
    return (gru, fc), lambda x: fc(gru(x)[0][-1])


def _rnn_relu_mlp_last():
    rnn = torch.nn.RNN(6, 8, nonlinearity="relu", num_layers=2, bidirectional=False)
    head = torch.nn.Sequential(torch.nn.Linear(8, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3),
                               torch.nn.LogSoftmax(dim=-1))
    return (rnn, head), lambda x: head(rnn(x)[0][-1])


CASES = {
    # name: (model factory, output mode, streaming)
    "lstm2_softmax_sequence": (_lstm_softmax_sequence, "sequence", True),
    "bigru_linear_last": (_bigru_last, "last", False),
    "rnn_relu2_mlp_last": (_rnn_relu_mlp_last, "last", True),
}


@pytest.mark.parametrize("case", list(CASES))
def test_npz_model_runs_as_c_and_matches_pytorch(tmp_path, case):
    factory, output, streaming = CASES[case]
    torch.manual_seed(sum(map(ord, case)))
    modules, forward = factory()
    for m in modules:
        m.eval()
    T = 11
    model = rn.save(tmp_path / f"{case}.npz", rn.from_torch(*modules), input_size=6,
                    seq_len=T, output=output)
    x = torch.randn(T, 1, 6)
    with torch.no_grad():
        y = forward(x).numpy()
    np.save(tmp_path / "x.npy", x.numpy())
    np.save(tmp_path / "y.npy", y)
    res = driver.verify(model, driver.BuildOptions(target="host", input=str(tmp_path / "x.npy"),
                                                   expect=str(tmp_path / "y.npy")))
    assert res.passed, res.output
    assert res.report["mismatches"] == 0
    assert res.report["values"] == y.size
    assert res.report["reference"] == "expected"
    assert res.report["streaming"] is streaming
    assert res.report["stream_errors"] == 0


def _doc_example() -> str:
    text = (ROOT / "docs" / "npz-format.md").read_text()
    section = text.split("### Example", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)


def test_documented_example_exports_and_verifies(tmp_path, monkeypatch):
    """The train-side example in docs/npz-format.md, run as written, then verified as C."""
    monkeypatch.chdir(tmp_path)
    torch.manual_seed(0)
    # run the documented code exactly as a user would paste it
    exec(compile(_doc_example(), "npz-format.md", "exec"), {"__name__": "example"})  # noqa: S102
    assert Path("kws.npz").exists()
    res = driver.verify("kws.npz", driver.BuildOptions(target="host", input="x.npy",
                                                       expect="y.npy"))
    assert res.passed, res.output
    assert res.report["values"] == 12
    assert res.report["streaming"] is True


# ------------------------------------------------------------------ CLI

def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rnngen.cli", *args], check=False,
                          capture_output=True, text=True, cwd=cwd, timeout=300)


def _model(tmp_path: Path, seq_len: int | None = 8) -> Path:
    torch.manual_seed(1)
    lstm, fc = torch.nn.LSTM(4, 6), torch.nn.Linear(6, 3)
    return rn.save(tmp_path / "m.npz", rn.from_torch(lstm, fc, torch.nn.Softmax(dim=-1)),
                   seq_len=seq_len, output="last")


def test_cli_inspect(tmp_path):
    _model(tmp_path)
    r = _cli("inspect", "m.npz", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "m.npz: input 'input' [8, 1, 4], T=8, streaming"
    assert lines[1].split() == ["LSTM", "lstm0", "forward", "4->6,", "288", "params,", "240",
                                "MACs/step"]
    assert "output 'output' [1, 3]" in r.stdout
    r = _cli("inspect", "m.npz", "--seq-len", "20", "--json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert info["seq_len"] == 20 and info["streaming"] is True
    assert [lay["op"] for lay in info["layers"]] == ["LSTM", "Linear", "Softmax"]


def test_cli_build(tmp_path):
    _model(tmp_path)
    r = _cli("build", "m.npz", "-o", "out", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("wrote out (host, streaming, ")
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["streaming"] is True
    assert (tmp_path / "out" / "include" / "m.h").exists()


@pytest.mark.parametrize("command", ["inspect", "build"])
def test_cli_bad_npz_exits_2_with_one_line(tmp_path, command):
    z = dict(np.load(_model(tmp_path)))
    del z["layer0.R"]
    np.savez(tmp_path / "missing.npz", **z)
    _model(tmp_path, seq_len=None)  # m.npz without a default sequence length
    (tmp_path / "junk.npz").write_bytes(b"PK\x03\x04 this is not really a zip")
    cases = [
        ("missing.npz", ("missing.npz: layer 0 (lstm) directions[0].R.w: array 'layer0.R' is "
                        "not in the archive")),
        ("junk.npz", "junk.npz: not a readable .npz archive ("),
        ("m.npz", ("m.npz: manifest: no sequence length (field 'seq_len' is absent); give one "
                  "with --seq-len")),
    ]
    for name, message in cases:
        extra = ["-o", "out"] if command == "build" else []
        r = _cli(command, name, *extra, cwd=tmp_path)
        assert r.returncode == 2, (name, r.stdout, r.stderr)
        assert r.stderr.count("\n") == 1, r.stderr
        assert r.stderr.startswith(f"rnngen: error: {message}"), r.stderr
        assert "Traceback" not in r.stderr
        assert not (tmp_path / "out").exists()
