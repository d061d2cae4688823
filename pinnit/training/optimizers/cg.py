"""Conjugate gradients for a symmetric positive-definite operator given only as products (Hestenes &
Stiefel, "Methods of conjugate gradients for solving linear systems", J. Res. NBS 49, 1952), optionally
preconditioned by a symmetric positive (semi-)definite M⁻¹ (Y. Saad, "Iterative methods for sparse linear
systems", 2nd ed., 2003, Alg. 9.1); and CGLS, the same iteration for min ‖A x − b‖ given A and Aᵀ, without the
products AᵀA that square the condition number in rounding (Å. Björck, "Numerical methods for least squares
problems", 1996, §7.4)."""
from __future__ import annotations

from collections.abc import Callable

import torch


def conjugate_gradient(matvec: Callable[[torch.Tensor], torch.Tensor], b: torch.Tensor, *, max_iter: int,
                       tolerance: float, precondition: Callable[[torch.Tensor], torch.Tensor] | None = None
                       ) -> tuple[torch.Tensor, int]:
    """(x, iterations): ‖A x − b‖ ≤ ``tolerance``·‖b‖, or ``max_iter`` products were spent; from x = 0."""
    x = torch.zeros_like(b)
    r = b.clone()
    z = r if precondition is None else precondition(r)
    p = z.clone()
    rz = float(r @ z)
    stop = tolerance**2 * float(r @ r)
    for k in range(max_iter):
        if float(r @ r) <= stop or rz == 0.0:
            return x, k
        ap = matvec(p)
        pap = float(p @ ap)
        if not pap > 0:  # round-off broke positive definiteness: keep what we have
            return x, k
        alpha = rz / pap
        x = x + alpha * p
        r = r - alpha * ap
        z = r if precondition is None else precondition(r)
        rz_new = float(r @ z)
        p = z + (rz_new / rz) * p
        rz = rz_new
    return x, max_iter


def cgls(matvec: Callable[[torch.Tensor], torch.Tensor], rmatvec: Callable[[torch.Tensor], torch.Tensor],
         b: torch.Tensor, n: int, *, max_iter: int, tolerance: float) -> tuple[torch.Tensor, int]:
    """(x, iterations) for min ‖A x − b‖ (A x = ``matvec``, Aᵀ y = ``rmatvec``, x of size ``n``): from x = 0 until
    ‖Aᵀ(b − A x)‖ ≤ ``tolerance``·‖Aᵀ b‖ or ``max_iter`` iterations; x = 0 stays in the row space of A, so it tends
    to the minimum-norm solution."""
    x = torch.zeros(n, dtype=b.dtype, device=b.device)
    r = b.clone()
    s = rmatvec(r)
    p = s.clone()
    gamma = float(s @ s)
    stop = tolerance**2 * gamma
    for k in range(max_iter):
        if gamma <= stop or gamma == 0.0:
            return x, k
        q = matvec(p)
        qq = float(q @ q)
        if not qq > 0:
            return x, k
        alpha = gamma / qq
        x = x + alpha * p
        r = r - alpha * q
        s = rmatvec(r)
        gamma_new = float(s @ s)
        p = s + (gamma_new / gamma) * p
        gamma = gamma_new
    return x, max_iter
