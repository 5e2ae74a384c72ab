"""Every board end to end: golden comparisons of small LSTM / GRU / RNN models (bidirectional,
2-layer, streaming) on host, cortex-a73/a53 (qemu-aarch64) and cortex-m4/m7/m55
(qemu-system-arm, semihosting); what differs between boards (only Makefile and board/);
flash/RAM budgets; library mode; and the failures a user meets: unknown target, malformed
board file, missing toolchain, a program that faults, a program that hangs.

Nothing here skips: a missing cross compiler or QEMU fails the test with the message that
names the Debian package (`make install` at the top level installs them all).
"""

from __future__ import annotations

import json
import re
import struct
import subprocess
from pathlib import Path

import numpy as np
import onnx
import pytest
from click.testing import CliRunner
from onnx import TensorProto, helper, numpy_helper
from rnngen import boards, cli, driver, reference
from rnngen.errors import RnngenError

BOARDS = ["host", "cortex-a73", "cortex-a53", "cortex-m4", "cortex-m7", "cortex-m55"]
BAREMETAL = ["cortex-m4", "cortex-m7", "cortex-m55"]
GATES = {"LSTM": 4, "GRU": 3, "RNN": 1}


# ---- models --------------------------------------------------------------------------

def stacked(cell: str, direction: str, layers: int, I: int, H: int, T: int, seed: int = 0,
            name: str = "m") -> onnx.ModelProto:
    """layers x (cell) stacked as PyTorch exports them: Y [T, D, 1, H] -> Transpose ->
    Reshape [T, 1, D*H] -> next layer. Outputs: last Y, Y_h (and Y_c for LSTM)."""
    rng = np.random.default_rng(seed)
    D = 2 if direction == "bidirectional" else 1
    G = GATES[cell]
    nodes, inits = [], []
    cur, cur_in = "X", I
    for k in range(layers):
        p = f"l{k}_"
        s = 1.0 / np.sqrt(cur_in + H)
        inits += [numpy_helper.from_array((rng.standard_normal((D, G * H, cur_in)) * 2 * s)
                                          .astype(np.float32), p + "W"),
                  numpy_helper.from_array((rng.standard_normal((D, G * H, H)) * 2 * s)
                                          .astype(np.float32), p + "R"),
                  numpy_helper.from_array((rng.standard_normal((D, 2 * G * H)) * 0.3)
                                          .astype(np.float32), p + "B")]
        last = k == layers - 1
        outs = [p + "Y"] + ([p + "Yh"] + ([p + "Yc"] if cell == "LSTM" else []) if last else [])
        nodes.append(helper.make_node(cell, [cur, p + "W", p + "R", p + "B"], outs,
                                      hidden_size=H, direction=direction, name=f"{cell}_{k}"))
        if not last:
            inits.append(numpy_helper.from_array(np.array([T, 1, D * H], np.int64), p + "shape"))
            nodes.append(helper.make_node("Transpose", [p + "Y"], [p + "T"], perm=[0, 2, 1, 3]))
            nodes.append(helper.make_node("Reshape", [p + "T", p + "shape"], [p + "X"]))
            cur, cur_in = p + "X", D * H
    g = helper.make_graph(nodes, name, [helper.make_tensor_value_info(
        "X", TensorProto.FLOAT, [T, 1, I])],
        [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outs], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 14)])


# (cell, direction, layers, input, hidden, steps): every cell; bidirectional and 2-layer
# stacks; the forward GRU stack is causal, so its streaming API is checked too.
MODELS = {
    "lstm_bi_2layer": ("LSTM", "bidirectional", 2, 5, 8, 6),
    "gru_2layer": ("GRU", "forward", 2, 4, 12, 7),
    "rnn_bi": ("RNN", "bidirectional", 1, 6, 10, 5),
}


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("models")
    out = {}
    for k, (cell, direction, layers, I, H, T) in MODELS.items():
        out[k] = folder / f"{k}.onnx"
        onnx.save(stacked(cell, direction, layers, I, H, T, seed=len(out), name=k), out[k])
    return out


def board_file(tmp_path: Path, base: str, **changes: object) -> Path:
    """A copy of boards/<base>.toml with some keys replaced (None: removed)."""
    data = boards.tomllib.loads(boards.available()[base].read_text())
    for k, v in changes.items():
        if v is None:
            data.pop(k, None)
        else:
            data[k] = v
    p = tmp_path / f"{data.get('name', base)}.toml"
    p.write_text("".join(f"{k} = {_toml(v)}\n" for k, v in data.items()))
    return p


def _toml(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float, str)):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(_toml(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {_toml(x)}" for k, x in v.items()) + " }"
    raise TypeError(v)


def run_cli(*args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(cli.main, list(args))
    return r.exit_code, r.stdout, r.stderr


def _qemu(board: str) -> list[pytest.MarkDecorator]:
    return [] if board == "host" else [pytest.mark.qemu]


# ---- golden comparisons on every board -------------------------------------------------

@pytest.mark.parametrize("model", list(MODELS))
@pytest.mark.parametrize("board", [pytest.param(b, marks=_qemu(b)) for b in BOARDS])
def test_golden_on_every_board(board, model, models, tmp_path):
    out = tmp_path / "proj"
    res = driver.verify(models[model], driver.BuildOptions(target=board), keep=out)
    r = res.report
    assert res.passed, res.output
    assert r["target"] == board
    assert r["mismatches"] == 0 and r["values"] > 0
    m = json.loads((out / "manifest.json").read_text())
    assert m["target"] == board
    assert r["streaming"] == (model == "gru_2layer")
    if r["streaming"]:
        assert r["stream_errors"] == 0
    # measured with the board's own size tool: code + weights, at least the weight bytes
    assert m["flash_bytes"] == r["flash_bytes"] >= m["weights_bytes"] > 0
    assert m["ram_bytes"] >= m["state_bytes"] > 0
    if board in BAREMETAL:
        _check_flash_image(boards.get(board), out, m["name"])


def _check_flash_image(b: boards.Board, out: Path, name: str) -> None:
    """The .bin starts at FLASH with the vector table: initial SP = top of RAM, then the
    reset handler (a Thumb address in FLASH); the .hex exists too."""
    flash, ram = b.region("FLASH"), b.region("RAM")
    image = (out / f"build/{name}_test.bin").read_bytes()
    sp, reset = struct.unpack_from("<II", image)
    assert sp == ram.origin + ram.length
    assert reset & 1 and flash.origin <= reset - 1 < flash.origin + len(image)
    assert (out / f"build/{name}_test.hex").read_text().startswith(":")
    assert (out / "board/startup.c").exists() and (out / "board/linker.ld").exists()


# ---- what differs between boards ----------------------------------------------------------

def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def test_model_c_is_byte_identical_across_boards(models, tmp_path):
    trees = {}
    for b in BOARDS:
        driver.build(models["gru_2layer"], tmp_path / b,
                     driver.BuildOptions(target=b, measure=False))
        trees[b] = _tree(tmp_path / b)
    board_specific = {"Makefile", "manifest.json", "board/startup.c", "board/linker.ld"}
    ref = {k: v for k, v in trees["host"].items() if k not in board_specific}
    assert {"src/gru_2layer.c", "include/gru_2layer.h", "test/golden.h", "test/main.c",
            "src/rnn_mat_vec_f32.c", "src/rnn_gru_cell_f32.c"} <= set(ref)
    for b, tree in trees.items():
        common = {k: v for k, v in tree.items() if k not in board_specific}
        assert common == ref, b
        extra = set(tree) - set(common)
        want = {"Makefile", "manifest.json"} | (
            {"board/startup.c", "board/linker.ld"} if b in BAREMETAL else set())
        assert extra == want, b
        assert f"--target {b}".encode() in tree["Makefile"]
        assert b"--target" not in tree["src/gru_2layer.c"]
    # library mode emits the very same model and kernels
    driver.build(models["gru_2layer"], tmp_path / "lib",
                 driver.BuildOptions(target="cortex-m4", measure=False, no_main=True))
    lib = _tree(tmp_path / "lib")
    assert set(lib) == {k for k in ref if k.startswith(("src/", "include/"))} | {
        "CMakeLists.txt", "rnngen.mk", "manifest.json", "board/startup.c", "board/linker.ld",
        "cmake/cortex-m4.cmake"}
    assert all(lib[k] == ref[k] for k in lib if k.startswith(("src/", "include/")))


def test_boards_lists_all_six_with_budgets():
    code, out, _ = run_cli("boards")
    assert code == 0
    lines = {ln.split()[0]: ln for ln in out.splitlines()}
    assert set(lines) == set(BOARDS)
    assert "flash 1 MiB, RAM 192 KiB (STM32F407VG)" in lines["cortex-m4"]
    assert "flash 2 MiB, RAM 512 KiB (STM32F767ZI)" in lines["cortex-m7"]
    assert "Alif Ensemble" in lines["cortex-m55"]
    code, out, _ = run_cli("boards", "--json")
    listed = {b["name"]: b for b in json.loads(out)}
    for name in BOARDS[1:]:
        b = boards.get(name)
        assert listed[name]["flash_budget"] == b.flash_budget > 0
        assert listed[name]["ram_budget"] == b.ram_budget > 0
    assert {boards.get(b).variant for b in BOARDS} == {"generic", "neon", "dsp", "mve"}


# ---- budgets ---------------------------------------------------------------------------

@pytest.mark.qemu  # (cross compiler only)
def test_model_over_flash_budget_is_refused_and_override_accepts(tmp_path):
    model = tmp_path / "big.onnx"  # 1 LSTM, 128 -> 200: 262400 floats, just over 1 MiB
    onnx.save(stacked("LSTM", "forward", 1, 128, 200, 2, name="big"), model)
    code, out, err = run_cli("build", str(model), "--target", "cortex-m4",
                             "-o", str(tmp_path / "big"))
    assert code == 2 and not (tmp_path / "big").exists()
    msg = err.strip()
    assert "\n" not in msg
    flash = int(re.search(r"flash (\d+) bytes > budget 1048576", msg).group(1))
    assert flash > 1048576 and "STM32F407VG" in msg and "--flash-budget" in msg
    code, out, err = run_cli("build", str(model), "--target", "cortex-m4",
                             "-o", str(tmp_path / "big"), "--flash-budget", str(2 << 20))
    assert code == 0, err
    m = json.loads((tmp_path / "big/manifest.json").read_text())
    assert m["flash_bytes"] == flash and m["flash_budget"] == 2 << 20
    assert m["ram_budget"] == 196608
    assert f"flash {flash} B" in out


@pytest.mark.qemu  # (cross compiler only)
def test_model_over_ram_budget_is_refused_and_override_accepts(tmp_path):
    model = tmp_path / "long.onnx"  # the 2-layer stack keeps layer 1's Y: 3000 x 16 floats
    onnx.save(stacked("GRU", "bidirectional", 2, 2, 8, 3000, name="long"), model)
    with pytest.raises(RnngenError) as e:
        driver.build(model, tmp_path / "a", driver.BuildOptions(target="cortex-m4"))
    ram = int(re.search(r"RAM (\d+) bytes > budget 196608", str(e.value)).group(1))
    assert ram > 196608 and "budget 1048576" not in str(e.value)
    res = driver.build(model, tmp_path / "b", driver.BuildOptions(target="cortex-m4",
                                                                  ram_budget=0))
    assert res.manifest["ram_bytes"] == ram and res.manifest["ram_budget"] == 0


# ---- library mode ------------------------------------------------------------------------

APP = r"""
#include <stdio.h>
#include "lstm_bi_2layer.h"
#include "x.h"

static lstm_bi_2layer_state_t state;
static float y[LSTM_BI_2LAYER_OUTPUT_SIZE(STEPS)];

int main(void)
{
    long i;
    lstm_bi_2layer_reset(&state);
    if (lstm_bi_2layer_run(&state, x, STEPS, y) != 0)
    {
        return 1;
    }
    for (i = 0; i < (long)(sizeof y / sizeof y[0]); ++i)
    {
        printf("%.9g\n", (double)y[i]);
    }
    return 0;
}
"""

USER_MAKEFILE = """\
include lib/rnngen.mk
CFLAGS := $(RNNGEN_CFLAGS) $(addprefix -I,$(RNNGEN_INCLUDES)) -I.
app: app.c $(RNNGEN_SRCS)
\tgcc $(CFLAGS) -o $@ $^ $(RNNGEN_LDLIBS)
"""


def test_library_mode_drops_into_a_make_and_a_cmake_project(models, tmp_path):
    model = models["lstm_bi_2layer"]
    code, out, err = run_cli("build", str(model), "--no-main", "-o", str(tmp_path / "lib"))
    assert code == 0, err
    assert "rnngen.mk" in out and "flash" in out
    files = {str(p.relative_to(tmp_path / "lib")) for p in (tmp_path / "lib").rglob("*")
             if p.is_file()}
    assert "Makefile" not in files and not any(f.startswith(("test/", "board/")) for f in files)
    m = json.loads((tmp_path / "lib/manifest.json").read_text())
    assert m["library"] is True and m["flash_bytes"] >= m["weights_bytes"]

    g = driver.compile_graph(model, driver.BuildOptions())
    x = reference.golden_input(g)
    T = g.seq_len
    (tmp_path / "x.h").write_text(
        f"#define STEPS {T}\nstatic const float x[{x.size}] = {{"
        + ", ".join(f"{v!r}f" for v in x.reshape(-1).tolist()) + "};\n")
    (tmp_path / "app.c").write_text(APP)
    (tmp_path / "Makefile").write_text(USER_MAKEFILE)
    subprocess.run(["make", "-s"], cwd=tmp_path, check=True, capture_output=True, timeout=120)
    got = np.array([float(v) for v in subprocess.run(
        ["./app"], cwd=tmp_path, check=True, capture_output=True, text=True,
        timeout=60).stdout.split()], np.float32)
    ref = reference.run(g, x)
    want = np.concatenate([np.asarray(ref[o], np.float32).reshape(-1) for o in g.outputs])
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)

    # CMake: add_subdirectory(lib) + target_link_libraries
    (tmp_path / "CMakeLists.txt").write_text(
        "cmake_minimum_required(VERSION 3.13)\nproject(fw C)\nadd_subdirectory(lib)\n"
        "add_executable(app app.c)\ntarget_include_directories(app PRIVATE .)\n"
        "target_link_libraries(app PRIVATE lstm_bi_2layer)\n")
    for cmd in (["cmake", "-S", ".", "-B", "cm"], ["cmake", "--build", "cm"]):
        r = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=300,
                           check=False)
        assert r.returncode == 0, r.stdout + r.stderr
    got2 = np.array([float(v) for v in subprocess.run(
        ["cm/app"], cwd=tmp_path, check=True, capture_output=True, text=True,
        timeout=60).stdout.split()], np.float32)
    np.testing.assert_allclose(got2, want, rtol=1e-4, atol=1e-5)


@pytest.mark.qemu  # (cross compilers only)
def test_library_mode_measures_with_the_cross_toolchain(models, tmp_path):
    for b in ("cortex-m4", "cortex-a53"):
        res = driver.build(models["rnn_bi"], tmp_path / b,
                           driver.BuildOptions(target=b, no_main=True))
        full = driver.build(models["rnn_bi"], tmp_path / f"{b}-full",
                            driver.BuildOptions(target=b))
        assert res.manifest["flash_bytes"] == full.manifest["flash_bytes"]
        assert res.manifest["ram_bytes"] == full.manifest["ram_bytes"]
        assert f"--target {b} --no-main" in (tmp_path / b / "rnngen.mk").read_text()
        assert boards.get(b).cflags[0] in (tmp_path / b / "rnngen.mk").read_text()


# ---- bare metal: own board files, faults, hangs, exit codes -------------------------------

@pytest.mark.qemu
def test_board_file_with_its_own_memory_map(models, tmp_path):
    # the part's real RAM size (STM32F407: 128 KiB at 0x20000000) inside QEMU's map
    bf = board_file(tmp_path, "cortex-m4", name="my-f407", memory=[
        {"name": "FLASH", "origin": "0x00000000", "length": 1 << 20},
        {"name": "RAM", "origin": "0x20000000", "length": 128 << 10}])
    out = tmp_path / "proj"
    res = driver.verify(models["gru_2layer"], driver.BuildOptions(board_file=str(bf)),
                        keep=out)
    assert res.passed, res.output
    ld = (out / "board/linker.ld").read_text()
    assert "RAM (rwx) : ORIGIN = 0x20000000, LENGTH = 0x00020000" in ld
    assert "--board-file my-f407.toml" in (out / "Makefile").read_text()
    _check_flash_image(boards.get("", str(bf)), out, "gru_2layer")


HOOK = """\
#include "rnn_bi.h"
int __wrap_rnn_bi_run(rnn_bi_state_t *s, const float *x, int steps, float *y);
int __wrap_rnn_bi_run(rnn_bi_state_t *s, const float *x, int steps, float *y)
{
    (void)s; (void)x; (void)steps; (void)y;
    %s
    return 0;
}
"""


def _hooked_board(tmp_path: Path, base: str, body: str) -> Path:
    """A board file whose test program's rnn_bi_run is replaced (ld --wrap) by body."""
    src = tmp_path / "hook.c"
    src.write_text(HOOK % body)
    b = boards.get(base)
    return board_file(tmp_path, base, name=f"{base}-hooked",
                      ldflags=[*b.ldflags, "-Wl,--wrap=rnn_bi_run"],
                      ldlibs=[str(src), *b.ldlibs])


@pytest.mark.qemu
@pytest.mark.parametrize("board", ["cortex-m4", "cortex-m55"])
def test_fault_is_reported_and_stops_the_run(board, models, tmp_path):
    bf = _hooked_board(tmp_path, board, "__builtin_trap();")
    code, out, err = run_cli("verify", str(models["rnn_bi"]), "--board-file", str(bf),
                             "--timeout", "60")
    assert code == 1, out + err
    assert f"rnngen: {board}-hooked: HardFault (exception 3) at pc 0x" in err
    assert "stopped with exit code 1" in err


@pytest.mark.qemu
def test_hung_program_is_stopped_after_the_timeout(models, tmp_path):
    bf = _hooked_board(tmp_path, "cortex-m4", "for (;;) { }")
    code, out, err = run_cli("verify", str(models["rnn_bi"]), "--board-file", str(bf),
                             "--timeout", "8")  # the build must fit in it too
    assert code == 1, out + err
    assert "did not finish within 8 s under qemu-system-arm and was stopped" in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.qemu
@pytest.mark.parametrize("board", ["cortex-m7", "cortex-a73"])
def test_mismatch_fails_through_the_exit_code(board, models, tmp_path):
    model = models["rnn_bi"]
    g = driver.compile_graph(model, driver.BuildOptions())
    ref = reference.run(g, reference.golden_input(g))
    wrong = {k: np.asarray(v) + 0.5 for k, v in ref.items()}
    np.savez(tmp_path / "wrong.npz", **wrong)
    out = tmp_path / "proj"
    res = driver.verify(model, driver.BuildOptions(target=board,
                                                   expect=str(tmp_path / "wrong.npz")),
                        keep=out)
    assert not res.passed and res.report["mismatches"] == res.report["values"]
    b = boards.get(board)
    exe = str(out / driver.exe_name(b, "rnn_bi"))
    r = subprocess.run(b.run_command(exe), capture_output=True, text=True, timeout=60,
                       check=False)
    assert r.returncode == 1 and "RNNGEN_RESULT passed=0" in r.stdout


# ---- bad input ---------------------------------------------------------------------------

def test_unknown_target_lists_the_valid_ones(models, tmp_path):
    code, _, err = run_cli("build", str(models["rnn_bi"]), "--target", "cortex-m99",
                           "-o", str(tmp_path / "x"))
    assert code == 2 and not (tmp_path / "x").exists()
    msg = err.strip()
    assert "\n" not in msg and "unknown target 'cortex-m99'" in msg
    assert all(b in msg for b in BOARDS)


@pytest.mark.parametrize("what", ["cc", "qemu"])
def test_missing_toolchain_names_the_debian_package(what, models, tmp_path):
    if what == "cc":
        bf = board_file(tmp_path, "cortex-m4", name="no-cc", cc="arm-none-eabi-gcc-absent")
        want = "apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi"
    else:
        run = list(boards.get("cortex-m55").run)
        bf = board_file(tmp_path, "cortex-m55", name="no-qemu",
                        run=["qemu-system-arm-absent", *run[1:]])
        want = "apt-get install qemu-system-arm"
    code, _, err = run_cli("verify", str(models["rnn_bi"]), "--board-file", str(bf))
    assert code == 2
    assert "not found" in err and want in err and len(err.strip().splitlines()) == 1
    if what == "cc":  # build still writes the project, and says why it is not measured
        code, _, err = run_cli("build", str(models["rnn_bi"]), "--board-file", str(bf),
                               "-o", str(tmp_path / "p"))
        assert code == 0 and want in err
        assert (tmp_path / "p/board/startup.c").exists()


BAD_BOARDS = [
    # (description, file text or changes to cortex-m4.toml, key the message names)
    ("not toml", "name = 'x'\ncc = \n", "not valid TOML"),
    ("missing", dict(size=None), "missing key 'size'"),
    ("wrong type", dict(flash_budget="1M"), "key 'flash_budget' must be an integer, got '1M'"),
    ("unknown key", dict(flash_size=1), "unknown key 'flash_size'"),
    ("kind", dict(kind="rtos"), "key 'kind' must be one of"),
    ("variant", dict(variant="sve"), "key 'variant' must be one of"),
    ("negative budget", dict(ram_budget=-1), "key 'ram_budget' must be >= 0"),
    ("zero cpi", dict(cpi=0), "key 'cpi' must be a number > 0, got 0"),
    ("text clock", dict(clock_hz="fast"), "key 'clock_hz' must be an integer, got 'fast'"),
    ("no memory", dict(memory=None), "bare-metal board needs key 'memory'"),
    ("no RAM region", dict(memory=[{"name": "FLASH", "origin": "0x0", "length": 4096}]),
     "key 'memory' needs a region named 'RAM'"),
    ("bad origin", dict(memory=[{"name": "FLASH", "origin": "zero", "length": 4096},
                                {"name": "RAM", "origin": "0x20000000", "length": 4096}]),
     "key 'memory' entry 1: origin 'zero'"),
    ("machine", dict(machine="mps2-an385"), "key 'run' must select the QEMU machine"),
    ("no elf", dict(run=["qemu-system-arm", "-M", "mps2-an386"]), "key 'run' must give"),
    ("list of str", dict(cflags=["-O2", 3]), "key 'cflags' must be a list of strings"),
    ("name", dict(name="my board"), "key 'name' must be letters, digits"),
]


@pytest.mark.parametrize("text,key", [(t, k) for _, t, k in BAD_BOARDS],
                         ids=[d for d, _, _ in BAD_BOARDS])
def test_malformed_board_file_is_one_line_naming_the_key(text, key, models, tmp_path):
    if isinstance(text, str):
        bf = tmp_path / "bad.toml"
        bf.write_text(text)
    else:
        bf = board_file(tmp_path, "cortex-m4", **text)
    code, _, err = run_cli("build", str(models["rnn_bi"]), "--board-file", str(bf),
                           "-o", str(tmp_path / "out"))
    assert code == 2 and not (tmp_path / "out").exists()
    msg = err.strip()
    assert len(msg.splitlines()) == 1 and msg.startswith(f"rnngen: error: {bf}:"), msg
    assert key in msg, msg


def test_shipped_board_files_are_valid():
    for name, path in boards.available().items():
        b = boards.parse(path)
        assert b.name == name and b.part and b.apt_package
        if b.kind == "baremetal":
            assert b.machine in b.run and b.qemu_apt_package == "qemu-system-arm"
            assert [r.name for r in b.memory] == ["FLASH", "RAM"]
        if b.kind != "host":
            assert b.run[0].startswith("qemu-") and b.size.startswith(b.cc[:-len("gcc")])


@pytest.mark.qemu
def test_library_mode_runs_bare_metal_with_its_startup_linker_and_toolchain(models, tmp_path):
    """A bare-metal firmware built by CMake from library mode alone (board/ and the toolchain
    file it ships, no rnngen Makefile) runs the model under QEMU and prints its outputs."""
    model = models["lstm_bi_2layer"]
    res = driver.build(model, tmp_path / "lib", driver.BuildOptions(target="cortex-m4",
                                                                   no_main=True))
    files = {str(p.relative_to(tmp_path / "lib")) for p in (tmp_path / "lib").rglob("*")}
    assert {"board/startup.c", "board/linker.ld", "cmake/cortex-m4.cmake"} <= files
    g = res.graph
    x = reference.golden_input(g)
    (tmp_path / "x.h").write_text(
        f"#define STEPS {g.seq_len}\nstatic const float x[{x.size}] = {{"
        + ", ".join(f"{v!r}f" for v in x.reshape(-1).tolist()) + "};\n")
    app = APP.replace("int main(void)\n{\n    long i;",
                      "extern void initialise_monitor_handles(void);\nint main(void)\n{\n"
                      "    long i;\n    initialise_monitor_handles();")
    (tmp_path / "app.c").write_text(app)
    (tmp_path / "CMakeLists.txt").write_text(
        "cmake_minimum_required(VERSION 3.13)\nproject(fw C)\nadd_subdirectory(lib)\n"
        "add_executable(app.elf app.c)\ntarget_include_directories(app.elf PRIVATE .)\n"
        "target_link_libraries(app.elf PRIVATE lstm_bi_2layer lstm_bi_2layer_board)\n")
    for cmd in (["cmake", "-S", ".", "-B", "cm",
                 f"-DCMAKE_TOOLCHAIN_FILE={tmp_path / 'lib' / 'cmake' / 'cortex-m4.cmake'}"],
                ["cmake", "--build", "cm"]):
        r = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=300,
                           check=False)
        assert r.returncode == 0, r.stdout + r.stderr
    run = boards.get("cortex-m4").run_command(str(tmp_path / "cm" / "app.elf"))
    out = subprocess.run(run, cwd=tmp_path, capture_output=True, text=True, timeout=60,
                         check=True).stdout
    got = np.array([float(v) for v in out.split()], np.float32)
    ref = reference.run(g, x)
    want = np.concatenate([np.asarray(ref[o], np.float32).reshape(-1) for o in g.outputs])
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
