"""rnngen's IR (ir.Graph) run by PyTorch: the same node semantics as codegen/reference.py
(the NumPy golden model), batched with torch.func.vmap, differentiable, and with chosen
recurrent matrices replaced by trainable blocks (rnngen.torch.blocks). This is how
`rnngen compress --finetune` trains the factors of any model rnngen reads (ONNX or .npz,
LSTM / GRU / RNN / FastRNN / FastGRNN with the layers around them) without a PyTorch
definition of it: everything but the trainable matrices is a constant.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from .. import ir
from ..errors import RnngenError
from .blocks import Block


def _t(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.array(a, dtype=np.float32, copy=True))


def activation(act: ir.Activation, x: torch.Tensor) -> torch.Tensor:
    a, b = float(act.alpha), float(act.beta)
    name = act.name
    if name == "Sigmoid":
        return torch.sigmoid(x)
    if name == "Tanh":
        return torch.tanh(x)
    if name == "Relu":
        return torch.relu(x)
    if name == "Affine":
        return a * x + b
    if name == "LeakyRelu":
        return torch.where(x >= 0, x, a * x)
    if name == "ThresholdedRelu":
        return torch.where(x > a, x, torch.zeros_like(x))
    if name == "ScaledTanh":
        return a * torch.tanh(b * x)
    if name == "HardSigmoid":
        return torch.clamp(a * x + b, 0.0, 1.0)
    if name == "Elu":
        return torch.where(x >= 0, x, a * (torch.exp(x) - 1.0))
    if name == "Softsign":
        return x / (1.0 + torch.abs(x))
    if name == "Softplus":
        return torch.nn.functional.softplus(x)
    raise RnngenError(f"activation {name} is not implemented")


def _clip(v: torch.Tensor, clip: float | None) -> torch.Tensor:
    return v if clip is None else torch.clamp(v, -clip, clip)


def matrix_key(layer: str, direction: int, role: str) -> str:
    """The ModuleDict key of a recurrent matrix (role "W" or "R")."""
    return f"{len(layer)}_{''.join(c if c.isalnum() else '_' for c in layer)}_{direction}_{role}"


class TorchGraph(nn.Module):
    """forward(x [B, *input shape]) -> {output name: [B, *shape]} for the graph `g`;
    `trainable` maps matrix_key(layer, direction, role) to the block that replaces that
    recurrent matrix (the others are constants)."""

    def __init__(self, g: ir.Graph, trainable: dict[str, Block] | None = None):
        super().__init__()
        self.g = g
        self.mats = nn.ModuleDict(trainable or {})
        self.consts: dict[str, torch.Tensor] = {k: _t(v) for k, v in g.constants.items()}
        self.fixed: dict[str, torch.Tensor] = {}
        for n in g.nodes:
            if isinstance(n, ir.Recurrent):
                for d, cd in enumerate(n.directions):
                    for role, m in (("W", cd.W), ("R", cd.R)):
                        key = matrix_key(n.name, d, role)
                        if key not in self.mats:
                            self.fixed[key] = _t(m.to_dense())
            elif isinstance(n, ir.Linear):
                self.fixed[f"linear:{n.name}"] = _t(n.W.to_dense())

    def _matrices(self) -> dict[str, torch.Tensor]:
        return {**self.fixed, **{k: b() for k, b in self.mats.items()}}

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        mats = self._matrices()
        shape = tuple(self.g.shapes[self.g.input])

        def one(xk: torch.Tensor) -> tuple[torch.Tensor, ...]:
            env = self._run(xk.reshape(shape), mats)
            return tuple(env[o] for o in self.g.outputs)

        outs = torch.func.vmap(one)(x)
        return dict(zip(self.g.outputs, outs))

    def _run(self, x: torch.Tensor, mats: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        g = self.g
        env: dict[str, torch.Tensor] = dict(self.consts)
        env[g.input] = x
        for n in g.nodes:
            outs = _EXEC[type(n)](self, n, [env[i] for i in n.inputs], mats)
            for o, v in zip(n.outputs, outs):
                if o:
                    env[o] = v.reshape(tuple(g.shapes[o]))
        return env


def _linear(tg: TorchGraph, n: ir.Linear, ins: list[torch.Tensor],
            mats: dict[str, torch.Tensor]) -> list[torch.Tensor]:
    y = ins[0] @ mats[f"linear:{n.name}"].t()
    if n.b is not None:
        y = y + _t(n.b)
    return [y]


def _binary(tg: TorchGraph, n: ir.Binary, ins: list[torch.Tensor],
            mats: dict[str, torch.Tensor]) -> list[torch.Tensor]:
    a, b = ins
    return [{"Add": torch.add, "Sub": torch.sub, "Mul": torch.mul, "Div": torch.div}[n.fn](a, b)]


def _unary(tg: TorchGraph, n: ir.Unary, ins: list[torch.Tensor],
           mats: dict[str, torch.Tensor]) -> list[torch.Tensor]:
    return [activation(n.act, ins[0])]


def _softmax(tg: TorchGraph, n: ir.Softmax, ins: list[torch.Tensor],
             mats: dict[str, torch.Tensor]) -> list[torch.Tensor]:
    fn = torch.log_softmax if n.log else torch.softmax
    return [fn(ins[0], dim=n.axis)]


def _transpose(tg: TorchGraph, n: ir.Transpose, ins: list[torch.Tensor],
               mats: dict[str, torch.Tensor]) -> list[torch.Tensor]:
    return [ins[0].permute(*n.perm)]


def _slice(tg: TorchGraph, n: ir.Slice, ins: list[torch.Tensor],
           mats: dict[str, torch.Tensor]) -> list[torch.Tensor]:
    x = ins[0]
    for ax, (s, st, c) in enumerate(zip(n.starts, n.steps, n.counts)):
        x = torch.index_select(x, ax, torch.tensor([s + st * k for k in range(c)],
                                                   dtype=torch.long))
    return [x]


def _concat(tg: TorchGraph, n: ir.Concat, ins: list[torch.Tensor],
            mats: dict[str, torch.Tensor]) -> list[torch.Tensor]:
    return [torch.cat(ins, dim=n.axis)]


def _view(tg: TorchGraph, n: ir.View, ins: list[torch.Tensor],
          mats: dict[str, torch.Tensor]) -> list[torch.Tensor]:
    return [ins[0].reshape(n.shape)]


def _recurrent(tg: TorchGraph, n: ir.Recurrent, ins: list[torch.Tensor],
               mats: dict[str, torch.Tensor]) -> list[torch.Tensor]:
    T, H = n.seq_len, n.hidden
    xs = ins[0].reshape(T, n.input_size)
    zero = xs.new_zeros(H)
    ys, yh, yc = [], [], []
    for d, cd in enumerate(n.directions):
        W, R = mats[matrix_key(n.name, d, "W")], mats[matrix_key(n.name, d, "R")]
        wb, rb = _t(cd.wb), _t(cd.rb)
        h = _t(cd.h0) + zero
        c = None if cd.c0 is None else _t(cd.c0) + zero
        gxs = xs @ W.t() + wb  # [T, G H]: every step's input projection
        out = [zero] * T
        order = range(n.valid_len - 1, -1, -1) if cd.reverse else range(n.valid_len)
        for t in order:
            gx = gxs[t]
            if n.cell == "LSTM":
                h, c = _lstm_step(n, cd, gx, R, rb, h, c)
            elif n.cell == "GRU":
                h = _gru_step(n, cd, gx, R, rb, h)
            elif n.cell == "FastRNN":
                hh = activation(cd.activations[0], gx + R @ h)
                alpha, beta = cd.scalars
                h = _sig(beta) * h + _sig(alpha) * hh
            elif n.cell == "FastGRNN":
                pre = gx - wb + R @ h  # shared pre-activation, no bias
                z = activation(cd.activations[0], pre + wb)
                hh = activation(cd.activations[1], pre + rb)
                zeta, nu = cd.scalars
                h = z * h + (_sig(zeta) * (1.0 - z) + _sig(nu)) * hh
            elif n.cell == "SRU":  # no recurrent matrix; v_f, v_r act on c (cells/sru.py)
                v = _t(cd.p)
                f = activation(cd.activations[0], gx[H:2 * H] + v[:H] * c)
                r = activation(cd.activations[0], gx[2 * H:3 * H] + v[H:] * c)
                c = f * c + (1.0 - f) * gx[:H]
                h = r * c + (1.0 - r) * (gx[3 * H:] if gx.shape[0] == 4 * H else xs[t])
            elif n.cell == "RNN":
                h = activation(cd.activations[0], _clip(gx + R @ h + rb, n.clip))
            else:
                raise RnngenError(f"{n.cell} node '{n.name}': rnngen.torch has no {n.cell} step")
            out[t] = h
        ys.append(torch.stack(out))
        yh.append(h)
        yc.append(c if c is not None else zero)
    return [torch.stack(ys, dim=1), torch.stack(yh), torch.stack(yc)]


def _sig(v: float) -> float:
    return float(1.0 / (1.0 + np.exp(-float(v))))


def _lstm_step(n: ir.Recurrent, cd: ir.CellDirection, gx: torch.Tensor, R: torch.Tensor,
               rb: torch.Tensor, h: torch.Tensor, c: torch.Tensor
               ) -> tuple[torch.Tensor, torch.Tensor]:
    H = n.hidden
    f_act, g_act, h_act = cd.activations
    g = gx + R @ h + rb  # gates i, o, f, c
    gi, go, gf, gc = g[:H], g[H:2 * H], g[2 * H:3 * H], g[3 * H:]
    if cd.p is not None:
        p = _t(cd.p)
        gi = gi + p[:H] * c
        gf = gf + p[2 * H:] * c
    i = activation(f_act, _clip(gi, n.clip))
    f = (1.0 - i) if n.input_forget else activation(f_act, _clip(gf, n.clip))
    cc = activation(g_act, _clip(gc, n.clip))
    c_new = f * c + i * cc
    if cd.p is not None:
        go = go + _t(cd.p)[H:2 * H] * c_new
    o = activation(f_act, _clip(go, n.clip))
    return o * activation(h_act, c_new), c_new


def _gru_step(n: ir.Recurrent, cd: ir.CellDirection, gx: torch.Tensor, R: torch.Tensor,
              rb: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    H = n.hidden
    f_act, g_act = cd.activations
    rz_h = R[:2 * H] @ h + rb[:2 * H]
    z = activation(f_act, _clip(gx[:H] + rz_h[:H], n.clip))
    r = activation(f_act, _clip(gx[H:2 * H] + rz_h[H:], n.clip))
    if n.linear_before_reset:
        hh = gx[2 * H:] + r * (R[2 * H:] @ h + rb[2 * H:])
    else:
        hh = gx[2 * H:] + R[2 * H:] @ (r * h) + rb[2 * H:]
    hn = activation(g_act, _clip(hh, n.clip))
    return (1.0 - z) * hn + z * h


_EXEC: dict[type, Callable[..., Any]] = {
    ir.Recurrent: _recurrent, ir.Linear: _linear, ir.Binary: _binary, ir.Unary: _unary,
    ir.Softmax: _softmax, ir.Transpose: _transpose, ir.Slice: _slice, ir.Concat: _concat,
    ir.View: _view,
}
