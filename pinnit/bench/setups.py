"""The benchmark cases: DeepXDE's Burgers example and variations of its network and point counts.

Set-up (1) is DeepXDE's ``examples/pinn_forward/Burgers.py``: u_t + u·u_x − (0.01/π)·u_xx = 0 on
[−1, 1] × [0, 0.99], u(±1, t) = 0, u(x, 0) = −sin πx, an FNN 2 → 3×20 → 1 with tanh, 2540 domain,
80 boundary and 160 initial points, Adam lr 1e-3, equal weights, MSE. DeepXDE evaluates the PDE residual
on *all* its training points (domain ∪ boundary ∪ initial, 2780), so pinnit's PDE term gets those same
2780 points; the boundary and initial terms get their 80 and 160. Both sides read the points and the
initial weights from one file written here (drawn by pinnit's Sobol sampler and initializer, seed 0), so
the two losses are the same function of the same parameters.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..core.errors import PinnitError

NU = 0.01 / math.pi
T_END = 0.99  # DeepXDE's example: TimeDomain(0, 0.99)
POINTS = {"pde": 2540, "boundary": 80, "initial": 160}


@dataclass(frozen=True)
class BenchCase:
    """One row of the table: a network (depth × width, tanh) on Burgers with ``domain`` PDE points."""

    key: str
    group: str
    title: str
    depth: int
    width: int
    domain: int = POINTS["pde"]
    steps: int = 100
    deepxde: bool = True

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def pinnit_config(self, dtype: str, seed: int = 0, threads: int = 1, engine: str = "auto") -> dict[str, Any]:
        """The pinnit run config (configs/burgers.yaml schema) of this case; points are overwritten later."""
        return {
            "problem": {"name": "burgers", "nu": NU, "t_end": T_END},
            "network": {"width": self.width, "depth": self.depth, "activation": "tanh",
                        "initializer": {"name": "xavier_normal"}, "normalize_inputs": False},
            "sampling": {"sampler": "sobol", "resample_every": 0,
                         "points": {"pde": self.domain, "initial": POINTS["initial"],
                                    "boundary": POINTS["boundary"]}},
            "training": {"dtype": dtype, "device": "cpu", "seed": seed, "threads": threads, "derivatives": engine,
                         "weights": {"physics": 1.0, "initial": 1.0, "boundary": 1.0},
                         "adam": {"iterations": 10**9, "lr": 1e-3}, "lbfgs": {"iterations": 0},
                         "checkpoint_every": 0},
            "evaluation": {"every": 0},
            "output": {"plots": False, "progress": False},
        }


def _main_cases(steps: int | None) -> list[BenchCase]:
    return [BenchCase("1", "main", "(1) DeepXDE Burgers example, 3×20 tanh", 3, 20, steps=steps or 200),
            BenchCase("2", "main", "(2) deep net, 50×64 tanh", 50, 64, steps=steps or 20)]


def _scaling_cases(steps: int | None) -> list[BenchCase]:
    out = []
    for n, default in ((1_000, 100), (10_000, 20), (100_000, 3)):
        s = default if steps is None else max(1, min(steps, default))
        out.append(BenchCase(f"points-{n}", "scaling-points", f"3×20, {n} domain points", 3, 20, n, s))
    for depth, default in ((3, 100), (6, 60), (12, 30), (25, 15), (50, 8)):
        s = default if steps is None else max(1, min(steps, default))
        out.append(BenchCase(f"depth-{depth}", "scaling-depth", f"depth {depth}, width 20", depth, 20, steps=s,
                             deepxde=depth <= 12))
    return out


#: ``engines``, ``3``, ``4`` and ``tta`` have no DeepXDE cases: pinnit's derivative engines (:mod:`.engines`), its
#: quasi-Newton step (:mod:`.quasi_newton`), the DeepONet derivative modes (:mod:`.operator_step`) and the
#: time to accuracy of whole recipes (:mod:`.tta`).
SETUP_GROUPS = {"1": lambda s: _main_cases(s)[:1], "2": lambda s: _main_cases(s)[1:], "scaling": _scaling_cases,
                "engines": lambda s: [], "3": lambda s: [], "4": lambda s: [], "tta": lambda s: []}


def cases_for(setups: str, steps: int | None = None) -> list[BenchCase]:
    """Cases for a comma list such as ``"1,2,scaling"``; ``steps`` overrides the per-case defaults."""
    names = [s.strip() for s in setups.split(",") if s.strip()]
    bad = [s for s in names if s not in SETUP_GROUPS]
    if bad or not names:
        raise PinnitError(f"--setups: unknown set-up {', '.join(map(repr, bad)) or '(none)'}; "
                          f"valid: a comma list of {', '.join(SETUP_GROUPS)}")
    return [case for name in names for case in SETUP_GROUPS[name](steps)]


def write_case_data(case: BenchCase, path: Path, seed: int = 0) -> dict[str, np.ndarray]:
    """Draw the points and initial weights of ``case`` with pinnit (float64) and save them to ``path`` (npz).

    Keys: ``pde`` (domain ∪ boundary ∪ initial, DeepXDE's PDE points), ``boundary``, ``initial``,
    ``W{i}``/``b{i}`` for every linear layer (torch layout: out × in).
    """
    from ..runs import parse_config
    from ..runs.pipeline import assemble

    threads = torch.get_num_threads()
    a = assemble(parse_config(case.pinnit_config("float64", seed, threads)))
    pts = {k: v.detach().cpu().numpy() for k, v in a.loss.points.items()}
    # DeepXDE tells domain, boundary and initial points apart by their coordinates: move a domain point drawn on
    # or near a face, and a boundary or initial point drawn on a corner, 1e-4 inside (more than np.isclose's
    # tolerance, which both tools' checks use); both sides read the moved points
    lo, hi = np.array([-1.0, 0.0]) + 1e-4, np.array([1.0, T_END]) - 1e-4
    pts["pde"] = np.clip(pts["pde"], lo, hi)
    pts["boundary"][:, 1] = np.maximum(pts["boundary"][:, 1], 1e-4)
    pts["initial"][:, 0] = np.clip(pts["initial"][:, 0], lo[0], hi[0])
    arrays = {"pde": np.concatenate([pts["pde"], pts["boundary"], pts["initial"]]),
              "boundary": pts["boundary"], "initial": pts["initial"]}
    for i, layer in enumerate(a.model.net.layers):
        arrays[f"W{i}"] = layer.weight.detach().cpu().numpy()
        arrays[f"b{i}"] = layer.bias.detach().cpu().numpy()
    # DeepXDE tells boundary from initial points by the coordinates: make sure that split is unambiguous
    on_x_edge = np.isclose(np.abs(arrays["pde"][:, 0]), 1.0)
    on_t0 = np.isclose(arrays["pde"][:, 1], 0.0)
    if on_x_edge.sum() != POINTS["boundary"] or on_t0.sum() != POINTS["initial"] or (on_x_edge & on_t0).any():
        raise PinnitError("bench: the sampled points put a corner point in both the boundary and initial sets")
    np.savez(path, **arrays)
    return arrays


def load_case_data(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as data:
        return {k: data[k] for k in data.files}


def layer_arrays(data: dict[str, np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
    """[(W, b), …] of the saved network, input layer first."""
    n = sum(1 for k in data if k.startswith("W"))
    return [(data[f"W{i}"], data[f"b{i}"]) for i in range(n)]
