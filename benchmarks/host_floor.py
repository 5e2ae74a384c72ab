"""Host: the float HAR1 BiLSTM against the cache-bandwidth floor and onnxruntime (1 thread).

    python benchmarks/host_floor.py          # writes benchmarks/results/host_floor.md

Model: the HAR1 network of benchmarks/host_lstm.py (BiLSTM 77 -> 179 over 81 steps, then
Linear 358 -> 18 without bias and Softmax per step; 374,468 parameters, seeded weights),
float32, built by rnngen for the host board (-O3 -march=native).

Three things are measured in the same run, interleaved in ROUNDS rounds (each round: the C,
onnxruntime, the bandwidth loop) so that a slow spell of this shared machine hits all three:
- rnngen C: `m_reset` + `m_run` over the 81 steps, called in a loop from C (host_lstm.py's
  harness); per round the best of 7 timed loops; reported: the median over rounds.
- onnxruntime (intra_op_num_threads = 1, CPU provider), InferenceSession.run timed from Python
  (host_lstm.py's method: the median of 7 loops; Python's call overhead of a few µs is in it);
  reported: the median over rounds.
- read bandwidth: a C loop (-O3 -march=native, AVX2 loads into 8 independent accumulators)
  that reads a buffer of exactly the model's weight bytes (all float32 weights: W, R and the
  Linear, 1,492,144 bytes), over and over; per round the median time of one pass over 15
  repeats; reported: the median over rounds, as bytes / second. The same loop on other
  buffer sizes (32 KiB to 64 MiB) shows which cache level the weights live in.

The floor: the time to stream the weights from the cache level they live in at that
measured bandwidth:
- floor (issue 9's definition): all weight bytes once per step, times the 81 steps;
- minimum traffic (stricter, for reference): only R is needed again at every step (the
  recurrence); rnngen reads W once per block of 8 steps (its input projection is one mat-mul
  over 8 steps) and the Linear once per 8 steps; a schedule that read W and the Linear once
  per inference would stream 81 x |R| + |W| + |Linear| bytes.
- compute (for reference): the inference's MACs at the fp32 FMA peak measured by a loop of
  independent AVX2 FMAs in registers (best of 5 runs).
Ratio = rnngen C time / floor. Targets (issue 9): ratio <= 1.1, and rnngen not slower than
onnxruntime. Times on a shared 2-core VM (other jobs may run): the rounds are listed.
"""

from __future__ import annotations

import argparse
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path


HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import host_lstm  # noqa: E402
import onnxruntime as ort  # noqa: E402

from rnngen import ir, reference  # noqa: E402

T, I, H, C = 81, 77, 179, 18
W_BYTES = 2 * 4 * H * I * 4
R_BYTES = 2 * 4 * H * H * 4
LIN_BYTES = 2 * H * C * 4
WEIGHTS = W_BYTES + R_BYTES + LIN_BYTES
ROUNDS = 5

BW_C = r"""
#define _POSIX_C_SOURCE 199309L
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}
static int cmp(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}
/* one pass: read n floats (n a multiple of 64) into 8 independent AVX2 accumulators */
static float pass(const float *p, long n)
{
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0,
           a7 = a0;
    long i;
    for (i = 0; i < n; i += 64)
    {
        a0 = _mm256_add_ps(a0, _mm256_load_ps(p + i));
        a1 = _mm256_add_ps(a1, _mm256_load_ps(p + i + 8));
        a2 = _mm256_add_ps(a2, _mm256_load_ps(p + i + 16));
        a3 = _mm256_add_ps(a3, _mm256_load_ps(p + i + 24));
        a4 = _mm256_add_ps(a4, _mm256_load_ps(p + i + 32));
        a5 = _mm256_add_ps(a5, _mm256_load_ps(p + i + 40));
        a6 = _mm256_add_ps(a6, _mm256_load_ps(p + i + 48));
        a7 = _mm256_add_ps(a7, _mm256_load_ps(p + i + 56));
    }
    a0 = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
                       _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7)));
    {
        float v[8], s = 0.0f;
        int k;
        _mm256_storeu_ps(v, a0);
        for (k = 0; k < 8; ++k) s += v[k];
        return s;
    }
}
/* the fp32 FMA peak: 10 independent AVX2 FMA chains in registers, 16 MACs each a step */
static double fma_peak(void)
{
    __m256 a[10], m = _mm256_set1_ps(0.999f), c = _mm256_set1_ps(1e-3f);
    long i, n = 20000000;
    int k;
    double t0, t;
    float v[8], s = 0.0f;
    for (k = 0; k < 10; ++k) a[k] = _mm256_set1_ps((float)k);
    t0 = now();
    for (i = 0; i < n; ++i)
        for (k = 0; k < 10; ++k) a[k] = _mm256_fmadd_ps(a[k], m, c);
    t = now() - t0;
    for (k = 0; k < 10; ++k)
    {
        _mm256_storeu_ps(v, a[k]);
        s += v[0];
    }
    printf("fma %.6g %g\n", (double)n * 10 * 8 / t, (double)s);
    return t;
}
int main(int argc, char **argv)
{
    if (argc > 1 && argv[1][0] == 'f')
    {
        double best = 1e30, t;
        int r;
        for (r = 0; r < 5; ++r) { t = fma_peak(); best = t < best ? t : best; }
        return best > 0 ? 0 : 1;
    }
    long bytes = atol(argv[1]), n = (bytes / 4 + 63) / 64 * 64, reps, r, i;
    int repeats = 15, k;
    double t[15], t0;
    volatile float sink = 0.0f;
    float *p = aligned_alloc(64, (size_t)n * 4);
    for (i = 0; i < n; ++i) p[i] = (float)(i % 97) * 0.01f;
    for (reps = 1;; reps *= 2) /* passes per timed repeat: at least 20 ms */
    {
        t0 = now();
        for (r = 0; r < reps; ++r) sink += pass(p, n);
        if (now() - t0 > 0.02) break;
    }
    for (k = 0; k < repeats; ++k)
    {
        t0 = now();
        for (r = 0; r < reps; ++r) sink += pass(p, n);
        t[k] = (now() - t0) / (double)reps;
    }
    qsort(t, (size_t)repeats, sizeof t[0], cmp);
    printf("%ld %.9g %g\n", n * 4, t[repeats / 2], (double)sink);
    free(p);
    return 0;
}
"""

SIZES = [32 << 10, 256 << 10, 512 << 10, 1 << 20, WEIGHTS, 4 << 20, 16 << 20, 64 << 20]


def bandwidth(exe: Path, nbytes: int) -> tuple[int, float]:
    """(bytes read per pass, median seconds per pass)."""
    out = subprocess.run([str(exe), str(nbytes)], capture_output=True, text=True,
                         check=True).stdout.split()
    return int(out[0]), float(out[1])


def fma_peak(exe: Path) -> float:
    """MACs per second of the FMA loop: the best of 5 runs (a peak, not a median)."""
    out = subprocess.run([str(exe), "f"], capture_output=True, text=True, check=True).stdout
    return max(float(ln.split()[1]) for ln in out.splitlines() if ln.startswith("fma"))


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            return next(ln.split(":", 1)[1].strip() for ln in fh
                        if ln.startswith("model name"))
    except (OSError, StopIteration):
        return platform.machine()


def caches() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return "?"
    return "; ".join(ln.split(":", 1)[0].strip() + " " + ln.split(":", 1)[1].strip()
                     for ln in out.splitlines() if "cache" in ln.split(":", 1)[0])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=ROUNDS)
    ap.add_argument("--out", default=str(HERE / "results" / "host_floor.md"))
    a = ap.parse_args(argv)
    command = "python benchmarks/host_floor.py" + (
        " " + " ".join(shlex.quote(v) for v in sys.argv[1:]) if argv is None and sys.argv[1:]
        else "")
    model = host_lstm.har1()
    c_t, ort_t, bw_t = [], [], []
    with tempfile.TemporaryDirectory() as d:
        work = Path(d)
        out, g = host_lstm.build(model, work)
        assert g.seq_len == T
        x = reference.golden_input(g)
        macs = ir.macs(g)
        exe = host_lstm.compile_harness(out, ["-O3", "-march=native"], "bench_native")
        (work / "bw.c").write_text(BW_C)
        bw = work / "bw"
        subprocess.run(["gcc", "-std=c11", "-O3", "-march=native", "-o", str(bw),
                        str(work / "bw.c")], check=True)
        sweep = {s: bandwidth(bw, s) for s in SIZES}
        guess = 1e-3
        for _ in range(a.rounds):
            c_t.append(host_lstm.time_c(exe, guess))
            guess = c_t[-1]
            ort_t.append(host_lstm.time_ort(model, x))
            bw_t.append(bandwidth(bw, WEIGHTS))
        sweep2 = {s: bandwidth(bw, s) for s in SIZES}
        peak = fma_peak(bw)
    t_c = statistics.median(c_t)
    t_ort = statistics.median(ort_t)
    nb = bw_t[0][0]
    t_pass = statistics.median(t for _, t in bw_t)
    gbs = nb / t_pass
    floor = T * WEIGHTS / gbs
    min_bytes = T * R_BYTES + W_BYTES + LIN_BYTES
    floor_min = min_bytes / gbs
    ratio = t_c / floor
    ok_floor = ratio <= 1.1
    ok_ort = t_c <= t_ort
    lines = [
        "# Host: HAR1 BiLSTM (float) against the bandwidth floor and onnxruntime", "",
        f"Made by `{command}` (the script's docstring has the method). Machine: {cpu_name()}, "
        f"{caches()}; onnxruntime {ort.__version__} (1 thread); gcc "
        + subprocess.run(["gcc", "-dumpfullversion"], capture_output=True,
                         text=True).stdout.strip() + ".", "",
        f"HAR1: BiLSTM 77 -> 179, {T} steps, Linear 358 -> 18 + Softmax; {macs:,} MACs per "
        f"inference. Float32 weights: W {W_BYTES:,} B, R {R_BYTES:,} B, Linear {LIN_BYTES:,} B, "
        f"total {WEIGHTS:,} B ({WEIGHTS / 1048576:.2f} MiB).", "",
        "## Read bandwidth (C loop, median pass time of 15 repeats; before and after the "
        "timed rounds)", "",
        "| buffer | GB/s before | GB/s after |", "|---|---|---|"]
    for s in SIZES:
        b1, t1 = sweep[s]
        b2, t2 = sweep2[s]
        tag = " (the weights)" if s == WEIGHTS else ""
        size = f"{b1 / 1024:,.0f} KiB" if b1 < 4 << 20 else f"{b1 >> 20} MiB"
        lines.append(f"| {size}{tag} | {b1 / t1 / 1e9:.1f} | {b2 / t2 / 1e9:.1f} |")
    lines += [
        "", f"## Result (median of {a.rounds} interleaved rounds)", "",
        "| quantity | value |", "|---|---|",
        f"| read bandwidth on a buffer of the weights' size | {gbs / 1e9:.1f} GB/s "
        f"(rounds: {', '.join(f'{nb / t / 1e9:.1f}' for _, t in bw_t)}) |",
        f"| floor: all weights once per step x {T} steps | {floor * 1e6:,.1f} µs |",
        f"| minimum traffic: R per step, W and Linear once ({min_bytes:,} B) | "
        f"{floor_min * 1e6:,.1f} µs |",
        f"| rnngen C, one inference | {t_c * 1e6:,.1f} µs (rounds: "
        f"{', '.join(f'{t * 1e6:,.0f}' for t in c_t)}) |",
        f"| onnxruntime, 1 thread | {t_ort * 1e6:,.1f} µs (rounds: "
        f"{', '.join(f'{t * 1e6:,.0f}' for t in ort_t)}) |",
        f"| rnngen / floor | **{ratio:.2f}x** (target <= 1.1: "
        f"{'met' if ok_floor else 'NOT met'}) |",
        f"| rnngen / minimum-traffic floor | {t_c / floor_min:.2f}x |",
        f"| onnxruntime / rnngen | **{t_ort / t_c:.2f}x** (target >= 1: "
        f"{'met' if ok_ort else 'NOT met'}) |",
        f"| rnngen effective weight stream (all weights per step) | "
        f"{T * WEIGHTS / t_c / 1e9:.1f} GB/s |",
        f"| rnngen MAC rate | {macs / t_c / 1e9:.1f} GMAC/s |",
        f"| fp32 FMA peak (AVX2 loop in registers, best of 5) | {peak / 1e9:.1f} GMAC/s |",
        f"| compute floor: MACs at that peak | {macs / peak * 1e6:,.1f} µs "
        f"(rnngen {t_c / (macs / peak):.2f}x) |", "",
        "## Reading", "",
        f"- Floor target (issue 9's definition, all weights once per step): rnngen is "
        f"{ratio:.2f}x the floor, {'within' if ok_floor else 'outside'} 1.1x. That definition "
        "is generous: rnngen does not read every weight at every step (its input projection W "
        "is one mat-mul per block of 8 steps), so it can go below that floor.",
        f"- Against the stricter minimum traffic (only R at every step) rnngen is "
        f"{t_c / floor_min:.2f}x, and {t_c / (macs / peak):.2f}x the compute floor. It "
        f"streams R at about {T * R_BYTES / t_c / 1e9:.0f} GB/s (if R were all it read) "
        f"against {gbs / 1e9:.0f} GB/s measured on the weights' size (more on a 512 KiB "
        "buffer, one direction's R): neither bandwidth nor the FMA peak binds alone; the "
        "step's serial chain (mat-vec, then the gate activations and the cell, for one "
        "direction then the other) and the mat-vec's own overhead make up the rest.",
        f"- onnxruntime (1 thread) takes {t_ort / t_c:.2f}x rnngen's time: rnngen is "
        + ("faster or equal (target met)." if ok_ort else
           f"{(t_c / t_ort - 1) * 100:.0f}% slower (target NOT met)."), ""]
    text = "\n".join(lines) + "\n"
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
