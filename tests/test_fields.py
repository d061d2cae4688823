"""The derivative engine against closed-form derivatives."""
from __future__ import annotations

import pytest
import torch

from pinnit.core.errors import PinnitError
from pinnit.derivatives.fields import Fields


def _model(x):
    # u = sin(x)·t², v = x³ + x·t
    return torch.stack([torch.sin(x[:, 0]) * x[:, 1] ** 2, x[:, 0] ** 3 + x[:, 0] * x[:, 1]], dim=1)


@pytest.fixture
def f():
    x = torch.rand(50, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    return Fields(x, ("x", "t"), ("u", "v"), _model)


def test_derivatives_match_closed_form(f):
    x, t = f["x"], f["t"]
    torch.testing.assert_close(f["u_x"], torch.cos(x) * t**2)
    torch.testing.assert_close(f["u_t"], 2 * torch.sin(x) * t)
    torch.testing.assert_close(f["u_xx"], -torch.sin(x) * t**2)
    torch.testing.assert_close(f["u_xt"], 2 * torch.cos(x) * t)
    torch.testing.assert_close(f["u_tx"], f["u_xt"])
    torch.testing.assert_close(f.d("v", "x", "x", "x"), torch.full_like(x, 6.0))
    torch.testing.assert_close(f["v_t"], x)


def test_cache_reuses_one_backward_for_the_gradient(f):
    f["u_x"]
    assert ("u", (1,)) in f._cache  # u_t came with u_x


def test_multi_letter_inputs_parse_longest_first():
    x = torch.rand(5, 2, dtype=torch.float64)
    f = Fields(x, ("S", "tau"), ("V",), lambda z: (z[:, :1] ** 2) * z[:, 1:])
    assert f.parse("V_SS") == ("V", ("S", "S"))
    assert f.parse("V_tau") == ("V", ("tau",))
    torch.testing.assert_close(f["V_SS"], 2 * f["tau"])


def test_at_evaluates_elsewhere(f):
    g = f.at(x=1.0)
    torch.testing.assert_close(g["u"], torch.sin(torch.tensor(1.0, dtype=torch.float64)) * f["t"] ** 2)


def test_unknown_names_are_user_errors(f):
    with pytest.raises(PinnitError, match="unknown quantity 'w_x'"):
        f["w_x"]
    with pytest.raises(PinnitError, match="by 'y'"):
        f.d("u", "y")
