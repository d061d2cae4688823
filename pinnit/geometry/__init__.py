"""Geometry: box domains and the regions of them that loss terms sample."""
from .regions import Box, Region

__all__ = ["Box", "Region"]
