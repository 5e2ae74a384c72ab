"""The matrix-format registry (codegen/formats/): every format is complete, consistent with
the C runtime, round-trips through its .npz writer and the independent decoder, and the
consumers reach formats only through the registry."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from rnngen import formats
from rnngen.quant import QParams

ROOT = Path(__file__).resolve().parents[2]
F32 = np.float32


def _samples() -> dict[str, object]:
    rng = np.random.default_rng(3)

    def r(*s: int) -> np.ndarray:
        return rng.standard_normal(s).astype(F32)

    w = r(6, 5)
    w[np.abs(w) < 0.7] = 0
    return {
        "dense": formats.as_matrix(r(6, 5)),
        "hmd": formats.Hmd(r(2, 5), r(4), r(3), r(4), r(2)),
        "csr": formats.csr.from_dense(w),
        "lowrank": formats.LowRank(r(6, 2), r(2, 5)),
        "kron": formats.Kron(r(3, 2), r(2, 3), 6, 5),
        "stack": formats.RowStack((formats.as_matrix(r(2, 5)),
                                   formats.Kron(r(2, 3), r(2, 2), 4, 5))),
    }


def test_every_format_is_registered_with_a_sample():
    assert set(formats.FORMATS) == set(_samples())


@pytest.mark.parametrize("name", list(_samples()))
def test_format_record_matches_its_matrices_and_the_runtime(name):
    f = formats.FORMATS[name]
    m = _samples()[name]
    assert f.name == name == m.fmt and isinstance(m, f.matrix) and formats.of(m) is f
    assert f.qmatrix is not None and f.qmatrix.fmt == name
    for table in (f.kernels_f32, f.kernels_s8):
        for kernel, (src, calls) in table.items():
            path = ROOT / "runtime_c" / "Source" / src
            assert path.is_file() and path.stem == kernel, (kernel, src)
            assert f"{kernel}(" in path.read_text()
    formats.check(m, name)  # a well-formed sample passes the structural checks


@pytest.mark.parametrize("name", list(_samples()))
def test_matvec_and_int8_forward_agree_with_the_dense_matrix(name):
    m = _samples()[name]
    x = np.linspace(-1, 1, m.shape[1]).astype(F32)
    dense = m.to_dense().astype(np.float64)
    np.testing.assert_allclose(m.matvec(x), dense @ x, rtol=1e-5, atol=1e-5)
    # int8: a coarse check that the integer product approximates W x (scale 1/127 input)
    xp = QParams(1.0 / 127, 0)
    xq = np.round(x * 127).astype(np.int64)
    q = formats.quantize(m, xp, 2.0 ** -12, x[None, :].astype(np.float64), name)
    assert formats.of(q) is formats.FORMATS[name] and q.shape == m.shape
    got = q.forward(xq) * 2.0 ** -12
    want = dense @ (xq / 127.0)
    assert np.max(np.abs(got - want)) <= 0.05 * max(1.0, np.max(np.abs(want)))


def test_every_format_has_int4_weights():
    """w4a8 (docs/int8.md "int4 in the compressed formats"): every format's int8 kernels take
    int4 weights; none is refused."""
    assert [k for k, f in formats.FORMATS.items() if 4 not in f.weight_bits] == []


@pytest.mark.parametrize("name", list(_samples()))
def test_int4_forward_approximates_the_dense_matrix(name):
    m = _samples()[name]
    x = np.linspace(-1, 1, m.shape[1]).astype(F32)
    dense = m.to_dense().astype(np.float64)
    xp = QParams(1.0 / 127, 0)
    xq = np.round(x * 127).astype(np.int64)
    q8 = formats.quantize(m, xp, 2.0 ** -12, x[None, :].astype(np.float64), name)
    q4 = formats.quantize(m, xp, 2.0 ** -12, x[None, :].astype(np.float64), name, bits=4)
    assert formats.of(q4) is formats.FORMATS[name] and q4.shape == m.shape
    want = dense @ (xq / 127.0)
    err4 = np.max(np.abs(q4.forward(xq) * 2.0 ** -12 - want))
    # 7 levels instead of 127: coarser than int8 (other integers), still W x roughly
    assert err4 <= 0.25 * max(1.0, np.max(np.abs(want)))
    assert not np.array_equal(q4.forward(xq), q8.forward(xq))


def test_a_format_without_int4_is_refused_in_one_line(monkeypatch):
    import dataclasses

    from rnngen.errors import RnngenError

    m = _samples()["kron"]
    monkeypatch.setitem(formats.FORMATS, "kron",
                        dataclasses.replace(formats.FORMATS["kron"], weight_bits=(8,)))
    with pytest.raises(RnngenError, match=r"^int8: W: int4 weights are not available for the "
                                          r"kron format yet \(they are for: dense, hmd, csr, "
                                          r"lowrank, stack\); give this layer w8a8$"):
        formats.quantize(m, QParams(1.0 / 127, 0), 2.0 ** -12, np.zeros((1, 5)), "W", bits=4)


@pytest.mark.parametrize("name", list(_samples()))
def test_npz_entry_round_trips_through_the_independent_decoder(name):
    m = _samples()[name]
    store: dict[str, np.ndarray] = {}

    def put(key: str, arr: np.ndarray) -> str:
        store[key] = np.asarray(arr)
        return key

    entry = formats.npz_entry(m, "m", put)
    assert entry["format"] == name
    np.testing.assert_array_equal(formats.npz_decode(entry, store, {"format", "shape"}),
                                  m.to_dense())
    live = _with_arrays(entry, store)
    assert formats.npz_shape(live) == m.shape


def _with_arrays(entry: dict, store: dict) -> dict:
    out = {}
    for k, v in entry.items():
        if k == "blocks":
            out[k] = [_with_arrays(b, store) for b in v]
        elif isinstance(v, str) and v in store:
            out[k] = store[v]
        else:
            out[k] = v
    return out


# The consumers that dispatch through the registry name no format: no matrix class, no
# int8 matrix class, no format string compared or looked up.
CONSUMERS = ["ir.py", "quant.py", "reference.py", "reference_int.py", "driver.py", "cli.py",
             "pipeline.py", "emit", "passes", "frontends"]
FORMAT_NAME = re.compile(r"\b(Q?(Dense|Hmd|Csr|LowRank|Kron|RowStack|QStack))\b|"
                         r"\"(hmd|csr|lowrank|kron|stack|hkp)\"|fmt ==")


def test_consumers_reach_formats_only_through_the_registry():
    hits = []
    for c in CONSUMERS:
        p = ROOT / "codegen" / c
        for f in sorted(p.rglob("*.py")) if p.is_dir() else [p]:
            for k, line in enumerate(f.read_text().splitlines(), 1):
                code = line.split("#", 1)[0]
                if FORMAT_NAME.search(code):
                    hits.append(f"{f.relative_to(ROOT)}:{k}: {line.strip()}")
    assert not hits, "\n".join(hits)


# --------------------------------------------------------------------------- cells

def test_every_cell_names_existing_kernels_and_consistent_properties():
    from rnngen import cells

    assert set(cells.CELLS) == {"LSTM", "GRU", "RNN", "FastRNN", "FastGRNN", "SRU"}
    for name, c in cells.CELLS.items():
        assert c.name == name and cells.of(name) is c
        assert c.gates >= 1 and c.work(8) >= 8 and c.out_frac in (15, 30)
        assert len(c.activations) >= 1 and (c.peepholes <= c.has_cell_state)
        for table in (c.kernels_f32, c.kernels_s16):
            assert table
            for kernel, (src, _calls) in table.items():
                path = ROOT / "runtime_c" / "Source" / src
                assert path.is_file() and path.stem == kernel
                assert f"{kernel}(" in path.read_text()


CELL_CONSUMERS = ["ir.py", "quant.py", "reference.py", "reference_int.py", "driver.py",
                  "emit", "passes"]
CELL_NAME = re.compile(r"\bcell\s*(==|!=|in)\s|\"(LSTM|GRU|RNN|FastRNN|FastGRNN|SRU)\"")


def test_consumers_reach_cells_only_through_the_registry():
    hits = []
    for c in CELL_CONSUMERS:
        p = ROOT / "codegen" / c
        for f in sorted(p.rglob("*.py")) if p.is_dir() else [p]:
            for k, line in enumerate(f.read_text().splitlines(), 1):
                if CELL_NAME.search(line.split("#", 1)[0]):
                    hits.append(f"{f.relative_to(ROOT)}:{k}: {line.strip()}")
    assert not hits, "\n".join(hits)


# --------------------------------------------------------------------------- memory plan

def test_emitters_import_no_pass():
    for f in sorted((ROOT / "codegen" / "emit").glob("*.py")):
        imports = [ln for ln in f.read_text().splitlines()
                   if ln.lstrip().startswith(("from ", "import ")) and "passes" in ln]
        assert not imports, (f, imports)


@pytest.mark.parametrize("cell", ["LSTM", "GRU", "RNN", "FastRNN", "FastGRNN", "SRU"])
def test_named_work_offsets_lie_inside_the_planned_work_area(cell):
    from rnngen import cells, ir
    from rnngen.passes import plan_memory

    H, I, T = 8, 5, 4
    G = cells.of(cell).gates
    rng = np.random.default_rng(0)
    W = formats.as_matrix(rng.standard_normal((G * H, I)).astype(F32))
    R = formats.as_matrix(rng.standard_normal((G * H, H)).astype(F32))
    cd = ir.CellDirection(False, W, R, np.zeros(G * H, F32), np.zeros(G * H, F32), None,
                          np.zeros(H, F32), np.zeros(H, F32) if cells.of(cell).has_cell_state
                          else None, tuple(ir.Activation.default(a)
                                           for a in cells.of(cell).activations),
                          (0.5, 0.5) if cell.startswith("Fast") else ())
    n = ir.Recurrent("r", ("x",), ("y", "", ""), cell=cell, hidden=H, input_size=I, seq_len=T,
                     valid_len=T, layout=0, directions=(cd,), clip=None, input_forget=False,
                     linear_before_reset=False)
    g = ir.Graph("g", "x", ("y",), (n,), {"x": (T, 1, I), "y": (T, 1, 1, H)}, {}, T)
    mem = plan_memory.plan(g).memory
    places = mem.cells["r"]
    assert places.hoist == min(plan_memory.HOIST_BLOCK, T)
    # the cell's own slots fit its step area, the hoisted projections follow it
    assert all(0 <= off < places.proj for off in places.work.values())
    assert places.proj == cells.of(cell).work(H)
    assert places.proj + places.hoist * G * H <= mem.scratch_off <= mem.work


def test_no_import_cycle_between_the_onnx_frontend_and_its_helpers():
    """onnx.py imports onnx_compressed and onnx_proto; neither imports onnx.py back, and the
    compressor reads ONNX through onnx_proto (one reader)."""
    for name in ("frontends/onnx_compressed.py", "frontends/onnx_proto.py", "compress_onnx.py"):
        text = (ROOT / "codegen" / name).read_text()
        assert not re.search(r"from \.onnx import|from \.frontends\.onnx import|"
                             r"from \.frontends import onnx\b", text), name
    assert "onnx_proto" in (ROOT / "codegen" / "compress_onnx.py").read_text()
