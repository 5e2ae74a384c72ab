"""PyTorch models to ONNX the way the layer tests export them: one input "x", one output "y",
the exporter's warnings silenced; with the network's own output beside it for `--expect`."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np


def export(net, x, path: Path, dynamo: bool = False) -> Path:
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net, (x,), str(path), dynamo=dynamo, input_names=["x"],
                          output_names=["y"])
    return path


def export_case(net, x, folder: Path, name: str) -> Path:
    """folder/<name>.onnx, and x.npy / y.npy (PyTorch's output) beside it."""
    import torch

    path = export(net, x, folder / f"{name}.onnx")
    np.save(folder / "x.npy", x.numpy())
    with torch.no_grad():
        np.save(folder / "y.npy", net(x).numpy())
    return path
