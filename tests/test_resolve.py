"""A stage's lr_per_omega (training.adam.lr_per_omega in the older form): lr = lr_per_omega·ω(activation),
resolved when the config is loaded."""
from __future__ import annotations

import math

import pytest
import yaml

from conftest import small_burgers
from pinnit.config import dump_config
from pinnit.runs import parse_config
from pinnit.core.errors import ConfigError


@pytest.mark.parametrize("activation, omega", [
    ({"name": "tanh", "a": 0.5}, 2.0),                       # a·tanh: ω = 1/a
    ({"name": "tanh", "a": 2.0, "b": 0.25}, 2.0),            # ω = 1/(a·b)
    ({"name": "softsign_2", "a": 0.1}, 10.0),
    ({"name": "erf"}, math.sqrt(math.pi) / 2),               # f'(0) = 2/√π
    ({"name": "sum"}, 0.5),                                  # softsign_1 + softsign_2: 1/ω = 1 + 1
    ("gelu", 2.0),                                           # f'(0) = Φ(0) = 1/2
])
def test_lr_is_lr_per_omega_times_omega(tmp_path, activation, omega):
    data = small_burgers(tmp_path)
    data["network"]["activation"] = activation
    data["training"]["adam"] = {"iterations": 5, "lr_per_omega": 5e-4}
    cfg = parse_config(data)
    adam = cfg.training.stages["adam"]
    assert adam.lr == pytest.approx(5e-4 * omega, rel=1e-12)
    # the resolved config (stages) records both and reloads to the same lr
    again = parse_config(yaml.safe_load(dump_config(cfg))).training.stages["adam"]
    assert again.lr == adam.lr and again.lr_per_omega == 5e-4


def test_a_stage_lr_per_omega_is_the_older_keys(tmp_path):
    data = small_burgers(tmp_path)
    data["network"]["activation"] = {"name": "tanh", "a": 0.5}
    data["training"]["stages"] = {"adam": {"iterations": 5, "lr_per_omega": 1e-3}, "sgd": {"iterations": 5}}
    older = small_burgers(tmp_path)
    older["network"]["activation"] = {"name": "tanh", "a": 0.5}
    older["training"]["adam"] = {"iterations": 5, "lr_per_omega": 1e-3}
    for key in ("adam", "lbfgs"):
        del data["training"][key]
    assert parse_config(data).training.stages["adam"].lr == parse_config(older).training.stages["adam"].lr == 2e-3
    assert parse_config(data).training.stages["sgd"].model_extra == {}  # no lr_per_omega: the entry's lr


def test_lr_per_omega_wins_over_an_explicit_lr(tmp_path):
    data = small_burgers(tmp_path)
    data["network"]["activation"] = {"name": "tanh", "a": 0.5}
    data["training"]["adam"] = {"lr": 0.1, "lr_per_omega": 1e-3}
    assert parse_config(data).training.stages["adam"].lr == pytest.approx(2e-3, rel=1e-12)
    data["training"]["adam"] = {"lr": 0.1}
    assert parse_config(data).training.stages["adam"].lr == 0.1


def test_activation_without_finite_omega_is_rejected(tmp_path):
    data = small_burgers(tmp_path)
    data["network"]["activation"] = "relu"
    data["training"]["adam"] = {"lr_per_omega": 1e-3}
    with pytest.raises(ConfigError) as info:
        parse_config(data)
    assert str(info.value) == ("training.adam.lr_per_omega: activation 'relu' has no finite critical scale "
                               "ω = 1/f'(0) (f'(0) = 0); set training.adam.lr instead")
    data["training"]["adam"] = {"lr_per_omega": -1.0}
    with pytest.raises(ConfigError, match="training.adam.lr_per_omega: got -1.0"):
        parse_config(data)
