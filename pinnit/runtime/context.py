"""The run context: device, dtype and seed, passed explicitly (pinnit sets no global torch state)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from ..core.errors import ConfigError

DTYPES = {"float32": torch.float32, "float64": torch.float64}


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


@dataclass
class RunContext:
    """Where and how tensors live for one run, plus its seeded random generators."""

    device: torch.device
    dtype: torch.dtype
    seed: int
    generator: torch.Generator = field(init=False, repr=False)
    rng: np.random.Generator = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.generator = torch.Generator(device="cpu").manual_seed(self.seed)
        self.rng = np.random.default_rng(self.seed)

    @classmethod
    def create(cls, device: str = "auto", dtype: str = "float32", seed: int = 0) -> "RunContext":
        return cls(resolve_device(device), DTYPES[dtype], int(seed))

    def tensor(self, array, requires_grad: bool = False) -> torch.Tensor:
        t = torch.as_tensor(np.asarray(array), dtype=self.dtype, device=self.device)
        return t.requires_grad_(requires_grad)

    def child_generator(self, salt: int) -> torch.Generator:
        """An independent torch generator derived from the seed (e.g. one per network)."""
        return torch.Generator(device="cpu").manual_seed(hash((self.seed, salt)) & 0x7FFFFFFF)
