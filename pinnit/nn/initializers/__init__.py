"""Weight initializers: the registry and every registered entry (importing the modules registers them)."""
from . import basis, classical, eoc, kgi, repu, siren, signal_preserving  # noqa: F401  (registers entries)
from .base import INITIALIZERS, initialize, register_initializer, validate_initializer
from .eoc import EOCPoint, chi1, eoc_point, gaussian_moments
from .repu import repu_susceptibilities, susceptibilities
from .signal_preserving import proposed_sigma_z, target_rate

__all__ = ["INITIALIZERS", "EOCPoint", "chi1", "eoc_point", "gaussian_moments", "initialize", "proposed_sigma_z",
           "register_initializer", "repu_susceptibilities", "susceptibilities", "target_rate",
           "validate_initializer"]
