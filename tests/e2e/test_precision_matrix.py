"""Issue 14's matrix in one place: every cell x every matrix format x the integer precisions
(w8a8, w4a8, w8a16, w4a16), the C equal to rnngen's integer reference exactly (atol 0).

Each model (an LSTM, GRU and RNN of two layers as ONNX; FastRNN -> FastGRNN and SRU -> SRU as
.npz; each with a Linear head) is compressed with each method (`rnngen compress -m METHOD -f 2
--nearest`: hmd, lmf, csr, kron, hkp; dense too) and built twice: once with int16 activations
(the first recurrent layer w8a16, the rest w4a16: a w4a16 layer reading int16, and the head),
once with int8 activations (the first recurrent layer w4a8, the rest w8a8). Host for all;
cortex-a73, cortex-m4 and cortex-m55 for a seeded sample of (model, method) pairs. The
per-format files (test_a16_lowrank, test_a16_hmd, test_a16_csr, test_a16_kron,
test_precision_formats, test_w8a16, test_w4a16) go deeper into each (int64 sums, both
Kronecker orders, mixes both ways, the kernels called)."""

from __future__ import annotations

import random
from pathlib import Path

import onnx
import pytest

from rnngen import driver, ir
from tests import a16, models
from tests.e2e import test_w8a16 as w8a16
from tests.e2e.test_bad_input import rnngen

MODELS = ("LSTM", "GRU", "RNN", "fast", "SRU")
METHODS = ("dense", "hmd", "lmf", "csr", "kron", "hkp")
ONNX_SPECS = {"LSTM": models.Spec("LSTM", "forward", 6, 12, 6, 2),
              "GRU": models.Spec("GRU", "bidirectional", 6, 10, 6, 2, lbr=1),
              "RNN": models.Spec("RNN", "forward", 6, 12, 6, 2, activations=["Tanh"],
                                 alphas=[0.0], betas=[0.0])}


def _model(folder: Path, which: str, method: str) -> Path:
    if which in ONNX_SPECS:
        src = folder / f"{which}.onnx"
        onnx.save(models.make_model(ONNX_SPECS[which], 7), src)
    else:
        src = w8a16._fast_npz(folder) if which == "fast" else w8a16._sru_npz(folder)
    if method == "dense":
        return src
    out = folder / f"{which}_{method}{src.suffix}"
    r = rnngen("compress", str(src), "-m", method, "-f", "2", "--nearest", "-o", str(out))
    assert r.returncode == 0, r.stderr
    return out


def _specs(model: Path) -> tuple[str, str]:
    """(int16 activations, int8 activations): the first recurrent layer w8a16 / w4a8, every
    other layer w4a16 / w8a8."""
    g = driver.compile_graph(model, driver.BuildOptions())
    first = next(n.name for n in g.nodes if isinstance(n, ir.Recurrent))
    return f"w4a16,{first}=w8a16", f"w8a8,{first}=w4a8"


_exact = a16.exact


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("which", MODELS)
def test_every_cell_format_and_precision_exact_on_host(tmp_path, which, method):
    model = _model(tmp_path, which, method)
    for spec in _specs(model):
        _exact(model, spec, "host")


# a seeded sample of (model, method) pairs per board (the per-format files sample LSTM and GRU
# on every board; this one reaches the other cells there too)
_RNG = random.Random(14)
SAMPLE = {b: _RNG.sample([(m, f) for m in MODELS for f in METHODS if f != "dense"], 2)
          for b in ("cortex-a73", "cortex-m4", "cortex-m55")}


@pytest.mark.qemu
@pytest.mark.parametrize("board,which,method",
                         [(b, m, f) for b, pairs in SAMPLE.items() for m, f in pairs])
def test_seeded_sample_exact_on_boards(tmp_path, board, which, method):
    model = _model(tmp_path, which, method)
    for spec in _specs(model):
        _exact(model, spec, board)
