"""Hostile input (issue 15): promises that hold when the project's author is the attacker.

reconciler runs as root in deploy pipelines on project files that come from pull requests. Each
case here is one thing such an author can write into the project (a symlink at any level of the
venv root, a lock line, a meltano.yml, a FIFO, ...) and the promise it must not break: nothing
outside the roots is deleted, built, read, quoted or replaced; no secret reaches a lock; no input
hangs or crashes a command. Victims are temporary directories outside the project and private
device nodes (``os.mknod`` in a temp dir, as root); nothing here touches a real system path.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import http.server
import json
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import MARKER, WHEELS, Project, Result, run_cli, snapshot
from helpers import offline_meltano_project
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_meltano import MELTANO, MELTANO_BIN, MELTANO_VIEW, meltano_env  # noqa: F401 - fixture

from reconciler import lockfile
from reconciler import requirements as requirement_forms
from reconciler.errors import ConfigError, ReconcilerError
from reconciler.sources import toml
from reconciler.sources.meltano.env import dotenv
from reconciler.sources.meltano.yaml import read_yaml
from reconciler.sources.pipargs import read_pip_args
from reconciler.support.redact import redact, strip_userinfo

MELTANO_YML = """\
default_environment: dev
project_id: 5b7f2f1e-6a3c-4d6e-9a55-2b3c4d5e6f70
environments:
- name: dev
plugins:
  extractors:
  - name: tap-singer
    namespace: tap_singer
    pip_url: tap-singer==1.0.0
    executable: tap-singer
  loaders:
  - name: target-singer
    namespace: target_singer
    pip_url: target-singer==1.0.0
    executable: target-singer
"""

INSTALLERS = [pytest.param("pip", id="pip"), pytest.param("uv", id="uv")]


def one_error(result: Result, *needles: str) -> str:
    """The single ``error:`` line of a failed run, holding every needle; no traceback."""
    assert result.code != 0, result.describe()
    assert "Traceback" not in result.err, result.describe()
    errors = [line for line in result.err_lines if line.startswith("error:")]
    assert len(errors) == 1, result.describe()
    for needle in needles:
        assert needle in errors[0], result.describe()
    return errors[0]


def make_victim(tmp_path: Path) -> Path:
    """A directory outside the project holding what a careless apply would delete."""
    victim = tmp_path / "victim"
    (victim / ".trash-gdata").mkdir(parents=True)
    (victim / ".trash-gdata" / "precious").write_text("keep me\n", encoding="utf-8")
    (victim / "g0000000000000005").mkdir()
    (victim / "run-1-deadbeef").mkdir()
    (victim / "run-1-deadbeef" / "precious").write_text("keep me\n", encoding="utf-8")
    (victim / "file").write_text("keep me\n", encoding="utf-8")
    return victim


@pytest.fixture
def meltano_project(tmp_path: Path) -> Project:
    """A locked Meltano project of fixture plugins (no venv yet)."""
    project = Project(offline_meltano_project(tmp_path / "mproject", MELTANO_YML))
    project.ok("lock")
    return project


# --- 1. roots are walls ------------------------------------------------------------------------

#: Where in a ``.venvs`` root the author puts a symlink to the victim directory.
VENVS_LINKS = [
    pytest.param(".venvs/.generations/tap-alpha", id="plugin-generations"),
    pytest.param(".venvs/.generations", id="generations"),
    pytest.param(".venvs/.reconciler/tmp", id="scratch"),
    pytest.param(".venvs/.reconciler", id="scratch-parent"),
]


@pytest.mark.parametrize("installer", INSTALLERS)
@pytest.mark.parametrize("link", VENVS_LINKS)
def test_a_symlink_at_any_level_of_the_venv_root_is_a_wall(
    project: Project, tmp_path: Path, link: str, installer: str
) -> None:
    victim = make_victim(tmp_path)
    before = snapshot(victim)
    where = project.root / link
    where.parent.mkdir(parents=True, exist_ok=True)
    where.symlink_to(victim, target_is_directory=True)
    # plan refuses as apply will (never a plan apply refuses), with the same one line
    one_error(project.run("plan", "--detailed-exitcode"), str(where), f"symlink to {victim}")
    result = project.run("apply", "--installer", installer)
    one_error(result, str(where), f"symlink to {victim}")
    assert snapshot(victim) == before
    assert not any((project.root / ".venvs" / p).exists() for p in ("tap-alpha", "tap-beta"))


@pytest.mark.parametrize("kind", ["file", "fifo"])
@pytest.mark.parametrize("layout", ["toml", "meltano"])
def test_a_file_where_generations_are_built_fails_plan_as_it_fails_apply(
    request: pytest.FixtureRequest, layout: str, kind: str
) -> None:
    """A file (or FIFO) at a plugin's generations directory: plan does not promise a create
    that apply cannot do; both say so in the same one line, and nothing is built."""
    if layout == "toml":
        project: Project = request.getfixturevalue("project")
        where = project.venv_root / ".generations" / "tap-alpha"
    else:
        project = request.getfixturevalue("meltano_project")
        where = project.root / ".meltano" / "extractors" / "tap-singer" / ".generations"
    where.parent.mkdir(parents=True)
    if kind == "file":
        where.write_text("not a directory\n", encoding="utf-8")
    else:
        os.mkfifo(where)
    for command in ("plan", "apply"):
        shown = {"file": "a file", "fifo": "a FIFO"}[kind]
        one_error(project.run(command), f"refusing to build or delete in {where}: it is {shown}")
    assert sorted(os.listdir(where.parent)) == [where.name]


@pytest.mark.parametrize("layout", ["toml", "meltano"])
def test_the_apply_lock_file_as_a_symlink_is_refused_and_its_target_kept(
    request: pytest.FixtureRequest, tmp_path: Path, layout: str
) -> None:
    victim = make_victim(tmp_path) / "file"
    before = victim.read_bytes()
    if layout == "toml":
        project: Project = request.getfixturevalue("project")
        root = project.root / ".venvs"
    else:
        project = request.getfixturevalue("meltano_project")
        root = project.root / ".meltano"
    root.mkdir()
    (root / ".reconciler.lock").symlink_to(victim)
    one_error(project.run("plan"), ".reconciler.lock", "a symlink")
    result = project.run("apply")
    one_error(result, ".reconciler.lock")
    assert victim.read_bytes() == before


#: The same in a Meltano project's system directory.
MELTANO_LINKS = [
    pytest.param(".meltano/extractors/tap-singer/.generations", id="meltano-generations"),
    pytest.param(".meltano/extractors/tap-singer", id="meltano-plugin-dir"),
    pytest.param(".meltano/extractors", id="meltano-type-dir"),
    pytest.param(".meltano/.reconciler/tmp", id="meltano-scratch"),
    pytest.param(".meltano/.reconciler", id="meltano-scratch-parent"),
]


@pytest.mark.parametrize("installer", INSTALLERS)
@pytest.mark.parametrize("link", MELTANO_LINKS)
def test_a_symlink_in_meltanos_plugin_dirs_is_a_wall(
    meltano_project: Project, tmp_path: Path, link: str, installer: str
) -> None:
    victim = make_victim(tmp_path)
    before = snapshot(victim)
    where = meltano_project.root / link
    where.parent.mkdir(parents=True, exist_ok=True)
    where.symlink_to(victim, target_is_directory=True)
    one_error(meltano_project.run("plan"), f"symlink to {victim}")
    result = meltano_project.run("apply", "--installer", installer)
    one_error(result, f"symlink to {victim}")
    assert snapshot(victim) == before


def test_an_empty_directory_named_as_a_generation_is_not_deleted(applied: Project) -> None:
    stray = applied.venv_root / ".generations" / "tap-alpha" / "g00000000000000ff"
    stray.mkdir()
    trash = applied.venv_root / ".generations" / "tap-alpha" / ".trash-g00000000000000fe"
    (trash / "sub").mkdir(parents=True)
    applied.set_requirements("tap-alpha", ["tap-alpha==1.0.0", "demo-common"])
    applied.ok("lock")
    applied.ok("apply")
    assert stray.is_dir()
    assert (trash / "sub").is_dir()  # no marker: not reconciler's to delete


def test_an_empty_directory_named_as_a_meltano_generation_is_not_deleted(
    meltano_project: Project,
) -> None:
    """The same rule in Meltano's per-plugin directories, for a plugin removed from
    meltano.yml too: only directories carrying the marker are deleted."""
    meltano_project.ok("apply")
    plugin_dir = meltano_project.root / ".meltano" / "extractors" / "tap-singer"
    stray = plugin_dir / ".generations" / "g00000000000000ff"
    stray.mkdir()
    trash = plugin_dir / ".generations" / ".trash-g00000000000000fe"
    (trash / "sub").mkdir(parents=True)
    yml = meltano_project.root / "meltano.yml"
    text = yml.read_text(encoding="utf-8")
    extractors = text[text.index("  extractors:") : text.index("  loaders:")]
    yml.write_text(text.replace(extractors, ""), encoding="utf-8")  # tap-singer is gone
    applied = meltano_project.ok("apply")
    assert "1 removed" in applied.out, applied.describe()
    assert not (plugin_dir / "venv").exists()
    assert stray.is_dir()
    assert (trash / "sub").is_dir()  # no marker: not reconciler's to delete


@pytest.mark.parametrize("layout", ["toml", "meltano"])
def test_a_flip_link_left_pointing_out_of_the_root_is_unlinked_not_followed(
    request: pytest.FixtureRequest, tmp_path: Path, layout: str
) -> None:
    """A ``.<name>.flip-*`` link (what a kill mid-flip leaves) aimed at a victim: the next
    apply removes the link itself; nothing behind it is touched."""
    victim = make_victim(tmp_path)
    before = snapshot(victim)
    if layout == "toml":
        project: Project = request.getfixturevalue("project")
        link = project.venv_root / ".tap-alpha.flip-0badc0de"
    else:
        project = request.getfixturevalue("meltano_project")
        link = project.root / ".meltano" / "extractors" / "tap-singer" / ".venv.flip-0badc0de"
    link.parent.mkdir(parents=True)
    link.symlink_to(victim, target_is_directory=True)
    project.ok("apply")
    assert not os.path.lexists(link)
    assert snapshot(victim) == before


def _foreign_venv_with_links_out(venv_dir: Path, victim: Path) -> None:
    """A venv another tool (``meltano install``) built at ``venv_dir``, whose author added
    links out of the root: to a directory, to a file, and ``lib`` itself linked to a directory
    (what a careless recursive delete would follow)."""
    import venv as venv_module  # noqa: PLC0415 - only this builder makes a stdlib venv

    venv_module.create(venv_dir, with_pip=False, symlinks=True)
    (venv_dir / ".meltano_plugin_fingerprint").write_text("0" * 64, encoding="utf-8")
    lib = venv_dir / "lib"
    lib.rename(venv_dir / "lib.real")
    lib.symlink_to(victim, target_is_directory=True)
    (venv_dir / "escape-dir").symlink_to(victim / "run-1-deadbeef", target_is_directory=True)
    (venv_dir / "escape-file").symlink_to(victim / "file")
    (venv_dir / "bin" / "escape").symlink_to(victim / ".trash-gdata", target_is_directory=True)


@pytest.mark.parametrize("exchange", [True, False], ids=["renameat2", "rename-then-flip"])
@pytest.mark.parametrize("installer", INSTALLERS)
def test_an_adopted_foreign_venv_is_removed_without_following_a_link_inside(
    meltano_project: Project,
    tmp_path: Path,
    installer: str,
    exchange: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Point 1, last clause: the venv another tool built is deleted once the new generation is
    live, and its links out of the root are unlinked, never followed (with an atomic exchange,
    and where the system has none: moved into the generations, then deleted)."""
    if not exchange:
        from reconciler.apply import generations  # noqa: PLC0415 - the fault to inject

        def unsupported(source: Path, target: Path) -> None:
            raise OSError(errno.EINVAL, "no renameat2 here")

        monkeypatch.setattr(generations, "_rename_exchange", unsupported)
    victim = make_victim(tmp_path)
    before = snapshot(victim)
    stable = meltano_project.root / ".meltano" / "extractors" / "tap-singer" / "venv"
    _foreign_venv_with_links_out(stable, victim)
    entry = meltano_project.change("tap-singer")
    assert (entry["action"], entry["reasons"]) == ("reinstall", ["built by meltano install"])
    meltano_project.ok("apply", "--installer", installer)
    assert stable.is_symlink(), "the adopted venv was not replaced"
    assert sorted(os.listdir(stable.parent)) == [".generations", "venv"]  # the old one is gone
    assert snapshot(victim) == before


def test_an_adopted_venv_left_by_a_kill_is_removed_without_following_a_link_inside(
    meltano_project: Project, tmp_path: Path
) -> None:
    """The same directory left beside the link by a kill between the flip and its deletion
    (``.venv.flip-*``): the next apply deletes it, links unlinked, victims intact."""
    victim = make_victim(tmp_path)
    before = snapshot(victim)
    meltano_project.ok("apply")
    left = meltano_project.root / ".meltano" / "extractors" / "tap-singer" / ".venv.flip-0badc0de"
    _foreign_venv_with_links_out(left, victim)
    applied = meltano_project.ok("apply")
    assert not os.path.lexists(left), applied.describe()
    assert snapshot(victim) == before


# --- 2. locks cannot smuggle sources -----------------------------------------------------------

SMUGGLED = [
    pytest.param("-e {evil}  # reconciler: name=evil", "is an absolute path", id="editable-abs"),
    pytest.param("{evil}  # reconciler: name=evil", "is an absolute path", id="path-abs"),
    pytest.param("file://{evil}  # reconciler: name=evil", "is an absolute path", id="file-url"),
    pytest.param("-e ../evil  # reconciler: name=evil", "points outside the project", id="dotdot"),
    pytest.param(
        "./plugins/link  # reconciler: name=evil", "points outside the project", id="symlink"
    ),
    pytest.param(
        "-e ./plugins/mine  # reconciler: name=evil", "is not a path requirement", id="undeclared"
    ),
]


@pytest.mark.parametrize(("line", "reason"), SMUGGLED)
def test_a_hand_added_path_line_makes_the_lock_stale(
    project: Project, tmp_path: Path, line: str, reason: str
) -> None:
    evil = tmp_path / "evil"
    evil.mkdir()
    (evil / "setup.py").write_text("raise SystemExit('evil build backend ran')\n", "utf-8")
    (project.root / "plugins" / "mine").mkdir(parents=True)
    (project.root / "plugins" / "link").symlink_to(evil, target_is_directory=True)
    written = line.format(evil=evil)
    with project.lock("tap-alpha").open("a", encoding="utf-8") as handle:
        handle.write(written + "\n")
    shown = written.split("  #")[0]
    check = project.run("lock", "--check")
    assert check.code == 2, check.describe()
    assert f"lock line {shown!r} {reason}" in check.out, check.describe()
    for command in ("plan", "apply"):
        one_error(project.run(command), "tap-alpha", f"lock line {shown!r} {reason}")
    assert not project.venv_root.exists()


#: The same in a PEP 751 lock, whose paths are relative to the lock file (``lock/``).
PYLOCK_SMUGGLED = [
    pytest.param("{evil}", True, "points outside the project", id="editable-abs"),
    pytest.param("{evil}", False, "points outside the project", id="path-abs"),
    pytest.param("../../evil", True, "points outside the project", id="dotdot"),
    pytest.param("../plugins/link", False, "points outside the project", id="symlink"),
    pytest.param("../plugins/mine", True, "is not a path requirement", id="undeclared"),
]


@pytest.mark.parametrize(("path", "editable", "reason"), PYLOCK_SMUGGLED)
def test_a_hand_added_directory_in_a_pylock_makes_it_stale(
    project: Project, tmp_path: Path, path: str, editable: bool, reason: str
) -> None:
    """The PEP 751 form of the same smuggling: a ``[[packages]]`` entry with a ``directory``
    no requirement declares, absolute or leading out of the project."""
    evil = tmp_path / "evil"
    evil.mkdir()
    (evil / "setup.py").write_text("raise SystemExit('evil build backend ran')\n", "utf-8")
    (project.root / "plugins" / "mine").mkdir(parents=True)
    (project.root / "plugins" / "link").symlink_to(evil, target_is_directory=True)
    with project.edit() as doc:
        doc["settings"]["lock-format"] = "pylock"
    project.ok("lock")
    pylock = project.root / "lock" / "pylock.tap-alpha.toml"
    assert pylock.is_file()
    directory = path.format(evil=evil)
    with pylock.open("a", encoding="utf-8") as handle:
        handle.write(
            f'\n[[packages]]\nname = "evil"\n'
            f'directory = {{ path = "{directory}", editable = {str(editable).lower()} }}\n'
        )
    check = project.run("lock", "--check")
    assert check.code == 2, check.describe()
    assert "tap-alpha: stale (lock line " in check.out, check.describe()
    assert reason in check.out, check.describe()
    for command in ("plan", "apply"):
        result = project.run(command)
        one_error(result, "tap-alpha", reason)
        assert "evil build backend ran" not in result.out + result.err
    assert not project.venv_root.exists()


@pytest.mark.parametrize(
    ("resolver", "lock_format"),
    [("uv", "requirements"), ("pip-tools", "requirements"), ("uv", "pylock")],
)
def test_credentials_of_a_direct_url_never_reach_the_lock(
    unlocked_project: Project, resolver: str, lock_format: str
) -> None:
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(WHEELS))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        port = server.server_address[1]
        url = f"http://bob:S3CRET@127.0.0.1:{port}/demo_stray-1.0.0-py3-none-any.whl"
        with unlocked_project.edit() as doc:
            doc["settings"]["resolver"] = resolver
            doc["settings"]["lock-format"] = lock_format
            for name in list(doc["plugins"]):
                if name != "tap-alpha":
                    del doc["plugins"][name]
            doc["plugins"]["tap-alpha"]["requirements"] = [
                "tap-alpha==1.0.0",
                f"demo-stray @ {url}",
            ]
        result = unlocked_project.ok("lock")
        if lock_format == "pylock":
            text = (unlocked_project.root / "lock" / "pylock.tap-alpha.toml").read_text("utf-8")
            assert '"http://127.0.0.1:' in text, text
        else:
            text = unlocked_project.lock("tap-alpha").read_text("utf-8")
            assert "demo-stray @ http://127.0.0.1:" in text, text
        assert "S3CRET" not in text, text
        assert "bob" not in text, text
        assert "S3CRET" not in result.out + result.err
    finally:
        server.shutdown()


def test_an_index_password_holding_a_slash_is_one_line_quoting_none_of_it(
    unlocked_project: Project,
) -> None:
    with unlocked_project.edit() as doc:
        doc["settings"]["index-url"] = "https://bob:S3/CR:ET@127.0.0.1:9/simple"
        doc["settings"]["no-index"] = False
    for command in ("lock", "plan"):
        result = unlocked_project.run(command)
        assert "Traceback" not in result.err, result.describe()
        assert "S3" not in result.out + result.err
        assert "CR:ET" not in result.out + result.err
        assert result.code != 0


# --- 3. files outside the project are not read or quoted ----------------------------------------

SECRET = "root:$6$S3CRETHASH:19000:0:99999:7:::"  # noqa: S105 - a fake victim line


def make_secret(tmp_path: Path) -> Path:
    """A victim file outside the project whose first line must never be printed."""
    secret = tmp_path / "outside" / "shadow"
    secret.parent.mkdir(parents=True, exist_ok=True)
    secret.write_text(SECRET + "\n", encoding="utf-8")
    return secret


def no_secret(result: Result) -> None:
    assert "S3CRETHASH" not in result.out + result.err, result.describe()
    assert "Traceback" not in result.err, result.describe()


@pytest.mark.parametrize("option", ["-r", "-c"])
def test_a_pip_url_naming_a_file_outside_the_project_is_refused_unread(
    meltano_project: Project, tmp_path: Path, option: str
) -> None:
    secret = make_secret(tmp_path)
    text = (meltano_project.root / "meltano.yml").read_text("utf-8")
    text = text.replace(
        "pip_url: tap-singer==1.0.0", f"pip_url: tap-singer==1.0.0 {option} {secret}"
    )
    (meltano_project.root / "meltano.yml").write_text(text, "utf-8")
    for command in ("lock", "plan"):
        result = meltano_project.run(command)
        no_secret(result)
        one_error(result, "outside the project")


@pytest.mark.parametrize("spelling", ["absolute", "dotdot"])
def test_a_toml_constraints_file_outside_the_project_is_refused_unread(
    project: Project, tmp_path: Path, spelling: str
) -> None:
    secret = make_secret(tmp_path)
    written = str(secret) if spelling == "absolute" else "../outside/shadow"
    with project.edit() as doc:
        doc["plugins"]["tap-alpha"]["constraints"] = [written]
    for command in ("lock", "plan"):
        result = project.run(command)
        no_secret(result)
        one_error(result, "constraints", "outside the project")


def test_a_requirements_file_linked_out_of_the_project_is_refused_unread(
    meltano_project: Project, tmp_path: Path
) -> None:
    secret = make_secret(tmp_path)
    (meltano_project.root / "reqs.txt").symlink_to(secret)
    text = (meltano_project.root / "meltano.yml").read_text("utf-8")
    text = text.replace("pip_url: tap-singer==1.0.0", "pip_url: -r reqs.txt")
    (meltano_project.root / "meltano.yml").write_text(text, "utf-8")
    result = meltano_project.run("plan")
    no_secret(result)
    one_error(result, "outside the project")


@pytest.mark.parametrize("spelling", ["dotdot", "symlink", "absolute"])
def test_an_include_path_outside_the_project_is_refused_unread(
    meltano_project: Project, tmp_path: Path, spelling: str
) -> None:
    """``include_paths`` globs resolve inside the project: a pattern leading out of it, a
    matched file linked out of it, or an absolute pattern is one line quoting nothing."""
    secret = make_secret(tmp_path)
    outside_yml = secret.parent / "extra.yml"
    outside_yml.write_text(f"plugins:\n  extractors:\n  - name: '{SECRET}'\n", "utf-8")
    if spelling == "dotdot":
        pattern = os.path.relpath(outside_yml, meltano_project.root)
    elif spelling == "symlink":
        (meltano_project.root / "extra.yml").symlink_to(outside_yml)
        pattern = "*.yml"
    else:
        pattern = str(outside_yml)
    path = meltano_project.root / "meltano.yml"
    path.write_text(path.read_text("utf-8") + f"include_paths: ['{pattern}']\n", "utf-8")
    result = meltano_project.run("plan")
    no_secret(result)
    one_error(result, "include_paths")


def fifo_or_device(kind: str, where: Path) -> None:
    """Put a FIFO, a private copy of /dev/zero (as root), a directory or a link out at ``where``."""
    if kind == "fifo":
        os.mkfifo(where)
    elif kind == "device":
        if os.geteuid() != 0:
            pytest.skip("making a device node needs root")
        os.mknod(where, 0o600 | stat.S_IFCHR, os.makedev(1, 5))  # a private /dev/zero
    elif kind == "directory":
        where.mkdir()
    else:
        raise AssertionError(kind)


def plant(kind: str, where: Path, tmp_path: Path) -> Path:
    """A link out of the project to a victim file (``symlink-out``), or what
    :func:`fifo_or_device` puts, at ``where``; the victim file (it must keep its text)."""
    victim = make_victim(tmp_path) / "file"
    if kind == "symlink-out":
        where.symlink_to(victim)
    else:
        fifo_or_device(kind, where)
    return victim


NOT_FILES = ["fifo", "device", "directory"]


@pytest.mark.parametrize("kind", NOT_FILES)
def test_a_lock_that_is_not_a_regular_file_is_one_line_never_opened_blocking(
    project: Project, kind: str
) -> None:
    lock = project.lock("tap-alpha")
    lock.unlink()
    fifo_or_device(kind, lock)
    for command in ("plan", "lock --check", "apply", "status"):
        started = time.monotonic()
        result = run_cli(project.root, *command.split(), timeout=30)
        assert time.monotonic() - started < 20
        assert "Traceback" not in result.err, result.describe()
        said = f"{lock}: {'a FIFO' if kind == 'fifo' else 'a ' + kind}, not a regular file"
        if command == "status":  # a report: the lock column says why, one row per plugin
            assert said in result.out, result.describe()
        else:
            assert result.code != 0, result.describe()
            assert said in result.err, (command, result.describe())


def test_a_lock_linked_to_a_file_outside_is_refused_unquoted(
    project: Project, tmp_path: Path
) -> None:
    secret = make_secret(tmp_path)
    lock = project.lock("tap-alpha")
    lock.unlink()
    lock.symlink_to(secret)
    for command in ("plan", "lock --check"):
        result = project.run(*command.split())
        no_secret(result)
        assert f"symlink to {secret}" in result.err, result.describe()


@pytest.mark.parametrize("kind", NOT_FILES)
@pytest.mark.parametrize("name", ["reconciler.toml", "meltano.yml", ".env"])
def test_a_project_file_that_is_not_a_regular_file_is_one_line(
    meltano_project: Project, kind: str, name: str
) -> None:
    target = meltano_project.root / name
    target.unlink(missing_ok=True)
    fifo_or_device(kind, target)
    result = run_cli(meltano_project.root, "plan", timeout=30)
    assert result.code != 0, result.describe()
    assert "Traceback" not in result.err, result.describe()
    assert name in result.err, result.describe()


@pytest.mark.parametrize("kind", ["symlink-out", "fifo"])
@pytest.mark.parametrize("command", ["add", "remove"])
def test_add_and_remove_never_write_through_a_project_file_that_is_not_a_regular_file(
    project: Project, tmp_path: Path, kind: str, command: str
) -> None:
    """``add``/``remove`` edit reconciler.toml in place of the user: a link to a file outside
    the project (or a FIFO) there is refused in one line, never written through or replaced."""
    outside = tmp_path / "outside" / "reconciler.toml"
    outside.parent.mkdir()
    outside.write_bytes(project.toml.read_bytes())
    before = outside.read_bytes()
    project.toml.unlink()
    if kind == "symlink-out":
        project.toml.symlink_to(outside)
    else:
        os.mkfifo(project.toml)
    stat_before = os.lstat(project.toml)
    args = ["add", "tap-new", "demo-common==1.0.0"] if command == "add" else ["remove", "tap-beta"]
    result = run_cli(project.root, *args, timeout=30, subprocess=True)
    one_error(result, "reconciler.toml")
    assert outside.read_bytes() == before
    stat_after = os.lstat(project.toml)
    assert (stat_after.st_ino, stat_after.st_mode) == (stat_before.st_ino, stat_before.st_mode)


# --- 5. writes never replace what is not a regular file -----------------------------------------


@pytest.mark.parametrize("kind", NOT_FILES)
def test_plan_out_never_replaces_a_device_fifo_or_directory(
    project: Project, tmp_path: Path, kind: str
) -> None:
    target = tmp_path / "target"
    fifo_or_device(kind, target)
    before = os.lstat(target)
    result = run_cli(project.root, "plan", "-o", str(target), timeout=30)
    assert result.code != 0, result.describe()
    assert "Traceback" not in result.err
    after = os.lstat(target)
    assert (after.st_ino, after.st_mode, after.st_rdev) == (
        before.st_ino,
        before.st_mode,
        before.st_rdev,
    )


def test_plan_out_never_replaces_a_file_outside_through_a_symlink(
    project: Project, tmp_path: Path
) -> None:
    victim = make_victim(tmp_path) / "file"
    link = tmp_path / "out" / "plan.json"
    link.parent.mkdir()
    link.symlink_to(victim)
    result = project.run("plan", "-o", str(link))
    one_error(result, str(link), "symlink")
    assert victim.read_text("utf-8") == "keep me\n"


def test_a_state_marker_linked_out_is_never_written_through(
    applied: Project, tmp_path: Path
) -> None:
    """A live venv's state marker replaced by a link to a file outside: the venv is no longer
    provably reconciler's; apply builds a new generation and writes nothing through the link
    (nor deletes the generation holding it)."""
    victim = make_victim(tmp_path) / "file"
    live = applied.venv("tap-alpha").resolve()
    (live / MARKER).unlink()
    (live / MARKER).symlink_to(victim)
    entry = applied.change("tap-alpha")
    assert entry["action"] == "reinstall", entry
    applied.set_requirements("tap-alpha", ["tap-alpha==1.0.0", "demo-common"])
    applied.ok("lock")
    applied.ok("apply")
    assert victim.read_text("utf-8") == "keep me\n"
    assert (live / MARKER).is_symlink()  # left alone: not provably ours
    assert applied.venv("tap-alpha").resolve() != live
    assert applied.change("tap-alpha")["action"] == "no-op"


@pytest.mark.parametrize("kind", ["symlink-out", "fifo", "directory"])
def test_meltanos_fingerprint_file_not_a_file_is_never_written_through(
    meltano_project: Project, tmp_path: Path, kind: str
) -> None:
    """The layout's extra file (Meltano's fingerprint) in the live venv replaced by a link to a
    file outside (or a FIFO, a directory): plan says reinstall, not an upgrade apply would
    refuse; apply builds a new generation and writes nothing through the link."""
    victim = make_victim(tmp_path) / "file"
    meltano_project.ok("apply")
    stable = meltano_project.root / ".meltano" / "extractors" / "tap-singer" / "venv"
    fingerprint = stable.resolve() / ".meltano_plugin_fingerprint"
    fingerprint.unlink()
    if kind == "symlink-out":
        fingerprint.symlink_to(victim)
    else:
        fifo_or_device(kind, fingerprint)
    entry = meltano_project.change("tap-singer")
    assert entry["action"] == "reinstall", entry
    assert any(".meltano_plugin_fingerprint is a" in r for r in entry["reasons"]), entry
    meltano_project.ok("apply")
    assert victim.read_text("utf-8") == "keep me\n"
    rebuilt = stable.resolve() / ".meltano_plugin_fingerprint"
    assert rebuilt != fingerprint
    assert stat.S_ISREG(os.lstat(rebuilt).st_mode)
    assert meltano_project.change("tap-singer")["action"] == "no-op"


@pytest.mark.parametrize("kind", [*NOT_FILES, "symlink-out"])
@pytest.mark.parametrize("command", ["export", "sbom"])
def test_export_and_sbom_never_replace_what_is_not_a_regular_file(
    project: Project, tmp_path: Path, command: str, kind: str
) -> None:
    """Point 5 for the other commands that write where the user says (``export -o FILE``,
    ``sbom -o DIR``): a FIFO, device, directory or link out there is refused in one line and
    stays as it was (a subprocess: a FIFO opened blocking would hang the run)."""
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    target = out_dir / ("tap-alpha.cdx.json" if command == "sbom" else "pylock.tap-alpha.toml")
    victim = plant(kind, target, tmp_path)
    before = os.lstat(target)
    if command == "sbom":
        args = ["sbom", "tap-alpha", "-o", str(out_dir)]
    else:
        args = ["export", "tap-alpha", "--format", "pylock", "-o", str(target)]
    result = run_cli(project.root, *args, timeout=60, subprocess=True)
    if command == "export" and kind == "directory":  # click's own check of `-o FILE`
        assert result.code != 0, result.describe()
        assert f"'{target}' is a directory" in result.err, result.describe()
    else:
        one_error(result, str(target))
    after = os.lstat(target)
    assert (after.st_ino, after.st_mode) == (before.st_ino, before.st_mode)
    assert victim.read_text("utf-8") == "keep me\n"


@pytest.mark.parametrize("lock_format", ["requirements", "pylock"])
@pytest.mark.parametrize("kind", ["fifo", "device", "symlink-out"])
def test_a_lock_write_never_replaces_a_fifo_or_device(
    unlocked_project: Project, tmp_path: Path, kind: str, lock_format: str
) -> None:
    name = "pylock.tap-alpha.toml" if lock_format == "pylock" else "tap-alpha.txt"
    lock = unlocked_project.root / "lock" / name
    lock.parent.mkdir()
    with unlocked_project.edit() as doc:
        doc["settings"]["lock-format"] = lock_format
    victim = plant(kind, lock, tmp_path)
    before = os.lstat(lock)
    result = run_cli(unlocked_project.root, "lock", "tap-alpha", timeout=120, subprocess=True)
    assert result.code != 0, result.describe()
    assert str(lock) in result.err, result.describe()
    assert os.lstat(lock).st_ino == before.st_ino
    assert victim.read_text("utf-8") == "keep me\n"


# --- 6. linear time, bounded memory, signals honoured -------------------------------------------

LOCK_HEADER = "# reconciler-inputs: sha256:" + "0" * 64 + "\n"
#: A garbage line of every shape that made a parser backtrack (32k characters each).
GARBAGE = {
    "letters": "a" * 32_000,
    "urls": "x @ a://" * 4_000,
    "userinfo": "@:/" * 11_000,
    "hash-options": "--hash=" * 4_500,
    "equals": "=" * 32_000,
    "continuations": "a \\\n" * 8_000,
    "spaces": "a" + " " * 32_000 + "b",
    "comment-marks": "x==1 #" + " #" * 16_000,
    "meta": "x==1 # reconciler: " + "a=b " * 8_000,
    "version": "a==" + "1." * 16_000,
    "parens": "a==1 ; " + "(" * 32_000,
    "markers": "a==1 ; " + 'python_version>"3" and ' * 1_400 + "x",
    "filler": "# x\n" * 8_000,
}


#: The bound on any one parse here: generous for a loaded 2-core CI machine (parsing these
#: inputs takes milliseconds; a quadratic parser takes minutes on them).
BOUND = 5.0


def timed(bound: float, call: Callable[[], object]) -> float:
    """The best of three timings of ``call``: under ``bound`` seconds (a busy machine may slow
    one run; each must still end within ``BOUND``, so a hang fails rather than waits)."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        with contextlib.suppress(ReconcilerError):
            call()
        elapsed = time.perf_counter() - started
        assert elapsed < max(bound, BOUND), f"took {elapsed:.2f}s (bound {BOUND}s)"
        best = min(best, elapsed)
    assert best < bound, f"took {best:.2f}s at best (bound {bound}s)"
    return best


def assert_linear(parse: Callable[[str], object], text: Callable[[int], str], n: int) -> None:
    """``parse`` takes linear time in the size of ``text(n)``: ``text(8 * n)`` takes less than
    24 times as long (linear: 8 times; quadratic: 64 times), each run within :data:`BOUND`.

    The two sizes are timed in turn, three times each, and the best of each compared. The
    ratio is of this thread's CPU time, not the wall clock: on a loaded machine a parse of a
    few milliseconds fits in one time slice while one of tens of milliseconds waits for the CPU
    between slices, which inflated the big side's wall time alone (seen: 1.4 ms -> 57 ms at a
    load of 11 on 2 cores, a linear parser). Quadratic work is 64 times the CPU all the same.
    """
    small, big = text(n), text(8 * n)
    best = [float("inf"), float("inf")]
    for _ in range(3):
        for index, sample in enumerate((small, big)):
            started, cpu_started = time.perf_counter(), time.thread_time()
            with contextlib.suppress(ReconcilerError, ValueError):
                parse(sample)
            cpu = time.thread_time() - cpu_started
            elapsed = time.perf_counter() - started
            assert elapsed < BOUND, f"{len(sample)} characters took {elapsed:.2f}s"
            best[index] = min(best[index], cpu)
    assert best[1] < 24 * best[0] + 0.01, f"x8 input: {best[0]:.4f}s -> {best[1]:.4f}s of CPU"


def _parse_lock(text: str) -> object:
    return lockfile.parse("x", Path("lock/x.txt"), LOCK_HEADER + "demo-common==1.0.0\n" + text)


@pytest.mark.parametrize("kind", list(GARBAGE))
def test_a_garbage_lock_line_parses_in_linear_time(kind: str) -> None:
    line = GARBAGE[kind]
    timed(2.0, lambda: _parse_lock(line + "\n"))
    # a line of this shape 8 times as long, and 8 times as many lines: 8 times the time
    unit = line[: max(len(line) // 32, 64)]
    assert_linear(_parse_lock, lambda n: unit * n + "\n", 32)
    assert_linear(_parse_lock, lambda n: (line + "\n") * n, 1)


def test_a_garbage_lock_line_is_named_not_pasted(project: Project) -> None:
    with project.lock("tap-alpha").open("a", encoding="utf-8") as handle:
        handle.write(GARBAGE["letters"] + "\n")
    error = one_error(project.run("plan"), "lock/tap-alpha.txt:")
    assert len(error) < 400, error


def test_a_lock_larger_than_the_bound_is_refused_unread(project: Project) -> None:
    lock = project.lock("tap-alpha")
    with lock.open("a", encoding="utf-8") as handle:
        handle.write(("# " + "x" * 1000 + "\n") * 50_000)  # 50 MB of comments
    started = time.monotonic()
    one_error(project.run("plan"), str(lock), "larger than 16 MiB")
    assert time.monotonic() - started < 30


def billion_laughs() -> str:
    text = 'lol0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    for n in range(1, 10):
        text += f"lol{n}: &l{n} [" + ",".join([f"*l{n - 1}"] * 9) + "]\n"
    return text


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        pytest.param(MELTANO_YML + billion_laughs(), "aliases are expanded", id="billion-laughs"),
        pytest.param(
            MELTANO_YML + "deep: " + "[" * 100_000 + "]" * 100_000 + "\n", "nested", id="deep-flow"
        ),
        pytest.param(
            MELTANO_YML + "deep: " + "{a: " * 100_000 + "}" * 100_000 + "\n",
            "nested",
            id="deep-map",
        ),
        pytest.param(
            MELTANO_YML + "".join(" " * i + f"k{i}:\n" for i in range(3000)),
            f"meltano.yml:{MELTANO_YML.count(chr(10)) + 201}: invalid YAML: nested deeper than",
            id="deep-block-map",
        ),
        pytest.param(
            MELTANO_YML + "deep:\n" + "".join(" " * i + "-\n" for i in range(1, 3000)),
            "nested deeper than 200 levels",
            id="deep-block-seq",
        ),
        pytest.param(
            MELTANO_YML + "deep:\n" + "- " * 3000 + "x\n",
            "nested deeper than 200 levels",
            id="deep-compact-seq",
        ),
        pytest.param(
            MELTANO_YML + "deep:\n" + "".join(" " * (2 * i) + "- k:\n" for i in range(3000)),
            "nested deeper than 200 levels",
            id="deep-block-mixed",
        ),
    ],
)
def test_a_hostile_meltano_yml_is_one_error_line(
    meltano_project: Project, tmp_path: Path, text: str, needle: str
) -> None:
    path = meltano_project.root / "meltano.yml"
    path.write_text(text, encoding="utf-8")
    timed(1.0, lambda: read_yaml(path, "meltano.yml"))  # one error line within a second
    one_error(meltano_project.run("plan"), "meltano.yml", needle)


@pytest.mark.parametrize(
    "nested",
    [
        pytest.param("x = " + "[" * 100_000 + "]" * 100_000, id="arrays"),
        pytest.param("x = " + "{a = " * 100_000 + "}" * 100_000, id="inline-tables"),
        pytest.param("a" + ".a" * 100_000 + " = 1", id="dotted-key"),
        pytest.param("[a" + ".a" * 100_000 + "]", id="dotted-table"),
        pytest.param("[[a" + ".a" * 100_000 + "]]", id="dotted-array-of-tables"),
        pytest.param("x = {" + "a." * 100_000 + "b = 1}", id="dotted-inline-key"),
        pytest.param("a" + ".a" * 100_000 + " = ", id="dotted-key-no-value"),
    ],
)
def test_a_deeply_nested_reconciler_toml_is_one_error_line(project: Project, nested: str) -> None:
    """tomllib takes time growing with the square of a dotted key's depth (minutes and
    gigabytes at 10**5): one ``error:`` line, at once."""
    project.toml.write_text(nested + "\n", encoding="utf-8")
    timed(1.0, lambda: toml.parse(nested + "\n", project.toml))
    error = one_error(project.run("plan"), "reconciler.toml")
    assert "nested too deeply" in error or "nested more than 100 levels deep" in error, error


def _slow_plugin(root: Path, started: Path) -> None:
    """A local plugin whose in-tree build backend creates ``started``, then sleeps: resolving
    it takes two minutes."""
    plugin = root / "plugins" / "slow"
    plugin.mkdir(parents=True)
    (plugin / "pyproject.toml").write_text(
        '[project]\nname = "slow"\ndynamic = ["version"]\n'
        '[build-system]\nrequires = []\nbuild-backend = "slowbackend"\nbackend-path = ["."]\n',
        encoding="utf-8",
    )
    (plugin / "slowbackend.py").write_text(
        f"import pathlib, time\npathlib.Path({str(started)!r}).touch()\ntime.sleep(120)\n",
        encoding="utf-8",
    )


def _catches(pid: int, sig: int) -> bool:
    """True once process ``pid`` has a handler for ``sig`` (its ``SigCgt`` mask)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text("utf-8")
    except OSError:
        return False
    mask = next(
        (line.split()[1] for line in status.splitlines() if line.startswith("SigCgt:")), "0"
    )
    return bool(int(mask, 16) & (1 << (sig - 1)))


def _signal_after(
    command: list[str],
    cwd: Path,
    delay: float,
    sig: int,
    ready: Callable[[], bool] = lambda: True,
) -> tuple[Result, float]:
    """Run the CLI, wait until reconciler's main has started (it catches SIGTERM: Python
    itself catches SIGINT from the start, main sets its handler for both at once) and
    ``ready()`` holds, plus ``delay`` seconds, send ``sig``; the result and how long the
    process took to end."""
    child = subprocess.Popen(
        [sys.executable, "-m", "reconciler", "--project", str(cwd), *command],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while (
        not (_catches(child.pid, signal.SIGTERM) and ready())
        and time.monotonic() < deadline
        and child.poll() is None
    ):
        time.sleep(0.01)
    time.sleep(delay)
    sent = time.monotonic()
    child.send_signal(sig)
    try:
        out, err = child.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        child.kill()
        out, err = child.communicate()
    return Result(child.returncode, out, err), time.monotonic() - sent


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["TERM", "INT"])
def test_add_lock_stopped_by_a_signal_undoes_the_edit_and_removes_scratch(
    project: Project, sig: int
) -> None:
    started = project.root.parent / "backend-started"
    _slow_plugin(project.root, started)
    before = project.toml.read_bytes()
    edited: list[bytes] = []

    def building() -> bool:  # the signal comes while the backend runs, after the edit
        if started.exists():
            edited.append(project.toml.read_bytes())
        return started.exists()

    command = ["add", "slow", "./plugins/slow", "--lock"]
    result, took = _signal_after(command, project.root, 0.2, sig, ready=building)
    assert started.exists(), result.describe()
    assert edited, "the backend started, so add had written its edit"
    assert b"[plugins.slow]" in edited[-1], "signalled before add wrote its edit"
    assert result.code == 130, result.describe()
    assert took < 10, took
    assert project.toml.read_bytes() == before
    scratch_dir = project.venv_root / ".reconciler" / "tmp"
    assert not scratch_dir.exists() or not any(scratch_dir.iterdir()), list(scratch_dir.iterdir())


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["TERM", "INT"])
def test_fetch_stopped_by_a_signal_mid_download_exits_130_and_removes_scratch(
    unlocked_project: Project, tmp_path: Path, sig: int
) -> None:
    """A download that hangs (an artifact server that stopped answering) does not hold fetch:
    a signal ends it with exit 130 within seconds, pip stopped and the scratch area removed."""
    stall, asked = threading.Event(), threading.Event()

    class Stalling(http.server.SimpleHTTPRequestHandler):
        def do_GET(self) -> None:
            if stall.is_set() and "demo_stray" in self.path:
                asked.set()
                time.sleep(60)  # never answers in time
                return
            super().do_GET()

        def log_message(self, format: str, *args: object) -> None:
            return

    handler = functools.partial(Stalling, directory=str(WHEELS))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/demo_stray-1.0.0-py3-none-any.whl"
        with unlocked_project.edit() as doc:
            for name in list(doc["plugins"]):
                if name != "tap-alpha":
                    del doc["plugins"][name]
            doc["plugins"]["tap-alpha"]["requirements"] = [
                "tap-alpha==1.0.0",
                f"demo-stray @ {url}",
            ]
        unlocked_project.ok("lock")
        stall.set()
        dest = tmp_path / "wheelhouse"
        command = ["fetch", "--dest", str(dest)]
        child = subprocess.Popen(
            [sys.executable, "-m", "reconciler", "--project", str(unlocked_project.root), *command],
            cwd=unlocked_project.root,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert asked.wait(120), "fetch never asked for the stalled artifact"
            sent = time.monotonic()
            child.send_signal(sig)
            out, err = child.communicate(timeout=30)
        finally:
            if child.poll() is None:
                child.kill()
                child.communicate()
        took = time.monotonic() - sent
    finally:
        server.shutdown()
    result = Result(child.returncode, out, err)
    assert result.code == 130, result.describe()
    assert "Traceback" not in result.err, result.describe()
    assert took < 10, took
    scratch_dir = unlocked_project.venv_root / ".reconciler" / "tmp"
    assert not scratch_dir.exists() or not any(scratch_dir.iterdir()), list(scratch_dir.iterdir())
    assert not dest.exists() or "demo_stray-1.0.0-py3-none-any.whl" not in os.listdir(dest)


@pytest.mark.parametrize(
    ("command", "sig"),
    [
        *(
            pytest.param(c, signal.SIGTERM, id=f"{c.split()[0]}-TERM")
            for c in ["plan", "apply", "lock --check", "lock", "fetch --dest wheelhouse", "status"]
        ),
        *(pytest.param(c, signal.SIGINT, id=f"{c}-INT") for c in ["plan", "apply", "lock"]),
    ],
)
def test_a_signal_while_parsing_a_big_lock_stops_at_once(
    project: Project, command: str, sig: int
) -> None:
    lock = project.lock("tap-alpha")
    text = lock.read_text("utf-8")
    body = "".join(f"p{i}==1.0 \\\n    --hash=sha256:{'0' * 64}\n" for i in range(150_000))
    lock.write_text(text + body, encoding="utf-8")  # ~15 MB: under the bound, slow to read
    result, took = _signal_after(command.split(), project.root, 0.2, sig)
    assert result.code == 130, result.describe()
    assert "Traceback" not in result.err
    assert took < 5, took


# --- property tests: every parser, any input, bounded time --------------------------------------

#: Hypothesis's own deadline fails a test as "flaky" when a busy machine slows one run: each
#: example is bounded by :func:`bounded` instead; linear time is :func:`assert_linear`'s job.
FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def bounded(call: Callable[[], object], *errors: type[Exception]) -> None:
    """Run ``call`` (``errors`` are expected refusals) within :data:`BOUND` seconds."""
    started = time.perf_counter()
    with contextlib.suppress(ReconcilerError, *errors):
        call()
    elapsed = time.perf_counter() - started
    assert elapsed < BOUND, f"took {elapsed:.2f}s"


TEXT = st.text(
    alphabet=st.sampled_from("ab=@:/#[]{}()\"' \t\n\\$-.;,*&!<>~_01"),
    max_size=2000,
) | st.lists(
    st.sampled_from(["a", "://", "--hash=", "@", " ", "\n", "[", "(", "x==1 ", "-r "])
).map("".join)


@FUZZ
@given(TEXT)
def test_fuzz_lock_parser(text: str) -> None:
    bounded(lambda: lockfile.parse("x", Path("lock/x.txt"), LOCK_HEADER + text))


@FUZZ
@given(TEXT)
def test_fuzz_reconciler_toml(text: str) -> None:
    bounded(lambda: toml.parse(text, Path("/nonexistent/reconciler.toml")))


@FUZZ
@given(TEXT)
def test_fuzz_meltano_yml(tmp_path_factory: pytest.TempPathFactory, text: str) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "meltano.yml"
    path.write_text(text, encoding="utf-8")
    bounded(lambda: read_yaml(path, "meltano.yml"))


@FUZZ
@given(TEXT)
def test_fuzz_dotenv(tmp_path_factory: pytest.TempPathFactory, text: str) -> None:
    path = tmp_path_factory.mktemp("fuzz") / ".env"
    path.write_text(text, encoding="utf-8")
    bounded(lambda: dotenv(path))


@FUZZ
@given(TEXT)
def test_fuzz_requirements_and_pip_args(
    tmp_path_factory: pytest.TempPathFactory, text: str
) -> None:
    root = tmp_path_factory.mktemp("fuzz")
    (root / "reqs.txt").write_text(text, encoding="utf-8")
    bounded(lambda: requirement_forms.parse(text), ValueError)

    def fail(message: str) -> ConfigError:
        return ConfigError(message)

    bounded(lambda: read_pip_args(["-r", "reqs.txt"], root, fail))


#: Shapes each parser meets at scale: a unit repeated ``n`` times is parsed in time linear in
#: ``n`` (8 times the input, at most 24 times the time).
SCALING: dict[str, tuple[str, int]] = {
    "toml-plugins": ('[plugins.p{i}]\nrequirements = ["a==1.0", "b @ https://h/x.whl"]\n', 300),
    "toml-long-array": ('"a==1.0", ', 4_000),
    "toml-dots-in-strings": ('"' + "." * 50 + '", ', 500),
    "yaml-plugins": ("  - name: tap-{i}\n    pip_url: tap-{i}==1.0 -r x.txt\n", 50),
    "yaml-flow": ("[a, {b: c}], ", 100),
    "yaml-indents": (" " * 40 + "k{i}: v\n", 100),
    "dotenv-lines": ('K{i}="a b ${{K}} $X \\" c"\n', 2_000),
    "dotenv-long-value": ("${A}$B\\$", 5_000),
    "requirements-file": ("a[b,c]==1.0 ; python_version > '3' and os_name == 'x' \\\n", 500),
    "requirement-string": ("x @ a://u:p@h/", 2_000),
}


def _scaled(kind: str) -> Callable[[int], str]:
    unit, _ = SCALING[kind]
    if kind.startswith("toml-") and kind != "toml-plugins":
        return lambda n: "[plugins.p]\nrequirements = [" + unit * n + "]\n"
    if kind == "yaml-plugins":
        return lambda n: "plugins:\n  extractors:\n" + "".join(unit.format(i=i) for i in range(n))
    if kind == "yaml-flow":
        return lambda n: "x: [" + unit * n + "]\n"
    if kind == "yaml-indents":
        return lambda n: "a:\n" + "".join(unit.format(i=i) for i in range(n))
    if kind == "dotenv-long-value":
        return lambda n: "A=" + unit * n + "\n"
    return lambda n: "".join(unit.format(i=i) for i in range(n))


@pytest.mark.parametrize("kind", list(SCALING))
def test_every_parser_takes_linear_time(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "input"
    project_file = tmp_path / "reconciler.toml"

    def parse(text: str) -> object:
        if kind.startswith("toml-"):
            return toml.parse(text, project_file)
        path.write_text(text, encoding="utf-8")
        if kind.startswith("yaml-"):
            return read_yaml(path, "meltano.yml")
        if kind.startswith("dotenv-"):
            return dotenv(path)
        if kind == "requirement-string":
            return requirement_forms.parse(text)
        return read_pip_args(["-r", path.name], tmp_path, ConfigError)

    assert_linear(parse, _scaled(kind), SCALING[kind][1])


@FUZZ
@given(TEXT)
def test_fuzz_redaction_never_leaks_a_password(text: str) -> None:
    shown = redact(f"{text} https://user:pa55w0rd@host/simple {text}")
    assert "pa55w0rd" not in shown
    assert "pa55w0rd" not in strip_userinfo(f"https://user:pa55w0rd@host/x {text}")


# --- 7. names and messages ----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["tap-x\n", "tap-x\n\n", "\ntap-x"])
def test_a_plugin_name_with_a_newline_is_refused(project: Project, name: str) -> None:
    before = project.toml.read_bytes()
    result = project.run("add", name, "tap-alpha==1.0.0")
    one_error(result, "invalid plugin name")
    assert project.toml.read_bytes() == before


def test_a_lock_with_a_utf8_bom_is_read_as_pip_reads_it(project: Project) -> None:
    lock = project.lock("tap-alpha")
    lock.write_bytes(b"\xef\xbb\xbf" + lock.read_bytes())
    assert project.change("tap-alpha")["action"] == "create"
    check = project.run("lock", "--check")
    assert check.code == 0, check.describe()


# --- 4. where venvs live follows Meltano exactly -----------------------------------------------

#: Where MELTANO_SYS_DIR_ROOT can be written, and whether Meltano 4.4.1 honours it there
#: (``Project.__init__``: ``Path(os.getenv("MELTANO_SYS_DIR_ROOT", root / ".meltano")).resolve()``).
SYS_DIR_PLACES = [
    pytest.param("environ-absolute", True, id="environ-absolute"),
    pytest.param("environ-relative", True, id="environ-relative"),
    pytest.param("meltano-yml-env", False, id="meltano-yml-env"),
    pytest.param("dotenv", False, id="dotenv"),
    pytest.param("dotenv-relative", False, id="dotenv-relative"),
]


@pytest.mark.skipif(not MELTANO.is_file(), reason="no build/meltano (run `make meltano`)")
@pytest.mark.parametrize(("place", "honoured"), SYS_DIR_PLACES)
@pytest.mark.usefixtures("meltano_env")
def test_meltano_sys_dir_root_is_honoured_exactly_where_meltano_honours_it(
    tmp_path: Path, place: str, honoured: bool
) -> None:
    root = offline_meltano_project(tmp_path / "mproject", MELTANO_YML)
    elsewhere = tmp_path / "sysdir"
    text = MELTANO_YML
    env = dict(os.environ)
    if place == "environ-absolute":
        env["MELTANO_SYS_DIR_ROOT"] = str(elsewhere)
    elif place == "environ-relative":
        env["MELTANO_SYS_DIR_ROOT"] = "../sysdir"  # both run from the project directory
    elif place == "meltano-yml-env":
        text += f"env:\n  MELTANO_SYS_DIR_ROOT: {elsewhere}\n"
    elif place == "dotenv":
        (root / ".env").write_text(f"MELTANO_SYS_DIR_ROOT={elsewhere}\n", encoding="utf-8")
    else:
        (root / ".env").write_text("MELTANO_SYS_DIR_ROOT=../sysdir\n", encoding="utf-8")
    (root / "meltano.yml").write_text(text, encoding="utf-8")
    for args in (("lock",), ("apply",)):
        result = run_cli(root, *args, env=env)
        assert result.code == 0, result.describe()
    sys_dir = elsewhere if honoured else root / ".meltano"
    venv = sys_dir / "extractors" / "tap-singer" / "venv"
    assert venv.is_symlink(), sorted(p.name for p in tmp_path.iterdir())
    assert not (root / ".meltano").exists() if honoured else not elsewhere.exists()
    view = subprocess.run(
        [str(MELTANO_BIN / "python"), "-c", MELTANO_VIEW, "tap-singer"],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env=env,
    )
    assert view.returncode == 0, view.stderr
    seen = json.loads(view.stdout.strip().splitlines()[-1])["tap-singer"]
    assert seen["root"] == str(venv.resolve())  # the venv Meltano uses is the one we built
    assert seen["requires_install"] is False


def test_a_venv_root_outside_the_project_needs_the_operators_word(
    project: Project, tmp_path: Path
) -> None:
    outside = tmp_path / "outside-venvs"
    with project.edit() as doc:
        doc["settings"]["venv-root"] = str(outside)
    one_error(project.run("apply"), str(outside), "outside the project")
    assert not outside.exists()
    allowed = project.run("apply", env={"RECONCILER_ALLOW_OUTSIDE": str(outside)})
    assert allowed.code == 0, allowed.describe()
    assert (outside / "tap-alpha").is_symlink()


def test_a_lock_dir_outside_the_project_needs_the_operators_word(
    unlocked_project: Project, tmp_path: Path
) -> None:
    outside = make_victim(tmp_path)
    (outside / "orphan.txt").write_text("keep me\n", encoding="utf-8")
    before = snapshot(outside)
    with unlocked_project.edit() as doc:
        doc["settings"]["lock-dir"] = str(outside)
    one_error(unlocked_project.run("lock"), str(outside), "outside the project")
    assert snapshot(outside) == before


def test_a_venv_root_that_is_a_symlink_out_of_the_project_is_refused(
    project: Project, tmp_path: Path
) -> None:
    victim = make_victim(tmp_path)
    before = snapshot(victim)
    (project.root / ".venvs").symlink_to(victim, target_is_directory=True)
    one_error(project.run("apply"), f"symlink to {victim}")
    assert snapshot(victim) == before


#: What the author puts at a declared plugin's venv path, and what apply must keep there.
FOREIGN_AT_VENV_PATH = ["symlink-out", "file", "fifo", "unmarked-dir"]


def _put_foreign(stable: Path, kind: str, victim: Path) -> Callable[[], bool]:
    """Put ``kind`` at ``stable``; return a check that it is still there, untouched."""
    stable.parent.mkdir(parents=True, exist_ok=True)
    if kind == "symlink-out":
        stable.symlink_to(victim, target_is_directory=True)
        return lambda: stable.is_symlink() and stable.readlink() == victim
    if kind == "file":
        stable.write_text("not a venv\n", encoding="utf-8")
        return lambda: stable.read_text(encoding="utf-8") == "not a venv\n"
    if kind == "fifo":
        os.mkfifo(stable)
        return lambda: stat.S_ISFIFO(os.lstat(stable).st_mode)
    stable.mkdir()
    (stable / "mine").write_text("x\n", encoding="utf-8")
    return lambda: (stable / "mine").read_text(encoding="utf-8") == "x\n"


@pytest.mark.parametrize("layout", ["toml", "meltano"])
@pytest.mark.parametrize("kind", FOREIGN_AT_VENV_PATH)
def test_a_venv_path_apply_would_refuse_is_a_blocked_step_never_a_promise(
    request: pytest.FixtureRequest, tmp_path: Path, kind: str, layout: str
) -> None:
    """Point 7: ``plan`` shows the plugin as blocked with its reason (text, JSON, status),
    ``plan --detailed-exitcode`` exits 1, ``apply`` does every other plugin, then exits 1
    naming it; what is there stays as it was."""
    if layout == "toml":
        project: Project = request.getfixturevalue("project")
        name, other, creates = "tap-alpha", "tap-beta", 2
        stable, other_path = project.venv_root / name, project.venv_root / other
    else:
        project = request.getfixturevalue("meltano_project")
        name, other, creates = "tap-singer", "target-singer", 1
        stable = project.root / ".meltano" / "extractors" / name / "venv"
        other_path = project.root / ".meltano" / "loaders" / other / "venv"
    victim = make_victim(tmp_path)
    before = snapshot(victim)
    intact = _put_foreign(stable, kind, victim)

    text = project.run("plan")
    assert text.code == 0, text.describe()  # a report: the exit code says so only when asked
    row = next(line for line in text.out.splitlines() if f" {name} " in line)
    assert row.lstrip().startswith(f"! {name}"), text.describe()
    assert "blocked" in row, text.describe()
    assert "reinstall" not in row, text.describe()
    assert "refusing to replace" in row, text.describe()
    assert text.out.rstrip().endswith(
        f"{creates} to create, 0 to upgrade, 0 to reinstall, 0 to remove; "
        "1 blocked (apply refuses it)."
    ), text.describe()
    assert f"{name}: blocked: refusing to replace" in text.err, text.describe()

    entry = project.change(name)
    assert entry["action"] == "blocked", entry
    assert (entry["install"], entry["uninstall"]) == ([], []), entry
    assert len(entry["reasons"]) == 1, entry
    assert "refusing to replace" in entry["reasons"][0], entry
    summary = project.plan_json()["summary"]
    assert (summary["blocked"], summary["reinstall"], summary["create"]) == (1, 0, creates)

    detailed = project.run("plan", "--detailed-exitcode")
    assert detailed.code == 1, detailed.describe()

    rows = json.loads(project.ok("status", "--json").out)["plugins"]
    status_row = next(r for r in rows if r["plugin"] == name)
    assert status_row["drift"] == "blocked", status_row
    assert "refusing to replace" in status_row["detail"], status_row

    if layout == "toml":  # a saved plan carries the blocked step; apply FILE refuses it too
        saved = tmp_path / "plan.json"
        project.ok("plan", "-o", str(saved))
        applied = project.run("apply", str(saved))
    else:
        applied = project.run("apply")
    one_error(applied, f"plugin {name!r}", "refusing to replace", str(stable))
    assert other_path.is_symlink(), applied.describe()  # the others are done
    assert project.change(other)["action"] == "no-op"
    assert intact(), f"{stable} changed"
    assert snapshot(victim) == before

    # alone in the plan (nothing else to do): apply still says so and exits 1, touching nothing
    only = project.run("apply")
    one_error(only, f"plugin {name!r}", "refusing to replace")
    assert intact(), f"{stable} changed"
    assert snapshot(victim) == before
    run = project.run("run", name, "--", "--about")
    one_error(run, f"plugin {name!r}", "refusing to replace")


def test_no_internal_class_name_in_a_message(meltano_project: Project) -> None:
    path = meltano_project.root / "meltano.yml"
    text = path.read_text("utf-8").replace(
        "pip_url: tap-singer==1.0.0", "pip_url: [tap-singer==1.0.0]"
    )
    path.write_text(text, encoding="utf-8")
    error = one_error(meltano_project.run("plan"), "pip_url", "expected a string, not a list")
    assert "Commented" not in error


def test_a_full_disk_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import errno  # noqa: PLC0415

    from reconciler.support import files  # noqa: PLC0415

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(files.os, "fsync", full)
    target = tmp_path / "lock" / "tap-alpha.txt"
    target.parent.mkdir()
    with pytest.raises(OSError, match="No space left on device") as caught:
        files.write_atomic(target, "x==1\n")
    assert caught.value.filename == str(target)
    assert list(target.parent.iterdir()) == []  # no temporary file left behind


def _disk_full(*args: object, **kwargs: object) -> None:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_a_full_disk_while_locking_names_the_lock_file_and_plugin(
    unlocked_project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    from reconciler.support import files  # noqa: PLC0415 - the fault to inject

    monkeypatch.setattr(files.os, "fsync", _disk_full)
    result = unlocked_project.run("lock", "tap-alpha")
    error = one_error(result, "No space left on device", "tap-alpha")
    assert str(Path("lock") / "tap-alpha.txt") in error, error
    assert not unlocked_project.lock("tap-alpha").exists()


def test_a_full_disk_while_applying_names_the_plugin_and_file(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The disk fills up as apply writes a venv's state marker: each plugin's error line names
    the plugin and the file; nothing is left half-built."""
    replace = Path.replace

    def full_for_markers(self: Path, target: str | os.PathLike[str]) -> Path:
        if Path(target).name == MARKER:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return replace(self, target)

    monkeypatch.setattr(Path, "replace", full_for_markers)
    result = project.run("apply")
    assert result.code == 1, result.describe()
    errors = [line for line in result.err_lines if line.startswith("error:")]
    assert len(errors) == 3, result.describe()
    for line in errors:
        assert "No space left on device" in line, result.describe()
        assert "plugin '" in line, result.describe()
        assert MARKER in line, result.describe()
    assert not any((project.venv_root / p).exists() for p in ("tap-alpha", "tap-beta"))
