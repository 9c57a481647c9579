"""Per-step signals shared by the diagnosis (over a finished log) and the live guard (step by step).

Each module holds one signal as a pure judgement plus a small streaming object around it, so that
a batch scan over a run's arrays and a guard fed one step at a time reach the same verdicts:

- :mod:`.spike`: a value far above the robust statistic of its recent history (loss, grad norm);
- :mod:`.nonfinite`: NaN / inf;
- :mod:`.plan`: an LR off its planned value;
- :mod:`.sessions`: a step counter that goes back or a new log file (a new training process).

Nothing here imports torch: the guard hands in host floats (or reads a device flag every N steps).
"""
