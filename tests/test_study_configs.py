"""Every shipped study under configs/studies expands into valid run configs that train the intended stages, and
plans with `pinnit study FILE --dry-run` (nothing is trained)."""
from __future__ import annotations

from pathlib import Path

import pytest

from pinnit import parse_config
from pinnit.cli import main
from pinnit.studies import expand, load_study
from pinnit.training.stages import resolve_stages

STUDIES = sorted((Path(__file__).resolve().parents[1] / "configs" / "studies").glob("*.yaml"))


def test_both_variants_of_each_study_are_shipped():
    names = {p.stem for p in STUDIES}
    for study in ("burgers_scale", "black_scholes_scale", "burgers_activations", "stokes_kgi", "burgers_depth"):
        assert {f"{study}_cpu", f"{study}_full"} <= names


@pytest.mark.parametrize("path", STUDIES, ids=lambda p: p.stem)
def test_shipped_study_expands_and_validates(path):
    study = load_study(path)
    runs = expand(study)
    assert study.name == path.stem and len({r.id for r in runs}) == len(runs)
    cfgs = [r.config for r in runs]
    _train_the_intended_stages(path, runs)
    if "_scale_" in path.stem:
        full = path.stem.endswith("_full")
        scales = sorted({c["network"]["activation"]["a"] for c in cfgs})
        burgers_cpu = path.stem == "burgers_scale_cpu"  # at the source's size, 5 scales spanning 0.3–2.0
        assert scales == ([0.1, 0.3, 0.5, 0.8, 1.0, 1.3, 1.5, 1.8, 2.0] if full else
                          [0.3, 0.5, 1.0, 1.5, 2.0] if burgers_cpu else [0.5, 1.0, 1.5])
        assert {c["network"]["activation"]["name"] for c in cfgs} == {"tanh", "softsign_2"}
        assert {r.method for r in runs} >= {"proposed", "eoc"}
        assert len(runs) >= (162 if full else 12)
        if full or burgers_cpu:
            assert {(c["network"]["depth"], c["network"]["width"]) for c in cfgs} == {(50, 64)}
        if burgers_cpu:  # 5 seeds at a = 1 (testable claims there), 3 elsewhere
            per_cell = {}
            for r in runs:
                per_cell.setdefault((r.method, *r.axes.values()), []).append(r.seed)
            assert {k: len(v) for k, v in per_cell.items()} == {k: 5 if k[-1] == 1.0 else 3 for k in per_cell}
            assert len(runs) == 102
        for c in cfgs:  # Lee 2026's band η ∈ [1e-5·ω, 1e-3·ω], at 5e-4·ω with ω = 1/a
            a = c["network"]["activation"]["a"]
            assert c["training"]["stages"]["adam"]["lr"] == pytest.approx(5e-4 / a, rel=1e-12)
            assert 1e-5 / a <= c["training"]["stages"]["adam"]["lr"] <= 1e-3 / a
    elif path.stem.startswith("stokes_kgi"):  # the KGI preprint's protocol: Xavier vs KGI per net
        assert len(runs) == (20 if path.stem.endswith("_full") else 10)
        for r in runs:
            nets = (r.config["network"]["branch"]["initializer"], r.config["network"]["trunk"]["initializer"])
            if r.method == "xavier":
                assert all(n["name"] == "xavier_normal" for n in nets)
            else:
                assert [n["bounds"][0] for n in nets] == [[-1.5, 1.5], [-0.6, 0.6]]
                assert all(n["name"] == "kgi" and n["alpha"] == 0.2 for n in nets)
    elif path.stem.startswith("burgers_depth"):  # where each initializer stops training, width 64
        assert {(c["network"]["depth"], c["network"]["width"]) for c in cfgs} == {(d, 64) for d in (10, 20, 50, 100)}
        assert {r.method for r in runs} == {"xavier", "proposed", "eoc", "kgi"} and len(runs) == 80
    else:
        names = [c["network"]["activation"] if isinstance(c["network"]["activation"], str)
                 else c["network"]["activation"]["name"] for c in cfgs]
        assert set(names) == {"gelu", "tanh", "relu", "repu", "mrepu"}
        assert {(c["network"]["depth"], c["network"]["width"]) for c in cfgs} == \
            ({(7, 64)} if path.stem.endswith("_full") or path.stem == "burgers_activations_cpu" else {(7, 32)})
        mrepu = [c for c in cfgs if c["network"]["activation"] == {"name": "mrepu", "p": 2}]
        assert mrepu and all(c["network"]["initializer"]["c_w"] == 0.15 for c in mrepu)


#: the stages each shipped study trains (name → iterations, stages with 0 left out) and its first stage's lr
#: (None: set per run from lr_per_omega)
TRAINS = {"burgers_scale_cpu": ({"adam": 500}, None),
          "burgers_depth_cpu": ({"adam": 500}, None), "burgers_depth_full": ({"adam": 5000, "lbfgs": 5000}, None),
          "burgers_scale_full": ({"adam": 5000, "lbfgs": 5000}, None),
          "black_scholes_scale_cpu": ({"adam": 1000}, None),
          "black_scholes_scale_full": ({"adam": 3000, "lbfgs": 3000}, None),
          "burgers_activations_cpu": ({"adam": 2000}, 1e-3), "burgers_activations_full": ({"adam": 10000}, 1e-3),
          "stokes_kgi_cpu": ({"adam": 10000}, 3e-3), "stokes_kgi_full": ({"adam": 50000}, 1e-3)}


def _train_the_intended_stages(path: Path, runs) -> None:
    stages, lr = TRAINS[path.stem]
    for run in runs[:: max(1, len(runs) // 4)]:
        resolved = resolve_stages(parse_config(run.config))
        assert {s.name: s.iterations for s in resolved if s.iterations} == stages
        assert lr is None or resolved[0].lr == lr
        lbfgs = [s for s in resolved if s.optimizer == "lbfgs" and s.iterations]
        assert all(s.options["tolerance_change"] == 1e-12 and s.resample_every == 0 for s in lbfgs)


@pytest.mark.parametrize("path", [pytest.param(p, marks=[pytest.mark.slow] if p.stem.endswith("_full") else [])
                                  for p in STUDIES], ids=lambda p: p.stem)
def test_shipped_study_plans_with_dry_run(path, capsys, monkeypatch, tmp_path):
    """`pinnit study FILE --dry-run` exits 0 and lists every run (the full studies, 20-162 runs: slow)."""
    monkeypatch.chdir(tmp_path)  # no study directory there: every run is missing
    assert main(["study", str(path), "--dry-run"]) == 0
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if " missing " in line]
    assert out.startswith(f"study {path.stem}: {len(lines)} run(s)") and len(lines) >= 6


#: the studies issue 22 asks to run here, each with the claims it tests
CLAIMED = {"burgers_scale_cpu": 4, "burgers_depth_cpu": 4, "stokes_kgi_cpu": 3, "burgers_activations_cpu": 6}


@pytest.mark.parametrize("name", sorted(CLAIMED))
def test_the_cpu_studies_state_their_claims(name):
    study = load_study(Path(__file__).resolve().parents[1] / "configs" / "studies" / f"{name}.yaml")
    claims = study.spec.claims
    assert len(claims) == CLAIMED[name] and all(c.text for c in claims)
    # every claim can be significant at its own seeds: at least 5 pairs in its smallest selection
    runs = expand(study)
    for claim in claims:
        sides = [[r for r in runs if r.method == side["method"]
                  and all(r.axes.get(k) == v for k, v in claim.where.items())] for side in (claim.a, claim.b)]
        assert min(len({r.seed for r in s}) for s in sides) >= 5, claim.id
