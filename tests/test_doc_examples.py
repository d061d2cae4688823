"""Every command and YAML example of README.md, docs/**/*.md and the ``--help`` epilogs runs or validates.

Extracted: each ``pinnit …`` line of a ```bash / ```sh / ```console block (in a console block, the ``$ `` lines;
a ``pinnit: error: …`` line right after one is that command's expected one-line error), each ```yaml block,
and each ``pinnit …`` line of the ``examples:`` of ``pinnit --help`` and ``pinnit COMMAND --help``.

- A command is parsed by pinnit's own parser, then: ``run`` validates its config with the ``--set``
  overrides (what ``pinnit run`` does before training); ``study`` loads and expands the study (every run
  config validated) or runs ``--dry-run`` itself; ``list``, ``init``, ``--help`` run as they are (``init``
  in a temporary directory); ``diagnose`` runs shrunk (≤ 8 hidden layers, 64 points, no plots, 1 thread);
  ``report``, ``predict``, ``bench`` and ``run --resume`` name directories a reader has yet to make, so
  their arguments are parsed only.
- A YAML block is validated by the loader of its kind: a run config (``problem:``) by
  :func:`pinnit.parse_config`, a study (``base:``) by the study loader and its expansion, read as if it were
  in ``configs/studies/``, a declaration (``equations:``) by building the declared problem. An abridged
  block starts with ``# fragment: PATH`` and is merged onto that file first.
"""
from __future__ import annotations

import contextlib
import functools
import io
import re
import shlex
from pathlib import Path

import pytest
import yaml

from pinnit.cli import build_parser, main
from pinnit.runs import parse_config
from pinnit.runs import load_config
from pinnit.core.errors import PinnitError
from pinnit.problems import build_problem
from pinnit.core.shipped import resolve_config
from pinnit.studies.expand import expand
from pinnit.studies.spec import load_study, parse_study
from pinnit.core.yaml_io import read_yaml

REPO = Path(__file__).resolve().parents[1]
FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```", re.S | re.M)
SHELL = {"bash", "sh", "shell", "console"}
FRAGMENT = re.compile(r"#\s*fragment:\s*(\S+)")
PARSE_ONLY = {"report", "predict", "bench"}


def doc_files() -> list[Path]:
    return [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]


def command_lines(body: str, console: bool) -> list[tuple[str, str | None]]:
    """(command, expected error line or None) for each ``pinnit`` command of a shell block."""
    lines = body.replace("\\\n", " ").splitlines()
    out = []
    for i, line in enumerate(lines):
        line = line.strip()
        if console:
            if not line.startswith("$ "):
                continue
            line = line[2:]
        following = lines[i + 1].strip() if i + 1 < len(lines) else ""
        expected = following if console and following.startswith("pinnit: error:") else None
        line = re.sub(r"\s{2,}\(.*\)\s*$", "", line)  # `--help` examples explain themselves in parentheses
        for part in re.split(r"&&|;", line):
            words = shlex.split(part, comments=True)
            while words and re.match(r"^[A-Z_]+=", words[0]):  # OMP_NUM_THREADS=1 pinnit …
                words.pop(0)
            if words and words[0] == "pinnit":
                out.append((shlex.join(words[1:]), expected))
    return out


def doc_examples():
    commands, yamls = [], []
    for path in doc_files():
        text = path.read_text()
        for m in FENCE.finditer(text):
            lang, body = m.group(1), m.group(2)
            where = f"{path.relative_to(REPO)}:{text[:m.start()].count(chr(10)) + 1}"
            if lang in SHELL:
                commands += [pytest.param(c, e, id=f"{where} pinnit {c}"[:150])
                             for c, e in command_lines(body, lang == "console")]
            elif lang == "yaml":
                yamls.append(pytest.param(body, id=where))
    return commands, yamls


def help_examples():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    out = []
    for name, p in [("pinnit", parser), *((f"pinnit {n}", p) for n, p in sorted(sub.choices.items()))]:
        epilog = (p.epilog or "").split("examples:", 1)
        for line in epilog[1].splitlines() if len(epilog) == 2 else []:
            if line.strip().startswith("pinnit"):
                out += [pytest.param(c, e, id=f"{name} --help: pinnit {c}"[:150])
                        for c, e in command_lines(line, console=False)]
    return out


DOC_COMMANDS, DOC_YAML = doc_examples()
HELP_COMMANDS = help_examples()


def merge(base, over):
    if isinstance(base, dict) and isinstance(over, dict):
        return {**base, **{k: merge(base.get(k), v) for k, v in over.items()}}
    return over


@functools.cache
def validate_run(config: str, overrides: tuple[str, ...]) -> None:
    load_config(resolve_config(config, quiet=True), list(overrides))


@functools.cache
def validate_study(study: str, overrides: tuple[str, ...]) -> None:
    expand(load_study(study, list(overrides)))


def check_command(command: str, tmp_path: Path, monkeypatch) -> None:
    """Run or validate one ``pinnit`` command line (its arguments after ``pinnit``)."""
    monkeypatch.chdir(REPO)
    argv = shlex.split(command)
    if not argv or {"--help", "-h", "--version"} & set(argv):
        with pytest.raises(SystemExit) as exit_:
            with contextlib.redirect_stdout(io.StringIO()):
                main(argv)
        assert exit_.value.code in (0, None), command
        return
    with contextlib.redirect_stderr(io.StringIO()) as err:
        try:
            args = build_parser().parse_args(argv)
        except SystemExit:
            pytest.fail(f"pinnit {command}: rejected by the argument parser: {err.getvalue().strip()}")
    if args.command in PARSE_ONLY or (args.command == "run" and args.resume):
        return
    if args.command == "run":
        validate_run(args.config, tuple(args.overrides))
    elif args.command == "study" and not args.dry_run:
        if Path(args.study).is_dir() or not Path(args.study).exists():
            assert args.study.startswith("outputs/"), f"{args.study}: no such study file"
            return
        validate_study(args.study, tuple(args.overrides))
    else:
        if args.command == "diagnose":
            argv += ["--depth", str(min(args.depth or 8, 8)), "--samples", "64", "--no-plots", "--threads", "1",
                     "--out", str(tmp_path / "diagnose")]
        if args.command == "init":
            monkeypatch.chdir(tmp_path)
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()) as err:
            code = main(argv)
        assert code == 0, f"pinnit {command}: exit {code}: {err.getvalue().strip()}"


@pytest.mark.parametrize(("command", "expected_error"), DOC_COMMANDS)
def test_doc_command(command, expected_error, tmp_path, monkeypatch):
    if expected_error is None:
        check_command(command, tmp_path, monkeypatch)
        return
    with pytest.raises(PinnitError) as err:  # the documented one-line error, up to its "…"
        check_command(command, tmp_path, monkeypatch)
    assert f"pinnit: error: {err.value}".startswith(expected_error.split("…")[0].rstrip())


@pytest.mark.parametrize(("command", "expected_error"), HELP_COMMANDS)
def test_help_example(command, expected_error, tmp_path, monkeypatch):
    check_command(command, tmp_path, monkeypatch)


@pytest.mark.parametrize("body", DOC_YAML)
def test_doc_yaml(body, monkeypatch):
    monkeypatch.chdir(REPO)
    data = yaml.safe_load(body)
    fragment = FRAGMENT.match(body.lstrip())
    if fragment:
        data = merge(read_yaml(REPO / fragment.group(1)), data)
    assert isinstance(data, dict), "a YAML example is a mapping (mark an abridged one '# fragment: BASE')"
    if "problem" in data:
        parse_config(data)
    elif "base" in data:
        expand(parse_study(data, source=REPO / "configs" / "studies" / "doc_example.yaml"))
    elif "equations" in data:
        build_problem({"name": "declared", **data})
    else:
        pytest.fail(f"not a run config, study or declaration: keys {sorted(data)}; an abridged block starts "
                    "with '# fragment: PATH' (the file it is merged onto)")


def test_examples_were_found():
    """The extraction itself: a broken fence or prefix would silently test nothing."""
    assert len(DOC_COMMANDS) >= 40 and len(DOC_YAML) >= 10 and len(HELP_COMMANDS) >= 15
    for doc in ("README.md", "docs/guides/run.md", "docs/guides/studies.md", "docs/guides/declare.md"):
        assert any(p.id.startswith(doc) for p in DOC_COMMANDS + DOC_YAML), doc


def test_readme_lists_every_command():
    """The README's command table names every subcommand and every registry `pinnit list` shows."""
    readme = (REPO / "README.md").read_text()
    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    missing = [name for name in sub.choices if f"| `pinnit {name}" not in readme]
    assert not missing, f"README.md's command table lacks: {missing}"
    kinds = next(a for a in sub.choices["list"]._actions if a.dest != "help" and a.choices).choices
    assert all(kind in readme.split("| `pinnit list [", 1)[1].split("]", 1)[0] for kind in kinds), kinds


OUTSIDE = re.compile(r"seed ?00\d|\.\./shared|shared/(reference|notes|seeds)|(methods|problems|design|peers)\.md\b"
                     r"|idle-machine", re.I)


def test_no_reference_outside_the_repository():
    """No file cites internal notes, seed numbers or ../shared: publications and data by what they are (tests may
    still read optional data files beside the checkout at run time, and skip without them)."""
    files = [*doc_files(), *sorted((REPO / "configs").rglob("*.yaml")), *sorted((REPO / "problems").glob("*.yaml")),
             *sorted((REPO / "pinnit").rglob("*.py")), *sorted((REPO / "benchmarks").glob("*.py")),
             *(f for f in sorted((REPO / "tests").glob("*.py")) if f.name != Path(__file__).name),
             *(REPO / name for name in ("setup.py", "pyproject.toml", "MANIFEST.in", "mkdocs.yml"))]
    hits = [f"{f.relative_to(REPO)}:{i}: {line.strip()[:80]}" for f in files
            for i, line in enumerate(f.read_text().splitlines(), 1) if OUTSIDE.search(line)]
    assert not hits, "\n".join(hits)


def test_quick_start_run_trains(tmp_path, monkeypatch):
    """The README quick start's `pinnit run configs/heat.yaml`, shrunk, trains end to end and scores itself."""
    monkeypatch.chdir(REPO)
    assert "pinnit run configs/heat.yaml  " in (REPO / "README.md").read_text()
    shrink = ["training.stages.adam.iterations=20", "training.stages.lbfgs.iterations=0", "training.threads=1",
              "output.plots=false", "sampling.points={pde: 128, initial: 32, wall: 16, insulated: 16}",
              "evaluation.every=0"]
    argv = ["run", "configs/heat.yaml", "--quiet", "--run-dir", str(tmp_path / "run"),
            *(a for s in shrink for a in ("--set", s))]
    with contextlib.redirect_stdout(io.StringIO()) as out, contextlib.redirect_stderr(io.StringIO()):
        assert main(argv) == 0
    assert "status: completed" in out.getvalue() and '"rel_l2_u"' in out.getvalue()
    assert (tmp_path / "run" / "metrics.json").is_file()


def test_declaration_keys_are_documented():
    """docs/guides/declare.md's key table names every key a declaration accepts (hand-written: the schema has
    no descriptions for them)."""
    from pinnit.problems.declared_io import ConditionSpec, Declaration

    page = (REPO / "docs" / "guides" / "declare.md").read_text()
    missing = [k for k in Declaration.model_fields if f"| `{k}` |" not in page]
    missing += [k for k in ConditionSpec.model_fields if f"`{k}`" not in page]
    assert not missing, f"docs/guides/declare.md does not document: {missing}"
