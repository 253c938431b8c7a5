"""Whole-process timing: run a child, return its wall time, exit code and peak RSS.

Each child is started with :class:`subprocess.Popen` and reaped with :func:`os.wait4`, which
returns the child's own ``rusage``; its ``ru_maxrss`` is the peak resident set of that child
(and of any descendants it waited for), in KiB on Linux. This is the "tiny runner" the issue
asks for, done in-process so the runner's own start-up is not in the measurement.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path


class BenchError(RuntimeError):
    """A benchmark step failed (a command exited with an unexpected code, a check failed)."""


@dataclass(frozen=True)
class Run:
    """One finished child process."""

    command: tuple[str, ...]
    seconds: float
    returncode: int
    maxrss_kib: int
    output: str


def run(
    command: Sequence[str | os.PathLike[str]],
    *,
    env: Mapping[str, str],
    cwd: Path | None = None,
    ok: Sequence[int] = (0,),
    capture: bool = False,
) -> Run:
    """Run ``command``; raise :class:`BenchError` unless its exit code is in ``ok``.

    Output (stdout and stderr together) goes to a temporary file, not a pipe, so a chatty
    child never blocks; it is read back only when ``capture`` is set or the command failed.
    """
    argv = tuple(str(c) for c in command)
    with tempfile.TemporaryFile() as sink:
        start = time.perf_counter()
        try:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
                env=dict(env),
                cwd=cwd,
            )
        except OSError as exc:
            raise BenchError(f"cannot run {argv[0]}: {exc}") from exc
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        text = ""
        if capture or proc.returncode not in ok:
            sink.seek(0)
            text = sink.read().decode("utf-8", "replace")
    result = Run(argv, seconds, proc.returncode, usage.ru_maxrss, text)
    if proc.returncode not in ok:
        tail = "\n".join(text.strip().splitlines()[-15:])
        raise BenchError(f"exit {proc.returncode}: {' '.join(argv)}\n{tail}")
    return result


@dataclass
class Sample:
    """Repeated measurements of one scenario (seconds, and peak RSS per run when known)."""

    key: str
    description: str
    seconds: list[float] = field(default_factory=list)
    warmup: list[float] = field(default_factory=list)
    rss_kib: list[int] = field(default_factory=list)
    runs_requested: int = 0
    estimated_from: int | None = None  # loop timed over this many items and scaled up
    scale: float = 1.0
    error: str | None = None
    notes: list[str] = field(default_factory=list)
    load1: list[float] = field(default_factory=list)  # 1-minute load average before/after

    @property
    def median(self) -> float | None:
        """Median of the measured runs (scaled when estimated), None if nothing was measured."""
        if not self.seconds:
            return None
        return statistics.median(self.seconds) * self.scale

    @property
    def peak_rss_mib(self) -> float | None:
        """Largest peak RSS over the runs, in MiB."""
        return max(self.rss_kib) / 1024 if self.rss_kib else None

    def to_json(self) -> dict[str, object]:
        """Everything, raw, for results.json."""
        data = asdict(self)
        data["median"] = self.median
        data["min"] = min(self.seconds) * self.scale if self.seconds else None
        data["max"] = max(self.seconds) * self.scale if self.seconds else None
        data["stdev"] = statistics.stdev(self.seconds) if len(self.seconds) > 1 else None
        data["peak_rss_mib"] = self.peak_rss_mib
        return data


@dataclass(frozen=True)
class Policy:
    """How often to repeat a scenario.

    ``runs`` measured runs after ``warmup`` unmeasured ones, but stop early (never below
    ``min_runs``) once the scenario has used ``budget`` seconds, warm-up included.
    """

    runs: int
    warmup: int = 1
    min_runs: int | None = None
    budget: float = float("inf")


#: One repetition: prepares (untimed) and returns a Run or seconds (and optional RSS in KiB).
Trial = Callable[[], "Run | float | tuple[float, int]"]


def repeat(sample: Sample, trial: Trial, policy: Policy, progress: Callable[[str], None]) -> Sample:
    """Fill ``sample`` by calling ``trial`` per ``policy``; errors are recorded, not raised."""
    sample.runs_requested = policy.runs
    sample.load1.append(round(os.getloadavg()[0], 2))
    spent = 0.0
    min_runs = policy.runs if policy.min_runs is None else policy.min_runs
    try:
        for _ in range(policy.warmup):
            seconds, _rss = _unpack(trial())
            sample.warmup.append(seconds)
            spent += seconds
        while len(sample.seconds) < policy.runs:
            seconds, rss = _unpack(trial())
            sample.seconds.append(seconds)
            if rss is not None:
                sample.rss_kib.append(rss)
            spent += seconds
            if len(sample.seconds) >= min_runs and spent >= policy.budget:
                sample.notes.append(
                    f"stopped after {len(sample.seconds)} runs (time budget {policy.budget:.0f} s)"
                )
                break
    except BenchError as exc:
        sample.error = str(exc)
        progress(f"  ! {sample.key}: {str(exc).splitlines()[0]}")
        return sample
    finally:
        sample.load1.append(round(os.getloadavg()[0], 2))
    median = sample.median
    shown = f"{median:.3f} s" if median is not None else "-"
    est = f" (est. from {sample.estimated_from})" if sample.estimated_from else ""
    progress(f"  {sample.key}: {shown}{est} [{len(sample.seconds)} runs]")
    return sample


def _unpack(value: Run | float | tuple[float, int]) -> tuple[float, int | None]:
    if isinstance(value, Run):
        return value.seconds, value.maxrss_kib
    if isinstance(value, tuple):
        return value[0], value[1]
    return float(value), None


def ab_order(new_runs: int, old_runs: int) -> list[bool]:
    """The order of an interleaved A/B: True = a new run, False = an old one.

    With as many runs on both sides, pairs alternate old-new, new-old (ABBA, so drift and the
    order within a pair cancel out); with fewer old runs, they are spread evenly between the
    new ones. Either way the last run is a new one, so a scenario that leaves state behind
    (locks, venvs) ends with the new reconciler's.
    """
    old_runs = min(old_runs, new_runs)
    order: list[bool] = []
    if old_runs == new_runs:
        for i in range(new_runs):  # the last pair is old, new
            order += [False, True] if (new_runs - 1 - i) % 2 == 0 else [True, False]
        return order
    slots = {int((m + 0.5) * new_runs / old_runs) for m in range(old_runs)} if old_runs else set()
    for i in range(new_runs):
        if i in slots:
            order.append(False)
        order.append(True)
    return order


def repeat_ab(
    new: Sample,
    old: Sample,
    trials: tuple[Trial, Trial],
    policies: tuple[Policy, Policy],
    progress: Callable[[str], None],
) -> tuple[Sample, Sample]:
    """Fill ``new`` and ``old`` by interleaving their trials (:func:`ab_order`), warm-ups
    first (new, then old). A failing new trial ends both; a failing old one ends only the old
    side. Time budgets are not applied."""
    new_trial, old_trial = trials
    new_policy, old_policy = policies
    new.runs_requested, old.runs_requested = new_policy.runs, old_policy.runs
    load = round(os.getloadavg()[0], 2)
    new.load1.append(load)
    old.load1.append(load)

    def one(sample: Sample, trial: Trial, warm: bool) -> None:
        seconds, rss = _unpack(trial())
        if warm:
            sample.warmup.append(seconds)
            return
        sample.seconds.append(seconds)
        if rss is not None:
            sample.rss_kib.append(rss)

    steps = [(True, True)] * new_policy.warmup + [(False, True)] * old_policy.warmup
    steps += [(is_new, False) for is_new in ab_order(new_policy.runs, old_policy.runs)]
    try:
        for is_new, warm in steps:
            if is_new:
                one(new, new_trial, warm)
            elif old.error is None:
                try:
                    one(old, old_trial, warm)
                except BenchError as exc:
                    old.error = str(exc)
                    progress(f"  ! {old.key}: {str(exc).strip().splitlines()[-1]}")
    except BenchError as exc:
        new.error = str(exc)
        progress(f"  ! {new.key}: {str(exc).splitlines()[0]}")
    finally:
        load = round(os.getloadavg()[0], 2)
        new.load1.append(load)
        old.load1.append(load)

    def shown(sample: Sample) -> str:
        median = sample.median if sample.error is None else None
        return f"{median:.3f} s" if median is not None else "-"

    progress(
        f"  {new.key}: {shown(new)} [{len(new.seconds)} runs] | old {shown(old)} "
        f"[{len(old.seconds)} runs]"
    )
    return new, old
