"""`reconciler lock`: real pip-compile runs against the fixture wheelhouse, offline."""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "example"
WHEELS = FIXTURE / "wheels"
PY312 = Path("/root/.pyenv/versions/3.12.1/bin/python3.12")


def reconciler(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the CLI as a real process."""
    return subprocess.run(
        [sys.executable, "-m", "reconciler", "--project", str(project), *args],
        capture_output=True,
        text=True,
        check=False,
    )


def make_project(tmp_path: Path, plugins: str) -> Path:
    """A project using the fixture wheelhouse with the given ``[plugins.*]`` tables."""
    project = tmp_path / "proj"
    project.mkdir()
    (project / "reconciler.toml").write_text(
        f'[settings]\nfind-links = ["{WHEELS}"]\nno-index = true\n\n{plugins}', encoding="utf-8"
    )
    return project


def pins(lock: Path) -> dict[str, str]:
    """``name -> version`` of every pin in a lock file."""
    return dict(re.findall(r"^([a-z0-9-]+)==(\S+)", lock.read_text(encoding="utf-8"), re.M))


def wheel_hash(name: str) -> str:
    """sha256 of a fixture wheel, as pip-compile writes it."""
    return "sha256:" + hashlib.sha256((WHEELS / name).read_bytes()).hexdigest()


TWO_PLUGINS = (
    '[plugins.beta]\nrequirements = ["tap-beta"]\n\n'
    '[plugins.gamma]\nrequirements = ["target-gamma"]\n'
)


def test_check_reports_missing_then_fresh_then_stale(tmp_path: Path) -> None:
    project = make_project(tmp_path, '[plugins.beta]\nrequirements = ["tap-beta"]\n')
    result = reconciler(project, "lock", "--check")
    assert result.returncode == 2, result
    assert "beta: missing" in result.stdout
    assert not (project / "lock").exists(), "--check must change nothing"

    assert reconciler(project, "lock").returncode == 0
    result = reconciler(project, "lock", "--check")
    assert result.returncode == 0, result
    assert "beta: fresh" in result.stdout

    toml = project / "reconciler.toml"
    toml.write_text(toml.read_text().replace('"tap-beta"', '"tap-beta", "demo-extra<2"'))
    result = reconciler(project, "lock", "--check")
    assert result.returncode == 2
    assert "beta: stale (requirements changed)" in result.stdout

    toml.write_text(toml.read_text().replace("no-index = true", "no-index = true\nindex-url = 'x'"))
    result = reconciler(project, "lock", "--check")
    assert "index settings changed" in result.stdout


def test_orphaned_lock_reported_then_deleted(tmp_path: Path) -> None:
    project = make_project(
        tmp_path,
        TWO_PLUGINS,
    )
    assert reconciler(project, "lock").returncode == 0
    toml = project / "reconciler.toml"
    toml.write_text(toml.read_text().split("[plugins.gamma]")[0])
    handwritten = project / "lock" / "notes.txt"
    handwritten.write_text("not a lock of ours\n")
    result = reconciler(project, "lock", "--check")
    assert result.returncode == 2
    assert "gamma: orphaned lock gamma.txt" in result.stdout
    assert reconciler(project, "lock").returncode == 0
    assert not (project / "lock" / "gamma.txt").exists()
    assert handwritten.exists(), "files without our header are never deleted"


def test_incremental_lock_leaves_fresh_locks_byte_identical(tmp_path: Path) -> None:
    project = make_project(
        tmp_path,
        TWO_PLUGINS,
    )
    assert reconciler(project, "lock").returncode == 0
    beta, gamma = project / "lock" / "beta.txt", project / "lock" / "gamma.txt"
    before = (beta.read_bytes(), beta.stat().st_mtime_ns, beta.stat().st_ino)
    toml = project / "reconciler.toml"
    toml.write_text(
        toml.read_text().replace('["target-gamma"]', '["target-gamma", "demo-common<1.1"]')
    )
    result = reconciler(project, "lock")
    assert result.returncode == 0, result.stderr
    assert "1 written, 1 unchanged" in result.stdout
    assert (beta.read_bytes(), beta.stat().st_mtime_ns, beta.stat().st_ino) == before
    assert pins(gamma)["demo-common"] == "1.0.0"


def test_digest_ignores_comments_and_whitespace_in_toml(tmp_path: Path) -> None:
    project = make_project(tmp_path, '[plugins.beta]\nrequirements = ["tap-beta>=1"]\n')
    assert reconciler(project, "lock").returncode == 0
    toml = project / "reconciler.toml"
    toml.write_text(
        "# a comment\n" + toml.read_text().replace('["tap-beta>=1"]', '[ "tap-beta >= 1" ]  # why')
    )
    result = reconciler(project, "lock", "--check")
    assert result.returncode == 0, result.stdout


def test_upgrade_package_bumps_only_that_package(tmp_path: Path) -> None:
    project = make_project(tmp_path, '[plugins.beta]\nrequirements = ["tap-beta"]\n')
    assert reconciler(project, "lock").returncode == 0
    lock = project / "lock" / "beta.txt"
    assert pins(lock) == {"demo-common": "1.1.0", "demo-extra": "2.0.0", "tap-beta": "1.0.0"}
    # Pretend the lock was made when only the 1.0.0 releases existed (hashes stay valid).
    text = lock.read_text()
    for dist, new in (("demo-common", "1.1.0"), ("demo-extra", "2.0.0")):
        wheel = dist.replace("-", "_")
        text = text.replace(f"{dist}=={new}", f"{dist}==1.0.0")
        text = text.replace(
            wheel_hash(f"{wheel}-{new}-py3-none-any.whl"),
            wheel_hash(f"{wheel}-1.0.0-py3-none-any.whl"),
        )
    lock.write_text(text)
    assert reconciler(project, "lock").returncode == 0, "a fresh lock is not re-resolved"
    assert pins(lock)["demo-extra"] == "1.0.0"

    result = reconciler(project, "lock", "--upgrade-package", "demo-extra")
    assert result.returncode == 0, result.stderr
    assert pins(lock) == {"demo-common": "1.0.0", "demo-extra": "2.0.0", "tap-beta": "1.0.0"}

    result = reconciler(project, "lock", "--upgrade")
    assert result.returncode == 0, result.stderr
    assert pins(lock)["demo-common"] == "1.1.0"


def test_lock_holds_no_machine_path_and_reads_the_same_everywhere(tmp_path: Path) -> None:
    project = make_project(tmp_path, '[plugins.beta]\nrequirements = ["tap-beta"]\n')
    assert reconciler(project, "lock").returncode == 0
    text = (project / "lock" / "beta.txt").read_text()
    assert str(tmp_path) not in text
    assert str(WHEELS) not in text
    assert "--find-links" not in text
    assert "--index-url" not in text
    assert "#    reconciler lock\n" in text
    assert text.startswith("# reconciler-inputs: sha256:")


@pytest.mark.parametrize(
    ("requirement", "expected"),
    [
        pytest.param("demo-common>=5", "demo-common>=5", id="no-matching-version"),
        pytest.param("no-such-dist", "no-such-dist", id="unknown-distribution"),
    ],
)
def test_resolution_error_is_one_line_naming_plugin(
    tmp_path: Path, requirement: str, expected: str
) -> None:
    project = make_project(tmp_path, f'[plugins.beta]\nrequirements = ["{requirement}"]\n')
    result = reconciler(project, "lock")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: plugin 'beta': cannot lock:")
    assert expected in lines[0]
    assert "Traceback" not in result.stderr


def test_conflict_names_the_conflicting_requirement(tmp_path: Path) -> None:
    project = make_project(
        tmp_path, '[plugins.alpha]\nrequirements = ["tap-alpha==1.1.0", "demo-common<1.1"]\n'
    )
    result = reconciler(project, "lock")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0] == (
        "error: plugin 'alpha': cannot lock: conflicting requirements: "
        "demo-common<1.1 (requested) vs demo-common>=1.1 (from tap_alpha-1.1.0)"
    )


def test_missing_interpreter_is_one_line_naming_plugin_and_what_was_tried(tmp_path: Path) -> None:
    project = make_project(
        tmp_path, '[plugins.beta]\nrequirements = ["tap-beta"]\npython = "python9.99"\n'
    )
    result = reconciler(project, "lock")
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "error: plugin 'beta': interpreter 'python9.99' not found (tried python9.99 on PATH)"
    )


@pytest.mark.skipif(not PY312.exists(), reason=f"second interpreter {PY312} not installed")
def test_plugin_is_resolved_for_its_own_interpreter(tmp_path: Path) -> None:
    project = make_project(
        tmp_path,
        f'[plugins.beta]\nrequirements = ["tap-beta"]\n\n'
        f'[plugins.new]\nrequirements = ["tap-beta"]\npython = "{PY312}"\n',
    )
    result = reconciler(project, "lock")
    assert result.returncode == 0, result.stderr
    assert "autogenerated by pip-compile with Python 3.12" in (project / "lock/new.txt").read_text()
    assert " python=3.12 " in (project / "lock/new.txt").read_text()
    assert (
        f"Python {sys.version_info.major}.{sys.version_info.minor}"
        in (project / "lock/beta.txt").read_text()
    )
    helpers = list((project / ".venvs" / ".reconciler" / "tools").iterdir())
    assert len(helpers) == 1
    # The helper environment is reused: a second resolution creates nothing new.
    helper_inode = helpers[0].stat().st_ino
    assert reconciler(project, "lock", "--upgrade").returncode == 0
    assert helpers[0].stat().st_ino == helper_inode
    # Plan and apply build the venv with that interpreter.
    assert reconciler(project, "apply").returncode == 0
    cfg = (project / ".venvs" / "new" / "pyvenv.cfg").read_text()
    assert "3.12" in cfg
    out = subprocess.run(
        [project / ".venvs/new/bin/tap-beta"], capture_output=True, text=True, check=True
    )
    assert out.stdout.startswith("tap-beta 1.0.0")
    assert reconciler(project, "plan", "--detailed-exitcode").returncode == 0
    shutil.rmtree(project / ".venvs")
