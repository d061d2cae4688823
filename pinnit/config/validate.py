"""Cross-checks of a structurally valid config against the registries and the chosen problem."""
from __future__ import annotations

from ..context import resolve_device
from ..errors import ConfigError, did_you_mean
from .schema import RunConfig


def validate_registries(cfg: RunConfig) -> None:
    """Raise a one-line :class:`ConfigError` for the first inconsistency found."""
    from ..nn.activations import build_activation
    from ..nn.initializers import validate_initializer
    from ..problems import build_problem
    from ..problems.base import KINDS

    problem = build_problem(cfg.problem.model_dump(), "problem")
    build_activation(cfg.network.activation, "network.activation")
    validate_initializer(cfg.network.initializer, "network.initializer")

    names = [t.name for t in problem.terms()]
    for key in cfg.sampling.points:
        if key not in names:
            raise ConfigError(f"sampling.points.{key}", f"problem '{cfg.problem.name}' has no term '{key}'"
                              f"{did_you_mean(key, names)}; terms: {', '.join(names)}")
    for key in cfg.training.weights:
        if key not in names and key not in KINDS:
            valid = list(dict.fromkeys([*KINDS, *names]))
            raise ConfigError(f"training.weights.{key}", f"not a loss kind or term{did_you_mean(key, valid)}; "
                              f"valid: {', '.join(valid)}")
    for i, region in enumerate(cfg.sampling.refine):
        for key, (lo, hi) in region.box.items():
            path = f"sampling.refine[{i}].box.{key}"
            if key not in problem.inputs:
                raise ConfigError(path, f"not an input{did_you_mean(key, problem.inputs)}; inputs: {', '.join(problem.inputs)}")
            if not lo < hi:
                raise ConfigError(path, f"empty interval [{lo}, {hi}]; need lower < upper")
    if cfg.evaluation.resolution is not None:
        problem.evaluation_axes(cfg.evaluation.resolution)
    if cfg.training.adam.iterations + cfg.training.lbfgs.iterations == 0:
        raise ConfigError("training", "adam.iterations and lbfgs.iterations are both 0; nothing to train")
    resolve_device(cfg.training.device)
