"""Activation functions: the registry and every registered entry (importing the modules registers them)."""
from . import odd_sigmoid, repu, standard  # noqa: F401  (registers entries)
from .base import ACTIVATIONS, Activation, build_activation, register_activation
from .odd_sigmoid import OddSigmoid

__all__ = ["ACTIVATIONS", "Activation", "OddSigmoid", "build_activation", "register_activation"]
