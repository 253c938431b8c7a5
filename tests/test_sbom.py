"""``reconciler sbom``: CycloneDX documents from the locks, validated against the CycloneDX
JSON schema with the CycloneDX library's own strict validator."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import PLUGINS, Project
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from reconciler import lockfile
from reconciler.commands import sbom


def assert_valid(text: str) -> dict[str, Any]:
    """``text`` passes the CycloneDX 1.6 strict JSON schema; returns it parsed."""
    error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(text)
    assert error is None, f"not a valid CycloneDX 1.6 document: {error}"
    data: dict[str, Any] = json.loads(text)
    assert data["bomFormat"] == "CycloneDX"
    assert data["specVersion"] == "1.6"
    return data


def test_sbom_per_plugin_from_the_locks(project: Project) -> None:
    out = project.root / "out"
    result = project.ok("sbom", "-o", str(out))
    for plugin in PLUGINS:
        path = out / f"{plugin}.cdx.json"
        assert f"{plugin}: {path}" in result.out
        data = assert_valid(path.read_text(encoding="utf-8"))
        path_ = project.lock(plugin)
        lock = lockfile.parse(plugin, path_, path_.read_text(encoding="utf-8"))
        assert lock is not None
        root = data["metadata"]["component"]
        assert (root["name"], root["type"], root["bom-ref"]) == (
            plugin,
            "application",
            f"plugin:{plugin}",
        )
        tools = data["metadata"]["tools"]["components"]
        assert [t["name"] for t in tools] == ["reconciler"]
        got = {
            c["name"]: (c["version"], c["purl"], sorted(h["content"] for h in c["hashes"]))
            for c in data["components"]
        }
        want = {
            p.name: (
                p.version,
                f"pkg:pypi/{p.name}@{p.version}",
                sorted(h.removeprefix("sha256:") for h in p.hashes),
            )
            for p in lock.packages
        }
        assert got == want
        assert all(len(h) == 64 for _, _, hashes in got.values() for h in hashes)
    beta = json.loads((out / "tap-beta.cdx.json").read_text(encoding="utf-8"))
    deps = {d["ref"]: sorted(d.get("dependsOn", [])) for d in beta["dependencies"]}
    assert deps["plugin:tap-beta"] == ["pypi:tap-beta"]  # what the plugin asked for
    assert deps["pypi:tap-beta"] == ["pypi:demo-common", "pypi:demo-extra"]  # from `# via`
    assert deps["pypi:demo-common"] == []


def test_sbom_is_reproducible_and_selects_plugins(project: Project) -> None:
    env = {"SOURCE_DATE_EPOCH": "1700000000"}
    project.ok("sbom", "tap-alpha", "-o", "a", env=env)
    project.ok("sbom", "tap-alpha", "-o", "b", env=env)
    first = (project.root / "a" / "tap-alpha.cdx.json").read_bytes()
    assert first == (project.root / "b" / "tap-alpha.cdx.json").read_bytes()
    assert json.loads(first)["metadata"]["timestamp"].startswith("2023-11-14T22:13:20")
    assert sorted(p.name for p in (project.root / "a").iterdir()) == ["tap-alpha.cdx.json"]


def test_sbom_of_direct_sources_and_markers_is_valid(tmp_path: Path) -> None:
    commit = "0123456789abcdef0123456789abcdef01234567"
    digest = "a" * 64
    text = (
        "demo-linux==1.0.0 ; sys_platform == 'linux' \\\n"
        f"    --hash=sha256:{digest}\n"
        f"tap-vcs @ git+https://git.example.com/tap-vcs.git@{commit}\n"
        "    # via -r tap.in\n"
        f"tap-url @ https://files.example.com/tap_url-2.0-py3-none-any.whl#sha256={digest} \\\n"
        f"    --hash=sha256:{digest}\n"
        "./plugins/tap-local  # reconciler: name=tap-local\n"
    )
    path = tmp_path / "tap.txt"
    path.write_text(text, encoding="utf-8")
    lock = lockfile.parse("tap", path, text)
    data = assert_valid(sbom.document("tap", lock))
    by_name = {c["name"]: c for c in data["components"]}
    assert by_name["tap-vcs"]["purl"] == (
        "pkg:pypi/tap-vcs?vcs_url=git%2Bhttps://git.example.com/tap-vcs.git%40" + commit
    )
    assert "download_url=" in by_name["tap-url"]["purl"]
    assert by_name["demo-linux"]["properties"] == [
        {"name": "reconciler:marker", "value": 'sys_platform == "linux"'}
    ]
    local = next(c for c in data["components"] if "purl" not in c)
    assert {"name": "reconciler:path", "value": "./plugins/tap-local"} in local["properties"]
    deps = {d["ref"]: d.get("dependsOn", []) for d in data["dependencies"]}
    assert deps["plugin:tap"] == ["pypi:tap-vcs"]


def test_sbom_refuses_a_stale_or_missing_lock(project: Project) -> None:
    project.set_requirements("tap-alpha", ["tap-alpha==1.1.0"])
    project.lock("tap-beta").unlink()
    result = project.run("sbom", "-o", "out")
    assert result.code == 1, result.describe()
    assert "Traceback" not in result.err
    assert any("tap-alpha" in line and "stale" in line for line in result.err_lines)
    assert any("tap-beta" in line and "no lock" in line for line in result.err_lines)
    assert not (project.root / "out").exists()


def test_sbom_without_the_library_is_one_error_line(project: Project) -> None:
    blocker = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('cyclonedx', 'packageurl'):\n"
        "            raise ImportError(name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "from reconciler.cli import main\n"
        f"main(['--project', {str(project.root)!r}, 'sbom'])\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", blocker],
        capture_output=True,
        text=True,
        check=False,
        env=dict(os.environ),
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [f"error: {sbom.INSTALL_HINT}"]


@pytest.mark.parametrize("bad", ["../escape", "no-such-plugin"])
def test_sbom_unknown_plugin_is_an_error(project: Project, bad: str) -> None:
    result = project.run("sbom", bad, "-o", "out")
    assert result.code == 1, result.describe()
    assert result.err_lines[0].startswith("error: ")
    assert not (project.root / "out").exists()
