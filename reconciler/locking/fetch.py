"""``reconciler fetch``: download every locked artifact, hash-checked, into a wheelhouse.

The wheelhouse is what ``reconciler apply --no-index --find-links DIR`` installs from on a machine
without network access. pip does the downloading (``pip download --no-deps --require-hashes``) with
the project's own index settings, running as the plugin's interpreter (``pip --python``) so that it
picks the artifacts that interpreter will install.
"""

from __future__ import annotations

import hashlib
import re
import sys
from collections.abc import Callable, Collection, Sequence
from pathlib import Path

import attrs
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    canonicalize_version,
    parse_sdist_filename,
    parse_wheel_filename,
)

from reconciler import lockfile
from reconciler.app import Project, check_selection
from reconciler.errors import LockError, ReconcilerError
from reconciler.installers.base import last_error_line, requirements_file, show_command
from reconciler.plan import applicable, check_lock
from reconciler.support import procs, scratch
from reconciler.support.pipconfig import hermetic_env, index_args
from reconciler.support.redact import redact


class FetchError(ReconcilerError):
    """An artifact could not be downloaded, or did not match the hash its lock gives."""


@attrs.frozen
class Artifact:
    """One pinned distribution to fetch, with every hash any lock allows for it."""

    name: str  # canonical
    version: str
    hashes: tuple[str, ...]
    plugins: tuple[str, ...]  # the plugins whose locks pin it

    @property
    def pin(self) -> str:
        """``name==version``."""
        return f"{self.name}=={self.version}"

    def line(self) -> str:
        """The requirements-file line for pip: pin plus every hash."""
        return " ".join([self.pin, *(f"--hash={h}" for h in self.hashes)])


@attrs.frozen
class FetchReport:
    """What ``fetch`` put in the wheelhouse."""

    dest: Path
    plugins: tuple[str, ...]
    artifacts: tuple[Artifact, ...]
    files: tuple[Path, ...]


def collect(project: Project, only: Collection[str] = ()) -> dict[str, tuple[Artifact, ...]]:
    """The artifacts to fetch, grouped by interpreter executable, deduplicated across locks.

    Raises :class:`LockError` for a missing or stale lock, or a lock line without hashes.
    """
    desired = project.desired
    merged: dict[str, dict[tuple[str, str], Artifact]] = {}
    for plugin in desired.plugins:
        if only and plugin.name not in only:
            continue
        interpreter = project.interpreters[plugin.name]
        path = desired.lock_path(plugin.name)
        lock = check_lock(plugin, lockfile.read(plugin.name, path), interpreter, desired)
        group = merged.setdefault(interpreter.executable, {})
        for package in applicable(lock, interpreter):
            if not package.hashes:
                raise LockError(
                    f"plugin {plugin.name!r}: {path.parent.name}/{path.name} pins "
                    f"{package.name}=={package.version} without a hash; fetch needs hashes "
                    f"(delete the lock and run `reconciler lock {plugin.name}`)"
                )
            key = (package.name, canonicalize_version(package.version))
            new = Artifact(package.name, package.version, package.hashes, (plugin.name,))
            old = group.get(key)
            group[key] = new if old is None else _merge(old, new)
    return {
        executable: tuple(sorted(group.values(), key=lambda a: (a.name, a.version)))
        for executable, group in merged.items()
    }


def _merge(old: Artifact, new: Artifact) -> Artifact:
    """One artifact pinned by several locks: every hash and every plugin, in order, once."""
    return attrs.evolve(
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


def fetch(
    project: Project,
    only: Collection[str],
    dest: Path,
    *,
    log: Callable[[str], None],
) -> FetchReport:
    """Download every locked artifact of the (selected) declared plugins into ``dest``.

    Every artifact is verified against its lock's hashes (by pip, then again here); the first
    failure raises :class:`FetchError` naming the package and the plugins that lock it.
    """
    check_selection(project, only, allow_undeclared=False)
    groups = collect(project, only)
    dest = dest.absolute()
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FetchError(f"cannot create {dest}: {exc.strerror or exc}") from exc
    settings = project.desired.settings
    index = index_args(settings.index, project.desired.project_dir)
    unique: dict[tuple[str, str], Artifact] = {}
    # pip's temporary files go to the scratch area, where the next run finds them.
    with scratch.session(project.desired.layout.root):
        for executable, artifacts in groups.items():
            for batch in batches(artifacts):
                log(f"downloading {len(batch)} artifact(s) with {executable}")
                _download(executable, batch, dest, index)
    for artifacts in groups.values():
        for a in artifacts:
            key = (a.name, canonicalize_version(a.version))
            old = unique.get(key)
            unique[key] = a if old is None else _merge(old, a)
    every = tuple(unique.values())
    files = _verify(every, dest)
    plugins = tuple(p.name for p in project.desired.plugins if not only or p.name in only)
    return FetchReport(dest=dest, plugins=plugins, artifacts=every, files=files)


def _download(
    executable: str, artifacts: Sequence[Artifact], dest: Path, index: Sequence[str]
) -> None:
    with requirements_file(a.line() for a in artifacts) as requirements:
        command = [
            sys.executable,
            "-m",
            "pip",
            "--python",
            executable,
            "download",
            "--no-deps",
            "--require-hashes",
            "--progress-bar",
            "off",
            "--dest",
            str(dest),
            *index,
            "-r",
            str(requirements),
        ]
        show_command(command)
        try:
            result = procs.run(command, env=hermetic_env())
        except OSError as exc:
            raise FetchError(f"cannot run pip: {exc.strerror or exc}") from exc
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
    return f"pip download failed: {last_error_line(output)}"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _identify(filename: str) -> tuple[str, str] | None:
    """``(canonical name, canonical version)`` of a wheel or sdist file name, else None."""
    try:
        if filename.endswith(".whl"):
            name, version, _, _ = parse_wheel_filename(filename)
        else:
            name, version = parse_sdist_filename(filename)
    except (InvalidWheelFilename, InvalidSdistFilename):
        return None
    return str(name), canonicalize_version(version)


def _verify(artifacts: Sequence[Artifact], dest: Path) -> tuple[Path, ...]:
    """The file of ``dest`` matching each artifact's hashes; raise when one has none."""
    candidates: dict[tuple[str, str], list[Path]] = {}
    for path in sorted(dest.iterdir()):
        identity = _identify(path.name) if path.is_file() else None
        if identity is not None:
            candidates.setdefault(identity, []).append(path)
    found: list[Path] = []
    for artifact in artifacts:
        allowed = {h.removeprefix("sha256:") for h in artifact.hashes}
        key = (artifact.name, canonicalize_version(artifact.version))
        match = next((p for p in candidates.get(key, ()) if _sha256(p) in allowed), None)
        if match is None:
            raise FetchError(
                f"{artifact.pin} (locked by {', '.join(artifact.plugins)}): no file in {dest} "
                "matches the locked hashes after download"
            )
        if match not in found:
            found.append(match)
    return tuple(found)
