"""Shared fixtures: small, fast configs and paths to optional reference data files (tests skip when absent)."""
from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
import torch
from hypothesis import settings

# Tests train tiny networks, which gain nothing from intra-op threads; several torch processes sharing two
# cores with their default thread pools slow each other down by orders of magnitude (measured here). One
# thread per process, for this process and the CLI subprocesses the tests start.
os.environ.setdefault("OMP_NUM_THREADS", "1")
torch.set_num_threads(1)

# Property-based tests draw the same examples on every run (CI must not pass or fail by chance); failures they
# found are kept as explicit @example cases next to each test. HYPOTHESIS_PROFILE=explore draws new ones.
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.register_profile("explore", derandomize=False, max_examples=500)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True, scope="session")
def _private_cache_dir(tmp_path_factory):
    """Pretrained-basis caches (basis_pretrained) go to a temp folder, never the user's ~/.cache."""
    old = os.environ.get("PINNIT_CACHE_DIR")
    os.environ["PINNIT_CACHE_DIR"] = str(tmp_path_factory.mktemp("pinnit-cache"))
    yield
    if old is None:
        os.environ.pop("PINNIT_CACHE_DIR", None)
    else:
        os.environ["PINNIT_CACHE_DIR"] = old
SHARED = REPO.parent / "shared"


def small_burgers(tmp_path: Path, **training) -> dict:
    """A Burgers config that trains in a few seconds on 2 CPU cores."""
    return {
        "problem": {"name": "burgers"},
        "network": {"width": 16, "depth": 3, "activation": "tanh", "initializer": "xavier_normal"},
        "sampling": {"sampler": "sobol", "points": {"pde": 512, "initial": 64, "boundary": 64}},
        "training": {"dtype": "float64", "seed": 0, "adam": {"iterations": 60, "lr": 3e-3},
                     "lbfgs": {"iterations": 20, "chunk": 10}, "checkpoint_every": 20, **training},
        "evaluation": {"every": 20, "resolution": [64, 20]},
        "output": {"dir": str(tmp_path / "outputs"), "plots": False, "progress": False},
    }


@pytest.fixture
def burgers_cfg(tmp_path):
    return small_burgers(tmp_path)


@pytest.fixture
def shared_reference():
    def get(name: str) -> Path:
        path = SHARED / "reference" / name
        if not path.exists():
            pytest.skip(f"{path} not available")
        return path

    return get


def wait_for(predicate, timeout: float) -> bool:
    """Poll ``predicate`` every 50 ms until it holds (True) or ``timeout`` seconds pass (False)."""
    end = time.time() + timeout
    while time.time() < end:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def interrupt_after_step(monkeypatch, step: int) -> None:
    """A real SIGINT right after first-order step ``step`` (as in test_trainer_resume.py)."""
    from pinnit.training import Trainer

    real_step = Trainer.step

    def one_step(self):
        closure = self.stage.closure
        real_step(self)
        if not closure and self.state.step == step:
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(Trainer, "step", one_step)


def interrupt_after_chunks(monkeypatch, chunks: int) -> None:
    """A real SIGINT as an operator run's trainer releases the batch of closure chunk number ``chunks`` (it stops
    after it)."""
    from pinnit.operators.loss import OperatorLoss

    real, released = OperatorLoss.hold_batch, []

    def hold_batch(self, hold: bool) -> None:
        real(self, hold)
        if not hold:
            released.append(1)
            if len(released) == chunks:
                os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(OperatorLoss, "hold_batch", hold_batch)
