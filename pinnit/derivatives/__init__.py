"""Derivative schemes behind the Fields engine (pinnit/fields.py): forward jets through an MLP (:mod:`.jets`)."""
from .jets import Jets, activation_derivatives, mlp_jets

__all__ = ["Jets", "activation_derivatives", "mlp_jets"]
