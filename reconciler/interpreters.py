"""Find and probe base interpreters; probes are cached by the executable's identity (no spawn)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
import threading
from collections.abc import Mapping
from pathlib import Path

from reconciler.errors import InterpreterError, ReconcilerError
from reconciler.models import Interpreter
from reconciler.support import venvcfg
from reconciler.support.digest import sha256
from reconciler.support.paths import cache_dir, which
from reconciler.support.shims import shim_key

_PROBE = r"""
import json, os, platform, sys
impl = sys.implementation.version
iver = "{0.major}.{0.minor}.{0.micro}".format(impl)
if impl.releaselevel != "final":
    iver += impl.releaselevel[0] + str(impl.serial)
base = getattr(sys, "_base_executable", None) or sys.executable
markers = {
    "implementation_name": sys.implementation.name,
    "implementation_version": iver,
    "os_name": os.name,
    "platform_machine": platform.machine(),
    "platform_release": platform.release(),
    "platform_system": platform.system(),
    "platform_version": platform.version(),
    "python_full_version": platform.python_version(),
    "platform_python_implementation": platform.python_implementation(),
    "python_version": ".".join(platform.python_version_tuple()[:2]),
    "sys_platform": sys.platform,
}
print(json.dumps({"executable": os.path.realpath(base), "version": platform.python_version(),
                  "markers": markers}))
"""
_CACHE_FORMAT = 1
_CACHE_ENTRIES = 256


def find(spec: str, project_dir: Path) -> Path:
    """Resolve an interpreter spec (a name on PATH, a path, or ``"3.11"``) to an executable."""
    tried: list[str] = []
    if os.sep in spec or spec.startswith("."):
        candidate = (project_dir / Path(spec).expanduser()).absolute()
        tried.append(str(candidate))
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    else:
        # "3.12" / "python3.12": also found among pyenv's installed versions, whichever is active
        version = re.fullmatch(r"(?:python)?(\d+\.\d+(?:\.\d+)?)", spec)
        name = f"python{spec}" if re.fullmatch(r"\d+(\.\d+)*", spec) else spec
        tried.append(f"{name} on PATH")
        found = which(name)
        if found and not _is_pyenv_shim(Path(found)):
            return Path(found)
        if version:
            installed = _pyenv_installed(version.group(1))
            tried.append(f"pyenv versions {version.group(1)}*")
            if installed is not None:
                return installed
        if found:
            return Path(found)  # a shim: it runs, or fails with pyenv's own explanation
    raise InterpreterError(f"interpreter {spec!r} not found (tried {', '.join(tried)})")


def _pyenv_root() -> Path:
    return Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")


def _is_pyenv_shim(path: Path) -> bool:
    """True for a pyenv shim: what it runs depends on pyenv's active version, not on itself."""
    return path.parent == _pyenv_root() / "shims"


def _pyenv_installed(version: str) -> Path | None:
    """The newest CPython pyenv has installed whose version starts with ``version`` (any active)."""
    versions = _pyenv_root() / "versions"
    wanted = version.split(".")
    best: tuple[tuple[int, ...], Path] | None = None
    try:
        entries = os.listdir(versions)
    except OSError:
        return None
    for entry in entries:
        if not re.fullmatch(r"\d+(\.\d+)*", entry) or entry.split(".")[: len(wanted)] != wanted:
            continue
        major_minor = ".".join(entry.split(".")[:2])
        candidate = versions / entry / "bin" / f"python{major_minor}"
        if not os.access(candidate, os.X_OK):
            continue
        key = tuple(int(part) for part in entry.split("."))
        if best is None or key > best[0]:
            best = (key, candidate)
    return best[1] if best else None


def _identity(path: Path) -> str | None:
    """A key that changes when the file at ``path`` changes; None for scripts (e.g. pyenv shims)."""
    real = Path(os.path.realpath(path))
    try:
        st = real.stat()
        with real.open("rb") as handle:
            if handle.read(2) == b"#!":
                return None  # a launcher script: what it runs can change without it changing
    except OSError:
        return None
    return f"{real}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}"


def probe(path: Path) -> Interpreter:
    """Version, real executable and marker environment of the interpreter at ``path``.

    The answer is cached under :func:`cache_dir`: for an executable, keyed by its inode, size
    and mtime; for a version-manager shim (pyenv, asdf, mise), keyed by everything that decides
    which interpreter the shim runs (:func:`reconciler.support.shims.shim_key`), with the chosen
    executable's identity re-checked on every hit. So a repeated ``plan`` starts no process.
    Other launcher scripts are probed every time: their answer can change unseen.
    """
    key = shim_key(path)
    is_shim = key is not None
    if key is None:
        key = _identity(path)
    cache_file = cache_dir() / "interpreters.json"
    cache: dict[str, dict[str, object]] = {}
    if key is not None:
        with contextlib.suppress(OSError, ValueError):
            loaded = json.loads(cache_file.read_text(encoding="utf-8"))
            if isinstance(loaded, dict) and loaded.get("format") == _CACHE_FORMAT:
                cache = loaded.get("entries", {})
        hit = cache.get(key)
        if isinstance(hit, dict) and (not is_shim or _same_target(hit)):
            with contextlib.suppress(KeyError, TypeError, AttributeError):
                return _from_json(hit)
    import subprocess  # noqa: PLC0415 - start-up: a cache miss only

    from reconciler.support import procs  # noqa: PLC0415 - start-up: a cache miss only

    try:
        result = procs.run([str(path), "-I", "-c", _PROBE], env=os.environ, timeout=60)
    except OSError as exc:
        raise InterpreterError(f"interpreter {path} does not run: {exc}") from exc
    except subprocess.TimeoutExpired as exc:
        raise InterpreterError(f"interpreter {path} did not answer within 60 s") from exc
    if result.returncode != 0:
        # the whole message on one line: pyenv explains over several lines which versions
        # have the command, the last line alone ("Note: See 'pyenv help global'") says nothing
        lines = [line.strip() for line in result.stderr.splitlines() if line.strip()]
        raise InterpreterError(
            f"interpreter {path} failed to start: {'; '.join(lines) or 'no output'}"
        )
    try:
        data = json.loads(result.stdout)
        interpreter = _from_json(data)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InterpreterError(f"interpreter {path} gave an unreadable answer") from exc
    if key is not None:
        if is_shim:
            data["target"] = _identity(Path(interpreter.executable))
        cache.pop(key, None)
        cache[key] = data
        while len(cache) > _CACHE_ENTRIES:
            cache.pop(next(iter(cache)))  # the oldest entry first
        _write_cache(cache_file, {"format": _CACHE_FORMAT, "entries": cache})
    return interpreter


def _same_target(entry: dict[str, object]) -> bool:
    """True when the executable a shim chose is still the very file it was when probed."""
    target = entry.get("target")
    return target is not None and target == _identity(Path(str(entry.get("executable"))))


def _from_json(data: dict[str, object]) -> Interpreter:
    markers = data["markers"]
    if not isinstance(markers, dict):
        raise TypeError("markers must be a mapping")
    return Interpreter(
        executable=str(data["executable"]),
        version=str(data["version"]),
        markers=tuple(sorted((str(k), str(v)) for k, v in markers.items())),
    )


def _write_cache(cache_file: Path, payload: object) -> None:
    """Write the cache atomically; a cache that cannot be written is simply not kept."""
    from reconciler.support.files import write_atomic  # noqa: PLC0415 - a cache miss only

    with contextlib.suppress(OSError):
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(cache_file, json.dumps(payload), prefix=".interpreters-", durable=False)


def resolve(spec: str, project_dir: Path) -> Interpreter:
    """Find and probe the interpreter named by ``spec``."""
    return probe(find(spec, project_dir))


def meltano_python(sys_dir: Path, env: Mapping[str, str]) -> Path | None:
    """The interpreter Meltano runs on: that of ``<sys-dir>/run/bin`` (the ``meltano`` that last
    activated this project), else of ``meltano`` on ``PATH`` (read from its ``#!`` line)."""
    candidates = [sys_dir / "run" / "bin"]
    on_path = which("meltano", path=env.get("PATH"))
    if on_path:
        candidates.append(Path(on_path))
    for script in candidates:
        try:
            with script.open("rb") as handle:
                first = handle.readline(512)
        except OSError:
            continue
        if first.startswith(b"#!"):
            words = first[2:].decode("utf-8", "replace").split()
            if words and Path(words[0]).is_absolute() and Path(words[0]).name != "env":
                return Path(words[0])
    return None


def venv_major_minor(python: Path, project_dir: Path) -> str | None:
    """``X.Y`` of ``python``: from its venv's ``pyvenv.cfg``, else by probing it (cached)."""
    version = venvcfg.python_version(venvcfg.read(python.parent.parent))
    if version is not None:
        return ".".join(version.split(".")[:2])
    try:
        return resolve(str(python), project_dir).major_minor
    except ReconcilerError:
        return None


_BOOTSTRAP_LOCK = threading.Lock()


def tool_pip_runs_on(version: str) -> bool:
    """True when the pip reconciler runs with supports Python ``version`` (``pip --python``)."""
    from importlib.metadata import PackageNotFoundError, metadata  # noqa: PLC0415 - start-up

    from packaging.specifiers import SpecifierSet  # noqa: PLC0415 - start-up: apply/lock only

    try:
        requires = metadata("pip")["Requires-Python"] or ""
    except PackageNotFoundError:
        return False
    return SpecifierSet(requires).contains(version, prereleases=True)


def pip_command(executable: str, version: str) -> list[str]:
    """How to run a pip that can act on an environment of Python ``version`` (``--python X``).

    reconciler's own pip when it supports that Python; otherwise (e.g. 3.8 and 3.9 with pip 26)
    the pip that the interpreter's own ``ensurepip`` bundles, in a small venv cached under
    :func:`cache_dir` -- made offline, once per interpreter.
    """
    if tool_pip_runs_on(version):
        return [sys.executable, "-m", "pip"]
    major_minor = ".".join(version.split(".")[:2])
    base = os.path.realpath(executable)  # a venv's python links to its base interpreter
    tag = sha256(base.encode()).hexdigest()[:10]
    home = cache_dir() / "pip" / f"py{major_minor}-{tag}"
    python = home / "bin" / "python"
    with _BOOTSTRAP_LOCK:
        if not (home / ".complete").is_file():
            _bootstrap_pip(base, version, home)
    return [str(python), "-m", "pip"]


def _bootstrap_pip(executable: str, version: str, home: Path) -> None:
    from reconciler.support import procs  # noqa: PLC0415 - start-up: a cache miss only
    from reconciler.support.files import built_then_renamed  # noqa: PLC0415 - likewise
    from reconciler.support.tool_errors import explain  # noqa: PLC0415 - likewise

    with built_then_renamed(home, mark=".complete") as building:
        command = [executable, "-m", "venv", "--clear", str(building)]
        result = procs.run(command, env=os.environ)
        if result.returncode != 0:
            last = explain(result.stderr or result.stdout)
            raise InterpreterError(
                f"python {version} ({executable}): cannot bootstrap pip with ensurepip: {last}"
            )
