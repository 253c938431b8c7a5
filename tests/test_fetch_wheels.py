"""Git plugins and local projects deployed offline: ``fetch`` builds their wheels, ``apply
--no-index --find-links WH`` installs them (hash-checked) instead of cloning or building.

Real git repository (``git+file://``) moved away after ``fetch``, real local projects, real pip
and uv; the offline apply runs in a network namespace (``unshare -rn``) where one exists.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from builders import PY, PY_312
from conftest import WHEELS, Project
from helpers import Result, built_once, copy_tree
from test_direct import BACKENDS, TEST_WHEELS, commit, direct_url, git, local_project, set_value
from test_meltano import MELTANO, PROJECT_ID, MeltanoProject, meltano_env  # noqa: F401 - a fixture

from reconciler.installers.uv import find_uv
from reconciler.locking.fetch_wheels import (
    MANIFEST,
    BuiltWheel,
    _git_checkout,
    content_digest,
    source_key,
)
from reconciler.models import Interpreter, LockedPackage
from reconciler.support import procs
from reconciler.support.tool_errors import explain
from reconciler.support.values import evolve

INSTALLERS = ("pip", "uv")


@pytest.fixture(autouse=True, scope="module")
def _test_wheels() -> None:
    assert (TEST_WHEELS / ".stamp").is_file(), "run `make test-wheels` (make test does) first"


def offline(project: Project, *args: str) -> Result:
    """``python -m reconciler ARGS`` with no network at all: in a new network namespace
    (``unshare -rn``) where the system allows one (some CI runners forbid user namespaces; there
    the moved-away repository and ``--no-index`` are what keep the run offline)."""
    command = [sys.executable, "-m", "reconciler", "--project", str(project.root), *args]
    unshare = shutil.which("unshare")
    if unshare is not None and not subprocess.run([unshare, "-rn", "true"], check=False).returncode:
        command = [unshare, "-rn", *command]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    return Result(completed.returncode, completed.stdout, completed.stderr)


def git_and_local(
    tmp_path: Path, installer: str, lock_format: str = "requirements"
) -> tuple[Project, Path, str]:
    """A project whose plugin locks a git commit, a local project, an editable one and a pin."""
    repo = local_project(tmp_path / "repo" / "tap-git", "tap-git")
    git(repo, "init", "-q", "-b", "main")
    sha = commit(repo, "tap-git", "from git")
    project_dir = tmp_path / "proj"
    requirements = [
        f"tap-git @ git+{repo.as_uri()}@main",
        "./plugins/tap-local",
        "-e ./plugins/tap-edit",
        "demo-common==1.0.0",
    ]
    project_dir.mkdir(parents=True)
    (project_dir / "wh").mkdir()  # a wheelhouse among the settings' find-links (empty for now)
    (project_dir / "wheels").symlink_to(WHEELS, target_is_directory=True)  # under the project:
    (project_dir / "test-wheels").symlink_to(TEST_WHEELS, target_is_directory=True)  # pylock
    links = ["wheels", "test-wheels", "wh"]
    project_dir.joinpath("reconciler.toml").write_text(
        f"[settings]\nno-index = true\nfind-links = {json.dumps(links)}\n"
        f'installer = "{installer}"\nlock-format = "{lock_format}"\n\n'
        f"[plugins.tap-g]\nrequirements = {json.dumps(requirements)}\n",
        encoding="utf-8",
    )
    project = Project(project_dir)
    local_project(project_dir / "plugins" / "tap-local", "tap-local", "local one")
    local_project(project_dir / "plugins" / "tap-edit", "tap-edit", "editable one")
    project.ok("lock")
    return project, repo, sha


def fetch(project: Project, wheelhouse: Path) -> str:
    """``fetch --dest wheelhouse`` (exit 0 required): its output and its progress lines."""
    result = project.ok("fetch", "--dest", str(wheelhouse))
    return result.out + result.err


class Fetched(NamedTuple):
    """A private copy of :func:`git_and_local`'s project (installer uv), locked, and of the
    wheelhouse ``fetch`` made of it; both were made once per run."""

    project: Project
    wheelhouse: Path
    repo: Path  # the run's shared repository, which the lock names: read it, never change it
    sha: str  # the locked commit


@pytest.fixture
def fetched(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> Fetched:
    """:class:`Fetched`: ``lock`` and ``fetch`` run once per run (shared by the xdist workers:
    local paths in the lock and the manifest are relative, and the git repository stays where
    it was built), then copied for each test."""

    def build(directory: Path) -> None:
        project, _, _ = git_and_local(directory, "uv")
        fetch(project, directory / "wheelhouse")

    shared = built_once(tmp_path_factory, "fetch-wheels-git-local", build)
    copy_tree(shared / "proj", tmp_path / "proj")
    copy_tree(shared / "wheelhouse", tmp_path / "wheelhouse")
    repo = shared / "repo" / "tap-git"
    return Fetched(
        Project(tmp_path / "proj"), tmp_path / "wheelhouse", repo, git(repo, "rev-parse", "HEAD")
    )


def use_installer(project: Project, installer: str) -> None:
    """Set the project's installer (not an input of its lock: the lock stays fresh)."""
    with project.edit() as doc:
        doc["settings"]["installer"] = installer


def manifest(wheelhouse: Path) -> list[dict[str, str]]:
    data = json.loads((wheelhouse / MANIFEST).read_text(encoding="utf-8"))
    assert data["format_version"] == 1
    wheels: list[dict[str, str]] = data["wheels"]
    return wheels


@pytest.mark.parametrize(
    ("installer", "lock_format"),
    [("pip", "requirements"), ("uv", "requirements"), ("uv", "pylock")],
)
def test_git_commit_and_local_project_deploy_offline_from_the_wheelhouse(
    tmp_path: Path, installer: str, lock_format: str
) -> None:
    project, repo, sha = git_and_local(tmp_path, installer, lock_format)
    wheelhouse = tmp_path / "wheelhouse"
    out = fetch(project, wheelhouse)
    assert "built 2 wheels of git commits and local projects" in out, out

    entries = {e["name"]: e for e in manifest(wheelhouse)}
    assert set(entries) == {"tap-git", "tap-local"}  # the editable line is not built
    assert entries["tap-git"]["kind"] == "vcs"
    assert entries["tap-git"]["revision"] == sha
    assert entries["tap-git"]["source"] == f"git+{repo.as_uri()}"
    assert entries["tap-local"]["kind"] == "path"
    assert entries["tap-local"]["source"] == "./plugins/tap-local"
    local_digest = content_digest(project.root / "plugins" / "tap-local")
    assert entries["tap-local"]["revision"] == local_digest
    for entry in entries.values():
        wheel = wheelhouse / entry["wheel"]
        assert hashlib.sha256(wheel.read_bytes()).hexdigest() == entry["sha256"]
        assert entry["wheel"].startswith("built/")  # never beside the index pins of find-links

    repo.rename(tmp_path / "repo-gone")  # the git repository is unreachable from here on
    plan = project.change("tap-g")  # the settings' find-links hold no wheel of them
    assert all("wheel" not in i for i in plan["install"])

    result = offline(project, "apply", "--no-index", "--find-links", str(wheelhouse))
    assert result.code == 0, result.describe()
    assert "warning" not in result.err, result.err
    assert project.script("tap-g", "tap-git").strip() == "from git"
    assert project.script("tap-g", "tap-local").strip() == "local one"
    assert project.script("tap-g", "tap-edit").strip() == "editable one"

    # recorded as installed from the sources the lock names, as pip would have
    git_url = direct_url(project, "tap-g", "tap-git")
    assert git_url["url"] == repo.as_uri()
    assert git_url["vcs_info"] == {"vcs": "git", "commit_id": sha, "requested_revision": sha}
    local_url = direct_url(project, "tap-g", "tap-local")
    assert local_url == {"url": (project.root / "plugins" / "tap-local").as_uri(), "dir_info": {}}
    assert direct_url(project, "tap-g", "tap-edit")["dir_info"] == {"editable": True}

    # the next plan is a no-op, and the rewritten direct_url.json matches its RECORD line
    assert project.ok("plan").out.startswith("No changes."), project.ok("plan").out
    verify = project.ok("plan", "--verify")
    assert verify.out.startswith("No changes."), verify.out


def test_the_plan_carries_each_wheel_and_apply_installs_it_in_one_call(
    fetched: Fetched, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project, sha = fetched.project, fetched.sha
    use_installer(project, "pip")
    wheelhouse = project.root / "wh"  # in the settings' find-links: plan and apply use it
    shutil.copytree(fetched.wheelhouse, wheelhouse, dirs_exist_ok=True)  # as `fetch --dest wh`
    entries = {e["name"]: e for e in manifest(wheelhouse)}

    # what apply will do is in the plan: the wheel (with its hash) instead of the source
    by_name = {i["name"]: i for i in project.change("tap-g")["install"]}
    assert by_name["tap-git"]["wheel"] == (wheelhouse / entries["tap-git"]["wheel"]).as_uri()
    assert by_name["tap-git"]["hashed"] is True
    assert by_name["tap-git"]["commit"] == sha
    assert by_name["tap-local"]["wheel"] == (wheelhouse / entries["tap-local"]["wheel"]).as_uri()
    assert "wheel" not in by_name["tap-edit"]
    assert by_name["tap-edit"]["hashed"] is False

    calls: list[tuple[list[str], str]] = []
    real = procs.run

    def counting(command: Sequence[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        words = [str(c) for c in command]
        text = Path(words[words.index("-r") + 1]).read_text("utf-8") if "-r" in words else ""
        calls.append((words, text))
        return real(command, **kwargs)

    saved = tmp_path / "plan.json"
    project.ok("plan", "-o", str(saved))  # the saved plan carries the wheels: apply FILE runs it
    contract = json.loads(saved.read_text(encoding="utf-8"))["contract"]
    locked = {p["name"]: p for p in contract["steps"][0]["locked"]}
    assert locked["tap-git"]["prebuilt"]["sha256"] == entries["tap-git"]["sha256"]
    assert locked["tap-edit"]["prebuilt"] is None
    monkeypatch.setattr(procs, "run", counting)
    project.ok("apply", str(saved))
    installs = [(w, t) for w, t in calls if "install" in w]
    assert not any("git" in Path(w[0]).name for w, _ in calls)  # nothing cloned
    # the hashed call: the pin and both wheels, every line with its hash; the editable apart
    hashed = [(w, t) for w, t in installs if "--require-hashes" in w]
    assert len(hashed) == 1, installs
    text = hashed[0][1]
    wheel = (wheelhouse / entries["tap-git"]["wheel"]).as_uri()
    assert f"tap-git @ {wheel} --hash=sha256:{entries['tap-git']['sha256']}" in text, text
    assert f"--hash=sha256:{entries['tap-local']['sha256']}" in text, text
    assert re.search(r"^demo-common==1\.0\.0 --hash=sha256:", text, re.M), text
    assert "tap-edit" not in text
    assert project.ok("plan").out.startswith("No changes.")


@pytest.mark.parametrize("installer", INSTALLERS)
def test_a_wheel_that_does_not_match_its_recorded_hash_is_refused(
    fetched: Fetched, installer: str
) -> None:
    project, wheelhouse = fetched.project, fetched.wheelhouse
    use_installer(project, installer)
    entry = next(e for e in manifest(wheelhouse) if e["name"] == "tap-git")
    wheel = wheelhouse / entry["wheel"]
    wheel.write_bytes(wheel.read_bytes() + b"\0")  # tampered after fetch

    result = project.run("apply", "--no-index", "--find-links", str(wheelhouse))
    assert result.code == 1, result.describe()
    assert "does not match the sha256 its manifest records" in result.err, result.err
    assert not project.venv("tap-g").exists()


def test_a_local_project_changed_after_fetch_is_built_from_source(fetched: Fetched) -> None:
    project, wheelhouse = fetched.project, fetched.wheelhouse
    set_value(project.root / "plugins" / "tap-local", "tap-local", "local two")

    result = offline(project, "apply", "--no-index", "--find-links", str(wheelhouse))
    assert result.code == 0, result.describe()
    assert re.search(
        r"warning: tap-g: the wheel of tap-local in \S+ was built from ./plugins/tap-local as it "
        r"was, and it has changed since: building from source \(run `reconciler fetch` again\)",
        result.err,
    ), result.err
    assert project.script("tap-g", "tap-local").strip() == "local two"  # the source, not the wheel
    assert project.script("tap-g", "tap-git").strip() == "from git"  # still from its wheel

    # fetch again: the new source is built, the old wheel and its entry are gone
    old = next(e for e in manifest(wheelhouse) if e["name"] == "tap-local")
    fetch(project, wheelhouse)
    entries = [e for e in manifest(wheelhouse) if e["name"] == "tap-local"]
    assert len(entries) == 1
    assert entries[0]["revision"] == content_digest(project.root / "plugins" / "tap-local")
    assert not (wheelhouse / old["wheel"]).exists()
    assert (wheelhouse / entries[0]["wheel"]).is_file()


def test_a_wheel_of_another_commit_is_not_used(tmp_path: Path) -> None:
    project, repo, first = git_and_local(tmp_path, "uv")  # its own repository: committed to
    wheelhouse = tmp_path / "wheelhouse"
    fetch(project, wheelhouse)
    second = commit(repo, "tap-git", "second commit")
    project.ok("lock", "--upgrade-package", "tap-git")
    assert second in project.lock("tap-g").read_text(encoding="utf-8")

    result = project.run("apply", "--no-index", "--find-links", str(wheelhouse))
    assert result.code == 0, result.describe()
    assert f"built from commit {first[:12]}, the lock pins {second[:12]}" in result.err
    assert project.script("tap-g", "tap-git").strip() == "second commit"
    vcs_info = direct_url(project, "tap-g", "tap-git")["vcs_info"]
    assert isinstance(vcs_info, dict)
    assert vcs_info["commit_id"] == second


def test_fetch_reuses_an_intact_wheel_and_rebuilds_a_damaged_one(fetched: Fetched) -> None:
    project, wheelhouse = fetched.project, fetched.wheelhouse
    before = manifest(wheelhouse)
    out = fetch(project, wheelhouse)
    assert re.search(r"tap-git @[0-9a-f]{12}: wheel already built", out), out
    assert manifest(wheelhouse) == before

    entry = next(e for e in before if e["name"] == "tap-git")
    (wheelhouse / entry["wheel"]).unlink()
    fetch(project, wheelhouse)
    again = next(e for e in manifest(wheelhouse) if e["name"] == "tap-git")
    assert (wheelhouse / again["wheel"]).is_file()
    assert hashlib.sha256((wheelhouse / again["wheel"]).read_bytes()).hexdigest() == again["sha256"]


@pytest.mark.parametrize(
    ("wheels", "needle"),
    [
        pytest.param("not json", "not a wheelhouse manifest", id="not-json"),
        pytest.param({"format_version": 2, "wheels": []}, "unsupported manifest", id="version"),
        pytest.param({"format_version": 1, "wheels": [{"name": 1}]}, "malformed", id="entry"),
        pytest.param(
            {
                "format_version": 1,
                "wheels": [
                    {
                        "name": "tap-git",
                        "kind": "vcs",
                        "source": "x",
                        "revision": "y",
                        "wheel": "../../etc/x-1-py3-none-any.whl",
                        "sha256": "0",
                        "python": "3.11",
                        "platform": "linux-x86_64",
                    }
                ],
            },
            "leaves the wheelhouse",
            id="dotdot",
        ),
    ],
)
def test_a_broken_manifest_is_one_error(
    fetched: Fetched, tmp_path: Path, wheels: object, needle: str
) -> None:
    project = fetched.project
    wheelhouse = tmp_path / "broken"
    wheelhouse.mkdir()
    text = wheels if isinstance(wheels, str) else json.dumps(wheels)
    (wheelhouse / MANIFEST).write_text(text, encoding="utf-8")
    result = project.run("apply", "--no-index", "--find-links", str(wheelhouse))
    assert result.code == 1, result.describe()
    assert needle in result.err, result.err
    assert len(result.err_lines) == 1, result.err
    if wheels == "not json":  # where, as fields: file:line:column, then the parser's words
        assert f"{MANIFEST}:1:1: not a wheelhouse manifest: Expecting value" in result.err
    assert not project.venv("tap-g").exists()


# --- the real Meltano on a git plugin deployed offline ------------------------------------------


@pytest.mark.skipif(
    not MELTANO.is_file(), reason="no build/meltano/bin/meltano (run `make meltano`)"
)
@pytest.mark.usefixtures("meltano_env")
def test_meltano_invokes_a_git_plugin_deployed_offline_without_reinstalling(tmp_path: Path) -> None:
    repo = local_project(tmp_path / "repo" / "tap-git", "tap-git")
    git(repo, "init", "-q", "-b", "main")
    sha = commit(repo, "tap-git", "from git, offline")
    root = tmp_path / "mproject"
    root.mkdir()
    (root / "meltano.yml").write_text(
        f"default_environment: dev\nproject_id: {PROJECT_ID}\nenvironments:\n- name: dev\n"
        "plugins:\n  extractors:\n  - name: tap-git\n    namespace: tap_git\n"
        f"    pip_url: git+{repo.as_uri()}@main\n    executable: tap-git\n",
        encoding="utf-8",
    )
    links = json.dumps([str(WHEELS), str(TEST_WHEELS)])
    (root / "reconciler.toml").write_text(
        f"[settings]\nfind-links = {links}\nno-index = true\n", encoding="utf-8"
    )
    project = MeltanoProject(root)
    project.ok("lock")
    assert sha in (root / "lock" / "extractors" / "tap-git.txt").read_text(encoding="utf-8")
    wheelhouse = tmp_path / "wheelhouse"
    fetch(project, wheelhouse)
    repo.rename(tmp_path / "repo-gone")  # neither reconciler nor Meltano can clone it now

    result = offline(project, "apply", "--no-index", "--find-links", str(wheelhouse))
    assert result.code == 0, result.describe()
    venv = project.venv("tap-git")
    assert venv.is_symlink()
    seen = project.meltano_view("tap-git")["tap-git"]
    assert seen["requires_install"] is False
    assert seen["fingerprint"] == (venv / ".meltano_plugin_fingerprint").read_text("utf-8")
    before = project.venvs_snapshot()

    out = project.meltano("invoke", "tap-git").stdout
    assert "from git, offline" in out, out
    assert project.venvs_snapshot() == before, "Meltano changed a venv file"
    assert project.ok("plan").out.startswith("No changes.")


def test_a_source_that_does_not_build_fails_fetch_with_the_backend_error(
    fetched: Fetched,
) -> None:
    project = fetched.project
    source = project.root / "plugins" / "tap-local"
    pyproject = source / "pyproject.toml"  # setuptools runs a setup.py (flit_core has none)
    text = pyproject.read_text(encoding="utf-8")
    pyproject.write_text(text.replace(BACKENDS["flit"][0], BACKENDS["setuptools"][0]), "utf-8")
    (source / "setup.py").write_text(
        'raise RuntimeError("tap-local cannot be built here")\n', encoding="utf-8"
    )
    result = project.run("fetch", "--dest", str(fetched.wheelhouse))  # changed: built again
    assert result.code == 1, result.describe()
    errors = [line for line in result.err_lines if line.startswith("error:")]
    assert len(errors) == 1, result.err
    assert "cannot build a wheel of tap-local" in errors[0], errors[0]
    assert "RuntimeError: tap-local cannot be built here" in errors[0], errors[0]
    assert "(locked by tap-g)" in errors[0], errors[0]


def test_fetch_takes_locked_pins_and_commits_whatever_their_requires_python_upper_bound(
    tmp_path: Path,
) -> None:
    """uv resolves (and installs) ignoring a ``Requires-Python`` upper bound (meltano/squared's
    target-yaml pins singer-sdk 0.3.18, ``<3.11``); fetch downloads and builds what is locked."""
    capped = local_project(tmp_path / "src" / "capped", "capped")
    pyproject = capped / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8")
    pyproject.write_text(
        text.replace('version = "0.1.0"\n', 'version = "0.1.0"\nrequires-python = ">=3,<3.1"\n'),
        encoding="utf-8",
    )
    extra = tmp_path / "extra"  # its wheel, as an index would serve it (uv ignores the bound)
    uv = find_uv()
    assert uv is not None, "uv is a dev dependency"
    subprocess.run(
        [uv, "build", "--no-config", "--wheel", "--no-index", "--find-links", str(TEST_WHEELS),
         "--python", sys.executable, "-o", str(extra), str(capped)],
        check=True, capture_output=True,
    )  # fmt: skip
    git(capped, "init", "-q", "-b", "main")
    sha = commit(capped, "capped", "capped from git")
    project_dir = tmp_path / "proj"
    project_dir.mkdir()
    links = json.dumps([str(WHEELS), str(TEST_WHEELS), str(extra)])
    requirements = json.dumps(["capped==0.1.0"])
    git_requirements = json.dumps([f"capped @ git+{capped.as_uri()}@main"])
    project_dir.joinpath("reconciler.toml").write_text(
        f'[settings]\nno-index = true\nfind-links = {links}\nresolver = "uv"\n\n'
        f"[plugins.from-index]\nrequirements = {requirements}\n\n"
        f"[plugins.from-git]\nrequirements = {git_requirements}\n",
        encoding="utf-8",
    )
    project = Project(project_dir)
    project.ok("lock")
    assert sha in project.lock("from-git").read_text(encoding="utf-8")
    wheelhouse = tmp_path / "wheelhouse"
    fetch(project, wheelhouse)
    assert (wheelhouse / "capped-0.1.0-py3-none-any.whl").is_file()
    assert [e["revision"] for e in manifest(wheelhouse)] == [sha]

    # pip-compile honours the bound: that lock fails, and its one line says why
    toml = project.toml.read_text(encoding="utf-8")
    project.toml.write_text(toml.replace('"uv"', '"pip-tools"'), encoding="utf-8")
    result = project.run("lock", "--upgrade", "from-git")
    assert result.code == 1, result.describe()
    assert re.search(
        r"error: .*git\+file:\S*/capped@[0-9a-f]{40} requires Python <3\.1,>=3 \(not the "
        r"plugin's interpreter\)",
        result.err,
    ), result.err


# --- matching a wheel to a source and an interpreter (no disk but a small tree) -------------------


def _entry(wheel: str, python: str = "3.11", platform: str = "linux-x86_64") -> BuiltWheel:
    return BuiltWheel(
        "tap-x", "vcs", "git+https://h/r", "c" * 40, wheel, "0" * 64, python, platform
    )


@pytest.mark.parametrize(
    ("wheel", "interpreter", "fits"),
    [
        pytest.param("built/a/tap_x-1-py3-none-any.whl", PY_312, True, id="pure-any-python"),
        pytest.param(
            "built/a/tap_x-1-cp311-cp311-linux_x86_64.whl", PY_312, False, id="cp311-on-312"
        ),
        pytest.param("built/a/tap_x-1-cp311-cp311-linux_x86_64.whl", PY, True, id="cp311-on-311"),
        pytest.param("built/a/not-a-wheel.whl", PY, False, id="bad-name"),
    ],
)
def test_a_wheel_with_compiled_parts_fits_only_its_python_and_platform(
    wheel: str, interpreter: Interpreter, fits: bool
) -> None:
    platform = "-".join(
        dict(interpreter.markers).get(k, "") for k in ("sys_platform", "platform_machine")
    )
    assert _entry(wheel, "3.11", platform).fits(interpreter) is fits


@pytest.mark.parametrize(
    ("url", "key"),
    [
        pytest.param(
            "git+https://h/o/r.git@" + "a" * 40, ("vcs", "git+https://h/o/r.git"), id="commit"
        ),
        pytest.param(
            "git+https://user:secret@h/o/r@" + "a" * 40,
            ("vcs", "git+https://h/o/r"),
            id="no-credentials",
        ),
        pytest.param(
            "git+https://h/o/r@" + "a" * 40 + "#subdirectory=tap",
            ("vcs", "git+https://h/o/r#subdirectory=tap"),
            id="subdirectory-kept",
        ),
    ],
)
def test_a_vcs_source_is_keyed_without_revision_or_credentials(
    url: str, key: tuple[str, str]
) -> None:
    package = LockedPackage("tap-x", "", f"tap-x @ {url}", kind="vcs", url=url, commit="a" * 40)
    assert source_key(package) == key
    assert source_key(evolve(package, commit=None)) is None  # not pinned: not built
    assert source_key(LockedPackage.local("tap-x", "./p", marker=None, editable=True)) is None


def test_the_content_digest_ignores_times_and_build_outputs(tmp_path: Path) -> None:
    tree = local_project(tmp_path / "p", "tap-p")
    before = content_digest(tree)
    os.utime(tree / "pyproject.toml", (1, 1))
    (tree / "build").mkdir()
    (tree / "build" / "junk.txt").write_text("x", encoding="utf-8")
    (tree / "tap_p.egg-info").mkdir()
    assert content_digest(tree) == before
    set_value(tree, "tap-p", "changed")
    assert content_digest(tree) != before
    assert content_digest(tmp_path / "absent") == "missing"


def test_uv_builds_a_git_commit_checked_out_as_pip_does(tmp_path: Path) -> None:
    """With uv as the builder, fetch checks the locked commit out itself: one held by no branch
    or tag (a pull request's head) is fetched by its id, a ``subdirectory`` is the project; a
    clone that fails returns git's own command and ``fatal:`` line for the error."""
    repo = tmp_path / "repo"
    local_project(repo / "tap", "tap-sub")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "first")
    sha = commit(repo / "tap", "tap-sub", "on a pull request only")
    git(repo, "update-ref", "refs/pull/1/head", sha)
    git(repo, "reset", "-q", "--hard", "HEAD~1")  # no branch holds the commit now
    url = f"git+{repo.as_uri()}@{sha}#subdirectory=tap"
    package = LockedPackage("tap-sub", "", f"tap-sub @ {url}", kind="vcs", url=url, commit=sha)

    tree, failed = _git_checkout(package, tmp_path / "checkout")
    assert failed is None, failed
    assert tree == tmp_path / "checkout" / "tap"
    assert git(tmp_path / "checkout", "rev-parse", "HEAD") == sha
    assert 'VALUE = "on a pull request only"' in (tree / "tap_sub" / "__init__.py").read_text()

    gone = evolve(package, url=url.replace("/repo@", "/gone@"))
    _, failed = _git_checkout(gone, tmp_path / "other")
    assert failed is not None
    command, result = failed
    assert command[3:5] == ["clone", "--quiet"], command
    assert result.returncode != 0
    assert "fatal:" in result.stderr, result.stderr
    # the cause of fetch's one error line: git's own words, naming the repository
    assert re.fullmatch(
        r"git: '\S+/gone' does not appear to be a git repository", explain(result.stderr)
    )


@pytest.mark.parametrize("manifest", [False, True], ids=["no-manifest", "manifest"])
def test_the_wheelhouse_machinery_loads_only_where_find_links_hold_a_manifest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, manifest: bool
) -> None:
    """A plan that installs a git commit with find-links holding no ``fetch`` manifest (the
    realistic bench project, most git plugins) is left as it is without loading
    ``fetch_wheels`` (tempfile, shutil, hashlib, the lockers); with a manifest in any
    find-links directory its wheels are looked up as before."""
    from reconciler.commands.project import with_wheelhouse  # noqa: PLC0415
    from reconciler.locking import fetch_wheels  # noqa: PLC0415
    from reconciler.models import Action, IndexOptions, Plan, Step, Strategy  # noqa: PLC0415

    house = tmp_path / "wh"
    house.mkdir()
    if manifest:
        (house / MANIFEST).write_text('{"format_version": 1, "wheels": []}\n', encoding="utf-8")
    package = LockedPackage(
        name="tap-git",
        version="",
        requirement=f"tap-git @ git+file:///r@{'a' * 40}",
        kind="vcs",
        url=f"git+file:///r@{'a' * 40}",
        commit="a" * 40,
    )
    step = Step(
        "tap-git",
        Action.CREATE,
        interpreter=PY,
        locked=(package,),
        index=IndexOptions(find_links=("https://example.invalid/links", "wh")),
        strategy=Strategy.NEW_GENERATION,
    )
    plan = Plan(steps=(step,), warnings=(), fingerprint="f", project_dir=tmp_path)
    calls: list[Plan] = []

    def use_wheelhouse(given: Plan) -> Plan:
        calls.append(given)
        return given

    monkeypatch.setattr(fetch_wheels, "use_wheelhouse", use_wheelhouse)
    assert with_wheelhouse(plan) is plan
    assert calls == ([plan] if manifest else [])
