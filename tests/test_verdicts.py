"""Claims and verdicts (pinnit/studies/claims.py, verdicts.py): paired differences over seeds, the bootstrap
CI of their mean (Efron & Tibshirani 1993) and the one-sided Wilcoxon signed-rank test (Wilcoxon 1945)."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import yaml
from scipy import stats

from study_builder import tiny_study_file

from pinnit.cli import main
from pinnit.core.errors import PinnitError
from pinnit.studies.claims import Claim
from pinnit.studies.results import RunRecord, Study
from pinnit.studies.spec import parse_study
from pinnit.studies.verdicts import (CONTRADICTED, HOLDS, INCONCLUSIVE, bootstrap_ci, claim_verdict, paired_test,
                                     signed_rank_p)

D = np.array([-0.42, -0.31, -0.05, -0.60, 0.08, -0.27, -0.19, -0.33])


def test_bootstrap_ci_and_p_against_scipy():
    low, high = bootstrap_ci(D)
    ref = stats.bootstrap((D,), np.mean, n_resamples=10_000, method="percentile", confidence_level=0.95,
                          rng=np.random.default_rng(1)).confidence_interval
    se = D.std(ddof=1) / math.sqrt(D.size)  # the endpoints of two 10,000-resample runs agree to a few % of it
    assert abs(low - ref.low) < 0.1 * se and abs(high - ref.high) < 0.1 * se
    assert low < D.mean() < high and D.min() < low and high < D.max()
    assert bootstrap_ci(D) == (low, high)  # fixed bootstrap seed
    assert signed_rank_p(D, "lower") == pytest.approx(stats.wilcoxon(D, alternative="less").pvalue, rel=1e-12)
    # exact null distribution: 7 of 8 negative, the positive one has rank 2 → p = #{W⁺ ≤ 2}/2⁸ = 3/256
    assert signed_rank_p(D, "lower") == pytest.approx(3 / 256)
    assert signed_rank_p(D, "higher") == pytest.approx(1 - 2 / 256)
    result = paired_test(D, "lower")
    assert result["n"] == 8 and result["mean"] == pytest.approx(D.mean()) and result["verdict"] == HOLDS


def test_too_few_pairs_can_never_hold():
    # the most extreme outcome with 4 pairs: every difference on the claimed side, p = 1/16 > 0.05
    assert signed_rank_p(np.array([-1.0, -2.0, -3.0, -4.0]), "lower") == pytest.approx(1 / 16)
    for n in (1, 3, 4):
        result = paired_test(-np.arange(1.0, n + 1), "lower")
        assert result["verdict"] == f"inconclusive: n = {n} < 5 seeds, cannot be significant"
    assert paired_test(np.array([]), "lower")["verdict"].startswith("no pairs")


def record(method, seed, best_loss, *, outcome="completed", axes=None, error=None):
    metrics = None if outcome in ("failed", "missing") else {
        "status": outcome, "best_loss": best_loss, "errors_best": {"rel_l2_u": error or best_loss}}
    return RunRecord(id=f"{method}-{(axes or {}).get('a', '')}-s{seed}", method=method, axes=axes or {}, seed=seed,
                     run_dir=Path("/nonexistent"), config=None, outcome=outcome, status=outcome, metrics=metrics)


def study_of(records, axes=()):
    return Study(path=Path("/nonexistent"), name="synthetic", axes=list(axes), runs=records)


CLAIM = Claim(id="p_beats_e", text="p has a lower best loss than e", metric="best_loss", better="lower",
              a={"method": "p"}, b={"method": "e"})


def test_a_clear_win_holds_and_a_clear_loss_is_contradicted():
    seeds = range(6)
    win = study_of([record("p", s, 1e-4 * (1 + 0.1 * s)) for s in seeds]
                   + [record("e", s, 1e-2 * (1 + 0.05 * s)) for s in seeds])
    v = claim_verdict(win, CLAIM)
    assert v["verdict"] == HOLDS and v["pooled"]["n"] == 6 and v["scale"] == "log10"
    expected = [math.log10(1e-4 * (1 + 0.1 * s)) - math.log10(1e-2 * (1 + 0.05 * s)) for s in seeds]
    assert v["pooled"]["differences"] == pytest.approx(expected, abs=1e-6)
    assert v["pooled"]["mean"] == pytest.approx(np.mean(expected)) and v["pooled"]["p"] == pytest.approx(1 / 64)
    loss = claim_verdict(win, CLAIM.model_copy(update={"a": {"method": "e"}, "b": {"method": "p"}}))
    assert loss["verdict"] == CONTRADICTED and loss["pooled"]["ci"][0] > 1.8
    mixed = study_of([record("p", s, 1e-3 * (1 + (-1) ** s * 0.5)) for s in seeds]
                     + [record("e", s, 1e-3) for s in seeds])
    assert claim_verdict(mixed, CLAIM)["verdict"] == INCONCLUSIVE


def test_a_failed_or_missing_run_drops_its_pair_and_says_so():
    seeds = range(7)
    records = [record("p", s, 1e-4) for s in seeds] + [record("e", s, 1e-2 * (1 + s)) for s in seeds]
    records[2] = record("p", 2, None, outcome="failed")
    records[-1] = record("e", 6, None, outcome="missing")
    v = claim_verdict(study_of(records), CLAIM)
    assert v["pooled"]["n"] == 5 and v["verdict"] == HOLDS
    assert v["dropped"] == ["seed 2: p--s2 failed", "seed 6: e--s6 missing"]
    records[3] = record("p", 3, None, outcome="interrupted")
    v = claim_verdict(study_of(records), CLAIM)
    assert v["pooled"]["n"] == 4 and v["verdict"] == "inconclusive: n = 4 < 5 seeds, cannot be significant"
    assert "seed 3: p--s3 interrupted" in v["dropped"]


def test_over_gives_one_verdict_per_cell_and_all_must_hold():
    runs = []
    for a, factor in ((0.5, 1e-2), (1.0, 1e-2), (2.0, 1e2)):  # p wins at a = 0.5 and 1, loses at a = 2
        for s in range(5):
            runs += [record("p", s, factor * 1e-3 * (1 + 0.1 * s), axes={"a": a}),
                     record("e", s, 1e-3 * (1 + 0.2 * s), axes={"a": a})]
    study = study_of(runs, axes=["a"])
    v = claim_verdict(study, CLAIM.model_copy(update={"over": ["a"]}))
    assert [c["cell"] for c in v["cells"]] == ["a=0.5", "a=1", "a=2"]
    assert [c["verdict"] for c in v["cells"]] == [HOLDS, HOLDS, CONTRADICTED]
    assert v["verdict"] == "contradicted (in 1 of 3 cells)" and v["pooled"]["n"] == 15
    only = claim_verdict(study, CLAIM.model_copy(update={"where": {"a": 0.5}}))
    assert only["verdict"] == HOLDS and only["pooled"]["n"] == 5


def spec(claims):
    return {"base": {"problem": {"name": "burgers"}}, "methods": {"p": {"network.initializer": "proposed"},
                                                                 "e": {"network.initializer": "eoc"}},
            "axes": {"grid": [{"key": "network.activation.a", "values": [0.5, 1.0]}]}, "seeds": 5,
            "claims": claims}


GOOD = {"id": "c", "metric": "best_loss", "better": "lower", "a": {"method": "p"}, "b": {"method": "e"}}


@pytest.mark.parametrize("change, message", [
    ({"a": {"method": "q"}}, "claims[0].a.method: unknown method 'q'; the study's methods: p, e"),
    ({"a": {"network.depth": 3}, "b": {"network.depth": 4}},
     "claims[0].a.network.depth: unknown key 'network.depth'; valid: method, network.activation.a"),
    ({"where": {"network.activation.a": 0.7}},
     "claims[0].where.network.activation.a: 0.7 is not a value of this axis; its values: 0.5, 1"),
    ({"metric": "best_los"}, "claims[0].metric: unknown metric 'best_los'; valid: best_loss, final_loss"),
    ({"over": ["network.width"]}, "claims[0].over[0]: unknown axis 'network.width'; the study's axes: "
                                  "network.activation.a"),
    ({"b": {"method": "p"}}, "claims[0]: a and b select the same runs"),
    ({"better": "smaller"}, "claims[0].better: got 'smaller'"),
    ({"colour": 1}, "claims[0].colour: unknown key"),
])
def test_bad_claims_are_one_line_errors(change, message):
    with pytest.raises(PinnitError) as err:
        parse_study(spec([{**GOOD, **change}]), name="s")
    assert message in str(err.value) and "\n" not in str(err.value)


def test_a_claim_on_a_field_the_problem_lacks_fails_the_dry_run(tmp_path, capsys):
    path = tiny_study_file(tmp_path, methods={"x": {"network.initializer": "xavier_normal"},
                                              "p": {"network.initializer": "proposed"}})
    data = yaml.safe_load(path.read_text())
    data["claims"] = [{**GOOD, "a": {"method": "x"}, "b": {"method": "p"}, "metric": "rel_l2_q_best"}]
    path.write_text(yaml.safe_dump(data))
    assert main(["study", str(path), "--dry-run"]) != 0
    err = capsys.readouterr().err.strip()
    assert "claims[0].metric: 'rel_l2_q_best': no field 'q'; the problem's fields: u (and mean)" in err
    assert len(err.splitlines()) == 1


def test_a_tiny_study_with_a_claim_writes_its_verdicts(tmp_path, capsys):
    path = tiny_study_file(tmp_path, iterations=10, seeds=3,
                           methods={"xavier": {"network.initializer": "xavier_normal"},
                                    "proposed": {"network.initializer": "proposed"}})
    data = yaml.safe_load(path.read_text())
    data["claims"] = [{"id": "proposed_lower_error", "text": "proposed's error is below xavier's",
                       "metric": "rel_l2_best", "better": "lower", "a": {"method": "proposed"},
                       "b": {"method": "xavier"}}]
    path.write_text(yaml.safe_dump(data))
    study_dir = tmp_path / "sd"
    assert main(["study", str(path), "--dry-run"]) == 0
    assert "claim proposed_lower_error: method=proposed has lower rel_l2_best than method=xavier" in \
        capsys.readouterr().out
    assert main(["study", str(path), "--dir", str(study_dir), "--executor", "serial", "--no-report"]) == 0
    capsys.readouterr()
    assert main(["report", str(study_dir), "--no-figures"]) == 0
    printed = capsys.readouterr().out
    verdicts = json.loads((study_dir / "report" / "verdicts.json").read_text())["claims"]
    (v,) = verdicts
    assert v["id"] == "proposed_lower_error" and v["pooled"]["n"] == 3 and v["dropped"] == []
    assert v["verdict"] == "inconclusive: n = 3 < 5 seeds, cannot be significant"
    runs = json.loads((study_dir / "plan.json").read_text())["runs"]
    errors = {(r["method"], r["seed"]): json.loads((study_dir / r["run_dir"] / "metrics.json").read_text())
              ["errors_best"]["rel_l2_u"] for r in runs}
    expected = [math.log10(errors["proposed", s]) - math.log10(errors["xavier", s]) for s in range(3)]
    assert v["pooled"]["differences"] == pytest.approx(expected, abs=1e-6)
    md = (study_dir / "report" / "verdicts.md").read_text()
    assert "| claim | cell | n pairs | mean paired diff | 95 % CI | p | verdict |" in md
    assert "proposed_lower_error" in printed and "cannot be significant" in printed
    # claims of another file judge the same directory; a file without claims removes the verdicts
    data["claims"] = [{**data["claims"][0], "id": "other", "metric": "best_loss"}]
    other = tmp_path / "other.yaml"
    other.write_text(yaml.safe_dump(data))
    assert main(["report", str(study_dir), "--no-figures", "--claims", str(other)]) == 0
    assert [c["id"] for c in json.loads((study_dir / "report" / "verdicts.json").read_text())["claims"]] == ["other"]
    del data["claims"]
    other.write_text(yaml.safe_dump(data))
    assert main(["report", str(study_dir), "--no-figures", "--claims", str(other)]) == 0
    assert not (study_dir / "report" / "verdicts.json").exists()
