"""Config checks of an operator run: a problem with one function input and ``network.arch: deeponet``."""
from __future__ import annotations

import torch

from ..config.schema import RunConfig
from ..core.errors import ConfigError
from ..problems.base import Problem
from .loss import the_function


def validate_operator(cfg: RunConfig, problem: Problem, max_parameters: int) -> None:
    """One-line errors for a DeepONet without function inputs (or the reverse), a dense quasi-Newton stage on
    too many parameters, and bad sub-nets. Closure optimizers (L-BFGS, BFGS, SSBFGS, SSBroyden) run on one
    function batch per chunk (:meth:`~pinnit.operators.loss.OperatorLoss.hold_batch`), stages in any dtype."""
    from ..nn.deeponet import build_deeponet, deeponet_parameter_count

    net = cfg.network
    if not problem.functions:
        raise ConfigError("network.arch", f"deeponet needs a problem with function inputs (problem.functions); "
                                          f"'{cfg.problem.name}' has none: use arch: mlp")
    if net.arch != "deeponet":
        raise ConfigError("network.arch", f"the problem has function inputs ({', '.join(problem.functions)}); "
                                          "use arch: deeponet")
    fn = the_function(problem)
    check_jet(cfg, problem)
    n_params = deeponet_parameter_count(net, fn.count, len(problem.inputs), len(problem.outputs))
    if n_params > max_parameters:
        raise ConfigError("network", f"{n_params:,} parameters; at most {max_parameters:,} are supported")
    check_dense_stages(cfg, n_params)
    gen = torch.Generator().manual_seed(0)
    lo = torch.tensor([problem.domain[k][0] for k in problem.inputs], dtype=torch.float64)
    hi = torch.tensor([problem.domain[k][1] for k in problem.inputs], dtype=torch.float64)
    points = lo + (hi - lo) * torch.rand(64, len(problem.inputs), generator=gen, dtype=torch.float64)
    functions = torch.randn(16, fn.count, generator=gen, dtype=torch.float64)
    build_deeponet(net, fn.count, len(problem.inputs), len(problem.outputs), gen, lo.tolist(), hi.tolist(),
                   sample_functions=functions, sample_points=points)


def check_dense_stages(cfg: RunConfig, n_params: int) -> None:
    """A dense quasi-Newton stage (an n × n inverse Hessian) needs the DeepONet's parameter count within its
    ``max_params``: refused here, before any solve, with one line naming the key and the count. Residual-vector
    methods run (Levenberg–Marquardt: matrix-free above its ``max_params``; ``lstsq_last``: one exact solve per
    chunk, so ``chunk: 1`` when it has several iterations)."""
    from ..training.optimizers import OPTIMIZERS
    from ..training.residuals import check_one_solve_per_chunk
    from ..training.stages import resolve_stages

    for stage in resolve_stages(cfg):
        if stage.iterations:
            check_one_solve_per_chunk(stage)
        if getattr(OPTIMIZERS.get(stage.optimizer), "needs_residuals", False):
            continue  # max_params only chooses LM's dense or matrix-free path
        limit = stage.options.get("max_params")
        if stage.iterations and limit is not None and n_params > limit:
            raise ConfigError(f"training.stages.{stage.name}.max_params",
                              f"'{stage.optimizer}' keeps a dense {n_params:,} × {n_params:,} inverse Hessian: this "
                              f"DeepONet has {n_params:,} parameters, above max_params={limit:,}; use lbfgs, a "
                              "smaller network, or raise max_params")


def check_jet(cfg: RunConfig, problem: Problem) -> None:
    """Jets need the output transform's symbolic derivatives (a transform given as expressions) and elementwise
    MLPs."""
    if cfg.training.derivatives == "jets" and problem.hard_constraints and problem.symbolic_transform() is None:
        raise ConfigError("training.derivatives", "jets needs an output transform given as expressions (a declared "
                                                  "problem's output_transform) or hard_constraints: false; use zcs")
