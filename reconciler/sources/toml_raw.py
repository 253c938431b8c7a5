"""The raw classes of ``reconciler.toml`` as written, for the edge reader (tomlkit + cattrs) of
:mod:`reconciler.sources.toml`: imported only when a file leaves the fast path (or is edited), so
a plan builds none of these attrs classes. The fast reader's field tables in that module say the
same (tests/test_config.py checks that they agree)."""

from __future__ import annotations

from pathlib import Path

import attrs

from reconciler.models import Settings

#: The defaults of :class:`~reconciler.models.Settings` (as ``_DEFAULT`` in sources/toml.py).
DEFAULT = Settings(Path(".venvs"), Path("lock"))


@attrs.define
class RawSettings:
    """``[settings]`` as written (paths relative, index options flat); see :func:`_settings`."""

    venv_root: str = str(DEFAULT.venv_root)
    lock_dir: str = str(DEFAULT.lock_dir)
    python: str = DEFAULT.python
    index_url: str | None = DEFAULT.index.index_url
    extra_index_urls: list[str] = attrs.Factory(list)
    find_links: list[str] = attrs.Factory(list)
    no_index: bool = DEFAULT.index.no_index
    installer: str = DEFAULT.installer
    keep_generations: int = DEFAULT.keep_generations
    resolver: str = DEFAULT.resolver
    universal: bool = DEFAULT.universal
    require_hashes: bool = DEFAULT.require_hashes
    lock_format: str = DEFAULT.lock_format


@attrs.define
class RawPlugin:
    requirements: list[str]
    python: str | None = None
    index_url: str | None = None
    extra_index_urls: list[str] | None = None
    find_links: list[str] | None = None
    no_index: bool | None = None
    constraints: list[str] = attrs.Factory(list)
    pre: bool = False
    universal: bool | None = None
    lock_format: str | None = None


@attrs.define
class RawProject:
    settings: RawSettings = attrs.Factory(RawSettings)
    plugins: dict[str, RawPlugin] = attrs.Factory(dict)
