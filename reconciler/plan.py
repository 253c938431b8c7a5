"""The planner: a pure function of desired state, locks, interpreters and observed venvs."""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from pathlib import Path

from reconciler.errors import LockError, combine
from reconciler.lockfile import applicable, check_lock
from reconciler.models import (
    BOOTSTRAP_DISTS,
    Action,
    DesiredState,
    DirectUrl,
    FileDrift,
    Install,
    InstalledDist,
    Interpreter,
    Lock,
    LockedPackage,
    Observation,
    ObservedVenv,
    Plan,
    Plugin,
    Step,
    Strategy,
    Uninstall,
)
from reconciler.support.digest import sha256
from reconciler.support.names import same_version
from reconciler.support.redact import redact
from reconciler.support.values import asdict, evolve


def make_plan(
    desired: DesiredState,
    locks: Mapping[str, Lock | None],
    interpreters: Mapping[str, Interpreter],
    observation: Observation,
    only: Collection[str] = (),
    sources: Mapping[str, str] | None = None,
    *,
    verify: bool = False,
) -> Plan:
    """Diff every declared plugin's lock against what is on disk.

    ``locks`` and ``interpreters`` are keyed by plugin name; ``only`` restricts the plan to those
    plugins (empty means all); ``sources`` maps the source URL of each non-editable local project
    to its current :func:`~reconciler.observe.source_fingerprint`. A plugin whose lock is missing
    or stale gets a step that says why (:attr:`Step.blocked`); one whose venv path holds what
    apply will not replace (:attr:`ObservedVenv.blocked`) is an :attr:`Action.BLOCKED` step.
    Nothing here reads the disk.
    Each step carries everything apply needs: packages, index, strategy, extra files and source
    fingerprints. ``verify`` says the observation checked installed files against their RECORD
    (recorded in the plan, for a saved plan to be checked the same way). The fingerprint digests
    what the plan was made from and what it says to do (see :func:`_fingerprint`).
    """
    declared = {p.name: p for p in desired.plugins}
    names = sorted(set(declared) | {v.name for v in observation.venvs})
    if only:
        names = [n for n in names if n in set(only)]
    steps: list[Step] = []
    warnings: list[str] = []
    checked: dict[str, Lock] = {}
    context = _Context(desired, sources or {})
    by_name = _by_name(observation)
    for name in names:
        observed = by_name.get(name)
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
        try:
            lock = check_lock(plugin, locks.get(name), interpreter, desired)
        except LockError as exc:  # every plugin with a bad lock is named, not just the first
            blocked = Step(name, Action.NOOP, interpreter=interpreter, blocked=exc.message)
            steps.append(blocked)
            continue
        checked[name] = lock
        if observed is not None and observed.blocked is not None:
            # apply will refuse to replace what is there: a blocked step, never a promise
            # (a saved plan names it; apply does the others and fails naming it)
            reason = observed.blocked
            steps.append(Step(name, Action.BLOCKED, reasons=(reason,), interpreter=interpreter))
            continue
        step = _plan_declared(plugin, lock, interpreter, observed, context)
        steps.append(_contract(step, plugin, context))
    plan = Plan(
        steps=tuple(steps),
        warnings=tuple(warnings),
        fingerprint="",
        keep_generations=desired.settings.keep_generations,
        project_dir=desired.project_dir,
        targets=tuple(sorted(set(only))),
        verify=verify,
    )
    fingerprint = _fingerprint(checked, interpreters, observation, names, plan)
    return evolve(plan, fingerprint=fingerprint)


def require_plannable(plan: Plan) -> Plan:
    """``plan``, or a :class:`LockError` naming every blocked plugin and why (one line each)."""
    if plan.blocked:
        raise combine([LockError(s.blocked or "", plugin=s.plugin) for s in plan.blocked])
    return plan


class _Context:
    """What every step's contract reads (a plain class: an attrs class costs start-up)."""

    __slots__ = ("desired", "sources")

    def __init__(self, desired: DesiredState, sources: Mapping[str, str]) -> None:
        self.desired = desired
        self.sources = sources

    @property
    def project_dir(self) -> Path:
        return self.desired.project_dir


def _contract(step: Step, plugin: Plugin, context: _Context) -> Step:
    """``step`` with what executing it needs besides its packages: the index, the strategy
    (a new generation unless an upgrade keeps no generation), the layout's extra files and
    the fingerprints of the local projects it installs."""
    if step.action is Action.NOOP:
        return step
    desired = context.desired
    in_place = step.action is Action.UPGRADE and desired.settings.keep_generations == 0
    sources = []
    for item in step.install:
        package = item.package
        url = package.source_url(context.project_dir) if package.kind == "path" else None
        if url is not None and not package.editable and url in context.sources:
            sources.append((package.name, context.sources[url]))
    return evolve(
        step,
        index=desired.index_for(plugin),
        strategy=Strategy.IN_PLACE if in_place else Strategy.NEW_GENERATION,
        extra_files=tuple(sorted(desired.layout.extra_files(plugin.name).items())),
        sources=tuple(sources),
    )


def _plan_declared(
    plugin: Plugin,
    lock: Lock,
    interpreter: Interpreter,
    observed: ObservedVenv | None,
    context: _Context,
) -> Step:
    wanted = applicable(lock, dict(interpreter.markers))
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
    installed = {d.name: d for d in observed.dists}
    recorded = dict(marker.sources) if marker is not None else {}
    install: list[Install] = []
    upgrade_reasons: list[str] = []
    for package in wanted:
        dist = installed.get(package.name)
        if dist is None:
            install.append(Install(package))
            upgrade_reasons.append(f"add {package.name} {package.label} (missing)")
            continue
        why = _differs(package, dist, recorded, context)
        if why is not None:
            note = None if package.kind == "index" else why
            install.append(Install(package, from_version=dist.version, reason=note))
            upgrade_reasons.append(why)
    locked_names = {p.name for p in wanted}
    uninstall = tuple(
        Uninstall(d.name, d.version)
        for d in observed.dists
        if d.name not in locked_names and d.name not in BOOTSTRAP_DISTS
    )
    upgrade_reasons.extend(f"remove {u.name} {u.version} (not in lock)" for u in uninstall)
    upgrade_reasons.extend(f"{name} out of date" for name in observed.stale_files)
    delete = _repairs(wanted, observed, install, upgrade_reasons)
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
        delete_files=delete,
    )


#: How many files of one distribution a plan names before it counts the rest.
_FILES_SHOWN = 5


def _repairs(
    wanted: tuple[LockedPackage, ...],
    observed: ObservedVenv,
    install: list[Install],
    reasons: list[str],
) -> tuple[str, ...]:
    """Plan the reinstall of every locked distribution whose files differ from its RECORD
    (``--verify``): appended to ``install`` and ``reasons``; returns the unexpected files to
    delete (a reinstall leaves files its RECORD does not list)."""
    if not observed.files:
        return ()
    by_dist: dict[str, list[FileDrift]] = {}
    for drift in observed.files:
        by_dist.setdefault(drift.dist, []).append(drift)
    planned = {i.package.name for i in install}
    installed = {d.name: d for d in observed.dists}
    delete: list[str] = []
    for package in wanted:
        found = by_dist.get(package.name)
        dist = installed.get(package.name)
        if not found or dist is None:
            continue
        delete.extend(f.path for f in found if f.problem == "unexpected")
        named = [f"{package.name}: {f.path} {f.problem}" for f in found[:_FILES_SHOWN]]
        if len(found) > _FILES_SHOWN:
            named.append(f"{package.name}: {len(found) - _FILES_SHOWN} more files")
        reasons.extend(named)
        if package.name in planned:
            continue  # replaced anyway (another version or source)
        more = f" (+{len(found) - 1} more)" if len(found) > 1 else ""
        install.append(
            Install(package, from_version=dist.version, reason=named[0] + more, repair=True)
        )
    return tuple(sorted(set(delete)))


def moved(observed: ObservedVenv) -> str | None:
    """Where the venv was built, when it now lives elsewhere (the project was moved or copied:
    its scripts still name the old path); None when it is where it was built, or unknown."""
    marker = observed.marker
    if marker is None or marker.built_at is None or observed.location is None:
        return None
    return marker.built_at if marker.built_at != observed.location else None


def _differs(
    package: LockedPackage,
    dist: InstalledDist,
    recorded: Mapping[str, str],
    context: _Context,
) -> str | None:
    """Why the installed ``dist`` is not what ``package`` locks (None when it is)."""
    if package.kind == "index":
        return _differs_index(package, dist)
    if dist.direct is None:
        return f"{package.name} {dist.version} -> {package.label}"
    if package.kind == "path":
        return _differs_path(package, dist.direct, recorded, context)
    wanted = _strip_fragment(package.source_url(context.project_dir) or "")
    have = _strip_fragment(dist.direct.url)
    if package.kind == "vcs" and (dist.direct.commit != package.commit or have != wanted):
        shown = f"@{dist.direct.commit[:12]}" if dist.direct.commit else _shown(have)
        return f"{package.name} {shown} -> {package.label}"
    if package.kind == "url" and have != wanted:
        return f"{package.name} {_shown(have)} -> {package.label}"
    return None


def _differs_index(package: LockedPackage, dist: InstalledDist) -> str | None:
    name, direct = package.name, dist.direct
    if not same_version(dist.version, package.version):
        down = " (downgrade)" if Install(package, from_version=dist.version).is_downgrade else ""
        return f"{name} {dist.version} -> {package.version}{down}"
    if direct is not None and (direct.commit is not None or direct.is_dir):
        return f"{name} {dist.version} from {_shown(direct.url)} -> {package.version} (index)"
    return None


def _differs_path(
    package: LockedPackage, direct: DirectUrl, recorded: Mapping[str, str], context: _Context
) -> str | None:
    wanted = package.source_url(context.project_dir)
    if _strip_fragment(direct.url) != wanted or direct.editable != package.editable:
        have = f"{'-e ' if direct.editable else ''}{_shown(direct.url)}"
        return f"{package.name} {have} -> {package.label}"
    if not package.editable and wanted is not None:
        now = context.sources.get(wanted)
        if now is not None and recorded.get(package.name) != now:
            return f"{package.name} rebuilt ({package.url} changed)"
    return None


def _strip_fragment(url: str) -> str:
    return url.split("#", 1)[0]


def _shown(url: str) -> str:
    return url.removeprefix("file://")


def _by_name(observation: Observation) -> dict[str, ObservedVenv]:
    """:meth:`Observation.get` for every name at once (the first entry of a name wins, as
    there), instead of a scan of every venv per name."""
    by_name: dict[str, ObservedVenv] = {}
    for venv in observation.venvs:
        by_name.setdefault(venv.name, venv)
    return by_name


def _fingerprint(
    locks: Mapping[str, Lock],
    interpreters: Mapping[str, Interpreter],
    observation: Observation,
    names: list[str],
    plan: Plan,
) -> str:
    """Digest of everything the plan was computed from (locks, interpreters, observed venvs)
    and of everything it says to do (``plan``'s content: every step's packages, index, strategy,
    extra files and source fingerprints, credentials redacted), so that a saved plan whose steps
    were edited no longer matches the fingerprint of the plan computed again."""
    observed = []
    by_name = _by_name(observation)
    for name in names:
        venv = by_name.get(name)
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
                "dists": [
                    [d.name, d.version, *([] if d.direct is None else [d.direct.url])]
                    for d in venv.dists
                ],
                "sources": [list(pair) for pair in (marker.sources if marker else ())],
                **({"stale_files": list(venv.stale_files)} if venv.stale_files else {}),
                **(
                    {"files": [[f.dist, f.path, f.problem] for f in venv.files]}
                    if venv.files
                    else {}
                ),
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
        "plan": content(plan),
    }
    return "sha256:" + sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def content(plan: Plan) -> str:
    """What ``plan`` says to do as canonical JSON text, every URL's credentials redacted: what
    its fingerprint covers besides its inputs. Every field but the fingerprint, and every step
    but the no-op ones (a no-op step carries nothing apply acts on; leaving them out keeps a
    no-op plan of hundreds of plugins as fast as before)."""

    def value(_owner: object, _field: object, item: object) -> object:
        if isinstance(item, Path):
            return str(item)
        return redact(item) if isinstance(item, str) and "@" in item else item

    acting = tuple(s for s in plan.steps if s.action is not Action.NOOP)
    data = asdict(evolve(plan, steps=acting, fingerprint=""), value_serializer=value)
    return json.dumps(data, sort_keys=True)


def _rel(desired: DesiredState, path: object) -> str:
    text = str(path)
    prefix = str(desired.project_dir) + "/"
    return text.removeprefix(prefix)
