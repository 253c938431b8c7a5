"""``reconciler lock``: resolve each plugin with pip-compile (a subprocess) into its lock."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import attrs

from reconciler import lockfile
from reconciler.errors import LockError
from reconciler.installers.base import show_command
from reconciler.models import PLUGIN_NAME_RE, DesiredState, Interpreter, Plugin
from reconciler.support.pipconfig import hermetic_env, index_args, resolve_link
from reconciler.support.redact import redact

CUSTOM_COMPILE_COMMAND = "reconciler lock"
PIP_COMPILE_FLAGS = (
    "--generate-hashes",
    "--allow-unsafe",
    "--strip-extras",
    "--no-emit-index-url",
    "--no-emit-find-links",
    "--no-emit-trusted-host",
    "--no-config",
    "--quiet",
)


@attrs.frozen
class LockStatus:
    """Whether a plugin's lock is ``fresh``, ``missing`` or ``stale`` (with reasons)."""

    plugin: str
    state: str
    reasons: tuple[str, ...] = ()


def status(plugin: Plugin, interpreter: Interpreter, desired: DesiredState) -> LockStatus:
    """The freshness of ``plugin``'s lock against ``reconciler.toml``."""
    lock = lockfile.read(plugin.name, desired.lock_path(plugin.name))
    if lock is None:
        return LockStatus(plugin.name, "missing", ("missing",))
    expected = lockfile.inputs_digest(plugin, interpreter.major_minor, desired.index_for(plugin))
    reasons = lockfile.stale_reasons(lock, expected)
    return LockStatus(plugin.name, "stale" if reasons else "fresh", reasons)


def orphans(desired: DesiredState) -> tuple[Path, ...]:
    """Lock files written by reconciler for plugins no longer declared."""
    lock_dir = desired.settings.lock_dir
    if not lock_dir.is_dir():
        return ()
    declared = {p.name for p in desired.plugins}
    found = []
    for path in sorted(lock_dir.glob("*.txt")):
        if path.stem in declared or not PLUGIN_NAME_RE.match(path.stem):
            continue
        try:
            with path.open(encoding="utf-8") as handle:
                first = handle.readline()
        except (OSError, UnicodeDecodeError):
            continue
        if first.startswith("# reconciler-inputs: "):
            found.append(path)
    return tuple(found)


def lock_plugin(
    plugin: Plugin,
    interpreter: Interpreter,
    desired: DesiredState,
    *,
    upgrade: bool = False,
    upgrade_packages: Sequence[str] = (),
) -> bool:
    """Resolve ``plugin`` with pip-compile and write its lock; True when the file changed."""
    compile_python = resolver_python(interpreter, desired)
    target = desired.lock_path(plugin.name)
    digest = lockfile.inputs_digest(plugin, interpreter.major_minor, desired.index_for(plugin))
    with tempfile.TemporaryDirectory(prefix="reconciler-lock-") as tmp:
        work = Path(tmp)
        source = work / f"{plugin.name}.in"
        source.write_text("".join(f"{r}\n" for r in plugin.requirements), encoding="utf-8")
        output = work / f"{plugin.name}.txt"
        if target.is_file() and not upgrade:
            shutil.copyfile(target, output)  # keep unchanged pins where still allowed
        command = [
            compile_python,
            "-m",
            "piptools",
            "compile",
            *PIP_COMPILE_FLAGS,
            "--output-file",
            output.name,
            source.name,
        ]
        if upgrade:
            command.append("--upgrade")
        for name in upgrade_packages:
            command.extend(["--upgrade-package", name])
        command.extend(index_args(desired.index_for(plugin), desired.project_dir))
        for constraint in plugin.constraints:
            command.extend(["--constraint", resolve_link(constraint, desired.project_dir)])
        if plugin.pre:
            command.append("--pre")
        env = hermetic_env()
        env["CUSTOM_COMPILE_COMMAND"] = CUSTOM_COMPILE_COMMAND
        env["PIP_TOOLS_CACHE_DIR"] = env.get("PIP_TOOLS_CACHE_DIR", "") or str(_cache_dir())
        show_command(command)
        try:
            result = subprocess.run(
                command, cwd=work, env=env, capture_output=True, text=True, check=False
            )
        except OSError as exc:
            raise LockError(f"plugin {plugin.name!r}: cannot run pip-compile: {exc}") from exc
        if result.returncode != 0:
            raise LockError(
                f"plugin {plugin.name!r}: cannot lock: {_resolution_error(result.stderr)}"
            )
        body = output.read_text(encoding="utf-8")
    text = digest.header() + "\n" + body
    lockfile.parse(plugin.name, target, text)  # refuse to write what we could not read back
    return write_if_changed(target, text)


def resolver_python(interpreter: Interpreter, desired: DesiredState) -> str:
    """An interpreter that runs pip-compile for ``interpreter``'s Python version.

    The tool's own interpreter when the major.minor matches; otherwise a helper venv of the
    plugin's interpreter, cached under ``<venv-root>/.reconciler/tools/``, that sees the tool's own
    (pure-Python) pip-tools and pip through a ``.pth`` file: no download, created once.
    """
    current = f"{sys.version_info.major}.{sys.version_info.minor}"
    if interpreter.major_minor == current:
        return sys.executable
    with _HELPER_LOCK:
        return _helper_python(interpreter, desired)


_HELPER_LOCK = threading.Lock()


def _helper_python(interpreter: Interpreter, desired: DesiredState) -> str:
    purelib = sysconfig.get_paths()["purelib"]
    tag = hashlib.sha256(interpreter.executable.encode()).hexdigest()[:10]
    tools = desired.settings.venv_root / ".reconciler" / "tools"
    helper = tools / f"pip-tools-py{interpreter.major_minor}-{tag}"
    python = helper / "bin" / "python"
    pth_text = purelib + "\n"
    if python.exists() and _pth_file(helper) is not None:
        pth = _pth_file(helper)
        if pth is not None and pth.read_text(encoding="utf-8") == pth_text:
            return str(python)
    tools.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(dir=tools, prefix=".building-"))
    try:
        shutil.rmtree(building)
        result = subprocess.run(
            [interpreter.executable, "-m", "venv", "--without-pip", str(building)],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise LockError(
                f"cannot create a resolver environment for python {interpreter.version}: "
                f"{_resolution_error(result.stderr)}"
            )
        site = next(building.glob("lib/python*/site-packages"))
        (site / "_reconciler_tools.pth").write_text(pth_text, encoding="utf-8")
        if helper.exists():
            shutil.rmtree(helper)
        building.rename(helper)
    finally:
        if building.exists():
            shutil.rmtree(building)
    return str(python)


def _pth_file(helper: Path) -> Path | None:
    found = list(helper.glob("lib/python*/site-packages/_reconciler_tools.pth"))
    return found[0] if found else None


def _cache_dir() -> Path:
    from reconciler.support.interpreters import cache_dir  # noqa: PLC0415 - keep the module light

    return cache_dir() / "pip-tools"


_INTERESTING = (
    re.compile(r"Could not find a version that matches .*"),
    re.compile(r"No matching distribution found for .*"),
    re.compile(r"Cannot install .* because these package versions have conflicting dependencies.*"),
    re.compile(r"ResolutionImpossible.*"),
)


_CONFLICT_PART = re.compile(
    r"RequirementInformation\(requirement=\w+\('(?P<req>[^']*)'\), "
    r"parent=(?:None|\w+\('(?P<parent>[^']*)'\))"
)


def _conflict(stderr: str) -> str | None:
    """``demo-common<1.1 (requested) conflicts with demo-common>=1.1 (from tap_alpha-1.1.0)``."""
    parts = []
    for match in _CONFLICT_PART.finditer(stderr):
        parent = match.group("parent")
        if parent is None:
            parts.append(f"{match.group('req')} (requested)")
        else:
            artifact = parent.split("#", 1)[0].rstrip("/").rsplit("/", 1)[-1]
            artifact = re.sub(r"(-py\d.*)?\.(whl|tar\.gz|zip)$", "", artifact)
            parts.append(f"{match.group('req')} (from {artifact})")
    if len(parts) < 2:
        return None
    return "conflicting requirements: " + " vs ".join(dict.fromkeys(parts))


def _resolution_error(stderr: str) -> str:
    """The one line of pip-compile's output that explains a failed resolution."""
    conflict = _conflict(stderr)
    if conflict is not None:
        return redact(conflict)
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    for pattern in _INTERESTING:
        for line in lines:
            match = pattern.search(line)
            if match:
                return redact(match.group(0))
    for line in reversed(lines):
        if line.startswith(("ERROR:", "Error:")):
            return redact(line.split(":", 1)[1].strip())
    return redact(lines[-1]) if lines else "pip-compile failed with no output"


def write_if_changed(path: Path, text: str) -> bool:
    """Atomically replace ``path`` with ``text`` unless it already holds exactly that."""
    try:
        if path.read_text(encoding="utf-8") == text:
            return False
    except (OSError, UnicodeDecodeError):
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True


@attrs.frozen
class LockReport:
    """What ``reconciler lock`` did."""

    written: tuple[str, ...]
    unchanged: tuple[str, ...]
    removed: tuple[Path, ...]
    seconds: float = 0.0


def lock_all(
    desired: DesiredState,
    interpreters: Mapping[str, Interpreter],
    only: Collection[str],
    *,
    upgrade: bool,
    upgrade_packages: Sequence[str],
    log: Callable[[str, str], None],
    jobs: int = 1,
) -> LockReport:
    """Lock every selected plugin whose lock is missing or stale (all of them with upgrades).

    Independent plugins resolve concurrently (``jobs``); when some fail, the others still
    finish and the first failure (by plugin name) is raised.
    """
    started = time.monotonic()
    unchanged: list[str] = []
    todo: list[tuple[Plugin, LockStatus]] = []
    forced = upgrade or bool(upgrade_packages)
    for plugin in desired.plugins:
        if only and plugin.name not in only:
            continue
        state = status(plugin, interpreters[plugin.name], desired)
        if state.state == "fresh" and not forced:
            unchanged.append(plugin.name)
        else:
            todo.append((plugin, state))

    def resolve(item: tuple[Plugin, LockStatus]) -> bool | LockError:
        plugin, state = item
        log(plugin.name, f"resolving ({', '.join(state.reasons) or 'upgrade'})")
        try:
            changed = lock_plugin(
                plugin,
                interpreters[plugin.name],
                desired,
                upgrade=upgrade,
                upgrade_packages=upgrade_packages,
            )
        except LockError as exc:
            log(plugin.name, "failed")
            return exc
        log(plugin.name, f"{'written' if changed else 'unchanged'}")
        return changed

    if jobs > 1 and len(todo) > 1:
        with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="lock") as pool:
            outcomes = list(pool.map(resolve, todo))
    else:
        outcomes = [resolve(item) for item in todo]
    errors = [o for o in outcomes if isinstance(o, LockError)]
    if errors:
        raise errors[0]
    written = [p.name for (p, _), changed in zip(todo, outcomes, strict=True) if changed is True]
    unchanged += [
        p.name for (p, _), changed in zip(todo, outcomes, strict=True) if changed is False
    ]
    removed: list[Path] = []
    if not only:
        for path in orphans(desired):
            path.unlink()
            removed.append(path)
            log(path.stem, f"removed orphaned lock {path.name}")
    seconds = time.monotonic() - started
    return LockReport(tuple(written), tuple(sorted(unchanged)), tuple(removed), seconds)
