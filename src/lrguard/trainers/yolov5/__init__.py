"""YOLOv5: version profiles (:mod:`.profiles`), version inference (:mod:`.versions`) and the plug-in."""

from lrguard.trainers.yolov5.plugin import TRAINER

__all__ = ["TRAINER"]
