"""recurrence: an unrolled recurrent layer in an ONNX graph becomes one LSTM/GRU/RNN node.

Keras `unroll=True`, a PyTorch `nn.LSTMCell`/`nn.GRUCell` called in a Python loop (either
exporter), dynamo's unrolled RNN and every Keras `Loop` once `onnx_unroll` has flattened it
write the same cell subgraph once per time step. This pass finds those steps and, when they
are one recurrent layer, replaces them by the ONNX operator of that layer, so the model gets
rnngen's recurrent kernels, compression, int8 and streaming.

How a step is found and checked:

1. *Sequence slices*: tensors that are step t of one sequence tensor X along one axis
   (Gather with a constant index, a Split into size-1 pieces, a one-wide Slice; through
   ReverseSequence of the whole length, which reverses the index).
2. *Affine forms*: every tensor that is an affine function of other tensors (Gemm/MatMul by
   a constant, Add/Sub, scaling by a constant scalar, Split/Slice/Gather of the last axis,
   Reshape/Squeeze/Unsqueeze/Identity of a vector) is written as sum(source @ M) + b. The
   activations (Sigmoid, Tanh, Relu) that read step t's slice give the gate pre-activations:
   three Sigmoid and one Tanh an LSTM candidate, two Sigmoid and one Tanh a GRU (with
   linear_before_reset 1 when the reset gate multiplies R h + b, 0 when it multiplies h),
   one activation an RNN. The other source of those forms is h_{t-1}.
3. *The numbers decide*: the step's nodes are evaluated (onnx's reference operators) on
   random x_t, h_{t-1}, c_{t-1}, and the candidate's gate order must reproduce h_t (and
   c_t) exactly (to float rounding) with the ONNX operator's equations. The gate order and
   the activations are thus checked against the subgraph, not assumed.
4. *One layer*: the steps chain (step t+1 reads step t's h and c), read consecutive slices
   0..T-1 (forward) or T-1..0 (reverse) of the same X, start from a constant state (zeros or
   the model's initializer) and have the same weights.

The replacement node reads X (layout 0 or 1), every step's h becomes a slice of its Y, a
Concat of all steps' h (the stacked outputs) becomes Y itself, and the old step nodes die.
What is not recognized stays as it is (a generic graph) and the reason is a note that
`rnngen inspect` prints.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from .onnx_unroll import ConstFolder

F32 = np.float32
_ACTS = ("Sigmoid", "Tanh", "Relu", "Softsign", "Softplus")  # ONNX RNN activations without
# parameters (Keras' activation= / recurrent_activation= as tf2onnx writes them)
_DEFAULT_ACTS = {"LSTM": ("Sigmoid", "Tanh", "Tanh"), "GRU": ("Sigmoid", "Tanh")}
_VIEWS = ("Reshape", "Squeeze", "Unsqueeze", "Identity", "Flatten")
TOL = 1e-4  # relative agreement of a candidate cell with the step's own nodes


@dataclass
class Form:
    """value = sum(src @ M[src]) + b, for a vector value of n elements."""

    n: int
    M: dict[str, np.ndarray] = field(default_factory=dict)  # src -> [n_src, n]
    b: np.ndarray | None = None

    def bias(self) -> np.ndarray:
        return np.zeros(self.n, np.float64) if self.b is None else self.b


def _vec_len(shape: tuple[int, ...] | None) -> int | None:
    """Elements of a tensor whose dimensions are all 1 but the last (a step's vector)."""
    if shape is None or not shape:
        return None
    if any(d != 1 for d in shape[:-1]):
        return None
    return int(shape[-1])


@dataclass
class _Step:
    seq: tuple[str, int, int]  # (X, axis, index)
    xt: str
    kind: str  # "LSTM" | "GRU" | "RNN" (ONNX operators)
    h_prev: str | None  # root of h_{t-1}: a run-time tensor, a constant, or None (folded)
    h_out: str = ""
    c_out: str = ""
    c_prev: str | None = None
    W: np.ndarray | None = None
    R: np.ndarray | None = None  # None: h_{t-1} was folded away (zero)
    B: np.ndarray | None = None  # [2 G H]
    acts: tuple[str, ...] = ()
    lbr: int = 0
    h0: np.ndarray | None = None
    c0: np.ndarray | None = None


class _Graph:
    def __init__(self, model: Any):
        from onnx import numpy_helper, shape_inference

        self.model = model
        g = model.graph
        self.nodes = list(g.node)
        self.consts: dict[str, np.ndarray] = {}
        for t in g.initializer:
            try:
                self.consts[t.name] = numpy_helper.to_array(t)
            except Exception:
                pass
        self.shapes: dict[str, tuple[int, ...]] = {}
        try:
            inf = shape_inference.infer_shapes(model, data_prop=True)
            vis = list(inf.graph.value_info) + list(inf.graph.input) + list(inf.graph.output)
        except Exception:
            vis = list(g.input) + list(g.output)
        for v in vis:
            tt = v.type.tensor_type
            if tt.HasField("shape") and all(d.HasField("dim_value") for d in tt.shape.dim):
                self.shapes[v.name] = tuple(int(d.dim_value) for d in tt.shape.dim)
        folder = ConstFolder(self.consts, model.opset_import, self.shapes)
        for n in self.nodes:
            folder.visit(n)
        for k, v in self.consts.items():
            self.shapes[k] = tuple(v.shape)
        self.producer: dict[str, Any] = {}
        self.index: dict[int, int] = {}
        self.consumers: dict[str, list[Any]] = {}
        for i, n in enumerate(self.nodes):
            self.index[id(n)] = i
            for o in n.output:
                if o:
                    self.producer[o] = n
            for x in n.input:
                if x:
                    self.consumers.setdefault(x, []).append(n)
        self.forms: dict[str, Form | None] = {}
        self.opset = 1
        for o in model.opset_import:
            if o.domain in ("", "ai.onnx"):
                self.opset = int(o.version)

    # ---------------------------------------------------------------- helpers
    def attrs(self, n: Any) -> dict[str, Any]:
        from . import onnx_proto
        return onnx_proto.attrs(n)

    def root(self, t: str) -> str:
        """Follow views of a vector back to their source."""
        seen = 0
        while t in self.producer and t not in self.consts and seen < 64:
            p = self.producer[t]
            if p.op_type not in _VIEWS or not p.input or p.input[0] in self.consts:
                break
            if _vec_len(self.shapes.get(t)) is None or \
                    _vec_len(self.shapes.get(p.input[0])) != _vec_len(self.shapes.get(t)):
                break
            t = p.input[0]
            seen += 1
        return t

    def form(self, t: str) -> Form | None:
        """The affine form of t, or None when t is a source (not affine in other tensors)."""
        if t in self.forms:
            return self.forms[t]
        self.forms[t] = None  # cycles cannot happen in a DAG; guards recursion
        f = self._form(t)
        self.forms[t] = f
        return f

    def as_form(self, t: str) -> Form | None:
        n = _vec_len(self.shapes.get(t))
        if n is None:
            return None
        if t in self.consts:
            return Form(n, {}, np.asarray(self.consts[t], np.float64).reshape(-1))
        f = self.form(t)
        if f is not None:
            return f
        r = self.root(t)
        return Form(n, {r: np.eye(n)}, None)

    def _form(self, t: str) -> Form | None:  # noqa: C901
        n = _vec_len(self.shapes.get(t))
        p = self.producer.get(t)
        if n is None or p is None or t in self.consts:
            return None
        op = p.op_type
        a = self.attrs(p)
        ins = list(p.input)
        if op in _VIEWS:
            if ins[0] in self.consts or _vec_len(self.shapes.get(ins[0])) != n:
                return None
            return self.form(ins[0]) or None
        if op in ("Gemm", "MatMul"):
            A, B = ins[0], ins[1]
            if B not in self.consts:
                return None
            Bm = np.asarray(self.consts[B], np.float64)
            if Bm.ndim != 2:
                return None
            if op == "Gemm":
                if a.get("transA", 0):
                    return None
                if a.get("transB", 0):
                    Bm = Bm.T
                Bm = Bm * float(a.get("alpha", 1.0))
            k = _vec_len(self.shapes.get(A))
            if k is None or Bm.shape != (k, n):
                return None
            if A in self.consts:  # a constant state times R: keep it a source (h0)
                fa = Form(k, {A: np.eye(k)}, None)
            else:
                fa = self.as_form(A)
                if fa is None:
                    return None
            out = Form(n, {s: M @ Bm for s, M in fa.M.items()},
                       None if fa.b is None else fa.b @ Bm)
            if op == "Gemm" and len(ins) > 2 and ins[2]:
                fc = self.as_form(ins[2]) if ins[2] not in self.consts else None
                if ins[2] in self.consts:
                    c = np.asarray(self.consts[ins[2]], np.float64) * float(a.get("beta", 1.0))
                    try:
                        c = np.broadcast_to(c, (1, n)).reshape(-1)
                    except ValueError:
                        return None
                    out.b = out.bias() + c
                elif fc is not None and float(a.get("beta", 1.0)) == 1.0:
                    out = _add(out, fc, 1.0)
                else:
                    return None
            return out
        if op in ("Add", "Sub"):
            fs = []
            for x in ins[:2]:
                if x in self.consts:
                    c = np.asarray(self.consts[x], np.float64)
                    if c.size not in (1, n):
                        return None
                    fs.append(Form(n, {}, np.broadcast_to(c.reshape(-1), (n,)).copy()))
                else:
                    f = self.as_form(x)
                    if f is None or f.n != n:
                        return None
                    fs.append(f)
            if not any(f.M for f in fs):
                return None
            if all(x not in self.consts and self.form(x) is None for x in ins[:2]):
                return None  # a sum of two sources (h = z h + (1 - z) n) is a source
            return _add(fs[0], fs[1], 1.0 if op == "Add" else -1.0)
        if op in ("Mul", "Div"):
            k = [x for x in ins[:2] if x in self.consts]
            if len(k) != 1:
                return None
            c = np.asarray(self.consts[k[0]], np.float64).reshape(-1)
            if c.size != 1:
                return None  # an elementwise vector: a state times a constant stays a source
            s = float(c[0])
            other = ins[1] if ins[0] == k[0] else ins[0]
            if op == "Div":
                if other != ins[0] or s == 0.0:
                    return None
                s = 1.0 / s
            f = self.as_form(other)
            if f is None:
                return None
            return Form(n, {src: M * s for src, M in f.M.items()},
                        None if f.b is None else f.b * s)
        if op == "Neg":
            f = self.as_form(ins[0])
            if f is None:
                return None
            return Form(n, {src: -M for src, M in f.M.items()}, None if f.b is None else -f.b)
        cols = self._columns(p, t)
        if cols is not None:
            f = self.as_form(ins[0])
            if f is None:
                return None
            return Form(n, {s: M[:, cols] for s, M in f.M.items()},
                        None if f.b is None else f.b[cols])
        return None

    def _columns(self, p: Any, t: str) -> list[int] | None:
        """Split/Slice/Gather of a vector's last axis: which of its elements t holds."""
        x = p.input[0] if p.input else ""
        xs = self.shapes.get(x)
        m = _vec_len(xs)
        if m is None or x in self.consts:
            return None
        r = len(xs)
        a = self.attrs(p)
        if p.op_type == "Split":
            ax = int(a.get("axis", 0)) % r
            if ax != r - 1:
                return None
            sizes = None
            if len(p.input) > 1 and p.input[1]:
                if p.input[1] not in self.consts:
                    return None
                sizes = [int(v) for v in np.asarray(self.consts[p.input[1]]).reshape(-1)]
            elif "split" in a:
                sizes = [int(v) for v in a["split"]]
            else:
                k = len(p.output)
                if m % k:
                    return None
                sizes = [m // k] * k
            j = list(p.output).index(t)
            start = sum(sizes[:j])
            return list(range(start, start + sizes[j]))
        if p.op_type == "Slice" and self.opset >= 10:
            vals = []
            for pos in (1, 2, 3, 4):
                if pos < len(p.input) and p.input[pos]:
                    if p.input[pos] not in self.consts:
                        return None
                    vals.append([int(v) for v in np.asarray(self.consts[p.input[pos]])
                                 .reshape(-1)])
                else:
                    vals.append(None)
            starts, ends, axes, steps = vals
            axes = axes or list(range(len(starts)))
            steps = steps or [1] * len(starts)
            idx = list(range(m))
            for s, e, ax, st in zip(starts, ends, axes, steps):
                if ax % r != r - 1:
                    continue
                idx = idx[slice(s, e, st)]
            return idx
        if p.op_type == "Gather":
            ax = int(a.get("axis", 0)) % r
            if ax != r - 1 or len(p.input) < 2 or p.input[1] not in self.consts:
                return None
            return [int(v) % m for v in np.asarray(self.consts[p.input[1]]).reshape(-1)]
        return None

    def seq_slice(self, t: str) -> tuple[str, int, int] | None:
        """(X, axis, index) when t (a root) is one time step of a sequence tensor X."""
        p = self.producer.get(t)
        if p is None or t in self.consts:
            return None
        a = self.attrs(p)
        X = p.input[0] if p.input else ""
        xs = self.shapes.get(X)
        if not xs or X in self.consts:
            return None
        r = len(xs)
        res = None
        if p.op_type == "Gather" and len(p.input) > 1 and p.input[1] in self.consts:
            idx = np.asarray(self.consts[p.input[1]])
            if idx.size == 1:
                ax = int(a.get("axis", 0)) % r
                res = (X, ax, int(idx.reshape(-1)[0]) % xs[ax])
        elif p.op_type == "Split":
            ax = int(a.get("axis", 0)) % r
            if len(p.output) == xs[ax] and self.shapes.get(t, (None,))[ax:ax + 1] == (1,):
                res = (X, ax, list(p.output).index(t))
        elif p.op_type == "Slice" and self.opset >= 10 and len(p.input) >= 3:
            try:
                st = [int(v) for v in np.asarray(self.consts[p.input[1]]).reshape(-1)]
                en = [int(v) for v in np.asarray(self.consts[p.input[2]]).reshape(-1)]
                axes = list(range(len(st))) if len(p.input) < 4 or not p.input[3] else \
                    [int(v) for v in np.asarray(self.consts[p.input[3]]).reshape(-1)]
                steps = [1] * len(st) if len(p.input) < 5 or not p.input[4] else \
                    [int(v) for v in np.asarray(self.consts[p.input[4]]).reshape(-1)]
            except KeyError:
                return None
            if len(st) == 1 and steps[0] == 1:
                ax = axes[0] % r
                s0 = st[0] + xs[ax] if st[0] < 0 else st[0]
                e0 = en[0] + xs[ax] if en[0] < 0 else min(en[0], xs[ax])
                if e0 - s0 == 1:
                    res = (X, ax, s0)
        if res is None:
            return None
        X, ax, i = res
        q = self.producer.get(X)
        if q is not None and q.op_type == "ReverseSequence" and len(q.input) > 1 and \
                q.input[1] in self.consts:
            qa = self.attrs(q)
            T = xs[ax]
            lens = np.asarray(self.consts[q.input[1]]).reshape(-1)
            if int(qa.get("time_axis", 0)) % r == ax and np.all(lens == T):
                return (q.input[0], ax, T - 1 - i)
        return res


def _add(f: Form, g: Form, sign: float) -> Form:
    M = {s: m.copy() for s, m in f.M.items()}
    for s, m in g.M.items():
        M[s] = M[s] + sign * m if s in M else sign * m
    b = None
    if f.b is not None or g.b is not None:
        b = f.bias() + sign * g.bias()
    return Form(f.n, M, b)


# -------------------------------------------------------------------- the cells (ONNX)

def _sig(v: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-v))


_F = {"Sigmoid": _sig, "Tanh": np.tanh, "Relu": lambda v: np.maximum(v, 0.0),
      "Softsign": lambda v: v / (1.0 + np.abs(v)), "Softplus": lambda v: np.log1p(np.exp(v))}


def _cell(s: _Step, x: np.ndarray, h: np.ndarray, c: np.ndarray | None
          ) -> tuple[np.ndarray, np.ndarray | None]:
    """The ONNX operator's step (batch 1; activations (f, g, h) of LSTM, (f, g) of GRU)."""
    H = s.W.shape[0] // {"LSTM": 4, "GRU": 3, "RNN": 1}[s.kind]
    R = s.R if s.R is not None else np.zeros((s.W.shape[0], H))
    wb, rb = s.B[:s.W.shape[0]], s.B[s.W.shape[0]:]
    if s.kind == "RNN":
        return _F[s.acts[0]](s.W @ x + R @ h + wb + rb), None
    fa, ga, ha = (_F[a] for a in (s.acts + ("Tanh",))[:3])
    if s.kind == "LSTM":
        g = s.W @ x + R @ h + wb + rb
        i, o, f, cc = (g[k * H:(k + 1) * H] for k in range(4))
        c2 = fa(f) * c + fa(i) * ga(cc)
        return fa(o) * ha(c2), c2
    if s.kind == "GRU":
        gx = s.W @ x + wb
        z = fa(gx[:H] + R[:H] @ h + rb[:H])
        r = fa(gx[H:2 * H] + R[H:2 * H] @ h + rb[H:2 * H])
        if s.lbr:
            n = ga(gx[2 * H:] + r * (R[2 * H:] @ h + rb[2 * H:]))
        else:
            n = ga(gx[2 * H:] + R[2 * H:] @ (r * h) + rb[2 * H:])
        return (1 - z) * n + z * h, None
    raise AssertionError(s.kind)


# -------------------------------------------------------------------- the pass

class Recognizer:
    def __init__(self, model: Any, path: Path):
        self.model = model
        self.path = path
        self.G = _Graph(model)
        self.notes: list[str] = []
        self.rng = np.random.default_rng(20261205)
        self._probe_vals: dict[str, np.ndarray] = {}
        self._evals: dict[tuple[str, ...], dict[str, np.ndarray] | None] = {}

    def run(self) -> tuple[Any, list[str]]:
        G = self.G
        # activations reading a form with a sequence slice among its sources, by slice
        by_slice: dict[str, list[tuple[Any, Form]]] = {}
        seqs: dict[str, tuple[str, int, int]] = {}
        for n in G.nodes:
            if n.op_type not in _ACTS or not n.input:
                continue
            f = G.as_form(n.input[0])
            if f is None:
                continue
            for src in f.M:
                sl = seqs.get(src) if src in seqs else G.seq_slice(src)
                if sl is not None:
                    seqs[src] = sl
                    by_slice.setdefault(src, []).append((n, f))
        if not by_slice:
            return self.model, []
        steps: list[_Step] = []
        failed: dict[str, str] = {}
        for xt, acts in by_slice.items():
            st, why = self._step(xt, seqs[xt], acts)
            if st is None:
                failed[seqs[xt][0]] = f"step {seqs[xt][2]} ('{xt}'): {why}"
            else:
                steps.append(st)
        layers = self._chains(steps, failed)
        if not layers:
            for X, why in failed.items():
                self.notes.append(f"the steps over '{X}' are not a recurrent layer "
                                  f"(kept as a generic graph): {why}")
            return self.model, self.notes
        return self._rewrite(layers), self.notes

    # ---------------------------------------------------------------- one step
    def _step(self, xt: str, seq: tuple[str, int, int], acts: list[tuple[Any, Form]]
              ) -> tuple[_Step | None, str]:
        G = self.G
        kinds = sorted(n.op_type for n, _ in acts)
        others = {s for _, f in acts for s in f.M if s != xt and G.seq_slice(s) is None}
        cands: list[_Step] | str = []
        if len(acts) in (3, 4):
            # the gates share one activation f; the candidate (the odd one out, or any
            # when all are alike) has g; an LSTM's output activation h: the numbers decide
            why = ""
            for k in range(len(acts)):
                gates = [a for j, a in enumerate(acts) if j != k]
                if len({n.op_type for n, _ in gates}) != 1:
                    continue
                f_act, g_act = gates[0][0].op_type, acts[k][0].op_type
                if len(acts) == 4:
                    got = self._lstm(xt, seq, gates, acts[k])
                    if isinstance(got, list):
                        hs = [g_act] + [a for a in _ACTS if a != g_act]
                        got = [replace(c, acts=(f_act, g_act, h)) for c in got for h in hs]
                else:
                    got = self._gru(xt, seq, gates, acts[k])
                    if isinstance(got, list):
                        got = [replace(c, acts=(f_act, g_act)) for c in got]
                if isinstance(got, str):
                    why = why or got
                else:
                    cands += got
            if not cands and why:
                return None, why
        elif len(acts) == 1:
            cands = self._rnn(xt, seq, acts[0])
        if not cands and len(acts) != 1:
            return None, (f"its activations ({', '.join(kinds)}) are those of no LSTM (3 "
                          "gates alike and a candidate), GRU (2 gates alike and a candidate) "
                          "or RNN (1 activation)")
        if isinstance(cands, str):
            return None, cands
        for s in cands:
            if self._check(s):
                return s, ""
        what = cands[0].kind if cands else "cell"
        return None, (f"no {what} gate order reproduces the step's output (sources "
                      f"{sorted(others)})")

    def _state_src(self, xt: str, forms: list[Form]) -> tuple[str | None, str]:
        """The h_{t-1} source of the gate forms (one tensor, or none when folded)."""
        srcs = {s for f in forms for s in f.M if s != xt}
        if len(srcs) > 1:
            return None, f"its gates read {len(srcs)} tensors besides x_t: {sorted(srcs)}"
        return (next(iter(srcs)) if srcs else None), ""

    def _wr(self, f: Form, xt: str, h: str | None) -> tuple[np.ndarray, np.ndarray | None]:
        I = _vec_len(self.G.shapes.get(xt)) or 0
        W = f.M[xt].T if xt in f.M else np.zeros((f.n, I))
        R = f.M[h].T if h is not None and h in f.M else None
        return W, R

    def _h0(self, h: str | None, H: int) -> np.ndarray | None:
        if h is not None and h in self.G.consts:
            return np.asarray(self.G.consts[h], np.float64).reshape(-1)
        return None

    def _lstm(self, xt, seq, sig, tnh):
        h, why = self._state_src(xt, [f for _, f in sig] + [tnh[1]])
        if why:
            return why
        H = tnh[1].n
        out = []
        for perm in itertools.permutations(range(3)):
            i, o, f = (sig[k] for k in perm)
            Ws, Rs, Bs = [], [], []
            for _, form in (i, o, f, tnh):
                W, R = self._wr(form, xt, h)
                Ws.append(W)
                Rs.append(R)
                Bs.append(form.bias())
            R = None if any(r is None for r in Rs) else np.concatenate(Rs)
            s = _Step(seq, xt, "LSTM", h, W=np.concatenate(Ws), R=R,
                      B=np.concatenate(Bs + [np.zeros(4 * H)]), acts=())
            # c_{t-1}: what the forget gate's output multiplies
            fout = f[0].output[0]
            cp = [x for m in self.G.consumers.get(fout, []) if m.op_type == "Mul"
                  for x in m.input if x != fout]
            if len(cp) != 1:
                continue
            s.c_prev = self.G.root(cp[0])
            s.h0 = self._h0(h, H)
            if s.c_prev in self.G.consts:
                s.c0 = np.asarray(self.G.consts[s.c_prev], np.float64).reshape(-1)
            out.append(s)
        return out or "its forget gate does not multiply one cell state"

    def _gru(self, xt, seq, sig, tnh):
        G = self.G
        fn = tnh[1]
        H = fn.n
        # the reset gate's output is multiplied into the candidate's pre-activation
        mul_srcs = [s for s in fn.M if s != xt]
        if len(mul_srcs) != 1:
            return "its candidate gate does not read one reset product"
        m = mul_srcs[0]
        mp = G.producer.get(m)
        if mp is None or mp.op_type != "Mul":
            return "its candidate gate does not read a product with the reset gate"
        out = []
        for rk in range(2):
            r, z = sig[rk], sig[1 - rk]
            rout = r[0].output[0]
            opnd = [x for x in mp.input if G.root(x) != rout and x != rout]
            if len(opnd) != 1:
                continue
            other = opnd[0]
            h, why = self._state_src(xt, [z[1], r[1]])
            if why:
                return why
            Wz, Rz = self._wr(z[1], xt, h)
            Wr, Rr = self._wr(r[1], xt, h)
            Wn = fn.M[xt].T if xt in fn.M else np.zeros((H, Wz.shape[1]))
            oroot = G.root(other)
            hyps = []
            if h is not None and oroot == h:
                hyps.append(0)  # n = tanh(Wn x + Rn (r h) + b)
            elif h is None and oroot in G.consts:
                hyps += [1, 0]  # step 0 with h_{t-1} folded: the numbers decide
            else:
                hyps.append(1)  # n = tanh(Wn x + b + r (Rn h + rb))
            for lbr in hyps:
                hh, rb_n, Rn = h, np.zeros(H), None
                if lbr == 0:
                    Rn = fn.M[m].T
                    if hh is None:
                        hh = oroot  # a constant h0 only the product reads
                else:
                    if not np.allclose(fn.M[m], np.eye(H)):
                        continue
                    fo = G.as_form(other)
                    if fo is None or any(s_ != h for s_ in fo.M):
                        continue
                    Rn = fo.M[h].T if h is not None and h in fo.M else None
                    rb_n = fo.bias()
                out.append(self._gru_step(seq, xt, hh, z, r, fn, Wz, Rz, Wr, Rr, Wn, Rn,
                                          rb_n, lbr, H))
        return out or "its reset gate does not multiply the candidate's recurrent part"

    def _gru_step(self, seq, xt, h, z, r, fn, Wz, Rz, Wr, Rr, Wn, Rn, rb_n, lbr, H):
        R = None if (Rz is None or Rr is None or Rn is None) else np.concatenate([Rz, Rr, Rn])
        B = np.concatenate([z[1].bias(), r[1].bias(), fn.bias(), np.zeros(2 * H), rb_n])
        s = _Step(seq, xt, "GRU", h, W=np.concatenate([Wz, Wr, Wn]), R=R, B=B, lbr=lbr)
        s.h0 = self._h0(h, H)
        return s

    def _rnn(self, xt, seq, act):
        n, f = act
        h, why = self._state_src(xt, [f])
        if why:
            return why
        W, R = self._wr(f, xt, h)
        s = _Step(seq, xt, "RNN", h, W=W, R=R, B=np.concatenate([f.bias(), np.zeros(f.n)]),
                  acts=(n.op_type,))
        s.h0 = self._h0(h, f.n)
        return [s]

    # ---------------------------------------------------------------- numbers
    def _check(self, s: _Step) -> bool:
        """Evaluate the step's nodes on random state and find h_t (and c_t) among them."""
        G = self.G
        H = s.W.shape[0] // {"LSTM": 4, "GRU": 3, "RNN": 1}[s.kind]
        probes: dict[str, np.ndarray] = {}

        def probe(name: str | None, scale: float) -> np.ndarray | None:
            if name is None:
                return None
            if name in G.consts:
                return np.asarray(G.consts[name], np.float64).reshape(-1)
            shp = G.shapes.get(name)
            if shp is None:
                raise KeyError(name)
            if name not in self._probe_vals:  # one random value per tensor: evaluations
                self._probe_vals[name] = (self.rng.standard_normal(shp) * scale).astype(F32)
            v = self._probe_vals[name]  # of the same probes are shared by the candidates
            probes[name] = v
            return v.reshape(-1).astype(np.float64)

        try:
            x = probe(s.xt, 1.0)
            h = probe(s.h_prev, 0.7)
            c = probe(s.c_prev, 0.7) if s.kind == "LSTM" else None
        except KeyError:
            return False
        if h is None:
            h = np.zeros(H)
        if s.kind == "LSTM" and c is None:
            c = np.zeros(H)
        if h.size != H or (c is not None and c.size != H):
            return False
        key = tuple(sorted(probes))
        if key not in self._evals:
            self._evals[key] = self._evaluate(probes)
        vals = self._evals[key]
        if vals is None:
            return False
        eh, ec = _cell(s, x, h, c)

        def find(e: np.ndarray) -> str:
            tol = TOL * max(1.0, float(np.abs(e).max()))
            for name, v in vals.items():
                if v.size == e.size and v.dtype.kind == "f" and \
                        float(np.abs(v.reshape(-1) - e).max()) <= tol:
                    return name
            return ""

        s.h_out = find(eh)
        if not s.h_out:
            return False
        if s.kind == "LSTM":
            s.c_out = find(ec)
            if not s.c_out:
                return False
        return True

    def _evaluate(self, probes: dict[str, np.ndarray]) -> dict[str, np.ndarray] | None:
        from onnx import helper, numpy_helper
        from onnx.reference import ReferenceEvaluator

        G = self.G
        import heapq

        have = set(probes)
        want: set[str] = set()
        # the nodes that can be computed from the probes and constants, in graph order; a
        # node that cannot is not followed (the step's region, not the rest of the graph)
        heap: list[tuple[int, int]] = []
        seen: set[int] = set()

        def push(t: str) -> None:
            for n in G.consumers.get(t, []):
                if id(n) not in seen:
                    seen.add(id(n))
                    heapq.heappush(heap, (G.index[id(n)], id(n)))

        by_id = {id(n): n for t in probes for n in G.consumers.get(t, [])}
        for t in probes:
            push(t)
        nodes = []
        while heap and len(nodes) <= 400:
            _, nid = heapq.heappop(heap)
            n = by_id[nid]
            if n.op_type in ("Loop", "If", "Scan"):
                continue
            if all((not i) or i in have or i in G.consts for i in n.input):
                nodes.append(n)
                for o in n.output:
                    if o and o not in G.consts:
                        have.add(o)
                        want.add(o)
                        for c in G.consumers.get(o, []):
                            by_id[id(c)] = c
                        push(o)
        if not nodes:
            return None
        used = {i for n in nodes for i in n.input if i}
        inits = [numpy_helper.from_array(np.asarray(G.consts[k]), k) for k in used
                 if k in G.consts and k not in probes]
        vin = [helper.make_tensor_value_info(k, 1, list(v.shape)) for k, v in probes.items()]
        vout = [helper.make_empty_tensor_value_info(o) for o in sorted(want)]
        graph = helper.make_graph(nodes, "step", vin, vout, initializer=inits)
        m = helper.make_model(graph, opset_imports=list(self.model.opset_import))
        try:
            res = ReferenceEvaluator(m).run(None, dict(probes))
        except Exception:
            return None
        return {k: np.asarray(v) for k, v in zip(sorted(want), res)}

    # ---------------------------------------------------------------- layers
    def _chains(self, steps: list[_Step], failed: dict[str, str]) -> list[list[_Step]]:
        G = self.G
        by_prev: dict[str, list[_Step]] = {}
        for s in steps:
            if s.h_prev is not None and s.h_prev not in G.consts:
                by_prev.setdefault(s.h_prev, []).append(s)
        layers = []
        for s0 in steps:
            if s0.h_prev is not None and s0.h_prev not in G.consts:
                continue
            chain = [s0]
            while True:
                nxt = by_prev.get(G.root(chain[-1].h_out), [])
                nxt = [n for n in nxt if n.kind == s0.kind and
                       (n.kind != "LSTM" or G.root(chain[-1].c_out) == n.c_prev)]
                if len(nxt) != 1:
                    break
                chain.append(nxt[0])
            X, ax, _ = s0.seq
            T = G.shapes[X][ax]
            idx = [s.seq[2] for s in chain]
            why = ""
            if any(s.seq[:2] != (X, ax) for s in chain):
                why = "its steps read different sequences"
            elif len(chain) != T:
                why = (f"{len(chain)} of its {T} steps chain (what a step computes is not "
                       "the state the next step reads)")
            elif idx not in (list(range(T)), list(range(T - 1, -1, -1))):
                why = f"its steps read the sequence in the order {idx}"
            else:
                why = self._same_weights(chain)
            if why:
                failed[X] = why
                continue
            layers.append(chain)
        return layers

    @staticmethod
    def _same_weights(chain: list[_Step]) -> str:
        ref = next((s for s in chain if s.R is not None), chain[0])
        for s in chain:
            if s.lbr != ref.lbr or s.acts != ref.acts:
                return "its steps differ in their cell"
            for a, b in ((s.W, ref.W), (s.B, ref.B)) + (((s.R, ref.R),) if s.R is not None
                                                          else ()):
                if a.shape != b.shape or not np.allclose(a, b, rtol=1e-6, atol=1e-7):
                    return "its steps have different weights"
        if ref.R is None:
            ref.R = np.zeros((ref.W.shape[0], ref.W.shape[0] //
                              {"LSTM": 4, "GRU": 3, "RNN": 1}[ref.kind]))
        for s in chain:
            s.R = ref.R
        return ""

    def _rewrite(self, layers: list[list[_Step]]) -> Any:
        from onnx import helper, numpy_helper

        G = self.G
        m = type(self.model)()
        m.CopyFrom(self.model)
        g = m.graph
        names = {o for n in G.nodes for o in n.output} | set(G.consts) | \
            {i.name for i in g.input}

        def fresh(base: str) -> str:
            nm, k = base, 1
            while nm in names:
                nm, k = f"{base}_{k}", k + 1
            names.add(nm)
            return nm

        def const(base: str, arr: np.ndarray) -> str:
            nm = fresh(base)
            g.initializer.append(numpy_helper.from_array(arr, nm))
            return nm

        replaced: dict[str, Any] = {}  # tensor -> the node now producing it
        new_nodes: list[Any] = []
        for chain in layers:
            s0 = chain[0]
            X, ax, _ = s0.seq
            xs = G.shapes[X]
            T = xs[ax]
            reverse = chain[0].seq[2] != 0 if T > 1 else False
            H = s0.W.shape[0] // {"LSTM": 4, "GRU": 3, "RNN": 1}[s0.kind]
            I = s0.W.shape[1]
            base = fresh(f"{s0.kind.lower()}_{len(self.notes)}")
            # the sequence as [T, 1, I] (layout 0) or [1, T, I] (layout 1)
            src, layout, cur = X, None, X
            while True:  # the deepest view of X that is [T, 1, I] or [1, T, I]
                shp = G.shapes.get(cur)
                if shp == (T, 1, I) and (cur != X or ax == 0):
                    src, layout = cur, 0
                elif shp == (1, T, I) and (cur != X or ax == 1):
                    src, layout = cur, 1
                p = G.producer.get(cur)
                if p is None or p.op_type not in _VIEWS or p.input[0] in G.consts or \
                        shp is None or (cur == X and math.prod(xs[:ax]) != 1):
                    break
                ps = G.shapes.get(p.input[0])
                if ps is None or math.prod(ps) != math.prod(shp):
                    break
                cur = p.input[0]
            if layout is None:
                if math.prod(xs[:ax]) != 1:
                    self.notes.append(f"the {s0.kind} steps over '{X}' are kept as a generic "
                                      "graph: the time axis of the sequence is not its "
                                      "outermost one")
                    continue
                src = fresh(base + "_X")
                new_nodes.append(helper.make_node(
                    "Reshape", [X, const(base + "_Xshape", np.array([T, 1, I], np.int64))],
                    [src], name=fresh(base + "_Xview")))
                layout = 0
            ins = [src, const(base + "_W", s0.W.astype(F32)[None]),
                   const(base + "_R", chain[1 if len(chain) > 1 else 0].R.astype(F32)[None]),
                   const(base + "_B", s0.B.astype(F32)[None]), ""]
            h0 = s0.h0 if s0.h0 is not None and np.any(s0.h0) else None
            c0 = s0.c0 if s0.c0 is not None and np.any(s0.c0) else None
            shp0 = [1, 1, H]
            if h0 is not None or c0 is not None:
                ins.append(const(base + "_h0", (h0 if h0 is not None else np.zeros(H))
                                 .astype(F32).reshape(shp0)))
                if c0 is not None:
                    ins.append(const(base + "_c0", c0.astype(F32).reshape(shp0)))
            Y, Yh = fresh(base + "_Y"), fresh(base + "_Y_h")
            outs = [Y, Yh] + ([fresh(base + "_Y_c")] if s0.kind == "LSTM" else [])
            kw: dict[str, Any] = {"hidden_size": H, "layout": layout}
            if reverse:
                kw["direction"] = "reverse"
            if s0.kind == "GRU":
                kw["linear_before_reset"] = s0.lbr
            if s0.kind == "RNN" or s0.acts != _DEFAULT_ACTS[s0.kind]:
                kw["activations"] = list(s0.acts)
            new_nodes.append(helper.make_node(s0.kind, ins, outs, name=base, **kw))
            t_ax = 0 if layout == 0 else 1
            # stacked outputs: a Concat of every step's h in order is Y itself
            hs = [G.root(s.h_out) for s in chain]
            for n in G.nodes:
                if n.op_type != "Concat" or len(n.input) != len(chain):
                    continue
                if [G.root(i) for i in n.input] != hs:
                    continue
                oshape = G.shapes.get(n.output[0])
                cax = int(G.attrs(n).get("axis", 0)) % len(oshape) if oshape else 0
                if not oshape or oshape[cax] != T or math.prod(oshape[:cax]) != 1 or \
                        math.prod(oshape) != T * H:
                    continue
                yy = Y
                if reverse:  # the steps ran from the last time step: Y reversed in time
                    yy = fresh(base + "_Yrev")
                    new_nodes.append(helper.make_node(
                        "Slice", [Y, const(base + "_s", np.array([-1], np.int64)),
                                  const(base + "_e", np.array([-T - 1], np.int64)),
                                  const(base + "_a", np.array([t_ax], np.int64)),
                                  const(base + "_st", np.array([-1], np.int64))],
                        [yy], name=fresh(base + "_reverse")))
                nn = helper.make_node("Reshape", [yy, const(base + "_stack",
                                                            np.array(oshape, np.int64))],
                                      [n.output[0]], name=fresh(base + "_stacked"))
                replaced[n.output[0]] = nn
            # every step's h (and the last c) from the layer's outputs
            for k, s in enumerate(chain):
                t = s.seq[2]
                hout = G.root(s.h_out)
                if hout in replaced:
                    continue
                shp = G.shapes[hout]
                sl = fresh(f"{base}_h{t}")
                new_nodes.append(helper.make_node(
                    "Gather", [Y, const(base + f"_t{t}", np.array(t, np.int64))], [sl],
                    axis=t_ax, name=fresh(base + f"_step{t}")))
                replaced[hout] = helper.make_node(
                    "Reshape", [sl, const(base + "_hshape", np.array(shp, np.int64))],
                    [hout], name=fresh(base + f"_h{t}_view"))
            if s0.kind == "LSTM":
                cl = G.root(chain[-1].c_out)
                replaced[cl] = helper.make_node(
                    "Reshape", [outs[2], const(base + "_cshape",
                                               np.array(G.shapes[cl], np.int64))],
                    [cl], name=fresh(base + "_c_view"))
            self.notes.append(
                f"{s0.kind} '{base}': {len(chain)} steps of one cell over '{X}' "
                f"{'(backwards) ' if reverse else ''}recognized as an ONNX {s0.kind} "
                f"(hidden {H}" + (f", linear_before_reset {s0.lbr}" if s0.kind == "GRU"
                                  else "") +
                (f", activation {s0.acts[0]}" if s0.kind == "RNN" else
                 f", activations {'/'.join(s0.acts)}" if s0.acts != _DEFAULT_ACTS[s0.kind]
                 else "") + ")")
        # the new graph: old producers of replaced tensors out, new nodes in, dead code out
        kept = [n for n in G.nodes if not any(o in replaced for o in n.output if o)]
        allnodes = kept + new_nodes + list(replaced.values())
        allnodes = _toposort(allnodes, {i.name for i in g.input} |
                             {t.name for t in g.initializer})
        allnodes = _dead(allnodes, {o.name for o in g.output})
        del g.node[:]
        g.node.extend(allnodes)
        return m


def _toposort(nodes: list[Any], known: set[str]) -> list[Any]:
    have = set(known)
    out: list[Any] = []
    pending = list(nodes)
    while pending:
        rest = []
        for n in pending:
            if all((not i) or i in have for i in n.input):
                out.append(n)
                have.update(o for o in n.output if o)
            else:
                rest.append(n)
        if len(rest) == len(pending):
            out.extend(rest)  # the frontend names what nothing defines
            break
        pending = rest
    return out


def _dead(nodes: list[Any], outputs: set[str]) -> list[Any]:
    live = set(outputs)
    keep = []
    for n in reversed(nodes):
        if any(o in live for o in n.output if o):
            keep.append(n)
            live.update(i for i in n.input if i)
    return list(reversed(keep))


def recognize(model: Any, path: Path) -> tuple[Any, list[str]]:
    """The model with its unrolled recurrent layers replaced, and notes for `inspect`."""
    return Recognizer(model, path).run()
