"""Atomic run-directory writes: files get the umask's mode (like any file the user writes), not mkstemp's 0600."""
from __future__ import annotations

import os
import stat

import pytest

from pinnit.core.atomic_files import write_bytes, write_csv, write_json, write_text


@pytest.fixture
def umask():
    saved = os.umask(0o022)
    os.umask(saved)

    def set_(mask: int) -> None:
        os.umask(mask)

    yield set_
    os.umask(saved)


@pytest.mark.parametrize("mask, mode", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_atomic_files_get_the_umask_mode(tmp_path, umask, mask, mode):
    umask(mask)
    write_text(tmp_path / "a.txt", "hello\n")
    write_bytes(tmp_path / "b.bin", b"\x00\x01")
    write_json(tmp_path / "c.json", {"x": 1.5})
    write_csv(tmp_path / "d.csv", [{"step": 1, "loss": 0.5}])
    for name in ("a.txt", "b.bin", "c.json", "d.csv"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == mode, name
    assert (tmp_path / "a.txt").read_text() == "hello\n"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]  # no temp file left behind


def test_rewriting_a_file_keeps_the_umask_mode(tmp_path, umask):
    umask(0o022)
    write_text(tmp_path / "a.txt", "one")
    write_text(tmp_path / "a.txt", "two")
    assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == 0o644
    assert (tmp_path / "a.txt").read_text() == "two"
