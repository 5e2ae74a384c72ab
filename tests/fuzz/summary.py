"""The fuzzing tier's counts: each fuzz test records its tally as a `fuzz` user property;
the controller (also under pytest-xdist, whose controller loads only tests/conftest.py,
which calls these) sums them and prints one line at the end:

    fuzz: N cases, E named errors, B correct builds, 0 internal errors, 0 time-outs,
    0 leftover folders
"""

from __future__ import annotations

import json
from collections import Counter

import pytest

_TOTAL: Counter = Counter()


def logreport(report: pytest.TestReport) -> None:
    if report.when != "call":
        return
    for key, value in report.user_properties:
        if key == "fuzz":
            _TOTAL.update(json.loads(value))


def terminal_summary(terminalreporter) -> None:  # type: ignore[no-untyped-def]
    if not _TOTAL:
        return
    c = _TOTAL
    other = sum(v for k, v in c.items() if k not in ("named", "built", "internal", "timeout",
                                                     "leftover"))
    line = (f"fuzz: {sum(c.values())} cases, {c['named']} named errors, {c['built']} correct "
            f"builds, {c['internal']} internal errors, {c['timeout']} time-outs, "
            f"{c['leftover']} leftover folders")
    if other:
        line += f", {other} other failures ({', '.join(f'{k} {v}' for k, v in c.items() if k not in ('named', 'built', 'internal', 'timeout', 'leftover'))})"  # noqa: E501
    terminalreporter.write_line(line)
