"""Build step only (metadata lives in pyproject.toml): ship the top-level ``configs/`` and ``problems/`` —
the single source of truth — inside the wheel as ``pinnit/_data/configs`` and ``pinnit/_data/problems``, so
``pinnit run burgers.yaml`` works after a plain ``pip install .``. An editable install reads them in place."""
from pathlib import Path
import shutil

from setuptools import setup
from setuptools.command.build_py import build_py

SHIPPED = ("configs", "problems")


class BuildWithShippedFiles(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        root = Path(__file__).resolve().parent
        for name in SHIPPED:
            target = Path(self.build_lib, "pinnit", "_data", name)
            target.mkdir(parents=True, exist_ok=True)
            for src in sorted((root / name).glob("*.yaml")):
                shutil.copyfile(src, target / src.name)


setup(cmdclass={"build_py": BuildWithShippedFiles})
