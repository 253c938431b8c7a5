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


class PlainReporter:
    """One line per event, ``plugin: message``; safe to call from several threads."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream or sys.stdout
        self._lock = threading.Lock()

    def __call__(self, plugin: str, message: str) -> None:
        """Print ``plugin: message`` (credentials redacted)."""
        with self._lock:
            self._stream.write(redact(f"{plugin}: {message}") + "\n")
            self._stream.flush()


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
            final = message.startswith(("failed", "interrupted", "written", "unchanged")) or (
                " done in " in message or message.startswith("removed")
            )
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
        yield PlainReporter()
