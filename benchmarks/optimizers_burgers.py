"""Error-vs-time of the quasi-Newton optimizers on pinnit's Burgers PINN (issue 11).

One Adam warm-up (float64), then, from the same weights, each optimizer for a fixed wall-time budget:
Adam + L-BFGS (torch), + BFGS, + SSBFGS, + SSBroyden, + Levenberg–Marquardt (pinnit.training.optimizers). The relative L2 error
against the exact Cole–Hopf solution is measured every ``--eval-every`` seconds of training time (the
evaluations are not timed). Writes ``curves.csv``, ``summary.json`` and ``error_vs_time.png`` to ``--out``.

    OMP_NUM_THREADS=1 python benchmarks/optimizers_burgers.py --budget 210 --adam 2000 --seed 0

Times are wall-clock on whatever machine runs it (1 torch thread); on a shared machine they are upper bounds.
"""
from __future__ import annotations

import argparse
import copy
import csv
import json
import time
from pathlib import Path

import torch

from pinnit.runs import load_config
from pinnit.runs.pipeline import assemble
from pinnit.core.atomic_files import write_csv, write_json
from pinnit.training.optimizers import build_optimizer, loss_form

REPO = Path(__file__).resolve().parents[1]
LABELS = {"lbfgs": "Adam + L-BFGS", "bfgs": "Adam + BFGS", "ssbfgs": "Adam + SSBFGS", "ssbroyden": "Adam + SSBroyden",
          "levenberg_marquardt": "Adam + Levenberg–Marquardt"}
#: iterations per step call of optimizers whose iterations cost far more than a gradient (one Jacobian each)
CHUNKS = {"levenberg_marquardt": 5}


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", default=str(REPO / "configs" / "burgers.yaml"))
    p.add_argument("--budget", type=float, default=210.0, help="training seconds per quasi-Newton optimizer")
    p.add_argument("--adam", type=int, default=2000, help="Adam warm-up iterations")
    p.add_argument("--lr", type=float, default=5e-3, help="Adam learning rate")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--depth", type=int, default=4)
    p.add_argument("--width", type=int, default=20)
    p.add_argument("--pde-points", type=int, default=12000)
    p.add_argument("--chunk", type=int, default=50, help="iterations per optimizer.step call")
    p.add_argument("--eval-every", type=float, default=5.0, help="seconds of training time between evaluations")
    p.add_argument("--resample-every", type=int, default=500,
                   help="fresh collocation points every k quasi-Newton iterations (rounded to --chunk; 0: never)")
    p.add_argument("--lm-resample-every", type=int, default=50,
                   help="the same for Levenberg–Marquardt, whose iterations each cost a Jacobian (0: never)")
    p.add_argument("--loss-form", default="log", choices=["mse", "sqrt", "log"])
    p.add_argument("--optimizers", nargs="+", default=list(LABELS), choices=list(LABELS))
    p.add_argument("--set", action="append", default=[], help="extra config overrides KEY.PATH=VALUE")
    p.add_argument("--out", default=str(REPO / "outputs" / "bench_optimizers"))
    p.add_argument("--replot", action="store_true", help="only redraw the figure from --out's curves.csv")
    return p.parse_args()


def main() -> None:
    args = parse_args()
    if args.replot:
        out = Path(args.out)
        with open(out / "curves.csv", newline="") as fh:
            rows = [{**r, "iteration": int(r["iteration"]), "time_s": float(r["time_s"]),
                     "rel_l2": float(r["rel_l2"])} for r in csv.DictReader(fh)]
        plot(rows, json.loads((out / "summary.json").read_text()), out / "error_vs_time.png")
        return
    overrides = ["training.dtype=float64", "training.threads=1", "training.device=cpu", f"training.seed={args.seed}",
                 f"network.depth={args.depth}", f"network.width={args.width}",
                 f"sampling.points.pde={args.pde_points}", *args.set]
    a = assemble(load_config(args.config, overrides))
    n_params = sum(p.numel() for p in a.model.parameters())
    form = loss_form(args.loss_form)
    rows: list[dict] = []

    def error() -> float:
        return a.evaluator.errors(a.evaluator.predict(a.model))["rel_l2_u"]

    def record(label: str, it: int, t: float) -> float:
        """Log the mean-squared loss and the error at the current weights (untimed)."""
        loss = float(a.loss.total(a.loss.term_losses()).detach())
        err = error()
        rows.append({"optimizer": label, "iteration": it, "time_s": round(t, 3), "loss": loss, "rel_l2": err})
        print(f"{label:18s} it {it:6d}  t {t:7.1f}s  loss {loss:.3e}  rel_l2 {err:.3e}", flush=True)
        return err

    # --- Adam warm-up ---------------------------------------------------------------------------------------
    adam = build_optimizer({"name": "adam", "lr": args.lr}, a.model.parameters())
    clock, last = 0.0, -1e9
    for it in range(1, args.adam + 1):
        t0 = time.perf_counter()
        adam.zero_grad(set_to_none=True)
        loss = a.loss.total(a.loss.term_losses())
        loss.backward()
        adam.step()
        clock += time.perf_counter() - t0
        if clock - last >= args.eval_every or it == args.adam:
            record("Adam warm-up", it, clock)
            last = clock
    adam_time = clock
    warm = copy.deepcopy(a.model.state_dict())

    # --- each quasi-Newton optimizer from the same weights -----------------------------------------------------
    summary = {"parameters": n_params, "seed": args.seed, "adam_iterations": args.adam, "adam_time_s": adam_time,
               "budget_s": args.budget, "loss_form": args.loss_form, "threads": torch.get_num_threads(),
               "pde_points": args.pde_points, "network": f"{args.depth}x{args.width} tanh", "results": {}}
    points = a.loss.state()
    for name in args.optimizers:
        a.model.load_state_dict(warm)
        a.loss.load_state(points)  # the same collocation points (and RNG) for every optimizer
        label = LABELS.get(name, name)
        spec = {"name": name, "max_iter": CHUNKS.get(name, args.chunk)}
        if name == "lbfgs":
            spec.update(tolerance_grad=0.0, tolerance_change=0.0)
        opt = build_optimizer(spec, a.model.parameters())
        state = opt.state[next(iter(a.model.parameters()))]

        least_squares = getattr(opt, "needs_residuals", False)  # minimises ‖r‖² itself: the plain mse form
        if least_squares:
            opt.residuals = a.loss.residuals()

        def closure() -> torch.Tensor:
            opt.zero_grad(set_to_none=True)
            value = a.loss.total(a.loss.term_losses())
            value = value if least_squares else form(value)
            value.backward()
            return value

        clock, last, best, stalled, drawn = 0.0, 0.0, float("inf"), 0, 0
        every = args.lm_resample_every if least_squares else args.resample_every
        record(label, 0, adam_time)
        while clock < args.budget:
            before = state.get("n_iter", 0)
            t0 = time.perf_counter()
            value = opt.step(closure)
            clock += time.perf_counter() - t0
            stalled = stalled + 1 if state.get("n_iter", 0) == before else 0
            if every and state.get("n_iter", 0) // every > drawn:
                drawn = state["n_iter"] // every
                a.loss.resample()
                if least_squares:
                    opt.residuals = a.loss.residuals()
            if clock - last >= args.eval_every or clock >= args.budget or stalled >= 3:
                best = min(best, record(label, state["n_iter"], adam_time + clock))
                last = clock
            if stalled >= 3 or not torch.isfinite(value):
                print(f"{label}: stopped ({state.get('stop_reason') or 'no progress'})")
                break
        iters = state["n_iter"]
        summary["results"][name] = {
            "label": label, "final_rel_l2": rows[-1]["rel_l2"], "best_rel_l2": best, "final_loss": rows[-1]["loss"],
            "iterations": iters, "time_s": round(clock, 2), "ms_per_iteration": round(1000 * clock / max(iters, 1), 2),
            "function_evaluations": state.get("func_evals"),
            "line_search_failures": state.get("line_search_failures"), "resets": state.get("resets"),
            "skipped_updates": state.get("skipped_updates")}
        print(json.dumps(summary["results"][name]), flush=True)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    write_csv(out / "curves.csv", rows)
    write_json(out / "summary.json", summary)
    plot(rows, summary, out / "error_vs_time.png")
    print(f"wrote {out}/curves.csv, summary.json, error_vs_time.png")


def plot(rows: list[dict], summary: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, ax_it) = plt.subplots(1, 2, figsize=(12, 4.5), sharey=True)
    warm = [r for r in rows if r["optimizer"] == "Adam warm-up"]
    ax.plot([r["time_s"] for r in warm], [r["rel_l2"] for r in warm], color="0.5", lw=1.5, label="Adam warm-up")
    for res in summary["results"].values():
        pts = [r for r in rows if r["optimizer"] == res["label"]]
        ax.plot([r["time_s"] for r in pts], [r["rel_l2"] for r in pts], lw=1.5, label=res["label"])
        ax_it.plot([r["iteration"] for r in pts], [r["rel_l2"] for r in pts], lw=1.5, label=res["label"])
    ax.set_yscale("log")
    ax.set_xlabel(f"training wall time [s] ({summary['threads']} torch thread(s), evaluations not timed)")
    ax.set_ylabel("relative L2 error of u (256×100 grid)")
    ax_it.set_xlabel(f"quasi-Newton or Levenberg–Marquardt iterations after {summary['adam_iterations']} Adam steps")
    fig.suptitle(f"Burgers ν=0.01/π, {summary['network']} ({summary['parameters']} parameters), float64, "
                 f"{summary['pde_points']} PDE points, seed {summary['seed']}", fontsize=10)
    for a in (ax, ax_it):
        a.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()
