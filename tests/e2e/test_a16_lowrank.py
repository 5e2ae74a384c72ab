"""int16 activations (w8a16, w4a16) in the low-rank format (issue 14): an LSTM and a GRU
compressed with `rnngen compress -m lmf`, whole model and mixed per layer with w8a8 (a w8a8
layer reading a w8a16 layer's int16 output, a w8a16 layer reading int8): the C equals the
integer reference exactly (atol 0) on the host and a seeded sample on cortex-a73, cortex-m4
and cortex-m55; the first stage V x really reads int16 x (the plan's V has xbits 16, the C
calls the dense int16-input kernels, the int64 ones past the int32 bound) and t stays int8
(U reads int8: the int8-input kernels); such a project passes the C safety checks."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from rnngen import compress, driver, formats, precision
from tests import a16, models

CELLS = {
    "LSTM": models.Spec("LSTM", "forward", 6, 12, 9, 2, initial_state=True),
    "GRU": models.Spec("GRU", "bidirectional", 6, 10, 8, 2, lbr=1),
}
# whole model, int16 into a w8a8 layer (layer 1's W x reads layer 0's int16 output), and
# int8 into a w8a16 layer
# V's rows (per-gate blocks, rank 2) over 3,000 inputs: their int32 bound with int16 x
# reaches 2^31 (sum |V[r]| from 75,600 to 89,000, past 2^16)
WIDE = models.Spec("LSTM", "forward", 3000, 4, 3, 1)
SPECS = ("w8a16", "l0_{c}=w8a16", "l1_{c}=w8a16", "w4a16", "l0_{c}=w4a16,l1_{c}=w8a16")


def _compressed(tmp_path: Path, cell: str, spec: models.Spec | None = None) -> Path:
    return a16.compressed(tmp_path, spec or CELLS[cell], "lmf", cell)


_exact, _build = a16.exact, a16.build


def _lowrank(res: driver.BuildResult) -> list[tuple[str, str, object]]:
    return a16.blocks(res, "lowrank")


@pytest.mark.parametrize("spec", SPECS)
@pytest.mark.parametrize("cell", list(CELLS))
def test_lmf_a16_exact_on_host(tmp_path, cell, spec):
    spec = spec.format(c=cell)
    model = _compressed(tmp_path, cell)
    _exact(model, spec)
    c, res = _build(tmp_path, model, spec)
    prec = precision.parse(spec)
    blocks = _lowrank(res)
    assert blocks  # something stayed low-rank
    names = [f"l{i}_{cell}" for i in range(2)]
    a16 = {n: prec.of(n).act_bits == 16 for n in names}
    for layer, role, b in blocks:
        # R reads the layer's own h; W the model input (int16 when its reader is w8a16) or
        # layer 0's output (int16 when layer 0 is w8a16)
        src = layer if role == "R" or layer == names[0] else names[0]
        assert b.v.xbits == (16 if a16[src] else 8), (layer, role)
        # the intermediate t stays int8: U reads int8 in every precision
        assert b.u.xbits == 8
        assert b.v.bits == b.u.bits == prec.of(layer).weight_bits, (layer, role)
    v16 = [b for _, _, b in blocks if b.v.xbits == 16]
    v8 = [b for _, _, b in blocks if b.v.xbits == 8]
    if any(b.v.bits == 8 for b in v16):
        assert "rnn_mat_vec_a16_s8(" in c and "rnn_mat_vec_s8_s16(" in c
    if any(b.v.bits == 4 for b in v16):
        assert "rnn_mat_vec_a16_s4_s8(" in c and "rnn_mat_vec_s4_s16(" in c
    assert ("rnn_mat_vec_lowrank_s8_s16(" in c) == any(b.v.bits == 8 for b in v8)
    assert ("rnn_mat_vec_lowrank_s4_s16(" in c) == any(b.v.bits == 4 for b in v8)
    if spec in ("w8a16", "w4a16"):
        assert not v8 and "_lowrank_s" not in c  # every matrix reads int16


def test_lmf_wide_v_takes_the_int64_kernels(tmp_path):
    """An LSTM reading 3,000 inputs, lmf: V's rows' int32 bound with int16 x reaches 2^31,
    so V x takes rnn_mat_vec_a16_wide_s8 (int64 sums), R's V the int32 kernel; exact."""
    model = _compressed(tmp_path, "wide", WIDE)
    _exact(model, "w8a16")
    c, res = _build(tmp_path, model, "w8a16")
    q = next(iter(res.graph.quant.nodes.values()))
    w = [b for b in formats.blocks(q.directions[0].W) if b.fmt == "lowrank"]
    r = [b for b in formats.blocks(q.directions[0].R) if b.fmt == "lowrank"]
    assert w and all(b.v.acc64 and b.v.xbits == 16 for b in w)
    assert r and not any(b.v.acc64 for b in r)
    assert "rnn_mat_vec_a16_wide_s8(" in c and "rnn_mat_vec_a16_s8(" in c


def test_search_genes_take_a16_for_lmf():
    """compress.supports (the search's precision genes) picks w8a16 and w4a16 for lmf."""
    assert compress.supports("lmf", "w8a16") and compress.supports("lmf", "w4a16")
    assert 16 in compress.act_bits("lmf")


@pytest.mark.qemu
@pytest.mark.parametrize("board", ["cortex-a73", "cortex-m4", "cortex-m55"])
def test_lmf_a16_exact_on_boards(tmp_path, board):
    """A seeded sample: on each board both cells, each with two specs drawn by the board's
    seed; and the wide V (int64 sums) in w8a16."""
    rng = random.Random(f"a16-lmf-{board}")
    for cell in sorted(CELLS):
        model = _compressed(tmp_path, cell)
        for spec in rng.sample(SPECS, 2):
            _exact(model, spec.format(c=cell), board)
    _exact(_compressed(tmp_path, "wide", WIDE),
           "w8a16", board)


def test_lmf_a16_project_passes_the_c_safety_checks(tmp_path):
    """ASan + UBSan, valgrind memcheck and cppcheck on an lmf LSTM project, layer 0 w4a16 and
    layer 1 w8a16 (both int16-input first stages into the int8 scratch, then U t)."""
    from tests.e2e import test_c_safety as cs

    proj = tmp_path / "proj"
    driver.build(_compressed(tmp_path, "LSTM"), proj, driver.BuildOptions(
        name="m", dtype="int8", measure=False,
        precision=precision.parse("l0_LSTM=w4a16,l1_LSTM=w8a16")))
    c = (proj / "src" / "m.c").read_text()
    assert "rnn_mat_vec_a16_s4_s8(" in c and "rnn_mat_vec_a16_s8(" in c
    cs.check_project(proj)
