"""rnn_rnn_cell_s16's fast paths (NEON on cortex-a73, Helium on cortex-m55, DSP on cortex-m4
and cortex-m7; plain C on the host) bit for bit against rnngen's NumPy reference
(cells/rnn.py step_s8), through tests/kernels/test_cell_kernels.py's machinery: hidden
sizes that leave a tail after the four-unit passes (13) and none (4), tanh and sigmoid
tables, ReLU (no table) and a clip, each from a real calibrated model."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import onnx
import pytest

from rnngen import pipeline
from tests import models
from tests.kernels.harness import HostLib, run_cases
from tests.kernels.test_cell_kernels import _cell_s16, _compare

SPECS = {
    "rnn13_tanh": models.Spec("RNN", "forward", 5, 13, 4, 1, activations=["Tanh"],
                              alphas=[0.0], betas=[0.0]),
    "rnn4_sigmoid_clip": models.Spec("RNN", "forward", 3, 4, 4, 1, activations=["Sigmoid"],
                                     alphas=[0.0], betas=[0.0], clip=0.75),
    "rnn13_relu": models.Spec("RNN", "forward", 5, 13, 4, 1, activations=["Relu"],
                              alphas=[0.0], betas=[0.0]),
    "rnn9_relu_clip": models.Spec("RNN", "forward", 6, 9, 4, 1, activations=["Relu"],
                                  alphas=[0.0], betas=[0.0], clip=2.0),
}
TRIALS = 6


@pytest.fixture(scope="module")
def checks(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("rnn_cells")
    out = {}
    for key, spec in SPECS.items():
        p = tmp / f"{key}.onnx"
        onnx.save(models.make_model(spec, 3), p)
        g = pipeline.compile_model(p, pipeline.Options(dtype="int8"))
        q = next(iter(g.quant.nodes.values()))
        # the fast paths' condition (rnn_cell_support.h RNN_RQ_FAST(out_shift, 15)): every
        # model here meets it, so the boards run the vector / DSP loops, not the plain C
        assert -31 <= q.out_shift <= 13, (key, q.out_shift)
        chk = _cell_s16(key, g)
        chk.case.arrays.update(chk.inputs(np.random.default_rng(0)))
        out[chk.case.name] = chk
    return out


def test_rnn_cell_s16_on_the_host(checks, tmp_path):
    lib = HostLib([c.case for c in checks.values()], tmp_path)
    for name, chk in checks.items():
        rng = np.random.default_rng(math.prod(map(ord, name)) % 2**32)
        for trial in range(TRIALS):
            a = {k: np.array(v) for k, v in chk.case.arrays.items()}
            a.update(chk.inputs(rng))
            _compare(chk, lib.call(name, **a), a, f"host trial {trial}")


@pytest.mark.qemu
@pytest.mark.parametrize("board", ["cortex-a73", "cortex-m4", "cortex-m7", "cortex-m55"])
def test_rnn_cell_s16_on_the_board(checks, board, tmp_path: Path):
    runs = []
    for name, chk in checks.items():
        rng = np.random.default_rng(math.prod(map(ord, name + board)) % 2**32)
        for k in range(TRIALS):
            runs.append((chk, chk.case.copy(f"_t{k}", chk.inputs(rng))))
    got = run_cases(board, [c for _, c in runs], tmp_path)
    for chk, case in runs:
        _compare(chk, got[case.name], case.arrays, f"{board}, {case.name}")
