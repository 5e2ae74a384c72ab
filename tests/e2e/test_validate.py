"""rnngen validate: the bundled example's evaluation split through the reference and the C on
host, cortex-a73 and cortex-m4, float32 and a compressed int8 build; the metrics against hand-
computed values; bad data refused in one line with no report written."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from rnngen import boards, driver
from rnngen import validate as val

ROOT = Path(__file__).resolve().parents[2]
EX = ROOT / "examples" / "lstm_classifier"
MODEL = EX / "model.onnx"
SPLIT = EX / "test.npz"
METRICS = {"max_abs_err", "mae", "rmse", "l2r", "cosine"}


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "rnngen.cli", *args], capture_output=True,
                          text=True, cwd=cwd, check=False)


@pytest.fixture(scope="module")
def csr_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("csr") / "csr.onnx"
    r = cli("compress", str(MODEL), "-m", "csr", "-f", "2", "-o", str(out))
    assert r.returncode == 0, r.stderr
    return out


def test_metrics_against_hand_computed_values() -> None:
    m = val.metrics(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 4.0]))
    assert m["max_abs_err"] == 1.0
    assert m["mae"] == pytest.approx(1 / 3)
    assert m["rmse"] == pytest.approx(math.sqrt(1 / 3))
    assert m["l2r"] == pytest.approx(1 / math.sqrt(21))
    assert m["cosine"] == pytest.approx(17 / math.sqrt(14 * 21))
    same = val.metrics(np.zeros(4), np.zeros(4))
    assert same == {"max_abs_err": 0.0, "mae": 0.0, "rmse": 0.0, "l2r": 0.0, "cosine": 1.0}


def test_float_reference_accuracy_equals_onnxruntime() -> None:
    import onnxruntime as ort

    d = np.load(SPLIT)
    s = ort.InferenceSession(str(MODEL))
    pred = np.array([int(np.argmax(s.run(None, {"digit_rows": x.reshape(8, 1, 8)})[0]))
                     for x in d["x"]])
    seen: list[tuple[str, int, int]] = []
    rep = val.validate(MODEL, val.Options(data=str(SPLIT)),
                       progress=lambda w, k, n: seen.append((w, k, n)))
    assert rep["sequences"] == 360 and rep["layout"] == "[N, T, I]"
    assert rep["correct"]["float"] == int(np.sum(pred == d["y"]))
    assert seen[-1] == ("float reference", 360, 360) and len(seen) == 360


def test_aeon_layout_is_detected_and_named(tmp_path: Path) -> None:
    import onnx

    from tests.models import Spec, make_model

    onnx.save(make_model(Spec("GRU", "forward", input_size=3, hidden=4, seq=6, layers=1)),
              tmp_path / "gru.onnx")
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (20, 6, 3)).astype(np.float32)  # [N, T, I]
    y = rng.integers(0, 4, 20)
    np.savez(tmp_path / "aeon.npz", x=x.transpose(0, 2, 1).copy(), y=y)  # [N, C, T]
    np.savez(tmp_path / "ntc.npz", x=x, y=y)
    a = val.validate(tmp_path / "gru.onnx", val.Options(data=str(tmp_path / "aeon.npz")))
    b = val.validate(tmp_path / "gru.onnx", val.Options(data=str(tmp_path / "ntc.npz")))
    assert a["layout"] == "[N, C, T] (aeon/sktime layout), transposed to [N, T, C]"
    assert b["layout"] == "[N, T, I]"
    assert a["correct"] == b["correct"] and a["sequences"] == 20


CASES = [("host", "float32"), ("cortex-a73", "float32"), ("cortex-m4", "float32"),
         ("host", "int8"), ("cortex-a73", "int8"), ("cortex-m4", "int8")]


@pytest.mark.qemu
@pytest.mark.parametrize("target,dtype", CASES)
def test_c_on_the_whole_split(tmp_path: Path, csr_model: Path, target: str, dtype: str) -> None:
    """float32: the dense example; int8: its CSR 2x compression, calibrated on the digit."""
    model = MODEL if dtype == "float32" else csr_model
    calib = str(EX / "digit.npy") if dtype == "int8" else None
    rep = val.validate(model, val.Options(data=str(SPLIT), on="c", build=driver.BuildOptions(
        target=target, dtype=dtype, calibrate=calib)))
    n = rep["sequences"]
    assert n == 360
    if dtype == "int8":
        assert rep["c_equals_reference"] is True
        assert rep["correct"]["c"] == rep["correct"]["reference"]
        assert rep["metrics"]["c_vs_reference"]["probabilities"]["max_abs_err"] == 0.0
        assert set(rep["metrics"]) == {"reference_vs_float", "c_vs_float", "c_vs_reference"}
    else:
        assert abs(rep["correct"]["c"] - rep["correct"]["float"]) <= 1
        assert rep["metrics"]["c_vs_float"]["probabilities"]["max_abs_err"] < 1e-5
    for per in rep["metrics"].values():
        assert set(per["probabilities"]) == METRICS
    board = boards.get(target)
    ins = rep["instructions"]
    if target == "host":
        assert ins is None and "natively" in rep["instructions_why"]
    else:
        pi = ins["per_inference"]
        assert 0 < pi["min"] <= pi["mean"] <= pi["max"]
        assert ins["per_step"] == pytest.approx(pi["mean"] / 8)
        est = ins["latency_estimate"]
        assert est["per_inference_ms"] == pytest.approx(pi["mean"] * board.cpi
                                                        / board.clock_hz * 1e3)
        assert "estimate" in est["note"]
    md = tmp_path / "r.md"
    js = tmp_path / "r.json"
    val.write_report(md, rep)
    val.write_report(js, rep)
    assert json.loads(js.read_text()) == json.loads(json.dumps(rep))
    text = md.read_text()
    for word in ("max abs err", "mae", "rmse", "l2r", "cosine", "accuracy"):
        assert word in text
    if target != "host":
        assert "Latency (estimate)" in text and "per inference, mean" in text


@pytest.mark.qemu
def test_thousand_sequences_on_cortex_m4_in_one_run(tmp_path: Path) -> None:
    d = np.load(SPLIT)
    idx = np.arange(1000) % 360
    np.savez(tmp_path / "k.npz", x=d["x"][idx], y=d["y"][idx])
    r = cli("validate", str(MODEL), "--target", "cortex-m4", "--data", str(tmp_path / "k.npz"),
            "--on", "c", "--dtype", "int8", "--calibrate", str(EX / "digit.npy"), "--json",
            "--report", str(tmp_path / "k.md"))
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    assert rep["sequences"] == 1000 and rep["c_equals_reference"] is True
    assert rep["correct"]["c"] == rep["correct"]["reference"]
    assert rep["instructions"]["per_inference"]["min"] > 0
    assert (tmp_path / "k.md").exists()


def _bad(tmp_path: Path, **arrays: np.ndarray) -> tuple[subprocess.CompletedProcess[str], Path]:
    data = tmp_path / "bad.npz"
    np.savez(data, **arrays)
    report = tmp_path / "out.md"
    r = cli("validate", str(MODEL), "--data", str(data), "--report", str(report))
    return r, report


X = np.load(SPLIT)["x"][:5]
Y = np.load(SPLIT)["y"][:5]


@pytest.mark.parametrize("arrays,needle", [
    ({"x": X.reshape(5, 64), "y": Y}, "x has rank 2"),
    ({"x": X, "y": np.array([0, 1, 2, 3, 10])}, "label 10 is out of range"),
    ({"x": X, "y": np.array([0, 1, 2, 3, -1])}, "negative label"),
    ({"x": X[:0], "y": Y[:0]}, "holds no sequences"),
    ({"x": X, "y": Y[:4]}, "y has 4 labels but x has 5 sequences"),
    ({"x": X, "y": Y.astype(np.float32)}, "integer labels"),
    ({"x": X[:, :, :6], "y": Y}, "takes T=8 steps of 8 features"),
    ({"y": Y}, "no array 'x'"),
])
def test_bad_data_one_line_exit_2_no_report(tmp_path: Path, arrays: dict[str, np.ndarray],
                                            needle: str) -> None:
    r, report = _bad(tmp_path, **arrays)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rnngen: error: ") and needle in lines[0]
    assert str(tmp_path / "bad.npz") in lines[0]
    assert not report.exists() and r.stdout == ""


def test_bad_report_name_fails_before_work(tmp_path: Path) -> None:
    r = cli("validate", str(MODEL), "--data", str(SPLIT), "--report", str(tmp_path / "r.txt"))
    assert r.returncode == 2 and "give a .md or .json file name" in r.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.qemu
@pytest.mark.parametrize("dtype,io", [("float32", "float"), ("int8", "float")])
def test_whole_sequence_model_with_three_outputs(tmp_path: Path, dtype: str, io: str) -> None:
    """A bidirectional 2-layer LSTM (no _step; outputs Y, Y_h, Y_c), unlabelled .npy data:
    the outputs split back per name; int8 I/O quantized and dequantized as the C API does."""
    import onnx

    from tests.models import Spec, make_model

    onnx.save(make_model(Spec("LSTM", "bidirectional", input_size=3, hidden=5, seq=6,
                              layers=2)), tmp_path / "bi.onnx")
    x = np.random.default_rng(1).uniform(-1, 1, (30, 6, 3)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    seen: list[tuple[str, int, int]] = []
    rep = val.validate(tmp_path / "bi.onnx", val.Options(
        data=str(tmp_path / "x.npy"), on="c",
        build=driver.BuildOptions(target="cortex-m4", dtype=dtype, io=io)),
        progress=lambda w, k, n: seen.append((w, k, n)))
    on_c = [k for w, k, n in seen if w == "C on cortex-m4"]
    assert on_c == list(range(1, 31))  # the program's progress lines, as it runs
    assert [o["name"] for o in rep["outputs"]] == ["l1_Y", "l1_Yh", "l1_Yc"]
    assert "accuracy" not in rep and set(rep["top1_agreement_with_float"]) >= {"c"}
    if dtype == "int8":
        assert rep["c_equals_reference"] is True
        assert all(m["max_abs_err"] > 0 for m in rep["metrics"]["c_vs_float"].values())
    else:
        assert all(m["max_abs_err"] < 1e-5 for m in rep["metrics"]["c_vs_float"].values())
    pi = rep["instructions"]["per_inference"]
    assert pi["min"] == pi["max"] > 0  # no data-dependent branches in these kernels


@pytest.mark.qemu
def test_int8_io_quantized_and_dequantized_as_the_c_api(tmp_path: Path) -> None:
    d = np.load(SPLIT)
    np.savez(tmp_path / "d.npz", x=d["x"][:60], y=d["y"][:60])
    o = driver.BuildOptions(target="cortex-m4", dtype="int8", calibrate=str(EX / "digit.npy"))
    a = val.validate(MODEL, val.Options(data=str(tmp_path / "d.npz"), on="c",
                                        build=replace(o, io="int8")))
    b = val.validate(MODEL, val.Options(data=str(tmp_path / "d.npz"), on="c", build=o))
    assert a["io"] == "int8" and a["c_equals_reference"] is True
    assert a["metrics"] == b["metrics"] and a["correct"] == b["correct"]
