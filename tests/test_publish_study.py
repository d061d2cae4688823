"""benchmarks/publish_study.py: a study's report, written afresh by today's code, copied into the docs' results
folder with exactly what a page includes (no title, no link-only sections)."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from study_builder import build_study

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "publish_study.py"


def _module():
    spec = importlib.util.spec_from_file_location("publish_study", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_publish_copies_the_fresh_report_without_title_or_link_sections(tmp_path):
    publish = _module()
    study = build_study(tmp_path / "study" / "tiny")
    dest = publish.publish(study, ["loss_curves"], tmp_path / "docs")
    assert sorted(p.name for p in dest.iterdir()) == sorted(
        ["loss_curves.png", "provenance.json", "signal.json", "signal.md", "summary.md"]
        + (["verdicts.json", "verdicts.md"] if (study / "report" / "verdicts.md").exists() else []))
    summary = (dest / "summary.md").read_text()
    report = (study / "report" / "summary.md").read_text()
    assert report.startswith("# Study") and not summary.startswith("#")
    assert "## Figures" in report and "## Figures" not in summary and "](figures/" not in summary
    assert summary.startswith("Trained at commit `")  # the provenance line leads
    assert json.loads((dest / "provenance.json").read_text()) == json.loads((study / "report" / "provenance.json").read_text())
    assert (dest / "loss_curves.png").read_bytes() == (study / "report" / "figures" / "loss_curves.png").read_bytes()


def test_an_unknown_figure_is_one_line(tmp_path, capsys):
    publish = _module()
    study = build_study(tmp_path / "study" / "tiny")
    try:
        publish.main([str(study), "--figure", "nope", "--dest", str(tmp_path / "docs")])
    except SystemExit as exc:
        assert "no figure ['nope']" in str(exc) and "loss_curves" in str(exc)
    else:
        raise AssertionError("an unknown figure must stop the script")
