"""int16 activations (w8a16, w4a16) in the Kronecker format and so in hkp (a row stack of
dense rows over a kron block; issue 14): an LSTM and a GRU compressed with `rnngen compress
-m kron` and `-m hkp`, whole model and mixed per layer with w8a8 (a w8a8 layer reading a
w8a16 layer's int16 output, a w8a16 layer reading int8): the C equals the integer reference
exactly (atol 0) on the host and a seeded sample on cortex-a73, cortex-m4 and cortex-m55.
The first stage (A X or X B^T: both orders occur in these models, and zero-padded products)
really reads int16 x (the plan's kron blocks have xbits 16, the C calls
rnn_mat_vec_kron_a16_s16 / rnn_mat_vec_kron_a16_s4_s16 and no int8-input kron kernel) and t
stays int8 (the second stage is the int8 kernel's); such a project passes the C safety
checks. The int64 first stage past an int32 bound: tests/kernels/test_kron_a16_kernels.py."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from rnngen import compress, driver, precision
from tests import a16, models

CELLS = {
    "LSTM": models.Spec("LSTM", "forward", 6, 12, 9, 2, initial_state=True),
    "GRU": models.Spec("GRU", "bidirectional", 6, 10, 8, 2, lbr=1),
}
# prime sizes: kron pads the products (W 44 x 7 over 11 x 9, R 44 x 11 over 12 columns)
PADDED = models.Spec("LSTM", "forward", 7, 11, 5, 1)
METHODS = ("kron", "hkp")
# whole model, int16 into a w8a8 layer (layer 1's W x reads layer 0's int16 output), and
# int8 into a w8a16 layer
SPECS = ("w8a16", "l0_{c}=w8a16", "l1_{c}=w8a16", "w4a16", "l0_{c}=w4a16,l1_{c}=w8a16")
KERNELS = {(8, 8): "rnn_mat_vec_kron_s8_s16(", (4, 8): "rnn_mat_vec_kron_s4_s16(",
           (8, 16): "rnn_mat_vec_kron_a16_s16(", (4, 16): "rnn_mat_vec_kron_a16_s4_s16("}


def _compressed(tmp_path: Path, cell: str, method: str, spec: models.Spec | None = None
                ) -> Path:
    return a16.compressed(tmp_path, spec or CELLS[cell], method, cell)


_exact, _build = a16.exact, a16.build


def _kron(res: driver.BuildResult) -> list[tuple[str, str, object]]:
    return a16.blocks(res, "kron")


@pytest.mark.parametrize("spec", SPECS)
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("cell", list(CELLS))
def test_kron_a16_exact_on_host(tmp_path, cell, method, spec):
    spec = spec.format(c=cell)
    model = _compressed(tmp_path, cell, method)
    _exact(model, spec)
    c, res = _build(tmp_path, model, spec)
    prec = precision.parse(spec)
    blocks = _kron(res)
    assert blocks  # something stayed Kronecker
    names = [f"l{i}_{cell}" for i in range(2)]
    a16 = {n: prec.of(n).act_bits == 16 for n in names}
    for layer, role, b in blocks:
        # R reads the layer's own h; W the model input (int16 when its reader is w8a16) or
        # layer 0's output (int16 when layer 0 is w8a16)
        src = layer if role == "R" or layer == names[0] else names[0]
        assert b.xbits == (16 if a16[src] else 8), (layer, role)
        assert b.bits == prec.of(layer).weight_bits, (layer, role)
        if b.xbits == 16:
            assert b.zx == 0  # symmetric int16 x
    used = {(b.bits, b.xbits) for _, _, b in blocks}
    for key, call in KERNELS.items():
        assert (call in c) == (key in used), (key, call)
    if spec in ("w8a16", "w4a16"):
        assert all(b.xbits == 16 for _, _, b in blocks)
        # hkp: the dense rows over the kron block read the same int16 x
        assert ("rnn_mat_vec_a16_" in c) == (method == "hkp")


def test_models_cover_both_orders_and_padding(tmp_path):
    """The models above (w8a16) hold kron blocks of both orders (A X first and X B^T
    first) reading int16, and the padded model zero-padded products; all exact."""
    orders = set()
    for cell in CELLS:
        for method in METHODS:
            _, res = _build(tmp_path, _compressed(tmp_path, cell, method), "w8a16")
            orders |= {b.ax_first for _, _, b in _kron(res) if b.xbits == 16}
    assert orders == {True, False}
    model = _compressed(tmp_path, "padded", "kron", PADDED)
    for spec in ("w8a16", "w4a16"):
        _exact(model, spec)
    _, res = _build(tmp_path, model, "w8a16")
    blocks = [b for _, _, b in _kron(res)]
    assert any(b.a.shape[1] * b.b.shape[1] > b.cols for b in blocks)
    assert all(b.xbits == 16 for b in blocks)


def test_search_genes_take_a16_for_kron_and_hkp():
    """compress.supports (the search's precision genes) picks w8a16 and w4a16 for kron and
    hkp."""
    for method in METHODS:
        assert compress.supports(method, "w8a16") and compress.supports(method, "w4a16")
        assert 16 in compress.act_bits(method)


@pytest.mark.qemu
@pytest.mark.parametrize("board", ["cortex-a73", "cortex-m4", "cortex-m55"])
def test_kron_a16_exact_on_boards(tmp_path, board):
    """A seeded sample: on each board both cells under both methods, each with one spec
    drawn by the board's seed; and the padded model in w4a16."""
    rng = random.Random(f"a16-kron-{board}")
    for cell in sorted(CELLS):
        for method in METHODS:
            model = _compressed(tmp_path, cell, method)
            _exact(model, rng.choice(SPECS).format(c=cell), board)
    _exact(_compressed(tmp_path, "padded", "kron", PADDED), "w4a16", board)


def test_kron_a16_project_passes_the_c_safety_checks(tmp_path):
    """ASan + UBSan, valgrind memcheck and cppcheck on an hkp LSTM project, layer 0 w8a16
    (kron blocks of both orders reading int16) and layer 1 w4a16 (the int4 factors unpacked,
    then the int16-input kernel)."""
    from tests.e2e import test_c_safety as cs

    proj = tmp_path / "proj"
    res = driver.build(_compressed(tmp_path, "LSTM", "hkp"), proj, driver.BuildOptions(
        name="m", dtype="int8", measure=False,
        precision=precision.parse("l0_LSTM=w8a16,l1_LSTM=w4a16")))
    c = (proj / "src" / "m.c").read_text()
    assert "rnn_mat_vec_kron_a16_s16(" in c and "rnn_mat_vec_kron_a16_s4_s16(" in c
    assert {b.ax_first for _, _, b in _kron(res) if b.bits == 8} == {True, False}
    cs.check_project(proj)
