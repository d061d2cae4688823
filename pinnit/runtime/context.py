"""The run context: device, dtype, seed and the run's named random streams, passed explicitly (pinnit sets no
global torch state).

One seed, several independent streams, so that what one part of a run draws never shifts what another draws:
the seed's :class:`numpy.random.SeedSequence` is spawned into one child per stream (O'Neill's PCG seeding as
numpy implements it; children are statistically independent), in a fixed order:

- ``init_generator`` (torch): the network's initialization — every initializer, including those that sample
  points of their own (basis pretraining, KGI's data-driven bounds);
- ``sampling_rng`` (numpy): collocation points, their adaptive resampling (RAD / RAR-D) and refinement;
- ``function_rng`` (numpy): an operator run's training and held-out input functions (e.g. Stokes lids);
- ``batch_rng`` (numpy): the order in which an operator run visits its training functions.

So for one seed every initializer trains on the same points and the same functions, and a comparison over
seeds is paired: the difference between two methods at one seed is a difference of methods, not of draws.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from ..core.errors import ConfigError

DTYPES = {"float32": torch.float32, "float64": torch.float64}
#: The named streams, in spawn order (appending a name keeps the others' draws unchanged).
STREAMS = ("init", "sampling", "functions", "batches")


def resolve_device(name: str) -> torch.device:
    """``auto`` → CUDA when available, else CPU; ``cuda`` without a GPU is a user error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError("training.device", f"'{name}' requested but no CUDA device is available; use 'auto' or 'cpu'")
    device = torch.device(name)
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise ConfigError("training.device", f"'{name}' requested but only {torch.cuda.device_count()} CUDA "
                                             f"device(s) exist; use cuda:0 … cuda:{torch.cuda.device_count() - 1}")
    return device


def stream_seeds(seed: int) -> dict[str, np.random.SeedSequence]:
    """The seed's :class:`~numpy.random.SeedSequence` spawned into one child per name of :data:`STREAMS`."""
    return dict(zip(STREAMS, np.random.SeedSequence(int(seed)).spawn(len(STREAMS))))


def torch_generator(seq: np.random.SeedSequence) -> torch.Generator:
    """A CPU torch generator seeded with 63 bits drawn from ``seq``."""
    bits = int(seq.generate_state(1, dtype=np.uint64)[0]) & 0x7FFF_FFFF_FFFF_FFFF
    return torch.Generator(device="cpu").manual_seed(bits)


@dataclass
class RunContext:
    """Where and how tensors live for one run, plus its seeded random streams (see the module docstring)."""

    device: torch.device
    dtype: torch.dtype
    seed: int
    init_generator: torch.Generator = field(init=False, repr=False)
    sampling_rng: np.random.Generator = field(init=False, repr=False)
    function_rng: np.random.Generator = field(init=False, repr=False)
    batch_rng: np.random.Generator = field(init=False, repr=False)

    def __post_init__(self) -> None:
        seqs = stream_seeds(self.seed)
        self._init_seq = seqs["init"]
        self.init_generator = torch_generator(seqs["init"])
        self.sampling_rng = np.random.default_rng(seqs["sampling"])
        self.function_rng = np.random.default_rng(seqs["functions"])
        self.batch_rng = np.random.default_rng(seqs["batches"])

    @classmethod
    def create(cls, device: str = "auto", dtype: str = "float32", seed: int = 0) -> "RunContext":
        return cls(resolve_device(device), DTYPES[dtype], int(seed))

    @property
    def generator(self) -> torch.Generator:
        """Former name of :attr:`init_generator`."""
        return self.init_generator

    @property
    def rng(self) -> np.random.Generator:
        """Former name of :attr:`sampling_rng`."""
        return self.sampling_rng

    def tensor(self, array, requires_grad: bool = False) -> torch.Tensor:
        t = torch.as_tensor(np.asarray(array), dtype=self.dtype, device=self.device)
        return t.requires_grad_(requires_grad)

    def child_generator(self, salt: int) -> torch.Generator:
        """An independent torch generator of the initialization stream (e.g. one per network), by ``salt`` ≥ 0."""
        child = np.random.SeedSequence(self._init_seq.entropy, spawn_key=(*self._init_seq.spawn_key, 1000 + salt))
        return torch_generator(child)
