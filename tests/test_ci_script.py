""".ci/run runs the README's test command: in a fresh virtualenv it makes itself, stopping at the first failure.

The script runs for real here, with stand-ins for `python` and `pip` on PATH that log their calls (the real
install takes minutes and the registry), so what is checked is the order, the venv, and the exit codes."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import REPO

# `python -m venv DIR` makes DIR/bin/{python,pip,...} (copies of this script; also the later checks' tools) and an
# activate that puts them first on PATH; every call is logged as "PROGRAM ARGS"; FAKE_FAIL=WORD makes the call
# whose program name or arguments contain WORD fail.
FAKE = """#!/bin/bash
echo "$0 $*" >> "$CI_LOG"
if [ -n "${FAKE_FAIL:-}" ] && [[ "$(basename "$0") $*" == *"$FAKE_FAIL"* ]]; then exit 3; fi
if [ "${1:-} ${2:-}" = "-m venv" ]; then
    mkdir -p "$3/bin" && for tool in python pip lint-imports mkdocs; do cp "$0" "$3/bin/$tool"; done
    echo "export PATH=\\"$(cd "$3" && pwd)/bin:\\$PATH\\"" > "$3/bin/activate"
fi
"""


def readme_test_command(page: Path) -> str:
    """The command in the first fenced block of ``page`` that runs pytest."""
    blocks = re.findall(r"```(?:bash)?\n(.*?)```", page.read_text(), flags=re.S)
    (command,) = [b.strip() for b in blocks if "python -m pytest" in b][:1]
    return command


def run_ci(tmp_path: Path, **env: str) -> tuple[subprocess.CompletedProcess, list[str]]:
    root = tmp_path / "repo"
    (root / ".ci").mkdir(parents=True)
    shutil.copy2(REPO / ".ci" / "run", root / ".ci" / "run")
    (root / ".venv").mkdir()
    (root / ".venv" / "stale").write_text("from an earlier run")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("python", "pip"):
        (bin_dir / name).write_text(FAKE)
        (bin_dir / name).chmod(0o755)
    log = tmp_path / "calls.log"
    proc = subprocess.run(["bash", str(root / ".ci" / "run")], cwd=tmp_path, capture_output=True, text=True,
                          timeout=60, env={"PATH": f"{bin_dir}:/usr/bin:/bin", "CI_LOG": str(log), **env})
    calls = log.read_text().replace(f"{tmp_path}/", "").splitlines() if log.exists() else []
    return proc, calls


@pytest.mark.parametrize("page", ["README.md", "docs/getting-started.md"])
def test_ci_runs_the_documented_test_command_verbatim(page):
    if not (REPO / page).is_file():
        pytest.skip(f"{page} absent")
    command = readme_test_command(REPO / page)
    assert command.startswith("python -m venv .venv && . .venv/bin/activate && "), command  # a fresh venv
    assert command.endswith("python -m pytest"), command
    assert re.search(r'pip install -e "\.\[test,(.*,)?all\b', command), command  # the tests and every extra
    lines = (REPO / ".ci" / "run").read_text().splitlines()
    assert f"{command} || exit $?" in lines, f".ci/run does not run {page}'s test command: {command}"


def test_ci_installs_and_tests_inside_a_fresh_venv(tmp_path):
    proc, calls = run_ci(tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert calls[:2] == ["bin/python -m venv .venv", "repo/.venv/bin/pip install torch==2.13.0"]
    assert re.fullmatch(r"repo/\.venv/bin/pip install -e \.\[test,(.*,)?all\b.*\]", calls[2]), calls
    assert calls[3] == "repo/.venv/bin/python -m pytest"
    assert calls[4].strip() == "repo/.venv/bin/lint-imports"  # the layer contracts, right after the tests
    assert all(c.startswith("repo/.venv/bin/") for c in calls[4:]), calls  # later checks: the venv's tools
    assert not (tmp_path / "repo" / ".venv" / "stale").exists()  # an old .venv is replaced, not reused


@pytest.mark.parametrize("failing, calls_made", [("torch==", 2), ("-e", 3), ("pytest", 4),
                                                  ("lint-imports", 5)])
def test_ci_stops_at_the_first_failure_with_its_exit_code(tmp_path, failing, calls_made):
    proc, calls = run_ci(tmp_path, FAKE_FAIL=failing)
    assert proc.returncode == 3, (proc.returncode, calls)
    assert len(calls) == calls_made and failing in calls[-1], calls


def test_ci_script_is_valid_bash_with_strict_mode():
    text = (REPO / ".ci" / "run").read_text()
    assert "set -euo pipefail" in text.splitlines()
    assert subprocess.run(["bash", "-n", str(REPO / ".ci" / "run")]).returncode == 0
    assert os.access(REPO / ".ci" / "run", os.X_OK)
