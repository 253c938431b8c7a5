"""A real Meltano (build/meltano, from the hashed lock/meltano.txt) on reconciler's venvs.

Offline, tracking off, on a project of custom plugins (namespace, pip_url, executable) over the
fixture wheels: after ``reconciler apply`` Meltano runs the plugins and installs nothing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO, WHEELS, Project, Snapshot, hermetic_environ, snapshot
from helpers import offline_meltano_project

MELTANO_BIN = REPO / "build" / "meltano" / "bin"
MELTANO = MELTANO_BIN / "meltano"
PROJECT_ID = "5b7f2f1e-6a3c-4d6e-9a55-2b3c4d5e6f70"
MELTANO_YML = f"""
default_environment: dev
project_id: {PROJECT_ID}
environments:
- name: dev
plugins:
  extractors:
  - name: tap-singer
    namespace: tap_singer
    pip_url: >-
      tap-singer==1.0.0
      -c constraints-${{MELTANO__PYTHON_VERSION}}.txt
    executable: tap-singer
  - name: tap-singer-copy
    inherit_from: tap-singer
  loaders:
  - name: target-singer
    namespace: target_singer
    pip_url: target-singer==1.0.0
    executable: target-singer
"""
#: Asks Meltano itself, in its own venv, what it thinks of each plugin's venv.
MELTANO_VIEW = """
import json, sys
from meltano.core.project import Project
from meltano.core.plugin_install_service import PluginInstallService, get_pip_install_args
from meltano.core.venv_service import VirtualEnv
project = Project.find()
out = {}
for name in sys.argv[1:]:
    plugin = project.plugins.find_plugin(name)
    env = PluginInstallService(project).plugin_installation_env(plugin)
    args = get_pip_install_args(project, plugin, env=env)
    python = plugin.python or project.settings.get("python")
    venv = VirtualEnv(project.dirs.plugin(plugin, "venv", make_dirs=False), python=python)
    out[name] = {"fingerprint": venv.get_fingerprint(args),
                 "requires_install": venv.requires_install(args), "root": str(venv.root)}
print(json.dumps(out))
"""

pytestmark = pytest.mark.skipif(
    not MELTANO.is_file(), reason="no build/meltano/bin/meltano (run `make meltano`)"
)


class MeltanoProject(Project):
    """A Meltano project driven by reconciler and by the real Meltano."""

    @property
    def sys_dir(self) -> Path:
        return self.root / ".meltano"

    def venv(self, plugin: str) -> Path:
        kind = "loaders" if plugin.startswith("target") else "extractors"
        return self.sys_dir / kind / plugin / "venv"

    def venvs_snapshot(self) -> Snapshot:
        """Every file under the plugin type directories (venvs and their generations)."""
        found: Snapshot = {}
        for kind in ("extractors", "loaders"):
            found.update({f"{kind}/{k}": v for k, v in snapshot(self.sys_dir / kind).items()})
        return found

    def env(self) -> dict[str, str]:
        return dict(os.environ)

    def meltano(self, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        """Run the real Meltano in the project (exit 0 required)."""
        completed = subprocess.run(
            [str(MELTANO), *args],
            cwd=self.root,
            input=stdin,
            capture_output=True,
            text=True,
            check=False,
            timeout=180,
            env=self.env(),
        )
        assert completed.returncode == 0, f"meltano {' '.join(args)}:\n{completed.stderr}"
        return completed

    def meltano_view(self, *plugins: str) -> dict[str, Any]:
        """Meltano's own fingerprint and ``requires_install`` for each plugin."""
        completed = subprocess.run(
            [str(MELTANO_BIN / "python"), "-c", MELTANO_VIEW, *plugins],
            cwd=self.root,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
            env=self.env(),
        )
        assert completed.returncode == 0, completed.stderr
        data: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
        return data


@pytest.fixture
def meltano_env(monkeypatch: pytest.MonkeyPatch, cache_dir: Path) -> Mapping[str, str]:
    """Tracking off, nothing fetched from the network, Meltano first on PATH."""
    env = hermetic_environ(cache_dir)
    wanted = {
        "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
        "MELTANO_DISABLE_TRACKING": "true",
        "MELTANO_SNOWPLOW_COLLECTOR_ENDPOINTS": "[]",
        "MELTANO_HUB_URL": "http://127.0.0.1:9/",
        "UV_OFFLINE": "1",
        "PATH": f"{MELTANO_BIN}:{env.get('PATH', '/usr/bin:/bin')}",
    }
    for name in ("MELTANO__PYTHON_VERSION", "MELTANO_SYS_DIR_ROOT", "MELTANO_PROJECT_ROOT"):
        monkeypatch.delenv(name, raising=False)
    for name, value in wanted.items():
        monkeypatch.setenv(name, value)
    return wanted


def meltano_python_version() -> str:
    cfg = (REPO / "build" / "meltano" / "pyvenv.cfg").read_text(encoding="utf-8")
    keys = ("version", "version_info")
    line = next(x for x in cfg.splitlines() if x.split("=")[0].strip() in keys)
    return ".".join(line.partition("=")[2].strip().split(".")[:2])


@pytest.fixture
def mproject(tmp_path: Path, meltano_env: Mapping[str, str]) -> MeltanoProject:
    """A Meltano project of fixture plugins, locked, not yet applied."""
    root = offline_meltano_project(tmp_path / "mproject", MELTANO_YML)
    # Meltano's own interpreter version picks this file; no other version's file exists
    (root / f"constraints-{meltano_python_version()}.txt").write_text(
        "demo-common==1.0.0\n", encoding="utf-8"
    )
    project = MeltanoProject(root)
    project.ok("lock")
    return project


@pytest.mark.slow
def test_meltano_invoke_and_run_use_the_applied_venvs_and_install_nothing(
    mproject: MeltanoProject, tmp_path: Path
) -> None:
    assert (mproject.root / "lock" / "extractors" / "tap-singer.txt").is_file()
    assert (mproject.root / "lock" / "loaders" / "target-singer.txt").is_file()
    mproject.ok("apply")
    for plugin in ("tap-singer", "target-singer"):
        assert mproject.venv(plugin).is_symlink()
    assert not (mproject.sys_dir / "extractors" / "tap-singer-copy").exists()  # shares the venv
    view = mproject.meltano_view("tap-singer", "tap-singer-copy", "target-singer")
    for plugin, seen in view.items():
        venv = mproject.venv("target-singer" if plugin == "target-singer" else "tap-singer")
        written = (venv / ".meltano_plugin_fingerprint").read_text(encoding="utf-8")
        assert written == seen["fingerprint"], plugin  # bare hex, no newline, Meltano's value
        assert seen["requires_install"] is False, plugin
        assert seen["root"] == str(venv.resolve())
    before = mproject.venvs_snapshot()

    out = mproject.meltano("invoke", "tap-singer").stdout
    records = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert [r["record"]["n"] for r in records if r["type"] == "RECORD"] == [1, 2, 3]
    state = next(r for r in records if r["type"] == "STATE")
    assert state["value"]["demo_common"] == "1.0.0"  # the constraint for Meltano's python held
    mproject.meltano("invoke", "tap-singer-copy")
    sink = tmp_path / "sink.jsonl"
    os.environ["TARGET_SINGER_OUT"] = str(sink)
    try:
        mproject.meltano("run", "tap-singer", "target-singer")
    finally:
        del os.environ["TARGET_SINGER_OUT"]
    assert [json.loads(x)["n"] for x in sink.read_text(encoding="utf-8").splitlines()] == [1, 2, 3]

    assert mproject.venvs_snapshot() == before, "Meltano changed a venv file"
    assert "No changes." in mproject.ok("plan").out


def test_a_pip_url_edit_is_drift_until_locked_and_applied(mproject: MeltanoProject) -> None:
    mproject.ok("apply")
    yml = mproject.root / "meltano.yml"
    yml.write_text(
        yml.read_text(encoding="utf-8").replace(
            "pip_url: target-singer==1.0.0", "pip_url: target-singer==1.0.0 demo-extra==1.0.0"
        ),
        encoding="utf-8",
    )
    check = mproject.run("lock", "--check")
    assert check.code == 2, check.describe()
    assert "target-singer" in check.out + check.err
    assert mproject.meltano_view("target-singer")["target-singer"]["requires_install"] is True
    plan = mproject.run("plan")
    assert plan.code == 1
    assert "stale" in plan.err

    mproject.ok("lock")
    mproject.ok("apply")
    view = mproject.meltano_view("target-singer", "tap-singer")
    assert view["target-singer"]["requires_install"] is False
    assert view["tap-singer"]["requires_install"] is False
    before = mproject.venvs_snapshot()
    result = mproject.meltano("invoke", "target-singer", stdin="")
    assert "0 records" in result.stderr
    assert mproject.venvs_snapshot() == before


def test_a_venv_built_by_meltano_install_is_adopted(mproject: MeltanoProject) -> None:
    install_env = {"UV_OFFLINE": "1", "UV_NO_INDEX": "1", "UV_FIND_LINKS": str(WHEELS)}
    os.environ.update(install_env)
    try:
        mproject.meltano("install", "extractor", "tap-singer")
    finally:
        for name in install_env:
            del os.environ[name]
    built = mproject.venv("tap-singer")
    assert built.is_dir()
    assert not built.is_symlink()
    assert (built / ".meltano_plugin_fingerprint").is_file()
    # a directory with neither Meltano's fingerprint nor reconciler's marker: left alone
    stranger = mproject.sys_dir / "loaders" / "target-stranger" / "venv"
    stranger.mkdir(parents=True)
    (stranger / "keep-me").write_text("mine", encoding="utf-8")

    change = mproject.change("tap-singer")
    assert change["action"] == "reinstall"
    assert change["reasons"] == ["built by meltano install"]
    result = mproject.ok("apply")
    assert "target-stranger" in result.err
    assert "unmanaged directory left alone" in result.err
    assert built.is_symlink()
    assert built.resolve().parent == built.parent / ".generations"
    assert os.listdir(built.parent / ".generations") == [built.resolve().name]  # old one gone
    assert sorted(os.listdir(built.parent)) == [".generations", "venv"]  # swapped, then deleted
    assert (stranger / "keep-me").read_text(encoding="utf-8") == "mine"
    view = mproject.meltano_view("tap-singer")
    assert view["tap-singer"]["requires_install"] is False
    before = mproject.venvs_snapshot()
    mproject.meltano("invoke", "tap-singer")
    assert mproject.venvs_snapshot() == before

    # a plugin dropped from meltano.yml loses its managed venv (and only that)
    yml = mproject.root / "meltano.yml"
    text = yml.read_text(encoding="utf-8")
    start = text.index("  loaders:")
    yml.write_text(text[:start], encoding="utf-8")
    change = mproject.change("target-singer")
    assert change["action"] == "remove"
    mproject.ok("apply")
    assert not os.path.lexists(mproject.venv("target-singer"))
    assert not (mproject.sys_dir / "loaders" / "target-singer" / ".generations").exists()
    assert (stranger / "keep-me").is_file()
    shutil.rmtree(stranger.parent)
