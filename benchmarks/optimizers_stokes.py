"""Error against training time of four ways to train the Stokes PI-DeepONet (issue 23).

Each recipe is ``pinnit run`` of ``--config`` (default: configs/stokes_deeponet_cpu.yaml, seed 0) with its stages
replaced, stopped by ``training.time_limit_s`` after ``--budget`` seconds of training (evaluations excluded):

- **adam**: the recipe's Adam (lr 3e-3, inverse-time decay) for the whole budget;
- **adam_lbfgs**: the recipe's 3000 Adam steps, then L-BFGS in float64 (strong Wolfe line search), 100 iterations
  per chunk on one held function-and-point batch, a new batch per chunk (Liu & Nocedal 1989);
- **ls_hybrid**: 1500 Adam steps, then blocks of an exact least-squares solve for the DeepONets' last layer over
  all training lids (``lstsq_last``) and 500 Adam steps, the Adam lr continuing the recipe's decay (Choi, Lee &
  Moon, "Hybrid least squares/gradient descent methods for DeepONets", 2025);
- **adam_lm**: the recipe's 3000 Adam steps, then Levenberg–Marquardt in float64, its step solved matrix-free by
  CG (at most ``--cg`` iterations), 10 iterations per held batch.

Every run is scored on the recipe's 200 held-out lids (mean relative L2 over u, v and p, p up to a constant,
against pinnit's finite-difference solver) every ``every`` steps of that recipe. Writes the runs, ``curves.csv``,
``summary.json`` and ``error_vs_time_stokes.png`` to ``--out``:

    python benchmarks/optimizers_stokes.py --budget 300 --seed 0
"""
from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ADAM = {"optimizer": "adam", "lr": 3.0e-3, "schedule": {"kind": "inverse_time", "decay_steps": 1000, "decay_rate": 0.5}}
FOREVER = 10**7
LABELS = {"adam": "Adam", "adam_lbfgs": "Adam → L-BFGS (float64)", "ls_hybrid": "Adam ⇄ last-layer least squares",
          "adam_lm": "Adam → Levenberg–Marquardt (CG, float64)"}
FIELDS = ("mean", "u", "v", "p")


def adam_from(step: int, iterations: int) -> dict:
    """Adam continuing the recipe's inverse-time decay lr₀/(1 + 0.5·t/1000) from global step ``step``."""
    scale = 1 + 0.5 * step / 1000
    return {**ADAM, "iterations": iterations, "lr": 3.0e-3 / scale,
            "schedule": {"kind": "inverse_time", "decay_steps": 1000, "decay_rate": 0.5 / scale}}


def recipes(cg: int) -> dict[str, tuple[dict, int]]:
    """name → (training.stages, evaluation.every)."""
    hybrid = {"adam": adam_from(0, 1500)}
    for k in range(200):  # more blocks than any budget here reaches
        hybrid[f"ls{k}"] = {"optimizer": "lstsq_last", "iterations": 1, "functions": "all", "damping": 1.0e-6}
        hybrid[f"adam{k}"] = adam_from(1500 + 500 * k, 500)
    return {
        "adam": ({"adam": {**ADAM, "iterations": FOREVER}}, 250),
        "adam_lbfgs": ({"adam": {**ADAM, "iterations": 3000},
                        "lbfgs": {"iterations": FOREVER, "chunk": 100, "dtype": "float64"}}, 100),
        "ls_hybrid": (hybrid, 250),
        "adam_lm": ({"adam": {**ADAM, "iterations": 3000},
                     "lm": {"optimizer": "levenberg_marquardt", "iterations": FOREVER, "chunk": 10,
                            "dtype": "float64", "cg_max_iter": cg}}, 10),
    }


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", default=str(REPO / "configs" / "stokes_deeponet_cpu.yaml"))
    p.add_argument("--budget", type=float, default=300.0, help="training seconds per recipe")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cg", type=int, default=50, help="Levenberg–Marquardt: CG iterations per step at most")
    p.add_argument("--recipes", nargs="+", default=list(LABELS), choices=list(LABELS))
    p.add_argument("--out", default=str(REPO / "outputs" / "bench_stokes"))
    p.add_argument("--replot", action="store_true", help="only redraw the figure from --out's runs")
    return p.parse_args()


def run_dir_of(out: Path, name: str, seed: int) -> Path:
    return out / f"{name}-seed{seed}"


def train(name: str, stages: dict, every: int, args: argparse.Namespace, out: Path) -> Path:
    run_dir = run_dir_of(out, name, args.seed)
    cmd = [sys.executable, "-m", "pinnit", "run", args.config, "--quiet", "--overwrite", "--run-dir", str(run_dir),
           "--set", f"training.stages={json.dumps(stages)}", "--set", f"training.time_limit_s={args.budget}",
           "--set", f"evaluation.every={every}", "--set", f"training.seed={args.seed}",
           "--set", "training.threads=1", "--set", "training.checkpoint_every=0"]
    print(f"{name}: {LABELS[name]}", flush=True)
    subprocess.run(cmd, check=True)
    return run_dir


def curve(run_dir: Path) -> list[dict]:
    """The evaluated rows of a run: training time (time_s − eval_s), stage, step, held-out errors."""
    with open(run_dir / "history.csv", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r.get("rel_l2_mean")]
    return [{"train_s": float(r["time_s"]) - float(r["eval_s"]), "step": int(r["step"]), "stage": r["stage"],
             **{f: float(r[f"rel_l2_{f}"]) for f in FIELDS}} for r in rows]


def per_optimizer(stages: dict) -> dict[str, int]:
    """Iterations run per optimizer, over all stages (the hybrid's blocks summed)."""
    out: dict[str, int] = {}
    for stage in stages.values():
        if stage["iterations"]:
            out[stage["optimizer"]] = out.get(stage["optimizer"], 0) + stage["iterations"]
    return out


def summarize(curves: dict[str, list[dict]], run_dirs: dict[str, Path]) -> dict:
    out = {}
    for name, rows in curves.items():
        metrics = json.loads((run_dirs[name] / "metrics.json").read_text())
        last = rows[-1]
        best = min(rows, key=lambda r: r["mean"])
        out[name] = {"label": LABELS[name], "train_s": round(last["train_s"], 1), "steps": last["step"],
                     "last": {f: last[f] for f in FIELDS}, "best": {f: best[f] for f in FIELDS},
                     "best_at_s": round(best["train_s"], 1),
                     "saved": {f: metrics.get(f"rel_l2_{f}") for f in FIELDS},
                     "iterations": per_optimizer(metrics["stages"]),
                     "commit": metrics.get("git_commit"), "wall_time_s": metrics.get("wall_time_s")}
    return out


def plot(curves: dict[str, list[dict]], path: Path, budget: float, seed: int) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(11, 8), sharex=True, sharey=True)
    titles = {"mean": "mean of u, v, p", "u": "u", "v": "v", "p": "p (up to a constant)"}
    for ax, field in zip(axes.ravel(), FIELDS):
        for name, rows in curves.items():
            ax.plot([r["train_s"] for r in rows], [r[field] for r in rows], label=LABELS[name], lw=1.4)
        goal = 0.05 if field == "mean" else 0.08
        ax.axhline(goal, color="0.4", ls=":", lw=1, label="goal: mean 5 %, each field 8 %" if field == "mean" else None)
        ax.set_yscale("log")
        ax.set_title(f"held-out relative L2, {titles[field]}")
        ax.grid(True, which="both", alpha=0.3)
    for ax in axes[1]:
        ax.set_xlabel("training time (s, evaluations excluded; 1 thread)")
    for ax in axes[:, 0]:
        ax.set_ylabel("relative L2 error (200 held-out lids)")
    axes[0, 0].legend(fontsize=8)
    fig.suptitle(f"Stokes PI-DeepONet (configs/stokes_deeponet_cpu.yaml), seed {seed}: {budget:g} s of training each")
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)


def main() -> None:
    args = parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    table = recipes(args.cg)
    run_dirs = {name: run_dir_of(out, name, args.seed) for name in args.recipes}
    if not args.replot:
        for name in args.recipes:
            train(name, *table[name], args, out)
    curves = {name: curve(run_dirs[name]) for name in args.recipes}
    with open(out / "curves.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, ["recipe", "train_s", "step", "stage", *FIELDS])
        writer.writeheader()
        for name, rows in curves.items():
            writer.writerows({"recipe": name, **r} for r in rows)
    summary = summarize(curves, run_dirs)
    from pinnit.core.stamp import stamp, started_at

    commits = {s["commit"] for s in summary.values()}
    start = {"commit": commits.pop(), "commit_dirty": False} if len(commits) == 1 else None
    config = Path(args.config).resolve()
    config = config.relative_to(REPO).as_posix() if config.is_relative_to(REPO) else str(config)
    (out / "summary.json").write_text(json.dumps({"stamp": started_at(stamp(), start), "budget_s": args.budget,
                                                  "seed": args.seed, "config": config, "recipes": summary},
                                                 indent=2) + "\n")
    plot(curves, out / "error_vs_time_stokes.png", args.budget, args.seed)
    for name, s in summary.items():
        print(f"{s['label']:45s} {s['train_s']:6.1f} s  last mean {s['last']['mean']:.4f} (p {s['last']['p']:.3f})  "
              f"best {s['best']['mean']:.4f} at {s['best_at_s']} s  iterations {s['iterations']}")


if __name__ == "__main__":
    main()
