"""Installer backends behind one small protocol (pip now; uv is an optional extra)."""

from __future__ import annotations

from reconciler.errors import ReconcilerError
from reconciler.installers.base import Installer
from reconciler.installers.pip import PipInstaller


def get_installer(name: str) -> Installer:
    """The installer called ``name`` (``auto`` picks the best available one)."""
    if name in ("auto", "pip"):
        return PipInstaller()
    raise ReconcilerError(f"installer {name!r} is not available (supported: auto, pip)")


__all__ = ["Installer", "get_installer"]
