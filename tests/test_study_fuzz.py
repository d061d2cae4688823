"""Study files fuzzed as run configs are (tests/test_bad_input.py): whatever a study file holds,
``pinnit study FILE --dry-run`` either prints the plan (exit 0) or prints one line and exits 2 — never a
traceback, never a hang. Inputs that once failed are kept as ``@example``s."""
from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from conftest import small_burgers
from pinnit.cli import main

FILE_NAMES = ["burgers_fast.yaml", "burgers", "configs/heat.yaml", "problems/heat.yaml", "../nope.yaml", "/dev/zero",
              "/", ".", "study.yaml", "base.yaml", "\x00", "studies/burgers_scale_cpu.yaml"]
KEYS = ["network.width", "network.depth", "training.seed", "training.adam.lr", "network.activation.a", "problem.name",
        "network..width", "network", "", "a" * 300, "training.adam.iterations", "sampling.points.pde"]
VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-10**12, 10**12), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12), st.sampled_from(FILE_NAMES + KEYS + ["tanh", "eoc", "kgi", "1e999", "key=value", "=", "x="]),
    st.lists(st.integers(-3, 40), max_size=4), st.lists(st.floats(-1e3, 1e3), max_size=3),
    st.dictionaries(st.sampled_from(KEYS), st.integers(-2, 50), max_size=2),
    st.dictionaries(st.text(max_size=6), st.lists(st.integers(0, 9), max_size=3), max_size=2),
)
PATHS = [("name",), ("description",), ("base",), ("base", "network", "width"), ("base", "training"), ("set",),
         ("set", "training.adam.iterations"), ("set", "network"), ("methods",), ("methods", "m"),
         ("methods", "m", "network.depth"), ("methods", "bad name"), ("axes",), ("axes", "grid"),
         ("axes", "grid", 0), ("axes", "grid", 0, "key"), ("axes", "grid", 0, "values"), ("axes", "zip"),
         ("axes", "zip", 0), ("axes", "zip", 0, "network.depth"), ("seeds",), ("unknown",), ("problem",),
         ("equations",)]


def study(tmp: Path) -> dict:
    base = small_burgers(tmp)
    base["training"]["adam"]["iterations"] = 5
    return {"name": "fuzz", "base": base, "set": {"training.adam.lr": 1e-3},
            "methods": {"m": {"network.depth": 2}, "n": {"network.depth": 3}},
            "axes": {"grid": [{"key": "network.width", "values": [4, 8]}],
                     "zip": [{"network.activation.a": [0.5]}]},
            "seeds": [0, 1]}


def mutate(data: dict, path: tuple, value) -> None:
    """Set ``path`` (keys and list indices) to ``value``, making the containers on the way."""
    node = data
    for key, after in zip(path, path[1:]):
        kind = list if isinstance(after, int) else dict
        if isinstance(node, list):
            if not isinstance(key, int):
                return
            node.extend(kind() for _ in range(key + 1 - len(node)))
        elif not isinstance(node, dict):
            return
        if not isinstance(node[key] if isinstance(node, list) else node.get(key), kind):
            node[key] = kind()
        node = node[key]
    last = path[-1]
    if isinstance(node, dict) and not isinstance(last, int):
        node[last] = value
    elif isinstance(node, list) and isinstance(last, int):
        node.extend(None for _ in range(last + 1 - len(node)))
        node[last] = value


def check(path: Path, capsys) -> None:
    code = main(["study", str(path), "--dry-run", "--dir", str(path.parent / "sd")])
    out, err = capsys.readouterr()
    assert code in (0, 2), (code, err)
    if code == 2:
        assert err.startswith("pinnit: error: ") and err.endswith("\n") and err.count("\n") == 1, err
        assert err[:-1].isprintable() and "Traceback" not in err, err
    else:
        assert out.startswith("study ") and err == "", err


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mutations=st.lists(st.tuples(st.sampled_from(PATHS), VALUES), min_size=1, max_size=3))
@example(mutations=[(("base",), "/dev/zero")])                        # found: read forever
@example(mutations=[(("seeds",), 10**12)])                            # found: a list of 10¹² seeds built
@example(mutations=[(("base",), "problems/heat.yaml")])               # a declaration as the base
@example(mutations=[(("base",), "burgers_fast.yaml")])                # a shipped config, found as `run` finds it
@example(mutations=[(("base",), "studies/burgers_scale_cpu.yaml")])   # a study as the base
@example(mutations=[(("axes", "grid", 0, "values"), [{"": 1}])])
@example(mutations=[(("methods", "m"), {"a" * 300: 1})])
def test_fuzzed_study_files_plan_or_fail_in_one_line(tmp_path, capsys, mutations):
    data = copy.deepcopy(study(tmp_path))
    for path, value in mutations:
        mutate(data, path, value)
    target = tmp_path / "study.yaml"
    target.write_text(yaml.safe_dump(data, allow_unicode=True))
    check(target, capsys)


ALIAS_BOMB = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [" + ", ".join([f"*{chr(97 + i)}"] * 10) + "]\n" for i in range(8))


@pytest.mark.parametrize("text", [
    "", "~", "[]", "42", "'just a string'", "base:", "base: [1, 2]", "base: {}", "{base: ., seeds: -1}",
    "base: &b [*b]\n",                                     # an alias that contains itself
    ALIAS_BOMB + "base: {problem: {name: burgers}}\nset: {network.width: *i}\n",  # 10⁹ values once expanded
    "problem: {name: burgers}\n",                          # a run config
    "equations: [u_t = u_xx]\ninputs: {x: [0, 1]}\n",      # a PDE declaration
    "base: " + "[" * 1500 + "]" * 1500 + "\n",            # nested deeper than the parser's recursion
    "\ufeffbase: x\n", "base: \x85\n", "\x00", "base: !!python/object/apply:os.system [echo pwned]\n",
    "name: ../../x\nbase: {problem: {name: burgers}}\n", "base: {problem: {name: burgers}}\nseeds: 99999999999\n",
], ids=lambda t: repr(t[:24]))
def test_hostile_study_text_is_one_line_exit_2(tmp_path, capsys, text):
    target = tmp_path / "study.yaml"
    target.write_text(text)
    code = main(["study", str(target), "--dry-run", "--dir", str(tmp_path / "sd")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("pinnit: error: ") and err.count("\n") == 1 and err[:-1].isprintable(), err
    assert not (tmp_path / "pwned").exists()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.integers(0, 10_000), junk=st.text(max_size=8))
def test_study_text_cut_or_spliced_anywhere_plans_or_fails_in_one_line(tmp_path, capsys, cut, junk):
    text = yaml.safe_dump(study(tmp_path))
    cut %= len(text) + 1
    target = tmp_path / "study.yaml"
    target.write_text(text[:cut] + junk + text[cut + len(junk):], errors="surrogateescape")
    check(target, capsys)


# --- a study directory's own files, read back by `pinnit study STUDY_DIR` and `pinnit report` ----------------
def _plan(runs, **extra) -> str:
    import json

    return json.dumps({"name": "p", "axes": [], "runs": runs, **extra})


def _run(tmp: Path, **change) -> dict:
    config = small_burgers(tmp)
    return {"id": "s0-00000000", "method": None, "axes": {}, "seed": 0, "run_dir": "runs/s0-00000000",
            "config": config, **change}


@pytest.mark.parametrize("plan, message", [
    (lambda t: "{", "plan.json: unreadable plan (JSONDecodeError"),
    (lambda t: "[]", "plan.json: expected an object with a 'runs' list"),
    (lambda t: "[" * 100_000 + "]" * 100_000, "plan.json: unreadable plan (RecursionError"),
    (lambda t: _plan([_run(t, id="../../victim")]), "plan.json: runs[0]: id '../../victim': expected letters"),
    (lambda t: _plan([_run(t, run_dir="../../victim")]), "plan.json: runs[0]: run_dir '../../victim': expected a path "
                                                          "inside the study directory"),
    (lambda t: _plan([_run(t, run_dir="/etc")]), "plan.json: runs[0]: run_dir '/etc': expected a path inside"),
    (lambda t: _plan([_run(t), _run(t)]), "plan.json: runs[1]: id 's0-00000000' appears twice"),
    (lambda t: _plan([_run(t, seed="0")]), "plan.json: runs[0]: seed: expected an integer"),
    (lambda t: _plan([_run(t, axes=[1])]), "plan.json: runs[0]: axes: expected a mapping"),
    (lambda t: _plan([_run(t)], name=["x"]), "plan.json: name: expected a string, got list"),
    (lambda t: _plan([_run(t, config="rm -rf /")]), "plan.json: runs[0]: config: expected a mapping"),
])
def test_a_hostile_plan_json_is_one_line_for_study_and_report(tmp_path, capsys, plan, message):
    sd = tmp_path / "a" / "b" / "sd"
    (sd / "runs").mkdir(parents=True)
    victim = tmp_path / "a" / "victim"
    victim.mkdir()
    (victim / "keep.txt").write_text("mine")
    (sd / "plan.json").write_text(plan(tmp_path))
    for argv in (["study", str(sd), "--executor", "serial"], ["report", str(sd), "--no-figures"]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"pinnit: error: {sd / 'plan.json'}") and message in err and err.count("\n") == 1, err
    assert (victim / "keep.txt").read_text() == "mine"


def test_an_invalid_config_in_plan_json_is_refused_before_anything_trains(tmp_path, capsys):
    sd = tmp_path / "sd"
    sd.mkdir()
    bad = _run(tmp_path)
    bad["config"]["network"]["width"] = -4
    (sd / "plan.json").write_text(_plan([_run(tmp_path, id="s1-11111111"), bad]))
    assert main(["study", str(sd), "--executor", "serial"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"pinnit: error: {sd / 'plan.json'}: runs[1] (s0-00000000): config: network.width: got -4")
    assert not (sd / "runs").exists()
