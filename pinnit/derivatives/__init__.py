"""Derivative schemes behind the Fields engines: forward jets through an MLP (:mod:`.jets`) — pure and mixed
second derivatives for pinnit/derivatives/jet_fields.py, and every pair (the full Hessian) of a DeepONet trunk
for pinnit/derivatives/cartesian_fields.py."""
from .jets import Jets, activation_derivatives, has_closed_form, mlp_hessian_jets, mlp_jets

__all__ = ["Jets", "activation_derivatives", "has_closed_form", "mlp_hessian_jets", "mlp_jets"]
