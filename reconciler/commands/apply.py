"""``reconciler apply``: plan under the venv root's lock, check a saved plan, execute."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconciler.apply.applylock import exclusive, free_stamp
from reconciler.apply.generations import leftovers
from reconciler.commands.project import (
    Planned,
    Project,
    did_you_mean,
    names_plugin,
    planned,
    with_wheelhouse,
)
from reconciler.errors import PlanFileError, StalePlanError
from reconciler.models import IndexOptions, Plan
from reconciler.results.changes import ApplyOutcome
from reconciler.support import scratch

if TYPE_CHECKING:
    from reconciler.installers.base import Installer


class SavedPlan:
    """A plan file written by ``plan -o``: where it is and the plan it holds (this module's
    classes are plain: made once per run, compared by nobody; an attrs class costs start-up)."""

    __slots__ = ("path", "plan")

    def __init__(self, path: Path, plan: Plan) -> None:
        self.path = path
        self.plan = plan


def read_saved_plan(path: Path) -> SavedPlan:
    """Read a plan file written by ``plan -o`` (see ``docs/plan-format.md``)."""
    from reconciler import planfile  # noqa: PLC0415 - start-up: apply FILE only
    from reconciler.support.files import read_regular  # noqa: PLC0415 - start-up: apply FILE only

    try:  # the file the user named (a link followed), never a FIFO, never over 16 MiB
        text = read_regular(path, Path(path.anchor or "/")).decode("utf-8")
    except OSError as exc:
        raise PlanFileError("cannot read plan file", file=path, cause=exc.strerror) from exc
    except UnicodeDecodeError as exc:
        raise PlanFileError("not a plan file (not UTF-8 text)", file=path) from exc
    return SavedPlan(path, planfile.read_plan(text, path))


def plan_file_argument(project: Project, first: str) -> Path | None:
    """Whether ``apply``'s first argument is a plan file (its path) or a plugin (None).

    Decided by what exists, never by the spelling: a declared plugin (or ``<type>/<name>``, or
    a type) is a plugin even when named like a file (``./NAME`` then means the file); else an
    existing file is a plan file. A name that is neither, but is spelt like a file (``.json``,
    a path), is one error saying both; any other name is left to the plugin check.
    """
    if names_plugin(project, first):
        return None
    path = Path(first)
    if path.is_file():
        return path
    if (
        path.suffix == ".json"
        or first.startswith((".", "/"))
        or path.exists()
        or _a_path(project, first)
    ):
        where = project.desired.project_file.name
        what = "not a file" if path.exists() else "no such file"
        raise PlanFileError(
            f"neither a plan file ({what}) nor a plugin declared in {where}"
            f"{did_you_mean(project, first)}",
            file=first,  # as typed
        )
    return None


def _a_path(project: Project, name: str) -> bool:
    """``name`` holds a ``/`` that no ``<type>/`` of the project's names explains."""
    if "/" not in name:
        return False
    names = [p.name for p in project.desired.plugins] + [a for a, _ in project.desired.aliases]
    return name.split("/", 1)[0] not in {n.split("/", 1)[0] for n in names if "/" in n}


class ApplyOptions:
    """How ``apply`` runs."""

    __slots__ = (
        "index_override", "installer", "jobs", "lock_timeout", "only", "saved", "verify"
    )  # fmt: skip

    def __init__(
        self,
        *,
        only: tuple[str, ...] = (),
        saved: SavedPlan | None = None,
        installer: str | None = None,
        index_override: IndexOptions | None = None,
        jobs: int = 1,
        lock_timeout: float = 0.0,
        verify: bool = False,
    ) -> None:
        self.only = only
        self.saved = saved
        self.installer = installer
        self.index_override = index_override
        self.jobs = jobs
        self.lock_timeout = lock_timeout
        self.verify = verify  # also repair installed files that differ from their RECORD


def apply(
    project: Project,
    options: ApplyOptions,
    *,
    show_plan: Callable[[Plan], None],
    log: Callable[[str, str], None],
    stop: threading.Event | None = None,
) -> ApplyOutcome:
    """Lock the venv root, plan, check a saved plan's fingerprint, and execute the plan."""
    desired = project.desired
    # Plan and validate first, without the lock: an apply that fails or has nothing to do
    # must not touch the venv root at all (not even to create the lock file).
    root, keep = desired.settings.venv_root, desired.settings.keep_generations
    stamp = free_stamp(root)  # before the plan reads the venv root: see still_current
    first = _checked_plan(project, options)
    plan = first.plan
    if not plan.changes and not leftovers(desired.layout, keep):
        show_plan(plan)
        if not plan.refused:
            return ApplyOutcome(plan, None)  # nothing to do: no executor loaded
        from reconciler.apply.execute import ApplyResult, refusals  # noqa: PLC0415 - start-up: a no-op apply needs none

        # nothing to do but say what apply refuses
        return ApplyOutcome(plan, ApplyResult(refusals(plan), 0.0))
    from reconciler.apply.execute import apply_plan  # noqa: PLC0415 - start-up: see above

    with exclusive(root, options.lock_timeout) as found, scratch.session(desired.layout.root):
        # The world may have moved while we waited (another apply): plan again unless the venv
        # root reads as it did (the plan is a pure function of what it read).
        untouched = stamp is not None and found == stamp  # no holder in between
        if not first.still_current(desired.layout, no_holder_since=untouched):
            plan = _checked_plan(project, options).plan
        show_plan(plan)
        installer = _installer(options.installer or desired.settings.installer)
        result = apply_plan(plan, desired.layout, installer, log, jobs=options.jobs, stop=stop)
        if not plan.changes and not plan.refused:
            return ApplyOutcome(plan, None)
    return ApplyOutcome(plan, result)


def _installer(name: str) -> Installer:
    """The installer backend (imported only when there is something to do: a no-op apply
    pays for none of its machinery)."""
    from reconciler.installers import get_installer  # noqa: PLC0415 - start-up: see above

    return get_installer(name)


def _checked_plan(project: Project, options: ApplyOptions) -> Planned:
    saved = options.saved
    if saved is None:
        made = planned(project, options.only, verify=options.verify)
    else:
        made = _saved_plan(project, options, saved)
    if options.index_override is None:
        return made
    # where artifacts come from at deploy time: the wheels of sources too (fetch's wheelhouse)
    plan = with_wheelhouse(made.plan.with_index(options.index_override))
    return Planned(plan, made.observation, made.verify)


def _saved_plan(project: Project, options: ApplyOptions, saved: SavedPlan) -> Planned:
    """The plan of ``saved``, once the world is seen to be as it was when it was made.

    The plan is computed again for the same plugins (and ``--verify``) from the locks and the
    disk as they are now: a different fingerprint means the world moved (stale); the same
    fingerprint with other steps means the file was edited, and it is refused (a plan file
    is not trusted to say more than the planner would).
    """
    from reconciler import planfile  # noqa: PLC0415 - start-up: apply FILE only

    kept = saved.plan
    named = tuple(sorted(set(project.desired.resolve_names(options.only))))
    if options.only and named != kept.targets:
        shown = ", ".join(kept.targets) or "every plugin"
        raise PlanFileError(
            f"this plan was made for {shown}: name no plugins with it, or plan again",
            file=saved.path,
        )
    if options.verify and not kept.verify:
        raise PlanFileError("this plan was made without --verify; plan again", file=saved.path)
    made = planned(project, kept.targets, verify=kept.verify)
    now = made.plan
    before, after = planfile.contract(kept), planfile.contract(now)
    moved = _differing(before, after)
    if kept.fingerprint != now.fingerprint:
        what = f"plugins {', '.join(moved)}" if moved else "the locks or venvs"
        raise StalePlanError(
            f"stale plan {saved.path}: {what} changed since it was made; run plan again"
        )
    if before != after:
        what = f"the steps of {', '.join(moved)}" if moved else "it"
        raise PlanFileError(
            f"refusing a plan edited since it was made: {what} differ from the plan its "
            "fingerprint stands for; run plan again",
            file=saved.path,
        )
    return Planned(planfile.with_credentials(kept, now), made.observation, made.verify)


def _differing(saved: dict[str, Any], now: dict[str, Any]) -> list[str]:
    """The plugins whose step differs between two plan contracts (credentials redacted)."""
    before = {s["plugin"]: s for s in saved["steps"]}
    after = {s["plugin"]: s for s in now["steps"]}
    return sorted(n for n in set(before) | set(after) if before.get(n) != after.get(n))
