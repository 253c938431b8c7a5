"""The ``reconciler`` command: its front (:mod:`reconciler.front`) parses ``plan``, ``apply``,
``lock`` and ``status`` in their usual forms without importing click and runs them
(:mod:`reconciler.runner`); everything else goes to the click CLI (:mod:`reconciler.clickcli`,
the one definition of the interface), loaded only then. ``reconciler.cli.cli`` is that click
group (loaded on first use).

The garbage collector is paused while this module's imports run: they allocate only what lives
as long as the process (modules, classes, functions), yet each full collection would scan all
of it again; once loaded it is frozen out of every later collection (~5 ms of a no-op plan).
"""

from __future__ import annotations

import gc

_COLLECTING = gc.isenabled()
gc.disable()

import sys
from typing import Any, NoReturn

from reconciler import front, runner

gc.freeze()  # what start-up loaded is never garbage: later collections skip it
if _COLLECTING:
    gc.enable()


def main(argv: list[str] | None = None) -> NoReturn:
    """Entry point: run one command line, map every error to one line and an exit code."""
    args = front.hoist(list(argv if argv is not None else sys.argv[1:]))
    runner.run(lambda: _dispatch(args), "--debug" in args)


def _dispatch(argv: list[str]) -> Any:
    parsed = front.parse(argv)
    if parsed is None:
        from reconciler import clickcli  # noqa: PLC0415 - click: only for what the front defers

        return clickcli.invoke(argv)
    command, options, params = parsed
    return runner.invoke(command, runner.Options(**options), params)


def __getattr__(name: str) -> Any:
    """``reconciler.cli.cli``: the click group (importing click only when asked for)."""
    if name == "cli":
        from reconciler import clickcli  # noqa: PLC0415 - click: only when asked for

        return clickcli.cli
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
