"""Train the bundled example: an LSTM that reads 8x8 handwritten digits row by row.

Data: scikit-learn's digits (1,797 images shipped inside the package, no download).
Each image is a sequence of T=8 rows of 8 pixels; the LSTM (hidden 32) reads it row by row
and a Linear + Softmax on the last step gives the class. Run:

    python examples/lstm_classifier/make_model.py

It writes, beside this script:
    model.onnx     the trained network (torch.onnx.export, TorchScript exporter, batch 1)
    digit.npy      one test image as a [8, 1, 8] sequence
    expected.npy   PyTorch's output for it, for `rnngen verify --input digit.npy --expect`
    test.npz       the evaluation split: x [360, 8, 8] (8 rows of 8 pixels), y [360] labels,
                   for `rnngen validate --data` and `rnngen compress --eval`
and prints the test accuracy. Deterministic: seeded, one thread.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_digits

HERE = Path(__file__).resolve().parent
T, I, H, C = 8, 8, 32, 10


class DigitLSTM(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lstm = torch.nn.LSTM(I, H)
        self.fc = torch.nn.Linear(H, C)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x [T, B, I]
        y, _ = self.lstm(x)
        return torch.softmax(self.fc(y[-1]), dim=-1)  # [B, C], from the last step


def data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    d = load_digits()
    x = (d.images / 16.0).astype(np.float32)  # [N, 8 rows, 8 pixels]
    y = d.target.astype(np.int64)
    rng = np.random.default_rng(0)
    order = rng.permutation(len(x))
    cut = int(0.8 * len(x))
    return x[order[:cut]], y[order[:cut]], x[order[cut:]], y[order[cut:]]


def main() -> None:
    torch.manual_seed(0)
    torch.set_num_threads(1)
    xtr, ytr, xte, yte = data()
    net = DigitLSTM()
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    xt = torch.from_numpy(xtr).permute(1, 0, 2)  # [T, N, I]
    yt = torch.from_numpy(ytr)
    for epoch in range(40):
        perm = torch.randperm(xt.shape[1])
        for k in range(0, len(perm), 64):
            idx = perm[k:k + 64]
            opt.zero_grad()
            p = net(xt[:, idx])
            loss = torch.nn.functional.nll_loss(torch.log(p + 1e-9), yt[idx])
            loss.backward()
            opt.step()
    net.eval()
    with torch.no_grad():
        pred = net(torch.from_numpy(xte).permute(1, 0, 2)).argmax(-1).numpy()
    acc = float((pred == yte).mean())
    print(f"test accuracy {acc * 100:.1f}% on {len(yte)} digits")

    x0 = torch.from_numpy(xte[:1]).permute(1, 0, 2).contiguous()  # [8, 1, 8]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net, (x0,), str(HERE / "model.onnx"), dynamo=False,
                          input_names=["digit_rows"], output_names=["probabilities"])
    with torch.no_grad():
        np.save(HERE / "expected.npy", net(x0).numpy())
    np.save(HERE / "digit.npy", x0.numpy())
    np.savez_compressed(HERE / "test.npz", x=xte, y=yte)
    print(f"wrote model.onnx, digit.npy (a {int(yte[0])}), expected.npy, test.npz "
          f"({len(yte)} digits)")


if __name__ == "__main__":
    main()
