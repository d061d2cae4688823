"""A real, tiny study directory in the layout `pinnit study` writes (plan.json + runs/<id>/), for the report
and tracking tests: methods × activation scale a × seeds, trained with `pinnit.runs.pipeline.run`, plus one failed
run (failure.json) and one missing run."""
from __future__ import annotations

import json
from pathlib import Path

from conftest import small_burgers

from pinnit import parse_config
from pinnit.runs.pipeline import run

METHODS = {"xavier": "xavier_normal", "proposed": "proposed"}
SCALES = (0.5, 1.0)
SEEDS = (0, 1)
FAILED = "proposed-a1-s1"
MISSING = "xavier-a1-s1"


def config(tmp: Path, initializer: str, a: float, seed: int) -> dict:
    cfg = small_burgers(tmp, seed=seed, threads=1, adam={"iterations": 30, "lr": 3e-3},
                        lbfgs={"iterations": 10, "chunk": 10})
    cfg["network"].update(activation={"name": "tanh", "a": a}, initializer=initializer)
    cfg["evaluation"] = {"every": 20, "resolution": [32, 16]}
    cfg["sampling"]["points"] = {"pde": 256, "initial": 32, "boundary": 32}
    return parse_config(cfg).model_dump(mode="json")


def build_study(root: Path, *, skip: tuple[str, ...] = ()) -> Path:
    """Write plan.json and train every planned run except FAILED (failure.json written), MISSING and ``skip``."""
    runs = []
    for method, init in METHODS.items():
        for a in SCALES:
            for seed in SEEDS:
                rid = f"{method}-a{a:g}-s{seed}"
                runs.append({"id": rid, "method": method, "axes": {"network.activation.a": a}, "seed": seed,
                             "run_dir": f"runs/{rid}", "config": config(root, init, a, seed)})
    plan = {"name": "tiny-scale", "study_file": "study.yaml", "axes": ["network.activation.a"], "runs": runs}
    root.mkdir(parents=True, exist_ok=True)
    (root / "plan.json").write_text(json.dumps(plan, indent=1))
    for r in runs:
        path = root / r["run_dir"]
        if r["id"] == FAILED:
            path.mkdir(parents=True)
            (path / "failure.json").write_text(json.dumps({"id": r["id"], "error": "RuntimeError: boom at step 3",
                                                           "traceback": "Traceback ...", "time": "2026-01-01"}))
        elif r["id"] != MISSING and r["id"] not in skip:
            run(parse_config(r["config"]), run_dir=path)
    return root


def tiny_study_file(tmp: Path, *, iterations: int = 20, seeds: int = 2, methods: dict | None = None,
                    name: str = "study.yaml") -> Path:
    """A study file of ``len(methods or [1]) × seeds`` runs of a width-8 network, ``iterations`` Adam steps each
    (a checkpoint every 10), no L-BFGS, no plots: a second or two per run."""
    import yaml

    from conftest import small_burgers

    base = small_burgers(tmp)
    base["network"].update(width=8, depth=2)
    base["sampling"].update(sampler="uniform", points={"pde": 128, "initial": 32, "boundary": 32})
    base["training"].update(adam={"iterations": iterations, "lr": 3e-3}, lbfgs={"iterations": 0}, checkpoint_every=10)
    base["evaluation"] = {"every": 0, "resolution": [32, 10]}
    data = {"name": "tiny", "base": base, "seeds": seeds, **({"methods": methods} if methods else {})}
    path = tmp / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path
