"""Initialization diagnostics: per-layer statistics of a network at initialization (``pinnit diagnose``)."""
from .stats import COLUMNS, ForwardStats, forward_statistics, gradient_norms, knots_along_lines, reference_slope

__all__ = ["COLUMNS", "ForwardStats", "forward_statistics", "gradient_norms", "knots_along_lines",
           "reference_slope"]
