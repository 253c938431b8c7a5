"""Lock files: the inputs digest, parsing ``lock/<plugin>.txt``, and freshness (pure/read-only)."""

from __future__ import annotations

import functools
import json
import posixpath
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit, urlunsplit

from reconciler import requirements as reqs
from reconciler.errors import LockError
from reconciler.models import (
    DesiredState,
    IndexOptions,
    InputsDigest,
    Interpreter,
    Lock,
    LockedPackage,
    Plugin,
)
from reconciler.support import pep508
from reconciler.support.digest import sha256
from reconciler.support.names import (
    NAME_PATTERN,
    PLAIN_VERSION,
    PLAIN_VERSION_PATTERN,
    archive_name_version,
    canonical_name,
)
from reconciler.support.redact import quoted, redact
from reconciler.support.values import evolve

if TYPE_CHECKING:
    from packaging.requirements import Requirement

_HEADER_RE = re.compile(
    r"^# reconciler-inputs: sha256:(?P<digest>[0-9a-f]{64})"
    r"(?: requirements=(?P<req>[0-9a-f]+) python=(?P<python>\S+) index=(?P<index>[0-9a-f]+)"
    r"(?: python-floor=(?P<floor>[0-9]{1,4}\.[0-9]{1,4}\.[0-9]{1,4}))?)?\s*\Z"
)
#: The patterns of the general path (a lock the one-scan reader does not take) are compiled by
#: ``re`` on first use, not at every plan's start-up.
_HASH_RE = r"--hash[= ](\S+)"
#: The line every resolver writes for almost every pin: ``name==1.2.3 --hash=sha256:...``;
#: read without packaging (anything else takes the general path below).
_PLAIN_PIN = (
    rf"(?P<name>{NAME_PATTERN})==(?P<version>{PLAIN_VERSION_PATTERN})"
    r"(?P<hashes>(?:\s+--hash=sha256:[0-9a-f]{64})*)"
)


def _sha(data: object) -> str:
    return sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


#: Index URLs that mean "PyPI", i.e. the same as no index URL at all (normalised form).
DEFAULT_INDEX_URLS = frozenset({"https://pypi.org/simple", "https://pypi.python.org/simple"})


def normalise_url(url: str) -> str:
    """``url`` as the digest sees it: no credentials, lower-case scheme and host, no trailing
    ``/``. Rotating a token or adding a ``/`` does not change what is resolved."""
    parts = urlsplit(url.strip())
    if not parts.scheme or not parts.netloc:
        return url.strip().rstrip("/") or url.strip()
    host = parts.hostname or ""
    if ":" in host:  # an IPv6 literal keeps its brackets
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:  # ``user:pa/ss@host``: not a URL urllib can take apart; never quoted
        return redact(url.strip())
    netloc = host + (f":{port}" if port is not None else "")
    path = parts.path.rstrip("/")
    return urlunsplit((parts.scheme.lower(), netloc, path, parts.query, parts.fragment))


def _normalise_link(link: str) -> str:
    if "://" in link:
        return normalise_url(link)
    return posixpath.normpath(link.strip()) if link.strip() else link


def normalise_index(index: IndexOptions) -> dict[str, object]:
    """The index settings as they affect resolution (what the digest covers).

    Credentials and trailing slashes are ignored, the default PyPI URL equals none, and with
    ``no-index`` the index URLs (which pip then ignores) do not count.
    """
    index_url = normalise_url(index.index_url) if index.index_url else None
    if index_url in DEFAULT_INDEX_URLS:
        index_url = None
    extras = [normalise_url(u) for u in index.extra_index_urls]
    if index.no_index:
        index_url, extras = None, []
    return {
        "index_url": index_url,
        "extra_index_urls": extras,
        "find_links": [_normalise_link(link) for link in index.find_links],
        "no_index": index.no_index,
    }


def normalise_requirement(text: str) -> str:
    """A requirement as the digest sees it: PEP 503 names and extras, packaging's spelling of
    specifiers and markers, credentials stripped from a direct URL. Text that is not a PEP 508
    requirement (a path, a bare VCS URL) is kept as written."""
    simple = reqs.SIMPLE.fullmatch(text)
    if simple is not None:  # bare name or name OP X.Y: no packaging on the plan path
        name, op, version = simple.group("name", "op", "version")
        if op != "~=" or "." in version:
            return canonical_name(name) + (f"{op}{version}" if op else "")
    direct = reqs.direct_reference(text)
    if direct is not None:  # name @ URL (a plugin from git): packaging's spelling, without it
        return f"{canonical_name(direct[0])} @ {normalise_url(direct[1])}"
    from packaging.requirements import InvalidRequirement  # noqa: PLC0415 - start-up: packaging stays off the plan path

    try:
        requirement = pep508.requirement(text)
    except InvalidRequirement:
        return text.strip()
    requirement.name = canonical_name(requirement.name)
    requirement.extras = {canonical_name(e) for e in requirement.extras}
    if requirement.url:
        requirement.url = normalise_url(requirement.url)
    return str(requirement)


def inputs_digest(
    plugin: Plugin, python_major_minor: str, index: IndexOptions, floor: str = ""
) -> InputsDigest:
    """Digest the plugin's requirements (normalised, order-free), interpreter and index settings.

    Which resolver made the lock (pip-tools or uv) is not an input: a lock is fresh for both.
    ``floor`` (the full ``X.Y.Z`` it is resolved for) is recorded beside the digest, not in it.
    """
    requirements = sorted(normalise_requirement(r) for r in plugin.requirements)
    # Constraints and pre-releases are resolution inputs too; listed only when used, so the
    # digest of a plugin without them is unchanged.
    requirements += [f"-c {_normalise_link(c)}" for c in plugin.constraints]
    if plugin.pre:
        requirements.append("--pre")
    flipped = [*requirements] if plugin.universal else [*requirements, "--universal"]
    if plugin.universal:
        requirements.append("--universal")  # which resolver made a lock is not an input
    index_json, index_digest = _index_part(index)
    req_json = json.dumps(requirements)
    req_digest = sha256(req_json.encode()).hexdigest()[:16]
    # _sha({"requirements": ..., "python": ..., "index": ...}) from the parts' JSON (keys sorted)
    whole_json = (
        f'{{"index": {index_json}, "python": {json.dumps(python_major_minor)}, '
        f'"requirements": {req_json}}}'
    )
    whole = sha256(whole_json.encode()).hexdigest()
    return InputsDigest(
        whole,
        req_digest,
        python_major_minor,
        index_digest,
        floor,
        universal_flipped=_sha(flipped)[:16],
    )


@functools.lru_cache(maxsize=64)
def _index_part(index: IndexOptions) -> tuple[str, str]:
    """The JSON of :func:`normalise_index` (keys sorted) and its short digest: every plugin of a
    project shares one index, normalised and digested once per command."""
    text = json.dumps(normalise_index(index), sort_keys=True)
    return text, sha256(text.encode()).hexdigest()[:16]


def stale_reasons(lock: Lock, expected: InputsDigest) -> tuple[str, ...]:
    """Why ``lock``'s header does not match ``expected`` (empty when it does)."""
    found = lock.inputs
    if found is None:
        return ("no reconciler-inputs header",)
    if found.digest == expected.digest:
        return ()
    reasons: list[str] = []
    if found.requirements and found.requirements != expected.requirements:
        if expected.universal_flipped and found.requirements == expected.universal_flipped:
            reasons.append("universal changed")
        else:
            reasons.append("requirements changed")
    if found.python and found.python != expected.python:
        reasons.append(f"interpreter changed (python {found.python} -> {expected.python})")
    if found.index and found.index != expected.index:
        reasons.append("index settings changed")
    return tuple(reasons) or ("inputs changed",)


def applicable(lock: Lock, markers: Mapping[str, str]) -> tuple[LockedPackage, ...]:
    """The locked packages whose environment marker holds for an interpreter with ``markers``
    (all of them when the markers are unknown)."""
    if all(p.marker is None for p in lock.packages):
        return lock.packages
    env = dict(markers)
    return tuple(p for p in lock.packages if p.marker is None or not env or _holds(p.marker, env))


def _holds(marker: str, env: dict[str, str]) -> bool:
    from packaging.markers import Marker  # noqa: PLC0415 - only locks with markers need it

    return Marker(marker).evaluate(env)


def unsatisfied(
    requirements: Sequence[str], lock: Lock, markers: Mapping[str, str]
) -> tuple[str, ...]:
    """The declared requirements the lock's pins do not satisfy (a hand-edited lock).

    A requirement whose marker is false for the interpreter is skipped; a direct reference
    (``name @ URL``) only needs its name in the lock; a requirement that is not PEP 508 (a local
    path, a bare VCS URL) is checked by the digest alone.
    """
    env = dict(markers)
    pinned: dict[str, LockedPackage] = {}
    for package in applicable(lock, env):
        pinned.setdefault(package.name, package)
    reasons: list[str] = []
    for text in requirements:
        simple = _simple_unsatisfied(text, pinned)
        if simple is not None:
            reasons.extend(simple)
            continue
        direct = reqs.direct_reference(text)
        if direct is not None:  # name @ URL: only its name needs to be in the lock
            if canonical_name(direct[0]) not in pinned:
                reasons.append(f"{redact(text.strip())} missing from the lock")
            continue
        from packaging.requirements import InvalidRequirement  # noqa: PLC0415 - start-up: packaging stays off the plan path

        try:
            requirement = pep508.requirement(text)
        except InvalidRequirement:
            continue
        if requirement.marker is not None and env and not requirement.marker.evaluate(env):
            continue
        name = canonical_name(requirement.name)
        locked = pinned.get(name)
        shown = redact(text.strip())
        if locked is None:
            reasons.append(f"{shown} missing from the lock")
        elif requirement.url is None and not _satisfies(requirement, locked.version):
            reasons.append(f"{shown} not satisfied (lock pins {name} {locked.version})")
    return tuple(reasons)


def _simple_unsatisfied(text: str, pinned: Mapping[str, LockedPackage]) -> list[str] | None:
    """:func:`unsatisfied` for ``name`` and ``name OP X.Y`` against a plain release pin, without
    packaging (the plan path); None for any other form."""
    match = reqs.SIMPLE.fullmatch(text)
    if match is None:
        return None
    name, op, version = match.group("name", "op", "version")
    locked = pinned.get(canonical_name(name))
    shown = text.strip()
    if locked is None:
        return [f"{shown} missing from the lock"]
    if op is None:
        return []
    if op == "~=" and "." not in version:
        return None
    if not PLAIN_VERSION.fullmatch(locked.version):
        return None  # a pre/post/dev/local pin: packaging judges it
    have = [int(p) for p in locked.version.split(".")]
    want = [int(p) for p in version.split(".")]
    size = max(len(have), len(want))
    padded_have = have + [0] * (size - len(have))
    padded_want = want + [0] * (size - len(want))
    holds = {
        "==": padded_have == padded_want,
        "!=": padded_have != padded_want,
        "<=": padded_have <= padded_want,
        ">=": padded_have >= padded_want,
        "<": padded_have < padded_want,
        ">": padded_have > padded_want,
        "~=": padded_have >= padded_want and have[: len(want) - 1] == want[:-1],
    }[op]
    return [] if holds else [f"{shown} not satisfied (lock pins {locked.name} {locked.version})"]


def _satisfies(requirement: Requirement, version: str) -> bool:
    from packaging.version import InvalidVersion, Version  # noqa: PLC0415 - loaded by packaging

    try:
        return requirement.specifier.contains(Version(version), prereleases=True)
    except InvalidVersion:
        return True  # an arbitrary-equality pin (===) the specifier cannot judge


def lock_staleness(
    plugin: Plugin,
    lock: Lock,
    interpreter: Interpreter,
    index: IndexOptions,
    project_dir: Path | None = None,
) -> tuple[str, ...]:
    """Why ``lock`` is stale for ``plugin`` (empty when fresh): its inputs changed, its pins
    no longer satisfy the declared requirements, it is in another format than the plugin's
    ``lock-format`` (the lock in the format asked for does not exist yet), or (given
    ``project_dir``) it holds a local path the plugin does not declare (see
    :func:`smuggled_paths`)."""
    switched: tuple[str, ...] = ()
    if lock.format != plugin.lock_format:
        switched = (f"lock format changed ({lock.format} -> {plugin.lock_format})",)
    expected = inputs_digest(plugin, interpreter.major_minor, index)
    return switched + (
        stale_reasons(lock, expected)
        or below_floor(lock, interpreter)
        or (smuggled_paths(plugin, lock, project_dir) if project_dir is not None else ())
        or unsatisfied(plugin.requirements, lock, dict(interpreter.markers))
    )


def below_floor(lock: Lock, interpreter: Interpreter) -> tuple[str, ...]:
    """Why ``lock`` is stale when ``interpreter`` is older than the patch level the lock was
    resolved for (its pins may need that patch level); empty when at or above it, or when the
    lock records no floor (written before floors were: resolved for X.Y.0)."""
    floor = lock.inputs.floor if lock.inputs is not None else ""
    have = interpreter.release
    if not floor or not have or have.split(".")[:2] != floor.split(".")[:2]:
        return ()  # another X.Y is the digest's "interpreter changed"
    if int(have.split(".")[2]) >= int(floor.split(".")[2]):
        return ()
    return (
        f"python {interpreter.version} is older than {floor}, the patch level the lock was "
        "resolved for",
    )


def smuggled_paths(plugin: Plugin, lock: Lock, project_dir: Path) -> tuple[str, ...]:
    """The local-path and editable lines of ``lock`` that the plugin does not declare.

    A lock is a file anyone with write access to the project can edit by hand; the digest on
    its first line covers the declared inputs, not the pins. A path line is therefore accepted
    only when it is project-relative (no absolute path, no ``file:`` URL), stays inside the
    project once symlinks are resolved (no ``..`` escape), and is the very path (and editable
    flag) of one of the plugin's declared path requirements. VCS and URL lines may be
    transitive: they are pinned to a commit or carry a hash, checked by the parser.
    """
    if not any(package.kind == "path" for package in lock.packages):
        return ()  # nothing to check: no requirement parsed, no path resolved
    declared: set[tuple[str, bool]] = set()
    for text in plugin.requirements:
        try:
            req = reqs.parse(text)
        except ValueError:
            continue
        local = req.local_path(project_dir)
        if local is not None:
            declared.add((str(local), req.editable))
    root = project_dir.resolve()
    reasons: list[str] = []
    for package in lock.packages:
        if package.kind != "path":
            continue
        written = package.url or ""
        line = redact(f"{'-e ' if package.editable else ''}{written}")
        if written.startswith(("/", "file:", "~")) or "://" in written:
            reasons.append(f"lock line {line!r} is an absolute path")
            continue
        resolved = (project_dir / written).resolve()
        if resolved != root and root not in resolved.parents:
            reasons.append(f"lock line {line!r} points outside the project")
        elif (str(resolved), package.editable) not in declared:
            reasons.append(f"lock line {line!r} is not a path requirement of {plugin.name!r}")
    return tuple(reasons)


def with_locations(lock: Lock, project_dir: Path | None) -> Lock:
    """``lock`` with every local project's location resolved against ``project_dir`` (see
    :attr:`LockedPackage.location`); unchanged without one (any lock format)."""
    if project_dir is None or not any(p.kind == "path" for p in lock.packages):
        return lock
    packages = tuple(
        evolve(p, location=_location(p.url or "", project_dir)) if p.kind == "path" else p
        for p in lock.packages
    )
    return evolve(lock, packages=packages)


def _location(url: str, project_dir: Path) -> str:
    """The ``file:`` URL pip records for a local project locked as ``url``: symlinks resolved,
    as pip resolves them."""
    return url if url.startswith("file:") else (project_dir / url).resolve().as_uri()


#: A pin line as both resolvers write it (``name==1.2.3``, then `` \`` when hashes follow).
_PIN_HEAD = re.compile(
    r"(?P<name>[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)"
    r"==(?P<version>(?:0|[1-9][0-9]*)(?:\.(?:0|[1-9][0-9]*))*)"
)
#: One hash continuation line of a pin.
_HASH_LINE = re.compile(r"--hash=sha256:[0-9a-f]{64}")


def _plain_pin(content: str) -> LockedPackage | None:
    """A ``name==1.2.3 --hash=...`` logical line read without packaging; None for any other."""
    plain = re.fullmatch(_PLAIN_PIN, content)
    if plain is None:
        return None
    return LockedPackage(
        name=canonical_name(plain.group("name")),
        version=plain.group("version"),
        requirement=f"{plain.group('name')}=={plain.group('version')}",
        hashes=tuple(h[7:] for h in plain.group("hashes").split()),
    )


def _fast_parse(plugin: str, path: Path, text: str) -> Lock | None:
    """A lock made only of plain hashed pins and comments, read in one scan; None otherwise.

    Two regex matches per pin instead of a logical-line split, packaging and a regex per line:
    a lock of a dozen pins reads in microseconds. Anything else (markers, extras, URLs, option
    lines, duplicates, no header on line 1) returns None for :func:`parse`'s general path.
    """
    header = _HEADER_RE.match(text.split("\n", 1)[0])
    if header is None:
        return None
    # Line by line with short anchored matches: linear in the size of any input (a regex
    # repeating a group over the whole text backtracks through every line it skipped).
    packages: dict[str, LockedPackage] = {}
    lines = text.split("\n")
    index, count = 1, len(lines)
    while index < count:
        raw = lines[index]
        index += 1
        stripped = raw.lstrip(" \t")
        if not stripped or stripped.startswith("#"):
            continue
        if len(stripped) != len(raw):
            return None  # an indented requirement: the general path
        body = raw.rstrip(" \t")
        continued = body.endswith("\\")
        pin = _PIN_HEAD.fullmatch(body[:-1].rstrip(" \t") if continued else body)
        if pin is None:
            return None
        hashes: list[str] = []
        while continued:
            line = lines[index].strip(" \t") if index < count else ""
            index += 1
            continued = line.endswith("\\")
            value = line[:-1].rstrip(" \t") if continued else line
            if _HASH_LINE.fullmatch(value) is None:
                return None
            hashes.append(value[7:])
        written, version = pin.group("name"), pin.group("version")
        name = canonical_name(written)
        if name in packages:
            return None  # the general path names the line
        packages[name] = LockedPackage(
            name=name, version=version, requirement=f"{written}=={version}", hashes=tuple(hashes)
        )
    inputs = _inputs(header)
    return Lock(
        plugin=plugin,
        path=path,
        inputs=inputs,
        packages=tuple(packages[n] for n in sorted(packages)),
        content_digest="sha256:" + sha256(text.encode()).hexdigest(),
    )


def _inputs(header: re.Match[str]) -> InputsDigest:
    """The inputs digest a lock's ``# reconciler-inputs:`` header line records."""
    return InputsDigest(
        header.group("digest"),
        header.group("req") or "",
        header.group("python") or "",
        header.group("index") or "",
        header.group("floor") or "",
    )


def parse(plugin: str, path: Path, text: str) -> Lock:
    """Parse pip-compile (or uv) output plus our header into a :class:`Lock`."""
    return _fast_parse(plugin, path, text) or _parse_lines(plugin, path, text)


def _parse_lines(plugin: str, path: Path, text: str) -> Lock:
    """The general path: every logical line, errors naming the file and line."""

    label = f"{path.parent.name}/{path.name}"
    inputs: InputsDigest | None = None
    packages: dict[str, LockedPackage] = {}
    for number, logical in _logical_lines(text):
        if number == 1 or inputs is None:
            header = _HEADER_RE.match(logical)
            if header:
                inputs = _inputs(header)
                continue
        meta = _reconciler_meta(logical)
        content = _strip_comment(logical)
        if not content:
            continue
        plain = _plain_pin(content)
        package = plain if plain is not None else _parse_line(label, number, content, meta)
        name, marker = package.name, package.marker
        if name in packages and marker is None and packages[name].marker is None:
            raise LockError(f"{name} is pinned twice", file=label, line=number)
        packages[name if marker is None else f"{name};{marker}"] = package
    content_digest = "sha256:" + sha256(text.encode()).hexdigest()
    ordered = tuple(sorted(packages.values(), key=lambda p: (p.name, p.marker or "")))
    return Lock(
        plugin=plugin, path=path, inputs=inputs, packages=ordered, content_digest=content_digest
    )


_META_RE = r"#\s*reconciler:\s*(?P<items>.*)$"  # compiled on first use, as _HASH_RE
_COMMIT_RE = r"[0-9a-f]{40}(?:[0-9a-f]{24})?\Z"


def _reconciler_meta(line: str) -> dict[str, str]:
    """``# reconciler: name=tap-x ref=v1`` trailing a lock line -> ``{"name": ..., "ref": ...}``."""
    match = re.search(_META_RE, line)
    if not match:
        return {}
    items = (item.partition("=") for item in match.group("items").split())
    return {key: value for key, sep, value in items if sep}


def _parse_line(label: str, number: int, content: str, meta: dict[str, str]) -> LockedPackage:
    """One requirement line of a lock: a pin, a hashed URL, a VCS commit or a local path."""
    hashes = tuple(re.findall(_HASH_RE, content))
    requirement_text = re.sub(_HASH_RE, "", content).strip()
    for h in hashes:
        if not re.fullmatch(r"sha256:[0-9a-f]{64}", h):
            raise LockError(
                f"malformed hash {quoted(h)} (expected sha256:<64 hex>)", file=label, line=number
            )
    editable = False
    match = re.match(r"(?:-e|--editable)(?:\s+|=)(?P<rest>\S.*)\Z", requirement_text)
    if match:
        editable = True
        requirement_text = match.group("rest").strip()
    elif requirement_text.startswith("-"):
        raise LockError(
            f"option lines are not supported in a lock ({requirement_text.split()[0]})",
            file=label,
            line=number,
        )
    if requirement_text.startswith(("./", "../", "/", "file:")) or editable:
        return _path_line(label, number, requirement_text, meta, editable, hashes)
    direct = reqs.direct_reference(requirement_text)
    if direct is not None:  # name @ URL (a git plugin's commit): read as packaging reads it
        name, url = canonical_name(direct[0]), direct[1]
        return _url_line(label, number, name, url, requirement_text, None, hashes, meta)
    from packaging.requirements import InvalidRequirement  # noqa: PLC0415 - start-up: packaging stays off the plan path

    try:
        requirement = pep508.requirement(requirement_text)
    except InvalidRequirement as exc:
        raise LockError(
            f"invalid requirement: {quoted(requirement_text)}",
            file=label,
            line=number,
        ) from exc
    name = canonical_name(requirement.name)
    marker = str(requirement.marker) if requirement.marker else None
    base = requirement_text.split(";", 1)[0].strip()
    if requirement.url:
        return _url_line(label, number, name, requirement.url, base, marker, hashes, meta)
    specs = list(requirement.specifier)
    if len(specs) != 1 or specs[0].operator not in ("==", "===") or specs[0].version.endswith(".*"):
        raise LockError(
            f"{quoted(requirement_text)} is not pinned with '=='", file=label, line=number
        )
    return LockedPackage(
        name=name, version=specs[0].version, requirement=base, hashes=hashes, marker=marker
    )


def _url_line(
    label: str,
    number: int,
    name: str,
    url: str,
    base: str,
    marker: str | None,
    hashes: tuple[str, ...],
    meta: dict[str, str],
) -> LockedPackage:
    if url.lower().startswith(reqs.VCS_SCHEMES):
        _, ref, _ = reqs.split_vcs(url)
        if ref is None or not re.fullmatch(_COMMIT_RE, ref):
            raise LockError(
                f"{quoted(base)} is not pinned to a commit id (run `reconciler lock`)",
                file=label,
                line=number,
            )
        return LockedPackage(
            name=name,
            version="",
            requirement=base,
            hashes=(),
            marker=marker,
            kind="vcs",
            url=url,
            commit=ref,
            ref=meta.get("ref"),
        )
    if url.startswith("file:") and not hashes and not reqs.is_archive(url):
        return LockedPackage.local(name, url, marker=marker, as_written=base)
    if not hashes:
        raise LockError(f"{quoted(base)}: a direct URL must carry --hash", file=label, line=number)
    return LockedPackage(
        name=name,
        version=_archive_version(url),
        requirement=base,
        hashes=hashes,
        marker=marker,
        kind="url",
        url=url,
    )


def _path_line(
    label: str,
    number: int,
    text: str,
    meta: dict[str, str],
    editable: bool,
    hashes: tuple[str, ...],
) -> LockedPackage:
    name = meta.get("name")
    if not name:
        raise LockError(
            f"local path {('-e ' if editable else '') + text!r} has no "
            "'# reconciler: name=...' comment "
            "(run `reconciler lock`)",
            file=label,
            line=number,
        )
    return LockedPackage(
        name=canonical_name(name),
        version="",
        requirement=text,
        hashes=(),
        kind="path",
        url=text,
        editable=editable,
    )


def _archive_version(url: str) -> str:
    """The version a wheel or sdist URL's file name gives, else ""."""
    found = archive_name_version(unquote(urlsplit(url).path).rsplit("/", 1)[-1])
    return "" if found is None else found[1]


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """Join backslash continuations; keep the number of each logical line's first line."""
    result: list[tuple[int, str]] = []
    buffer: list[str] = []
    start = 0
    for number, line in enumerate(text.splitlines(), start=1):
        if not buffer:
            start = number
        stripped = line.rstrip()
        if stripped.endswith("\\"):
            buffer.append(stripped[:-1])
            continue
        buffer.append(stripped)
        result.append((start, " ".join(part.strip() for part in buffer)))
        buffer = []
    if buffer:
        result.append((start, " ".join(part.strip() for part in buffer)))
    return result


def _strip_comment(line: str) -> str:
    if line.lstrip().startswith("#"):
        return ""
    if "#" not in line:
        return line.strip()
    return re.sub(r"(^|\s)#.*$", "", line).strip()


def check_lock(
    plugin: Plugin, lock: Lock | None, interpreter: Interpreter, desired: DesiredState
) -> Lock:
    """Return the plugin's lock, or raise :class:`LockError` when it is missing or stale."""
    path = desired.lock_path(plugin.name) if lock is None else lock.path  # (another format)
    rel = str(path).removeprefix(str(desired.project_dir) + "/")
    if lock is None:
        raise LockError(f"no lock ({rel} missing); run `reconciler lock`", plugin=plugin.name)
    reasons = lock_staleness(
        plugin, lock, interpreter, desired.index_for(plugin), desired.project_dir
    )
    if reasons:
        raise LockError(
            f"lock {rel} is stale ({', '.join(reasons)}); run `reconciler lock`",
            plugin=plugin.name,
        )
    if desired.settings.require_hashes:
        unhashed = [p for p in lock.packages if not p.hashable]
        if unhashed:
            raise LockError(
                f"settings.require-hashes is true but {rel} has "
                f"unhashable {', '.join(f'{p.name} ({p.kind} {p.url})' for p in unhashed)}",
                plugin=plugin.name,
            )
    return lock
