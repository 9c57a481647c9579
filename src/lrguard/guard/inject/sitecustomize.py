"""Put on ``PYTHONPATH`` by ``lrguard run``: arms the per-step guard in this process (lrguard.guard.zero_code).

Another ``sitecustomize`` further down the path (a site's own) is still run afterwards.
"""

import importlib.util
import os
import sys


def _chain() -> None:
    """Run the next ``sitecustomize`` on the path, the one this file shadows."""
    here = os.path.dirname(os.path.abspath(__file__))
    for entry in sys.path:
        if not entry or os.path.abspath(entry) == here:
            continue
        candidate = os.path.join(entry, "sitecustomize.py")
        if os.path.isfile(candidate):
            spec = importlib.util.spec_from_file_location("_lrguard_next_sitecustomize", candidate)
            if spec is not None and spec.loader is not None:
                module = importlib.util.module_from_spec(spec)
                spec.loader.exec_module(module)
            return


def _main() -> None:
    try:
        from lrguard.guard.zero_code import activate

        activate()
    except Exception as exc:  # never the cause of a lost run
        print(f"lrguard: guard not injected: {type(exc).__name__}: {exc}", file=sys.stderr)
    try:
        _chain()
    except Exception as exc:
        print(f"lrguard: the site's own sitecustomize failed: {type(exc).__name__}: {exc}", file=sys.stderr)


_main()
