"""Installer backends behind one small protocol: pip (always) and uv (the ``uv`` extra).

Each backend is imported when it is asked for: ``lock`` needs only :func:`find_uv` (the uv
binary the resolver runs), not the installers' machinery.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from reconciler.backends import INSTALLERS
from reconciler.errors import ReconcilerError
from reconciler.support.paths import which

if TYPE_CHECKING:
    from reconciler.installers.base import Installer


def find_uv() -> str | None:
    """The uv executable: the one the ``uv`` package (``reconciler[uv]``) ships, else PATH's."""
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
    from reconciler.installers.pip import PipInstaller  # noqa: PLC0415 - start-up: see module doc
    from reconciler.installers.uv import UvInstaller  # noqa: PLC0415 - start-up: see module doc

    if name == "pip":
        return PipInstaller()
    if name == "uv":
        return UvInstaller()
    if name == "auto":
        uv = find_uv()
        return UvInstaller(uv) if uv is not None else PipInstaller()
    raise ReconcilerError(f"unknown installer {name!r} (use one of {', '.join(INSTALLERS)})")


__all__ = ["INSTALLERS", "find_uv", "get_installer"]
