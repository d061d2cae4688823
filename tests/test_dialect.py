"""One config dialect: the older training.adam / training.lbfgs form is translated into training.stages when a
config is loaded, with the defaults of pinnit/config/defaults.py, and resolves to the same stages as the stage
form; every shipped config trains as its older form did; an older run directory resumes; training.derivatives
is one key for both kinds of run (its former spellings training.engine and jet still read), and a value or key
the run's kind does not read is an error naming it."""
from __future__ import annotations

import copy
import hashlib
import json
import typing
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from conftest import interrupt_after_step, small_burgers
from pinnit import parse_config, resume
from pinnit.runs import run
from pinnit.cli import main
from pinnit.config.dialect import translate
from pinnit.config.schema import TrainingConfig
from pinnit.core.errors import ConfigError
from pinnit.training.stages import resolve_stages, stages_of
from pinnit.core.yaml_io import read_yaml

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
BURGERS_5000 = {"adam": {"iterations": 5000, "lr": 1.0e-3},
                "lbfgs": {"iterations": 5000, "history_size": 50, "line_search": "strong_wolfe"}}
STOKES = {"adam": {"iterations": 50000, "lr": 1.0e-3,
                   "schedule": {"kind": "inverse_time", "decay_steps": 10000, "decay_rate": 0.5}},
          "lbfgs": {"iterations": 0}}
STOKES_CPU = {"adam": {"iterations": 3000, "lr": 3.0e-3,
                       "schedule": {"kind": "inverse_time", "decay_steps": 1000, "decay_rate": 0.5}},
              "lbfgs": {"iterations": 0}}
#: the training sections of the shipped configs written in the older form before their migration to stages
OLDER = {
    "advection": {"adam": {"iterations": 3000, "lr": 2.0e-3}, "lbfgs": {"iterations": 1000}},
    "black_scholes_basis": {"adam": {"iterations": 3000, "lr": 1.0e-3}, "lbfgs": {"iterations": 3000}},
    "black_scholes_declared": {"adam": {"iterations": 5000, "lr": 1.0e-3}, "lbfgs": {"iterations": 2000}},
    "black_scholes_fast": {"adam": {"iterations": 3000, "lr": 1.0e-3}, "lbfgs": {"iterations": 3000}},
    **dict.fromkeys([f"burgers_{n}" for n in ("basis", "declared", "eoc", "fast", "kgi", "mrepu", "proposed",
                                              "siren")], BURGERS_5000),
    "heat": {"adam": {"iterations": 2000, "lr": 2.0e-3}, "lbfgs": {"iterations": 500}},
    "poisson": {"adam": {"iterations": 2000, "lr": 2.0e-3}, "lbfgs": {"iterations": 500}},
    "wave": {"adam": {"iterations": 3000, "lr": 2.0e-3}, "lbfgs": {"iterations": 1000}},
    **dict.fromkeys(["stokes_deeponet", "stokes_deeponet_kgi", "stokes_deeponet_xavier"], STOKES),
    **dict.fromkeys(["stokes_deeponet_cpu", "stokes_deeponet_cpu_kgi"], STOKES_CPU),
}
#: written in stages from the start (no older form)
STAGED = {"burgers", "burgers_lm", "burgers_long", "burgers_short", "black_scholes", "stokes_deeponet_cpu_ls",
          "stokes_deeponet_cpu_lm", "stokes_deeponet_cpu_corners",
          "stokes_deeponet_cpu_corners_long"}


def _stages(data: dict) -> list:
    """The stages a raw config mapping resolves to (translation, schema, optimizer options; no problem built)."""
    data = copy.deepcopy(data)
    translate(data)
    return stages_of(TrainingConfig.model_validate(data.get("training", {})),
                     data.get("sampling", {}).get("resample_every", 0))


def _older(data: dict, sections: dict) -> dict:
    data = copy.deepcopy(data)
    data["training"] = {k: v for k, v in data["training"].items() if k != "stages"} | copy.deepcopy(sections)
    return data


def test_every_shipped_config_is_in_stages_or_listed_here():
    names = {p.stem for p in CONFIGS.glob("*.yaml")}
    assert names == set(OLDER) | STAGED


@pytest.mark.parametrize("name", sorted(OLDER))
def test_a_migrated_config_trains_the_stages_of_its_older_form(name):
    """Same stages (iterations, dtype, options, L-BFGS tolerances, chunk, restarts, resampling) as before its
    migration; a stage of 0 iterations (L-BFGS in the operator recipes) may have been dropped."""
    shipped = read_yaml(CONFIGS / f"{name}.yaml")
    new, old = _stages(shipped), _stages(_older(shipped, OLDER[name]))
    assert [s for s in new if s.iterations] == [s for s in old if s.iterations]
    assert {s.name for s in old} - {s.name for s in new} <= {s.name for s in old if not s.iterations}


@pytest.mark.parametrize("name", sorted(OLDER))
def test_a_shipped_config_in_the_older_form_reads_the_same(name):
    """Written back in the older form (stage adam → training.adam, stage lbfgs → training.lbfgs), each shipped
    two-stage config resolves to identical stages."""
    shipped = read_yaml(CONFIGS / f"{name}.yaml")
    stages = shipped["training"]["stages"]
    sections = {k: {key: v for key, v in stages[k].items() if key != "resample_every"} for k in stages}
    assert set(stages) <= {"adam", "lbfgs"}
    new, old = _stages(shipped), _stages(_older(shipped, sections))
    assert [s for s in new if s.iterations] == [s for s in old if s.iterations]


schedules = st.fixed_dictionaries({"kind": st.sampled_from(["constant", "exponential", "inverse_time", "cosine"]),
                                   "decay_steps": st.integers(1, 10**5)})
adam_sections = st.fixed_dictionaries({"iterations": st.integers(0, 10**5)}, optional={
    "lr": st.floats(1e-6, 1.0), "betas": st.tuples(st.floats(0, 0.99), st.floats(0, 0.9999)),
    "schedule": schedules})
lbfgs_sections = st.fixed_dictionaries({"iterations": st.integers(0, 10**5)}, optional={
    "lr": st.floats(0.01, 2.0), "history_size": st.integers(1, 200), "tolerance_grad": st.floats(0, 1e-3),
    "tolerance_change": st.floats(0, 1e-3), "line_search": st.sampled_from(["strong_wolfe", "none"]),
    "chunk": st.integers(1, 500), "restarts": st.integers(0, 50)})


@given(adam=adam_sections, lbfgs=lbfgs_sections, resample_every=st.integers(0, 1000), dtype=st.sampled_from(
    ["float32", "float64"]))
def test_both_forms_resolve_to_identical_stages(adam, lbfgs, resample_every, dtype):
    """training.adam + training.lbfgs ≡ training.stages {adam, lbfgs} with the same keys, the L-BFGS stage's
    resample_every 0 (the older form never resampled in L-BFGS)."""
    if not adam["iterations"] and not lbfgs["iterations"]:
        adam["iterations"] = 1
    base = {"problem": {"name": "burgers"}, "sampling": {"resample_every": resample_every}}
    older = {**base, "training": {"dtype": dtype, "adam": adam, "lbfgs": lbfgs}}
    staged = {**base, "training": {"dtype": dtype, "stages": {"adam": adam, "lbfgs": {**lbfgs, "resample_every": 0}}}}
    assert _stages(older) == _stages(staged)


def test_an_lbfgs_stage_stops_as_the_older_form_did(burgers_cfg):
    """The stage form's L-BFGS defaults (tolerances 1e-9 / 1e-12, chunk 50, 10 restarts) are the older form's,
    not torch's looser 1e-7 / 1e-9: moving a config to stages leaves its stopping test alone."""
    older = resolve_stages(parse_config(burgers_cfg, ["training.lbfgs={iterations: 5}"]))
    del burgers_cfg["training"]["adam"], burgers_cfg["training"]["lbfgs"]
    staged = resolve_stages(parse_config(burgers_cfg, ["training.stages={adam: {iterations: 60, lr: 3.0e-3}, "
                                                       "lbfgs: {iterations: 5}}"]))
    assert staged == older
    assert (staged[1].options["tolerance_grad"], staged[1].options["tolerance_change"]) == (1e-9, 1e-12)
    assert (staged[1].chunk, staged[1].restarts) == (50, 10)


def test_the_resolved_config_holds_the_stages_and_reloads_to_them(burgers_cfg):
    from pinnit.config import dump_config

    cfg = parse_config(burgers_cfg)
    training = yaml.safe_load(dump_config(cfg))["training"]
    assert "adam" not in training and "lbfgs" not in training and list(training["stages"]) == ["adam", "lbfgs"]
    assert training["stages"]["lbfgs"]["tolerance_change"] == 1e-12 and training["stages"]["lbfgs"]["chunk"] == 10
    assert resolve_stages(parse_config(yaml.safe_load(dump_config(cfg)))) == resolve_stages(cfg)


def _older_dump(training: dict) -> dict:
    """A resolved config's training section as pinnit wrote it before the one dialect: ``stages: null`` and
    both sections complete."""
    adam, lbfgs = training["stages"]["adam"], training["stages"]["lbfgs"]
    rest = {k: v for k, v in training.items() if k != "stages"}
    return {"stages": None,
            "adam": {k: adam.get(k) for k in ("iterations", "lr", "lr_per_omega", "betas", "schedule")},
            "lbfgs": {k: lbfgs[k] for k in ("iterations", "lr", "history_size", "tolerance_grad", "tolerance_change",
                                            "line_search", "chunk", "restarts")}, **rest}


def test_an_older_run_directory_resumes(burgers_cfg, monkeypatch, tmp_path):
    """A run interrupted under the older dialect (its config.yaml: stages null, training.adam, training.lbfgs)
    resumes and ends exactly where an uninterrupted run does."""
    cfg = parse_config(burgers_cfg, ["training.adam.iterations=30", "training.lbfgs={iterations: 10, chunk: 5}"])
    whole = run(cfg, run_dir=tmp_path / "whole").metrics
    interrupt_after_step(monkeypatch, 15)
    cut = tmp_path / "cut"
    assert run(cfg, run_dir=cut).metrics["status"] == "interrupted (SIGINT)"
    monkeypatch.undo()
    config = yaml.safe_load((cut / "config.yaml").read_text())
    config["training"] = _older_dump(config["training"])
    (cut / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    started = json.loads((cut / "started.json").read_text())
    started["config_sha256"] = hashlib.sha256((cut / "config.yaml").read_bytes()).hexdigest()
    (cut / "started.json").write_text(json.dumps(started))
    resumed = resume(cut).metrics
    assert resumed["status"] == "completed" and resumed["iterations"] == {"adam": 30, "lbfgs": 10}
    for key in ("final_loss", "rel_l2_u", "best_step"):
        assert resumed[key] == whole[key], key


def test_an_older_stage_runs_complete_default_sections_are_dropped(burgers_cfg):
    """A stage-form run's config.yaml from before held complete all-default adam/lbfgs sections beside its stages:
    they set nothing, so it loads; a section with a key of its own is refused, even at its default value."""
    del burgers_cfg["training"]["adam"], burgers_cfg["training"]["lbfgs"]
    burgers_cfg["training"]["stages"] = {"adam": {"iterations": 20}}
    dumped = copy.deepcopy(burgers_cfg)
    dumped["training"].update(
        adam={"iterations": 5000, "lr": 0.001, "lr_per_omega": None, "betas": [0.9, 0.999],
              "schedule": {"kind": "constant", "decay_rate": 0.5, "decay_steps": 1000, "min_lr": 0.0}},
        lbfgs={"iterations": 0, "lr": 1.0, "history_size": 50, "tolerance_grad": 1e-09, "tolerance_change": 1e-12,
               "line_search": "strong_wolfe", "chunk": 50, "restarts": 10})
    assert resolve_stages(parse_config(dumped)) == resolve_stages(parse_config(burgers_cfg))
    for override in ("training.lbfgs.iterations=0", "training.lbfgs.chunk=50"):
        with pytest.raises(ConfigError) as info:
            parse_config(burgers_cfg, [override])
        key = override.split("=")[0]
        assert str(info.value) == (f"{key}: this config trains with training.stages, so training.lbfgs is not "
                                   f"used; set the stage's key instead (e.g. training.stages.<name>."
                                   f"{key.split('.')[-1]}; stages here: adam)")


def test_an_older_study_directory_continues(tmp_path, capsys):
    """A study planned under the older dialect (plan.json and a finished run's config.yaml in training.adam /
    training.lbfgs) continues with `pinnit study STUDY_DIR`: the run still to do writes its config.yaml in
    stages, and both compare equal to the plan (config_digest reads either form)."""
    from study_builder import tiny_study_file

    from pinnit.studies import config_digest

    study_dir = tmp_path / "sd"
    assert main(["study", str(tiny_study_file(tmp_path, iterations=5, seeds=2)), "--dir", str(study_dir),
                 "--executor", "serial", "--no-report"]) == 0
    plan = json.loads((study_dir / "plan.json").read_text())
    first, second = plan["runs"]
    for entry in plan["runs"]:
        assert config_digest({**entry["config"], "training": _older_dump(entry["config"]["training"])}) == \
            config_digest(entry["config"]) == entry["id"][-8:]
        entry["config"]["training"] = _older_dump(entry["config"]["training"])
    (study_dir / "plan.json").write_text(json.dumps(plan))
    done = study_dir / first["run_dir"] / "config.yaml"
    done.write_text(yaml.safe_dump({**yaml.safe_load(done.read_text()), "training": first["config"]["training"]}))
    for path in sorted((study_dir / second["run_dir"]).iterdir()):  # the run still to do
        path.unlink()
    capsys.readouterr()
    assert main(["study", str(study_dir), "--executor", "serial", "--no-report"]) == 0
    assert "2 run(s): 1 finished (kept), 0 to resume, 1 to run" in capsys.readouterr().out
    assert "stages" in yaml.safe_load((study_dir / second["run_dir"] / "config.yaml").read_text())["training"]
    assert main(["study", str(study_dir), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert out.count(" finished ") == 2 and out.count("; adam lr 0.003") == 2, out


@pytest.mark.parametrize("override, path", [
    ("training.adam.lr=-0.1", "training.adam.lr: got -0.1"),
    ("training.lbfgs.history_size=0", "training.lbfgs.history_size: got 0"),
    ("training.adam.lr_per_omega=1e-3", "training.adam.lr_per_omega: activation 'relu' has no finite critical "
                                        "scale ω = 1/f'(0) (f'(0) = 0); set training.adam.lr instead"),
    ("training.adam.iterations=0", "training: every stage has 0 iterations; nothing to train"),
])
def test_errors_in_the_older_form_name_its_keys(burgers_cfg, override, path):
    burgers_cfg["network"]["activation"] = "relu"
    burgers_cfg["training"]["lbfgs"]["iterations"] = 0
    with pytest.raises(ConfigError) as info:
        parse_config(burgers_cfg, [override])
    assert str(info.value).startswith(path)


DERIVATIVES = typing.get_args(TrainingConfig.model_fields["derivatives"].annotation)
APPLIES = {"PINN": ("auto", "autograd", "jets", "compiled", "compiled_autograd"),
           "operator": ("auto", "autograd", "jets", "zcs")}
RUN_KIND = {"PINN": "a PINN run (a problem without function inputs)",
            "operator": "an operator run (a problem with function inputs)"}


def _one_step(kind: str, tmp_path: Path) -> dict:
    """A run of one Adam step: the small Burgers PINN, or a small Stokes DeepONet."""
    if kind == "PINN":
        data = small_burgers(tmp_path)
        data["training"].update(adam={"iterations": 1}, lbfgs={"iterations": 0}, threads=1)
        data["evaluation"] = {"every": 0, "resolution": [16, 8]}
        return data
    return {"problem": {"name": "declared", "file": "problems/stokes.yaml", "hard_constraints": True,
                        "functions": {"f": {"argument": "x", "train": 6, "test": 2}}},
            "network": {"arch": "deeponet", "width": 8, "depth": 1, "layout": "shared", "activation": "tanh"},
            "sampling": {"points": {"momentum_x": 32, "momentum_y": 32, "mass": 32, "lid": 8}, "function_batch": 2},
            "training": {"dtype": "float64", "threads": 1, "stages": {"adam": {"iterations": 1}}},
            "evaluation": {"every": 0, "resolution": [11, 11], "functions": 2},
            "output": {"dir": str(tmp_path / "outputs"), "plots": False, "progress": False}}


@pytest.mark.parametrize("kind", ["PINN", "operator"])
@pytest.mark.parametrize("value", DERIVATIVES)
def test_each_derivatives_value_on_a_pinn_and_an_operator_run(kind, value, tmp_path):
    """training.derivatives is one key for both kinds of run: a value the kind offers trains (one step, a finite
    loss that the chosen scheme computed); any other is a one-line error naming the key and the values that apply."""
    data = _one_step(kind, tmp_path)
    if value not in APPLIES[kind]:
        with pytest.raises(ConfigError) as info:
            parse_config(data, [f"training.derivatives={value}"])
        assert str(info.value) == (f"training.derivatives: {value!r} does not apply to {RUN_KIND[kind]}; valid: "
                                   f"{', '.join(APPLIES[kind])}")
        return
    cfg = parse_config(data, [f"training.derivatives={value}"])
    assert cfg.training.derivatives == value
    metrics = run(cfg, run_dir=tmp_path / "run").metrics
    assert metrics["status"] == "completed" and metrics["iterations"]["adam"] == 1
    assert 0 < metrics["final_loss"]["total"] < float("inf")
    if kind == "PINN":  # the engine that ran: auto on a 1-step run is autograd; the others run as named
        ran = metrics["engine"]["ran"]
        assert ran.split(" (")[0] == ("autograd" if value == "auto" else value), metrics["engine"]
        assert not metrics["engine"]["notes"]  # no fallback: the named scheme computed the loss


@pytest.mark.parametrize("kind, former, now", [
    ("PINN", {"engine": "jets"}, {"derivatives": "jets"}),
    ("PINN", {"engine": "compiled"}, {"derivatives": "compiled"}),
    ("PINN", {"engine": "auto", "derivatives": "zcs"}, {"derivatives": "auto"}),  # an older resolved config
    ("PINN", {"engine": "autograd", "derivatives": "zcs"}, {"derivatives": "autograd"}),
    ("operator", {"derivatives": "jet"}, {"derivatives": "jets"}),
    ("operator", {"engine": "auto", "derivatives": "jet"}, {"derivatives": "jets"}),
    ("operator", {"engine": "auto", "derivatives": "autograd"}, {"derivatives": "autograd"}),
    ("operator", {"engine": "auto", "derivatives": "zcs"}, {"derivatives": "auto"}),
])
def test_the_former_spellings_resolve_to_identical_configs(kind, former, now, tmp_path):
    """training.engine and the value jet are read as training.derivatives (an older run directory's config.yaml
    holds both former keys, the one that did not apply at its default); auto is zcs for an operator run."""
    old, new = _one_step(kind, tmp_path), _one_step(kind, tmp_path)
    old["training"].update(former)
    new["training"].update(now)
    assert parse_config(old).model_dump() == parse_config(new).model_dump()
    sets = [f"training.{k}={v}" for k, v in former.items()]
    assert parse_config(_one_step(kind, tmp_path), sets).model_dump() == parse_config(new).model_dump()


@pytest.mark.parametrize("kind", ["PINN", "operator"])
def test_an_older_study_plan_digests_as_the_one_key(kind, tmp_path):
    """A study's plan.json from before holds training.engine beside training.derivatives (both at their old
    defaults where they did not apply): its config digest equals the same run's resolved now, so the study
    continues instead of planning the run again."""
    from pinnit.studies.expand import config_digest

    resolved = parse_config(_one_step(kind, tmp_path)).model_dump(mode="json")
    assert resolved["training"]["derivatives"] == "auto"
    older = copy.deepcopy(resolved)
    del older["training"]["derivatives"]
    older["training"].update(engine="auto", derivatives="zcs")
    assert config_digest(older) == config_digest(resolved)
    older["training"]["derivatives"] = "autograd"  # a run that chose a value: a different digest
    assert config_digest(older) != config_digest(resolved)


@pytest.mark.parametrize("training, message", [
    ({"engine": "jets", "derivatives": "autograd"},
     "training.engine: training.engine is the former name of training.derivatives, which is set too ('autograd'); "
     "keep one: training.derivatives"),
    ({"engine": "fast"}, "training.engine: 'fast' is not a derivatives value; training.engine is the former name of "
                         "training.derivatives: auto, autograd, jets, compiled, compiled_autograd, zcs"),
])
def test_a_former_key_that_cannot_be_read_is_one_line_naming_it(training, message, tmp_path):
    data = _one_step("PINN", tmp_path)
    data["training"].update(training)
    with pytest.raises(ConfigError) as info:
        parse_config(data)
    assert str(info.value) == message


@pytest.mark.parametrize("override", ["sampling.function_batch=10", "evaluation.functions=5"])
def test_operator_only_sampling_and_evaluation_keys_on_a_pinn_run(override, tmp_path):
    with pytest.raises(ConfigError) as info:
        parse_config(small_burgers(tmp_path), [override])
    key, value = override.split("=")
    assert str(info.value) == (f"{key}: {value} is not used by a PINN run (a problem without function inputs): "
                               "only operator runs read it; remove it")


def test_the_cli_names_a_value_that_does_not_apply_in_one_line(capsys):
    assert main(["run", str(CONFIGS / "heat.yaml"), "--set", "training.derivatives=zcs"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == ("pinnit: error: training.derivatives: 'zcs' does not apply to a PINN run (a problem without "
                   "function inputs); valid: auto, autograd, jets, compiled, compiled_autograd")
