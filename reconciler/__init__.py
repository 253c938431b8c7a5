"""reconciler: a declarative, lockfile-driven reconciler of per-plugin Python venvs."""

from __future__ import annotations

__version__ = "0.1.0"
