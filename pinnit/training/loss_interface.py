"""The Loss interface: what the trainer asks of a loss, whatever the run kind.

A loss holds the model it trains, its run context and its sampled points, and evaluates the weighted loss

    L(θ) = Σ_t λ_t · L_t(θ),    L_t = mean over the term's points (and functions) of residual²

(Raissi, Perdikaris & Karniadakis, "Physics-informed neural networks", 2019; for operators Wang, Wang &
Perdikaris, "Learning the solution operator of parametric PDEs with physics-informed DeepONets", 2021).
Every loss implements :meth:`term_losses`, :meth:`total`, :meth:`resample`, :meth:`set_dtype`,
:meth:`state` and :meth:`load_state`. Capabilities only some losses have are declared here with a neutral
default, so the trainer asks instead of testing the loss's type:

- :meth:`hold_batch` — one fixed batch for a closure chunk (losses that draw a new batch per call);
- :attr:`supports_residuals` / :meth:`residuals` — the residual vector r(θ) with ‖r‖² = L, for least-squares
  optimizers (Levenberg–Marquardt);
- :attr:`engine` / :attr:`engine_name` — a selectable derivative engine (``training.derivatives``), None without one;
- :meth:`fused_adam` — Adam's whole iteration as one compiled graph (None: the eager step runs).
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

if TYPE_CHECKING:
    from ..runtime.context import RunContext
    from ..derivatives.engine import LossEngine
    from .fused_adam import FusedAdam
    from .residuals import Residuals


class Loss(ABC):
    """The weighted loss of a model at its loss's current points; what :class:`~pinnit.training.Trainer` trains."""

    model: nn.Module
    ctx: RunContext
    #: λ per term name
    weights: dict[str, float]
    #: the current points of each term (collocation, boundary, data), as tensors in the context's dtype
    points: dict[str, torch.Tensor]
    #: ``training.derivatives`` this loss evaluates with; None when the loss has no choice of engine
    engine_name: str | None = None
    #: whether :meth:`residuals` gives the residual vector (least-squares optimizers need it)
    supports_residuals: bool = False

    # --- what every loss does --------------------------------------------------------------------------
    @abstractmethod
    def term_losses(self) -> dict[str, torch.Tensor]:
        """``{term: L_t}`` at the current points (one optimisation step's worth of data)."""

    def total(self, losses: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Σ_t λ_t · L_t."""
        return sum(self.weights[k] * v for k, v in losses.items())

    @abstractmethod
    def resample(self) -> None:
        """Draw fresh points for every term from the run's generator."""

    @abstractmethod
    def set_dtype(self, dtype: torch.dtype) -> None:
        """Points (and later draws) in ``dtype``: a stage switching float32 → float64."""

    @abstractmethod
    def state(self) -> dict[str, Any]:
        """Everything a checkpoint needs to continue the loss exactly (points, generator states)."""

    @abstractmethod
    def load_state(self, state: dict[str, Any]) -> None:
        """Back to a :meth:`state`."""

    # --- optional capabilities (neutral defaults) ----------------------------------------------------
    def hold_batch(self, hold: bool) -> None:
        """``True``: evaluate every call on one fixed batch until ``hold_batch(False)`` (a closure chunk).
        A loss whose data do not change between calls has nothing to hold."""

    def residuals(self) -> Residuals | None:
        """The residual vector r(θ) at the current points with ‖r‖² = the total loss; None without one."""
        return None

    @property
    def engine(self) -> LossEngine | None:
        """The selectable derivative engine (its ``active`` choice, ``notes``, ``state()``); None without one."""
        return None

    def resume_engine(self, saved: Mapping[str, Any]) -> None:
        """Continue on the engine a checkpoint records (``saved``), not choosing it again; nothing without one."""

    def fused_adam(self, optimizer: torch.optim.Optimizer, form: Callable[[torch.Tensor], torch.Tensor]
                   ) -> FusedAdam | None:
        """The compiled one-graph Adam iteration of ``optimizer`` on this loss, or None (the eager step runs)."""
        return None
