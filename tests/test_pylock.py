"""PEP 751 locks (``lock-format = "pylock"``): ``lock/pylock.<name>.toml``.

Unit tests check the format seam (what is written reads back as the same values, is valid for
``packaging.pylock``, holds no absolute path or credential) and that reconciler's selection of
packages for an interpreter equals ``Pylock.select`` (a property test). End-to-end tests lock
with each resolver, apply, and prove interoperability: the venv ``reconciler apply`` builds equals
what ``uv pip install -r`` and ``pip install -r`` (pip >= 26.1) build from the same file.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import PLUGINS, WHEELS, Project, dist_infos
from helpers import in_ci
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from packaging.markers import default_environment
from packaging.pylock import Pylock, is_valid_pylock_path
from packaging.tags import Tag
from packaging.version import Version

from reconciler import lockfile, lockformats
from reconciler.errors import LockError
from reconciler.installers.uv import find_uv
from reconciler.lockformats import get_format
from reconciler.lockformats.base import ArtifactFile, LockContent
from reconciler.lockformats.pylock import file_stem
from reconciler.lockformats.requirements import render_lock
from reconciler.models import IndexOptions, InputsDigest, Lock, LockedPackage, Plugin
from reconciler.support.values import evolve

PYLOCK = get_format("pylock")
INPUTS = InputsDigest("ab" * 32, "0123456789abcdef", "3.11", "fedcba9876543210")
RESOLVERS = [pytest.param("pip-tools", id="pip-tools"), pytest.param("uv", id="uv")]


def pylock_path(project: Project, plugin: str) -> Path:
    return project.root / "lock" / f"pylock.{plugin}.toml"


# --- the format, without processes ------------------------------------------------------------


@pytest.mark.parametrize(
    ("lock_name", "expected"),
    [
        ("tap-csv", "pylock.tap-csv.toml"),
        ("tap.csv", "pylock.tap-csv.toml"),
        ("Tap_CSV.v2", "pylock.Tap_CSV-v2.toml"),
        ("extractors/tap-csv", "extractors/pylock.tap-csv.toml"),
        ("extractors/tap.x.y", "extractors/pylock.tap-x-y.toml"),
    ],
)
def test_file_names_have_no_dot_in_the_name_part(lock_name: str, expected: str) -> None:
    assert file_stem(lock_name) == expected
    assert is_valid_pylock_path(Path(expected))


def _content(tmp_path: Path, packages: tuple[LockedPackage, ...]) -> LockContent:
    project = tmp_path / "proj"
    wheels = project / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    (project / "lock").mkdir(exist_ok=True)

    def find(package: LockedPackage) -> list[ArtifactFile]:
        files = []
        for number, digest in enumerate(package.hashes):
            name = package.name.replace("-", "_")
            if number == 0:  # a find-links file in the project
                filename = f"{name}-{package.version}-py3-none-any.whl"
                (wheels / filename).write_bytes(b"x" * 7)
                files.append(ArtifactFile(filename, digest[7:], 7, path=wheels / filename))
            else:  # an index file
                filename = f"{name}-{package.version}.tar.gz"
                url = f"https://files.example/{filename}"
                files.append(ArtifactFile(filename, digest[7:], 99, url=url))
        return files

    lock = Lock("demo", project / "lock" / "x.txt", INPUTS, packages, "sha256:" + "0" * 64)
    return LockContent(
        plugin=Plugin("demo", ("tap-x", "token @ https://u:secret@h.example/t.whl"), "python3"),
        inputs=INPUTS,
        requirements_text="",
        lock=lock,
        path=project / "lock" / "pylock.demo.toml",
        project_dir=project,
        index=IndexOptions(index_url="https://user:pw@idx.example/simple/", find_links=("wheels",)),
        find_artifacts=find,
    )


EVERY_KIND = (
    LockedPackage("demo-common", "1.1.0", "demo-common==1.1.0", ("sha256:" + "1" * 64,)),
    LockedPackage(
        "demo-linux",
        "1.0.0",
        "demo-linux==1.0.0",
        ("sha256:" + "2" * 64, "sha256:" + "3" * 64),
        marker='sys_platform == "linux"',
    ),
    LockedPackage(
        "demo-linux",
        "0.9.0",
        "demo-linux==0.9.0",
        ("sha256:" + "4" * 64,),
        marker='sys_platform != "linux"',
    ),
    LockedPackage(
        "tap-git",
        "",
        "tap-git @ git+https://git.example/tap-git@" + "a" * 40 + "#subdirectory=sub",
        kind="vcs",
        url="git+https://git.example/tap-git@" + "a" * 40 + "#subdirectory=sub",
        commit="a" * 40,
        ref="v1.0",
    ),
    LockedPackage("tap-local", "", "./plugins/tap-local", kind="path", url="./plugins/tap-local"),
    LockedPackage(
        "tap-live", "", "./plugins/tap-live", kind="path", url="./plugins/tap-live", editable=True
    ),
    LockedPackage(
        "token",
        "1.0",
        "token @ https://h.example/token-1.0-py3-none-any.whl",
        ("sha256:" + "5" * 64,),
        kind="url",
        url="https://h.example/token-1.0-py3-none-any.whl",
    ),
)


def _essentials(lock: Lock) -> list[tuple[object, ...]]:
    return sorted(
        (p.name, p.version, sorted(p.hashes), p.marker, p.kind, p.url, p.editable, p.commit, p.ref)
        for p in lock.packages
    )


def test_every_kind_of_pin_round_trips_and_is_valid_pep751(tmp_path: Path) -> None:
    content = _content(tmp_path, EVERY_KIND)
    text = PYLOCK.render(content)
    data = tomllib.loads(text)
    Pylock.from_dict(data).validate()  # packaging's own validation, independently of ours
    parsed = PYLOCK.parse("demo", content.path, text)
    assert parsed.format == "pylock"
    assert parsed.inputs == INPUTS
    assert _essentials(parsed) == _essentials(content.lock)
    by_name = {(p["name"], p.get("version")): p for p in data["packages"]}
    common = by_name[("demo-common", "1.1.0")]
    assert common["wheels"] == [
        {
            "name": "demo_common-1.1.0-py3-none-any.whl",
            "path": "../wheels/demo_common-1.1.0-py3-none-any.whl",
            "size": 7,
            "hashes": {"sha256": "1" * 64},
        }
    ]
    linux = by_name[("demo-linux", "1.0.0")]
    assert linux["marker"] == 'sys_platform == "linux"'
    assert linux["sdist"]["url"] == "https://files.example/demo_linux-1.0.0.tar.gz"
    assert linux["sdist"]["size"] == 99
    assert by_name[("tap-git", None)]["vcs"] == {
        "type": "git",
        "url": "https://git.example/tap-git",
        "requested-revision": "v1.0",
        "commit-id": "a" * 40,
        "subdirectory": "sub",
    }
    assert by_name[("tap-live", None)]["directory"] == {
        "path": "../plugins/tap-live",
        "editable": True,
    }
    assert by_name[("tap-local", None)]["directory"] == {"path": "../plugins/tap-local"}
    tool = data["tool"]["reconciler"]
    assert tool["inputs"] == f"sha256:{INPUTS.digest}"
    assert tool["index"]["index-url"] == "https://idx.example/simple"
    assert "secret" not in text, "no credential is stored"
    assert "pw@" not in text, "no credential is stored"
    assert str(tmp_path) not in text, "no absolute path is stored"
    # and back to the requirements format: the same values (what `export` writes)
    back = lockfile.parse("demo", tmp_path / "demo.txt", render_lock(parsed))
    assert _essentials(back) == _essentials(content.lock)


def test_a_find_links_file_outside_the_project_is_refused(tmp_path: Path) -> None:
    content = _content(tmp_path, EVERY_KIND[:1])
    outside = tmp_path / "elsewhere.whl"
    outside.write_bytes(b"x")

    def find(package: LockedPackage) -> list[ArtifactFile]:
        return [ArtifactFile("demo_common-1.1.0-py3-none-any.whl", "1" * 64, 1, path=outside)]

    content = evolve(content, find_artifacts=find)
    with pytest.raises(LockError, match="outside the project"):
        PYLOCK.render(content)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("lock-version = \n", "not valid TOML", id="not-toml"),
        pytest.param('created-by = "x"\npackages = []\n', "lock-version", id="no-version"),
        pytest.param(
            'lock-version = "2.0"\ncreated-by = "x"\npackages = []\n', "not supported", id="v2"
        ),
        pytest.param(
            'lock-version = "1.0"\ncreated-by = "x"\n[[packages]]\nname = "a"\nversion = "1"\n'
            'wheels = [{name = "a-1-py3-none-any.whl", hashes = {sha256 = "00"}}]\n',
            "path or url",
            id="wheel-without-location",
        ),
        pytest.param(
            'lock-version = "1.0"\ncreated-by = "x"\n[[packages]]\nname = "A_B"\n',
            "A_B",
            id="unnormalised-name",
        ),
    ],
)
def test_an_invalid_pylock_is_one_error_naming_the_file(text: str, message: str) -> None:
    with pytest.raises(LockError, match=message) as caught:
        PYLOCK.parse("demo", Path("/p/lock/pylock.demo.toml"), text)
    error = caught.value
    assert error.file == "lock/pylock.demo.toml"  # a field, formatted once: file:line:col: ...
    assert str(error).startswith("lock/pylock.demo.toml:")
    if message == "not valid TOML":
        assert (error.line, error.column) == (1, 16)
        assert str(error) == "lock/pylock.demo.toml:1:16: not valid TOML: Invalid value"


# --- selection equals Pylock.select ----------------------------------------------------------

#: marker pairs that never hold together, so a name locked twice is never selected twice
MARKER_PAIRS = [
    ('sys_platform == "linux"', 'sys_platform != "linux"'),
    ('python_version < "3.12"', 'python_version >= "3.12"'),
    ('platform_machine == "x86_64"', 'platform_machine != "x86_64"'),
    ('os_name == "nt" and python_version >= "3.10"', 'os_name != "nt" or python_version < "3.10"'),
]
SINGLE_MARKERS = [None, *(m for pair in MARKER_PAIRS for m in pair)]


@st.composite
def locks(draw: st.DrawFn) -> tuple[LockedPackage, ...]:
    names = draw(st.lists(st.from_regex(r"[a-z][a-z0-9]{0,5}", fullmatch=True), unique=True))
    packages: list[LockedPackage] = []
    for name in names:
        version = f"1.{draw(st.integers(0, 9))}"
        digest = ("sha256:" + draw(st.binary(min_size=32, max_size=32)).hex(),)
        if draw(st.booleans()):
            first, second = draw(st.sampled_from(MARKER_PAIRS))
            packages.append(LockedPackage(name, version, f"{name}=={version}", digest, first))
            packages.append(LockedPackage(name, "2.0", f"{name}==2.0", digest, second))
        else:
            marker = draw(st.sampled_from(SINGLE_MARKERS))
            packages.append(LockedPackage(name, version, f"{name}=={version}", digest, marker))
    return tuple(packages)


@st.composite
def environments(draw: st.DrawFn) -> dict[str, str]:
    env = dict(default_environment())
    minor = draw(st.integers(8, 13))
    env["python_version"] = f"3.{minor}"
    env["python_full_version"] = f"3.{minor}.{draw(st.integers(0, 12))}"
    env["sys_platform"] = draw(st.sampled_from(["linux", "darwin", "win32"]))
    env["os_name"] = "nt" if env["sys_platform"] == "win32" else "posix"
    env["platform_machine"] = draw(st.sampled_from(["x86_64", "arm64", "aarch64"]))
    return env


#: Examples of the same check: fewer on CI, whose 2 cores run the whole suite.
SELECTION_EXAMPLES = 50 if in_ci() else 150


@pytest.mark.slow
@settings(
    max_examples=SELECTION_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(packages=locks(), env=environments())
def test_selection_equals_pylock_select(
    tmp_path: Path, packages: tuple[LockedPackage, ...], env: dict[str, str]
) -> None:
    content = _content(tmp_path, packages)
    text = PYLOCK.render(content)
    ours = lockfile.applicable(PYLOCK.parse("demo", content.path, text), env)
    theirs = Pylock.from_dict(tomllib.loads(text)).select(
        environment=env,  # type: ignore[arg-type]
        tags=[Tag("py3", "none", "any")],
    )
    assert sorted((p.name, p.version) for p in ours) == sorted(
        (str(p.name), str(p.version)) for p, _ in theirs
    )


# --- end to end: lock, apply, install with uv and pip ------------------------------------------


def make_project(root: Path, resolver: str, lock_format: str = "pylock") -> Project:
    """The example plugins with the fixture wheelhouse inside the project (a pylock holds no
    path outside it), locked in ``lock_format`` by ``resolver``."""
    root.mkdir(parents=True)
    (root / "wheels").symlink_to(WHEELS, target_is_directory=True)
    (root / "reconciler.toml").write_text(
        "[settings]\n"
        'find-links = ["wheels"]\nno-index = true\n'
        f'resolver = "{resolver}"\nlock-format = "{lock_format}"\n\n'
        '[plugins.tap-alpha]\nrequirements = ["tap-alpha==1.0.0"]\n\n'
        '[plugins.tap-beta]\nrequirements = ["tap-beta"]\n\n'
        '[plugins.target-gamma]\nrequirements = ["target-gamma", "demo-common<1.1"]\n',
        encoding="utf-8",
    )
    return Project(root)


def _interpreter(project: Project, plugin: str) -> str:
    return str(project.marker(plugin)["python_executable"])


def _hermetic() -> dict[str, str]:
    return dict(os.environ)  # conftest's autouse fixture made os.environ hermetic


def install_with(tool: str, lock: Path, python: str, dest: Path) -> dict[str, str]:
    """A fresh venv for ``python`` with ``tool`` installing ``lock`` into it; its dists."""
    subprocess.run([python, "-m", "venv", "--without-pip", str(dest)], check=True)
    target = str(dest / "bin" / "python")
    if tool == "uv":
        uv = find_uv()
        assert uv is not None
        command = [uv, "pip", "install", "--no-config", "--python", target, "-r", str(lock)]
    else:
        command = [sys.executable, "-m", "pip", "--python", target, "install", "--no-index"]
        command += ["-r", str(lock)]
    result = subprocess.run(
        command, capture_output=True, text=True, cwd=lock.parent, env=_hermetic(), check=False
    )
    assert result.returncode == 0, f"{tool} install -r {lock.name} failed:\n{result.stderr}"
    site = sorted(dest.glob("lib/python3*/site-packages"))
    assert len(site) == 1
    return dist_infos(site[0])


def test_pip_is_new_enough_for_pylock() -> None:
    from importlib.metadata import version  # noqa: PLC0415

    assert Version(version("pip")) >= Version("26.1"), "pip installs pylock.toml from 26.1"
    assert find_uv() is not None, "uv is part of the dev environment"


@pytest.mark.parametrize("resolver", RESOLVERS)
def test_pylock_locked_applied_and_installable_by_uv_and_pip(tmp_path: Path, resolver: str) -> None:
    project = make_project(tmp_path / "p", resolver)
    project.ok("lock")
    reference = make_project(tmp_path / "ref", resolver, lock_format="requirements")
    reference.ok("lock")
    for plugin in PLUGINS:
        path = pylock_path(project, plugin)
        assert path.is_file()
        assert not project.lock(plugin).exists()
        data = tomllib.loads(path.read_text("utf-8"))
        Pylock.from_dict(data).validate()
        assert data["created-by"] == "reconciler"
        for package in data["packages"]:
            for wheel in package["wheels"]:
                assert wheel["path"].startswith("../wheels/")
                assert wheel["size"] > 0
                assert len(wheel["hashes"]["sha256"]) == 64
        # the same pins as the requirements format gives with the same resolver
        pinned = {(p["name"], p["version"]) for p in data["packages"]}
        ref = lockformats.read(plugin, reference.lock(plugin), "requirements")
        assert ref is not None
        assert pinned == {(p.name, p.version) for p in ref.packages}
    assert project.ok("lock", "--check").out.strip().endswith("All 3 locks are fresh.")
    project.ok("apply")
    assert project.ok("plan").out.startswith("No changes.")
    status = project.ok("status").out
    assert status.count("fresh") == 3, status
    for plugin in ("tap-beta", "target-gamma"):
        mine = project.dists(plugin)
        python = _interpreter(project, plugin)
        lock = pylock_path(project, plugin)
        assert install_with("uv", lock, python, tmp_path / f"uv-{plugin}") == mine
        assert install_with("pip", lock, python, tmp_path / f"pip-{plugin}") == mine
    # fetch reads the pylock like a requirements lock
    fetched = project.ok("fetch", "--dest", str(tmp_path / "house")).out
    assert "Fetched 6 artifacts" in fetched, fetched


def test_switching_the_format_makes_the_lock_stale_then_relocks(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p", "uv")
    project.ok("lock")
    project.ok("apply")
    before = {plugin: project.snapshot(plugin) for plugin in PLUGINS}
    with project.edit() as doc:
        doc["settings"]["lock-format"] = "requirements"
        doc["plugins"]["tap-beta"]["lock-format"] = "pylock"  # per plugin wins
    check = project.run("lock", "--check")
    assert check.code == 2, check.describe()
    assert "tap-alpha: stale (lock format changed (pylock -> requirements))" in check.out
    assert "tap-beta: fresh" in check.out
    plan = project.run("plan")
    assert plan.code == 1
    assert "lock lock/pylock.tap-alpha.toml is stale (lock format changed" in plan.err
    project.ok("lock")
    assert project.lock("tap-alpha").is_file()
    assert not pylock_path(project, "tap-alpha").exists(), "the old format's lock is removed"
    assert pylock_path(project, "tap-beta").is_file()
    assert project.ok("plan").out.startswith("No changes.")
    after = {plugin: project.snapshot(plugin) for plugin in PLUGINS}
    assert after == before, "a format switch alone changes no venv"


def test_upgrade_and_upgrade_package_on_a_pylock(tmp_path: Path) -> None:
    root = tmp_path / "p"
    project = make_project(root, "uv")
    (root / "wheels").unlink()
    (root / "wheels").mkdir()
    for wheel in WHEELS.glob("*.whl"):
        if not wheel.name.startswith("tap_alpha-1.1.0"):
            shutil.copy2(wheel, root / "wheels" / wheel.name)
    with project.edit() as doc:
        doc["plugins"]["tap-alpha"]["requirements"] = ["tap-alpha"]
    project.ok("lock", "tap-alpha")
    text = pylock_path(project, "tap-alpha").read_text("utf-8")
    assert 'name = "tap-alpha"\nversion = "1.0.0"' in text
    shutil.copy2(WHEELS / "tap_alpha-1.1.0-py3-none-any.whl", root / "wheels")
    project.ok("lock", "--upgrade-package", "demo-common")
    assert pylock_path(project, "tap-alpha").read_text("utf-8") == text, "pins kept"
    project.ok("lock", "-P", "tap-alpha")
    upgraded = PYLOCK.parse(
        "tap-alpha",
        pylock_path(project, "tap-alpha"),
        pylock_path(project, "tap-alpha").read_text("utf-8"),
    )
    assert {p.name: p.version for p in upgraded.packages}["tap-alpha"] == "1.1.0"
    project.ok("lock", "--upgrade")
    assert project.ok("lock", "--check").code == 0


def test_export_converts_both_ways(tmp_path: Path) -> None:
    pylock_project = make_project(tmp_path / "a", "uv")
    pylock_project.ok("lock")
    plain = make_project(tmp_path / "b", "uv", lock_format="requirements")
    plain.ok("lock")
    # requirements -> pylock: exactly what `lock` writes in the pylock format
    exported = plain.ok("export", "--format", "pylock", "tap-beta").out
    assert exported == pylock_path(pylock_project, "tap-beta").read_text("utf-8")
    # pylock -> requirements: a requirements lock with the same values, fresh in that format
    out = tmp_path / "tap-beta.txt"
    pylock_project.ok("export", "--format", "requirements", "tap-beta", "-o", str(out))
    converted = lockformats.read("tap-beta", out, "requirements")
    original = lockformats.read("tap-beta", plain.lock("tap-beta"), "requirements")
    assert converted is not None
    assert original is not None
    assert converted.packages == original.packages
    assert converted.inputs == original.inputs
    shutil.copy2(out, plain.lock("tap-beta"))
    assert "tap-beta: fresh" in plain.ok("lock", "--check").out
    bad = plain.run("export", "--format", "toml", "tap-beta")
    assert bad.code != 0
    assert "toml" in bad.err


def test_meltano_project_locks_to_pylock_by_type(tmp_path: Path) -> None:
    root = tmp_path / "m"
    root.mkdir()
    (root / "wheels").symlink_to(WHEELS, target_is_directory=True)
    (root / "meltano.yml").write_text(
        "version: 1\nplugins:\n"
        "  extractors:\n  - name: tap-beta\n    pip_url: tap-beta\n"
        "  loaders:\n  - name: target.gamma\n    pip_url: target-gamma demo-common<1.1\n",
        encoding="utf-8",
    )
    (root / "reconciler.toml").write_text(
        '[settings]\nfind-links = ["wheels"]\nno-index = true\nlock-format = "pylock"\n',
        encoding="utf-8",
    )
    project = Project(root)
    env = {"MELTANO__PYTHON_VERSION": f"{sys.version_info[0]}.{sys.version_info[1]}"}
    project.ok("lock", env=env)
    tap = root / "lock" / "extractors" / "pylock.tap-beta.toml"
    target = root / "lock" / "loaders" / "pylock.target-gamma.toml"  # no dot in the name part
    assert sorted(
        p.relative_to(root / "lock").as_posix() for p in (root / "lock").rglob("*") if p.is_file()
    ) == ["extractors/pylock.tap-beta.toml", "loaders/pylock.target-gamma.toml"]
    for path in (tap, target):
        data = tomllib.loads(path.read_text("utf-8"))
        Pylock.from_dict(data).validate()
        for package in data["packages"]:
            assert package["wheels"][0]["path"].startswith("../../wheels/")
    assert "tap-beta: fresh" in project.ok("lock", "--check", env=env).out
    project.ok("apply", env=env)
    assert project.ok("plan", env=env).out.startswith("No changes."), "applied from pylock"


@pytest.mark.skipif(sys.platform != "linux", reason="the selected branch is the Linux one")
def test_universal_vcs_and_directory_pins_in_a_pylock(tmp_path: Path) -> None:
    from test_direct import TEST_WHEELS, commit, git, local_project  # noqa: PLC0415

    root = tmp_path / "p"
    root.mkdir()
    (root / "wheels").symlink_to(WHEELS, target_is_directory=True)
    (root / "build-wheels").symlink_to(TEST_WHEELS, target_is_directory=True)
    repo = local_project(tmp_path / "repo" / "tap-git", "tap-git")
    git(repo, "init", "-q", "-b", "main")
    first = commit(repo, "tap-git", "one")
    git(repo, "tag", "-a", "v0.1.0", "-m", "release")
    commit(repo, "tap-git", "two")
    local_project(root / "plugins" / "tap-local", "tap-local")
    (root / "reconciler.toml").write_text(
        '[settings]\nfind-links = ["wheels", "build-wheels"]\nno-index = true\n'
        'resolver = "uv"\nlock-format = "pylock"\n\n'
        '[plugins.multi]\nrequirements = ["tap-multi"]\nuniversal = true\n\n'
        f'[plugins.vcs]\nrequirements = ["tap-git @ git+{repo.as_uri()}@v0.1.0"]\n\n'
        '[plugins.local]\nrequirements = ["./plugins/tap-local"]\n\n'
        '[plugins.live]\nrequirements = ["-e ./plugins/tap-local"]\n',
        encoding="utf-8",
    )
    project = Project(root)
    project.ok("lock")
    multi = tomllib.loads(pylock_path(project, "multi").read_text("utf-8"))
    markers = {p["name"]: p.get("marker") for p in multi["packages"]}
    assert markers["demo-linux"] == 'sys_platform == "linux"'
    assert markers["demo-windows"] == 'sys_platform == "win32"'
    assert multi["tool"]["reconciler"]["universal"] is True
    vcs = tomllib.loads(pylock_path(project, "vcs").read_text("utf-8"))["packages"]
    assert vcs[0]["vcs"] == {
        "type": "git",
        "url": repo.as_uri(),
        "requested-revision": "v0.1.0",
        "commit-id": first,
    }
    local = tomllib.loads(pylock_path(project, "local").read_text("utf-8"))["packages"]
    assert local[0]["directory"] == {"path": "../plugins/tap-local"}
    live = tomllib.loads(pylock_path(project, "live").read_text("utf-8"))["packages"]
    assert live[0]["directory"] == {"path": "../plugins/tap-local", "editable": True}
    written = {n: pylock_path(project, n).read_bytes() for n in ("multi", "vcs", "local", "live")}
    project.ok("lock", "--upgrade")  # re-resolved from scratch: the same bytes (deterministic)
    assert {n: pylock_path(project, n).read_bytes() for n in written} == written
    project.ok("apply")
    assert project.ok("plan").out.startswith("No changes.")
    assert project.script("vcs", "tap-git").strip() == "one"
    assert project.script("live", "tap-local").strip() == "one"
    assert "demo-windows" not in project.dists("multi")
    python = _interpreter(project, "multi")
    lock = pylock_path(project, "multi")
    assert install_with("uv", lock, python, tmp_path / "uv-multi") == project.dists("multi")
    assert install_with("pip", lock, python, tmp_path / "pip-multi") == project.dists("multi")


@pytest.fixture
def simple_index(tmp_path: Path) -> Iterator[str]:
    """A PEP 503 (HTML) simple index of the fixture wheels on 127.0.0.1, files beside it."""
    import functools  # noqa: PLC0415
    import hashlib  # noqa: PLC0415
    import threading  # noqa: PLC0415
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer  # noqa: PLC0415

    from reconciler.locking.artifacts import identify  # noqa: PLC0415

    served = tmp_path / "served"
    (served / "files").mkdir(parents=True)
    projects: dict[str, list[str]] = {}
    for wheel in sorted(WHEELS.glob("*.whl")):
        shutil.copy2(wheel, served / "files" / wheel.name)
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        found = identify(wheel.name)
        assert found is not None
        link = f'<a href="../../files/{wheel.name}#sha256={digest}">{wheel.name}</a><br>'
        projects.setdefault(found[0], []).append(link)
    for name, links in projects.items():
        (served / "simple" / name).mkdir(parents=True)
        (served / "simple" / name / "index.html").write_text(
            "<!DOCTYPE html><html><body>" + "".join(links) + "</body></html>", encoding="utf-8"
        )

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=served))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/simple"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("resolver", RESOLVERS)
def test_an_index_gives_each_file_its_url_and_size(
    tmp_path: Path, simple_index: str, resolver: str
) -> None:
    root = tmp_path / "p"
    root.mkdir()
    (root / "reconciler.toml").write_text(
        f'[settings]\nindex-url = "{simple_index}/"\nresolver = "{resolver}"\n'
        'lock-format = "pylock"\n\n[plugins.tap-beta]\nrequirements = ["tap-beta"]\n',
        encoding="utf-8",
    )
    project = Project(root)
    project.ok("lock")
    lock = pylock_path(project, "tap-beta")
    data = tomllib.loads(lock.read_text("utf-8"))
    Pylock.from_dict(data).validate()
    base = simple_index.removesuffix("/simple")
    wheels = {p["name"]: p["wheels"] for p in data["packages"]}
    assert sorted(wheels) == ["demo-common", "demo-extra", "tap-beta"]
    for name, files in wheels.items():
        (wheel,) = files
        assert wheel["url"] == f"{base}/files/{wheel['name']}", name
        assert wheel["size"] == (WHEELS / wheel["name"]).stat().st_size
        assert "path" not in wheel
    project.ok("apply")
    assert project.ok("plan").out.startswith("No changes.")
    python = _interpreter(project, "tap-beta")
    mine = project.dists("tap-beta")
    assert install_with("uv", lock, python, tmp_path / "uv") == mine
    assert install_with("pip", lock, python, tmp_path / "pip") == mine


@pytest.mark.parametrize(
    ("table", "message"),
    [
        pytest.param(
            '[settings]\nlock-format = "poetry"\n[plugins.a]\nrequirements = ["a"]\n',
            r"^reconciler\.toml:2: settings\.lock-format: must be one of requirements, pylock",
            id="settings",
        ),
        pytest.param(
            '[plugins.a]\nrequirements = ["a"]\nlock-format = "PYLOCK"\n',
            r"^reconciler\.toml:3: plugins\.a\.lock-format: must be one of requirements, pylock",
            id="plugin",
        ),
    ],
)
def test_an_unknown_lock_format_names_the_key(tmp_path: Path, table: str, message: str) -> None:
    from reconciler import sources  # noqa: PLC0415
    from reconciler.errors import ConfigError  # noqa: PLC0415

    (tmp_path / "reconciler.toml").write_text(table, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        sources.load(tmp_path / "reconciler.toml")


def test_plugins_sharing_a_pylock_file_name_are_refused(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p", "uv")
    with project.edit() as doc:
        doc["plugins"]["tap.beta"] = {"requirements": ["tap-beta"]}
    result = project.run("lock")
    assert result.code == 1, result.describe()
    assert "plugins 'tap-beta' and 'tap.beta' would share the lock pylock.tap-beta.toml" in (
        result.err
    )
    assert not (tmp_path / "p" / "lock").exists(), "nothing is locked"


def test_json_simple_api_pages_give_url_size_and_hash() -> None:
    from reconciler.locking.artifacts import _from_html, _from_json  # noqa: PLC0415

    body = (
        b'{"meta": {"api-version": "1.1"}, "name": "demo", "files": ['
        b'{"filename": "demo-1.0-py3-none-any.whl", "url": "../../f/demo-1.0-py3-none-any.whl",'
        b' "hashes": {"sha256": "' + b"a" * 64 + b'"}, "size": 123},'
        b'{"filename": "demo-1.0.tar.gz", "url": "https://u:t@cdn.example/demo-1.0.tar.gz",'
        b' "hashes": {"md5": "00"}}]}'
    )
    (wheel,) = _from_json("https://idx.example/simple/demo/", body)
    assert wheel.url == "https://idx.example/f/demo-1.0-py3-none-any.whl"
    assert (wheel.size, wheel.sha256) == (123, "a" * 64)
    html = '<a href="https://u:t@cdn.example/demo-1.0.tar.gz#sha256=' + "b" * 64 + '">x</a>'
    (sdist,) = _from_html("https://idx.example/simple/demo/", html)
    assert sdist.url == "https://cdn.example/demo-1.0.tar.gz", "credentials are never stored"
    assert (sdist.filename, sdist.size) == ("demo-1.0.tar.gz", None)


def test_pipx_install_lock_accepts_the_pylock(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    from release_helpers import pipx_shared_libs, tool  # noqa: PLC0415
    from test_direct import TEST_WHEELS  # noqa: PLC0415

    project = make_project(tmp_path / "p", "uv")  # either resolver's pylock: the same file
    project.ok("lock", "tap-beta")
    project.ok("apply", "tap-beta")
    home = tmp_path / "pipx"
    env = {
        **_hermetic(),
        "PIPX_HOME": str(home),
        "PIPX_BIN_DIR": str(home / "bin"),
        "PIPX_MAN_DIR": str(home / "man"),
        # pipx's shared pip, >= 26.1 (pylock support), upgraded offline from the test wheels
        "PIPX_SHARED_LIBS": str(pipx_shared_libs(tmp_path_factory)),
        "PIP_NO_INDEX": "1",
        "PIP_FIND_LINKS": str(TEST_WHEELS),
    }
    lock = pylock_path(project, "tap-beta")
    result = subprocess.run(
        [str(tool("pipx")), "install", "--lock", str(lock), "tap-beta"],
        capture_output=True,
        text=True,
        env=env,
        cwd=project.root,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, f"pipx install --lock failed:\n{result.stdout}{result.stderr}"
    site = sorted((home / "venvs" / "tap-beta").glob("lib/python3*/site-packages"))
    assert len(site) == 1
    assert dist_infos(site[0]) == project.dists("tap-beta")
    assert (home / "bin" / "tap-beta").exists()
