"""Helpers that run the real YOLOv5 / Ultralytics trainers for tests and bundled examples.

Nothing here is imported by lrguard's core; running scenarios needs the ``[trainers]`` extra.

- :mod:`~lrguard.testing.realruns`: ``ensure_runs(cache_dir, names)`` and ``SCENARIOS``, the public
  entry point for tests and scripts.
- :mod:`~lrguard.testing.scenarios`: the scenario catalogue, expected findings, schedule maths.
- :mod:`~lrguard.testing.yolov5_scenarios`, :mod:`~lrguard.testing.ultralytics_scenarios`: what each
  scenario does with the real trainer (imported only inside a scenario subprocess).
- :mod:`~lrguard.testing.run_scenario`: ``python -m lrguard.testing.run_scenario NAME DIR DATA``.
- :mod:`~lrguard.testing.offline`: environment, fonts and network guard that keep trainers offline.
- :mod:`~lrguard.testing.guarded`: ``python -m lrguard.testing.guarded MODULE ARGS`` (guarded ``-m``).
- :mod:`~lrguard.testing.synthetic_data`: the tiny YOLO-format dataset.
- :mod:`~lrguard.testing.ckpt_peek`: plain checkpoint fields without torch or the trainers.
"""
