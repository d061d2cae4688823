"""Config loading: every bad input is one ConfigError/PinnitError line naming the key path."""
from __future__ import annotations

import pytest
import yaml

from pinnit.runs import load_config, parse_config
from pinnit.core.errors import ConfigError, PinnitError


def _write(tmp_path, text: str):
    p = tmp_path / "c.yaml"
    p.write_text(text)
    return p


def test_defaults_fill_in(burgers_cfg):
    cfg = parse_config(burgers_cfg)
    assert cfg.network.hidden_widths() == [16, 16, 16]
    assert cfg.training.stages["lbfgs"].model_extra["line_search"] == "strong_wolfe"
    assert cfg.run_name == "burgers"


@pytest.mark.parametrize("override, path, fragment", [
    ("training.adam.iteratons=5", "training.adam.iteratons", "did you mean 'iterations'"),
    ("network.width=-3", "network.width", "greater than 0"),
    ("network.width=abc", "network.width", "valid integer"),
    ("network.activation=tanhh", "network.activation.name", "did you mean 'tanh'"),
    ("network.initializer=xavier_norml", "network.initializer.name", "did you mean 'xavier_normal'"),
    ("network.initializer.gaain=2", "network.initializer.gaain", "did you mean 'gain'"),
    ("problem.name=burgerz", "problem.name", "did you mean 'burgers'"),
    ("problem.nu=-1", "problem.nu", "greater than 0"),
    ("problem.nuu=1", "problem.nuu", "did you mean 'nu'"),
    ("sampling.points.pdee=3", "sampling.points.pdee", "did you mean 'pde'"),
    ("sampling.sampler=halton", "sampling.sampler", "'uniform', 'sobol' or 'lhs'"),
    ("training.weights.phys=2", "training.weights.phys", "did you mean 'physics'"),
    ("training.adam.lr=.nan", "training.adam.lr", "finite"),
    ("training.adam.lr=0", "training.adam.lr", "greater than 0"),
    ("training.dtype=float16", "training.dtype", "float32"),
    ("foo.bar=1", "foo", "valid keys: problem"),
    ("sampling.refine=[{box: {x: [1, 0]}}]", "sampling.refine[0].box.x", "lower < upper"),
    ("evaluation.resolution=[10]", "evaluation.resolution", "needs 2 entries"),
])
def test_bad_values_name_the_key(burgers_cfg, override, path, fragment):
    with pytest.raises(ConfigError) as err:
        parse_config(burgers_cfg, [override])
    assert err.value.path == path
    assert fragment in str(err.value)
    assert "\n" not in str(err.value)


def test_set_overrides_and_promotes_names(burgers_cfg):
    cfg = parse_config(burgers_cfg, ["training.adam.iterations=500", "network.width=32",
                                     "network.activation.b=2", "problem.nu=0.01"])
    assert cfg.training.stages["adam"].iterations == 500 and cfg.network.width == 32
    assert cfg.network.activation == {"name": "tanh", "b": 2}
    assert cfg.problem.model_dump()["nu"] == 0.01


def test_a_config_without_training_trains_5000_adam_iterations(burgers_cfg):
    del burgers_cfg["training"]
    stages = parse_config(burgers_cfg).training.stages
    assert {k: (s.iterations, s.model_extra["lr"]) for k, s in stages.items()} == {"adam": (5000, 1e-3),
                                                                                  "lbfgs": (0, 1.0)}


def test_set_without_equals_is_an_error(burgers_cfg):
    with pytest.raises(PinnitError, match="KEY.PATH=VALUE"):
        parse_config(burgers_cfg, ["training.adam.iterations"])


def test_set_into_a_scalar_is_an_error(burgers_cfg):
    with pytest.raises(ConfigError, match="not a section"):
        parse_config(burgers_cfg, ["training.seed.x=1"])


@pytest.mark.parametrize("text, fragment", [
    ("", "empty config"),
    ("problem: [unclosed", "malformed YAML"),
    ("- a\n- b\n", "mapping at the top level"),
    ("network: {width: 3}\n", "problem: required key is missing"),
])
def test_bad_files(tmp_path, text, fragment):
    with pytest.raises(PinnitError, match=fragment):
        load_config(_write(tmp_path, text))


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(PinnitError, match="no such file"):
        load_config(tmp_path / "nope.yaml")
    with pytest.raises(PinnitError, match="is a directory"):
        load_config(tmp_path)


def test_round_trip_of_resolved_config(tmp_path, burgers_cfg):
    from pinnit.config import dump_config

    cfg = parse_config(burgers_cfg)
    again = load_config(_write(tmp_path, dump_config(cfg)))
    assert again == cfg
    assert yaml.safe_load(dump_config(cfg))["training"]["seed"] == 0


def test_run_name_of_a_declared_problem_is_its_file_stem(burgers_cfg):
    burgers_cfg["problem"] = {"name": "declared", "file": "problems/heat.yaml"}
    burgers_cfg["sampling"]["points"] = {"pde": 64}
    assert parse_config(burgers_cfg).run_name == "heat"
    assert parse_config(burgers_cfg, ["output.name=mine"]).run_name == "mine"
