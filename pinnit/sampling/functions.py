"""Function inputs of an operator problem: a function of one input, known at sensors, drawn from a law.

A declared ``functions: {f: {argument: x, sensors: {count: 101, range: [0, 1]}, law: {kind: grf, ...},
train: 1000, test: 200}}`` becomes a :class:`FunctionInput`. The network's branch reads f at the sensors;
expressions read f at each point's ``argument`` coordinate, by cubic interpolation from the sensors (the
same function everywhere: what the branch sees is what the residuals use).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from .grf import GRF, spline_matrix


@dataclass(frozen=True)
class GRFLaw:
    """RBF-kernel Gaussian random field on the sensors' interval (DeepXDE's ``dde.data.GRF``)."""

    length_scale: float = 0.2
    variance: float = 1.0
    grid: int = 1000

    def sample(self, count: int, sensors: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        grf = GRF((float(sensors[0]), float(sensors[-1])), self.length_scale, self.variance, self.grid)
        return grf.sample(count, sensors, rng)


@dataclass(frozen=True)
class FunctionInput:
    """f(argument), represented by its values at ``sensors`` (equispaced, ascending)."""

    name: str
    argument: str
    sensors: np.ndarray = field(compare=False)
    law: GRFLaw
    train: int
    test: int

    @property
    def count(self) -> int:
        return len(self.sensors)

    def sample(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """(training functions, held-out functions) at the sensors, one draw of train + test fields."""
        values = self.law.sample(self.train + self.test, self.sensors, rng)
        return values[: self.train], values[self.train:]

    def interpolator(self, coords: torch.Tensor) -> torch.Tensor:
        """M (N × sensors): f at ``coords`` (N,) is ``F @ M.T`` for sensor values F (B × sensors)."""
        m = spline_matrix(self.sensors, coords.detach().cpu().double().numpy())
        return torch.as_tensor(m, dtype=coords.dtype, device=coords.device)

    def evaluate(self, values: np.ndarray, at: np.ndarray) -> np.ndarray:
        """f at points ``at`` for sensor values ``values`` (… × sensors) → (… × len(at))."""
        return np.asarray(values, float) @ spline_matrix(self.sensors, at).T
