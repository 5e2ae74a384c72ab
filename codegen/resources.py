"""Where the data folders (templates/, runtime_c/, boards/) are: inside the installed package
(a wheel) or beside codegen/ (a source checkout or editable install)."""

from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    for cand in (_HERE / name, _HERE.parent / name):
        if cand.is_dir():
            return cand
    raise FileNotFoundError(f"rnngen installation is missing its '{name}' folder")
