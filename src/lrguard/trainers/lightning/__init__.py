"""PyTorch Lightning 2.x: its ``lightning_logs/version_N/`` reader (:mod:`.reader`) and the plug-in."""

from lrguard.trainers.lightning.plugin import TRAINER

__all__ = ["TRAINER"]
