"""All 18 ONNX backend node cases for LSTM, GRU and RNN, compiled to C and run.

See tests/onnx_cases.py for how the data is obtained (generated from the onnx package's own
case definitions) and how batch > 1 cases are split into batch-1 models.
"""

from __future__ import annotations

import pytest

from rnngen import driver
from tests import onnx_cases

CASES = onnx_cases.collect()
SPLITS = [s for c in CASES for s in onnx_cases.split_batch(c)]
CROSS = ["cortex-a73", "cortex-a53", "cortex-m4", "cortex-m7", "cortex-m55"]
# on the cross boards, the first batch element of every case (all of them run on the host)
FIRST = [onnx_cases.split_batch(c)[0] for c in CASES]


def test_all_eighteen_cases_are_generated():
    names = {c.name for c in CASES}
    assert len(names) == 18, sorted(names)
    for cell in ("lstm", "gru", "simple_rnn"):
        assert any(n.startswith(f"test_{cell}_reverse") for n in names)
        assert any(n.startswith(f"test_{cell}_bidirectional") for n in names)


@pytest.mark.parametrize("split", SPLITS, ids=[s.name for s in SPLITS])
def test_case_runs_as_c_and_matches(split, tmp_path):
    _verify(split, "host", tmp_path, rtol=1e-5)


@pytest.mark.qemu
@pytest.mark.parametrize("board", CROSS)
@pytest.mark.parametrize("split", FIRST, ids=[s.name for s in FIRST])
def test_case_on_every_board(split, board, tmp_path):
    _verify(split, board, tmp_path, rtol=1e-4)


def _verify(split, board, tmp_path, rtol):
    model, x, expected = onnx_cases.write(split, tmp_path)
    opts = driver.BuildOptions(target=board, input=str(x), expect=str(expected), atol=1e-5,
                               rtol=rtol)
    res = driver.verify(model, opts)
    assert res.passed, res.output
    assert res.report["mismatches"] == 0
    assert res.report["values"] == sum(v.size for v in split.expected.values())
