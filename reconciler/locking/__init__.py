"""Locking: resolvers behind one protocol (pip-tools, uv), orchestration, fetch."""

from __future__ import annotations

from reconciler.backends import RESOLVERS
from reconciler.errors import ReconcilerError
from reconciler.installers import find_uv
from reconciler.locking.base import Resolver


def get_resolver(name: str) -> Resolver:
    """The resolver called ``name``; ``auto`` is uv when it is installed, else pip-tools (each
    imported when chosen: the pip-tools one loads its helper machinery)."""
    if name == "pip-tools":
        return _pip_tools()
    if name in ("uv", "auto"):
        uv = find_uv()
        if uv is not None:
            from reconciler.locking.uv import UvResolver  # noqa: PLC0415 - start-up: see above

            return UvResolver(uv)
        if name == "auto":
            return _pip_tools()
        raise ReconcilerError(
            "resolver 'uv' requested but uv is not installed "
            "(pip install 'reconciler[uv]', or use --resolver pip-tools)"
        )
    raise ReconcilerError(f"unknown resolver {name!r} (use one of {', '.join(RESOLVERS)})")


def _pip_tools() -> Resolver:
    from reconciler.locking.piptools import PipToolsResolver  # noqa: PLC0415 - start-up: see above

    return PipToolsResolver()


__all__ = ["RESOLVERS", "Resolver", "get_resolver"]
