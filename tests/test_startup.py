"""Start-up: a no-op ``plan`` imports only what it uses (issue 20: a plan within ~60 ms of the
interpreter's own start-up), so that no import can creep back onto that path unseen."""

from __future__ import annotations

import hashlib
import itertools
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import attrs
import pytest
from builders import pkg
from helpers import Project

from reconciler.models import Action, IndexOptions, InputsDigest, Step
from reconciler.support import values

#: attrs and the standard modules it loads (the value classes are reconciler.support.values'
#: ``@frozen``; attrs stays for the toml edge reader's raw classes): on no hot path.
NO_ATTRS = ("attr", "attrs", "inspect", "ast", "dis", "tokenize", "platform", "dataclasses")

#: Modules (and their submodules) a no-op ``plan`` of requirements locks must not import: other
#: commands' values and machinery, lock formats it does not read, the edge readers and writers,
#: and the heavy libraries and standard modules none of that needs.
NOT_ON_THE_PLAN_PATH = (
    *NO_ATTRS,
    # other commands' results and the status command (``reconciler.results`` holds plan's only)
    "reconciler.results.changes",
    "reconciler.results.reports",
    "reconciler.results.status",
    "reconciler.commands.status",
    "reconciler.sources.toml_raw",  # the edge reader's attrs classes
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
    "click",  # the front parses a plan's command line (reconciler/front.py)
    "reconciler.clickcli",
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
    "tomllib",  # reconciler.toml in plain TOML: sources/toml_plain.py reads it
)


def _imported(
    project: Path, *args: str, env: dict[str, str] | None = None
) -> tuple[set[str], subprocess.CompletedProcess[str]]:
    """The modules ``python -X importtime -m reconciler --project P ARGS`` imports."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "reconciler", "--project", str(project), *args],
        capture_output=True,
        text=True,
        check=False,
        env=os.environ if env is None else env,
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
    *NO_ATTRS,
    "click",
    "reconciler.clickcli",
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


#: What a one-pin upgrade with uv must not import (issue 20: it pays start-up, the plan and
#: uv's own call): the other installer, the venv templates (no venv is created), the plan
#: file, the uv package's finder (``sysconfig``: the binary is found beside the interpreter),
#: the edge libraries, and the standard modules only failures, ``--verbose`` or deletions use.
NOT_ON_THE_UPGRADE_PATH = (
    *NO_ATTRS,
    "reconciler.installers.pip",
    "reconciler.installers.template",
    "reconciler.installers.origin",
    "reconciler.planfile",
    "reconciler.support.tool_errors",
    "reconciler.locking",
    "reconciler.records",
    "reconciler.results.reports",
    "reconciler.results.status",
    "uv",
    "sysconfig",
    "packaging",
    "cattrs",
    "tomlkit",
    "rich",
    "shutil",
    "tempfile",
    "shlex",
    "concurrent",
    "hashlib",
    "configparser",  # a pip configuration file exists below: it is read for pip only
)


def test_one_pin_upgrade_imports_only_what_it_uses(applied: Project, tmp_path: Path) -> None:
    lock = applied.lock("tap-beta")
    text = lock.read_text(encoding="utf-8")
    old = (applied.wheels / "demo_extra-1.0.0-py3-none-any.whl").read_bytes()
    new = (applied.wheels / "demo_extra-2.0.0-py3-none-any.whl").read_bytes()
    lock.write_text(
        text.replace("demo-extra==2.0.0", "demo-extra==1.0.0").replace(
            hashlib.sha256(new).hexdigest(), hashlib.sha256(old).hexdigest()
        ),
        encoding="utf-8",
    )
    pip_conf = tmp_path / "pip.conf"
    pip_conf.write_text("[global]\ntimeout = 60\n", encoding="utf-8")
    env = {**os.environ, "PIP_CONFIG_FILE": str(pip_conf)}
    names, done = _imported(applied.root, "apply", "--installer", "uv", env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "1 upgraded" in done.stdout, done.stdout
    assert "reconciler.installers.uv" in names  # the import lines were read: the check can fail
    found = {prefix: _under(names, prefix) for prefix in NOT_ON_THE_UPGRADE_PATH}
    assert {k: v for k, v in found.items() if v} == {}


def test_pip_configuration_is_read_for_pip_children_only(tmp_path: Path) -> None:
    """pip's network settings (here ``cert``) are re-exported for pip; for uv (which reads no
    ``PIP_*`` variable) the files are not read at all, and configparser is not loaded."""
    pip_conf = tmp_path / "pip.conf"
    pip_conf.write_text("[global]\ncert = /some/ca.pem\nindex-url = http://x.invalid\n", "utf-8")
    probe = (
        "import sys\n"
        "from reconciler.installers.pipconfig import hermetic_env\n"
        f"env = {{'PIP_CONFIG_FILE': {str(pip_conf)!r}, 'HOME': {str(tmp_path)!r}}}\n"
        "uv = hermetic_env(env, pip_config=False)\n"
        "print('configparser' in sys.modules, uv.get('PIP_CERT'))\n"
        "pip = hermetic_env(env)\n"
        "print('configparser' in sys.modules, pip.get('PIP_CERT'), pip.get('PIP_INDEX_URL'))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.splitlines() == ["False None", "True /some/ca.pem None"], done.stdout


@pytest.mark.parametrize(
    "path",
    [None, "", ":", os.pathsep.join(["/nonexistent", "/usr/bin", "/bin"]), "/bin:/bin"],
    ids=["PATH", "empty", "cwd", "missing-dir-first", "repeated"],
)
@pytest.mark.parametrize("name", ["sh", "ls", "no-such-command-here", "/bin/sh", "./sh", "bin"])
def test_which_finds_what_shutil_finds(name: str, path: str | None) -> None:
    from reconciler.support.paths import which  # noqa: PLC0415 - the unit under test

    assert which(name, path) == shutil.which(name, path=path)


_TWINS: dict[type, type] = {}


def _attrs_twin(value: object) -> object:
    """The same field values in a class (one per model class) whose methods attrs generated."""
    cls = type(value)
    if cls not in _TWINS:
        fields = {a.name: attrs.field(eq=a.eq, repr=a.repr) for a in values.fields(cls)}
        _TWINS[cls] = attrs.make_class(cls.__qualname__, fields, frozen=True)
    return _TWINS[cls](**{a.name: getattr(value, a.name) for a in values.fields(cls)})


_VALUES = (
    pkg("a", "1.0"),
    pkg("a", "1.0"),
    pkg("a", "1.1"),
    InputsDigest("d", universal_flipped="x"),
    InputsDigest("d", universal_flipped="y"),  # eq=False field: still equal
    InputsDigest("e"),
    Step("p", Action.NOOP),
    Step("p", Action.NOOP, reasons=("r",)),
    IndexOptions(),
    IndexOptions(no_index=True),
)


@pytest.mark.parametrize(("left", "right"), list(itertools.product(_VALUES, _VALUES)))
def test_shared_value_methods_behave_as_attrs_generated_ones(left: object, right: object) -> None:
    """models' classes share Value's __repr__/__eq__/__hash__ (start-up): same answers as the
    methods attrs would have compiled for each of them."""
    twin_left, twin_right = _attrs_twin(left), _attrs_twin(right)
    assert repr(left) == repr(twin_left)
    same_class = type(left) is type(right)
    assert (left == right) is (same_class and twin_left == twin_right)
    assert (left != right) is not (left == right)
    if left == right:
        assert hash(left) == hash(right)
    assert left != "not a value"


#: What ``lock`` with uv (index pins, no ``--upgrade-package``) must not import: the pip-tools
#: resolver and its helpers, the installers, ``concurrent.futures`` (and its ``logging``) and
#: ``packaging`` (requirements and pins of the common forms are read without it); the PEP 751
#: format (and tomllib) for requirements locks, ``--check``'s values, what only a failure
#: explains, and tempfile and shutil (each resolver's directory is made and removed in the
#: run's scratch directory without them).
NOT_ON_THE_UV_LOCK_PATH = (
    *NO_ATTRS,
    "click",
    "reconciler.clickcli",
    "reconciler.locking.piptools",
    "reconciler.installers.pip",
    "reconciler.installers.uv",
    "reconciler.installers.template",
    "reconciler.installers.origin",
    "reconciler.lockformats.pylock",
    "reconciler.results.changes",
    "reconciler.support.tool_errors",
    "importlib.resources",
    "concurrent",
    "logging",
    "packaging",
    "secrets",
    "tomllib",
    "tempfile",
    "shutil",
    "random",
    "base64",
)


def test_lock_with_uv_imports_only_what_it_uses(unlocked_project: Project) -> None:
    names, done = _imported(unlocked_project.root, "lock", "--resolver", "uv")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Lock complete: 3 written" in done.stdout, done.stdout
    assert "reconciler.locking.uv" in names  # the import lines were read: the check can fail
    found = {prefix: _under(names, prefix) for prefix in NOT_ON_THE_UV_LOCK_PATH}
    assert {k: v for k, v in found.items() if v} == {}
