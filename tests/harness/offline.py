"""Keep the real YOLOv5 / Ultralytics trainers offline and out of ``$HOME``.

Both trainers reach for the network in a few places even when nothing needs downloading: the
Ultralytics "is online" probe, the pip update check and, for both, a download of ``Arial.ttf``
unless a file of that name is already in their configuration directory. The environment
variables below switch the probes off and move every configuration and cache directory under
one cache directory; :func:`prepare_offline` also puts a TrueType font named ``Arial.ttf``
(matplotlib's DejaVuSans) where each trainer looks for it.

:func:`install_network_guard` adds an audit hook that refuses any connection to a host other
than the loopback interface, so a run that tried to go online fails instead of hanging.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import socket
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

#: Environment variable naming a file where the network guard records what it refused.
NETLOG_ENV = "LRGUARD_NETLOG"

_FONT_NAME = "Arial.ttf"


def offline_env(cache_dir: Path) -> dict[str, str]:
    """Return the environment variables that keep both trainers offline.

    Args:
        cache_dir: Directory that receives the trainers' configuration and font directories.

    Returns:
        Variable name -> value, to merge into a child process's environment.
    """
    base = Path(cache_dir).resolve() / "offline"
    return {
        "YOLO_OFFLINE": "1",  # Ultralytics: no online probe, no pip update check, no events
        "YOLO_AUTOINSTALL": "0",  # Ultralytics: never pip-install a missing requirement
        "ULTRALYTICS_SKIP_REQUIREMENTS_CHECKS": "1",  # also silences YOLOv5's requirements check
        "YOLO_CONFIG_DIR": str(base / "ultralytics"),  # settings.json and fonts in <dir>/Ultralytics
        "YOLOV5_CONFIG_DIR": str(base / "yolov5"),  # YOLOv5 looks for fonts directly in <dir>
        "MPLCONFIGDIR": str(base / "matplotlib"),  # matplotlib's font cache
        "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD": "1",  # YOLOv5 7.0 checkpoints pickle whole models
    }


def _font_source() -> Path:
    """Return matplotlib's bundled DejaVuSans.ttf."""
    import matplotlib

    return Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"


def prepare_offline(cache_dir: Path) -> dict[str, str]:
    """Create the directories of :func:`offline_env` and put ``Arial.ttf`` where each trainer looks.

    Args:
        cache_dir: Directory that receives the trainers' configuration and font directories.

    Returns:
        The environment of :func:`offline_env`.
    """
    env = offline_env(cache_dir)
    font_dirs = (Path(env["YOLO_CONFIG_DIR"]) / "Ultralytics", Path(env["YOLOV5_CONFIG_DIR"]))
    for directory in (*font_dirs, Path(env["MPLCONFIGDIR"])):
        directory.mkdir(parents=True, exist_ok=True)
    source = _font_source()
    for directory in font_dirs:
        target = directory / _FONT_NAME
        if not target.exists():  # copy then rename: another process never sees half a font
            partial = target.with_name(f".{target.name}.{os.getpid()}.part")
            shutil.copyfile(source, partial)
            os.replace(partial, target)
    return env


def apply_offline_env(cache_dir: Path, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Prepare the offline directories and set the variables in ``os.environ``.

    Call it before importing ``ultralytics`` or ``yolov5``: both read the variables at import.

    Args:
        cache_dir: Directory that receives the trainers' configuration and font directories.
        environ: Extra variables to set as well.

    Returns:
        The variables that were set.
    """
    env = {**prepare_offline(cache_dir), **(environ or {})}
    os.environ.update(env)
    return env


def _is_local_host(host: Any) -> bool:
    """Whether ``host`` (a name or an address) is this machine's loopback interface."""
    if host is None:
        return True
    if isinstance(host, bytes):
        host = host.decode(errors="replace")
    text = str(host).strip("[]").split("%", 1)[0]
    if text in {"", "localhost", "localhost.localdomain", "ip6-localhost"}:
        return True
    try:
        return ipaddress.ip_address(text).is_loopback
    except ValueError:
        return False


def _is_address(host: Any) -> bool:
    """Whether ``host`` is an IP address literal (resolving it needs no name lookup)."""
    if isinstance(host, bytes):
        host = host.decode(errors="replace")
    try:
        ipaddress.ip_address(str(host).strip("[]").split("%", 1)[0])
    except ValueError:
        return False
    return True


def _record(message: str) -> None:
    """Append one line to the network log named by :data:`NETLOG_ENV`, if any."""
    path = os.environ.get(NETLOG_ENV)
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(message + "\n")


def _audit(event: str, args: tuple[Any, ...]) -> None:
    """Audit hook: refuse name lookups and connections that leave the machine."""
    if event == "socket.connect":
        sock, address = args[0], args[1]
        internet = getattr(sock, "family", None) in (socket.AF_INET, socket.AF_INET6)
        if internet and isinstance(address, tuple) and not _is_local_host(address[0]):
            _record(f"refused connect {address!r}")
            raise ConnectionRefusedError(f"lrguard network guard: refused connect to {address!r}")
    elif event == "socket.getaddrinfo" and not _is_local_host(args[0]) and not _is_address(args[0]):
        _record(f"refused getaddrinfo {args[0]!r}")
        raise socket.gaierror(socket.EAI_NONAME, f"lrguard network guard: refused lookup of {args[0]!r}")


_installed = False


def network_guard_installed() -> bool:
    """Whether :func:`install_network_guard` ran in this process."""
    return _installed


def install_network_guard() -> None:
    """Install the audit hook of this module once per process (audit hooks cannot be removed)."""
    global _installed
    if not _installed:
        sys.addaudithook(_audit)
        _installed = True
