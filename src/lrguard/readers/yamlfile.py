"""Load the trainers' YAML files (opt.yaml, hyp.yaml, args.yaml) safely."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lrguard.errors import InputError

MAX_YAML_BYTES = 16 * 1024 * 1024


def load_yaml_mapping(path: Path) -> dict[str, Any]:
    """Parse ``path`` with a safe loader and return its top-level mapping.

    Raises:
        InputError: The file cannot be read, does not parse, or is not a mapping.
    """
    import yaml

    try:
        if path.stat().st_size > MAX_YAML_BYTES:
            raise InputError(path, "file is too large for a trainer YAML file")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(path, "file not found") from None
    except UnicodeDecodeError:
        raise InputError(path, "not a UTF-8 text file") from None
    except OSError as exc:
        raise InputError.from_os_error(exc, path) from None
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        data = yaml.load(text, Loader=loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or exc.__class__.__name__
        raise InputError(path, f"YAML does not parse{where}: {problem}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InputError(path, f"expected a YAML mapping, found {type(data).__name__}")
    return data
