"""int4 weights (w4a8) in the compressed formats (issue 14 item 1): every method of
`rnngen compress` (hmd, lmf -> lowrank, csr, kron, hkp -> dense rows over a Kronecker
product), an LSTM and a GRU compressed then verified with `--precision w4a8`: the C equals the
integer reference exactly on the host, and a seeded sample on cortex-a73, cortex-m4 and
cortex-m55; the weights really are int4 (values in [-7, 7], the int4 kernels called and not
the int8 ones, the stored bytes decode to the plan's values), fewer weight bytes than w8a8,
and a smaller flash than w8a8 on a model whose weights outweigh the int4 kernels' code; a
format without int4 kernels is refused in one line (exit 2, nothing written)."""

from __future__ import annotations

import dataclasses
import random
import re
from pathlib import Path

import numpy as np
import onnx
import pytest

from rnngen import driver, formats, precision
from rnngen.errors import RnngenError
from tests import models
from tests.e2e.test_bad_input import rnngen

CELLS = {
    "LSTM": models.Spec("LSTM", "forward", 6, 12, 9, 1, initial_state=True),
    "GRU": models.Spec("GRU", "bidirectional", 6, 10, 8, 1, lbr=1),
}
# per method: the calls the model's C makes with int4 weights (those named _s4 only then), and
# the int8 ones it must not make
KERNELS = {
    "lmf": (("rnn_mat_vec_lowrank_s4_s16(",), ("rnn_mat_vec_lowrank_s8_s16(",)),
    "hmd": (("rnn_mat_vec_s4_s16(", "rnn_mat_vec_hmd_s8_s16("), ("rnn_mat_vec_s8_s16(",)),
    "csr": (("rnn_mat_vec_csr_s4_s16(",), ("rnn_mat_vec_csr_s8_s16(",)),
    "kron": (("rnn_mat_vec_kron_s4_s16(",), ("rnn_mat_vec_kron_s8_s16(",)),
    "hkp": (("rnn_mat_vec_kron_s4_s16(", "rnn_mat_vec_s4_s16("),
            ("rnn_mat_vec_kron_s8_s16(", "rnn_mat_vec_s8_s16(")),
}


def _compressed(tmp_path: Path, cell: str, method: str, spec: models.Spec | None = None,
                factor: str = "2") -> Path:
    src, out = tmp_path / f"{cell}.onnx", tmp_path / f"{cell}_{method}.onnx"
    onnx.save(models.make_model(spec or CELLS[cell], 5), src)
    r = rnngen("compress", str(src), "-m", method, "-f", factor, "--nearest", "-o", str(out))
    assert r.returncode == 0, r.stderr
    return out


def _exact(model: Path, target: str = "host") -> None:
    res = driver.verify(model, driver.BuildOptions(dtype="int8", target=target,
                                                   precision=precision.parse("w4a8")))
    r = res.report
    assert res.passed and r["mismatches"] == 0 and r["max_abs_err"] == 0.0, res.output
    assert r["atol"] == 0.0 and r["rtol"] == 0.0


def _build(tmp_path: Path, model: Path, spec: str | None,
           target: str = "host") -> tuple[str, driver.BuildResult]:
    out = tmp_path / f"proj_{spec}"
    res = driver.build(model, out, driver.BuildOptions(
        dtype="int8", name="m", force=True, target=target,
        precision=precision.parse(spec) if spec else None))
    return (out / "src" / "m.c").read_text(), res


def _weights(q: object) -> list[tuple[int, np.ndarray]]:
    """(bits, integer weights) of an int8 matrix's weight arrays, block by block."""
    out: list[tuple[int, np.ndarray]] = []
    for b in formats.blocks(q):
        if b.fmt == "lowrank":
            out += [(b.v.bits, b.v.w), (b.u.bits, b.u.w)]
        elif b.fmt == "hmd":
            out += [(b.a.bits, b.a.w)] if b.a is not None else []
        elif b.fmt == "csr":
            out.append((b.bits, b.values))
        elif b.fmt == "kron":
            out += [(b.bits, b.a), (b.bits, b.b)]
        else:
            out.append((b.bits, b.w))
    return out


@pytest.mark.parametrize("method", list(KERNELS))
@pytest.mark.parametrize("cell", list(CELLS))
def test_w4a8_compressed_exact_on_host(tmp_path, cell, method):
    model = _compressed(tmp_path, cell, method)
    _exact(model)
    c4, res4 = _build(tmp_path, model, "w4a8")
    c8, res8 = _build(tmp_path, model, None)
    s4, s8 = KERNELS[method]
    for k in s4:
        assert k in c4 and ("_s4" not in k or k not in c8), k
    for k in s8:
        assert k not in c4, k
    assert res4.manifest["weights_bytes"] < res8.manifest["weights_bytes"]
    fmts = set()
    for q in res4.graph.quant.nodes.values():
        for d in getattr(q, "directions", ()):
            for m in (d.W, d.R) + ((d.Rh,) if d.Rh is not None else ()):
                fmts |= {b.fmt for b in formats.blocks(m)}
                for bits, w in _weights(m):
                    assert bits == 4 and np.abs(np.asarray(w, np.int64)).max() <= 7
    assert fmts - {"dense"}, fmts  # something stayed compressed


def test_stored_int4_bytes_decode_to_the_plans_values(tmp_path):
    """The csr values (base.pack_nibbles) and the Kronecker factors (kron.pack_s4_groups) in
    the C source decode, by the independent decoders, to the plan's int4 values."""
    for method, names in (("csr", ("_val",)), ("kron", ("_A", "_B"))):
        model = _compressed(tmp_path, "LSTM", method)
        c, res = _build(tmp_path, model, "w4a8")
        arrays = {m.group(1): np.array([int(v) for v in m.group(2).split(",") if v.strip()])
                  for m in re.finditer(r"int8_t (\w+)\[\d*\][^=]*=\s*\{([^}]*)\}", c)}
        q = next(q for q in res.graph.quant.nodes.values() if hasattr(q, "directions"))
        w = q.directions[0].W
        want = []
        for b in formats.blocks(w):
            if method == "csr":
                pv, _, _ = formats.csr.pad_rows(b.values, b.col_idx, b.row_ptr)
                want.append(pv)
            else:
                want += [b.a.reshape(-1), formats.dense.pack_s8(b.b)]
        unpack = formats.base.unpack_nibbles if method == "csr" else \
            formats.kron.unpack_s4_groups
        got = [unpack(v, 2 * v.size) for k, v in sorted(arrays.items()) if k.endswith(names)]
        # every wanted array is among the decoded constants (padded with zeros)
        for a in want:
            assert any(np.array_equal(g[:a.size], a) and not g[a.size:].any() for g in got), \
                (method, a)


@pytest.mark.parametrize("method", ["lmf", "hmd", "csr"])
def test_w4a8_flash_smaller_than_w8a8(tmp_path, method):
    """A layer big enough (LSTM 32 -> 64) that the int4 weights' saving outweighs the int4
    kernels' code: the cortex-m4 build's flash (code + constants, measured by the board's
    size tool) is smaller with w4a8."""
    spec = models.Spec("LSTM", "forward", 32, 64, 4, 1)
    model = _compressed(tmp_path, "big", method, spec)
    _, r4 = _build(tmp_path, model, "w4a8", "cortex-m4")
    _, r8 = _build(tmp_path, model, None, "cortex-m4")
    assert r4.manifest["flash_bytes"] < r8.manifest["flash_bytes"], \
        (r4.manifest["flash_bytes"], r8.manifest["flash_bytes"])


@pytest.mark.qemu
@pytest.mark.parametrize("board", ["cortex-a73", "cortex-m4", "cortex-m55"])
def test_w4a8_compressed_exact_on_boards(tmp_path, board):
    """A seeded sample: on each board every method, each with a cell drawn by the board's
    seed (both cells over the three boards)."""
    rng = random.Random(f"w4a8-{board}")
    for method in KERNELS:
        _exact(_compressed(tmp_path, rng.choice(sorted(CELLS)), method), board)


def test_format_without_int4_refused_in_one_line(tmp_path, monkeypatch):
    """Every format has int4 kernels now; the registry's refusal stays for formats that
    have not (a format record without 4 in weight_bits): one line naming the layer, the
    matrix and the format."""
    model = _compressed(tmp_path, "LSTM", "kron")
    monkeypatch.setitem(formats.FORMATS, "kron",
                        dataclasses.replace(formats.FORMATS["kron"], weight_bits=(8,)))
    with pytest.raises(RnngenError) as e:
        _build(tmp_path, model, "w4a8")
    msg = str(e.value)
    assert "\n" not in msg and "l0_LSTM" in msg and "kron" in msg
    assert "int4 weights are not available for the kron format" in msg
    assert "give this layer w8a8" in msg
    assert not (tmp_path / "proj_w4a8").exists()
