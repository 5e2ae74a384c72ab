"""The one error type users see.

Every problem with the user's input (model file, options, board file, toolchain) raises
:class:`RnngenError` with a one-line message that names the file, node and attribute at
fault. The CLI prints it and exits with code 2; nothing is written.
"""

from __future__ import annotations


class RnngenError(Exception):
    """A user-facing error: one line, names what is wrong and where."""

    exit_code = 2


class UnsupportedModel(RnngenError):
    """The model uses something rnngen does not compile."""
