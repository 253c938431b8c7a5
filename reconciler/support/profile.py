"""Per-stage timings of ``apply`` for the benchmark; off (a no-op) unless asked for.

``RECONCILER_PROFILE=FILE`` makes every :func:`stage` of the run append one JSON line
``{"plugin": ..., "stage": ..., "seconds": ...}`` to FILE when :func:`flush` runs (at the end of
``apply``). Nothing is recorded, and nothing imported, on the normal path.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ENV = "RECONCILER_PROFILE"

_records: list[tuple[str, str, float]] = []
_guard = threading.Lock()


def enabled() -> bool:
    """True when the run was asked to profile its stages."""
    return bool(os.environ.get(ENV))


@contextmanager
def stage(plugin: str, name: str) -> Iterator[None]:
    """Time the block as stage ``name`` of ``plugin`` (only when profiling)."""
    if not enabled():
        yield
        return
    started = time.perf_counter()
    try:
        yield
    finally:
        record(plugin, name, time.perf_counter() - started)


def record(plugin: str, name: str, seconds: float) -> None:
    """Note one timing (only when profiling)."""
    if enabled():
        with _guard:
            _records.append((plugin, name, seconds))


def flush() -> None:
    """Append the recorded timings to the profile file and forget them."""
    target = os.environ.get(ENV)
    if not target:
        return
    import json  # noqa: PLC0415 - profiling only

    with _guard:
        records = list(_records)
        _records.clear()
    with Path(target).open("a", encoding="utf-8") as handle:
        for plugin, name, seconds in records:
            handle.write(json.dumps({"plugin": plugin, "stage": name, "seconds": seconds}) + "\n")
