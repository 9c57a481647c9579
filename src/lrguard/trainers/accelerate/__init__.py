"""HF Accelerate loops: TensorBoard via ``Accelerator(log_with="tensorboard")``, ``save_state`` directories."""

from lrguard.trainers.accelerate.plugin import TRAINER

__all__ = ["TRAINER"]
