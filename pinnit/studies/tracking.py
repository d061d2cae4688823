"""Log a study's finished runs to MLflow (optional extra ``pinnit[mlflow]``; imported only when used).

Each finished run (completed or diverged) becomes one MLflow run named by its study run id, with
- params: the resolved run config flattened to dotted keys (``network.activation.a``), plus method and seed;
- tags: ``pinnit.study``, ``pinnit.run_id``, ``pinnit.method``, ``pinnit.status``, ``pinnit.axis.<key>``,
  and ``pinnit.fingerprint`` (a hash of metrics.json and history.csv);
- metrics: the numbers of metrics.json under their names (``rel_l2_u``, ``best_loss``, ``final_loss.total``,
  ``errors_best.rel_l2_u``, ``iterations.adam``, ``wall_time_s``, ...) and the convergence slowness;
- step metrics: every loss and error column of history.csv as ``history/<column>`` against the step.

Idempotent: a run whose ``pinnit.run_id`` is already logged with the same fingerprint is left alone; one whose
files changed (e.g. resumed since) is deleted and logged again, so a study never holds two MLflow runs for one
planned run. Default store: ``sqlite:///STUDY_DIR/mlflow.db`` (MLflow ≥ 3 refuses plain file stores).
"""
from __future__ import annotations

import hashlib
import logging
import re
import time
from pathlib import Path
from typing import Any

from ..core.errors import PinnitError
from .results import RunRecord, Study, number, load_study, value_label

FINISHED = ("completed", "diverged")
PARAM_LIMIT = 500  #: characters of a parameter value kept (MLflow limits them; a long list is summarised)
KEY_LIMIT = 250  #: characters of a param, metric or tag name MLflow accepts
BATCH = 900  #: metrics per log_batch call (MLflow accepts at most 1000)


def _mlflow():
    try:
        import mlflow  # noqa: F401
        from mlflow.tracking import MlflowClient
    except ImportError:
        raise PinnitError("--mlflow needs the mlflow package: pip install 'pinnit[mlflow]'") from None
    for name in ("mlflow.store.db.utils", "alembic"):  # their per-database INFO lines are noise here
        logging.getLogger(name).setLevel(logging.WARNING)
    return MlflowClient


def mlflow_key(key: str) -> str:
    """MLflow names allow letters, digits, ``_ - . / `` and spaces, at most 250 of them; anything else becomes
    ``_``, and a longer name is cut."""
    return re.sub(r"[^A-Za-z0-9_\-./ ]", "_", key)[:KEY_LIMIT] or "_"


def flatten(node: Any, prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` → ``{"a.b": 1}``; lists are kept as values."""
    if not isinstance(node, dict):
        return {prefix: node}
    out: dict[str, Any] = {}
    for k, v in node.items():
        out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
    return out


def run_metrics(r: RunRecord) -> dict[str, float]:
    """The finite numbers of metrics.json, flattened, plus ``slowness``."""
    out = {k: number(v) for k, v in flatten(r.metrics or {}).items()
           if not k.startswith("versions.") and k not in ("seed", "git_commit")}
    out["slowness"] = r.slowness()
    return {k: v for k, v in out.items() if v is not None}


def fingerprint(r: RunRecord) -> str:
    h = hashlib.sha256()
    for name in ("metrics.json", "history.csv"):
        path = r.run_dir / name
        h.update(path.read_bytes() if path.exists() else b"-")
    return h.hexdigest()[:16]


def default_uri(study_dir: Path) -> str:
    return f"sqlite:///{(Path(study_dir) / 'mlflow.db').resolve()}"


def log_study(study_dir: str | Path, tracking_uri: str | None = None, experiment: str | None = None) -> dict:
    """Log every finished run of the study; returns {uri, experiment, created, updated, unchanged, skipped}."""
    MlflowClient = _mlflow()
    study = load_study(study_dir)
    uri = tracking_uri or default_uri(study.path)
    name = experiment or f"pinnit/{study.name}"[:PARAM_LIMIT]  # MLflow refuses longer experiment names
    try:
        client = MlflowClient(tracking_uri=uri)
        found = client.get_experiment_by_name(name)
        exp_id = found.experiment_id if found else client.create_experiment(
            name, artifact_location=(study.path / "mlartifacts").resolve().as_uri() if not tracking_uri else None)
        logged = _search(client, exp_id, study.name[:PARAM_LIMIT])
        existing = {run.data.tags.get("pinnit.run_id"): run for run in logged}
    except Exception as exc:  # mlflow raises its own exception types for bad URIs, servers, databases
        raise PinnitError(f"--mlflow {uri}: {exc.__class__.__name__}: {str(exc).splitlines()[0]}") from None
    counts = {"created": 0, "updated": 0, "unchanged": 0, "skipped": 0}
    from mlflow.exceptions import MlflowException

    for r in study.runs:
        if r.outcome not in FINISHED:
            counts["skipped"] += 1
            continue
        fp = fingerprint(r)
        old = existing.get(r.id)
        if old is not None and old.data.tags.get("pinnit.fingerprint") == fp:
            counts["unchanged"] += 1
            continue
        try:
            if old is not None:
                client.delete_run(old.info.run_id)
            _log_run(client, exp_id, study, r, fp)
        except (MlflowException, OSError, ValueError) as exc:  # e.g. a value MLflow refuses, a server gone
            raise PinnitError(f"--mlflow {uri}: run {r.id}: {exc.__class__.__name__}: "
                              f"{(str(exc).splitlines() or [''])[0][:300]}") from None
        counts["updated" if old is not None else "created"] += 1
    return {"uri": uri, "experiment": name, "experiment_id": exp_id, **counts}


def _search(client, exp_id: str, study: str) -> list:
    """The active runs of the experiment logged for this study (filtered here: no quoting of names needed)."""
    runs, token = [], None
    while True:
        page = client.search_runs([exp_id], max_results=1000, page_token=token)
        runs += [run for run in page if run.data.tags.get("pinnit.study") == study]
        token = page.token
        if not token:
            return runs


def _log_run(client, exp_id: str, study: Study, r: RunRecord, fp: str) -> None:
    from mlflow.entities import Metric, Param, RunStatus

    tags = {"pinnit.study": study.name[:PARAM_LIMIT], "pinnit.run_id": r.id,
            "pinnit.method": study.group(r)[:PARAM_LIMIT], "pinnit.status": r.status[:PARAM_LIMIT],
            "pinnit.fingerprint": fp,
            **{mlflow_key(f"pinnit.axis.{k}"): value_label(v)[:PARAM_LIMIT] for k, v in r.axes.items()}}
    run = client.create_run(exp_id, run_name=r.id, tags=tags)
    rid = run.info.run_id
    params = {"method": study.group(r), "seed": r.seed, **flatten(r.config or {})}
    plist = [Param(k, v) for k, v in {mlflow_key(k): _param_text(v) for k, v in params.items()}.items()]
    now = int(time.time() * 1000)
    last_step = int(max([row.get("step") or 0 for row in r.history()], default=0))
    metrics = [Metric(mlflow_key(k), v, now, last_step) for k, v in run_metrics(r).items()]
    for row in r.history():
        step = row.get("step")
        if step is None:
            continue
        for k, v in row.items():
            if k.startswith(("loss_", "rel_l2_", "max_abs_", "lr")) and isinstance(v, float):
                metrics.append(Metric(mlflow_key(f"history/{k}"), v, now, int(step)))
    for i in range(0, len(plist), 100):
        client.log_batch(rid, params=plist[i:i + 100])
    for i in range(0, len(metrics), BATCH):
        client.log_batch(rid, metrics=metrics[i:i + BATCH])
    client.set_terminated(rid, RunStatus.to_string(RunStatus.FINISHED if r.outcome == "completed" else RunStatus.FAILED))


def _param_text(value: Any) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= PARAM_LIMIT else text[:PARAM_LIMIT - 20] + f"… ({len(text)} chars)"
