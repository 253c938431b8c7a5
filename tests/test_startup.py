"""Start-up: a no-op ``plan`` imports only what it uses (issue 20: a plan within ~60 ms of the
interpreter's own start-up), so that no import can creep back onto that path unseen."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import Project

#: Modules (and their submodules) a no-op ``plan`` of requirements locks must not import: other
#: commands' values and machinery, lock formats it does not read, the edge readers and writers,
#: and the heavy libraries and standard modules none of that needs.
NOT_ON_THE_PLAN_PATH = (
    # other commands' results (``reconciler.results`` holds plan's and status's only)
    "reconciler.results.changes",
    "reconciler.results.reports",
    # lock formats not read, the lock writers' values, the plan file (``-o``, ``--json``)
    "reconciler.lockformats.pylock",
    "reconciler.lockformats.base",
    "reconciler.planfile",
    # apply, lock, fetch, verify, installers, child processes
    "reconciler.apply",
    "reconciler.installers",
    "reconciler.locking",
    "reconciler.records",
    "reconciler.support.procs",
    "reconciler.support.scratch",
    "reconciler.sources.toml_edit",
    "reconciler.sources.meltano",
    # libraries only the edges use
    "packaging",
    "cattrs",
    "tomlkit",
    "rich",
    "ruamel",
    "click.shell_completion",
    # standard modules nothing on the path needs
    "shutil",
    "subprocess",
    "hashlib",
    "tempfile",
    "csv",
    "difflib",
    "concurrent",
    "configparser",
    "fcntl",
    "urllib.request",
    "email",
)


def _imported(project: Path, *args: str) -> tuple[set[str], subprocess.CompletedProcess[str]]:
    """The modules ``python -X importtime -m reconciler --project P ARGS`` imports."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "reconciler", "--project", str(project), *args],
        capture_output=True,
        text=True,
        check=False,
        env=os.environ,
        timeout=120,
    )
    names = set(re.findall(r"^import time:\s+\d+ \|\s+\d+ \|\s*(\S+)$", done.stderr, re.M))
    return names, done


def _under(names: set[str], prefix: str) -> list[str]:
    return sorted(n for n in names if n == prefix or n.startswith(prefix + "."))


def test_noop_plan_imports_only_what_it_uses(applied: Project) -> None:
    names, done = _imported(applied.root, "plan", "--detailed-exitcode")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "No changes." in done.stdout
    assert "reconciler.plan" in names  # the import lines were read: the check can fail
    found = {prefix: _under(names, prefix) for prefix in NOT_ON_THE_PLAN_PATH}
    assert {k: v for k, v in found.items() if v} == {}


#: What a no-op ``apply`` must not import besides (it executes nothing).
NOT_ON_THE_NOOP_APPLY_PATH = (
    "reconciler.apply.execute",
    "reconciler.installers",
    "reconciler.support.procs",
    "reconciler.support.tool_errors",
    "packaging",
    "shutil",
    "subprocess",
    "tempfile",
    "ctypes",
)


def test_noop_apply_loads_no_executor(applied: Project) -> None:
    names, done = _imported(applied.root, "apply")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "No changes." in done.stdout
    assert "reconciler.commands.apply" in names
    found = {prefix: _under(names, prefix) for prefix in NOT_ON_THE_NOOP_APPLY_PATH}
    assert {k: v for k, v in found.items() if v} == {}


def test_changes_still_import_what_they_need(applied: Project) -> None:
    """The lazy imports happen where they are needed: ``plan --json`` loads the plan file's
    writer, a plan with changes checks the apply lock file (the pin above is not vacuous)."""
    (applied.root / ".venvs" / "tap-alpha").unlink()  # the stable link: tap-alpha to create
    names, done = _imported(applied.root, "plan", "--json")
    assert done.returncode == 0, done.stderr[-2000:]
    assert '"create": 1' in done.stdout
    assert _under(names, "reconciler.planfile")
    assert _under(names, "cattrs")
    assert _under(names, "reconciler.support.scratch")


@pytest.mark.parametrize(
    "path",
    [None, "", ":", os.pathsep.join(["/nonexistent", "/usr/bin", "/bin"]), "/bin:/bin"],
    ids=["PATH", "empty", "cwd", "missing-dir-first", "repeated"],
)
@pytest.mark.parametrize("name", ["sh", "ls", "no-such-command-here", "/bin/sh", "./sh", "bin"])
def test_which_finds_what_shutil_finds(name: str, path: str | None) -> None:
    from reconciler.support.paths import which  # noqa: PLC0415 - the unit under test

    assert which(name, path) == shutil.which(name, path=path)
