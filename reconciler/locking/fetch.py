"""``reconciler fetch``: download every locked artifact, hash-checked, into a wheelhouse.

The wheelhouse is what ``reconciler apply --no-index --find-links DIR`` installs from on a machine
without network access. Locked VCS commits and non-editable local projects are built into wheels
there too (:mod:`.fetch_wheels`), so git plugins deploy offline. pip does the downloading
(``pip download --no-deps --require-hashes``) with the project's own index settings, running as
the plugin's interpreter (``pip --python``) so that it picks the artifacts that interpreter will
install.
"""

from __future__ import annotations

import re
import tarfile
import tomllib
import zipfile
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path
from urllib.parse import unquote, urlsplit

from packaging.utils import (
    canonicalize_name,
    canonicalize_version,
)

from reconciler import lockfile, lockformats
from reconciler.errors import LockError, ReconcilerError, toml_position
from reconciler.installers.base import requirements_file, run_hermetic
from reconciler.installers.pipconfig import index_args
from reconciler.interpreters import pip_command
from reconciler.lockfile import applicable, check_lock
from reconciler.locking import get_resolver
from reconciler.locking.artifacts import identify
from reconciler.locking.base import ResolveRequest
from reconciler.locking.fetch_wheels import BuiltWheel, FetchJob, build_wheels
from reconciler.models import DesiredState, IndexOptions, Interpreter, LockedPackage, Plugin
from reconciler.support import scratch
from reconciler.support.digest import file_sha256
from reconciler.support.paths import check_root
from reconciler.support.redact import redact
from reconciler.support.tool_errors import explain
from reconciler.support.values import evolve, frozen


class FetchError(ReconcilerError):
    """An artifact could not be downloaded, or did not match the hash its lock gives."""


@frozen
class Artifact:
    """One pinned distribution to fetch, with every hash any lock allows for it."""

    name: str  # canonical
    version: str
    hashes: tuple[str, ...]
    plugins: tuple[str, ...]  # the plugins whose locks pin it
    url: str | None = None  # a direct archive URL (``name @ url`` in the lock)

    @property
    def pin(self) -> str:
        """``name==version``."""
        return f"{self.name}=={self.version}"

    def line(self) -> str:
        """The requirements-file line for pip: pin (or direct URL) plus every hash."""
        head = f"{self.name} @ {self.url}" if self.url else self.pin
        return " ".join([head, *(f"--hash={h}" for h in self.hashes)])


@frozen
class FetchReport:
    """What ``fetch`` put in the wheelhouse."""

    dest: Path
    plugins: tuple[str, ...]
    artifacts: tuple[Artifact, ...]
    files: tuple[Path, ...]
    #: Wheels built from locked VCS commits and local projects (in the manifest).
    built: tuple[BuiltWheel, ...] = ()


#: ``(interpreter executable, index options)``: one group of downloads.
GroupKey = tuple[str, IndexOptions]


def collect(
    desired: DesiredState,
    interpreters: Mapping[str, Interpreter],
    only: Collection[str] = (),
    *,
    log: Callable[[str], None] | None = None,
) -> dict[GroupKey, tuple[Artifact, ...]]:
    """The artifacts to fetch, grouped by interpreter and index, deduplicated across locks.

    Each plugin's artifacts come from its own index settings (``desired.index_for``). VCS and
    local-path lines have no artifact to fetch: :func:`fetch` builds their wheels
    (:mod:`.fetch_wheels`); editable lines stay live and need their source at deploy time.
    Raises :class:`LockError` for a missing or stale lock, or a pinned line without hashes.
    """
    merged: dict[GroupKey, dict[tuple[str, str], Artifact]] = {}
    for plugin in desired.plugins:
        if only and plugin.name not in only:
            continue
        interpreter = interpreters[plugin.name]
        lock = check_lock(plugin, lockformats.read_lock(desired, plugin.name), interpreter, desired)
        path = lock.path
        group = merged.setdefault((interpreter.executable, desired.index_for(plugin)), {})
        for package in applicable(lock, dict(interpreter.markers)):
            if not package.hashable:
                if log is not None and package.editable:
                    log(f"{plugin.name}: {package.name} is editable ({package.url}): not built")
                continue  # VCS commits and local projects: built by fetch_wheels
            if not package.hashes:
                raise LockError(
                    f"{path.parent.name}/{path.name} pins "
                    f"{package.name}=={package.version} without a hash; fetch needs hashes "
                    f"(delete the lock and run `reconciler lock {plugin.name}`)",
                    plugin=plugin.name,
                )
            key = (package.name, canonicalize_version(package.version) or (package.url or ""))
            url = package.url if package.kind == "url" else None
            new = Artifact(package.name, package.version, package.hashes, (plugin.name,), url)
            old = group.get(key)
            group[key] = new if old is None else _merge(old, new)
    return {
        key: tuple(sorted(group.values(), key=lambda a: (a.name, a.version)))
        for key, group in merged.items()
    }


def _merge(old: Artifact, new: Artifact) -> Artifact:
    """One artifact pinned by several locks: every hash and every plugin, in order, once."""
    return evolve(
        old,
        hashes=tuple(dict.fromkeys((*old.hashes, *new.hashes))),
        plugins=tuple(dict.fromkeys((*old.plugins, *new.plugins))),
    )


def batches(artifacts: Sequence[Artifact]) -> list[tuple[Artifact, ...]]:
    """Split ``artifacts`` so that no batch pins two versions of one name (pip refuses that)."""
    result: list[list[Artifact]] = []
    for artifact in artifacts:
        for batch in result:
            if all(a.name != artifact.name for a in batch):
                batch.append(artifact)
                break
        else:
            result.append([artifact])
    return [tuple(batch) for batch in result]


def fetch(job: FetchJob) -> FetchReport:
    """Download every locked artifact of the (selected) declared plugins into ``job.dest``.

    Every artifact is verified against its lock's hashes (by pip, then again here); the first
    failure raises :class:`FetchError` naming the package and the plugins that lock it.
    """
    desired, interpreters, only, log = job.desired, job.interpreters, job.only, job.log
    groups = collect(desired, interpreters, only, log=log)
    dest = job.dest.absolute()
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FetchError("cannot create", file=dest, cause=exc.strerror or str(exc)) from exc
    project_dir = desired.project_dir
    versions = {i.executable: i.version for i in interpreters.values()}
    unique: dict[tuple[str, str], Artifact] = {}
    # pip's temporary files go to the scratch area, where the next run finds them.

    check_root(desired.layout.root, desired.project_dir, "venv root")
    with scratch.session(desired.layout.root):
        for (executable, index_options), artifacts in groups.items():
            index = index_args(index_options, project_dir)
            for batch in batches(artifacts):
                log(f"downloading {len(batch)} artifact(s) with {executable}")
                _download(executable, versions[executable], batch, dest, index)
        built = build_wheels(evolve(job, dest=dest))
    for artifacts in groups.values():
        for a in artifacts:
            key = (a.name, canonicalize_version(a.version) or (a.url or ""))
            old = unique.get(key)
            unique[key] = a if old is None else _merge(old, a)
    every = tuple(unique.values())
    files = _verify(every, dest)
    build = _fetch_build_requirements(desired, interpreters, only, groups, files, dest, log)
    plugins = tuple(p.name for p in desired.plugins if not only or p.name in only)
    return FetchReport(
        dest=dest, plugins=plugins, artifacts=every, files=(*files, *build), built=built
    )


def _fetch_build_requirements(
    desired: DesiredState,
    interpreters: Mapping[str, Interpreter],
    only: Collection[str],
    groups: dict[GroupKey, tuple[Artifact, ...]],
    files: Sequence[Path],
    dest: Path,
    log: Callable[[str], None],
) -> tuple[Path, ...]:
    """Download what building the sdists and local projects needs, pinned and hash-checked.

    An sdist (or local project) is built at install time in an isolated environment holding its
    ``[build-system] requires``; offline, those must be in the wheelhouse too. For each
    interpreter and index, the union of those requirements is resolved with pip-compile
    (``--generate-hashes``) and downloaded with ``--require-hashes``, so the backend that builds
    at deploy time is exactly the one hash-checked here.
    """
    needs: dict[GroupKey, set[str]] = {}
    for (executable, index_options), artifacts in groups.items():
        names = {(a.name, canonicalize_version(a.version)) for a in artifacts}
        for path in files:
            identity = identify(path.name)
            if identity is None or path.name.endswith(".whl") or identity not in names:
                continue
            needs.setdefault((executable, index_options), set()).update(build_requires(path))
    for plugin in desired.plugins:
        if (only and plugin.name not in only) or plugin.name not in interpreters:
            continue
        interpreter = interpreters[plugin.name]
        lock = lockformats.read_lock(desired, plugin.name)
        for package in lock.packages if lock is not None else ():
            if package.kind == "path":
                local = Path(unquote(urlsplit(package.source_url(desired.project_dir) or "").path))
                key = (interpreter.executable, desired.index_for(plugin))
                needs.setdefault(key, set()).update(build_requires(local))
    fetched: list[Path] = []
    for (executable, index_options), wanted in sorted(needs.items(), key=lambda kv: kv[0][0]):
        if not wanted:
            continue
        plugin = next(
            p for p in desired.plugins
            if p.name in interpreters
            and interpreters[p.name].executable == executable
            and desired.index_for(p) == index_options
        )  # fmt: skip
        log(f"resolving build requirements ({', '.join(sorted(wanted))}) for {executable}")
        pins = _resolve_build(sorted(wanted), plugin, desired, interpreters[plugin.name])
        artifacts = tuple(
            Artifact(p.name, p.version, p.hashes, ("build",)) for p in pins if p.hashes
        )
        index = index_args(index_options, desired.project_dir)
        version = interpreters[plugin.name].version
        for batch in batches(artifacts):
            _download(executable, version, batch, dest, index)
        fetched.extend(_verify(artifacts, dest))
    return tuple(dict.fromkeys(fetched))


def build_requires(path: Path) -> list[str]:
    """``[build-system] requires`` of an sdist archive or a project directory.

    Without a ``pyproject.toml`` (or without ``[build-system]``), pip builds with setuptools:
    ``setuptools>=40.8.0``, as pip's own fallback says.
    """
    text: str | None = None
    try:
        if path.is_dir():
            candidate = path / "pyproject.toml"
            text = candidate.read_text(encoding="utf-8") if candidate.is_file() else None
        elif path.name.endswith(".zip"):
            with zipfile.ZipFile(path) as archive:
                member = _pyproject_member(archive.namelist())
                text = archive.read(member).decode() if member else None
        else:
            with tarfile.open(path) as archive:
                member = _pyproject_member(archive.getnames())
                handle = archive.extractfile(member) if member else None
                text = handle.read().decode() if handle else None
    except (OSError, tarfile.TarError, zipfile.BadZipFile, UnicodeDecodeError) as exc:
        raise FetchError(f"cannot read the build requirements of {path.name}: {exc}") from exc
    if text is None:
        return ["setuptools>=40.8.0"]
    try:
        system = tomllib.loads(text).get("build-system")
    except tomllib.TOMLDecodeError as exc:
        what, line, column = toml_position(exc)
        raise FetchError(
            "invalid TOML", file=f"{path.name}/pyproject.toml", line=line, column=column, cause=what
        ) from exc
    if not isinstance(system, dict) or "requires" not in system:
        return ["setuptools>=40.8.0"]
    requires = system.get("requires")
    if not isinstance(requires, list) or not all(isinstance(r, str) for r in requires):
        raise FetchError(
            "must be a list of strings",
            file=f"{path.name}/pyproject.toml",
            key="build-system.requires",
        )
    return list(requires)


def _pyproject_member(names: Sequence[str]) -> str | None:
    """The top-level ``<dir>/pyproject.toml`` of an sdist."""
    found = [n for n in names if n.count("/") == 1 and n.endswith("/pyproject.toml")]
    return found[0] if found else None


def _resolve_build(
    wanted: Sequence[str], plugin: Plugin, desired: DesiredState, interpreter: Interpreter
) -> tuple[LockedPackage, ...]:
    """Pin ``wanted`` (build requirements) with hashes, for the plugin's interpreter and index."""
    build_plugin = evolve(
        plugin, requirements=tuple(wanted), constraints=(), pre=False, universal=False
    )
    request = ResolveRequest(
        plugin=build_plugin,
        interpreter=interpreter,
        index=desired.index_for(plugin),
        project_dir=desired.project_dir,
        tools_dir=desired.settings.venv_root / ".reconciler" / "tools",
    )
    body = get_resolver(desired.settings.resolver).resolve(request)
    parsed = lockfile.parse(plugin.name, Path("build-requirements.txt"), body)
    return applicable(parsed, dict(interpreter.markers))


def _download(
    executable: str,
    version: str,
    artifacts: Sequence[Artifact],
    dest: Path,
    index: Sequence[str],
) -> None:
    with requirements_file(a.line() for a in artifacts) as requirements:
        command = [
            *pip_command(executable, version),
            "--python",
            executable,
            "download",
            "--no-deps",
            "--require-hashes",
            # the lock's pins, whatever their Requires-Python upper bound says (uv resolves
            # ignoring those bounds, and installs them): the hashes fix the files
            "--ignore-requires-python",
            "--progress-bar",
            "off",
            "--dest",
            str(dest),
            *index,
            "-r",
            str(requirements),
        ]
        result = run_hermetic(command, FetchError, "pip")
    if result.returncode != 0:
        raise FetchError(_explain(result.stderr or result.stdout, artifacts))


_MISMATCH_RE = re.compile(
    r"^\s*(?P<req>\S+==\S+) from (?P<url>\S+).*?:\s*\n\s*Expected sha256 (?P<expected>[0-9a-f]+)"
    r"(?:\s*\n\s*or\s+[0-9a-f]+)*\s*\n\s*Got\s+(?P<got>[0-9a-f]+)",
    re.MULTILINE,
)
_NOT_FOUND_RE = re.compile(r"No matching distribution found for (?P<req>\S+)")


def _explain(output: str, artifacts: Sequence[Artifact]) -> str:
    """One line for a failed ``pip download``, naming the package and the locks pinning it."""

    def owners(requirement: str) -> str:
        name = canonicalize_name(re.split(r"[=<>!~;\s]", requirement, maxsplit=1)[0])
        plugins = sorted({p for a in artifacts if a.name == name for p in a.plugins})
        return f" (locked by {', '.join(plugins)})" if plugins else ""

    mismatch = _MISMATCH_RE.search(output)
    if mismatch:
        req = mismatch.group("req")
        others = " (or another listed hash)" if " or " in mismatch.group(0) else ""
        return redact(
            f"hash mismatch for {req}{owners(req)}: the lock wants sha256 "
            f"{mismatch.group('expected')}{others}, {mismatch.group('url')} has "
            f"{mismatch.group('got')}"
        )
    missing = _NOT_FOUND_RE.search(output)
    if missing:
        req = missing.group("req")
        return redact(f"cannot fetch {req}{owners(req)}: no matching distribution found")
    return f"pip download failed: {explain(output)}"


def _verify(artifacts: Sequence[Artifact], dest: Path) -> tuple[Path, ...]:
    """The file of ``dest`` matching each artifact's hashes; raise when one has none."""
    candidates: dict[tuple[str, str], list[Path]] = {}
    for path in sorted(dest.iterdir()):
        identity = identify(path.name) if path.is_file() else None
        if identity is not None:
            candidates.setdefault(identity, []).append(path)
    found: list[Path] = []
    for artifact in artifacts:
        allowed = {h.removeprefix("sha256:") for h in artifact.hashes}
        key = (artifact.name, canonicalize_version(artifact.version))
        match = next((p for p in candidates.get(key, ()) if file_sha256(p) in allowed), None)
        if match is None:
            raise FetchError(
                f"{artifact.pin} (locked by {', '.join(artifact.plugins)}): no file in {dest} "
                "matches the locked hashes after download"
            )
        if match not in found:
            found.append(match)
    return tuple(found)
