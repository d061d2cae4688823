"""The scaling curves of ``pinnit bench``: ms per Adam step against collocation points and against depth.

Reads the ``scaling-points`` and ``scaling-depth`` cases of a bench result and writes ``bench_scaling.png``
(two log-log panels, pinnit and DeepXDE) and ``bench_scaling.json`` (the plotted numbers).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ..outputs.plots import pyplot, save_figure
from ..core.atomic_files import write_json

PANELS = (("scaling-points", "domain", "domain points (PDE term: + 240 face points)", "3×20 tanh"),
          ("scaling-depth", "depth", "hidden layers (width 20)", "2540 domain points"))


def scaling_series(result: dict[str, Any]) -> dict[str, dict[str, list]]:
    """{group: {"x": [...], "pinnit_ms": [...], "deepxde_ms": [... or None]}} from the bench cases."""
    out: dict[str, dict[str, list]] = {}
    for group, key, _, _ in PANELS:
        cases = sorted((c for c in result["cases"] if c["case"]["group"] == group), key=lambda c: c["case"][key])
        if cases:
            out[group] = {"x": [c["case"][key] for c in cases],
                          "pinnit_ms": [c["pinnit"]["ms_per_it"] for c in cases],
                          "deepxde_ms": [c["deepxde"]["ms_per_it"] if c.get("deepxde") else None for c in cases],
                          "pinnit_engine": [c["pinnit"].get("engine") for c in cases]}
    return out


def write_scaling(result: dict[str, Any], out: str | Path) -> tuple[Path, Path] | None:
    """Write the figure and its JSON next to bench.json; None when the result has no scaling cases."""
    series = scaling_series(result)
    if not series:
        return None
    out = Path(out)
    plt = pyplot()
    from matplotlib.ticker import NullFormatter
    fig, axes = plt.subplots(1, len(series), figsize=(5.2 * len(series), 4.0), squeeze=False)
    threads = result["settings"]["threads"]
    for ax, (group, _, xlabel, fixed) in zip(axes[0], (p for p in PANELS if p[0] in series)):
        s = series[group]
        ax.loglog(s["x"], s["pinnit_ms"], "o-", label=f"pinnit ({s['pinnit_engine'][0]})")
        pairs = [(x, y) for x, y in zip(s["x"], s["deepxde_ms"]) if y is not None]
        if pairs:
            ax.loglog(*zip(*pairs), "s--", label="DeepXDE (PyTorch)")
        ax.set_xticks(s["x"], [f"{v:,}" for v in s["x"]])  # the measured sizes, plainly (no 3×10⁰ minor labels)
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel(xlabel)
        ax.set_ylabel("time per Adam step [ms]")
        ax.set_title(f"Burgers, {fixed}, float32, {threads} thread(s)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    fig.tight_layout()
    png = out / "bench_scaling.png"
    save_figure(fig, png)
    js = out / "bench_scaling.json"
    write_json(js, {"threads": threads, "unit": "ms per Adam step (median of repeats)", **series})
    return png, js
