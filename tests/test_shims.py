"""Interpreters behind version-manager shims: cached without starting the shim, switched by
exactly what decides the shim's answer (PYENV_VERSION, .python-version, the global version file,
installed versions, the chosen executable).

The end-to-end tests use a real pyenv: a copy of its ``python3`` shim that also counts its own
starts, in a shim directory of the test's own, first on PATH.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import pyenv_python, pyenv_root, skip_or_fail

from reconciler.interpreters import probe
from reconciler.support import shims

PYENV_ROOT = pyenv_root()
REAL_SHIM = None if PYENV_ROOT is None else PYENV_ROOT / "shims" / "python3"
#: major.minor -> the newest installed pyenv version of it (a PYENV_VERSION value)
VERSIONS = {
    short: exe.parents[1].name
    for short in ("3.11", "3.12", "3.13")
    if (exe := pyenv_python(short)) is not None
}
HAVE_PYENV = REAL_SHIM is not None and REAL_SHIM.is_file() and len(VERSIONS) == 3


@pytest.fixture
def needs_pyenv() -> None:
    """A real pyenv with 3.11, 3.12 and 3.13 installed (skip here; fail on CI)."""
    if not HAVE_PYENV:
        skip_or_fail(f"pyenv with Python 3.11, 3.12 and 3.13 not installed (found {VERSIONS})")


def counting_shim(directory: Path, count_file: Path) -> Path:
    """A copy of pyenv's real ``python3`` shim that appends a line to ``count_file`` per start."""
    directory.mkdir(parents=True, exist_ok=True)
    assert REAL_SHIM is not None
    text = REAL_SHIM.read_text(encoding="utf-8")
    head, sep, rest = text.partition("set -e\n")
    assert sep, "unexpected pyenv shim layout"
    shim = directory / "python3"
    shim.write_text(f'{head}{sep}echo started >> "{count_file}"\n{rest}', encoding="utf-8")
    shim.chmod(0o755)
    return shim


class Project:
    """A one-plugin project whose interpreter is ``python3`` through the counting shim."""

    def __init__(self, tmp_path: Path) -> None:
        self.root = tmp_path / "proj"
        self.root.mkdir()
        (self.root / "reconciler.toml").write_text(
            '[settings]\nno-index = true\n\n[plugins.a]\nrequirements = ["tap-beta"]\n',
            encoding="utf-8",
        )
        self.count_file = tmp_path / "starts"
        self.shim = counting_shim(tmp_path / "shims", self.count_file)
        self.env = dict(os.environ)
        self.env.pop("PYENV_VERSION", None)
        self.env.pop("PYENV_DIR", None)
        self.env["PATH"] = f"{self.shim.parent}{os.pathsep}{self.env['PATH']}"
        self.env["RECONCILER_CACHE_DIR"] = str(tmp_path / "cache")

    @property
    def starts(self) -> int:
        """How often the shim has been started so far."""
        if not self.count_file.exists():
            return 0
        return len(self.count_file.read_text(encoding="utf-8").splitlines())

    def python(self, **env: str | None) -> str:
        """The major.minor reconciler resolves ``python3`` to, as ``lock --check`` reports it."""
        merged = dict(self.env)
        for key, value in env.items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = value
        return check_python(self.root, self.root, merged)


def check_python(project: Path, cwd: Path, env: dict[str, str]) -> str:
    """Run ``lock --check`` from ``cwd`` against a lock made "for python 0.0"; parse the reason."""
    lock = project / "lock" / "a.txt"
    lock.parent.mkdir(exist_ok=True)
    lock.write_text(
        f"# reconciler-inputs: sha256:{'0' * 64} requirements=0 python=0.0 index=0\n"
        "tap-beta==1.0.0\n",
        encoding="utf-8",
    )
    result = subprocess.run(
        [sys.executable, "-m", "reconciler", "--project", str(project), "lock", "--check"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    found = re.search(r"interpreter changed \(python 0\.0 -> (\d+\.\d+)\)", result.stdout)
    assert found, result.stdout
    return found.group(1)


@pytest.mark.usefixtures("needs_pyenv")
def test_pyenv_version_switches_the_interpreter_and_a_repeat_starts_no_shim(
    tmp_path: Path,
) -> None:
    project = Project(tmp_path)
    assert project.python(PYENV_VERSION=VERSIONS["3.12"]) == "3.12"
    assert project.starts == 1
    assert project.python(PYENV_VERSION=VERSIONS["3.12"]) == "3.12"
    assert project.starts == 1, "a repeated run must not start the shim"
    assert project.python(PYENV_VERSION=VERSIONS["3.13"]) == "3.13"
    assert project.starts == 2
    assert project.python(PYENV_VERSION=VERSIONS["3.12"]) == "3.12"
    assert project.starts == 2, "the earlier answer is still cached"


@pytest.mark.usefixtures("needs_pyenv")
def test_python_version_file_switches_the_interpreter(tmp_path: Path) -> None:
    project = Project(tmp_path)
    version_file = project.root / ".python-version"
    version_file.write_text(VERSIONS["3.12"] + "\n", encoding="utf-8")
    assert project.python() == "3.12"
    assert project.python() == "3.12"
    assert project.starts == 1
    version_file.write_text(VERSIONS["3.13"] + "\n", encoding="utf-8")
    assert project.python() == "3.13"
    assert project.starts == 2
    # A nearer file (in a subdirectory we run from) wins over the project's.
    sub = project.root / "sub"
    sub.mkdir()
    (sub / ".python-version").write_text(VERSIONS["3.11"] + "\n", encoding="utf-8")
    assert check_python(project.root, sub, project.env) == "3.11"
    assert project.starts == 3
    # PYENV_VERSION wins over every file.
    assert project.python(PYENV_VERSION=VERSIONS["3.12"]) == "3.12"
    version_file.unlink()


# --- the key itself (no process) -----------------------------------------------------------------


def fake_pyenv(tmp_path: Path) -> tuple[Path, Path]:
    """A pyenv root with two "installed" versions and a shim naming that root."""
    root = tmp_path / "pyenv"
    for version in ("3.11.7", "3.12.1"):
        (root / "versions" / version / "bin").mkdir(parents=True)
    (root / "version").write_text("3.11.7\n", encoding="utf-8")
    shim = root / "shims" / "python3"
    shim.parent.mkdir()
    shim.write_text(
        "#!/usr/bin/env bash\nset -e\n"
        f'export PYENV_ROOT="{root}"\n'
        f'exec "{root}/libexec/pyenv" exec "python3" "$@"\n',
        encoding="utf-8",
    )
    shim.chmod(0o755)
    return root, shim


def test_shim_key_changes_with_everything_that_decides_the_answer(tmp_path: Path) -> None:
    root, shim = fake_pyenv(tmp_path)
    work = tmp_path / "work" / "deep"
    work.mkdir(parents=True)
    env = {"PATH": "/usr/bin", "HOME": str(tmp_path / "home")}

    def key(**extra: str) -> str | None:
        return shims.shim_key(shim, {**env, **extra}, work)

    base = key()
    assert base is not None
    assert key() == base, "same inputs, same key"
    seen = {base}

    def changed(new: str | None) -> None:
        assert new is not None
        assert new not in seen
        seen.add(new)

    changed(key(PYENV_VERSION="3.12.1"))
    (root / "version").write_text("3.12.1\n", encoding="utf-8")  # the global version file
    changed(key())
    (tmp_path / "work" / ".python-version").write_text("3.11.7\n", encoding="utf-8")  # a parent's
    changed(key())
    (work / ".python-version").write_text("3.12.1\n", encoding="utf-8")  # a nearer one
    changed(key())
    (work / ".python-version").write_text("3.11.7\n", encoding="utf-8")
    changed(key())
    os.utime(root / "versions", ns=(1, 1))  # a version installed or removed
    changed(key())
    changed(key(PATH="/opt/bin:/usr/bin"))  # "system" is found on PATH
    shim.write_text(shim.read_text() + "# edited\n", encoding="utf-8")
    changed(key())
    assert shims.shim_key(Path(sys.executable), env, work) is None, "a real binary is no shim"


def test_managers_are_recognised_by_their_shims(tmp_path: Path) -> None:
    _, pyenv_shim = fake_pyenv(tmp_path)
    asdf_shim = tmp_path / "asdf" / "python3"
    asdf_shim.parent.mkdir()
    asdf_shim.write_text('#!/usr/bin/env bash\nexec asdf exec "python3" "$@"\n', encoding="utf-8")
    mise = tmp_path / "mise-bin" / "mise"
    mise.parent.mkdir()
    mise.write_bytes(b"\x7fELF not really")
    mise_shim = tmp_path / "mise-shims" / "python3"
    mise_shim.parent.mkdir()
    mise_shim.symlink_to(mise)
    wrapper = tmp_path / "wrapper"
    wrapper.write_text('#!/bin/sh\nexec /usr/bin/python3 "$@"\n', encoding="utf-8")
    found = {
        name: shims.manager_of(path)
        for name, path in (
            ("pyenv", pyenv_shim),
            ("asdf", asdf_shim),
            ("mise", mise_shim),
            ("wrapper", wrapper),
        )
    }
    assert {name: (m[0].name if m else None) for name, m in found.items()} == {
        "pyenv": "pyenv",
        "asdf": "asdf",
        "mise": "mise",
        "wrapper": None,
    }
    env = {"HOME": str(tmp_path / "home"), "PATH": "/usr/bin"}
    asdf_key = shims.shim_key(asdf_shim, env, tmp_path)
    (tmp_path / ".tool-versions").write_text("python 3.12.1\n", encoding="utf-8")
    assert shims.shim_key(asdf_shim, env, tmp_path) != asdf_key
    mise_key = shims.shim_key(mise_shim, env, tmp_path)
    assert shims.shim_key(mise_shim, {**env, "MISE_PYTHON_VERSION": "3.12"}, tmp_path) != mise_key


@pytest.mark.usefixtures("needs_pyenv")
def test_a_replaced_target_executable_is_probed_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = Project(tmp_path)
    monkeypatch.setenv("RECONCILER_CACHE_DIR", project.env["RECONCILER_CACHE_DIR"])
    monkeypatch.setenv("PATH", project.env["PATH"])
    monkeypatch.setenv("PYENV_VERSION", VERSIONS["3.12"])
    monkeypatch.chdir(project.root)
    first = probe(project.shim)
    assert first.version == VERSIONS["3.12"]
    assert project.starts == 1
    assert probe(project.shim) == first
    assert project.starts == 1
    # Pretend the chosen executable changed since (a reinstall of that version): fault injection
    # into the cache, since the real interpreter must stay as it is.
    cache_file = Path(project.env["RECONCILER_CACHE_DIR"]) / "interpreters.json"
    data = json.loads(cache_file.read_text())
    for entry in data["entries"].values():
        entry["target"] = "elsewhere:0:0:0"
    cache_file.write_text(json.dumps(data))
    assert probe(project.shim) == first
    assert project.starts == 2


def test_a_plain_launcher_script_is_not_cached(tmp_path: Path) -> None:
    wrapper = tmp_path / "python-wrapper"
    count = tmp_path / "count"
    wrapper.write_text(
        f'#!/bin/sh\necho x >> "{count}"\nexec "{sys.executable}" "$@"\n', encoding="utf-8"
    )
    wrapper.chmod(0o755)
    assert shutil.which(str(wrapper))
    probe(wrapper)
    probe(wrapper)
    assert len(count.read_text().splitlines()) == 2, "its answer can change unseen: probe each time"
