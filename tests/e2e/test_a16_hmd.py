"""int16 activations (w8a16, w4a16) in the HMD format (issue 14): an LSTM and a GRU
compressed with `rnngen compress -m hmd`, whole model and mixed per layer with w8a8 (a w8a8
layer reading a w8a16 layer's int16 output, a w8a16 layer reading int8): the C equals the
integer reference exactly (atol 0) on the host and a seeded sample on cortex-a73, cortex-m4
and cortex-m55; RNN, FastRNN, FastGRNN and SRU models compressed likewise, w8a16 and w4a16
whole (host; one of them per board). The plan's HMD blocks read int16 exactly where their
input is int16 (xbits 16, A' a dense int16-input block), the C calls the dense int16-input
kernels for A' and rnn_mat_vec_hmd_a16_s16 for the lower rows; C . x and E . x take int64
sums past the int32 bound (a 5,000-input LSTM) and int32 ones below it."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from rnngen import compress, driver, formats, precision, quant
from tests import a16, models
from tests.e2e.test_bad_input import rnngen

CELLS = {
    "LSTM": models.Spec("LSTM", "forward", 6, 12, 9, 2, initial_state=True),
    "GRU": models.Spec("GRU", "bidirectional", 6, 10, 8, 2, lbr=1),
}
# whole model, int16 into a w8a8 layer (layer 1's W x reads layer 0's int16 output), int8
# into a w8a16 layer, w4a16 whole and mixed with w8a16
SPECS = ("w8a16", "l0_{c}=w8a16", "l1_{c}=w8a16", "w4a16", "l0_{c}=w4a16,l1_{c}=w8a16")
# W's C and E over 5,000 inputs (2,500 columns each, mean |C| about 28): sum |C| * 32768
# reaches 2^31 in 7 of W's 8 sums; R's stay below
WIDE = models.Spec("LSTM", "forward", 5000, 4, 3, 1)
OTHER = ("RNN", "fast", "SRU")  # the other cells' models (_other_cells)


def _compressed(tmp_path: Path, cell: str, spec: models.Spec | None = None) -> Path:
    return a16.compressed(tmp_path, spec or CELLS[cell], "hmd", cell)


@pytest.fixture(scope="module")
def compressed(tmp_path_factory):
    """The compressed models, made once per module (and worker): get(key) -> path."""
    cache: dict[str, Path] = {}

    def get(key: str) -> Path:
        if key not in cache:
            tmp = tmp_path_factory.mktemp(f"hmd_{key}")
            cache[key] = _compressed(tmp, key, WIDE) if key == "wide" else \
                _other_cells(tmp, key) if key in OTHER else _compressed(tmp, key)
        return cache[key]

    return get


_exact = a16.exact


def _checked(tmp_path: Path, model: Path, spec: str) -> tuple[str, object]:
    """_exact on the host, keeping the project: (its model C, the compiled graph)."""
    proj = tmp_path / "proj"
    _exact(model, spec, keep=proj)
    graph = driver.compile_graph(model, driver.BuildOptions(dtype="int8",
                                                            precision=precision.parse(spec)))
    return (proj / "src" / "m.c").read_text(), graph


def _hmd(graph) -> list[tuple[str, str, object]]:
    """(layer, "W" or "R", block) for every int8 hmd block of the recurrent layers."""
    out = []
    for name, q in graph.quant.nodes.items():
        for d in getattr(q, "directions", ()):
            for role, m in (("W", d.W), ("R", d.R)):
                out += [(name, role, b) for b in formats.blocks(m) if b.fmt == "hmd"]
    return out


@pytest.mark.parametrize("spec", SPECS)
@pytest.mark.parametrize("cell", list(CELLS))
def test_hmd_a16_exact_on_host(tmp_path, compressed, cell, spec):
    spec = spec.format(c=cell)
    c, graph = _checked(tmp_path, compressed(cell), spec)
    prec = precision.parse(spec)
    blocks = _hmd(graph)
    assert blocks  # something stayed HMD
    names = [f"l{i}_{cell}" for i in range(2)]
    a16 = {n: prec.of(n).act_bits == 16 for n in names}
    for layer, role, b in blocks:
        # R reads the layer's own h; W the model input (int16 when its reader is w8a16) or
        # layer 0's output (int16 when layer 0 is w8a16)
        src = layer if role == "R" or layer == names[0] else names[0]
        assert b.xbits == (16 if a16[src] else 8), (layer, role)
        if b.a is not None:  # A' a dense block of the layer's weight width reading x
            assert b.a.xbits == b.xbits and b.a.bits == prec.of(layer).weight_bits
        if b.xbits == 16:  # no zero point; every sum here is short: int32
            assert b.off_c == b.off_e == 0 and not (b.wide_c or b.wide_e)
    h16 = [b for _, _, b in blocks if b.xbits == 16]
    h8 = [b for _, _, b in blocks if b.xbits == 8]
    assert ("rnn_mat_vec_hmd_a16_s16(" in c) == bool(h16)
    assert ("rnn_mat_vec_hmd_s8_s16(" in c) == bool(h8)
    if any(b.a is not None and b.a.bits == 8 for b in h16):
        assert "rnn_mat_vec_a16_s16(" in c
    if any(b.a is not None and b.a.bits == 4 for b in h16):
        assert "rnn_mat_vec_a16_s4_s16(" in c
    if spec in ("w8a16", "w4a16"):
        assert h16 and not h8  # every matrix reads int16


def _other_cells(tmp_path: Path, which: str) -> Path:
    """The other cells, compressed with hmd: a bidirectional two-layer RNN (ONNX), FastRNN ->
    FastGRNN -> Linear and SRU -> SRU (projection) -> Linear (.npz, test_w8a16's models)."""
    from tests.e2e import test_w8a16 as t

    if which == "RNN":
        return _compressed(tmp_path, "RNN", models.Spec("RNN", "bidirectional", 6, 10, 7, 2))
    src = t._fast_npz(tmp_path) if which == "fast" else t._sru_npz(tmp_path)
    out = tmp_path / f"{which}_hmd.npz"
    r = rnngen("compress", str(src), "-m", "hmd", "-f", "2", "--nearest", "-o", str(out))
    assert r.returncode == 0, r.stderr
    return out


@pytest.mark.parametrize("spec", ["w8a16", "w4a16"])
@pytest.mark.parametrize("which", OTHER)
def test_hmd_a16_other_cells_exact_on_host(tmp_path, compressed, which, spec):
    """RNN, FastRNN, FastGRNN and SRU layers whose matrices are hmd, in w8a16 and w4a16: every
    hmd block reads int16; the C equals the integer reference exactly."""
    c, graph = _checked(tmp_path, compressed(which), spec)
    blocks = _hmd(graph)
    assert blocks and all(b.xbits == 16 for _, _, b in blocks)
    assert {layer for layer, _, _ in blocks} == {
        n for n, q in graph.quant.nodes.items() if hasattr(q, "directions")}
    assert "rnn_mat_vec_hmd_a16_s16(" in c and "rnn_mat_vec_hmd_s8_s16(" not in c


def test_hmd_wide_sums_take_int64(tmp_path, compressed):
    """An LSTM reading 5,000 inputs, hmd: W's C and E (2,500 columns each) mostly have
    sum |C| * 32768 >= 2^31, so C . x and E . x are summed in int64 (rq64) there and in int32
    elsewhere (one W block's C, and R's); exact on the host."""
    c, graph = _checked(tmp_path, compressed("wide"), "w8a16")
    q = next(iter(graph.quant.nodes.values()))
    blocks = [b for m in (q.directions[0].W, q.directions[0].R) for b in formats.blocks(m)
              if b.fmt == "hmd"]
    flags = []
    for b in blocks:  # the rule: int64 exactly where the int32 bound fails
        assert b.xbits == 16
        for v, wide in ((b.c, b.wide_c), (b.e, b.wide_e)):
            assert wide == (int(np.abs(v.astype(np.int64)).sum()) * 32768 >= 2**31)
            flags.append(wide)
        if b.a is not None:  # A' by the dense rule
            assert b.a.acc64 == (not quant.a16_fits_int32(b.a.w, b.a.offset))
    assert any(flags) and not all(flags)  # both ways in this model
    assert ".c_wide = 1" in c and ".c_wide = 0" in c and "rnn_mat_vec_hmd_a16_s16(" in c


def test_hmd_a16_reference_sums_past_int32_exactly():
    """The reference's int64 path (wide_c, wide_e) against float arithmetic: C . x of 1,500
    full-scale products (6.24e9, past int32) requantized to about 10,000 by rq64's Q15
    multiplier (relative error below 2^-15), then B s1 + D s2 with unit B, D."""
    from rnngen.formats.hmd import QHmd

    h = 1500
    cq = np.full(h, 127, np.int8)
    x = np.full(2 * h, 32767, np.int64)
    real = 10000.0 / (127 * 32767 * h)
    mc, sc = quant.multiplier(real, "C")
    one = np.ones(1, np.int8)
    mb, sb = quant.multiplier(1.0, "B")
    q = QHmd(None, cq, cq, 0, 0, mc, sc, mc, sc, one, one, mb, sb, mb, sb, 16, True, True)
    got = q.forward(x)
    assert got.shape == (1,) and abs(int(got[0]) - 20000) <= 2, got


def test_search_genes_take_a16_for_hmd():
    """compress.supports (the search's precision genes) picks w8a16 and w4a16 for hmd."""
    assert compress.supports("hmd", "w8a16") and compress.supports("hmd", "w4a16")
    assert 16 in compress.act_bits("hmd")


@pytest.mark.qemu
@pytest.mark.parametrize("board", ["cortex-a73", "cortex-m4", "cortex-m55"])
def test_hmd_a16_exact_on_boards(compressed, board):
    """A seeded sample: on each board both cells, each with two specs drawn by the board's
    seed; one of the other cells' models in w8a16 or w4a16; and the wide C, E (int64 sums)
    in w8a16."""
    rng = random.Random(f"a16-hmd-{board}")
    for cell in sorted(CELLS):
        for spec in rng.sample(SPECS, 2):
            _exact(compressed(cell), spec.format(c=cell), board)
    _exact(compressed(rng.choice(OTHER)), rng.choice(["w8a16", "w4a16"]), board)
    _exact(compressed("wide"), "w8a16", board)


def test_hmd_a16_project_passes_the_c_safety_checks(tmp_path, compressed):
    """ASan + UBSan, valgrind memcheck and cppcheck on an hmd LSTM project, layer 0 w4a16 and
    layer 1 w8a16 (int4 and int8 A' by the dense int16-input kernels, then the lower rows)."""
    from tests.e2e import test_c_safety as cs

    proj = tmp_path / "proj"
    driver.build(compressed("LSTM"), proj, driver.BuildOptions(
        name="m", dtype="int8", measure=False,
        precision=precision.parse("l0_LSTM=w4a16,l1_LSTM=w8a16")))
    c = (proj / "src" / "m.c").read_text()
    assert "rnn_mat_vec_a16_s4_s16(" in c and "rnn_mat_vec_a16_s16(" in c
    assert "rnn_mat_vec_hmd_a16_s16(" in c
    cs.check_project(proj)


def test_hmd_a16_refuses_c_past_the_int64_bound():
    """C of more than 65,536 values with int16 x (|sum| could pass 2^47, rq64's bound) is
    refused in one error naming the matrix; 65,536 values are taken (int64 sums)."""
    from rnngen.errors import RnngenError
    from rnngen.formats.hmd import Hmd

    rng = np.random.default_rng(0)
    x = quant.QParams16(1 / 32767)
    for h, ok in ((65536, True), (65537, False)):
        n = 2 * h
        m = Hmd(np.zeros((0, n), np.float32), rng.uniform(-1, 1, 3).astype(np.float32),
                rng.uniform(-1, 1, h).astype(np.float32),
                rng.uniform(-1, 1, 3).astype(np.float32),
                rng.uniform(-1, 1, h).astype(np.float32))
        inputs = rng.uniform(-1, 1, (2, n))
        if ok:
            q = formats.quantize(m, x, 2.0 ** -12, inputs, "l0 W")
            assert q.xbits == 16 and q.wide_c and q.wide_e
        else:
            with pytest.raises(RnngenError, match=r"l0 W: int16 activations: C covers 65537"):
                formats.quantize(m, x, 2.0 ** -12, inputs, "l0 W")
