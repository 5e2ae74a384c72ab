"""Seeded random ONNX models of stacked LSTM/GRU/RNN layers, and oracles to run them.

Layers are stacked the way PyTorch's exporter does it: Y [T, D, 1, H] -> Transpose
(0, 2, 1, 3) -> Reshape [T, 1, D*H] -> next layer. Outputs: the last layer's Y and Y_h
(and Y_c for LSTM).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

F32 = np.float32
ACTS = ["Sigmoid", "Tanh", "Relu", "HardSigmoid", "Softsign", "Elu", "LeakyRelu", "ScaledTanh",
        "Affine", "Softplus", "ThresholdedRelu"]
# bounded ones for random deep/long models (unbounded ones amplify rounding exponentially)
BOUNDED_ACTS = ["Sigmoid", "Tanh", "HardSigmoid", "Softsign", "ScaledTanh"]


@dataclass
class Spec:
    cell: str
    direction: str
    input_size: int
    hidden: int
    seq: int
    layers: int
    layout: int = 0
    clip: float | None = None
    peepholes: bool = False
    initial_state: bool = False
    input_forget: bool = False
    lbr: int = 0
    activations: list[str] | None = None
    alphas: list[float] = field(default_factory=list)
    betas: list[float] = field(default_factory=list)
    seq_lens: int | None = None

    @property
    def params(self) -> int:
        g = {"LSTM": 4, "GRU": 3, "RNN": 1}[self.cell]
        d = 2 if self.direction == "bidirectional" else 1
        tot, i = 0, self.input_size
        for _ in range(self.layers):
            tot += d * g * self.hidden * (i + self.hidden)
            i = d * self.hidden
        return tot

    def label(self) -> str:
        extra = "".join(f"-{k}" for k, v in (("clip", self.clip), ("peep", self.peepholes),
                                             ("h0", self.initial_state),
                                             ("ifg", self.input_forget), ("lbr", self.lbr),
                                             ("acts", self.activations),
                                             ("len", self.seq_lens),
                                             ("layout1", self.layout)) if v)
        return (f"{self.cell}-{self.direction[:3]}-i{self.input_size}-h{self.hidden}"
                f"-t{self.seq}-l{self.layers}{extra}")


def random_spec(rng: np.random.Generator, max_params: int = 400_000, features: bool = True,
                big: bool = True) -> Spec:
    while True:
        cell = str(rng.choice(["LSTM", "GRU", "RNN"]))
        direction = str(rng.choice(["forward", "reverse", "bidirectional"]))
        hi = 300 if big else 40

        def size(lo: int, top: int) -> int:  # log-uniform
            return int(round(np.exp(rng.uniform(np.log(lo), np.log(top)))))

        s = Spec(cell, direction, size(1, hi), size(1, hi), size(1, 100 if big else 12),
                 int(rng.integers(1, 4)))
        if s.params <= max_params:
            break
    if features:
        if rng.random() < 0.3:
            s.clip = float(rng.uniform(0.5, 3.0))
        if rng.random() < 0.3:
            s.initial_state = True
        if cell == "LSTM":
            s.peepholes = rng.random() < 0.3
            s.input_forget = rng.random() < 0.2
        if cell == "GRU":
            s.lbr = int(rng.integers(0, 2))
        if rng.random() < 0.25:
            per = {"LSTM": 3, "GRU": 2, "RNN": 1}[cell]
            d = 2 if direction == "bidirectional" else 1
            s.activations = [str(a) for a in rng.choice(BOUNDED_ACTS, size=per * d)]
            s.alphas = [float(v) for v in rng.uniform(0.1, 1.5, size=per * d)]
            s.betas = [float(v) for v in rng.uniform(0.1, 1.0, size=per * d)]
        if rng.random() < 0.15 and s.seq > 1:
            s.seq_lens = int(rng.integers(1, s.seq + 1))
    return s


def make_model(s: Spec, seed: int = 0) -> onnx.ModelProto:
    rng = np.random.default_rng(seed)
    G = {"LSTM": 4, "GRU": 3, "RNN": 1}[s.cell]
    D = 2 if s.direction == "bidirectional" else 1
    H = s.hidden
    nodes, inits = [], []
    x_shape = [s.seq, 1, s.input_size] if s.layout == 0 else [1, s.seq, s.input_size]
    cur, cur_in = "x", s.input_size
    outputs = []
    for layer in range(s.layers):
        p = f"l{layer}_"
        scale = 1.0 / np.sqrt(max(1, cur_in + H))
        W = (rng.standard_normal((D, G * H, cur_in)) * 2 * scale).astype(F32)
        R = (rng.standard_normal((D, G * H, H)) * 2 * scale).astype(F32)
        B = (rng.standard_normal((D, 2 * G * H)) * 0.3).astype(F32)
        inits += [numpy_helper.from_array(W, p + "W"), numpy_helper.from_array(R, p + "R"),
                  numpy_helper.from_array(B, p + "B")]
        ins = [cur, p + "W", p + "R", p + "B", "", "", "", ""]
        if s.seq_lens is not None:
            inits.append(numpy_helper.from_array(np.array([s.seq_lens], np.int32), p + "len"))
            ins[4] = p + "len"
        if s.initial_state:
            hs = (D, 1, H) if s.layout == 0 else (1, D, H)
            inits.append(numpy_helper.from_array(
                (rng.standard_normal(hs) * 0.5).astype(F32), p + "h0"))
            ins[5] = p + "h0"
            if s.cell == "LSTM":
                inits.append(numpy_helper.from_array(
                    (rng.standard_normal(hs) * 0.5).astype(F32), p + "c0"))
                ins[6] = p + "c0"
        if s.cell == "LSTM" and s.peepholes:
            inits.append(numpy_helper.from_array(
                (rng.standard_normal((D, 3 * H)) * 0.5).astype(F32), p + "P"))
            ins[7] = p + "P"
        while ins and ins[-1] == "":
            ins.pop()
        last = layer == s.layers - 1
        outs = [p + "Y", p + "Yh"] + ([p + "Yc"] if s.cell == "LSTM" else [])
        if not last:
            outs = [p + "Y"]
        attrs = dict(hidden_size=H, direction=s.direction)
        if s.layout:
            attrs["layout"] = 1
        if s.clip is not None:
            attrs["clip"] = s.clip
        if s.cell == "LSTM" and s.input_forget:
            attrs["input_forget"] = 1
        if s.cell == "GRU":
            attrs["linear_before_reset"] = s.lbr
        if s.activations:
            attrs["activations"] = s.activations
            attrs["activation_alpha"] = s.alphas
            attrs["activation_beta"] = s.betas
        nodes.append(helper.make_node(s.cell, ins, outs, name=p + s.cell, **attrs))
        if last:
            outputs = outs
        else:
            if s.layout == 0:  # [T, D, 1, H] -> [T, 1, D, H] -> [T, 1, D*H]
                nodes.append(helper.make_node("Transpose", [p + "Y"], [p + "Yt"],
                                              perm=[0, 2, 1, 3]))
                shape = [s.seq, 1, D * H]
            else:  # [1, T, D, H] -> [1, T, D*H]
                nodes.append(helper.make_node("Identity", [p + "Y"], [p + "Yt"]))
                shape = [1, s.seq, D * H]
            inits.append(numpy_helper.from_array(np.array(shape, np.int64), p + "shape"))
            nodes.append(helper.make_node("Reshape", [p + "Yt", p + "shape"], [p + "next"]))
            cur, cur_in = p + "next", D * H
    g = helper.make_graph(nodes, "random", [helper.make_tensor_value_info(
        "x", TensorProto.FLOAT, x_shape)], [helper.make_tensor_value_info(
            o, TensorProto.FLOAT, None) for o in outputs], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 22)])


def oracle(model: onnx.ModelProto, x: np.ndarray) -> tuple[dict[str, np.ndarray], str]:
    """Outputs from onnxruntime, or onnx's ReferenceEvaluator where onnxruntime refuses the
    model (layout=1)."""
    names = [o.name for o in model.graph.output]
    try:
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.intra_op_num_threads = 1
        sess = ort.InferenceSession(model.SerializeToString(), so,
                                    providers=["CPUExecutionProvider"])
        res = sess.run(names, {"x": x})
        return dict(zip(names, res)), "onnxruntime"
    except Exception as e:  # noqa: BLE001 - onnxruntime refuses layout=1
        if "layout" not in str(e).lower() and "batchwise" not in str(e).lower():
            raise
    from onnx.reference import ReferenceEvaluator

    res = ReferenceEvaluator(model).run(names, {"x": x})
    return dict(zip(names, res)), "onnx.reference"
