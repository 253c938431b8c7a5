"""Child processes (pip, uv, pip-compile) that stop when reconciler is asked to stop.

Every child runs in its own process group with ``TMPDIR`` pointing into the run's scratch
directory (:mod:`reconciler.support.scratch`), so everything it leaves behind is found and removed
by the next run. On Linux, if reconciler is killed outright (SIGKILL), its children die with it
instead of installing on into a venv nobody watches: a watchdog (:func:`_watchdog`, one ``sh`` per
run, started with the first child) kills every process group whose leader carries this run's
mark (:data:`RUN_MARK`) once reconciler's end of its pipe closes without a word. So children are
started with ``vfork`` (no ``preexec_fn``: a full ``fork`` of the interpreter per child cost
milliseconds each, under the GIL); where no watchdog can run, a child gets
``PR_SET_PDEATHSIG`` from a ``preexec_fn`` as before.

:func:`stop` (called from the SIGINT/SIGTERM handler) makes every running child's group exit
(SIGTERM, then SIGKILL after a grace period) and refuses to start new ones; the interrupted
caller then raises :class:`~reconciler.errors.Interrupted`.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO

from reconciler.errors import Interrupted
from reconciler.support import scratch
from reconciler.support.paths import which

#: Seconds a child has to exit after SIGTERM before its group gets SIGKILL.
GRACE = 2.0

_children: set[subprocess.Popen[str]] = set()
_guard = threading.Lock()
_stopping = threading.Event()


@functools.cache
def _death_signal() -> Callable[[], None] | None:
    """A ``preexec_fn`` that asks Linux to SIGKILL the child when its parent dies (where no
    watchdog can run)."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes  # noqa: PLC0415 - start-up: only where the watchdog cannot run

    try:
        # The interpreter's own symbols include libc's: ``find_library("c")`` would run
        # ``ldconfig -p`` (a process and ~10 ms) on every start of reconciler.
        libc = ctypes.CDLL(None, use_errno=True)
        prctl = libc.prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()
    pr_set_pdeathsig = 1

    def preexec() -> None:  # runs in the child between fork and exec: nothing that allocates
        prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the request took effect
            os._exit(1)

    return preexec


#: The environment variable that marks a child of this run (its value: the run's own mark).
RUN_MARK = "RECONCILER_RUN_MARK"

#: The watchdog: waits for reconciler's word on stdin; end of file without ``done`` (reconciler
#: died) kills every process group whose leader's environment holds the mark ($1), twice (a
#: child forking as it is killed), and each marked process itself (a child's own child).
_WATCHDOG = r"""
IFS= read -r word
[ "$word" = done ] && exit 0
for pass in 1 2; do
  for file in $(grep -lsxzF -e "$1" /proc/[0-9]*/environ); do
    pid=${file#/proc/}
    pid=${pid%/environ}
    kill -s KILL -- "-$pid" 2>/dev/null
    kill -s KILL -- "$pid" 2>/dev/null
  done
done
"""

_watch_guard = threading.Lock()
_watch: dict[str, str] = {}  # "mark": this run's ``RUN_MARK=value``, once the watchdog runs


def _watchdog() -> str | None:
    """This run's mark (``RUN_MARK=<pid>-<random>``), the watchdog started on first use; None
    where it cannot run (not Linux, no ``/proc``, no ``sh`` or ``grep``)."""
    with _watch_guard:
        if "mark" in _watch or "failed" in _watch:
            return _watch.get("mark")
        mark = f"{RUN_MARK}={os.getpid()}-{os.urandom(8).hex()}"
        search = os.environ.get("PATH") or os.defpath
        try:
            if not sys.platform.startswith("linux") or not Path("/proc/self/fd").is_dir():
                raise OSError("no /proc")
            if which("grep", search) is None:  # it could find nothing to kill
                raise OSError("no grep")
            dog = subprocess.Popen(
                ["/bin/sh", "-c", _WATCHDOG, "reconciler-watchdog", mark],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env={"PATH": search, "LC_ALL": "C"},
                cwd="/",
                process_group=0,  # a kill of reconciler's own group leaves it to do its work
            )
        except OSError:
            _watch["failed"] = "1"
            return None
        atexit.register(_release, dog)
        _watch["mark"] = mark
        return mark


def _release(dog: subprocess.Popen[bytes]) -> None:
    """At a normal exit: tell the watchdog every child was waited for."""
    with contextlib.suppress(OSError, ValueError):
        if dog.stdin is not None:
            dog.stdin.write(b"done\n")
            dog.stdin.close()  # it exits at once (init reaps it: reconciler is exiting)


def stopping() -> bool:
    """True once :func:`stop` was called: no new child starts."""
    return _stopping.is_set()


def stop(grace: float = GRACE) -> None:
    """Stop every running child (its whole process group) and start no new one."""
    _stopping.set()
    with _guard:
        running = list(_children)
    for child in running:
        _signal_group(child, signal.SIGTERM)
    if running:
        timer = threading.Timer(grace, kill_all)
        timer.daemon = True
        timer.start()


def kill_all() -> None:
    """SIGKILL every running child's process group (the second Ctrl-C, or after the grace)."""
    _stopping.set()
    with _guard:
        running = list(_children)
    for child in running:
        _signal_group(child, signal.SIGKILL)


def _signal_group(child: subprocess.Popen[str], signum: int) -> None:
    if child.poll() is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child.pid, signum)


def child_env(env: Mapping[str, str]) -> dict[str, str]:
    """``env`` with ``TMPDIR`` (and ``TEMP``/``TMP``) in the run's scratch directory."""
    result = dict(env)
    result.pop(RUN_MARK, None)  # a mark inherited from an outer run is not this run's
    mark = _watchdog()
    if mark is not None:
        name, _, value = mark.partition("=")
        result[name] = value
    directory = scratch.tmpdir()
    if directory is not None:
        for name in ("TMPDIR", "TEMP", "TMP"):
            result[name] = str(directory)
    return result


def run(
    command: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: Path | None = None,
    timeout: float | None = None,
    on_line: Callable[[str], None] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``command`` to completion, capturing its output, as a stoppable child.

    ``on_line`` (``--verbose``) is called with every line of its output (stdout and stderr)
    as the child writes it, not after it ended; the output is captured all the same.
    Raises :class:`Interrupted` when a stop was requested before it started or while it ran
    (whatever its exit status), :class:`OSError` when it cannot start and
    :class:`subprocess.TimeoutExpired` after ``timeout`` (its group killed).
    """
    if _stopping.is_set():
        raise Interrupted("interrupted")
    environment = child_env(env)
    child = subprocess.Popen(
        list(command),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment,
        cwd=cwd,
        process_group=0,
        # vfork, unless no watchdog guards this run: then prctl(2) only, see _death_signal
        preexec_fn=None if RUN_MARK in environment else _death_signal(),  # noqa: PLW1509
    )
    with _guard:
        _children.add(child)
    try:
        if _stopping.is_set():  # stop() ran between the check above and the registration
            _signal_group(child, signal.SIGTERM)
        try:
            if on_line is None:
                out, err = child.communicate(timeout=timeout)
            else:
                out, err = _streamed(child, on_line, timeout)
        except subprocess.TimeoutExpired:
            _signal_group(child, signal.SIGKILL)
            child.communicate()
            raise
        except BaseException:
            _signal_group(child, signal.SIGKILL)
            child.wait()
            raise
    finally:
        with _guard:
            _children.discard(child)
    if _stopping.is_set():
        raise Interrupted("interrupted")
    return subprocess.CompletedProcess(list(command), child.returncode, out, err)


def _streamed(
    child: subprocess.Popen[str], on_line: Callable[[str], None], timeout: float | None
) -> tuple[str, str]:
    """Read both pipes line by line as they come (a thread each), passing every line on."""
    captured: dict[str, list[str]] = {"out": [], "err": []}
    emit = threading.Lock()

    def pump(name: str, pipe: IO[str] | None) -> None:
        for line in pipe or ():
            captured[name].append(line)
            with emit:
                on_line(line.rstrip("\n"))

    readers = [
        threading.Thread(target=pump, args=(name, pipe), daemon=True)
        for name, pipe in (("out", child.stdout), ("err", child.stderr))
    ]
    for reader in readers:
        reader.start()
    try:
        child.wait(timeout=timeout)
    finally:
        if child.poll() is None:
            _signal_group(child, signal.SIGKILL)
            child.wait()
        for reader in readers:
            reader.join()
    return "".join(captured["out"]), "".join(captured["err"])
