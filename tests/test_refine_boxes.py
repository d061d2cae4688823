"""Refine boxes with bounds relative to the problem's parameters (pinnit/sampling/refine.py)."""
from __future__ import annotations

import pytest
import yaml

from pinnit import assemble, parse_config
from pinnit.cli import main
from pinnit.core.errors import ConfigError
from pinnit.problems import build_problem
from pinnit.sampling.refine import evaluate_bound, problem_parameters

from conftest import REPO, small_burgers

BS = {"name": "black_scholes", "K": 0.4, "sigma": 0.3}


def test_problem_parameters_are_the_numeric_constructor_arguments():
    params = problem_parameters(build_problem({**BS, "hard_constraints": True}))
    assert params == {"K": 0.4, "sigma": 0.3, "r": 0.05, "S_max": 1.0, "T": 1.0}  # option, boundary: not numbers


@pytest.mark.parametrize("text, value", [
    ("K - 0.15", 0.25), ("(K + S_max) / 2", 0.7), ("2*K**2", 0.32), ("-K + 1", 0.6), ("0.25", 0.25),
    ("K^2", 0.16), ("T * pi / pi", 1.0), ("K * exp(-r * T)", 0.4 * 0.951229424500714),
])
def test_expressions_evaluate_with_the_parameters(text, value):
    assert evaluate_bound(text, problem_parameters(build_problem(BS)), "b") == pytest.approx(value, abs=1e-15)


@pytest.mark.parametrize("text, fragment", [
    ("Q - 0.1", "unknown symbol 'Q'; known: parameters K, sigma, r, S_max, T"),
    ("__import__('os')", "unknown function '__import__'"),
    ("K.real", "not allowed"),
    ("1 / (K - 0.4)", "does not evaluate to a finite number with parameters K=0.4"),
    ("S + 1", "unknown symbol 'S'"),
])
def test_bad_expressions_name_the_bound(text, fragment):
    with pytest.raises(ConfigError) as err:
        evaluate_bound(text, problem_parameters(build_problem(BS)), "sampling.refine[0].box.S[0]")
    assert str(err.value).startswith("sampling.refine[0].box.S[0]") and fragment in str(err.value)
    assert "\n" not in str(err.value)


def _bs_config(K: float) -> dict:
    cfg = yaml.safe_load((REPO / "configs" / "black_scholes.yaml").read_text())
    cfg["problem"]["K"] = K
    cfg["sampling"]["points"] = {"pde": 4000, "initial": 64}
    cfg["sampling"]["refine"] = [{"box": {"S": ["K - 0.15", "K + 0.15"], "tau": [0, 0.1]}, "fraction": 0.25}]
    cfg["training"]["threads"] = 1
    return cfg


@pytest.mark.parametrize("K", [0.4, 0.5])
def test_a_strike_relative_box_follows_the_strike(K):
    a = assemble(parse_config(_bs_config(0.5), [f"problem.K={K}"]))
    assert a.loss.refine == [({"S": (K - 0.15, K + 0.15), "tau": (0.0, 0.1)}, 0.25)]
    S, tau = a.loss.points["pde"][:, 0], a.loss.points["pde"][:, 1]
    inside = float(((abs(S - K) <= 0.15) & (tau <= 0.1)).double().mean())
    assert inside == pytest.approx(0.25 + 0.75 * 0.3 * 0.1, abs=0.01)  # refined share + the uniform share's
    near = abs(S[tau <= 0.1] - K).mean()
    assert near < 0.2  # uniform S on [0, 1] would give a mean distance ≥ 0.25 from K ∈ [0.4, 0.5]


@pytest.mark.parametrize("box, path, fragment", [
    ({"S": ["K - 0.15", "Kay"]}, "sampling.refine[0].box.S[1]", "known: parameters K, sigma, r, S_max, T"),
    ({"S": ["K + 0.1", "K - 0.1"]}, "sampling.refine[0].box.S", "empty interval [0.6, 0.4]"),
    ({"S": ["S_max + 1", "S_max + 2"]}, "sampling.refine[0].box.S", "does not overlap the domain [0, 1]"),
])
def test_bad_expression_boxes_are_one_line_at_the_cli(tmp_path, capsys, box, path, fragment):
    cfg = _bs_config(0.5)
    cfg["sampling"]["refine"][0]["box"] = box
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump(cfg))
    assert main(["run", str(config)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"pinnit: error: {path}") and fragment in lines[0], lines


def test_other_problems_parameters_are_usable_in_bounds(tmp_path):
    cfg = small_burgers(tmp_path)
    cfg["sampling"]["refine"] = [{"box": {"x": ["-4 * nu", "4 * nu"]}, "fraction": 0.1}]
    a = assemble(parse_config(cfg, ["problem.nu=0.05"]))
    assert a.loss.refine[0][0]["x"] == pytest.approx((-0.2, 0.2))


def test_declared_parameters_are_usable_in_bounds():
    cfg = yaml.safe_load((REPO / "configs" / "black_scholes_declared.yaml").read_text())
    cfg["problem"]["file"] = str(REPO / "problems" / "black_scholes.yaml")
    cfg["sampling"]["points"] = {"pde": 1000, "initial": 64, "boundary": 64}
    cfg["sampling"]["refine"] = [{"box": {"S": ["K - 0.1", "K + 0.1"]}, "fraction": 0.2}]
    a = assemble(parse_config(cfg, ["problem.parameters.K=0.3"]))
    assert a.loss.refine[0][0]["S"] == pytest.approx((0.2, 0.4))
