"""Panel layout shared by a study's figures: one panel per cell of the chosen axes (at most ``MAX_PANELS``,
an evenly spread subset beyond), titled by the cell's values with the axes' short names."""
from __future__ import annotations

import numpy as np

from .results import Study, value_label

MAX_PANELS = 16


def short_key(key: str, axes: list[str]) -> str:
    """``network.activation.a`` → ``a``; ``network.activation.name`` → ``activation``; two parts when ambiguous."""
    parts = key.split(".")
    if parts[-1] == "name" and len(parts) > 1:
        return parts[-2]
    last = parts[-1]
    return last if sum(a.rsplit(".", 1)[-1] == last for a in axes) == 1 else ".".join(key.split(".")[-2:])


def panel_title(study: Study, axes: list[str], values: tuple) -> str:
    return ", ".join(f"{short_key(a, study.axes)}={value_label(v)}" for a, v in zip(axes, values))


def cell_panels(study: Study, axes: list[str]) -> list[tuple]:
    found = list(dict.fromkeys(study.cell(r, axes) for r in study.runs))
    if len(found) > MAX_PANELS:  # an evenly spread subset, said in the title
        found = [found[i] for i in np.linspace(0, len(found) - 1, MAX_PANELS).round().astype(int)]
    return found


def figure_grid(plt, rows: int, cols: int, width: float = 3.8, height: float = 3.0, **kwargs):
    fig, axes = plt.subplots(rows, cols, figsize=(max(5.5, width * cols + 0.6), height * rows + 0.6),
                             squeeze=False, layout="constrained", **kwargs)
    return fig, axes
