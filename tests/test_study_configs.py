"""Every shipped study under configs/studies expands into valid run configs (nothing is trained)."""
from __future__ import annotations

from pathlib import Path

import pytest

from pinnit.studies import expand, load_study

STUDIES = sorted((Path(__file__).resolve().parents[1] / "configs" / "studies").glob("*.yaml"))


def test_both_variants_of_each_study_are_shipped():
    names = {p.stem for p in STUDIES}
    for study in ("burgers_scale", "black_scholes_scale", "burgers_activations", "stokes_kgi"):
        assert {f"{study}_cpu", f"{study}_full"} <= names


@pytest.mark.parametrize("path", STUDIES, ids=lambda p: p.stem)
def test_shipped_study_expands_and_validates(path):
    study = load_study(path)
    runs = expand(study)
    assert study.name == path.stem and len({r.id for r in runs}) == len(runs)
    cfgs = [r.config for r in runs]
    if "_scale_" in path.stem:
        full = path.stem.endswith("_full")
        scales = sorted({c["network"]["activation"]["a"] for c in cfgs})
        assert scales == ([0.1, 0.3, 0.5, 0.8, 1.0, 1.3, 1.5, 1.8, 2.0] if full else [0.5, 1.0, 1.5])
        assert {c["network"]["activation"]["name"] for c in cfgs} == {"tanh", "softsign_2"}
        assert {r.method for r in runs} >= {"proposed", "eoc"}
        assert len(runs) >= (162 if full else 12)
        if full:
            assert {(c["network"]["depth"], c["network"]["width"]) for c in cfgs} == {(50, 64)}
        for c in cfgs:  # seed 000's band, at 5e-4·ω with ω = 1/a
            a = c["network"]["activation"]["a"]
            assert c["training"]["adam"]["lr"] == pytest.approx(5e-4 / a, rel=1e-12)
            assert 1e-5 / a <= c["training"]["adam"]["lr"] <= 1e-3 / a
    elif path.stem.startswith("stokes_kgi"):  # seed 001: Xavier vs KGI per net, 10 seeds in the full study
        assert len(runs) == (20 if path.stem.endswith("_full") else 6)
        for r in runs:
            nets = (r.config["network"]["branch"]["initializer"], r.config["network"]["trunk"]["initializer"])
            if r.method == "xavier":
                assert all(n["name"] == "xavier_normal" for n in nets)
            else:
                assert [n["bounds"][0] for n in nets] == [[-1.5, 1.5], [-0.6, 0.6]]
                assert all(n["name"] == "kgi" and n["alpha"] == 0.2 for n in nets)
    else:
        names = [c["network"]["activation"] if isinstance(c["network"]["activation"], str)
                 else c["network"]["activation"]["name"] for c in cfgs]
        assert set(names) == {"gelu", "tanh", "relu", "repu", "mrepu"}
        assert {c["network"]["depth"] for c in cfgs} == {7}
        mrepu = [c for c in cfgs if c["network"]["activation"] == {"name": "mrepu", "p": 2}]
        assert mrepu and all(c["network"]["initializer"]["c_w"] == 0.15 for c in mrepu)
