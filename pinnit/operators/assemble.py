"""Build the pieces of an operator run (problem with function inputs + ``network.arch: deeponet``)."""
from __future__ import annotations

from pathlib import Path

import torch

from ..config import RunConfig
from ..runtime.context import RunContext
from ..nn.deeponet import build_deeponet
from ..problems.base import Problem
from ..sampling.refine import refine_regions
from .evaluation import OperatorEvaluator
from ..training.loss import term_counts_and_weights
from .loss import OperatorLoss, OperatorModel, draw_points, the_function

#: held-out references are solved once per set of functions and kept here, under ``output.dir``
CACHE = Path(".cache") / "references"


def build_operator(cfg: RunConfig, ctx: RunContext, problem: Problem
                   ) -> tuple[OperatorModel, OperatorLoss, OperatorEvaluator]:
    """Functions and points (seeded), the DeepONet (initialised from the seed), the evaluator and references."""
    t, s = cfg.training, cfg.sampling
    refine = refine_regions(s.refine, problem)  # bounds may be expressions of the problem's parameters
    # functions and points first (the initialization sees them), then the network, then the loss on all three
    function = the_function(problem)
    train, test = function.sample(ctx.function_rng)
    terms = problem.loss_terms()
    counts, _ = term_counts_and_weights(terms, s.points, t.weights)
    initial = draw_points(problem, ctx, terms, counts, s.sampler, refine)
    box = problem.domain
    lower = [box[k][0] for k in problem.inputs] if cfg.network.normalize_inputs else None
    upper = [box[k][1] for k in problem.inputs] if cfg.network.normalize_inputs else None
    points = next(iter(initial.values())).detach().cpu().double()
    functions = torch.as_tensor(train[:256], dtype=torch.float64)
    net = build_deeponet(cfg.network, function.count, len(problem.inputs), len(problem.outputs),
                         ctx.init_generator, lower, upper, sample_functions=functions, sample_points=points)
    model = OperatorModel(net.to(device=ctx.device, dtype=ctx.dtype), problem)
    loss = OperatorLoss(problem, model, ctx, sampler=s.sampler, points=s.points, weights=t.weights, refine=refine,
                        function_batch=s.function_batch, derivatives=t.derivatives, functions=(train, test),
                        initial=initial)
    evaluator = OperatorEvaluator(problem, ctx, loss.function, loss.test_functions, cfg.evaluation.resolution,
                                  cfg.evaluation.functions, Path(cfg.output.dir) / CACHE)
    evaluator.record_initial(model, loss)
    return model, loss, evaluator
