"""The SRU cell (Lei et al. 2018) from .npz, against a PyTorch implementation written here.

The oracle follows the paper's equations with plain torch ops (float64), not rnngen code:

    f = sigmoid(W_f x + v_f c + b_f)     r = sigmoid(W_r x + v_r c + b_r)
    c = f c + (1 - f) (W x)              h = r c + (1 - r) x'    (x' = x, or W_p x if I != H)

Every matrix is built from its factors here (dense, HMD, low-rank, CSR, Kronecker), so the
oracle multiplies the same dense matrices the compressed entries stand for. Checked: rnngen's
float reference and the float C against torch (atol 1e-5), and the int8 C against the integer
reference bit for bit, on the host and (QEMU) cortex-a73 and cortex-m4.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import rnngen.npz as rn
import torch
from rnngen import driver, frontends, reference

F32 = np.float32
T = 9


# --------------------------------------------------------------------------- the oracle

def torch_sru(x: np.ndarray, d: dict, reverse: bool) -> np.ndarray:
    """h [T, H] of one direction; d holds dense W, Wf, Wr, Wp (or None), vf, vr, bf, br, c0."""
    t = {k: torch.tensor(v, dtype=torch.float64) for k, v in d.items() if v is not None}
    c = t["c0"].clone()
    xs = torch.tensor(x, dtype=torch.float64)
    out = torch.zeros(xs.shape[0], c.shape[0], dtype=torch.float64)
    steps = range(xs.shape[0] - 1, -1, -1) if reverse else range(xs.shape[0])
    for s in steps:
        xt = xs[s]
        f = torch.sigmoid(t["W_f"] @ xt + t["v_f"] * c + t["b_f"])
        r = torch.sigmoid(t["W_r"] @ xt + t["v_r"] * c + t["b_r"])
        c = f * c + (1 - f) * (t["W"] @ xt)
        hw = xt if "W_p" not in t else t["W_p"] @ xt
        out[s] = r * c + (1 - r) * hw
    return out.numpy()


# --------------------------------------------------------------------------- models

def _block(fmt: str, m: int, n: int, rng: np.random.Generator) -> tuple[object, np.ndarray]:
    """(matrix entry, the dense matrix it stands for, computed here)."""
    def r(*s: int) -> np.ndarray:
        return (rng.standard_normal(s) * 0.4).astype(F32)

    if fmt == "dense":
        w = r(m, n)
        return w, w
    if fmt == "hmd":  # W = [A' ; [B C^T | D E^T]]
        k, h = 2, -(-n // 2)
        a, b, c, d, e = r(k, n), r(m - k), r(h), r(m - k), r(n - h)
        lower = np.concatenate([np.outer(b, c), np.outer(d, e)], axis=1)
        return rn.hmd(a, b, c, d, e), np.concatenate([a, lower]).astype(F32)
    if fmt == "lowrank":
        u, v = r(m, 2), r(2, n)
        return rn.lowrank(u, v), (u.astype(np.float64) @ v).astype(F32)
    if fmt == "csr":
        w = r(m, n)
        w[rng.random((m, n)) < 0.6] = 0
        return rn.csr_from_dense(w), w
    if fmt == "kron":  # (A kron B)[:m, :n], padded for odd sizes
        a, b = r(-(-m // 2), -(-n // 2)), r(2, 2)
        return rn.kron(a, b, (m, n)), np.kron(a, b)[:m, :n].astype(F32)
    raise AssertionError(fmt)


def make(path: Path, fmt: str, I: int, H: int, wp_fmt: str = "dense",
         direction: str = "forward", seed: int = 0, output: str = "sequence"
         ) -> tuple[Path, list[dict]]:
    """An .npz with one SRU layer (W, W_f, W_r in `fmt`, W_p in `wp_fmt` when I != H);
    returns it and the dense parts of each direction for the oracle."""
    rng = np.random.default_rng(seed)
    D = 2 if direction == "bidirectional" else 1
    entries, dense = [], []
    for _ in range(D):
        parts = {k: _block(fmt, H, I, rng) for k in ("W", "W_f", "W_r")}
        if I != H:
            parts["W_p"] = _block(wp_fmt, H, I, rng)
        blocks = [parts[k][0] for k in parts]
        entries.append(rn.stack(*blocks) if any(isinstance(b, dict) for b in blocks)
                       else np.concatenate(blocks))
        vec = {k: (rng.standard_normal(H) * s).astype(F32)
               for k, s in (("v_f", 0.5), ("v_r", 0.5), ("b_f", 0.3), ("b_r", 0.3),
                            ("c0", 0.3))}
        dense.append({**{k: v[1] for k, v in parts.items()}, **vec,
                      "W_p": parts["W_p"][1] if "W_p" in parts else None})
    pick = (lambda k: [d[k] for d in dense]) if D == 2 else (lambda k: dense[0][k])
    layer = rn.sru(entries if D == 2 else entries[0], pick("v_f"), pick("v_r"), pick("b_f"),
                   pick("b_r"), c0=pick("c0"), direction=direction, input_size=I,
                   hidden_size=H)
    rn.save(path, [layer], input_size=I, seq_len=T, output=output)
    return path, dense


def oracle(x: np.ndarray, dense: list[dict], output: str = "sequence",
           direction: str = "forward") -> np.ndarray:
    """The model's output ([T, 1, D H] per step, forward then backward; or the last step)."""
    hs = [torch_sru(x.reshape(T, -1), d, reverse=k == 1 or direction == "reverse")
          for k, d in enumerate(dense)]
    y = np.concatenate(hs, axis=1).reshape(T, 1, -1)
    return y[-1] if output == "last" else y


def _x(I: int, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1, 1, (T, 1, I)).astype(F32)


# --------------------------------------------------------------------------- reference

SHAPES = [(6, 6), (5, 8)]  # I == H (highway x), I != H (projection W_p)
FORMATS = ["dense", "hmd", "lowrank", "csr", "kron"]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("I,H", SHAPES)
def test_reference_matches_torch(tmp_path, fmt, I, H):
    for wp in (("dense", fmt) if I != H else ("dense",)):
        for direction in ("forward", "reverse", "bidirectional"):
            p, dense = make(tmp_path / "m.npz", fmt, I, H, wp_fmt=wp, direction=direction,
                            seed=I * 7 + H)
            x = _x(I)
            got = reference.run(frontends.load(p, None), x)["output"]
            np.testing.assert_allclose(got, oracle(x, dense, "sequence", direction), atol=1e-5,
                                       rtol=0)


# --------------------------------------------------------------------------- float C

def _verify(p: Path, x: np.ndarray, y: np.ndarray | None, board: str = "host",
            dtype: str = "float32") -> dict:
    np.save(p.with_suffix(".x.npy"), x)
    expect = None
    if y is not None:
        np.save(p.with_suffix(".y.npy"), y)
        expect = str(p.with_suffix(".y.npy"))
    res = driver.verify(p, driver.BuildOptions(
        target=board, input=str(p.with_suffix(".x.npy")), expect=expect, atol=1e-5,
        rtol=0.0 if dtype == "float32" else 1e-4, dtype=dtype,
        # int8: calibrated on the golden input itself, so no value falls outside its range
        calibrate=str(p.with_suffix(".x.npy")) if dtype == "int8" else None))
    assert res.passed, res.output
    assert res.report["mismatches"] == 0 and res.report["values"] > 0
    return res.report


FLOAT_CASES = [  # (format, I, H, W_p format, direction, output)
    ("dense", 6, 6, "dense", "forward", "sequence"),
    ("hmd", 5, 8, "dense", "bidirectional", "sequence"),
    ("lowrank", 5, 8, "lowrank", "forward", "last"),
    ("csr", 6, 6, "dense", "reverse", "sequence"),
    ("kron", 5, 8, "kron", "forward", "sequence"),
]


@pytest.mark.parametrize("case", FLOAT_CASES, ids=lambda c: "-".join(map(str, c)))
def test_float_c_matches_torch_on_host(tmp_path, case):
    fmt, I, H, wp, direction, output = case
    p, dense = make(tmp_path / "m.npz", fmt, I, H, wp, direction, seed=3, output=output)
    x = _x(I, seed=4)
    rep = _verify(p, x, oracle(x, dense, output, direction))
    assert rep["reference"] == "expected" and rep["atol"] == 1e-5 and rep["rtol"] == 0.0
    # a forward layer streams: the step API is checked too
    assert rep["streaming"] is (direction == "forward")
    assert rep["stream_errors"] == 0


# --------------------------------------------------------------------------- int8

INT8_CASES = [  # every format, both shapes, W_p compressed and not
    ("dense", 6, 6, "dense", "forward"),
    ("dense", 5, 8, "dense", "forward"),
    ("hmd", 6, 6, "dense", "bidirectional"),
    ("hmd", 5, 8, "dense", "forward"),
    ("lowrank", 5, 8, "lowrank", "forward"),
    ("lowrank", 6, 6, "dense", "forward"),
    ("csr", 5, 8, "csr", "reverse"),
    ("kron", 5, 8, "kron", "forward"),
]


def _int8(tmp_path: Path, case: tuple, board: str) -> dict:
    fmt, I, H, wp, direction = case
    p, dense = make(tmp_path / "m.npz", fmt, I, H, wp, direction, seed=5)
    x = _x(I, seed=6)
    rep = _verify(p, x, None, board=board, dtype="int8")
    # bit for bit: the C against the integer reference with a tolerance of zero
    assert rep["dtype"] == "int8" and rep["reference"] == "rnngen reference"
    assert rep["atol"] == 0 and rep["rtol"] == 0
    # and the integer model is a close approximation of the float one (torch)
    y = oracle(x, dense, "sequence", direction)
    assert rep["int8_vs_float_max_abs_err"] < 0.03 * float(np.max(np.abs(y))) + 0.02, rep
    return rep


@pytest.mark.parametrize("case", INT8_CASES, ids=lambda c: "-".join(map(str, c)))
def test_int8_c_equals_integer_reference_on_host(tmp_path, case):
    _int8(tmp_path, case, "host")


@pytest.mark.qemu
@pytest.mark.parametrize("board", ["cortex-a73", "cortex-m4"])
@pytest.mark.parametrize("case", [INT8_CASES[3], INT8_CASES[2], INT8_CASES[4]],
                         ids=lambda c: "-".join(map(str, c)))
def test_int8_c_exact_on_boards(tmp_path, case, board):
    _int8(tmp_path, case, board)


@pytest.mark.qemu
@pytest.mark.parametrize("board", ["cortex-a73", "cortex-m4"])
def test_float_c_matches_torch_on_boards(tmp_path, board):
    p, dense = make(tmp_path / "m.npz", "hmd", 5, 8, "lowrank", "bidirectional", seed=8)
    x = _x(5, seed=9)
    _verify(p, x, oracle(x, dense), board=board)


# --------------------------------------------------------------------------- CLI

def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rnngen.cli", *args], capture_output=True,
                          text=True, timeout=120, check=False)


def test_inspect_shows_the_sru_without_a_recurrent_matrix(tmp_path):
    p, _ = make(tmp_path / "m.npz", "hmd", 5, 8, "dense")
    r = _cli("inspect", str(p))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    layer = next(ln for ln in lines if ln.lstrip().startswith("SRU"))
    # W: three hmd blocks and the dense W_p, [4H, I]; v_f v_r b_f b_r; no R
    assert "forward 5->8" in layer
    assert any("hmd+hmd+hmd+dense 32x5" in ln for ln in lines), r.stdout
    assert not any(ln.split()[:1] == ["R"] for ln in lines), r.stdout
