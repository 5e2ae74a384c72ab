"""Quantization-aware training for rnngen's int8 scheme (docs/int8.md).

QuantAware wraps a TorchGraph (the model with trainable recurrent matrices). Its forward
values are exactly what rnngen's integer reference (codegen/reference_int.py), and so the
generated int8 C, computes for the current factors: per-row int8 weight scales, int8
activations, int16 Q3.12 gates and cell state, table activations, Q31 requantization, or
the number types per layer a precision plan gives (int4 weights, int16 activations, float32
layers: `rnngen compress --qat --precision SPEC`, and the search's beacons, which train
through their own candidate's plan) —
the plan is built by rnngen's own quantize pass (passes/quantize.py) from the current
weights on every forward, with activation ranges from calibration data (recalibrate() runs
the float model on it again, e.g. once per epoch). Gradients are those of the float model:
a straight-through estimator over the whole network, out = (float - float.detach()) + int8,
whose value is the int8 output exactly; training moves the float factors toward values
whose int8 model does well.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from .. import ir, precision, reference
from ..passes import quantize
from .graph import TorchGraph, matrix_key


class QuantAware(torch.nn.Module):
    def __init__(self, tg: TorchGraph, calibration: np.ndarray, prec: Any = None):
        """calibration: [N, *input shape] float sequences (as --calibrate takes them);
        prec: the number types per layer (a precision.Plan, as `rnngen build --precision`
        takes them; None: w8a8 everywhere)."""
        super().__init__()
        self.tg = tg
        self.prec = prec
        if prec is not None:  # the layers it names exist and have weights (as a build checks)
            g0 = tg.g
            precision.check_layers(prec, {n.name: type(n).__name__ for n in g0.nodes
                                          if isinstance(n, quantize.WEIGHTED)},
                                   g0.source or g0.name)
        shape = tuple(tg.g.shapes[tg.g.input])
        self.xs = [np.asarray(x, np.float32).reshape(shape) for x in calibration]
        self.stats = quantize._calibrate(self.current_graph(), self.xs)

    def current_graph(self) -> ir.Graph:
        """The float graph with the current (trained) recurrent matrices."""
        from ..compress_eval import _substitute

        rep: dict[str, dict[tuple[int, str], ir.Matrix]] = {}
        for n in self.tg.g.nodes:
            if isinstance(n, ir.Recurrent):
                for d in range(n.num_directions):
                    for role in ("W", "R"):
                        key = matrix_key(n.name, d, role)
                        if key in self.tg.mats:
                            rep.setdefault(n.name, {})[(d, role)] = self.tg.mats[key].to_ir()
        if not rep:
            return self.tg.g
        return _substitute(self.tg.g, rep)

    def recalibrate(self) -> None:
        self.stats = quantize._calibrate(self.current_graph(), self.xs)

    def quantized_graph(self) -> ir.Graph:
        """The current graph with its int8 plan (what `rnngen build --dtype int8` compiles,
        for calibration ranges from the last recalibrate())."""
        g = self.current_graph()
        plan = quantize._Builder(g, self.stats, "float", "QAT calibration", (),
                                 self.prec).build()
        return g.replace(quant=plan)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        out = self.tg(x)
        gq = self.quantized_graph()
        ints: dict[str, list[np.ndarray]] = {o: [] for o in gq.outputs}
        for xk in x.detach().cpu().numpy():
            res = reference.Executor(gq, dtype="int8").run(xk)
            for o in gq.outputs:
                ints[o].append(res[o])
        # (f - f.detach()) is exactly 0 forward and the float model's gradient backward
        return {o: (out[o] - out[o].detach()) +
                torch.from_numpy(np.stack(ints[o])).reshape(out[o].shape)
                for o in gq.outputs}
