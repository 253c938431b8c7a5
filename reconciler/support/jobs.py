"""How many plugins ``apply`` builds at once when ``--jobs`` is not given."""

from __future__ import annotations

import os


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity mask), else the machine's count."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def default_jobs() -> int:
    """The default ``apply --jobs``: one more than the usable CPUs.

    A venv build alternates CPU work (uv unpacking, linking, compiling a build backend) with
    waits (downloads, the file system, starting processes); one job more than there are CPUs
    keeps every CPU busy while one job waits. Measured by ``make bench`` (the ``--jobs N`` rows;
    README, "Parallelism").
    """
    return usable_cpus() + 1
