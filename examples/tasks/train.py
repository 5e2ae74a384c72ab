"""Train a classifier for a bundled task (tasks.py): dense, or with rnngen's compressed
structure from scratch (rnngen.torch). The network is examples/lstm_classifier's: an LSTM
over the sequence, a Linear layer and a softmax on the last step.

    python examples/tasks/train.py --task japanese_vowels -o build/jv      # dense baseline
    python examples/tasks/train.py --task digits --method hmd --factor 2 -o build/dg_hmd

writes OUT/model.onnx (the factors, for a structured model: rnngen.torch.export),
OUT/{train,val,test}.npz (the data, rnngen compress --eval / --finetune format) and prints
the accuracy on the test split. Adam, the epoch with the best validation accuracy is kept;
seeded and single-threaded, so a run is repeatable. CSR from scratch is pruned gradually
(Zhu & Gupta) over the first half of the epochs.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tasks import TASKS, Task, load  # noqa: E402

HIDDEN = {"digits": 32, "japanese_vowels": 32, "basic_motions": 32}


class Classifier(torch.nn.Module):
    def __init__(self, features: int, hidden: int, classes: int):
        super().__init__()
        self.lstm = torch.nn.LSTM(features, hidden)
        self.fc = torch.nn.Linear(hidden, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x [T, B, I]
        y, _ = self.lstm(x)
        return torch.softmax(self.fc(y[-1]), dim=-1)


def accuracy(net: torch.nn.Module, x: np.ndarray, y: np.ndarray) -> float:
    with torch.no_grad():
        p = net(torch.from_numpy(x).permute(1, 0, 2)).argmax(-1).numpy()
    return float((p == y).mean())


def train(task: Task, hidden: int, epochs: int, lr: float = 1e-2, batch: int = 32,
          method: str | None = None, factor: float | None = None, seed: int = 0
          ) -> tuple[Classifier, dict]:
    torch.manual_seed(seed)
    torch.set_num_threads(1)
    net = Classifier(task.features, hidden, task.classes)
    pruning = None
    steps = (len(task.x_train) + batch - 1) // batch
    if method is not None:
        import rnngen.torch as rt

        rt.structure(net.lstm, method, factor, init="random", seed=seed)
        if method == "csr":
            pruning = rt.GradualPruning(net, 0, max(1, epochs // 2) * steps,
                                        frequency=max(1, steps // 4))
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    xt = torch.from_numpy(task.x_train).permute(1, 0, 2)
    yt = torch.from_numpy(task.y_train)
    gen = torch.Generator().manual_seed(seed)
    best, best_state, best_epoch = -1.0, None, 0
    for epoch in range(1, epochs + 1):
        net.train()
        perm = torch.randperm(xt.shape[1], generator=gen)
        for k in range(0, len(perm), batch):
            idx = perm[k:k + batch]
            opt.zero_grad()
            p = net(xt[:, idx])
            torch.nn.functional.nll_loss(torch.log(p + 1e-9), yt[idx]).backward()
            opt.step()
            if pruning is not None:
                pruning.step()
        net.eval()
        if pruning is not None and not pruning.done:
            continue
        acc = accuracy(net, task.x_val, task.y_val)
        if acc > best:
            best, best_epoch = acc, epoch
            best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
    net.load_state_dict(best_state)
    net.eval()
    return net, dict(task=task.name, hidden=hidden, epochs=epochs, best_epoch=best_epoch,
                     method=method, factor=factor, val_accuracy=best,
                     test_accuracy=accuracy(net, task.x_test, task.y_test),
                     params=sum(p.numel() for n, p in net.named_parameters()
                                if "original" not in n))


def export(net: Classifier, task: Task, out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    x0 = torch.from_numpy(task.x_test[:1]).permute(1, 0, 2).contiguous()
    structured = any("parametrizations" in n for n, _ in net.named_parameters())
    if structured:
        import rnngen.torch as rt

        return rt.export(net, x0, out / "model.onnx", input_names=["x"],
                         output_names=["probabilities"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net, (x0,), str(out / "model.onnx"), dynamo=False,
                          input_names=["x"], output_names=["probabilities"])
    return out / "model.onnx"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--task", choices=TASKS, required=True)
    ap.add_argument("--hidden", type=int)
    ap.add_argument("--epochs", type=int, default=60)
    ap.add_argument("--method", choices=["hmd", "lmf", "csr", "kron", "hkp"])
    ap.add_argument("--factor", type=float)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("-o", "--out", required=True)
    a = ap.parse_args()
    task = load(a.task)
    net, rep = train(task, a.hidden or HIDDEN[a.task], a.epochs, method=a.method,
                     factor=a.factor, seed=a.seed)
    out = Path(a.out)
    export(net, task, out)
    task.save(out)
    print(json.dumps(rep))


if __name__ == "__main__":
    main()
