"""``pinnit bench``: pinnit against DeepXDE (PyTorch backend) on identical Burgers set-ups.

Each side runs in its own subprocess (:mod:`.worker`) so DeepXDE's global torch settings never reach
pinnit's process, and peak memory is per side. :mod:`.setups` defines the cases and the shared points and
initial weights, :mod:`.runner` drives the workers, :mod:`.report` writes ``bench.json``/``bench.md``.
"""
from .runner import run_bench
from .setups import SETUP_GROUPS, BenchCase, cases_for

__all__ = ["SETUP_GROUPS", "BenchCase", "cases_for", "run_bench"]
