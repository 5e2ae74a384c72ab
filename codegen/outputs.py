"""Every file and folder rnngen writes goes through here (SECURITY.md).

- A project folder is written into a temporary folder unique to the process, beside the
  destination, and renamed into place at the end; a file is written to a temporary sibling and
  renamed. A failure, a full disk or an interrupt (SIGINT, and SIGTERM/SIGHUP under the CLI)
  leaves the previous output untouched, no temporary folder and no parent folder rnngen
  created.
- `--force` replaces only a folder rnngen made (its manifest.json says so), never the working
  folder, one of its parents, or a folder that holds an input; a file output never replaces one
  of the inputs.
- What rnngen writes gets the umask's normal permissions (not the 0600/0700 of temporary
  files).
- File-system failures are RnngenErrors naming the path (exit code 2).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import secrets
import shutil
import signal
import time
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from .errors import RnngenError

_TMP_TAG = ".rnngen-tmp-"
_OLD_TAG = ".rnngen-old-"
_COMMIT_ATTEMPTS = 20


def fs_error(path: str | os.PathLike[str], e: OSError, doing: str = "cannot write") -> RnngenError:
    why = e.strerror or type(e).__name__
    return RnngenError(f"{path}: {doing} ({why})")


def _inputs(inputs: Sequence[str | os.PathLike[str] | None]) -> list[Path]:
    out = []
    for p in inputs:
        if p is None:
            continue
        try:
            out.append(Path(p).resolve())
        except (OSError, RuntimeError):
            continue
    return out


def _within(p: Path, folder: Path) -> bool:
    return p == folder or folder in p.parents


def is_project(folder: Path) -> bool:
    """A folder `rnngen build` wrote: a manifest.json object with the rnngen version and name."""
    m = folder / "manifest.json"
    try:
        if m.is_symlink() or not m.is_file() or m.stat().st_size > 1 << 20:
            return False
        data = json.loads(m.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and "rnngen" in data and "name" in data


def check_folder_dest(dest: Path, force: bool,
                      inputs: Sequence[str | os.PathLike[str] | None] = ()) -> None:
    """May a project be written to `dest`? Raises a named error if not (before any work)."""
    if len(os.fsencode(dest.name)) > 200:
        raise RnngenError(f"{dest}: the folder name is too long ({len(os.fsencode(dest.name))} "
                          "bytes; at most 200)")
    if not (dest.exists() or dest.is_symlink()):
        return
    if not force:
        raise RnngenError(f"{dest}: already exists (use --force to replace a folder rnngen "
                          "made)")
    if dest.is_symlink():
        raise RnngenError(f"{dest}: is a symbolic link; --force replaces only a folder rnngen "
                          "made (give the real folder)")
    if not dest.is_dir():
        raise RnngenError(f"{dest}: is a file, not a folder rnngen made; --force does not "
                          "replace it")
    real = dest.resolve()
    try:
        cwd = Path.cwd().resolve()
    except OSError:
        cwd = None
    if cwd is not None and _within(cwd, real):
        raise RnngenError(f"{dest}: is the working folder or one of its parents; --force never "
                          "replaces it")
    for p in _inputs(inputs):
        if _within(p, real):
            raise RnngenError(f"{dest}: holds an input ({p.name}); --force never replaces it")
    if not is_project(real):
        raise RnngenError(f"{dest}: was not made by rnngen (no rnngen manifest.json in it); "
                          "--force replaces only a folder rnngen made — remove it yourself or "
                          "choose another -o")


def check_file_dest(dest: Path, force: bool,
                    inputs: Sequence[str | os.PathLike[str] | None] = ()) -> None:
    """May a file be written to `dest`? Never over one of the inputs, a folder or a link."""
    if len(os.fsencode(dest.name)) > 200:
        raise RnngenError(f"{dest}: the file name is too long ({len(os.fsencode(dest.name))} "
                          "bytes; at most 200)")
    real = dest.resolve()
    for p in _inputs(inputs):
        if p == real:
            raise RnngenError(f"{dest}: is one of the inputs; give another output file")
    if dest.is_symlink():
        raise RnngenError(f"{dest}: is a symbolic link; give a file name")
    if dest.is_dir():
        raise RnngenError(f"{dest}: is a folder; give the output file name")
    if dest.exists():
        if not force:
            raise RnngenError(f"{dest}: already exists (use --force to replace it)")
        if not dest.is_file():
            raise RnngenError(f"{dest}: not a regular file; --force does not replace it")


@contextlib.contextmanager
def _parents(parent: Path) -> Iterator[list[Path]]:
    """Create `parent` (and its missing parents); remove the ones created if the body fails."""
    created: list[Path] = []
    p = parent
    while not p.exists() and not p.is_symlink() and p != p.parent:
        created.append(p)
        p = p.parent
    try:
        for d in reversed(created):
            d.mkdir()
    except OSError as e:
        _remove_empty(created)
        raise fs_error(parent, e, "cannot create the folder") from None
    except BaseException:
        _remove_empty(created)
        raise
    try:
        yield created
    except BaseException:
        _remove_empty(created)
        raise


def _remove_empty(folders: list[Path]) -> None:
    for d in folders:  # deepest first
        try:
            d.rmdir()
        except OSError:
            break


class Staging:
    """A temporary folder beside `dest`, unique to this process; `commit()` renames it into
    place (replacing an existing project folder only when `force`, checked before)."""

    def __init__(self, dest: Path, tmp: Path):
        self.dest = dest
        self.path = tmp

    def commit(self, force: bool) -> None:
        """Rename the staging folder to `dest`. With `force`, concurrent runs to one folder all
        succeed and the last one's output stays: a rename that finds `dest` moved away or
        placed by another run meanwhile looks again (a few times)."""
        for _ in range(_COMMIT_ATTEMPTS):
            if self._try_commit(force):
                return
        raise RnngenError(f"{self.dest}: cannot replace (other runs kept replacing it; try "
                          "again)")

    def _try_commit(self, force: bool) -> bool:
        """One attempt; False when another run moved or placed `dest` between the steps."""
        dest = self.dest
        old = None
        if dest.exists() or dest.is_symlink():
            if not force:
                raise RnngenError(f"{dest}: already exists (another run wrote it meanwhile; "
                                  "use --force to replace it)")
            old = _fresh(self.path.parent, dest, _OLD_TAG)
        with _signals_held():
            if old is not None:
                try:
                    dest.rename(old)
                except FileNotFoundError:
                    if not dest.parent.is_dir():
                        raise RnngenError(f"{dest}: cannot replace (its folder "
                                          f"{dest.parent} is gone)") from None
                    return False  # another run moved it away meanwhile
                except OSError as e:
                    raise fs_error(dest, e, "cannot replace") from None
            try:
                # what was moved aside is checked again: not what was checked before?
                foreign = old is not None and (old.is_symlink() or not is_project(old))
                if not foreign:
                    self.path.rename(dest)
            except OSError as e:
                if e.errno in (errno.ENOTEMPTY, errno.EEXIST) and force:
                    if old is not None:  # the output moved away is older than the one there now
                        _remove_tree(old)
                    return False
                if old is not None:
                    self._put_back(old)
                if e.errno in (errno.ENOTEMPTY, errno.EEXIST):  # another run got there first
                    raise RnngenError(f"{dest}: already exists (another run wrote it "
                                      "meanwhile; use --force to replace it)") from None
                raise fs_error(dest, e) from None
            except BaseException:  # a signal whose handler was already pending
                if old is not None:
                    self._put_back(old)
                raise
            if foreign and old is not None:
                self._put_back(old)  # never removed: it is not rnngen's
                where = f"; it is now {old}" if old.exists() else ""
                raise RnngenError(f"{dest}: was replaced meanwhile by something rnngen did "
                                  f"not make; --force does not replace it{where}")
            if old is not None:
                _remove_tree(old)
            return True

    def _put_back(self, old: Path) -> None:
        """The previous output back in place; dropped if another run placed a newer one (and
        it is an rnngen project: anything else stays where it is)."""
        try:
            old.rename(self.dest)
        except OSError:
            if self.dest.exists() and not old.is_symlink() and is_project(old):
                _remove_tree(old)


def _short_name(p: Path) -> str:
    return p.name[:64]


def _fresh(parent: Path, dest: Path, tag: str) -> Path:
    """A path beside dest that does not exist yet, unique to this process and call. The name
    is chosen before anything is created, so cleanup knows it even if a signal lands between
    the creation and the next statement."""
    return parent / f".{_short_name(dest)}{tag}{os.getpid()}-{secrets.token_hex(4)}"


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Delay SIGINT/SIGTERM/SIGHUP across a few renames or a cleanup (main thread only)."""
    sigs = {s for s in (getattr(signal, n, None) for n in ("SIGINT", "SIGTERM", "SIGHUP"))
            if s is not None}
    try:
        old = signal.pthread_sigmask(signal.SIG_BLOCK, sigs)
    except (AttributeError, ValueError, OSError):  # not the main thread, or no sigmask
        yield
        return
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


@contextlib.contextmanager
def staging(dest: Path) -> Iterator[Staging]:
    """Yield a Staging for a project folder `dest`; the temporary folder (and parent folders
    created for it) are gone afterwards, whatever happens."""
    parent = dest.absolute().parent
    with _parents(parent):
        tmp = _fresh(parent, dest, _TMP_TAG)
        try:
            try:
                tmp.mkdir(mode=0o777)  # the umask applies
            except OSError as e:
                raise fs_error(parent, e, "cannot write in the folder") from None
            yield Staging(dest, tmp)
        finally:
            _remove_tree(tmp)


def _remove_tree(path: Path) -> None:
    """Remove a staging folder, with signals held; retried briefly in case a killed compiler
    process was still finishing a file in it."""
    with _signals_held():
        for _ in range(50):
            if not path.exists():
                return
            shutil.rmtree(path, ignore_errors=True)
            if path.exists():
                time.sleep(0.02)


def write_tree(folder: Path, files: dict[str, str | bytes]) -> None:
    """Write {relative path: text} under `folder` (sorted; deterministic)."""
    for rel, data in sorted(files.items()):
        p = folder / rel
        try:
            p.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(data, bytes):
                p.write_bytes(data)
            else:
                p.write_text(data, encoding="utf-8")
        except OSError as e:
            raise fs_error(p, e) from None


def write_file(dest: Path, payload: Callable[[Any], None]) -> None:
    """Write a file atomically: `payload(f)` writes into a temporary sibling (binary), which is
    renamed over `dest`. Missing parent folders are created (and removed again on failure)."""
    parent = dest.absolute().parent
    with _parents(parent):
        tmp = _fresh(parent, dest, _TMP_TAG)
        try:
            try:
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # umask applies
            except OSError as e:
                raise fs_error(parent, e, "cannot write in the folder") from None
            try:
                with os.fdopen(fd, "wb") as f:
                    payload(f)
                os.replace(tmp, dest)
            except OSError as e:
                raise fs_error(dest, e) from None
        finally:
            with _signals_held():
                if tmp.exists():
                    tmp.unlink()


def write_text(dest: Path, text: str) -> None:
    write_file(dest, lambda f: f.write(text.encode("utf-8")))


class Terminated(BaseException):
    """SIGTERM or SIGHUP under the CLI: unwinds like KeyboardInterrupt so temporary outputs go."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def _raise_terminated(signum: int, frame: Any) -> None:
    raise Terminated(signum)


def install_signal_handlers() -> None:
    """The CLI turns SIGTERM and SIGHUP into an exception, so cleanup runs (exit 128+n)."""
    for name in ("SIGTERM", "SIGHUP"):
        sig = getattr(signal, name, None)
        if sig is not None and signal.getsignal(sig) in (signal.SIG_DFL, None):
            signal.signal(sig, _raise_terminated)
