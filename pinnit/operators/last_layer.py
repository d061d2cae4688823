"""Exact least squares over a DeepONet's last layer by its Kronecker structure (``lstsq_last``'s solver).

The DeepONet's output for function b is G_b = Σ_k b_bk t_k + β with branch features b_g = H̃_g W̃_gᵀ per
branch g (H̃_g = [h_g, 1], N_f × (w+1), the last hidden layer of the branch with a ones column; W̃_g = [W_g, c_g],
its final Linear; Lu et al. 2021). For a linear PDE and a linear output transform with coefficients that do not
depend on the function, the residual of function b is affine in its own features and in β, with the same
matrices for every function: as an M × N_f matrix (one column per function, ``by_function``)

    R(Δ) = R + Σ_g T_g ΔW̃_g H̃_gᵀ + C Δβ 1ᵀ,

T_g = ∂r_b/∂b_g (M × K_g) and C = ∂r_b/∂β (M × n_out), read off the held batch by K_g + n_out Jacobian–vector
products (and checked equal for its functions; else None and the caller solves generically). The functions fitted
are the held batch, or all training functions (``functions="all"``: only R and H̃ are evaluated on them, in
chunks). This is the hybrid least-squares step of J. Choi, C.-O. Lee & M. Moon, "Hybrid least squares/gradient
descent methods for DeepONets" (2025); minimised is ‖R(Δ)‖²_F + ε‖Δ‖² (ε = ``damping``, ridge). Two solvers:

- reduced dense, when Σ_g K_g·rank(H̃_g) + n_out ≤ ``dense_max``: R(Δ) − R lies in span(Q) ⊗ span(P), Q an
  orthonormal basis of [T_1 … T_G, C], P of [U_1 … U_G, 1] (H̃_g = U_g Σ_g V_gᵀ, thin SVD), so only QᵀR(Δ)P
  matters: a least-squares problem in Z_g (ΔW̃_g = Z_g Σ_g⁻¹ V_gᵀ) with (A ⊗ Bᵀ) vec Z = vec(A Z B) (C. F. Van
  Loan, "The ubiquitous Kronecker product", J. Comput. Appl. Math. 123, 2000), solved by SVD (LAPACK gelsd);
- beyond: conjugate gradients on the normal equations, whose operator is
  X_g ↦ Σ_g' (T_gᵀT_g') X_g' (H̃_g'ᵀH̃_g) + …, products of small matrices only, preconditioned by the exact
  inverse of each diagonal block (T_gᵀT_g) ⊗ (H̃_gᵀH̃_g) + εI from the eigenvectors of its two factors, β
  through its Schur complement (Saad 2003, §9.2; exact for one branch, the shared layout).

For the CPU Stokes recipe (three branches, 64 features and 64 hidden units) a batch of 24 functions is
195·25 rows × 4,611 unknowns instead of the 31,200 × 12,483 Jacobian.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn
from torch.func import functional_call

from ..training.optimizers.cg import cgls

if TYPE_CHECKING:
    from .residuals import OperatorResiduals

#: singular values below this fraction of the largest count as zero (ranks of H̃, of the bases Q and P)
RANK_TOLERANCE = 1e-12
#: the functions' matrices T and C must agree to this relative tolerance for the structured solve
SAME_TOLERANCE = 1e-9
#: functions per residual evaluation when fitting all training functions
CHUNK = 64


class _Hidden(nn.Module):
    """``forward(F)`` → the input of an MLP's last layer (its last hidden layer, or the normalised input)."""

    def __init__(self, mlp: nn.Module):
        super().__init__()
        self.mlp = mlp

    def forward(self, F: torch.Tensor) -> torch.Tensor:
        hidden = self.mlp.hidden(F)
        return hidden[-1] if hidden else (F - self.mlp.shift) * self.mlp.scale


def _orth(A: torch.Tensor) -> torch.Tensor:
    """An orthonormal basis of the columns of A (thin SVD, numerical rank)."""
    U, s, _ = torch.linalg.svd(A, full_matrices=False)
    return U[:, : int((s > RANK_TOLERANCE * s[0]).sum())] if len(s) and s[0] > 0 else U[:, :0]


def _hidden(res: OperatorResiduals, tensors: dict, F: torch.Tensor) -> list[torch.Tensor]:
    """H̃_g = [h_g, 1] (N_f × (w+1)) of every branch g."""
    out = []
    for g, branch in enumerate(res.loss.model.net.branches):
        prefix = f"net.branches.{g}."
        sub = {f"mlp.{k[len(prefix):]}": v for k, v in tensors.items() if k.startswith(prefix)}
        h = functional_call(_Hidden(branch), sub, (F,)).detach()
        out.append(torch.cat([h, torch.ones(len(F), 1, dtype=h.dtype, device=h.device)], dim=1))
    return out


def _last(tensors: dict, g: int, net: nn.Module) -> torch.Tensor:
    """W̃_g = [W_g, c_g] (K_g × (w+1))."""
    prefix = f"net.branches.{g}.layers.{len(net.branches[g].layers) - 1}."
    return torch.cat([tensors[prefix + "weight"], tensors[prefix + "bias"][:, None]], 1)


def _derivatives(res: OperatorResiduals, theta: torch.Tensor, tensors: dict
                 ) -> tuple[torch.Tensor, list[torch.Tensor], torch.Tensor] | None:
    """(r on the held batch, [T_g], C), the columns scaled for one function; None if the functions' differ."""
    net = res.loss.model.net
    H = _hidden(res, tensors, res.F)
    feats = [(H[g] @ _last(tensors, g, net).T).detach() for g in range(len(H))]
    widths = [f.shape[1] for f in feats]
    leaf_theta = theta.detach().clone().requires_grad_(True)
    leaf_b = torch.cat(feats, dim=1).requires_grad_(True)
    groups = list(leaf_b.split(widths, dim=1))
    branch = list(groups[0].chunk(net.n_out, dim=-1)) if net.layout == "shared" else groups
    r = res._vector(leaf_theta, branch=branch)
    w = torch.zeros_like(r, requires_grad=True)
    g_theta, g_b = torch.autograd.grad(r, (leaf_theta, leaf_b), w, create_graph=True, allow_unused=True,
                                       materialize_grads=True)
    rows = res.by_function(r.detach()).shape[0]

    def column(dot: torch.Tensor) -> torch.Tensor | None:
        """J v as an M × B matrix, reduced to one column when every function's is the same (else None)."""
        if not dot.requires_grad:  # r does not depend on it (e.g. β of a gauged field)
            return torch.zeros(rows, dtype=r.dtype, device=r.device)
        (jv,) = torch.autograd.grad(dot, w, retain_graph=True)
        m = res.by_function(jv)
        if float((m - m[:, :1]).abs().max()) > SAME_TOLERANCE * max(float(m.abs().max()), 1e-300):
            return None
        return m[:, 0] * len(res.F) ** 0.5  # as if the batch were one function (rescaled by the caller)

    cols = [column(g_b[:, k].sum()) for k in range(leaf_b.shape[1])]
    cols += [column(g_theta[i]) for i in res.linear_indices[-net.n_out:].tolist()]  # β, last in linear_indices
    if any(c is None for c in cols):
        return None
    T_all = torch.stack(cols, dim=1)
    return r.detach(), list(T_all[:, : sum(widths)].split(widths, dim=1)), T_all[:, sum(widths):]


@torch.enable_grad()  # the Jacobian products are double backward passes (the optimizer steps under no_grad)
def solve_last_layer(res: OperatorResiduals, theta: torch.Tensor, *, functions: str = "batch",
                     damping: float = 0.0, dense_max: int = 2000, cg_max_iter: int = 2000,
                     cg_tolerance: float = 1e-12, info: dict | None = None
                     ) -> tuple[torch.Tensor, torch.Tensor] | None:
    """(r on the held batch, δ over ``res.linear_indices``) minimising the last-layer least-squares problem of
    the module docstring; None when the structure does not hold. ``info`` receives the solver and CG count."""
    tensors = res.tensors(theta)
    found = _derivatives(res, theta, tensors)
    if found is None:
        return None
    r, T, C = found
    if functions == "all":
        F = res.loss.train_tensor.detach().double()
        R = torch.cat([res.by_function(res._vector(theta, F=chunk).detach()) * len(chunk) ** 0.5
                       for chunk in F.split(CHUNK)], dim=1)
    else:
        F = res.F
        R = res.by_function(r) * len(F) ** 0.5
    R = R / len(F) ** 0.5  # every function weighs 1/N_f, as in the loss's mean
    T = [t / len(F) ** 0.5 for t in T]
    C = C / len(F) ** 0.5
    H = _hidden(res, tensors, F)
    unknowns = sum(t.shape[1] * min(h.shape) for t, h in zip(T, H)) + C.shape[1]
    solve = _dense if unknowns <= dense_max else _kronecker_cgls
    steps = solve(R, T, C, H, damping, cg_max_iter=cg_max_iter, cg_tolerance=cg_tolerance,
                  info=info if info is not None else {})
    parts = []
    for dW in steps[:-1]:
        parts += [dW[:, :-1].reshape(-1), dW[:, -1]]
    return r, torch.cat([*parts, steps[-1]])


def _dense(R, T, C, H, damping, *, info, **_) -> list[torch.Tensor]:
    """ΔW̃_g per branch and Δβ by the reduced dense least-squares problem (module docstring)."""
    info["solver"] = "dense"
    svds = [torch.linalg.svd(h, full_matrices=False) for h in H]
    ranks = [int((s > RANK_TOLERANCE * s[0]).sum()) for _, s, _ in svds]
    Us = [U[:, :k] for (U, _, _), k in zip(svds, ranks)]
    ones = torch.ones(R.shape[1], 1, dtype=R.dtype, device=R.device)
    Q = _orth(torch.cat([*T, C], dim=1))
    P = _orth(torch.cat([*Us, ones], dim=1))
    A = torch.cat([*(torch.kron(Q.T @ t, P.T @ U) for t, U in zip(T, Us)), torch.kron(Q.T @ C, P.T @ ones)], dim=1)
    rhs = -(Q.T @ R @ P).reshape(-1)
    if damping > 0:  # ‖δ‖² = Σ_g ‖Z_g Σ_g⁻¹‖² + ‖Δβ‖²: rows √ε/σ_i per unknown
        scale = torch.cat([*((1 / s[:k]).repeat(t.shape[1]) for (_, s, _), k, t in zip(svds, ranks, T)),
                           torch.ones(C.shape[1], dtype=R.dtype, device=R.device)])
        A = torch.cat([A, torch.diag(damping ** 0.5 * scale)])
        rhs = torch.cat([rhs, torch.zeros(len(scale), dtype=R.dtype, device=R.device)])
    sol = torch.linalg.lstsq(A.cpu(), rhs.cpu()[:, None], driver="gelsd").solution[:, 0]  # gelsd: CPU only
    sol = sol.to(R.device)
    out, offset = [], 0
    for t, (_, s, Vh), k in zip(T, svds, ranks):
        Z = sol[offset:offset + t.shape[1] * k].view(t.shape[1], k)
        offset += t.shape[1] * k
        out.append(Z @ torch.diag(1 / s[:k]) @ Vh[:k])  # ΔW̃_g = Z_g Σ_g⁻¹ V_gᵀ
    return [*out, sol[offset:]]


def _kronecker_cgls(R, T, C, H, damping, *, cg_max_iter, cg_tolerance, info) -> list[torch.Tensor]:
    """ΔW̃_g per branch and Δβ by CGLS in orthonormal coordinates (module docstring)."""
    ones = torch.ones(R.shape[1], 1, dtype=R.dtype, device=R.device)

    def svd(A):
        U, s, Vh = torch.linalg.svd(A, full_matrices=False)
        k = int((s > RANK_TOLERANCE * s[0]).sum()) if len(s) and s[0] > 0 else 0
        return U[:, :k], s[:k], Vh[:k]

    Ts, Hs = [svd(t) for t in T], [svd(h) for h in H]
    Q = _orth(torch.cat([*T, C], dim=1))
    P = _orth(torch.cat([*(u for u, _, _ in Hs), ones], dim=1))
    A_T = [Q.T @ u for u, _, _ in Ts]  # q × r_T, orthonormal columns
    A_H = [P.T @ u for u, _, _ in Hs]  # s × r_H
    c_norm = C.norm(dim=0) * R.shape[1] ** 0.5  # ‖C_j 1ᵀ‖
    live = c_norm > 0
    c_hat = (Q.T @ C[:, live]) / c_norm[live]  # unit columns ĉ_j 1̂ᵀ, reduced
    one_hat = P.T @ ones[:, 0]
    weights = [1 / torch.outer(st, sh) for (_, st, _), (_, sh, _) in zip(Ts, Hs)]  # ‖ΔW̃‖ per unit of Y
    shapes = [w.shape for w in weights]
    sizes = [w.numel() for w in weights]
    root = damping ** 0.5

    def split(v):
        parts = list(v.split([*sizes, int(live.sum())]))
        return [x.view(sh) for x, sh in zip(parts, shapes)], parts[-1]

    def matvec(v):
        Y, beta = split(v)
        out = sum(a @ y @ b.T for a, y, b in zip(A_T, Y, A_H)) + torch.outer(c_hat @ beta, one_hat)
        ridge = [*(root * y * w for y, w in zip(Y, weights)), root * beta / c_norm[live]] if root else []
        return torch.cat([out.reshape(-1), *(x.reshape(-1) for x in ridge)])

    n_fit = Q.shape[1] * P.shape[1]

    def rmatvec(u):
        M = u[:n_fit].view(Q.shape[1], P.shape[1])
        Y = [a.T @ M @ b for a, b in zip(A_T, A_H)]
        beta = c_hat.T @ M @ one_hat
        if root:
            rest = u[n_fit:]
            Y = [y + root * w * x.view(w.shape) for y, w, x in zip(Y, weights, rest[: sum(sizes)].split(sizes))]
            beta = beta + root * rest[sum(sizes):] / c_norm[live]
        return torch.cat([*(y.reshape(-1) for y in Y), beta])

    b = -(Q.T @ R @ P).reshape(-1)
    if root:
        b = torch.cat([b, torch.zeros(sum(sizes) + int(live.sum()), dtype=R.dtype, device=R.device)])
    v, k = cgls(matvec, rmatvec, b, sum(sizes) + int(live.sum()), max_iter=cg_max_iter, tolerance=cg_tolerance)
    info.update(solver="kronecker_cgls", cg_iterations=k)
    Y, beta_hat = split(v)
    X = [(Vt.T / st[None]) @ y @ (torch.diag(1 / sh) @ Vh) for y, (_, st, Vt), (_, sh, Vh) in zip(Y, Ts, Hs)]
    beta = torch.zeros(C.shape[1], dtype=R.dtype, device=R.device)
    beta[live] = beta_hat / c_norm[live]
    return [*X, beta]
