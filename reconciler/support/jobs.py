"""How many plugins ``apply`` builds (and ``lock`` resolves) at once, and running them."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity mask), else the machine's count."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def default_jobs() -> int:
    """The default ``lock --jobs``: one more than the usable CPUs (a resolve is mostly CPU; the
    extra job keeps both busy between two of them: README, "Parallelism")."""
    return usable_cpus() + 1


def default_apply_jobs() -> int:
    """The default ``apply --jobs``: two more than the usable CPUs.

    A venv build alternates CPU work (uv unpacking, linking, compiling a build backend) with
    waits (downloads, the file system, starting processes, and each step's own syncs: the
    ``syncfs`` before its flip, its markers). On 2 CPUs a fourth job against a third is a wash
    for a cold apply of 20 venvs (faster in 3 of 6 same-run ``make bench`` comparisons, median
    0.97x the time), and lets a project of 4 plugins start them all at once (the realistic
    row: 0.94x, 12 alternating pairs).
    Measured by the ``--jobs N`` rows (README, "Parallelism").
    """
    return usable_cpus() + 2


def run_all(function: Callable[[T], R], items: Sequence[T], jobs: int, name: str) -> list[R]:
    """``[function(item) for item in items]``, up to ``jobs`` at a time on threads named
    ``name-N``; what ``ThreadPoolExecutor.map`` gives (every item runs even when one raises;
    the first exception in item order is raised once all have ended), without loading
    ``concurrent.futures`` (and its ``logging``) on every start-up of ``lock`` and ``apply``."""
    if jobs <= 1 or len(items) <= 1:
        return [function(item) for item in items]
    results: list[R | None] = [None] * len(items)
    errors: list[BaseException | None] = [None] * len(items)
    pending = iter(range(len(items)))
    guard = threading.Lock()

    def work() -> None:
        while True:
            with guard:
                index = next(pending, None)
            if index is None:
                return
            try:
                results[index] = function(items[index])
            except BaseException as exc:  # re-raised in the caller's thread
                errors[index] = exc

    threads = [
        threading.Thread(target=work, name=f"{name}-{n}") for n in range(min(jobs, len(items)))
    ]
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            thread.join()
    finally:  # interrupted while waiting: the running items still end (as the pool's shutdown)
        for thread in threads:
            thread.join()
    for error in errors:
        if error is not None:
            raise error
    return results  # type: ignore[return-value]  # every item ran without raising
