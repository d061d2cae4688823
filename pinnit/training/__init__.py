"""Training: the loss, the optimizer schedule loop, checkpoints, signals and progress."""
from .checkpoint import Checkpointer
from .loss import PinnLoss, PinnModel
from .loss_interface import Loss
from .steps import ClosureStep, EagerStep, FusedStep, Step
from .train_state import TrainState
from .trainer import Trainer

__all__ = ["Checkpointer", "ClosureStep", "EagerStep", "FusedStep", "Loss", "PinnLoss", "PinnModel", "Step", "Trainer",
           "TrainState"]
