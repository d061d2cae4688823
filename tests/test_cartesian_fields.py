"""The Cartesian-batch derivative engine: ZCS and plain autograd agree (float64), and match Fields per function."""
from __future__ import annotations

import itertools

import pytest
import torch

from pinnit.derivatives.cartesian_fields import CartesianFields
from pinnit.derivatives.deeponet_jets import deeponet_jets
from pinnit.config.schema import NetworkConfig
from pinnit.core.errors import PinnitError
from pinnit.derivatives.fields import Fields
from pinnit.nn.deeponet import build_deeponet

INPUTS, OUTPUTS = ("x", "y"), ("u", "v", "p")


def _net(layout="independent"):
    cfg = NetworkConfig(arch="deeponet", width=12, depth=2, layout=layout, activation="tanh")
    return build_deeponet(cfg, 7, 2, 3, torch.Generator().manual_seed(0), [0, 0], [1, 1])


def _data():
    g = torch.Generator().manual_seed(1)
    return torch.randn(4, 7, generator=g, dtype=torch.float64), torch.rand(9, 2, generator=g, dtype=torch.float64)


def _transform(X, y):  # a coordinate-dependent output transform, as the Stokes one
    x0, x1 = X[..., 0], X[..., 1]
    return torch.stack([y[..., 0] * x0 * (1 - x0) * x1, y[..., 1] * torch.sin(x0 + 2 * x1), y[..., 2] * x1], -1)


DERIVS = [()] + [(a,) for a in INPUTS] + list(itertools.combinations_with_replacement(INPUTS, 2))


@pytest.mark.parametrize("layout", ["independent", "shared"])
def test_zcs_equals_autograd_to_1e10(layout):
    net, (F, X) = _net(layout), _data()
    evaluate = lambda Xs: _transform(Xs, net(F, Xs))  # noqa: E731
    zcs = CartesianFields.create("zcs", X, INPUTS, OUTPUTS, evaluate)
    auto = CartesianFields.create("autograd", X, INPUTS, OUTPUTS, evaluate, batch=len(F))
    for field in OUTPUTS:
        for wrt in DERIVS:
            a, b = zcs.d(field, *wrt), auto.d(field, *wrt)
            assert a.shape == b.shape == (4, 9)
            scale = 1 + float(b.detach().abs().max())
            assert float((a - b).detach().abs().max()) <= 1e-10 * scale, (field, wrt)
    assert torch.equal(zcs["u_xy"], zcs.d("u", "y", "x"))  # mixed partials by name, cached once


def test_jets_equal_autograd_to_1e10():
    """Forward jets of the raw DeepONet (no transform here) against plain autograd, up to second order."""
    net, (F, X) = _net(), _data()
    jet = CartesianFields.create("jets", X, INPUTS, OUTPUTS, lambda Xs: (lambda f, k: deeponet_jets(net, F, Xs)(
        OUTPUTS.index(f), k)))
    auto = CartesianFields.create("autograd", X, INPUTS, OUTPUTS, lambda Xs: net(F, Xs), batch=len(F))
    for field in OUTPUTS:
        for wrt in DERIVS:
            a, b = jet.d(field, *wrt), auto.d(field, *wrt)
            assert float((a - b).detach().abs().max()) <= 1e-10 * (1 + float(b.detach().abs().max()))
    with pytest.raises(PinnitError, match="second order"):
        jet.d("u", "x", "x", "y")


def test_matches_pointwise_fields_per_function():
    """Each function's slice equals the plain engine on that function alone (the definition)."""
    net, (F, X) = _net(), _data()
    zcs = CartesianFields.create("zcs", X, INPUTS, OUTPUTS, lambda Xs: net(F, Xs))
    for b in range(len(F)):
        single = Fields(X.clone(), INPUTS, OUTPUTS, lambda xs: net(F[b:b + 1], xs)[0])
        for wrt in [("x",), ("y", "y"), ("x", "y")]:
            torch.testing.assert_close(zcs.d("v", *wrt)[b], single.d("v", *wrt), rtol=1e-12, atol=1e-12)


def test_gradients_of_a_residual_agree():
    """The parameter gradient of a loss built from second derivatives is the same in both modes."""
    net, (F, X) = _net(), _data()
    grads = []
    for mode in ("zcs", "autograd"):
        net.zero_grad()
        f = CartesianFields.create(mode, X, INPUTS, OUTPUTS, lambda Xs: net(F, Xs), batch=len(F))
        loss = ((0.01 * (f["u_xx"] + f["u_yy"]) - f["p_x"]) ** 2).mean() + ((f["u_x"] + f["v_y"]) ** 2).mean()
        loss.backward()
        grads.append(torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1)
                               for p in net.parameters()]))
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-10, atol=1e-12)


def test_at_coords_and_functions():
    net, (F, X) = _net(), _data()
    calls = []

    def functions(name, x):
        calls.append(name)
        return F[:, :1] * x[:, 0]  # B × N

    f = CartesianFields.create("zcs", X, INPUTS, OUTPUTS, lambda Xs: net(F, Xs), functions)
    assert f["x"].shape == (9,)
    torch.testing.assert_close(f.function("g"), F[:, :1] * X[:, 0])
    f.function("g")
    assert calls == ["g"]  # cached
    top = f.at(y=1.0)
    assert torch.all(top["y"] == 1.0)
    torch.testing.assert_close(top["u"], net(F, top.x)[..., 0])
    with pytest.raises(PinnitError, match="unknown quantity 'w'"):
        f["w"]
    with pytest.raises(PinnitError, match="cannot differentiate"):
        f.d("u", "t")
    with pytest.raises(PinnitError, match="unknown derivative mode"):
        CartesianFields.create("jvp", X, INPUTS, OUTPUTS, lambda Xs: net(F, Xs))
