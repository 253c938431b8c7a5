"""Wheels of locked VCS commits and local projects, built by ``fetch`` for offline deploys.

A lock pins a git plugin to a commit and a local project to its directory; neither is an
artifact an index serves. ``reconciler fetch`` builds each (non-editable) one into the
wheelhouse, under ``built/<sha256 prefix>/``, and records it in the wheelhouse's manifest
``reconciler-wheels.json``: the package, the source it came from (the locked VCS URL and commit,
or the locked path and a digest of the project's files), the interpreter and platform it was
built for, and the wheel's sha256.

When a plan's step installs from an index whose find-links hold such a manifest (``apply
--no-index --find-links WH``, or ``find-links`` in the settings), every source with a matching
entry is installed from its wheel instead (:func:`use_wheelhouse`): the wheel's hash is checked
when planning and again by the installer (``--hash``). A source that no longer matches (another
commit locked, a local project edited since ``fetch``) is built from source as usual, with a
warning saying why; editable lines are never replaced (they stay live).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit, urlunsplit

from reconciler import lockformats
from reconciler.errors import ReconcilerError
from reconciler.installers import find_uv
from reconciler.installers.base import run_hermetic
from reconciler.installers.pipconfig import index_args
from reconciler.interpreters import pip_command
from reconciler.lockfile import applicable
from reconciler.models import (
    DesiredState,
    Interpreter,
    LockedPackage,
    Plan,
    Prebuilt,
    Step,
)
from reconciler.support import scratch
from reconciler.support.digest import file_sha256
from reconciler.support.files import write_atomic
from reconciler.support.names import canonical_name
from reconciler.support.redact import redact, strip_userinfo
from reconciler.support.tool_errors import explain, failure_cause
from reconciler.support.values import asdict, evolve, fields, frozen
from reconciler.support.wheelhouse import MANIFEST, link_dirs

#: The version of the manifest (:data:`MANIFEST`) ``fetch`` writes into the wheelhouse.
MANIFEST_VERSION = 1
#: Where built wheels go inside the wheelhouse (find-links does not look into subdirectories,
#: so a built wheel is never offered in place of an index pin of the same name and version).
BUILT_DIR = "built"

#: Directories a content digest ignores: VCS data, caches and build outputs (a build writes
#: ``build/`` and ``*.egg-info`` into the tree).
_SKIP_DIRS = frozenset(
    {
        ".git", ".hg", ".svn", "__pycache__", "build", "dist", ".venv", "venv", ".tox", ".nox",
        ".mypy_cache", ".pytest_cache", ".ruff_cache", "node_modules", ".eggs",
    }
)  # fmt: skip


class WheelhouseError(ReconcilerError):
    """A wheel could not be built, or a wheelhouse's manifest or wheel cannot be trusted."""


@frozen
class BuiltWheel:
    """One entry of the manifest: a wheel built from one locked source."""

    name: str  # canonical
    kind: str  # ``vcs`` or ``path``
    source: str  # the VCS URL without revision and credentials, or the path as locked
    revision: str  # the commit id, or the digest of the project's files
    wheel: str  # relative to the wheelhouse, ``/``-separated
    sha256: str
    python: str  # major.minor of the interpreter it was built with
    platform: str  # ``<sys_platform>-<platform_machine>`` of that interpreter

    def fits(self, interpreter: Interpreter) -> bool:
        """True when ``interpreter`` can install this wheel (a pure wheel fits any Python 3;
        one with compiled parts needs the Python and platform it was built for)."""
        from packaging.utils import (  # noqa: PLC0415 - start-up: apply reads a manifest first
            InvalidWheelFilename,
            parse_wheel_filename,
        )

        try:
            _, _, _, tags = parse_wheel_filename(self.wheel.rsplit("/", 1)[-1])
        except InvalidWheelFilename:
            return False
        if all(t.abi == "none" and t.platform == "any" for t in tags):
            return True
        return self.python == interpreter.major_minor and self.platform == _platform(interpreter)


def _platform(interpreter: Interpreter) -> str:
    markers = dict(interpreter.markers)
    return f"{markers.get('sys_platform', '')}-{markers.get('platform_machine', '')}"


def source_key(package: LockedPackage) -> tuple[str, str] | None:
    """``(kind, source)`` of a package ``fetch`` builds (None for any other: index pins, URLs,
    editable projects, a VCS line without a commit)."""
    if package.url is None or package.editable:
        return None
    if package.kind == "vcs" and package.commit:
        parts = urlsplit(strip_userinfo(package.url))
        path = parts.path.rpartition("@")[0] if "@" in parts.path else parts.path
        fragment = f"#{parts.fragment}" if "subdirectory=" in parts.fragment else ""
        return "vcs", f"{parts.scheme}://{parts.netloc}{path}{fragment}"
    if package.kind == "path":
        return "path", package.url
    return None


def _local_dir(package: LockedPackage, project_dir: Path) -> Path:
    return Path(unquote(urlsplit(package.source_url(project_dir) or "").path))


def content_digest(path: Path) -> str:
    """A digest of a local project's files: every relative path and its bytes (not times, so
    the same tree checked out elsewhere has the same digest); build outputs and caches are
    skipped. ``"missing"`` when there is no such directory."""
    if not path.is_dir():
        return "missing"
    digest = hashlib.sha256()
    for directory, dirnames, filenames in os.walk(path):
        dirnames[:] = sorted(
            d for d in dirnames if d not in _SKIP_DIRS and not d.endswith(".egg-info")
        )
        for name in sorted(filenames):
            full = Path(directory, name)
            rel = full.relative_to(path).as_posix()
            if full.is_symlink():
                digest.update(f"L {rel}\0{full.readlink()}\n".encode())
            elif full.is_file():
                digest.update(f"F {rel}\0".encode())
                digest.update(file_sha256(full).encode())
    return digest.hexdigest()


def _revision(package: LockedPackage, project_dir: Path) -> str:
    if package.kind == "vcs":
        return package.commit or ""
    return content_digest(_local_dir(package, project_dir))


# --------------------------------------------------------------------------- the manifest


def read_manifest(wheelhouse: Path) -> tuple[BuiltWheel, ...]:
    """The entries of ``wheelhouse``'s manifest (none when it has none)."""
    path = wheelhouse / MANIFEST
    if not path.is_file():
        return ()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise WheelhouseError(
            "not a wheelhouse manifest", file=path, line=exc.lineno, column=exc.colno, cause=exc.msg
        ) from exc
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise WheelhouseError("not a wheelhouse manifest", file=path, cause=str(exc)) from exc
    if not isinstance(data, dict) or data.get("format_version") != MANIFEST_VERSION:
        raise WheelhouseError(
            f"unsupported manifest (format_version {MANIFEST_VERSION} expected)", file=path
        )
    wheels = data.get("wheels")
    names = {f.name for f in fields(BuiltWheel)}
    if not isinstance(wheels, list) or not all(
        isinstance(w, dict) and set(w) == names and all(isinstance(v, str) for v in w.values())
        for w in wheels
    ):
        raise WheelhouseError("malformed manifest entries", file=path)
    entries = tuple(BuiltWheel(**w) for w in wheels)
    for entry in entries:
        _inside(wheelhouse, entry.wheel, path)
    return entries


def _inside(wheelhouse: Path, wheel: str, manifest: Path) -> Path:
    parts = wheel.split("/")
    if not all(parts) or any(p in (".", "..") for p in parts) or wheel.startswith("/"):
        raise WheelhouseError(f"wheel path {wheel!r} leaves the wheelhouse", file=manifest)
    return wheelhouse.joinpath(*parts)


def write_manifest(wheelhouse: Path, entries: Sequence[BuiltWheel]) -> None:
    """Write the manifest (entries sorted; the same wheels give the same bytes)."""
    wheels = sorted(
        (asdict(e) for e in entries),
        key=lambda w: (w["name"], w["kind"], w["source"], w["revision"], w["wheel"]),
    )
    text = json.dumps({"format_version": MANIFEST_VERSION, "wheels": wheels}, indent=2) + "\n"
    write_atomic(wheelhouse / MANIFEST, text)


# --------------------------------------------------------------------------- fetch: building


@frozen
class _Source:
    package: LockedPackage
    interpreter: Interpreter
    index: tuple[str, ...]  # the plugin's index arguments (the build's isolated environment)
    plugins: tuple[str, ...]


def _sources(
    desired: DesiredState, interpreters: Mapping[str, Interpreter], only: Collection[str]
) -> list[_Source]:
    found: dict[tuple[str, str, str, str], _Source] = {}
    for plugin in desired.plugins:
        if (only and plugin.name not in only) or plugin.name not in interpreters:
            continue
        interpreter = interpreters[plugin.name]
        lock = lockformats.read_lock(desired, plugin.name)
        if lock is None:
            continue  # fetch's collect() has refused missing locks already
        for package in applicable(lock, dict(interpreter.markers)):
            key = source_key(package)
            if key is None:
                continue
            ident = (package.name, *key, interpreter.executable)
            old = found.get(ident)
            if old is not None:
                found[ident] = evolve(old, plugins=(*old.plugins, plugin.name))
                continue
            index = tuple(index_args(desired.index_for(plugin), desired.project_dir))
            found[ident] = _Source(package, interpreter, index, (plugin.name,))
    return list(found.values())


@frozen
class FetchJob:
    """One ``fetch``: the project's desired state and interpreters, the selected plugins
    (empty: every one), the wheelhouse directory, and where progress lines go."""

    desired: DesiredState
    interpreters: Mapping[str, Interpreter]
    only: Collection[str]
    dest: Path
    log: Callable[[str], None]


def build_wheels(job: FetchJob) -> tuple[BuiltWheel, ...]:
    """Build a wheel of every locked VCS commit and non-editable local project of the
    (selected) plugins into ``dest/built/``, and record them in ``dest``'s manifest.

    A wheel the manifest already holds for the same source and revision, intact, is kept, not
    rebuilt. Runs inside the caller's scratch session (pip's temporary files)."""
    desired, dest, log = job.desired, job.dest, job.log
    interpreters, only = job.interpreters, job.only
    project_dir = desired.project_dir
    previous = list(read_manifest(dest))
    uv = _builder_uv(desired.settings.installer)
    built: list[BuiltWheel] = []
    for source in _sources(desired, interpreters, only):
        package = source.package
        kind, where = source_key(package) or ("", "")
        revision = _revision(package, project_dir)
        if revision == "missing":
            raise WheelhouseError(
                f"{package.name}: local project {package.url} not found "
                f"(locked by {', '.join(source.plugins)})"
            )
        reused = next(
            (
                e
                for e in previous
                if (e.name, e.kind, e.source, e.revision) == (package.name, kind, where, revision)
                and e.fits(source.interpreter)
                and _intact(dest, e)
            ),
            None,
        )
        if reused is not None:
            log(f"{package.name} {package.label}: wheel already built ({reused.wheel})")
            built.append(reused)
            continue
        log(f"building a wheel of {package.name} {redact(package.label)}")
        entry = _build(source, kind, where, revision, project_dir, dest, uv)
        if kind == "path" and _revision(package, project_dir) != revision:
            raise WheelhouseError(
                f"{package.name}: {package.url} changed while its wheel was built; run fetch again"
            )
        built.append(entry)
    # An entry of the same source for the same Python and platform is replaced (another
    # commit locked, the project edited); entries of sources not fetched this time stay.
    replaced = {(b.name, b.kind, b.source, b.python, b.platform) for b in built}
    kept = [
        e
        for e in previous
        if (e.name, e.kind, e.source, e.python, e.platform) not in replaced
        and (dest / e.wheel).is_file()
    ]
    if built or kept != previous:
        write_manifest(dest, [*kept, *built])
    _remove_unlisted(dest, [e.wheel for e in previous], {e.wheel for e in (*kept, *built)})
    return tuple(dict.fromkeys(built))


def _builder_uv(installer: str) -> str | None:
    """The uv that builds the wheels: the installer's (``uv``, or ``auto`` with uv installed);
    None for pip, which then builds them too (``pip wheel``)."""
    return find_uv() if installer in ("uv", "auto") else None


def _remove_unlisted(dest: Path, before: Sequence[str], listed: set[str]) -> None:
    """Delete the wheels (under ``built/``) the manifest listed before and no longer does."""
    for wheel in before:
        if wheel in listed or not wheel.startswith(f"{BUILT_DIR}/"):
            continue
        path = _inside(dest, wheel, dest / MANIFEST)
        if path.is_file() and not path.is_symlink():
            path.unlink()
        with contextlib.suppress(OSError):  # not empty: another wheel of the same digest
            path.parent.rmdir()


def _intact(dest: Path, entry: BuiltWheel) -> bool:
    path = dest / entry.wheel
    return path.is_file() and not path.is_symlink() and file_sha256(path) == entry.sha256


def _build(
    source: _Source,
    kind: str,
    where: str,
    revision: str,
    project_dir: Path,
    dest: Path,
    uv: str | None,
) -> BuiltWheel:
    package, interpreter = source.package, source.interpreter
    with _temporary_dir() as work:
        out = work / "wheels"
        if uv is not None and (kind == "path" or _git_remote(package) is not None):
            tool, command, result = "uv", *_uv_build(uv, source, project_dir, work)
        else:
            tool, command, result = "pip", *_pip_wheel(source, project_dir, work)
        if result.returncode != 0:
            output = (result.stdout or "") + (result.stderr or "")
            logged = f"$ {shlex.join(command)}\n{output}"
            explained = explain(result.stderr or result.stdout)
            cause = failure_cause(explained, logged, f"{tool}-wheel-{package.name}")
            raise WheelhouseError(
                f"cannot build a wheel of {package.name} {redact(package.label)} "
                f"(locked by {', '.join(source.plugins)}): {cause}"
            )
        wheels = sorted(out.glob("*.whl"))
        if len(wheels) != 1:
            raise WheelhouseError(f"{tool} made {len(wheels)} wheels of {package.name}")
        wheel = wheels[0]
        from packaging.utils import (  # noqa: PLC0415 - start-up: see BuiltWheel.fits
            InvalidWheelFilename,
            parse_wheel_filename,
        )

        try:
            name = canonical_name(parse_wheel_filename(wheel.name)[0])
        except InvalidWheelFilename as exc:
            raise WheelhouseError(
                f"{package.name}: {tool} made an invalid wheel {wheel.name}"
            ) from exc
        if name != package.name:
            raise WheelhouseError(
                f"{package.url} builds {name}, not {package.name} as its lock says"
            )
        digest = file_sha256(wheel)
        relative = f"{BUILT_DIR}/{digest[:16]}/{wheel.name}"
        target = dest / BUILT_DIR / digest[:16] / wheel.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(wheel, target)
    if file_sha256(target) != digest:
        raise WheelhouseError(f"copy does not match the wheel {tool} built", file=target)
    return BuiltWheel(
        name=package.name,
        kind=kind,
        source=where,
        revision=revision,
        wheel=relative,
        sha256=digest,
        python=interpreter.major_minor,
        platform=_platform(interpreter),
    )


_Run = tuple[list[str], subprocess.CompletedProcess[str]]


def _pip_wheel(source: _Source, project_dir: Path, work: Path) -> _Run:
    """``pip wheel --no-deps`` of the locked line into ``work/wheels``, as the plugin's
    interpreter."""
    interpreter = source.interpreter
    command = [
        *pip_command(interpreter.executable, interpreter.version),
        "--python",
        interpreter.executable,
        "wheel",
        "--no-deps",
        "--ignore-requires-python",  # the locked commit, as uv installs it (see fetch.py)
        "--progress-bar",
        "off",
        "--wheel-dir",
        str(work / "wheels"),
        *source.index,
        source.package.install_line(project_dir),
    ]
    return command, run_hermetic(command, WheelhouseError, "pip")


def _uv_build(uv: str, source: _Source, project_dir: Path, work: Path) -> _Run:
    """``uv build --wheel`` of the locked project (a git commit checked out into ``work/src``
    first) into ``work/wheels``, its isolated build environment made by uv for the plugin's
    interpreter from the plugin's index: the same PEP 517 build as ``pip wheel``'s, without pip
    installing the backend into a new environment every time."""
    package = source.package
    if package.kind == "path":
        tree = _local_dir(package, project_dir)
    else:
        tree, failed = _git_checkout(package, work / "src")
        if failed is not None:
            return failed
    command = [
        uv,
        "build",
        "--no-config",
        "--wheel",
        "--no-sources",  # as pip builds it: the project's [tool.uv.sources] are uv's own
        "--force-pep517",  # the backend the project requires, not uv's built-in one
        "--python",
        source.interpreter.executable,
        "--out-dir",
        str(work / "wheels"),
        *source.index,
        str(tree),
    ]
    return command, run_hermetic(command, WheelhouseError, "uv")


def _git_remote(package: LockedPackage) -> tuple[str, str] | None:
    """``(remote URL, subdirectory)`` of a locked ``git+`` commit (None: not git)."""
    if package.kind != "vcs" or not package.commit or package.url is None:
        return None
    parts = urlsplit(package.url)
    if not parts.scheme.startswith("git+"):
        return None
    path = parts.path.rpartition("@")[0] if "@" in parts.path else parts.path
    remote = urlunsplit((parts.scheme.removeprefix("git+"), parts.netloc, path, "", ""))
    subdirectory = parse_qs(parts.fragment).get("subdirectory", [""])[0]
    return remote, subdirectory


def _git_checkout(package: LockedPackage, into: Path) -> tuple[Path, _Run | None]:
    """Check the locked commit of ``package`` out into ``into`` as pip does: clone, check the
    commit out (fetched by its id first when no branch or tag holds it), then its submodules.
    ``(project directory, None)``, or the git command that failed and its result."""
    remote = _git_remote(package)
    assert remote is not None  # noqa: S101 - only called for git commits
    url, subdirectory = remote
    commit = package.commit or ""
    git = ["git", "-c", "advice.detachedHead=false"]
    inside = [*git, "-C", str(into)]
    checkout = [*inside, "checkout", "--quiet", commit]
    for command in (
        [*git, "clone", "--quiet", "--no-checkout", "--", url, str(into)],
        checkout,
        [*inside, "submodule", "update", "--init", "--recursive", "--quiet"],
    ):
        result = run_hermetic(command, WheelhouseError, "git")
        if result.returncode != 0 and command is checkout:
            fetch = [*inside, "fetch", "--quiet", "origin", commit]
            if run_hermetic(fetch, WheelhouseError, "git").returncode == 0:
                result = run_hermetic(command, WheelhouseError, "git")
        if result.returncode != 0:
            return into, (command, result)
    return into / subdirectory if subdirectory else into, None


class _temporary_dir:
    def __enter__(self) -> Path:
        self._path = Path(tempfile.mkdtemp(prefix="reconciler-wheel-", dir=scratch.tmpdir()))
        return self._path

    def __exit__(self, *exc: object) -> None:
        shutil.rmtree(self._path, ignore_errors=True)


# --------------------------------------------------------------------------- apply: using them


def use_wheelhouse(plan: Plan) -> Plan:
    """``plan`` with every VCS commit and non-editable local project that a wheelhouse of its
    step's find-links holds a matching wheel of installed from that wheel (see the module).

    Reads the manifests and hashes the chosen wheels: a wheel that is missing or does not match
    its recorded sha256 is an error, not a silent rebuild. A source whose wheel was built from
    another commit or from an older state of the project is built from source, with a warning.
    """
    manifests: dict[Path, tuple[BuiltWheel, ...]] = {}
    digests: dict[str, str] = {}
    checked: dict[Path, str] = {}
    warnings: list[str] = []
    steps: list[Step] = []
    for planned in plan.steps:
        step = _without_wheels(planned)  # chosen again for this step's index (an override)
        if step.index is None or not step.index.find_links or step.interpreter is None:
            steps.append(step)
            continue
        houses = [
            (directory, _manifest(directory, manifests))
            for directory in link_dirs(step.index.find_links, plan.project_dir)
        ]
        houses = [(d, m) for d, m in houses if m]
        replaced: dict[LockedPackage, LockedPackage] = {}
        for package in dict.fromkeys((*step.locked, *(i.package for i in step.install))):
            chosen = _choose(package, step, houses, plan.project_dir, digests, checked, warnings)
            if chosen is not None:
                replaced[package] = chosen
        if not replaced:
            steps.append(step)
            continue
        steps.append(
            evolve(
                step,
                locked=tuple(replaced.get(p, p) for p in step.locked),
                install=tuple(
                    evolve(i, package=replaced.get(i.package, i.package)) for i in step.install
                ),
            )
        )
    return evolve(plan, steps=tuple(steps), warnings=(*plan.warnings, *warnings))


def _without_wheels(step: Step) -> Step:
    if not any(p.prebuilt is not None for p in step.locked):
        return step
    return evolve(
        step,
        locked=tuple(evolve(p, prebuilt=None) for p in step.locked),
        install=tuple(evolve(i, package=evolve(i.package, prebuilt=None)) for i in step.install),
    )


def _manifest(directory: Path, cache: dict[Path, tuple[BuiltWheel, ...]]) -> tuple[BuiltWheel, ...]:
    if directory not in cache:
        cache[directory] = read_manifest(directory)
    return cache[directory]


def _choose(
    package: LockedPackage,
    step: Step,
    houses: Sequence[tuple[Path, tuple[BuiltWheel, ...]]],
    project_dir: Path,
    digests: dict[str, str],
    checked: dict[Path, str],
    warnings: list[str],
) -> LockedPackage | None:
    """``package`` installed from its wheel, or None (no wheel of it, or one of another
    revision: then a warning says it is built from source)."""
    key = source_key(package)
    interpreter = step.interpreter
    if key is None or interpreter is None:
        return None
    kind, where = key
    same = [
        (house, e)
        for house, entries in houses
        for e in entries
        if (e.name, e.kind, e.source) == (package.name, kind, where) and e.fits(interpreter)
    ]
    if not same:
        return None
    if kind == "vcs":
        revision = package.commit or ""
    else:
        url = package.source_url(project_dir) or ""
        if url not in digests:
            digests[url] = content_digest(_local_dir(package, project_dir))
        revision = digests[url]
    match = next(((h, e) for h, e in same if e.revision == revision), None)
    if match is None:
        house, other = same[0]
        what = (
            f"commit {other.revision[:12]}, the lock pins {revision[:12]}"
            if kind == "vcs"
            else f"{package.url} as it was, and it has changed since"
        )
        warnings.append(
            f"{step.plugin}: the wheel of {package.name} in {house} was built from {what}: "
            f"building from source (run `reconciler fetch` again)"
        )
        return None
    house, entry = match
    path = _inside(house, entry.wheel, house / MANIFEST)
    if path not in checked:
        if not path.is_file() or path.is_symlink():
            raise WheelhouseError(
                f"{house / MANIFEST} lists {entry.wheel}, which is missing; run fetch again",
                plugin=step.plugin,
            )
        checked[path] = file_sha256(path)
    if checked[path] != entry.sha256:
        raise WheelhouseError(
            f"{path} does not match the sha256 its manifest records ({entry.sha256[:16]}...): "
            "refusing to install it; run fetch again",
            plugin=step.plugin,
        )
    return evolve(package, prebuilt=Prebuilt(path.absolute().as_uri(), entry.sha256))
