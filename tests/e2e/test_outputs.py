"""Regression tests for the hardening issue's writing-side defects (issue 13: data loss,
injection, names, leftovers, concurrency, permissions, determinism). Each failed before the
fix: --force deleted what rnngen did not make, model and file names reached C and Makefiles
raw, two nodes with one name shared their state, --name collisions built and failed later,
tolerances were not checked, signals and write errors left temporary folders behind."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import onnx
import pytest

from tests import models
from tests.e2e.test_bad_input import assert_one_line_error

HOSTILE = 'x */ #include "/etc/hostname" /* \\\n$(shell touch PWNED) \u202e\t??/ y'


def rnngen(*args, cwd=None, env=None, **kw):
    return subprocess.run([sys.executable, "-m", "rnngen.cli", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, env=env, timeout=300, **kw)


def _model(folder: Path, name="m.onnx", cell="LSTM", direction="forward", layers=1,
           node_name=None) -> Path:
    m = models.make_model(models.Spec(cell, direction, 3, 4, 5, layers), 0)
    if node_name is not None:
        for n in m.graph.node:
            n.name = node_name
    folder.mkdir(parents=True, exist_ok=True)
    p = folder / name
    onnx.save(m, p)
    return p


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _no_leftovers(folder: Path) -> None:
    left = [p.name for p in folder.rglob("*") if "rnngen-tmp" in p.name
            or "rnngen-old" in p.name]
    assert not left, left


def _make_run(out: Path) -> str:
    r = subprocess.run(["make", "-C", str(out), "run"], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


# ------------------------------------------------------------------------ --force

@pytest.mark.parametrize("where", [".", "..", "model_folder", "input_folder", "foreign"])
def test_force_never_deletes_what_rnngen_did_not_make(tmp_path, where):
    work = tmp_path / "work"
    _model(work)
    np.save(work / "x.npy", np.zeros((5, 1, 3), np.float32))
    (work / "notes.txt").write_text("mine")
    (tmp_path / "sibling.txt").write_text("mine too")
    foreign = work / "foreign"
    foreign.mkdir()
    (foreign / "keep.c").write_text("int keep;\n")
    out = {".": ".", "..": "..", "model_folder": str(work), "input_folder": str(work),
           "foreign": "foreign"}[where]
    extra = ["--input", "x.npy"] if where == "input_folder" else []
    before = _tree(tmp_path)
    r = rnngen("build", "m.onnx", "-o", out, "--force", *extra, cwd=work)
    assert_one_line_error(r, "--force")
    assert _tree(tmp_path) == before
    _no_leftovers(tmp_path)


def test_force_replaces_a_folder_rnngen_made(tmp_path):
    p = _model(tmp_path)
    out = tmp_path / "out"
    assert rnngen("build", p, "-o", out).returncode == 0
    (out / "extra.txt").write_text("made after the build")
    r = rnngen("build", p, "-o", out, "--name", "other")
    assert_one_line_error(r, "already exists", "--force")
    r = rnngen("build", p, "-o", out, "--name", "other", "--force")
    assert r.returncode == 0, r.stderr
    assert (out / "include" / "other.h").exists() and not (out / "extra.txt").exists()
    _no_leftovers(tmp_path)


def test_force_refuses_a_symlink_and_a_file(tmp_path):
    p = _model(tmp_path)
    real = tmp_path / "real"
    assert rnngen("build", p, "-o", real).returncode == 0
    (tmp_path / "link").symlink_to(real)
    assert_one_line_error(rnngen("build", p, "-o", tmp_path / "link", "--force"),
                          "symbolic link")
    (tmp_path / "file").write_text("x")
    assert_one_line_error(rnngen("build", p, "-o", tmp_path / "file", "--force"), "is a file")
    assert (tmp_path / "file").read_text() == "x" and (real / "manifest.json").exists()


def test_verify_keep_is_held_to_the_same_rule(tmp_path):
    p = _model(tmp_path)
    keep = tmp_path / "mine"
    keep.mkdir()
    (keep / "notes.txt").write_text("mine")
    r = rnngen("verify", p, "--keep", keep)
    assert_one_line_error(r, "was not made by rnngen")
    assert (keep / "notes.txt").read_text() == "mine"


def test_compress_never_overwrites_its_input(tmp_path):
    p = _model(tmp_path)
    before = p.read_bytes()
    r = rnngen("compress", p, "-m", "lmf", "-f", "2", "-o", p, "--force")
    assert_one_line_error(r, "is one of the inputs")
    assert p.read_bytes() == before


# ------------------------------------------------------------------------ injection

@pytest.mark.parametrize("node_name", [HOSTILE, "int", "9lives", "x" * 10_000, "\u540d\u524d",
                                       "rnn_mat_vec_f32", ""])
@pytest.mark.parametrize("dtype", ["float32", "int8"])
def test_hostile_node_names_stay_comments(tmp_path, node_name, dtype):
    """A bidirectional model names its node in the header's 'not streaming' reason; before the
    fix `*/` there closed the comment and the #include after it was compiled. Both layers
    carry the same name (C keywords, a leading digit, 10,000 characters, non-ASCII, a kernel's
    name, none): every symbol is a valid, unique identifier and the golden test passes."""
    p = _model(tmp_path, "bi.onnx", direction="bidirectional", layers=2, node_name=node_name)
    out = tmp_path / "out"
    r = rnngen("build", p, "-o", out, "--dtype", dtype)
    assert r.returncode == 0, r.stderr
    for rel, data in _tree(out).items():
        text = data.decode("utf-8")
        if rel == "manifest.json":
            continue
        assert text.isascii(), rel
        assert "/etc/hostname\" /*" not in text and "x" * 500 not in text, rel
        assert "$(shell" not in text.replace("$(shell touch PWNED)", ""), rel
        for line in text.splitlines():
            assert not line.startswith(("#include \"/etc", "$(shell")), (rel, line)
    if node_name == HOSTILE:
        assert "x * / #include" in (out / "include" / "bi.h").read_text()
    assert "RNNGEN_RESULT passed=1" in _make_run(out)
    assert not (out / "PWNED").exists() and not Path("PWNED").exists()


@pytest.mark.parametrize("target", ["host", "cortex-m4"])
def test_hostile_file_names_do_not_reach_the_makefile(tmp_path, target):
    """A newline and $(shell ...) in the model, --input and --expect file names went raw into
    the Makefile's banner: the shell command ran at build time and the Makefile broke."""
    weird = "m\n$(shell touch PWNED)\nall:;touch PWNED2 \u202e"
    work = tmp_path / "w"
    p = _model(work, f"{weird}.onnx")
    np.save(work / f"{weird}-x.npy", np.linspace(-1, 1, 15, dtype=np.float32).reshape(5, 1, 3))
    np.save(work / f"{weird}-cal.npy",
            np.random.default_rng(0).uniform(-1, 1, (8, 5, 1, 3)).astype(np.float32))
    out = tmp_path / "out"
    r = rnngen("build", p, "-o", out, "--target", target, "--input", work / f"{weird}-x.npy",
               "--calibrate", work / f"{weird}-cal.npy", "--dtype", "int8", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    mk = (out / "Makefile").read_text()
    assert "\n$(shell" not in mk and "\nall:;touch" not in mk and "\u202e" not in mk
    assert "<U+000A>" in mk
    # the name of the model is sanitised (never '--name' the user did not give)
    assert json.loads((out / "manifest.json").read_text())["name"] == \
        "m_shell_touch_pwned_all_touch_pwned2"
    if target == "host":
        assert "RNNGEN_RESULT passed=1" in _make_run(out)
    else:
        r = subprocess.run(["make", "-C", str(out), "-n"], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
    assert not any(tmp_path.rglob("PWNED*"))


def _toml(data: dict) -> str:
    def val(v):
        if isinstance(v, str):
            return json.dumps(v)  # a JSON string is a TOML basic string
        if isinstance(v, list):
            return "[" + ", ".join(val(x) for x in v) + "]"
        if isinstance(v, dict):
            return "{ " + ", ".join(f"{k} = {val(x)}" for k, x in v.items()) + " }"
        return str(v)
    return "".join(f"{k} = {val(v)}\n" for k, v in data.items())


@pytest.mark.parametrize("key,value,needle", [
    ("description", "M4\n$(shell touch PWNED)", "description"),
    ("cc", "arm-none-eabi-gcc $(shell touch PWNED)", "'cc'"),
    ("cflags", ["-O2", "-DX=1;touch PWNED"], "'cflags'"),
    ("ldlibs", ["-lm", "#"], "'ldlibs'"),
    ("linker", "../../../etc/passwd", "'linker'"),
])
def test_board_file_values_are_validated(tmp_path, key, value, needle):
    import tomllib

    from rnngen import boards
    data = tomllib.loads(boards.available()["cortex-m4"].read_text())
    bf = tmp_path / "b.toml"
    bf.write_text(_toml(data))
    p = _model(tmp_path)
    r = rnngen("build", p, "-o", tmp_path / "ok", "--board-file", bf, "--no-main")
    assert r.returncode == 0, r.stderr  # the unchanged board file builds
    data[key] = value
    bf.write_text(_toml(data))
    r = rnngen("build", p, "-o", tmp_path / "out", "--board-file", bf)
    assert_one_line_error(r, "b.toml", needle)
    assert not (tmp_path / "out").exists() and not any(tmp_path.rglob("PWNED"))


# ------------------------------------------------------------------------ silently wrong

def test_two_recurrent_nodes_with_one_name_keep_their_own_state(tmp_path):
    """Before the fix both LSTMs named 'lstm' shared one state slot: the build's own golden
    test passed, onnxruntime disagreed by 0.03."""
    m = models.make_model(models.Spec("LSTM", "forward", 3, 4, 5, 2), 0)
    x = np.random.default_rng(1).uniform(-1, 1, (5, 1, 3)).astype(np.float32)
    outs, _ = models.oracle(m, x)  # onnxruntime refuses the renamed model; rnngen need not
    for n in m.graph.node:
        if n.op_type == "LSTM":
            n.name = "lstm"
    p = tmp_path / "dup.onnx"
    onnx.save(m, p)
    np.save(tmp_path / "x.npy", x)
    np.savez(tmp_path / "y.npz", **outs)
    r = rnngen("verify", p, "--input", tmp_path / "x.npy", "--expect", tmp_path / "y.npz")
    assert r.returncode == 0 and r.stdout.startswith("PASS"), r.stdout + r.stderr


# ------------------------------------------------------------------------ names

@pytest.mark.parametrize("name", ["main", "golden", "rnn_mat_vec_f32", "rnn_nn_types", "math",
                                  "int", "rnn", "x" * 49, "bad-name", "caf\u00e9", "\u202ex"])
def test_names_that_clash_or_are_not_identifiers_are_refused(tmp_path, name):
    p = _model(tmp_path)
    out = tmp_path / "out"
    r = rnngen("build", p, "-o", out, "--name", name)
    assert_one_line_error(r, "--name")
    assert not out.exists()
    _no_leftovers(tmp_path)


@pytest.mark.parametrize("stem,expect", [("model (1)", "model_1"), ("lstm--v2", "lstm_v2"),
                                         ("main", "main_model"), ("rnn_nn_types",
                                                                  "rnn_nn_types_model"),
                                         ("2nd", "m_2nd"), ("\u202eevil", "evil"),
                                         ("x" * 300, "x" * 48)])
def test_default_names_from_any_file_name_build_and_run(tmp_path, stem, expect):
    p = _model(tmp_path, f"{stem[:200]}.onnx")
    r = rnngen("build", p, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    out = tmp_path / f"{expect}_host"
    assert json.loads((out / "manifest.json").read_text())["name"] == expect
    assert "RNNGEN_RESULT passed=1" in _make_run(out)


@pytest.mark.parametrize("opt,value", [("--atol", "nan"), ("--atol", "-1"), ("--rtol", "inf"),
                                       ("--rtol", "-0.5")])
def test_tolerances_are_checked(tmp_path, opt, value):
    p = _model(tmp_path)
    r = rnngen("build", p, "-o", tmp_path / "out", opt, value)
    assert_one_line_error(r, opt)
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------------ atomic outputs

def _previous(tmp_path: Path) -> tuple[Path, Path, dict[str, bytes]]:
    p = _model(tmp_path)
    out = tmp_path / "out"
    assert rnngen("build", p, "-o", out).returncode == 0
    return p, out, _tree(out)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_leaves_the_previous_output_and_no_temporary_folder(tmp_path, sig):
    """On a loaded machine the build can finish between the moment the test sees its
    temporary folder and the signal (exit 0, output complete): that trial says nothing and
    is run again; one of three must be interrupted."""
    p, out, before = _previous(tmp_path)
    for _ in range(3):
        # SIGINT as a terminal delivers it: a suite started in the background (bash without
        # job control) hands its children SIGINT ignored, and Python keeps it ignored
        proc = subprocess.Popen([sys.executable, "-m", "rnngen.cli", "build", str(p), "-o",
                                 str(out), "--force", "--target", "cortex-m4"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        deadline = time.time() + 60
        while time.time() < deadline and not any("rnngen-tmp" in q.name
                                                 for q in tmp_path.iterdir()):
            time.sleep(0.005)
        assert proc.poll() is None, "the build ended before it wrote its temporary folder"
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
        if proc.returncode != 0:
            break
        # finished first: a complete new project, nothing left over; it is the "previous"
        # output of the next trial
        assert not err.strip() and (out / "manifest.json").is_file(), err
        _no_leftovers(tmp_path)
        before = _tree(out)
    assert proc.returncode in (128 + sig, 130), (proc.returncode, err)
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert _tree(out) == before
    _no_leftovers(tmp_path)


def test_a_write_error_leaves_nothing_behind(tmp_path):
    """A file-size limit makes every write past 4 KiB fail (EFBIG), as a full disk would."""
    p, out, before = _previous(tmp_path)

    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
    for dest in (out, tmp_path / "new" / "deeper" / "out"):
        r = subprocess.run([sys.executable, "-m", "rnngen.cli", "build", str(p), "-o",
                            str(dest), "--force"], capture_output=True, text=True,
                           preexec_fn=limit, timeout=120)
        assert_one_line_error(r, "cannot write")
    assert _tree(out) == before
    assert not (tmp_path / "new").exists()  # the parent folders it created are gone
    _no_leftovers(tmp_path)


@pytest.mark.parametrize("dest", ["file/out", "n" * 300])
def test_file_system_problems_are_named_errors(tmp_path, dest):
    p = _model(tmp_path)
    (tmp_path / "file").write_text("x")
    r = rnngen("build", p, "-o", dest, cwd=tmp_path)
    assert_one_line_error(r)
    assert (tmp_path / "file").read_text() == "x"
    _no_leftovers(tmp_path)


@pytest.mark.parametrize("force", [False, True])
def test_concurrent_builds_to_one_folder(tmp_path, force):
    p = _model(tmp_path)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "rnngen.cli", "build", str(p), "-o", str(out)]
    if force:
        assert rnngen(*cmd[3:]).returncode == 0
        cmd.append("--force")
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(3)]
    results = [(q.wait(timeout=300), q.stderr.read()) for q in procs]
    codes = sorted(c for c, _ in results)
    if force:
        assert codes == [0, 0, 0], results
    else:
        assert codes[0] == 0 and all(c in (0, 2) for c in codes), results
        assert all("already exists" in e for c, e in results if c == 2), results
    assert "RNNGEN_RESULT passed=1" in _make_run(out)
    _no_leftovers(tmp_path)


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_outputs_get_the_umask_permissions(tmp_path, umask):
    m = models.make_model(models.Spec("LSTM", "forward", 16, 16, 3, 1), 0)
    p = tmp_path / "m.onnx"
    onnx.save(m, p)

    def set_umask():
        os.umask(umask)
    for args in (["build", p, "-o", tmp_path / "out"],
                 ["compress", p, "-m", "lmf", "-f", "2", "-o", tmp_path / "c.onnx"]):
        r = subprocess.run([sys.executable, "-m", "rnngen.cli", *map(str, args)],
                           capture_output=True, text=True, preexec_fn=set_umask, timeout=300)
        assert r.returncode == 0, r.stderr
    for q in [tmp_path / "out", *(tmp_path / "out").rglob("*"), tmp_path / "c.onnx"]:
        want = (0o777 if q.is_dir() else 0o666) & ~umask
        assert q.stat().st_mode & 0o777 == want, (q, oct(q.stat().st_mode))


# ------------------------------------------------------------------------ determinism

def test_byte_identical_across_hash_seeds_and_working_folders(tmp_path):
    src = _model(tmp_path / "a", "m.onnx", cell="GRU", direction="bidirectional")
    (tmp_path / "b" / "deep").mkdir(parents=True)
    other = tmp_path / "b" / "deep" / "m.onnx"
    other.write_bytes(src.read_bytes())
    trees = []
    for i, (model, cwd) in enumerate([(src, tmp_path / "a"), (other, tmp_path / "b"),
                                      (src, tmp_path)]):
        for dtype in ("float32", "int8"):
            env = dict(os.environ, PYTHONHASHSEED=str(i * 7 + 1))
            out = tmp_path / f"out{i}{dtype}"
            r = rnngen("build", model, "-o", out, "--dtype", dtype, "--target", "cortex-m4",
                       cwd=cwd, env=env)
            assert r.returncode == 0, r.stderr
            trees.append((dtype, _tree(out)))
    for dtype in ("float32", "int8"):
        same = [t for d, t in trees if d == dtype]
        assert same[0] == same[1] == same[2]
