"""uv's TLS settings only where a server may be reached or something built: uv parses every
certificate ``SSL_CERT_FILE``/``SSL_CERT_DIR`` name at each start, connection or not, so an
installer call of local wheels only (pins from a wheelhouse with ``no-index``, ``file:`` wheels,
prebuilt wheels) runs without them; one that may ask an index, a find-links URL or a VCS host, or
may build (a ``git+file:`` or path source, an sdist, a pin with an sdist among the find-links:
a build's own downloads must trust what the user trusts) keeps them.

Real uv, real venvs, a real git repository (``git+file://``), a real HTTPS stand-in for the index
whose CA only ``SSL_CERT_FILE`` trusts; the children's environments are recorded at the one
channel to them (:func:`reconciler.support.procs.run`), as ``test_locking``'s lock test does.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from conftest import Project
from helpers import WHEELS
from standin_index import StandInIndex
from test_direct import TEST_WHEELS, make_sdist, new_project
from test_one_call import apply_in_process, git_project

from reconciler.errors import ExecuteError
from reconciler.installers.base import install_batches
from reconciler.installers.pipconfig import TLS_VARIABLES, needs_tls
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


def test_uv_locks_and_applies_a_git_file_plugin_with_its_tls_settings(
    tmp_path: Path, uv_envs: Envs
) -> None:
    """A git+file plugin with hashed pins from a local wheelhouse: its lock and its one
    ``uv pip install`` build the plugin (a build may download), so both keep the TLS settings;
    the ``uv pip uninstall`` of a later upgrade, which removes files, gets none, and everything
    else of the environment."""
    project, _ = git_project(tmp_path, "uv")
    compiles = _calls(uv_envs, "pip", "compile")
    assert len(compiles) == 1, [w for w, _ in uv_envs]
    assert compiles[0]["SSL_CERT_DIR"] == str(tmp_path / "certs")
    uv_envs.clear()
    apply_in_process(project)
    assert project.dists("tap-g") == {"demo-common": "1.0.0", "tap-git": "0.1.0"}
    installs = _calls(uv_envs, "pip", "install")
    assert len(installs) == 1, [w for w, _ in uv_envs]
    assert installs[0]["SSL_CERT_FILE"] == str(tmp_path / "certs" / "bundle.pem")
    assert installs[0]["SSL_CERT_DIR"] == str(tmp_path / "certs")

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


def test_uv_upgrades_a_wheelhouse_pin_without_tls_settings(tmp_path: Path, uv_envs: Envs) -> None:
    """The common case, a one-pin upgrade from a local wheelhouse: neither the lock nor the
    install (wheels only, nothing built) gets a TLS variable; everything else is kept."""
    project = new_project(
        tmp_path / "proj", '[plugins.alpha]\nrequirements = ["demo-common==1.0.0"]\n',
        'installer = "uv"\nresolver = "uv"', wheels=False,
    )  # fmt: skip
    project.ok("lock")
    apply_in_process(project)
    toml = project.root / "reconciler.toml"
    toml.write_text(toml.read_text().replace("==1.0.0", "==1.1.0"), encoding="utf-8")
    project.ok("lock")
    uv_envs.clear()
    apply_in_process(project)
    assert project.dists("alpha") == {"demo-common": "1.1.0"}
    installs = _calls(uv_envs, "pip", "install")
    assert len(installs) == 1, [w for w, _ in uv_envs]
    assert not set(TLS_VARIABLES) & set(installs[0]), installs[0]
    assert installs[0]["RECONCILER_TEST_KEEP"] == "kept"


def test_uv_applies_a_pin_with_an_sdist_among_find_links_with_its_tls_settings(
    tmp_path: Path, uv_envs: Envs
) -> None:
    """A pin whose only artifact in the local find-links is an sdist is built at install: the
    install keeps the TLS settings (its build backend is looked up, a build may download)."""
    links = tmp_path / "links"
    links.mkdir()
    make_sdist(links)
    shutil.copy2(WHEELS / "demo_common-1.1.0-py3-none-any.whl", links)
    shutil.copy2(sorted(TEST_WHEELS.glob("flit_core-*.whl"))[-1], links)
    root = tmp_path / "proj"
    root.mkdir()
    (root / "reconciler.toml").write_text(
        f'[settings]\nno-index = true\nfind-links = ["{links}"]\ninstaller = "uv"\n'
        'resolver = "uv"\n\n[plugins.s]\nrequirements = ["demo-sdist"]\n',
        encoding="utf-8",
    )
    project = Project(root)
    project.ok("lock")
    assert _calls(uv_envs, "pip", "compile")[0]["SSL_CERT_DIR"] == str(tmp_path / "certs")
    uv_envs.clear()
    apply_in_process(project)
    assert project.dists("s") == {"demo-common": "1.1.0", "demo-sdist": "1.0"}
    installs = _calls(uv_envs, "pip", "install")
    assert len(installs) == 1, [w for w, _ in uv_envs]
    assert installs[0]["SSL_CERT_DIR"] == str(tmp_path / "certs")


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


#: a wheelhouse by relative path and by ``file:`` URL (both made by ``_links``, wheels only)
LOCAL = IndexOptions(find_links=("wheels", "file:///proj/more"), no_index=True)
PYPI = IndexOptions(find_links=("wheels",))
SHA = "0" * 64
PIN = LockedPackage.pin("demo-common", "1.0.0", (f"sha256:{SHA}",), marker=None)
PATH = LockedPackage.local("tap-p", "./tap-p", marker=None)


def _links(root: Path, index: IndexOptions, *files: str) -> IndexOptions:
    """``index`` with its find-links made real below ``root`` (the project directory), holding
    a wheel and ``files`` (empty: the rule lists names, it never opens a file)."""
    links: list[str] = []
    for link in index.find_links:
        if "://" in link and not link.startswith("file:"):
            links.append(link)
            continue
        path = root / link.removeprefix("file:///proj/")
        path.mkdir(parents=True, exist_ok=True)
        for name in ("demo_common-1.0.0-py3-none-any.whl", "reconciler-wheels.json", *files):
            (path / name).write_bytes(b"")
        links.append(path.as_uri() if link.startswith("file:") else link)
    return IndexOptions(find_links=tuple(links), no_index=index.no_index)


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
    ("index", "packages", "files", "tls"),
    [
        pytest.param(LOCAL, [PIN], (), False, id="wheelhouse-pin"),
        pytest.param(LOCAL, [PIN], ("other_pkg-1.0.tar.gz",), False, id="sdist-of-another"),
        pytest.param(LOCAL, [PIN], ("Demo.Common-0.9.tar.gz",), True, id="sdist-of-the-pin"),
        pytest.param(LOCAL, [PIN], ("demo_common-1.0.0.tar.bz2",), True, id="sdist-bz2"),
        pytest.param(LOCAL, [PIN], ("oddname.zip",), True, id="sdist-unparsable"),
        pytest.param(LOCAL, [_prebuilt(_vcs("git+file:///srv/r@v1"))], (), False, id="prebuilt"),
        pytest.param(LOCAL, [_url("file:///srv/x-1.0-py3-none-any.whl")], (), False, id="whl"),
        pytest.param(LOCAL, [PIN, _vcs("git+file:///srv/repo@" + "a" * 40)], (), True,
                     id="git-file"),
        pytest.param(LOCAL, [PIN, PATH], (), True, id="local-path"),
        pytest.param(LOCAL, [_url("file:///srv/x-1.0.tar.gz")], (), True, id="file-sdist"),
        pytest.param(PYPI, [_url("file:///srv/x-1.0-py3-none-any.whl")], (), False,
                     id="index-unasked"),
        pytest.param(PYPI, [PIN, _prebuilt(_vcs("git+https://h/r@v1"))], (), True,
                     id="index-pin"),
        pytest.param(PYPI, [_prebuilt(_vcs("git+https://h/r@v1"))], (), False,
                     id="index-prebuilt"),
        pytest.param(PYPI, [PATH], (), True, id="index-builds-path"),
        pytest.param(PYPI, [_url("file:///srv/x-1.0.tar.gz")], (), True, id="index-builds-sdist"),
        pytest.param(LOCAL, [PIN, _vcs("git+https://h/r@" + "a" * 40)], (), True, id="git-https"),
        pytest.param(LOCAL, [PIN, _vcs("GIT+SSH://git@h/r@" + "a" * 40)], (), True, id="git-ssh"),
        pytest.param(LOCAL, [_url("https://h/x-1.0-py3-none-any.whl")], (), True,
                     id="https-url"),
        pytest.param(IndexOptions(find_links=("wheels", "https://h/wheels/"), no_index=True),
                     [PIN], (), True, id="find-links-url"),
    ],
)  # fmt: skip
def test_an_install_call_drops_tls_only_for_local_wheels(
    tmp_path: Path,
    index: IndexOptions,
    packages: list[LockedPackage],
    files: tuple[str, ...],
    tls: bool,
) -> None:
    real = _links(tmp_path, index, *files)
    with install_batches(packages, real, tmp_path, mixed=True) as batches:
        assert len(batches) == 1  # uv's one call
        assert batches[0].tls is tls
    with install_batches(packages, real, tmp_path) as batches:  # pip: hashed first
        assert batches[-1].tls is tls


def test_an_unreadable_find_links_entry_keeps_tls(tmp_path: Path) -> None:
    """A find-links entry that is not a readable directory (missing, a file) cannot be listed:
    it may hold anything, so a pin looked up among find-links keeps the settings."""
    (tmp_path / "wheels").mkdir()
    (tmp_path / "a-file").write_bytes(b"")
    for link in ("missing", "a-file"):
        index = IndexOptions(find_links=("wheels", link), no_index=True)
        assert needs_tls(index, [PIN.install_line()], tmp_path) is True
    assert needs_tls(IndexOptions(find_links=("wheels",), no_index=True), [PIN.install_line()],
                     tmp_path) is False  # fmt: skip


@pytest.mark.parametrize(
    ("text", "tls"),
    [
        ("demo-common==1.0 --hash=sha256:00", False),
        ("demo_common[x] >=1, <2 ; python_version >= '3'", False),
        ("x @ FILE:///srv/x.whl", False),
        ("demo-common.tar.gz", True),
        ("git+file:///srv/r@v1#egg=x", True),
        ("x==1 ; platform_version == 'a@b'", True),
        ("x[extra] @ file:///srv/x-1.0-py3-none-any.whl ; python_version >= '3'", False),
        ("-e file:///srv/edit", True),
        ("x @ git+file:///srv/repo@v1#egg=x", True),
        ("x @ file:///srv/x.whl ; python_version >= '3' and url == 'https://h'", True),
        ("x @ hfile://h/x.whl", True),
        ("x @ git+file:///srv/r@v1 ; y @ https://h/y", True),
        ("./a-dir://odd", True),
        ("/srv/a-dir", True),
        ("--index-url file:///srv", True),
    ],
)
def test_every_url_on_a_line_is_looked_at(tmp_path: Path, text: str, tls: bool) -> None:
    (tmp_path / "wheels").mkdir()
    index = IndexOptions(find_links=("wheels",), no_index=True)
    assert needs_tls(index, [text], tmp_path) is tls
