"""How progress reaches people: plain lines (CI, pipes), a rich live view (TTY), or nothing."""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Protocol, TextIO

from reconciler.support.redact import redact

if TYPE_CHECKING:
    from rich.live import Live
    from rich.table import Table


class Reporter(Protocol):
    """Receives ``(plugin, message)`` progress events from lock and apply."""

    def __call__(self, plugin: str, message: str) -> None:
        """Report one event of one plugin."""


def color_enabled(no_color: bool, stream: TextIO | None = None) -> bool:
    """Colour only on a terminal, never with ``--no-color`` or ``NO_COLOR`` set."""
    stream = stream or sys.stdout
    return not no_color and "NO_COLOR" not in os.environ and stream.isatty()


#: Seconds between two ``still ...`` lines of a plugin busy for long in a plain log (a CI job
#: that prints nothing for 10 minutes is often killed); ``RECONCILER_HEARTBEAT_SECONDS``.
HEARTBEAT_SECONDS = 30.0


def heartbeat_seconds() -> float | None:
    """``RECONCILER_HEARTBEAT_SECONDS`` (a positive number; ``0`` turns the lines off), else
    :data:`HEARTBEAT_SECONDS`."""
    raw = os.environ.get("RECONCILER_HEARTBEAT_SECONDS", "").strip()
    try:
        value = float(raw) if raw else HEARTBEAT_SECONDS
    except ValueError:
        value = HEARTBEAT_SECONDS
    return value if value > 0 else None


def is_final(message: str) -> bool:
    """Whether a progress ``message`` ends its plugin's current work (done, failed, ...)."""
    return message.startswith(("failed", "interrupted", "written", "unchanged", "removed")) or (
        " done in " in message
    )


class PlainReporter:
    """One line per event, ``plugin: message``; safe to call from several threads.

    With ``heartbeat`` (seconds), a plugin whose work is still running after that long gets a
    ``plugin: still <doing> (<N>s)`` line, then one every ``heartbeat`` seconds (a 3-minute
    sdist build in a CI log is not silence); :meth:`close` stops them.
    """

    def __init__(self, stream: TextIO | None = None, heartbeat: float | None = None) -> None:
        self._stream = stream or sys.stdout
        self._lock = threading.Lock()
        self._heartbeat = heartbeat
        #: plugin -> (what it is doing, when it started, when it was last reported)
        self._busy: dict[str, tuple[str, float, float]] = {}
        self._closed = threading.Event()
        self._thread: threading.Thread | None = None

    def __call__(self, plugin: str, message: str) -> None:
        """Print ``plugin: message`` (credentials redacted)."""
        now = time.monotonic()
        with self._lock:
            self._write(f"{plugin}: {message}")
            if is_final(message):
                self._busy.pop(plugin, None)
            elif self._heartbeat is not None:
                started = self._busy[plugin][1] if plugin in self._busy else now
                self._busy[plugin] = (message.split(" (", 1)[0], started, now)
                if self._thread is None and not self._closed.is_set():
                    self._thread = threading.Thread(
                        target=self._beat, name="heartbeat", daemon=True
                    )
                    self._thread.start()

    def _write(self, line: str) -> None:
        self._stream.write(redact(line) + "\n")
        self._stream.flush()

    def _beat(self) -> None:
        assert self._heartbeat is not None  # noqa: S101 - started only with a heartbeat
        tick = min(self._heartbeat / 4, 1.0)
        while not self._closed.wait(tick):
            now = time.monotonic()
            with self._lock:
                for plugin, (doing, started, last) in sorted(self._busy.items()):
                    if now - last >= self._heartbeat:
                        self._write(f"{plugin}: still {doing} ({now - started:.0f}s)")
                        self._busy[plugin] = (doing, started, now)

    def close(self) -> None:
        """Stop the heartbeat lines (the run is over)."""
        self._closed.set()
        if self._thread is not None:
            self._thread.join()


class QuietReporter:
    """Drops progress events (``--quiet``)."""

    def __call__(self, plugin: str, message: str) -> None:
        """Ignore the event."""


class LiveReporter:
    """A rich live table: one row per plugin with its current step and elapsed time."""

    def __init__(self) -> None:
        self._rows: dict[str, tuple[str, float, float | None]] = {}
        self._lock = threading.Lock()
        self._live: Live | None = None

    def __call__(self, plugin: str, message: str) -> None:
        """Update the row of ``plugin``; a final message (done/failed) stops its clock."""
        now = time.monotonic()
        with self._lock:
            _, started, _ = self._rows.get(plugin, ("", now, None))
            final = is_final(message)
            self._rows[plugin] = (redact(message), started, now if final else None)
            if self._live is not None:
                self._live.update(self._render())

    def _render(self) -> Table:
        from rich.table import Table  # noqa: PLC0415 - rich is imported only on a TTY

        table = Table.grid(padding=(0, 2))
        now = time.monotonic()
        for plugin, (message, started, ended) in sorted(self._rows.items()):
            elapsed = (ended or now) - started
            style = "red" if message.startswith("failed") else ("green" if ended else "cyan")
            table.add_row(
                f"[bold]{plugin}[/bold]", f"[{style}]{message}[/{style}]", f"{elapsed:5.1f}s"
            )
        return table

    @contextmanager
    def running(self) -> Iterator[None]:
        """Show the live view while the block runs (refreshed 8 times a second)."""
        from rich.console import Console  # noqa: PLC0415 - start-up: rich is slow, TTY only
        from rich.live import Live  # noqa: PLC0415 - likewise

        with Live(
            self._render(),
            console=Console(),
            refresh_per_second=8,
            get_renderable=self._render,
            transient=False,
        ) as live:
            self._live = live
            try:
                yield
            finally:
                live.update(self._render())
                self._live = None


@contextmanager
def progress(*, quiet: bool, live: bool) -> Iterator[Reporter]:
    """The reporter to use for a run: live on a TTY, plain lines otherwise, or none."""
    if quiet:
        yield QuietReporter()
    elif live:
        reporter = LiveReporter()
        with reporter.running():
            yield reporter
    else:
        plain = PlainReporter(heartbeat=heartbeat_seconds())
        try:
            yield plain
        finally:
            plain.close()
