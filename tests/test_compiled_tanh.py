"""The exp form of tanh used inside torch.compile: values within 2 ulp(1) of torch.tanh (no overflow at large
|u|), the closed-form backward 1 − tanh², a differentiable backward (nested derivatives), and the switch."""
from __future__ import annotations

import torch

from pinnit.nn.activations import compiled_tanh
from pinnit.nn.activations.compiled_tanh import exp_tanh


def _traced_code(fn, x: torch.Tensor) -> tuple[torch.Tensor, list[str]]:
    """``fn(x)`` compiled, and the code of the graphs ``torch.compile`` traced (a backend that runs them as is)."""
    graphs = []

    def record(gm, example_inputs):
        graphs.append(gm.code)
        return gm.forward

    out = torch.compile(fn, backend=record, dynamic=False, fullgraph=True)(x)
    return out, graphs


def test_values_match_torch_tanh_within_two_ulp_of_one_without_overflow():
    u = torch.cat([torch.linspace(-30, 30, 20001, dtype=torch.float64),
                   torch.tensor([-1e4, -400.0, -1e-12, 0.0, 1e-12, 400.0, 1e4], dtype=torch.float64)])
    assert float((exp_tanh(u) - torch.tanh(u)).abs().max()) <= 2 * torch.finfo(torch.float64).eps
    u32 = u.float()
    assert float((exp_tanh(u32) - torch.tanh(u32)).abs().max()) <= 2 * torch.finfo(torch.float32).eps
    assert exp_tanh(torch.tensor([1e4, -1e4])).tolist() == [1.0, -1.0]


def test_first_and_second_derivatives_are_those_of_tanh():
    u = torch.linspace(-5, 5, 101, dtype=torch.float64, requires_grad=True)
    (d1,) = torch.autograd.grad(exp_tanh(u).sum(), u, create_graph=True)
    (d2,) = torch.autograd.grad(d1.sum(), u)
    t = torch.tanh(u.detach())
    torch.testing.assert_close(d1.detach(), 1 - t * t, rtol=0, atol=1e-15)
    torch.testing.assert_close(d2, -2 * t * (1 - t * t), rtol=0, atol=1e-14)
    big = torch.tensor([800.0], dtype=torch.float64, requires_grad=True)  # e^{1600} = inf: still a finite gradient
    (g,) = torch.autograd.grad(exp_tanh(big).sum(), big)
    assert g.tolist() == [0.0]
    assert torch.autograd.gradcheck(exp_tanh, (torch.randn(7, dtype=torch.float64, requires_grad=True),))


def test_tanh_is_torch_tanh_eagerly_and_the_exp_form_while_compiling():
    u = torch.randn(64, dtype=torch.float64)
    assert torch.equal(compiled_tanh.tanh(u), torch.tanh(u))
    out, graphs = _traced_code(compiled_tanh.tanh, u)
    torch.testing.assert_close(out, torch.tanh(u), rtol=0, atol=1e-15)
    assert len(graphs) == 1 and "exp" in graphs[0] and "tanh(" not in graphs[0].replace("exp_tanh", "")


def test_the_activation_module_keeps_torch_tanh_while_compiling():
    """Only the jets use the exp form: nested autograd through it under compiled_autograd was wrong (see module)."""
    from pinnit.nn.activations import build_activation

    _, graphs = _traced_code(build_activation("tanh", "network.activation"), torch.randn(8, dtype=torch.float64))
    assert len(graphs) == 1 and "tanh" in graphs[0] and "exp" not in graphs[0]
