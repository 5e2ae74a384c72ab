"""rnngen.torch: train recurrent networks with rnngen's compressed structure (PyTorch).

Trainable forms of every format rnngen compiles (HMD, low-rank, Kronecker, HKP, pruning to
CSR), as parametrizations of the recurrent weights of nn.LSTM / nn.GRU / nn.RNN and of
rnngen's FastRNN / FastGRNN / SRU modules, with the sizes and projections of `rnngen compress`;
export of the factors (not the dense product) to ONNX or .npz. docs/training.md.

    import torch, rnngen.torch as rt
    lstm = torch.nn.LSTM(8, 32)                      # trained, or fresh
    rt.structure(lstm, "hmd", factor=2)              # projection of the current weights
    ...train...
    rt.export(model, example, "model.onnx")          # rnngen build model.onnx

PyTorch is an optional dependency (`pip install rnngen[torch]`); `import rnngen` never needs
it, and importing this package without it raises RnngenError with that advice.
"""

from __future__ import annotations

from ..errors import RnngenError

TORCH_EXTRA = "pip install rnngen[torch]"


def require_torch() -> None:
    """RnngenError (one line, exit code 2) when PyTorch is not installed."""
    try:
        import torch  # noqa: F401
    except ImportError:
        raise RnngenError(f"PyTorch is not installed; rnngen.torch and `rnngen compress "
                          f"--finetune` need it: {TORCH_EXTRA}") from None


require_torch()

from .export import export, structured_matrices  # noqa: E402
from .fast import SRU, FastGRNN, FastRNN  # noqa: E402
from .qat import QuantAware  # noqa: E402
from .structure import (  # noqa: E402
    GradualPruning,
    Structure,
    StructuredMatrix,
    remove,
    structure,
    structured_layers,
)

__all__ = ["SRU", "FastGRNN", "FastRNN", "GradualPruning", "QuantAware", "Structure",
           "StructuredMatrix", "TORCH_EXTRA", "export", "remove", "require_torch", "structure",
           "structured_layers", "structured_matrices"]
