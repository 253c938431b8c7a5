"""The PEP 751 lock format: ``lock/pylock.<name>.toml``, validated with ``packaging.pylock``.

What is written: one ``[[packages]]`` entry per pin (a universal lock may hold a name twice,
each with its ``marker``), with every artifact of the pin (``wheels`` and ``sdist``: file name,
``url`` for an index file or ``path`` relative to the lock's directory for a find-links file,
``size``, ``hashes``); a VCS pin as ``vcs`` (``commit-id``, ``requested-revision``); a local
project as ``directory`` (relative, ``editable``); a direct archive URL as ``archive``. What the
lock was made from is ``[tool.reconciler]`` (the inputs digest and its parts, the plugin's
requirements, interpreter and index settings, credentials stripped) so freshness works exactly as
for a requirements lock. The file name's ``<name>`` part may not contain a dot (PEP 751):
every ``.`` of a plugin name becomes ``-`` (``tap.csv`` -> ``pylock.tap-csv.toml``).
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from reconciler.backends import lock_file
from reconciler.errors import LockError, ReconcilerError, toml_position
from reconciler.lockfile import normalise_index
from reconciler.lockformats.base import ArtifactFile, LockContent
from reconciler.models import InputsDigest, Lock, LockedPackage
from reconciler.requirements import split_vcs
from reconciler.support.names import canonical_name
from reconciler.support.redact import redact, strip_credentials

if TYPE_CHECKING:
    from packaging.pylock import Package, Pylock

#: ``created-by`` of the files reconciler writes.
CREATED_BY = "reconciler"


def file_stem(lock_name: str) -> str:
    """``extractors/tap.csv`` -> ``extractors/pylock.tap-csv.toml`` (PEP 751: no dot in the
    name part; a Meltano ``<type>/<name>`` keeps its ``<type>/`` directory)."""
    return lock_file("pylock", lock_name)


class PylockFormat:
    """PEP 751 ``pylock.<name>.toml``."""

    name = "pylock"

    def relative_path(self, lock_name: str) -> str:
        """See :func:`file_stem`."""
        return file_stem(lock_name)

    def owns(self, path: Path) -> bool:
        """A pylock file reconciler wrote (``[tool.reconciler]`` with an inputs digest)."""
        from reconciler.support.files import read_text_in  # noqa: PLC0415 - start-up: shutil and tempfile, only when a file is read

        try:
            data = tomllib.loads(read_text_in(path, path.parent))  # never a FIFO, never blocking
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, ReconcilerError):
            return False
        except RecursionError:
            return False
        tool = data.get("tool")
        return isinstance(tool, dict) and isinstance(tool.get("reconciler"), dict)

    def plugin_label(self, path: Path) -> str:
        """``pylock.tap-csv.toml`` -> ``tap-csv``."""
        return path.name.removeprefix("pylock.").removesuffix(".toml")

    def parse(self, plugin: str, path: Path, text: str) -> Lock:
        """Validate with ``packaging.pylock`` and read into the format-neutral values."""
        label = f"{path.parent.name}/{path.name}"
        pylock = validate(label, text)
        tool = (pylock.tool or {}).get("reconciler")
        inputs = None
        project = ".."
        if isinstance(tool, dict):
            inputs = _inputs(tool)
            project = str(tool.get("project-root", ".."))
        # directories are relative to the lock's folder; LockedPackage wants them relative to
        # the project (whose root the lock records relative to its folder)
        folder = os.path.normpath(path.parent.absolute())
        root = os.path.normpath(Path(folder, project))
        packages = tuple(_package(label, p, folder, root) for p in pylock.packages)
        keys = [(p.name, p.marker or "") for p in packages]
        for key in keys:
            if keys.count(key) > 1:
                raise LockError("locked twice with the same marker", file=label, key=key[0])
        import hashlib  # noqa: PLC0415 - start-up: a plan reading requirements locks needs none

        return Lock(
            plugin=plugin,
            path=path,
            inputs=inputs,
            packages=tuple(sorted(packages, key=lambda p: (p.name, p.marker or ""))),
            content_digest="sha256:" + hashlib.sha256(text.encode()).hexdigest(),
            format=self.name,
        )

    def render(self, content: LockContent) -> str:
        """The pylock text for ``content``; validated (``packaging.pylock``) before returning."""
        import tomlkit  # noqa: PLC0415 - start-up: pylock locks only

        lock_dir = content.path.parent
        doc = tomlkit.document()
        doc.add(tomlkit.comment("PEP 751 lock written by `reconciler lock`; do not edit."))
        doc.add(tomlkit.comment("Install it without reconciler: pip install -r <this file>"))
        doc["lock-version"] = "1.0"
        doc["created-by"] = CREATED_BY
        requires_python = _requires_python(content)
        if requires_python:
            doc["requires-python"] = requires_python
        packages = tomlkit.aot()
        for package in content.lock.packages:
            packages.append(_entry(package, content, lock_dir))
        doc["packages"] = packages
        tool = tomlkit.table()
        tool["reconciler"] = _tool_table(content, lock_dir)
        doc["tool"] = tool
        text = tomlkit.dumps(doc)
        self.parse(content.plugin.name, content.path, text)  # never write what we cannot read
        return text


def _requires_python(content: LockContent) -> str:
    """PEP 751 ``requires-python``: at or above the patch level the lock was resolved for
    (``>=3.11.7``) and, unless the lock is universal, within that X.Y (``,<3.12``)."""
    floor = content.inputs.floor
    if not floor:
        return ""
    major, minor, _ = floor.split(".")
    if content.plugin.universal:
        return f">={floor}"
    return f">={floor},<{major}.{int(minor) + 1}"


def validate(label: str, text: str) -> Pylock:
    """``text`` as a validated :class:`packaging.pylock.Pylock`; LockError naming ``label``."""
    from packaging.pylock import Pylock, PylockValidationError  # noqa: PLC0415 - start-up

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        what, line, column = toml_position(exc)
        raise LockError("not valid TOML", file=label, line=line, column=column, cause=what) from exc
    try:
        return Pylock.from_dict(data)
    except PylockValidationError as exc:
        raise LockError(
            "not a valid PEP 751 lock", file=label, key=exc.context, cause=redact(exc.message)
        ) from exc


def _inputs(tool: dict[str, Any]) -> InputsDigest | None:
    digest = str(tool.get("inputs", ""))
    if not digest.startswith("sha256:") or len(digest) != 71:
        return None
    return InputsDigest(
        digest[7:],
        str(tool.get("requirements-digest", "")),
        str(tool.get("python", "")),
        str(tool.get("index-digest", "")),
        _floor(tool.get("python-floor")),
    )


def _floor(value: object) -> str:
    """``[tool.reconciler] python-floor`` when it is a plain ``X.Y.Z`` (else none)."""
    if not isinstance(value, str):
        return ""
    parts = value.split(".")
    plain = len(parts) == 3 and all(p.isascii() and p.isdigit() and len(p) <= 4 for p in parts)
    return value if plain else ""


def _hashes(hashes: Any) -> tuple[str, ...]:
    value = hashes.get("sha256") if hashes else None
    return (f"sha256:{value}",) if value else ()


def _package(label: str, package: Package, folder: str, root: str) -> LockedPackage:
    name = canonical_name(package.name)
    marker = str(package.marker) if package.marker is not None else None
    version = str(package.version) if package.version is not None else ""
    if package.vcs is not None:
        vcs = package.vcs
        if not vcs.url:
            raise LockError(
                "a VCS package needs a url (a path is not portable)", file=label, key=name
            )
        fragment = f"#subdirectory={vcs.subdirectory}" if vcs.subdirectory else ""
        url = f"{vcs.type}+{vcs.url}@{vcs.commit_id}{fragment}"
        return LockedPackage(
            name=name,
            version="",
            requirement=f"{name} @ {url}",
            marker=marker,
            kind="vcs",
            url=url,
            commit=vcs.commit_id,
            ref=vcs.requested_revision,
        )
    if package.directory is not None:
        where = os.path.normpath(Path(folder, package.directory.path))
        rel = Path(os.path.relpath(where, root)).as_posix()
        shown = rel if rel.startswith("..") or rel == "." else f"./{rel}"
        return LockedPackage.local(
            name, shown, marker=marker, editable=bool(package.directory.editable)
        )
    if package.archive is not None:
        url = package.archive.url or ""
        if not url:
            raise LockError("an archive needs a url", file=label, key=name)
        return LockedPackage.pin(
            name, version, _hashes(package.archive.hashes), marker=marker, url=url
        )
    hashes: list[str] = []
    for wheel in package.wheels or ():
        hashes.extend(_hashes(wheel.hashes))
    if package.sdist is not None:
        hashes.extend(_hashes(package.sdist.hashes))
    if not version:
        raise LockError("an index package needs a version", file=label, key=name)
    return LockedPackage.pin(name, version, tuple(sorted(set(hashes))), marker=marker)


def _location(artifact: ArtifactFile, content: LockContent, lock_dir: Path) -> dict[str, str]:
    if artifact.url is not None:
        return {"url": artifact.url}
    assert artifact.path is not None  # noqa: S101 - an artifact has one or the other
    # lexically (as find-links spells it): a wheelhouse symlinked into the project is fine
    root = Path(os.path.normpath(content.project_dir.absolute()))
    where = Path(os.path.normpath(artifact.path))
    if not where.is_relative_to(root):
        raise LockError(
            f"{artifact.filename} is outside the project "
            f"(find-links {artifact.path.parent}); a pylock lock holds no absolute path: "
            "put the wheelhouse under the project or serve it as an index",
            plugin=content.plugin.name,
        )
    rel = os.path.relpath(where, os.path.normpath(lock_dir.absolute()))
    return {"path": Path(rel).as_posix()}


def _file(artifact: ArtifactFile, content: LockContent, lock_dir: Path) -> Any:
    import tomlkit  # noqa: PLC0415 - start-up: pylock locks only

    entry = tomlkit.inline_table()
    entry["name"] = artifact.filename
    entry.update(_location(artifact, content, lock_dir))
    if artifact.size is not None:
        entry["size"] = artifact.size
    entry["hashes"] = {"sha256": artifact.sha256}
    return entry


def _entry(package: LockedPackage, content: LockContent, lock_dir: Path) -> Any:
    import tomlkit  # noqa: PLC0415 - start-up: pylock locks only

    table = tomlkit.table()
    table["name"] = package.name
    if package.version:
        table["version"] = package.version
    if package.marker:
        table["marker"] = package.marker
    if package.kind == "vcs":
        table["vcs"] = _vcs(package)
    elif package.kind == "path":
        table["directory"] = _directory(package, content, lock_dir)
    elif package.kind == "url":
        table["archive"] = _archive(package)
    else:
        files = content.find_artifacts(package)
        wheels = [f for f in files if f.filename.endswith(".whl")]
        sdists = [f for f in files if not f.filename.endswith(".whl")]
        if sdists:
            table["sdist"] = _file(sdists[0], content, lock_dir)
        if wheels:
            array = tomlkit.array()
            array.multiline(True)
            for wheel in sorted(wheels, key=lambda w: w.filename):
                array.append(_file(wheel, content, lock_dir))
            table["wheels"] = array
    return table


def _vcs(package: LockedPackage) -> Any:
    import tomlkit  # noqa: PLC0415 - start-up: pylock locks only

    assert package.url is not None  # noqa: S101 - VCS pins always carry both
    assert package.commit is not None  # noqa: S101
    repo, _, fragment = split_vcs(package.url)
    vcs_type, _, url = repo.partition("+")
    vcs = tomlkit.inline_table()
    vcs["type"] = vcs_type
    vcs["url"] = strip_credentials(url)
    if package.ref:
        vcs["requested-revision"] = package.ref
    vcs["commit-id"] = package.commit
    if fragment.startswith("#subdirectory="):
        vcs["subdirectory"] = fragment.removeprefix("#subdirectory=").split("&", 1)[0]
    return vcs


def _directory(package: LockedPackage, content: LockContent, lock_dir: Path) -> Any:
    import tomlkit  # noqa: PLC0415 - start-up: pylock locks only

    assert package.url is not None  # noqa: S101 - path pins always carry one
    directory = tomlkit.inline_table()
    absolute = (content.project_dir / package.url).resolve()
    directory["path"] = Path(os.path.relpath(absolute, lock_dir.resolve())).as_posix()
    if package.editable:
        directory["editable"] = True
    return directory


def _archive(package: LockedPackage) -> Any:
    import tomlkit  # noqa: PLC0415 - start-up: pylock locks only

    assert package.url is not None  # noqa: S101 - URL pins always carry one
    archive = tomlkit.inline_table()
    archive["url"] = strip_credentials(package.url)
    size = _local_size(package.url)
    if size is not None:
        archive["size"] = size
    archive["hashes"] = {"sha256": package.hashes[0].removeprefix("sha256:")}
    return archive


def _local_size(url: str) -> int | None:
    if not url.startswith("file:"):
        return None

    try:
        return Path(unquote(urlsplit(url).path)).stat().st_size
    except OSError:
        return None


def _tool_table(content: LockContent, lock_dir: Path) -> Any:
    import tomlkit  # noqa: PLC0415 - start-up: pylock locks only

    plugin = content.plugin
    inputs = content.inputs
    table = tomlkit.table()
    table["inputs"] = f"sha256:{inputs.digest}"
    table["requirements-digest"] = inputs.requirements
    table["python"] = inputs.python
    table["index-digest"] = inputs.index
    if inputs.floor:
        table["python-floor"] = inputs.floor
    table["plugin"] = plugin.name
    table["requirements"] = [strip_credentials(r) for r in plugin.requirements]
    if plugin.constraints:
        table["constraints"] = [strip_credentials(c) for c in plugin.constraints]
    if plugin.pre:
        table["pre"] = True
    if plugin.universal:
        table["universal"] = True
    index = {
        key.replace("_", "-"): value
        for key, value in normalise_index(content.index).items()
        if value not in (None, [], False)
    }
    if index:
        table["index"] = index
    rel = os.path.relpath(content.project_dir.resolve(), lock_dir.resolve())
    table["project-root"] = Path(rel).as_posix()
    return table
