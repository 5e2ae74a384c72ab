"""Frontends parse a model file into an ir.Graph. They never emit C."""

from __future__ import annotations

from pathlib import Path

from ..errors import RnngenError
from ..ir import Graph


def load(path: str | Path, seq_len: int | None = None) -> Graph:
    """Read an ONNX file or an rnngen .npz export."""
    p = Path(path)
    if not p.exists():
        broken = " (a broken symbolic link)" if p.is_symlink() else ""
        raise RnngenError(f"{p}: no such file{broken}")
    if p.is_dir():
        raise RnngenError(f"{p}: is a folder, not a model file")
    if not p.is_file():
        raise RnngenError(f"{p}: not a regular file (a device, pipe or socket)")
    try:
        with open(p, "rb"):
            pass
    except OSError as e:
        raise RnngenError(f"{p}: cannot read the model ({e.strerror})") from None
    if p.suffix.lower() == ".npz":
        from . import numpy as npz_frontend

        return npz_frontend.load(p, seq_len)
    from . import onnx as onnx_frontend

    return onnx_frontend.load(p, seq_len)
