"""Where a wheelhouse made by ``reconciler fetch`` keeps its manifest, found without loading the
fetch machinery (:mod:`reconciler.locking.fetch_wheels`): a plan whose find-links hold no
manifest has no built wheel to install a source from, so it need not load that machinery."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from urllib.parse import unquote, urlsplit

#: The manifest ``fetch`` writes into a wheelhouse: the wheels it built of sources.
MANIFEST = "reconciler-wheels.json"


def link_dirs(find_links: Sequence[str], project_dir: Path) -> Iterator[Path]:
    """The local directories among ``find_links`` (``file:`` URLs, paths relative to
    ``project_dir``); an http(s) find-links page holds no manifest of ours."""
    for link in find_links:
        parts = urlsplit(link)
        if parts.scheme == "file":
            yield Path(unquote(parts.path))
        elif not parts.scheme:
            yield project_dir / link


def has_manifest(find_links: Sequence[str], project_dir: Path) -> bool:
    """True when a local directory of ``find_links`` holds a manifest (a file, as
    :func:`reconciler.locking.fetch_wheels.read_manifest` asks)."""
    return any((d / MANIFEST).is_file() for d in link_dirs(find_links, project_dir))
