"""The planner: a pure function of desired state, locks, interpreters and observed venvs."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Mapping

from reconciler import lockfile
from reconciler.errors import LockError
from reconciler.models import (
    BOOTSTRAP_DISTS,
    Action,
    DesiredState,
    Install,
    Interpreter,
    Lock,
    LockedPackage,
    Observation,
    ObservedVenv,
    Plan,
    Plugin,
    Step,
    Uninstall,
)
from reconciler.support.names import same_version


def applicable(lock: Lock, interpreter: Interpreter) -> tuple[LockedPackage, ...]:
    """The locked packages whose environment marker holds for ``interpreter``."""
    return lockfile.applicable(lock, dict(interpreter.markers))


def check_lock(
    plugin: Plugin, lock: Lock | None, interpreter: Interpreter, desired: DesiredState
) -> Lock:
    """Return the plugin's lock, or raise :class:`LockError` when it is missing or stale."""
    rel = _rel(desired, desired.lock_path(plugin.name))
    if lock is None:
        raise LockError(f"plugin {plugin.name!r}: no lock ({rel} missing); run `reconciler lock`")
    reasons = lockfile.lock_staleness(plugin, lock, interpreter, desired.index_for(plugin))
    if reasons:
        raise LockError(
            f"plugin {plugin.name!r}: lock {rel} is stale ({', '.join(reasons)}); "
            "run `reconciler lock`"
        )
    return lock


def make_plan(
    desired: DesiredState,
    locks: Mapping[str, Lock | None],
    interpreters: Mapping[str, Interpreter],
    observation: Observation,
    only: Collection[str] = (),
) -> Plan:
    """Diff every declared plugin's lock against what is on disk.

    ``locks`` and ``interpreters`` are keyed by plugin name; ``only`` restricts the plan to those
    plugins (empty means all). Raises :class:`LockError` for a missing or stale lock.
    """
    declared = {p.name: p for p in desired.plugins}
    names = sorted(set(declared) | {v.name for v in observation.venvs})
    if only:
        names = [n for n in names if n in set(only)]
    steps: list[Step] = []
    warnings: list[str] = []
    checked: dict[str, Lock] = {}
    for name in names:
        observed = observation.get(name)
        plugin = declared.get(name)
        if plugin is None:
            assert observed is not None  # noqa: S101 - names come from declared | observed
            if observed.managed:
                steps.append(
                    Step(plugin=name, action=Action.REMOVE, reasons=("no longer declared",))
                )
            else:
                rel = _rel(desired, observed.path)
                warnings.append(f"{rel}: unmanaged directory left alone (no state marker)")
            continue
        interpreter = interpreters[name]
        lock = check_lock(plugin, locks.get(name), interpreter, desired)
        checked[name] = lock
        steps.append(_plan_declared(plugin, lock, interpreter, observed))
    fingerprint = _fingerprint(checked, interpreters, observation, names)
    return Plan(steps=tuple(steps), warnings=tuple(warnings), fingerprint=fingerprint)


def _plan_declared(
    plugin: Plugin, lock: Lock, interpreter: Interpreter, observed: ObservedVenv | None
) -> Step:
    wanted = applicable(lock, interpreter)
    if observed is None:
        return Step(
            plugin=plugin.name,
            action=Action.CREATE,
            reasons=("no venv",),
            install=tuple(Install(p) for p in wanted),
            interpreter=interpreter,
            locked=wanted,
        )
    reasons = list(observed.problems)
    marker = observed.marker
    moved_from = moved(observed)
    if moved_from is not None:
        reasons.append(f"venv moved (built at {moved_from})")
    if not reasons and marker is not None:
        if marker.python_version != interpreter.version:
            reasons.append(f"python {marker.python_version} -> {interpreter.version}")
        elif marker.python_executable != interpreter.executable:
            reasons.append(f"python {marker.python_executable} -> {interpreter.executable}")
    if reasons:
        return Step(
            plugin=plugin.name,
            action=Action.REINSTALL,
            reasons=tuple(reasons),
            install=tuple(Install(p) for p in wanted),
            interpreter=interpreter,
            locked=wanted,
        )
    installed = {d.name: d.version for d in observed.dists}
    install: list[Install] = []
    upgrade_reasons: list[str] = []
    for package in wanted:
        have = installed.get(package.name)
        if have is None:
            install.append(Install(package))
            upgrade_reasons.append(f"add {package.name} {package.version} (missing)")
        elif not same_version(have, package.version):
            change = Install(package, from_version=have)
            install.append(change)
            direction = " (downgrade)" if change.is_downgrade else ""
            upgrade_reasons.append(f"{package.name} {have} -> {package.version}{direction}")
    locked_names = {p.name for p in wanted}
    uninstall = tuple(
        Uninstall(d.name, d.version)
        for d in observed.dists
        if d.name not in locked_names and d.name not in BOOTSTRAP_DISTS
    )
    upgrade_reasons.extend(f"remove {u.name} {u.version} (not in lock)" for u in uninstall)
    upgrade_reasons.extend(f"{name} out of date" for name in observed.stale_files)
    if not upgrade_reasons:
        return Step(plugin=plugin.name, action=Action.NOOP, interpreter=interpreter)
    return Step(
        plugin=plugin.name,
        action=Action.UPGRADE,
        reasons=tuple(upgrade_reasons),
        install=tuple(install),
        uninstall=uninstall,
        interpreter=interpreter,
        locked=wanted,
    )


def moved(observed: ObservedVenv) -> str | None:
    """Where the venv was built, when it now lives elsewhere (the project was moved or copied:
    its scripts still name the old path); None when it is where it was built, or unknown."""
    marker = observed.marker
    if marker is None or marker.built_at is None or observed.location is None:
        return None
    return marker.built_at if marker.built_at != observed.location else None


def _fingerprint(
    locks: Mapping[str, Lock],
    interpreters: Mapping[str, Interpreter],
    observation: Observation,
    names: list[str],
) -> str:
    """Digest of everything the plan was computed from (locks, interpreters, observed venvs)."""
    observed = []
    for name in names:
        venv = observation.get(name)
        if venv is None:
            continue
        marker = venv.marker
        observed.append(
            {
                "name": venv.name,
                "managed": venv.managed,
                "marker": None
                if marker is None
                else [
                    marker.plugin,
                    str(marker.status),
                    marker.python_executable,
                    marker.python_version,
                    marker.installer,
                ],
                "problems": list(venv.problems),
                "dists": [[d.name, d.version] for d in venv.dists],
                **({"stale_files": list(venv.stale_files)} if venv.stale_files else {}),
                **({"moved_from": moved(venv)} if moved(venv) is not None else {}),
            }
        )
    data = {
        "plugins": names,
        "locks": {n: lock.content_digest for n, lock in sorted(locks.items())},
        "interpreters": {
            n: [interpreters[n].executable, interpreters[n].version] for n in sorted(locks)
        },
        "observed": observed,
    }
    return "sha256:" + hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def _rel(desired: DesiredState, path: object) -> str:
    text = str(path)
    prefix = str(desired.project_dir) + "/"
    return text.removeprefix(prefix)
