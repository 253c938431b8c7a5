"""``include_paths``: the extra project files ``meltano.yml`` names by glob."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from reconciler.sources.meltano.yaml import PROJECT_FILE, Where, key_line


def include_paths(root: Path, meltano: Mapping[str, Any]) -> list[tuple[Path, str]]:
    """``include_paths`` glob matches (``**`` included), inside the project, each once."""
    patterns = meltano.get("include_paths") or []
    where = Where(PROJECT_FILE, key_line(meltano, "include_paths"), "include_paths")
    if not isinstance(patterns, list) or not all(isinstance(p, str) for p in patterns):
        raise where.error("expected a list of glob patterns")
    found: dict[Path, str] = {}
    resolved_root = root.resolve()
    for pattern in patterns:
        try:
            matches = sorted(root.glob(pattern))
        except (ValueError, NotImplementedError) as exc:
            raise where.error(f"invalid pattern {pattern!r}: {exc}") from exc
        for path in matches:
            if not path.is_file():
                continue
            try:
                rel = path.resolve().relative_to(resolved_root)
            except ValueError as exc:
                raise where.error(f"{path} is outside the project") from exc
            found.setdefault(path.resolve(), str(rel))
    return list(found.items())
