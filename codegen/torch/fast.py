"""FastRNN and FastGRNN (Kusupati et al. 2018, Microsoft EdgeML) and the SRU (Lei et al. 2018)
as torch modules with the equations rnngen compiles (codegen/reference.py,
docs/npz-format.md):

    FastRNN:  h~ = act(W x + U h + bias_update);  h = sigmoid(beta) h + sigmoid(alpha) h~
    FastGRNN: p = W x + U h;  z = gate(p + bias_gate);  h~ = update(p + bias_update);
              h = z h + (sigmoid(zeta) (1 - z) + sigmoid(nu)) h~

W [H, I] and U [H, H] (rows = outputs) are the recurrent weights rnngen.torch.structure
compresses; alpha, beta, zeta, nu are trained before the sigmoid. Input [T, B, I]
(batch_first=False) or [B, T, I]; returns (Y [T, B, H] or [B, T, H], h_T [1, B, H]) like
nn.RNN.

    SRU:      [x~; f'; r'; x'] = W x (x' = x when I == H: W has 3H rows, else 4H);
              f = sigmoid(f' + v_f c + b_f);  r = sigmoid(r' + v_r c + b_r);
              c = f c + (1 - f) x~;  h = r c + (1 - r) x'

W [3H or 4H, I] is the one weight rnngen.torch.structure compresses (in blocks of H rows,
as `rnngen compress` does); the SRU has no recurrent matrix. forward(x, c0) returns
(Y, c_T [1, B, H]). Export with rnngen.torch.export(..., "m.npz") (ONNX has no operator for
any of them).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

_ACTS = {"tanh": torch.tanh, "sigmoid": torch.sigmoid, "relu": torch.relu}


def _act(name: str, what: str) -> Any:
    if name not in _ACTS:
        from ..errors import RnngenError

        raise RnngenError(f"{what}={name!r}: expected one of {', '.join(_ACTS)}")
    return _ACTS[name]


class _Fast(nn.Module):
    cell = ""

    def __init__(self, input_size: int, hidden_size: int, batch_first: bool):
        super().__init__()
        self.input_size, self.hidden_size = int(input_size), int(hidden_size)
        self.batch_first = batch_first
        self.num_layers, self.bidirectional = 1, False
        g = torch.Generator().manual_seed(0)
        self.W = nn.Parameter(0.1 * torch.randn(hidden_size, input_size, generator=g))
        self.U = nn.Parameter(0.1 * torch.randn(hidden_size, hidden_size, generator=g))

    def step(self, xw: torch.Tensor, uh: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        """One step from W x, U h and h."""
        raise NotImplementedError

    def forward(self, x: torch.Tensor, h0: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        if self.batch_first:
            x = x.transpose(0, 1)
        T, B = x.shape[0], x.shape[1]
        h = x.new_zeros(B, self.hidden_size) if h0 is None else h0.reshape(B, -1)
        xw = x @ self.W.t()  # [T, B, H], once for all steps
        U = self.U
        ys = []
        for t in range(T):
            h = self.step(xw[t], h @ U.t(), h)
            ys.append(h)
        y = torch.stack(ys)
        return (y.transpose(0, 1) if self.batch_first else y), h.unsqueeze(0)


class FastRNN(_Fast):
    cell = "FastRNN"

    def __init__(self, input_size: int, hidden_size: int, update_nonlinearity: str = "tanh",
                 alpha: float = -3.0, beta: float = 3.0, batch_first: bool = False):
        super().__init__(input_size, hidden_size, batch_first)
        self.update_nonlinearity = update_nonlinearity
        self._update = _act(update_nonlinearity, "update_nonlinearity")
        self.bias_update = nn.Parameter(torch.zeros(hidden_size))
        self.alpha = nn.Parameter(torch.tensor([float(alpha)]))
        self.beta = nn.Parameter(torch.tensor([float(beta)]))

    def step(self, xw: torch.Tensor, uh: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        hh = self._update(xw + uh + self.bias_update)
        return torch.sigmoid(self.beta) * h + torch.sigmoid(self.alpha) * hh

    def npz_layer(self, W: Any, U: Any) -> dict[str, Any]:
        from .. import npz

        return npz.fastrnn(W, U, self.bias_update.detach().numpy(),
                           alpha=float(self.alpha.detach()), beta=float(self.beta.detach()),
                           update_nonlinearity=self.update_nonlinearity,
                           input_size=self.input_size, hidden_size=self.hidden_size)


class FastGRNN(_Fast):
    cell = "FastGRNN"

    def __init__(self, input_size: int, hidden_size: int, gate_nonlinearity: str = "sigmoid",
                 update_nonlinearity: str = "tanh", zeta: float = 1.0, nu: float = -4.0,
                 batch_first: bool = False):
        super().__init__(input_size, hidden_size, batch_first)
        self.gate_nonlinearity = gate_nonlinearity
        self.update_nonlinearity = update_nonlinearity
        self._gate = _act(gate_nonlinearity, "gate_nonlinearity")
        self._update = _act(update_nonlinearity, "update_nonlinearity")
        self.bias_gate = nn.Parameter(torch.ones(hidden_size))
        self.bias_update = nn.Parameter(torch.ones(hidden_size))
        self.zeta = nn.Parameter(torch.tensor([float(zeta)]))
        self.nu = nn.Parameter(torch.tensor([float(nu)]))

    def step(self, xw: torch.Tensor, uh: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        p = xw + uh
        z = self._gate(p + self.bias_gate)
        hh = self._update(p + self.bias_update)
        return z * h + (torch.sigmoid(self.zeta) * (1 - z) + torch.sigmoid(self.nu)) * hh

    def npz_layer(self, W: Any, U: Any) -> dict[str, Any]:
        from .. import npz

        return npz.fastgrnn(W, U, self.bias_gate.detach().numpy(),
                            self.bias_update.detach().numpy(), zeta=float(self.zeta.detach()),
                            nu=float(self.nu.detach()), gate_nonlinearity=self.gate_nonlinearity,
                            update_nonlinearity=self.update_nonlinearity,
                            input_size=self.input_size, hidden_size=self.hidden_size)


class SRU(nn.Module):
    """The simple recurrent unit with rnngen's equations (module docstring); the same
    parameter names as rnngen.npz.sru."""

    cell = "SRU"

    def __init__(self, input_size: int, hidden_size: int, batch_first: bool = False):
        super().__init__()
        self.input_size, self.hidden_size = int(input_size), int(hidden_size)
        self.batch_first = batch_first
        self.num_layers, self.bidirectional = 1, False
        rows = (3 if self.input_size == self.hidden_size else 4) * self.hidden_size
        g = torch.Generator().manual_seed(0)
        bound = 1.0 / float(self.input_size) ** 0.5
        self.W = nn.Parameter(bound * (2 * torch.rand(rows, input_size, generator=g) - 1))
        self.v_f = nn.Parameter(torch.zeros(hidden_size))
        self.v_r = nn.Parameter(torch.zeros(hidden_size))
        self.b_f = nn.Parameter(torch.zeros(hidden_size))
        self.b_r = nn.Parameter(torch.zeros(hidden_size))

    def forward(self, x: torch.Tensor, c0: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        if self.batch_first:
            x = x.transpose(0, 1)
        T, B, H = x.shape[0], x.shape[1], self.hidden_size
        c = x.new_zeros(B, H) if c0 is None else c0.reshape(B, H)
        xw = x @ self.W.t()  # [T, B, 3H or 4H], once for all steps
        ys = []
        for t in range(T):
            f = torch.sigmoid(xw[t, :, H:2 * H] + self.v_f * c + self.b_f)
            r = torch.sigmoid(xw[t, :, 2 * H:3 * H] + self.v_r * c + self.b_r)
            c = f * c + (1 - f) * xw[t, :, :H]
            skip = xw[t, :, 3 * H:] if xw.shape[-1] == 4 * H else x[t]
            ys.append(r * c + (1 - r) * skip)
        y = torch.stack(ys)
        return (y.transpose(0, 1) if self.batch_first else y), c.unsqueeze(0)

    def npz_layer(self, W: Any) -> dict[str, Any]:
        from .. import npz

        vec = {k: getattr(self, k).detach().numpy() for k in ("v_f", "v_r", "b_f", "b_r")}
        return npz.sru(W, vec["v_f"], vec["v_r"], vec["b_f"], vec["b_r"],
                       input_size=self.input_size, hidden_size=self.hidden_size)
