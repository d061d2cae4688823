"""Training: the loss, the optimizer schedule loop, checkpoints, signals and progress."""
from .checkpoint import Checkpointer
from .loss import PinnLoss, PinnModel
from .trainer import Trainer, TrainState

__all__ = ["Checkpointer", "PinnLoss", "PinnModel", "Trainer", "TrainState"]
