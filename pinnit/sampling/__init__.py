"""Sampling, one package: collocation samplers on regions (:mod:`.samplers`), adaptive resampling RAD and
RAR-D (:mod:`.adaptive`), refinement boxes (:mod:`.refine`) and function inputs drawn from a Gaussian
random field (:mod:`.functions`, :mod:`.grf`)."""
from .functions import FunctionInput, GRFLaw
from .samplers import qmc_seed, sample_box, sample_region, unit_samples

__all__ = ["FunctionInput", "GRFLaw", "qmc_seed", "sample_box", "sample_region", "unit_samples"]
