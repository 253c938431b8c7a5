"""The committed fixture wheels are reproducible, well-formed and installable offline."""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
MAKE_WHEELS = FIXTURES / "make_wheels.py"
WHEELS = FIXTURES / "example" / "wheels"
COMMITTED = sorted(WHEELS.glob("*.whl"))
BIN = "Scripts" if sys.platform == "win32" else "bin"


def hermetic_env() -> dict[str, str]:
    """Environment for pip that ignores user/site config and any PIP_* overrides."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PIP_")}
    env.pop("PYTHONPATH", None)
    env.update(
        PIP_CONFIG_FILE=os.devnull,
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        PIP_NO_INPUT="1",
    )
    return env


def record_hash(data: bytes) -> str:
    """RECORD-style ``sha256=<urlsafe-b64-nopad>`` digest of *data*."""
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return "sha256=" + digest.decode("ascii")


def test_wheels_are_committed() -> None:
    """The wheelhouse holds exactly the fifteen expected wheels."""
    assert [path.name for path in COMMITTED] == [
        "demo_common-1.0.0-py3-none-any.whl",
        "demo_common-1.1.0-py3-none-any.whl",
        "demo_extra-1.0.0-py3-none-any.whl",
        "demo_extra-2.0.0-py3-none-any.whl",
        "demo_linux-1.0.0-py3-none-any.whl",
        "demo_macos-1.0.0-py3-none-any.whl",
        "demo_stray-1.0.0-py3-none-any.whl",
        "demo_windows-1.0.0-py3-none-any.whl",
        "tap_alpha-1.0.0-py3-none-any.whl",
        "tap_alpha-1.1.0-py3-none-any.whl",
        "tap_beta-1.0.0-py3-none-any.whl",
        "tap_multi-1.0.0-py3-none-any.whl",
        "tap_singer-1.0.0-py3-none-any.whl",
        "target_gamma-1.0.0-py3-none-any.whl",
        "target_singer-1.0.0-py3-none-any.whl",
    ]


def test_rebuild_is_byte_identical(tmp_path: Path) -> None:
    """Rebuilding reproduces every committed wheel byte for byte, nothing more or less."""
    subprocess.run(
        [sys.executable, str(MAKE_WHEELS), str(tmp_path)], check=True, capture_output=True
    )
    rebuilt = sorted(tmp_path.iterdir())
    assert [path.name for path in rebuilt] == [path.name for path in COMMITTED]
    for fresh, committed in zip(rebuilt, COMMITTED, strict=True):
        assert fresh.read_bytes() == committed.read_bytes(), f"{committed.name} is stale"


@pytest.mark.parametrize("wheel", COMMITTED, ids=lambda path: path.name)
def test_wheel_is_well_formed(wheel: Path) -> None:
    """RECORD lists every member with a correct hash and size; metadata matches the name."""
    dist, version = wheel.name.split("-")[:2]
    info = f"{dist}-{version}.dist-info"
    with zipfile.ZipFile(wheel) as zf:
        assert zf.testzip() is None
        members = {name: zf.read(name) for name in zf.namelist()}
    record = members.pop(f"{info}/RECORD").decode().splitlines()
    assert record[-1] == f"{info}/RECORD,,"
    listed = {}
    for line in record[:-1]:
        path, digest, size = line.rsplit(",", 2)
        listed[path] = (digest, int(size))
    assert listed == {name: (record_hash(data), len(data)) for name, data in members.items()}
    assert f"{dist}/__init__.py" in members
    metadata = members[f"{info}/METADATA"].decode()
    assert "Metadata-Version: 2.1\n" in metadata
    assert f"Name: {dist.replace('_', '-')}\n" in metadata
    assert f"Version: {version}\n" in metadata
    assert "Tag: py3-none-any\n" in members[f"{info}/WHEEL"].decode()


@pytest.mark.parametrize(
    ("requirements", "script", "expected"),
    [
        (["tap-beta"], "tap-beta", "tap-beta 1.0.0 (demo-common 1.1.0) demo-extra 2.0.0"),
        (
            ["tap-alpha==1.0.0", "demo-common==1.0.0"],
            "tap-alpha",
            "tap-alpha 1.0.0 (demo-common 1.0.0)",
        ),
        (
            ["target-gamma", "demo-common<1.1"],
            "target-gamma",
            "target-gamma 1.0.0 (demo-common 1.0.0)",
        ),
    ],
)
def test_plugin_installs_and_runs(
    tmp_path: Path, requirements: list[str], script: str, expected: str
) -> None:
    """A plugin installs offline into a fresh venv and its console script runs."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / BIN / "python"
    env = hermetic_env()
    pip = [sys.executable, "-m", "pip", "--python", str(python)]
    subprocess.run(
        [*pip, "install", "--no-index", "--find-links", str(WHEELS), *requirements],
        check=True,
        env=env,
        capture_output=True,
    )
    subprocess.run([*pip, "check"], check=True, env=env, capture_output=True)
    result = subprocess.run(
        [str(venv / BIN / script)], check=True, env=env, capture_output=True, text=True
    )
    assert result.stdout == expected + "\n"
