"""One installer call per venv: a lock mixing hashed pins and a git commit installs with uv in a
single ``uv pip install`` (hashes still checked); pip needs two calls and builds the git line once.

Real git repository (``git+file://``), real uv and pip, real venvs; the child processes are only
counted (a wrapper around the one channel to them, :func:`reconciler.support.procs.run`).
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import Project
from test_direct import TEST_WHEELS, commit, git, local_project, new_project

from reconciler.cli import cli
from reconciler.support import procs


@pytest.fixture(autouse=True, scope="module")
def _test_wheels() -> None:
    assert (TEST_WHEELS / ".stamp").is_file(), "run `make test-wheels` (make test does) first"


@pytest.fixture
def installer_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[list[str], str]]:
    """Every child process reconciler starts: its command and the requirements file it got."""
    calls: list[tuple[list[str], str]] = []
    real = procs.run

    def counting(command: Sequence[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        words = [str(c) for c in command]
        text = ""
        if "-r" in words:
            text = Path(words[words.index("-r") + 1]).read_text(encoding="utf-8")
        calls.append((words, text))
        return real(command, **kwargs)

    monkeypatch.setattr(procs, "run", counting)
    return calls


def git_project(tmp_path: Path, installer: str) -> tuple[Project, str]:
    path = local_project(tmp_path / "repo" / "tap-git", "tap-git")
    git(path, "init", "-q", "-b", "main")
    sha = commit(path, "tap-git", "from git")
    requirements = [f"tap-git @ git+{path.as_uri()}@main", "demo-common==1.0.0"]
    project = new_project(
        tmp_path / "proj",
        f"[plugins.tap-g]\nrequirements = {json.dumps(requirements)}\n",
        f'installer = "{installer}"\nresolver = "uv"',
    )
    project.ok("lock")
    lock = project.lock("tap-g").read_text(encoding="utf-8")
    assert f"@{sha}" in lock
    assert re.search(r"demo-common==1\.0\.0 \\\n\s+--hash=sha256:", lock), lock
    return project, sha


def apply_in_process(project: Project) -> None:
    result = CliRunner().invoke(cli, ["--project", str(project.root), "apply"])
    assert result.exit_code == 0, result.output


def installs(calls: list[tuple[list[str], str]]) -> list[tuple[list[str], str]]:
    return [
        (words, text)
        for words, text in calls
        if "install" in words and ("pip" in words or words[1:3] == ["-m", "pip"])
    ]


def test_uv_installs_hashed_pins_and_a_git_commit_in_one_call(
    tmp_path: Path, installer_calls: list[tuple[list[str], str]]
) -> None:
    project, sha = git_project(tmp_path, "uv")
    apply_in_process(project)
    calls = installs(installer_calls)
    assert len(calls) == 1, [c for c, _ in calls]
    words, text = calls[0]
    assert "--verify-hashes" in words
    assert not any(w.startswith("--reinstall") for w in words)  # a new venv: nothing rebuilt
    assert re.search(r"^demo-common==1\.0\.0 --hash=sha256:[0-9a-f]{64}$", text, re.M), text
    assert re.search(rf"^tap-git @ git\+file://\S+@{sha}$", text, re.M), text
    assert project.script("tap-g", "tap-git").strip() == "from git"
    assert project.dists("tap-g") == {"demo-common": "1.0.0", "tap-git": "0.1.0"}
    assert project.ok("plan").out.startswith("No changes.")


def test_one_uv_call_still_checks_every_hash(tmp_path: Path) -> None:
    project, _ = git_project(tmp_path, "uv")
    lock = project.lock("tap-g")
    text = lock.read_text(encoding="utf-8")
    digest = re.search(r"demo-common==1\.0\.0 \\\n\s+--hash=sha256:([0-9a-f]{64})", text)
    assert digest is not None
    lock.write_text(text.replace(digest.group(1), "0" * 64), encoding="utf-8")
    result = project.run("apply")
    assert result.code == 1, result.describe()
    assert "hash" in result.err.lower(), result.err
    assert not project.venv("tap-g").exists()


def test_pip_builds_the_git_line_once_in_a_second_call(
    tmp_path: Path, installer_calls: list[tuple[list[str], str]]
) -> None:
    project, sha = git_project(tmp_path, "pip")
    apply_in_process(project)
    calls = installs(installer_calls)
    assert len(calls) == 2, [c for c, _ in calls]
    (first, first_text), (second, second_text) = calls
    assert "--require-hashes" in first
    assert "tap-git" not in first_text
    assert "demo-common" not in second_text
    assert sha in second_text
    assert "--force-reinstall" not in first + second  # a new venv: nothing reinstalled
    assert project.script("tap-g", "tap-git").strip() == "from git"


def test_upgrade_in_place_reinstalls_only_the_moved_git_package(
    tmp_path: Path, installer_calls: list[tuple[list[str], str]]
) -> None:
    project, _ = git_project(tmp_path, "uv")
    apply_in_process(project)
    path = tmp_path / "repo" / "tap-git"
    third = commit(path, "tap-git", "moved")
    project.ok("lock", "--upgrade-package", "tap-git")
    installer_calls.clear()
    apply_in_process(project)
    calls = installs(installer_calls)
    assert len(calls) == 1, [c for c, _ in calls]
    words, text = calls[0]
    assert "--reinstall-package=tap-git" in words
    assert "demo-common" not in text
    assert third in text
    assert project.script("tap-g", "tap-git").strip() == "moved"
    assert project.venv("tap-g").is_symlink()
