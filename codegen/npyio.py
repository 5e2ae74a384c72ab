"""Reading .npy files and .npz members with their header checked first (docs/limits.md).

NumPy's own loaders allocate what a header declares before reading the data, so a
100-byte file can ask for gigabytes. Here the header (magic, shape, dtype) is read on its
own, checked (no Python objects: rnngen never unpickles; shape under the size limit; the
file or zip member as long as the header says), and only then is the array read.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import IO, Any

import numpy as np

from . import limits
from .errors import RnngenError


def _short(e: BaseException) -> str:
    s = str(e).strip().splitlines()
    return (s[0] if s else type(e).__name__)[:200]


def read_header(f: IO[bytes], where: str) -> tuple[tuple[int, ...], np.dtype, bool, int]:
    """(shape, dtype, fortran_order, header bytes) of the .npy stream at f's position."""
    fmt = np.lib.format
    try:
        start = f.tell()
        version = fmt.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = fmt.read_array_header_1_0(f)
        elif version in ((2, 0), (3, 0)):
            shape, fortran, dtype = fmt.read_array_header_2_0(f)
        else:  # pragma: no cover - read_magic refuses other versions
            raise ValueError(f"format version {version}")
        header = f.tell() - start
    except Exception as e:  # ValueError, EOFError, SyntaxError from a damaged header
        raise RnngenError(f"{where}: not a readable .npy array ({_short(e)})") from None
    if dtype.hasobject:  # Python objects: a pickle; rnngen never unpickles
        raise RnngenError(f"{where} cannot be read (Object arrays cannot be loaded when "
                          "allow_pickle=False)")
    limits.check_elements(where, shape, "the array")
    return tuple(int(d) for d in shape), dtype, bool(fortran), int(header)


def _nbytes(shape: tuple[int, ...], dtype: np.dtype) -> int:
    return limits.elements(shape) * dtype.itemsize


def regular_file(path: str | Path, what: str) -> Path:
    p = Path(path)
    if not p.exists():
        broken = ", a broken symbolic link" if p.is_symlink() else ""
        raise RnngenError(f"{p}: no such file ({what}{broken})")
    if p.is_dir():
        raise RnngenError(f"{p}: is a folder, not a file ({what})")
    if not p.is_file():
        raise RnngenError(f"{p}: not a regular file ({what})")
    return p


def load(path: str | Path, what: str) -> Any:
    """An .npy array, or for an .npz archive a dict of its arrays; every header checked
    before its data is read. Errors name the file (and the array)."""
    p = regular_file(path, what)
    try:
        with open(p, "rb") as f:
            magic = f.read(6)
            f.seek(0)
            if magic.startswith(b"PK"):
                return load_npz(p, what)
            shape, dtype, fortran, header = read_header(f, f"{p} ({what})")
            size = p.stat().st_size
            if size != header + _nbytes(shape, dtype):
                raise RnngenError(f"{p}: {what}: the header declares shape {list(shape)} of "
                                  f"{dtype} ({_nbytes(shape, dtype)} bytes), the file holds "
                                  f"{size - header}")
            f.seek(0)
            return np.load(f, allow_pickle=False)
    except OSError as e:
        raise RnngenError(f"{p}: cannot read {what} ({e.strerror or _short(e)})") from None


def load_npz(p: Path, what: str) -> dict[str, np.ndarray]:
    try:
        with NpzReader(p) as z:
            return {k: z.read(k) for k in z.names}
    except RnngenError as e:
        raise RnngenError(f"{e} ({what})") from None


class NpzReader:
    """The arrays of an .npz archive by name; `header(name)` reads only the header."""

    def __init__(self, path: Path):
        self.path = path
        try:
            self.zip = zipfile.ZipFile(path)
            infos = self.zip.infolist()
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
            raise RnngenError(f"{path}: not a readable .npz archive ({_short(e)})") from None
        self.members: dict[str, zipfile.ZipInfo] = {}
        for info in infos:
            name = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
            if name in self.members:
                raise RnngenError(f"{path}: array '{name}' is stored twice in the archive")
            self.members[name] = info
        self.names = list(self.members)
        self._headers: dict[str, tuple[tuple[int, ...], np.dtype, bool, int]] = {}

    def __enter__(self) -> "NpzReader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.zip.close()

    def header(self, name: str) -> tuple[tuple[int, ...], np.dtype]:
        """Shape and dtype from the member's header; the member's size must match them."""
        if name not in self._headers:
            info = self.members[name]
            where = f"{self.path}: array '{name}'"
            try:
                with self.zip.open(info) as f:
                    h = read_header(f, where)  # type: ignore[arg-type]
            except RnngenError:
                raise
            except Exception as e:  # zlib.error, BadZipFile, NotImplementedError, EOFError
                raise RnngenError(f"{where} cannot be read ({_short(e)})") from None
            shape, dtype, _, header = h
            if info.file_size != header + _nbytes(shape, dtype):
                raise RnngenError(f"{where}: the header declares shape {list(shape)} of {dtype} "
                                  f"({_nbytes(shape, dtype)} bytes), the archive member holds "
                                  f"{info.file_size - header}")
            self._headers[name] = h
        shape, dtype, _, _ = self._headers[name]
        return shape, dtype

    def read(self, name: str) -> np.ndarray:
        self.header(name)
        try:
            with self.zip.open(self.members[name]) as f:
                return np.lib.format.read_array(f, allow_pickle=False)  # type: ignore[arg-type]
        except Exception as e:  # zlib.error, BadZipFile (CRC), EOFError
            raise RnngenError(f"{self.path}: array '{name}' cannot be read ({_short(e)})") \
                from None
