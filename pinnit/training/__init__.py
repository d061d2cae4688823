"""Training: the loss, the optimizer schedule loop, checkpoints, signals and progress."""
from .checkpoint import Checkpointer
from .loss import PinnLoss, PinnModel
from .train_state import TrainState
from .trainer import Trainer

__all__ = ["Checkpointer", "PinnLoss", "PinnModel", "Trainer", "TrainState"]
