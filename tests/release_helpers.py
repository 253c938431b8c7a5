"""Helpers of the release tests: the built artifacts, the tools that test them, the demo project.

The tools (``build/pipx``, ``build/twine``, ``build/check-jsonschema``, ``build/ansible``) and the
wheelhouse (``build/wheelhouse``: lock/requirements-uv.txt, hash-checked) are made by
``make tools wheelhouse``. ``make test`` sets ``RECONCILER_REQUIRE_TOOLS=1``: a missing tool then
fails the test instead of skipping it, so nothing is silently left out there.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest
from conftest import EXAMPLE, EXPECTED_OUTPUT, PLUGINS, hermetic_environ
from helpers import built_once

import reconciler

REPO = Path(__file__).resolve().parents[1]
BUILD = REPO / "build"
WHEELHOUSE = BUILD / "wheelhouse"
TOOL_LOCK = REPO / "lock" / "requirements-uv.txt"
DIST_NAME = "venv-reconciler"


#: The artifacts of this session: each test module imports the fixture (a fixture of its own to
#: pytest, so "session" scope alone would rebuild per module); the build runs once per run (the
#: xdist workers share it).
_BUILT: dict[str, Path] = {}


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Wheel and sdist built twice by scripts/dist.py (what ``make dist`` runs), compared."""
    if not _BUILT:
        built = built_once(tmp_path_factory, "artifacts", _build_twice)
        _BUILT.update(_check(built / "first", built / "second"))
    return dict(_BUILT)


def _build_twice(directory: Path) -> None:
    for name in ("first", "second"):
        out = directory / name
        out.mkdir()
        subprocess.run(
            [sys.executable, str(REPO / "scripts" / "dist.py"), "--outdir", str(out)],
            check=True,
            capture_output=True,
        )


def _check(first: Path, second: Path) -> dict[str, Path]:
    names = sorted(p.name for p in first.iterdir())
    version = reconciler.__version__
    assert names == [
        f"venv_reconciler-{version}-py3-none-any.whl",
        f"venv_reconciler-{version}.tar.gz",
    ]
    for name in names:
        assert (first / name).read_bytes() == (second / name).read_bytes(), f"{name} differs"
        if os.environ.get("RECONCILER_REQUIRE_TOOLS"):  # make test ran `make dist` just before
            made = REPO / "dist" / name
            assert made.read_bytes() == (first / name).read_bytes(), f"dist/{name} differs"
    return {
        "wheel": first / names[0],
        "sdist": first / names[1],
    }


def need(path: Path, target: str) -> Path:
    """``path``, which ``make target`` builds; skip without it (fail under ``make test``)."""
    if path.exists():
        return path
    message = f"{path.relative_to(REPO)} is missing (run `make {target}`)"
    if os.environ.get("RECONCILER_REQUIRE_TOOLS"):
        pytest.fail(message)
    pytest.skip(message)


def tool(name: str, executable: str | None = None) -> Path:
    """The executable ``executable`` (default ``name``) of the tool venv ``build/<name>``."""
    need(BUILD / name / ".stamp", "tools")
    return BUILD / name / "bin" / (executable or name)


def wheelhouse() -> Path:
    return need(WHEELHOUSE / ".stamp", "wheelhouse").parent


def pipx_shared_libs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ``PIPX_SHARED_LIBS`` directory (the venv whose pip installs into pipx's app venvs),
    made ONCE per run by pipx itself (``pipx upgrade-shared``, pip from the test wheels) and
    shared by the tests that run pipx: each would otherwise make its own on first use (a venv
    with ensurepip plus a pip upgrade). pipx only reads it afterwards."""

    def build(directory: Path) -> None:
        env = release_env(directory)
        env.update(
            PIPX_HOME=str(directory / "home"),
            PIPX_BIN_DIR=str(directory / "bin"),
            PIPX_MAN_DIR=str(directory / "man"),
            PIPX_SHARED_LIBS=str(directory / "shared"),
            PIP_NO_INDEX="1",
            PIP_FIND_LINKS=str(BUILD / "test-wheels"),
        )
        run([tool("pipx"), "upgrade-shared"], env)

    return built_once(tmp_path_factory, "pipx-shared", build) / "shared"


def lock_pins(path: Path = TOOL_LOCK) -> dict[str, tuple[str, frozenset[str]]]:
    """``name -> (version, sha256 hashes)`` of a hashed pip-compile lock."""
    pins: dict[str, tuple[str, frozenset[str]]] = {}
    for block in re.split(r"\n(?=\S)", path.read_text(encoding="utf-8")):
        found = re.match(r"([A-Za-z0-9._-]+)==([^\s;\\]+)", block)
        if found:
            name = re.sub(r"[-_.]+", "-", found.group(1)).lower()
            pins[name] = (found.group(2), frozenset(re.findall(r"sha256:([0-9a-f]{64})", block)))
    return pins


def constraints_file(dest: Path) -> Path:
    """The tool lock's pins as a constraints file without hashes (pip refuses hashed
    constraints beside an unhashed local wheel); the hashes are checked on the wheelhouse."""
    lines = [f"{name}=={version}" for name, (version, _) in sorted(lock_pins().items())]
    dest.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return dest


def check_wheelhouse_hashes(house: Path) -> int:
    """Every wheel in ``house`` has a sha256 the tool lock lists for its name; return the count."""
    pins = lock_pins()
    count = 0
    for wheel in sorted(house.glob("*.whl")):
        name = re.sub(r"[-_.]+", "-", wheel.name.split("-")[0]).lower()
        assert name in pins, f"{wheel.name}: not in {TOOL_LOCK.name}"
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        assert digest in pins[name][1], f"{wheel.name}: sha256 {digest} not in the lock"
        count += 1
    return count


def installed_dists(venv: Path) -> dict[str, str]:
    """``name -> version`` from the ``*.dist-info`` directories of ``venv``."""
    found = {}
    for info in venv.glob("lib/python*/site-packages/*.dist-info"):
        name, _, version = info.name[: -len(".dist-info")].partition("-")
        found[re.sub(r"[-_.]+", "-", name).lower()] = version
    return found


def release_env(tmp: Path, extra_path: Sequence[Path] = ()) -> dict[str, str]:
    """A hermetic environment (no ambient pip/uv index settings) with ``extra_path`` first."""
    env = hermetic_environ(tmp / "cache")
    for name in list(env):
        if name.startswith("UV_") and name != "UV_CACHE_DIR":
            del env[name]
    env["UV_NO_CONFIG"] = "1"
    env["UV_PYTHON_DOWNLOADS"] = "never"
    env["HOME"] = str(tmp / "home")
    (tmp / "home").mkdir(exist_ok=True)
    env["PATH"] = os.pathsep.join([*map(str, extra_path), env.get("PATH", os.defpath)])
    return env


def bash_step(script: str, env: Mapping[str, str], cwd: Path, label: str) -> str:
    """Run ``script`` as a CI runner or ``docker build`` runs a step (``bash -eo pipefail``, no
    profile); assert it passes (``label`` and its output shown when not); return its output."""
    done = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
        cwd=cwd,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, f"{label}: exit {done.returncode}\n{done.stdout}{done.stderr}"
    return done.stdout + done.stderr


def run(
    args: Sequence[str | Path],
    env: Mapping[str, str],
    cwd: Path | None = None,
    expect: int = 0,
    timeout: float = 600,
) -> subprocess.CompletedProcess[str]:
    """Run ``args``; assert its exit code is ``expect``; show its output when it is not."""
    done = subprocess.run(
        [str(a) for a in args],
        env=dict(env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == expect, (
        f"{' '.join(map(str, args))}: exit {done.returncode} (wanted {expect})\n"
        f"--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"
    )
    return done


def demo_project(dest: Path) -> Path:
    """A copy of the demo project (fixtures/example: offline, its own wheelhouse)."""
    shutil.copytree(EXAMPLE, dest)
    return dest


def run_demo(exe: Path, project: Path, env: Mapping[str, str]) -> None:
    """lock -> check -> plan -> apply -> no changes -> run every plugin, with ``exe``."""
    version = run([exe, "--version"], env).stdout
    assert version.split()[-1] == reconciler.__version__, version
    run([exe, "lock"], env, cwd=project)
    run([exe, "lock", "--check"], env, cwd=project)
    plan = run([exe, "plan", "--detailed-exitcode"], env, cwd=project, expect=2).stdout
    assert "Plan: 3 to create" in plan, plan
    run([exe, "apply"], env, cwd=project)
    run([exe, "plan", "--detailed-exitcode"], env, cwd=project)
    for plugin in PLUGINS:
        out = run([exe, "run", plugin], env, cwd=project).stdout.strip()
        assert out == EXPECTED_OUTPUT[plugin]


def python_for_tools() -> str:
    """The interpreter the installed tool runs on: the base interpreter of the test runner."""
    return str(Path(sys.executable).resolve())


def find_links(dest: Path, wheel: Path) -> Path:
    """One find-links directory: the hash-checked wheelhouse plus the built ``wheel``."""
    dest.mkdir(parents=True, exist_ok=True)
    for source in [*wheelhouse().glob("*.whl"), wheel]:
        (dest / source.name).symlink_to(source)
    return dest


def tool_lock_with(wheel: Path, dest: Path) -> Path:
    """``reconciler-tool.txt`` as README says to make it, for the built ``wheel``: the tool's
    pins with hashes (lock/requirements-uv.txt) plus venv-reconciler with the wheel's hash."""
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    text = TOOL_LOCK.read_text(encoding="utf-8")
    text += f"{DIST_NAME}=={reconciler.__version__} \\\n    --hash=sha256:{digest}\n"
    dest.write_text(text, encoding="utf-8")
    return dest


def python_dir(dest: Path) -> Path:
    """A directory holding ``python`` and ``python3``: the base interpreter of the test runner
    (what ``actions/setup-python`` or a container's ``python`` is)."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("python", "python3"):
        (dest / name).symlink_to(python_for_tools())
    return dest
