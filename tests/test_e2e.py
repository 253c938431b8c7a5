"""End to end: every planning rule of DESIGN.md section 3, idempotence, upgrades and drift.

Each test drives the real CLI (a subprocess) against a throw-away copy of ``fixtures/example``
and checks what ends up on disk: real venvs, real pip installs from the offline wheelhouse.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import (
    EXPECTED_DISTS,
    EXPECTED_OUTPUT,
    MARKER,
    PLUGINS,
    WHEELS,
    Project,
    Snapshot,
    snapshot,
)
from helpers import other_python, skip_or_fail


@pytest.fixture(autouse=True, params=["pip", "uv"])
def installer(request: pytest.FixtureRequest, project: Project) -> str:
    """Every test here runs once per installer backend: same plan, same guarantees."""
    name: str = request.param
    with project.edit() as doc:
        doc["settings"]["installer"] = name
    return name


def assert_no_changes(project: Project, *plugins: str) -> None:
    """``plan`` says ``No changes.`` and ``plan --detailed-exitcode`` exits 0."""
    result = project.ok("plan", *plugins)
    assert "No changes." in result.out, result.describe()
    detailed = project.run("plan", "--detailed-exitcode", *plugins)
    assert detailed.code == 0, detailed.describe()


def plan_line(output: str, plugin: str) -> str:
    """The line of a human plan that describes ``plugin``."""
    lines = [line for line in output.splitlines() if f" {plugin} " in f" {line} "]
    assert len(lines) == 1, f"expected one line for {plugin} in:\n{output}"
    return lines[0]


def others(project: Project, plugin: str) -> dict[str, Snapshot]:
    """Snapshots of every example venv except ``plugin``'s."""
    return {p: project.snapshot(p) for p in PLUGINS if p != plugin}


def installs(change: dict[str, object]) -> dict[str, str]:
    """``{name: version}`` of a JSON plan entry's install list."""
    entries = change["install"]
    assert isinstance(entries, list)
    return {e["name"]: e["version"] for e in entries}


# --- create ------------------------------------------------------------------------------------


def test_create_when_no_venv(project: Project, installer: str) -> None:
    """A declared plugin without a venv is planned as ``create`` and apply builds it."""
    plan = project.plan_json()
    assert [c["plugin"] for c in plan["changes"]] == list(PLUGINS)
    for change in plan["changes"]:
        assert change["action"] == "create"
        assert change["reasons"] == ["no venv"]
        assert installs(change) == EXPECTED_DISTS[change["plugin"]]
        assert all(entry["from"] is None for entry in change["install"])
        assert change["uninstall"] == []
    human = project.ok("plan").out
    for plugin in PLUGINS:
        line = plan_line(human, plugin)
        assert line.lstrip().startswith("+")
        assert "create" in line
    assert "Plan: 3 to create, 0 to upgrade, 0 to reinstall, 0 to remove." in human
    assert not project.venv_root.exists(), "plan must not touch the disk"

    project.ok("apply")
    for plugin in PLUGINS:
        assert (project.venv(plugin) / "pyvenv.cfg").is_file()
        assert (project.venv(plugin) / MARKER).is_file()
        assert project.marker(plugin)["installer"] == installer
        assert project.dists(plugin) == EXPECTED_DISTS[plugin]
    assert_no_changes(project)


# --- reinstall: broken or incomplete venvs -----------------------------------------------------

BROKEN = "tap-beta"


def _delete_pyvenv_cfg(project: Project) -> None:
    (project.venv(BROKEN) / "pyvenv.cfg").unlink()


def _corrupt_marker(project: Project) -> None:
    (project.venv(BROKEN) / MARKER).write_bytes(b"\x00garbage{{{ not json")


def _interrupted_upgrade(project: Project) -> None:
    path = project.venv(BROKEN) / MARKER
    data = json.loads(path.read_text("utf-8"))
    assert data["status"] == "complete"
    data["status"] = "upgrading"
    path.write_text(json.dumps(data), encoding="utf-8")


def _duplicate_dist_info(project: Project) -> None:
    site = project.site_packages(BROKEN)
    shutil.copytree(site / "demo_common-1.1.0.dist-info", site / "demo_common-1.0.0.dist-info")


@pytest.mark.parametrize(
    ("breaker", "reason"),
    [
        (_delete_pyvenv_cfg, "pyvenv.cfg"),
        (_corrupt_marker, "marker"),
        (_interrupted_upgrade, "upgrad"),
        (_duplicate_dist_info, "duplicate"),
    ],
    ids=["no-pyvenv-cfg", "corrupt-marker", "interrupted-upgrade", "duplicate-dist-info"],
)
def test_broken_venv_is_reinstalled(
    applied: Project, breaker: Callable[[Project], None], reason: str
) -> None:
    """A broken or incomplete venv is planned as ``reinstall``; apply repairs only that venv."""
    breaker(applied)
    untouched = others(applied, BROKEN)

    change = applied.change(BROKEN)
    assert change["action"] == "reinstall", change
    assert any(reason in r.lower() for r in change["reasons"]), change
    assert installs(change) == EXPECTED_DISTS[BROKEN]
    line = plan_line(applied.ok("plan").out, BROKEN)
    assert "reinstall" in line
    assert line.lstrip().startswith("±")
    assert applied.run("plan", "--detailed-exitcode").code == 2
    for plugin in PLUGINS:
        if plugin != BROKEN:
            assert applied.change(plugin)["action"] == "no-op"

    applied.ok("apply")
    venv = applied.venv(BROKEN)
    assert (venv / "pyvenv.cfg").is_file()
    assert applied.marker(BROKEN)["status"] == "complete"
    assert applied.dists(BROKEN) == EXPECTED_DISTS[BROKEN]  # no duplicate left either
    assert applied.script(BROKEN) == EXPECTED_OUTPUT[BROKEN] + "\n"
    assert others(applied, BROKEN) == untouched
    assert_no_changes(applied)


# --- reinstall: another interpreter ------------------------------------------------------------

_PROBE = (
    "import os, platform, sys; "
    "print(os.path.realpath(getattr(sys, '_base_executable', None) or sys.executable)); "
    "print(platform.python_version())"
)


def venv_version(venv: Path) -> str:
    """The Python version ``pyvenv.cfg`` records (``version`` or ``version_info``)."""
    text = (venv / "pyvenv.cfg").read_text(encoding="utf-8")
    found = re.findall(r"^\s*version(?:_info)?\s*=\s*(\S+)\s*$", text, flags=re.MULTILINE)
    assert found, text
    return str(found[0])


def _probe(executable: str) -> tuple[str, str]:
    """(real base executable, version) of an interpreter, asked from the interpreter itself."""
    out = subprocess.run(
        [executable, "-I", "-c", _PROBE], capture_output=True, text=True, check=True, timeout=60
    ).stdout.split("\n")
    return out[0], out[1]


@pytest.fixture(scope="module")
def two_pythons() -> tuple[tuple[str, str], tuple[str, str]]:
    """``(other, default)``: another interpreter of the same major.minor (found here, not
    hard-coded) and the ``python3`` the example resolves to."""
    default_path = shutil.which("python3")
    if default_path is None:
        skip_or_fail("no python3 on PATH")
    other, default = _probe(str(other_python())), _probe(default_path)
    assert other != default, (other, default)
    assert other[1].split(".")[:2] == default[1].split(".")[:2], (other, default)
    return other, default


def test_reinstall_when_interpreter_differs(
    project: Project, two_pythons: tuple[tuple[str, str], tuple[str, str]]
) -> None:
    """Switching a plugin's interpreter plans ``reinstall`` (``python X -> Y``); apply rebuilds."""
    (other_exe, other_version), (default_exe, default_version) = two_pythons
    plugin = "target-gamma"
    with project.edit() as doc:
        doc["plugins"][plugin]["python"] = other_exe
    project.ok("lock", plugin)  # re-resolved when other is an older patch than the lock's floor
    project.ok("apply", plugin)
    python = project.venv(plugin) / "bin" / "python"
    assert os.path.realpath(python) == other_exe
    assert venv_version(project.venv(plugin)) == other_version
    assert project.script(plugin) == EXPECTED_OUTPUT[plugin] + "\n"
    assert_no_changes(project, plugin)

    with project.edit() as doc:
        del doc["plugins"][plugin]["python"]
    project.ok("lock", plugin)  # (and back, when the default is the older patch level)
    if other_version != default_version:
        reason = f"python {other_version} -> {default_version}"
    else:
        reason = f"python {other_exe} -> {default_exe}"
    change = project.change(plugin, plugin)
    assert change["action"] == "reinstall"
    assert change["reasons"] == [reason]
    line = plan_line(project.ok("plan", plugin).out, plugin)
    assert "reinstall" in line
    assert reason in line

    project.ok("apply", plugin)
    assert os.path.realpath(python) == default_exe
    assert venv_version(project.venv(plugin)) == default_version
    assert project.dists(plugin) == EXPECTED_DISTS[plugin]
    assert project.script(plugin) == EXPECTED_OUTPUT[plugin] + "\n"
    assert_no_changes(project, plugin)


# --- no-op and idempotence ---------------------------------------------------------------------


def test_apply_is_idempotent(applied: Project) -> None:
    """After apply: plan is clean, every step is ``no-op``, a second apply touches no file."""
    assert_no_changes(applied)
    plan = applied.plan_json()
    assert [(c["plugin"], c["action"]) for c in plan["changes"]] == [(p, "no-op") for p in PLUGINS]
    for change in plan["changes"]:
        assert change["reasons"] == change["install"] == change["uninstall"] == []
    before = applied.snapshot()
    second = applied.ok("apply")
    assert "No changes." in second.out
    assert applied.snapshot() == before
    assert_no_changes(applied)


# --- remove ------------------------------------------------------------------------------------


def test_undeclared_managed_venv_is_removed(applied: Project) -> None:
    """A plugin deleted from reconciler.toml: plan says ``remove``, apply deletes its venv only."""
    with applied.edit() as doc:
        del doc["plugins"]["target-gamma"]
    # Locks of undeclared plugins are ignored by plan/apply, even unreadable ones.
    orphan = applied.lock("target-gamma")
    orphan.write_text("this is not a lock\n", encoding="utf-8")
    untouched = others(applied, "target-gamma")

    change = applied.change("target-gamma")
    assert change == {
        "plugin": "target-gamma",
        "action": "remove",
        "reasons": ["no longer declared"],
        "install": [],
        "uninstall": [],
    }
    line = plan_line(applied.ok("plan").out, "target-gamma")
    assert line.lstrip().startswith("-")
    assert "remove" in line
    assert "no longer declared" in line

    applied.ok("apply")
    assert not os.path.lexists(applied.venv("target-gamma"))
    assert others(applied, "target-gamma") == untouched
    assert orphan.read_text(encoding="utf-8") == "this is not a lock\n"
    assert_no_changes(applied)


# --- unmanaged directories ---------------------------------------------------------------------


def test_unmanaged_directory_left_alone(applied: Project) -> None:
    """An undeclared directory without the marker: a warning, not in the plan, never touched."""
    scratch = applied.venv_root / "scratch"
    (scratch / "nested").mkdir(parents=True)
    (scratch / "notes.txt").write_text("mine\n", encoding="utf-8")
    (scratch / "nested" / "data.bin").write_bytes(b"\x00\x01\x02")
    before = snapshot(scratch)

    result = applied.ok("plan")
    warnings = [line for line in result.err_lines if "unmanaged directory left alone" in line]
    assert len(warnings) == 1, result.describe()
    assert "scratch" in warnings[0]
    assert "No changes." in result.out
    assert [c["plugin"] for c in applied.plan_json()["changes"]] == list(PLUGINS)
    assert applied.run("plan", "--detailed-exitcode").code == 0

    applied.ok("apply")
    assert snapshot(scratch) == before
    assert (scratch / "notes.txt").read_text(encoding="utf-8") == "mine\n"
    assert (scratch / "nested" / "data.bin").read_bytes() == b"\x00\x01\x02"


def test_declared_directory_without_marker_is_not_deleted(project: Project) -> None:
    """A declared plugin's directory with content but no marker: apply refuses to delete it."""
    squatted = project.venv("tap-alpha")
    (squatted / "bin").mkdir(parents=True)
    (squatted / "keep.txt").write_text("precious\n", encoding="utf-8")
    (squatted / "bin" / "tool").write_text("#!/bin/sh\n", encoding="utf-8")
    before = snapshot(squatted)

    result = project.run("apply")
    assert result.code == 1, result.describe()
    assert "Traceback" not in result.err
    errors = [line for line in result.err_lines if line.startswith("error:")]
    assert errors, result.describe()
    assert any("tap-alpha" in line for line in errors), result.describe()
    assert snapshot(squatted) == before
    assert (squatted / "keep.txt").read_text(encoding="utf-8") == "precious\n"
    # Other plugins still finished.
    for plugin in ("tap-beta", "target-gamma"):
        assert project.dists(plugin) == EXPECTED_DISTS[plugin]
        assert project.script(plugin) == EXPECTED_OUTPUT[plugin] + "\n"


# --- upgrade: a changed pin --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("plugin", "requirements", "package", "old", "new", "kept", "output"),
    [
        (
            "target-gamma",
            ["target-gamma", "demo-common>=1.1"],
            "demo-common",
            "1.0.0",
            "1.1.0",
            ("target_gamma", "target_gamma-1.0.0.dist-info"),
            "target-gamma 1.0.0 (demo-common 1.1.0)",
        ),
        (
            "tap-alpha",
            ["tap-alpha==1.1.0"],
            "tap-alpha",
            "1.0.0",
            "1.1.0",
            ("demo_common", "demo_common-1.1.0.dist-info"),
            "tap-alpha 1.1.0 (demo-common 1.1.0)",
        ),
    ],
    ids=["dependency-pin", "plugin-pin"],
)
def test_changed_pin_upgrades_exactly_that_package(
    applied: Project,
    plugin: str,
    requirements: list[str],
    package: str,
    old: str,
    new: str,
    kept: tuple[str, ...],
    output: str,
) -> None:
    """Re-locking moves one pin: plan ``upgrade`` of that package only, others' files untouched."""
    other_locks = {p: applied.lock(p).read_bytes() for p in PLUGINS if p != plugin}
    applied.set_requirements(plugin, requirements)
    applied.ok("lock")
    assert f"{package}=={new}" in applied.lock(plugin).read_text("utf-8")
    assert {p: applied.lock(p).read_bytes() for p in other_locks} == other_locks

    change = applied.change(plugin)
    assert change["action"] == "upgrade"
    assert change["install"] == [{"name": package, "version": new, "from": old}]
    assert change["uninstall"] == []
    for other in PLUGINS:
        if other != plugin:
            assert applied.change(other)["action"] == "no-op"
    line = plan_line(applied.ok("plan").out, plugin)
    assert line.lstrip().startswith("~")
    assert "upgrade" in line
    assert f"{package} {old} -> {new}" in line

    site = applied.site_packages(plugin)
    module = package.replace("-", "_")
    kept_before = {name: snapshot(site / name) for name in kept}
    venv = applied.venv(plugin)
    base_before = {name: snapshot(venv / name) for name in ("pyvenv.cfg", "bin/python")}
    changed_file = site / module / "__init__.py"
    changed_before = os.lstat(changed_file)
    untouched = others(applied, plugin)

    applied.ok("apply")
    assert applied.dists(plugin) == {**EXPECTED_DISTS[plugin], package: new}
    assert not (site / f"{module}-{old}.dist-info").exists()
    assert (site / f"{module}-{new}.dist-info").is_dir()
    changed_after = os.lstat(changed_file)
    assert (changed_after.st_ino, changed_after.st_mtime_ns) != (
        changed_before.st_ino,
        changed_before.st_mtime_ns,
    )
    assert f'__version__ = "{new}"' in changed_file.read_text("utf-8")
    assert {name: snapshot(site / name) for name in kept} == kept_before
    assert {name: snapshot(venv / name) for name in base_before} == base_before
    assert others(applied, plugin) == untouched
    assert applied.script(plugin) == output + "\n"
    assert_no_changes(applied)


# --- upgrade: drift by hand --------------------------------------------------------------------


def test_hand_installed_package_is_removed(applied: Project) -> None:
    """``pip install demo-stray`` by hand: plan ``upgrade``, ``- demo-stray``; apply drops it."""
    applied.hand_pip("tap-beta", "install", "--no-index", "--find-links", str(WHEELS), "demo-stray")
    site = applied.site_packages("tap-beta")
    assert (site / "demo_stray-1.0.0.dist-info").is_dir()
    untouched = others(applied, "tap-beta")

    change = applied.change("tap-beta")
    assert change["action"] == "upgrade"
    assert change["install"] == []
    assert change["uninstall"] == [{"name": "demo-stray", "version": "1.0.0"}]
    line = plan_line(applied.ok("plan").out, "tap-beta")
    assert "upgrade" in line
    assert "- demo-stray 1.0.0" in line

    applied.ok("apply")
    assert not (site / "demo_stray-1.0.0.dist-info").exists()
    assert not (site / "demo_stray").exists()
    assert applied.dists("tap-beta") == EXPECTED_DISTS["tap-beta"]
    assert applied.script("tap-beta") == EXPECTED_OUTPUT["tap-beta"] + "\n"
    assert others(applied, "tap-beta") == untouched
    assert_no_changes(applied)


def test_hand_downgraded_package_is_restored(applied: Project) -> None:
    """A package downgraded by hand: plan ``upgrade`` back to the locked version; apply fixes it."""
    applied.hand_pip(
        "tap-beta",
        "install",
        "--no-index",
        "--no-deps",
        "--find-links",
        str(WHEELS),
        "demo-common==1.0.0",
    )
    assert applied.dists("tap-beta")["demo-common"] == "1.0.0"
    assert "demo-common 1.0.0" in applied.script("tap-beta")
    untouched = others(applied, "tap-beta")

    change = applied.change("tap-beta")
    assert change["action"] == "upgrade"
    assert change["install"] == [{"name": "demo-common", "version": "1.1.0", "from": "1.0.0"}]
    assert change["uninstall"] == []
    assert "demo-common 1.0.0 -> 1.1.0" in plan_line(applied.ok("plan").out, "tap-beta")

    applied.ok("apply")
    assert applied.dists("tap-beta") == EXPECTED_DISTS["tap-beta"]
    assert applied.script("tap-beta") == EXPECTED_OUTPUT["tap-beta"] + "\n"
    assert others(applied, "tap-beta") == untouched
    assert_no_changes(applied)


def test_venv_built_by_the_other_installer_is_not_drift(applied: Project, installer: str) -> None:
    """Switching ``settings.installer`` changes how future venvs are built, not the plan."""
    other = {"pip": "uv", "uv": "pip"}[installer]
    assert all(applied.marker(p)["installer"] == installer for p in PLUGINS)
    with applied.edit() as doc:
        doc["settings"]["installer"] = other
    assert_no_changes(applied, *PLUGINS)
    before = applied.snapshot()
    applied.ok("apply")
    assert applied.snapshot() == before
