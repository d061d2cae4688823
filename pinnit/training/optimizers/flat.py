"""The parameters of a dense or least-squares optimizer as one flat vector, and back."""
from __future__ import annotations

from collections.abc import Sequence

import torch


def flat_params(params: Sequence[torch.Tensor], dtype: torch.dtype | None = None) -> torch.Tensor:
    """All of ``params`` concatenated (detached), optionally cast to ``dtype``."""
    flat = torch.cat([p.detach().reshape(-1) for p in params])
    return flat if dtype is None else flat.to(dtype)


def set_flat(params: Sequence[torch.Tensor], x: torch.Tensor) -> None:
    """Copy the flat vector ``x`` back into ``params`` (in their own dtype), in order."""
    offset = 0
    for p in params:
        n = p.numel()
        p.copy_(x[offset:offset + n].view_as(p))
        offset += n
