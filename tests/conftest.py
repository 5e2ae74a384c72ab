import os
import shutil
import sys
import tempfile
from pathlib import Path

# tests import their helpers as `tests.<module>`
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# the compilers the tests and the generated Makefiles call by name
_COMPILERS = ("gcc", "cc", "aarch64-linux-gnu-gcc", "arm-none-eabi-gcc")


def _compile_cache() -> None:
    """Reach the C compilers through ccache when it is installed (`make test` installs it):
    the suite compiles thousands of generated projects whose kernel files repeat, and ccache
    gives back the same object files the compiler would write (README, "Tests"). A folder of
    links named like the compilers goes first on PATH, for this process and everything it
    starts (xdist workers, rnngen, make). RNNGEN_TEST_CCACHE=0 turns it off."""
    ccache = shutil.which("ccache")
    if ccache is None or os.environ.get("RNNGEN_TEST_CCACHE") == "0":
        return
    links = Path(tempfile.gettempdir()) / f"rnngen-test-ccache-{os.getuid()}"
    if os.environ.get("PATH", "").split(os.pathsep)[0] == str(links):
        return  # an xdist worker: the controller set it up
    links.mkdir(exist_ok=True)
    for name in _COMPILERS:
        if shutil.which(name) is None:
            continue
        link = links / name
        try:
            link.symlink_to(ccache)
        except FileExistsError:
            if os.path.realpath(link) != os.path.realpath(ccache):
                link.unlink()
                link.symlink_to(ccache)
    os.environ["PATH"] = f"{links}{os.pathsep}{os.environ.get('PATH', '')}"


def pytest_configure(config):
    _compile_cache()


def pytest_runtest_logreport(report):  # the fuzzing tier's counts (tests/fuzz/summary.py)
    from tests.fuzz import summary

    summary.logreport(report)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    from tests.fuzz import summary

    summary.terminal_summary(terminalreporter)
