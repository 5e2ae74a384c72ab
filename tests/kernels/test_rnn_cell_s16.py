"""rnn_rnn_cell_s16's fast paths (NEON on cortex-a73, Helium on cortex-m55, DSP on cortex-m4
and cortex-m7; plain C on the host) bit for bit against rnngen's NumPy reference
(cells/rnn.py step_s8), through tests/kernels/test_cell_kernels.py's machinery: hidden
sizes that leave a tail after the four-unit passes (13) and none (4), tanh and sigmoid
tables, ReLU (no table) and a clip, each from a real calibrated model."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import models
from tests.kernels.test_cell_kernels import (
    _cell_s16,
    _onnx,
    check_on_board,
    check_on_host,
    compile_int8,
    with_first_inputs,
)

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
        g = compile_int8(_onnx(tmp, key, spec))
        q = next(iter(g.quant.nodes.values()))
        # the fast paths' condition (rnn_cell_support.h RNN_RQ_FAST(out_shift, 15)): every
        # model here meets it, so the boards run the vector / DSP loops, not the plain C
        assert -31 <= q.out_shift <= 13, (key, q.out_shift)
        chk = _cell_s16(key, g)
        out[chk.case.name] = chk
    return with_first_inputs(out)


def test_rnn_cell_s16_on_the_host(checks, tmp_path):
    check_on_host(checks, tmp_path, TRIALS)


@pytest.mark.qemu
@pytest.mark.parametrize("board", ["cortex-a73", "cortex-m4", "cortex-m7", "cortex-m55"])
def test_rnn_cell_s16_on_the_board(checks, board, tmp_path: Path):
    check_on_board(checks, board, tmp_path, TRIALS)
