"""Carry out a plan on disk, one step per plugin; the state marker is always written last."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import attrs

from reconciler.errors import ReconcilerError, SafetyError
from reconciler.installers.base import Installer
from reconciler.models import (
    PLUGIN_NAME_RE,
    Action,
    DesiredState,
    MarkerStatus,
    Plan,
    StateMarker,
    Step,
)
from reconciler.state import MARKER_NAME, read_marker, with_status, write_marker

Log = Callable[[str], None]


@attrs.frozen
class StepResult:
    """How one step ended."""

    step: Step
    seconds: float
    error: str | None = None


@attrs.frozen
class ApplyResult:
    """How the whole apply ended."""

    results: tuple[StepResult, ...]
    seconds: float

    @property
    def failed(self) -> tuple[StepResult, ...]:
        """The steps that raised an error."""
        return tuple(r for r in self.results if r.error is not None)

    def count(self, action: Action) -> int:
        """How many steps with ``action`` succeeded."""
        return sum(1 for r in self.results if r.error is None and r.step.action is action)


def apply_plan(plan: Plan, desired: DesiredState, installer: Installer, log: Log) -> ApplyResult:
    """Perform every change of ``plan``; a failing plugin does not stop the others."""
    started = time.monotonic()
    results: list[StepResult] = []
    for step in plan.changes:
        step_start = time.monotonic()
        log(f"{step.plugin}: {_verb(step.action)}")
        try:
            _STEPS[step.action](step, desired, installer)
        except ReconcilerError as exc:
            results.append(StepResult(step, time.monotonic() - step_start, str(exc)))
            log(f"{step.plugin}: failed: {exc}")
            continue
        elapsed = time.monotonic() - step_start
        results.append(StepResult(step, elapsed))
        log(f"{step.plugin}: {step.action} done in {elapsed:.1f}s")
    return ApplyResult(tuple(results), time.monotonic() - started)


def _verb(action: Action) -> str:
    return {
        Action.CREATE: "creating",
        Action.UPGRADE: "upgrading",
        Action.REINSTALL: "reinstalling",
        Action.REMOVE: "removing",
        Action.NOOP: "checking",
    }[action]


def venv_path(desired: DesiredState, name: str) -> Path:
    """``<venv-root>/<name>``, refusing names that could escape the root."""
    root = desired.settings.venv_root
    if not PLUGIN_NAME_RE.match(name) or name in (".", ".."):
        raise SafetyError(f"refusing to touch {name!r}: not a valid plugin name")
    path = root / name
    if Path(os.path.realpath(path.parent)) != Path(os.path.realpath(root)):
        raise SafetyError(f"refusing to touch {path}: outside the venv root {root}")
    return path


def _check_owned(path: Path, root: Path) -> None:
    """Raise unless ``path`` is a real directory under ``root`` that reconciler made."""
    if path.is_symlink():
        raise SafetyError(f"refusing to delete {path}: it is a symlink, not a venv reconciler made")
    if Path(os.path.realpath(path)).parent != Path(os.path.realpath(root)):
        raise SafetyError(f"refusing to delete {path}: outside the venv root {root}")
    if not path.is_dir():
        raise SafetyError(f"refusing to delete {path}: not a directory")
    if not (path / MARKER_NAME).is_file() and any(path.iterdir()):
        raise SafetyError(
            f"refusing to delete {path}: not made by reconciler (no state marker); "
            "move it away and apply again"
        )


def _create(step: Step, desired: DesiredState, installer: Installer) -> None:
    path = venv_path(desired, step.plugin)
    interpreter = step.interpreter
    if interpreter is None:
        raise ReconcilerError(f"plugin {step.plugin!r}: no interpreter in plan step")
    desired.settings.venv_root.mkdir(parents=True, exist_ok=True)
    path.mkdir()
    marker = StateMarker(
        plugin=step.plugin,
        status=MarkerStatus.BUILDING,
        python_executable=interpreter.executable,
        python_version=interpreter.version,
        installer=installer.name,
    )
    write_marker(path, marker)  # first: from now on the directory is provably ours
    installer.create_venv(interpreter.executable, path)
    installer.install(
        path, [i.package for i in step.install], desired.settings.index, desired.project_dir
    )
    write_marker(path, with_status(marker, MarkerStatus.COMPLETE))


def _reinstall(step: Step, desired: DesiredState, installer: Installer) -> None:
    path = venv_path(desired, step.plugin)
    _check_owned(path, desired.settings.venv_root)
    shutil.rmtree(path)
    _create(step, desired, installer)


def _upgrade(step: Step, desired: DesiredState, installer: Installer) -> None:
    path = venv_path(desired, step.plugin)
    marker = read_marker(path)
    if marker is None:
        raise SafetyError(f"plugin {step.plugin!r}: state marker vanished; plan again")
    write_marker(path, with_status(marker, MarkerStatus.UPGRADING))
    installer.uninstall(path, [u.name for u in step.uninstall])
    installer.install(
        path, [i.package for i in step.install], desired.settings.index, desired.project_dir
    )
    write_marker(path, with_status(marker, MarkerStatus.COMPLETE))


def _remove(step: Step, desired: DesiredState, installer: Installer) -> None:
    path = venv_path(desired, step.plugin)
    _check_owned(path, desired.settings.venv_root)
    shutil.rmtree(path)


def _noop(step: Step, desired: DesiredState, installer: Installer) -> None:
    return


_STEPS: dict[Action, Callable[[Step, DesiredState, Installer], None]] = {
    Action.CREATE: _create,
    Action.UPGRADE: _upgrade,
    Action.REINSTALL: _reinstall,
    Action.REMOVE: _remove,
    Action.NOOP: _noop,
}
