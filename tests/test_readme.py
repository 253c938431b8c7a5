"""README's quick start runs as written.

The quick start's shell block is taken from README.md and run line by line in one bash session
(``cd`` carries over), each line's exit code checked against its ``# exit N`` comment, and the
text after ``exit N:`` looked for in that line's output. "The index" is a local stand-in
(tests/standin_index.py: an HTTPS proxy answering for pypi.org with a test CA) serving the
same names: the built venv-reconciler wheel, its locked dependencies (the hash-checked
wheelhouse) and a fixture wheel for the plugin the quick start names, at that version, with
the same console script. Nothing reaches the network: other hosts are refused.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import sys
from pathlib import Path
from types import ModuleType

import pytest
from release_helpers import (
    REPO,
    artifacts,
    python_dir,
    release_env,
    run,
    tool,
    wheelhouse,
)
from standin_index import StandInIndex

import reconciler

__all__ = ["artifacts"]  # the session fixture, imported for pytest
pytestmark = pytest.mark.slow
README = REPO / "README.md"


def sh_block(heading: str, after: str = "") -> list[str]:
    """The lines of the first ``sh`` block under ``heading`` (after the text ``after``)."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index(heading) :]
    section = section[: section.index("\n## ", 1)]
    section = section[section.index(after) :]
    found = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert found, f"no sh block under {heading!r}"
    return [line for line in found.group(1).splitlines() if line.strip()]


def quick_start() -> list[str]:
    return sh_block("## Quick start")


def expectations(line: str) -> tuple[int, str]:
    """``(exit code, text the output contains)`` from a ``# exit N: text`` comment."""
    found = re.search(r"#\s*exit (\d+)(?::\s*(.*?))?\s*(?:<-.*)?$", line)
    if not found:
        return 0, ""
    return int(found.group(1)), (found.group(2) or "").strip()


def the_plugin(lines: list[str]) -> tuple[str, str]:
    """The plugin name and pinned version of the quick start's ``reconciler add`` line."""
    for line in lines:
        words = shlex.split(line, comments=True)
        if words[:2] == ["reconciler", "add"]:
            name, requirement = words[2], words[3]
            found = re.fullmatch(r"([A-Za-z0-9._-]+)==([A-Za-z0-9.]+)", requirement)
            assert found, f"the quick start's requirement is not pinned: {requirement}"
            assert found.group(1) == name
            return name, found.group(2)
    raise AssertionError("no `reconciler add` line in the quick start")


def _make_wheels() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "make_wheels", REPO / "fixtures" / "make_wheels.py"
    )
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("make_wheels", module)  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


PLUGIN_MODULE = '''"""Stand-in for {name} {version} (a Singer target): same script and --help."""

import sys
from importlib.metadata import version


def main() -> int:
    if "--help" in sys.argv[1:] or "-h" in sys.argv[1:]:
        print("usage: {name} [-h] [-c CONFIG]")
        print("singer-python", version("singer-python"))
        return 0
    for line in sys.stdin:
        sys.stdout.write(line)
    return 0
'''


def standin_wheels(dest: Path, name: str, version: str) -> list[Path]:
    """The plugin at that version (console script ``name``) and its dependency, singer-python."""
    mw = _make_wheels()
    dest.mkdir(parents=True, exist_ok=True)
    plugin = mw.Dist(
        name=name,
        version=version,
        summary=f"stand-in for {name}",
        requires=("singer-python==5.8.0",),
        script=True,
        module_source=PLUGIN_MODULE.format(name=name, version=version),
    )
    singer = mw.Dist(
        name="singer-python",
        version="5.8.0",
        summary="stand-in for singer-python",
        module_source='__version__ = "5.8.0"\n',
    )
    return [mw.write_wheel(plugin, dest), mw.write_wheel(singer, dest)]


def script(lines: list[str], start: Path) -> str:
    """One bash script: each README line, then a marker with its exit code."""
    parts = [f"cd {shlex.quote(str(start))}"]
    for number, line in enumerate(lines):
        parts.append(f"echo '::line {number}::'")
        parts.append(line)
        parts.append(f'echo "::exit {number} $?::"')
    return "\n".join(parts) + "\n"


@pytest.mark.parametrize("variant", ["as-written", "uv-tool-install"])
def test_quick_start_runs_as_written(
    artifacts: dict[str, Path], tmp_path: Path, variant: str
) -> None:
    lines = quick_start()
    install = lines[0]
    assert install.startswith("pipx install 'venv-reconciler[uv]'"), install
    if variant == "uv-tool-install":  # the alternative the first line's comment gives
        found = re.search(r"#\s*or:\s*(.+)$", install)
        assert found, install
        lines = [found.group(1), *lines[1:]]
    name, version = the_plugin(lines)
    wheels = [
        *wheelhouse().glob("*.whl"),
        artifacts["wheel"],
        *standin_wheels(tmp_path / "standins", name, version),
    ]
    tools = tmp_path / "tools"
    tools.mkdir()
    (tools / "pipx").symlink_to(tool("pipx"))
    (tools / "uv").symlink_to(REPO / ".venv" / "bin" / "uv")
    bin_dir = tmp_path / "user-bin"  # where pipx / uv tool put `reconciler`
    bin_dir.mkdir()
    env = release_env(tmp_path, [bin_dir, tools, python_dir(tmp_path / "python")])
    # No other `reconciler` may answer: drop PATH entries that have one.
    env["PATH"] = os.pathsep.join(
        d
        for d in env["PATH"].split(os.pathsep)
        if d == str(bin_dir) or not (Path(d) / "reconciler").exists()
    )
    env.update(
        PIPX_HOME=str(tmp_path / "pipx-home"),
        PIPX_BIN_DIR=str(bin_dir),
        PIPX_MAN_DIR=str(tmp_path / "pipx-man"),
        UV_TOOL_DIR=str(tmp_path / "uv-tools"),
        UV_TOOL_BIN_DIR=str(bin_dir),
    )
    work = tmp_path / "work"
    work.mkdir()
    with StandInIndex(wheels, tmp_path / "index") as index:
        env.update(index.env())
        done = run(["bash", "--noprofile", "--norc", "-c", script(lines, work)], env, timeout=900)
        requests, refused = list(index.requests), list(index.refused)
    output = done.stdout + done.stderr
    for number, line in enumerate(lines):
        found = re.search(rf"::line {number}::\n(.*?)::exit {number} (\d+)::", output, re.DOTALL)
        assert found, f"line {number} did not run: {line}\n{output}"
        said, code = found.group(1), int(found.group(2))
        want_code, want_text = expectations(line)
        assert code == want_code, f"{line}\nexit {code}, README says {want_code}\n{said}"
        assert want_text in said, f"{line}\nREADME says the output has {want_text!r}:\n{said}"
    assert not refused, refused  # nothing tried to leave the stand-in
    assert any(f"/simple/{name}/" in r for r in requests)
    assert any("/simple/venv-reconciler/" in r for r in requests)
    project = work / "myproject"
    assert (project / "lock" / f"{name}.txt").is_file()
    help_line = next(n for n, line in enumerate(lines) if "-- --help" in line)
    said = re.search(rf"::line {help_line}::\n(.*?)::exit", output, re.DOTALL)
    assert said
    assert f"usage: {name}" in said.group(1)
    marker = (project / ".venvs" / name / "reconciler-state.json").read_text(encoding="utf-8")
    assert '"installer": "uv"' in marker  # the `uv` extra was installed and used


def test_pinned_install_runs_as_written(artifacts: dict[str, Path], tmp_path: Path) -> None:
    """README's "Pinned and hash-checked" block: compile the tool's lock with uv, install it
    with pip --require-hashes (only the install prefix /opt/reconciler is moved under tmp)."""
    lines = sh_block("## Install, upgrade, uninstall", after="**Pinned and hash-checked**")
    assert f"venv-reconciler[uv]=={reconciler.__version__}" in lines[0]  # kept current
    prefix = tmp_path / "opt" / "reconciler"
    lines = [line.replace("/opt/reconciler", str(prefix)) for line in lines]
    tools = tmp_path / "tools"
    tools.mkdir()
    (tools / "uv").symlink_to(REPO / ".venv" / "bin" / "uv")
    env = release_env(tmp_path, [tools, python_dir(tmp_path / "python")])
    work = tmp_path / "work"
    work.mkdir()
    wheels = [*wheelhouse().glob("*.whl"), artifacts["wheel"]]
    with StandInIndex(wheels, tmp_path / "index") as index:
        env.update(index.env())
        done = run(["bash", "--noprofile", "--norc", "-c", script(lines, work)], env, timeout=900)
        refused = list(index.refused)
    for number in range(len(lines)):
        assert f"::exit {number} 0::" in done.stdout, f"{lines[number]}\n{done.stdout}{done.stderr}"
    assert not refused, refused
    locked = (work / "reconciler-tool.txt").read_text(encoding="utf-8")
    assert "venv-reconciler==" in locked
    assert "uv==" in locked
    assert "--hash=sha256:" in locked
    version = run([prefix / "bin" / "reconciler", "--version"], env).stdout
    assert version.split()[-1] == reconciler.__version__
    assert (prefix / "bin" / "uv").is_file()
