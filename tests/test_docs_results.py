"""The measured-results pages (docs/hooks/results.py) render every file in docs/results/, each under its stamp."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "docs" / "results"


def _hook():
    spec = importlib.util.spec_from_file_location("results_hook", REPO / "docs" / "hooks" / "results.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _pages(results: Path) -> str:
    hook = _hook()
    return hook.benchmarks_page(results) + "\n" + hook.accuracy_page(results)


def test_every_results_file_is_rendered_under_its_stamp():
    from pinnit.core.stamp import stamp_line

    files = sorted(p for p in RESULTS.rglob("*") if p.is_file() and "studies" not in p.relative_to(RESULTS).parts)
    assert any(p.name == "bench.json" for p in files) and any(p.parent.name == "runs" for p in files)
    text = _pages(RESULTS)
    for path in files:
        rel = path.relative_to(RESULTS).as_posix()
        assert f"docs/results/{rel}" in text, f"{rel} is not rendered"
        if path.suffix == ".json":
            stamp = json.loads(path.read_text())["stamp"]
            assert {"date", "machine", "torch", "commit"} <= set(stamp) and stamp["machine"]["cores"] >= 1
            line = stamp_line(stamp)
            assert line[1:] in text and stamp["date"][:10] in line and stamp["torch"] in line


def test_run_errors_and_bench_ratios_appear_as_measured():
    text = _pages(RESULTS)
    for path in sorted((RESULTS / "runs").glob("*.json")):
        m = json.loads(path.read_text())
        for key, value in m.items():
            if key.startswith("rel_l2_") and isinstance(value, float):
                assert f"{value:.3g}" in text, (path.name, key)
    bench = json.loads((RESULTS / "bench.json").read_text())
    for case in bench["cases"]:
        assert f"{case['pinnit']['it_per_s']:.2f}" in text
        if case.get("ratio") is not None:
            assert f"{case['ratio']:.2f}" in text
    stokes = RESULTS / "stokes_optimizers.json"
    if stokes.exists():  # benchmarks/optimizers_stokes.py's summary: each recipe's errors after the budget
        for r in json.loads(stokes.read_text())["recipes"].values():
            assert f"| {r['label']} | {r['train_s']:g} |" in text and f"| {r['last']['mean']:.3f} |" in text
    for tta in sorted(RESULTS.glob("time_to_accuracy*.json")):  # the main file and any labelled further run
        label = tta.stem[len("time_to_accuracy"):].strip("_").replace("_", " ")
        assert not label or f"### {label}" in text
        for entry in json.loads(tta.read_text())["recipes"]:
            assert f"| {entry['recipe']} | {len(entry['seeds'])} |" in text


def test_a_missing_results_file_is_said_not_hidden(tmp_path):
    text = _pages(tmp_path)
    for rel in ("bench.json", "time_to_accuracy.json", "runs/*.json"):
        assert f"No results file `docs/results/{rel}`" in text


def test_the_pages_are_registered_in_mkdocs():
    cfg = yaml.safe_load((REPO / "mkdocs.yml").read_text())
    assert "docs/hooks/results.py" in cfg["hooks"]
    nav = json.dumps(cfg["nav"])
    assert "reference/benchmarks.md" in nav and "reference/accuracy.md" in nav


def test_every_published_study_is_on_a_page_with_its_verdicts():
    """docs/results/studies/<name>/ holds files `pinnit report` wrote; a docs page includes its verdict and summary
    tables and shows its figure, and the included verdict table says what verdicts.json says."""
    pages = "\n".join(p.read_text() for p in (REPO / "docs").rglob("*.md") if "results" not in p.parts)
    studies = sorted(p for p in (RESULTS / "studies").iterdir() if p.is_dir())
    assert studies
    for study in studies:
        rel = f"results/studies/{study.name}"
        for name in {"verdicts.md", "summary.md", *(p.name for p in study.glob("*.md"))}:
            assert f'--8<-- "docs/{rel}/{name}"' in pages, f"{rel}/{name} is not included in a page"
        for png in study.glob("*.png"):
            assert f"{rel}/{png.name})" in pages, f"{rel}/{png.name} is not shown on a page"
        table = (study / "verdicts.md").read_text()
        for claim in json.loads((study / "verdicts.json").read_text())["claims"]:
            assert f"`{claim['id']}`" in table and claim["verdict"] in table
        provenance = study / "provenance.json"
        if provenance.exists():  # reports since provenance.json: the page names every commit the runs used
            page = next(p.read_text() for p in (REPO / "docs").rglob("*.md")
                        if "results" not in p.parts and f'docs/{rel}/summary.md' in p.read_text())
            for commit in json.loads(provenance.read_text())["commits"]:
                assert commit[:7] in page, f"the page of {study.name} does not name commit {commit[:7]}"
