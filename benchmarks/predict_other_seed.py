"""Score a trained operator on functions it never saw, drawn from the same law with another seed.

Draws ``--count`` functions (e.g. GRF lids) from the run's own law with ``--seed``, applies the run through
``pinnit predict`` 's code path (:func:`pinnit.operators.predict.predict`, ``--reference``: the problem's solver and
the same metric as training's held-out evaluation), and sets the mean per-field errors beside the run's held-out
figure from ``metrics.json``. Writes ``<out>/other_seed.json`` (with the per-function errors) and prints a table::

    python benchmarks/predict_other_seed.py outputs/stokes_deeponet_cpu/s0-… --count 200 --seed 2027
"""
from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np

from pinnit.core.atomic_files import write_json
from pinnit.core.stamp import stamp
from pinnit.operators.loss import the_function
from pinnit.operators.predict import load_operator, predict


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run_dir", help="a finished operator run directory")
    ap.add_argument("--count", type=int, default=200, help="functions to draw (default 200)")
    ap.add_argument("--seed", type=int, default=2027, help="seed of the draw (the run's lids came from its own)")
    ap.add_argument("--out", default=None, help="folder for other_seed.json (default: the run directory)")
    args = ap.parse_args(argv)
    run = Path(args.run_dir)
    _, problem, _ = load_operator(run)
    fn = the_function(problem)
    lids = fn.law.sample(args.count, fn.sensors, np.random.default_rng(args.seed))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, lid in enumerate(lids):
            f = Path(tmp) / f"lid{i}.npy"
            np.save(f, lid)
            _, errors = predict(run, f, out=Path(tmp) / f"pred{i}.npz", reference=True)
            rows.append(errors)
    keys = list(rows[0])
    mean = {k: float(np.mean([r[k] for r in rows])) for k in keys}
    held = json.loads((run / "metrics.json").read_text())
    summary = {"run": str(run), "seed": args.seed, "count": args.count, "other_seed": mean,
               "other_seed_std_of_mean": float(np.std([r["rel_l2_mean"] for r in rows])),
               "held_out": {k: held.get(k) for k in keys}, "per_function": rows, "stamp": stamp()}
    out = Path(args.out) if args.out else run
    write_json(out / "other_seed.json", summary)
    print(f"{'field':<14}{'held-out (run)':>16}{f'seed {args.seed} ({args.count})':>22}")
    for k in keys:
        print(f"{k:<14}{held.get(k, float('nan')):>16.4f}{mean[k]:>22.4f}")
    return summary


if __name__ == "__main__":
    main()
