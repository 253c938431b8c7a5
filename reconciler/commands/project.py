"""What every command shares: load the project, select plugins, read the locks, plan."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from reconciler import interpreters, lockformats, sources
from reconciler.errors import ConfigError, InterpreterError, ReconcilerError, combine
from reconciler.layouts import check_walls
from reconciler.models import (
    BOOTSTRAP_DISTS,
    DesiredState,
    Interpreter,
    Lock,
    Observation,
    ObservedVenv,
    Plan,
    Plugin,
)
from reconciler.observe import observe, observe_venv, source_fingerprint
from reconciler.plan import make_plan, require_plannable
from reconciler.support import wheelhouse
from reconciler.support.paths import check_root

if TYPE_CHECKING:
    from reconciler.layouts import Layout


class Project:
    """A loaded project: desired state plus each plugin's interpreter (a plain class: an attrs
    class costs start-up). ``interpreters``: every plugin whose interpreter was found;
    ``broken``: plugins whose interpreter cannot be used, with the one-line reason; they block
    only commands about themselves (and show their problem in ``status``)."""

    __slots__ = ("broken", "desired", "interpreters")

    def __init__(
        self,
        desired: DesiredState,
        interpreters: dict[str, Interpreter],
        broken: dict[str, ReconcilerError] | None = None,
    ) -> None:
        self.desired = desired
        self.interpreters = interpreters
        self.broken = {} if broken is None else broken

    def require(self, only: Collection[str] = ()) -> None:
        """Raise naming every broken plugin among ``only`` (all plugins when empty)."""
        names = [n for n in sorted(self.broken) if not only or n in only]
        if names:
            raise combine([self.broken[n] for n in names])


def load_project(project: Path | None) -> Project:
    """Find and load the project file and resolve every plugin's interpreter (memoised).

    A plugin whose interpreter is missing does not fail the load: it is recorded in
    ``Project.broken`` so that commands about the other plugins still work.
    """
    desired = sources.load(sources.find_project_file(project))
    by_spec: dict[str, Interpreter | ReconcilerError] = {}
    resolved: dict[str, Interpreter] = {}
    broken: dict[str, ReconcilerError] = {}
    for plugin in desired.plugins:
        if plugin.python not in by_spec:
            try:
                by_spec[plugin.python] = interpreters.resolve(plugin.python, desired.project_dir)
            except ReconcilerError as exc:
                by_spec[plugin.python] = exc
        found = by_spec[plugin.python]
        if isinstance(found, ReconcilerError):
            broken[plugin.name] = InterpreterError(str(found), plugin=plugin.name)
        else:
            resolved[plugin.name] = found
    return Project(desired=desired, interpreters=resolved, broken=broken)


def select(project: Project, names: Collection[str], *, allow_undeclared: bool) -> tuple[str, ...]:
    """The plugins that command-line ``names`` stand for (aliases resolved); raise when one is
    unknown."""
    resolved = project.desired.resolve_names(names)
    check_selection(project, resolved, allow_undeclared=allow_undeclared)
    return resolved


def resolve_one(project: Project, name: str) -> str:
    """The one plugin ``name`` stands for; raise when it stands for several."""
    resolved = project.desired.resolve_names([name])
    if len(resolved) > 1:
        raise ReconcilerError(
            f"plugin name {name!r} is ambiguous: say one of {', '.join(resolved)}"
        )
    return resolved[0]


def check_selection(project: Project, names: Collection[str], *, allow_undeclared: bool) -> None:
    """Raise when a plugin named on the command line is unknown."""
    if not names:
        return  # nothing named: nothing to check (and no second observe of the venv root)
    declared = {p.name for p in project.desired.plugins}
    on_disk: set[str] = set()
    if allow_undeclared:
        on_disk = {v.name for v in observe(project.desired.layout).venvs}
    for name in names:
        if name not in declared and name not in on_disk:
            raise unknown_plugin(project, name)


def unknown_plugin(project: Project, name: str) -> ReconcilerError:
    """``plugin 'x' is not declared in FILE``, with a did-you-mean for a close declared name."""
    return ReconcilerError(
        f"plugin {name!r} is not declared in {project.desired.project_file.name}"
        f"{did_you_mean(project, name)}"
    )


def names_plugin(project: Project, name: str) -> bool:
    """Whether ``name`` selects declared plugins (a name, ``<type>/<name>`` or a type alias)."""
    return name in {p.name for p in project.desired.plugins} or name in dict(
        project.desired.aliases
    )


def did_you_mean(project: Project, name: str) -> str:
    """``"; did you mean 'x'?"`` for declared names (then aliases) close to ``name``, or ``""``."""
    import difflib  # noqa: PLC0415 - only on this error path

    names = sorted(p.name for p in project.desired.plugins)
    aliases = sorted(set(dict(project.desired.aliases)) - set(names))
    close = difflib.get_close_matches(name, names, n=3, cutoff=0.6) or (
        difflib.get_close_matches(name, aliases, n=3, cutoff=0.6)
    )
    return f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""


def read_locks(desired: DesiredState, only: Collection[str] = ()) -> dict[str, Lock | None]:
    """The lock of every (selected) declared plugin, None where the file is missing."""
    first: dict[str, Plugin] = {}  # each name's plugin as ``desired.plugin(name)`` finds it
    for plugin in desired.plugins:
        first.setdefault(plugin.name, plugin)
    return {
        name: lockformats.read_plugin_lock(desired, name, plugin)
        for name, plugin in first.items()
        if not only or name in only
    }


def compute_plan(project: Project, only: Collection[str] = (), *, verify: bool = False) -> Plan:
    """Observe the venv root and plan against the locks (``verify``: also check every installed
    file of the selected venvs against its RECORD)."""
    return planned(project, only, verify=verify).plan


class Planned:
    """A plan with the observation it was made from (see :meth:`still_current`); a plain
    class: it never leaves ``apply``, and an attrs class costs start-up on every command."""

    __slots__ = ("observation", "plan", "verify")

    def __init__(
        self, plan: Plan, observation: Observation, verify: Collection[str] | bool
    ) -> None:
        self.plan = plan
        self.observation = observation
        self.verify = verify  # what ``observe`` was asked to verify

    def still_current(self, layout: Layout, *, no_holder_since: bool = False) -> bool:
        """True when the venv root reads as it did for this plan, so that the plan (a pure
        function of the project, the locks and this observation) is still the one to apply.

        ``no_holder_since``: the caller, now holding the apply lock, saw that nobody took it
        since before this plan observed the venv root (:func:`~reconciler.apply.applylock.
        free_stamp`): no apply or rollback changed anything in between. Then only what the
        plan acts on is read again, whole (the entries of the root and the venvs of the
        plugins it changes or refuses: a hand edit there would make its steps wrong); a hand
        edit elsewhere is no different from one made just after this apply, which never reads
        nor writes those venvs. Otherwise (or with ``--verify``) the whole root is observed
        again.
        """
        if not no_holder_since or self.verify:
            return observe(layout, verify=self.verify) == self.observation
        try:
            entries = layout.entries()
        except OSError:
            return False
        venvs = self.observation.venvs
        if entries != [(v.name, v.path) for v in venvs]:
            return False
        plan = self.plan
        touched = {s.plugin for s in (*plan.changes, *plan.refused)}
        return all(observe_venv(v.path, v.name, layout) == v for v in venvs if v.name in touched)


def planned(project: Project, only: Collection[str] = (), *, verify: bool = False) -> Planned:
    """:func:`compute_plan`, keeping the observation it was made from."""
    only = select(project, only, allow_undeclared=True)
    project.require(only)
    desired = project.desired
    check_root(desired.layout.root, desired.project_dir, "venv root")  # before reading it
    what: Collection[str] | bool = (only or True) if verify else False
    observation = observe(desired.layout, verify=what)
    locks = read_locks(desired, only)
    trees = local_sources(desired, locks)
    plan = make_plan(desired, locks, project.interpreters, observation, only, trees, verify=verify)
    require_plannable(plan)
    check_plan_walls(desired, plan, observation)
    return Planned(with_wheelhouse(plan), observation, what)


def check_plan_walls(
    desired: DesiredState, plan: Plan, observation: Observation | None = None
) -> None:
    """Raise what apply raises before it touches anything, so that a plan never promises what
    apply refuses: a plugin the plan changes or refuses (or one with generations on disk)
    behind a symlink out of the venv root (:func:`~reconciler.layouts.check_walls`), and,
    when there is something to do, an apply lock file or scratch area apply would not use.
    Managed venvs whose walls ``observation`` (just made) found sound are not checked again."""
    layout = desired.layout
    touched = {s.plugin for s in (*plan.changes, *plan.refused)}
    sound = (
        set()
        if observation is None  # a managed venv's ``blocked`` is what check_walls said
        else {v.name for v in observation.venvs if v.managed and v.blocked is None}
    )
    for plugin in sorted((touched | set(layout.leftover_plugins())) - sound):
        check_walls(layout, plugin)
    if plan.changes:
        from reconciler.apply.applylock import check_lock_file  # noqa: PLC0415 - start-up: a no-op plan needs none
        from reconciler.support import scratch  # noqa: PLC0415 - start-up: a no-op plan needs none

        check_lock_file(layout.root)
        scratch.check_walls(scratch.scratch_base(layout.root))


def with_wheelhouse(plan: Plan) -> Plan:
    """``plan`` installing each locked VCS commit and non-editable local project from the wheel
    ``reconciler fetch`` built of it, where its step's find-links hold one (checks nothing and
    reads nothing when no step installs such a source from find-links)."""
    if not any(
        any(p.prebuilt is not None for p in step.locked)
        or (
            step.index is not None
            and step.index.find_links
            and any(p.kind in ("vcs", "path") and not p.editable for p in step.locked)
        )
        for step in plan.changes
    ):
        return plan
    if not any(p.prebuilt is not None for step in plan.steps for p in step.locked) and not any(
        wheelhouse.has_manifest(step.index.find_links, plan.project_dir)
        for step in plan.steps
        if step.index is not None and step.index.find_links and step.interpreter is not None
    ):
        return plan  # no built wheel to choose nor one to drop: use_wheelhouse changes nothing
    from reconciler.locking.fetch_wheels import use_wheelhouse  # noqa: PLC0415 - start-up: sources only

    return use_wheelhouse(plan)


def local_sources(desired: DesiredState, locks: Mapping[str, Lock | None]) -> dict[str, str]:
    """``{source URL: fingerprint}`` of every non-editable local project the locks name.

    Editable installs need none (they are live); a fingerprint stats the tree's files and reads
    none, so this costs nothing when no lock has a local project.
    """
    found: dict[str, str] = {}
    for lock in locks.values():
        for package in lock.packages if lock is not None else ():
            if package.kind != "path" or package.editable:
                continue
            url = package.source_url(desired.project_dir)
            if url is not None and url not in found:
                found[url] = source_fingerprint(Path(unquote(urlsplit(url).path)))
    return found


def counted(venv: ObservedVenv | None, locked: frozenset[str]) -> int:
    """Installed distributions as ``plan`` counts them: pip, setuptools and wheel only when
    locked."""
    if venv is None:
        return 0
    return sum(1 for d in venv.dists if d.name not in BOOTSTRAP_DISTS or d.name in locked)


def refuse_to_edit(project_file: Path, command: str) -> None:
    """Raise unless ``project_file``'s source can be edited by ``add``/``remove``."""
    if not sources.source_for(project_file).editable:
        raise ConfigError(
            f"{project_file.name}: `reconciler {command}` edits reconciler.toml only; "
            f"in a Meltano project use `meltano {command}`, then `reconciler lock`"
        )
