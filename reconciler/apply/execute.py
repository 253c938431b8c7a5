"""Carry out a plan on disk: generations built beside the live venv, flipped atomically.

The plan is the whole contract: every step says what to install and remove, from which index,
whether to build a new generation or change the live venv in place, the layout's extra files
and the source fingerprints to record. Nothing here reads the project's configuration.

create/reinstall build a new generation (marker first as ``building``), verify it, mark it
``complete``, make it durable with one ``syncfs`` (not an fsync per file or marker) and flip
``<root>/<plugin>`` to it; a failure or kill leaves the old venv live.
upgrade works in place on the live generation, marked ``upgrading`` until done. Steps for
different plugins run concurrently (``jobs``); a set ``stop`` event starts no new step.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import stat
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from reconciler.apply import generations as gens
from reconciler.errors import (
    ExecuteError,
    Interrupted,
    ReconcilerError,
    SafetyError,
    format_error,
)
from reconciler.layouts import Layout, replace_problem
from reconciler.models import (
    Action,
    IndexOptions,
    LockedPackage,
    MarkerStatus,
    Plan,
    StateMarker,
    Step,
    Strategy,
)
from reconciler.observe import observe_venv, site_packages
from reconciler.state import provisional, read_marker, with_status, write_marker
from reconciler.support import profile, scratch, venvcfg
from reconciler.support.files import prepare_sync, sync_filesystems
from reconciler.support.jobs import run_all
from reconciler.support.names import canonical_name, same_version
from reconciler.support.paths import check_inside
from reconciler.support.values import evolve

if TYPE_CHECKING:
    from reconciler.installers.base import Installer

#: ``log(plugin, message)``: one progress event of one plugin.
Log = Callable[[str, str], None]


class StepResult:
    """How one step ended: ``failure`` is the error it ended with (None: done), kept with its
    fields (plugin, file, cause) for the edge to format. (This module's classes are plain:
    made by apply, read by the command line, compared by nobody; an attrs class costs every
    apply's start-up.)"""

    __slots__ = ("failure", "interrupted", "seconds", "step")

    def __init__(
        self,
        step: Step,
        seconds: float,
        failure: ReconcilerError | None = None,
        *,
        interrupted: bool = False,
    ) -> None:
        self.step = step
        self.seconds = seconds
        self.failure = failure
        self.interrupted = interrupted

    @property
    def error(self) -> str | None:
        """The failure as one line (None when the step succeeded)."""
        return None if self.failure is None else format_error(self.failure)


class ApplyResult:
    """How the whole apply ended."""

    __slots__ = ("results", "seconds")

    def __init__(self, results: tuple[StepResult, ...], seconds: float) -> None:
        self.results = results
        self.seconds = seconds

    @property
    def failed(self) -> tuple[StepResult, ...]:
        """The steps that raised an error (interrupted ones included)."""
        return tuple(r for r in self.results if r.error is not None)

    @property
    def interrupted(self) -> bool:
        """True when a stop request cut the apply short."""
        return any(r.interrupted for r in self.results)

    def count(self, action: Action) -> int:
        """How many steps with ``action`` succeeded."""
        return sum(1 for r in self.results if r.error is None and r.step.action is action)


class Context:
    """What every step needs besides the step itself."""

    __slots__ = ("installer", "layout", "plan", "stop")

    def __init__(
        self, plan: Plan, layout: Layout, installer: Installer, stop: threading.Event
    ) -> None:
        self.plan = plan
        self.layout = layout
        self.installer = installer
        self.stop = stop

    def index(self, step: Step) -> IndexOptions:
        """Where the artifacts of ``step`` come from."""
        if step.index is None:
            raise ExecuteError("no index options in plan step", plugin=step.plugin)
        return step.index


def apply_plan(
    plan: Plan,
    layout: Layout,
    installer: Installer,
    log: Log,
    *,
    jobs: int = 1,
    stop: threading.Event | None = None,
) -> ApplyResult:
    """Perform every change of ``plan``; a failure stops no other plugin.

    The caller holds the venv root's lock (:func:`reconciler.applylock.exclusive`) from before
    the plan was computed until this returns.
    """
    started = time.monotonic()
    ctx = Context(plan, layout, installer, stop or threading.Event())
    # Walls first, for every plugin touched or refused: a link out of the root anywhere means
    # nothing is deleted or built, not one plugin's step failing after the others ran.
    for step in (*plan.changes, *plan.refused):
        gens.check_walls(ctx.layout, step.plugin)
    with profile.stage("apply", "clean leftovers"):
        clean_leftovers(ctx, log)
    changes = plan.changes
    order = start_order(changes) if jobs > 1 else range(len(changes))
    ended = run_all(lambda i: _run_step(changes[i], ctx, log), order, jobs, "apply")
    by_index = dict(zip(order, ended, strict=True))
    results = [by_index[i] for i in range(len(changes))]  # the plan's order again
    profile.record("apply", "steps", time.monotonic() - started)
    profile.flush()
    return ApplyResult((*results, *refusals(plan)), time.monotonic() - started)


def start_order(steps: Sequence[Step]) -> list[int]:
    """The indexes of ``steps`` in the order parallel jobs start them: the likely longest
    first (a clone or build of a VCS commit or local project, then the most packages), so the
    last step to start is a short one and does not keep the others' jobs idle at the end;
    steps alike keep the plan's order."""

    def weight(index: int) -> tuple[int, int]:
        step = steps[index]
        packages = step.locked or tuple(i.package for i in step.install)
        return sum(1 for p in packages if p.kind in ("vcs", "path")), len(packages)

    return sorted(range(len(steps)), key=weight, reverse=True)  # stable: ties in plan order


def refusals(plan: Plan) -> tuple[StepResult, ...]:
    """A failed result, with its reason, for every step the plan says apply refuses
    (:attr:`Plan.refused`): nothing of theirs is touched."""
    return tuple(
        StepResult(step, 0.0, SafetyError(detail, plugin=step.plugin))
        for step in plan.refused
        for detail in [", ".join(step.reasons)]
    )


def _run_step(step: Step, ctx: Context, log: Log) -> StepResult:
    begin = time.monotonic()
    if ctx.stop.is_set():
        return StepResult(step, 0.0, Interrupted("interrupted before it started"), interrupted=True)
    log(step.plugin, f"{_VERBS[step.action]} ({_count(step)})")
    try:
        from reconciler.installers.base import output_label  # noqa: PLC0415 - start-up: a no-op apply runs no step

        with output_label(step.plugin):  # -v: whose pip/uv output a line is
            _perform(step, ctx)
    except Interrupted as exc:
        log(step.plugin, "interrupted, rolled back")
        return StepResult(step, time.monotonic() - begin, exc, interrupted=True)
    except ReconcilerError as exc:
        log(step.plugin, "failed")
        return StepResult(step, time.monotonic() - begin, exc.about(step.plugin))
    except OSError as exc:
        log(step.plugin, "failed")
        cause = f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": ")
        error = ExecuteError(cause, plugin=step.plugin)
        return StepResult(step, time.monotonic() - begin, error)
    elapsed = time.monotonic() - begin
    profile.record(step.plugin, f"step {step.action}", elapsed)
    log(step.plugin, f"{step.action} done in {elapsed:.1f}s")
    return StepResult(step, elapsed)


def _count(step: Step) -> str:
    if step.action is Action.REMOVE:
        return "venv"
    n = len(step.install) + len(step.uninstall)
    return f"{n} package{'s' if n != 1 else ''}"


_VERBS = {
    Action.CREATE: "creating",
    Action.UPGRADE: "upgrading",
    Action.REINSTALL: "reinstalling",
    Action.REMOVE: "removing",
    Action.NOOP: "checking",
    Action.BLOCKED: "refusing",
}


def _rmtree(path: Path) -> None:
    import shutil  # noqa: PLC0415 - start-up: zlib, bz2, lzma; only when something is deleted

    shutil.rmtree(path)


def clean_leftovers(ctx: Context, log: Log) -> None:
    """Delete generations left by killed runs (never the live one, nor a kept previous one).

    A plugin whose generations directory holds just its live generation has nothing to delete:
    it is passed over after one listing (its walls are checked when something is deleted)."""
    plugins = [p for p in ctx.layout.leftover_plugins() if not gens.nothing_to_prune(ctx.layout, p)]
    for plugin in plugins:
        gens.check_walls(ctx.layout, plugin)
    for plugin in plugins:
        for removed in gens.prune(ctx.layout, plugin, ctx.plan.keep_generations):
            log(plugin, f"removed leftover generation {removed.name}")
    for link in gens.stray_flip_links(ctx.layout):
        check_inside(ctx.layout.root, link, link_ok=True, what="delete")
        link.unlink(missing_ok=True)
    for replaced in gens.stray_replaced_dirs(ctx.layout):
        check_inside(ctx.layout.root, replaced, what="delete")
        _rmtree(replaced)
    for removed in scratch.sweep(scratch.scratch_base(ctx.layout.root)):
        log("apply", f"removed temporary files of a killed run ({removed.name})")


def _build(step: Step, ctx: Context) -> None:
    """Build a complete, verified generation and flip the stable path to it."""
    interpreter = step.interpreter
    if interpreter is None:
        raise ExecuteError("no interpreter in plan step", plugin=step.plugin)
    stable = ctx.layout.stable_path(step.plugin)
    _check_replaceable(stable, ctx.layout, step.plugin)  # the walls too (replace_problem)
    generation = gens.new_generation(ctx.layout, step.plugin)
    marker = StateMarker(
        plugin=step.plugin,
        status=MarkerStatus.BUILDING,
        python_executable=interpreter.executable,
        python_version=interpreter.version,
        installer=ctx.installer.name,
        built_at=os.path.realpath(generation),
        sources=_sources(step, ()),
    )
    # Every locked package: a create/reinstall installs them all, and so does an upgrade made
    # as a new generation (the live one stays as it is, for rollback).
    packages = list(step.locked) or [i.package for i in step.install]
    repaired = {i.package.name for i in step.install if i.repair}
    timed = functools.partial(profile.stage, step.plugin)
    with timed("marker building"):
        # The marker first: a directory named as a generation is provably ours from its birth
        # (staged, then renamed). Not synced on its own: a journalling file system commits it
        # before the files the installer writes next.
        gens.create_generation(
            ctx.layout, generation, lambda staged: write_marker(staged, marker, durable=False)
        )
    try:
        with timed("venv"):
            ctx.installer.create_venv(interpreter.executable, generation)
        with timed("install"):
            _install(ctx, step, generation, packages, repaired)
        with timed("verify"):
            _verify(generation, step, packages)
        with timed("extra files"):
            write_extra_files(generation, dict(step.extra_files))
        with timed("marker complete"):
            write_marker(generation, with_status(marker, MarkerStatus.COMPLETE), durable=False)
        if ctx.stop.is_set():
            raise Interrupted("interrupted; the previous venv stays live", plugin=step.plugin)
        with timed("sync"):
            # one syncfs: the installer's files and both markers durable before the flip
            sync_filesystems([generation])
        flip_started = time.perf_counter()
        previous = gens.live_generation(ctx.layout, step.plugin)
        retired = None
        if stable.exists() and not stable.is_symlink():
            if ctx.layout.claimed_by_tool(stable) is not None:
                # another tool's venv: swapped for the link in one step where the OS can
                retired = gens.flip_over_directory(ctx.layout, step.plugin, generation)
                if retired is None:
                    retired = _retire_legacy_directory(stable, ctx.layout, step.plugin)
            else:  # a marked directory of ours (older layout): now an ordinary old generation
                previous = _retire_legacy_directory(stable, ctx.layout, step.plugin)
        if gens.live_generation(ctx.layout, step.plugin) != generation:
            gens.flip(ctx.layout, step.plugin, generation)
        profile.record(step.plugin, "flip", time.perf_counter() - flip_started)
    except BaseException:
        if gens.live_generation(ctx.layout, step.plugin) != generation:
            gens.delete_generation(ctx.layout, step.plugin, generation)
        raise
    if retired is not None and ctx.layout.claimed_by_tool(retired) is not None:
        check_inside(ctx.layout.root, retired, what="delete")
        _rmtree(retired)  # the venv another tool built, replaced by this generation
    with timed("prune"):
        gens.prune(
            ctx.layout, step.plugin, ctx.plan.keep_generations, prefer=previous
        )  # keep what was live: rollback


def write_extra_files(venv: Path, files: Mapping[str, str]) -> None:
    """Write the layout's extra files into ``venv``, each atomically (temporary file + rename)."""
    for name, text in sorted(files.items()):
        if not name or "/" in name or name in (".", ".."):  # a layout names plain files only
            raise SafetyError(f"refusing to write {name!r}: not a plain file name in {venv}")
        target = venv / name
        if target.is_symlink() or (target.exists() and not target.is_file()):
            raise SafetyError(f"refusing to replace {target}: not a regular file")
        temporary = venv / f".{name}.tmp-{os.urandom(4).hex()}"
        try:
            temporary.write_text(text, encoding="utf-8")
            temporary.replace(target)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise


def _check_replaceable(stable: Path, layout: Layout, plugin: str) -> None:
    """Refuse to replace anything at the stable path that reconciler did not make (the same
    rule the planner reports as blocked: :func:`reconciler.layouts.replace_problem`)."""
    problem = replace_problem(layout, plugin)
    if problem is not None:
        raise SafetyError(problem, plugin=plugin)


def _retire_legacy_directory(stable: Path, layout: Layout, plugin: str) -> Path:
    """Move a real directory (marked, older layout; or claimed, built by the layout's tool) into
    the generations so the flip can happen; returns where it went."""
    target = gens.new_generation(layout, plugin)
    check_inside(layout.root, stable, what="move")
    check_inside(layout.root, target, what="move into")
    target.parent.mkdir(parents=True, exist_ok=True)
    stable.rename(target)
    return target


def _verify(generation: Path, step: Step, packages: Sequence[LockedPackage]) -> None:
    """The venv is whole: ``pyvenv.cfg`` names an existing home, ``bin/python`` leads to the
    planned interpreter (probed when the plan was made, so known to start), and every locked
    distribution is installed. Read from the files alone: no process is started."""
    interpreter = step.interpreter
    python = generation / "bin" / "python"
    home = (venvcfg.read(generation) or {}).get("home")
    if (
        interpreter is None
        or home is None
        or not Path(home).is_dir()
        or os.path.realpath(python) != os.path.realpath(interpreter.executable)
        or not os.access(python, os.X_OK)
    ):
        planned = interpreter.executable if interpreter else "the planned interpreter"
        raise ExecuteError(
            f"new venv is broken (pyvenv.cfg or bin/python do not lead to {planned})",
            plugin=step.plugin,
        )
    installed: dict[str, list[str]] = {}
    for dist in observe_venv(generation).dists:
        installed.setdefault(dist.name, []).append(dist.version)
    missing = [
        f"{p.name} {p.label}"
        for p in packages
        if canonical_name(p.name) not in installed
        or (
            p.version
            and not any(same_version(p.version, v) for v in installed[canonical_name(p.name)])
        )
    ]
    if missing:
        raise ExecuteError(
            f"new venv is missing {', '.join(missing)} after install",
            plugin=step.plugin,
        )


def _upgrade(step: Step, ctx: Context) -> None:
    """Change only the differing packages of the live venv (the planner chose this only when
    no generation is kept for ``rollback``)."""
    stable = ctx.layout.stable_path(step.plugin)
    gens.check_walls(ctx.layout, step.plugin)
    live = gens.live_generation(ctx.layout, step.plugin)
    target = live if live is not None else stable
    check_inside(ctx.layout.root, target, what="upgrade")
    if stable.is_symlink() and live is None:
        raise SafetyError(
            f"{gens.link_target_problem(ctx.layout, step.plugin)}",
            plugin=step.plugin,
        )
    marker = read_marker(target)
    if marker is None:
        raise SafetyError("state marker vanished; plan again", plugin=step.plugin)
    before = observe_venv(target).dists
    sources = _sources(step, marker.sources)
    with provisional(target, with_status(marker, MarkerStatus.UPGRADING)) as restore:
        try:
            ctx.installer.uninstall(target, [u.name for u in step.uninstall])
            delete_unexpected(target, step.delete_files)
            repaired = {i.package.name for i in step.install if i.repair}
            with profile.stage(step.plugin, "install"):
                _install(ctx, step, target, [i.package for i in step.install], repaired)
        except BaseException as exc:
            if observe_venv(target).dists == before:  # refused before touching any package
                restore()
            elif isinstance(exc, Interrupted):
                raise Interrupted(
                    "interrupted mid-upgrade; marked upgrading, the next apply reinstalls it",
                    plugin=step.plugin,
                ) from exc
            raise
        write_extra_files(target, dict(step.extra_files))
        done = evolve(marker, status=MarkerStatus.COMPLETE, sources=sources)
        with profile.stage(step.plugin, "sync"):
            sync_filesystems([target])  # what the installer wrote, before the marker says so
        with profile.stage(step.plugin, "marker complete"):
            # not synced on its own: lost to a power cut, the durable ``upgrading`` marker
            # stays and the next apply reinstalls; never a ``complete`` marker over lost files
            write_marker(target, done, durable=False)


def _install(
    ctx: Context, step: Step, venv: Path, packages: Sequence[LockedPackage], repaired: set[str]
) -> None:
    """Install ``packages``; those named in ``repaired`` (``--verify`` found their files
    changed) in a call of their own that reinstalls them from the artifacts."""
    from reconciler.installers.base import InstallRequest  # noqa: PLC0415 - start-up: a no-op apply installs nothing

    index, project_dir = ctx.index(step), ctx.plan.project_dir
    prepare_sync()  # the syncfs that follows the install, looked up while it runs
    plain = tuple(p for p in packages if p.name not in repaired)
    ctx.installer.install(InstallRequest(venv, plain, index, project_dir))
    fixed = tuple(p for p in packages if p.name in repaired)
    if fixed:
        ctx.installer.install(InstallRequest(venv, fixed, index, project_dir, repair=True))


def delete_unexpected(venv: Path, files: Sequence[str]) -> None:
    """Delete ``files`` (relative to ``venv``'s site-packages: files no RECORD lists) without
    crossing a symlink or leaving site-packages; a path that no longer leads to a non-directory
    is left alone."""
    if not files:
        return
    site = site_packages(Path(os.path.realpath(venv)), None)
    if site is None:
        return
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
    for rel in files:
        parts = rel.split("/")
        if not all(parts) or any(part in (".", "..") for part in parts):
            raise SafetyError(f"refusing to delete {rel!r}: not a plain path in site-packages")
        fds = [os.open(site, flags)]
        try:
            for part in parts[:-1]:
                fds.append(os.open(part, flags, dir_fd=fds[-1]))
            if not stat.S_ISDIR(os.lstat(parts[-1], dir_fd=fds[-1]).st_mode):
                os.unlink(parts[-1], dir_fd=fds[-1])
        except (FileNotFoundError, NotADirectoryError):
            pass  # gone already, or the path changed: nothing of ours to delete
        except OSError as exc:
            if exc.errno != errno.ELOOP:  # a symlinked directory on the way: never crossed
                raise
        finally:
            for fd in fds:
                os.close(fd)


def _sources(step: Step, recorded: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    """Source fingerprints for the marker: the step's (taken when planning, so an edit made
    while apply runs shows up in the next plan), and the recorded ones of packages this step
    does not touch."""
    removed = {u.name for u in step.uninstall}
    kept = {n: f for n, f in recorded if n not in removed}
    return tuple(sorted({**kept, **dict(step.sources)}.items()))


def _remove(step: Step, ctx: Context) -> None:
    stable = ctx.layout.stable_path(step.plugin)
    gens.check_walls(ctx.layout, step.plugin)
    if stable.is_symlink():
        if gens.live_generation(ctx.layout, step.plugin) is None:
            problem = gens.link_target_problem(ctx.layout, step.plugin)
            raise SafetyError(f"refusing to remove {stable}: {problem}")
        stable.unlink()  # atomic: from here on the plugin has no venv
    elif stable.exists():
        _check_replaceable(stable, ctx.layout, step.plugin)
        _retire_legacy_directory(stable, ctx.layout, step.plugin)
    gens.prune(ctx.layout, step.plugin, keep=0)
    # the directories that held only this plugin (``.meltano/<type>/<name>/``): gone when empty
    for directory in (ctx.layout.generations_dir(step.plugin), stable.parent):
        if directory == ctx.layout.root or directory.is_symlink():
            continue
        with contextlib.suppress(OSError):  # not empty (someone's file), or already gone
            directory.rmdir()


def _noop(step: Step, ctx: Context) -> None:
    return


def _perform(step: Step, ctx: Context) -> None:
    """Carry out one step the way the plan says (its action and strategy)."""
    if step.action is not Action.NOOP:  # a rolled-back venv changes: no longer `run` as is
        gens.clear_rolled_back(ctx.layout, step.plugin)
    if step.action is Action.REMOVE:
        _remove(step, ctx)
    elif step.action is Action.NOOP:
        _noop(step, ctx)
    elif step.strategy is Strategy.IN_PLACE:
        _upgrade(step, ctx)
    else:
        _build(step, ctx)


def rollback(layout: Layout, plugin: str, keep_generations: int) -> Path:
    """Flip ``plugin`` back to its previous complete generation (caller holds the lock)."""
    gens.check_walls(layout, plugin)
    if gens.live_generation(layout, plugin) is None:
        raise ReconcilerError("no live venv made by reconciler to roll back", plugin=plugin)
    previous = gens.previous_generation(layout, plugin)
    if previous is None:
        hint = (
            " (set settings.keep-generations = 1 to keep one)"
            if keep_generations == 0
            else " (one is kept from the next change on)"
        )
        raise ReconcilerError(f"no previous generation to roll back to{hint}", plugin=plugin)
    gens.flip(layout, plugin, previous)
    gens.mark_rolled_back(layout, plugin, previous)  # `run` accepts it until it changes
    return previous
