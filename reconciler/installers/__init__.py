"""Installer backends behind one small protocol: pip (always) and uv (the ``uv`` extra)."""

from __future__ import annotations

from reconciler.backends import INSTALLERS
from reconciler.errors import ReconcilerError
from reconciler.installers.base import Installer
from reconciler.installers.pip import PipInstaller
from reconciler.installers.uv import UvInstaller, find_uv


def get_installer(name: str) -> Installer:
    """The installer called ``name``; ``auto`` is uv when it is installed, else pip."""
    if name == "pip":
        return PipInstaller()
    if name == "uv":
        return UvInstaller()
    if name == "auto":
        uv = find_uv()
        return UvInstaller(uv) if uv is not None else PipInstaller()
    raise ReconcilerError(f"unknown installer {name!r} (use one of {', '.join(INSTALLERS)})")


__all__ = ["INSTALLERS", "Installer", "get_installer"]
