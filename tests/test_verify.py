"""``plan/status/apply --verify``: installed files checked against ``*.dist-info/RECORD``.

Real venvs built by the real installers from the fixture wheelhouse; the drift is made by hand
(edit, delete, plant a file) the way a user or an intruder would.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import EXPECTED_OUTPUT, PLUGINS, Project

from reconciler import records
from reconciler.models import FileDrift


@pytest.fixture(params=["pip", "uv"])
def installer(request: pytest.FixtureRequest, project: Project) -> str:
    """The e2e tests here run once per installer backend."""
    name: str = request.param
    with project.edit() as doc:
        doc["settings"]["installer"] = name
    return name


def inodes(site: Path, top: str) -> dict[str, int]:
    """``{relpath: inode}`` of every file below ``site/top`` (outside ``__pycache__``)."""
    found = {}
    for path in sorted((site / top).rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            found[str(path.relative_to(site))] = path.stat().st_ino
    return found


def test_verify_finds_modified_missing_and_unexpected_files_and_apply_repairs(
    project: Project, installer: str
) -> None:
    project.ok("apply")
    site = project.site_packages("tap-beta")
    # One edit through a file the installer may hard-link from its cache (uv): the plan names
    # every venv whose file changed, and the repair must not copy the edited file back.
    with (site / "demo_common" / "__init__.py").open("a", encoding="utf-8") as handle:
        handle.write("raise SystemExit('tampered')\n")
    (site / "demo_extra" / "__init__.py").unlink()
    (site / "tap_beta" / "evil.py").write_text("print('planted')\n", encoding="utf-8")
    (site / "demo_extra-2.0.0.dist-info" / "planted").write_text("x", encoding="utf-8")
    (site / "tap_beta" / "__pycache__").mkdir(exist_ok=True)
    (site / "tap_beta" / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"ignored")
    (site / "stray-at-top.pth").write_text("", encoding="utf-8")  # owned by nobody: ignored
    untouched = inodes(site, "tap_beta-1.0.0.dist-info")

    plain = project.run("plan", "--detailed-exitcode")
    assert plain.code == 0, plain.describe()  # without --verify: no RECORD read, no drift
    assert "No changes." in plain.out

    result = project.run("plan", "--verify", "--detailed-exitcode")
    assert result.code == 2, result.describe()
    beta = project.change("tap-beta", "--verify")
    assert beta["action"] == "upgrade"
    assert beta["reasons"] == [
        "demo-common: demo_common/__init__.py modified",
        "demo-extra: demo_extra-2.0.0.dist-info/planted unexpected",
        "demo-extra: demo_extra/__init__.py missing",
        "tap-beta: tap_beta/evil.py unexpected",
    ]
    assert [(e["name"], e["from"], e.get("repair")) for e in beta["install"]] == [
        ("demo-common", "1.1.0", True),
        ("demo-extra", "2.0.0", True),
        ("tap-beta", "1.0.0", True),
    ]
    assert beta["uninstall"] == []
    assert beta["delete_files"] == ["demo_extra-2.0.0.dist-info/planted", "tap_beta/evil.py"]
    assert "demo-common: demo_common/__init__.py modified" in result.out
    gamma = project.change("target-gamma", "--verify")  # demo-common 1.0.0: another file
    assert gamma["action"] == "no-op"

    status = project.ok("status", "--verify")
    assert "upgrade: demo-common: demo_common/__init__.py modified" in status.out

    project.ok("apply", "--verify")
    assert not (site / "tap_beta" / "evil.py").exists()
    assert (site / "demo_extra" / "__init__.py").is_file()
    assert (site / "stray-at-top.pth").exists()  # not a distribution's file: left alone
    assert project.script("tap-beta") == EXPECTED_OUTPUT["tap-beta"] + "\n"
    assert project.script("tap-alpha") == EXPECTED_OUTPUT["tap-alpha"] + "\n"
    again = project.run("plan", "--verify", "--detailed-exitcode")
    assert again.code == 0, again.describe()
    assert "No changes." in again.out
    # tap-beta's own files were reinstalled (the planted one is gone), target-gamma untouched
    assert inodes(site, "tap_beta-1.0.0.dist-info") != untouched


def test_verify_repairs_only_the_affected_distributions(project: Project, installer: str) -> None:
    project.ok("apply", "tap-beta")  # the one venv this test damages and repairs
    site = project.site_packages("tap-beta")
    script = project.venv("tap-beta") / "bin" / "tap-beta"
    script.write_text("#!/bin/sh\necho hijacked\n", encoding="utf-8")
    before = {top: inodes(site, top) for top in ("demo_common", "demo_extra")}
    change = project.change("tap-beta", "--verify")
    assert change["reasons"] == ["tap-beta: bin/tap-beta modified"]
    assert [e["name"] for e in change["install"]] == ["tap-beta"]
    verbose = project.ok("-v", "apply", "--verify", "tap-beta")
    force = "--force-reinstall" if installer == "pip" else "--reinstall"
    calls = [line for line in verbose.err.splitlines() if force in line]
    assert len(calls) == 1, verbose.describe()
    assert "--no-deps" in calls[0]
    assert "--require-hashes" in calls[0]
    assert project.script("tap-beta") == EXPECTED_OUTPUT["tap-beta"] + "\n"
    assert {top: inodes(site, top) for top in ("demo_common", "demo_extra")} == before


def test_verify_with_generations_builds_a_clean_generation(project: Project) -> None:
    with project.edit() as doc:
        doc["settings"]["keep-generations"] = 1
    project.ok("apply")
    site = project.site_packages("tap-alpha")
    (site / "tap_alpha" / "backdoor.py").write_text("", encoding="utf-8")
    (site / "demo_common" / "__init__.py").write_text("tampered = True\n", encoding="utf-8")
    live = project.venv("tap-alpha").readlink()
    project.ok("apply", "--verify", "tap-alpha")
    assert project.venv("tap-alpha").readlink() != live  # a new generation, flipped
    assert project.script("tap-alpha") == EXPECTED_OUTPUT["tap-alpha"] + "\n"
    result = project.run("plan", "--verify", "--detailed-exitcode", "tap-alpha")
    assert result.code == 0, result.describe()


def test_saved_plan_with_verify_refuses_when_files_changed_since(project: Project) -> None:
    project.ok("apply")
    plan_file = project.root / "plan.json"
    project.ok("plan", "--verify", "-o", str(plan_file))
    site = project.site_packages("target-gamma")
    (site / "target_gamma" / "__init__.py").write_text("x = 1\n", encoding="utf-8")
    stale = project.run("apply", "--verify", str(plan_file))
    assert stale.code == 1, stale.describe()
    assert "stale plan" in stale.err
    assert "target-gamma" in stale.err


def test_plan_without_verify_does_not_load_the_verifier(project: Project) -> None:
    project.ok("apply")
    code = (
        "import sys\n"
        "from reconciler import cli\n"
        "try:\n"
        f"    cli.main(['--project', {str(project.root)!r}, 'plan'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print('reconciler.records' in sys.modules, 'csv' in sys.modules, file=sys.stderr)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=project.root
    )
    assert out.stderr.strip().splitlines()[-1] == "False False", out.stderr


# --- the verifier on its own (reconciler.records) ----------------------------------------------


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"sha256={digest}"


def _install(
    site: Path, dist: str, files: dict[str, bytes], extra_rows: tuple[str, ...] = ()
) -> None:
    """Lay out a distribution the way an installer does: files plus a RECORD listing them."""
    info = site / f"{dist}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_bytes(b"Metadata-Version: 2.1\n")
    rows = [
        f"{dist}.dist-info/METADATA,{_record_hash(b'Metadata-Version: 2.1' + chr(10).encode())},22"
    ]
    for rel, data in files.items():
        path = site / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        rows.append(f"{rel},{_record_hash(data)},{len(data)}")
    rows.extend(extra_rows)
    rows.append(f"{dist}.dist-info/RECORD,,")
    (info / "RECORD").write_text("\n".join(rows) + "\n", encoding="utf-8")


@pytest.fixture
def venv(tmp_path: Path) -> tuple[Path, Path]:
    root = tmp_path / "venv"
    site = root / "lib" / "python3.11" / "site-packages"
    site.mkdir(parents=True)
    return root, site


def test_records_clean_venv_has_no_drift(venv: tuple[Path, Path]) -> None:
    root, site = venv
    _install(site, "pkg-1.0", {"pkg/__init__.py": b"x = 1\n", "pkg/sub/m.py": b""})
    (site / "pkg" / "__pycache__").mkdir()
    (site / "pkg" / "__pycache__" / "m.pyc").write_bytes(b"anything")
    assert records.verify(str(root), str(site)) == ()


def test_records_same_size_edit_is_caught_by_hash(venv: tuple[Path, Path]) -> None:
    root, site = venv
    _install(site, "pkg-1.0", {"pkg/__init__.py": b"x = 1\n"})
    (site / "pkg" / "__init__.py").write_bytes(b"x = 2\n")
    assert records.verify(str(root), str(site)) == (
        FileDrift("pkg", "pkg/__init__.py", "modified"),
    )


def test_records_symlink_and_fifo_are_modified_never_followed(venv: tuple[Path, Path]) -> None:
    root, site = venv
    _install(site, "pkg-1.0", {"pkg/a.py": b"a", "pkg/b.py": b"b"})
    secret = root.parent / "secret"
    secret.write_bytes(b"a")  # same bytes: a followed symlink would look clean
    (site / "pkg" / "a.py").unlink()
    (site / "pkg" / "a.py").symlink_to(secret)
    (site / "pkg" / "b.py").unlink()
    os.mkfifo(site / "pkg" / "b.py")  # opening it would block: it must not be opened
    assert records.verify(str(root), str(site)) == (
        FileDrift("pkg", "pkg/a.py", "modified"),
        FileDrift("pkg", "pkg/b.py", "modified"),
    )


def test_records_paths_outside_the_venv_are_never_read(venv: tuple[Path, Path]) -> None:
    root, site = venv
    outside = root.parent / "outside.txt"
    outside.write_text("not ours", encoding="utf-8")
    rel = os.path.relpath(outside, site)
    _install(site, "pkg-1.0", {"pkg/a.py": b"a"}, extra_rows=(f"{rel},sha256=AAAA,1",))
    assert records.verify(str(root), str(site)) == ()


def test_records_missing_record_and_unexpected_symlinked_dir(venv: tuple[Path, Path]) -> None:
    root, site = venv
    _install(site, "pkg-1.0", {"pkg/a.py": b"a"})
    _install(site, "other-2.0", {"other/b.py": b"b"})
    (site / "other-2.0.dist-info" / "RECORD").unlink()
    (site / "pkg" / "linked").symlink_to(root.parent)
    assert records.verify(str(root), str(site)) == (
        FileDrift("other", "other-2.0.dist-info/RECORD", "missing"),
        FileDrift("pkg", "pkg/linked", "unexpected"),
    )


def test_records_namespace_package_blames_the_nearest_owner(venv: tuple[Path, Path]) -> None:
    root, site = venv
    _install(site, "ns_one-1.0", {"ns/one/__init__.py": b"1"})
    _install(site, "ns_two-1.0", {"ns/two/__init__.py": b"2"})
    (site / "ns" / "two" / "extra.py").write_bytes(b"")
    (site / "ns" / "loose.py").write_bytes(b"")
    assert records.verify(str(root), str(site)) == (
        FileDrift("ns-one", "ns/loose.py", "unexpected"),
        FileDrift("ns-two", "ns/loose.py", "unexpected"),
        FileDrift("ns-two", "ns/two/extra.py", "unexpected"),
    )


def test_records_read_real_installer_output(project: Project) -> None:
    """RECORDs written by the real installer (scripts with rewritten shebangs, INSTALLER,
    direct_url.json) all verify clean."""
    project.ok("apply")
    for plugin in PLUGINS:
        site = project.site_packages(plugin)
        assert records.verify(str(project.venv(plugin)), str(site)) == (), plugin
    data = json.loads(project.ok("status", "--verify", "--json").out)
    assert {row["drift"] for row in data["plugins"]} == {"no"}


def test_records_never_read_through_a_symlinked_package_directory(
    venv: tuple[Path, Path],
) -> None:
    root, site = venv
    _install(site, "pkg-1.0", {"pkg/a.py": b"a", "pkg/sub/b.py": b"b"})
    elsewhere = root.parent / "elsewhere"
    (site / "pkg").rename(elsewhere)  # same bytes: reading through the link would look clean
    (site / "pkg").symlink_to(elsewhere, target_is_directory=True)
    assert records.verify(str(root), str(site)) == (FileDrift("pkg", "pkg", "modified"),)
