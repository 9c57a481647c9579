"""Ultralytics YOLO: version profiles (:mod:`.profiles`), version inference (:mod:`.versions`) and the plug-in."""

from lrguard.trainers.ultralytics.plugin import TRAINER

__all__ = ["TRAINER"]
