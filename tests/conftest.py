"""Shared fixtures for the end-to-end tests: hermetic env, locked example projects, helpers.

Everything is real: the CLI runs as a subprocess (``python -m reconciler``), venvs are built by
the real installer (pip, or uv when installed) from the offline fixture wheelhouse, and locks
come from the real pip-compile. Nothing here mocks pip, venv or the disk.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import tomlkit

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "fixtures" / "example"
WHEELS = EXAMPLE / "wheels"
PLUGINS = ("tap-alpha", "tap-beta", "target-gamma")
#: What each example plugin's console script prints once its venv matches the example locks.
EXPECTED_OUTPUT = {
    "tap-alpha": "tap-alpha 1.0.0 (demo-common 1.1.0)",
    "tap-beta": "tap-beta 1.0.0 (demo-common 1.1.0) demo-extra 2.0.0",
    "target-gamma": "target-gamma 1.0.0 (demo-common 1.0.0)",
}
#: The distributions each example plugin's venv holds after apply (from the example locks).
EXPECTED_DISTS = {
    "tap-alpha": {"demo-common": "1.1.0", "tap-alpha": "1.0.0"},
    "tap-beta": {"demo-common": "1.1.0", "demo-extra": "2.0.0", "tap-beta": "1.0.0"},
    "target-gamma": {"demo-common": "1.0.0", "target-gamma": "1.0.0"},
}
#: Ambient pip index configuration that must never reach the test runner or reconciler.
AMBIENT_PIP_VARS = (
    "PIP_FIND_LINKS",
    "PIP_INDEX_URL",
    "PIP_EXTRA_INDEX_URL",
    "PIP_CONSTRAINT",
    "PIP_NO_INDEX",
    "PIP_REQUIRE_VIRTUALENV",
)
MARKER = "reconciler-state.json"

Snapshot = dict[str, tuple[int, int, int]]


def hermetic_environ(cache_dir: Path, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """``base`` (default ``os.environ``) without ambient pip index config, cache redirected."""
    env = dict(os.environ if base is None else base)
    for name in AMBIENT_PIP_VARS:
        env.pop(name, None)
    env["PIP_CONFIG_FILE"] = os.devnull
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["RECONCILER_CACHE_DIR"] = str(cache_dir)
    env["UV_CACHE_DIR"] = str(cache_dir / "uv")  # uv hard-links from here: same filesystem
    env["XDG_CACHE_HOME"] = str(cache_dir / "xdg")  # pip and anything else: not ~/.cache
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # running a console script must not add .pyc files
    env["NO_COLOR"] = "1"
    return env


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One reconciler cache (interpreter probes, pip-tools) for the whole session."""
    return tmp_path_factory.mktemp("reconciler-cache")


@pytest.fixture(autouse=True)
def _hermetic(monkeypatch: pytest.MonkeyPatch, cache_dir: Path) -> None:
    """No ambient pip configuration and no ~/.cache writes, for every test."""
    for name in AMBIENT_PIP_VARS:
        monkeypatch.delenv(name, raising=False)
    wanted = hermetic_environ(cache_dir, {})
    for name, value in wanted.items():
        monkeypatch.setenv(name, value)


@dataclass(frozen=True)
class Result:
    """How one CLI run ended."""

    code: int
    out: str
    err: str

    @property
    def err_lines(self) -> list[str]:
        """The non-empty lines written to stderr."""
        return [line for line in self.err.splitlines() if line.strip()]

    def describe(self) -> str:
        """Everything, for assertion messages."""
        return f"exit {self.code}\n--- stdout ---\n{self.out}\n--- stderr ---\n{self.err}"


def run_cli(
    project: Path, *args: str, env: Mapping[str, str] | None = None, timeout: float = 300
) -> Result:
    """Run ``python -m reconciler --project DIR ARGS...`` as a real subprocess."""
    completed = subprocess.run(
        [sys.executable, "-m", "reconciler", "--project", str(project), *args],
        capture_output=True,
        text=True,
        cwd=project,
        env=dict(os.environ if env is None else env),
        timeout=timeout,
        check=False,
    )
    return Result(completed.returncode, completed.stdout, completed.stderr)


def snapshot(root: Path) -> Snapshot:
    """``{relpath: (inode, mtime_ns, size)}`` of ``root`` and all below; symlinks not followed."""
    if not os.path.lexists(root):
        return {}
    found: Snapshot = {}

    def add(path: str) -> None:
        st = os.lstat(path)
        found[os.path.relpath(path, root)] = (st.st_ino, st.st_mtime_ns, st.st_size)

    add(str(root))
    for directory, dirnames, filenames in os.walk(root, followlinks=False):
        for name in (*dirnames, *filenames):
            add(os.path.join(directory, name))  # noqa: PTH118 - os.walk gives strings
    return found


def dist_infos(site: Path) -> dict[str, str]:
    """``{canonical name: version}`` of every ``*.dist-info`` in ``site`` (read from disk)."""
    found: dict[str, str] = {}
    for entry in sorted(site.glob("*.dist-info")):
        name, _, version = entry.name.removesuffix(".dist-info").rpartition("-")
        canonical = re.sub(r"[-_.]+", "-", name).lower()
        assert canonical not in found, f"duplicate dist-info for {canonical} in {site}"
        found[canonical] = version
    return found


@dataclass(frozen=True)
class Project:
    """A throw-away copy of the example project, with helpers to drive and inspect it."""

    root: Path

    @property
    def toml(self) -> Path:
        """The project's ``reconciler.toml``."""
        return self.root / "reconciler.toml"

    @property
    def venv_root(self) -> Path:
        """The default venv root ``.venvs``."""
        return self.root / ".venvs"

    @property
    def wheels(self) -> Path:
        """The project's offline wheelhouse."""
        return self.root / "wheels"

    def lock(self, plugin: str) -> Path:
        """``lock/<plugin>.txt``."""
        return self.root / "lock" / f"{plugin}.txt"

    def venv(self, plugin: str) -> Path:
        """``.venvs/<plugin>``."""
        return self.venv_root / plugin

    def site_packages(self, plugin: str) -> Path:
        """The only ``lib/python3.*/site-packages`` of the plugin's venv."""
        found = sorted(self.venv(plugin).glob("lib/python3*/site-packages"))
        assert len(found) == 1, f"expected one site-packages in {self.venv(plugin)}: {found}"
        return found[0]

    def dists(self, plugin: str) -> dict[str, str]:
        """The distributions installed in the plugin's venv, read from ``*.dist-info``."""
        return dist_infos(self.site_packages(plugin))

    def marker(self, plugin: str) -> dict[str, Any]:
        """The parsed state marker of the plugin's venv."""
        data: dict[str, Any] = json.loads((self.venv(plugin) / MARKER).read_text("utf-8"))
        return data

    def snapshot(self, sub: str | None = None) -> Snapshot:
        """Snapshot of the venv root (or of one entry below it)."""
        return snapshot(self.venv_root if sub is None else self.venv_root / sub)

    def run(self, *args: str, env: Mapping[str, str] | None = None) -> Result:
        """Run the CLI against this project (``env`` entries override the hermetic env)."""
        merged = None if env is None else {**os.environ, **env}
        return run_cli(self.root, *args, env=merged)

    def ok(self, *args: str, env: Mapping[str, str] | None = None) -> Result:
        """Run the CLI and require exit 0."""
        result = self.run(*args, env=env)
        assert result.code == 0, f"reconciler {' '.join(args)} failed:\n{result.describe()}"
        assert "Traceback" not in result.err, result.describe()
        return result

    def plan_json(self, *args: str) -> dict[str, Any]:
        """``plan --json`` parsed (exit 0 required)."""
        data: dict[str, Any] = json.loads(self.ok("plan", "--json", *args).out)
        return data

    def change(self, plugin: str, *args: str) -> dict[str, Any]:
        """The JSON plan entry of ``plugin``."""
        entries = [c for c in self.plan_json(*args)["changes"] if c["plugin"] == plugin]
        assert len(entries) == 1, f"expected one plan entry for {plugin}: {entries}"
        return entries[0]

    def edit(self) -> TomlEditor:
        """Edit ``reconciler.toml`` (with tomlkit) in a ``with`` block."""
        return TomlEditor(self.toml)

    def set_requirements(self, plugin: str, requirements: Sequence[str]) -> None:
        """Replace a plugin's requirements in ``reconciler.toml`` (the lock is NOT redone)."""
        with self.edit() as doc:
            doc["plugins"][plugin]["requirements"] = list(requirements)

    def hand_pip(self, plugin: str, *args: str) -> None:
        """Run pip by hand against the plugin's venv (drift a user could cause)."""
        python = self.venv(plugin) / "bin" / "python"
        subprocess.run(
            [sys.executable, "-m", "pip", "--python", str(python), *args],
            check=True,
            capture_output=True,
            text=True,
        )

    def script(self, plugin: str, name: str | None = None) -> str:
        """Run ``.venvs/<plugin>/bin/<script>`` and return its stdout (exit 0 required)."""
        exe = self.venv(plugin) / "bin" / (name or plugin)
        completed = subprocess.run(
            [str(exe)], capture_output=True, text=True, check=False, timeout=60
        )
        assert completed.returncode == 0, f"{exe} failed: {completed.stderr}"
        return completed.stdout


class TomlEditor:
    """Context manager: parse ``reconciler.toml`` with tomlkit, yield it, write it back."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.doc: tomlkit.TOMLDocument = tomlkit.parse(path.read_text("utf-8"))

    def __enter__(self) -> Any:
        return self.doc

    def __exit__(self, *exc: object) -> None:
        if exc[0] is None:
            self.path.write_text(tomlkit.dumps(self.doc), encoding="utf-8")


def add_plugin(doc: Any, name: str, requirements: Sequence[str]) -> None:
    """Declare ``[plugins.<name>]`` in a tomlkit document."""
    table = tomlkit.table()
    table.add("requirements", list(requirements))
    doc["plugins"].add(name, table)


def copy_example(dest: Path, *, with_lock_from: Path | None = None) -> Project:
    """Copy the example project to ``dest`` (wheels symlinked; ``lock/`` from a locked copy)."""
    dest.mkdir(parents=True)
    shutil.copy2(EXAMPLE / "reconciler.toml", dest / "reconciler.toml")
    (dest / "wheels").symlink_to(WHEELS, target_is_directory=True)
    if with_lock_from is not None:
        shutil.copytree(with_lock_from / "lock", dest / "lock")
    return Project(dest)


@pytest.fixture(scope="session")
def locked_template(tmp_path_factory: pytest.TempPathFactory, cache_dir: Path) -> Project:
    """The example project locked once per session with the real ``reconciler lock``."""
    project = copy_example(tmp_path_factory.mktemp("locked") / "example")
    result = run_cli(project.root, "lock", env=hermetic_environ(cache_dir))
    assert result.code == 0, f"session lock failed:\n{result.describe()}"
    for plugin in PLUGINS:
        assert project.lock(plugin).is_file()
    return project


@pytest.fixture
def project(locked_template: Project, tmp_path: Path) -> Project:
    """A fresh copy of the locked example project, no venvs yet."""
    return copy_example(tmp_path / "project", with_lock_from=locked_template.root)


@pytest.fixture
def unlocked_project(tmp_path: Path) -> Project:
    """A fresh copy of the example project with no ``lock/`` (for tests that lock)."""
    return copy_example(tmp_path / "project")


@pytest.fixture
def applied(project: Project) -> Project:
    """The locked example project after a successful ``reconciler apply``."""
    project.ok("apply")
    for plugin in PLUGINS:
        assert project.dists(plugin) == EXPECTED_DISTS[plugin]
    return project


# --- many plugins (safety and kill tests) --------------------------------------------------------

#: Eight extra plugins reusing the example's requirements, so an apply has more steps to kill.
EXTRA_PLUGINS = {
    f"{base}-{n}": base for n in (2, 3, 4) for base in PLUGINS if f"{base}-{n}" != "target-gamma-4"
}
#: Every plugin of the many-plugin project -> the example plugin whose requirements it reuses.
MANY_PLUGINS = {**{p: p for p in PLUGINS}, **EXTRA_PLUGINS}


def declare_extra_plugins(project: Project) -> None:
    """Declare :data:`EXTRA_PLUGINS` in the project's ``reconciler.toml`` (no lock is made)."""
    with project.edit() as doc:
        for name, base in EXTRA_PLUGINS.items():
            add_plugin(doc, name, [str(r) for r in doc["plugins"][base]["requirements"]])


def copy_locks_to_extra_plugins(project: Project) -> None:
    """Give each extra plugin the lock of the example plugin whose requirements it reuses.

    A lock's inputs digest covers requirements, interpreter and index settings, not the
    plugin's name, so the copy is exactly what ``reconciler lock`` would write (pip-compile's
    ``# via`` comments aside) -- without resolving the same requirements eight more times.
    """
    for name, base in EXTRA_PLUGINS.items():
        shutil.copy2(project.lock(base), project.lock(name))


@pytest.fixture(scope="session")
def many_locked_template(
    locked_template: Project, tmp_path_factory: pytest.TempPathFactory, cache_dir: Path
) -> Project:
    """The example project plus :data:`EXTRA_PLUGINS` (11 plugins), locked once per session."""
    project = copy_example(
        tmp_path_factory.mktemp("many") / "example", with_lock_from=locked_template.root
    )
    declare_extra_plugins(project)
    copy_locks_to_extra_plugins(project)
    result = run_cli(project.root, "lock", "--check", env=hermetic_environ(cache_dir))
    assert result.code == 0, f"copied locks are not fresh:\n{result.describe()}"
    return project


@pytest.fixture
def many_project(many_locked_template: Project, tmp_path: Path) -> Project:
    """A fresh copy of the locked 11-plugin project, no venvs yet."""
    project = copy_example(tmp_path / "many", with_lock_from=many_locked_template.root)
    shutil.copy2(many_locked_template.toml, project.toml)
    return project
