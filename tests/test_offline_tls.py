"""uv's TLS settings only where a server may be reached: uv parses every certificate
``SSL_CERT_FILE``/``SSL_CERT_DIR`` name at each start, connection or not, so an installer call
from local files only (a wheelhouse with ``no-index``, ``file:``/``git+file:`` sources, a prebuilt
wheel) runs without them; one that may ask an index, a find-links URL or a VCS host keeps them.

Real uv, real venvs, a real git repository (``git+file://``), a real HTTPS stand-in for the index
whose CA only ``SSL_CERT_FILE`` trusts; the children's environments are recorded at the one
channel to them (:func:`reconciler.support.procs.run`), as ``test_locking``'s lock test does.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from conftest import Project
from helpers import WHEELS
from standin_index import StandInIndex
from test_one_call import apply_in_process, git_project

from reconciler.errors import ExecuteError
from reconciler.installers.base import install_batches
from reconciler.installers.pipconfig import TLS_VARIABLES, reaches_network
from reconciler.installers.uv import UvInstaller
from reconciler.models import IndexOptions, LockedPackage, Prebuilt
from reconciler.support import procs

Envs = list[tuple[list[str], dict[str, str]]]


@pytest.fixture
def uv_envs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Envs:
    """Every uv child's command and environment, with TLS settings of our own set."""
    certs = tmp_path / "certs"
    certs.mkdir()
    monkeypatch.setenv("SSL_CERT_DIR", str(certs))
    monkeypatch.setenv("SSL_CERT_FILE", str(certs / "bundle.pem"))
    monkeypatch.setenv("RECONCILER_TEST_KEEP", "kept")
    seen: Envs = []
    real = procs.run

    def recording(command: Sequence[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        words = [str(c) for c in command]
        if Path(words[0]).name == "uv":
            seen.append((words, dict(kwargs["env"])))
        return real(command, **kwargs)

    monkeypatch.setattr(procs, "run", recording)
    return seen


def _calls(envs: Envs, *verb: str) -> list[dict[str, str]]:
    return [env for words, env in envs if words[1 : 1 + len(verb)] == list(verb)]


def test_uv_applies_local_sources_without_tls_settings(tmp_path: Path, uv_envs: Envs) -> None:
    """A git+file plugin with hashed pins from a local wheelhouse: the one ``uv pip install``
    (and the ``uv pip uninstall`` of a later upgrade) gets no TLS variable, and everything else
    of the environment."""
    project, _ = git_project(tmp_path, "uv")
    uv_envs.clear()
    apply_in_process(project)
    assert project.dists("tap-g") == {"demo-common": "1.0.0", "tap-git": "0.1.0"}
    installs = _calls(uv_envs, "pip", "install")
    assert len(installs) == 1, [w for w, _ in uv_envs]
    assert not set(TLS_VARIABLES) & set(installs[0]), installs[0]
    assert installs[0]["RECONCILER_TEST_KEEP"] == "kept"

    toml = project.root / "reconciler.toml"
    toml.write_text(toml.read_text().replace(', "demo-common==1.0.0"', ""), encoding="utf-8")
    project.ok("lock")
    uv_envs.clear()
    apply_in_process(project)
    assert project.dists("tap-g") == {"tap-git": "0.1.0"}
    uninstalls = _calls(uv_envs, "pip", "uninstall")
    assert len(uninstalls) == 1, [w for w, _ in uv_envs]
    assert not set(TLS_VARIABLES) & set(uninstalls[0]), uninstalls[0]
    assert uninstalls[0]["RECONCILER_TEST_KEEP"] == "kept"


@pytest.mark.parametrize(
    "source",
    [
        pytest.param("", id="index"),
        pytest.param(
            'no-index = true\nfind-links = ["https://pypi.org/simple/demo-common/"]\n',
            id="https-find-links",
        ),
    ],
)
def test_uv_applies_from_a_server_with_its_tls_settings(
    tmp_path: Path, uv_envs: Envs, source: str
) -> None:
    """A pin is fetched over HTTPS (from the index, or a find-links page) from a stand-in whose
    CA only ``SSL_CERT_FILE`` names: the apply succeeds only because the install keeps it (a
    guard against dropping the settings where they are needed)."""
    root = tmp_path / "proj"
    root.mkdir()
    (root / "reconciler.toml").write_text(
        f'[settings]\ninstaller = "uv"\nresolver = "uv"\n{source}\n'
        f"[plugins.alpha]\nrequirements = {json.dumps(['demo-common==1.0.0'])}\n",
        encoding="utf-8",
    )
    project = Project(root)
    with StandInIndex(WHEELS.glob("*.whl"), tmp_path / "index") as index:
        with pytest.MonkeyPatch.context() as patch:
            for name, value in index.env().items():
                patch.setenv(name, value)
            project.ok("lock")
            asked = len(index.requests)
            uv_envs.clear()
            apply_in_process(project)
        assert any("/simple/demo-common/" in r for r in index.requests[asked:]), index.requests
        assert not index.refused, index.refused
    assert project.dists("alpha") == {"demo-common": "1.0.0"}
    installs = _calls(uv_envs, "pip", "install")
    assert len(installs) == 1, [w for w, _ in uv_envs]
    assert installs[0]["SSL_CERT_FILE"] == str(index.ca)


def test_uv_makes_a_venv_of_an_interpreter_path_without_tls_settings(
    tmp_path: Path, uv_envs: Envs
) -> None:
    """``uv venv --python <path>`` downloads nothing; a bare name (which uv may download a
    Python for) keeps the settings."""
    installer = UvInstaller()
    python = str(Path(sys.executable).resolve())
    installer._uv_venv(python, tmp_path / "by-path")
    assert (tmp_path / "by-path" / "pyvenv.cfg").is_file()
    name = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    with contextlib.suppress(ExecuteError):  # found or not: the environment is what counts
        installer._uv_venv(name, tmp_path / "by-name")
    by_path, by_name = _calls(uv_envs, "venv")
    assert not set(TLS_VARIABLES) & set(by_path), by_path
    assert by_path["RECONCILER_TEST_KEEP"] == "kept"
    assert by_name["SSL_CERT_DIR"] == str(tmp_path / "certs")


LOCAL = IndexOptions(find_links=("wheels", "file:///srv/wheels"), no_index=True)
PYPI = IndexOptions(find_links=("wheels",))
SHA = "0" * 64
PIN = LockedPackage.pin("demo-common", "1.0.0", (f"sha256:{SHA}",), marker=None)
PATH = LockedPackage.local("tap-p", "./tap-p", marker=None)


def _vcs(url: str) -> LockedPackage:
    return LockedPackage("tap-v", "", f"tap-v @ {url}", kind="vcs", url=url, commit="a" * 40)


def _url(url: str) -> LockedPackage:
    return LockedPackage.pin("x", "1.0", (f"sha256:{SHA}",), marker=None, url=url)


def _prebuilt(package: LockedPackage) -> LockedPackage:
    wheel = Prebuilt("file:///srv/wh/tap_v-0.1.0-py3-none-any.whl", SHA)
    return LockedPackage(
        package.name, "", package.requirement, kind=package.kind, url=package.url,
        commit=package.commit, prebuilt=wheel,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("index", "packages", "offline"),
    [
        pytest.param(LOCAL, [PIN], True, id="wheelhouse-pin"),
        pytest.param(LOCAL, [PIN, _vcs("git+file:///srv/repo@" + "a" * 40)], True, id="git-file"),
        pytest.param(LOCAL, [PIN, PATH], True, id="local-path"),
        pytest.param(LOCAL, [_url("file:///srv/x-1.0.tar.gz")], True, id="file-sdist"),
        pytest.param(PYPI, [_url("file:///srv/x-1.0-py3-none-any.whl")], True, id="index-unasked"),
        pytest.param(PYPI, [PIN, _prebuilt(_vcs("git+https://h/r@v1"))], False, id="index-pin"),
        pytest.param(PYPI, [_prebuilt(_vcs("git+https://h/r@v1"))], True, id="index-prebuilt"),
        pytest.param(PYPI, [PATH], False, id="index-builds-path"),
        pytest.param(PYPI, [_url("file:///srv/x-1.0.tar.gz")], False, id="index-builds-sdist"),
        pytest.param(LOCAL, [PIN, _vcs("git+https://h/r@" + "a" * 40)], False, id="git-https"),
        pytest.param(LOCAL, [PIN, _vcs("GIT+SSH://git@h/r@" + "a" * 40)], False, id="git-ssh"),
        pytest.param(LOCAL, [_url("https://h/x-1.0-py3-none-any.whl")], False, id="https-url"),
        pytest.param(
            IndexOptions(find_links=("wheels", "https://h/wheels/"), no_index=True),
            [PIN],
            False,
            id="find-links-url",
        ),
    ],
)
def test_an_install_call_is_offline_only_from_local_files(
    index: IndexOptions, packages: list[LockedPackage], offline: bool
) -> None:
    with install_batches(packages, index, Path("/proj"), mixed=True) as batches:
        assert len(batches) == 1  # uv's one call
        assert batches[0].offline is offline
    with install_batches(packages, index, Path("/proj")) as batches:  # pip: hashed first
        assert batches[-1].offline is offline


@pytest.mark.parametrize(
    ("text", "server"),
    [
        ("demo-common==1.0 --hash=sha256:00", False),
        ("-e file:///srv/edit", False),
        ("x @ FILE:///srv/x.whl", False),
        ("x @ git+file:///srv/repo@v1#egg=x", False),
        ("x @ file:///srv/x.whl ; python_version >= '3' and url == 'https://h'", True),
        ("x @ hfile://h/x.whl", True),
        ("x @ git+file:///srv/r@v1 ; y @ https://h/y", True),
        ("./a-dir://odd", True),
    ],
)
def test_every_url_on_a_line_is_looked_at(text: str, server: bool) -> None:
    assert reaches_network(LOCAL, [text]) is server
