"""rnngen.torch without a compiler: the parametrized weights equal the dense product of
their factors and start from exactly rnngen compress's projection; sizes follow
rnngen.compress; gradients reach the factors; gradual pruning follows Zhu & Gupta's cubic
schedule and ends at compress's nnz; FastRNN/FastGRNN and the IR run in PyTorch (the
engine of compress --finetune) equal rnngen's NumPy reference; factors round-trip
exactly through export and rnngen's frontends."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from rnngen import compress as algo
from rnngen import cells, formats, frontends, ir, pipeline, precision, reference
from rnngen.errors import RnngenError
from rnngen.torch import (
    SRU,
    FastGRNN,
    FastRNN,
    GradualPruning,
    export,
    remove,
    structure,
    structured_layers,
)
from rnngen.torch.graph import TorchGraph
from rnngen.torch.structure import ONNX_FROM_TORCH, TORCH_FROM_ONNX

from tests import models

F32 = np.float32
METHODS = algo.METHODS
I, H = 8, 24  # gate blocks 24x8 and 24x24 reach 2x with every method


def make(cell: str, **kw) -> torch.nn.Module:
    torch.manual_seed(3)
    if cell == "FastRNN":
        return FastRNN(I, H)
    if cell == "FastGRNN":
        return FastGRNN(I, H)
    return getattr(torch.nn, cell)(I, H, **kw)


def onnx_order(w: np.ndarray, cell: str) -> np.ndarray:
    if cell not in ONNX_FROM_TORCH:
        return w
    h = w.shape[0] // cells.of(cell).gates
    return np.concatenate([w[g * h:(g + 1) * h] for g in ONNX_FROM_TORCH[cell]])


def torch_order(w: np.ndarray, cell: str) -> np.ndarray:
    if cell not in TORCH_FROM_ONNX:
        return w
    h = w.shape[0] // cells.of(cell).gates
    return np.concatenate([w[g * h:(g + 1) * h] for g in TORCH_FROM_ONNX[cell]])


def arrays(m: ir.Matrix) -> list[np.ndarray]:
    return [v for _, v in sorted(m.arrays().items())]


def leaves(m: ir.Matrix) -> list[ir.Matrix]:
    """The blocks of a matrix, nested stacks flattened (the frontends flatten them)."""
    return [x for b in m.blocks for x in leaves(b)] if isinstance(m, formats.RowStack) else [m]


CELLS = ["LSTM", "GRU", "RNN", "FastRNN", "FastGRNN"]


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("method", METHODS)
def test_projection_equals_compress_and_weight_equals_factors(cell, method):
    net = make(cell)
    names = ["W", "U"] if cell.startswith("Fast") else ["weight_ih_l0", "weight_hh_l0"]
    dense = {n: getattr(net, n).detach().numpy().copy() for n in names}
    structure(net, method, 2.0)
    layers = structured_layers(net)
    assert [(x[5]) for x in layers] == ["W", "R"]
    for (_, m, c, _, _, role, sm), name in zip(layers, names):
        assert c == cell
        # the same plan and the same factors as `rnngen compress` (gate blocks, ONNX order)
        want, plan = algo.compress_gates(onnx_order(dense[name], cell), cells.of(cell).gates,
                                         method, 2.0, "x")
        assert sm.plan == plan
        got = sm.to_ir()
        assert type(got) is type(want)
        for a, b in zip(arrays(got), arrays(want)):
            np.testing.assert_array_equal(a, b)
        # the parametrized weight is the dense product of the factors, in torch gate order
        w = getattr(m, name).detach().numpy()
        np.testing.assert_allclose(w, torch_order(got.to_dense(), cell), rtol=0, atol=2e-6)
        assert m.parametrizations[name].original.numel() == 0  # no dense copy trained


@pytest.mark.parametrize("method", METHODS)
def test_gradients_reach_the_factors_only(method):
    net = make("LSTM")
    structure(net, method, 2.0)
    y, _ = net(torch.randn(5, 1, I))
    y.square().sum().backward()
    for name, p in net.named_parameters():
        if name.endswith(".original"):
            assert p.grad is None, name
        else:
            assert p.grad is not None and torch.any(p.grad != 0), name
    names = {n.split(".")[-1] for n, _ in net.named_parameters() if "block" in n}
    want = {"hmd": {"a", "b", "c", "d", "e"}, "lmf": {"u", "v"}, "csr": {"w"},
            "kron": {"a", "b"}, "hkp": {"w", "a", "b"}}[method]
    assert names == want


def test_sizes_explicit_and_per_matrix():
    net = make("LSTM")
    structure(net, "hmd", r=5)
    assert {sm.plan.r for *_, sm in structured_layers(net)} == {5}
    net = make("LSTM")
    structure(net, "lmf", d=3)
    assert all(sm.to_ir().blocks[0].u.shape == (H, 3) for *_, sm in structured_layers(net))
    net = make("GRU")
    structure(net, "kron", shapes=(4, 2, 6, 4), roles=("W",))
    ((*_, role, sm),) = structured_layers(net)
    assert role == "W" and sm.plan.kron == (4, 2, 6, 4)
    assert [b.a.shape for b in sm.to_ir().blocks] == [(4, 2)] * 3
    net = make("LSTM")
    structure(net, "lmf", 2.0, per_gate=False)  # one factorization of the stacked [4H, n]
    for *_, sm in structured_layers(net):
        assert isinstance(sm.to_ir(), formats.LowRank) and sm.gates == 1


def test_unreachable_sizes_are_one_line_errors():
    net = make("LSTM")
    with pytest.raises(RnngenError, match=r"LSTM 'LSTM' weight_hh_l0: kron cannot reach 2.5x"):
        structure(net, "kron", 2.5)
    assert not structured_layers(net)  # nothing changed
    with pytest.raises(RnngenError, match="does not cover"):
        structure(net, "kron", shapes=(2, 2, 2, 2))
    with pytest.raises(RnngenError, match="method 'svd'"):
        structure(net, "svd", 2.0)
    with pytest.raises(RnngenError, match="no LSTM, GRU, RNN"):
        structure(torch.nn.Linear(3, 4), "hmd", 2.0)


def test_multilayer_bidirectional_forward_equals_dense_weights():
    torch.manual_seed(0)
    net = torch.nn.GRU(I, H, num_layers=2, bidirectional=True)
    structure(net, "hkp", 2.0)
    assert len(structured_layers(net)) == 8
    x = torch.randn(6, 1, I)
    y, _ = net(x)
    plain = torch.nn.GRU(I, H, num_layers=2, bidirectional=True)
    with torch.no_grad():
        for name, p in plain.named_parameters():
            p.copy_(getattr(net, name))
    np.testing.assert_allclose(y.detach().numpy(), plain(x)[0].detach().numpy(), atol=1e-6)
    remove(net)
    assert not structured_layers(net)
    np.testing.assert_allclose(net(x)[0].detach().numpy(), y.detach().numpy(), atol=0)


def test_gradual_pruning_schedule():
    net = make("LSTM")
    structure(net, "csr", 4.0)
    nnz = algo.plan("csr", H, I, 4.0, "x").nnz
    pr = GradualPruning(net, begin=0, end=10, frequency=1)
    blocks = pr.blocks
    assert len(blocks) == 2
    w_ih = blocks[0]
    assert int(w_ih.mask.sum()) == 4 * H * I  # starts dense
    kept = []
    for _ in range(12):
        pr.step()
        per_gate = w_ih.mask.reshape(4, H, I).sum(dim=(1, 2))
        assert len(set(per_gate.tolist())) == 1  # each gate block alike
        kept.append(int(per_gate[0]))
    size = H * I
    for t, k in enumerate(kept[:9], start=1):  # s_t = s_f (1 - (1 - t/10)^3)
        s = (1 - nnz / size) * (1 - (1 - t / 10) ** 3)
        assert k == max(nnz, round(size * (1 - s)))
    assert kept[9:] == [nnz] * 3 and pr.done
    assert all(a >= b for a, b in zip(kept, kept[1:]))
    m = w_ih.to_ir()
    assert isinstance(m, formats.Csr) and m.values.size == 4 * nnz


@pytest.mark.parametrize("cell", ["FastRNN", "FastGRNN"])
def test_fast_modules_equal_rnngen_reference(tmp_path, cell):
    torch.manual_seed(1)
    net = make(cell)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.3 * torch.randn(p.shape))
    x = torch.randn(7, 1, I)
    y, h = net(x)
    path = export([net], x, tmp_path / "fast.npz")
    g = frontends.load(path, None)
    got = reference.run(g, x.numpy())[g.outputs[0]]
    np.testing.assert_allclose(got.reshape(7, H), y.detach().numpy().reshape(7, H), atol=1e-5)


@pytest.mark.parametrize("method", [None, *METHODS])
@pytest.mark.parametrize("inp", [I, H])  # W [4H, I] with the projection W_p; [3H, H] without
def test_sru_module_structure_and_export_equal_rnngen(tmp_path, method, inp):
    """rnngen.torch.SRU: structure() fits W in blocks of H rows exactly as rnngen compress does,
    and the exported .npz holds the same factors, bit for bit, and computes what the module
    does (rnngen's reference)."""
    torch.manual_seed(2)
    net = SRU(inp, H)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.3 * torch.randn(p.shape))
    w = net.W.detach().numpy().copy()
    if method is not None:
        structure(net, method, 2.0)
        ((_, _, cell, _, _, role, sm),) = structured_layers(net)
        assert (cell, role) == ("SRU", "W")
        want, plan = algo.compress_gates(w, w.shape[0] // H, method, 2.0, "x")
        assert sm.plan == plan
        for a, b in zip(arrays(sm.to_ir()), arrays(want)):
            np.testing.assert_array_equal(a, b)
    x = torch.randn(6, 1, inp)
    y, _ = net(x)
    g = frontends.load(export([net], x, tmp_path / "sru.npz"), None)
    (node,) = [n for n in g.nodes if isinstance(n, ir.Recurrent)]
    assert node.cell == "SRU"
    if method is not None:
        lg, lw = leaves(node.directions[0].W), leaves(sm.to_ir())
        assert [type(b) for b in lg] == [type(b) for b in lw]
        for bg, bw in zip(lg, lw):
            for a, b in zip(arrays(bg), arrays(bw)):
                np.testing.assert_array_equal(a, b)
    got = reference.run(g, x.numpy())[g.outputs[0]]
    np.testing.assert_allclose(got.reshape(6, H), y.detach().numpy().reshape(6, H), atol=1e-5)


SPECS = [models.Spec("LSTM", "bidirectional", 5, 7, 6, 2, peepholes=True, clip=2.0,
                     initial_state=True),
         models.Spec("LSTM", "forward", 4, 6, 5, 1, input_forget=True, layout=1),
         models.Spec("GRU", "reverse", 5, 6, 4, 1, lbr=0),
         models.Spec("GRU", "bidirectional", 3, 5, 6, 1, lbr=1, seq_lens=4),
         models.Spec("RNN", "bidirectional", 4, 6, 5, 1, activations=["LeakyRelu", "Elu"],
                     alphas=[0.7, 0.4], betas=[0.3, 0.2])]


@pytest.mark.parametrize("k", range(len(SPECS) + 4))
def test_ir_in_torch_equals_reference(tmp_path, k):
    """TorchGraph (compress --finetune's engine) against reference.py: every cell and
    direction, peepholes, clip, input_forget, sequence_lens, activations, and seeded random
    models with the layers exporters put around them."""
    import onnx

    spec = SPECS[k] if k < len(SPECS) else models.random_spec(np.random.default_rng(k),
                                                              max_params=20_000)
    p = tmp_path / "m.onnx"
    onnx.save(models.make_model(spec, seed=k), p)
    g = pipeline.compile_model(p, pipeline.Options())
    rng = np.random.default_rng(k)
    xs = rng.uniform(-1, 1, (3,) + tuple(g.shapes[g.input])).astype(F32)
    out = TorchGraph(g)(torch.from_numpy(xs))
    for j, xk in enumerate(xs):
        ref = reference.run(g, xk)
        for o in g.outputs:
            np.testing.assert_allclose(out[o][j].detach().numpy(), ref[o], atol=2e-5,
                                       err_msg=f"{spec.label()} {o}")


@pytest.mark.parametrize("method", METHODS)
def test_scratch_factors_round_trip_exactly(tmp_path, method):
    """A model trained with the structure from scratch: the factors rnngen reads back from
    the exported .onnx and .npz are the trained ones, bit for bit."""
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(I, H)
    fc = torch.nn.Linear(H, 3)
    structure(lstm, method, 2.0, init="random", seed=1)
    opt = torch.optim.Adam(list(lstm.parameters()) + list(fc.parameters()), lr=1e-2)
    x = torch.randn(6, 4, I)
    for _ in range(3):
        opt.zero_grad()
        fc(lstm(x)[0][-1]).square().mean().backward()
        opt.step()
    trained = {(r[5]): r[6].to_ir() for r in structured_layers(lstm)}
    x1 = x[:, :1]
    for path in (export([lstm, fc], x1, tmp_path / "m.npz"),
                 export(torch.nn.Sequential(lstm), x1, tmp_path / "m.onnx")):
        g = frontends.load(path, None)
        (node,) = [n for n in g.nodes if isinstance(n, ir.Recurrent)]
        for role, got in (("W", node.directions[0].W), ("R", node.directions[0].R)):
            lg, lw = leaves(got), leaves(trained[role])
            assert [type(b) for b in lg] == [type(b) for b in lw], (path, role)
            for bg, bw in zip(lg, lw):
                for a, b in zip(arrays(bg), arrays(bw)):
                    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("cell,method", [("LSTM", "hmd"), ("GRU", "csr"), ("LSTM", "kron"),
                                         ("RNN", "lmf")])
def test_qat_forward_equals_integer_reference(tmp_path, cell, method):
    """QuantAware's forward is rnngen's integer reference (what the int8 C computes) for the
    current factors, bit for bit, and its gradients reach the factors."""
    _qat_forward(tmp_path, cell, method, None)


@pytest.mark.parametrize("cell,method,spec", [("LSTM", "lmf", "w4a8"), ("GRU", "lmf", "w8a16"),
                                              ("RNN", "hmd", "l0_RNN=w4a8,w4a16")])
def test_qat_forward_in_a_precision_equals_integer_reference(tmp_path, cell, method, spec):
    """With a precision plan (compress --qat --precision, the search's int8 beacons) the
    forward is the integer reference of that plan's build, bit for bit, not the w8a8 one."""
    _qat_forward(tmp_path, cell, method, spec)


def _qat_forward(tmp_path, cell, method, prec_spec):
    import onnx
    from rnngen.compress_model import compress_file
    from rnngen.torch.blocks import from_ir
    from rnngen.torch.graph import matrix_key
    from rnngen.torch.qat import QuantAware

    spec = models.Spec(cell, "forward", I, H, 5, 1)
    onnx.save(models.make_model(spec, seed=2), tmp_path / "d.onnx")
    compress_file(tmp_path / "d.onnx", tmp_path / "c.onnx", method, 2.0)
    g = pipeline.compile_model(tmp_path / "c.onnx", pipeline.Options())
    rng = np.random.default_rng(0)
    calib = rng.uniform(-1, 1, (6,) + tuple(g.shapes[g.input])).astype(F32)
    np.save(tmp_path / "calib.npy", calib)
    prec = precision.parse(prec_spec) if prec_spec is not None else None
    gq = pipeline.compile_model(tmp_path / "c.onnx", pipeline.Options(
        dtype="int8", calibrate=str(tmp_path / "calib.npy"), precision=prec))
    g8 = pipeline.compile_model(tmp_path / "c.onnx", pipeline.Options(
        dtype="int8", calibrate=str(tmp_path / "calib.npy")))
    blocks = {}
    for n in g.nodes:
        if isinstance(n, ir.Recurrent):
            cd = n.directions[0]
            blocks[matrix_key(n.name, 0, "W")] = from_ir(cd.W)
            blocks[matrix_key(n.name, 0, "R")] = from_ir(cd.R)
    qa = QuantAware(TorchGraph(g, blocks), calib, prec)
    x = rng.uniform(-1, 1, (4,) + tuple(g.shapes[g.input])).astype(F32)
    out = qa(torch.from_numpy(x))
    for o in g.outputs:
        want = np.stack([reference.Executor(gq, dtype="int8").run(xk)[o] for xk in x])
        np.testing.assert_array_equal(out[o].detach().numpy().reshape(want.shape), want)
        if prec_spec is not None:  # the plan's number types, not w8a8's
            w8 = np.stack([reference.Executor(g8, dtype="int8").run(xk)[o] for xk in x])
            assert not np.array_equal(w8, want)
    sum(v.sum() for v in out.values()).backward()
    assert all(p.grad is not None for p in qa.parameters() if p.requires_grad)
