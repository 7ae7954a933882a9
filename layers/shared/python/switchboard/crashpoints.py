"""Crash injection at step boundaries, for the reliability suite (``tests/chaos``). Inert in production.

``crashpoint(name, key)`` does nothing unless ``SWITCHBOARD_CRASHPOINT`` names the point (a comma-separated
list of names, or ``*``). When armed, it kills the process with ``os._exit(137)``, the way a Lambda execution
environment dies (no ``finally``, no flush, no batch response), so that the work must resume by redelivery.

With ``SWITCHBOARD_CRASH_DIR`` set, each (name, key) crashes at most once: the first crash creates the marker
``{dir}/fired/{name}--{key}`` (an exclusive create, so two racing workers cannot both crash), and the retry
passes. If the folder ``{dir}/targets/{name}/`` exists, only the keys with a file there are armed, so that
one running stack can crash chosen events and leave the others alone.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Final

ARMED_VARIABLE: Final = "SWITCHBOARD_CRASHPOINT"
DIR_VARIABLE: Final = "SWITCHBOARD_CRASH_DIR"
EXIT_STATUS: Final = 137  # what a SIGKILLed process reports


def marker_name(key: str) -> str:
    """A file name for ``key``: readable where it can be, always unique."""
    readable = re.sub(r"[^A-Za-z0-9_.-]", "_", key)[:80]
    return f"{readable}-{hashlib.sha256(key.encode()).hexdigest()[:12]}"


def crashpoint(name: str, key: str = "") -> None:
    armed = os.environ.get(ARMED_VARIABLE)
    if not armed:
        return
    names = {part.strip() for part in armed.split(",")}
    if name not in names and "*" not in names:
        return
    folder = os.environ.get(DIR_VARIABLE)
    if folder:
        root = Path(folder)
        targets = root / "targets" / name
        if targets.is_dir() and not (targets / marker_name(key)).exists():
            return
        fired = root / "fired"
        fired.mkdir(parents=True, exist_ok=True)
        try:
            os.close(os.open(fired / f"{name}--{marker_name(key)}", os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            return  # crashed here once already: this is the retry
    os._exit(EXIT_STATUS)
