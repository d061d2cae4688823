"""Domains: boxes (one interval per input) and the regions of a box that loss terms sample."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

Box = dict[str, tuple[float, float]]


@dataclass(frozen=True)
class Region:
    """Where a term's points live: the box interior (no faces) or the union of faces of the box.

    Each face fixes some inputs to constants, e.g. ``({"t": 0.0},)`` for an initial condition or
    ``({"x": -1.0}, {"x": 1.0})`` for two walls. ``points`` gives fixed data points instead.
    """

    box: Box
    faces: tuple[dict[str, float], ...] = ()
    points: np.ndarray | None = field(default=None, compare=False)
