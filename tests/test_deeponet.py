"""DeepONet: shapes on functions × points, layouts, per-net activations and initializers, config checks."""
from __future__ import annotations

import pytest
import torch

from pinnit.config.schema import NetworkConfig
from pinnit.nn.deeponet import build_deeponet, deeponet_parameter_count
from pinnit.derivatives.jets import mlp_hessian_jets


def _build(**kw):
    cfg = NetworkConfig(arch="deeponet", **{"width": 16, "depth": 2, **kw})
    return cfg, build_deeponet(cfg, 11, 2, 3, torch.Generator().manual_seed(0), [0, 0], [1, 1])


@pytest.mark.parametrize("layout", ["independent", "shared"])
def test_cartesian_product_shapes_and_definition(layout):
    cfg, net = _build(layout=layout, features=8)
    F, X = torch.randn(5, 11, dtype=torch.float64), torch.rand(7, 2, dtype=torch.float64)
    y = net(F, X)
    assert y.shape == (5, 7, 3)
    # output j = Σ_k b_k(F) t_k(X) + β_j, trunk features activated, branch features linear
    b, t = net.branch_features(F), net.trunk_features(X)
    for j in range(3):
        torch.testing.assert_close(y[..., j], b[j] @ t[j].T + net.bias[j])
    # per-function points (B × N × d) give the same values as the shared points
    torch.testing.assert_close(net(F, X.expand(5, 7, 2)), y)
    assert sum(p.numel() for p in net.parameters()) == deeponet_parameter_count(cfg, 11, 2, 3)
    assert len(net.trunks) == (1 if layout == "shared" else 3)
    if layout == "shared":
        assert net.branches[0].layers[-1].out_features == 3 * 8  # the branch split in three groups


def test_trunk_output_is_activated_branch_output_linear():
    _, net = _build()
    F, X = torch.randn(2, 11, dtype=torch.float64), torch.rand(4, 2, dtype=torch.float64)
    t = net.trunk_features(X)[0]
    assert t.abs().max() < 1  # tanh features
    torch.testing.assert_close(t, torch.tanh(net.trunks[0](X)))
    torch.testing.assert_close(net.branch_features(F)[0], net.branches[0](F))


def test_per_net_activation_and_initializer():
    cfg, net = _build(branch={"activation": "relu", "initializer": {"name": "xavier_normal", "bias": 0.3}},
                      trunk={"width": 8, "depth": 3, "initializer": {"name": "kgi", "alpha": 0.0}})
    branch, trunk = net.branches[0], net.trunks[0]
    assert type(branch.activation).__name__.lower() == "relu" and type(trunk.activation).__name__ == "Tanh"
    assert all(torch.all(layer.bias == 0.3) for layer in branch.layers)
    assert [layer.out_features for layer in trunk.layers] == [8, 8, 8, 16]  # features default to width
    # KGI with α = 0: every first-layer hyperplane of the trunk passes through one knot in [−0.6, 0.6]²
    w, b = trunk.layers[0].weight, trunk.layers[0].bias
    knot = torch.linalg.lstsq(w, -b[:, None]).solution[:, 0]
    torch.testing.assert_close(w @ knot + b, torch.zeros_like(b), atol=1e-10, rtol=0)
    assert knot.abs().max() <= 0.6
    assert not torch.allclose(net.trunks[1].layers[0].bias, trunk.layers[0].bias)  # independent draws per net


def test_kgi_first_layer_bounds_per_net():
    """The KGI preprint's per-net bounds: branch [−1.5, 1.5] (GRF values, not normalised), trunk [−0.6, 0.6]."""
    kgi = {"name": "kgi", "alpha": 0.0, "bounds": [[-1.5, 1.5], [-0.8, 0.8]]}
    _, net = _build(depth=2, branch={"initializer": kgi})
    w, b = net.branches[0].layers[0].weight, net.branches[0].layers[0].bias
    knot = torch.linalg.lstsq(w, -b[:, None]).solution[:, 0]  # the shared knot (11 inputs, 16 neurons)
    torch.testing.assert_close(w @ knot + b, torch.zeros_like(b), atol=1e-8, rtol=0)
    assert knot.abs().max() <= 1.5 and knot.abs().max() > 0.6
    assert torch.all(net.branches[0].shift == 0) and torch.all(net.branches[0].scale == 1)


def test_jet_of_the_trunk_matches_autograd():
    _, net = _build()
    X = torch.rand(6, 2, dtype=torch.float64, requires_grad=True)
    jets = mlp_hessian_jets(net.trunks[0], X, net.trunk_activations[0])
    assert sorted(jets) == [(), (0,), (0, 0), (0, 1), (1,), (1, 1)]
    t = torch.tanh(net.trunks[0](X))
    torch.testing.assert_close(jets[()], t, rtol=0, atol=1e-12)
    for k in range(t.shape[1]):
        (gk,) = torch.autograd.grad(t[:, k].sum(), X, create_graph=True)
        for j in range(2):
            torch.testing.assert_close(jets[(j,)][:, k], gk[:, j], rtol=0, atol=1e-10)
            (hj,) = torch.autograd.grad(gk[:, j].sum(), X, retain_graph=True)
            for i in range(2):
                torch.testing.assert_close(jets[tuple(sorted((i, j)))][:, k], hj[:, i], rtol=0, atol=1e-10)


def test_config_errors(tmp_path):
    from pinnit.runs import parse_config
    from pinnit.core.errors import ConfigError

    base = {"problem": {"name": "burgers"}, "network": {"arch": "mlp", "branch": {"width": 4}}}
    with pytest.raises(ConfigError, match=r"^network\.branch: only used by network\.arch: deeponet"):
        parse_config(base)
    with pytest.raises(ConfigError, match=r"^network\.arch: deeponet needs a problem with function inputs"):
        parse_config({"problem": {"name": "burgers"}, "network": {"arch": "deeponet"}})
    with pytest.raises(ConfigError, match=r"network\.layout"):
        parse_config({"problem": {"name": "burgers"}, "network": {"arch": "deeponet", "layout": "split"}})
