"""Plain PyTorch training loops: ``SummaryWriter`` event files and ``torch.save``'d checkpoints."""

from lrguard.trainers.torch.plugin import TRAINER

__all__ = ["TRAINER"]
