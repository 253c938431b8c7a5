"""Version-manager shims (pyenv, asdf, mise): what decides their answer, as a cache key.

``python = "python3"`` on a machine with pyenv finds ``~/.pyenv/shims/python3``, a script whose
answer (which real interpreter it runs) can change without the script changing. Starting it on
every plan costs a shell, the manager and Python. Instead the probe of a shim is cached under a key
made of everything the manager consults to choose the interpreter: its environment variables,
the version files it reads (the nearest ``.python-version``, the global version file, ...), the
installed versions (their directory's mtime) and ``PATH`` (``system``). Any change to one of them
is a cache miss, and the shim is started once to learn the new answer; the answer's own
executable is re-checked on every hit (see :mod:`reconciler.interpreters`).

Reading these costs a few ``stat`` calls, no process.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from reconciler.support.digest import sha256

_SCRIPT_HEAD_BYTES = 4096


class Manager:
    """One version manager: how to recognise its shims and what decides their answer (three
    module constants compared by identity: a plain class, as an attrs class costs start-up).

    ``local_files``: looked for in the working directory and every parent (all found ones
    count); ``global_paths``: global files and install directories, given the environment and
    the shim's text."""

    __slots__ = ("env_prefixes", "global_paths", "local_files", "name")

    def __init__(
        self,
        name: str,
        env_prefixes: tuple[str, ...],
        local_files: tuple[str, ...],
        global_paths: Callable[[Mapping[str, str], str], tuple[Path, ...]],
    ) -> None:
        self.name = name
        self.env_prefixes = env_prefixes
        self.local_files = local_files
        self.global_paths = global_paths

    def __repr__(self) -> str:
        return f"Manager({self.name!r})"


def _home(environ: Mapping[str, str]) -> Path:
    return Path(environ.get("HOME") or Path.home())


def _pyenv_paths(environ: Mapping[str, str], script: str) -> tuple[Path, ...]:
    found = re.search(r'export PYENV_ROOT="([^"]+)"', script)
    root = Path(found.group(1) if found else environ.get("PYENV_ROOT") or _home(environ) / ".pyenv")
    return (root / "version", root / "versions")


def _asdf_paths(environ: Mapping[str, str], _: str) -> tuple[Path, ...]:
    home = _home(environ)
    data = Path(environ.get("ASDF_DATA_DIR") or home / ".asdf")
    default = environ.get("ASDF_DEFAULT_TOOL_VERSIONS_FILENAME") or ".tool-versions"
    rc = Path(environ.get("ASDF_CONFIG_FILE") or home / ".asdfrc")
    return (home / default, rc, data / "installs" / "python")


def _mise_paths(environ: Mapping[str, str], _: str) -> tuple[Path, ...]:
    home = _home(environ)
    config = Path(environ.get("MISE_CONFIG_DIR") or home / ".config" / "mise")
    data = Path(environ.get("MISE_DATA_DIR") or home / ".local" / "share" / "mise")
    return (
        config / "config.toml",
        config / "config.local.toml",
        Path("/etc/mise/config.toml"),
        data / "installs" / "python",
    )


PYENV = Manager("pyenv", ("PYENV_",), (".python-version",), _pyenv_paths)
ASDF = Manager("asdf", ("ASDF_",), (".tool-versions", ".python-version"), _asdf_paths)
MISE = Manager(
    "mise",
    ("MISE_",),
    (
        "mise.toml",
        ".mise.toml",
        "mise.local.toml",
        ".mise.local.toml",
        ".config/mise.toml",
        ".config/mise/config.toml",
        "mise/config.toml",
        ".tool-versions",
        ".python-version",
    ),
    _mise_paths,
)


#: Compiled by ``re`` on first use (a shim met), not at every plan's start-up.
_SCRIPT_PATTERNS = (
    (r'pyenv"? exec', PYENV),
    (r'asdf"? exec', ASDF),
    (r'mise"? (?:x|exec)\b', MISE),
)


def manager_of(path: Path) -> tuple[Manager, str] | None:
    """The version manager whose shim ``path`` is (and the shim's text), or None."""
    real = Path(os.path.realpath(path))
    if real.name == "mise" or real.name.startswith("mise-"):
        return MISE, ""  # mise shims are links to the mise binary itself
    try:
        with real.open("rb") as handle:
            head = handle.read(_SCRIPT_HEAD_BYTES)
    except OSError:
        return None
    if not head.startswith(b"#!"):
        return None
    script = head.decode("utf-8", "replace")
    for pattern, manager in _SCRIPT_PATTERNS:
        if re.search(pattern, script):
            return manager, script
    return None


def _ancestors(directory: Path) -> Iterable[Path]:
    yield directory
    yield from directory.parents


def _fingerprint(path: Path) -> str | None:
    """Content digest of a small file, the mtime of a directory, None when absent."""
    try:
        st = path.stat()
    except OSError:
        return None
    if path.is_dir():
        return f"dir:{st.st_mtime_ns}"
    if st.st_size > 1 << 20:
        return f"big:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}"
    try:
        return sha256(path.read_bytes()).hexdigest()[:16]
    except OSError:
        return None


def shim_key(
    path: Path, environ: Mapping[str, str] | None = None, cwd: Path | None = None
) -> str | None:
    """A key that changes whenever the shim at ``path`` could answer differently; None if no shim.

    ``cwd`` is the directory the shim would run in (the current one by default).
    """
    found = manager_of(path)
    if found is None:
        return None
    manager, script = found
    env = dict(os.environ if environ is None else environ)
    start = (cwd or Path.cwd()).absolute()
    real = Path(os.path.realpath(path))
    try:
        st = real.stat()
    except OSError:
        return None
    parts = [manager.name, f"{path}", f"{real}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}"]
    parts.extend(f"{k}={v}" for k, v in sorted(env.items()) if k.startswith(manager.env_prefixes))
    parts.append(f"PATH={env.get('PATH', '')}")
    directories = [start]
    for variable in ("PYENV_DIR",) if manager is PYENV else ():
        if env.get(variable):
            directories.insert(0, Path(env[variable]).absolute())
    for directory in directories:
        for parent in _ancestors(directory):
            for name in manager.local_files:
                candidate = parent / name
                digest = _fingerprint(candidate)
                if digest is not None:
                    parts.append(f"{candidate}={digest}")
    for candidate in manager.global_paths(env, script):
        parts.append(f"{candidate}={_fingerprint(candidate)}")
    return "shim:" + sha256("\0".join(parts).encode()).hexdigest()
