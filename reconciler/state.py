"""The state marker ``reconciler-state.json``: proof that reconciler made a venv, written last."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from reconciler.layouts import MARKER_NAME
from reconciler.models import MarkerStatus, StateMarker
from reconciler.support.files import NotRegularFile, read_regular
from reconciler.support.values import MISSING, asdict, evolve, fields

#: Prefix of the temporary file a marker is first written to (then renamed over MARKER_NAME).
MARKER_TEMP_PREFIX = ".reconciler-state-"


class MarkerCorrupt(ValueError):
    """The marker file exists but is not a state marker; ``str()`` is the problem to report."""


class MarkerUnreadable(MarkerCorrupt):
    """The marker file exists but cannot be read (permissions, I/O error): nothing is known."""


def read_marker(venv: Path) -> StateMarker | None:
    """The marker of ``venv``; None when absent.

    Raises :class:`MarkerUnreadable` when the file cannot be read (``"state marker unreadable
    (Permission denied)"``) and :class:`MarkerCorrupt` when it is not a valid marker.
    """
    try:
        data = read_regular(venv / MARKER_NAME, venv)  # a FIFO or link here is refused
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise MarkerUnreadable(f"state marker unreadable ({exc.strerror or exc})") from exc
    except NotRegularFile as exc:
        raise MarkerUnreadable("state marker is not a regular file") from exc
    try:
        return _structure(json.loads(data.decode("utf-8")))
    except (ValueError, UnicodeDecodeError) as exc:
        raise MarkerCorrupt("corrupt state marker") from exc


def _structure(data: object) -> StateMarker:
    """A :class:`StateMarker` from parsed JSON: exactly its fields, each of its type.

    Read on every ``plan`` for every venv, so plain checks rather than a converter.
    """
    if not isinstance(data, dict):
        raise ValueError("not an object")
    given = dict(data)
    values: dict[str, Any] = {}
    for field in fields(StateMarker):
        if field.name not in given:
            if field.default is MISSING and field.factory is None:
                raise ValueError(f"missing {field.name}")
            continue
        value = given.pop(field.name)
        kind = field.type if isinstance(field.type, str) else getattr(field.type, "__name__", "")
        if value is None and kind.endswith("| None"):
            pass  # an optional field (``built_at`` of an older marker rewritten)
        elif kind == "MarkerStatus":
            value = MarkerStatus(value)  # ValueError for an unknown status
        elif field.name == "sources":
            value = _pairs(value)
        elif kind == "int":
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"{field.name} is not an integer")
        elif not isinstance(value, str):
            raise ValueError(f"{field.name} is not a string")
        values[field.name] = value
    if given:
        raise ValueError(f"unknown keys {sorted(given)}")
    return StateMarker(**values)


def _pairs(value: object) -> tuple[tuple[str, str], ...]:
    """``[["tap-x", "fingerprint"], ...]`` -> pairs of strings; ValueError otherwise."""
    if not isinstance(value, list):
        raise ValueError("sources is not a list")
    pairs = []
    for item in value:
        if not (
            isinstance(item, list) and len(item) == 2 and all(isinstance(i, str) for i in item)
        ):
            raise ValueError("sources holds something other than [name, fingerprint] pairs")
        pairs.append((item[0], item[1]))
    return tuple(pairs)


def write_marker(venv: Path, marker: StateMarker, *, durable: bool = True) -> None:
    """Write the marker of ``venv`` atomically (temporary file + rename + fsync of the
    directory).

    The file gets the permissions the umask gives (an existing marker keeps its mode). With
    ``durable=False`` nothing is synced: the caller syncs it with other files at once.
    Durable, the rename is synced, not the content on its own (one fsync, not two): after a
    power cut the new marker may be empty or torn, and a marker that does not parse is
    "corrupt": the venv is reinstalled, as for an ``upgrading`` one. A torn marker never
    claims a complete venv, and the one it replaced is gone for good once this returns.
    """
    from reconciler.support.files import write_atomic  # noqa: PLC0415 - apply only

    data = asdict(marker)
    if not data.get("sources"):
        data.pop("sources", None)  # markers without local projects keep their old shape
    payload = json.dumps(data, indent=2, sort_keys=True) + "\n"
    write_atomic(
        venv / MARKER_NAME,
        payload,
        prefix=MARKER_TEMP_PREFIX,
        follow_symlinks=False,
        durable=durable,
        sync_file=False,
    )


@contextlib.contextmanager
def provisional(venv: Path, marker: StateMarker) -> Iterator[Callable[[], None]]:
    """Mark ``venv`` with ``marker`` for the duration of the block.

    Yields ``restore``: put the original marker file back (the same inode and mtime, via a hard
    link kept aside), for a step that failed before changing anything.
    """
    saved = venv / (MARKER_TEMP_PREFIX + "saved")
    saved.unlink(missing_ok=True)
    os.link(venv / MARKER_NAME, saved)

    def restore() -> None:
        Path(saved).replace(venv / MARKER_NAME)

    try:
        write_marker(venv, marker)
        yield restore
    finally:
        saved.unlink(missing_ok=True)


def with_status(marker: StateMarker, status: MarkerStatus) -> StateMarker:
    """A copy of ``marker`` with another status."""
    return evolve(marker, status=status)
