"""Study files → expanded, validated run configs: axes, methods, seeds, ids, one-line errors."""
from __future__ import annotations

import copy

import pytest
import yaml

from conftest import small_burgers
from pinnit.cli import main
from pinnit.core.errors import PinnitError
from pinnit.studies import config_digest, expand, load_plan, parse_study


def _study(tmp_path, **extra):
    base = small_burgers(tmp_path)
    data = {"name": "t", "base": base, "set": {"training.adam.iterations": 5}, **extra}
    return data


def test_grid_zip_methods_and_seeds_expand_in_order(tmp_path):
    data = _study(tmp_path, methods={"proposed": {"network.initializer": {"name": "proposed"}},
                                     "eoc": {"network.initializer": {"name": "eoc", "sigma_b": 0.0}}},
                  axes={"grid": [{"key": "network.activation.a", "values": [0.5, 1.0, 1.5]}],
                        "zip": [{"network.depth": [2, 3], "network.width": [8, 12]}]},
                  seeds=2)
    study = parse_study(data)
    runs = expand(study)
    assert len(runs) == 2 * 3 * 2 * 2
    assert study.varied_keys == ["network.activation.a", "network.depth", "network.width"]
    first, last = runs[0], runs[-1]
    assert (first.method, first.axes, first.seed) == ("proposed", {"network.activation.a": 0.5, "network.depth": 2,
                                                                   "network.width": 8}, 0)
    assert (last.method, last.axes, last.seed) == ("eoc", {"network.activation.a": 1.5, "network.depth": 3,
                                                           "network.width": 12}, 1)
    cfg = last.config
    assert cfg["network"]["initializer"] == {"name": "eoc", "sigma_b": 0.0}
    assert cfg["network"]["activation"] == {"name": "tanh", "a": 1.5}  # 'tanh' became a mapping to set a
    assert (cfg["network"]["depth"], cfg["network"]["width"], cfg["training"]["seed"]) == (3, 12, 1)
    assert cfg["training"]["stages"]["adam"]["iterations"] == 5  # the study's `set`
    assert first.id.startswith("proposed-a0.5-d2-w8-s0-") and len(first.id.split("-")[-1]) == 8
    assert len({r.id for r in runs}) == len(runs)
    # deterministic: the same file gives the same ids; the hash is that of the resolved config
    assert [r.id for r in expand(parse_study(copy.deepcopy(data)))] == [r.id for r in runs]
    assert first.id.endswith(config_digest(first.config))
    # the thread count an executor sets does not change the id
    changed = copy.deepcopy(first.config)
    changed["training"]["threads"] = 7
    changed["output"]["progress"] = True
    assert config_digest(changed) == config_digest(first.config)


def test_lr_per_omega_is_resolved_per_run(tmp_path):
    data = _study(tmp_path, axes={"grid": [{"key": "network.activation.a", "values": [0.5, 2.0]}]})
    data["set"]["training.adam.lr_per_omega"] = 5e-4
    runs = expand(parse_study(data))
    # a·tanh has ω = 1/a: lr = 5e-4/a
    assert [r.config["training"]["stages"]["adam"]["lr"] for r in runs] == pytest.approx([1e-3, 2.5e-4], rel=1e-12)


def test_bad_value_in_a_late_combination_names_the_study_key_and_the_run(tmp_path):
    data = _study(tmp_path, methods={"m1": {}, "m2": {}},
                  axes={"grid": [{"key": "network.width", "values": [4, 8]},
                                 {"key": "network.activation.a", "values": [1.0, 0.5, -2.0]}]}, seeds=3)
    with pytest.raises(PinnitError) as info:
        expand(parse_study(data))
    # m1, width 4, a = -2 is combination 7 of 36 (seeds innermost)
    assert str(info.value).startswith("study t: axes.grid[1].values[2]: run 7/36 (m1-w4-a-2-s0): "
                                      "network.activation.a: got -2.0")


def test_bad_method_key_and_bad_seed_name_their_study_path(tmp_path):
    data = _study(tmp_path, methods={"bad": {"network.initializer": {"name": "nope"}}})
    with pytest.raises(PinnitError, match=r"^study t: methods\.bad\.network\.initializer: run 1/1 \(bad-s0\): "
                                          r"network\.initializer\.name: unknown initializer 'nope'"):
        expand(parse_study(data))
    data = _study(tmp_path, methods={"m": {"network.widht": 3}})
    with pytest.raises(PinnitError, match=r"methods\.m\.network\.widht: .*network\.widht: unknown key"):
        expand(parse_study(data))


@pytest.mark.parametrize("change, message", [
    ({"axes": {"grid": [{"key": "network.width", "values": [4]}, {"key": "network.width", "values": []}]}},
     "study t: axes.grid[1].values: got []: List should have at least 1 item"),
    ({"axes": {"grid": [{"key": "network.width", "values": [4]}, {"key": "network.width", "values": [8]}]}},
     "study t: axes.grid[1].key: 'network.width' is already varied by axes.grid[0].key"),
    ({"axes": {"zip": [{"network.width": [4, 8], "network.depth": [2]}]}},
     "study t: axes.zip[0]: the lists of a zip group vary together and need equal lengths; got network.width: 2, "
     "network.depth: 1"),
    ({"axes": {"grdi": []}}, "study t: axes.grdi: unknown key (did you mean 'grid'?); valid keys: grid, zip"),
    ({"seeds": 0}, "study t: seeds: got 0; a count ≥ 1 or a list of seeds"),
    ({"seeds": [1, 1]}, "study t: seeds: got [1, 1]; distinct seeds ≥ 0"),
    ({"axes": {"grid": [{"key": "training.seed", "values": [1]}]}},
     "study t: axes.grid[0].key: vary seeds with the top-level 'seeds' key"),
    ({"axes": {"grid": [{"key": "network..width", "values": [1]}]}}, "study t: axes.grid[0].key: got 'network..width'"),
    ({"base": "missing.yaml"}, "study t: base: missing.yaml: no such file"),
])
def test_malformed_study_files_are_one_line_errors(tmp_path, change, message):
    data = {**_study(tmp_path), **change}
    with pytest.raises(PinnitError) as info:
        parse_study(data, name="t")
    assert str(info.value).startswith(message)


def test_base_path_is_relative_to_the_study_file_and_cli_errors_exit_2(tmp_path, capsys):
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "base.yaml").write_text(yaml.safe_dump(small_burgers(tmp_path)))
    study = tmp_path / "configs" / "s.yaml"
    study.write_text("base: base.yaml\naxes:\n  grid:\n    - {key: network.width, values: [4, 0]}\n")
    assert main(["study", str(study), "--dry-run"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("pinnit: error: study s.yaml: axes.grid[0].values[1]: run 2/2 (w0-s0): network.width: "
                          "got 0") and "\n" not in err
    study.write_text("base: base.yaml\nseeds: [3, 4]\n")
    plan = load_plan(study, study_dir=tmp_path / "sd", overrides=["network.width=6"])
    assert plan.name == "s" and [r.seed for r in plan.runs] == [3, 4]
    assert all(r.config["network"]["width"] == 6 for r in plan.runs)


def test_dry_run_prints_one_line_per_run_and_trains_nothing(tmp_path, capsys):
    study = tmp_path / "s.yaml"
    data = _study(tmp_path, methods={"a": {}, "b": {"training.adam.lr": 1e-2}}, seeds=[0, 5])
    study.write_text(yaml.safe_dump(data))
    assert main(["study", str(study), "--dry-run", "--dir", str(tmp_path / "sd")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("study t: 4 run(s)")
    rows = out[2:]
    assert len(rows) == 4 and rows[0].startswith("a-s0-") and rows[3].startswith("b-s5-")
    assert all("missing" in r for r in rows)
    assert not (tmp_path / "sd").exists()


def test_base_names_a_shipped_config_as_pinnit_run_does(tmp_path, monkeypatch):
    from pinnit.core.shipped import find_shipped

    monkeypatch.chdir(tmp_path)  # neither the cwd nor the study file's folder holds burgers_fast.yaml
    (tmp_path / "mine").mkdir()
    study = tmp_path / "mine" / "s.yaml"
    study.write_text("base: burgers_fast.yaml\nseeds: 2\n")
    plan = load_plan(study)
    shipped = yaml.safe_load(find_shipped("burgers_fast.yaml").read_text())
    assert plan.study.base_file == find_shipped("burgers_fast") and plan.study.base == shipped
    assert [r.seed for r in plan.runs] == [0, 1]
    assert plan.runs[0].config["network"]["width"] == shipped["network"]["width"]
    # a file of that name beside the study file comes first
    (tmp_path / "mine" / "burgers_fast.yaml").write_text(yaml.safe_dump(small_burgers(tmp_path)))
    local = load_plan(study)
    assert local.study.base_file == tmp_path / "mine" / "burgers_fast.yaml"
    assert local.runs[0].config["network"]["width"] == 16


def test_a_file_of_another_kind_is_named_for_what_it_is_with_the_command_that_takes_it(tmp_path, capsys):
    from pinnit.core.shipped import find_shipped

    config, declaration = find_shipped("burgers.yaml"), find_shipped("heat.yaml", "problems")
    assert main(["study", str(config), "--dry-run"]) == 2
    assert capsys.readouterr().err == (f"pinnit: error: {config} is a run config, not a study file; run it with "
                                       f"`pinnit run {config}`\n")
    assert main(["study", str(declaration), "--dry-run"]) == 2
    assert capsys.readouterr().err.startswith(f"pinnit: error: {declaration} is a PDE declaration, not a study file; "
                                              "a run config reads it with problem: {name: declared, file: ")
    study = tmp_path / "s.yaml"
    study.write_text(f"base: {declaration}\n")
    assert main(["study", str(study), "--dry-run"]) == 2
    assert capsys.readouterr().err.startswith(f"pinnit: error: study s.yaml: base: {declaration} is a PDE "
                                              "declaration, not a run config")
    study.write_text("base: no_such_config.yaml\n")
    assert main(["study", str(study), "--dry-run"]) == 2
    assert capsys.readouterr().err == (f"pinnit: error: study s.yaml: base: {tmp_path / 'no_such_config.yaml'}: no "
                                       "such file (nor a shipped config of that name; `pinnit list configs` lists "
                                       "them)\n")


def test_extra_seeds_add_seeds_to_the_cells_they_match(tmp_path):
    data = _study(tmp_path, methods={"proposed": {"network.initializer": "proposed"},
                                     "eoc": {"network.initializer": "eoc"}},
                  axes={"grid": [{"key": "network.activation.a", "values": [0.5, 1.0]}]}, seeds=2,
                  extra_seeds=[{"where": {"network.activation.a": 1.0}, "seeds": [2, 3]},
                               {"where": {"method": "eoc", "network.activation.a": 1.0}, "seeds": [3, 4]}])
    runs = expand(parse_study(data))
    seeds = {}
    for r in runs:
        seeds.setdefault((r.method, r.axes["network.activation.a"]), []).append(r.seed)
    assert seeds == {("proposed", 0.5): [0, 1], ("proposed", 1.0): [0, 1, 2, 3],
                     ("eoc", 0.5): [0, 1], ("eoc", 1.0): [0, 1, 2, 3, 4]}
    bad = copy.deepcopy(data)
    bad["extra_seeds"] = [{"where": {"network.activation.a": 2.0}, "seeds": [5]}]
    with pytest.raises(PinnitError, match=r"extra_seeds\[0\]\.where\.network\.activation\.a: 2\.0 selects no run"):
        parse_study(bad)
