"""Cross-checks of a structurally valid config against the registries and the chosen problem."""
from __future__ import annotations

import math

from ..runtime.context import resolve_device
from ..core.errors import ConfigError, did_you_mean
from ..sampling.refine import refine_regions
from ..config.schema import RunConfig

MAX_PARAMETERS = 50_000_000
MAX_GRID = 20_000_000


def validate_registries(cfg: RunConfig) -> None:
    """Raise a one-line :class:`ConfigError` for the first inconsistency found."""
    from ..problems import build_problem
    from ..problems.base import KINDS

    problem = build_problem(cfg.problem.model_dump(), "problem")
    operator = cfg.network.arch == "deeponet" or bool(problem.functions)
    _refuse_keys_of_the_other_kind(cfg, operator)
    _check_derivatives(cfg, operator)
    if operator:
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
    refine_regions(cfg.sampling.refine, problem)  # expression bounds, inputs, overlap with the domain
    _validate_adaptive(cfg, problem)
    if cfg.evaluation.resolution is not None:
        problem.evaluation_axes(cfg.evaluation.resolution)
    from ..training.stages import resolve_stages

    resolve_stages(cfg)  # optimizer options, nothing to train
    resolve_device(cfg.training.device)


#: keys only operator runs read
_OPERATOR_ONLY = ("sampling.function_batch", "evaluation.functions")
_KINDS = {True: "an operator run (a problem with function inputs)", False: "a PINN run (a problem without function "
                                                                           "inputs)"}


def _refuse_keys_of_the_other_kind(cfg: RunConfig, operator: bool) -> None:
    """A key only the other kind of run reads is an error naming it, unless it holds its default (a resolved
    config.yaml holds every key)."""
    for key in () if operator else _OPERATOR_ONLY:
        section, name = key.split(".")
        model = getattr(cfg, section)
        value = getattr(model, name)
        if value == type(model).model_fields[name].default:
            continue
        raise ConfigError(key, f"{value!r} is not used by {_KINDS[operator]}: only operator runs read it; remove it")


def _check_derivatives(cfg: RunConfig, operator: bool) -> None:
    """``training.derivatives`` takes the values of the run's kind (PINN: the loss engines; operator: the
    Cartesian modes); another is a one-line error naming the key and the values that apply."""
    from ..derivatives.cartesian_fields import MODES
    from ..derivatives.engine import ENGINES

    value, valid = cfg.training.derivatives, MODES if operator else ENGINES
    if value not in valid:
        raise ConfigError("training.derivatives", f"{value!r} does not apply to {_KINDS[operator]}; valid: "
                                                  f"{', '.join(valid)}")


def _validate_adaptive(cfg: RunConfig, problem) -> None:
    """``sampling.adaptive``: keys that fit the method, a pool large enough for one draw, MLP problems only."""
    a, path = cfg.sampling.adaptive, "sampling.adaptive"
    if a.method == "none":
        for key in ("k", "c", "candidates", "add", "max_points"):
            if getattr(a, key) is not None:
                raise ConfigError(f"{path}.{key}", "only used when sampling.adaptive.method is rad or rar_d")
        return
    if problem.functions:
        raise ConfigError(f"{path}.method", "adaptive sampling is not supported for operator problems "
                                            "(function inputs); use none")
    for key in ("add", "max_points"):
        if a.method != "rar_d" and getattr(a, key) is not None:
            raise ConfigError(f"{path}.{key}", "only used by method rar_d")
    if a.method == "rar_d" and a.add is None:
        raise ConfigError(f"{path}.add", "rar_d needs the number of points added per resample, e.g. add: 500")
    if a.candidates is not None:
        counts = {t.name: cfg.sampling.points.get(t.name, t.points) for t in problem.loss_terms()
                  if t.kind == "physics" and t.region.points is None}
        need = a.add if a.method == "rar_d" else max(counts.values(), default=0)
        if a.candidates < need:
            what = "add" if a.method == "rar_d" else "the largest physics term's points"
            raise ConfigError(f"{path}.candidates", f"{a.candidates} candidates cannot supply {need} points "
                                                    f"({what}) per resample; use at least {need}")


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
