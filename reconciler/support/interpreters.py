"""Find and probe base interpreters; probes are cached by the executable's identity (no spawn)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
from pathlib import Path

from reconciler.errors import InterpreterError
from reconciler.models import Interpreter
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


def cache_dir() -> Path:
    """reconciler's cache directory (``$RECONCILER_CACHE_DIR``, else the XDG cache home)."""
    explicit = os.environ.get("RECONCILER_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "reconciler"


def find(spec: str, project_dir: Path) -> Path:
    """Resolve an interpreter spec (a name on PATH, a path, or ``"3.11"``) to an executable."""
    tried: list[str] = []
    if os.sep in spec or spec.startswith("."):
        candidate = (project_dir / Path(spec).expanduser()).absolute()
        tried.append(str(candidate))
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    else:
        names = [f"python{spec}"] if re.fullmatch(r"\d+(\.\d+)*", spec) else [spec]
        for name in names:
            tried.append(f"{name} on PATH")
            found = shutil.which(name)
            if found:
                return Path(found)
    raise InterpreterError(f"interpreter {spec!r} not found (tried {', '.join(tried)})")


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
    import subprocess  # noqa: PLC0415 - a cache miss only; keep `plan` light

    try:
        result = subprocess.run(
            [str(path), "-I", "-c", _PROBE], capture_output=True, text=True, timeout=60, check=False
        )
    except OSError as exc:
        raise InterpreterError(f"interpreter {path} does not run: {exc}") from exc
    except subprocess.TimeoutExpired as exc:
        raise InterpreterError(f"interpreter {path} did not answer within 60 s") from exc
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise InterpreterError(f"interpreter {path} failed to start: {last}")
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
