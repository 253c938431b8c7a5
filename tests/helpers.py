"""The one place for test helpers: running the CLI, example projects, disk pictures, interpreters.

How to write a test here: see ``tests/README.md``. In short:

- Drive the CLI with :func:`run_cli` (in-process, fast) or :meth:`Project.run`; use
  :func:`run_cli_subprocess` / ``Project.run(..., subprocess=True)`` only where a real process
  boundary is what the test checks (signals, kills, exit codes of ``python -m reconciler``,
  another user, a tty). ``RECONCILER_TEST_SUBPROCESS=1`` runs every CLI call as a subprocess.
- Need an interpreter or a tool? :func:`find_python` / :func:`require_python` discover it; a
  missing one skips locally and FAILS when ``CI`` is set (:func:`skip_or_fail`).
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import textwrap
import traceback
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import pytest
import tomlkit

from reconciler.errors import ExecuteError
from reconciler.installers.base import InstallRequest
from reconciler.installers.uv import find_uv

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "fixtures" / "example"
WHEELS = EXAMPLE / "wheels"
PLUGINS = ("tap-alpha", "tap-beta", "target-gamma")
#: What each example plugin's console script prints once its venv matches the example locks.
EXPECTED_OUTPUT = {
    "tap-alpha": "tap-alpha 1.0.0 (demo-common 1.1.0)",
    "tap-beta": "tap-beta 1.0.0 (demo-common 1.1.0) demo-extra 2.0.0",
    "target-gamma": "target-gamma 1.0.0 (demo-common 1.0.0)",
}
#: The distributions each example plugin's venv holds after apply (from the example locks).
EXPECTED_DISTS = {
    "tap-alpha": {"demo-common": "1.1.0", "tap-alpha": "1.0.0"},
    "tap-beta": {"demo-common": "1.1.0", "demo-extra": "2.0.0", "tap-beta": "1.0.0"},
    "target-gamma": {"demo-common": "1.0.0", "target-gamma": "1.0.0"},
}
#: Ambient pip index configuration that must never reach the test runner or reconciler.
AMBIENT_PIP_VARS = (
    "PIP_FIND_LINKS",
    "PIP_INDEX_URL",
    "PIP_EXTRA_INDEX_URL",
    "PIP_CONSTRAINT",
    "PIP_NO_INDEX",
    "PIP_REQUIRE_VIRTUALENV",
)
MARKER = "reconciler-state.json"
#: The venv root's apply lock file.
LOCK_FILE = ".reconciler.lock"

Snapshot = dict[str, tuple[int, int, int]]
Tree = dict[str, tuple[object, ...]]


def in_ci() -> bool:
    """True on CI (``CI`` set to anything but empty/0/false)."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def skip_or_fail(reason: str) -> NoReturn:
    """Skip here, but fail on CI: there a missing interpreter or tool is a broken set-up."""
    if in_ci():
        pytest.fail(f"CI must provide this (a skip would hide it): {reason}", pytrace=False)
    pytest.skip(reason)


def hermetic_environ(cache_dir: Path, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """``base`` (default ``os.environ``) without ambient pip index config, cache redirected."""
    env = dict(os.environ if base is None else base)
    for name in AMBIENT_PIP_VARS:
        env.pop(name, None)
    env["PIP_CONFIG_FILE"] = os.devnull
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["RECONCILER_CACHE_DIR"] = str(cache_dir)
    env["UV_CACHE_DIR"] = str(cache_dir / "uv")  # uv hard-links from here: same filesystem
    env["XDG_CACHE_HOME"] = str(cache_dir / "xdg")  # pip and anything else: not ~/.cache
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # running a console script must not add .pyc files
    env["NO_COLOR"] = "1"
    return env


# --- running the CLI ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Result:
    """How one CLI run ended."""

    code: int
    out: str
    err: str

    @property
    def err_lines(self) -> list[str]:
        """The non-empty lines written to stderr."""
        return [line for line in self.err.splitlines() if line.strip()]

    @property
    def returncode(self) -> int:
        """``subprocess.CompletedProcess`` spelling of :attr:`code`."""
        return self.code

    @property
    def stdout(self) -> str:
        """``subprocess.CompletedProcess`` spelling of :attr:`out`."""
        return self.out

    @property
    def stderr(self) -> str:
        """``subprocess.CompletedProcess`` spelling of :attr:`err`."""
        return self.err

    def describe(self) -> str:
        """Everything, for assertion messages."""
        return f"exit {self.code}\n--- stdout ---\n{self.out}\n--- stderr ---\n{self.err}"


def force_subprocess() -> bool:
    """``RECONCILER_TEST_SUBPROCESS=1``: every CLI call of the tests runs as a real process."""
    return os.environ.get("RECONCILER_TEST_SUBPROCESS", "") not in ("", "0")


def run_cli_subprocess(
    project: Path | None,
    *args: str,
    env: Mapping[str, str] | None = None,
    timeout: float = 300,
    cwd: Path | None = None,
) -> Result:
    """Run ``python -m reconciler [--project DIR] ARGS...`` as a real subprocess.

    ``env`` is the whole environment (default: ``os.environ``, which the autouse fixture made
    hermetic). Use this where the process boundary is what the test checks.
    """
    prefix = () if project is None else ("--project", str(project))
    completed = subprocess.run(
        [sys.executable, "-m", "reconciler", *prefix, *args],
        capture_output=True,
        text=True,
        cwd=cwd or project,
        env=dict(os.environ if env is None else env),
        timeout=timeout,
        check=False,
    )
    return Result(completed.returncode, completed.stdout, completed.stderr)


@contextlib.contextmanager
def _environ(env: Mapping[str, str]) -> Iterator[None]:
    """Make ``os.environ`` exactly ``env`` for the block."""
    saved, wanted = dict(os.environ), dict(env)  # env may be os.environ itself
    os.environ.clear()
    os.environ.update(wanted)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@contextlib.contextmanager
def _patched(owner: object, name: str, value: object) -> Iterator[None]:
    saved = getattr(owner, name)
    setattr(owner, name, value)
    try:
        yield
    finally:
        setattr(owner, name, saved)


@contextlib.contextmanager
def _cwd(path: Path | None) -> Iterator[None]:
    saved = Path.cwd()
    if path is not None:
        os.chdir(path)
    try:
        yield
    finally:
        os.chdir(saved)


def run_cli_in_process(
    project: Path | None,
    *args: str,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Result:
    """Run ``reconciler.cli.main([--project DIR] ARGS...)`` in this process, streams captured.

    Same exit codes and output as ``python -m reconciler`` (an unexpected exception becomes
    exit 1 with its traceback on stderr, as the interpreter would print it), minus the cost of
    starting Python and importing reconciler. Not for signals, kills or a tty.
    """
    from click.testing import CliRunner  # noqa: PLC0415 - only for in-process runs

    from reconciler import cli  # noqa: PLC0415
    from reconciler.installers import base as installers_base  # noqa: PLC0415
    from reconciler.support import procs  # noqa: PLC0415

    prefix = () if project is None else ("--project", str(project))
    runner = CliRunner()
    code = 0
    with (
        _patched(os, "execve", _no_exec),  # it would replace the test process itself
        _environ(os.environ if env is None else env),
        _cwd(cwd or project),
        runner.isolation() as streams,
    ):
        try:
            cli.main([*prefix, *args])
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            if not isinstance(exc.code, int | None):
                sys.stderr.write(f"{exc.code}\n")
        except Exception:
            traceback.print_exc(file=sys.stderr)
            code = 1
        finally:
            installers_base._command_echo.clear()
            installers_base._output_echo.clear()
        sys.stdout.flush()
        sys.stderr.flush()
        out, err = streams[0].getvalue(), streams[1].getvalue()
    assert not procs.stopping(), "an in-process run left the child-process channel stopped"
    return Result(code, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"))


#: Commands that replace the process (``os.execve``): always run as a real subprocess.
EXEC_COMMANDS = frozenset({"run"})


def _command(args: Sequence[str]) -> str | None:
    """The command word of a CLI argument list (global options are flags, ``--project`` aside)."""
    words = iter(args)
    for word in words:
        if word == "--project":
            next(words, None)
        elif not word.startswith("-"):
            return word
    return None


def _no_exec(*args: object) -> NoReturn:
    raise AssertionError(f"os.execve{args[:1]} in an in-process CLI run: use subprocess=True")


def run_cli(
    project: Path | None,
    *args: str,
    env: Mapping[str, str] | None = None,
    timeout: float = 300,
    subprocess: bool = False,
    cwd: Path | None = None,
) -> Result:
    """Run the CLI against ``project``: in-process unless ``subprocess`` (or the env switch).

    ``env`` is the whole environment of the run (default: the current, hermetic one).
    """
    if subprocess or force_subprocess() or _command(args) in EXEC_COMMANDS:
        return run_cli_subprocess(project, *args, env=env, timeout=timeout, cwd=cwd)
    return run_cli_in_process(project, *args, env=env, cwd=cwd)


# --- pictures of the disk ------------------------------------------------------------------


def snapshot(root: Path) -> Snapshot:
    """``{relpath: (inode, mtime_ns, size)}`` of ``root`` and all below; symlinks not followed."""
    if not os.path.lexists(root):
        return {}
    found: Snapshot = {}

    def add(path: str) -> None:
        st = os.lstat(path)
        found[os.path.relpath(path, root)] = (st.st_ino, st.st_mtime_ns, st.st_size)

    add(str(root))
    for directory, dirnames, filenames in os.walk(root, followlinks=False):
        for name in (*dirnames, *filenames):
            add(os.path.join(directory, name))  # noqa: PTH118 - os.walk gives strings
    return found


def _sha256(path: str) -> str:
    with open(path, "rb") as handle:  # noqa: PTH123 - os.walk gives strings
        return hashlib.sha256(handle.read()).hexdigest()


def tree(root: Path, exclude: Collection[str] = (LOCK_FILE,)) -> Tree:
    """Byte-level picture of ``root`` (symlinks not followed), paths relative to it.

    Files: inode, mtime, size, mode and sha256; symlinks: their target; directories: their
    mode. Directory mtimes are left out: a failed build beside the old venv creates and deletes
    its generation directory, which touches only the parent directory's mtime.
    """
    if not os.path.lexists(root):
        return {}
    found: Tree = {}

    def add(path: str) -> None:
        rel = os.path.relpath(path, root)
        if rel in exclude:
            return
        info = os.lstat(path)
        mode = stat.S_IMODE(info.st_mode)
        if stat.S_ISLNK(info.st_mode):
            found[rel] = ("link", str(Path(path).readlink()))
        elif stat.S_ISDIR(info.st_mode):
            found[rel] = ("dir", mode)
        else:
            found[rel] = ("file", info.st_ino, info.st_mtime_ns, info.st_size, mode, _sha256(path))

    add(str(root))
    for directory, dirnames, filenames in os.walk(root, followlinks=False):
        for name in (*dirnames, *filenames):
            add(os.path.join(directory, name))  # noqa: PTH118 - os.walk gives strings
    return found


def dist_infos(site: Path) -> dict[str, str]:
    """``{canonical name: version}`` of every ``*.dist-info`` in ``site`` (read from disk)."""
    found: dict[str, str] = {}
    for entry in sorted(site.glob("*.dist-info")):
        name, _, version = entry.name.removesuffix(".dist-info").rpartition("-")
        canonical = re.sub(r"[-_.]+", "-", name).lower()
        assert canonical not in found, f"duplicate dist-info for {canonical} in {site}"
        found[canonical] = version
    return found


def assert_one_error(result: Result, *needles: str, any_of: Collection[str] = ()) -> str:
    """Exit 1, no traceback, exactly one stderr line ``error: ...`` holding the needles."""
    assert result.code == 1, result.describe()
    assert "Traceback" not in result.out + result.err, result.describe()
    assert len(result.err_lines) == 1, f"expected one stderr line\n{result.describe()}"
    line = result.err_lines[0]
    assert line.startswith("error: "), result.describe()
    for needle in needles:
        assert needle in line, f"{needle!r} not named in the error\n{result.describe()}"
    if any_of:
        assert any(n in line for n in any_of), f"none of {list(any_of)} named\n{result.describe()}"
    return line


def copy_tree(src: Path, dest: Path) -> None:
    """Copy ``src`` to ``dest`` keeping symlinks, modes and mtimes (``cp -a``)."""
    if shutil.which("cp"):
        subprocess.run(["cp", "-a", str(src), str(dest)], check=True)
    else:
        shutil.copytree(src, dest, symlinks=True)


# --- built once per run, shared by the pytest-xdist workers ------------------------------------


def xdist_worker() -> str | None:
    """This process's pytest-xdist worker id (``gw0``, ...), None when not running under xdist."""
    return os.environ.get("PYTEST_XDIST_WORKER") or None


def built_once(
    tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], None]
) -> Path:
    """A directory ``build(directory)`` filled ONCE per test run, shared by every xdist worker.

    Under pytest-xdist, the first worker to ask builds it in the run's common temporary directory
    (``getbasetemp().parent``) while holding an ``flock``; the others wait, then reuse it (the
    pattern pytest-xdist documents for session fixtures). Without xdist: a fresh ``mktemp``.
    Only for results that do not depend on where they were built (locks, wheels, sdists): the
    golden applied project, whose venvs record their path, stays per worker. Remembered per
    process too, so a fixture of any scope may call it.
    """
    if name in _BUILT_ONCE:
        return _BUILT_ONCE[name]
    if xdist_worker() is None:
        directory = tmp_path_factory.mktemp(name)
        build(directory)
        _BUILT_ONCE[name] = directory
        return directory
    shared = tmp_path_factory.getbasetemp().parent / "shared"
    shared.mkdir(exist_ok=True)
    directory, done = shared / name, shared / f"{name}.built"
    with (shared / f"{name}.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file is closed
        if not done.exists():
            if directory.exists():  # a worker failed half-way: start again
                shutil.rmtree(directory)
            directory.mkdir()
            build(directory)
            done.touch()
    _BUILT_ONCE[name] = directory
    return directory


_BUILT_ONCE: dict[str, Path] = {}


# --- the example project -----------------------------------------------------------------------


@dataclass(frozen=True)
class Project:
    """A throw-away copy of the example project, with helpers to drive and inspect it."""

    root: Path

    @property
    def toml(self) -> Path:
        """The project's ``reconciler.toml``."""
        return self.root / "reconciler.toml"

    @property
    def venv_root(self) -> Path:
        """The default venv root ``.venvs``."""
        return self.root / ".venvs"

    @property
    def wheels(self) -> Path:
        """The project's offline wheelhouse."""
        return self.root / "wheels"

    def lock(self, plugin: str) -> Path:
        """``lock/<plugin>.txt``."""
        return self.root / "lock" / f"{plugin}.txt"

    def venv(self, plugin: str) -> Path:
        """``.venvs/<plugin>``."""
        return self.venv_root / plugin

    def site_packages(self, plugin: str) -> Path:
        """The only ``lib/python3.*/site-packages`` of the plugin's venv."""
        found = sorted(self.venv(plugin).glob("lib/python3*/site-packages"))
        assert len(found) == 1, f"expected one site-packages in {self.venv(plugin)}: {found}"
        return found[0]

    def dists(self, plugin: str) -> dict[str, str]:
        """The distributions installed in the plugin's venv, read from ``*.dist-info``."""
        return dist_infos(self.site_packages(plugin))

    def marker(self, plugin: str) -> dict[str, Any]:
        """The parsed state marker of the plugin's venv."""
        data: dict[str, Any] = json.loads((self.venv(plugin) / MARKER).read_text("utf-8"))
        return data

    def snapshot(self, sub: str | None = None) -> Snapshot:
        """Snapshot of the venv root (or of one entry below it)."""
        return snapshot(self.venv_root if sub is None else self.venv_root / sub)

    def run(
        self,
        *args: str,
        env: Mapping[str, str] | None = None,
        subprocess: bool = False,
    ) -> Result:
        """Run the CLI against this project (``env`` entries override the hermetic env).

        In-process by default; ``subprocess=True`` where the process boundary matters.
        """
        merged = None if env is None else {**os.environ, **env}
        return run_cli(self.root, *args, env=merged, subprocess=subprocess)

    def ok(
        self,
        *args: str,
        env: Mapping[str, str] | None = None,
        subprocess: bool = False,
    ) -> Result:
        """Run the CLI and require exit 0."""
        result = self.run(*args, env=env, subprocess=subprocess)
        assert result.code == 0, f"reconciler {' '.join(args)} failed:\n{result.describe()}"
        assert "Traceback" not in result.err, result.describe()
        return result

    def plan_json(self, *args: str) -> dict[str, Any]:
        """``plan --json`` parsed (exit 0 required)."""
        data: dict[str, Any] = json.loads(self.ok("plan", "--json", *args).out)
        return data

    def change(self, plugin: str, *args: str) -> dict[str, Any]:
        """The JSON plan entry of ``plugin``."""
        entries = [c for c in self.plan_json(*args)["changes"] if c["plugin"] == plugin]
        assert len(entries) == 1, f"expected one plan entry for {plugin}: {entries}"
        return entries[0]

    def edit(self) -> TomlEditor:
        """Edit ``reconciler.toml`` (with tomlkit) in a ``with`` block."""
        return TomlEditor(self.toml)

    def set_requirements(self, plugin: str, requirements: Sequence[str]) -> None:
        """Replace a plugin's requirements in ``reconciler.toml`` (the lock is NOT redone)."""
        with self.edit() as doc:
            doc["plugins"][plugin]["requirements"] = list(requirements)

    def hand_pip(self, plugin: str, *args: str) -> None:
        """Change the plugin's venv by hand (drift a user could cause), with pip's command line
        (``install ...``, ``uninstall --yes ...``): run by ``uv pip`` when uv is installed
        (a tenth of pip's start-up; reconciler reads the dist-infos, not which tool wrote
        them), else by the test runner's pip."""
        python = self.venv(plugin) / "bin" / "python"
        uv = find_uv()
        if uv is not None:  # uv pip uninstall never prompts, so it has no --yes
            command = [uv, "pip", *(a for a in args if a != "--yes"), "--python", str(python)]
        else:
            command = [sys.executable, "-m", "pip", "--python", str(python), *args]
        subprocess.run(command, check=True, capture_output=True, text=True)

    def script(self, plugin: str, name: str | None = None) -> str:
        """Run ``.venvs/<plugin>/bin/<script>`` and return its stdout (exit 0 required)."""
        exe = self.venv(plugin) / "bin" / (name or plugin)
        completed = subprocess.run(
            [str(exe)], capture_output=True, text=True, check=False, timeout=60
        )
        assert completed.returncode == 0, f"{exe} failed: {completed.stderr}"
        return completed.stdout


class TomlEditor:
    """Context manager: parse ``reconciler.toml`` with tomlkit, yield it, write it back."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.doc: tomlkit.TOMLDocument = tomlkit.parse(path.read_text("utf-8"))

    def __enter__(self) -> Any:
        return self.doc

    def __exit__(self, *exc: object) -> None:
        if exc[0] is None:
            self.path.write_text(tomlkit.dumps(self.doc), encoding="utf-8")


def add_plugin(doc: Any, name: str, requirements: Sequence[str]) -> None:
    """Declare ``[plugins.<name>]`` in a tomlkit document."""
    table = tomlkit.table()
    table.add("requirements", list(requirements))
    doc["plugins"].add(name, table)


def copy_example(dest: Path, *, with_lock_from: Path | None = None) -> Project:
    """Copy the example project to ``dest`` (wheels symlinked; ``lock/`` from a locked copy)."""
    dest.mkdir(parents=True)
    shutil.copy2(EXAMPLE / "reconciler.toml", dest / "reconciler.toml")
    (dest / "wheels").symlink_to(WHEELS, target_is_directory=True)
    if with_lock_from is not None:
        shutil.copytree(with_lock_from / "lock", dest / "lock")
    return Project(dest)


#: Eight extra plugins reusing the example's requirements, so an apply has more steps to kill.
EXTRA_PLUGINS = {
    f"{base}-{n}": base for n in (2, 3, 4) for base in PLUGINS if f"{base}-{n}" != "target-gamma-4"
}
#: Every plugin of the many-plugin project -> the example plugin whose requirements it reuses.
MANY_PLUGINS = {**{p: p for p in PLUGINS}, **EXTRA_PLUGINS}


def declare_extra_plugins(project: Project) -> None:
    """Declare :data:`EXTRA_PLUGINS` in the project's ``reconciler.toml`` (no lock is made)."""
    with project.edit() as doc:
        for name, base in EXTRA_PLUGINS.items():
            add_plugin(doc, name, [str(r) for r in doc["plugins"][base]["requirements"]])


def copy_locks_to_extra_plugins(project: Project) -> None:
    """Give each extra plugin the lock of the example plugin whose requirements it reuses.

    A lock's inputs digest covers requirements, interpreter and index settings, not the
    plugin's name, so the copy is exactly what ``reconciler lock`` would write (pip-compile's
    ``# via`` comments aside) -- without resolving the same requirements eight more times.
    """
    for name, base in EXTRA_PLUGINS.items():
        shutil.copy2(project.lock(base), project.lock(name))


# --- interpreters and tools --------------------------------------------------------------------

_PROBE = "import sys; print('.'.join(map(str, sys.version_info[:3])))"


@functools.cache
def _version_of(executable: str) -> str | None:
    try:
        done = subprocess.run(
            [executable, "-I", "-c", _PROBE],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except OSError:
        return None
    return done.stdout.strip() if done.returncode == 0 else None


@functools.cache
def pyenv_root() -> Path | None:
    """pyenv's root: ``PYENV_ROOT``, else ``pyenv root``, else ``~/.pyenv`` when it exists."""
    if os.environ.get("PYENV_ROOT"):
        return Path(os.environ["PYENV_ROOT"])
    pyenv = shutil.which("pyenv")
    if pyenv is not None:
        done = subprocess.run([pyenv, "root"], capture_output=True, text=True, check=False)
        if done.returncode == 0 and done.stdout.strip():
            return Path(done.stdout.strip())
    home = Path.home() / ".pyenv"
    return home if home.is_dir() else None


def _matches(found: str | None, version: str) -> bool:
    return found is not None and (found == version or found.startswith(f"{version}."))


@functools.cache
def _find_python(version: str) -> str | None:
    short = ".".join(version.split(".")[:2])
    candidates: list[Path] = []
    root = pyenv_root()
    if root is not None and (root / "versions").is_dir():
        dirs = sorted(
            (d for d in (root / "versions").iterdir() if _matches(d.name, version)),
            key=lambda d: [int(p) if p.isdigit() else -1 for p in d.name.split(".")],
            reverse=True,
        )
        candidates += [d / "bin" / f"python{short}" for d in dirs]
    on_path = shutil.which(f"python{short}")
    if on_path is not None:
        candidates.append(Path(on_path))
    for candidate in candidates:
        if candidate.is_file() and _matches(_version_of(str(candidate)), version):
            return str(candidate)
    uv = shutil.which("uv")
    if uv is not None:  # interpreters uv knows (its own and the system's), never a download
        done = subprocess.run(
            [uv, "python", "find", version],
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, "UV_PYTHON_DOWNLOADS": "never"},
        )
        found = done.stdout.strip()
        if done.returncode == 0 and found and _matches(_version_of(found), version):
            return found
    return None


def find_python(version: str) -> Path | None:
    """A CPython ``version`` (``"3.12"`` or ``"3.12.1"``) found here: pyenv's versions
    directory (``PYENV_ROOT`` / ``pyenv root``), ``python3.X`` on PATH, or one uv knows."""
    found = _find_python(version)
    return None if found is None else Path(found)


def require_python(version: str) -> Path:
    """:func:`find_python` or skip (fail on CI)."""
    found = find_python(version)
    if found is None:
        skip_or_fail(f"no Python {version} found (pyenv, python{version} on PATH, uv)")
    return found


def python_version(executable: str | Path) -> str | None:
    """``X.Y.Z`` of an interpreter, asked from the interpreter itself (None: does not run)."""
    return _version_of(str(executable))


# --- a fake installer (the fast tier of execute tests) -----------------------------------------


class InjectedFault(ExecuteError):
    """Raised by :class:`FakeInstaller` where a test asked for a failure (as pip/uv failing
    would: the real installers raise :class:`ExecuteError`)."""


@dataclass
class FakeInstaller:
    """An :class:`reconciler.installers.base.Installer` that builds venvs by hand, in milliseconds.

    ``create_venv`` writes ``pyvenv.cfg``, an empty site-packages and ``bin/python`` linked to
    the real interpreter (so execute's "does it start" check runs for real); ``install`` writes
    one ``<name>-<version>.dist-info/METADATA`` per package; ``uninstall`` deletes them. Every
    call is recorded in :attr:`calls` as ``(operation, plugin)``. Faults: ``fail`` names the
    plugins whose install raises (execute must turn it into a failed step); ``before_install``
    is called with the plugin before each install (set a stop event there, or end the process
    with ``os._exit`` to simulate a kill between two writes).
    """

    fail: Collection[str] = ()
    before_install: Any = None  # Callable[[str], None] | None
    name: str = "fake"
    calls: list[tuple[str, str]] = field(default_factory=list)

    @staticmethod
    def plugin_of(venv: Path) -> str:
        """The plugin a venv belongs to, from the state marker execute writes first."""
        plugin: str = json.loads((venv / MARKER).read_text("utf-8"))["plugin"]
        return plugin

    def create_venv(self, python: str, path: Path) -> None:
        """A minimal venv: ``pyvenv.cfg``, ``bin/python`` -> ``python``, empty site-packages."""
        self.calls.append(("create_venv", self.plugin_of(path)))
        version = python_version(python)
        assert version is not None, f"{python} does not run"
        major_minor = ".".join(version.split(".")[:2])
        (path / "bin").mkdir(parents=True, exist_ok=True)
        (path / "bin" / "python").symlink_to(python)
        (path / "lib" / f"python{major_minor}" / "site-packages").mkdir(parents=True)
        (path / "pyvenv.cfg").write_text(
            f"home = {Path(python).parent}\ninclude-system-site-packages = false\n"
            f"version = {version}\n",
            encoding="utf-8",
        )

    def _site(self, venv: Path) -> Path:
        found = sorted(venv.glob("lib/python3*/site-packages"))
        assert len(found) == 1, found
        return found[0]

    def install(self, request: InstallRequest) -> None:
        """Write a dist-info per package (or raise :class:`InjectedFault` for ``fail``)."""
        venv, packages = request.venv, request.packages
        plugin = self.plugin_of(venv)
        self.calls.append(("install", plugin))
        if self.before_install is not None:
            self.before_install(plugin)
        if plugin in self.fail:
            raise InjectedFault(f"install into {venv} failed (injected)")
        site = self._site(venv)
        for package in packages:
            stem = re.sub(r"[-_.]+", "_", package.name).lower()
            for old in site.glob(f"{stem}-*.dist-info"):
                shutil.rmtree(old)
            info = site / f"{stem}-{package.version}.dist-info"
            info.mkdir()
            (info / "METADATA").write_text(
                f"Metadata-Version: 2.1\nName: {package.name}\nVersion: {package.version}\n",
                encoding="utf-8",
            )

    def uninstall(self, venv: Path, names: Sequence[str]) -> None:
        """Delete the dist-infos of ``names``."""
        self.calls.append(("uninstall", self.plugin_of(venv)))
        site = self._site(venv)
        for name in names:
            stem = re.sub(r"[-_.]+", "_", name).lower()
            for info in site.glob(f"{stem}-*.dist-info"):
                shutil.rmtree(info)


def pyenv_python(version: str) -> Path | None:
    """The newest ``python3.X`` pyenv has installed whose version starts with ``version``."""
    root = pyenv_root()
    if root is None or not (root / "versions").is_dir():
        return None
    short = ".".join(version.split(".")[:2])
    found = [
        (tuple(int(p) for p in d.name.split(".")), d / "bin" / f"python{short}")
        for d in (root / "versions").iterdir()
        if re.fullmatch(r"\d+(\.\d+)*", d.name) and _matches(d.name, version)
    ]
    found = [(key, exe) for key, exe in found if exe.is_file()]
    return max(found)[1] if found else None


@functools.cache
def _real_base(executable: str) -> str | None:
    code = (
        "import os, sys; "
        "print(os.path.realpath(getattr(sys, '_base_executable', None) or sys.executable))"
    )
    try:
        done = subprocess.run(
            [executable, "-I", "-c", code], capture_output=True, text=True, timeout=60, check=False
        )
    except OSError:
        return None
    return done.stdout.strip() if done.returncode == 0 else None


@functools.cache
def _other_python(default: str) -> str | None:
    want = python_version(default)
    base = _real_base(default)
    if want is None or base is None:
        return None
    short = ".".join(want.split(".")[:2])
    candidates = [
        os.path.join(directory, name)  # noqa: PTH118 - PATH entries are strings
        for directory in os.environ.get("PATH", "").split(os.pathsep)
        if directory
        for name in (f"python{short}", "python3")
    ]
    root = pyenv_root()
    if root is not None and (root / "versions").is_dir():
        candidates += [
            str(d / "bin" / f"python{short}")
            for d in sorted((root / "versions").iterdir())
            if _matches(d.name, short)
        ]
    for candidate in candidates:
        if not os.access(candidate, os.X_OK) or os.path.isdir(candidate):  # noqa: PTH112
            continue
        if root is not None and Path(candidate).parent == root / "shims":
            continue  # a shim runs whatever pyenv picks: not a fixed second interpreter
        other = _real_base(candidate)
        if other is not None and other != base and _matches(python_version(candidate), short):
            return candidate
    return None


def other_python(default: str = "python3") -> Path:
    """An interpreter with the same major.minor as ``default`` but another executable (a
    reinstall that keeps the lock fresh); skip, or fail on CI, when there is none."""
    resolved = shutil.which(default) or default
    found = _other_python(resolved)
    if found is None:
        skip_or_fail(f"no second Python {python_version(resolved)} besides {resolved}")
    return Path(found)


#: The reconciler.toml of a Meltano project installing from the fixture wheels, offline.
OFFLINE_SETTINGS = '[settings]\nfind-links = ["wheels"]\nno-index = true\n'


def offline_meltano_project(root: Path, meltano_yml: str) -> Path:
    """``root`` made a Meltano project: ``meltano.yml`` (dedented), a ``reconciler.toml``
    installing from the fixture wheels offline (``wheels`` links to them). Nothing locked."""
    root.mkdir(parents=True)
    (root / "meltano.yml").write_text(textwrap.dedent(meltano_yml).lstrip(), encoding="utf-8")
    (root / "reconciler.toml").write_text(OFFLINE_SETTINGS, encoding="utf-8")
    (root / "wheels").symlink_to(WHEELS, target_is_directory=True)
    return root
