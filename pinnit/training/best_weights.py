"""The weights of the lowest total loss seen so far (the run's ``best`` model, saved in every checkpoint)."""
from __future__ import annotations

from collections.abc import Callable

import torch

StateDict = dict[str, torch.Tensor]


class BestWeights:
    """A cloned state_dict, refreshed in place (no allocation per improving step unless the dtype changed), or
    a pending one: a fused step keeps its weights in its own buffer and they become a state_dict only when
    :attr:`weights` is read (checkpoints, the end of the run)."""

    def __init__(self) -> None:
        self._weights: StateDict | None = None
        self._pending: Callable[[], StateDict] | None = None

    @property
    def weights(self) -> StateDict | None:
        if self._pending is not None:
            self._weights, self._pending = self._pending(), None
        return self._weights

    @weights.setter
    def weights(self, weights: StateDict | None) -> None:
        self._weights, self._pending = weights, None

    def keep(self, current: StateDict) -> None:
        """Copy ``current`` (a model's state_dict)."""
        best = self.weights
        if best is None or best.keys() != current.keys() or any(best[k].dtype != v.dtype for k, v in current.items()):
            self.weights = {k: v.detach().clone() for k, v in current.items()}
        else:
            with torch.no_grad():
                for k, v in current.items():
                    best[k].copy_(v)

    def keep_later(self, materialize: Callable[[], StateDict]) -> None:
        """Keep what ``materialize()`` will return when the weights are asked for (it must copy)."""
        self._weights, self._pending = None, materialize
