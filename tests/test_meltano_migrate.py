"""Migrating real Meltano projects (issue 16): a real Meltano (build/meltano) beside reconciler.

Offline: Meltano's uv backend gets ``UV_OFFLINE``/``UV_NO_INDEX`` and the fixture wheels as its
only find-links; broken plugins are local projects whose in-tree build backend raises.
"""

from __future__ import annotations

import os
import re
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import pytest
from conftest import WHEELS, snapshot
from helpers import offline_meltano_project
from test_hosts import load_make_wheels
from test_meltano import MELTANO, MeltanoProject, meltano_env  # noqa: F401 - fixture

pytestmark = [
    pytest.mark.skipif(
        not MELTANO.is_file(), reason="no build/meltano/bin/meltano (run `make meltano`)"
    ),
    pytest.mark.usefixtures("meltano_env"),
]

#: The exception line a raising build backend prints last (what setuptools says for PyYAML 5.4.1).
BACKEND_ERROR = "AttributeError: 'build_ext' object has no attribute 'cython_sources'"


def broken_project(directory: Path, name: str = "tap-broken") -> Path:
    """A local project whose in-tree build backend prints a little, then raises."""
    directory.mkdir(parents=True)
    (directory / "pyproject.toml").write_text(
        textwrap.dedent(
            f"""
            [build-system]
            requires = []
            build-backend = "backend"
            backend-path = ["."]

            [project]
            name = "{name}"
            version = "1.0"
            """
        ),
        encoding="utf-8",
    )
    (directory / "backend.py").write_text(
        textwrap.dedent(
            f"""
            import sys

            def _fail(*args, **kwargs):
                print("running build_ext", file=sys.stderr)
                print("building 'yaml._yaml' extension", file=sys.stderr)
                raise AttributeError({BACKEND_ERROR.partition(": ")[2]!r})

            get_requires_for_build_wheel = build_wheel = prepare_metadata_for_build_wheel = _fail
            get_requires_for_build_sdist = build_sdist = _fail
            """
        ),
        encoding="utf-8",
    )
    return directory


def meltano_project(root: Path, yml: str) -> MeltanoProject:
    """A Meltano project at ``root`` using the fixture wheels offline (reconciler and Meltano)."""
    return MeltanoProject(offline_meltano_project(root, yml))


def meltano(project: MeltanoProject, *args: str) -> subprocess.CompletedProcess[str]:
    """The real Meltano, offline (its uv backend sees only the fixture wheels); any exit code."""
    env = {**os.environ, "UV_OFFLINE": "1", "UV_NO_INDEX": "1", "UV_FIND_LINKS": str(WHEELS)}
    return subprocess.run(
        [str(MELTANO), *args],
        cwd=project.root,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        env=env,
    )


HEAD = """
default_environment: dev
project_id: 5b7f2f1e-6a3c-4d6e-9a55-2b3c4d5e6f70
environments:
- name: dev
"""


def test_a_venv_left_by_a_failed_meltano_install_is_adopted(
    tmp_path: Path,
) -> None:
    yml = HEAD + textwrap.dedent(
        """
        plugins:
          extractors:
          - name: tap-singer
            namespace: tap_singer
            pip_url: ./broken
            executable: tap-singer
          loaders:
          - name: target-singer
            namespace: target_singer
            pip_url: target-singer==1.0.0
            executable: target-singer
        """
    )
    project = meltano_project(tmp_path / "p", yml)
    broken_project(project.root / "broken")
    failed = meltano(project, "install", "extractor", "tap-singer")
    assert failed.returncode != 0, failed.stdout + failed.stderr
    left = project.venv("tap-singer")
    assert (left / "pyvenv.cfg").is_file()  # what Meltano's uv backend leaves behind
    assert not (left / ".meltano_plugin_fingerprint").exists()
    assert not left.is_symlink()
    # a directory at a declared venv path that is no venv at all: refused, and the plan says so
    stranger = project.venv("target-singer")
    stranger.mkdir(parents=True)
    (stranger / "keep-me").write_text("mine", encoding="utf-8")

    # the user fixes the pip_url and migrates
    yml_path = project.root / "meltano.yml"
    yml_path.write_text(
        yml_path.read_text(encoding="utf-8").replace("./broken", "tap-singer==1.0.0"),
        encoding="utf-8",
    )
    project.ok("lock")
    change = project.change("tap-singer")
    assert change["action"] == "reinstall"
    assert change["reasons"] == ["left by a failed meltano install"]
    refused = project.change("target-singer")
    assert refused["action"] == "blocked", refused  # never a reinstall apply would refuse
    assert "not made by reconciler" in refused["reasons"][0], refused
    assert "move it away" in refused["reasons"][0], refused

    applied = project.run("apply")
    assert applied.code == 1, applied.describe()  # the stranger is refused, the rest is done
    assert "target-singer" in applied.err
    assert "not made by reconciler" in applied.err
    assert (stranger / "keep-me").read_text(encoding="utf-8") == "mine"
    assert left.is_symlink()
    assert left.resolve().parent == left.parent / ".generations"
    assert sorted(os.listdir(left.parent)) == [".generations", "venv"]  # the old dir is gone
    assert project.change("tap-singer")["action"] == "no-op"

    (stranger / "keep-me").unlink()
    stranger.rmdir()
    project.ok("apply")
    assert "No changes." in project.ok("plan").out
    out = meltano(project, "invoke", "tap-singer")
    assert out.returncode == 0, out.stderr
    assert '"type": "RECORD"' in out.stdout or '"type":"RECORD"' in out.stdout
    assert "Installing" not in out.stderr


def test_an_incomplete_meltano_venv_with_a_fingerprint_is_adopted_but_not_a_lookalike(
    tmp_path: Path,
) -> None:
    yml = HEAD + textwrap.dedent(
        """
        plugins:
          loaders:
          - name: target-singer
            namespace: target_singer
            pip_url: target-singer==1.0.0
            executable: target-singer
        """
    )
    project = meltano_project(tmp_path / "p", yml)
    project.ok("lock")
    venv = project.venv("target-singer")
    venv.mkdir(parents=True)
    (venv / ".meltano_plugin_fingerprint").write_text("0" * 64, encoding="utf-8")
    change = project.change("target-singer")
    assert change["reasons"] == ["left by an incomplete meltano install"]
    # a symlinked pyvenv.cfg is not "plainly a venv": refused
    (venv / ".meltano_plugin_fingerprint").unlink()
    (venv / "pyvenv.cfg").symlink_to(tmp_path)
    change = project.change("target-singer")
    assert change["action"] == "blocked", change
    assert any("move it away" in r for r in change["reasons"])
    assert project.run("apply").code == 1
    assert (venv / "pyvenv.cfg").is_symlink()
    (venv / "pyvenv.cfg").unlink()
    (venv / "pyvenv.cfg").write_text("home = /nowhere\n", encoding="utf-8")
    assert project.change("target-singer")["reasons"] == ["left by a failed meltano install"]
    project.ok("apply")
    assert venv.is_symlink()


def sdist_of(project_dir: Path, dest: Path) -> Path:
    """A ``.tar.gz`` sdist of ``project_dir`` whose version is dynamic (a resolver must build)."""
    import tarfile  # noqa: PLC0415

    name = "tap_broken-1.0"
    pyproject = project_dir / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8")
    pyproject.write_text(text.replace('version = "1.0"', 'dynamic = ["version"]'), "utf-8")
    archive = dest / f"{name}.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted(project_dir.iterdir()):
            tar.add(path, arcname=f"{name}/{path.name}")
    return archive


@pytest.mark.parametrize(("installer", "source"), [("uv", "dir"), ("pip", "dir"), ("uv", "sdist")])
def test_a_failed_build_names_the_backends_exception_and_keeps_the_whole_output(
    tmp_path: Path, installer: str, source: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from conftest import Project  # noqa: PLC0415

    # An exported terminal width (pytest-xdist's workers set one) must not change the error:
    # uv wraps its error chain, the backend's traceback included, at $COLUMNS.
    monkeypatch.setenv("COLUMNS", "80")
    root = tmp_path / "p"
    root.mkdir()
    if source == "dir":
        requirement = "./broken"
        broken_project(root / "broken")
    else:
        archive = sdist_of(broken_project(tmp_path / "src"), tmp_path)
        requirement = f"tap-broken @ {archive.as_uri()}"
    (root / "reconciler.toml").write_text(
        f'[settings]\nno-index = true\n[plugins.tap-broken]\nrequirements = ["{requirement}"]\n',
        encoding="utf-8",
    )
    project = Project(root)
    project.ok("lock")  # locking reads metadata (or hashes the archive): no build
    failed = project.run("apply", "--installer", installer)
    assert failed.code == 1, failed.describe()
    line = next(x for x in failed.err_lines if x.startswith("error:"))
    assert line.endswith(")"), line
    assert BACKEND_ERROR in line, line
    kept = Path(line.rpartition("(complete output: ")[2].removesuffix(")"))
    text = kept.read_text(encoding="utf-8")
    assert "Traceback (most recent call last):" in text
    assert "building 'yaml._yaml' extension" in text  # what the backend printed before raising
    assert text.startswith("$ ")  # the command that failed
    assert (kept.stat().st_mode & 0o077) == 0
    verbose = project.run("-v", "apply", "--installer", installer)
    assert verbose.code == 1
    assert "building 'yaml._yaml' extension" in verbose.out + verbose.err  # -v shows it all
    assert not os.path.lexists(project.venv("tap-broken"))


def test_verbose_streams_the_failing_install_while_it_runs(tmp_path: Path) -> None:
    """``-v``: pip's lines reach stderr as pip writes them (the build then runs 2 s more before
    it fails), not all at once after the failure; the backend's exception comes too."""
    import sys  # noqa: PLC0415
    import time  # noqa: PLC0415

    root = tmp_path / "p"
    backend = broken_project(root / "broken") / "backend.py"
    backend.write_text(
        backend.read_text(encoding="utf-8").replace(
            '    print("running build_ext", file=sys.stderr)\n',
            '    print("running build_ext", file=sys.stderr)\n    __import__("time").sleep(2)\n',
        ),
        encoding="utf-8",
    )
    (root / "reconciler.toml").write_text(
        '[settings]\nno-index = true\n[plugins.tap-broken]\nrequirements = ["./broken"]\n',
        encoding="utf-8",
    )
    command = [sys.executable, "-m", "reconciler", "--project", str(root)]
    assert subprocess.run([*command, "lock"], capture_output=True, check=False).returncode == 0
    child = subprocess.Popen(
        [*command, "-v", "apply", "--installer", "pip"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert child.stderr is not None
    seen = [(time.monotonic(), line.rstrip("\n")) for line in child.stderr]
    assert child.wait(timeout=120) == 1
    ended = time.monotonic()
    first = next(t for t, line in seen if line.startswith("  tap-broken: Processing "))
    assert ended - first >= 1.5, seen  # shown while the build was still running
    assert any(line.startswith("$ ") and " install " in line for _, line in seen)
    assert any(line.startswith("  tap-broken: ") and BACKEND_ERROR in line for _, line in seen)


def test_orphans_are_named_by_their_project_path_and_a_typo_gets_did_you_mean(
    tmp_path: Path,
) -> None:
    yml = HEAD + textwrap.dedent(
        """
        plugins:
          loaders:
          - name: target-singer
            namespace: target_singer
            pip_url: target-singer==1.0.0
          utilities:
          - name: awscli
            namespace: awscli
            pip_url: demo-common==1.0.0
        """
    )
    project = meltano_project(tmp_path / "p", yml)
    project.ok("lock")
    project.ok("apply")
    assert (project.root / "lock" / "utilities" / "awscli.txt").is_file()
    for command in (("plan", "target-singr"), ("run", "target-singr"), ("lock", "target-singr")):
        typo = project.run(*command)
        assert typo.code == 1, typo.describe()
        assert "did you mean 'target-singer'?" in typo.err, (command, typo.err)
    far = project.run("plan", "zzz")
    assert "did you mean" not in far.err
    yml_path = project.root / "meltano.yml"
    text = yml_path.read_text(encoding="utf-8")
    yml_path.write_text(text[: text.index("  utilities:")], encoding="utf-8")
    check = project.run("lock", "--check")
    assert check.code == 2, check.describe()
    assert "awscli: orphaned lock lock/utilities/awscli.txt" in check.out
    removed = project.ok("lock")
    assert "removed orphaned lock lock/utilities/awscli.txt" in removed.out + removed.err
    assert project.change("awscli")["action"] == "remove"
    project.ok("apply")
    assert not os.path.lexists(project.sys_dir / "utilities" / "awscli")  # no empty dir left
    assert (project.sys_dir / "loaders" / "target-singer" / "venv").is_symlink()


def test_plugins_sharing_a_name_across_types_lock_plan_apply_run_and_meltano_uses_both(
    tmp_path: Path,
) -> None:
    yml = HEAD + textwrap.dedent(
        """
        plugins:
          extractors:
          - name: csv
            namespace: tap_singer
            pip_url: tap-singer==1.0.0
            executable: tap-singer
          loaders:
          - name: csv
            namespace: target_singer
            pip_url: target-singer==1.0.0
            executable: target-singer
        """
    )
    project = meltano_project(tmp_path / "p", yml)
    project.ok("lock")  # each <type>/<name> has its own scratch files
    assert (project.root / "lock" / "extractors" / "csv.txt").is_file()
    assert (project.root / "lock" / "loaders" / "csv.txt").is_file()
    assert project.change("extractors/csv")["action"] == "create"
    project.ok("apply", "extractors/csv")  # a plugin, not a plan file, though it holds a '/'
    extractor = project.sys_dir / "extractors" / "csv" / "venv"
    loader = project.sys_dir / "loaders" / "csv" / "venv"
    assert extractor.is_symlink()
    assert not os.path.lexists(loader)
    plan_file = project.root / "saved-plan"
    project.ok("plan", "-o", str(plan_file))
    project.ok("apply", "saved-plan")  # an existing regular file: a plan file, without .json
    assert loader.is_symlink()
    rows = project.ok("status", "loaders/csv").out
    assert "loaders/csv" in rows
    assert "extractors/csv" not in rows
    both = project.ok("status", "csv").out  # the bare name stands for both
    assert "extractors/csv" in both
    assert "loaders/csv" in both
    assert '"type": "RECORD"' in project.ok("run", "extractors/csv").out
    # Meltano's type selection: positional (`meltano install loaders`) or --plugin-type
    for selection in (("loaders",), ("loader",), ("--plugin-type", "loader")):
        rows = project.ok("status", *selection).out
        assert "loaders/csv" in rows, selection
        assert "extractors/csv" not in rows, selection
        assert "loaders/csv: fresh" in project.ok("lock", "--check", *selection).out
        assert "extractors/csv" not in project.ok("lock", "--check", *selection).out
        plan = project.plan_json(*selection)
        assert [c["plugin"] for c in plan["changes"]] == ["loaders/csv"], selection
        project.ok("apply", *selection)
        fetched = project.ok("fetch", "--dest", str(tmp_path / "wh"), *selection)
        assert "Offline" in fetched.out + fetched.err
    assert sorted(os.listdir(tmp_path / "wh")) == ["target_singer-1.0.0-py3-none-any.whl"]
    assert "No changes." in project.ok("plan").out
    tapped = meltano(project, "invoke", "--plugin-type", "extractor", "csv")
    assert tapped.returncode == 0, tapped.stderr
    assert '"type": "RECORD"' in tapped.stdout  # the extractor's venv: tap-singer
    sunk = meltano(project, "invoke", "--plugin-type", "loader", "csv")
    assert sunk.returncode == 0, sunk.stderr
    assert "0 records" in sunk.stderr  # the loader's venv: target-singer
    assert "No changes." in project.ok("plan").out  # Meltano reinstalled nothing


#: Meltano's own reading of the ``files`` plugin ``dbt``: the bundle's files (from the venv's
#: ``site-packages/bundle``) and whether ``invoke``/``run`` (reason AUTO) would install it.
FILES_VIEW = """
from meltano.core.plugin import PluginType
from meltano.core.plugin_install_service import PluginInstallReason, PluginInstallService
from meltano.core.project import Project
project = Project.find()
bundle = project.plugins.find_plugin("dbt", plugin_type=PluginType.FILES)
print(sorted(str(path) for path in bundle.file_contents(project)))
print(PluginInstallService(project)._requires_install(bundle, PluginInstallReason.AUTO)[0])
"""


def test_dbt_transformer_and_dbt_files_bundle_each_get_their_venv_and_meltano_uses_both(
    tmp_path: Path,
) -> None:
    """``transformers: dbt`` + ``files: dbt``: two locks, two venvs; the real ``meltano invoke
    dbt`` runs the transformer's, Meltano reads the bundle's files from the other; nothing is
    reinstalled."""
    make_wheels: Any = load_make_wheels()
    more = tmp_path / "more"
    more.mkdir()
    bundle = make_wheels.Dist(
        name="files-dbt-demo",
        version="1.0.0",
        summary="A Meltano files bundle",
        extra_files=(
            ("bundle/__init__.py", ""),
            ("bundle/transform/dbt_project.yml", "name: demo\nversion: '1.0'\n"),
        ),
    )
    make_wheels.write_wheel(bundle, more)
    yml = HEAD + textwrap.dedent(
        """
        plugins:
          transformers:
          - name: dbt
            namespace: dbt_custom
            pip_url: tap-singer==1.0.0
            executable: tap-singer
            settings:
            - name: project_dir
            config:
              project_dir: $MELTANO_PROJECT_ROOT/transform
          files:
          - name: dbt
            namespace: files_dbt_demo
            pip_url: files-dbt-demo==1.0.0
        """
    )
    project = meltano_project(tmp_path / "p", yml)
    (project.root / "reconciler.toml").write_text(
        f'[settings]\nfind-links = ["wheels", "{more}"]\nno-index = true\n', encoding="utf-8"
    )
    (project.root / "transform").mkdir()
    project.ok("lock")
    assert "tap-singer==1.0.0" in (project.root / "lock/transformers/dbt.txt").read_text()
    assert "files-dbt-demo==1.0.0" in (project.root / "lock/files/dbt.txt").read_text()
    project.ok("apply")
    venvs = {kind: project.sys_dir / kind / "dbt" / "venv" for kind in ("transformers", "files")}
    assert all(venv.is_symlink() for venv in venvs.values())
    rows = project.ok("status").out
    assert "transformers/dbt" in rows
    assert "files/dbt" in rows
    before = {kind: snapshot(project.sys_dir / kind) for kind in venvs}

    invoked = meltano(project, "invoke", "dbt", "--about")
    assert invoked.returncode == 0, invoked.stderr
    assert '"name": "tap-singer"' in invoked.stdout  # the transformer's venv ran
    view = subprocess.run(
        [str(MELTANO.parent / "python"), "-c", FILES_VIEW],
        cwd=project.root, capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert view.returncode == 0, view.stderr
    assert view.stdout.splitlines()[-2:] == ["['transform/dbt_project.yml']", "False"]
    assert {kind: snapshot(project.sys_dir / kind) for kind in venvs} == before
    assert "No changes." in project.ok("plan").out


def test_a_hub_plugin_without_a_plugin_lock_file_gets_a_note_at_lock_and_plan(
    tmp_path: Path,
) -> None:
    yml = HEAD + textwrap.dedent(
        """
        plugins:
          loaders:
          - name: target-singer
            variant: meltanolabs
            pip_url: target-singer==1.0.0
          extractors:
          - name: tap-singer
            namespace: tap_singer
            pip_url: tap-singer==1.0.0
        """
    )
    project = meltano_project(tmp_path / "p", yml)
    for command in ("lock", "plan"):
        notes = [x for x in project.ok(command).err_lines if x.startswith("note:")]
        assert len(notes) == 1, (command, notes)
        assert "'target-singer' (loaders) comes from Meltano Hub" in notes[0]
        assert "run `meltano lock`" in notes[0]
    locks = project.root / "plugins" / "loaders"
    locks.mkdir(parents=True)
    (locks / "target-singer--meltanolabs.lock").write_text(
        '{"plugin_type": "loaders", "name": "target-singer"}', encoding="utf-8"
    )
    assert not [x for x in project.ok("plan").err_lines if x.startswith("note:")]
    assert "note:" not in project.ok("-q", "plan").err


def test_global_options_may_follow_the_command(tmp_path: Path) -> None:
    from conftest import run_cli  # noqa: PLC0415

    yml = HEAD + textwrap.dedent(
        """
        plugins:
          loaders:
          - name: target-singer
            pip_url: target-singer==1.0.0
        """
    )
    project = meltano_project(tmp_path / "p", yml)
    quiet = project.ok("lock", "-q")
    assert "note:" not in quiet.err  # -q after the command silenced the Hub note
    assert "note:" in project.ok("lock").err
    assert project.ok("apply", "-q", "loaders").err == ""
    verbose = project.ok("plan", "--no-color", "-v")
    assert "No changes." in verbose.out
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    moved = run_cli(elsewhere, "plan", "--project", str(project.root), "-q")
    assert moved.code == 0, moved.describe()
    # what follows `--` (and everything after `run PLUGIN`) is not the tool's
    unknown = project.run("plan", "--", "-q")
    assert unknown.code != 0


def test_add_refuses_an_interpreter_that_does_not_exist_and_writes_nothing(
    tmp_path: Path,
) -> None:
    from conftest import run_cli  # noqa: PLC0415

    root = tmp_path / "p"
    root.mkdir()
    refused = run_cli(root, "add", "tap-x", "demo-common==1.0.0", "--python", "3.99")
    assert refused.code == 1, refused.describe()
    assert refused.err_lines == [
        next(x for x in refused.err_lines if x.startswith("error: interpreter '3.99' not found"))
    ]
    assert os.listdir(root) == []
    (root / "reconciler.toml").write_text("[plugins]\n", encoding="utf-8")
    again = run_cli(root, "add", "tap-x", "demo-common==1.0.0", "--python", "3.99")
    assert again.code == 1
    assert (root / "reconciler.toml").read_text(encoding="utf-8") == "[plugins]\n"
    assert run_cli(root, "add", "tap-x", "demo-common==1.0.0").code == 0


def test_lock_shows_each_plugins_time_and_a_summary_when_one_fails(tmp_path: Path) -> None:
    from conftest import Project  # noqa: PLC0415

    root = tmp_path / "p"
    root.mkdir()
    fine = broken_project(root / "fine", "fine").as_uri()  # static metadata: locks, no build
    (root / "reconciler.toml").write_text(
        "[settings]\nno-index = true\n"
        '[plugins.gone]\nrequirements = ["gone @ file:///nonexistent/gone-1.0.tar.gz"]\n'
        f'[plugins.fine]\nrequirements = ["fine @ {fine}"]\n',
        encoding="utf-8",
    )
    result = Project(root).run("lock", "--jobs", "1")
    assert result.code == 1, result.describe()
    shown = result.out + result.err
    assert re.search(r"fine: written in \d+\.\ds", shown), shown
    assert re.search(r"gone: failed in \d+\.\ds", shown), shown
    assert re.search(r"1 written, 0 unchanged, 1 failed in \d+\.\ds", shown), shown
    assert next(x for x in result.err_lines if x.startswith("error:")).startswith(
        "error: plugin 'gone'"
    )
