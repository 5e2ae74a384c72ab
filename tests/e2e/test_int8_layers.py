"""int8 convolution front ends on a small trained task (issue 11): a DeepConvLSTM-style and
a CRNN-style network trained here on scikit-learn's digits (8 rows of 8 pixels, read row by
row; seconds of training), compiled with --dtype int8 for cortex-m4 and run on the test
split by `rnngen validate --on c`: the C equals the integer reference bit for bit, and its
accuracy is within 1 point of the float model's (PyTorch's own accuracy is the float
figure's independent check)."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch

F32 = np.float32
N_TRAIN = 1200


class ConvLSTM(torch.nn.Module):
    """DeepConvLSTM's structure, small: Conv1d + ReLU twice over the rows, LSTM, Linear."""

    def __init__(self):
        super().__init__()
        self.c1 = torch.nn.Conv1d(8, 16, 3, padding=1)
        self.c2 = torch.nn.Conv1d(16, 16, 3, padding=1)
        self.lstm = torch.nn.LSTM(16, 32, batch_first=True)
        self.fc = torch.nn.Linear(32, 10)

    def forward(self, x):  # [B, 8, 8]
        h = torch.relu(self.c2(torch.relu(self.c1(x.transpose(1, 2)))))
        y, _ = self.lstm(h.transpose(1, 2))
        return torch.softmax(self.fc(y[:, -1]), dim=-1)


class CRNN(torch.nn.Module):
    """The CRNN keyword spotter's structure, small: Conv2d + BatchNorm + ReLU, GRU, Linear."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 4, 3, padding=1)
        self.bn = torch.nn.BatchNorm2d(4)
        self.gru = torch.nn.GRU(32, 32, batch_first=True)
        self.fc = torch.nn.Linear(32, 10)

    def forward(self, x):  # [B, 8, 8]
        h = torch.relu(self.bn(self.conv(x.unsqueeze(1))))  # [B, 4, 8, 8]
        y, _ = self.gru(h.permute(0, 2, 1, 3).reshape(x.shape[0], 8, 32))
        return torch.softmax(self.fc(y[:, -1]), dim=-1)


def _train(m: torch.nn.Module, x: np.ndarray, y: np.ndarray) -> float:
    """12 epochs of Adam on the first N_TRAIN digits; PyTorch's accuracy on the rest."""
    opt = torch.optim.Adam(m.parameters(), lr=1e-2)
    xt, yt = torch.from_numpy(x[:N_TRAIN]), torch.from_numpy(y[:N_TRAIN])
    for _ in range(12):
        for k in range(0, N_TRAIN, 50):
            opt.zero_grad()
            p = m(xt[k:k + 50])
            torch.nn.functional.nll_loss(torch.log(p + 1e-9), yt[k:k + 50]).backward()
            opt.step()
    m.eval()
    with torch.no_grad():
        return float(np.mean(m(torch.from_numpy(x[N_TRAIN:])).argmax(1).numpy()
                             == y[N_TRAIN:]))


@pytest.mark.qemu
@pytest.mark.parametrize("net", [ConvLSTM, CRNN], ids=["convlstm", "crnn"])
def test_int8_conv_front_end_keeps_accuracy_on_cortex_m4(net, tmp_path):
    from sklearn.datasets import load_digits

    d = load_digits()
    x = (d.images / 16.0).astype(F32)
    y = d.target.astype(np.int64)
    order = np.random.default_rng(0).permutation(len(x))
    x, y = x[order], y[order]
    torch.manual_seed(0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # deterministic, and no contention with the other test worker
    try:
        m = net()
        torch_acc = _train(m, x, y)
    finally:
        torch.set_num_threads(threads)
    xt = torch.from_numpy(x[:1])
    path = tmp_path / "m.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(m, (xt,), str(path), dynamo=False, input_names=["x"],
                          output_names=["p"])
    np.savez(tmp_path / "test.npz", x=x[N_TRAIN:], y=y[N_TRAIN:])
    np.save(tmp_path / "cal.npy", x[:100])
    r = subprocess.run([sys.executable, "-m", "rnngen.cli", "validate", str(path), "--data",
                        str(tmp_path / "test.npz"), "--dtype", "int8", "--calibrate",
                        str(tmp_path / "cal.npy"), "--on", "c", "--target", "cortex-m4",
                        "--json"], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    rep = json.loads(r.stdout)
    acc = rep["accuracy"]
    assert torch_acc > 0.9 and abs(acc["float"] - torch_acc) < 1e-9, (acc, torch_acc)
    assert rep["c_equals_reference"] is True and acc["c"] == acc["reference"]
    assert acc["c"] >= acc["float"] - 0.01, acc
    assert rep["sequences"] == len(x) - N_TRAIN and rep["target"] == "cortex-m4"
    assert 0 < rep["flash_bytes"] < 64 * 1024 and 0 < rep["ram_bytes"] < 8 * 1024, rep
