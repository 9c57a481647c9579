"""Hugging Face ``transformers.Trainer``: its output directory reader (:mod:`.reader`) and the plug-in."""

from lrguard.trainers.hf.plugin import TRAINER

__all__ = ["TRAINER"]
