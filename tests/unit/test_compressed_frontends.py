"""Reading compressed matrices (docs/compression.md) without a compiler: the ONNX factor
patterns and their fallbacks, the .npz formats and FastRNN/FastGRNN layers with their
error messages, rnngen.npz.from_edgeml, and the sparsify pass."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
import rnngen.npz as rn
import torch
from onnx import TensorProto, helper
from rnngen import formats, ir, pipeline, reference
from rnngen.errors import RnngenError
from rnngen.frontends import load

from tests.e2e.test_compressed_models import (T, Fac, OnnxWriter, _u, block, csr_arrays,
                                              ir_formats)

F32 = np.float32
I, H = 5, 4


def _rnn_onnx(tmp_path, w: OnnxWriter, Wt: str, Rt: str, extra_outputs=(), opset=17):
    """An ONNX RNN (hidden 4, input 5) with the given W and R tensors; outputs Y first."""
    w.nodes.append(helper.make_node("RNN", ["X", Wt, Rt], ["Y"], name="rnn", hidden_size=H))
    outs = [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [T, 1, 1, H])]
    outs += [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in extra_outputs]
    g = helper.make_graph(w.nodes, "m", [helper.make_tensor_value_info(
        "X", TensorProto.FLOAT, [T, 1, I])], outs, initializer=w.inits,
        sparse_initializer=w.sparse)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    p = tmp_path / "m.onnx"
    onnx.save(m, p)
    return p


def _run_both(p, names=("Y",)):
    import onnxruntime as ort

    x = np.random.default_rng(3).uniform(-1, 1, (T, 1, I)).astype(F32)
    g = load(p)
    ir.verify(g)
    got = reference.run(g, x)
    sess = ort.InferenceSession(str(p), providers=["CPUExecutionProvider"])
    want = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, {"X": x})))
    for n in names:
        np.testing.assert_allclose(got[n].reshape(want[n].shape), want[n], atol=1e-5,
                                   rtol=1e-4)
    return g


def _rnn_node(g):
    return next(n for n in g.nodes if isinstance(n, ir.Recurrent))


# ---------------------------------------------------------------------- ONNX

def test_factor_also_read_elsewhere_is_still_folded_for_it(tmp_path):
    """W's low-rank block also feeds a MatMul on the run-time path: rnngen reads W as
    factors and folds the block's dense value for the other reader."""
    rng = np.random.default_rng(0)
    w = OnnxWriter(17)
    lr = w.block(block("lowrank", H, I, rng))
    Wt = w.unsqueeze(lr, [0])
    Rt = w.init("R", _u(rng, 1, H, H))
    z = w.node("MatMul", ["X", w.node("Transpose", [lr], perm=[1, 0])])
    p = _rnn_onnx(tmp_path, w, Wt, Rt, extra_outputs=[z])
    g = _run_both(p, ("Y", z))
    assert ir_formats(_rnn_node(g).directions[0].W) == ["lowrank"]


def test_unmatched_blocks_fall_back_to_their_dense_fold(tmp_path):
    """A block that is no pattern (a Transpose, an HMD with C covering floor(n/2)) is dense;
    the other blocks stay compressed; the result still equals onnxruntime."""
    rng = np.random.default_rng(1)
    w = OnnxWriter(17)
    odd = w.node("Transpose", [w.init("wt", _u(rng, I, 1))], perm=[1, 0])  # [1, I]
    swapped = w.node("Concat", [  # C [1, 2] and E [1, 3]: not the D1 split of n = 5
        w.node("MatMul", [w.init("b", _u(rng, 1, 1)), w.init("c", _u(rng, 1, 2))]),
        w.node("MatMul", [w.init("d", _u(rng, 1, 1)), w.init("e", _u(rng, 1, 3))])], axis=1)
    lr = w.block(block("lowrank", 2, I, rng))
    Wt = w.unsqueeze(w.node("Concat", [odd, swapped, lr], axis=0), [0])
    Rt = w.init("R", _u(rng, 1, H, H))
    g = _run_both(_rnn_onnx(tmp_path, w, Wt, Rt))
    assert ir_formats(_rnn_node(g).directions[0].W) == ["dense", "lowrank"]


def test_all_dense_per_gate_concat_is_one_dense_matrix(tmp_path):
    rng = np.random.default_rng(2)
    w = OnnxWriter(17)
    Wt = w.unsqueeze(w.node("Concat", [w.init("a", _u(rng, 2, I)), w.init("b", _u(rng, 2, I))],
                            axis=0), [0])
    g = _run_both(_rnn_onnx(tmp_path, w, Wt, w.init("R", _u(rng, 1, H, H))))
    assert isinstance(_rnn_node(g).directions[0].W, formats.Dense)


def test_kron_reshape_with_minus_one_and_constant_nodes(tmp_path):
    """Reshape [-1, n1 n2], axes and shapes from Constant nodes, Identity on the way."""
    rng = np.random.default_rng(3)
    w = OnnxWriter(17)

    def const(vals):
        return w.node("Constant", [], value=helper.make_tensor(
            w.name("k"), TensorProto.INT64, [len(vals)], vals))

    a, b = _u(rng, 2, 2), _u(rng, 2, 3)  # kron 4 x 6, sliced to 4 x 5
    prod = w.node("Mul", [w.node("Unsqueeze", [w.init("ka", a), const([1, 3])]),
                          w.node("Identity", [w.node("Unsqueeze", [w.init("kb", b),
                                                                   const([0, 2])])])])
    k = w.node("Reshape", [prod, const([-1, 6])])
    sl = w.node("Slice", [k, const([0, 0]), const([4, 5])])
    Wt = w.unsqueeze(sl, [0])
    g = _run_both(_rnn_onnx(tmp_path, w, Wt, w.init("R", _u(rng, 1, H, H))))
    W = _rnn_node(g).directions[0].W
    assert isinstance(W, formats.Kron) and W.shape == (4, 5) and W.padded == (4, 6)


def test_sparse_initializer_block_and_2d_coordinates(tmp_path):
    """A per-direction sparse R [1, H, H] with [nnz, 3] coordinate indices."""
    rng = np.random.default_rng(4)
    w = OnnxWriter(17)
    r = _u(rng, 1, H, H)
    r[0, 1] = 0  # an empty row
    r[r < -0.2] = 0
    coords = np.argwhere(r)
    w.sparse.append(helper.make_sparse_tensor(
        onnx.numpy_helper.from_array(r[r != 0].astype(F32), "Rsp"),
        onnx.numpy_helper.from_array(coords.astype(np.int64), "Rsp_idx"), [1, H, H]))
    g = _run_both(_rnn_onnx(tmp_path, w, w.init("W", _u(rng, 1, H, I)), "Rsp"))
    R = _rnn_node(g).directions[0].R
    assert isinstance(R, formats.Csr) and R.nnz == np.count_nonzero(r)


def test_dense_recurrent_models_are_unchanged(tmp_path):
    rng = np.random.default_rng(5)
    w = OnnxWriter(17)
    p = _rnn_onnx(tmp_path, w, w.init("W", _u(rng, 1, H, I)), w.init("R", _u(rng, 1, H, H)))
    g = _run_both(p)
    cd = _rnn_node(g).directions[0]
    assert isinstance(cd.W, formats.Dense) and isinstance(cd.R, formats.Dense)


# ---------------------------------------------------------------------- .npz

def _save_fast(tmp_path, layer, **kw):
    return rn.save(tmp_path / "f.npz", [layer], seq_len=T, **kw)


def test_fast_cells_bidirectional_and_nonlinearities(tmp_path):
    """Both directions (the backward one reversed in time), relu update, tanh gate."""
    rng = np.random.default_rng(6)
    W = [_u(rng, H, I), rn.lowrank(_u(rng, H, 2), _u(rng, 2, I))]
    U = [_u(rng, H, H), _u(rng, H, H)]
    p = _save_fast(tmp_path, rn.fastgrnn(W, U, [_u(rng, H)] * 2, [_u(rng, H)] * 2,
                                         zeta=(1.0, 0.5), nu=(-4.0, -1.0),
                                         gate_nonlinearity="tanh",
                                         update_nonlinearity="relu",
                                         direction="bidirectional"))
    g = load(p)
    node = _rnn_node(g)
    assert node.cell == "FastGRNN" and [d.reverse for d in node.directions] == [False, True]
    assert [a.name for a in node.directions[0].activations] == ["Tanh", "Relu"]
    assert node.directions[1].scalars == (0.5, -1.0)
    x = np.random.default_rng(1).uniform(-1, 1, (T, 1, I)).astype(F32)
    y = reference.run(g, x)["output"].reshape(T, 2, H)
    # the backward direction alone, as a forward cell on the reversed sequence
    p2 = rn.save(tmp_path / "b.npz", [rn.fastgrnn(
        W[1], U[1], node.directions[1].wb, node.directions[1].rb, zeta=0.5, nu=-1.0,
        gate_nonlinearity="tanh", update_nonlinearity="relu")], seq_len=T)
    yb = reference.run(load(p2), x[::-1].copy())["output"].reshape(T, H)
    np.testing.assert_allclose(y[:, 1], yb[::-1], atol=1e-6)


class FastGRNNCell(torch.nn.Module):
    """The parameters and forward() of edgeml_pytorch.graph.rnn.FastGRNNCell."""

    cellType = "FastGRNN"

    def __init__(self, input_size, hidden_size, wRank=None, uRank=None):
        super().__init__()
        self._input_size, self._hidden_size = input_size, hidden_size
        self._gate_nonlinearity, self._update_nonlinearity = "sigmoid", "tanh"
        self._wRank, self._uRank = wRank, uRank
        P = torch.nn.Parameter
        if wRank is None:
            self.W = P(0.3 * torch.randn([hidden_size, input_size]))
        else:
            self.W1 = P(0.3 * torch.randn([wRank, input_size]))
            self.W2 = P(0.3 * torch.randn([hidden_size, wRank]))
        if uRank is None:
            self.U = P(0.3 * torch.randn([hidden_size, hidden_size]))
        else:
            self.U1 = P(0.3 * torch.randn([uRank, hidden_size]))
            self.U2 = P(0.3 * torch.randn([hidden_size, uRank]))
        self.bias_gate = P(0.3 * torch.randn([1, hidden_size]))
        self.bias_update = P(0.3 * torch.randn([1, hidden_size]))
        self.zeta = P(torch.tensor([[1.2]]))
        self.nu = P(torch.tensor([[-3.0]]))

    def forward(self, input, state):
        if self._wRank is None:
            wComp = torch.matmul(input, torch.transpose(self.W, 0, 1))
        else:
            wComp = torch.matmul(torch.matmul(input, torch.transpose(self.W1, 0, 1)),
                                 torch.transpose(self.W2, 0, 1))
        if self._uRank is None:
            uComp = torch.matmul(state, torch.transpose(self.U, 0, 1))
        else:
            uComp = torch.matmul(torch.matmul(state, torch.transpose(self.U1, 0, 1)),
                                 torch.transpose(self.U2, 0, 1))
        pre = wComp + uComp
        z = torch.sigmoid(pre + self.bias_gate)
        c = torch.tanh(pre + self.bias_update)
        return z * state + (torch.sigmoid(self.zeta) * (1.0 - z) + torch.sigmoid(self.nu)) * c


class FastRNNCell(torch.nn.Module):
    """The parameters and forward() of edgeml_pytorch.graph.rnn.FastRNNCell ([I, H] W)."""

    cellType = "FastRNN"

    def __init__(self, input_size, hidden_size, wRank=None, uRank=None):
        super().__init__()
        self._input_size, self._hidden_size = input_size, hidden_size
        self._update_nonlinearity = "tanh"
        self._wRank, self._uRank = wRank, uRank
        P = torch.nn.Parameter
        if wRank is None:
            self.W = P(0.3 * torch.randn([input_size, hidden_size]))
        else:
            self.W1 = P(0.3 * torch.randn([input_size, wRank]))
            self.W2 = P(0.3 * torch.randn([wRank, hidden_size]))
        if uRank is None:
            self.U = P(0.3 * torch.randn([hidden_size, hidden_size]))
        else:
            self.U1 = P(0.3 * torch.randn([hidden_size, uRank]))
            self.U2 = P(0.3 * torch.randn([uRank, hidden_size]))
        self.bias_update = P(0.3 * torch.randn([1, hidden_size]))
        self.alpha = P(torch.tensor([[-2.0]]))
        self.beta = P(torch.tensor([[2.5]]))

    def forward(self, input, state):
        wComp = (torch.matmul(input, self.W) if self._wRank is None else
                 torch.matmul(torch.matmul(input, self.W1), self.W2))
        uComp = (torch.matmul(state, self.U) if self._uRank is None else
                 torch.matmul(torch.matmul(state, self.U1), self.U2))
        c = torch.tanh(wComp + uComp + self.bias_update)
        return torch.sigmoid(self.beta) * state + torch.sigmoid(self.alpha) * c


@pytest.mark.parametrize("cls", [FastGRNNCell, FastRNNCell])
@pytest.mark.parametrize("ranks", [(None, None), (2, 3)])
def test_from_edgeml_matches_the_cells_forward(tmp_path, cls, ranks):
    torch.manual_seed(0)
    cell = cls(I, 6, *ranks)
    p = rn.save(tmp_path / "e.npz", [rn.from_edgeml(cell)], seq_len=T)
    g = load(p)
    cd = _rnn_node(g).directions[0]
    assert isinstance(cd.W, formats.LowRank if ranks[0] else formats.Dense)
    assert isinstance(cd.R, formats.LowRank if ranks[1] else formats.Dense)
    x = torch.rand(T, 1, I) * 2 - 1
    h = torch.zeros(1, 6)
    want = []
    with torch.no_grad():
        for t in range(T):
            h = cell(x[t], h)
            want.append(h.numpy().copy())
    got = reference.run(g, x.numpy())["output"]
    np.testing.assert_allclose(got.reshape(T, 6), np.concatenate(want), atol=1e-5, rtol=1e-4)


def _npz_error(tmp_path, layer, edit=None) -> str:
    """The one-line error of loading a layer, with its arrays edited (bypassing save)."""
    manifest, arrays = rn.manifest_and_arrays([layer], seq_len=T)
    if edit:
        edit(manifest["layers"][0], arrays)
    import json

    p = tmp_path / "bad.npz"
    np.savez(p, __rnngen__=np.array(json.dumps(manifest)), **arrays)
    with pytest.raises(RnngenError) as e:
        load(p)
    assert "\n" not in str(e.value)
    return str(e.value)


def test_npz_format_errors_name_layer_direction_and_field(tmp_path):
    rng = np.random.default_rng(7)
    W = rn.stack(_u(rng, H, I), rn.lowrank(_u(rng, H, 2), _u(rng, 2, I + 1)))
    msg = _npz_error(tmp_path, rn.rnn(W, _u(rng, 2 * H, 2 * H), input_size=I,
                                      hidden_size=2 * H))
    assert msg.endswith("bad.npz: layer 0 (rnn) directions[0].W.blocks[1].v: array "
                        "'layer0.W.1.v' has shape (2, 6), expected (2, 5) = [rank, "
                        "input_size] (rank = 2 from u)"), msg
    hm = block("hmd", H, I, rng).arrays
    msg = _npz_error(tmp_path, rn.fastrnn(rn.hmd(hm["a"], hm["b"], hm["e"], hm["d"], hm["c"]),
                                          _u(rng, H, H), alpha=0, beta=0, input_size=I,
                                          hidden_size=H))
    assert "layer 0 (fastrnn) directions[0].W.c: array 'layer0.W.c' has shape (2,), " \
           "expected (3,) = [ceil(input_size/2)] (input_size = 5)" in msg, msg
    msg = _npz_error(tmp_path, rn.fastgrnn(_u(rng, H, I), rn.kron(_u(rng, 2, 2), _u(rng, 1, 2),
                                                                  (H, H)), zeta=1, nu=1))
    assert "layer 0 (fastgrnn) directions[0].U: the Kronecker product of a (2, 2) and b " \
           "(1, 2) is 2 x 4, smaller than the matrix 4 x 4" in msg, msg
    msg = _npz_error(tmp_path, rn.fastgrnn(_u(rng, H, I), _u(rng, H, H), zeta=1, nu=1),
                     lambda lay, a: lay["directions"][0].update(nu="x"))
    assert "directions[0]: field 'nu' must be a finite number (the value before the " \
           "sigmoid), got 'x'" in msg


def test_npz_csr_errors(tmp_path):
    rng = np.random.default_rng(8)
    w = _u(rng, H, H)
    w[w < 0] = 0
    c = csr_arrays(w)

    def layer(col_idx):
        return rn.fastrnn(_u(rng, H, I), rn.csr(c["values"], col_idx, c["row_ptr"], (H, H)),
                          alpha=0, beta=0, input_size=I, hidden_size=H)

    bad = c["col_idx"].copy()
    bad[-1] = H
    assert _npz_error(tmp_path, layer(bad)).endswith(
        "layer 0 (fastrnn) directions[0].U: CSR column index out of range 0..3")
    row = int(np.argmax(np.diff(c["row_ptr"]) >= 2))
    bad = c["col_idx"].copy()
    lo = c["row_ptr"][row]
    bad[lo], bad[lo + 1] = bad[lo + 1], bad[lo]
    assert _npz_error(tmp_path, layer(bad)).endswith(
        f"layer 0 (fastrnn) directions[0].U: CSR column indices of row {row} are not sorted "
        "and unique")


def test_npz_nan_factor(tmp_path):
    rng = np.random.default_rng(9)
    v = _u(rng, 1, I)
    v[0, 2] = np.nan
    msg = _npz_error(tmp_path, rn.lstm(rn.lowrank(_u(rng, 4 * H, 1), v), _u(rng, 4 * H, H),
                                       gate_order="onnx"))
    assert msg.endswith("layer 0 (lstm) directions[0].W: factor 'v' contains NaN or Inf"), msg


def test_pytorch_gate_order_refuses_compressed_matrices(tmp_path):
    rng = np.random.default_rng(10)
    with pytest.raises(RnngenError, match="gate_order 'pytorch' cannot reorder a lowrank"):
        rn.save(tmp_path / "m.npz", [rn.gru(rn.lowrank(_u(rng, 3 * H, 2), _u(rng, 2, I)),
                                            _u(rng, 3 * H, H), gate_order="pytorch",
                                            linear_before_reset=True)], seq_len=T)


def test_csr_from_dense_round_trip(tmp_path):
    rng = np.random.default_rng(11)
    w = _u(rng, 3 * H, I)
    w[np.abs(w) < 0.25] = 0
    w[2] = 0
    p = rn.save(tmp_path / "c.npz", [rn.gru(rn.csr_from_dense(w), _u(rng, 3 * H, H),
                                            gate_order="onnx", linear_before_reset=False)],
                seq_len=T)
    W = _rnn_node(load(p)).directions[0].W
    assert isinstance(W, formats.Csr)
    np.testing.assert_array_equal(W.to_dense(), w)


# ---------------------------------------------------------------------- sparsify

def test_sparsify_dense_matrices_and_stack_blocks(tmp_path):
    rng = np.random.default_rng(12)
    sparse_w = _u(rng, H, I)
    sparse_w[:, :3] = 0  # 60% zeros
    W = rn.stack(sparse_w, rn.hmd(None, _u(rng, H), _u(rng, 3), _u(rng, H), _u(rng, 2)))
    R = _u(rng, 2 * H, 2 * H)  # no zeros
    p = rn.save(tmp_path / "s.npz", [rn.rnn(W, R, input_size=I, hidden_size=2 * H)],
                seq_len=T)
    x = np.random.default_rng(0).uniform(-1, 1, (T, 1, I)).astype(F32)
    base = pipeline.compile_model(p, pipeline.Options())
    for thr, want_w in ((0.5, ["csr", "hmd"]), (0.6, ["csr", "hmd"]), (0.61, ["dense", "hmd"])):
        g = pipeline.compile_model(p, pipeline.Options(sparse_threshold=thr))
        cd = _rnn_node(g).directions[0]
        assert ir_formats(cd.W) == want_w and isinstance(cd.R, formats.Dense)
        np.testing.assert_allclose(reference.run(g, x)["output"],
                                   reference.run(base, x)["output"], atol=1e-6)
    assert formats.csr.from_dense(np.zeros((2, 3), F32)).nnz == 0
    with pytest.raises(RnngenError, match=r"--sparse-threshold 1.5 must be in \(0, 1\]"):
        pipeline.compile_model(p, pipeline.Options(sparse_threshold=1.5))


def test_fac_dense_is_independent_of_ir():
    """The tests' own dense products agree with the IR's (two independent paths)."""
    rng = np.random.default_rng(13)
    for fmt in ("hmd", "lowrank", "kron", "csr"):
        f: Fac = block(fmt, 7, 5, rng)
        a = f.arrays
        m = {"hmd": lambda: formats.Hmd(a["a"], a["b"], a["c"], a["d"], a["e"]),
             "lowrank": lambda: formats.LowRank(a["u"], a["v"]),
             "kron": lambda: formats.Kron(a["a"], a["b"], 7, 5),
             "csr": lambda: formats.Csr(a["values"], a["col_idx"], a["row_ptr"], 5)}[fmt]()
        np.testing.assert_allclose(m.to_dense(), f.dense(), atol=1e-6)
