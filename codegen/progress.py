"""A one-line progress bar on stderr, drawn only when stderr is a terminal (logs and pipes get
no carriage returns). `bar()` returns a callback (what, done, total) or None."""

from __future__ import annotations

import sys
from collections.abc import Callable

Progress = Callable[[str, int, int], None]


def bar(width: int = 30) -> Progress | None:
    if not sys.stderr.isatty():
        return None
    state = {"what": ""}

    def show(what: str, done: int, total: int) -> None:
        fill = width * done // max(total, 1)
        end = "\n" if done >= total else ""
        if what != state["what"] or done >= total or done % max(1, total // 100) == 0:
            sys.stderr.write(f"\r{what:<22} [{'#' * fill}{'.' * (width - fill)}] "
                             f"{done}/{total}{end}")
            sys.stderr.flush()
        state["what"] = what

    return show
