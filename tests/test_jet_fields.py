"""JetFields (forward jets behind the Fields interface) against nested autograd, float64."""
from __future__ import annotations

import itertools

import pytest
import torch

from pinnit.derivatives.fields import Fields
from pinnit.derivatives.jet_fields import JetFields, MissingDerivative, RecordingFields, second_order_streams
from pinnit.nn.mlp import build_mlp
from conftest import REPO

INPUTS, OUTPUTS = ("x", "t", "y"), ("u", "v")
ALL_KEYS = [(u, idx) for u in OUTPUTS for order in (1, 2)
            for idx in itertools.combinations_with_replacement(range(3), order)]


def _net(activation="tanh"):
    return build_mlp(3, 2, [12, 12], activation, "xavier_normal", torch.Generator().manual_seed(1),
                     lower=[-1.0, 0.0, 0.0], upper=[1.0, 2.0, 1.0])


def _x():
    return torch.rand(40, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(2))


def _transform(x, y):  # a hard-constraint-like map mixing inputs and outputs non-linearly
    return torch.sin(x[:, :1]) * x[:, 1:2] * y + torch.cat([x[:, 2:] ** 2, y[:, :1] * y[:, 1:]], 1)


@pytest.mark.parametrize("activation", ["tanh", "sin", "softplus"])  # softplus: autograd activation rule
@pytest.mark.parametrize("transform", [None, _transform])
def test_every_derivative_up_to_order_two_equals_autograd(activation, transform):
    net = _net(activation)
    x = _x()
    ref = Fields(x, INPUTS, OUTPUTS, net if transform is None else (lambda p: transform(p, net(p))))
    jet = JetFields(x, INPUTS, OUTPUTS, net, transform, ALL_KEYS)
    for u in OUTPUTS:
        torch.testing.assert_close(jet[u], ref[u], rtol=1e-10, atol=1e-12)
    for u, idx in ALL_KEYS:
        wrt = [INPUTS[i] for i in idx]
        torch.testing.assert_close(jet.d(u, *wrt), ref.d(u, *wrt), rtol=1e-10, atol=1e-12, msg=f"{u} {wrt}")


def test_parameter_gradients_of_a_residual_equal_autograd():
    net = _net()
    x = _x()
    keys = [("u", (0,)), ("u", (1,)), ("u", (0, 0)), ("v", (0, 2))]

    def residual(f):
        return f["u_t"] + f["u"] * f["u_x"] - 0.1 * f["u_xx"] + f["v_xy"] * f["v"]

    grads = []
    for f in (Fields(x, INPUTS, OUTPUTS, net), JetFields(x, INPUTS, OUTPUTS, net, None, keys)):
        grads.append(torch.autograd.grad(torch.mean(residual(f) ** 2), list(net.parameters())))
    for a, b in zip(*grads):
        torch.testing.assert_close(b, a, rtol=1e-10, atol=1e-13)


def test_an_undiscovered_derivative_is_reported_not_invented():
    jet = JetFields(_x(), INPUTS, OUTPUTS, _net(), None, [("u", (0,))])
    assert jet["u_t"].shape == (40,)  # the whole gradient comes with one first derivative
    with pytest.raises(MissingDerivative):
        jet["u_xx"]


def test_at_copies_keep_the_keys_and_move_the_points():
    net, x = _net(), _x()
    jet = JetFields(x, INPUTS, OUTPUTS, net, None, [("u", (0,))]).at(x=1.0)
    ref = Fields(x, INPUTS, OUTPUTS, net).at(x=1.0)
    torch.testing.assert_close(jet["u_x"], ref["u_x"], rtol=1e-10, atol=1e-12)
    assert torch.all(jet["x"] == 1.0)


def test_recording_fields_record_keys_of_at_copies_too():
    rec = RecordingFields(_x(), INPUTS, OUTPUTS, _net())
    rec["u_xt"], rec["v"], rec.at(y=0.0)["v_yy"]
    assert rec.record == {("u", (0, 1)), ("v", (2, 2)), ("u", (0,)), ("v", (2,))}  # with the lower orders used
    assert second_order_streams(rec.record | {("u", (1,))}) == ([2], [(0, 1)], 2)
    assert second_order_streams([("u", (0, 0, 1))])[2] == 3


def test_a_run_repeats_bit_for_bit_whatever_the_string_hash_seed(tmp_path):
    """The transformed fields are evaluated (and their gradients accumulated by backward) in a sorted key order,
    not a set's, which follows Python's per-process string hashing: two processes with different PYTHONHASHSEED
    (1 and 5 ordered Burgers' keys differently and parted at the first gradient, in the last bits) train the same
    weights bit for bit."""
    import os
    import subprocess
    import sys

    weights = []
    for seed in ("1", "5"):
        out = tmp_path / f"hash{seed}"
        env = {**os.environ, "PYTHONHASHSEED": seed, "OMP_NUM_THREADS": "1"}
        subprocess.run([sys.executable, "-m", "pinnit", "run", str(REPO / "configs" / "burgers.yaml"), "--quiet",
                        "--run-dir", str(out), "--set", "training.derivatives=jets", "--set", "sampling.points.pde=512",
                        "--set", "training.stages.adam.iterations=5", "--set", "training.stages.ssbroyden.iterations=0",
                        "--set", "evaluation.every=0", "--set", "output.plots=false"], check=True, env=env,
                       capture_output=True)
        weights.append(torch.load(out / "model.pt"))
    assert weights[0].keys() == weights[1].keys()
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
