"""A user's first hour with the CLI: examples that work as copied, files given to the wrong command named for
what they are, phases said while they happen, and the small things a user trips on (issue 20)."""
from __future__ import annotations

import re
import shlex
import shutil
import sys

import numpy as np
import pytest
import torch
import yaml

from conftest import REPO, interrupt_after_step, small_burgers
from pinnit.cli import main
from pinnit.runs import load_config, parse_config
from pinnit.core.errors import ConfigError
from pinnit.runs.pipeline import run
from pinnit.core.shipped import describe, shipped
from pinnit.training.stages import resolve_stages


def _one_line_exit_2(argv, capsys) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("pinnit: error: ") and "Traceback" not in err, err
    return err


def test_a_study_file_given_to_run_is_named_with_the_command_that_takes_it(capsys):
    study = REPO / "configs" / "studies" / "burgers_scale_cpu.yaml"
    err = _one_line_exit_2(["run", str(study)], capsys)
    assert f"{study} is a study file, not a run config" in err and f"`pinnit study {study}`" in err


def test_init_of_a_declaration_prints_the_command_that_trains_it_and_that_command_runs(tmp_path, monkeypatch,
                                                                                         capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["init", "problems/wave"]) == 0
    out = capsys.readouterr().out
    assert (tmp_path / "wave.yaml").is_file()
    command = out.split("train it with: ")[1].strip()
    assert command == "pinnit run configs/wave.yaml --set problem.file=wave.yaml", out
    err = _one_line_exit_2(["run", "wave.yaml"], capsys)  # the declaration itself is not a run config
    assert "wave.yaml is a PDE declaration, not a run config" in err and f"`{command}`" in err
    (tmp_path / "wave.yaml").write_text((tmp_path / "wave.yaml").read_text().replace("c: 1.0", "c: 2.0"))
    tiny = ["--set", "training.stages.adam.iterations=3", "--set", "training.stages.lbfgs.iterations=2",
            "--set",
            "sampling.points={pde: 64, initial: 16, velocity: 16, boundary: 16}", "--set", "training.threads=1",
            "--set", "evaluation.every=0", "--set", "evaluation.resolution=[16, 8]", "--set", "output.plots=false",
            "--set", f"output.dir={tmp_path / 'out'}", "--quiet"]
    assert main(shlex.split(command)[1:] + tiny) == 0
    assert next((tmp_path / "out").glob("wave/*/metrics.json")).is_file()
    (tmp_path / "wave.yaml").write_text("inputs: {x: [0, 1]}\n")  # the command reads this copy, not the shipped one
    capsys.readouterr()
    assert main(shlex.split(command)[1:] + tiny) == 2
    assert capsys.readouterr().err.splitlines()[-1] == "pinnit: error: problem.fields: required key is missing"


def test_set_with_a_space_instead_of_equals_hints_at_key_value(capsys):
    err = _one_line_exit_2(["run", "configs/burgers.yaml", "--set", "network.width", "32"], capsys)
    assert "--set network.width 32" in err and "e.g. --set network.width=32" in err


@pytest.mark.parametrize("given, expected", [("1e3", 1000), ("1.5e3", 1500), ("1000.0", 1000), ("2E2", 200)])
def test_whole_numbers_in_exponent_notation_are_integers(given, expected, tmp_path):
    cfg = load_config(REPO / "configs" / "burgers.yaml", [f"training.stages.adam.iterations={given}",
                                                         f"sampling.points.pde={given}"])
    assert cfg.training.stages["adam"].iterations == expected and cfg.sampling.points["pde"] == expected
    path = tmp_path / "c.yaml"  # in a YAML file too (YAML reads 1e3 as a string)
    raw = small_burgers(tmp_path)
    raw["training"]["lbfgs"] = {"iterations": 5, "history_size": given}
    raw["network"]["width"] = given
    path.write_text(yaml.safe_dump(raw).replace(f"'{given}'", given))
    assert f": {given}\n" in path.read_text()
    cfg = load_config(path)
    assert cfg.network.width == expected
    assert next(s for s in resolve_stages(cfg) if s.name == "lbfgs").options["history_size"] == expected


@pytest.mark.parametrize("given, shown", [("1e-3", "'1e-3' (= 0.001)"), ("2.5", "2.5"), ("2.5e0", "'2.5e0' (= 2.5)")])
def test_a_fraction_for_an_integer_field_is_one_line(given, shown, capsys):
    err = _one_line_exit_2(["run", "configs/burgers.yaml", "--set", f"network.width={given}"], capsys)
    assert f"network.width: got {shown}: an integer is required" in err


def test_config_descriptions_end_on_a_word():
    for path in shipped("configs"):
        text = describe(path)
        words = " ".join(line.lstrip("#").strip() for line in path.read_text().splitlines()
                         if line.startswith("#"))
        words = " ".join(words.split())
        assert not text.endswith((" rel.", " e.g.", "(rel.")), (path.name, text)
        if text.endswith("…"):
            head = text[:-1]
            assert words.startswith(head) and words[len(head)] in " ,;:(—-", (path.name, text)
        else:
            assert words.startswith(text) and text.endswith((".", ")")) or text == words, (path.name, text)
    assert describe(REPO / "configs" / "burgers_fast.yaml").startswith("Viscous Burgers, the quick recipe (about "
                                                                       "3 minutes on one idle core, rel. L2")


def test_bench_help_names_its_extra(capsys):
    with pytest.raises(SystemExit):
        main(["bench", "--help"])
    assert "pip install 'pinnit[bench]'" in capsys.readouterr().out


def test_a_compiled_run_says_it_compiles_before_compiling(tmp_path, monkeypatch, capsys):
    """The C++ compiler used to run for about a minute with no output."""
    real = torch.compile

    def compile_(fn=None, **kwargs):  # record when compiling starts; run eagerly
        print("<compile called>", file=sys.stderr)
        return fn if fn is not None else (lambda f: f)

    monkeypatch.setattr(torch, "compile", compile_)
    raw = small_burgers(tmp_path, derivatives="compiled", threads=1)
    raw["training"].update(adam={"iterations": 3}, lbfgs={"iterations": 0})
    raw["evaluation"]["every"] = 0
    raw["output"]["progress"] = True
    assert run(parse_config(raw)).metrics["status"] == "completed"
    assert torch.compile is not real
    err = capsys.readouterr().err
    start = err.index("pinnit: training on cpu with 1 torch thread (configured); training.derivatives compiled: "
                      "the loss is compiled before the first step")
    assert start < err.index("<compile called>") < err.index("pinnit: scoring the trained network")


def test_quiet_resume_prints_no_progress(tmp_path, monkeypatch, capsys):
    raw = small_burgers(tmp_path, threads=1)
    raw["output"]["progress"] = True
    interrupt_after_step(monkeypatch, 10)
    first = run(parse_config(raw))
    assert first.metrics["status"].startswith("interrupted")
    monkeypatch.undo()
    shutil.copytree(first.path, tmp_path / "copy")
    capsys.readouterr()
    assert main(["run", "--resume", str(tmp_path / "copy")]) == 0  # the control: the config asks for progress
    loud = capsys.readouterr().err
    assert "it/s" in loud and "pinnit: training on" in loud
    assert main(["run", "--resume", str(first.path), "--quiet"]) == 0
    quiet = capsys.readouterr()
    assert "it/s" not in quiet.err and "pinnit: " not in quiet.err and "status: completed" in quiet.out


def test_predict_plot_writes_a_figure_per_field(tmp_path, capsys):
    raw = {"problem": {"name": "declared", "file": "problems/stokes.yaml", "hard_constraints": True,
                       "functions": {"f": {"argument": "x", "train": 4, "test": 1}}},
           "network": {"arch": "deeponet", "width": 8, "depth": 1, "layout": "shared", "activation": "tanh"},
           "sampling": {"points": {"momentum_x": 32, "momentum_y": 32, "mass": 32, "lid": 16}, "function_batch": 2},
           "training": {"dtype": "float64", "threads": 1, "adam": {"iterations": 2}, "lbfgs": {"iterations": 0}},
           "evaluation": {"every": 0, "resolution": [21, 21]},
           "output": {"dir": str(tmp_path), "plots": False, "progress": False}}
    result = run(parse_config(raw))
    np.save(tmp_path / "lid.npy", np.linspace(-1.0, 1.0, 101))
    capsys.readouterr()
    assert main(["predict", str(result.path), "--lid", str(tmp_path / "lid.npy"), "--out", str(tmp_path / "p.npz"),
                 "--reference", "--plot"]) == 0
    out = capsys.readouterr().out
    assert f"wrote 3 figures to {tmp_path / 'p'}" in out
    for field in ("u", "v", "p"):
        png = tmp_path / "p" / f"{field}_fields.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


def test_a_declaration_takes_whole_numbers_in_exponent_notation(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    text = (REPO / "problems" / "heat.yaml").read_text()
    (tmp_path / "heat.yaml").write_text(re.sub(r"(?m)^collocation: \d+", "collocation: 1e3", text))
    from pinnit.problems import build_problem

    cfg = load_config(REPO / "configs" / "heat.yaml", ["problem.file=heat.yaml"])
    assert {t.points for t in build_problem(cfg.problem.model_dump(), "problem").terms() if t.kind == "physics"} \
        == {1000}
    (tmp_path / "heat.yaml").write_text(re.sub(r"(?m)^collocation: \d+", "collocation: 1e-3", text))
    with pytest.raises(ConfigError, match=r"^problem.collocation: got '1e-3' \(= 0.001\): an integer is required"):
        load_config(REPO / "configs" / "heat.yaml", ["problem.file=heat.yaml"])
