"""Bad input on every path: one clean line naming the key, exit code 2, never a traceback.

Also property-based fuzzing (hypothesis): a mutated config either parses and builds, or fails with a
PinnitError — never any other exception.
"""
from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from pinnit.cli import main
from pinnit.runs import parse_config
from pinnit.core.errors import PinnitError

from conftest import small_burgers

# (override, the key path the message must start with)
BAD_OVERRIDES = [
    ("problem.name=heat_eqn", "problem.name"),
    ("problem.name=null", "problem.name"),
    ("problem.nu=0", "problem.nu"),
    ("problem.nu=.inf", "problem.nu"),
    ("problem.nu=-.inf", "problem.nu"),
    ("problem.t_end=[1, 2]", "problem.t_end"),
    ("problem.hard_constraints=maybe", "problem.hard_constraints"),
    ("network.arch=resnet", "network.arch"),
    ("network.width=0", "network.width"),
    ("network.depth=-1", "network.depth"),
    ("network.depth=2.5", "network.depth"),
    ("network.widths=[16, 0]", "network.widths.1"),
    ("network.activation=42", "network.activation"),
    ("network.activation={a: 1}", "network.activation"),
    ("network.activation.name=swishh", "network.activation.name"),
    ("network.activation={name: tanh, a: .nan}", "network.activation.a"),
    ("network.activation={name: repu, p: 0}", "network.activation.p"),
    ("network.initializer=he", "network.initializer.name"),
    ("network.initializer={name: kgi, bounds: [0.8, 0.2]}", "network.initializer"),
    ("network.initializer={name: kgi, alpha: two}", "network.initializer.alpha"),
    ("network.initializer={name: kgi, mode: both}", "network.initializer.mode"),
    ("network.initializer={name: proposed, rho: .nan}", "network.initializer.rho"),
    ("network.initializer={name: eoc, sigma_b: -.inf}", "network.initializer.sigma_b"),
    ("network.normalize_inputs=sometimes", "network.normalize_inputs"),
    ("sampling.sampler=grid", "sampling.sampler"),
    ("sampling.points.pde=0", "sampling.points.pde"),
    ("sampling.points.pde=-5", "sampling.points.pde"),
    ("sampling.points.collocation=100", "sampling.points.collocation"),
    ("sampling.points=5", "sampling.points"),
    ("sampling.resample_every=-1", "sampling.resample_every"),
    ("sampling.refine=[{box: {x: [0.5, 0.1]}}]", "sampling.refine[0].box.x"),
    ("sampling.refine=[{box: {q: [0, 1]}}]", "sampling.refine[0].box.q"),
    ("sampling.refine=[{box: {x: [0, 1]}, fraction: 1.5}]", "sampling.refine.0.fraction"),
    ("training.adam.iterations=-1", "training.adam.iterations"),
    ("training.adam.lr=-0.1", "training.adam.lr"),
    ("training.adam.lr=.inf", "training.adam.lr"),
    ("training.adam.betas=[0.9]", "training.adam.betas"),
    ("training.adam.schedule.kind=linear", "training.adam.schedule.kind"),
    ("training.adam.schedule.decay_steps=0", "training.adam.schedule.decay_steps"),
    ("training.lbfgs.line_search=armijo", "training.lbfgs.line_search"),
    ("training.lbfgs.history_size=0", "training.lbfgs.history_size"),
    ("training.lbfgs.iterations=many", "training.lbfgs.iterations"),
    ("training.dtype=float16", "training.dtype"),
    ("training.device=tpu", "training.device"),
    ("training.device=cuda", "training.device"),
    ("training.device=cuda:1", "training.device"),
    ("training.seed=-3", "training.seed"),
    ("training.seed=1.5", "training.seed"),
    ("training.weights.physics=-1", "training.weights.physics"),
    ("training.weights.boundry=1", "training.weights.boundry"),
    ("training.on_divergence=ignore", "training.on_divergence"),
    ("training.rollback_lr_factor=2", "training.rollback_lr_factor"),
    ("training.checkpoint_every=-1", "training.checkpoint_every"),
    ("training.optimizer=sgd", "training.optimizer"),
    ("evaluation.every=-5", "evaluation.every"),
    ("evaluation.resolution=[256]", "evaluation.resolution"),
    ("evaluation.resolution=[256, 0]", "evaluation.resolution.1"),
    ("output.plots=perhaps", "output.plots"),
    ("network.width=100000", "network"),
    ("network.depth=1000000", "network.depth"),
    ("evaluation.resolution=[100000, 100000]", "evaluation.resolution"),
    ("outputs.dir=x", "outputs"),
    ("training.adam.lr=1e999", "training.adam.lr"),  # YAML reads 1e999 as a string; pydantic makes it inf
    ("training.weights.physics=Infinity", "training.weights.physics"),
    ("problem.nu=1e999", "problem.nu"),
    ("training.adam.betas=[1.5, 0.9]", "training.adam.betas.0"),
    ("sampling.refine=[{box: {x: [2, 3]}, fraction: 0.5}]", "sampling.refine[0].box.x"),
    ("sampling.refine=[{box: {x: [0, 1]}, fraction: 0.6}, {box: {t: [0, 1]}, fraction: 0.6}]", "sampling.refine"),
    ("training.adam.iterations=0", None),  # with lbfgs.iterations=0 below: nothing to train
]


@pytest.mark.parametrize("override, path", BAD_OVERRIDES)
def test_each_bad_override_is_one_clean_line(tmp_path, capsys, override, path):
    cfg = small_burgers(tmp_path)
    if override.startswith("training.adam.iterations=0"):
        cfg["training"]["lbfgs"]["iterations"] = 0
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump(cfg))
    code = main(["run", str(config), "--set", override])
    err = capsys.readouterr().err
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("pinnit: error: "), err
    if path:
        assert lines[0][len("pinnit: error: "):].startswith(path), lines[0]


BAD_FILES = [
    ("empty.yaml", "", "empty config"),
    ("comment.yaml", "# nothing here\n", "empty config"),
    ("tabs.yaml", "problem:\n\tname: burgers\n", "malformed YAML"),
    ("unclosed.yaml", "problem: {name: burgers\n", "malformed YAML"),
    ("list.yaml", "- problem\n", "mapping at the top level"),
    ("scalar.yaml", "burgers\n", "mapping at the top level"),
    ("noproblem.yaml", "network: {width: 8}\n", "problem: required key is missing"),
    ("binary.yaml", b"\xff\xfe\x00bad", "cannot read"),
]


@pytest.mark.parametrize("name, content, fragment", BAD_FILES)
def test_bad_files_exit_2(tmp_path, capsys, name, content, fragment):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    assert main(["run", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and fragment in err, err


@pytest.mark.parametrize("argv, fragment", [
    (["run", "{missing}"], "no such file"),
    (["run", "{dir}"], "is a directory"),
    (["run"], "give a CONFIG"),
    (["run", "{config}", "--set", "training.adam.iterations"], "KEY.PATH=VALUE"),
    (["run", "{config}", "--set", "=3"], "empty key"),
    (["run", "{config}", "--set", "training..seed=1"], "empty key"),
    (["run", "{config}", "--set", "training.seed.value=1"], "not a section"),
    (["run", "--resume", "{dir}"], "not a run directory"),
    (["run", "--resume", "{missing}"], "not a run directory"),
    (["run", "{config}", "--resume", "{dir}"], "--resume takes the run directory alone"),
])
def test_bad_command_lines(tmp_path, capsys, argv, fragment):
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump(small_burgers(tmp_path)))
    subs = {"{missing}": str(tmp_path / "missing.yaml"), "{dir}": str(tmp_path), "{config}": str(config)}
    assert main([subs.get(a, a) for a in argv]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and fragment in err, err


def test_resume_of_a_run_without_checkpoint(tmp_path, capsys):
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(small_burgers(tmp_path)))
    assert main(["run", "--resume", str(tmp_path)]) == 2
    assert "no checkpoint" in capsys.readouterr().err


def test_unwritable_output_dir_is_one_line(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump(small_burgers(tmp_path)))
    assert main(["run", str(config), "--set", f"output.dir={blocker}"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "cannot create run directory" in err


# --- fuzzing ---------------------------------------------------------------------------------------
def _paths(node, prefix=()):
    if isinstance(node, dict):
        for k, v in node.items():
            yield prefix + (k,)
            yield from _paths(v, prefix + (k,))


_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-10**6, 10**6),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
    st.lists(st.integers(-3, 300), max_size=3), st.dictionaries(st.text(max_size=6), st.integers(-2, 5), max_size=2),
    st.sampled_from(["tanh", "relu", "kgi", "eoc", "proposed", "sobol", "float64", "cpu", "cuda", "burgers"]),
)


_PATHS = list(_paths(small_burgers(Path("/tmp"))))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mutations=st.lists(st.tuples(st.sampled_from(_PATHS), _VALUES), min_size=1, max_size=3))
@example(mutations=[(("problem", "name"), "\n")])  # found by fuzzing: a two-line error message
@example(mutations=[(("problem", "name"), "bur\tgers\x00")])
@example(mutations=[(("network", "activation"), "\r")])
def test_fuzzed_configs_run_or_fail_cleanly(tmp_path, mutations):
    cfg = copy.deepcopy(small_burgers(tmp_path))
    for path, value in mutations:
        node = cfg
        for k in path[:-1]:
            if not isinstance(node.get(k), dict):
                node[k] = {}
            node = node[k]
        node[path[-1]] = value
    try:
        parsed = parse_config(cfg)
    except PinnitError as exc:
        assert str(exc).isprintable()  # one line: no newline or other control character from the input
        return
    from pinnit import assemble

    parsed = parsed.model_copy(update={"sampling": parsed.sampling.model_copy(update={"points": {
        k: min(v, 64) for k, v in parsed.sampling.points.items()}})})
    try:
        a = assemble(parsed)
    except PinnitError:
        return
    losses = a.loss.term_losses()
    assert set(losses) == {t.name for t in a.loss.terms}
    assert all(isinstance(float(v.detach()), float) for v in losses.values())


def test_overwrite_refuses_a_directory_that_is_not_a_run(tmp_path, capsys):
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.tex").write_text("important")
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump(small_burgers(tmp_path)))
    assert main(["run", str(config), "--run-dir", str(precious), "--overwrite"]) == 2
    assert "not a pinnit run directory" in capsys.readouterr().err
    assert (precious / "thesis.tex").read_text() == "important"


# --- declarations that would hang or exhaust memory: one line, exit 2, within seconds -----------------------
COSTLY_EQUATIONS = [
    ("u_t - 9**9**9**9", "exponent '9 ** 9' = 3.87e+08 is too large"),
    ("u_t - x**(10**10**10)", "exponent '10 ** 10' = 1e+10 is too large"),
    ("u_t - u_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "derivative of order 30 exceeds max_derivative_order=4"),
    ("u_t - diff(u, x, 30)", "derivative of order 30 exceeds"),
    ("u_t - diff(diff(u_xx, x, 2), x)", "derivative of order 5 exceeds"),
    ("u_t - 1e308*1e308", "'1e+308' overflows"),
    ("u_t - 1e200*1e200", "'1e+200 * 1e+200' overflows"),
    ("u_t - x*(1e-200*1e-200)", "'1e-200 * 1e-200' underflows"),
    ("u_t - ((1/3)**1000)**1000", "'(1 / 3) ** 1000' underflows"),
    ("u_t - " + "1" * 400, "number literal with 400 digits overflows"),
    ("u_t - Max(" + ",".join(["x"] * 3000) + ")", "expression too large (3004 syntax nodes; at most 2000)"),
    ("u_t - " + "+".join(["x"] * 500), "nested too deeply (503 levels; at most 200)"),
    ("u_t - " + "-" * 300 + "x", "nested too deeply"),
    ("u_t - " + "x + " * 3000 + "x", "expression too long"),
]


def test_costly_declarations_fail_fast_with_one_line(tmp_path):
    """All cases in one subprocess, so a regression that hangs is killed by the timeout instead of the suite."""
    import json
    import subprocess
    import sys

    from conftest import REPO

    script = (
        "import json, sys, time, contextlib, io\n"
        "from pinnit.cli import main\n"
        "out = []\n"
        "for eq in json.loads(sys.argv[1]):\n"
        "    err = io.StringIO(); t = time.perf_counter()\n"
        "    with contextlib.redirect_stderr(err):\n"
        "        code = main(['run', 'configs/heat.yaml', '--set', 'problem.equations=' + eq,\n"
        "                     '--set', 'output.dir=' + sys.argv[2], '--quiet'])\n"
        "    out.append([code, err.getvalue(), time.perf_counter() - t])\n"
        "print('\\n' + json.dumps(out))\n")
    proc = subprocess.run([sys.executable, "-c", script, json.dumps([e for e, _ in COSTLY_EQUATIONS]),
                           str(tmp_path)], cwd=REPO, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = json.loads(proc.stdout.strip().splitlines()[-1])
    for (eq, fragment), (code, err, seconds) in zip(COSTLY_EQUATIONS, results, strict=True):
        lines = err.strip().splitlines()
        assert code == 2 and len(lines) == 1 and lines[0].startswith("pinnit: error: problem.equations"), (eq, err)
        assert fragment in lines[0] and len(lines[0]) < 400, (fragment, lines[0])
        assert seconds < 10 or eq == COSTLY_EQUATIONS[0][0], (eq, seconds)  # the first one imports torch


def _declared(tmp_path, **declaration):
    cfg = small_burgers(tmp_path)
    cfg["problem"] = {"name": "declared", "inputs": {"x": [0, 1], "t": [0, 1]}, "fields": ["u"],
                      "equations": "u_t + u_xxxxx", **declaration}
    cfg["sampling"]["points"] = {}
    return cfg


def test_max_derivative_order_is_a_limit_the_user_can_raise(tmp_path):
    from pinnit import assemble

    with pytest.raises(PinnitError, match=r"^problem.equations(\[0\])?: in 'u_t \+ u_xxxxx': derivative of order 5 exceeds "
                                          r"max_derivative_order=4.*raise 'max_derivative_order'"):
        assemble(parse_config(_declared(tmp_path)))
    a = assemble(parse_config(_declared(tmp_path, max_derivative_order=5, collocation=16)))
    assert set(a.loss.term_losses()) == {"pde"}
    with pytest.raises(PinnitError, match=r"^problem.conditions\[0\].field: derivative of order 6 exceeds"):
        assemble(parse_config(_declared(tmp_path, max_derivative_order=5, conditions=[
            {"kind": "dirichlet", "at": {"x": 0}, "field": "u_xxxxxx", "value": 0}])))
    with pytest.raises(PinnitError, match=r"^problem.conditions\[0\].derivatives: derivative of order 9 exceeds"):
        assemble(parse_config(_declared(tmp_path, equations="u_t + u_x",
                                        conditions=[{"kind": "periodic", "at": "x", "derivatives": 9}])))
