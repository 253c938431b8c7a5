"""Locking: resolvers behind one protocol (pip-tools, uv), orchestration, fetch."""

from __future__ import annotations

from reconciler.backends import RESOLVERS
from reconciler.errors import ReconcilerError
from reconciler.installers.uv import find_uv
from reconciler.locking.base import Resolver
from reconciler.locking.piptools import PipToolsResolver
from reconciler.locking.uv import UvResolver


def get_resolver(name: str) -> Resolver:
    """The resolver called ``name``; ``auto`` is uv when it is installed, else pip-tools."""
    if name == "pip-tools":
        return PipToolsResolver()
    if name in ("uv", "auto"):
        uv = find_uv()
        if uv is not None:
            return UvResolver(uv)
        if name == "auto":
            return PipToolsResolver()
        raise ReconcilerError(
            "resolver 'uv' requested but uv is not installed "
            "(pip install 'reconciler[uv]', or use --resolver pip-tools)"
        )
    raise ReconcilerError(f"unknown resolver {name!r} (use one of {', '.join(RESOLVERS)})")


__all__ = ["RESOLVERS", "Resolver", "get_resolver"]
