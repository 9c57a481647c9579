"""Helpers that run the real YOLOv5 / Ultralytics trainers for tests and bundled examples.

Nothing here is imported by lrguard's core; it needs the ``[trainers]`` extra at run time.
"""
