"""Optimizers: the registry (adam, lbfgs, bfgs, ssbfgs, ssbroyden), the dense self-scaled quasi-Newton
optimizer, its strong-Wolfe line search and the loss forms (mse, sqrt, log)."""
from . import entries  # noqa: F401  (registers entries)
from .base import OPTIMIZERS, build_optimizer, optimizer_label, register_optimizer
from .dense import DEFAULT_MAX_PARAMS, DenseQuasiNewton
from .line_search import LineSearchResult, strong_wolfe
from .loss_forms import LOSS_FORM_INVERSES, LOSS_FORMS, loss_form
from .scaling import Curvature, curvature, update_inverse_hessian

__all__ = ["DEFAULT_MAX_PARAMS", "LOSS_FORMS", "LOSS_FORM_INVERSES", "OPTIMIZERS", "Curvature", "DenseQuasiNewton",
           "LineSearchResult", "build_optimizer", "curvature", "loss_form", "optimizer_label", "register_optimizer",
           "strong_wolfe", "update_inverse_hessian"]
