"""Release artifacts, tested: ``make dist``'s wheel and sdist are reproducible and pass
``twine check``; the wheel installs with ``pipx install`` and ``uv tool install`` (from the local
file, dependencies only from the hash-checked wheelhouse of lock/requirements-uv.txt, no index)
and the installed ``reconciler`` runs the demo project."""

from __future__ import annotations

import json
import tarfile
import zipfile
from pathlib import Path

import pytest
from release_helpers import (
    DIST_NAME,
    REPO,
    artifacts,
    check_wheelhouse_hashes,
    constraints_file,
    demo_project,
    installed_dists,
    lock_pins,
    pipx_shared_libs,
    python_for_tools,
    release_env,
    run,
    run_demo,
    tool,
    wheelhouse,
)

import reconciler

pytestmark = pytest.mark.slow
__all__ = ["artifacts"]  # the session fixture, imported for pytest


def test_artifacts_are_reproducible_and_complete(artifacts: dict[str, Path]) -> None:
    with zipfile.ZipFile(artifacts["wheel"]) as wheel:
        files = wheel.namelist()
        info = f"venv_reconciler-{reconciler.__version__}.dist-info"
        metadata = wheel.read(f"{info}/METADATA").decode()
        entry_points = wheel.read(f"{info}/entry_points.txt").decode()
        stamps = {entry.date_time for entry in wheel.infolist()}
    assert f"Name: {DIST_NAME}\n" in metadata
    assert f"Version: {reconciler.__version__}\n" in metadata
    assert "Provides-Extra: uv" in metadata
    assert "reconciler = reconciler.cli:main" in entry_points
    assert "reconciler/locking/helpers/py3.8.txt" in files
    assert not [f for f in files if f.startswith(("tests/", "build/", "fixtures/"))]
    assert len(stamps) == 1, stamps  # every entry carries SOURCE_DATE_EPOCH
    with tarfile.open(artifacts["sdist"]) as sdist:
        members = sdist.getmembers()
    root = f"venv_reconciler-{reconciler.__version__}/"
    names = {m.name for m in members}
    assert {root + "pyproject.toml", root + "README.md", root + "reconciler/cli.py"} <= names
    assert not [
        n for n in names if n.startswith((root + "build/", root + "dist/", root + ".venv/"))
    ]
    assert {(m.uid, m.gid, m.uname, m.gname) for m in members} == {(0, 0, "", "")}
    assert len({m.mtime for m in members}) == 1


def test_twine_check_passes(artifacts: dict[str, Path]) -> None:
    twine = tool("twine")
    out = run([twine, "check", "--strict", artifacts["wheel"], artifacts["sdist"]], {}).stdout
    assert out.count("PASSED") == 2, out


def _check_tool_venv(venv: Path) -> None:
    """The tool's venv holds exactly the lock's versions (plus the tool itself)."""
    pins = lock_pins()
    dists = installed_dists(venv)
    assert dists.pop(DIST_NAME) == reconciler.__version__
    assert "uv" in dists, "the uv extra was not installed"
    for name, version in dists.items():
        assert name in pins, f"{name} is not in lock/requirements-uv.txt"
        assert pins[name][0] == version, f"{name} {version}, lock pins {pins[name][0]}"


def _check_demo_used_uv(project: Path) -> None:
    marker = json.loads((project / ".venvs" / "tap-alpha" / "reconciler-state.json").read_text())
    assert marker["installer"] == "uv", marker  # the uv extra is found by the installed tool


def test_pipx_install_runs_the_demo(
    artifacts: dict[str, Path], tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    pipx = tool("pipx")
    house = wheelhouse()
    assert check_wheelhouse_hashes(house) == len(lock_pins())
    bin_dir = tmp_path / "pipx-bin"
    env = release_env(tmp_path)
    env.update(
        PIPX_HOME=str(tmp_path / "pipx-home"),
        PIPX_BIN_DIR=str(bin_dir),
        PIPX_MAN_DIR=str(tmp_path / "pipx-man"),
        PIPX_SHARED_LIBS=str(pipx_shared_libs(tmp_path_factory)),
    )
    constraints = constraints_file(tmp_path / "constraints.txt")
    pip_args = f"--no-index --find-links {house} --constraint {constraints}"
    spec = f"{artifacts['wheel']}[uv]"
    run([pipx, "install", "--python", python_for_tools(), "--pip-args", pip_args, spec], env)
    reconciler_exe = bin_dir / "reconciler"
    assert reconciler_exe.is_file()
    _check_tool_venv(tmp_path / "pipx-home" / "venvs" / DIST_NAME)
    listed = json.loads(run([pipx, "list", "--json"], env).stdout)
    assert DIST_NAME in listed["venvs"]
    project = demo_project(tmp_path / "demo")
    run_demo(reconciler_exe, project, release_env(tmp_path, [bin_dir]))
    _check_demo_used_uv(project)
    run([pipx, "uninstall", DIST_NAME], env)
    assert not reconciler_exe.exists()
    assert (project / ".venvs" / "tap-alpha").is_dir()  # uninstalling the tool keeps the venvs


def test_uv_tool_install_runs_the_demo(artifacts: dict[str, Path], tmp_path: Path) -> None:
    uv = REPO / ".venv" / "bin" / "uv"  # the hashed uv of lock/dev.txt
    house = wheelhouse()
    check_wheelhouse_hashes(house)
    bin_dir = tmp_path / "uv-bin"
    env = release_env(tmp_path)
    env.update(UV_TOOL_DIR=str(tmp_path / "uv-tools"), UV_TOOL_BIN_DIR=str(bin_dir))
    spec = f"{DIST_NAME}[uv] @ {artifacts['wheel'].as_uri()}"
    run(
        [
            uv, "tool", "install", "--no-index", "--find-links", house,
            "--constraints", REPO / "lock" / "requirements-uv.txt",
            "--python", python_for_tools(), spec,
        ],
        env,
    )  # fmt: skip
    reconciler_exe = bin_dir / "reconciler"
    _check_tool_venv(tmp_path / "uv-tools" / DIST_NAME)
    project = demo_project(tmp_path / "demo")
    run_demo(reconciler_exe, project, release_env(tmp_path, [bin_dir]))
    _check_demo_used_uv(project)
    run([uv, "tool", "uninstall", DIST_NAME], env)
    assert not reconciler_exe.exists()
