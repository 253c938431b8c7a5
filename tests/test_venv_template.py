"""Venvs created from a template are what ``uv venv`` / ``python -m venv`` write at that path."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from reconciler.installers import template
from reconciler.installers.pip import PipInstaller
from reconciler.installers.uv import UvInstaller, find_uv

BASE = os.path.realpath(getattr(sys, "_base_executable", None) or sys.executable)


def tree(venv: Path) -> dict[str, tuple[str, bytes]]:
    """Every entry of ``venv``: kind and content (files), target (links), with the venv's own
    path and name replaced by placeholders so venvs at different paths compare."""
    path, name = os.fsencode(venv), os.fsencode(venv.name)
    found: dict[str, tuple[str, bytes]] = {}
    for entry in sorted(venv.rglob("*")):
        rel = str(entry.relative_to(venv))
        if entry.is_symlink():
            found[rel] = ("link", os.fsencode(entry.readlink()).replace(path, b"@"))
        elif entry.is_dir():
            found[rel] = ("dir", oct(entry.stat().st_mode).encode())
        else:
            data = entry.read_bytes().replace(path, b"@").replace(name, b"#")
            found[rel] = ("file", data + oct(entry.stat().st_mode).encode())
    return found


def test_uv_venv_from_template_equals_uv_venv(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    uv = find_uv()
    if uv is None:
        pytest.fail("uv is a dev dependency: it must be installed")
    installer = UvInstaller(uv)
    cache = tmp_path / "cache"
    monkeypatch.setenv("RECONCILER_CACHE_DIR", str(cache))
    made = [tmp_path / f"gen-{i}" for i in range(3)]
    for venv in made:
        installer.create_venv(BASE, venv)
    reference = tmp_path / "reference"
    subprocess.run(
        [uv, "venv", "--no-config", "--quiet", "--python", BASE, str(reference)], check=True
    )
    templates = list((cache / "venv-templates").iterdir())
    assert len(templates) == 1, templates  # one template, made once, copied for every venv
    want = tree(reference)
    assert "pyvenv.cfg" in want
    assert "bin/python" in want
    for venv in made:
        assert tree(venv) == want
        assert os.path.realpath(venv / "bin" / "python") == BASE
    done = subprocess.run(
        [str(made[-1] / "bin" / "python"), "-c", "import sys; print(sys.prefix)"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip() == str(made[-1])


def test_stdlib_venv_from_template_equals_python_m_venv(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RECONCILER_CACHE_DIR", str(tmp_path / "cache"))
    installer = PipInstaller()
    made = [tmp_path / "g0000000000000001", tmp_path / "g0000000000000002"]
    for venv in made:
        installer.create_venv(BASE, venv)
    reference = tmp_path / "reference"
    subprocess.run([BASE, "-m", "venv", "--without-pip", str(reference)], check=True)
    want = tree(reference)
    for venv in made:
        assert tree(venv) == want  # pyvenv.cfg's command and the prompt name this venv


def test_unusual_path_gets_the_tools_own_process(tmp_path: Path) -> None:
    calls: list[Path] = []

    def make(path: Path) -> None:
        calls.append(path)
        subprocess.run([BASE, "-m", "venv", "--without-pip", str(path)], check=True)

    odd = tmp_path / "it's a venv"
    assert not template.create("venv", BASE, BASE, odd, make, tmp_path / "cache")
    assert calls == [odd]
    assert (odd / "pyvenv.cfg").is_file()
    assert not (tmp_path / "cache" / "venv-templates").exists()


def test_broken_template_is_rebuilt(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    calls: list[Path] = []

    def make(path: Path) -> None:
        calls.append(path)
        subprocess.run([BASE, "-m", "venv", "--without-pip", str(path)], check=True)

    assert template.create("venv", BASE, BASE, tmp_path / "a", make, cache)
    (home,) = (cache / "venv-templates").iterdir()
    for cfg in home.glob("*/pyvenv.cfg"):
        cfg.unlink()  # damaged by hand
    assert template.create("venv", BASE, BASE, tmp_path / "b", make, cache)
    assert len(calls) == 2
    assert (tmp_path / "b" / "pyvenv.cfg").is_file()
    shutil.rmtree(cache)
    assert template.create("venv", BASE, BASE, tmp_path / "c", make, cache)
    assert len(calls) == 3
