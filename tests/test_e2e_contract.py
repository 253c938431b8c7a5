"""End to end: lock failures, the plan JSON, console scripts, pip-config hygiene and exit codes."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType

import pytest
from conftest import (
    EXPECTED_DISTS,
    EXPECTED_OUTPUT,
    MARKER,
    PLUGINS,
    REPO,
    WHEELS,
    Project,
    add_plugin,
)
from helpers import assert_one_error

from reconciler.installers.uv import find_uv

ACTIONS = ("create", "upgrade", "reinstall", "remove", "no-op")


# --- missing or stale locks --------------------------------------------------------------------


def _stale(project: Project) -> None:
    project.set_requirements("tap-beta", ["tap-beta", "demo-extra<2"])


def _missing(project: Project) -> None:
    project.lock("tap-beta").unlink()


@pytest.mark.parametrize("breaker", [_stale, _missing], ids=["stale-lock", "missing-lock"])
def test_missing_or_stale_lock_fails_plan_and_apply(applied: Project, breaker: object) -> None:
    """A stale or missing lock: plan and apply exit 1 with one ``error:`` line, nothing changes."""
    assert callable(breaker)
    breaker(applied)
    before = applied.snapshot()
    for args in (
        ("plan",),
        ("plan", "--json"),
        ("plan", "--detailed-exitcode"),
        ("apply",),
        ("apply", "tap-beta"),
    ):
        result = applied.run(*args)
        assert_one_error(result, "tap-beta")
        assert "Apply complete" not in result.out
        assert applied.snapshot() == before, f"reconciler {' '.join(args)} changed the venv root"


# --- the plan as JSON --------------------------------------------------------------------------


def test_plan_json_matches_design(project: Project, tmp_path: Path) -> None:
    """``plan --json`` / ``plan -o FILE``: the documented shape, every action, stable bytes."""
    with project.edit() as doc:
        add_plugin(doc, "tap-old", ["tap-alpha==1.1.0"])
        add_plugin(doc, "tap-new", ["tap-alpha==1.1.0"])
    project.ok("lock")
    project.ok("apply", "tap-alpha", "tap-beta", "target-gamma", "tap-old")
    with project.edit() as doc:
        del doc["plugins"]["tap-old"]  # -> remove
    project.hand_pip(  # -> upgrade
        "tap-alpha", "install", "--no-index", "--find-links", str(WHEELS), "demo-stray"
    )
    (project.venv("tap-beta") / MARKER).write_text("garbage", encoding="utf-8")  # -> reinstall
    (project.venv_root / "scratch").mkdir()  # unmanaged: warned about, not in the plan
    before = project.snapshot()

    first = project.ok("plan", "--json")
    second = project.ok("plan", "--json")
    assert first.out == second.out, "the same plan twice must give byte-identical JSON"
    out_file = tmp_path / "plan.json"
    human = project.ok("plan", "-o", str(out_file))
    assert out_file.read_text(encoding="utf-8") == first.out
    assert "Plan: 1 to create, 1 to upgrade, 1 to reinstall, 1 to remove." in human.out
    both_file = tmp_path / "both.json"
    both = project.ok("plan", "--json", "-o", str(both_file))
    assert both.out == first.out
    assert both_file.read_text(encoding="utf-8") == first.out
    assert project.snapshot() == before, "plan must change nothing"

    data = json.loads(first.out)
    assert set(data) == {"format_version", "changes", "summary", "fingerprint", "contract"}
    assert data["format_version"] == 1
    assert type(data["format_version"]) is int
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", data["fingerprint"]), data["fingerprint"]
    changes = data["changes"]
    names = [c["plugin"] for c in changes]
    assert names == sorted(names)
    assert names == ["tap-alpha", "tap-beta", "tap-new", "tap-old", "target-gamma"]
    for change in changes:
        assert set(change) == {"plugin", "action", "reasons", "install", "uninstall"}
        assert change["action"] in ACTIONS
        assert all(isinstance(r, str) for r in change["reasons"])
        for entry in change["install"]:
            assert set(entry) == {"name", "version", "from"}
        for entry in change["uninstall"]:
            assert set(entry) == {"name", "version"}
    by_name = {c["plugin"]: c for c in changes}
    assert {n: c["action"] for n, c in by_name.items()} == {
        "tap-alpha": "upgrade",
        "tap-beta": "reinstall",
        "tap-new": "create",
        "tap-old": "remove",
        "target-gamma": "no-op",
    }
    assert set(data["summary"]) == set(ACTIONS)
    assert data["summary"] == {a: Counter(c["action"] for c in changes)[a] for a in ACTIONS}

    alpha = by_name["tap-alpha"]
    assert alpha["install"] == []
    assert alpha["uninstall"] == [{"name": "demo-stray", "version": "1.0.0"}]
    assert alpha["reasons"], "an upgrade says why"
    beta = by_name["tap-beta"]
    assert beta["reasons"]
    assert {e["name"]: e["version"] for e in beta["install"]} == EXPECTED_DISTS["tap-beta"]
    new = by_name["tap-new"]
    assert new["reasons"] == ["no venv"]
    assert sorted(new["install"], key=lambda e: e["name"]) == [
        {"name": "demo-common", "version": "1.1.0", "from": None},
        {"name": "tap-alpha", "version": "1.1.0", "from": None},
    ]
    assert new["uninstall"] == []
    assert by_name["tap-old"] == {
        "plugin": "tap-old",
        "action": "remove",
        "reasons": ["no longer declared"],
        "install": [],
        "uninstall": [],
    }
    assert by_name["target-gamma"] == {
        "plugin": "target-gamma",
        "action": "no-op",
        "reasons": [],
        "install": [],
        "uninstall": [],
    }


# --- console scripts, no pip -------------------------------------------------------------------


def test_console_scripts_run_and_venvs_have_no_pip(applied: Project) -> None:
    """``.venvs/<plugin>/bin/<script>`` works after apply; venvs are made ``--without-pip``."""
    for plugin in PLUGINS:
        assert applied.script(plugin) == EXPECTED_OUTPUT[plugin] + "\n"
        venv = applied.venv(plugin)
        assert not list((venv / "bin").glob("pip*")), f"pip script in {venv}"
        site = applied.site_packages(plugin)
        assert not (site / "pip").exists()
        assert not list(site.glob("pip-*.dist-info"))
        assert applied.dists(plugin) == EXPECTED_DISTS[plugin]
        no_pip = subprocess.run(
            [str(venv / "bin" / "python"), "-c", "import pip"],
            capture_output=True,
            text=True,
            check=False,
        )
        assert no_pip.returncode != 0, f"pip is importable in {venv}"


# --- ambient pip configuration -----------------------------------------------------------------


def _make_wheels(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """``fixtures/make_wheels.py`` imported as a module (to build poison wheels)."""
    spec = importlib.util.spec_from_file_location("make_wheels", REPO / "fixtures/make_wheels.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "make_wheels", module)
    spec.loader.exec_module(module)
    return module


def _poison_wheelhouse(mw: ModuleType, dest: Path) -> Path:
    """A wheelhouse of newer versions that would win a resolution if it leaked in."""
    dest.mkdir()
    for dist in (
        mw.library("demo-common", "9.0.0", with_greet=True),
        mw.library("demo-extra", "9.0.0"),
        mw.plugin("tap-beta", "9.0.0", ("demo-common>=1.0", "demo-extra>=1.0")),
        mw.plugin("target-gamma", "9.0.0", ("demo-common>=1.0",)),
    ):
        mw.write_wheel(dist, dest)
    return dest


@pytest.mark.parametrize(
    "resolver",
    [
        "pip-tools",
        pytest.param("uv", marks=pytest.mark.skipif(find_uv() is None, reason="uv not installed")),
    ],
)
def test_ambient_pip_config_does_not_leak(
    unlocked_project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, resolver: str
) -> None:
    """PIP_*/UV_* variables, a pip.conf and a uv.toml reach neither the locks nor apply."""
    project = unlocked_project
    mw = _make_wheels(monkeypatch)
    from_env = _poison_wheelhouse(mw, tmp_path / "poison-env")
    from_conf = _poison_wheelhouse(mw, tmp_path / "poison-conf")
    constraints = tmp_path / "constraints.txt"
    constraints.write_text("demo-extra==1.0.0\n", encoding="utf-8")
    uv_toml = tmp_path / "uv.toml"
    uv_toml.write_text(
        f'find-links = ["{from_conf}"]\nconstraint-dependencies = ["demo-extra==1.0.0"]\n',
        encoding="utf-8",
    )
    pip_conf = tmp_path / "pip.conf"
    pip_conf.write_text(
        "[global]\n"
        f"find-links = {from_conf}\n"
        "index-url = http://127.0.0.1:9/simple\n"
        "extra-index-url = http://127.0.0.1:9/extra\n"
        f"constraint = {constraints}\n"
        "[install]\n"
        f"find-links = {from_conf}\n",
        encoding="utf-8",
    )
    ambient = {
        "PIP_CONFIG_FILE": str(pip_conf),
        "PIP_FIND_LINKS": f"/nonexistent {from_env}",
        "PIP_INDEX_URL": "http://127.0.0.1:9/simple",
        "PIP_EXTRA_INDEX_URL": "http://127.0.0.1:9/extra",
        "PIP_CONSTRAINT": str(constraints),
        "UV_INDEX_URL": "http://127.0.0.1:9/simple",
        "UV_DEFAULT_INDEX": "http://127.0.0.1:9/simple",
        "UV_EXTRA_INDEX_URL": "http://127.0.0.1:9/extra",
        "UV_FIND_LINKS": str(from_env),
        "UV_CONSTRAINT": str(constraints),
        "UV_PRERELEASE": "allow",
        "UV_CONFIG_FILE": str(uv_toml),
    }
    (project.root / "uv.toml").write_text(uv_toml.read_text(), encoding="utf-8")

    # real processes: what is checked is the environment a child inherits
    project.ok("lock", "--resolver", resolver, env=ambient, subprocess=True)
    for plugin in PLUGINS:
        text = project.lock(plugin).read_text(encoding="utf-8")
        for needle in ("/tmp", "file://", str(tmp_path), str(project.root), "127.0.0.1"):
            assert needle not in text, f"{needle!r} in lock/{plugin}.txt:\n{text}"
        for line in text.splitlines():
            assert not line.lstrip().startswith(
                ("-i", "--index-url", "--extra-index-url", "-f", "--find-links", "--no-index")
            ), f"index line in lock/{plugin}.txt: {line!r}"
        pins = dict(re.findall(r"^([A-Za-z0-9._-]+)==(\S+)", text, flags=re.MULTILINE))
        assert pins == EXPECTED_DISTS[plugin], f"lock/{plugin}.txt:\n{text}"

    project.ok("apply", env=ambient, subprocess=True)
    for plugin in PLUGINS:
        assert project.dists(plugin) == EXPECTED_DISTS[plugin]
        assert project.script(plugin) == EXPECTED_OUTPUT[plugin] + "\n"
    assert project.run("plan", "--detailed-exitcode", env=ambient).code == 0
    assert project.run("plan", "--detailed-exitcode").code == 0


# --- exit codes --------------------------------------------------------------------------------


def test_detailed_exitcode(project: Project) -> None:
    """``plan --detailed-exitcode`` exits 2 with changes; plain ``plan`` exits 0."""
    changes = project.run("plan", "--detailed-exitcode")
    assert changes.code == 2, changes.describe()
    assert "Plan: 3 to create" in changes.out
    assert "Traceback" not in changes.err
    assert project.run("plan").code == 0
    assert project.run("plan", "--json", "--detailed-exitcode").code == 2


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (("plan",), 0),
        (("plan", "--detailed-exitcode"), 2),
        (("plan", "--json"), 0),
        (("apply", "no-such-plugin"), 1),
        (("--version",), 0),
        (("no-such-command",), 1),
    ],
    ids=["plan", "detailed-exitcode", "plan-json", "error", "version", "usage"],
)
def test_entry_point_in_a_real_process_matches_the_in_process_run(
    project: Project, args: tuple[str, ...], code: int
) -> None:
    """``python -m reconciler`` (the entry point, as a process) gives the exit code and output
    the in-process runner every other test uses gives: that runner is faithful."""
    real = project.run(*args, subprocess=True)
    assert real.code == code, real.describe()
    assert "Traceback" not in real.err, real.describe()
    in_process = project.run(*args)
    assert (in_process.code, in_process.out, in_process.err) == (real.code, real.out, real.err)


@pytest.mark.parametrize(
    "args",
    [("plan",), ("plan", "--json"), ("apply",), ("lock",)],
    ids=["plan", "plan-json", "apply", "lock"],
)
def test_unknown_plugin_is_a_one_line_error(project: Project, args: tuple[str, ...]) -> None:
    """An undeclared plugin named on the command line: exit 1, one ``error:`` line naming it."""
    locks = {p: project.lock(p).read_bytes() for p in PLUGINS}
    result = project.run(*args, "no-such-plugin")
    assert_one_error(result, "no-such-plugin")
    assert not project.venv_root.exists()
    assert {p: project.lock(p).read_bytes() for p in PLUGINS} == locks


# --- saved plans -------------------------------------------------------------------------------


def test_apply_saved_plan_refuses_when_world_changed(applied: Project, tmp_path: Path) -> None:
    """``apply PLANFILE`` refuses a plan made before the venvs changed; a fresh one applies."""
    wheels = ("--no-index", "--find-links", str(WHEELS))
    applied.hand_pip("tap-alpha", "install", *wheels, "demo-stray")
    plan_file = tmp_path / "plan.json"
    applied.ok("plan", "-o", str(plan_file))
    applied.hand_pip("tap-beta", "install", *wheels, "demo-stray")  # the world moves on
    before = applied.snapshot()

    result = applied.run("apply", str(plan_file))
    assert_one_error(result, "stale plan")
    assert applied.snapshot() == before, "a refused saved plan must change nothing"

    applied.ok("plan", "-o", str(plan_file))
    applied.ok("apply", str(plan_file))
    for plugin in PLUGINS:
        assert applied.dists(plugin) == EXPECTED_DISTS[plugin]
    assert applied.run("plan", "--detailed-exitcode").code == 0


# --- installer backends ------------------------------------------------------------------------


def _uv_available() -> bool:
    return importlib.util.find_spec("uv") is not None or shutil.which("uv") is not None


@pytest.mark.parametrize("installer", ["pip", "uv"])
def test_installer_backend_lifecycle(project: Project, installer: str) -> None:
    """Each backend creates, upgrades in place, uninstalls drift and reinstalls; then is clean."""
    if installer == "uv" and not _uv_available():
        pytest.skip("uv is not installed")
    project.ok("apply", "--installer", installer)
    for plugin in PLUGINS:
        assert project.dists(plugin) == EXPECTED_DISTS[plugin]
        assert project.script(plugin) == EXPECTED_OUTPUT[plugin] + "\n"
        assert not list((project.venv(plugin) / "bin").glob("pip*"))
        assert not (project.site_packages(plugin) / "pip").exists()

    project.set_requirements("tap-alpha", ["tap-alpha==1.1.0"])  # upgrade in place
    project.ok("lock")
    project.hand_pip(  # drift to uninstall
        "tap-beta", "install", "--no-index", "--find-links", str(WHEELS), "demo-stray"
    )
    (project.venv("target-gamma") / "pyvenv.cfg").unlink()  # broken: reinstall
    actions = {c["plugin"]: c["action"] for c in project.plan_json()["changes"]}
    assert actions == {"tap-alpha": "upgrade", "tap-beta": "upgrade", "target-gamma": "reinstall"}

    project.ok("apply", "--installer", installer)
    expected = {**EXPECTED_DISTS, "tap-alpha": {"demo-common": "1.1.0", "tap-alpha": "1.1.0"}}
    for plugin in PLUGINS:
        assert project.dists(plugin) == expected[plugin]
    assert project.script("tap-alpha") == "tap-alpha 1.1.0 (demo-common 1.1.0)\n"
    assert project.script("tap-beta") == EXPECTED_OUTPUT["tap-beta"] + "\n"
    assert project.script("target-gamma") == EXPECTED_OUTPUT["target-gamma"] + "\n"
    assert project.run("plan", "--detailed-exitcode").code == 0
    assert "No changes." in project.ok("apply", "--installer", installer).out
