"""``reconciler fetch``: a hash-checked wheelhouse that ``apply --no-index --find-links`` uses.

Real pip-compile, real ``pip download``, real venvs; nothing touches the network (the example
project resolves from its own ``wheels/`` directory with ``no-index = true``).
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from helpers import (
    AMBIENT_PIP_VARS,
    EXAMPLE,
    PLUGINS,
    Result,
    assert_one_error,
    hermetic_environ,
    run_cli,
)

from reconciler.locking.fetch import Artifact, batches

PIN_RE = re.compile(r"^([A-Za-z0-9._-]+)==(\S+) \\$", re.MULTILINE)
HASH_RE = re.compile(r"--hash=sha256:([0-9a-f]{64})")


def ok(result: Result) -> str:
    """stdout of a command that must have succeeded."""
    assert result.returncode == 0, (result.stdout, result.stderr)
    return result.stdout


@pytest.fixture(scope="module")
def locked(tmp_path_factory: pytest.TempPathFactory, cache_dir: Path) -> Path:
    """The example project, locked once for this module (copy it before changing it)."""
    project = tmp_path_factory.mktemp("locked") / "project"
    shutil.copytree(EXAMPLE, project)
    with pytest.MonkeyPatch.context() as mp:  # module scope: conftest's autouse is per test
        for name in AMBIENT_PIP_VARS:
            mp.delenv(name, raising=False)
        for name, value in hermetic_environ(cache_dir, {}).items():
            mp.setenv(name, value)
        ok(run_cli(project, "lock"))
    return project


@pytest.fixture
def project(locked: Path, tmp_path: Path) -> Path:
    """A private copy of the locked example project."""
    copy = tmp_path / "project"
    shutil.copytree(locked, copy)
    return copy


def locked_pins(project: Path) -> dict[tuple[str, str], set[str]]:
    """``(name, version) -> sha256 hexes`` over every lock of ``project``."""
    pins: dict[tuple[str, str], set[str]] = {}
    for lock in (project / "lock").glob("*.txt"):
        text = lock.read_text(encoding="utf-8")
        for block in re.split(r"\n(?=\S)", text):
            pin = PIN_RE.match(block)
            if pin:
                key = (pin.group(1).replace("_", "-").lower(), pin.group(2))
                pins.setdefault(key, set()).update(HASH_RE.findall(block))
    return pins


def test_fetch_then_offline_apply(project: Path, tmp_path: Path) -> None:
    wheelhouse = tmp_path / "wheelhouse"
    out = ok(run_cli(project, "fetch", "--dest", str(wheelhouse)))
    pins = locked_pins(project)
    assert len(pins) == 6  # demo-common is locked at two versions, 1.1.0 by two plugins
    assert f"Fetched {len(pins)} artifacts ({len(pins)} files) for 3 plugins" in out

    files = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in wheelhouse.iterdir()}
    assert len(files) == len(pins)
    for (name, version), hashes in pins.items():
        wheel = f"{name.replace('-', '_')}-{version}-py3-none-any.whl"
        assert wheel in files
        assert files[wheel] in hashes

    # a second fetch into the same wheelhouse is a no-op that still verifies everything
    ok(run_cli(project, "fetch", "--dest", str(wheelhouse)))
    assert {p.name for p in wheelhouse.iterdir()} == set(files)

    shutil.rmtree(project / "wheels")  # the project's own wheelhouse is gone ...
    before_toml = (project / "reconciler.toml").read_bytes()
    before_locks = {p.name: p.read_bytes() for p in (project / "lock").iterdir()}
    ok(
        run_cli(project, "apply", "--no-index", "--find-links", str(wheelhouse))
    )  # ... offline apply
    for plugin in PLUGINS:
        script = project / ".venvs" / plugin / "bin" / plugin
        run = subprocess.run([str(script)], capture_output=True, text=True, check=False)
        assert run.returncode == 0, run.stderr
        assert run.stdout.startswith(f"{plugin} 1.0.0"), run.stdout

    # the override changed neither the settings nor the locks: nothing is stale, nothing to do
    assert (project / "reconciler.toml").read_bytes() == before_toml
    assert {p.name: p.read_bytes() for p in (project / "lock").iterdir()} == before_locks
    assert "No changes." in ok(run_cli(project, "plan"))
    ok(run_cli(project, "lock", "--check"))


def test_fetch_selected_plugin_only(project: Path, tmp_path: Path) -> None:
    wheelhouse = tmp_path / "wheelhouse"
    ok(run_cli(project, "fetch", "--dest", str(wheelhouse), "target-gamma"))
    assert sorted(p.name for p in wheelhouse.iterdir()) == [
        "demo_common-1.0.0-py3-none-any.whl",
        "target_gamma-1.0.0-py3-none-any.whl",
    ]
    assert "not declared" in assert_one_error(run_cli(project, "fetch", "--dest", "x", "nope"))


def test_fetch_with_corrupted_hash_fails(project: Path, tmp_path: Path) -> None:
    lock = project / "lock" / "target-gamma.txt"
    text = lock.read_text(encoding="utf-8")
    good = HASH_RE.search(text)
    assert good is not None
    digest = good.group(1)
    bad = ("0" if digest[0] != "0" else "1") + digest[1:]
    lock.write_text(text.replace(digest, bad), encoding="utf-8")

    wheelhouse = tmp_path / "wheelhouse"
    line = assert_one_error(run_cli(project, "fetch", "--dest", str(wheelhouse), "target-gamma"))
    assert "hash mismatch for" in line
    assert "target-gamma" in line
    assert bad in line
    assert digest in line
    assert not list(wheelhouse.glob("*.whl")) or all(
        hashlib.sha256(p.read_bytes()).hexdigest() != digest for p in wheelhouse.glob("*.whl")
    )


def test_fetch_refuses_missing_and_stale_locks(project: Path, tmp_path: Path) -> None:
    (project / "lock" / "tap-beta.txt").unlink()
    line = assert_one_error(run_cli(project, "fetch", "--dest", str(tmp_path / "w")))
    assert "plugin 'tap-beta': no lock" in line

    toml = project / "reconciler.toml"
    toml.write_text(
        toml.read_text(encoding="utf-8").replace('"tap-alpha==1.0.0"', '"tap-alpha>=1"'),
        encoding="utf-8",
    )
    line = assert_one_error(run_cli(project, "fetch", "--dest", str(tmp_path / "w"), "tap-alpha"))
    assert "plugin 'tap-alpha': lock lock/tap-alpha.txt is stale" in line
    assert not (tmp_path / "w").exists() or not list((tmp_path / "w").iterdir())


def test_fetch_needs_hashes(project: Path, tmp_path: Path) -> None:
    lock = project / "lock" / "target-gamma.txt"
    text = lock.read_text(encoding="utf-8")
    lock.write_text(re.sub(r" \\\n\s+--hash=sha256:[0-9a-f]{64}", "", text), encoding="utf-8")
    line = assert_one_error(
        run_cli(project, "fetch", "--dest", str(tmp_path / "w"), "target-gamma")
    )
    assert "lock/target-gamma.txt pins demo-common==1.0.0 without a hash" in line


def test_batches_never_pin_two_versions_together() -> None:
    def art(name: str, version: str) -> Artifact:
        return Artifact(name, version, ("sha256:" + "0" * 64,), ("p",))

    artifacts = [art("a", "1"), art("a", "2"), art("b", "1"), art("a", "3"), art("c", "1")]
    result = batches(artifacts)
    assert [[f"{a.name}=={a.version}" for a in b] for b in result] == [
        ["a==1", "b==1", "c==1"],
        ["a==2"],
        ["a==3"],
    ]
