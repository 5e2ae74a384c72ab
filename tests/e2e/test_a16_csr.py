"""int16 activations (w8a16, w4a16) in the csr format (issue 14): an LSTM and a GRU compressed
with `rnngen compress -m csr`, whole model and mixed per layer with w8a8 (a w8a8 layer reading
a w8a16 layer's int16 output, a w8a16 layer reading int8): the C equals the integer reference
exactly (atol 0) on the host and a seeded sample on cortex-a73, cortex-m4 and cortex-m55; the
csr blocks really read int16 x where their input is int16 (QCsr.xbits 16, the C calls
rnn_mat_vec_csr_a16_s16 / rnn_mat_vec_csr_a16_s4_s16: int64 sums always, no int32 variant)
and int8 x elsewhere; RNN, FastRNN, FastGRNN and SRU layers compressed with csr too (host);
such a project passes the C safety checks."""

from __future__ import annotations

import random
from pathlib import Path

import onnx
import pytest

from rnngen import compress, driver, formats, precision
from tests import a16, models

CELLS = {
    "LSTM": models.Spec("LSTM", "forward", 6, 12, 9, 2, initial_state=True),
    "GRU": models.Spec("GRU", "bidirectional", 6, 10, 8, 2, lbr=1),
}
# whole model, int16 into a w8a8 layer (layer 1's W x reads layer 0's int16 output), int8
# into a w8a16 layer, and int4 values
SPECS = ("w8a16", "l0_{c}=w8a16", "l1_{c}=w8a16", "w4a16", "l0_{c}=w4a16,l1_{c}=w8a16")


def _compressed(tmp_path: Path, cell: str) -> Path:
    return a16.compressed(tmp_path, CELLS[cell], "csr", cell)


_exact, _build = a16.exact, a16.build


def _csr(res: driver.BuildResult) -> list[tuple[str, str, object]]:
    return a16.blocks(res, "csr")


@pytest.mark.parametrize("spec", SPECS)
@pytest.mark.parametrize("cell", list(CELLS))
def test_csr_a16_exact_on_host(tmp_path, cell, spec):
    spec = spec.format(c=cell)
    model = _compressed(tmp_path, cell)
    _exact(model, spec)
    c, res = _build(tmp_path, model, spec)
    prec = precision.parse(spec)
    blocks = _csr(res)
    assert blocks  # something stayed sparse
    names = [f"l{i}_{cell}" for i in range(2)]
    a16 = {n: prec.of(n).act_bits == 16 for n in names}
    for layer, role, b in blocks:
        # R reads the layer's own h; W the model input (int16 when its reader is w8a16) or
        # layer 0's output (int16 when layer 0 is w8a16)
        src = layer if role == "R" or layer == names[0] else names[0]
        assert b.xbits == (16 if a16[src] else 8), (layer, role)
        assert b.bits == prec.of(layer).weight_bits, (layer, role)
    kinds = {(b.bits, b.xbits) for _, _, b in blocks}
    for (bits, xbits), k in {(8, 8): "rnn_mat_vec_csr_s8_s16(",
                             (4, 8): "rnn_mat_vec_csr_s4_s16(",
                             (8, 16): "rnn_mat_vec_csr_a16_s16(",
                             (4, 16): "rnn_mat_vec_csr_a16_s4_s16("}.items():
        assert (k in c) == ((bits, xbits) in kinds), (k, kinds)
    if spec in ("w8a16", "w4a16"):
        assert all(b.xbits == 16 for _, _, b in blocks)  # every matrix reads int16


@pytest.mark.parametrize("kind", ["rnn", "fast", "sru"])
def test_csr_a16_other_cells_exact_on_host(tmp_path, kind):
    """The other cells compressed with csr: RNN (ONNX, two layers), FastRNN -> FastGRNN and
    SRU -> SRU (.npz, each with a Linear head), w8a16 and w4a16 whole: exact, and every csr
    block reads int16 with the spec's value width."""
    from rnngen.compress_model import compress_file
    from tests.e2e.test_w8a16 import _fast_npz, _sru_npz

    if kind == "rnn":
        src = tmp_path / "rnn.onnx"
        onnx.save(models.make_model(models.Spec("RNN", "forward", 5, 8, 9, 2,
                                                activations=["Tanh"], alphas=[0.0],
                                                betas=[0.0]), 5), src)
    else:
        src = _fast_npz(tmp_path) if kind == "fast" else _sru_npz(tmp_path)
    model = tmp_path / f"{kind}_csr{src.suffix}"
    compress_file(src, model, "csr", 2.0, force=True, nearest=True)
    for spec, bits in (("w8a16", 8), ("w4a16", 4)):
        _exact(model, spec)
        _c, res = _build(tmp_path, model, spec)
        blocks = [b for q in res.graph.quant.nodes.values()
                  for d in getattr(q, "directions", ()) for m in (d.W, d.R) if m is not None
                  for b in formats.blocks(m) if b.fmt == "csr"]
        assert len(blocks) >= 2 and all(b.xbits == 16 and b.bits == bits for b in blocks)


def test_search_genes_take_a16_for_csr():
    """compress.supports (the search's precision genes) picks w8a16 and w4a16 for csr."""
    assert compress.supports("csr", "w8a16") and compress.supports("csr", "w4a16")
    assert 16 in compress.act_bits("csr")


@pytest.mark.qemu
@pytest.mark.parametrize("board", ["cortex-a73", "cortex-m4", "cortex-m55"])
def test_csr_a16_exact_on_boards(tmp_path, board):
    """A seeded sample: on each board both cells, each with two specs drawn by the board's
    seed."""
    rng = random.Random(f"a16-csr-{board}")
    for cell in sorted(CELLS):
        model = _compressed(tmp_path, cell)
        for spec in rng.sample(SPECS, 2):
            _exact(model, spec.format(c=cell), board)


def test_csr_a16_project_passes_the_c_safety_checks(tmp_path):
    """ASan + UBSan, valgrind memcheck and cppcheck on a csr LSTM project, layer 0 w4a16 and
    layer 1 w8a16 (both int16-input csr kernels)."""
    from tests.e2e import test_c_safety as cs

    proj = tmp_path / "proj"
    driver.build(_compressed(tmp_path, "LSTM"), proj, driver.BuildOptions(
        name="m", dtype="int8", measure=False,
        precision=precision.parse("l0_LSTM=w4a16,l1_LSTM=w8a16")))
    c = (proj / "src" / "m.c").read_text()
    assert "rnn_mat_vec_csr_a16_s4_s16(" in c and "rnn_mat_vec_csr_a16_s16(" in c
    cs.check_project(proj)
