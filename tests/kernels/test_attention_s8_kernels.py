"""int8 attention pooling (issue 11): rnn_attention_pool_s8 (whole sequences) and
rnn_running_attention_pool_s8 (over time, in chunks of steps per call, state in int32 words)
compiled for each board and run where it runs, bit for bit against a direct Python-integer
model of the online softmax written here (and quant.QAttentionPool, the integer reference's
arithmetic, against the same model). Cases: one score per step and one per value, several
outer rows, scores that grow every step (a rescale each step), fall, jump by more than the
table covers (a factor 0), random; values and zero points at the int8 extremes; requantization
that saturates; a sequence of 17,000 steps whose normalizer reaches 2^30 (the halving) and
whose maximum grows after it; the running kernel after every call equal to the whole-sequence
pooling of the steps so far, and its state words equal to the model's m, l and a."""

from __future__ import annotations


import numpy as np
import pytest

from rnngen import quant
from tests.kernels.harness import c_array, run_on_board

I64 = np.int64
BOARDS = ["host", "cortex-a73", "cortex-m4", "cortex-m55"]
L_MAX, X_MAX = 1 << 22, 16


def _model(table, zp_v, mult, shift, zp_out, s, v):
    """Python integers: for scores s[k] and values v[k] (one output), the state (m, l, x, a)
    and the int8 output after each step."""
    m, l, x, a = int(s[0]), 0, 0, 0
    outs = []
    for sk, vk in zip(s, v):
        sk, vk = int(sk), int(vk)
        if sk > m:
            c = int(table[sk - m])
            l = (l * c + 32768) >> 16
            a = (a * c + 32768) >> 16
            m = sk
        e = int(table[m - sk])
        if x:
            e = (e + (1 << (x - 1))) >> x
        l += e
        a += e * (vk - zp_v)
        if l >= L_MAX:
            l, a, x = (l + 1) >> 1, (a + 1) >> 1, min(x + 1, X_MAX)
        assert 0 < l < 2**31 and -2**31 <= a < 2**31
        r = (abs(a) * 65536 + l // 2) // l
        right = 31 - shift
        y = ((-r if a < 0 else r) * mult + (1 << (right - 1))) >> right
        y = max(-2**31, min(2**31 - 1, y))
        outs.append((m, l, x, a, max(-128, min(127, zp_out + y))))
    return outs


def _cases():
    rng = np.random.default_rng(2026)
    cases = []  # (outer, n, inner, inner_s, scores [outer, n, inner_s], values, params)
    shapes = [(1, 10, 20, 1), (3, 7, 5, 5), (2, 1, 4, 1), (1, 33, 3, 3), (2, 12, 6, 1)]
    for k, (outer, n, inner, inner_s) in enumerate(shapes):
        s = rng.integers(-128, 128, (outer, n, inner_s))
        v = rng.integers(-128, 128, (outer, n, inner))
        if k == 1:
            s[0] = np.arange(n)[:, None] * 30 - 100  # grows every step by 30
            s[1] = 100 - np.arange(n)[:, None] * 30  # falls
            s[2, :, 0] = [-128, 127, -128, 127, 0, 5, 127]  # jumps of 255
        if k == 3:
            v[:] = -128  # the largest |v - zp| with zp 127
        scale = [0.5, 0.03, 0.002, 0.1, 0.08][k]  # 0.5: table entries 0 from k = 24
        zp_v, zp_out = [(127, -128), (-128, 127), (0, 0), (127, 5), (-3, 7)][k]
        mult, shift = quant.multiplier([1.0, 0.7, 3.0, 0.9, 1e4][k] / 65536.0, "t")
        cases.append((outer, n, inner, inner_s, s, v,
                      (quant.exp_table(scale), zp_v, mult, shift, zp_out)))
    # 17,000 equal scores: l reaches 2^22 after 64 steps and is halved (x grows to 9); then
    # the maximum grows
    n = 17000
    s = np.zeros((1, n, 1), I64)
    s[0, 16500:, 0] = 3
    v = rng.integers(-128, 128, (1, n, 2))
    mult, shift = quant.multiplier(1.2 / 65536.0, "t")
    cases.append((1, n, 2, 1, s, v, (quant.exp_table(0.01), -7, mult, shift, 2)))
    return cases


def _want(case):
    """Per output (o, i): the model's steps."""
    outer, n, inner, inner_s, s, v, (table, zp_v, mult, shift, zp_out) = case
    return {(o, i): _model(table, zp_v, mult, shift, zp_out,
                           s[o, :, 0 if inner_s == 1 else i], v[o, :, i])
            for o in range(outer) for i in range(inner)}


def test_reference_is_the_model():
    """quant.QAttentionPool (the integer reference's arithmetic) equals the model here, on the
    whole sequence and continued over chunks of steps."""
    for case in _cases():
        outer, n, inner, inner_s, s, v, (table, zp_v, mult, shift, zp_out) = case
        q = quant.QAttentionPool(table, quant.QParams(0.1, 0), quant.QParams(0.1, zp_v),
                                 quant.QParams(0.1, zp_out), mult, shift)
        want = _want(case)
        sb = np.broadcast_to(s, v.shape).transpose(1, 0, 2)
        vt = v.transpose(1, 0, 2)
        st, k0 = None, 0
        for k1 in sorted({1, min(3, n), n // 2 or 1, n}):
            st = q.steps(st, sb[k0:k1], vt[k0:k1])
            y = q.finish(st[1], st[3])
            for (o, i), steps in want.items():
                assert tuple(int(w[o, i]) for w in st) + (int(y[o, i]),) == steps[k1 - 1]
            k0 = k1


def _chunks(n):
    """The running kernel's calls: 1, 2, 5 steps, then the rest."""
    out, k = [], 0
    for c in (1, 2, 5):
        if k + c <= n:
            out.append((k, c))
            k += c
    if k < n:
        out.append((k, n - k))
    return out


@pytest.mark.parametrize("board", [pytest.param(b, marks=[] if b == "host" else
                                                [pytest.mark.qemu]) for b in BOARDS])
def test_attention_pool_s8(tmp_path, board):
    decls, body, want = [], [], {}
    for c, case in enumerate(_cases()):
        outer, n, inner, inner_s, s, v, (table, zp_v, mult, shift, zp_out) = case
        ref = _want(case)
        decls += [c_array("const int32_t", f"tab{c}", table),
                  f"static const rnn_attention_params p{c} = {{tab{c}, {zp_v}, {mult}, "
                  f"{shift}, {zp_out}}};",
                  c_array("const int8_t", f"s{c}", s), c_array("const int8_t", f"v{c}", v),
                  f"static int8_t y{c}[{outer * inner}];",
                  f"static int32_t t{c}[{outer * inner}];",
                  f"static int32_t st{c}[{outer * (3 * inner_s + inner)}];",
                  f"static int32_t cnt{c};"]
        # the whole sequence
        body.append(f"{{ int i; rnn_attention_pool_s8({outer}, {n}, {inner}, {inner_s}, &p{c}, "
                    f"s{c}, v{c}, y{c}); for (i = 0; i < {outer * inner}; ++i) t{c}[i] = "
                    f"y{c}[i]; PI(\"T{c}w\", t{c}, {outer * inner}); }}")
        want[f"T{c}w"] = np.array([ref[(o, i)][-1][4] for o in range(outer)
                                   for i in range(inner)])
        # the running kernel over chunks of steps per call: each chunk's scores and values
        # are the rows [o, k0:k0+len] gathered into a buffer as the step graph lays them out
        decls += [f"static int8_t cs{c}[{outer * n * inner_s}];",
                  f"static int8_t cv{c}[{outer * n * inner}];"]
        for ch, (k0, ln) in enumerate(_chunks(n)):
            body.append(
                f"{{ int o, k, i; for (o = 0; o < {outer}; ++o) for (k = 0; k < {ln}; ++k) {{ "
                f"for (i = 0; i < {inner_s}; ++i) cs{c}[(o * {ln} + k) * {inner_s} + i] = "
                f"s{c}[(o * {n} + {k0} + k) * {inner_s} + i]; "
                f"for (i = 0; i < {inner}; ++i) cv{c}[(o * {ln} + k) * {inner} + i] = "
                f"v{c}[(o * {n} + {k0} + k) * {inner} + i]; }} "
                f"rnn_running_attention_pool_s8({outer}, {ln}, {inner}, {inner_s}, &p{c}, "
                f"cs{c}, cv{c}, st{c}, &cnt{c}, y{c}); "
                f"for (i = 0; i < {outer * inner}; ++i) t{c}[i] = y{c}[i]; "
                f"PI(\"T{c}r{ch}\", t{c}, {outer * inner}); }}")
            want[f"T{c}r{ch}"] = np.array([ref[(o, i)][k0 + ln - 1][4] for o in range(outer)
                                          for i in range(inner)])
        body.append(f"PI(\"T{c}s\", st{c}, {outer * (3 * inner_s + inner)}); "
                    f"PI(\"T{c}n\", &cnt{c}, 1);")
        ms, ls, xs, aw = [], [], [], []
        for o in range(outer):
            for j in range(inner_s):
                m, l, x, _, _ = ref[(o, j)][-1]
                ms.append(m)
                ls.append(l)
                xs.append(x)
            aw += [ref[(o, i)][-1][3] for i in range(inner)]
        want[f"T{c}s"] = np.array(ms + ls + xs + aw)
        want[f"T{c}n"] = np.array([n])
    got = run_on_board(board, tmp_path, ["SoftmaxFunctions/rnn_attention_pool_s8.c",
                                         "SoftmaxFunctions/rnn_running_attention_pool_s8.c"],
                       "\n".join(decls), "\n".join(body))
    assert set(got) == set(want)
    for tag, w in want.items():
        assert np.array_equal(got[tag], w), (board, tag, got[tag], w)


def test_the_long_case_halves_and_rescales():
    """The 17,000-step case exercises the halving of l and a (x grows) and a rescale after it
    (so the test above covers both paths)."""
    case = _cases()[-1]
    steps = _model(*case[6], case[4][0, :, 0], case[5][0, :, 0])
    assert steps[62][2] == 0 and steps[63][2] == 1 and steps[16499][2] == 9
    assert steps[16500][0] == 3 and steps[16500][1] < steps[16499][1]  # the rescale


LONG = (1 << 22) + 4096  # steps of the streaming case whose shift x reaches X_MAX


@pytest.mark.parametrize("board", [pytest.param(b, marks=[] if b == "host" else
                                                [pytest.mark.qemu])
                                   for b in ("host", "cortex-m4")])
def test_running_attention_pool_s8_over_millions_of_steps(tmp_path, board):
    """rnn_running_attention_pool_s8 one step per call over 2^22 steps (scores 0, then a
    larger one near the end; values from a formula): the weights' shift x reaches its
    bound 16 and the halving goes on there; the output and the state equal the model's at
    checkpoints."""
    table = quant.exp_table(0.05)
    mult, shift = quant.multiplier(0.9 / 65536.0, "t")
    zp_v, zp_out = 3, -2
    k = np.arange(LONG)
    v = (k * 37 + 11) % 256 - 128
    s = np.where(k >= LONG - 1000, 4, 0)
    ref = _model(table, zp_v, mult, shift, zp_out, s, v)
    # x reaches 16 after 2^21 steps; l then grows by 1 a step and is halved again at 2^22
    checks = [1 << 16, 1 << 20, (1 << 21) - 2, (1 << 21) - 1, (1 << 22) + 100, LONG - 1001,
              LONG - 1000, LONG - 1]
    assert ref[checks[2]][2] == X_MAX - 1 and ref[checks[3]][2] == X_MAX
    assert any(ref[i][1] < ref[i - 1][1] and ref[i - 1][2] == X_MAX
               for i in range(checks[3] + 1, checks[4]))
    decls = [c_array("const int32_t", "tab", table),
             f"static const rnn_attention_params p = {{tab, {zp_v}, {mult}, {shift}, "
             f"{zp_out}}};", "static int32_t st[4];", "static int32_t cnt;",
             "static int32_t out[5];",
             "static const char *const tags[] = {" + ", ".join(f'"T{i}"' for i in
                                                         range(len(checks))) + "};"]
    cond = " || ".join(f"k == {c}" for c in checks)
    body = (f"{{ long k; int t = 0; for (k = 0; k < {LONG}; ++k) {{ int8_t sv = (int8_t)(k >= "
            f"{LONG - 1000} ? 4 : 0); int8_t vv = (int8_t)((k * 37 + 11) % 256 - 128); "
            "int8_t y; rnn_running_attention_pool_s8(1, 1, 1, 1, &p, &sv, &vv, st, &cnt, &y); "
            f"if ({cond}) {{ out[0] = st[0]; out[1] = st[1]; out[2] = st[2]; out[3] = st[3]; "
            "out[4] = y; PI(tags[t++], out, 5); } } }")
    got = run_on_board(board, tmp_path, ["SoftmaxFunctions/rnn_running_attention_pool_s8.c"],
                       "\n".join(decls), body)
    assert set(got) == {f"T{i}" for i in range(len(checks))}
    for i, c in enumerate(checks):
        assert np.array_equal(got[f"T{i}"], np.array(ref[c])), (board, c, got[f"T{i}"], ref[c])
