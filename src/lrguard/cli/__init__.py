"""Command-line interface. Each sub-command lives in its own module with ``add_parser`` and ``run``."""
