"""Sources of desired state: a project file (reconciler.toml, meltano.yml) -> DesiredState.

A source is a module-level object with a ``file_name`` it is found by and a ``load(path)``
that reads that file into a :class:`~reconciler.models.DesiredState`, picking the layout its
venvs live in (``DesiredState.layout``). Nothing after loading knows which source it was.

:func:`find_project_file` searches ``--project DIR``, else upward from the current directory;
in each directory the first source of :data:`SOURCES` whose file exists wins.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from reconciler.errors import ConfigError
from reconciler.models import DesiredState


def read_project_text(path: Path, root: Path, label: str | Path) -> str:
    """The text of a project file inside ``root`` (a BOM dropped); a :class:`ConfigError`
    naming ``label`` when it cannot be read or is not UTF-8."""
    from reconciler.support.files import read_text_in  # noqa: PLC0415 - start-up: plan path

    try:
        return read_text_in(path, root, bom=True)
    except UnicodeDecodeError as exc:
        raise ConfigError(
            "cannot read", file=label, cause=f"not UTF-8 (byte {exc.start})"
        ) from None
    except OSError as exc:
        raise ConfigError("cannot read", file=label, cause=exc.strerror or str(exc)) from exc


class Source:
    """One kind of project file (two module constants compared by identity: a plain class, as
    an attrs class costs start-up). ``editable``: ``reconciler add/remove`` can edit it."""

    __slots__ = ("editable", "file_name", "load")

    def __init__(
        self, file_name: str, load: Callable[[Path], DesiredState], *, editable: bool = False
    ) -> None:
        self.file_name = file_name
        self.load = load
        self.editable = editable

    def __repr__(self) -> str:
        return f"Source({self.file_name!r})"


def _load_toml(path: Path) -> DesiredState:
    from reconciler.sources import toml  # noqa: PLC0415 - start-up: only the source in use

    return toml.load(path)


def _load_meltano(path: Path) -> DesiredState:
    from reconciler.sources import meltano  # noqa: PLC0415 - start-up: ruamel.yaml, Meltano only

    return meltano.load(path)


TOML = Source("reconciler.toml", _load_toml, editable=True)
MELTANO = Source("meltano.yml", _load_meltano)
#: Every source, in the order they are tried within one directory: a ``meltano.yml`` wins over
#: a ``reconciler.toml`` beside it (which then holds ``[settings]`` only).
SOURCES: tuple[Source, ...] = (MELTANO, TOML)


def source_for(project_file: Path) -> Source:
    """The source that reads ``project_file`` (by its name; unknown names read as TOML)."""
    return next((s for s in SOURCES if s.file_name == project_file.name), TOML)


def _in_directory(directory: Path) -> Path | None:
    for source in SOURCES:
        candidate = directory / source.file_name
        # any entry counts (a FIFO or a link too): reading it then refuses it with one line,
        # rather than silently taking another file as the project
        if os.path.lexists(candidate):
            return candidate
    return None


def find_project_file(project: Path | None, cwd: Path | None = None) -> Path:
    """``--project``'s project file (a directory or a file), else the nearest one upward."""
    names = " or ".join(s.file_name for s in reversed(SOURCES))
    if project is not None:
        if project.is_dir():
            found = _in_directory(project)
            if found is None:
                raise ConfigError("no such file", file=project / TOML.file_name)
            return found.absolute()
        if not project.is_file():
            raise ConfigError("no such file", file=project)
        return project.absolute()
    start = (cwd or Path.cwd()).absolute()
    for directory in (start, *start.parents):
        found = _in_directory(directory)
        if found is not None:
            return found
    raise ConfigError(f"no {names} found in {start} or any parent directory (use --project)")


def load(project_file: Path) -> DesiredState:
    """Read ``project_file`` with its source."""
    return source_for(project_file).load(project_file)
