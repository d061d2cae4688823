"""Derivative schemes behind the Fields engines: forward jets through an MLP — pure and mixed second derivatives
(:mod:`.jets`, for pinnit/derivatives/fields.py) and full Hessians of a DeepONet trunk (:mod:`.hessian_jets`, for
pinnit/derivatives/cartesian_fields.py)."""
from .jets import Jets, activation_derivatives, has_closed_form, mlp_jets

__all__ = ["Jets", "activation_derivatives", "has_closed_form", "mlp_jets"]
