"""lrguard: explain and prevent learning-rate jumps in YOLO (and PyTorch) training runs.

The package is a pipeline: ``readers`` turn run artifacts into one :class:`~lrguard.model.Run`,
``schedules`` compute the planned learning rate from the run's own configuration, ``diagnosis``
compares observed with planned and explains departures, ``reports`` render the result, and
``checkpoint`` inspects checkpoints without executing them. Importing :mod:`lrguard` is cheap and
never imports torch.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
