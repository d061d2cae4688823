"""The command line: real configs through `pinnit`, clean one-line errors, exit codes."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

from pinnit.cli import main

REPO = Path(__file__).resolve().parents[1]


def _cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "pinnit", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=600)


def test_version_and_help(capsys):
    proc = _cli("--version")
    assert proc.returncode == 0 and proc.stdout.startswith("pinnit ")
    proc = _cli("run", "--help")
    assert proc.returncode == 0 and "--set" in proc.stdout and "examples:" in proc.stdout


def test_list_shows_every_registry():
    proc = _cli("list")
    assert proc.returncode == 0
    for word in ["problems:", "burgers", "black_scholes", "activations:", "tanh", "initializers:", "xavier_normal",
                 "optimizers:", "ssbroyden"]:
        assert word in proc.stdout


def test_shipped_burgers_config_runs_shortened(tmp_path):
    proc = _cli("run", str(REPO / "configs" / "burgers.yaml"), "--quiet",
                "--set", "training.stages.adam.iterations=30", "--set", "training.stages.ssbroyden.iterations=5",
                "--set", "sampling.points.pde=256", "--set", f"output.dir={tmp_path}",
                "--set", "evaluation.every=0", "--set", "output.plots=false")
    assert proc.returncode == 0, proc.stderr
    assert "run directory:" in proc.stdout
    run_dir = Path(proc.stdout.split("run directory:")[1].split()[0])
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["status"] == "completed" and metrics["iterations"] == {"adam": 30, "ssbroyden": 5}
    assert metrics["dtype"] == "float64" and metrics["stages"]["adam"]["dtype"] == "float32"
    resolved = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert resolved["training"]["stages"]["adam"]["iterations"] == 30 and resolved["network"]["depth"] == 4


def test_a_time_limited_run_says_which_stages_it_did_not_reach(tmp_path):
    proc = _cli("run", str(REPO / "configs" / "burgers.yaml"), "--quiet",
                "--set", "training.stages.adam.iterations=1000000", "--set", "training.time_limit_s=0.5",
                "--set", "training.derivatives=autograd", "--set", "sampling.points.pde=256",
                "--set", f"output.dir={tmp_path}", "--set", "evaluation.every=0", "--set", "output.plots=false")
    assert proc.returncode == 0, proc.stderr
    status = next(line for line in proc.stdout.splitlines() if line.startswith("status:"))
    assert status.startswith("status: completed;") and "'ssbroyden'" not in status
    assert status.endswith("(1 stage not reached); last stage: reached training.time_limit_s=0.5")


def test_older_adam_keys_on_a_staged_config_say_how_to_migrate(tmp_path):
    proc = _cli("run", str(REPO / "configs" / "burgers.yaml"), "--set", "training.adam.iterations=30")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert proc.stderr.startswith("pinnit: error: training.adam.iterations: this config trains with training.stages") \
        and "training.stages.<name>.iterations; stages here: adam, ssbroyden" in proc.stderr


def test_bad_input_is_one_line_exit_2(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("problem: {name: burgers}\nnetwork: {widht: 3}\n")
    code = main(["run", str(bad)])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err == "pinnit: error: network.widht: unknown key (did you mean 'width'?); valid keys: arch, width, " \
                  "depth, widths, activation, initializer, normalize_inputs, layout, features, branch, trunk"


def test_debug_shows_the_traceback(tmp_path):
    proc = _cli("--debug", "run", str(tmp_path / "missing.yaml"))
    assert proc.returncode != 0 and "Traceback" in proc.stderr
    proc = _cli("run", str(tmp_path / "missing.yaml"), "--debug")
    assert proc.returncode != 0 and "Traceback" in proc.stderr
    proc = _cli("run", str(tmp_path / "missing.yaml"))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and "no such file" in proc.stderr
