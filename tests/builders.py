"""The one set of model builders for tests: plugins, desired states, locks, observed venvs, steps
and plans, with fixed fake paths (``/p/...``) and interpreters. No disk, no processes."""

from __future__ import annotations

import hashlib
from pathlib import Path

from packaging.utils import canonicalize_name

from reconciler.lockfile import inputs_digest
from reconciler.models import (
    Action,
    DesiredState,
    IndexOptions,
    Install,
    InstalledDist,
    Interpreter,
    Lock,
    LockedPackage,
    MarkerStatus,
    Observation,
    ObservedVenv,
    Plan,
    Plugin,
    Settings,
    StateMarker,
    Step,
    Uninstall,
)
from reconciler.plan import make_plan

PROJECT_FILE = Path("/p/reconciler.toml")
VENV_ROOT = Path("/p/.venvs")
LOCK_DIR = Path("/p/lock")


def _markers(version: str, *, windows: bool = False) -> tuple[tuple[str, str], ...]:
    env = {
        "implementation_name": "cpython",
        "implementation_version": version,
        "os_name": "nt" if windows else "posix",
        "platform_machine": "AMD64" if windows else "x86_64",
        "platform_python_implementation": "CPython",
        "platform_release": "10" if windows else "6.1.0",
        "platform_system": "Windows" if windows else "Linux",
        "platform_version": "10.0.19045" if windows else "#1 SMP PREEMPT_DYNAMIC",
        "python_full_version": version,
        "python_version": ".".join(version.split(".")[:2]),
        "sys_platform": "win32" if windows else "linux",
    }
    return tuple(sorted(env.items()))


PY = Interpreter("/usr/bin/python3.11", "3.11.7", _markers("3.11.7"))
PY_OLD = Interpreter("/usr/bin/python3.11", "3.11.2", _markers("3.11.2"))
PY_OTHER_EXE = Interpreter("/opt/python/bin/python3.11", "3.11.7", _markers("3.11.7"))
PY_WINDOWS = Interpreter("C:/Python311/python.exe", "3.11.7", _markers("3.11.7", windows=True))
PY_312 = Interpreter("/usr/bin/python3.12", "3.12.1", _markers("3.12.1"))


def make_settings(index: IndexOptions | None = None) -> Settings:
    return Settings(venv_root=VENV_ROOT, lock_dir=LOCK_DIR, index=index or IndexOptions())


def plugin(name: str, *requirements: str) -> Plugin:
    """A plugin with ``requirements`` (none by default: any lock's pins satisfy it)."""
    return Plugin(name=name, requirements=requirements, python="python3")


def desired(*plugins: Plugin, index: IndexOptions | None = None) -> DesiredState:
    return DesiredState(
        project_file=PROJECT_FILE, settings=make_settings(index), plugins=tuple(plugins)
    )


def pkg(name: str, version: str, marker: str | None = None) -> LockedPackage:
    digest = hashlib.sha256(f"{name}-{version}".encode()).hexdigest()
    return LockedPackage(
        name=canonicalize_name(name),
        version=version,
        requirement=f"{name}=={version}",
        hashes=(f"sha256:{digest}",),
        marker=marker,
    )


def lock_for(
    plug: Plugin,
    *packages: LockedPackage,
    interpreter: Interpreter = PY,
    index: IndexOptions | None = None,
) -> Lock:
    """A lock that is fresh for ``plug`` resolved on ``interpreter`` with ``index``."""
    inputs = inputs_digest(plug, interpreter.major_minor, index or IndexOptions())
    text = "\n".join(p.install_line() for p in packages)
    return Lock(
        plugin=plug.name,
        path=LOCK_DIR / f"{plug.name}.txt",
        inputs=inputs,
        packages=packages,
        content_digest="sha256:" + hashlib.sha256(text.encode()).hexdigest(),
    )


def state_marker(
    name: str, interpreter: Interpreter = PY, status: MarkerStatus = MarkerStatus.COMPLETE
) -> StateMarker:
    return StateMarker(
        plugin=name,
        status=status,
        python_executable=interpreter.executable,
        python_version=interpreter.version,
        installer="pip",
    )


def dist(name: str, version: str) -> InstalledDist:
    return InstalledDist(canonicalize_name(name), version)


def venv(
    name: str,
    *dists: InstalledDist,
    interpreter: Interpreter = PY,
    marker: StateMarker | None = None,
    has_marker_file: bool = True,
    problems: tuple[str, ...] = (),
) -> ObservedVenv:
    """An observed venv; healthy and managed (complete marker for ``interpreter``) by default."""
    if marker is None and has_marker_file and not problems:
        marker = state_marker(name, interpreter)
    return ObservedVenv(
        name=name,
        path=VENV_ROOT / name,
        has_marker_file=has_marker_file,
        marker=marker,
        problems=problems,
        dists=tuple(sorted(dists, key=lambda d: (d.name, d.version))),
    )


def unmanaged(name: str, *dists: InstalledDist) -> ObservedVenv:
    """A directory without a state marker (what observe reports for it)."""
    return venv(name, *dists, has_marker_file=False, problems=("incomplete (no state marker)",))


def observation(*venvs: ObservedVenv) -> Observation:
    return Observation(root=VENV_ROOT, venvs=tuple(sorted(venvs, key=lambda v: v.name)))


def plan_one(
    packages: tuple[LockedPackage, ...],
    observed: ObservedVenv | None,
    interpreter: Interpreter = PY,
) -> Plan:
    """Plan a single declared plugin ``tap`` whose lock holds ``packages``."""
    tap = plugin("tap")
    venvs = () if observed is None else (observed,)
    return make_plan(
        desired(tap),
        {"tap": lock_for(tap, *packages, interpreter=interpreter)},
        {"tap": interpreter},
        observation(*venvs),
    )


FINGERPRINT = "sha256:" + "ab" * 32


def step(
    plugin: str,
    action: Action,
    *reasons: str,
    install: tuple[Install, ...] = (),
    uninstall: tuple[Uninstall, ...] = (),
) -> Step:
    """A plan step (what the planner would produce; nothing is checked)."""
    return Step(plugin, action, reasons=reasons, install=install, uninstall=uninstall)


def noop(plugin: str) -> Step:
    """A step that changes nothing."""
    return step(plugin, Action.NOOP)


def plan_of(*steps: Step) -> Plan:
    """A plan of ``steps`` with a fixed fingerprint."""
    return Plan(steps=steps, warnings=(), fingerprint=FINGERPRINT)
