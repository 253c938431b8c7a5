"""The tool as a distribution: its own name, one version, and no doc line installing another
project (the index's ``reconciler`` is an unrelated pandas/Wikidata library)."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from importlib.metadata import version
from pathlib import Path

import reconciler

REPO = Path(__file__).resolve().parents[1]
DIST_NAME = "venv-reconciler"
#: Where install instructions live: every one must name the tool's own distribution.
DOC_FILES = (
    REPO / "README.md",
    *sorted((REPO / "docs").rglob("*")),
    *sorted((REPO / "contrib").rglob("*")),
    *sorted((REPO / "fixtures").glob("*.md")),
)
#: An installer command, then (anywhere after it on the line) a requirement naming a
#: distribution called exactly ``reconciler`` (bare, with extras, or with a version), within the
#: same shell command (a backtick, pipe, ``&&``, ``;`` or ``)`` ends it).
INSTALL_COMMAND = re.compile(
    r"(?:pip3?|pipx|uv (?:tool|pip)|uvx|poetry|pdm|rye|hatch)\b[^\n#]*?\binstall\b([^\n#`|;&)]*)"
)
WRONG_NAME = re.compile(
    r"(?<![\w.-])['\"]?reconciler(?:\[[^\]]*\])?(?:[=<>~!]=?[^\s'\"]*)?['\"]?(?=\s|$)"
)


def _doc_lines() -> list[tuple[str, int, str]]:
    lines = []
    for path in DOC_FILES:
        if not path.is_file() or path.suffix in {".whl", ".gz", ".pyc"}:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            lines.append((str(path.relative_to(REPO)), number, line))
    return lines


def test_distribution_name_is_its_own() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["name"] == DIST_NAME
    assert project["scripts"] == {"reconciler": "reconciler.cli:main"}
    assert "uv" in project["optional-dependencies"]
    assert project["dynamic"] == ["version"]
    assert "version" not in project


def test_version_from_one_place() -> None:
    """``__version__`` is the only version: the installed metadata and ``--version`` agree."""
    assert version(DIST_NAME) == reconciler.__version__
    out = subprocess.run(
        [sys.executable, "-m", "reconciler", "--version"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert reconciler.__version__ in out.split()[-1]
    changelog = (REPO / "CHANGELOG.md").read_text(encoding="utf-8")
    assert "## Unreleased" in changelog
    assert f"## {reconciler.__version__}" in changelog


def test_wrong_name_detector_catches_the_old_lines() -> None:
    """The check below can fail: the spellings the issue found are caught, the right ones not."""
    bad = [
        "pip install 'reconciler[uv]'",
        "RUN pip install meltano==4.4.1 'reconciler[uv]'",
        "pipx install reconciler",
        "uv tool install reconciler==0.1.0",
        "        run: pip install reconciler",
        "`pip install reconciler` (wrong)",
    ]
    good = [
        "pipx install 'venv-reconciler[uv]'",
        "uv tool install venv-reconciler==0.1.0",
        "pip install --no-deps .",
        "pip install --require-hashes -r reconciler-tool.txt",
        "(`pipx install venv-reconciler`) reconciler locks",
        "| `pipx install pkg` | declare it, `reconciler lock`",
    ]
    for line in bad:
        found = INSTALL_COMMAND.search(line)
        assert found, line
        assert WRONG_NAME.search(found.group(1)), line
    for line in good:
        found = INSTALL_COMMAND.search(line)
        assert not (found and WRONG_NAME.search(found.group(1))), line


def test_no_doc_line_installs_the_wrong_package() -> None:
    offenders = []
    for where, number, line in _doc_lines():
        for found in INSTALL_COMMAND.finditer(line):
            if WRONG_NAME.search(found.group(1)):
                offenders.append(f"{where}:{number}: {line.strip()}")
    assert not offenders, "\n".join(offenders)
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert f"pipx install '{DIST_NAME}[uv]'" in readme
    assert f"uv tool install '{DIST_NAME}[uv]'" in readme
