"""Viscous Burgers equation (DeepXDE's example; the PINN benchmark of Lee 2026 and of the RePU paper)."""
from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import torch
from pydantic import PositiveFloat

from ..derivatives.fields import Fields
from ..geometry.regions import Box, Region
from .base import Problem, Term, register_problem


@register_problem("burgers")
class Burgers(Problem):
    """Viscous Burgers u_t + u·u_x − ν·u_xx = 0 on [−1,1]×[0,T], u(x,0) = −sin πx, u(±1,t) = 0.

    Reference: exact Cole–Hopf solution (Gauss–Hermite quadrature), validated against DeepXDE's
    Burgers.npz. Hard constraints: u = −sin(πx) + t·(1 − x²)·N(x, t).
    """

    inputs = ("x", "t")
    outputs = ("u",)
    hard_terms = ("initial", "boundary")
    time_input = "t"

    def __init__(self, *, nu: PositiveFloat = 0.01 / math.pi, t_end: PositiveFloat = 1.0):
        self.nu = nu
        self.t_end = t_end

    @property
    def domain(self) -> Box:
        return {"x": (-1.0, 1.0), "t": (0.0, self.t_end)}

    def evaluation_box(self) -> Box:
        # the standard 256 × 100 grid stops at t = 0.99 (DeepXDE's Burgers.npz)
        return {"x": (-1.0, 1.0), "t": (0.0, 0.99 * self.t_end)}

    def default_resolution(self) -> list[int]:
        return [256, 100]

    def terms(self) -> list[Term]:
        box = self.domain
        nu = self.nu

        def pde(f: Fields) -> torch.Tensor:
            return f["u_t"] + f["u"] * f["u_x"] - nu * f["u_xx"]

        def initial(f: Fields) -> torch.Tensor:
            return f["u"] + torch.sin(math.pi * f["x"])

        def boundary(f: Fields) -> torch.Tensor:
            return f["u"]

        return [
            Term("pde", "physics", Region(box), pde, points=2540),
            Term("initial", "initial", Region(box, ({"t": 0.0},)), initial, points=160),
            Term("boundary", "boundary", Region(box, ({"x": -1.0}, {"x": 1.0})), boundary, points=80),
        ]

    def transform_expressions(self) -> dict[str, str]:
        return {"u": "-sin(pi*x) + t*(1 - x^2)*u"}  # u on the right: the raw network output N

    def reference(self, axes: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        from ..references.burgers import burgers_exact

        return {"u": burgers_exact(axes["x"], axes["t"], nu=self.nu)}
