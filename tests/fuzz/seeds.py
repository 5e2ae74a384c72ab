"""Seed models for the fuzzer: the project's own small models of every cell and format.

ONNX: LSTM/GRU/RNN from tests/models.py (peepholes, initial states, clip, bidirectional,
reverse, sequence_lens, activations, layout 1, a dynamic time axis), the bundled PyTorch
export (examples/lstm_classifier) and `rnngen compress` outputs in every format (HMD,
low rank, CSR, Kronecker, HKP). .npz: every cell (LSTM, GRU, RNN, FastRNN, FastGRNN),
bidirectional, both output modes, every matrix format. Boards: boards/*.toml.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import rnngen.npz as rn

from tests import models

ROOT = Path(__file__).resolve().parents[2]
METHODS = ("hmd", "lmf", "csr", "kron", "hkp")


def _u(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return rng.uniform(-0.5, 0.5, shape).astype(np.float32)


def onnx_seeds(d: Path) -> list[dict]:
    """[{"model": path, "seq_len": T or None, "oracle": bool}] written into d."""
    from rnngen.compress_model import compress_file

    d.mkdir(parents=True, exist_ok=True)
    specs = {
        "lstm": models.Spec("LSTM", "forward", 3, 4, 5, 1, clip=2.0, peepholes=True,
                            initial_state=True),
        "gru_bi": models.Spec("GRU", "bidirectional", 3, 4, 4, 2, lbr=1),
        "rnn_rev": models.Spec("RNN", "reverse", 2, 3, 4, 1, seq_lens=3,
                               activations=["Softsign"], alphas=[0.5], betas=[0.5]),
        "lstm_layout1": models.Spec("LSTM", "forward", 2, 3, 3, 1, layout=1),
        "dense8": models.Spec("LSTM", "forward", 8, 8, 4, 1),
    }
    out = []
    for name, s in specs.items():
        p = d / f"{name}.onnx"
        onnx.save(models.make_model(s, 1), p)
        out.append({"model": str(p), "seq_len": None, "oracle": True})
    m = models.make_model(specs["gru_bi"], 2)
    m.graph.input[0].type.tensor_type.shape.dim[0].dim_param = "T"
    p = d / "dyn_time.onnx"
    onnx.save(m, p)
    out.append({"model": str(p), "seq_len": 6, "oracle": True})
    out.append({"model": str(ROOT / "examples/lstm_classifier/model.onnx"), "seq_len": None,
                "oracle": True})
    for method in METHODS:
        p = d / f"c_{method}.onnx"
        compress_file(d / "dense8.onnx", p, method, 2.0, force=True)
        out.append({"model": str(p), "seq_len": None, "oracle": True})
    return out


def npz_layers(rng: np.random.Generator) -> dict[str, tuple[list, dict]]:
    """name -> (layers, save keywords)."""
    I, H = 3, 4
    lstm = rn.lstm(_u(rng, 4 * H, I), _u(rng, 4 * H, H), _u(rng, 4 * H), _u(rng, 4 * H),
                   gate_order="pytorch")
    gru = rn.gru([_u(rng, 3 * H, I)] * 2, [_u(rng, 3 * H, H)] * 2, gate_order="onnx",
                 linear_before_reset=True, direction="bidirectional")
    rnn = rn.rnn(_u(rng, H, I), _u(rng, H, H), _u(rng, H), nonlinearity="relu",
                 direction="reverse")
    fastrnn = rn.fastrnn(rn.lowrank(_u(rng, H, 2), _u(rng, 2, I)), _u(rng, H, H), _u(rng, H),
                         alpha=-1.0, beta=2.0)
    fastgrnn = rn.fastgrnn(_u(rng, H, I), _u(rng, H, H), _u(rng, H), _u(rng, H), zeta=1.0,
                           nu=-2.0)
    w = _u(rng, 4 * H, I)
    w[np.abs(w) < 0.25] = 0
    formats = rn.lstm(
        rn.stack(rn.hmd(_u(rng, 2, I), _u(rng, H - 2), _u(rng, 2), _u(rng, H - 2), _u(rng, 1)),
                 rn.csr_from_dense(w[H:2 * H]), rn.lowrank(_u(rng, H, 2), _u(rng, 2, I)),
                 rn.kron(_u(rng, 2, 1), _u(rng, 2, 3))),
        _u(rng, 4 * H, H), gate_order="onnx")
    head = [rn.dense(_u(rng, 5, H), _u(rng, 5)), rn.softmax()]
    return {
        "lstm": ([lstm, *head], dict(input_size=I, seq_len=5)),
        "gru_bi_last": ([gru, rn.dense(_u(rng, 2, 2 * H))], dict(seq_len=4, output="last")),
        "rnn_rev": ([rnn, rn.tanh()], dict(seq_len=3)),
        "fastrnn": ([fastrnn], dict(seq_len=4)),
        "fastgrnn_last": ([fastgrnn, rn.dense(_u(rng, 3, H)), rn.log_softmax()],
                          dict(seq_len=4, output="last")),
        "formats": ([formats], dict(seq_len=3)),
    }


def npz_seeds(d: Path) -> list[dict]:
    """[{"model": path, "manifest": dict, "arrays": {name: array}}] written into d."""
    from rnngen.compress_model import compress_file

    d.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    paths = []
    for name, (layers, kw) in npz_layers(rng).items():
        paths.append(rn.save(d / f"{name}.npz", layers, **kw))
    big = rn.save(d / "dense8.npz", [rn.gru(_u(rng, 24, 8), _u(rng, 24, 8), gate_order="onnx",
                                            linear_before_reset=False)], seq_len=3)
    for method in METHODS:
        p = d / f"c_{method}.npz"
        compress_file(big, p, method, 2.0, force=True)
        paths.append(p)
    out = []
    for p in paths:
        with np.load(p, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        manifest = json.loads(str(arrays.pop("__rnngen__")))
        out.append({"model": str(p), "manifest": manifest, "arrays": arrays})
    return out


def board_seeds() -> list[Path]:
    return sorted((ROOT / "boards").glob("*.toml"))
