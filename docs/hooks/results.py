"""mkdocs hook: the measured-results pages, rendered at build time from the JSON files in ``docs/results/``.

- ``reference/benchmarks.md``: ``results/bench.json``, as ``pinnit bench`` writes it in its ``--out`` (and
  ``results/bench_scaling.png`` if there);
- ``reference/accuracy.md``: ``results/time_to_accuracy.json`` (``pinnit bench --setups tta``) with
  ``results/error_vs_time.png``, then each ``results/time_to_accuracy_<label>.json`` with its
  ``error_vs_time_<label>.png`` under a heading <label>, and one table per ``results/runs/<name>.json`` (a run's
  ``metrics.json``); ``results/stokes_optimizers.json`` with ``stokes_optimizers.png``
  (``benchmarks/optimizers_stokes.py``).

Every table is preceded by the stamp its file carries (date, machine, torch version, commit: see
:mod:`pinnit.core.stamp`), so no number appears without where and when it was measured. A missing file is
said on the page instead of a table. Nothing here is hand-copied: to update a page, copy a newer result over
the file (``cp outputs/bench/bench.json docs/results/``) and rebuild.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

RESULTS = "results"
HOW_TO = """\
!!! note "Where these numbers come from"
    Generated at build time from the JSON files under `docs/results/` in the repository; each table says when,
    on which machine, with which torch and at which commit it was measured. To replace a result, run the
    command named above its table and copy its file over the one in `docs/results/`: see
    [publishing results to the docs](../guides/bench.md#publishing-results-to-the-docs).
"""


def _load(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None


def _missing(rel: str) -> str:
    return f"*No results file `docs/{RESULTS}/{rel}` in this build: nothing measured to show.*\n"


def _stamp(data: dict[str, Any], rel: str) -> str:
    from pinnit.core.stamp import stamp_line

    line = stamp_line(data.get("stamp"))
    return f"*{line[0].upper() + line[1:]}* — source: `docs/{RESULTS}/{rel}`.\n"


def benchmarks_page(results: Path) -> str:
    """The page of ``bench.json``: the stamp, then the tables of ``pinnit bench``'s own Markdown report."""
    from pinnit.bench.report import has_timings, markdown

    out = ["# Benchmarks (measured)", "",
           "pinnit against DeepXDE (PyTorch backend) on identical Burgers set-ups, and pinnit's own set-ups; "
           "what each set-up is and how it is timed: [Benchmarks (pinnit bench)](../guides/bench.md).", "",
           HOW_TO]
    data = _load(results / "bench.json")
    out += ["## pinnit bench", ""]
    if data is None:
        out.append(_missing("bench.json"))
    elif not has_timings(data):
        out += [_stamp(data, "bench.json"), "", "*The file holds no timed set-up.*", ""]
    else:
        body = markdown(data).split("\n", 2)[2]  # without its "# pinnit bench" title
        st = data["settings"]
        cmd = (f"pinnit bench --setups {st['setups']} --repeats {st['repeats']} --warmup {st['warmup']} "
               f"--threads {st['threads']} --engine {st['engine']}")
        out += [_stamp(data, "bench.json"), "", f"Command: `{cmd}`.", "", body]
        if (results / "bench_scaling.png").is_file():  # written with bench.json by the scaling set-up
            out += ["", f"![ms per Adam step against points and depth](../{RESULTS}/bench_scaling.png)", "",
                    f"Figure: `docs/{RESULTS}/bench_scaling.png`, written with the JSON above.", ""]
    return "\n".join(out)


def _iterations(value: Any) -> str:
    if isinstance(value, dict):
        return " + ".join(f"{k} {v}" for k, v in value.items())
    return "—" if value is None else str(value)


def _num(x: Any) -> str:
    return f"{x:.3g}" if isinstance(x, float) else str(x)


def run_table(name: str, m: dict[str, Any], rel: str) -> list[str]:
    """One run's ``metrics.json``: its errors (every top-level ``rel_l2_*``, ``max_abs*`` and ``*error*``
    number), iterations, wall time and set-up, under its stamp."""
    errors = {k: v for k, v in m.items() if isinstance(v, (int, float)) and not isinstance(v, bool)
              and (k.startswith(("rel_l2", "max_abs")) or "error" in k)}
    head = ["status", *errors, "iterations", "wall time s", "threads", "dtype", "seed", "parameters"]
    row = [str(m.get("status", "—")), *(_num(v) for v in errors.values()), _iterations(m.get("iterations")),
           _num(m.get("wall_time_s")), str(m.get("threads", "—")), str(m.get("dtype", "—")), str(m.get("seed", "—")),
           str(m.get("parameters", "—"))]
    return [f"### {name}", "", _stamp(m, rel), "",
            "| " + " | ".join(f"`{h}`" if h in errors else h for h in head) + " |",
            "|" + "---|" * len(head), "| " + " | ".join(row) + " |", ""]


def operator_optimizers(results: Path) -> list[str]:
    """``stokes_optimizers.json`` (``benchmarks/optimizers_stokes.py``'s summary.json) and its figure: the held-out
    error of each way to train the Stokes PI-DeepONet after the same training time."""
    rel = "stokes_optimizers.json"
    out = ["## Operator learning: optimizers against training time", ""]
    data = _load(results / rel)
    if data is None:
        return out + [_missing(rel)]
    out += [_stamp(data, rel), "",
            f"Command: `python benchmarks/optimizers_stokes.py --budget {data['budget_s']:g} --seed {data['seed']}` "
            f"(`{data['config']}`, 1 thread; held-out relative L2 on 200 lids, p up to a constant).", "",
            "| recipe | training s | iterations | u | v | p | mean | lowest mean (at s) |", "|---|---|---|---|---|---|---|---|"]
    for r in data["recipes"].values():
        last, its = r["last"], ", ".join(f"{k} {v}" for k, v in r["iterations"].items())
        out.append(f"| {r['label']} | {r['train_s']:g} | {its} | {last['u']:.3f} | {last['v']:.3f} | {last['p']:.3f} | "
                   f"{last['mean']:.3f} | {r['best']['mean']:.3f} ({r['best_at_s']:g}) |")
    out.append("")
    if (results / "stokes_optimizers.png").is_file():
        out += [f"![Held-out error against training time, one colour per recipe](../{RESULTS}/stokes_optimizers.png)",
                "", f"Figure: `docs/{RESULTS}/stokes_optimizers.png`, written with the JSON above.", ""]
    return out


def accuracy_page(results: Path) -> str:
    """The page of ``time_to_accuracy.json`` (+ its figure) and of every ``runs/*.json``."""
    from pinnit.bench.tta_report import tta_markdown

    out = ["# Accuracy and time to accuracy (measured)", "",
           "The relative L2 error ‖u − u_ref‖₂ / ‖u_ref‖₂ against each problem's reference solution on its "
           "evaluation grid; recipes and how they are built: "
           "[Stages and quasi-Newton optimizers](../design/quasi-newton.md).", "", HOW_TO,
           "## Time to accuracy", ""]
    # time_to_accuracy.json, then time_to_accuracy_<label>.json (+ error_vs_time_<label>.png): further tta runs,
    # e.g. at another thread count
    for path in [results / "time_to_accuracy.json", *sorted(results.glob("time_to_accuracy_*.json"))]:
        data = _load(path)
        if data is None:  # only the main file can be missing (the others are found by glob)
            out.append(_missing(path.name))
            continue
        label = path.stem[len("time_to_accuracy"):]
        if label:
            out += [f"### {label.strip('_').replace('_', ' ')}", ""]
        settings = data["settings"]
        cmd = (f"pinnit bench --setups tta --recipes {','.join(settings['recipes'])} --seeds {settings['seeds']} "
               f"--threads {settings['threads']}" + (f" --eval-every {settings['eval_every']}"
                                                     if settings.get("eval_every") else ""))
        out += [_stamp(data, path.name), "", f"Command: `{cmd}`.", "", tta_markdown(data, with_stamp=False), ""]
        figure = f"error_vs_time{label}.png"
        if (results / figure).is_file():
            out += [f"![Relative L2 error against wall time, one colour per recipe](../{RESULTS}/{figure})",
                    "", f"Figure: `docs/{RESULTS}/{figure}`, written with the JSON above.", ""]
    out += operator_optimizers(results)
    out += ["## Reference runs", "",
            "One `metrics.json` of `pinnit run` per file; the file name names the run.", ""]
    runs = sorted((results / "runs").glob("*.json")) if (results / "runs").is_dir() else []
    if not runs:
        out.append(_missing("runs/*.json"))
    for path in runs:
        out += run_table(path.stem, json.loads(path.read_text(encoding="utf-8")), f"runs/{path.name}")
    return "\n".join(out)


def on_files(files, config):
    from mkdocs.structure.files import File

    results = Path(config["docs_dir"]) / RESULTS
    for path, text in (("reference/benchmarks.md", benchmarks_page(results)),
                       ("reference/accuracy.md", accuracy_page(results))):
        files.append(File.generated(config, path, content=text))
    return files
