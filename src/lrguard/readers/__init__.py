"""Readers: run artifacts (results.csv, opt/hyp/args.yaml, event files, checkpoints) -> one Run."""

from lrguard.readers.discover import find_run_dir
from lrguard.readers.run import read_run

__all__ = ["find_run_dir", "read_run"]
