"""Cross-checks of a structurally valid config against the registries and the chosen problem."""
from __future__ import annotations

import math

from ..context import resolve_device
from ..errors import ConfigError, did_you_mean
from .schema import RunConfig

MAX_PARAMETERS = 50_000_000
MAX_GRID = 20_000_000


def validate_registries(cfg: RunConfig) -> None:
    """Raise a one-line :class:`ConfigError` for the first inconsistency found."""
    from ..problems import build_problem
    from ..problems.base import KINDS

    problem = build_problem(cfg.problem.model_dump(), "problem")
    if cfg.network.arch == "deeponet" or getattr(problem, "functions", None):
        from ..operators.validate import validate_operator

        validate_operator(cfg, problem, MAX_PARAMETERS)  # DeepONet, function batches, derivative mode
    else:
        _validate_mlp(cfg, problem)
    if cfg.evaluation.resolution is not None and math.prod(cfg.evaluation.resolution) > MAX_GRID:
        raise ConfigError("evaluation.resolution", f"{math.prod(cfg.evaluation.resolution):,} grid points; "
                                                   f"at most {MAX_GRID:,}")

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
            d_lo, d_hi = problem.domain[key]
            if not (max(lo, d_lo) < min(hi, d_hi)):
                raise ConfigError(path, f"[{lo}, {hi}] does not overlap the domain [{d_lo}, {d_hi}]")
    if sum(r.fraction for r in cfg.sampling.refine) >= 1:
        raise ConfigError("sampling.refine", "the fractions add up to 1 or more; the rest of the domain needs points")
    if cfg.evaluation.resolution is not None:
        problem.evaluation_axes(cfg.evaluation.resolution)
    from ..training.stages import resolve_stages

    resolve_stages(cfg)  # optimizer options, the older adam/lbfgs keys mixed with stages, nothing to train
    resolve_device(cfg.training.device)


def _validate_mlp(cfg: RunConfig, problem) -> None:
    from ..nn.activations import build_activation
    from ..nn.initializers import validate_initializer

    for key in ("layout", "features", "branch", "trunk"):  # set to a non-default value (dumped configs hold all)
        if getattr(cfg.network, key) != type(cfg.network).model_fields[key].default:
            raise ConfigError(f"network.{key}", "only used by network.arch: deeponet (a problem with function inputs)")
    build_activation(cfg.network.activation, "network.activation")
    validate_initializer(cfg.network.initializer, "network.initializer")
    n_params = cfg.network.parameter_count(len(problem.inputs), len(problem.outputs))
    if n_params > MAX_PARAMETERS:
        raise ConfigError("network", f"{n_params:,} parameters; at most {MAX_PARAMETERS:,} are supported "
                                     "(lower width, depth or widths)")
    _dry_build(cfg, problem)


def _dry_build(cfg: RunConfig, problem) -> None:
    """Build the network once on CPU so initializer errors (e.g. KGI bounds a > b) surface at load time."""
    import torch

    from ..nn.mlp import build_mlp

    box = problem.domain
    lo = torch.tensor([box[k][0] for k in problem.inputs], dtype=torch.float64)
    hi = torch.tensor([box[k][1] for k in problem.inputs], dtype=torch.float64)
    gen = torch.Generator().manual_seed(0)
    sample = lo + (hi - lo) * torch.rand(64, len(problem.inputs), generator=gen, dtype=torch.float64)
    build_mlp(len(problem.inputs), len(problem.outputs), cfg.network.hidden_widths(), cfg.network.activation,
              cfg.network.initializer, gen, lo.tolist(), hi.tolist(), sample=sample, dry_run=True)
