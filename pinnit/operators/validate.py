"""Config checks of an operator run: a problem with one function input and ``network.arch: deeponet``."""
from __future__ import annotations

import torch

from ..config.schema import RunConfig
from ..errors import ConfigError
from ..problems.base import Problem
from .loss import the_function


def validate_operator(cfg: RunConfig, problem: Problem, max_parameters: int) -> None:
    """One-line errors for a DeepONet without function inputs (or the reverse), L-BFGS, and bad sub-nets."""
    from ..nn.deeponet import build_deeponet, deeponet_parameter_count

    net = cfg.network
    if not getattr(problem, "functions", None):
        raise ConfigError("network.arch", f"deeponet needs a problem with function inputs (problem.functions); "
                                          f"'{cfg.problem.name}' has none: use arch: mlp")
    if net.arch != "deeponet":
        raise ConfigError("network.arch", f"the problem has function inputs ({', '.join(problem.functions)}); "
                                          "use arch: deeponet")
    fn = the_function(problem)
    if cfg.training.lbfgs.iterations:
        raise ConfigError("training.lbfgs.iterations", "operator runs train with Adam on a new function batch "
                                                       "each step; L-BFGS is not supported (set 0)")
    if cfg.training.stages is not None:
        from ..training.stages import resolve_stages

        for stage in resolve_stages(cfg):
            if stage.closure and stage.iterations:
                raise ConfigError(f"training.stages.{stage.name}", f"operator runs train on a new function batch "
                                  f"each step; the closure optimizer '{stage.optimizer}' is not supported (use a "
                                  "first-order one such as adam)")
            if stage.dtype != cfg.training.dtype:
                raise ConfigError(f"training.stages.{stage.name}.dtype", "operator runs keep one dtype (training.dtype)")
    check_jet(cfg, problem)
    n_params = deeponet_parameter_count(net, fn.count, len(problem.inputs), len(problem.outputs))
    if n_params > max_parameters:
        raise ConfigError("network", f"{n_params:,} parameters; at most {max_parameters:,} are supported")
    gen = torch.Generator().manual_seed(0)
    lo = torch.tensor([problem.domain[k][0] for k in problem.inputs], dtype=torch.float64)
    hi = torch.tensor([problem.domain[k][1] for k in problem.inputs], dtype=torch.float64)
    points = lo + (hi - lo) * torch.rand(64, len(problem.inputs), generator=gen, dtype=torch.float64)
    functions = torch.randn(16, fn.count, generator=gen, dtype=torch.float64)
    build_deeponet(net, fn.count, len(problem.inputs), len(problem.outputs), gen, lo.tolist(), hi.tolist(),
                   sample_functions=functions, sample_points=points)


def check_jet(cfg: RunConfig, problem: Problem) -> None:
    """Jets need the output transform's symbolic derivatives (a declared transform) and elementwise MLPs."""
    if cfg.training.derivatives == "jet" and problem.hard_constraints \
            and not hasattr(problem, "transform_derivative"):
        raise ConfigError("training.derivatives", "jet needs a declared output transform (problem: declared) or "
                                                  "hard_constraints: false; use zcs")
