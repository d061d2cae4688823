"""Shipped configs and declarations: a bare name resolves to them (saying so), `pinnit list configs` lists
them, `pinnit init` copies one out (with the declaration it reads), and a declared config finds its
`problems/…` file from any directory. (tests/test_install.py does this from a real non-editable install.)"""
from __future__ import annotations

import pytest
import yaml

from pinnit.cli import main
from pinnit.runs import load_config
from pinnit.core.errors import PinnitError
from pinnit.core.shipped import find_shipped, resolve_config, shipped, shipped_root

from conftest import REPO


def test_shipped_files_are_the_top_level_ones_in_a_checkout():
    assert shipped_root() == REPO
    assert [p.name for p in shipped("configs")] == sorted(p.name for p in (REPO / "configs").glob("*.yaml"))
    assert find_shipped("burgers") == find_shipped("burgers.yaml") == find_shipped("configs/burgers.yaml") \
        == REPO / "configs" / "burgers.yaml"
    assert find_shipped("heat", "problems") == REPO / "problems" / "heat.yaml"
    assert find_shipped("elsewhere/burgers.yaml") is None and find_shipped("nope") is None


def test_bare_name_resolves_to_the_shipped_config_and_says_so(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert resolve_config("burgers.yaml") == str(REPO / "configs" / "burgers.yaml")
    assert "using the shipped config" in capsys.readouterr().err
    (tmp_path / "burgers.yaml").write_text("problem: {name: burgers}\n")
    assert resolve_config("burgers.yaml") == "burgers.yaml"  # a local file wins, silently
    assert capsys.readouterr().err == ""
    with pytest.raises(PinnitError, match="^nope.yaml: no such file .*pinnit list configs"):
        resolve_config("nope.yaml")


def test_declared_config_finds_its_declaration_from_any_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    from pinnit import assemble

    cfg = load_config(resolve_config("heat", quiet=True), ["evaluation.resolution=[5, 5]"])
    a = assemble(cfg)
    assert a.problem.inputs == ("x", "t")


def test_list_configs(capsys):
    assert main(["list", "configs"]) == 0
    out = capsys.readouterr().out
    assert "burgers " in out and "Viscous Burgers" in out and "heat " in out


def test_init_copies_a_config_and_its_declaration(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["init", "heat"]) == 0
    assert (tmp_path / "heat.yaml").read_text() == (REPO / "configs" / "heat.yaml").read_text()
    assert (tmp_path / "problems" / "heat.yaml").read_text() == (REPO / "problems" / "heat.yaml").read_text()
    assert main(["init", "burgers", "mine.yaml"]) == 0
    assert yaml.safe_load((tmp_path / "mine.yaml").read_text())["problem"]["name"] == "burgers"
    (tmp_path / "decls").mkdir()
    assert main(["init", "problems/wave", "decls"]) == 0  # into a folder, under its own name
    assert (tmp_path / "decls" / "wave.yaml").read_text() == (REPO / "problems" / "wave.yaml").read_text()
    capsys.readouterr()
    assert main(["init", "heat"]) == 2
    assert "exists; use --force" in capsys.readouterr().err
    assert main(["init", "heat", "--force"]) == 0
    assert main(["init", "nope"]) == 2
    assert "no shipped config 'nope'" in capsys.readouterr().err
