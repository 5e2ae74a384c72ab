"""rnngen inspect's per-layer table: per-layer flash sums to the build's weights_bytes, RAM to
the build's RAM, MACs to its MACs per step, on dense, CSR, HMD, bidirectional, int8 and
broadcast/transpose models; columns aligned for long names."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from rnngen import analysis, driver

ROOT = Path(__file__).resolve().parents[2]
EX = ROOT / "examples" / "lstm_classifier" / "model.onnx"
LONG = "encoder/" + "very_long_recurrent_layer_name_" * 3 + "LSTM"


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "rnngen.cli", *args], capture_output=True,
                          text=True, check=False)


def _mixed_model(path: Path) -> Path:
    """LSTM (long name) -> Transpose -> Add of a broadcast constant -> Gemm-free output."""
    rng = np.random.default_rng(0)
    T, I, H = 5, 3, 6
    W = rng.standard_normal((1, 4 * H, I)).astype(np.float32) * 0.3
    R = rng.standard_normal((1, 4 * H, H)).astype(np.float32) * 0.3
    nodes = [helper.make_node("LSTM", ["x", "W", "R"], ["Y"], name=LONG, hidden_size=H),
             helper.make_node("Transpose", ["Y"], ["Yt"], perm=[1, 2, 0, 3], name="t"),
             helper.make_node("Add", ["Yt", "b"], ["out"], name="add_bias")]
    g = helper.make_graph(nodes, "mixed",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [T, 1, I])],
                          [helper.make_tensor_value_info("out", TensorProto.FLOAT,
                                                         [1, 1, T, H])],
                          [numpy_helper.from_array(W, "W"), numpy_helper.from_array(R, "R"),
                           numpy_helper.from_array(
                               rng.standard_normal((T, 1)).astype(np.float32), "b")])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("models")
    out = {"dense": EX, "mixed": _mixed_model(d / "mixed.onnx")}
    for method in ("csr", "hmd"):
        p = d / f"{method}.onnx"
        r = cli("compress", str(EX), "-m", method, "-f", "2", "-o", str(p))
        assert r.returncode == 0, r.stderr
        out[method] = p
    from tests.models import Spec, make_model

    onnx.save(make_model(Spec("GRU", "bidirectional", input_size=4, hidden=7, seq=5,
                              layers=2)), d / "bi.onnx")
    out["bi"] = d / "bi.onnx"
    return out


# int8 compiles no elementwise Add of two tensors, so "mixed" is float32 only
CASES = [(w, d) for w in ("dense", "csr", "hmd", "bi") for d in ("float32", "int8")] + \
    [("mixed", "float32")]


@pytest.mark.parametrize("which,dtype", CASES)
def test_totals_equal_the_build(tmp_path: Path, models: dict[str, Path], which: str,
                                dtype: str) -> None:
    model = models[which]
    # cortex-m4: the model objects have no .data/.bss there, so RAM = the state struct (a
    # host build counts the params structs' relocations as .data)
    res = driver.build(model, tmp_path / "p", driver.BuildOptions(target="cortex-m4",
                                                                  dtype=dtype))
    m = res.manifest
    t = analysis.table(res.graph)
    assert t["total"]["flash_bytes"] == m["weights_bytes"]
    assert sum(r["flash_bytes"] for r in t["rows"]) == m["weights_bytes"]
    assert all(not r["node"].startswith("(") for r in t["rows"])  # everything attributed
    assert t["total"]["ram_bytes"] == m["ram_bytes"] == m["state_bytes"]
    assert t["total"]["macs_per_step"] == m["macs_per_step"]
    if t["streaming"]:
        assert sum(r["macs_per_step"] for r in t["rows"]) == m["macs_per_step"]
    assert sum(r["macs_per_sequence"] for r in t["rows"]) == t["total"]["macs_per_sequence"]
    assert t["total"]["params"] == driver.inspect(model)["params"]


def test_text_table_is_aligned_and_json_carries_it(models: dict[str, Path]) -> None:
    r = cli("inspect", str(models["mixed"]))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    start = next(i for i, x in enumerate(lines) if x.strip().startswith("layer "))
    rows = lines[start:start + 5]  # header, rule, LSTM, Add, rule
    assert any(LONG in x for x in rows)
    # every column's right edge at the same place: header, rule and rows have one length
    assert len({len(x) for x in rows}) == 1, rows
    js = json.loads(cli("inspect", str(models["mixed"]), "--json").stdout)
    ops = [row["op"] for row in js["table"]["rows"]]
    assert ops == ["LSTM", "Add"]
    add = js["table"]["rows"][1]
    assert add["flash_bytes"] == 5 * 4  # the broadcast constant b [5, 1]; index arrays excluded
