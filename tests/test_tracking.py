"""MLflow logging of a study: a local sqlite store queried back with mlflow's client; re-logging is idempotent
and a changed run replaces its MLflow run."""
from __future__ import annotations

import csv
import json

import pytest
from study_builder import build_study

from pinnit.cli import main
from pinnit.studies.tracking import default_uri, flatten, log_study, mlflow_key

mlflow = pytest.importorskip("mlflow")
TRAINED = ("xavier-a0.5-s0", "proposed-a0.5-s0")
SKIP = tuple(f"{m}-a{a:g}-s{s}" for m in ("xavier", "proposed") for a in (0.5, 1.0) for s in (0, 1)
             if f"{m}-a{a:g}-s{s}" not in TRAINED)


@pytest.fixture(scope="module")
def study_dir(tmp_path_factory):
    return build_study(tmp_path_factory.mktemp("tracked") / "tiny", skip=SKIP)


def runs_by_id(study_dir):
    client = mlflow.tracking.MlflowClient(tracking_uri=default_uri(study_dir))
    exp = client.get_experiment_by_name("pinnit/tiny-scale")
    return client, {r.data.tags["pinnit.run_id"]: r for r in client.search_runs([exp.experiment_id])}


def test_log_study_writes_params_metrics_and_curves_once(study_dir):
    first = log_study(study_dir)
    assert (first["created"], first["updated"], first["unchanged"], first["skipped"]) == (2, 0, 0, 6)
    client, runs = runs_by_id(study_dir)
    assert sorted(runs) == sorted(TRAINED)
    run = runs["proposed-a0.5-s0"]
    m = json.loads((study_dir / "runs" / "proposed-a0.5-s0" / "metrics.json").read_text())
    assert run.data.metrics["rel_l2_u"] == m["rel_l2_u"]
    assert run.data.metrics["final_loss.total"] == m["final_loss"]["total"]
    assert run.data.metrics["iterations.lbfgs"] == 10
    assert run.data.params["network.activation.a"] == "0.5" and run.data.params["network.initializer"] == "proposed"
    assert run.data.tags["pinnit.method"] == "proposed" and run.data.tags["pinnit.axis.network.activation.a"] == "0.5"
    with (study_dir / "runs" / "proposed-a0.5-s0" / "history.csv").open() as fh:
        rows = [r for r in csv.DictReader(fh) if r["loss_total"]]
    curve = client.get_metric_history(run.info.run_id, "history/loss_total")
    assert [(p.step, p.value) for p in sorted(curve, key=lambda p: p.step)] == \
        [(int(r["step"]), float(r["loss_total"])) for r in rows]
    errors = client.get_metric_history(run.info.run_id, "history/rel_l2_u")
    assert len(errors) == sum(1 for r in rows if r["rel_l2_u"]) >= 2

    again = log_study(study_dir)  # idempotent: nothing new
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 2)
    assert len(runs_by_id(study_dir)[1]) == 2


def test_changed_run_replaces_its_mlflow_run(study_dir):
    log_study(study_dir)
    path = study_dir / "runs" / "xavier-a0.5-s0" / "metrics.json"
    m = json.loads(path.read_text())
    m["errors_best"] = {"rel_l2_u": 0.125}
    path.write_text(json.dumps(m))
    result = log_study(study_dir)
    assert (result["created"], result["updated"], result["unchanged"]) == (0, 1, 1)
    _, runs = runs_by_id(study_dir)
    assert len(runs) == 2 and runs["xavier-a0.5-s0"].data.metrics["errors_best.rel_l2_u"] == 0.125


def test_cli_mlflow_with_explicit_uri(study_dir, tmp_path, capsys):
    uri = f"sqlite:///{tmp_path / 'other.db'}"
    assert main(["report", str(study_dir), "--no-figures", "--mlflow", uri, "--experiment", "mine"]) == 0
    assert f"mlflow: {uri} experiment 'mine': 2 logged" in capsys.readouterr().out
    client = mlflow.tracking.MlflowClient(tracking_uri=uri)
    assert len(client.search_runs([client.get_experiment_by_name("mine").experiment_id])) == 2


def test_flatten_dotted_keys():
    assert flatten({"a": {"b": 1, "c": {"d": [1, 2]}}, "e": "x"}) == {"a.b": 1, "a.c.d": [1, 2], "e": "x"}


def test_mlflow_key_replaces_characters_mlflow_rejects():
    assert mlflow_key("problem.terms.u_t + u*u_x") == "problem.terms.u_t _ u_u_x"
    assert mlflow_key("history/rel_l2_u") == "history/rel_l2_u"


def test_hostile_metrics_and_history_are_logged_or_left_out_never_a_traceback(tmp_path, capsys):
    """A finished run whose files were edited: over-long, odd or colliding names, values that are not numbers,
    history rows longer than their header. Every finite number is logged, under a name MLflow accepts."""
    sd = tmp_path / "sd"
    run = sd / "runs" / "r-1"
    run.mkdir(parents=True)
    config = {"network": {"width": 8, "name/with:odd*chars": "x" * 2000}, "k" * 400: 1, "a:b": 1, "a_b": 2}
    (sd / "plan.json").write_text(json.dumps({"name": "n" * 900, "axes": ["network.width"], "runs": [
        {"id": "r-1", "method": "m" * 700, "axes": {"network.width": {"name": "x" * 900}}, "seed": 0,
         "config": config}]}))
    (run / "metrics.json").write_text(json.dumps({
        "status": "completed" , "rel_l2_u": "NaN", "x" * 400: 1.5, "errors_best": [1], "errors_final": "bad",
        "final_loss": {"total": "abc"}, "iterations": {"adam": "many"}, "wall_time_s": [1], "best_loss": 0.25,
        "diverged": "yes", "nested": {"deep": {"er": 3}}}))
    (run / "history.csv").write_text("step,loss_total,lr\n0,1.0,1e-3\n10,0.5,x,extra,cells\nnot,a,row\n")
    uri = f"sqlite:///{tmp_path / 'm.db'}"
    assert main(["report", str(sd), "--no-figures", "--mlflow", uri]) == 0, capsys.readouterr().err
    assert "1 logged" in capsys.readouterr().out
    client = mlflow.tracking.MlflowClient(tracking_uri=uri)
    (logged,) = client.search_runs([client.get_experiment_by_name("pinnit/" + "n" * 493).experiment_id])
    metrics = logged.data.metrics
    assert metrics["best_loss"] == 0.25 and metrics["x" * 250] == 1.5 and metrics["nested.deep.er"] == 3
    assert "rel_l2_u" not in metrics and all(len(k) <= 250 for k in logged.data.params)
    assert logged.data.params["a_b"] in ("1", "2")  # 'a:b' and 'a_b' collide once sanitised: one is kept
    assert [m.value for m in client.get_metric_history(logged.info.run_id, "history/loss_total")] == [1.0, 0.5]
    assert main(["report", str(sd), "--no-figures", "--mlflow", uri]) == 0  # idempotent: nothing logged twice
    assert "0 logged, 0 updated, 1 unchanged" in capsys.readouterr().out
