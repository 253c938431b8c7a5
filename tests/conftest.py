"""Shared fixtures: hermetic env, locked example projects, the golden applied project.

Helpers (running the CLI, disk pictures, interpreters) live in ``helpers.py``; how to write a
test here is in ``README.md`` beside this file. Everything is real: venvs are built by the real
installer (pip, or uv when installed) from the offline fixture wheelhouse, and locks come from
the real pip-compile. Nothing here mocks pip, venv or the disk.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from helpers import (  # re-exported: older tests import these from conftest
    AMBIENT_PIP_VARS,
    EXAMPLE,
    EXPECTED_DISTS,
    EXPECTED_OUTPUT,
    EXTRA_PLUGINS,
    LOCK_FILE,
    MANY_PLUGINS,
    MARKER,
    PLUGINS,
    REPO,
    WHEELS,
    Project,
    Result,
    Snapshot,
    TomlEditor,
    add_plugin,
    built_once,
    copy_example,
    copy_locks_to_extra_plugins,
    copy_tree,
    declare_extra_plugins,
    dist_infos,
    hermetic_environ,
    run_cli,
    run_cli_subprocess,
    snapshot,
)

from reconciler.installers import get_installer

__all__ = [
    "AMBIENT_PIP_VARS",
    "EXAMPLE",
    "EXPECTED_DISTS",
    "EXPECTED_OUTPUT",
    "EXTRA_PLUGINS",
    "LOCK_FILE",
    "MANY_PLUGINS",
    "MARKER",
    "PLUGINS",
    "REPO",
    "WHEELS",
    "Project",
    "Result",
    "Snapshot",
    "TomlEditor",
    "add_plugin",
    "copy_example",
    "copy_locks_to_extra_plugins",
    "declare_extra_plugins",
    "dist_infos",
    "hermetic_environ",
    "run_cli",
    "run_cli_subprocess",
    "snapshot",
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Start the ``slow`` tests first (a stable sort: the order is otherwise unchanged).

    Under pytest-xdist each worker takes the next test as it frees up, so a long test collected
    last (test_workflow.py is) leaves the other worker idle at the end; started first, the long
    ones overlap and the many short tests even the tail out. Every worker sorts the same way.
    """
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


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


@pytest.fixture(scope="session")
def locked_template(tmp_path_factory: pytest.TempPathFactory, cache_dir: Path) -> Project:
    """The example project locked once per run with the real ``reconciler lock`` (shared by the
    xdist workers: its locks do not depend on where it was locked)."""

    def lock(directory: Path) -> None:
        project = copy_example(directory / "example")
        result = run_cli(project.root, "lock", env=hermetic_environ(cache_dir))
        assert result.code == 0, f"session lock failed:\n{result.describe()}"

    project = Project(built_once(tmp_path_factory, "locked", lock) / "example")
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


def _applied_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The FIXED directory the applied project lives in (venvs record where they were built)."""
    return tmp_path_factory.getbasetemp() / "applied"


GoldenFactory = Callable[[str | None], Project]


@pytest.fixture(scope="session")
def golden_applied_for(
    locked_template: Project, tmp_path_factory: pytest.TempPathFactory, cache_dir: Path
) -> GoldenFactory:
    """``golden(installer)``: the locked example project applied ONCE per session per
    ``settings.installer`` (None: the example's own setting), kept pristine for :func:`applied`.

    Each is built at the fixed path every ``applied`` project is restored to, then copied
    aside; the copy is never run or changed. The installer ``auto`` stands for (uv, when
    installed) starts from the example's golden venvs: its apply then finds nothing to do
    (which installer built a venv is no drift), else it converges them as any apply would.
    """
    built_for: dict[str | None, Project] = {}
    auto = get_installer("auto").name

    def golden(installer: str | None) -> Project:
        if installer in built_for:
            return built_for[installer]
        same = golden(None) if installer == auto else None
        home = _applied_home(tmp_path_factory)
        if home.exists():
            _remove_tree(home)
        if same is not None:
            home.mkdir()
            copy_tree(same.root, home / "project")
            built = Project(home / "project")
        else:
            built = copy_example(home / "project", with_lock_from=locked_template.root)
        if installer is not None:
            with built.edit() as doc:
                doc["settings"]["installer"] = installer
        result = run_cli(built.root, "apply", env=hermetic_environ(cache_dir))
        assert result.code == 0, f"session apply failed:\n{result.describe()}"
        for plugin in PLUGINS:
            assert built.dists(plugin) == EXPECTED_DISTS[plugin]
        pristine = tmp_path_factory.mktemp("applied-golden")
        copy_tree(built.root, pristine / "project")
        built_for[installer] = Project(pristine / "project")
        return built_for[installer]

    return golden


@pytest.fixture(scope="session")
def golden_applied(golden_applied_for: GoldenFactory) -> Project:
    """The example project applied once per session with its own settings (see above)."""
    return golden_applied_for(None)


def _remove_tree(path: Path) -> None:
    """``rm -rf`` that also gets through directories a test left read-only."""
    try:
        shutil.rmtree(path)
    except PermissionError:
        for directory, dirnames, _ in os.walk(path):
            for name in dirnames:
                sub = Path(directory, name)
                if not sub.is_symlink():
                    sub.chmod(0o755)
        shutil.rmtree(path)


@pytest.fixture
def applied(
    request: pytest.FixtureRequest,
    golden_applied_for: GoldenFactory,
    tmp_path_factory: pytest.TempPathFactory,
) -> Project:
    """The locked example project after a successful ``reconciler apply``.

    A fresh ``cp -a`` of a golden applied project, restored at the same fixed path for every
    test (so each test may damage it freely); three real venvs are built once per session (per
    installer), not per test. A test that also uses a fixture named ``installer`` gets venvs
    built by that installer. The parent directory is the test's own too (emptied per test).
    """
    installer = (
        request.getfixturevalue("installer") if "installer" in request.fixturenames else None
    )
    golden = golden_applied_for(installer)
    home = _applied_home(tmp_path_factory)
    if home.exists():
        _remove_tree(home)
    home.mkdir()
    copy_tree(golden.root, home / "project")
    return Project(home / "project")


# --- many plugins (safety and kill tests) --------------------------------------------------------


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
