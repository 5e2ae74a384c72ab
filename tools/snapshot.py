"""Snapshot the generated C (and compressed models, and `inspect` output) for a sample of
models, to check that a restructuring leaves the output byte-identical.

    .venv/bin/python tools/snapshot.py /tmp/arch-before
    .venv/bin/python tools/snapshot.py /tmp/arch-after
    diff -r /tmp/arch-before /tmp/arch-after

The sample: the bundled example (host and cortex-m4, library mode once), every cell (LSTM,
GRU with linear_before_reset 0 and 1, RNN, FastRNN, FastGRNN, SRU) x every matrix format (dense,
HMD, CSR, low-rank, Kronecker, HKP, per-gate stack) from .npz, float32 and int8, host and
cortex-m4; and `rnngen compress` of the example with every method (ONNX factor subgraphs,
read back and built). Deterministic: seeded arrays, no timing.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from rnngen import npz

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "lstm_classifier" / "model.onnx"
I, H, T = 6, 8, 5
CELLS = ("lstm", "gru0", "gru1", "rnn", "fastrnn", "fastgrnn", "sru")
FORMATS = ("dense", "hmd", "csr", "lowrank", "kron", "hkp", "stack")
# the SRU's W is [W; W_f; W_r; W_p] (I != H); its R (unused) keeps the sampling order
GATES = {"lstm": 4, "gru0": 3, "gru1": 3, "rnn": 1, "fastrnn": 1, "fastgrnn": 1, "sru": 4}


def matrix(fmt: str, m: int, n: int, rng: np.random.Generator) -> object:
    """A matrix entry of format `fmt`, [m, n], seeded."""
    def r(*s: int) -> np.ndarray:
        return (rng.standard_normal(s) * 0.3).astype(np.float32)

    if fmt == "dense":
        return r(m, n)
    if fmt == "hmd":
        k = 2
        return npz.hmd(r(k, n), r(m - k), r(n - n // 2), r(m - k), r(n // 2))
    if fmt == "csr":
        w = r(m, n)
        w[rng.random((m, n)) < 0.6] = 0
        return npz.csr_from_dense(w)
    if fmt == "lowrank":
        return npz.lowrank(r(m, 2), r(2, n))
    if fmt == "kron":  # padded when m or n is odd
        return npz.kron(r(-(-m // 2), -(-n // 3)), r(2, 3), (m, n))
    if fmt == "hkp":
        return npz.stack(r(2, n), npz.kron(r(-(-(m - 2) // 2), -(-n // 2)), r(2, 2), (m - 2, n)))
    # per-gate stack of mixed formats
    g = m // H if m % H == 0 and m >= H else 1
    sub = ("lowrank", "dense", "hmd", "csr")
    return npz.stack(*[matrix(sub[k % len(sub)], m // g, n, rng) for k in range(g)])


def model(cell: str, fmt: str, path: Path) -> None:
    rng = np.random.default_rng(CELLS.index(cell) * 100 + FORMATS.index(fmt))
    G = GATES[cell]
    W, R = matrix(fmt, G * H, I, rng), matrix(fmt, G * H, H, rng)

    def b(k: int) -> np.ndarray:
        return (rng.standard_normal(k) * 0.1).astype(np.float32)

    if cell == "lstm":
        layer = npz.lstm(W, R, b(4 * H), b(4 * H), gate_order="onnx")
    elif cell.startswith("gru"):
        layer = npz.gru(W, R, b(3 * H), b(3 * H), gate_order="onnx",
                        linear_before_reset=cell == "gru1")
    elif cell == "rnn":
        layer = npz.rnn(W, R, b(H), b(H))
    elif cell == "fastrnn":
        layer = npz.fastrnn(W, R, b(H), alpha=-1.5, beta=1.2)
    elif cell == "fastgrnn":
        layer = npz.fastgrnn(W, R, b(H), b(H), zeta=1.0, nu=-3.0)
    else:  # sru: no recurrent matrix (R is not used)
        layer = npz.sru(W, b(H), b(H), b(H), b(H), c0=b(H))
    fc = npz.dense(matrix("dense", 4, H, rng), b(4))
    npz.save(path, [layer, fc, npz.softmax()], input_size=I, seq_len=T)


def run(args: list[str], log: Path) -> None:
    p = subprocess.run([sys.executable, "-m", "rnngen.cli", *args], check=False,
                       capture_output=True,
                       text=True)
    log.write_text(f"$ rnngen {' '.join(args)}\nexit {p.returncode}\n{p.stdout}{p.stderr}")


def keep_c(build: Path, out: Path) -> None:
    """Keep the generated sources (not compiled objects); the build folder goes."""
    if build.exists():
        for f in sorted(build.rglob("*")):
            if f.is_file() and f.suffix in (".c", ".h", ".txt", ".mk", ".ld", "") or \
                    f.name.startswith("Makefile"):
                dst = out / f.relative_to(build)
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(f, dst)
        shutil.rmtree(build)


def main(dest: str) -> None:
    out = Path(dest)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    work = out / "_work"
    work.mkdir()
    jobs: list[tuple[list[str], Path, Path]] = []

    def build(src: Path, label: str, *extra: str) -> None:
        b = work / f"b_{label}"
        jobs.append((["build", str(src), "-o", str(b), "--force", "--name", "m", *extra],
                     b, out / label))

    for tgt in ("host", "cortex-m4"):
        for dt in ("float32", "int8"):
            build(EXAMPLE, f"example-{tgt}-{dt}", "--target", tgt, "--dtype", dt)
    build(EXAMPLE, "example-lib", "--target", "cortex-m4", "--no-main")
    for cell in CELLS:
        for fmt in FORMATS:
            src = work / f"{cell}_{fmt}.npz"
            model(cell, fmt, src)
            for dt in ("float32", "int8"):
                build(src, f"{cell}-{fmt}-host-{dt}", "--dtype", dt)
            if fmt in ("dense", "hmd", "kron"):
                for dt in ("float32", "int8"):
                    build(src, f"{cell}-{fmt}-m4-{dt}", "--target", "cortex-m4", "--dtype", dt)
    # compress of the example with every method: the ONNX writer, read back and built
    comp = out / "compress"
    comp.mkdir()
    for method in ("hmd", "lmf", "csr", "kron", "hkp"):
        dst = work / f"ex_{method}.onnx"
        run(["compress", str(EXAMPLE), "-m", method, "-f", "2", "-o", str(dst), "--force",
             "--json"], comp / f"{method}.log")
        shutil.copyfile(dst, comp / f"{method}.onnx")
        for dt in ("float32", "int8"):
            build(dst, f"example-{method}-{dt}", "--dtype", dt)
        run(["inspect", str(dst)], comp / f"{method}.inspect")
    # compress of an .npz model: the .npz writer
    src = work / "lstm_dense.npz"
    for method in ("hmd", "csr", "hkp"):
        dst = work / f"npz_{method}.npz"
        run(["compress", str(src), "-m", method, "-f", "2", "-o", str(dst), "--force"],
            comp / f"npz-{method}.log")
        with np.load(dst) as z:
            (comp / f"npz-{method}.txt").write_text("\n".join(
                f"{k} {z[k].dtype} {z[k].shape} {z[k].tobytes().hex()}" for k in sorted(z.files)))
        build(dst, f"npz-{method}-float32")

    def one(job: tuple[list[str], Path, Path]) -> None:
        args, b, label = job
        label.mkdir(parents=True, exist_ok=True)
        run(args, label / "build.log")
        keep_c(b, label)

    with ThreadPoolExecutor(2) as ex:
        list(ex.map(one, jobs))
    for f in sorted(work.glob("*.npz")):
        run(["inspect", str(f)], out / f"inspect-{f.stem}.txt")
    shutil.rmtree(work)
    # logs and inspect output name the temporary folder: keep them comparable
    for f in out.rglob("*"):
        if f.is_file() and f.suffix in (".log", ".txt", ".inspect"):
            f.write_text(f.read_text().replace(str(work), "WORK"))
    print(f"{len(jobs)} builds in {out}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/tmp/arch-snapshot")
