"""Bench results as ``bench.json`` (everything, for comparing commits) and ``bench.md`` (the table)."""
from __future__ import annotations

import datetime
import os
import platform
from pathlib import Path
from typing import Any

import torch

from ..core.version import __version__
from ..core.atomic_files import write_json, write_text


def machine_info(threads: int, commit: str | None) -> dict[str, Any]:
    """The bench's ``meta`` block; ``commit`` comes from the result's stamp (one git call)."""
    return {"date_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "git_commit": commit, "pinnit": __version__, "torch": torch.__version__,
            "python": platform.python_version(), "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(), "cpu_count": os.cpu_count(),
            "threads_per_side": threads, "device": "cpu", "load_average_start": list(os.getloadavg())}


def _fmt(x: float | None, digits: int = 2) -> str:
    return "—" if x is None else f"{x:.{digits}f}"


def _mem(side: dict | None) -> str:
    if side is None:
        return "—"
    return f"{side['peak_rss_mib']:.0f} (+{side['peak_rss_mib'] - side['setup_rss_mib']:.0f})"


def has_timings(result: dict[str, Any]) -> bool:
    """Whether the result holds anything besides the time-to-accuracy set-up (which has its own file)."""
    return bool(result.get("cases") or result.get("trajectory") or result.get("quasi_newton")
                or result.get("operator") or result.get("engines"))


def markdown(result: dict[str, Any]) -> str:
    tta = result.get("time_to_accuracy")
    if tta and not has_timings(result):
        from .tta_report import tta_markdown

        return "# pinnit bench\n\n" + tta_markdown(tta)
    m, s = result["meta"], result["settings"]
    dde = next((c["deepxde"]["versions"].get("deepxde") for c in result["cases"] if "deepxde" in c), None)
    lines = [
        "# pinnit bench", "",
        f"{m['date_utc']}, commit `{m['git_commit']}`, pinnit {m['pinnit']}, torch {m['torch']}"
        + (f", DeepXDE {dde} (PyTorch backend)" if dde else "") + f", Python {m['python']}.",
        f"CPU: {m['processor']}, {m['cpu_count']} cores, {s['threads']} torch thread(s) per side; "
        f"load average {', '.join(f'{x:.1f}' for x in m['load_average_start'])} at start, "
        f"{', '.join(f'{x:.1f}' for x in m['load_average_end'])} at end.",
        f"Float32 Adam steps; median of {s['repeats']} repeats after {s['warmup']} warm-up steps, the two "
        "sides alternating. Ratio = pinnit it/s ÷ DeepXDE it/s (> 1: pinnit faster).",
        f"Memory: {s['memory_method']}.", "",
        "| case | steps | pinnit it/s | DeepXDE it/s | ratio | pinnit ms/it | DeepXDE ms/it "
        "| pinnit peak RSS MiB (+steps) | DeepXDE peak RSS MiB (+steps) | pinnit engine | first step s "
        "(pinnit / DeepXDE) | compiled graphs (warm-up → end) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|",
    ]
    if not result["cases"]:
        lines = lines[:-2]
    for c in result["cases"]:
        p, d = c["pinnit"], c.get("deepxde")
        lines.append(f"| {c['case']['title']} | {p['steps_per_repeat']} | {_fmt(p['it_per_s'])} "
                     f"| {_fmt(d and d['it_per_s'])} | {_fmt(c['ratio'])} | {_fmt(p['ms_per_it'], 1)} "
                     f"| {_fmt(d and d['ms_per_it'], 1)} | {_mem(p)} | {_mem(d)} | {p.get('engine') or '—'} "
                     f"| {_fmt(p.get('first_step_s'), 1)} / {_fmt(d and d.get('first_step_s'), 1)} "
                     f"| {p.get('graphs_after_warmup')} → {p.get('graphs_at_end')} |")
    t = result.get("trajectory")
    if t:
        verdict = "PASSED" if t["passed"] else "FAILED"
        lines += ["", f"Loss-trajectory check (set-up 1, {t['dtype']}, same initial weights and points, "
                      f"{t['steps']} Adam steps): {verdict}; max relative difference of the losses "
                      f"{t['max_rel_diff']:.2e} (at step 0: {t['initial_rel_diff']:.2e}, at the end: "
                      f"{t['final_rel_diff']:.2e}; tolerance {t['tolerance']:.0e}); total loss "
                      f"{t['pinnit_total'][0]:.6g} → {t['pinnit_total'][-1]:.6g}."]
    if result.get("quasi_newton"):
        lines += _table("Set-up (3): one float64 quasi-Newton step (`optimizer.step(closure)`), Burgers, 4×20 tanh, "
                        "pinnit only:",
                        "| optimizer | max_iter | ms/step | evaluations/step | ms/evaluation | engine | first step s |",
                        "|---|---:|---:|---:|---:|---|---:|",
                        [f"| {r['optimizer']} | {r['max_iter']} | {r['ms_per_step']:.0f} | {r['evals_per_step']:.0f} "
                         f"| {r['ms_per_eval']:.1f} | {r['engine']} | {r['first_step_s']:.1f} |"
                         for r in result["quasi_newton"]])
    if result.get("operator"):
        lines += _table("Set-up (4): one Adam step of the Stokes PI-DeepONet (configs/stokes_deeponet_cpu.yaml) per "
                        "`training.derivatives`:",
                        "| derivatives | ms/step | × vs autograd | first step s |", "|---|---:|---:|---:|",
                        [f"| {r['derivatives']} | {r['ms_per_step']:.0f} | {_fmt(r['speedup_vs_autograd'])} "
                         f"| {r['first_step_s']:.1f} |" for r in result["operator"]])
    if result.get("engines"):
        lines += ["", "Derivative engines, one float32 Adam step of the Burgers PDE term (mean r², backward, Adam), "
                      "pinnit only:", "",
                  "| net | points | engine | ms/step | × vs autograd | loss rel. diff | first call s |",
                  "|---|---:|---|---:|---:|---:|---:|"]
        for r in result["engines"]:
            if "error" in r:
                lines.append(f"| {r['depth']}×{r['width']} | {r['points']} | {r['engine']} | failed: "
                             f"{r['error'].replace('|', '/')} | — | — | — |")
            else:
                lines.append(f"| {r['depth']}×{r['width']} | {r['points']} | {r['engine']} | {r['ms_per_step']:.1f} "
                             f"| {_fmt(r['speedup_vs_autograd'])} | {r['rel_loss_diff']:.1e} | {r['first_call_s']:.1f} |")
    if tta:
        from .tta_report import tta_markdown

        lines += ["", tta_markdown(tta).rstrip()]
    return "\n".join(lines) + "\n"


def write_reports(result: dict[str, Any], out: str | Path) -> list[Path]:
    """Write into ``out``: ``bench.json`` (without the time-to-accuracy part) and ``bench.md`` when there are
    timings, ``bench_scaling.png``/``.json`` with scaling cases, and ``time_to_accuracy.json`` with
    ``error_vs_time.png`` with the ``tta`` set-up; return the paths written (JSON and Markdown, figures left out)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    timings = {k: v for k, v in result.items() if k != "time_to_accuracy"}
    if has_timings(result):
        write_json(out / "bench.json", timings)
        written.append(out / "bench.json")
        from .scaling_plot import write_scaling

        write_scaling(result, out)  # bench_scaling.png/.json when the result has scaling cases
    write_text(out / "bench.md", markdown(result))
    written.append(out / "bench.md")
    if result.get("time_to_accuracy"):
        from .tta_report import write_tta

        written.insert(0, write_tta(result["time_to_accuracy"], out)[0])
    return written


def _table(intro: str, header: str, align: str, rows: list[str]) -> list[str]:
    """A Markdown table after a blank line and its one-line introduction."""
    return ["", intro, "", header, align, *rows]
