"""The ONNX backend node cases for LSTM, GRU and RNN, generated from the onnx package.

onnx >= 1.23 no longer ships the test data folders, so the cases are produced the way onnx
produces them: by calling the `export_*` functions of `onnx.backend.test.case.node.{lstm,
gru,rnn}` with `expect` captured (np.random seeded with 0 before each). That gives the 12
cases onnx <= 1.22 shipped plus the reverse and bidirectional ones: 18 in all.

rnngen compiles batch-1 models, and several cases use batch 2 or 3. Batch elements of an RNN
are independent, so each case is split into one batch-1 model per element, with the inputs
(X, initial_h, initial_c, sequence_lens) and the expected outputs sliced to that element;
weight inputs become initializers.
"""

from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


@dataclass
class Case:
    name: str
    node: onnx.NodeProto
    inputs: list[np.ndarray]
    outputs: list[np.ndarray]


def collect() -> list[Case]:
    captured: list[Case] = []

    def fake_expect(node, inputs, outputs, name, **kw):  # noqa: ANN001
        captured.append(Case(name, node, list(inputs), list(outputs)))

    for mod in ("lstm", "gru", "rnn"):
        m = importlib.import_module(f"onnx.backend.test.case.node.{mod}")
        saved = m.expect
        m.expect = fake_expect
        try:
            for _, cls in inspect.getmembers(m, inspect.isclass):
                if cls.__module__ != m.__name__:
                    continue
                for k in sorted(dir(cls)):
                    if k.startswith("export"):
                        np.random.seed(0)
                        getattr(cls, k)()
        finally:
            m.expect = saved
    return sorted(captured, key=lambda c: c.name)


@dataclass
class Split:
    name: str  # case name + batch element
    model: onnx.ModelProto
    x: np.ndarray
    expected: dict[str, np.ndarray]
    layout: int


def split_batch(case: Case) -> list[Split]:
    node = case.node
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    layout = int(attrs.get("layout", 0))
    bax_x = 0 if layout else 1  # batch axis of X
    bax_h = 0 if layout else 1  # batch axis of initial_h / Y_h
    bax_y = 0 if layout else 2  # batch axis of Y
    names = list(node.input)
    x_full = case.inputs[0]
    B = x_full.shape[bax_x]
    onames = [o for o in node.output if o]
    out = []
    for b in range(B):
        ins = []
        for nm, arr in zip(names, case.inputs):
            if nm == "X":
                arr = np.take(arr, [b], axis=bax_x)
            elif nm in ("initial_h", "initial_c"):
                arr = np.take(arr, [b], axis=bax_h)
            elif nm == "sequence_lens":
                arr = arr[b:b + 1]
            ins.append(arr)
        expected = {}
        for on, arr in zip(onames, case.outputs):
            ax = bax_y if on == "Y" else bax_h
            expected[on] = np.take(arr, [b], axis=ax)
        inits = [numpy_helper.from_array(a, n) for n, a in zip(names[1:], ins[1:]) if n]
        g = helper.make_graph(
            [node], f"{case.name}_b{b}",
            [helper.make_tensor_value_info("X", TensorProto.FLOAT, list(ins[0].shape))],
            [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in onames], inits)
        model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 22)])
        out.append(Split(f"{case.name}_b{b}", model, ins[0], expected, layout))
    return out


def write(split: Split, folder: Path) -> tuple[Path, Path, Path]:
    """model.onnx, x.npy, expected.npz for `rnngen verify --input x.npy --expect ...`."""
    folder.mkdir(parents=True, exist_ok=True)
    mp = folder / f"{split.name}.onnx"
    onnx.save(split.model, mp)
    xp = folder / "x.npy"
    np.save(xp, split.x)
    ep = folder / "expected.npz"
    np.savez(ep, **split.expected)
    return mp, xp, ep
