import sys
from pathlib import Path

# tests import their helpers as `tests.<module>`
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def pytest_runtest_logreport(report):  # the fuzzing tier's counts (tests/fuzz/summary.py)
    from tests.fuzz import summary

    summary.logreport(report)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    from tests.fuzz import summary

    summary.terminal_summary(terminalreporter)
