"""The time-to-accuracy result as ``time_to_accuracy.json``, a Markdown table and ``error_vs_time.png``.

The figure has one colour per recipe (every seed drawn, thin, the legend naming the recipe once), the
relative L2 error on a log axis against wall-clock seconds, and the thresholds as dotted lines.
"""
from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from ..core.atomic_files import write_bytes, write_json
from ..core.stamp import stamp_line

JSON_FILE = "time_to_accuracy.json"
FIGURE_FILE = "error_vs_time.png"


def _seconds(x: float | None) -> str:
    return "not reached" if x is None else f"{x:.0f}" if x >= 10 else f"{x:.1f}"


def _error(x: float | None) -> str:
    return "—" if x is None else f"{x:.2e}"


def tta_markdown(result: dict[str, Any], with_stamp: bool = True) -> str:
    """A table: recipe, seeds, median seconds to each threshold, median final error and wall time (after a line
    with the stamp unless ``with_stamp`` is false, for a page that prints the stamp itself)."""
    keys = [f"{e:.0e}" for e in result["settings"]["thresholds"]]
    stamp = f"{stamp_line(result.get('stamp'))}; " if with_stamp else ""
    lines = [f"Time to accuracy ({stamp}{result['settings']['threads']} thread(s), "
             f"median over {result['settings']['seeds']} seed(s); seconds of wall time until the relative L2 error "
             "first goes below each level, read at the evaluation steps; the saved weights are the lowest-loss "
             "ones under training.restore_best):", "",
             "| recipe | seeds | " + " | ".join(f"s to {k}" for k in keys)
             + " | last evaluated rel. L2 | rel. L2 of the saved weights | wall s |",
             "|---|---:|" + "---:|" * len(keys) + "---:|---:|---:|"]
    for r in result["recipes"]:
        lines.append(f"| {r['recipe']} | {len(r['seeds'])} | "
                     + " | ".join(_seconds(r["median_seconds_to"][k]) for k in keys)
                     + f" | {_error(r['median_final_error'])} | {_error(r.get('median_run_error'))} "
                     f"| {_seconds(r['median_wall_time_s'])} |")
    return "\n".join(lines) + "\n"


def error_vs_time_figure(result: dict[str, Any]):
    """The matplotlib figure (Agg) of every seed's error curve, coloured by recipe."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.0, 4.4))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, r in enumerate(result["recipes"]):
        for j, seed in enumerate(r["seeds"]):
            if seed["curve"]:
                t, e = zip(*seed["curve"])
                ax.plot(t, e, color=colours[i % len(colours)], lw=1.4 if j == 0 else 0.9, alpha=1.0 if j == 0 else 0.6,
                        label=f"{r['recipe']} ({len(r['seeds'])} seed{'s' if len(r['seeds']) > 1 else ''})"
                        if j == 0 else None)
    for eps in result["settings"]["thresholds"]:
        ax.axhline(eps, color="0.6", lw=0.7, ls=":")
    ax.set_yscale("log")
    ax.set_xlabel("wall time (s)")
    ax.set_ylabel("relative L2 error")
    s = result.get("stamp") or {}
    ax.set_title(f"Error against time, {result['settings']['threads']} thread(s); "
                 f"torch {s.get('torch', '?')}, commit {(s.get('commit') or '?')[:7]}", fontsize=9)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def write_tta(result: dict[str, Any], out: str | Path) -> tuple[Path, Path]:
    """Write ``time_to_accuracy.json`` and ``error_vs_time.png`` into ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / JSON_FILE, result)
    fig = error_vs_time_figure(result)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    write_bytes(out / FIGURE_FILE, buf.getvalue())
    return out / JSON_FILE, out / FIGURE_FILE
