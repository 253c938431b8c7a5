"""`reconciler lock`: real pip-compile and uv runs against the fixture wheelhouse, offline.

Most tests run once per resolver (``resolver`` fixture): both must behave the same.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import shutil
import stat
import subprocess
import sys
import tomllib
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from helpers import (
    other_python,
    python_version,
    require_python,
    run_cli,
    run_cli_in_process,
    skip_or_fail,
)

from reconciler import lockfile
from reconciler.installers.uv import find_uv
from reconciler.locking import piptools
from reconciler.locking.base import ResolveRequest, resolve_needs_tls
from reconciler.locking.piptools import resolver_python
from reconciler.models import IndexOptions, Interpreter, Plugin
from reconciler.support import procs
from reconciler.support.tool_errors import explain_uv as uv_resolution_error

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "example"
WHEELS = FIXTURE / "wheels"
TEST_WHEELS = FIXTURE.parents[1] / "build" / "test-wheels"
HAS_UV = find_uv() is not None
RESOLVERS = [
    pytest.param("pip-tools", id="pip-tools"),
    pytest.param("uv", id="uv", marks=pytest.mark.skipif(not HAS_UV, reason="uv not installed")),
]


@pytest.fixture(params=RESOLVERS)
def resolver(request: pytest.FixtureRequest) -> str:
    """Each resolver in turn."""
    name: str = request.param
    return name


def make_project(tmp_path: Path, plugins: str, resolver: str = "auto") -> Path:
    """A project using the fixture wheelhouse with the given ``[plugins.*]`` tables."""
    project = tmp_path / "proj"
    project.mkdir(parents=True, exist_ok=True)
    (project / "reconciler.toml").write_text(
        f'[settings]\nfind-links = ["{WHEELS}"]\nno-index = true\nresolver = "{resolver}"\n\n'
        f"{plugins}",
        encoding="utf-8",
    )
    return project


def pins(lock: Path) -> dict[str, str]:
    """``name -> version`` of every pin in a lock file."""
    return dict(re.findall(r"^([a-z0-9-]+)==(\S+)", lock.read_text(encoding="utf-8"), re.M))


def wheel_hash(name: str) -> str:
    """sha256 of a fixture wheel, as pip-compile writes it."""
    return "sha256:" + hashlib.sha256((WHEELS / name).read_bytes()).hexdigest()


TWO_PLUGINS = (
    '[plugins.beta]\nrequirements = ["tap-beta"]\n\n'
    '[plugins.gamma]\nrequirements = ["target-gamma"]\n'
)


def test_check_reports_missing_then_fresh_then_stale(tmp_path: Path) -> None:
    project = make_project(tmp_path, '[plugins.beta]\nrequirements = ["tap-beta"]\n')
    result = run_cli(project, "lock", "--check")
    assert result.returncode == 2, result
    assert "beta: missing" in result.stdout
    assert not (project / "lock").exists(), "--check must change nothing"

    assert run_cli(project, "lock").returncode == 0
    result = run_cli(project, "lock", "--check")
    assert result.returncode == 0, result
    assert "beta: fresh" in result.stdout

    toml = project / "reconciler.toml"
    toml.write_text(toml.read_text().replace('"tap-beta"', '"tap-beta", "demo-extra<2"'))
    result = run_cli(project, "lock", "--check")
    assert result.returncode == 2
    assert "beta: stale (requirements changed)" in result.stdout

    # An index URL beside no-index = true is ignored by pip, so it is no change; no-index is.
    toml.write_text(toml.read_text().replace("no-index = true", "no-index = true\nindex-url = 'x'"))
    result = run_cli(project, "lock", "--check")
    assert "index settings changed" not in result.stdout
    toml.write_text(toml.read_text().replace("no-index = true", "no-index = false"))
    result = run_cli(project, "lock", "--check")
    assert "index settings changed" in result.stdout


def test_orphaned_lock_reported_then_deleted(tmp_path: Path) -> None:
    project = make_project(
        tmp_path,
        TWO_PLUGINS,
    )
    assert run_cli(project, "lock").returncode == 0
    toml = project / "reconciler.toml"
    toml.write_text(toml.read_text().split("[plugins.gamma]")[0])
    handwritten = project / "lock" / "notes.txt"
    handwritten.write_text("not a lock of ours\n")
    result = run_cli(project, "lock", "--check")
    assert result.returncode == 2
    assert "gamma: orphaned lock lock/gamma.txt" in result.stdout  # relative to the project
    assert run_cli(project, "lock").returncode == 0
    assert not (project / "lock" / "gamma.txt").exists()
    assert handwritten.exists(), "files without our header are never deleted"


def test_incremental_lock_leaves_fresh_locks_byte_identical(tmp_path: Path, resolver: str) -> None:
    project = make_project(tmp_path, TWO_PLUGINS, resolver)
    assert run_cli(project, "lock").returncode == 0
    beta, gamma = project / "lock" / "beta.txt", project / "lock" / "gamma.txt"
    before = (beta.read_bytes(), beta.stat().st_mtime_ns, beta.stat().st_ino)
    toml = project / "reconciler.toml"
    toml.write_text(
        toml.read_text().replace('["target-gamma"]', '["target-gamma", "demo-common<1.1"]')
    )
    result = run_cli(project, "lock")
    assert result.returncode == 0, result.stderr
    assert "1 written, 1 unchanged" in result.stdout
    assert (beta.read_bytes(), beta.stat().st_mtime_ns, beta.stat().st_ino) == before
    assert pins(gamma)["demo-common"] == "1.0.0"


def test_lock_syncs_each_lock_and_the_lock_directory_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every lock written is synced before it replaces the old one (old or new, never part);
    the directory holding them is synced once for the run, not once per lock."""
    synced: list[str] = []
    real = os.fsync

    def recording(fd: int) -> None:
        synced.append("dir" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file")
        real(fd)

    project = make_project(
        tmp_path, TWO_PLUGINS + '\n[plugins.alpha]\nrequirements = ["tap-alpha"]\n', "uv"
    )
    monkeypatch.setattr(os, "fsync", recording)
    result = run_cli_in_process(project, "lock", "--jobs", "2")
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (project / "lock").iterdir()) == [
        "alpha.txt",
        "beta.txt",
        "gamma.txt",
    ]
    assert sorted(synced) == ["dir", "file", "file", "file"]


def test_an_unreadable_lock_fails_its_plugin_alone(tmp_path: Path) -> None:
    """A lock that cannot be read (not UTF-8) is that plugin's one-line error; the other
    plugins are still locked (their freshness is checked in their own jobs)."""
    project = make_project(tmp_path, TWO_PLUGINS, "uv")
    broken = project / "lock" / "beta.txt"
    broken.parent.mkdir()
    broken.write_bytes(b"# reconciler-inputs: \xff\xfe\n")
    result = run_cli(project, "lock", "--jobs", "2")
    assert result.returncode == 1, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "'beta'" in lines[0], lines
    assert "not UTF-8" in lines[0], lines
    assert broken.read_bytes() == b"# reconciler-inputs: \xff\xfe\n"  # left as it was
    assert pins(project / "lock" / "gamma.txt")["target-gamma"]
    assert "1 written, 0 unchanged, 1 failed" in result.stdout + result.stderr


def test_digest_ignores_comments_and_whitespace_in_toml(tmp_path: Path) -> None:
    project = make_project(tmp_path, '[plugins.beta]\nrequirements = ["tap-beta>=1"]\n')
    assert run_cli(project, "lock").returncode == 0
    toml = project / "reconciler.toml"
    toml.write_text(
        "# a comment\n" + toml.read_text().replace('["tap-beta>=1"]', '[ "tap-beta >= 1" ]  # why')
    )
    result = run_cli(project, "lock", "--check")
    assert result.returncode == 0, result.stdout


def test_upgrade_package_bumps_only_that_package(tmp_path: Path, resolver: str) -> None:
    project = make_project(tmp_path, '[plugins.beta]\nrequirements = ["tap-beta"]\n', resolver)
    assert run_cli(project, "lock").returncode == 0
    lock = project / "lock" / "beta.txt"
    assert pins(lock) == {"demo-common": "1.1.0", "demo-extra": "2.0.0", "tap-beta": "1.0.0"}
    # Pretend the lock was made when only the 1.0.0 releases existed (hashes stay valid).
    text = lock.read_text()
    for dist, new in (("demo-common", "1.1.0"), ("demo-extra", "2.0.0")):
        wheel = dist.replace("-", "_")
        text = text.replace(f"{dist}=={new}", f"{dist}==1.0.0")
        text = text.replace(
            wheel_hash(f"{wheel}-{new}-py3-none-any.whl"),
            wheel_hash(f"{wheel}-1.0.0-py3-none-any.whl"),
        )
    lock.write_text(text)
    assert run_cli(project, "lock").returncode == 0, "a fresh lock is not re-resolved"
    assert pins(lock)["demo-extra"] == "1.0.0"

    result = run_cli(project, "lock", "--upgrade-package", "demo-extra")
    assert result.returncode == 0, result.stderr
    assert pins(lock) == {"demo-common": "1.0.0", "demo-extra": "2.0.0", "tap-beta": "1.0.0"}

    result = run_cli(project, "lock", "--upgrade")
    assert result.returncode == 0, result.stderr
    assert pins(lock)["demo-common"] == "1.1.0"


def test_lock_holds_no_machine_path_and_reads_the_same_everywhere(
    tmp_path: Path, resolver: str
) -> None:
    project = make_project(tmp_path, '[plugins.beta]\nrequirements = ["tap-beta"]\n', resolver)
    assert run_cli(project, "lock").returncode == 0
    text = (project / "lock" / "beta.txt").read_text()
    assert str(tmp_path) not in text
    assert str(WHEELS) not in text
    assert "--find-links" not in text
    assert "--index-url" not in text
    assert "#    reconciler lock\n" in text
    assert text.startswith("# reconciler-inputs: sha256:")


@pytest.mark.parametrize(
    ("requirement", "expected"),
    [
        pytest.param("demo-common>=5", "demo-common>=5", id="no-matching-version"),
        pytest.param("no-such-dist", "no-such-dist", id="unknown-distribution"),
    ],
)
def test_resolution_error_is_one_line_naming_plugin(
    tmp_path: Path, requirement: str, expected: str, resolver: str
) -> None:
    project = make_project(
        tmp_path, f'[plugins.beta]\nrequirements = ["{requirement}"]\n', resolver
    )
    result = run_cli(project, "lock")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: plugin 'beta': cannot lock:")
    assert expected in lines[0]
    assert "Traceback" not in result.stderr


def test_conflict_names_the_conflicting_requirement(tmp_path: Path, resolver: str) -> None:
    project = make_project(
        tmp_path,
        '[plugins.alpha]\nrequirements = ["tap-alpha==1.1.0", "demo-common<1.1"]\n',
        resolver,
    )
    result = run_cli(project, "lock")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    expected = {
        "pip-tools": "conflicting requirements: "
        "demo-common<1.1 (requested) vs demo-common>=1.1 (from tap_alpha-1.1.0)",
        # uv's whole chain, its continuation lines joined: the last cause explains it.
        "uv": "No solution found when resolving dependencies: Because tap-alpha>=1.1.0 depends "
        "on demo-common>=1.1 and you require tap-alpha==1.1.0, we can conclude that you "
        "require demo-common>=1.1. And because you require demo-common<1.1, we can conclude "
        "that your requirements are unsatisfiable.",
    }
    assert lines[0] == f"error: plugin 'alpha': cannot lock: {expected[resolver]}"


def test_missing_interpreter_is_one_line_naming_plugin_and_what_was_tried(tmp_path: Path) -> None:
    project = make_project(
        tmp_path, '[plugins.beta]\nrequirements = ["tap-beta"]\npython = "python9.99"\n'
    )
    result = run_cli(project, "lock")
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "error: plugin 'beta': interpreter 'python9.99' not found "
        "(tried python9.99 on PATH, pyenv versions 9.99*)"
    )


def test_plugin_is_resolved_for_its_own_interpreter(tmp_path: Path, resolver: str) -> None:
    py312 = require_python("3.12")
    project = make_project(
        tmp_path,
        f'[plugins.beta]\nrequirements = ["tap-beta"]\n\n'
        f'[plugins.new]\nrequirements = ["tap-beta"]\npython = "{py312}"\n',
        resolver,
    )
    result = run_cli(project, "lock")
    assert result.returncode == 0, result.stderr
    assert " python=3.12 " in (project / "lock/new.txt").read_text()
    current = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert f" python={current} " in (project / "lock/beta.txt").read_text()
    tools = project / ".venvs" / ".reconciler" / "tools"
    if resolver == "pip-tools":
        text = (project / "lock/new.txt").read_text()
        assert "autogenerated by pip-compile with Python 3.12" in text
        assert f"Python {current}" in (project / "lock/beta.txt").read_text()
        helpers = list(tools.iterdir())
        assert len(helpers) == 1
        # The helper environment is reused: a second resolution creates nothing new.
        helper_inode = helpers[0].stat().st_ino
        assert run_cli(project, "lock", "new", "--upgrade").returncode == 0
        assert helpers[0].stat().st_ino == helper_inode
    else:
        assert not tools.exists(), "uv resolves for any Python version without a helper env"
        assert run_cli(project, "lock", "--upgrade").returncode == 0
    # Plan and apply build the venv with that interpreter.
    assert run_cli(project, "apply").returncode == 0
    cfg = (project / ".venvs" / "new" / "pyvenv.cfg").read_text()
    assert "3.12" in cfg
    out = subprocess.run(
        [project / ".venvs/new/bin/tap-beta"], capture_output=True, text=True, check=True
    )
    assert out.stdout.startswith("tap-beta 1.0.0")
    assert run_cli(project, "plan", "--detailed-exitcode").returncode == 0
    shutil.rmtree(project / ".venvs")


# --- resolver parity and settings ------------------------------------------------------------


def _make_wheels() -> ModuleType:
    """``fixtures/make_wheels.py`` as a module (to write extra wheels for one test)."""
    spec = importlib.util.spec_from_file_location("make_wheels", FIXTURE.parent / "make_wheels.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("make_wheels", module)
    spec.loader.exec_module(module)
    return module


def locked_packages(lock: Path) -> tuple[tuple[str, str, tuple[str, ...], str | None], ...]:
    """What a lock pins: (name, version, hashes, marker) per line, as the tool reads it."""
    parsed = lockfile.parse(lock.stem, lock, lock.read_text(encoding="utf-8"))
    return tuple((p.name, p.version, p.hashes, p.marker) for p in parsed.packages)


@pytest.mark.skipif(not HAS_UV, reason="uv not installed")
def test_both_resolvers_give_the_same_pins_and_hashes_on_the_fixtures(tmp_path: Path) -> None:
    example = (FIXTURE / "reconciler.toml").read_text(encoding="utf-8")
    plugins = example[example.index("\n[plugins.") :]
    projects = {}
    for name in ("pip-tools", "uv"):
        projects[name] = make_project(tmp_path / name, plugins, name)
        result = run_cli(projects[name], "lock")
        assert result.returncode == 0, result.stderr
    for plugin in ("tap-alpha", "tap-beta", "target-gamma"):
        by_pip = locked_packages(projects["pip-tools"] / "lock" / f"{plugin}.txt")
        by_uv = locked_packages(projects["uv"] / "lock" / f"{plugin}.txt")
        assert by_pip == by_uv, plugin
        assert by_pip, plugin
        header = {
            (projects[n] / "lock" / f"{plugin}.txt").read_text().splitlines()[0] for n in projects
        }
        assert len(header) == 1, f"the inputs header must not depend on the resolver: {header}"
    assert (
        "autogenerated by pip-compile" in (projects["pip-tools"] / "lock/tap-beta.txt").read_text()
    )
    assert "autogenerated by uv" in (projects["uv"] / "lock/tap-beta.txt").read_text()


@pytest.mark.skipif(not HAS_UV, reason="uv not installed")
def test_lock_freshness_does_not_depend_on_the_resolver(tmp_path: Path) -> None:
    project = make_project(tmp_path, TWO_PLUGINS, "uv")
    assert run_cli(project, "lock").returncode == 0
    beta = project / "lock" / "beta.txt"
    before = (beta.read_bytes(), beta.stat().st_mtime_ns, beta.stat().st_ino)
    toml = project / "reconciler.toml"
    toml.write_text(toml.read_text().replace('resolver = "uv"', 'resolver = "pip-tools"'))
    result = run_cli(project, "lock", "--check")
    assert result.returncode == 0, result.stdout
    result = run_cli(project, "lock")
    assert result.returncode == 0, result.stderr
    assert "0 written, 2 unchanged" in result.stdout
    assert (beta.read_bytes(), beta.stat().st_mtime_ns, beta.stat().st_ino) == before
    # A uv-made lock is kept as pip-compile's preferences (and the other way round below).
    result = run_cli(project, "lock", "--upgrade-package", "demo-extra")
    assert result.returncode == 0, result.stderr
    assert pins(beta) == {"demo-common": "1.1.0", "demo-extra": "2.0.0", "tap-beta": "1.0.0"}
    result = run_cli(project, "lock", "--resolver", "uv", "--upgrade-package", "demo-common")
    assert result.returncode == 0, result.stderr
    assert "autogenerated by uv" in beta.read_text()


def test_plugin_index_constraints_and_pre_reach_the_resolver(tmp_path: Path, resolver: str) -> None:
    mw = _make_wheels()
    newer = tmp_path / "newer"
    newer.mkdir()
    mw.write_wheel(mw.plugin("tap-beta", "9.0.0", ("demo-common>=1.0",)), newer)
    mw.write_wheel(mw.library("demo-extra", "3.0.0rc1"), newer)
    project = tmp_path / "proj"
    (project / "pins").mkdir(parents=True)
    (project / "pins" / "constraints.txt").write_text("demo-common==1.0.0\n", encoding="utf-8")
    constraints = "pins/constraints.txt"  # relative to the project, and so it reads in the lock
    project = make_project(
        tmp_path,
        '[plugins.plain]\nrequirements = ["tap-beta"]\n\n'
        f'[plugins.own-index]\nrequirements = ["tap-beta"]\n'
        f'find-links = ["{WHEELS}", "{newer}"]\n\n'
        f'[plugins.constrained]\nrequirements = ["tap-beta"]\nconstraints = ["{constraints}"]\n\n'
        f'[plugins.pre]\nrequirements = ["demo-extra"]\nfind-links = ["{newer}"]\npre = true\n\n'
        f'[plugins.final]\nrequirements = ["demo-extra"]\nfind-links = ["{WHEELS}", "{newer}"]\n',
        resolver,
    )
    result = run_cli(project, "lock")
    assert result.returncode == 0, result.stderr
    lock = project / "lock"
    assert pins(lock / "plain.txt")["tap-beta"] == "1.0.0", "project index: no 9.0.0"
    assert pins(lock / "own-index.txt")["tap-beta"] == "9.0.0", "the plugin's own find-links"
    assert pins(lock / "constrained.txt")["demo-common"] == "1.0.0"
    assert pins(lock / "pre.txt") == {"demo-extra": "3.0.0rc1"}
    assert pins(lock / "final.txt") == {"demo-extra": "2.0.0"}
    assert "-c pins/constraints.txt" in (lock / "constrained.txt").read_text()
    for path in lock.iterdir():
        assert str(tmp_path) not in path.read_text(), path.read_text()


def test_universal_with_pip_tools_is_a_one_line_error_naming_the_setting(tmp_path: Path) -> None:
    project = make_project(
        tmp_path,
        '[plugins.beta]\nrequirements = ["tap-beta"]\nuniversal = true\n\n'
        '[plugins.gamma]\nrequirements = ["target-gamma"]\n',
        "pip-tools",
    )
    result = run_cli(project, "lock")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "error: plugin 'beta': universal = true needs the uv resolver "
        '(set resolver = "uv" or "auto" with uv installed, or universal = false)'
    ]
    assert (project / "lock" / "gamma.txt").is_file(), "the other plugin is still locked"
    assert not (project / "lock" / "beta.txt").exists()


@pytest.mark.parametrize(
    ("stderr", "expected"),
    [
        pytest.param(
            "error: Request failed after 3 retries\n"
            "  Caused by: Failed to fetch: `https://user:secret@host/simple/x/`\n"
            "  Caused by: error sending request for url\n"
            "  Caused by: client error (Connect)\n"
            "  Caused by: Connection refused (os error 111)\n",
            "Request failed after 3 retries: Failed to fetch: `https://****@host/simple/x/`: "
            "Connection refused (os error 111)",
            id="caused-by-chain-keeps-the-url-and-last-cause",
        ),
        pytest.param(
            "  \u00d7 No solution found when resolving dependencies:\n"
            "  ╰─▶ Because you require a>=5 and only a<=1 is available, we can\n"
            "      conclude that your requirements are unsatisfiable.\n"
            "\n"
            "      hint: a was found on https://x/simple, but not at the requested version\n",
            "No solution found when resolving dependencies: Because you require a>=5 and only a<=1 "
            "is available, we can conclude that your requirements are unsatisfiable.",
            id="fancy-renderer",
        ),
        pytest.param(
            "warning: something minor\nerror: Failed to parse `x.in`\n  cause: bad line 3\n",
            "Failed to parse `x.in`: bad line 3",
            id="plain-cause",
        ),
        pytest.param("", "uv pip compile failed with no output", id="silent"),
    ],
)
def test_uv_error_is_its_head_and_last_cause(stderr: str, expected: str) -> None:
    assert uv_resolution_error(stderr) == expected


# --- the Python patch level (issue 16 point 4) -------------------------------------------------


def straddling_wheelhouse(dest: Path, full: str) -> Path:
    """``floor-pkg`` 1.0 (``Requires-Python >=X.Y``), 2.0 (``>=X.Y.Z``, this interpreter's patch
    level) and 3.0 (``>=X.Y.(Z+1)``, a later one): the pin for X.Y.Z is 2.0, for X.Y.0 1.0."""
    make_wheels: ModuleType = _make_wheels()
    major, minor, patch = (int(p) for p in full.split("."))
    dest.mkdir(parents=True)
    for version, floor in (
        ("1.0", f"{major}.{minor}"),
        ("2.0", f"{major}.{minor}.{patch}"),
        ("3.0", f"{major}.{minor}.{patch + 1}"),
    ):
        dist = make_wheels.Dist(
            name="floor-pkg",
            version=version,
            summary="needs a patch level",
            module_source="",
            requires_python=f">={floor}",
        )
        make_wheels.write_wheel(dist, dest)
    return dest


def uv_compile_pins(python: Path, wheels: Path, work: Path) -> dict[str, str]:
    """What ``uv pip compile --python <python>`` (no ``--python-version``) pins: the oracle."""
    uv = find_uv()
    assert uv is not None
    source = work / "oracle.in"
    source.write_text("floor-pkg\n", encoding="utf-8")
    done = subprocess.run(
        [uv, "pip", "compile", "--no-config", "--quiet", "--no-index", "--find-links",
         str(wheels), "--python", str(python), "--no-python-downloads", str(source)],
        capture_output=True, text=True, check=False, cwd=work,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return dict(re.findall(r"^([a-z0-9-]+)==(\S+)", done.stdout, re.M))


@pytest.mark.skipif(not HAS_UV, reason="uv not installed (it is the oracle)")
@pytest.mark.parametrize("version", ["3.11", "3.12", "other-patch"])
def test_lock_resolves_for_the_full_patch_level_and_records_it_as_floor(
    tmp_path: Path, resolver: str, version: str
) -> None:
    """``other-patch``: another interpreter of the tool's own X.Y (3.11.2 beside 3.11.7 here):
    pip-compile must not run under the tool's own interpreter for it."""
    python = other_python(sys.executable) if version == "other-patch" else require_python(version)
    full = python_version(python)
    assert full is not None
    major, minor, patch = (int(p) for p in full.split("."))
    if patch == 0:
        skip_or_fail(f"python {full}: an X.Y.0 cannot tell X.Y.Z from X.Y.0")
    wheels = straddling_wheelhouse(tmp_path / "wh", full)
    project = tmp_path / "proj"
    project.mkdir()
    (project / "reconciler.toml").write_text(
        f'[settings]\nfind-links = ["{wheels}"]\nno-index = true\nresolver = "{resolver}"\n\n'
        f'[plugins.p]\nrequirements = ["floor-pkg"]\npython = "{python}"\n',
        encoding="utf-8",
    )
    result = run_cli(project, "lock")
    assert result.returncode == 0, result.stderr
    lock = project / "lock" / "p.txt"
    assert pins(lock) == {"floor-pkg": "2.0"} == uv_compile_pins(python, wheels, tmp_path)
    header = lock.read_text().splitlines()[0]
    assert header.endswith(f" python={major}.{minor} index={header.split('index=')[1][:16]} "
                           f"python-floor={full}"), header  # fmt: skip
    assert run_cli(project, "lock", "--check").returncode == 0

    # a lock resolved on a later patch level is stale here, both versions named
    later = f"{major}.{minor}.{patch + 1}"
    lock.write_text(lock.read_text().replace(f"python-floor={full}", f"python-floor={later}"))
    result = run_cli(project, "lock", "--check")
    assert result.returncode == 2
    assert (
        f"p: stale (python {full} is older than {later}, the patch level the lock was resolved for)"
    ) in result.stdout
    plan = run_cli(project, "plan")
    assert f"python {full} is older than {later}" in plan.stdout + plan.stderr
    # one resolved on an earlier patch level is fresh (and left alone by lock)
    earlier = f"{major}.{minor}.{patch - 1}"
    lock.write_text(lock.read_text().replace(f"python-floor={later}", f"python-floor={earlier}"))
    assert run_cli(project, "lock", "--check").returncode == 0
    before = lock.read_bytes()
    assert run_cli(project, "lock").returncode == 0
    assert lock.read_bytes() == before
    # re-locked below its floor: resolved again, floor back to this interpreter
    lock.write_text(lock.read_text().replace(f"python-floor={earlier}", f"python-floor={later}"))
    assert run_cli(project, "lock").returncode == 0
    assert f"python-floor={full}" in lock.read_text()
    assert pins(lock) == {"floor-pkg": "2.0"}


@pytest.mark.skipif(not HAS_UV, reason="uv not installed")
@pytest.mark.parametrize("universal", [False, True])
def test_pylock_records_the_floor_as_requires_python(tmp_path: Path, universal: bool) -> None:
    full = f"{sys.version_info.major}.{sys.version_info.minor}.{sys.version_info.micro}"
    if sys.version_info.micro == 0:
        skip_or_fail(f"python {full}: an X.Y.0 cannot tell X.Y.Z from X.Y.0")
    project = tmp_path / "proj"
    straddling_wheelhouse(project / "wh", full)  # under the project: a pylock holds no abs path
    (project / "reconciler.toml").write_text(
        '[settings]\nfind-links = ["wh"]\nno-index = true\nresolver = "uv"\n\n'
        f'[plugins.p]\nrequirements = ["floor-pkg"]\nlock-format = "pylock"\n'
        f"universal = {'true' if universal else 'false'}\n",
        encoding="utf-8",
    )
    result = run_cli(project, "lock")
    assert result.returncode == 0, result.stderr
    lock = project / "lock" / "pylock.p.toml"
    data = tomllib.loads(lock.read_text())
    upper = "" if universal else f",<{sys.version_info.major}.{sys.version_info.minor + 1}"
    assert data["requires-python"] == f">={full}{upper}"
    assert data["tool"]["reconciler"]["python-floor"] == full
    versions = sorted(p["version"] for p in data["packages"])
    # universal: forked on python_full_version (3.0 from the later patch level on), never 1.0
    assert versions == (["2.0", "3.0"] if universal else ["2.0"])
    if universal:
        assert all("python_full_version" in p["marker"] for p in data["packages"])
    exported = project / "p.txt"  # the other format keeps the floor
    done = run_cli(project, "export", "--format", "requirements", "p", "-o", str(exported))
    assert done.returncode == 0, done.stderr
    assert exported.read_text().splitlines()[0].endswith(f" python-floor={full}")
    later = f"{sys.version_info.major}.{sys.version_info.minor}.{sys.version_info.micro + 1}"
    lock.write_text(
        lock.read_text().replace(f'python-floor = "{full}"', f'python-floor = "{later}"')
    )
    result = run_cli(project, "lock", "--check")
    assert result.returncode == 2
    assert f"python {full} is older than {later}" in result.stdout


def test_pip_compile_runs_under_an_interpreter_of_the_plugins_patch_level(tmp_path: Path) -> None:
    """pip checks ``Requires-Python`` against the interpreter it runs under: the tool's own only
    for the very same X.Y.Z, a helper of the plugin's interpreter for another patch level."""
    micro = sys.version_info.micro
    short = f"{sys.version_info.major}.{sys.version_info.minor}"
    base = str(require_python(short))
    assert resolver_python(Interpreter(base, f"{short}.{micro}"), tmp_path) == sys.executable
    helper = resolver_python(Interpreter(base, f"{short}.{micro + 1}"), tmp_path)
    assert helper != sys.executable
    assert Path(helper).is_relative_to(tmp_path)
    assert python_version(helper) == python_version(base)


HELPER_INSTALLERS = [
    pytest.param("uv", id="uv"),
    pytest.param("pip", id="pip"),  # uv is optional: without it the venv's own pip installs
]


@pytest.mark.parametrize("installer", HELPER_INSTALLERS)
def test_old_python_helper_holds_the_shipped_pip_tools_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, installer: str
) -> None:
    """Python 3.8-3.10 lock with pip-tools from a helper venv holding exactly the pins of the
    lock shipped for that version, hash-checked from the plugin's index. With uv installed, uv
    fills a venv made without ensurepip (an ensurepip bootstrap costs seconds on an old
    Python); without uv, the pip ensurepip seeded installs the same pins."""
    version = "3.10"
    base = str(require_python(version))
    if installer == "uv":
        if not HAS_UV:
            skip_or_fail("uv not installed")
    else:
        monkeypatch.setattr(piptools, "find_uv", lambda: None)
    commands: list[list[str]] = []
    real = procs.run

    def recording(command: Sequence[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        commands.append([str(c) for c in command])
        return real(command, **kwargs)

    monkeypatch.setattr(procs, "run", recording)
    interpreter = Interpreter(base, python_version(base) or version)
    request = ResolveRequest(
        plugin=Plugin(name="old", requirements=("tap-alpha",), python=base),
        interpreter=interpreter,
        index=IndexOptions(find_links=(str(TEST_WHEELS),), no_index=True),
        project_dir=tmp_path,
        tools_dir=tmp_path / "tools",
    )
    helper = resolver_python(interpreter, request.tools_dir, request)
    assert Path(helper).is_relative_to(tmp_path / "tools")
    venv, install = commands  # built beside the helper, renamed into place when complete
    building = Path(venv[-1])
    assert building.parent == Path(helper).parents[2], venv
    assert venv[:4] == [base, "-m", "venv", "--clear"]
    target = str(building / "bin" / "python")
    if installer == "uv":
        assert "--without-pip" in venv, venv
        assert install[:3] == [find_uv(), "pip", "install"], install
        assert install[install.index("--python") + 1] == target, install
    else:
        assert "--without-pip" not in venv, venv
        assert install[:4] == [target, "-m", "pip", "install"], install
    assert "--require-hashes" in install, install
    assert "--no-deps" in install, install
    shipped = piptools.helper_lock(version) or ""
    wanted = dict(re.findall(r"^([a-z0-9-]+)==(\S+) \\$", shipped, re.M))
    assert {"pip", "pip-tools"} <= wanted.keys()
    site = next(Path(helper).parents[1].glob("lib/python*/site-packages"))
    stems = (path.name.removesuffix(".dist-info") for path in site.glob("*.dist-info"))
    installed = {
        re.sub(r"[-_.]+", "-", name).lower(): found
        for name, found in (stem.split("-", 1) for stem in stems)
    }
    assert {name: installed.get(name) for name in wanted} == wanted
    if installer == "pip":  # a helper uv fills runs test_direct.py's old-Python locks
        source = tmp_path / "in" / "r.in"
        source.parent.mkdir()
        source.write_text("tap-alpha\n", encoding="utf-8")
        compiled = subprocess.run(
            [helper, "-m", "piptools", "compile", "--quiet", "--no-config", "--no-index",
             "--find-links", str(WHEELS), "--output-file", "-", str(source)],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert compiled.returncode == 0, compiled.stderr
        assert re.search(r"^tap-alpha==1\.1\.0$", compiled.stdout, re.M), compiled.stdout
    commands.clear()
    assert resolver_python(interpreter, request.tools_dir, request) == helper
    assert commands == []


def _request(index: IndexOptions, *requirements: str, constraints: Sequence[str] = ()) -> Any:
    interpreter = Interpreter(sys.executable, f"{sys.version_info[0]}.{sys.version_info[1]}")
    plugin = Plugin(
        name="p", requirements=requirements, python=sys.executable, constraints=tuple(constraints)
    )
    return ResolveRequest(plugin, interpreter, index, Path("/proj"), Path("/proj/tools"))


#: the fixture wheelhouse, by path and by ``file:`` URL: wheels only
LOCAL = IndexOptions(find_links=(str(WHEELS), WHEELS.as_uri()), no_index=True)


@pytest.mark.parametrize(
    ("request_", "tls"),
    [
        pytest.param(_request(LOCAL, "tap-alpha", "demo-common>=1 ; python_version>'3'"), False,
                     id="wheelhouse"),
        pytest.param(_request(LOCAL, "x @ file:///srv/x-1.0-py3-none-any.whl"), False,
                     id="file-wheel"),
        pytest.param(_request(LOCAL, "tap-alpha", "./local"), True, id="builds-path"),
        pytest.param(_request(LOCAL, "-e ./edit"), True, id="builds-editable"),
        pytest.param(_request(LOCAL, "x @ file:///srv/x-1.0.tar.gz"), True, id="builds-sdist"),
        pytest.param(_request(LOCAL, "x @ git+file:///srv/repo@v1"), True, id="builds-git-file"),
        pytest.param(
            _request(IndexOptions(find_links=("/nonexistent/wheels",), no_index=True), "a"),
            True,
            id="find-links-unreadable",
        ),
        pytest.param(_request(IndexOptions(), "tap-alpha"), True, id="index"),
        pytest.param(
            _request(IndexOptions(find_links=("https://h/wheels/",), no_index=True), "a"),
            True,
            id="find-links-url",
        ),
        pytest.param(_request(LOCAL, "x @ git+https://h/x@v1"), True, id="git-https"),
        pytest.param(_request(LOCAL, "x @ HTTPS://h/x-1.0-py3-none-any.whl"), True, id="url"),
        pytest.param(_request(LOCAL, "a", constraints=["c.txt"]), True, id="constraints"),
    ],
)  # fmt: skip
def test_a_resolve_keeps_tls_for_a_server_or_a_build(request_: Any, tls: bool) -> None:
    assert resolve_needs_tls(request_) is tls


def test_a_resolve_keeps_tls_for_any_sdist_among_find_links(tmp_path: Path) -> None:
    """A resolve looks up dependencies by names it is not given: an sdist of any name in a
    local find-links directory may be built for its metadata."""
    links = tmp_path / "links"
    links.mkdir()
    (links / "demo_common-1.0.0-py3-none-any.whl").write_bytes(b"")
    index = IndexOptions(find_links=(str(links),), no_index=True)
    assert resolve_needs_tls(_request(index, "demo-common")) is False
    (links / "other_dep-2.0.tar.gz").write_bytes(b"")
    assert resolve_needs_tls(_request(index, "demo-common")) is True


@pytest.mark.skipif(not HAS_UV, reason="uv not installed")
def test_uv_resolves_a_local_wheelhouse_without_tls_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """uv parses every certificate SSL_CERT_DIR and SSL_CERT_FILE name at each start (a third
    of a local resolve's CPU with a system CA directory); a lock from a local wheelhouse needs
    none, one from an index keeps them (and everything else of the environment)."""
    certs = tmp_path / "certs"
    certs.mkdir()
    monkeypatch.setenv("SSL_CERT_DIR", str(certs))
    monkeypatch.setenv("SSL_CERT_FILE", str(certs / "bundle.pem"))
    monkeypatch.setenv("RECONCILER_TEST_KEEP", "kept")
    seen: dict[str, dict[str, str]] = {}
    real = procs.run

    def recording(command: Sequence[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        if "compile" in command:
            seen[Path(str(command[-1])).stem] = dict(kwargs["env"])
            if "--no-index" not in command:  # an index: no server here, only the env matters
                return subprocess.CompletedProcess(list(command), 1, "", "error: offline\n")
        return real(command, **kwargs)

    monkeypatch.setattr(procs, "run", recording)
    local = make_project(tmp_path / "local", '[plugins.beta]\nrequirements = ["tap-beta"]\n', "uv")
    result = run_cli_in_process(local, "lock")
    assert result.returncode == 0, result.stderr
    assert pins(local / "lock" / "beta.txt")["tap-beta"]
    indexed = make_project(tmp_path / "indexed", '[plugins.gamma]\nrequirements = ["x"]\n', "uv")
    toml = indexed / "reconciler.toml"
    toml.write_text(
        toml.read_text().replace("no-index = true", 'index-url = "https://127.0.0.1:9/simple"')
    )
    assert run_cli_in_process(indexed, "lock").returncode == 1
    assert not {"SSL_CERT_DIR", "SSL_CERT_FILE"} & set(seen["beta"])
    assert seen["beta"]["RECONCILER_TEST_KEEP"] == "kept"
    assert seen["gamma"]["SSL_CERT_DIR"] == str(certs)
    assert seen["gamma"]["SSL_CERT_FILE"] == str(certs / "bundle.pem")
