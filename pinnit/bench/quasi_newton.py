"""Set-up (3): one float64 quasi-Newton step of pinnit's optimizers on Burgers (pinnit only).

Net 2 → 4×20 → 1 tanh, float64, the points of set-up (1) (2540 domain, 80 boundary, 160 initial), the loss
of ``pinnit run`` (all terms, ``training.derivatives`` as given). One step is ``optimizer.step(closure)`` of
``build_optimizer({"name": name, "max_iter": k}, params)`` (pinnit/training/optimizers): ``bfgs``, ``ssbfgs``,
``ssbroyden`` (DenseQuasiNewton, dense inverse Hessian, strong-Wolfe line search) and ``lbfgs``
(torch.optim.LBFGS). Every optimizer starts from the same weights; reported: ms per step (median over
repeats), loss evaluations per step and ms per evaluation (the derivative engine's share).
DeepXDE's L-BFGS is torch.optim.LBFGS too, so the ``lbfgs`` row is also DeepXDE's L-BFGS step minus its
bookkeeping; pinnit's engine speed-up shows in ms per evaluation.
"""
from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import torch

from .setups import BenchCase

OPTIMIZERS = ("bfgs", "ssbfgs", "ssbroyden", "lbfgs")


def time_quasi_newton(*, max_iter: int = 10, repeats: int = 3, threads: int = 1, engine: str = "auto",
                      optimizers=OPTIMIZERS, log: Callable[[str], None] = print) -> list[dict[str, Any]]:
    from ..runs import parse_config
    from ..runs.pipeline import assemble
    from ..derivatives.engine import resolve_engine
    from ..training.optimizers import build_optimizer

    case = BenchCase("3", "quasi-newton", "(3) float64 quasi-Newton step, 4×20 tanh", 4, 20)
    cfg = case.pinnit_config("float64", threads=threads, engine=engine)
    a = assemble(parse_config(cfg))
    a.loss.engine_name = resolve_engine(engine, 10**9)  # a training run's engine (assemble alone keeps autograd)
    torch.set_num_threads(threads)
    start = {k: v.detach().clone() for k, v in a.model.state_dict().items()}
    rows = []
    for name in optimizers:
        a.model.load_state_dict(start)
        opt = build_optimizer({"name": name, "max_iter": max_iter}, a.model.parameters())
        evals = [0]

        def closure():
            evals[0] += 1
            opt.zero_grad(set_to_none=True)
            total = a.loss.total(a.loss.term_losses())
            total.backward()
            return total

        t0 = time.perf_counter()
        opt.step(closure)  # the first step also discovers (and compiles) the loss engine
        first = time.perf_counter() - t0
        times, counts = [], []
        for _ in range(repeats):
            evals[0] = 0
            t0 = time.perf_counter()
            opt.step(closure)
            times.append(time.perf_counter() - t0)
            counts.append(evals[0])
        ms = 1000 * statistics.median(times)
        per_eval = statistics.median(1000 * t / max(c, 1) for t, c in zip(times, counts))
        row = {"optimizer": name, "max_iter": max_iter, "ms_per_step": ms, "evals_per_step": statistics.median(counts),
               "ms_per_eval": per_eval, "first_step_s": first, "engine": a.loss.engine.active,
               "repeats_ms": [1000 * t for t in times]}
        rows.append(row)
        log(f"  (3) {name}, max_iter {max_iter}: {ms:.0f} ms/step, {row['evals_per_step']:.0f} evaluations, "
            f"{per_eval:.1f} ms/evaluation ({row['engine']})")
    return rows
