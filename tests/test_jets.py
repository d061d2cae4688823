"""Forward jets through an MLP against nested autograd (values and parameter gradients, float64)."""
from __future__ import annotations

import pytest
import torch

from pinnit.derivatives import mlp_jets
from pinnit.core.errors import PinnitError
from pinnit.nn.mlp import build_mlp

ACTIVATIONS = ["tanh", "softsign_2", "gelu", {"name": "tanh", "a": 1.3, "b": 0.7, "trainable": True},
               {"name": "erf", "trainable": True}, "arctan", "sin", "softplus", {"name": "sum"}]


def _net(activation, d=3, out=2, widths=(7, 5, 6), seed=0):
    g = torch.Generator().manual_seed(seed)
    net = build_mlp(d, out, list(widths), activation, "xavier_normal", g, lower=[-1.0, 0.0, -2.0][:d],
                    upper=[1.0, 1.0, 3.0][:d])
    with torch.no_grad():  # non-zero biases and moved trainable scales, so no term vanishes by symmetry
        for p in net.parameters():
            p.add_(0.1 * torch.randn(p.shape, generator=g, dtype=p.dtype))
    return net


def _autograd(net, x, pairs):
    """y, ∂y/∂x_j (N, out, d), ∂²y/∂x_j² and mixed pairs by nested reverse-mode autograd."""
    x = x.detach().requires_grad_(True)
    y = net(x)
    dy, d2y, mixed = [], [], {p: [] for p in pairs}
    for o in range(y.shape[1]):
        (g,) = torch.autograd.grad(y[:, o].sum(), x, create_graph=True)
        dy.append(g)
        rows = [torch.autograd.grad(g[:, j].sum(), x, create_graph=True)[0] for j in range(x.shape[1])]
        d2y.append(torch.stack([rows[j][:, j] for j in range(x.shape[1])], 1))
        for j, k in pairs:
            mixed[(j, k)].append(rows[j][:, k])
    return y, torch.stack(dy, 1), torch.stack(d2y, 1), {p: torch.stack(v, 1) for p, v in mixed.items()}


@pytest.mark.parametrize("activation", ACTIVATIONS, ids=lambda a: a if isinstance(a, str) else str(a))
def test_jets_equal_nested_autograd_values_and_parameter_gradients(activation):
    net = _net(activation)
    x = torch.rand(40, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1)) * 2 - 0.5
    pairs = [(0, 1), (1, 2)]
    jets = mlp_jets(net, x, order=2, mixed=pairs)
    ref = _autograd(net, x, pairs)
    for got, want in zip(jets[:3], ref[:3]):
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10)
    for p in pairs:
        torch.testing.assert_close(jets.mixed[p], ref[3][p], rtol=1e-10, atol=1e-10)
    # a loss that uses every jet component: its parameter gradients must agree too
    c = torch.linspace(0.5, 1.5, 3, dtype=torch.float64)

    def loss(y, dy, d2y, mixed):
        return (y**2).mean() + (c * dy**2).mean() + (d2y * dy).mean() + sum((m**3).mean() for m in mixed.values())

    params = [p for p in net.parameters()]
    g_jets = torch.autograd.grad(loss(*jets), params)
    g_ref = torch.autograd.grad(loss(*ref), params)
    assert any(g.abs().max() > 1e-3 for g in g_ref)
    for a, b in zip(g_jets, g_ref):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)


def test_order_one_and_input_gradient():
    net = _net("tanh", d=2, out=1, widths=(8, 8))
    x = torch.rand(30, 2, dtype=torch.float64, requires_grad=True)
    jets = mlp_jets(net, x, order=1)
    assert jets.d2y is None and jets.dy.shape == (30, 1, 2)
    y, dy, d2y, _ = _autograd(net, x, [])
    torch.testing.assert_close(jets.dy, dy, rtol=1e-10, atol=1e-10)
    # differentiating the jet w.r.t. x gives the second derivatives again
    (g,) = torch.autograd.grad(jets.dy[:, 0, 0].sum(), x)
    torch.testing.assert_close(g[:, 0], d2y[:, 0, 0], rtol=1e-10, atol=1e-10)


def test_bad_requests_are_one_line_errors():
    net = _net("tanh", d=2, out=1, widths=(4,))
    x = torch.rand(5, 2, dtype=torch.float64)
    with pytest.raises(PinnitError, match="order"):
        mlp_jets(net, x, order=3)
    with pytest.raises(PinnitError, match="mixed"):
        mlp_jets(net, x, mixed=[(0, 0)])
    with pytest.raises(PinnitError, match="element-wise"):
        mlp_jets(_net("softmax", d=2, out=1, widths=(4,)), x)


def test_selected_pure_second_derivatives():
    net = _net("softsign_2", d=3, out=2)
    x = torch.rand(20, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    full = mlp_jets(net, x)
    part = mlp_jets(net, x, pure=[2, 0], mixed=[(2, 1)])
    assert part.d2y.shape == (20, 2, 2)
    torch.testing.assert_close(part.d2y, full.d2y[:, :, [2, 0]], rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(part.dy, full.dy, rtol=1e-12, atol=1e-12)
    ref = _autograd(net, x, [(1, 2)])[3][(1, 2)]
    torch.testing.assert_close(part.mixed[(1, 2)], ref, rtol=1e-10, atol=1e-10)
