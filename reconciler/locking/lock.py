"""``reconciler lock``: which locks are fresh, and re-resolving the others with a resolver."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path

from reconciler import lockfile, lockformats
from reconciler.errors import Interrupted, LockError, ReconcilerError, combine
from reconciler.installers.base import output_label
from reconciler.installers.pipconfig import resolve_link
from reconciler.lockformats.requirements import render_lock
from reconciler.locking import direct
from reconciler.locking.artifacts import lock_content
from reconciler.locking.base import Resolver, ResolveRequest
from reconciler.models import DesiredState, Interpreter, Lock, Plugin
from reconciler.support import pep508, procs, scratch
from reconciler.support.files import fsync_dir, write_if_changed
from reconciler.support.jobs import run_all
from reconciler.support.names import PLUGIN_NAME_RE
from reconciler.support.names import canonical_name as canonicalize_name
from reconciler.support.values import evolve, frozen


@frozen
class LockStatus:
    """Whether a plugin's lock is ``fresh``, ``missing`` or ``stale`` (with reasons)."""

    plugin: str
    state: str
    reasons: tuple[str, ...] = ()


def status(plugin: Plugin, interpreter: Interpreter, desired: DesiredState) -> LockStatus:
    """The freshness of ``plugin``'s lock against ``reconciler.toml``."""
    lock = lockformats.read_lock(desired, plugin.name)
    if lock is None:
        return LockStatus(plugin.name, "missing", ("missing",))
    reasons = lockfile.lock_staleness(
        plugin, lock, interpreter, desired.index_for(plugin), desired.project_dir
    )
    return LockStatus(plugin.name, "stale" if reasons else "fresh", reasons)


def orphans(desired: DesiredState) -> tuple[Path, ...]:
    """Lock files written by reconciler for plugins no longer declared."""
    lock_dir = desired.settings.lock_dir
    if not lock_dir.is_dir():
        return ()
    # a declared plugin's lock in another format is its stale lock, not an orphan
    declared = {path for p in desired.plugins for path in lockformats.all_paths(desired, p.name)}
    found = []
    for name in lockformats.FORMAT_NAMES:
        # a format's module is loaded only when a file of it is there to check (none for a
        # requirements project: no PEP 751 machinery on the way to its locks)
        candidates = [path for g in lockformats.patterns(name) for path in lock_dir.glob(g)]
        for path in sorted(candidates):
            parts = path.relative_to(lock_dir).with_suffix("").parts
            if path in declared or not all(PLUGIN_NAME_RE.fullmatch(part) for part in parts):
                continue
            if lockformats.get_format(name).owns(path):
                found.append(path)
    return tuple(sorted(found))


def check_lock_names(desired: DesiredState, plugins: Sequence[Plugin]) -> None:
    """Refuse two plugins whose locks would be one file (``tap.csv`` and ``tap-csv`` both
    lock to ``pylock.tap-csv.toml``)."""
    seen: dict[Path, str] = {}
    for plugin in plugins:
        path = desired.lock_path(plugin.name)
        other = seen.setdefault(path, plugin.name)
        if other != plugin.name:
            rel = path.relative_to(desired.settings.lock_dir).as_posix()
            raise LockError(
                f"plugins {other!r} and {plugin.name!r} would share the lock {rel} "
                "(a pylock file name has no dots: '.' becomes '-'); rename one, or set "
                'lock-format = "requirements" on one of them'
            )


def lock_plugin(
    plugin: Plugin,
    interpreter: Interpreter,
    desired: DesiredState,
    resolver: Resolver,
    *,
    upgrade: bool = False,
    upgrade_packages: Sequence[str] = (),
) -> bool:
    """Resolve ``plugin`` with ``resolver`` and write its lock; True when the file changed.

    The previous lock (unless ``upgrade``) is handed to the resolver so unchanged pins stay.
    Whatever resolver made it, the lock gets the same header and is read back before it is
    written, so its freshness never depends on the resolver. The file is synced before it
    replaces the old one; the lock directory is not (:func:`lock_all` syncs it once).
    """
    if desired.settings.require_hashes:
        direct.refuse_unhashable(plugin)
    target = desired.lock_path(plugin.name)
    digest = lockfile.inputs_digest(
        plugin, interpreter.major_minor, desired.index_for(plugin), interpreter.release
    )
    previous = None
    current = _previous(desired, plugin)
    if not upgrade:
        with contextlib.suppress(OSError, UnicodeDecodeError):
            # keep unchanged pins where still allowed (local paths and VCS lines are the .in's);
            # a lock in another format is handed over as requirements text
            if current is None:
                text = target.read_text(encoding="utf-8")
            elif current.format == "requirements":
                text = current.path.read_text(encoding="utf-8")
            else:
                text = render_lock(current)
            previous = direct.previous_pins(text)
    # what every resolver gets: local paths absolute, VCS refs pinned to their commit
    lines = direct.resolver_inputs(
        plugin,
        desired.project_dir,
        current,
        upgrade=upgrade,
        upgrade_packages=upgrade_packages,
    )
    request = ResolveRequest(
        plugin=evolve(plugin, requirements=tuple(lines)),
        interpreter=interpreter,
        index=desired.index_for(plugin),
        project_dir=desired.project_dir,
        tools_dir=desired.settings.venv_root / ".reconciler" / "tools",
        previous=previous,
        upgrade_packages=tuple(upgrade_packages),
    )
    body = direct.finalise(resolver.resolve(request), plugin, desired.project_dir)
    body = _as_written_paths(body, plugin, desired.project_dir)
    text = digest.header() + "\n" + _without_header(body)
    # refuse to write what we could not read back (the pylock format validates it too)
    parsed = lockfile.parse(plugin.name, target, text)
    content = lock_content(desired, plugin, digest, text, parsed, target)
    rendered = lockformats.get_format(plugin.lock_format).render(content)
    changed = write_if_changed(target, rendered, sync_dir=False)
    for other in lockformats.other_paths(desired, plugin.name):
        if other.is_file():  # the format switched: the old lock goes
            other.unlink()
            changed = True
    return changed


def _previous(desired: DesiredState, plugin: Plugin) -> Lock | None:
    """The plugin's current lock in any format, if it can be read (its VCS commits and pins
    are kept)."""
    try:
        return lockformats.read_lock(desired, plugin.name)
    except LockError:
        return None


def _as_written_paths(body: str, plugin: Plugin, project_dir: Path) -> str:
    """Annotations name constraint files as ``reconciler.toml`` spells them, not by machine path.

    Both resolvers are handed absolute paths (``# via -c /home/me/proj/c.txt``); the lock must
    read the same on every machine.
    """
    local = [c for c in plugin.constraints if "://" not in c]
    if not local:
        return body
    lines = body.splitlines(keepends=True)
    for written in local:
        absolute = resolve_link(written, project_dir)
        lines = [
            line.replace(absolute, written) if line.lstrip().startswith("#") else line
            for line in lines
        ]
    return "".join(lines)


def _without_header(body: str) -> str:
    """The resolver's output without a ``# reconciler-inputs`` line kept from the old lock."""
    first, _, rest = body.partition("\n")
    return rest if first.startswith("# reconciler-inputs: ") else body


def _upgrade_targets(
    plugins: Sequence[Plugin], desired: DesiredState, upgrade_packages: Sequence[str]
) -> dict[str, bool]:
    """Which plugins ``--upgrade-package`` concerns: those whose lock (or requirements) name a
    package to bump. A package no selected plugin has is an error naming it."""
    concerned = dict.fromkeys((p.name for p in plugins), False)
    if not upgrade_packages:
        return concerned
    from packaging.requirements import InvalidRequirement  # noqa: PLC0415 - start-up: -P only

    wanted: dict[str, str] = {}
    for spec in upgrade_packages:
        try:
            wanted[canonicalize_name(pep508.requirement(spec).name)] = spec
        except InvalidRequirement as exc:
            raise LockError(f"--upgrade-package {spec!r}: not a package name") from exc
    if not wanted:
        return concerned
    found: set[str] = set()
    for plugin in plugins:
        names = set(_declared_names(plugin))
        try:
            lock = lockformats.read_lock(desired, plugin.name)
        except LockError:
            lock = None
        if lock is not None:
            names |= {p.name for p in lock.packages}
        hits = names & set(wanted)
        found |= hits
        concerned[plugin.name] = bool(hits)
    missing = [spec for name, spec in wanted.items() if name not in found]
    if missing:
        where = ", ".join(p.name for p in plugins) or "none"
        raise LockError(
            f"--upgrade-package {', '.join(missing)}: not in the lock of any selected plugin "
            f"({where})"
        )
    return concerned


def _declared_names(plugin: Plugin) -> list[str]:
    from packaging.requirements import InvalidRequirement  # noqa: PLC0415 - start-up: -P only

    names: list[str] = []
    for text in plugin.requirements:
        try:
            names.append(canonicalize_name(pep508.requirement(text).name))
        except InvalidRequirement:
            continue
    return names


def _sync_lock_dirs(desired: DesiredState, plugins: Sequence[Plugin]) -> None:
    """Make the renames of the locks written durable: one fsync per lock directory, not one
    per lock (each lock file itself was synced before it replaced the old one)."""
    for directory in sorted({desired.lock_path(p.name).parent for p in plugins}):
        fsync_dir(directory)


@frozen
class LockReport:
    """What ``reconciler lock`` did."""

    written: tuple[str, ...]
    unchanged: tuple[str, ...]
    removed: tuple[Path, ...]
    seconds: float = 0.0


def lock_all(  # noqa: PLR0915 - one resolver job per plugin, its outcomes handled in place
    desired: DesiredState,
    interpreters: Mapping[str, Interpreter],
    only: Collection[str],
    *,
    upgrade: bool,
    upgrade_packages: Sequence[str],
    log: Callable[[str, str], None],
    resolver: Resolver,
    jobs: int = 1,
) -> LockReport:
    """Lock every selected plugin whose lock is missing or stale (all of them with upgrades).

    Independent plugins resolve concurrently (``jobs``); when some fail, the others still
    finish and every failure is raised (one line per plugin, by plugin name).
    """
    started = time.monotonic()
    selected = [p for p in desired.plugins if not only or p.name in only]
    check_lock_names(desired, desired.plugins)
    bumped = _upgrade_targets(selected, desired, upgrade_packages)
    # a plugin without a usable interpreter is reported by the caller
    eligible = [p for p in selected if p.name in interpreters]
    resolved: list[Plugin] = []  # those whose resolver started (their lock may be rewritten)

    def resolve(plugin: Plugin) -> bool | LockError | None:
        """Lock ``plugin`` when its lock is missing or stale: whether the file changed, its
        failure, or None (fresh). Freshness is checked here, in the job, so the first
        resolver starts once its own plugin is checked, not after every plugin's lock is read."""
        if procs.stopping():
            raise Interrupted("interrupted before it started", plugin=plugin.name)
        try:
            state = status(plugin, interpreters[plugin.name], desired)
        except LockError as exc:  # an unreadable lock: this plugin fails, the others go on
            return exc
        if state.state == "fresh" and not upgrade and not bumped[plugin.name]:
            return None
        resolved.append(plugin)
        log(plugin.name, f"resolving ({', '.join(state.reasons) or 'upgrade'})")
        began = time.monotonic()
        try:
            with output_label(plugin.name):  # -v: whose resolver output a line is
                changed = lock_plugin(
                    plugin,
                    interpreters[plugin.name],
                    desired,
                    resolver,
                    upgrade=upgrade,
                    upgrade_packages=upgrade_packages,
                )
        except LockError as exc:
            log(plugin.name, f"failed in {time.monotonic() - began:.1f}s")
            return exc
        except OSError as exc:  # a full disk, a read-only lock dir: the file and plugin named
            log(plugin.name, f"failed in {time.monotonic() - began:.1f}s")
            where = f"{exc.filename}: " if exc.filename else ""
            return LockError(
                f"cannot write the lock: {where}{exc.strerror or exc}", plugin=plugin.name
            )
        log(
            plugin.name,
            f"{'written' if changed else 'unchanged'} in {time.monotonic() - began:.1f}s",
        )
        return changed

    with scratch.session(desired.layout.root) as area:
        try:
            outcomes = run_all(resolve, eligible, jobs, "lock")
        except Interrupted as exc:
            raise Interrupted(
                "lock interrupted; locks written so far are kept, the others are unchanged"
            ) from exc
        finally:
            _sync_lock_dirs(desired, resolved)
        if not resolved:  # nothing resolved (no run directory made): still clear what a
            scratch.sweep(area.base)  # killed lock left
    errors: list[ReconcilerError] = [o for o in outcomes if isinstance(o, LockError)]
    unchanged = [p.name for p, o in zip(eligible, outcomes, strict=True) if not o]
    if errors:  # the summary still comes, then one error line per failing plugin
        log(
            "lock",
            f"{sum(1 for o in outcomes if o is True)} written, {len(unchanged)} unchanged, "
            f"{len(errors)} failed in {time.monotonic() - started:.1f}s",
        )
        raise combine(errors)  # every failing plugin, one line each (the others are written)
    written = [p.name for p, o in zip(eligible, outcomes, strict=True) if o is True]
    removed: list[Path] = []
    if not only:
        for path in orphans(desired):
            path.unlink()
            removed.append(path)
            shown = (
                path.relative_to(desired.project_dir)
                if path.is_relative_to(desired.project_dir)
                else path
            )
            log(lockformats.label(path), f"removed orphaned lock {shown}")
    seconds = time.monotonic() - started
    return LockReport(tuple(written), tuple(sorted(unchanged)), tuple(removed), seconds)
