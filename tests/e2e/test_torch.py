"""rnngen.torch and `rnngen compress --finetune` end to end: the exported factors run in
onnxruntime, rnngen's reference and the generated C alike (atol 1e-5) for every format and
cell, on the host and, for a sample, on cortex-m4 and cortex-a73 under QEMU; fine-tuning a
tiny digit classifier beats the projection, deterministically; the user journey (train
dense, compress with fine-tuning, build, verify on cortex-m4) through public commands; bad
input is one line, exit code 2, nothing written."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from rnngen import compress as algo
from rnngen import driver, frontends, reference
from rnngen.torch import FastGRNN, FastRNN, export, structure

F32 = np.float32
ROOT = Path(__file__).resolve().parents[2]
I, H, T = 8, 24, 6
ATOL = 1e-5


def rnngen(*args, cwd=None, env=None):
    return subprocess.run([sys.executable, "-m", "rnngen.cli", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, env=env, timeout=600)


def one_line_error(r, *needles):
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rnngen: error: "), r.stderr
    for n in needles:
        assert n in lines[0], (n, lines[0])


class Net(torch.nn.Module):
    def __init__(self, cell: str, bidirectional: bool = False):
        super().__init__()
        self.rnn = getattr(torch.nn, cell)(I, H, bidirectional=bidirectional)
        self.fc = torch.nn.Linear(H * (2 if bidirectional else 1), 5)

    def forward(self, x):  # x [T, 1, I]
        y, _ = self.rnn(x)
        return self.fc(y)


def ort_run(path: Path, x: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    return sess.run(None, {sess.get_inputs()[0].name: x})[0]


def exported(tmp_path: Path, cell: str, method: str, bidir: bool = False
             ) -> tuple[Path, np.ndarray, np.ndarray]:
    """A structured model, trained one step, exported: (file, input, torch's output)."""
    torch.manual_seed(7)
    net = Net(cell, bidir)
    structure(net, method, 2.0)
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    xb = torch.randn(T, 4, I)
    opt.zero_grad()
    net(xb).square().mean().backward()
    opt.step()
    x = torch.rand(T, 1, I) * 2 - 1
    with torch.no_grad():
        want = net(x).numpy()
    path = export(net, x, tmp_path / f"{cell}_{method}.onnx", output_names=["y"])
    return path, x.numpy(), want


def check_everywhere(path: Path, x: np.ndarray, want: np.ndarray, tmp_path: Path,
                     target: str = "host", with_ort: bool = True) -> None:
    if with_ort:
        got = ort_run(path, x)
        np.testing.assert_allclose(got, want, atol=ATOL, rtol=0)
        want = got
    g = frontends.load(path, None)
    ref = reference.run(g, x)[g.outputs[0]]
    np.testing.assert_allclose(ref.reshape(want.shape), want, atol=ATOL, rtol=0)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "want.npy", want.reshape(ref.shape))
    res = driver.verify(path, driver.BuildOptions(target=target, input=str(tmp_path / "x.npy"),
                                                  expect=str(tmp_path / "want.npy"),
                                                  atol=ATOL, rtol=0))
    assert res.passed and res.report["mismatches"] == 0, res.output


CASES = [(c, m) for c in ("LSTM", "GRU", "RNN") for m in algo.METHODS]


@pytest.mark.parametrize("cell,method", CASES, ids=[f"{c}-{m}" for c, m in CASES])
def test_export_onnx_runtime_reference_and_c_agree(tmp_path, cell, method):
    path, x, want = exported(tmp_path, cell, method, bidir=cell == "GRU")
    # the file holds the factors, not the product
    kinds = {n.op_type for n in onnx.load(str(path)).graph.node}
    if method == "csr":
        assert onnx.load(str(path)).graph.sparse_initializer
    else:
        assert {"hmd": "Concat", "lmf": "MatMul", "kron": "Mul", "hkp": "Mul"}[method] in kinds
    check_everywhere(path, x, want, tmp_path)


@pytest.mark.parametrize("cls,method", [(FastRNN, "hmd"), (FastGRNN, "kron"),
                                        (FastRNN, "csr"), (FastGRNN, "lmf")])
def test_fast_cells_export_npz_reference_and_c_agree(tmp_path, cls, method):
    torch.manual_seed(2)
    cell = cls(I, H)
    fc = torch.nn.Linear(H, 3)
    structure(cell, method, 2.0)
    x = torch.rand(T, 1, I) * 2 - 1
    with torch.no_grad():
        want = fc(cell(x)[0]).numpy()
    path = export([cell, fc], x, tmp_path / "fast.npz")
    check_everywhere(path, x.numpy(), want, tmp_path, with_ort=False)


QEMU = [("LSTM", "hmd"), ("GRU", "kron"), ("RNN", "csr"), ("LSTM", "hkp"), ("GRU", "lmf")]


@pytest.mark.qemu
@pytest.mark.parametrize("board", ["cortex-m4", "cortex-a73"])
@pytest.mark.parametrize("cell,method", QEMU, ids=[f"{c}-{m}" for c, m in QEMU])
def test_export_under_qemu(tmp_path, board, cell, method):
    path, x, want = exported(tmp_path, cell, method)
    check_everywhere(path, x, want, tmp_path, target=board)


# ---------------------------------------------------------------------- compress --finetune

class Digits(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = torch.nn.LSTM(8, H)
        self.fc = torch.nn.Linear(H, 10)

    def forward(self, x):  # [8, B, 8]
        y, _ = self.lstm(x)
        return torch.softmax(self.fc(y[-1]), dim=-1)


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    """A tiny dense digit classifier (LSTM 8->24, 400 training digits, seconds) and its
    data split in the --eval format."""
    from sklearn.datasets import load_digits

    d = load_digits()
    x = (d.images / 16.0).astype(F32)
    y = d.target.astype(np.int64)
    order = np.random.default_rng(0).permutation(len(x))
    x, y = x[order], y[order]
    folder = tmp_path_factory.mktemp("digits")
    np.savez(folder / "train.npz", x=x[:400], y=y[:400])
    np.savez(folder / "val.npz", x=x[400:500], y=y[400:500])
    np.savez(folder / "test.npz", x=x[500:800], y=y[500:800])
    torch.manual_seed(0)
    net = Digits()
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    xt = torch.from_numpy(x[:400]).permute(1, 0, 2)
    yt = torch.from_numpy(y[:400])
    for _ in range(25):
        for k in range(0, 400, 50):
            opt.zero_grad()
            p = net(xt[:, k:k + 50])
            torch.nn.functional.nll_loss(torch.log(p + 1e-9), yt[k:k + 50]).backward()
            opt.step()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net.eval(), (xt[:, :1],), str(folder / "dense.onnx"), dynamo=False,
                          input_names=["x"], output_names=["p"])
    return folder


def test_finetune_beats_projection_and_is_deterministic(digits, tmp_path):
    args = [digits / "dense.onnx", "-m", "hmd", "-f", "2", "--finetune", digits / "train.npz",
            "--val", digits / "val.npz", "--eval", digits / "test.npz", "--epochs", "4",
            "--lr", "0.01", "--seed", "3", "--json"]
    r1 = rnngen("compress", *args, "-o", tmp_path / "a.onnx")
    assert r1.returncode == 0, r1.stderr
    res = json.loads(r1.stdout)
    ft, ev = res["finetune"], res["eval"]
    assert ft["epochs_run"] <= 4 and ft["train_examples"] == 400 and ft["split"] == "val"
    assert ft["accuracy_dense"] > 0.8
    # the projection loses most of it; four epochs of fine-tuning win much of it back
    assert ft["accuracy_finetuned"] > ft["accuracy_projection"] + 0.2
    assert ev["accuracy_after"] > 0.6 and "fine-tuning epoch" in r1.stderr
    # the written file holds the fine-tuned factors: rnngen's reference on it gives --eval's
    # accuracy (computed from the matrices in memory)
    g = frontends.load(tmp_path / "a.onnx", 8)
    data = np.load(digits / "test.npz")
    hits = sum(int(np.argmax(reference.run(g, xk.reshape(8, 1, 8))[g.outputs[0]]) == yk)
               for xk, yk in zip(data["x"], data["y"]))
    assert hits / len(data["y"]) == pytest.approx(ev["accuracy_after"])
    r2 = rnngen("compress", *args, "-o", tmp_path / "b.onnx")
    assert r2.returncode == 0, r2.stderr
    assert (tmp_path / "a.onnx").read_bytes() == (tmp_path / "b.onnx").read_bytes()


def test_finetune_csr_prunes_gradually_to_compress_nnz_npz(digits, tmp_path):
    """An .npz model, CSR with the gradual schedule and distillation; the final mask has
    exactly rnngen compress's nnz per gate block."""
    import rnngen.npz as rn

    torch.manual_seed(0)
    lstm, fc = torch.nn.LSTM(8, H), torch.nn.Linear(H, 10)
    rn.save(tmp_path / "d.npz", rn.from_torch(lstm, fc), input_size=8, seq_len=8,
            output="last")
    r = rnngen("compress", tmp_path / "d.npz", "-m", "csr", "-f", "3", "--finetune",
               digits / "train.npz", "--epochs", "2", "--distill", "--json",
               "-o", tmp_path / "c.npz")
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert res["finetune"]["distill"] and res["finetune"]["prune_epochs"] == 1
    nnz = algo.plan("csr", H, 8, 3.0, "x").nnz
    for m in res["matrices"]:
        assert m["params"] == 4 * algo.plan("csr", H, m["shape"][1], 3.0, "x").nnz
    g = frontends.load(tmp_path / "c.npz", 8)
    (node,) = [n for n in g.nodes if n.__class__.__name__ == "Recurrent"]
    assert node.directions[0].W.params == 4 * nnz


def test_user_journey_train_compress_build_verify_on_cortex_m4(digits, tmp_path):
    """Train dense (above: torch + torch.onnx.export), compress with fine-tuning in one
    command, build, verify on cortex-m4: each step a public command."""
    out = tmp_path / "kws_hkp.onnx"
    r = rnngen("compress", digits / "dense.onnx", "--method", "hkp", "--factor", "2",
               "--finetune", digits / "train.npz", "--val", digits / "val.npz",
               "--epochs", "2", "-o", out)
    assert r.returncode == 0, r.stderr
    assert "fine-tuned on" in r.stdout
    r = rnngen("build", out, "--target", "cortex-m4", "-o", tmp_path / "fw")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "fw" / "Makefile").exists()
    x = np.load(digits / "test.npz")["x"][0].reshape(8, 1, 8)
    np.save(tmp_path / "digit.npy", x)
    r = rnngen("verify", out, "--target", "cortex-m4", "--input", tmp_path / "digit.npy")
    assert r.returncode == 0 and r.stdout.startswith("PASS cortex-m4"), r.stdout + r.stderr


# ---------------------------------------------------------------------- bad input

def _bad(tmp_path: Path, name: str, **arrays) -> Path:
    p = tmp_path / name
    np.savez(p, **arrays)
    return p


def test_bad_training_data_one_line_exit_2_nothing_written(digits, tmp_path):
    out = tmp_path / "o.onnx"
    base = ["compress", digits / "dense.onnx", "-m", "hmd", "-f", "2", "-o", out]
    x = np.zeros((10, 8, 8), F32)
    shape = _bad(tmp_path, "shape.npz", x=np.zeros((10, 8, 5), F32), y=np.zeros(10, np.int64))
    one_line_error(rnngen(*base, "--finetune", shape), "shape.npz", "(8, 5)")
    labels = _bad(tmp_path, "labels.npz", x=x, y=np.full(10, 12, np.int64))
    one_line_error(rnngen(*base, "--finetune", labels), "labels.npz", "label 12",
                   "10 scores")
    nolabel = _bad(tmp_path, "nolabel.npz", x=x)
    one_line_error(rnngen(*base, "--finetune", nolabel), "nolabel.npz", "no array 'y'")
    one_line_error(rnngen(*base, "--finetune", tmp_path / "missing.npz"), "missing.npz",
                   "--finetune")
    badval = _bad(tmp_path, "val.npz", x=np.zeros((4, 7, 8), F32), y=np.zeros(4, np.int64))
    one_line_error(rnngen(*base, "--finetune", digits / "train.npz", "--val", badval),
                   "val.npz")
    one_line_error(rnngen(*base, "--val", digits / "val.npz"), "--finetune")
    r = rnngen("compress", digits / "dense.onnx", "-m", "kron", "-f", "2.5", "-o", out,
               "--finetune", digits / "train.npz")
    one_line_error(r, "kron cannot reach 2.5x", "closest reachable factor")
    assert not out.exists() and not list(tmp_path.glob(".o.onnx*"))


def test_finetune_without_torch_is_one_line_exit_2(digits, tmp_path):
    """PyTorch hidden from the interpreter: `import rnngen` and plain compress still work;
    --finetune names the extra to install."""
    out = tmp_path / "o.onnx"
    code = ("import sys; sys.modules['torch'] = None; from rnngen.cli import main; "
            "sys.argv = ['rnngen'] + sys.argv[1:]; main()")
    base = [sys.executable, "-c", code, "compress", str(digits / "dense.onnx"), "-m", "lmf",
            "-f", "2", "-o", str(out)]
    r = subprocess.run(base + ["--finetune", str(digits / "train.npz")], capture_output=True,
                       text=True, timeout=300)
    one_line_error(r, "PyTorch is not installed", "pip install rnngen[torch]")
    assert not out.exists()
    r = subprocess.run(base, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and out.exists(), r.stderr


@pytest.mark.parametrize("spec", [None, "w4a8"])
def test_finetune_qat_reports_the_int8_accuracy_of_the_written_model(digits, tmp_path, spec):
    """--qat keeps the epoch with the best int8 accuracy; that accuracy is what rnngen's
    integer reference gives for the written file, calibrated on the same 64 training
    sequences; with --precision, in those number types (int4 weights here)."""
    from rnngen import pipeline, precision

    out = tmp_path / "q.onnx"
    r = rnngen("compress", digits / "dense.onnx", "-m", "lmf", "-f", "2", "--finetune",
               digits / "train.npz", "--val", digits / "val.npz", "--epochs", "1", "--qat",
               "--json", "-o", out, *(["--precision", spec] if spec else []))
    assert r.returncode == 0, r.stderr
    ft = json.loads(r.stdout)["finetune"]
    assert ft["qat"] is True
    assert ft.get("precision") == ({"default": spec, "layers": {}} if spec else None)
    x = np.load(digits / "train.npz")["x"][:64].reshape(64, 8, 1, 8)
    np.save(tmp_path / "calib.npy", x)
    gq = pipeline.compile_model(out, pipeline.Options(
        seq_len=8, dtype="int8", calibrate=str(tmp_path / "calib.npy"),
        precision=precision.parse(spec) if spec else None))
    val = np.load(digits / "val.npz")
    o = gq.outputs[0]
    hits = sum(int(np.argmax(reference.Executor(gq, dtype="int8").run(
                   xk.reshape(8, 1, 8))[o]) == yk)
               for xk, yk in zip(val["x"], val["y"]))
    assert hits / len(val["y"]) == pytest.approx(ft["accuracy_finetuned"])
    one_line_error(rnngen("compress", digits / "dense.onnx", "-m", "lmf", "-f", "2", "--qat",
                          "-o", tmp_path / "z.onnx"), "--qat", "--finetune")
    one_line_error(rnngen("compress", digits / "dense.onnx", "-m", "lmf", "-f", "2",
                          "--finetune", digits / "train.npz", "--precision", "w4a8",
                          "-o", tmp_path / "z.onnx"), "--precision w4a8", "--qat")
    one_line_error(rnngen("compress", digits / "dense.onnx", "-m", "lmf", "-f", "2",
                          "--finetune", digits / "train.npz", "--qat", "--precision",
                          "nosuch=w4a8", "-o", tmp_path / "z.onnx"), "nosuch")
    assert not (tmp_path / "z.onnx").exists()
