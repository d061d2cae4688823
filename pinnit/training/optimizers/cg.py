"""Conjugate gradients for a symmetric positive-definite operator given only as products (Hestenes &
Stiefel, "Methods of conjugate gradients for solving linear systems", J. Res. NBS 49, 1952)."""
from __future__ import annotations

from collections.abc import Callable

import torch


def conjugate_gradient(matvec: Callable[[torch.Tensor], torch.Tensor], b: torch.Tensor, *, max_iter: int,
                       tolerance: float) -> tuple[torch.Tensor, int]:
    """(x, iterations): ‖A x − b‖ ≤ ``tolerance``·‖b‖, or ``max_iter`` products were spent; from x = 0."""
    x = torch.zeros_like(b)
    r = b.clone()
    p = r.clone()
    rr = float(r @ r)
    stop = tolerance**2 * rr
    for k in range(max_iter):
        if rr <= stop or rr == 0.0:
            return x, k
        ap = matvec(p)
        pap = float(p @ ap)
        if not pap > 0:  # round-off broke positive definiteness: keep what we have
            return x, k
        alpha = rr / pap
        x = x + alpha * p
        r = r - alpha * ap
        rr_new = float(r @ r)
        p = r + (rr_new / rr) * p
        rr = rr_new
    return x, max_iter
