"""Installer backends behind one small protocol: pip (always) and uv (the ``uv`` extra).

Each backend is imported when it is asked for: ``lock`` needs only :func:`find_uv` (the uv
binary the resolver runs), not the installers' machinery.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from reconciler.backends import INSTALLERS
from reconciler.errors import ReconcilerError
from reconciler.support.paths import which

if TYPE_CHECKING:
    from reconciler.installers.base import Installer


def find_uv() -> str | None:
    """The uv executable: the one the ``uv`` package (``reconciler[uv]``) ships, else PATH's."""
    if sys.prefix != sys.base_prefix:  # a venv: the package's binary is in its scripts dir,
        beside = os.path.join(sys.prefix, "bin", "uv")  # noqa: PTH118 - start-up: found as the package finds it first
        if os.path.isfile(beside) and os.access(beside, os.X_OK):  # noqa: PTH113 - as above
            return beside  # (the package's finder costs sysconfig: ~2 ms a start)
    try:
        from uv import find_uv_bin  # type: ignore[import-not-found,unused-ignore]  # noqa: PLC0415 - optional: the uv extra
    except ImportError:
        return which("uv")
    try:
        return str(find_uv_bin())
    except FileNotFoundError:
        return which("uv")


def get_installer(name: str) -> Installer:
    """The installer called ``name``; ``auto`` is uv when it is installed, else pip."""
    if name not in INSTALLERS:
        raise ReconcilerError(f"unknown installer {name!r} (use one of {', '.join(INSTALLERS)})")
    uv = find_uv() if name == "auto" else None
    if name == "uv" or uv is not None:
        from reconciler.installers.uv import UvInstaller  # noqa: PLC0415 - start-up: see module doc

        return UvInstaller(uv)
    from reconciler.installers.pip import PipInstaller  # noqa: PLC0415 - start-up: see module doc

    return PipInstaller()
    raise ReconcilerError(f"unknown installer {name!r} (use one of {', '.join(INSTALLERS)})")


__all__ = ["INSTALLERS", "find_uv", "get_installer"]
