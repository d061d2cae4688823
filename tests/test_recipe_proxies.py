"""Every shipped recipe (configs/*.yaml) still trains: a short run of it, through ``pinnit.runs.pipeline``, must lower its
loss below a fixed fraction of the initial loss and, where a short run already says something about accuracy,
bring the relative L2 error under a fixed bound.

The run is the recipe itself with fewer points and iterations, set through its own keys: at most 256 points per
term (DeepONets: 64, lids 32, 4 functions per batch), 100 iterations per first-order stage (DeepONets: 40), 20 per
quasi-Newton stage (chunks of at most 20), ``basis_pretrained`` with 10 Adam and 2 L-BFGS steps per degree, one
thread, eager autograd, a 24 × 24 evaluation grid (DeepONets: 2 held-out lids), no plots or checkpoints. The whole
file took 58 s of CPU time (one core, one thread; the 128-wide DeepONets 5 s each, the PINNs 1–2.5 s).

Calibration (seeds 0, 1, 2 of each recipe, and seed 0 with every first-order lr set to 1e-12 and the quasi-Newton
stages removed, i.e. an untrained recipe): the ``PROXIES`` table holds, per recipe, the worst of the three seeds and
the untrained value of L(kept weights) / L(initial weights) and of the relative L2 error. Each bound is their
geometric mean to two digits, so it is as many times above the worst seed as below the untrained run: for the loss
ratio by 1.3× (burgers_siren, the thinnest), 1.8× (burgers, burgers_long) and 2–35× elsewhere. The error is bounded
only where that factor is ≥ 1.5 (it is not for most Burgers variants, whose soft-constraint error barely moves in
100 steps, the declared Burgers without a reference, and the DeepONets, whose held-out error is still ≥ 1 after 40
steps). An lr of 0 gives a ratio of 1 (``test_an_untrained_recipe_fails_its_proxy``); Adam with the gradient's sign
flipped (measured once, ``maximize=True``) gives poisson 1.0 and burgers 0.73 (its SSBroyden stage recovers part of
it), both above their bounds. burgers_mrepu's seed 1 diverges in its L-BFGS stage (NaN weights, which the trainer
catches); its bounds come from seeds 0 and 2. (This proxy found that torch's L-BFGS line search raised IndexError on
a NaN trial loss, for seeds 0 and 1: see the ``lbfgs`` entry.)
"""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml

import pinnit
from pinnit import assemble, load_config

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
FIRST_ORDER = {"adam", "sgd"}

#: recipe → (bound on L(kept) / L(initial), rel L2 key, bound on it or None where a short run does not improve it
#: yet, measured (worst seed loss ratio, untrained loss ratio, worst seed rel L2, untrained rel L2))
PROXIES: dict[str, tuple[float, str, float | None, tuple[float, float, float | None, float | None]]] = {
    "advection": (0.1, "rel_l2_u", 0.5, (0.011, 1.0, 0.2, 1.2)),
    "black_scholes": (0.14, "rel_l2_V", 0.018, (0.021, 1.0, 0.0046, 0.073)),  # smoothed payoff (2026-12-07)
    "black_scholes_basis": (0.27, "rel_l2_V", None, (0.071, 1.0, 0.044, 0.089)),
    "black_scholes_declared": (0.072, "rel_l2_V", 0.27, (0.0052, 1.0, 0.065, 1.2)),
    "black_scholes_fast": (0.054, "rel_l2_V", 0.11, (0.0029, 1.0, 0.02, 0.62)),
    "burgers": (0.56, "rel_l2_u", None, (0.31, 1.0, 0.36, 0.6)),
    "burgers_basis": (0.42, "rel_l2_u", None, (0.18, 1.0, 0.9, 1.5)),
    "burgers_declared": (0.41, "rel_l2_u", None, (0.16, 1.0, None, None)),
    "burgers_eoc": (0.41, "rel_l2_u", 0.87, (0.16, 1.0, 0.51, 1.5)),
    "burgers_fast": (0.41, "rel_l2_u", 0.9, (0.16, 1.0, 0.54, 1.5)),
    "burgers_kgi": (0.34, "rel_l2_u", 1.0, (0.11, 1.0, 0.57, 1.8)),
    "burgers_lm": (0.3, "rel_l2_u", 0.37, (0.092, 1.0, 0.22, 0.63)),
    "burgers_long": (0.56, "rel_l2_u", None, (0.31, 1.0, 0.36, 0.6)),
    "burgers_mrepu": (0.48, "rel_l2_u", None, (0.23, 1.0, 0.5, 1.0)),
    "burgers_proposed": (0.23, "rel_l2_u", None, (0.053, 1.0, 0.54, 0.89)),
    "burgers_short": (0.56, "rel_l2_u", None, (0.31, 1.0, 0.36, 0.6)),
    "burgers_siren": (0.78, "rel_l2_u", None, (0.61, 1.0, 1.0, 1.0)),
    "heat": (0.019, "rel_l2_u", 0.052, (0.00035, 1.0, 0.0034, 0.79)),
    "poisson": (0.12, "rel_l2_u", 0.14, (0.014, 1.0, 0.02, 1.0)),
    "stokes_deeponet": (0.35, "rel_l2_mean", None, (0.12, 1.0, 3.0, 8.3)),
    "stokes_deeponet_cpu": (0.34, "rel_l2_mean", None, (0.12, 1.0, 2.8, 7.9)),
    "stokes_deeponet_cpu_corners": (0.15, "rel_l2_mean", 8.4, (0.022, 1.0, 3.6, 19.0)),
    "stokes_deeponet_cpu_corners_long": (0.15, "rel_l2_mean", 8.4, (0.022, 1.0, 3.6, 19.0)),  # = corners' proxy
    "stokes_deeponet_cpu_kgi": (0.45, "rel_l2_mean", None, (0.2, 1.0, 14.0, 43.0)),
    "stokes_deeponet_cpu_lm": (0.1, "rel_l2_mean", 5.7, (0.01, 1.0, 1.8, 18.0)),
    "stokes_deeponet_cpu_ls": (0.079, "rel_l2_mean", 4.5, (0.0062, 1.0, 1.1, 18.0)),
    "stokes_deeponet_kgi": (0.33, "rel_l2_mean", None, (0.11, 1.0, 16.0, 25.0)),
    "stokes_deeponet_xavier": (0.35, "rel_l2_mean", None, (0.12, 1.0, 3.0, 8.3)),
    "wave": (0.076, "rel_l2_u", 0.31, (0.0058, 1.0, 0.057, 1.7)),
}


def is_operator(raw: dict) -> bool:
    return raw["network"].get("arch") == "deeponet"


def proxy_overrides(path: Path, seed: int = 0, untrained: bool = False) -> list[str]:
    """``--set`` overrides that shrink recipe ``path`` to a proxy run (its own keys only)."""
    raw = yaml.safe_load(path.read_text())
    operator = is_operator(raw)
    cap = {k: 32 if operator and k == "lid" else 64 if operator else 256 for k in raw["sampling"]["points"]}
    out = [f"sampling.points.{k}={min(v, cap[k])}" for k, v in raw["sampling"]["points"].items()]
    first_order, quasi_newton = (40 if operator else 100), 20
    training = raw["training"]
    if training.get("stages"):
        for name, stage in training["stages"].items():
            key = f"training.stages.{name}"
            if stage.get("optimizer", name) in FIRST_ORDER:
                out.append(f"{key}.iterations={min(stage['iterations'], first_order)}")
                out += [f"{key}.lr=1e-12"] if untrained else []
            else:
                out += [f"{key}.iterations={0 if untrained else min(stage['iterations'], quasi_newton)}",
                        f"{key}.chunk={min(stage.get('chunk', 50), quasi_newton)}"]
    else:
        lbfgs = min(training.get("lbfgs", {}).get("iterations", 0), quasi_newton)
        out += [f"training.adam.iterations={first_order}", f"training.lbfgs.iterations={0 if untrained else lbfgs}"]
        out += ["training.adam.lr=1e-12"] if untrained else []
    init = raw["network"].get("initializer")
    if isinstance(init, dict) and init.get("name") == "basis_pretrained":
        out += ["network.initializer.steps=10", "network.initializer.lbfgs=2"]
    # PINN runs: plain autograd (no compiling); operator runs keep their derivatives mode
    out += ["sampling.function_batch=4", "evaluation.functions=2"] if operator else ["training.derivatives=autograd"]
    return out + [f"training.seed={seed}", "training.threads=1", "training.device=cpu",
                  "training.checkpoint_every=0", "evaluation.every=1000000", "evaluation.resolution=[24, 24]",
                  "output.plots=false", "output.progress=false"]


def proxy_run(path: Path, run_dir: Path, seed: int = 0, untrained: bool = False) -> tuple[float, dict]:
    """(L(trained) / L(initial), metrics) of the proxy run of recipe ``path``; both losses on the run's first
    points (operators: fixed functions), so resampling and random function batches do not enter the ratio."""
    cfg = load_config(path, proxy_overrides(path, seed, untrained))
    a = assemble(cfg)  # the same seeded initial network and first points as the run's
    initial = fixed_loss(a)
    metrics = pinnit.run(cfg, run_dir=run_dir).metrics
    assert metrics["status"] == "completed"
    a.model.net.load_state_dict(torch.load(run_dir / "model.pt"))  # the weights the run kept
    return fixed_loss(a) / initial, metrics


def fixed_loss(a) -> float:
    """The total loss on the assembly's first points (operators: on its first 32 training functions)."""
    terms = a.loss.losses_for(a.loss.train_tensor[:32]) if is_operator(a.cfg.model_dump()) else a.loss.term_losses()
    return float(a.loss.total(terms).detach())


def test_every_shipped_recipe_has_a_proxy():
    assert set(PROXIES) == {p.stem for p in CONFIGS.glob("*.yaml")}
    for ratio_bound, _, error_bound, (worst, untrained, worst_error, untrained_error) in PROXIES.values():
        assert worst < ratio_bound < untrained
        assert error_bound is None or worst_error < error_bound < untrained_error


@pytest.mark.parametrize("name", sorted(PROXIES))
def test_recipe_trains_in_a_short_run(name, tmp_path, monkeypatch):
    monkeypatch.chdir(CONFIGS.parent)  # declaration files resolve from the checkout
    ratio_bound, key, error_bound, _ = PROXIES[name]
    ratio, metrics = proxy_run(CONFIGS / f"{name}.yaml", tmp_path / "run")
    assert ratio <= ratio_bound, f"{name}: best/initial loss {ratio:.3g} > {ratio_bound}"
    if error_bound is not None:
        assert metrics[key] <= error_bound, f"{name}: {key} {metrics[key]:.3g} > {error_bound}"


def test_an_untrained_recipe_fails_its_proxy(tmp_path, monkeypatch):
    """The bounds discriminate: poisson with lr = 1e-12 (and no L-BFGS) stays at its initial loss."""
    monkeypatch.chdir(CONFIGS.parent)
    ratio, metrics = proxy_run(CONFIGS / "poisson.yaml", tmp_path / "run", untrained=True)
    ratio_bound, key, error_bound, _ = PROXIES["poisson"]
    assert ratio > 0.99 > 5 * ratio_bound and metrics[key] > 5 * error_bound
