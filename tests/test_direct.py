"""Plugins as people declare them: local, editable, git, URL requirements; old Pythons; sdists.

Everything is real and offline: local projects and sdists are built with a real build backend
(flit_core, small and quick, where the backend is not what a test checks; setuptools where it
is: wheels `make test` fetched into build/test-wheels, hash-checked), git repositories are made in
the test (`git init`, commits, a tag) and used through `git+file://`, venvs are built by the
real pip and uv, and Python 3.8-3.10 are pyenv's interpreters.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import tarfile
from pathlib import Path
from typing import Literal

import pytest
from conftest import REPO, WHEELS, Project, Result, snapshot
from helpers import built_once, find_python, pyenv_python, require_python, skip_or_fail

from reconciler import interpreters, requirements
from reconciler.lockfile import parse as parse_lock

TEST_WHEELS = REPO / "build" / "test-wheels"
INSTALLERS = ("pip", "uv")
#: (installer, resolver): each tool end to end, so both resolvers' output is checked too
TOOLS = [
    pytest.param(("pip", "pip-tools"), id="pip+pip-tools"),
    pytest.param(("uv", "uv"), id="uv+uv"),
]


def tools(combo: tuple[str, str]) -> str:
    """The ``[settings]`` lines choosing ``combo``'s installer and resolver."""
    return f'installer = "{combo[0]}"\nresolver = "{combo[1]}"'


OLD_VERSIONS = ("3.8", "3.9", "3.10")
GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.invalid",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.invalid",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}


@pytest.fixture(autouse=True, scope="module")
def _test_wheels() -> None:
    assert (TEST_WHEELS / ".stamp").is_file(), "run `make test-wheels` (make test does) first"


def new_project(root: Path, plugins: str, settings: str = "", wheels: bool = True) -> Project:
    """A project whose only package locations are the fixture wheels (+ the test wheels)."""
    root.mkdir(parents=True)
    links = [str(WHEELS), *([str(TEST_WHEELS)] if wheels else [])]
    (root / "reconciler.toml").write_text(
        f"[settings]\nno-index = true\nfind-links = {json.dumps(links)}\n{settings}\n\n{plugins}",
        encoding="utf-8",
    )
    return Project(root)


#: ``[build-system]`` and the backend's own table for each backend ``local_project`` can use
BACKENDS = {
    "flit": (
        'requires = ["flit_core>=3.4,<5"]\nbuild-backend = "flit_core.buildapi"\n',
        '[tool.flit.module]\nname = "{module}"\n',
    ),
    "setuptools": (
        'requires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n',
        '[tool.setuptools]\npackages = ["{module}"]\n',
    ),
}


def local_project(
    path: Path,
    name: str,
    value: str = "one",
    deps: tuple[str, ...] = (),
    backend: Literal["flit", "setuptools"] = "flit",
) -> Path:
    """A project with a console script ``name`` printing ``value``, built by flit_core (a
    build costs half the CPU of setuptools') or, where the backend is what a test checks,
    ``backend="setuptools"``."""
    module = name.replace("-", "_")
    build_system, tool = BACKENDS[backend]
    (path / module).mkdir(parents=True)
    (path / "pyproject.toml").write_text(
        f"[build-system]\n{build_system}"
        f'[project]\nname = "{name}"\nversion = "0.1.0"\ndescription = "A test plugin"\n'
        f"dependencies = {json.dumps(list(deps))}\n"
        f'[project.scripts]\n{name} = "{module}:main"\n' + tool.format(module=module),
        encoding="utf-8",
    )
    set_value(path, name, value)
    return path


def set_value(path: Path, name: str, value: str) -> None:
    """Change what the project's console script prints (its source changes)."""
    module = name.replace("-", "_")
    (path / module / "__init__.py").write_text(
        f'VALUE = "{value}"\n\n\ndef main() -> None:\n    print(VALUE)\n', encoding="utf-8"
    )


def git(repo: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", "-C", str(repo), *args],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **GIT_ENV},
    )
    return result.stdout.strip()


def commit(repo: Path, name: str, value: str) -> str:
    set_value(repo, name, value)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", value)
    return git(repo, "rev-parse", "HEAD")


def ok(project: Project, *args: str, env: dict[str, str] | None = None) -> Result:
    return project.ok(*args, env=env)


def script(project: Project, plugin: str, name: str) -> str:
    return project.script(plugin, name).strip()


def direct_url(project: Project, plugin: str, dist: str) -> dict[str, object]:
    found = list(project.site_packages(plugin).glob(f"{dist.replace('-', '_')}-*.dist-info"))
    assert len(found) == 1, found
    data: dict[str, object] = json.loads((found[0] / "direct_url.json").read_text("utf-8"))
    return data


def no_changes(project: Project) -> None:
    out = ok(project, "plan").out
    assert out.startswith("No changes."), out


# --- the requirement forms (no disk) ----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kind", "name", "editable"),
    [
        ("tap-x==1.0", "index", "tap-x", False),
        ("Tap_X[s3]>=1 ; python_version >= '3.8'", "index", "tap-x", False),
        ("tap-x @ https://h/tap_x-1.0-py3-none-any.whl", "url", "tap-x", False),
        ("six @ file:///w/six-1.17.0-py2.py3-none-any.whl", "url", "six", False),
        ("tap-x @ git+https://github.com/o/tap-x@v1.0", "vcs", "tap-x", False),
        ("git+https://github.com/o/tap-x.git", "vcs", None, False),
        ("git+ssh://git@github.com/o/tap-x.git@main#subdirectory=x", "vcs", None, False),
        ("./plugins/tap-x", "path", None, False),
        ("../tap-x", "path", None, False),
        ("-e ./plugins/tap-x", "path", None, True),
        ("--editable=./plugins/tap-x", "path", None, True),
        ("tap-x @ file:///src/tap-x", "path", "tap-x", False),
        ("-e extract/tap-x", "path", None, True),  # Meltano's pip_url spelling
        ("extract/tap-x", "path", None, False),
    ],
)
def test_requirement_forms(text: str, kind: str, name: str | None, editable: bool) -> None:
    req = requirements.parse(text)
    assert (req.kind, req.name, req.editable) == (kind, name, editable)
    assert req.hashable is (kind in ("index", "url"))


@pytest.mark.parametrize(
    "text",
    ["-e tap-x==1.0", "-r other.txt", "tap-x @ ftp://h/x.whl", "-e git+https://h/r", "", "a b"],
)
def test_invalid_requirement_forms(text: str) -> None:
    with pytest.raises(ValueError, match=r".") as info:
        requirements.parse(text)
    assert "\n" not in str(info.value)


def test_resolver_gets_absolute_paths(tmp_path: Path) -> None:
    req = requirements.parse("-e ./plugins/tap-x")
    assert req.for_resolver(tmp_path) == f"-e {(tmp_path / 'plugins' / 'tap-x').as_uri()}"


def test_lock_lines_of_every_form() -> None:
    sha = "a" * 40
    text = (
        f"tap-g @ git+https://h/r@{sha}  # reconciler: ref=v1\n"
        "six @ https://h/six-1.17.0-py2.py3-none-any.whl \\\n"
        f"    --hash=sha256:{'b' * 64}\n"
        "-e ./plugins/tap-x  # reconciler: name=tap-x\n"
        "./plugins/tap-y  # reconciler: name=Tap_Y\n"
        f"demo==1.0 --hash=sha256:{'c' * 64}\n"
    )
    lock = parse_lock("p", Path("lock/p.txt"), text)
    got = {p.name: (p.kind, p.version, p.commit, p.ref, p.editable, p.url) for p in lock.packages}
    assert got == {
        "tap-g": ("vcs", "", sha, "v1", False, f"git+https://h/r@{sha}"),
        "six": ("url", "1.17.0", None, None, False, "https://h/six-1.17.0-py2.py3-none-any.whl"),
        "tap-x": ("path", "", None, None, True, "./plugins/tap-x"),
        "tap-y": ("path", "", None, None, False, "./plugins/tap-y"),
        "demo": ("index", "1.0", None, None, False, None),
    }
    assert [p.hashable for p in lock.packages] == [True, True, False, False, False]


def test_pyenv_message_kept_whole(tmp_path: Path) -> None:
    fake = tmp_path / "python3.99"
    fake.write_text(
        "#!/bin/sh\ncat >&2 <<'EOF'\npyenv: python3.99: command not found\n\n"
        "The 'python3.99' command exists in these Python versions:\n  3.99.1\n\n"
        "Note: See 'pyenv help global' for tips on allowing multiple\n"
        "      Python versions to be found at the same time.\nEOF\nexit 127\n",
        encoding="utf-8",
    )
    fake.chmod(0o755)
    with pytest.raises(interpreters.InterpreterError) as info:
        interpreters.probe(fake)
    message = str(info.value)
    assert "command not found" in message
    assert "exists in these Python versions" in message
    assert "3.99.1" in message
    assert "\n" not in message


def test_python_version_found_whichever_pyenv_version_is_active(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    expected, active = pyenv_python("3.12"), pyenv_python("3.11")
    if expected is None or active is None:
        skip_or_fail("pyenv with Python 3.11 and 3.12 installed is needed")
    monkeypatch.setenv("PYENV_VERSION", active.parents[1].name)
    found = interpreters.find("3.12", tmp_path)
    assert found == expected
    assert interpreters.probe(found).major_minor == "3.12"


# --- local projects ------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("combo", TOOLS)
def test_local_project_relative_in_lock_and_rebuilt_when_its_source_changes(
    tmp_path: Path, combo: tuple[str, str]
) -> None:
    project = new_project(
        tmp_path / "proj",
        '[plugins.tap-local]\nrequirements = ["./plugins/tap-local"]\n',
        settings=tools(combo),
    )
    source = local_project(
        project.root / "plugins" / "tap-local", "tap-local", deps=("demo-common",)
    )
    ok(project, "lock")
    text = project.lock("tap-local").read_text("utf-8")
    assert "\n./plugins/tap-local  # reconciler: name=tap-local\n" in text
    assert str(project.root) not in text, "the lock must hold no absolute path"
    assert "demo-common==1.1.0" in text

    plan = ok(project, "plan").out
    assert "unhashed: tap-local" in plan
    ok(project, "apply")
    assert script(project, "tap-local", "tap-local") == "one"
    assert direct_url(project, "tap-local", "tap-local")["url"] == source.resolve().as_uri()
    no_changes(project)
    before = project.snapshot()
    ok(project, "apply")
    assert project.snapshot() == before, "a second apply must touch nothing"

    set_value(source, "tap-local", "two")
    change = project.change("tap-local")
    assert change["action"] == "upgrade"
    assert change["install"][0]["name"] == "tap-local"
    assert change["install"][0]["hashed"] is False
    assert "rebuilt (./plugins/tap-local changed)" in ok(project, "plan").out
    ok(project, "apply")
    assert script(project, "tap-local", "tap-local") == "two"
    no_changes(project)
    assert project.run("lock", "--check").code == 0


@pytest.mark.parametrize("combo", TOOLS)
def test_editable_install_is_live(tmp_path: Path, combo: tuple[str, str]) -> None:
    project = new_project(
        tmp_path / "proj",
        '[plugins.tap-edit]\nrequirements = ["-e ./plugins/tap-edit"]\n',
        settings=tools(combo),
    )
    # setuptools' own PEP 660 editable build: the real setuptools local path of each installer
    source = local_project(project.root / "plugins" / "tap-edit", "tap-edit", backend="setuptools")
    ok(project, "lock")
    text = project.lock("tap-edit").read_text("utf-8")
    assert "\n-e ./plugins/tap-edit  # reconciler: name=tap-edit\n" in text
    assert str(project.root) not in text
    ok(project, "apply")
    assert script(project, "tap-edit", "tap-edit") == "one"
    info = direct_url(project, "tap-edit", "tap-edit")
    assert info["dir_info"] == {"editable": True}

    set_value(source, "tap-edit", "edited")
    assert script(project, "tap-edit", "tap-edit") == "edited", "an edit needs no apply"
    no_changes(project)


# --- git --------------------------------------------------------------------------------------


@pytest.fixture
def repo(tmp_path: Path) -> tuple[Path, str, str]:
    """A real git repository: commit one (tagged v0.1.0), commit two on main."""
    path = local_project(tmp_path / "repo" / "tap-git", "tap-git")
    git(path, "init", "-q", "-b", "main")
    first = commit(path, "tap-git", "one")
    git(path, "tag", "-a", "v0.1.0", "-m", "release")  # annotated: ls-remote peels it
    second = commit(path, "tap-git", "two")
    return path, first, second


@pytest.mark.slow
@pytest.mark.parametrize("combo", TOOLS)
def test_git_requirement_pinned_to_commit_and_moved_by_upgrade(
    tmp_path: Path, repo: tuple[Path, str, str], combo: tuple[str, str]
) -> None:
    path, first, second = repo
    url = f"git+{path.as_uri()}"
    project = new_project(
        tmp_path / "proj",
        f'[plugins.tagged]\nrequirements = ["tap-git @ {url}@v0.1.0"]\n\n'
        f'[plugins.head]\nrequirements = ["{url}"]\n',  # bare: named from the built metadata
        settings=tools(combo),
    )
    ok(project, "lock")
    tagged = project.lock("tagged").read_text("utf-8")
    head = project.lock("head").read_text("utf-8")
    assert f"tap-git @ {url}@{first}  # reconciler: ref=v0.1.0\n" in tagged
    assert f"tap-git @ {url}@{second}  # reconciler: ref=HEAD\n" in head
    ok(project, "apply")
    assert script(project, "tagged", "tap-git") == "one"
    assert script(project, "head", "tap-git") == "two"
    assert direct_url(project, "head", "tap-git")["vcs_info"]["commit_id"] == second  # type: ignore[index]
    no_changes(project)

    third = commit(path, "tap-git", "three")
    assert project.run("lock", "--check").code == 0, "a moved ref does not make a lock stale"
    assert "0 written" in ok(project, "lock").out
    ok(project, "lock", "head", "--upgrade-package", "tap-git")
    assert f"tap-git @ {url}@{third}" in project.lock("head").read_text("utf-8")
    assert project.lock("tagged").read_text("utf-8") == tagged
    plan = ok(project, "plan").out
    assert f"tap-git @{second[:12]} -> @{third[:12]} (unhashed)" in plan, plan
    assert "tagged" not in plan
    ok(project, "apply")
    assert script(project, "head", "tap-git") == "three"
    no_changes(project)


def test_unknown_git_ref_is_one_error(tmp_path: Path, repo: tuple[Path, str, str]) -> None:
    path, _, _ = repo
    project = new_project(
        tmp_path / "proj", f'[plugins.t]\nrequirements = ["tap-git @ git+{path.as_uri()}@nope"]\n'
    )
    result = project.run("lock")
    assert result.code == 1
    assert result.err_lines == [
        f"error: plugin 't': git+{path.as_uri()}@nope: no branch or tag 'nope' "
        "(write a full 40-character commit id to pin a commit)"
    ]
    assert not project.lock("t").exists()


# --- direct URLs ------------------------------------------------------------------------------


@pytest.mark.parametrize("combo", TOOLS)
def test_file_wheel_url_locked_with_its_hash(tmp_path: Path, combo: tuple[str, str]) -> None:
    wheel = WHEELS / "demo_common-1.0.0-py3-none-any.whl"
    project = new_project(
        tmp_path / "proj",
        f'[plugins.url]\nrequirements = ["tap-alpha==1.0.0", "demo-common @ {wheel.as_uri()}"]\n',
        settings=tools(combo),
    )
    ok(project, "lock")
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    text = project.lock("url").read_text("utf-8")
    assert f"demo-common @ {wheel.as_uri()} \\\n    --hash=sha256:{digest}\n" in text
    assert "unhashed" not in ok(project, "plan").out
    ok(project, "apply")
    assert project.dists("url") == {"demo-common": "1.0.0", "tap-alpha": "1.0.0"}
    assert direct_url(project, "url", "demo-common")["url"] == wheel.as_uri()
    no_changes(project)


def test_require_hashes_refuses_unhashable_requirements(tmp_path: Path) -> None:
    project = new_project(
        tmp_path / "proj",
        '[plugins.ok]\nrequirements = ["tap-alpha"]\n\n'
        '[plugins.local]\nrequirements = ["./plugins/tap-local"]\n',
    )
    local_project(project.root / "plugins" / "tap-local", "tap-local")
    ok(project, "lock")
    toml = project.toml
    toml.write_text(
        toml.read_text().replace("[settings]\n", "[settings]\nrequire-hashes = true\n"), "utf-8"
    )
    before = visible(project.root)
    result = project.run("plan")
    assert result.code == 1
    assert result.err_lines == [
        "error: plugin 'local': settings.require-hashes is true but lock/local.txt has "
        "unhashable tap-local (path ./plugins/tap-local)"
    ]
    assert ok(project, "plan", "ok").out.startswith("  + ok")
    project.lock("local").unlink()
    result = project.run("lock", "local")
    assert result.code == 1
    assert result.err_lines == [
        "error: plugin 'local': settings.require-hashes is true but './plugins/tap-local' "
        "cannot be hash-checked (VCS and local paths have no hash; use an index or archive URL)"
    ]
    after = visible(project.root)
    for changed in ("lock/local.txt", "lock"):  # the lock deleted by the test itself
        del before[changed]
    del after["lock"]
    assert after == before


# --- every CPython from 3.8 -------------------------------------------------------------------


@pytest.fixture(scope="module", params=["pip-tools", "uv"])
def old_pythons(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Project:
    """A project with one plugin per Python 3.8/3.9/3.10 found here, locked ONCE per resolver
    and run (shared by the xdist workers; the tests copy it without its ``.venvs``)."""
    available = {v: p for v in OLD_VERSIONS if (p := find_python(v)) is not None}
    if not available:
        skip_or_fail("none of Python 3.8, 3.9, 3.10 found (pyenv, PATH, uv)")
    requirements_for = {
        "3.8": '["tap-alpha"]',
        "3.9": '["tap-beta", "./plugins/tap-local"]',
        "3.10": '["target-gamma", "-e ./plugins/tap-local"]',
    }
    plugins = "\n".join(
        f'[plugins.py{v.replace(".", "")}]\nrequirements = {requirements_for[v]}\npython = "{p}"\n'
        for v, p in available.items()
    )

    def lock(directory: Path) -> None:
        root = directory / "proj"
        project = new_project(root, plugins, settings=f'resolver = "{request.param}"')
        local_project(root / "plugins" / "tap-local", "tap-local")
        ok(project, "lock")

    return Project(built_once(tmp_path_factory, f"old-pythons-{request.param}", lock) / "proj")


@pytest.mark.slow
@pytest.mark.parametrize("installer", INSTALLERS)
@pytest.mark.parametrize("version", OLD_VERSIONS)
def test_old_python_plugin_locked_and_applied(
    old_pythons: Project, tmp_path: Path, installer: str, version: str
) -> None:
    require_python(version)
    plugin = f"py{version.replace('.', '')}"
    project = Project(tmp_path / "proj")
    shutil.copytree(old_pythons.root, project.root, ignore=shutil.ignore_patterns(".venvs"))
    text = project.lock(plugin).read_text("utf-8")
    assert f"python={version} " in text.splitlines()[0]
    ok(project, "apply", plugin, "--installer", installer)
    assert project.marker(plugin)["python_version"].startswith(version + ".")
    assert project.site_packages(plugin).parent.name == f"python{version}"
    if plugin == "py38":
        assert script(project, plugin, "tap-alpha").startswith("tap-alpha 1.1.0")
    else:
        assert script(project, plugin, "tap-local") == "one"
    result = ok(project, "plan", plugin)
    assert result.out.startswith("No changes."), result.out


# --- sdists offline -----------------------------------------------------------------------


def make_sdist(dest: Path) -> Path:
    """``demo_sdist-1.0.tar.gz``: a flit_core project with no wheel anywhere."""
    files = {
        "pyproject.toml": '[build-system]\nrequires = ["flit_core>=3.4,<5"]\n'
        'build-backend = "flit_core.buildapi"\n[project]\nname = "demo-sdist"\n'
        'version = "1.0"\ndescription = "An sdist"\ndependencies = ["demo-common>=1.0"]\n'
        '[project.scripts]\ndemo-sdist = "demo_sdist:main"\n',
        "PKG-INFO": "Metadata-Version: 2.1\nName: demo-sdist\nVersion: 1.0\n",
        "demo_sdist/__init__.py": 'def main() -> None:\n    print("built from an sdist")\n',
    }
    target = dest / "demo_sdist-1.0.tar.gz"
    with tarfile.open(target, "w:gz") as archive:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"demo_sdist-1.0/{name}")
            info.size = len(data)
            info.mtime = 1_700_000_000  # a wheel (a zip) cannot hold a time before 1980
            archive.addfile(info, io.BytesIO(data))
    return target


@pytest.mark.slow
@pytest.mark.parametrize("combo", TOOLS)
def test_sdist_applied_offline_from_fetch_wheelhouse(
    tmp_path: Path, combo: tuple[str, str]
) -> None:
    index = tmp_path / "index"
    index.mkdir()
    make_sdist(index)
    shutil.copy2(WHEELS / "demo_common-1.1.0-py3-none-any.whl", index)
    backend = sorted(TEST_WHEELS.glob("flit_core-*.whl"))[-1]
    shutil.copy2(backend, index)
    root = tmp_path / "proj"
    root.mkdir()
    (root / "reconciler.toml").write_text(
        f'[settings]\nno-index = true\nfind-links = ["{index}"]\n{tools(combo)}\n\n'
        '[plugins.s]\nrequirements = ["demo-sdist"]\n',
        encoding="utf-8",
    )
    project = Project(root)
    ok(project, "lock")
    assert "demo-sdist==1.0 \\\n    --hash=sha256:" in project.lock("s").read_text("utf-8")
    wheelhouse = tmp_path / "wh"
    fetched = ok(project, "fetch", "--dest", str(wheelhouse))
    assert "build requirements (flit_core>=3.4,<5)" in fetched.out + fetched.err
    names = sorted(p.name for p in wheelhouse.iterdir())
    assert names == sorted(
        ["demo_common-1.1.0-py3-none-any.whl", "demo_sdist-1.0.tar.gz", backend.name]
    )

    # every index gone: the project's own find-links dir, PyPI (no-index), and no warm caches
    index.rename(tmp_path / "index-gone")
    cold = {"UV_CACHE_DIR": str(tmp_path / "uv-cache"), "XDG_CACHE_HOME": str(tmp_path / "xdg")}
    ok(project, "apply", "--no-index", "--find-links", str(wheelhouse), env=cold)
    assert script(project, "s", "demo-sdist") == "built from an sdist"
    assert project.dists("s") == {"demo-common": "1.1.0", "demo-sdist": "1.0"}
    result = ok(project, "plan")
    assert result.out.startswith("No changes."), result.out


# --- errors: one line each, the cause kept, nothing changed -----------------------------------


def visible(root: Path) -> dict[str, tuple[int, int, int]]:
    """Snapshot of the project minus reconciler's bookkeeping under the venv root (apply lock,
    scratch area for temporary files, empty generation dirs)."""
    found = snapshot(root)
    for key in list(found):
        if key.startswith((".venvs/.reconciler", ".venvs/.generations")) or key in (
            ".",
            ".venvs",
        ):
            del found[key]
    return found


def check_error(result: Result, *needles: str) -> str:
    assert result.code == 1, result.describe()
    assert len(result.err_lines) == 1, result.describe()
    line = result.err_lines[0]
    assert line.startswith("error: "), line
    assert "Traceback" not in result.err
    assert "pip._internal" not in line
    assert "Error:" not in line.removeprefix("error: ")
    for needle in needles:
        assert needle in line, line
    return line


def test_unreachable_git_host(tmp_path: Path) -> None:  # before any resolver runs
    project = new_project(
        tmp_path / "proj", '[plugins.t]\nrequirements = ["t @ git+https://127.0.0.1:9/r.git@v1"]\n'
    )
    before = visible(project.root)
    line = check_error(project.run("lock"), "plugin 't'", "unable to access", "127.0.0.1")
    assert "connect" in line.lower()
    assert visible(project.root) == before


@pytest.mark.parametrize("combo", TOOLS)
def test_missing_build_backend_names_it(tmp_path: Path, combo: tuple[str, str]) -> None:
    project = new_project(
        tmp_path / "proj",
        '[plugins.t]\nrequirements = ["./plugins/tap-local"]\n',
        settings=tools(combo),
        wheels=False,  # no setuptools anywhere
    )
    local_project(project.root / "plugins" / "tap-local", "tap-local", backend="setuptools")
    before = visible(project.root)
    if combo[1] == "pip-tools":  # pip-compile builds the metadata: lock fails
        check_error(
            project.run("lock"),
            "plugin 't'",
            "tap-local",
            "when installing build dependencies: the build backend requirement setuptools>=61 "
            "was not found in the package locations",
        )
        assert visible(project.root) == before
        return
    # uv reads the static metadata without building; the build at apply time fails
    ok(project, "lock")
    before = visible(project.root)
    check_error(
        project.run("apply"),
        "plugin 't'",
        "tap-local",
        "setuptools was not found in the provided package locations",
    )
    assert visible(project.root) == before
    assert not project.venv("t").exists()


def test_conflict_names_both_sides_cleanly(tmp_path: Path) -> None:
    project = new_project(
        tmp_path / "proj",
        '[plugins.t]\nrequirements = ["tap-alpha==1.1.0", "demo-common<1.1"]\n',
        settings='resolver = "pip-tools"',
    )
    line = check_error(project.run("lock"), "conflicting requirements:")
    assert "demo-common<1.1 (requested)" in line
    assert "demo-common>=1.1 (from tap_alpha-1.1.0)" in line
    assert "(from )" not in line
    with project.edit() as doc:
        doc["settings"]["resolver"] = "uv"
    line = check_error(project.run("lock"), "No solution found")
    assert "tap-alpha" in line
    assert "demo-common>=1.1" in line
    assert "demo-common<1.1" in line


@pytest.mark.parametrize("installer", INSTALLERS)
def test_hash_mismatch_names_package_and_both_hashes(tmp_path: Path, installer: str) -> None:
    project = new_project(tmp_path / "proj", '[plugins.t]\nrequirements = ["tap-alpha"]\n')
    ok(project, "lock")
    lock = project.lock("t")
    real = hashlib.sha256((WHEELS / "tap_alpha-1.1.0-py3-none-any.whl").read_bytes()).hexdigest()
    lock.write_text(lock.read_text("utf-8").replace(real, "0" * 64), "utf-8")
    before = visible(project.root)
    line = check_error(project.run("apply", "--installer", installer), "plugin 't'", "tap-alpha")
    assert "ash mismatch" in line  # uv: "Hash mismatch", pip: "hash mismatch"
    assert "0" * 64 in line
    assert real in line
    assert visible(project.root) == before
    assert not project.venv("t").exists()


def test_broken_plugin_blocks_only_itself(tmp_path: Path) -> None:
    project = new_project(
        tmp_path / "proj",
        '[plugins.broken]\nrequirements = ["tap-alpha"]\npython = "python9.99"\n\n'
        '[plugins.good]\nrequirements = ["tap-beta"]\n',
    )
    result = project.run("lock")
    check_error(result, "plugin 'broken'", "interpreter 'python9.99' not found")
    assert project.lock("good").is_file(), "the other plugin is locked all the same"
    ok(project, "lock", "good")
    assert ok(project, "plan", "good").out.startswith("  + good")
    ok(project, "apply", "good")
    status = project.run("status")
    assert status.code == 0, status.describe()
    rows = {line.split()[0]: line for line in status.out.splitlines() if line.strip()}
    assert "python9.99" in rows["broken"]
    assert "unknown" in rows["broken"]
    before = visible(project.root)
    check_error(project.run("plan"), "plugin 'broken'", "python9.99")
    check_error(project.run("apply"), "plugin 'broken'")
    assert visible(project.root) == before


def test_every_failing_plugin_named_one_line_each(tmp_path: Path) -> None:
    project = new_project(
        tmp_path / "proj",
        '[plugins.a]\nrequirements = ["tap-alpha"]\n\n[plugins.b]\nrequirements = ["tap-beta"]\n\n'
        '[plugins.c]\nrequirements = ["no-such-package"]\n\n'
        '[plugins.d]\nrequirements = ["also-missing"]\n',
    )
    result = project.run("lock")
    assert result.code == 1
    assert [line.split(":")[0:2] for line in result.err_lines] == [
        ["error", " plugin 'c'"],
        ["error", " plugin 'd'"],
    ], result.describe()
    assert project.lock("a").is_file()
    assert project.lock("b").is_file()
    project.lock("a").unlink()
    project.lock("b").unlink()
    result = project.run("plan")
    assert result.code == 1
    assert len(result.err_lines) == 4, result.describe()
    for line, name in zip(result.err_lines, "abcd", strict=True):
        assert line.startswith(f"error: plugin '{name}': no lock"), line


SLOW_BACKEND = """
import time

from flit_core import buildapi as _flit
from flit_core.buildapi import *  # noqa: F403


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    time.sleep(1.5)  # a long sdist build (pandas, pyarrow) in miniature: 3 heartbeats of 0.5 s
    return _flit.build_wheel(wheel_directory, config_settings, metadata_directory)
"""


def test_a_long_build_prints_a_heartbeat_line_in_a_plain_log(tmp_path: Path) -> None:
    """Not a terminal: a plugin busy for longer than RECONCILER_HEARTBEAT_SECONDS gets
    ``still creating (Ns)`` lines while its build runs, none once it is done."""
    project = new_project(
        tmp_path / "proj", '[plugins.tap-slow]\nrequirements = ["./plugins/tap-slow"]\n'
    )
    source = local_project(project.root / "plugins" / "tap-slow", "tap-slow")
    pyproject = source / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text(encoding="utf-8").replace(
            'build-backend = "flit_core.buildapi"',
            'build-backend = "slow_backend"\nbackend-path = ["."]',
        ),
        encoding="utf-8",
    )
    (source / "slow_backend.py").write_text(SLOW_BACKEND, encoding="utf-8")
    ok(project, "lock")
    result = ok(project, "apply", env={"RECONCILER_HEARTBEAT_SECONDS": "0.5"})
    lines = result.out.splitlines()
    beats = [line for line in lines if line.startswith("tap-slow: still creating (")]
    assert beats, result.describe()
    assert all(re.fullmatch(r"tap-slow: still creating \(\d+s\)", line) for line in beats)
    done = lines.index(next(line for line in lines if "create done in" in line))
    assert all(lines.index(beat) < done for beat in beats)  # none after the step ended
    assert script(project, "tap-slow", "tap-slow") == "one"
    set_value(source, "tap-slow", "two")  # rebuilt again, with the heartbeat off
    quiet = ok(project, "apply", env={"RECONCILER_HEARTBEAT_SECONDS": "0"})
    assert "upgrade done in" in quiet.out
    assert "still" not in quiet.out
