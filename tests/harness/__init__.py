"""Helpers that run the real YOLOv5 / Ultralytics trainers for tests and bundled examples.

An unpublished package that lives in ``tests/`` and is not part of the lrguard wheel: the tests
import it as ``harness`` (pytest puts ``tests/`` on ``sys.path``); ``bench/`` and ``scripts/`` put
``tests/`` on ``sys.path`` themselves. Running scenarios needs the ``[trainers]`` extra.

- :mod:`~harness.realruns`: ``ensure_runs(cache_dir, names)`` (a ``RealRuns`` mapping that
  records failed scenarios instead of stopping at the first) and ``SCENARIOS``, the public entry
  point for tests and scripts.
- :mod:`~harness.scenarios`: the scenario catalogue, expected findings, schedule maths.
- :mod:`~harness.yolov5_scenarios`, :mod:`~harness.ultralytics_scenarios`: what each
  scenario does with the real trainer (imported only inside a scenario subprocess).
- :mod:`~harness.run_scenario`: ``python -m harness.run_scenario NAME DIR DATA``.
- :mod:`~harness.offline`: environment, fonts and network guard that keep trainers offline.
- :mod:`~harness.guarded`: ``python -m harness.guarded MODULE ARGS`` (guarded ``-m``).
- :mod:`~harness.synthetic_data`: the tiny YOLO-format dataset.
- :mod:`~harness.ckpt_peek`: plain checkpoint fields without torch or the trainers.
"""
