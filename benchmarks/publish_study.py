"""Publish a finished study's report into the documentation: docs/results/studies/<name>/.

    python benchmarks/publish_study.py outputs/studies/burgers_scale_cpu [--figure loss_curves ...]

Writes the report afresh with today's code (`pinnit report`: tables, verdicts, provenance, signal table,
figures), then copies into docs/results/studies/<name>/ exactly what a results page includes:

- verdicts.md, verdicts.json, provenance.json, signal.md/json (if written), as the report wrote them;
- summary.md without its title and without the sections that only link to report files (Figures, Claims,
  Signal), which the page shows itself;
- the chosen figures (default: every top-level report figure, not figures/init/).

The page (docs/reference/study-<...>.md) includes the Markdown files with pymdownx.snippets and names the
commits in provenance.json; tests/test_docs_results.py checks both.
"""
from __future__ import annotations

import argparse
import re
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LINK_SECTIONS = ("## Figures", "## Claims", "## Signal at initialization")


def strip_summary(text: str) -> str:
    """summary.md without its ``# Study`` title and the link-only sections."""
    lines = text.splitlines()
    if lines and lines[0].startswith("# "):
        lines = lines[1:]
    out, skipping = [], False
    for line in lines:
        if line.startswith("## "):
            skipping = line.strip() in LINK_SECTIONS
        if not skipping:
            out.append(line)
    return re.sub(r"\n{3,}", "\n\n", "\n".join(out)).strip() + "\n"


def strip_title(text: str) -> str:
    lines = text.splitlines()
    return "\n".join(lines[1:] if lines and lines[0].startswith("# ") else lines).strip() + "\n"


def publish(study_dir: Path, figures: list[str] | None, dest_root: Path) -> Path:
    from pinnit.studies.report import build_report
    from pinnit.studies.results import load_study

    study = load_study(study_dir)
    report, _ = build_report(study)
    dest = dest_root / study.name
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    for name in ("verdicts.md", "verdicts.json", "provenance.json", "signal.json"):
        if (report / name).exists():
            shutil.copyfile(report / name, dest / name)
    (dest / "summary.md").write_text(strip_summary((report / "summary.md").read_text()))
    if (report / "signal.md").exists():
        (dest / "signal.md").write_text(strip_title((report / "signal.md").read_text()))
    pngs = sorted((report / "figures").glob("*.png"))
    chosen = [p for p in pngs if figures is None or p.stem in figures]
    missing = set(figures or ()) - {p.stem for p in chosen}
    if missing:
        raise SystemExit(f"publish_study: no figure {sorted(missing)} in {report / 'figures'}; "
                         f"there are {[p.stem for p in pngs]}")
    for png in chosen:
        shutil.copyfile(png, dest / png.name)
    return dest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("study_dir", type=Path)
    parser.add_argument("--figure", action="append", dest="figures", help="a report figure's name (repeatable)")
    parser.add_argument("--dest", type=Path, default=REPO / "docs" / "results" / "studies")
    args = parser.parse_args(argv)
    dest = publish(args.study_dir, args.figures, args.dest)
    print(f"published {args.study_dir} to {dest}: " + ", ".join(sorted(p.name for p in dest.iterdir())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
