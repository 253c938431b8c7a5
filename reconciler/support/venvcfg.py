"""The one reader of a venv's ``pyvenv.cfg`` (``key = value`` lines, keys lower-cased)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path


def read(venv: Path) -> dict[str, str] | None:
    """The settings in ``venv/pyvenv.cfg``; None when it is missing or unreadable."""
    from reconciler.support.files import NotRegularFile, read_regular  # noqa: PLC0415 - start-up: shutil and tempfile, only when a file is read

    try:  # never a FIFO left at pyvenv.cfg, never a link out of the venv
        text = read_regular(venv / "pyvenv.cfg", venv).decode("utf-8")
    except (OSError, UnicodeDecodeError, NotRegularFile):
        return None
    values: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            values[key.strip().lower()] = value.strip()
    return values


def python_version(cfg: Mapping[str, str] | None) -> str | None:
    """The Python version the file records (``version``, else ``version_info``), or None."""
    if cfg is None:
        return None
    return cfg.get("version") or cfg.get("version_info") or None
