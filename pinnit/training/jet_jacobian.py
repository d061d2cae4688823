"""Per-point Jacobians of PINN residuals from one backward through the MLP's forward jets.

A residual row r_i depends on the parameters only through the network's jets at its own point x_i, and
the jets (:func:`~pinnit.derivatives.jets.mlp_jets`) apply every linear layer z = W h (+ b) to each point's
value and tangent rows separately. So the per-point gradient of a layer's weights is a sum of outer
products of that layer's output adjoints and inputs at the same point,

    ∂r_i/∂W = Σ_c z̄_{c,i} h_{c,i}ᵀ,     ∂r_i/∂b = z̄_{0,i}     (c: the value row and each tangent row),

with z̄_{c,i} = ∂r_i/∂z_{c,i}, all of which one backward of Σ_i r_i yields (no sample mixes with another).
This is the per-example gradient construction of I. Goodfellow, "Efficient per-example gradient
computations", arXiv:1510.01799 (2015), applied to Taylor-mode jets. For the first layer the tangents are
W⁰·diag(scale) at every point, so ∂r_i/∂W⁰_{oj} gains z̄_{j,i,o}·scale_j.

Cost: one jets forward and one backward per residual column, plus N·(weights) multiply-adds for the
outer products — against one small reverse pass per point through nested forward derivatives for the
general ``vmap(jacrev)`` route (:class:`~pinnit.training.residuals.PinnResiduals`).

Applies when the model is an :class:`~pinnit.nn.mlp.MLP` (alone or under an output transform without
parameters) whose only parameters are its linear layers' and whose activations have closed-form
derivatives; :func:`jet_jacobian_applies` says whether it does.
"""
from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
from torch.nn.utils import vector_to_parameters

from ..derivatives.engine import split_model
from ..derivatives.jet_fields import JetFields, Key, RecordingFields, transform_chain
from ..derivatives.jets import LinearRecord, has_closed_form, mlp_jets


def _layer_slots(model: torch.nn.Module) -> list[tuple[int, str]] | None:
    """For each parameter of ``model`` in order, (layer index, 'weight' | 'bias') in its MLP; None when some
    parameter is not a linear layer's or an activation lacks closed-form derivatives."""
    split = split_model(model)
    if split is None:
        return None
    mlp = split[0]
    if not all(has_closed_form(a) for a in mlp.activations):
        return None
    owner = {}
    for i, layer in enumerate(mlp.layers):
        owner[id(layer.weight)] = (i, "weight")
        if layer.bias is not None:
            owner[id(layer.bias)] = (i, "bias")
    slots = [owner.get(id(p)) for p in model.parameters()]
    return None if any(s is None for s in slots) else slots


def jet_jacobian_applies(model: torch.nn.Module) -> bool:
    """Whether :class:`JetJacobian` can differentiate ``model``'s residuals (see the module docstring)."""
    return _layer_slots(model) is not None


def _per_point(records: Sequence[LinearRecord], adjoints: dict[int, torch.Tensor], scale: torch.Tensor,
               layer: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(∂r_i/∂W, ∂r_i/∂b) of ``layer`` for every point i, N × out × in and N × out: one batched matmul of the
    stacked output adjoints (N × out × C) and inputs (N × C × in) over the layer's value and tangent rows."""
    zs, hs, bias = [], [], None
    for rec in records:
        if rec.layer != layer:
            continue
        zbar, tbar = adjoints.get(id(rec.value_out)), adjoints.get(id(rec.tangent_out))
        if zbar is not None:
            zs.append(zbar[:, :, None])
            hs.append(rec.value_in[:, None, :])
            bias = zbar if bias is None else bias + zbar
        if tbar is not None:
            zs.append(tbar.permute(1, 2, 0))
            n, d = tbar.shape[1], tbar.shape[0]
            # first layer: tangent_out[j, i] = W⁰[:, j]·scale_j, i.e. the tangent inputs are diag(scale)
            hs.append(torch.diag(scale).expand(n, d, d) if rec.tangent_in is None else rec.tangent_in.transpose(0, 1))
    dw = torch.bmm(torch.cat(zs, dim=2), torch.cat(hs, dim=1))
    return dw, (bias if bias is not None else torch.zeros_like(dw[:, :, 0]))


class JetJacobian:
    """The per-point Jacobian of a :class:`~pinnit.training.loss.PinnLoss`'s residual rows, on a float64
    copy of its network (see the module docstring). ``rows(term, x, theta)`` → list of (N, P) blocks, one per
    residual column of the term, in the order of ``term.residual``'s parts and their columns."""

    def __init__(self, model: torch.nn.Module, problem):
        slots = _layer_slots(model)
        if slots is None:
            raise ValueError("jet Jacobians need an MLP whose only parameters are its linear layers'")
        self.slots, self.problem, self.model = slots, problem, model
        mlp, self.transform = split_model(model)
        self.mlp = copy.deepcopy(mlp).double()
        self._params = [getattr(self.mlp.layers[i], kind) for i, kind in slots]  # the model's order
        self._keys: dict[str, frozenset[Key]] = {}

    def _term_keys(self, term, x: torch.Tensor) -> frozenset[Key]:
        """The derivatives ``term`` asks for (recorded on two points), plus one first derivative so that the
        jets always run through every layer."""
        if term.name not in self._keys:
            p, record, g = self.problem, set(), self.transform

            def evaluate(z):
                return self.mlp(z) if g is None else g(z, self.mlp(z))
            with torch.enable_grad():
                term.residual(RecordingFields(x[:2].detach(), p.inputs, p.outputs, evaluate, record=record))
            self._keys[term.name] = frozenset(record | {(p.outputs[0], (0,))})
        return self._keys[term.name]

    def rows(self, term, x: torch.Tensor, theta: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """(the term's residual columns (N,), their N × P Jacobian blocks) at the flat float64 ``theta``."""
        p = self.problem
        with torch.no_grad():
            vector_to_parameters(theta, self._params)
        keys = self._term_keys(term, x)
        chain = None
        if self.transform is not None:
            chain = transform_chain(self.model.transform_derivative, p.inputs, p.outputs, keys)
        tape: list[LinearRecord] = []

        def jets(*args, **kwargs):
            return mlp_jets(*args, tape=tape, **kwargs)

        with torch.enable_grad():
            fields = JetFields(x.detach(), p.inputs, p.outputs, self.mlp, self.transform, keys, jets, chain)
            r = term.residual(fields)
            parts = [q.reshape(x.shape[0], -1) for q in (r if isinstance(r, (tuple, list)) else (r,))]
            outputs = [t for rec in tape for t in (rec.value_out, rec.tangent_out)]
            columns = [q[:, c] for q in parts for c in range(q.shape[1])]
            blocks = []
            for k, col in enumerate(columns):
                grads = torch.autograd.grad(col.sum(), outputs, retain_graph=k + 1 < len(columns),
                                            allow_unused=True)
                adjoints = {id(t): g for t, g in zip(outputs, grads) if g is not None}
                with torch.no_grad():
                    blocks.append(self._assemble(tape, adjoints, x.shape[0]))
        return [c.detach() for c in columns], blocks

    def _assemble(self, tape: Sequence[LinearRecord], adjoints: dict[int, torch.Tensor], n: int) -> torch.Tensor:
        """The N × P Jacobian block, columns in the model's parameter order."""
        scale = self.mlp.scale.to(torch.float64)
        per_layer = {i: _per_point(tape, adjoints, scale, i) for i in range(len(self.mlp.layers))}
        J = torch.empty(n, sum(p.numel() for p in self._params), dtype=torch.float64, device=scale.device)
        offset = 0
        for (i, kind), p in zip(self.slots, self._params):
            J[:, offset:offset + p.numel()] = per_layer[i][0 if kind == "weight" else 1].reshape(n, -1)
            offset += p.numel()
        return J
