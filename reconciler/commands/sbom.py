"""``reconciler sbom``: a CycloneDX JSON document per plugin, made from its lock.

Built with the CycloneDX project's own library (``cyclonedx-python-lib``, the ``sbom`` extra:
``pip install 'venv-reconciler[sbom]'``), never hand-written JSON. One document per plugin:

- the plugin is the root component (``metadata.component``, type ``application``);
- every locked package is a ``library`` component with its name, version, purl
  (``pkg:pypi/<name>@<version>``; a direct URL adds ``download_url``, a VCS pin ``vcs_url`` with
  the commit) and the sha256 hashes the lock allows (one per artifact: sdist and wheels);
- a package locked behind an environment marker (universal locks) carries it as the property
  ``reconciler:marker``; a local project carries its path as ``reconciler:path``;
- dependencies come from the lock's ``# via`` annotations (pip-compile and uv write them):
  ``-r ...`` means the plugin asked for it; without annotations the plugin depends on every
  package (the lock holds no graph to say more).

The document is reproducible: its serial number is derived from the lock's content, and the
timestamp is ``SOURCE_DATE_EPOCH`` when set (else now).
"""

from __future__ import annotations

import datetime as dt
import os
import re
import uuid
from collections.abc import Collection
from pathlib import Path
from typing import TYPE_CHECKING

from reconciler.commands.project import Project, read_locks, select
from reconciler.errors import LockError, ReconcilerError, combine
from reconciler.lockfile import check_lock
from reconciler.models import Lock, LockedPackage
from reconciler.results.reports import SbomFile
from reconciler.support.names import canonical_name

if TYPE_CHECKING:
    from packageurl import PackageURL

INSTALL_HINT = (
    "reconciler sbom needs the CycloneDX library: pip install 'venv-reconciler[sbom]' "
    "(or pipx inject venv-reconciler cyclonedx-python-lib)"
)
#: The CycloneDX specification version written (1.6: read by every current consumer).
SPEC_VERSION = "1.6"
_NAMESPACE = uuid.UUID("9d2f3f0e-5b7a-4a53-9c55-1f6c3e6d2a18")  # reconciler's SBOM serials
_PIN = re.compile(r"(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*(?:==|@)")
_VIA = re.compile(r"#\s+via\b\s*(?P<rest>.*)")
_VIA_MORE = re.compile(r"#\s{2,}(?P<rest>\S.*)")


def check_library() -> None:
    """Raise a one-line error saying how to install the CycloneDX library when it is missing."""
    try:
        import cyclonedx.output.json  # noqa: F401, PLC0415 - optional: the sbom extra
        import packageurl  # noqa: F401, PLC0415 - optional: the sbom extra
    except ImportError as exc:
        raise ReconcilerError(INSTALL_HINT) from exc


def write_all(project: Project, names: Collection[str], out_dir: Path) -> list[SbomFile]:
    """Write ``<out_dir>/<plugin>.cdx.json`` for every selected plugin (all when ``names`` is
    empty); every lock must exist and be fresh (what ``apply`` would deploy)."""
    from reconciler.support.files import write_atomic  # noqa: PLC0415 - start-up

    check_library()
    only = select(project, names, allow_undeclared=False)
    project.require(only)
    desired = project.desired
    plugins = [p for p in desired.plugins if not only or p.name in only]
    locks = read_locks(desired, only)
    checked: list[tuple[str, Lock]] = []
    failures: list[ReconcilerError] = []
    for plugin in plugins:
        try:
            lock = check_lock(
                plugin, locks.get(plugin.name), project.interpreters[plugin.name], desired
            )
        except LockError as exc:
            failures.append(exc)
            continue
        checked.append((plugin.name, lock))
    if failures:
        raise combine(failures)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ReconcilerError("cannot create", file=out_dir, cause=exc.strerror) from exc
    written = []
    for name, lock in checked:
        path = out_dir / f"{name}.cdx.json"
        text = document(name, lock)
        try:
            write_atomic(path, text)
        except OSError as exc:
            raise ReconcilerError("cannot write", file=path, cause=exc.strerror) from exc
        written.append(SbomFile(name, path, len(lock.packages)))
    return written


def document(plugin: str, lock: Lock) -> str:
    """The CycloneDX JSON document (spec :data:`SPEC_VERSION`) of ``plugin``'s ``lock``."""
    check_library()
    from cyclonedx.model import HashAlgorithm, HashType, Property  # noqa: PLC0415 - optional: the sbom extra
    from cyclonedx.model.bom import Bom, BomMetaData  # noqa: PLC0415 - optional: the sbom extra
    from cyclonedx.model.component import Component, ComponentType  # noqa: PLC0415 - optional: the sbom extra
    from cyclonedx.output.json import JsonV1Dot6  # noqa: PLC0415 - optional: the sbom extra

    from reconciler import __version__  # noqa: PLC0415 - start-up

    by_name = {p.name: p for p in lock.packages}
    own = by_name.get(canonical_name(plugin))
    root = Component(
        name=plugin,
        type=ComponentType.APPLICATION,
        bom_ref=f"plugin:{plugin}",
        version=own.version if own is not None and own.version else None,
        description=f"the venv of plugin {plugin}, as its lock pins it",
    )
    components: dict[str, Component] = {}
    for package in lock.packages:
        hashes = [
            HashType(alg=HashAlgorithm.SHA_256, content=h.removeprefix("sha256:"))
            for h in package.hashes
            if h.startswith("sha256:")
        ]
        properties = []
        if package.marker:
            properties.append(Property(name="reconciler:marker", value=package.marker))
        if package.kind == "path" and package.url:
            properties.append(Property(name="reconciler:path", value=package.url))
        components[package.name] = Component(
            name=package.name,
            version=package.version or None,
            type=ComponentType.LIBRARY,
            bom_ref=f"pypi:{package.name}",
            purl=_purl(package),
            hashes=hashes,
            properties=properties,
        )
    tool = Component(name="reconciler", version=__version__, type=ComponentType.APPLICATION)
    metadata = BomMetaData(component=root, timestamp=_timestamp())
    metadata.tools.components.add(tool)
    bom = Bom(
        components=components.values(),
        metadata=metadata,
        serial_number=uuid.uuid5(_NAMESPACE, f"{plugin}\0{lock.content_digest}"),
    )
    direct, edges = _via_graph(lock)
    if not direct and not edges:
        bom.register_dependency(root, components.values())
    else:
        bom.register_dependency(root, [components[n] for n in sorted(direct) if n in components])
    for name, component in components.items():
        children = sorted(c for c, parents in edges.items() if name in parents)
        bom.register_dependency(component, [components[c] for c in children if c in components])
    return JsonV1Dot6(bom).output_as_string(indent=2) + "\n"


def _purl(package: LockedPackage) -> PackageURL | None:
    from packageurl import PackageURL  # noqa: PLC0415 - optional: the sbom extra

    qualifiers: dict[str, str] = {}
    if package.kind == "url" and package.url:
        qualifiers["download_url"] = package.url
    elif package.kind == "vcs" and package.url:
        url = package.url.rsplit("@", 1)[0] if package.commit else package.url
        qualifiers["vcs_url"] = f"{url}@{package.commit}" if package.commit else url
    elif package.kind == "path":
        return None  # a local project has no package URL
    return PackageURL(
        type="pypi", name=package.name, version=package.version or None, qualifiers=qualifiers
    )


def _timestamp() -> dt.datetime:
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "")
    if epoch.isdigit():
        return dt.datetime.fromtimestamp(int(epoch), tz=dt.UTC)
    return dt.datetime.now(tz=dt.UTC)


def _via_graph(lock: Lock) -> tuple[set[str], dict[str, set[str]]]:
    """From the lock's ``# via`` annotations: the packages the plugin asked for, and each
    package's parents. Both empty when the lock has no annotations (or cannot be read)."""
    try:
        text = lock.path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return set(), {}
    direct: set[str] = set()
    parents: dict[str, set[str]] = {}
    current: str | None = None
    in_via = False
    for raw in text.splitlines():
        line = raw.strip()
        if raw[:1] not in (" ", "\t", "#", "-", "") and (pin := _PIN.match(line)):
            current, in_via = canonical_name(pin["name"]), False
            continue
        if current is None or not line.startswith("#"):
            in_via = False if not line.startswith("--hash") else in_via
            continue
        via = _VIA.match(line)
        more = _VIA_MORE.match(line) if in_via and via is None else None
        rest = via["rest"] if via else more["rest"] if more else None
        if via is not None:
            in_via = True
        if not rest:
            continue
        if rest.startswith("-r "):
            direct.add(current)  # the plugin's own requirements ask for it
        elif not rest.startswith("-c "):
            parents.setdefault(current, set()).add(canonical_name(rest.split()[0]))
    return direct, parents
