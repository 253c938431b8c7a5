"""Universal locks (``universal = true``): one lock for every platform, markers kept.

The fixture plugin ``tap-multi`` depends on ``demo-linux`` / ``demo-macos`` / ``demo-windows``
behind ``sys_platform`` markers. Its universal lock keeps all three branches; the venv built on
this (Linux) host gets only the Linux one, and ``plan`` stays a no-op afterwards.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from conftest import WHEELS, Project, run_cli

from reconciler.installers.uv import find_uv

pytestmark = [
    pytest.mark.skipif(find_uv() is None, reason="universal locks need uv"),
    pytest.mark.skipif(sys.platform != "linux", reason="the expected branch is the Linux one"),
]
BRANCHES = {
    "demo-linux": "sys_platform == 'linux'",
    "demo-macos": "sys_platform == 'darwin'",
    "demo-windows": "sys_platform == 'win32'",
}


def make_project(root: Path, *, universal: bool, installer: str = "auto") -> Project:
    """A project declaring ``tap-multi`` (and ``tap-beta``) from the fixture wheelhouse."""
    root.mkdir(parents=True)
    (root / "reconciler.toml").write_text(
        "[settings]\n"
        f'find-links = ["{WHEELS}"]\n'
        "no-index = true\n"
        f'installer = "{installer}"\n'
        f"universal = {'true' if universal else 'false'}\n\n"
        '[plugins.multi]\nrequirements = ["tap-multi"]\n\n'
        '[plugins.beta]\nrequirements = ["tap-beta"]\nuniversal = false\n',
        encoding="utf-8",
    )
    return Project(root)


def pinned_lines(lock: Path) -> dict[str, str]:
    """``name -> rest of the requirement line`` (version and marker) of every pin."""
    found = re.findall(
        r"^([a-z0-9-]+)==(\S+)(?: ; ([^\\]+?))?\s*\\?$", lock.read_text(encoding="utf-8"), re.M
    )
    return {
        name: f"{version}" + (f" ; {marker}" if marker else "") for name, version, marker in found
    }


def test_universal_lock_keeps_every_platform_branch(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p", universal=True)
    project.ok("lock")
    assert pinned_lines(project.lock("multi")) == {
        "demo-common": "1.1.0",
        **{name: f"1.0.0 ; {marker}" for name, marker in BRANCHES.items()},
        "tap-multi": "1.0.0",
    }
    # A plugin that opts out (universal = false) is resolved for this host only.
    assert "sys_platform" not in project.lock("beta").read_text(encoding="utf-8")


def test_host_lock_keeps_only_this_platform(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p", universal=False)
    project.ok("lock")
    assert pinned_lines(project.lock("multi")) == {
        "demo-common": "1.1.0",
        "demo-linux": "1.0.0",
        "tap-multi": "1.0.0",
    }


@pytest.mark.parametrize("installer", ["pip", "uv"])
def test_apply_installs_only_what_this_hosts_markers_select(tmp_path: Path, installer: str) -> None:
    project = make_project(tmp_path / "p", universal=True, installer=installer)
    project.ok("lock")
    change = project.change("multi")
    assert change["action"] == "create"
    assert sorted(i["name"] for i in change["install"]) == [
        "demo-common",
        "demo-linux",
        "tap-multi",
    ]
    project.ok("apply")
    assert project.dists("multi") == {
        "demo-common": "1.1.0",
        "demo-linux": "1.0.0",
        "tap-multi": "1.0.0",
    }
    assert project.script("multi", "tap-multi") == (
        "tap-multi 1.0.0 (demo-common 1.1.0) on linux: demo_linux\n"
    )
    assert project.run("plan", "--detailed-exitcode").code == 0, "plan is a no-op after apply"
    before = project.snapshot()
    project.ok("apply")
    assert project.snapshot() == before, "a second apply touches nothing"
    # Another platform's branch installed by hand is drift, removed by the next apply.
    project.hand_pip(
        "multi",
        "install",
        "--no-deps",
        "--no-index",
        str(WHEELS / "demo_macos-1.0.0-py3-none-any.whl"),
    )
    change = project.change("multi")
    assert change["action"] == "upgrade"
    assert [u["name"] for u in change["uninstall"]] == ["demo-macos"]


def test_switching_universal_makes_the_lock_stale(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p", universal=False)
    project.ok("lock")
    text = project.toml.read_text(encoding="utf-8").replace(
        "universal = false\n\n", "universal = true\n\n", 1
    )
    project.toml.write_text(text, encoding="utf-8")
    result = run_cli(project.root, "lock", "--check")
    assert result.code == 2, result.describe()
    assert "multi: stale (universal changed)" in result.out  # not "requirements changed"
    assert "beta: fresh" in result.out
    project.ok("lock")
    assert "sys_platform == 'darwin'" in project.lock("multi").read_text(encoding="utf-8")
